"""The training protocols: how a run is trained, which epoch is kept and how it is scored.

One :class:`Protocol` object holds every choice that differs between the two
protocols, so the training loops, the runner and the tuner ask it instead of
testing a protocol's name; :class:`TrainSettings` holds the settings a run may
change with ``--set``. A light module (no PyG, no scikit-learn), so that the
command line can list both without loading the training stack.

``standard`` (the default): full-batch training with AdamW; after every step an
eval-mode forward scores validation; the epoch with the best validation macro F1
is selected (early stopping after ``patience`` epochs without improvement) and
its test metrics are reported; feature models fit on the training rows in the
split's (shuffled) order.

``reference`` replays the choices of the MGTAB authors' scripts that move
numbers: validation accuracy read from the *training-mode* forward pass before
the optimiser step; model selection on that accuracy (strict improvement); all
``epochs`` run without early stopping; test metrics from the eval-mode forward
after the step; predictions passed as the truth to the metric functions where
the model's script does so (:meth:`Protocol.swaps_truth`); feature models
fitted on the training rows in ascending node order, as ``MGTAB-ML.py`` fits
on ``x[train_mask]``. Not replayed: the authors' GNN scripts seed only the
split, so their weights and dropout masks change from run to run; ours are
seeded, so a run repeats exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the dataset layer imports PyG: not needed to read a protocol's settings
    from mgbench.datasets.tasks import Task


@dataclass(frozen=True)
class Protocol:
    """The choices one protocol makes; the training loops read them, never its name."""

    name: str
    #: Stop after ``patience`` epochs without improvement (once ``min_epochs`` have run).
    early_stopping: bool
    #: Score validation on the training-mode forward before the step (the MGTAB scripts),
    #: not on an eval-mode forward after it.
    validation_from_training_pass: bool
    #: Select the epoch on validation accuracy (subset accuracy when multi-label), not macro F1.
    select_on_accuracy: bool
    #: Fit feature models on the training rows in ascending node order, not the split's order.
    sorted_estimator_rows: bool
    #: GNNs whose script passes the truth first to the metric functions; every other GNN
    #: has predictions passed as the truth. ``None``: nobody's metrics are swapped.
    unswapped_gnns: frozenset[str] | None = None

    def swaps_truth(self, model: str, kind: str) -> bool:
        """Whether a run passes predictions as the truth to the metrics, as its MGTAB script does.

        Only GNNs ever do: ``MGTAB-ML.py`` calls ``precision_score(y_true=y_test,
        y_pred=y_pred)`` correctly, so feature models never swap.
        """
        return self.unswapped_gnns is not None and kind == "gnn" and model not in self.unswapped_gnns

    def selection_metric(self, task: "Task") -> str:
        """The validation metric that picks the epoch (a key of ``compute_metrics``)."""
        if self.select_on_accuracy:
            return "subset_accuracy" if task.multilabel else "accuracy"
        return "f1_macro"

    def recorded_patience(self, patience: int) -> int | None:
        """The patience a run's definition records: ``None`` where nothing stops early."""
        return patience if self.early_stopping else None

    def should_stop(self, epochs_run: int, best_epoch: int, patience: int | None, min_epochs: int) -> bool:
        return (self.early_stopping and patience is not None and epochs_run >= min_epochs
                and epochs_run - best_epoch >= patience)

    def estimator_rows(self, train: np.ndarray) -> np.ndarray:
        """The training rows in the order a feature model is fitted on them."""
        return np.sort(train) if self.sorted_estimator_rows else train


@dataclass
class TrainSettings:
    """Training settings a run may override with ``--set`` (defaults: the MGTAB scripts')."""

    epochs: int = 200
    lr: float = 1e-3
    weight_decay: float = 5e-4
    patience: int = 30
    #: Early stopping never fires before this many epochs. Why: a model can sit on
    #: the majority-class plateau for its first 30+ epochs (HGT and RGT on ``bot``),
    #: where validation F1 cannot improve and ``patience`` alone stops it untrained.
    #: A definition without the key means 0: runs recorded before it existed.
    min_epochs: int = 100

    #: The bounds a run's settings must lie in; checked before anything trains.
    LIMITS = {"epochs": (1, 100_000), "patience": (1, 100_000), "min_epochs": (0, 100_000)}

    def __post_init__(self) -> None:
        """Refuse impossible settings (``epochs=0``, ``lr=nan``, ``epochs=1e12``) at the door."""
        from .models import coerce_setting

        for name, spec in self.__dataclass_fields__.items():
            value = getattr(self, name)
            if value is None and name == "patience":  # a protocol without early stopping
                continue
            value = coerce_setting("training", name, value, spec.default)
            low, high = self.LIMITS.get(name, (None, None))
            if name in self.LIMITS and not low <= value <= high:
                raise ValueError(f"training: {name}={value!r} must lie in [{low}, {high}]")
            if name in ("lr", "weight_decay") and value < 0:
                raise ValueError(f"training: {name}={value!r} must be >= 0")
            setattr(self, name, value)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(cls.__dataclass_fields__)

    def definition(self) -> dict:
        """The settings as a run's definition records them: ``min_epochs`` 0 is left out.

        Why: runs recorded before ``min_epochs`` existed ran with 0 and have no
        key; writing 0 as absent keeps their definitions, and so their ids.
        """
        out = dict(self.__dict__)
        if not out["min_epochs"]:
            del out["min_epochs"]
        return out

    @classmethod
    def from_definition(cls, training: dict) -> "TrainSettings":
        """The inverse of :meth:`definition` (``None`` values, e.g. the reference protocol's patience, kept)."""
        return cls(**{"min_epochs": 0, **training})


STANDARD = Protocol("standard", early_stopping=True, validation_from_training_pass=False,
                    select_on_accuracy=False, sorted_estimator_rows=False)

#: ``HGT.py`` and ``RGT.py`` pass the truth first (``test``: ``precision_score(label[test_mask],
#: output[test_mask])``); ``MGTAB-GNN.py`` (GCN, GAT, GraphSAGE, R-GCN, BotRGCN) and ``SHGN.py``
#: pass the predictions first (``precision_score(out[test_mask], label[test_mask])``), so a GNN
#: of ours swaps by default.
REFERENCE = Protocol("reference", early_stopping=False, validation_from_training_pass=True,
                     select_on_accuracy=True, sorted_estimator_rows=True,
                     unswapped_gnns=frozenset({"hgt", "rgt"}))

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (STANDARD, REFERENCE)}


def get_protocol(protocol: str | Protocol) -> Protocol:
    """The protocol named ``protocol`` (a :class:`Protocol` passes through)."""
    if isinstance(protocol, Protocol):
        return protocol
    try:
        return PROTOCOLS[protocol]
    except KeyError:
        raise ValueError(f"unknown protocol {protocol!r}; available: {', '.join(PROTOCOLS)}") from None
