"""The shipped suites: one YAML file each in this folder, named by its stem (``--suite quick``).

A module of its own so that naming them (``mgbench run --help``) needs no more than the folder.
"""

from __future__ import annotations

from pathlib import Path

SUITES_DIR = Path(__file__).resolve().parent


def shipped_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))
