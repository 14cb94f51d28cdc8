"""Finding a model by name, ``module:Class``, ``path/file.py:Class`` or entry point,
and checking its hyperparameters before anything is trained."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import torch

from mgbench.registry import ModelSpec, registered_models

ENTRY_POINT_GROUP = "mgbench.models"


class ModelError(ValueError):
    """A model reference that cannot be resolved or built; the message says why."""


def _spec_for(name: str, obj: Any) -> ModelSpec:
    if isinstance(obj, ModelSpec):
        return obj
    if inspect.isclass(obj) and issubclass(obj, torch.nn.Module):
        kind = "gnn"
    elif inspect.isclass(obj) and hasattr(obj, "fit") and hasattr(obj, "predict"):
        kind = "features"
    else:
        raise ModelError(f"{name}: {obj!r} is neither a torch.nn.Module class nor a scikit-learn estimator class")
    skip = {"self", "in_channels", "num_classes", "num_relations", "feature_blocks", "categorical_columns"}
    defaults = {n: p.default for n, p in inspect.signature(obj).parameters.items()
                if n not in skip and p.default is not p.empty}
    return ModelSpec(name, kind, obj, defaults, (inspect.getdoc(obj) or "").split("\n")[0])


def _import_file(path: Path):
    """Import a user's file once per process: a second import would re-run its ``register_model``
    calls with new classes, which the registry refuses as a second model of the same name."""
    module_name = f"mgbench_user_{path.stem}_{abs(hash(str(path.resolve()))):x}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]  # a failed import is not cached
        raise
    return module


def resolve_model(ref: str) -> ModelSpec:
    """The :class:`ModelSpec` for a registered name, ``module:Class``, ``file.py:Class``
    or an installed package's ``mgbench.models`` entry point."""
    models = registered_models()
    if ref in models:
        return models[ref]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == ref:
            try:
                return _spec_for(ref, ep.load())
            except Exception as err:  # noqa: BLE001 - any import failure is the user's to see
                raise ModelError(f"entry point {ref!r} failed to load: {type(err).__name__}: {err}") from None
    if ":" not in ref:
        raise ModelError(f"unknown model {ref!r}; registered: {', '.join(models)}; "
                         "or give module:Class, path/to/file.py:Class, or an mgbench.models entry point")
    where, _, attr = ref.rpartition(":")
    try:
        if where.endswith(".py") or "/" in where or Path(where).suffix == ".py":
            path = Path(where)
            if not path.is_file():
                raise ModelError(f"model file {where} does not exist")
            module = _import_file(path)
        else:
            module = importlib.import_module(where)
    except ModelError:
        raise
    except Exception as err:  # noqa: BLE001
        raise ModelError(f"could not import {where!r}: {type(err).__name__}: {err}") from None
    if not hasattr(module, attr):
        raise ModelError(f"{where} has no attribute {attr!r}")
    return _spec_for(ref, getattr(module, attr))


def merge_hyperparameters(spec: ModelSpec, overrides: dict[str, Any]) -> dict[str, Any]:
    """Defaults updated by ``overrides``; an unknown key is an error listing the known ones."""
    accepted = spec.accepted
    if accepted is not None:
        known = set(accepted) | set(spec.defaults)
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ModelError(f"model {spec.name!r} takes no hyperparameter {', '.join(unknown)}; "
                             f"it takes: {', '.join(sorted(known)) or 'none'}")
    return {**spec.defaults, **overrides}


def build_gnn(spec: ModelSpec, hyperparameters: dict, *, in_channels: int, num_classes: int,
              num_relations: int, feature_blocks: dict, categorical_columns: list) -> torch.nn.Module:
    """Instantiate a GNN, passing the feature layout only to models that ask for it."""
    params = inspect.signature(spec.factory).parameters
    extra = {k: v for k, v in (("feature_blocks", feature_blocks), ("categorical_columns", categorical_columns))
             if k in params}
    try:
        model = spec.factory(in_channels, num_classes, num_relations, **hyperparameters, **extra)
    except Exception as err:  # noqa: BLE001
        raise ModelError(f"model {spec.name!r} failed to build: {type(err).__name__}: {err}") from None
    if not isinstance(model, torch.nn.Module):
        raise ModelError(f"model {spec.name!r} built a {type(model).__name__}, not a torch.nn.Module")
    return model


def build_estimator(spec: ModelSpec, hyperparameters: dict):
    try:
        return spec.factory(**hyperparameters)
    except Exception as err:  # noqa: BLE001
        raise ModelError(f"model {spec.name!r} failed to build: {type(err).__name__}: {err}") from None
