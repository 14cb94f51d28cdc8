"""The result record's schema: one place for what the store writes and the board reads.

A leaf module (it imports nothing of mgbench), so that the runner's result
store and the leaderboard agree on the version, the canonical JSON behind a
run's id, the definition's keys, the kinds of model and the metrics the board
shows without one copying the other. docs/RESULTS.md documents the record.

Adding a board column for a metric the records hold is one :class:`Metric`
line in :data:`METRICS`; the board checks, aggregates, ranks, tests and renders
every one of them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping

#: Written into every record; the board reads only this version.
SCHEMA_VERSION = 1

#: Keys every run definition holds (optional ones, e.g. ``sampling``, ``tuning``,
#: ``model_source``, ``dataset_source``, ``external``, appear only where they apply, so
#: that the ids of runs made before them do not change).
DEFINITION_KEYS = (
    "dataset", "dataset_options", "task", "relations", "features", "model",
    "model_kind", "hyperparameters", "training", "aux_loss", "aux_weight",
    "aux_settings", "protocol", "seed",
)

#: Keys a definition holds only where they apply: the feature recipe's options, neighbour
#: sampling, a search's record, the hashes of a user's model and dataset files, a prediction file.
OPTIONAL_DEFINITION_KEYS = ("feature_options", "sampling", "tuning", "model_source", "dataset_source", "external")

#: ``gnn`` and ``features`` are trained by the runner; ``external`` runs were trained
#: elsewhere and scored from a prediction file (``mgbench evaluate``).
MODEL_KINDS = ("gnn", "features", "external")


@dataclass(frozen=True)
class Metric:
    """A column of the board and the test metrics of a record it reads."""

    column: str
    #: Keys of ``metrics.test`` it reads, the first present wins (multi-label tasks report
    #: ``subset_accuracy``; a ``stance+bot`` run prefixes its bot-class F1 with ``bot/``).
    keys: tuple[str, ...]
    header: str
    help: str = ""
    #: Shown only in tables where some row has it (not every task defines it).
    optional: bool = False
    #: A record may hold it as ``null`` (ROC-AUC is undefined where a class is absent from the test set).
    may_be_undefined: bool = False
    #: The range a stored value must lie in; the board refuses a record outside it.
    low: float = 0.0
    high: float = 1.0


METRICS = (
    Metric("accuracy", ("accuracy", "subset_accuracy"), "Accuracy"),
    Metric("precision", ("precision_macro",), "Precision", help="macro precision"),
    Metric("recall", ("recall_macro",), "Recall", help="macro recall"),
    Metric("f1", ("f1_macro",), "F1 (macro)"),
    Metric("f1_bot", ("f1_bot", "bot/f1_bot"), "F1 (bot class)", help="F1 of the bot class (the positive class)",
           optional=True),
    Metric("roc_auc", ("roc_auc_macro",), "ROC-AUC", help="macro ROC-AUC (one-vs-rest; binary for bot)",
           optional=True, may_be_undefined=True),
)
#: The metric every record must hold: the board ranks by it.
RANKING_METRIC = "f1_macro"


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, ASCII: the text a run's id hashes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def run_id(definition: Mapping[str, Any]) -> str:
    """First 16 hex digits of the SHA-256 of the definition's canonical JSON."""
    return hashlib.sha256(canonical_json(definition).encode()).hexdigest()[:16]
