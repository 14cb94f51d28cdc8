"""Datasets: official sources, download, loaders, the synthetic twin, relations and splits.

``load(name, root=None, **options)`` returns every dataset in the one form of
:mod:`mgbench.datasets.graph`. With no download at all, ``mgtab-synthetic`` works.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch_geometric.data import Data

from mgbench.references import entry_points_of, is_reference, load_reference, source_digest
from mgbench.registry import (DatasetSource, DatasetSpec, dataset_registration_of, register_dataset,
                              registered_datasets)

from . import catalog  # noqa: F401  (registers our datasets)
from .catalog import SCALES, synthetic_config
from .errors import DatasetError
from .graph import (DEFAULT_RELATIONS, MGTAB_RELATIONS, build_graph, check_graph, edge_counts, edge_homophily,
                    parse_relations, select_relations, to_hetero)
from .splits import DEFAULT_SEEDS, Split, get_split, mgtab_split, parse_seeds
from .synthetic import SyntheticConfig
from .tasks import TASKS, Task, available_tasks, get_task, task_labels

__all__ = [
    "DEFAULT_RELATIONS", "DEFAULT_SEEDS", "DatasetError", "DatasetSource", "DatasetSpec", "MGTAB_RELATIONS", "SCALES", "Split",
    "SyntheticConfig", "TASKS", "Task", "available_datasets", "available_tasks", "build_graph", "check_graph",
    "default_root", "edge_counts", "edge_homophily", "get_split", "get_task", "is_downloaded", "load",
    "load_spec", "mgtab_split", "parse_relations", "parse_seeds", "register_dataset", "registered_datasets",
    "resolve_dataset", "select_relations", "synthetic_config", "task_labels", "to_hetero",
]

#: The entry-point group through which an installed package offers datasets.
ENTRY_POINT_GROUP = "mgbench.datasets"


def default_root() -> Path:
    """``$MGBENCH_ROOT``, else ``~/.cache/mgbench``."""
    return Path(os.environ.get("MGBENCH_ROOT", Path.home() / ".cache" / "mgbench")).expanduser()


def _spec_for(name: str, obj: Any) -> DatasetSpec:
    """The spec of a function found by reference: its own registration if it has one, else one
    that knows only its loader (relations and tasks are read from the data it returns)."""
    if isinstance(obj, DatasetSpec):
        return obj
    registered = dataset_registration_of(obj)
    if registered is not None:
        return registered
    if not callable(obj):
        raise DatasetError(f"dataset {name!r}: {obj!r} is not a function (it must return a torch_geometric "
                           "Data; see mgbench.datasets.build_graph)")
    doc = getattr(obj, "__doc__", None) or ""
    return DatasetSpec(name, obj, description=doc.strip().split("\n")[0])


def _load_entry_point(name: str, ep) -> DatasetSpec:
    try:
        return _spec_for(name, ep.load())
    except DatasetError:
        raise
    except Exception as err:  # noqa: BLE001 - any import failure is the user's to see
        raise DatasetError(f"entry point {name!r} ({ep.value}) failed to load: {type(err).__name__}: {err}") from None


def available_datasets() -> dict[str, DatasetSpec | DatasetError]:
    """Every dataset a name finds: the registered ones and the installed ``mgbench.datasets``
    entry points (a broken entry point maps to the error that says why)."""
    out: dict[str, DatasetSpec | DatasetError] = dict(registered_datasets())
    for name, ep in entry_points_of(ENTRY_POINT_GROUP).items():
        if name not in out:
            try:
                out[name] = _load_entry_point(name, ep)
            except DatasetError as err:
                out[name] = err
    return dict(sorted(out.items()))


def resolve_dataset(ref: str) -> DatasetSpec:
    """The :class:`DatasetSpec` for a registered name, an installed package's
    ``mgbench.datasets`` entry point, ``module:function`` or ``path/file.py:function``.

    A function registered with :func:`register_dataset` keeps its registration
    however it is found; an unregistered one is named ``file.py:function``
    (without its folder) or ``module:function``.
    """
    datasets = registered_datasets()
    if ref in datasets:
        return datasets[ref]
    eps = entry_points_of(ENTRY_POINT_GROUP)
    if ref in eps:
        return _load_entry_point(ref, eps[ref])
    if not is_reference(ref):
        raise DatasetError(f"unknown dataset {ref!r}; available: {', '.join(datasets)}; or give "
                           f"path/to/file.py:function, module:function or an {ENTRY_POINT_GROUP} entry point")
    loader, name = load_reference(ref, DatasetError, "dataset")
    return _spec_for(name, loader)


def is_ours(spec: DatasetSpec) -> bool:
    """Whether mgbench itself defines the dataset's loader (a user's is hashed and checked)."""
    return (getattr(spec.loader, "__module__", "") or "").split(".")[0] == "mgbench"


def dataset_source(spec: DatasetSpec) -> str | None:
    """The hash of a user's dataset's source file; ``None`` for ours. A run records it, so that
    editing the dataset's code makes a new run."""
    return None if is_ours(spec) else source_digest(spec.loader)


def is_downloaded(name: str | DatasetSpec, root: str | os.PathLike | None = None) -> bool:
    """Whether the dataset's data is under ``root`` (always, for generated data and users' functions)."""
    spec = name if isinstance(name, DatasetSpec) else resolve_dataset(name)
    if spec.present is None:
        return True
    return spec.present(Path(root).expanduser() if root else default_root())


def load(name: str, root: str | os.PathLike | None = None, **options) -> Data:
    """Load dataset ``name`` (a registered name, ``file.py:function``, ``module:function`` or an
    entry point) as a validated multi-relational graph.

    ``root`` is the folder that holds the dataset (the one given to
    ``mgbench download``, or a folder with the files of a manual download, with
    or without the archive's top-level folder). ``options`` go to the dataset's
    loader as keyword arguments; for ``mgtab-synthetic`` they are
    :class:`SyntheticConfig` fields (``num_nodes``, ``seed``, ``feature_signal``,
    ...) or ``scale``, and the graph is generated once into ``root``.
    """
    return load_spec(resolve_dataset(name), root, **options)


def load_spec(spec: DatasetSpec, root: str | os.PathLike | None = None, **options) -> Data:
    """Load a resolved dataset: options checked against its loader, a user's function's
    failure or malformed result turned into one :class:`DatasetError` naming what is wrong."""
    accepted = spec.accepted
    if accepted is not None:
        unknown = sorted(set(options) - accepted)
        if unknown:
            raise DatasetError(f"dataset {spec.name!r} takes no option {', '.join(unknown)}; "
                               f"it takes: {', '.join(sorted(accepted)) or 'none'}")
    kwargs = dict(options)
    if spec.takes_root:
        kwargs["root"] = Path(root).expanduser() if root else default_root()
    if is_ours(spec):  # built by build_graph already, and our errors say what is wrong
        return spec.loader(**kwargs)
    try:
        data = spec.loader(**kwargs)
    except DatasetError:
        raise
    except Exception as err:  # noqa: BLE001 - the user's code: one line, not a traceback
        raise DatasetError(f"dataset {spec.name!r} failed to load: {type(err).__name__}: {err}") from None
    return check_graph(data, f"dataset {spec.name!r}", spec.name)
