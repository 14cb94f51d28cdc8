"""The result record's schema: one place for what the store writes and the board reads.

A leaf module (it imports nothing of mgbench), so that the runner's result
store and the leaderboard agree on the version, the canonical JSON behind a
run's id, the definition's keys and the kinds of model without one copying
the other. docs/RESULTS.md documents the record.
"""

from __future__ import annotations

import hashlib
import json
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


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, ASCII: the text a run's id hashes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def run_id(definition: Mapping[str, Any]) -> str:
    """First 16 hex digits of the SHA-256 of the definition's canonical JSON."""
    return hashlib.sha256(canonical_json(definition).encode()).hexdigest()[:16]
