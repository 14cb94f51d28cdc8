"""The registries of models and datasets: one public API for ours and users' alike.

A leaf module (it imports nothing else of mgbench) so that ``mgbench.baselines``
and ``mgbench.datasets`` can register theirs without importing the benchmark
layer above them, and the runner, the CLI and the leaderboard read every fact
about a dataset here instead of testing its name.

Model contracts
---------------
- ``kind="gnn"``: a ``torch.nn.Module`` class built as
  ``Model(in_channels, num_classes, num_relations, **hyperparameters)`` whose
  ``forward(x, edge_index, edge_type)`` returns logits ``[N, num_classes]``.
  The runner also passes ``feature_blocks`` and ``categorical_columns`` when
  the constructor names them (BotRGCN does). Node embeddings for auxiliary
  losses are the input of the module's ``classifier`` attribute if it has
  one, else of its last ``nn.Linear``.
- ``kind="features"``: a scikit-learn estimator class (``fit``/``predict``,
  ideally ``predict_proba``) built as ``Model(**hyperparameters)``.

Dataset contract
----------------
A dataset is a function returning a PyG ``Data`` in the form of
:func:`mgbench.datasets.build_graph`, called with the dataset's options as
keyword arguments (and ``root=``, the data folder, when it names ``root``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

KINDS = ("gnn", "features")
#: The attribute under which :func:`register_model` leaves a class's :class:`ModelSpec`.
SPEC_ATTRIBUTE = "__mgbench_spec__"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str
    factory: Callable[..., Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def accepted(self) -> set[str] | None:
        """Hyperparameter names the factory takes; ``None`` if it takes ``**kwargs``."""
        params = inspect.signature(self.factory).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return None
        skip = {"self", "in_channels", "num_classes", "num_relations"} if self.kind == "gnn" else {"self"}
        return {n for n in params if n not in skip}


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, *, kind: str, defaults: dict[str, Any] | None = None,
                   description: str = "", replace: bool = False):
    """Register a model class under ``name``; usable as a decorator.

    >>> @register_model("my-gnn", kind="gnn", defaults={"hidden_channels": 64})
    ... class MyGNN(torch.nn.Module): ...
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")

    def decorator(factory):
        if name in _REGISTRY and not replace and _REGISTRY[name].factory is not factory:
            raise ValueError(f"model {name!r} is already registered")
        doc = description or (inspect.getdoc(factory) or "").split("\n")[0]
        spec = ModelSpec(name, kind, factory, dict(defaults or {}), doc)
        _REGISTRY[name] = spec
        # Kept on the class too, so that its registration applies however it is found
        # (``file.py:Class``, ``module:Class``, entry point); read from ``__dict__`` so a
        # subclass does not inherit its parent's name and defaults.
        try:
            setattr(factory, SPEC_ATTRIBUTE, spec)
        except (AttributeError, TypeError):  # e.g. a builtin; found by name only
            pass
        return factory

    return decorator


def registration_of(factory: Any) -> ModelSpec | None:
    """The spec ``factory`` itself was registered with (not one inherited from a parent class)."""
    return vars(factory).get(SPEC_ATTRIBUTE) if hasattr(factory, "__dict__") else None


def registered_models() -> dict[str, ModelSpec]:
    """All registered models by name (baselines are imported on first use)."""
    import mgbench.baselines  # noqa: F401  (registers the baselines)

    return dict(sorted(_REGISTRY.items()))


# --------------------------------------------------------------------------- datasets

#: The attribute under which :func:`register_dataset` leaves a function's :class:`DatasetSpec`.
DATASET_SPEC_ATTRIBUTE = "__mgbench_dataset__"


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset comes from and on what terms.

    ``url`` is ``None`` for data mgbench cannot download (obtained from its
    authors); ``marker`` is a file whose presence means the data is there.
    ``sha256``/``size`` stay ``None`` until a maintainer has checked the archive
    (the first verified download records them: trust on first use).
    """

    homepage: str
    license: str
    citation: str
    url: str | None = None
    filename: str | None = None       # the archive's name
    marker: str | None = None
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the suite knows about a dataset, stated once.

    ``relations`` and ``tasks`` are ``None`` where only the loaded data can say
    (a user's dataset; a raw layout whose edge file names its relations).
    ``present(root)`` says whether the data is under ``root`` (``None``: always,
    e.g. generated data or a user's function). ``recorded_defaults`` maps an
    option to ``(default for new runs, meaning when a stored record lacks it)``,
    see :meth:`record_options`.
    """

    name: str
    loader: Callable[..., Any]
    relations: tuple[str, ...] | None = None
    tasks: tuple[str, ...] | None = None
    synthetic: bool = False
    source: DatasetSource | None = None
    present: Callable[[Path], bool] | None = None
    recorded_defaults: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    description: str = ""

    @property
    def accepted(self) -> set[str] | None:
        """Option names the loader takes; ``None`` if it takes ``**options``."""
        params = inspect.signature(self.loader).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return None
        return {n for n in params if n != "root"}

    @property
    def takes_root(self) -> bool:
        return "root" in inspect.signature(self.loader).parameters

    def record_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The options a run's definition records: ``options`` plus each recorded default the user
        did not give, minus any option given its "absent" meaning (an old record lacks it and
        means just that, so the run keeps the old record's id).

        Why: a later change of a default must never silently change what an
        old record means. A dataset without recorded defaults records exactly
        what was given, so the ids of existing records do not move.
        """
        out = dict(options)
        for key, (default, absent) in self.recorded_defaults.items():
            out.setdefault(key, default)
            if out[key] == absent and type(out[key]) is type(absent):
                del out[key]
        return dict(sorted(out.items()))

    def loading_options(self, recorded: Mapping[str, Any]) -> dict[str, Any]:
        """The options that rebuild a stored definition's data: an absent recorded option takes
        the meaning the dataset declares for its absence, not today's default."""
        return {**{k: absent for k, (_, absent) in self.recorded_defaults.items()}, **recorded}


_DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(name: str, *, relations: tuple[str, ...] | list[str] | None = None,
                     tasks: tuple[str, ...] | list[str] | None = None, synthetic: bool = False,
                     source: DatasetSource | None = None, present: Callable[[Path], bool] | None = None,
                     recorded_defaults: Mapping[str, tuple[Any, Any]] | None = None, description: str = "",
                     replace: bool = False):
    """Register a dataset's loader under ``name``; usable as a decorator.

    >>> @register_dataset("my-graph", relations=("followers", "friends"), tasks=("bot",))
    ... def load_my_graph(num_nodes: int = 1000) -> Data: ...
    """
    for key, pair in (recorded_defaults or {}).items():
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"recorded_defaults[{key!r}] must be (default for new runs, meaning when absent), "
                             f"got {pair!r}")

    def decorator(loader):
        if name in _DATASETS and not replace and _DATASETS[name].loader is not loader:
            raise ValueError(f"dataset {name!r} is already registered")
        doc = description or (inspect.getdoc(loader) or "").split("\n")[0]
        spec = DatasetSpec(name, loader, tuple(relations) if relations is not None else None,
                           tuple(tasks) if tasks is not None else None, synthetic, source, present,
                           dict(recorded_defaults or {}), doc)
        _DATASETS[name] = spec
        try:  # kept on the function too, so that its registration applies however it is found
            setattr(loader, DATASET_SPEC_ATTRIBUTE, spec)
        except (AttributeError, TypeError):
            pass
        return loader

    return decorator


def dataset_registration_of(loader: Any) -> DatasetSpec | None:
    """The spec ``loader`` was registered with, if any."""
    return vars(loader).get(DATASET_SPEC_ATTRIBUTE) if hasattr(loader, "__dict__") else None


def registered_datasets() -> dict[str, DatasetSpec]:
    """All registered datasets by name (ours are registered on first use)."""
    import mgbench.datasets  # noqa: F401  (registers ours)

    return dict(sorted(_DATASETS.items()))
