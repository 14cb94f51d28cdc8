"""``build_leaderboard``: result records in, board files out.

Everything is rendered in memory first; only then are files replaced, each
by an atomic rename, new figures before the pages that link them and stale
figures last. A build killed at any point leaves every file either old or
new, never truncated, and every figure a page links still exists.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from mgbench.atomic import write_atomic

from . import escape
from .aggregate import build_board
from .figures import render_figures
from .page import render_page
from .records import Duplicate, LoadedRecords, Skipped, load_records
from .tables import render_csv, render_markdown

log = logging.getLogger(__name__)

MARKDOWN, HTML, CSV, FIGURES = "LEADERBOARD.md", "index.html", "leaderboard.csv", "figures"


@dataclass(frozen=True)
class BuildReport:
    """What a build counted, skipped and wrote."""

    out_dir: Path
    records: int                      # records counted (after skipping and de-duplication)
    tables: int
    skipped: tuple[Skipped, ...]      # files not counted, with the reason
    duplicates: tuple[Duplicate, ...] # files whose run_id was already counted
    files: tuple[str, ...]            # written, relative to out_dir
    removed: tuple[str, ...]          # stale figures deleted, relative to out_dir

    @property
    def problems(self) -> tuple[str, ...]:
        """One line per file that was not counted, naming it."""
        return describe_problems(self.skipped, self.duplicates)

    def __str__(self) -> str:
        """What ``mgbench leaderboard`` prints: counts, where the board is, files not counted."""
        figures = sum(name.startswith(f"{FIGURES}/") for name in self.files)
        lines = [f"leaderboard: {self.records} record(s) in {self.tables} table(s) -> "
                 f"{self.out_dir / MARKDOWN}, {HTML}, {CSV} and {figures} figure(s)"
                 + (f"; {len(self.removed)} stale figure(s) removed" if self.removed else "")]
        problems = self.problems
        if problems:
            lines.append(f"{len(problems)} file(s) not counted (listed on the board too):")
            lines += [f"  {escape.one_line(line)}" for line in problems[:_SHOWN_PROBLEMS]]
            if len(problems) > _SHOWN_PROBLEMS:
                lines.append(f"  ... and {len(problems) - _SHOWN_PROBLEMS} more")
        return "\n".join(lines)


#: Problems ``str(report)`` lists; the board lists them all.
_SHOWN_PROBLEMS = 20


def describe_problems(skipped: Sequence[Skipped], duplicates: Sequence[Duplicate]) -> tuple[str, ...]:
    return tuple([f"{s.path}: malformed record, skipped: {s.reason}" for s in skipped]
                 + [f"{d.path}: duplicate of {d.kept} (run_id {d.run_id}), counted once" for d in duplicates])


def build_leaderboard(results_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                      yours: str | os.PathLike[str] | None = None,
                      min_seeds: int = 5, alpha: float = 0.05) -> BuildReport:
    """Build ``LEADERBOARD.md``, ``index.html``, ``leaderboard.csv`` and ``figures/`` from records.

    ``results_dir`` is searched recursively for ``*.json`` records
    (docs/RESULTS.md); files that cannot be counted and duplicate run ids
    are logged as warnings and listed in the report and on the board.
    Rows with fewer than ``min_seeds`` seeds are marked; paired tests are
    significant below ``alpha``. The output is a pure function of the
    records' contents and paths: no time stamps, everything sorted.

    ``yours``: a second folder, a user's own runs, shown beside the records of
    ``results_dir`` as rows of their own named "<model> (yours)" (the same run
    there and here is two rows: the published one and its reproduction).
    """
    if min_seeds < 1:
        raise ValueError(f"min_seeds must be at least 1, got {min_seeds}")
    loaded = load_records(results_dir)
    if yours is not None:
        mine = load_records(yours, origin="yours")
        loaded = LoadedRecords(loaded.records + mine.records,
                               loaded.skipped + tuple(replace(s, path=f"yours/{s.path}") for s in mine.skipped),
                               loaded.duplicates + tuple(replace(d, path=f"yours/{d.path}", kept=f"yours/{d.kept}")
                                                         for d in mine.duplicates))
    board = build_board(loaded.records, min_seeds=min_seeds, alpha=alpha)
    report_lines = describe_problems(loaded.skipped, loaded.duplicates)
    for line in report_lines:
        log.warning("leaderboard: %s", line)

    figures = render_figures(board)
    records = len(loaded.records)
    outputs = {
        **figures,
        CSV: render_csv(board).encode("utf-8"),
        MARKDOWN: render_markdown(board, list(figures), report_lines, records).encode("utf-8"),
        HTML: render_page(board, figures, report_lines, records).encode("utf-8"),
    }

    out = Path(out_dir)
    for name, data in outputs.items():     # figures first: the pages link them
        write_atomic(out / name, data)
    figures_dir = out / FIGURES
    stale = sorted(p for p in figures_dir.glob("*.png") if f"{FIGURES}/{p.name}" not in figures)
    for path in stale:
        path.unlink()
    return BuildReport(
        out_dir=out,
        records=records,
        tables=len(board.tables),
        skipped=loaded.skipped,
        duplicates=loaded.duplicates,
        files=tuple(outputs),
        removed=tuple(f"{FIGURES}/{p.name}" for p in stale),
    )
