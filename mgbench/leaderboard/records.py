"""Load, validate and de-duplicate result records (docs/RESULTS.md).

Result folders are merged by copying files, so the board must survive
anything a copy can produce: truncated files, hand-edited files, files from
an older writer, the same run produced on two machines. Every file is either
counted exactly once or reported by name with the reason it was not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from mgbench.schema import DEFINITION_KEYS, METRICS, MODEL_KINDS, RANKING_METRIC, SCHEMA_VERSION, canonical_json

from . import validate as v

#: Efficiency fields the tables show; the key is required, ``null`` is allowed.
EFFICIENCY_KEYS = ("train_time_s", "peak_memory_mb", "num_parameters")
#: Each test metric the tables read when present -> the board metric that reads it.
_READ_TEST_METRICS = {key: metric for metric in METRICS for key in metric.keys}
#: Training settings that are integers (``None``: not used, e.g. patience under the reference protocol).
_INT_SETTINGS = ("epochs", "patience", "min_epochs")
_MAX_EPOCHS = 10 ** 7
_MAX_TRIALS = 10 ** 6


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
    model_memory_mb: float | None
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


def short_hash(obj: Any, length: int = 16) -> str:
    """First ``length`` hex digits of the SHA-256 of ``canonical_json(obj)``."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:length]


def _run_id_matches(run_id: str, definition: Mapping[str, Any]) -> bool:
    # Writers may or may not escape non-ASCII text; both spellings are canonical enough.
    spellings = {
        json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=flag)
        for flag in (True, False)
    }
    return any(hashlib.sha256(s.encode("utf-8")).hexdigest()[:16] == run_id for s in spellings)


def _check_seeds(problems: v.Problems, field: str, value: Any) -> None:
    if not isinstance(value, list) or len(value) > 1000:
        problems.append(f"{field} (not a list of at most 1000 seeds: {v.describe(value)})")
        return
    for i, seed in enumerate(value):
        v.check_int(problems, f"{field}[{i}]", seed, 0, v.MAX_SEED)


def _check_tuning(problems: v.Problems, tuning: Any) -> None:
    """``definition.tuning`` of a tuned run: the study, its budget and how the best was selected."""
    field = "definition.tuning"
    if not v.check_dict(problems, field, tuning):
        return
    if not isinstance(tuning.get("budget"), dict):
        problems.append(f"{field}.budget (not an object: {v.describe(tuning.get('budget'))})")
    else:
        v.check_fields(problems, f"{field}.budget", tuning["budget"], {
            "trials": lambda p, f, x: v.check_int(p, f, x, 1, _MAX_TRIALS, optional=True),
            "timeout_s": lambda p, f, x: v.check_number(p, f, x, 0, v.MAX_SECONDS, optional=True),
        })
    v.check_fields(problems, field, tuning, {
        "study": v.check_name,
        "sampler": v.check_name,
        "pruner": lambda p, f, x: v.check_name(p, f, x, optional=True),
        "trials": lambda p, f, x: v.check_int(p, f, x, 0, _MAX_TRIALS),
        "search_seeds": _check_seeds,
        "selected_on": v.check_name,
    })


def _check_definition(problems: v.Problems, definition: dict[str, Any]) -> None:
    for key in ("dataset", "task", "model", "protocol"):
        v.check_name(problems, f"definition.{key}", definition[key])
    v.check_name(problems, "definition.features", definition["features"], empty=True)
    v.check_name(problems, "definition.aux_loss", definition["aux_loss"], optional=True)
    if definition["model_kind"] not in MODEL_KINDS:
        problems.append(f"definition.model_kind ({v.describe(definition['model_kind'])}, "
                        f"not one of {', '.join(MODEL_KINDS)})")
    relations = definition["relations"]
    if not isinstance(relations, list) or len(relations) > 64:
        problems.append(f"definition.relations (not a list of at most 64 names: {v.describe(relations)})")
    else:
        for i, relation in enumerate(relations):
            v.check_name(problems, f"definition.relations[{i}]", relation)
    v.check_int(problems, "definition.seed", definition["seed"], 0, v.MAX_SEED)
    v.check_number(problems, "definition.aux_weight", definition["aux_weight"], -1e6, 1e6)
    for key in ("dataset_options", "hyperparameters", "aux_settings"):
        v.check_dict(problems, f"definition.{key}", definition[key])
    for key in ("feature_options", "sampling"):
        if key in definition:
            v.check_dict(problems, f"definition.{key}", definition[key])
    if v.check_dict(problems, "definition.training", definition["training"]):
        v.check_fields(problems, "definition.training", definition["training"], {
            **{key: (lambda p, f, x: v.check_int(p, f, x, 0, _MAX_EPOCHS, optional=True))
               for key in _INT_SETTINGS},
            "lr": lambda p, f, x: v.check_number(p, f, x, 0, 1e6),
            "weight_decay": lambda p, f, x: v.check_number(p, f, x, 0, 1e6),
        })
    if "tuning" in definition:
        _check_tuning(problems, definition["tuning"])
    external = definition.get("external")
    if definition["model_kind"] == "external" or "external" in definition:
        if definition["model_kind"] != "external":
            problems.append("definition.external (given for a run the runner trained)")
        elif v.check_dict(problems, "definition.external", external):
            v.check_fields(problems, "definition.external", external,
                           {"predictions": v.check_name, "kind": v.check_name})
    checked = {*DEFINITION_KEYS, "feature_options", "sampling", "tuning", "external"}
    v.check_json(problems, "definition",                  # any other key: plain, bounded JSON
                 {k: x for k, x in definition.items() if k not in checked})


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
    elif RANKING_METRIC not in test:
        missing.append(f"metrics.test.{RANKING_METRIC}")
    if missing:
        raise RecordError("missing fields: " + ", ".join(missing))
    schema = obj["schema"]
    if not isinstance(schema, int) or isinstance(schema, bool) or schema != SCHEMA_VERSION:
        raise RecordError(f"unsupported schema {v.describe(schema)} (expected {SCHEMA_VERSION})")
    if not isinstance(definition, dict):
        raise RecordError("definition is not an object")

    problems: v.Problems = []
    _check_definition(problems, definition)
    for key, metric in _READ_TEST_METRICS.items():
        if key in test:
            v.check_number(problems, f"metrics.test.{key}", test[key], metric.low, metric.high,
                           optional=metric.may_be_undefined)
    v.check_number(problems, "train_time_s", obj["train_time_s"], 0, v.MAX_SECONDS, optional=True)
    v.check_number(problems, "peak_memory_mb", obj["peak_memory_mb"], 0, v.MAX_MEGABYTES, optional=True)
    v.check_number(problems, "model_memory_mb", obj.get("model_memory_mb"), 0, v.MAX_MEGABYTES, optional=True)
    v.check_int(problems, "num_parameters", obj["num_parameters"], 0, v.MAX_PARAMETERS, optional=True)
    if problems:
        raise RecordError("invalid values: " + ", ".join(problems))
    run_id = obj["run_id"]
    if not isinstance(run_id, str) or not _run_id_matches(run_id, definition):
        raise RecordError(f"run_id {v.describe(run_id)} is not the hash of its definition")

    return Record(
        path=path,
        run_id=run_id,
        definition=definition,
        test={key: float(test[key]) for key in _READ_TEST_METRICS if test.get(key) is not None},
        train_time_s=obj["train_time_s"],
        model_memory_mb=obj.get("model_memory_mb"),  # absent in records made before it existed
        num_parameters=obj["num_parameters"],
    )


def _read(file: Path, path: str) -> Record:
    try:
        size = file.stat().st_size
        if size == 0:
            raise RecordError("empty file")
        if size > v.MAX_FILE_BYTES:
            raise RecordError(f"{size} bytes, more than a record's limit of {v.MAX_FILE_BYTES}")
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise RecordError(f"unreadable ({exc.strerror})") from None
    try:
        obj = v.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise RecordError("invalid JSON (nested too deeply)") from None
    return parse_record(obj, path)


def load_records(results_dir: str | Path, origin: str | None = None) -> LoadedRecords:
    """Read every ``*.json`` under ``results_dir`` (recursively, hidden files excepted).

    ``origin`` marks every record of this folder (``"yours"``: a user's own runs shown
    beside the published ones): it joins each definition as ``origin``, after the record
    was validated, so such runs form rows of their own.

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
        records.append(record if origin is None else
                       replace(record, definition={**record.definition, "origin": origin}))
    return LoadedRecords(tuple(records), tuple(skipped), tuple(duplicates))
