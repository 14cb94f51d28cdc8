"""Table cells and the Markdown and CSV renderings of the board.

Every number is formatted here, with fixed precision, so the Markdown, the
CSV and the HTML page agree to the digit and rebuild to the same bytes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Sequence

from . import reference
from .aggregate import COLUMNS, AuxEffect, Board, RelationComparison, Row, Stat, Table, TableKey

DASH = "—"
DAGGER = "†"
SYNTHETIC_WARNING = "these are synthetic-data numbers"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    numeric: bool
    wrap: bool = False            # long text the page may break over lines


@dataclass(frozen=True)
class Cell:
    text: str
    sort: float | str | None      # what the page sorts by; ``None`` sorts last


BOARD_COLUMNS = (
    Column("model", "Model", False),
    Column("type", "Type", False),
    Column("aux", "Aux loss", False),
    Column("accuracy", "Accuracy", True),
    Column("precision", "Precision", True),
    Column("recall", "Recall", True),
    Column("f1", "F1 (macro)", True),
    Column("seeds", "Seeds", True),
    Column("p", "p vs best", True),
    Column("time", "Time/run (s)", True),
    Column("memory", "Peak mem (MB)", True),
    Column("params", "Params", True),
)

AUX_COLUMNS = (
    Column("table", "Table", False, wrap=True),
    Column("model", "Model", False),
    Column("aux", "Aux loss", False),
    Column("seeds", "Paired seeds", True),
    Column("f1_ce", "F1 CE only", True),
    Column("f1_aux", "F1 CE + aux", True),
    Column("delta", "ΔF1 (points)", True),
    Column("p", "p", True),
    Column("p_holm", "p (Holm)", True),
    Column("verdict", "Verdict", False),
)


def aux_intro(alpha: float) -> str:
    """The sentence above the auxiliary-loss table (Markdown and page alike)."""
    return (f"Change in macro F1 from adding the auxiliary loss to the same model trained with "
            f"cross-entropy alone (same dataset, task, relations, features, hyperparameters, "
            f"training and protocol), on the seeds both ran; two-sided paired t-test over seeds, "
            f"then Holm-adjusted over all comparisons of the same table, because one table tests "
            f"many losses at once; * and the verdict mean adjusted p < {alpha:g}.")


def percent(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.2f}"


def mean_std(stat: Stat | None) -> str:
    """``mean ± std`` in percent; a single seed shows its value alone."""
    if stat is None:
        return DASH
    if stat.std is None:
        return percent(stat.mean)
    return f"{100 * stat.mean:.2f} ± {100 * stat.std:.2f}"


def p_value(p: float | None, alpha: float, star: bool = True) -> Cell:
    """A p-value, starred when below ``alpha`` (and ``star``); "n/a" below two paired seeds."""
    if p is None:
        return Cell("n/a", None)
    text = "<0.001" if p < 0.001 else f"{p:.3f}"
    return Cell(text + ("*" if star and p < alpha else ""), p)


def row_cells(row: Row, board: Board) -> dict[str, Cell]:
    """Display text and sort value of every board column for one row."""
    cells = {
        "model": Cell(row.name, row.name),
        "type": Cell(row.kind, row.kind),
        "aux": Cell(row.aux_label or DASH, row.aux_label or ""),
    }
    for column in COLUMNS:
        stat = row.stats.get(column)
        cells[column] = Cell(mean_std(stat), None if stat is None else stat.mean)
    seeds = str(row.n_seeds) + (DAGGER if row.source == "run" and row.n_seeds < board.min_seeds else "")
    cells["seeds"] = Cell(seeds, row.n_seeds)
    if row.is_best:
        cells["p"] = Cell("best", -1.0)
    elif row.vs_best is None:
        cells["p"] = Cell(DASH, None)
    else:
        cells["p"] = p_value(row.vs_best.p_value, board.alpha)
    cells["time"] = Cell(DASH if row.train_time_s is None else f"{row.train_time_s:.2f}", row.train_time_s)
    cells["memory"] = Cell(DASH if row.peak_memory_mb is None else f"{row.peak_memory_mb:.0f}",
                           row.peak_memory_mb)
    cells["params"] = Cell(DASH if row.num_parameters is None else f"{row.num_parameters:,}",
                           row.num_parameters)
    return cells


def verdict(effect: AuxEffect, alpha: float) -> str:
    if effect.baseline_group_id is None:
        return "no CE-only run to compare with"
    if effect.test.p_value is None:
        return "n/a (fewer than 2 paired seeds)"
    if not effect.significant(alpha):
        return "no significant change"
    return "helps" if effect.test.mean_diff > 0 else "hurts"


def aux_cells(effect: AuxEffect, alpha: float) -> dict[str, Cell]:
    delta = effect.test.mean_diff
    paired = effect.baseline_group_id is not None
    p = p_value(effect.test.p_value, alpha, star=False) if paired else Cell(DASH, None)
    p_holm = p_value(effect.p_holm, alpha) if paired else Cell(DASH, None)
    return {
        "table": Cell(effect.key.title + (" (synthetic data)" if effect.key.synthetic else ""),
                      effect.key.title),
        "model": Cell(effect.name, effect.name),
        "aux": Cell(effect.aux_label, effect.aux_label),
        "seeds": Cell(str(effect.test.n), effect.test.n),
        "f1_ce": Cell(percent(effect.f1_ce), effect.f1_ce),
        "f1_aux": Cell(percent(effect.f1_aux), effect.f1_aux),
        "delta": Cell(DASH if delta is None else f"{100 * delta:+.2f}", delta),
        "p": p,
        "p_holm": p_holm,
        "verdict": Cell(verdict(effect, alpha), verdict(effect, alpha)),
    }


def table_notes(table: Table, board: Board) -> list[str]:
    """Footnotes a table needs: under-seeded rows, published rows."""
    notes = []
    if any(r.source == "run" and r.n_seeds < board.min_seeds for r in table.rows):
        notes.append(f"{DAGGER} fewer than {board.min_seeds} seeds: read its mean and test with care.")
    if any(r.source == "paper" for r in table.rows):
        notes.append(
            f"Rows marked (paper) are the MGTAB authors' published numbers ({reference.source()}); "
            "their std is numpy's population std (ddof=0) over seeds 0-4. "
            "Their precision and recall are exchanged from the published table, because the "
            "authors' evaluation code passes predictions as the ground truth, which swaps the two."
        )
    if any(r.source == "run" and r.protocol == "reference" for r in table.rows):
        notes.append(
            "Rows marked (reference protocol) replay the MGTAB authors' scripts, metric calls included, "
            "so their precision and recall are swapped as in the published table: their precision is "
            "macro recall and their recall macro precision."
        )
    return notes


def conventions(board: Board) -> list[str]:
    """How to read every table; shown once at the top of the Markdown and the page."""
    return [
        "One table per dataset x task x relation set x features recipe; one row per run "
        "definition without its seed (its config id is the hash of that definition).",
        "Accuracy, precision, recall and F1 are test-set macro averages in percent, "
        "mean ± sample standard deviation (ddof=1) over seeds; a single seed shows no std.",
        "Rows are sorted by mean macro F1. \"p vs best\" is a two-sided paired t-test of macro F1 "
        "against the best row (most F1 among rows with enough seeds), paired by seed (same seed = "
        f"same split) on the seeds both ran; * marks p < {board.alpha:g}; n/a means fewer than "
        "2 common seeds. If every paired difference is equal, p = 0 (non-zero difference) or 1.",
        "Train time is the mean per run; peak memory the largest over seeds.",
    ]


def _markdown_table(columns: Sequence[Column], rows: Sequence[dict[str, Cell]]) -> list[str]:
    def escape(text: str) -> str:
        return text.replace("|", "\\|")
    lines = ["| " + " | ".join(c.header for c in columns) + " |",
             "|" + "|".join("---:" if c.numeric else "---" for c in columns) + "|"]
    lines += ["| " + " | ".join(escape(cells[c.key].text) for c in columns) + " |" for cells in rows]
    return lines


def figure_names(key: TableKey) -> tuple[str, str]:
    """Relative paths of a table's two figures: F1 bars, F1 against train time."""
    return f"figures/{key.slug}-f1.png", f"figures/{key.slug}-time.png"


def relation_figure_name(comparison: RelationComparison) -> str:
    return f"figures/relations-{comparison.key.slug}.png"


def render_markdown(board: Board, figures: Sequence[str], not_counted: Sequence[str],
                    records: int) -> str:
    """LEADERBOARD.md: conventions, one section per table, aux losses, relation sets, skipped files.

    ``figures`` are the relative paths of the PNGs that exist, so the text links
    only what was drawn.
    """
    drawn = set(figures)
    out = ["# mgbench leaderboard", "",
           f"Built from {records} result records in {len(board.tables)} tables."]
    if any(t.key.synthetic for t in board.tables):
        out.append(f"**Tables marked synthetic: {SYNTHETIC_WARNING}, not MGTAB results.**")
    out += [""] + [f"- {line}" for line in conventions(board)] + [""]
    for table in board.tables:
        out += [f"## {table.key.title}", ""]
        if table.key.synthetic:
            out += [f"> **Warning: {SYNTHETIC_WARNING}.**", ""]
        out += _markdown_table(BOARD_COLUMNS, [row_cells(r, board) for r in table.rows]) + [""]
        out += [note + "  " for note in table_notes(table, board)]
        links = [f"![{table.key.title}]({path})" for path in figure_names(table.key) if path in drawn]
        out += ([""] if table_notes(table, board) else []) + links + [""]

    out += ["## Do auxiliary losses help?", ""]
    if board.aux_effects:
        out += [aux_intro(board.alpha), ""]
        out += _markdown_table(AUX_COLUMNS, [aux_cells(e, board.alpha) for e in board.aux_effects])
    else:
        out.append("No run with an auxiliary loss yet.")
    out.append("")

    if board.relation_comparisons:
        out += ["## Relation sets", "", "Models that ran on more than one relation set.", ""]
        out += [f"![{c.title}]({relation_figure_name(c)})" for c in board.relation_comparisons
                if relation_figure_name(c) in drawn] + [""]

    if not_counted:
        out += ["## Records not counted", ""] + [f"- {line}" for line in not_counted] + [""]
    return "\n".join(out)


CSV_HEADER = (
    "table", "dataset", "dataset_options", "task", "relations", "features", "synthetic",
    "source", "model", "name", "type", "aux_loss", "aux_weight", "config", "n_seeds",
    "below_min_seeds", *(f"{c}_{s}" for c in COLUMNS for s in ("mean", "std")),
    "is_best", "p_vs_best", "significant_vs_best", "train_time_s", "peak_memory_mb", "num_parameters",
)


def _num(value: float | None, spec: str = ".6f") -> str:
    return "" if value is None else format(value, spec)


def render_csv(board: Board) -> str:
    """leaderboard.csv: one line per table row, metrics as fractions with six decimals."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for table in board.tables:
        key = table.key
        for row in table.rows:
            stats = [_num(getattr(row.stats.get(c), field, None)) for c in COLUMNS for field in ("mean", "std")]
            test = row.vs_best
            writer.writerow([
                key.slug, key.dataset, key.dataset_options, key.task, "+".join(key.relations),
                key.features, int(key.synthetic), row.source, row.model, row.name, row.kind,
                row.aux_loss or "", _num(row.aux_weight, "g"), row.group_id, row.n_seeds,
                int(row.source == "run" and row.n_seeds < board.min_seeds), *stats,
                int(row.is_best), "" if test is None else _num(test.p_value, ".6g"),
                "" if test is None else int(test.significant(board.alpha)),
                _num(row.train_time_s), _num(row.peak_memory_mb), _num(row.num_parameters, "d"),
            ])
    return buffer.getvalue()
