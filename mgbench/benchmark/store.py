"""The result store: one JSON record per run, named by the hash of its definition.

Records are written atomically (temp file + rename), so a killed run leaves
either no record or a complete one, and a sweep that skips existing records
resumes where it stopped. Two processes writing to one store cannot corrupt
each other: distinct runs have distinct files, and a run written twice is
replaced whole by an equally complete record.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

SCHEMA = 1


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def run_id(definition: dict) -> str:
    """First 16 hex digits of the SHA-256 of the definition's canonical JSON."""
    return hashlib.sha256(canonical_json(definition).encode()).hexdigest()[:16]


class ResultStore:
    """A folder of ``<run_id>.json`` records (``leaderboard/results/`` by default)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def path(self, definition: dict) -> Path:
        return self.folder / f"{run_id(definition)}.json"

    def has(self, definition: dict) -> bool:
        return self.path(definition).is_file()

    def write(self, record: dict) -> Path:
        path = self.path(record["definition"])
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w") as fh:
                json.dump(record, fh, indent=1, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def records(self) -> list[dict]:
        out = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, json.JSONDecodeError):
                continue
        return out
