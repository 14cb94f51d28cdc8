"""Load, validate and de-duplicate result records (docs/RESULTS.md).

Result folders are merged by copying files, so the board must survive
anything a copy can produce: truncated files, hand-edited files, files from
an older writer, the same run produced on two machines. Every file is either
counted exactly once or reported by name with the reason it was not.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

SCHEMA_VERSION = 1

#: Keys of ``definition`` that docs/RESULTS.md lists; all must be present.
DEFINITION_KEYS = (
    "dataset", "dataset_options", "task", "relations", "features", "model",
    "model_kind", "hyperparameters", "training", "aux_loss", "aux_weight",
    "aux_settings", "protocol", "seed",
)
#: Efficiency fields the tables show; the key is required, ``null`` is allowed.
EFFICIENCY_KEYS = ("train_time_s", "peak_memory_mb", "num_parameters")
#: Test metrics the tables read when present; ``f1_macro`` is required.
OPTIONAL_TEST_METRICS = ("accuracy", "subset_accuracy", "precision_macro", "recall_macro")
MODEL_KINDS = ("gnn", "features")


class RecordError(ValueError):
    """A result file that cannot be counted; the message says why."""


@dataclass(frozen=True)
class Record:
    """The parts of one valid result record the leaderboard uses."""

    path: str                     # relative to the results folder, POSIX style
    run_id: str
    definition: Mapping[str, Any]
    test: Mapping[str, float]
    train_time_s: float | None
    peak_memory_mb: float | None
    num_parameters: int | None

    @property
    def seed(self) -> int:
        return self.definition["seed"]


@dataclass(frozen=True)
class Skipped:
    """A file that was not counted and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Duplicate:
    """A file whose ``run_id`` was already counted from ``kept``."""

    path: str
    kept: str
    run_id: str


@dataclass(frozen=True)
class LoadedRecords:
    records: tuple[Record, ...]
    skipped: tuple[Skipped, ...]
    duplicates: tuple[Duplicate, ...]


def canonical_json(obj: Any) -> str:
    """The canonical JSON of docs/RESULTS.md: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def short_hash(obj: Any, length: int = 16) -> str:
    """First ``length`` hex digits of the SHA-256 of ``canonical_json(obj)``."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:length]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _run_id_matches(run_id: str, definition: Mapping[str, Any]) -> bool:
    # Writers may or may not escape non-ASCII text; both spellings are canonical enough.
    spellings = {
        json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=flag)
        for flag in (True, False)
    }
    return any(hashlib.sha256(s.encode("utf-8")).hexdigest()[:16] == run_id for s in spellings)


def parse_record(obj: Any, path: str) -> Record:
    """Validate one decoded record; raise :class:`RecordError` naming every problem found."""
    if not isinstance(obj, dict):
        raise RecordError("not a JSON object")
    missing = [key for key in ("schema", "run_id", "definition", "metrics", *EFFICIENCY_KEYS)
               if key not in obj]
    definition = obj.get("definition")
    if isinstance(definition, dict):
        missing += [f"definition.{key}" for key in DEFINITION_KEYS if key not in definition]
    test = obj.get("metrics", {}).get("test") if isinstance(obj.get("metrics"), dict) else None
    if not isinstance(test, dict):
        missing.append("metrics.test")
    elif "f1_macro" not in test:
        missing.append("metrics.test.f1_macro")
    if missing:
        raise RecordError("missing fields: " + ", ".join(missing))
    if obj["schema"] != SCHEMA_VERSION:
        raise RecordError(f"unsupported schema {obj['schema']!r} (expected {SCHEMA_VERSION})")
    if not isinstance(definition, dict):
        raise RecordError("definition is not an object")

    wrong = []
    if not isinstance(definition["dataset"], str) or not definition["dataset"]:
        wrong.append("definition.dataset")
    if not isinstance(definition["task"], str) or not definition["task"]:
        wrong.append("definition.task")
    if not isinstance(definition["features"], str):
        wrong.append("definition.features")
    if not isinstance(definition["model"], str) or not definition["model"]:
        wrong.append("definition.model")
    if definition["model_kind"] not in MODEL_KINDS:
        wrong.append("definition.model_kind")
    relations = definition["relations"]
    if not isinstance(relations, list) or not all(isinstance(r, str) for r in relations):
        wrong.append("definition.relations")
    if not isinstance(definition["seed"], int) or isinstance(definition["seed"], bool):
        wrong.append("definition.seed")
    if definition["aux_loss"] is not None and not isinstance(definition["aux_loss"], str):
        wrong.append("definition.aux_loss")
    if not _is_number(definition["aux_weight"]):
        wrong.append("definition.aux_weight")
    for key in ("dataset_options", "hyperparameters", "training", "aux_settings"):
        if not isinstance(definition[key], dict):
            wrong.append(f"definition.{key}")
    if not _is_number(test["f1_macro"]):
        wrong.append("metrics.test.f1_macro")
    wrong += [f"metrics.test.{key}" for key in OPTIONAL_TEST_METRICS
              if key in test and not _is_number(test[key])]
    wrong += [key for key in EFFICIENCY_KEYS if obj[key] is not None and not _is_number(obj[key])]
    if wrong:
        raise RecordError("invalid values: " + ", ".join(wrong))
    if not isinstance(obj["run_id"], str) or not _run_id_matches(obj["run_id"], definition):
        raise RecordError(f"run_id {obj['run_id']!r} is not the hash of its definition")

    return Record(
        path=path,
        run_id=obj["run_id"],
        definition=definition,
        test={k: float(v) for k, v in test.items() if _is_number(v)},
        train_time_s=obj["train_time_s"],
        peak_memory_mb=obj["peak_memory_mb"],
        num_parameters=None if obj["num_parameters"] is None else int(obj["num_parameters"]),
    )


def _read(file: Path, path: str) -> Record:
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise RecordError(f"unreadable ({exc.strerror})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    return parse_record(obj, path)


def load_records(results_dir: str | Path) -> LoadedRecords:
    """Read every ``*.json`` under ``results_dir`` (recursively, hidden files excepted).

    Files are visited in sorted relative-path order, so when two files share a
    ``run_id`` the one with the lexicographically smallest path is kept and
    the other is reported as a duplicate: the outcome never depends on the
    order a file system lists them in.
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"results folder not found: {root}")
    files = sorted(
        (f.relative_to(root).as_posix(), f)
        for f in root.rglob("*.json")
        if f.is_file() and not any(part.startswith(".") for part in f.relative_to(root).parts)
    )
    records: list[Record] = []
    skipped: list[Skipped] = []
    duplicates: list[Duplicate] = []
    kept_by_run_id: dict[str, str] = {}
    for path, file in files:
        try:
            record = _read(file, path)
        except RecordError as exc:
            skipped.append(Skipped(path, str(exc)))
            continue
        if record.run_id in kept_by_run_id:
            duplicates.append(Duplicate(path, kept_by_run_id[record.run_id], record.run_id))
            continue
        kept_by_run_id[record.run_id] = path
        records.append(record)
    return LoadedRecords(tuple(records), tuple(skipped), tuple(duplicates))
