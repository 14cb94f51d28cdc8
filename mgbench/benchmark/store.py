"""The result store: one JSON record per run, named by the hash of its definition.

Records are written atomically (temp file + rename), so a killed run leaves
either no record or a complete one, and a sweep that skips existing records
resumes where it stopped. Two processes writing to one store cannot corrupt
each other: distinct runs have distinct files, and a run written twice is
replaced whole by an equally complete record.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from mgbench.atomic import write_atomic
from mgbench.schema import SCHEMA_VERSION, canonical_json, run_id

SCHEMA = SCHEMA_VERSION
__all__ = ["SCHEMA", "ResultStore", "ResultStoreError", "canonical_json", "run_id"]


class ResultStoreError(ValueError):
    """The results folder cannot take records; the message says why and what to do."""


class ResultStore:
    """A folder of ``<run_id>.json`` records (``leaderboard/results/`` by default)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        #: Records this store object wrote (or was told of by worker processes).
        self.written: list[Path] = []

    def path(self, definition: dict) -> Path:
        return self.folder / f"{run_id(definition)}.json"

    def check_writable(self) -> None:
        """Fail now, before a run trains, if no record could be written here."""
        if self.folder.exists() and not self.folder.is_dir():
            raise ResultStoreError(f"results folder {self.folder} is a file; give --results a folder")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".probe-", dir=self.folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as err:
            raise ResultStoreError(f"results folder {self.folder} is not writable ({err.strerror or err}); "
                                   "give --results a folder you can write to") from None

    def problem(self, definition: dict) -> str | None:
        """Why the stored record of ``definition`` cannot count as done; ``None`` if it can.

        A record counts only if it parses, is the record of this very definition,
        and holds test metrics: an empty file, a truncated one or one written by
        someone else under this name is run again.
        """
        path = self.path(definition)
        try:
            record = json.loads(path.read_text())
        except FileNotFoundError:
            return "missing"
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            return f"unreadable ({type(err).__name__})"
        if not isinstance(record, dict) or record.get("definition") != definition:
            return "not the record of this run"
        test = (record.get("metrics") or {}).get("test") if isinstance(record.get("metrics"), dict) else None
        if not isinstance(test, dict) or not test:
            return "without test metrics"
        return None

    def has(self, definition: dict) -> bool:
        return self.problem(definition) is None

    def write(self, record: dict) -> Path:
        path = self.path(record["definition"])
        try:
            write_atomic(path, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
        except OSError as err:
            test = record.get("metrics", {}).get("test", {})
            raise ResultStoreError(f"could not write {path} ({err.strerror or err}); the run's test metrics: "
                                   f"{canonical_json(test)}") from None
        self.written.append(path)
        return path

    def records(self) -> list[dict]:
        out = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, json.JSONDecodeError):
                continue
        return out
