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
  one, else of its last ``nn.Linear``. A model whose objective is more than
  the task loss (an ensemble's per-branch bootstraps, a contrastive term,
  oversampled nodes) defines ``training_loss(logits, y, train_idx, loss_fn)``:
  the training loop calls it after each training-mode ``forward`` instead of
  ``loss_fn(logits[train_idx], y[train_idx])``; ``y`` holds every node's
  labels, ``loss_fn`` is the task loss (cross-entropy, or BCE for multi-label
  tasks). Such a model trains full-batch only (``--sampled`` refuses it).
- ``kind="features"``: a scikit-learn estimator class (``fit``/``predict``,
  ideally ``predict_proba``) built as ``Model(**hyperparameters)``.

Search spaces
-------------
``register_model(..., search_space={"lr": LogUniform(1e-4, 1e-2), "hidden_channels":
Choice([64, 128, 256])})`` declares what ``mgbench tune`` may vary: the model's
hyperparameters, and for GNNs the training settings ``lr`` and ``weight_decay``
(the keys are checked against the model when a study starts). The dimension
classes are plain data; ``mgbench.benchmark.tuning`` turns them into Optuna's.

Dataset contract
----------------
A dataset is a function returning a PyG ``Data`` in the form of
:func:`mgbench.datasets.build_graph`, called with the dataset's options as
keyword arguments (and ``root=``, the data folder, when it names ``root``).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Union

KINDS = ("gnn", "features")
#: The attribute under which :func:`register_model` leaves a class's :class:`ModelSpec`.
SPEC_ATTRIBUTE = "__mgbench_spec__"


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return value


@dataclass(frozen=True)
class LogUniform:
    """A float drawn log-uniformly from ``[low, high]`` (learning rates, weight decay); ``0 < low < high``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        low, high = _number(self.low, "LogUniform low"), _number(self.high, "LogUniform high")
        if not 0 < low < high:
            raise ValueError(f"LogUniform needs 0 < low < high, got low={low!r}, high={high!r}")

    def __str__(self) -> str:
        return f"log-uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Uniform:
    """A float drawn uniformly from ``[low, high]`` (dropout); ``low < high``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        low, high = _number(self.low, "Uniform low"), _number(self.high, "Uniform high")
        if not low < high:
            raise ValueError(f"Uniform needs low < high, got low={low!r}, high={high!r}")

    def __str__(self) -> str:
        return f"uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class IntRange:
    """An integer from ``low`` to ``high`` inclusive, on a grid of ``step``, or log-spaced (``step`` 1)."""

    low: int
    high: int
    step: int = 1
    log: bool = False

    def __post_init__(self) -> None:
        for what in ("low", "high", "step"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"IntRange {what} must be an int, got {value!r}")
        if not self.low < self.high:
            raise ValueError(f"IntRange needs low < high, got low={self.low}, high={self.high}")
        if self.step < 1 or (self.high - self.low) % self.step:
            raise ValueError(f"IntRange step must be >= 1 and divide high - low, got step={self.step} "
                             f"for [{self.low}, {self.high}]")
        if self.log and (self.step != 1 or self.low < 1):
            raise ValueError(f"IntRange(log=True) needs step 1 and low >= 1, got step={self.step}, low={self.low}")

    def __str__(self) -> str:
        how = ", log" if self.log else (f", step {self.step}" if self.step != 1 else "")
        return f"int [{self.low}, {self.high}{how}]"


@dataclass(frozen=True)
class Choice:
    """One of ``values``: at least two distinct ``None``/bool/int/float/str (what a study's storage can hold)."""

    values: tuple

    def __post_init__(self) -> None:
        if isinstance(self.values, (str, bytes)) or not hasattr(self.values, "__iter__"):
            raise ValueError(f"Choice takes a list of values, got {self.values!r}")
        values = tuple(self.values)
        bad = [v for v in values if v is not None and not isinstance(v, (bool, int, float, str))]
        if bad:
            raise ValueError(f"Choice values must be None, bool, int, float or str; got {bad[0]!r}")
        if len(values) < 2 or len(set(map(repr, values))) != len(values):
            raise ValueError(f"Choice needs at least two distinct values, got {list(values)!r}")
        object.__setattr__(self, "values", values)

    def __str__(self) -> str:
        return "one of " + ", ".join(map(repr, self.values))


Dimension = Union[LogUniform, Uniform, IntRange, Choice]
DIMENSIONS = (LogUniform, Uniform, IntRange, Choice)


def check_search_space(name: str, space: Mapping[str, Any] | None) -> dict[str, Dimension]:
    """``space`` as a dict after checking its form (names are checked against the model when a study starts)."""
    if space is None:
        return {}
    if not isinstance(space, Mapping):
        raise ValueError(f"model {name!r}: search_space must be a dict of name -> dimension, got {space!r}")
    for key, dim in space.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"model {name!r}: search-space keys must be non-empty strings, got {key!r}")
        if not isinstance(dim, DIMENSIONS):
            raise ValueError(f"model {name!r}: search-space entry {key!r} is {dim!r}; give one of "
                             f"{', '.join(d.__name__ for d in DIMENSIONS)} (from mgbench.registry)")
    return dict(space)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str
    factory: Callable[..., Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    #: What ``mgbench tune`` may vary: hyperparameter or training-setting name -> dimension.
    search_space: dict[str, Dimension] = field(default_factory=dict)

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
                   description: str = "", replace: bool = False,
                   search_space: Mapping[str, Dimension] | None = None):
    """Register a model class under ``name``; usable as a decorator.

    >>> @register_model("my-gnn", kind="gnn", defaults={"hidden_channels": 64},
    ...                 search_space={"lr": LogUniform(1e-4, 1e-2), "hidden_channels": Choice([32, 64, 128])})
    ... class MyGNN(torch.nn.Module): ...
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    space = check_search_space(name, search_space)

    def decorator(factory):
        if name in _REGISTRY and not replace and _REGISTRY[name].factory is not factory:
            raise ValueError(f"model {name!r} is already registered")
        doc = description or (inspect.getdoc(factory) or "").split("\n")[0]
        spec = ModelSpec(name, kind, factory, dict(defaults or {}), doc, space)
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


def search_space_of(spec: ModelSpec) -> dict[str, Dimension]:
    """The model's declared space; a class found by path or entry point keeps its registration's."""
    registered = registration_of(spec.factory)
    return dict(spec.search_space or (registered.search_space if registered else {}))


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
    #: The dataset this synthetic one stands in for: at its default options the board sets its
    #: runs beside that dataset's published numbers (twin F1 against paper F1, Kendall's tau).
    twin_of: str | None = None

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
                     twin_of: str | None = None, replace: bool = False):
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
                           dict(recorded_defaults or {}), doc, twin_of)
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
