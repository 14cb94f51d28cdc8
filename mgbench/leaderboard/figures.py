"""Figures as PNG bytes: F1 per model, F1 against train time, F1 by relation set.

Every text from a record is drawn through :func:`escape.plain` (no mathtext,
one line, bounded), every axis of F1 starts at 0, titles are figure-wide and
wrapped, and a scatter names only a few of its points.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global
backend switch), under matplotlib's default style rather than the user's
matplotlibrc, and saved without the "Software" metadata entry, so the same
board gives the same bytes on the same matplotlib and FreeType.
"""

from __future__ import annotations

import io
import math
import textwrap
from contextlib import contextmanager
from typing import Iterator, Sequence

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import offset_copy

from . import escape
from .aggregate import Board, RelationComparison, Row, Table, row_label
from .tables import DAGGER, figure_names, relation_figure_name

KIND_COLOURS = {"G": "#2b6cb0", "F": "#dd6b20", "E": "#6b46c1"}
KIND_NAMES = {"G": "graph model", "F": "feature model", "E": "trained outside the runner"}
SYNTHETIC_SUFFIX = "  [SYNTHETIC DATA]"
_STYLE = {"font.size": 8, "axes.titlesize": 9, "figure.titlesize": 9, "axes.grid": True, "grid.alpha": 0.3,
          "axes.spines.top": False, "axes.spines.right": False}
#: Longest row label drawn; the table holds the whole name.
_LABEL_CHARS = 48
#: Title characters per line at 9 pt on a 7.5-inch figure.
_TITLE_CHARS = 100
#: How many of the best rows the scatter names (besides the fastest, tuned and outside rows).
_BEST_LABELLED = 3


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _title(fig: Figure, text: str, synthetic: bool) -> None:
    """A figure-wide title from the left edge, wrapped, never clipped (constrained layout makes room)."""
    text = escape.plain(text + (SYNTHETIC_SUFFIX if synthetic else ""))
    fig.suptitle(textwrap.fill(text, _TITLE_CHARS), x=0.01, ha="left",
                 color="#c53030" if synthetic else "black")


def _label(row: Row, min_seeds: int | None = None) -> str:
    under = min_seeds is not None and row.source == "run" and row.n_seeds < min_seeds
    return escape.plain(row_label(row), _LABEL_CHARS) + (DAGGER if under else "")


def _pct(value: float | None) -> float:
    return math.nan if value is None else 100 * value


def _kind_handles(kinds: set[str]) -> list[Patch]:
    return [Patch(color=KIND_COLOURS[k], label=KIND_NAMES[k]) for k in KIND_COLOURS if k in kinds]


def f1_bars(table: Table, min_seeds: int) -> Figure:
    """Horizontal bars of mean macro F1 ± std from 0, best at the top; published rows hatched, † under-seeded
    (a published row without macro F1 has no bar)."""
    rows = [r for r in table.rows if "f1" in r.stats]
    fig = Figure(figsize=(7.5, 1.4 + 0.28 * len(rows)), layout="constrained")
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
        ax.text(mean + err + 0.5, yi, f"{mean:.2f}", va="center", fontsize=7)
    ax.set_xlim(0, 100)                  # from 0: a cut axis would exaggerate the gaps
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_yticks(y, [_label(r, min_seeds) for r in rows])
    ax.set_xlabel("macro F1 (%), mean ± std over seeds")
    handles = _kind_handles({r.kind for r in rows})
    if any(r.source == "paper" for r in rows):
        handles.append(Patch(facecolor="white", edgecolor="#555555", hatch="///", label="published (paper)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    _title(fig, table.key.heading, table.key.synthetic)
    return fig


def _labelled(rows: Sequence[Row]) -> list[Row]:
    """The rows a scatter names: the best few by F1, the fastest, and tuned and outside rows."""
    best = sorted(rows, key=lambda r: -r.stats["f1"].mean)[:_BEST_LABELLED]
    fastest = min(rows, key=lambda r: (r.train_time_s, -r.stats["f1"].mean))
    marked = [r for r in rows if r.tuned or r.kind == "E"]
    chosen = {id(r) for r in [*best, fastest, *marked]}
    return [r for r in rows if id(r) in chosen]


def _spread(wanted: list[float], gap: float) -> list[float]:
    """Positions as close to ``wanted`` as can be with at least ``gap`` between neighbours."""
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    placed = [0.0] * len(wanted)
    last = -math.inf
    for i in order:
        last = max(wanted[i], last + gap)
        placed[i] = last
    shift = (max(placed[i] - wanted[i] for i in order) if order else 0.0) / 2
    return [p - shift for p in placed]


def f1_vs_time(table: Table) -> Figure | None:
    """Scatter of mean macro F1 against mean train time per run; ``None`` without timed rows.

    Only a few points are named (the best by F1, the fastest, tuned and outside
    rows), their labels moved apart vertically with a leader line to the point,
    so that twenty points never pile their names on top of each other; every
    point is a row of the table above the figure.
    """
    rows: list[Row] = [r for r in table.rows if r.source == "run" and r.train_time_s is not None]
    if not rows:
        return None
    fig = Figure(figsize=(7.5, 4.4), layout="constrained")
    ax = fig.add_subplot()
    for row in rows:
        stat = row.stats["f1"]
        ax.errorbar(row.train_time_s, _pct(stat.mean), yerr=0 if stat.std is None else _pct(stat.std),
                    fmt="*" if row.tuned else "o", color=KIND_COLOURS[row.kind], ecolor="#bbbbbb",
                    capsize=2, markersize=8 if row.tuned else 5)
    times = [r.train_time_s for r in rows]
    if min(times) > 0 and max(times) / min(times) > 20:
        ax.set_xscale("log")
    ax.margins(x=0.08, y=0.12)
    ax.set_xlabel("train time per run (s)")
    ax.set_ylabel("macro F1 (%)")
    named = sorted(_labelled(rows), key=lambda r: -r.stats["f1"].mean)
    low, high = ax.get_ylim()
    positions = _spread([_pct(r.stats["f1"].mean) for r in named], (high - low) / 14)
    left, right = ax.get_xlim()
    scale = math.log if ax.get_xscale() == "log" else float
    for row, y_text in zip(named, positions):
        x = row.train_time_s
        on_right = (scale(x) - scale(left)) / (scale(right) - scale(left)) > 0.6
        beside = offset_copy(ax.transData, fig=fig, x=-8 if on_right else 8, units="points")
        ax.annotate(_label(row), (x, _pct(row.stats["f1"].mean)), xytext=(x, y_text), textcoords=beside,
                    ha="right" if on_right else "left", va="center", fontsize=7,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
                    arrowprops={"arrowstyle": "-", "color": "#718096", "lw": 0.6, "shrinkA": 0,
                                "shrinkB": 3})
    handles = _kind_handles({r.kind for r in rows})
    if any(r.tuned for r in rows):
        handles.append(Line2D([], [], marker="*", linestyle="", color="#4a5568", markersize=8, label="tuned"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=len(handles),
              fontsize=7, frameon=False)
    unnamed = len(rows) - len(named)
    caption = f"; {unnamed} more points unnamed (see the table)" if unnamed else ""
    _title(fig, f"{table.key.heading}: F1 against train time{caption}", table.key.synthetic)
    return fig


def by_relation_set(comparison: RelationComparison) -> Figure:
    """Grouped bars: one group per row label, one bar per relation set."""
    labels = [escape.plain(label, _LABEL_CHARS) for label, _ in comparison.series]
    sets = comparison.relation_sets
    width = 0.8 / len(sets)
    fig = Figure(figsize=(max(7.5, 1.0 + 0.9 * len(labels) * len(sets) ** 0.5), 4.8), layout="constrained")
    ax = fig.add_subplot()
    palette = matplotlib.colormaps["tab10"]
    for j, relation_set in enumerate(sets):
        stats = [values[j] for _, values in comparison.series]
        xs = [i - 0.4 + width * (j + 0.5) for i in range(len(labels))]
        ax.bar(xs, [_pct(s.mean) if s else math.nan for s in stats], width=width * 0.95,
               yerr=[_pct(s.std) if s and s.std is not None else 0.0 for s in stats],
               color=palette(j % 10), ecolor="#333333", capsize=2, label=escape.plain(relation_set, 80))
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
    ax.set_ylabel("macro F1 (%), mean ± std")
    ax.set_ylim(0, 100)                  # from 0: a cut axis would exaggerate the gaps
    ax.legend(title="relation set", fontsize=7, title_fontsize=7, loc="upper center",
              bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    _title(fig, comparison.title, comparison.key.synthetic)
    return fig


@contextmanager
def figure_style() -> Iterator[None]:
    """matplotlib's defaults plus the board's few settings, whatever the user's matplotlibrc says."""
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(_STYLE)
        yield


def render_figures(board: Board) -> dict[str, bytes]:
    """Every figure of the board as PNG bytes, keyed by its path relative to the output folder."""
    figures: dict[str, bytes] = {}
    with figure_style():
        for table in board.tables:
            bars_path, time_path = figure_names(table.key)
            figures[bars_path] = _png(f1_bars(table, board.min_seeds))
            scatter = f1_vs_time(table)
            if scatter is not None:
                figures[time_path] = _png(scatter)
        for comparison in board.relation_comparisons:
            figures[relation_figure_name(comparison)] = _png(by_relation_set(comparison))
    return dict(sorted(figures.items()))
