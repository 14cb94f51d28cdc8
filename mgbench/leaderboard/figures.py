"""Figures as PNG bytes: F1 per model, F1 against train time, F1 by relation set.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global
backend switch), under matplotlib's default style rather than the user's
matplotlibrc, and saved without the "Software" metadata entry, so the same
board gives the same bytes on the same matplotlib and FreeType.
"""

from __future__ import annotations

import io
import math
import textwrap
import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .aggregate import Board, RelationComparison, Row, Table, row_label
from .tables import DAGGER, figure_names, relation_figure_name

KIND_COLOURS = {"G": "#2b6cb0", "F": "#dd6b20"}
KIND_NAMES = {"G": "graph model", "F": "feature model"}
SYNTHETIC_SUFFIX = "  [SYNTHETIC DATA]"
_STYLE = {"font.size": 8, "axes.titlesize": 9, "axes.grid": True, "grid.alpha": 0.3,
          "axes.spines.top": False, "axes.spines.right": False}


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _title(ax, text: str, synthetic: bool) -> None:
    ax.set_title(textwrap.fill(text + (SYNTHETIC_SUFFIX if synthetic else ""), 95),
                 color="#c53030" if synthetic else "black", loc="left")


def _pct(value: float | None) -> float:
    return math.nan if value is None else 100 * value


def f1_bars(table: Table, min_seeds: int) -> bytes:
    """Horizontal bars of mean macro F1 ± std, best at the top; published rows hatched, † under-seeded."""
    rows = table.rows
    fig = Figure(figsize=(7.5, 1.1 + 0.28 * len(rows)))
    ax = fig.add_subplot()
    y = list(range(len(rows)))[::-1]
    means = [_pct(r.stats["f1"].mean) for r in rows]
    errors = [_pct(r.stats["f1"].std) if r.stats["f1"].std is not None else 0.0 for r in rows]
    for source in ("run", "paper"):
        picked = [i for i, r in enumerate(rows) if r.source == source]
        if not picked:
            continue
        colours = [KIND_COLOURS[rows[i].kind] for i in picked]
        ax.barh([y[i] for i in picked], [means[i] for i in picked], xerr=[errors[i] for i in picked],
                height=0.7, color="white" if source == "paper" else colours, edgecolor=colours,
                hatch="///" if source == "paper" else None, ecolor="#333333", capsize=2)
    for yi, mean, err in zip(y, means, errors):
        ax.text(mean + err + 0.3, yi, f"{mean:.2f}", va="center", fontsize=7)
    low = max(0.0, math.floor((min(m - e for m, e in zip(means, errors)) - 5) / 10) * 10)
    high = min(100.0, max(m + e for m, e in zip(means, errors)) + 6)
    ax.set_xlim(low, max(high, low + 10))
    ax.set_yticks(y, [row_label(r) + (DAGGER if r.source == "run" and r.n_seeds < min_seeds else "")
                      for r in rows])
    ax.set_xlabel("macro F1 (%), mean ± std over seeds")
    handles = [Patch(color=KIND_COLOURS[k], label=KIND_NAMES[k]) for k in ("G", "F")
               if any(r.kind == k for r in rows)]
    if any(r.source == "paper" for r in rows):
        handles.append(Patch(facecolor="white", edgecolor="#555555", hatch="///", label="published (paper)"))
    ax.legend(handles=handles, loc="lower right", fontsize=7)
    _title(ax, table.key.title, table.key.synthetic)
    fig.tight_layout()
    return _png(fig)


def f1_vs_time(table: Table) -> bytes | None:
    """Scatter of mean macro F1 against mean train time per run; ``None`` without timed rows."""
    rows: list[Row] = [r for r in table.rows if r.source == "run" and r.train_time_s is not None]
    if not rows:
        return None
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.add_subplot()
    for row in rows:
        stat = row.stats["f1"]
        ax.errorbar(row.train_time_s, _pct(stat.mean), yerr=0 if stat.std is None else _pct(stat.std),
                    fmt="o", color=KIND_COLOURS[row.kind], ecolor="#999999", capsize=2, markersize=5)
        ax.annotate(row_label(row), (row.train_time_s, _pct(stat.mean)), textcoords="offset points",
                    xytext=(5, 3), fontsize=7)
    times = [r.train_time_s for r in rows]
    if min(times) > 0 and max(times) / min(times) > 20:
        ax.set_xscale("log")
    ax.margins(x=0.2, y=0.1)                # room for the point labels
    ax.set_xlabel("train time per run (s)")
    ax.set_ylabel("macro F1 (%)")
    ax.legend(handles=[Patch(color=KIND_COLOURS[k], label=KIND_NAMES[k]) for k in ("G", "F")
                       if any(r.kind == k for r in rows)], loc="best", fontsize=7)
    _title(ax, table.key.title + ": F1 against train time", table.key.synthetic)
    fig.tight_layout()
    return _png(fig)


def by_relation_set(comparison: RelationComparison) -> bytes:
    """Grouped bars: one group per row label, one bar per relation set."""
    labels = [label for label, _ in comparison.series]
    sets = comparison.relation_sets
    width = 0.8 / len(sets)
    fig = Figure(figsize=(max(7.5, 1.0 + 0.9 * len(labels) * len(sets) ** 0.5), 4.8))
    ax = fig.add_subplot()
    palette = matplotlib.colormaps["tab10"]
    for j, relation_set in enumerate(sets):
        stats = [values[j] for _, values in comparison.series]
        xs = [i - 0.4 + width * (j + 0.5) for i in range(len(labels))]
        ax.bar(xs, [_pct(s.mean) if s else math.nan for s in stats], width=width * 0.95,
               yerr=[_pct(s.std) if s and s.std is not None else 0.0 for s in stats],
               color=palette(j % 10), ecolor="#333333", capsize=2, label=relation_set)
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
    ax.set_ylabel("macro F1 (%), mean ± std")
    means = [_pct(s.mean) for _, values in comparison.series for s in values if s]
    ax.set_ylim(max(0.0, math.floor((min(means) - 10) / 10) * 10), min(100.0, max(means) + 8))
    ax.legend(title="relation set", fontsize=7, title_fontsize=7, loc="upper center",
              bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
    _title(ax, comparison.title, comparison.key.synthetic)
    fig.tight_layout()
    return _png(fig)


def render_figures(board: Board) -> dict[str, bytes]:
    """Every figure of the board, keyed by its path relative to the output folder."""
    figures: dict[str, bytes] = {}
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(_STYLE)
        for table in board.tables:
            bars_path, time_path = figure_names(table.key)
            figures[bars_path] = f1_bars(table, board.min_seeds)
            scatter = f1_vs_time(table)
            if scatter is not None:
                figures[time_path] = scatter
        for comparison in board.relation_comparisons:
            figures[relation_figure_name(comparison)] = by_relation_set(comparison)
    return dict(sorted(figures.items()))

