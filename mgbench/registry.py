"""The model registry: one public API for baselines and users' models alike.

A leaf module (it imports nothing else of mgbench) so that ``mgbench.baselines``
can register its models without importing the benchmark layer above it.

Contracts
---------
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
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

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
