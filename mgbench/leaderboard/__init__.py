"""Result records -> leaderboard: Markdown and CSV tables, a self-contained HTML page, figures.

The board is a pure function of the result files (docs/RESULTS.md):
``build_leaderboard(results_dir, out_dir)`` gives the same bytes for the
same records.
"""

import logging

from .build import BuildReport, build_leaderboard

# A library's logger: warnings reach an application's handlers, never Python's
# last-resort stderr printer (``mgbench leaderboard`` prints the report itself).
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["BuildReport", "build_leaderboard"]
