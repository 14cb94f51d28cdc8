"""Finding a model by name, ``module:Class``, ``path/file.py:Class`` or entry point,
and checking its hyperparameters before anything is trained."""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch

from mgbench import references
from mgbench.references import entry_points_of, load_reference
from mgbench.registry import ModelSpec, registered_models, registration_of

ENTRY_POINT_GROUP = "mgbench.models"
#: What the runner passes every GNN's constructor, by keyword.
GNN_ARGUMENTS = ("in_channels", "num_classes", "num_relations")
#: What it passes only to constructors that name them.
LAYOUT_ARGUMENTS = ("feature_blocks", "categorical_columns")


class ModelError(ValueError):
    """A model reference that cannot be resolved or built; the message says why."""


def _spec_for(name: str, obj: Any) -> ModelSpec:
    """The spec of a class found by reference: its own registration if it has one (name,
    kind, defaults), else one built from its constructor's signature under ``name``."""
    if isinstance(obj, ModelSpec):
        return obj
    registered = registration_of(obj)
    if registered is not None:
        return registered
    if inspect.isclass(obj) and issubclass(obj, torch.nn.Module):
        kind = "gnn"
    elif inspect.isclass(obj) and hasattr(obj, "fit") and hasattr(obj, "predict"):
        kind = "features"
    else:
        raise ModelError(f"{name}: {obj!r} is neither a torch.nn.Module class nor a scikit-learn estimator class")
    skip = set(GNN_ARGUMENTS) | set(LAYOUT_ARGUMENTS) | {"self"}
    defaults = {n: p.default for n, p in inspect.signature(obj).parameters.items()
                if n not in skip and p.default is not p.empty}
    return ModelSpec(name, kind, obj, defaults, (inspect.getdoc(obj) or "").split("\n")[0])


def _entry_points() -> dict[str, Any]:
    return entry_points_of(ENTRY_POINT_GROUP)


def _load_entry_point(name: str, ep) -> ModelSpec:
    try:
        return _spec_for(name, ep.load())
    except Exception as err:  # noqa: BLE001 - any import failure is the user's to see
        raise ModelError(f"entry point {name!r} ({ep.value}) failed to load: {type(err).__name__}: {err}") from None


def available_models() -> dict[str, ModelSpec | ModelError]:
    """Every model a name finds: the registered ones and the installed ``mgbench.models``
    entry points (a broken entry point maps to the error that says why)."""
    out: dict[str, ModelSpec | ModelError] = dict(registered_models())
    for name, ep in _entry_points().items():
        if name not in out:
            try:
                out[name] = _load_entry_point(name, ep)
            except ModelError as err:
                out[name] = err
    return dict(sorted(out.items()))


def resolve_model(ref: str) -> ModelSpec:
    """The :class:`ModelSpec` for a registered name, ``module:Class``, ``file.py:Class``
    or an installed package's ``mgbench.models`` entry point.

    A class registered with :func:`~mgbench.registry.register_model` keeps its
    registered name, kind and defaults however it is found; an unregistered one
    is named ``file.py:Class`` (without its folder) or ``module:Class``.
    """
    models = registered_models()
    if ref in models:
        return models[ref]
    eps = _entry_points()
    if ref in eps:
        return _load_entry_point(ref, eps[ref])
    if ":" not in ref:
        raise ModelError(f"unknown model {ref!r}; registered: {', '.join(models)}; "
                         "or give module:Class, path/to/file.py:Class, or an mgbench.models entry point")
    factory, name = load_reference(ref, ModelError, "model")
    return _spec_for(name, factory)


def source_digest(spec: ModelSpec) -> str | None:
    """The hash of a user's model's source file (see :func:`mgbench.references.source_digest`); ``None`` for ours."""
    return references.source_digest(spec.factory)


def coerce_setting(owner: str, key: str, value: Any, default: Any, annotation: Any = None) -> Any:
    """``value`` as the type of ``default`` (or of the annotation when the default is ``None``).

    Why: ``--set`` values arrive as YAML scalars, so ``epochs=abc`` is a string and
    ``hidden_channels=64.0`` a float; a model must never receive either where it
    expects an int. Integral floats become ints; ints become floats; booleans and
    strings must be given as such; floats must be finite. A value that cannot be
    converted is a :class:`ModelError` naming the key, the value and the type.
    """
    target = type(default) if default is not None else annotation if isinstance(annotation, type) else None
    if target is None or isinstance(value, target) and not (target is int and isinstance(value, bool)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ModelError(f"{owner}: {key}={value!r} is not a finite number")
        return value
    wanted = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
              list: "a list, e.g. [64, 64]", tuple: "a list, e.g. [64, 64]"}.get(target, target.__name__)
    converted: Any = None
    if target is int and isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        converted = int(value)
    elif target is float and isinstance(value, int) and not isinstance(value, bool):
        converted = float(value)
    elif target in (list, tuple) and isinstance(value, (list, tuple)):
        converted = target(value)
    if converted is None:
        raise ModelError(f"{owner}: {key}={value!r} is not {wanted} (default {default!r})")
    return converted


def merge_hyperparameters(spec: ModelSpec, overrides: dict[str, Any]) -> dict[str, Any]:
    """Defaults updated by ``overrides``, each converted to its default's type; an unknown
    key is an error listing the known ones."""
    accepted = spec.accepted
    params = inspect.signature(spec.factory).parameters if _has_signature(spec.factory) else {}
    if accepted is not None:
        known = (set(accepted) | set(spec.defaults)) - set(LAYOUT_ARGUMENTS)
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ModelError(f"model {spec.name!r} takes no hyperparameter {', '.join(unknown)}; "
                             f"it takes: {', '.join(sorted(known)) or 'none'}")
    merged = {**spec.defaults}
    for key, value in overrides.items():
        param = params.get(key)
        default = spec.defaults.get(key, param.default if param is not None and param.default is not param.empty
                                    else None)
        annotation = param.annotation if param is not None else None
        merged[key] = coerce_setting(f"model {spec.name!r}", key, value, default, annotation)
    return merged


def _has_signature(factory) -> bool:
    try:
        inspect.signature(factory)
    except (TypeError, ValueError):
        return False
    return True


def _check_gnn_signature(spec: ModelSpec) -> inspect.Signature:
    """The constructor must take ``in_channels``, ``num_classes``, ``num_relations`` by keyword."""
    sig = inspect.signature(spec.factory)
    params = sig.parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return sig
    missing = [n for n in GNN_ARGUMENTS if n not in params or params[n].kind is inspect.Parameter.POSITIONAL_ONLY]
    if missing:
        got = ", ".join(n for n in params if n != "self")
        raise ModelError(f"model {spec.name!r}: the constructor must take {', '.join(GNN_ARGUMENTS)} by keyword "
                         f"(the runner passes in_channels=, num_classes=, num_relations=); it takes ({got}), "
                         f"missing {', '.join(missing)}")
    return sig


def build_gnn(spec: ModelSpec, hyperparameters: dict, *, in_channels: int, num_classes: int,
              num_relations: int, feature_blocks: dict, categorical_columns: list) -> torch.nn.Module:
    """Instantiate a GNN by keyword, passing the feature layout only to models that ask for it."""
    params = _check_gnn_signature(spec).parameters
    extra = {k: v for k, v in (("feature_blocks", feature_blocks), ("categorical_columns", categorical_columns))
             if k in params}
    try:
        model = spec.factory(in_channels=in_channels, num_classes=num_classes, num_relations=num_relations,
                             **hyperparameters, **extra)
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
