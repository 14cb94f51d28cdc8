"""Result records -> leaderboard: Markdown and CSV tables, a self-contained HTML page, figures.

The board is a pure function of the result files (docs/RESULTS.md):
``build_leaderboard(results_dir, out_dir)`` gives the same bytes for the
same records.
"""

from .build import BuildReport, build_leaderboard

__all__ = ["BuildReport", "build_leaderboard"]
