"""Table cells and the Markdown and CSV renderings of the board.

Every number is formatted here, with fixed precision, so the Markdown, the
CSV and the HTML page agree to the digit and rebuild to the same bytes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from mgbench.schema import METRICS

from . import escape, reference
from .aggregate import (
    COLUMNS, AuxEffect, Board, RelationComparison, Row, Stat, Table, TableKey, TuningEffect, TwinComparison,
    TwinEntry,
)

DASH = "—"
DAGGER = "†"
SYNTHETIC_WARNING = "these are synthetic-data numbers"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    numeric: bool
    wrap: bool = False            # long text the page may break over lines
    help: str = ""                # what the column means: the page's header tooltip
    optional: bool = False        # left out of a table where every row shows a dash


@dataclass(frozen=True)
class Cell:
    text: str
    sort: float | str | None      # what the page sorts by; ``None`` sorts last


#: What the letters of the Type column mean.
KIND_NAMES = {
    "G": "graph model (a GNN trained by the runner)",
    "F": "feature model (a scikit-learn estimator on the node features, no graph)",
    "E": "trained outside the runner, scored from its prediction file by mgbench evaluate",
}
TYPE_LEGEND = "Type: " + "; ".join(f"{k} = {v}" for k, v in KIND_NAMES.items()) + "."

BOARD_COLUMNS = (
    Column("model", "Model", False),
    Column("type", "Type", False, help=TYPE_LEGEND),
    Column("aux", "Aux loss", False, help="auxiliary loss and its weight λ", optional=True),
    *(Column(m.column, m.header, True, help=m.help, optional=m.optional) for m in METRICS),
    Column("seeds", "Seeds", True),
    Column("p", "p vs best", True),
    Column("time", "Time/run (s)", True, help="training time per run, mean over seeds"),
    Column("memory", "Model mem (MB)", True,
           help="memory the run added above the process when it began (model_memory_mb: model, optimiser, "
                "activations; not the interpreter, libraries or loaded dataset), the largest over seeds"),
    Column("params", "Params", True),
)


def board_columns(rows: Sequence[dict[str, Cell]]) -> tuple[Column, ...]:
    """The columns of one table (given its rows' cells): an optional one only where some row has a value."""
    return tuple(c for c in BOARD_COLUMNS
                 if not c.optional or any(cells[c.key].text != DASH for cells in rows))


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


TUNING_COLUMNS = (
    Column("table", "Table", False, wrap=True),
    Column("model", "Tuned row", False),
    Column("default", "Default row", False),
    Column("budget", "Search", False, wrap=True),
    Column("seeds", "Paired seeds", True),
    Column("f1_default", "F1 default", True),
    Column("f1_tuned", "F1 tuned", True),
    Column("delta", "ΔF1 (points)", True),
    Column("p", "p", True),
    Column("p_holm", "p (Holm)", True),
    Column("verdict", "Verdict", False),
)


TWIN_COLUMNS = (
    Column("model", "Model", False),
    Column("paper", "In the paper", False),
    Column("f1_paper", "F1 paper", True),
    Column("f1_twin", "F1 twin", True),
    Column("gap", "Δ (points)", True, help="twin minus paper"),
)


def twin_intro(comparison: TwinComparison) -> str:
    """The sentence above a twin comparison (Markdown and page alike)."""
    return (f"{comparison.key.dataset} stands in for {comparison.twin_of}: at its default options its runs "
            f"should rank the baselines as the {comparison.twin_of} paper's published table does. Macro F1 "
            f"in percent (twin: mean ± std over seeds; paper: as published), best paper F1 first.")


def twin_summary(comparison: TwinComparison) -> str:
    """Kendall's tau and the largest gap, the two numbers the twin is built to keep."""
    tau = DASH if comparison.tau is None else f"{comparison.tau:.2f}"
    worst = comparison.largest_gap
    return (f"Kendall's τ between paper and twin F1: {tau} over {len(comparison.entries)} models; "
            f"largest gap {worst.gap:+.1f} points ({worst.model}). Regenerate: `python "
            f"benchmarks/twin_vs_paper.py --results leaderboard/results` (checks τ ≥ 0.6 and gaps ≤ 8 points).")


def twin_cells(entry: TwinEntry) -> dict[str, Cell]:
    return {
        "model": Cell(entry.model, entry.model),
        "paper": Cell(entry.paper_name, entry.paper_name),
        "f1_paper": Cell(percent(entry.paper_f1), entry.paper_f1),
        "f1_twin": Cell(mean_std(entry.twin_f1), entry.twin_f1.mean),
        "gap": Cell(f"{entry.gap:+.2f}", entry.gap),
    }


def twin_title(comparison: TwinComparison) -> str:
    return f"{comparison.key.heading}: against the {comparison.twin_of} paper"


def tuning_intro(alpha: float) -> str:
    """The sentence above the tuning table (Markdown and page alike)."""
    return (f"Change in macro F1 of each tuned row against the default row of the same model and "
            f"loss in its table (same data and training budget; the search chose the "
            f"hyperparameters, learning rate and weight decay on validation only), on the seeds "
            f"both ran; two-sided paired t-test over seeds, Holm-adjusted over the tuned rows of a "
            f"table; * and the verdict mean adjusted p < {alpha:g}.")


def describe_tuning(tuning: Mapping[str, Any]) -> str:
    """The search behind a tuned row: study, sampler, pruner, budget, trials, selection."""
    budget = tuning.get("budget") or {}
    limits = []
    if budget.get("trials") is not None:
        limits.append(f"{budget['trials']} trials")
    if budget.get("timeout_s") is not None:
        limits.append(f"{budget['timeout_s']:g} s")
    parts = ["budget " + (" or ".join(limits) if limits else "unlimited")]
    if "trials" in tuning:
        parts.append(f"{tuning['trials']} trials run")
    if "sampler" in tuning:
        parts.append(f"{tuning['sampler']} sampler")
    if tuning.get("pruner"):
        parts.append(f"{tuning['pruner']} pruner")
    if "selected_on" in tuning:
        seeds = tuning.get("search_seeds")
        on = f"selected on {tuning['selected_on']}"
        if seeds:
            on += " of seed" + ("s " if len(seeds) > 1 else " ") + ", ".join(map(str, seeds))
        parts.append(on)
    if "study" in tuning:
        parts.append(f"study {tuning['study']}")
    return ", ".join(parts)


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
    seeds = DASH if row.n_seeds is None else \
        str(row.n_seeds) + (DAGGER if row.source == "run" and row.n_seeds < board.min_seeds else "")
    cells["seeds"] = Cell(seeds, row.n_seeds)
    if row.is_best:
        cells["p"] = Cell("best", -1.0)
    elif row.vs_best is None:
        cells["p"] = Cell(DASH, None)
    else:
        cells["p"] = p_value(row.vs_best.p_value, board.alpha)
    cells["time"] = Cell(DASH if row.train_time_s is None else f"{row.train_time_s:.2f}", row.train_time_s)
    cells["memory"] = Cell(DASH if row.model_memory_mb is None else f"{row.model_memory_mb:.0f}",
                           row.model_memory_mb)
    cells["params"] = Cell(DASH if row.num_parameters is None else f"{row.num_parameters:,}",
                           row.num_parameters)
    return cells


def verdict(effect: AuxEffect | TuningEffect, alpha: float) -> str:
    if isinstance(effect, AuxEffect) and effect.baseline_group_id is None:
        return "no CE-only run to compare with"
    if isinstance(effect, TuningEffect) and effect.default_group_id is None:
        return effect.unpaired_reason or "no default row"
    if effect.test.p_value is None:
        return "n/a (fewer than 2 paired seeds)"
    if not effect.significant(alpha):
        return "no significant change"
    return "helps" if effect.test.mean_diff > 0 else "hurts"


def _table_cell(key: TableKey) -> Cell:
    text = key.heading + (" (synthetic data)" if key.synthetic else "")
    return Cell(text, key.heading)


def tuning_cells(effect: TuningEffect, alpha: float) -> dict[str, Cell]:
    delta = effect.test.mean_diff
    paired = effect.default_group_id is not None
    budget = describe_tuning(effect.tuning)
    return {
        "table": _table_cell(effect.key),
        "model": Cell(effect.name, effect.name),
        "default": Cell(effect.default_name or DASH, effect.default_name or ""),
        "budget": Cell(budget, budget),
        "seeds": Cell(str(effect.test.n), effect.test.n),
        "f1_default": Cell(percent(effect.f1_default), effect.f1_default),
        "f1_tuned": Cell(percent(effect.f1_tuned), effect.f1_tuned),
        "delta": Cell(DASH if delta is None else f"{100 * delta:+.2f}", delta),
        "p": p_value(effect.test.p_value, alpha, star=False) if paired else Cell(DASH, None),
        "p_holm": p_value(effect.p_holm, alpha) if paired else Cell(DASH, None),
        "verdict": Cell(verdict(effect, alpha), verdict(effect, alpha)),
    }


def aux_cells(effect: AuxEffect, alpha: float) -> dict[str, Cell]:
    delta = effect.test.mean_diff
    paired = effect.baseline_group_id is not None
    p = p_value(effect.test.p_value, alpha, star=False) if paired else Cell(DASH, None)
    p_holm = p_value(effect.p_holm, alpha) if paired else Cell(DASH, None)
    return {
        "table": _table_cell(effect.key),
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
    for frontier in reference.frontier_sources():
        if any(r.source == "paper" and r.name.endswith(f"({frontier.label})") for r in table.rows):
            notes.append(f"Rows marked ({frontier.label}) were published under their own protocol, "
                         f"not this table's: {frontier.source}: {frontier.protocol}")
    if any(r.source == "paper" and r.name.endswith("(paper)") for r in table.rows):
        notes.append(
            f"Rows marked (paper) are the MGTAB authors' published numbers ({reference.source()}); "
            "their std is numpy's population std (ddof=0) over seeds 0-4. "
            f"The precision and recall of {', '.join(reference.swapped_models())} are exchanged from the "
            "published table, because the scripts behind those rows pass predictions as the ground truth, "
            "which swaps the two; the other rows are as published."
        )
    for row in table.rows:
        if row.tuned:
            gain = next((e for e in board.tuning_effects
                         if e.key == table.key and e.group_id == row.group_id), None)
            text = f"{row.name}: tuned ({describe_tuning(row.tuning)})"
            if gain is not None and gain.default_group_id is not None and gain.test.mean_diff is not None:
                p = p_value(gain.test.p_value, board.alpha, star=False).text
                text += (f"; {100 * gain.test.mean_diff:+.2f} F1 points against {gain.default_name} "
                         f"on {gain.test.n} paired seeds (p {p})")
            elif gain is not None:
                text += f"; {verdict(gain, board.alpha)}"
            notes.append(text + ".")
    if any(r.kind == "E" for r in table.rows):
        names = ", ".join(r.name for r in table.rows if r.kind == "E")
        notes.append(f"Type E ({names}): trained outside the runner and scored from a prediction file "
                     "with the runner's evaluator; it has no training settings, so the settings in "
                     "this table's heading do not apply to it.")
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
        "One table per dataset x task x relation set x features recipe and training settings "
        "(protocol, epochs, patience, min_epochs, learning rate, weight decay, sampling: the "
        "table's heading names them); runs under other settings are in another table. One row per "
        "run definition without its seed (its config id is the hash of that definition).",
        "Feature models (F) and runs trained outside the runner (E) have no epoch training "
        "settings: they appear in every table of their data and protocol. A tuned row, "
        "\"(tuned)\", appears beside the default row of its model; its search chose the "
        "learning rate, weight decay and hyperparameters on validation.",
        TYPE_LEGEND,
        "Accuracy, precision, recall and F1 are test-set macro averages in percent, "
        "mean ± sample standard deviation (ddof=1) over seeds; a single seed shows no std. "
        "F1 (bot class) is the bot class's F1 (bot tasks); ROC-AUC is the macro ROC-AUC.",
        "Rows are sorted by mean macro F1. \"p vs best\" is a two-sided paired t-test of macro F1 "
        "against the best row (most F1 among rows with enough seeds), paired by seed (same seed = "
        f"same split) on the seeds both ran; * marks p < {board.alpha:g}; n/a means fewer than "
        "2 common seeds. If every paired difference is equal, p = 0 (non-zero difference) or 1.",
        "Time/run is the mean training time per run; model mem the largest over seeds of the memory "
        "each run added above its process at the start (model, optimiser, activations; not the "
        "interpreter, libraries or loaded dataset); records made before it was measured show a dash.",
    ]


def _markdown_table(columns: Sequence[Column], rows: Sequence[dict[str, Cell]]) -> list[str]:
    lines = ["| " + " | ".join(escape.markdown(c.header) for c in columns) + " |",
             "|" + "|".join("---:" if c.numeric else "---" for c in columns) + "|"]
    lines += ["| " + " | ".join(escape.markdown(cells[c.key].text) for c in columns) + " |"
              for cells in rows]
    return lines


def figure_names(key: TableKey) -> tuple[str, str]:
    """Relative paths of a table's two figures: F1 bars, F1 against train time."""
    return f"figures/{key.slug}-f1.png", f"figures/{key.slug}-time.png"


def relation_figure_name(comparison: RelationComparison) -> str:
    return f"figures/relations-{comparison.key.slug}.png"


#: What the board's "Published numbers" part is.
PUBLISHED_INTRO = ("Numbers published on the real datasets that no table of runs above shows: the MGTAB "
                   "authors' and the later detectors' own, each under the protocol its note names. They "
                   "place a model; they are not ranked against our runs.")


def _markdown_section(table: Table, board: Board, drawn: set[str]) -> list[str]:
    """One table's body: the synthetic warning, the rows, the notes and the figures drawn of it."""
    md = escape.markdown
    out = [f"> **Warning: {SYNTHETIC_WARNING}.**", ""] if table.key.synthetic else []
    cells = [row_cells(r, board) for r in table.rows]
    out += _markdown_table(board_columns(cells), cells) + [""]
    notes = table_notes(table, board)
    out += [md(note) + "  " for note in notes]
    links = [f"![{md(table.key.heading)}]({path})" for path in figure_names(table.key) if path in drawn]
    return out + ([""] if notes else []) + links + [""]


def render_markdown(board: Board, figures: Sequence[str], not_counted: Sequence[str],
                    records: int) -> str:
    """LEADERBOARD.md: conventions, one section per table, aux losses, tuning, relation sets, skipped files.

    ``figures`` are the relative paths of the PNGs that exist, so the text links
    only what was drawn. Every text from a record goes through :func:`escape.markdown`.
    """
    md = escape.markdown
    drawn = set(figures)
    out = ["# mgbench leaderboard", "",
           f"Built from {records} result records in {len(board.tables)} tables."]
    if any(t.key.synthetic for t in board.tables):
        out.append(f"**Tables marked synthetic: {SYNTHETIC_WARNING}, not MGTAB results.**")
    out += [""] + [f"- {line}" for line in conventions(board)] + [""]
    for table in board.tables:
        out += [f"## {md(table.key.heading)}", ""] + _markdown_section(table, board, drawn)
    if board.published:
        out += ["## Published numbers", "", PUBLISHED_INTRO, ""]
        for table in board.published:
            out += [f"### {md(table.key.title)}", ""] + _markdown_section(table, board, drawn)

    out += ["## Do auxiliary losses help?", ""]
    if board.aux_effects:
        out += [aux_intro(board.alpha), ""]
        out += _markdown_table(AUX_COLUMNS, [aux_cells(e, board.alpha) for e in board.aux_effects])
    else:
        out.append("No run with an auxiliary loss yet.")
    out.append("")

    if board.tuning_effects:
        out += ["## Does tuning help?", "", tuning_intro(board.alpha), ""]
        out += _markdown_table(TUNING_COLUMNS, [tuning_cells(e, board.alpha) for e in board.tuning_effects])
        out.append("")

    if board.twin_comparisons:
        out += ["## Does the twin rank models as the paper does?", ""]
        for comparison in board.twin_comparisons:
            out += [f"### {md(twin_title(comparison))}", "", md(twin_intro(comparison)), ""]
            out += _markdown_table(TWIN_COLUMNS, [twin_cells(e) for e in comparison.entries])
            out += ["", twin_summary(comparison), ""]

    if board.relation_comparisons:
        out += ["## Relation sets", "", "Models that ran on more than one relation set.", ""]
        out += [f"![{md(c.title)}]({relation_figure_name(c)})" for c in board.relation_comparisons
                if relation_figure_name(c) in drawn] + [""]

    if not_counted:
        out += ["## Records not counted", ""] + [f"- {md(line)}" for line in not_counted] + [""]
    return "\n".join(out)


CSV_HEADER = (
    "table", "dataset", "dataset_options", "task", "relations", "features", "settings", "synthetic",
    "source", "model", "name", "type", "tuned", "aux_loss", "aux_weight", "config", "n_seeds",
    "below_min_seeds", *(f"{c}_{s}" for c in COLUMNS for s in ("mean", "std")),
    "is_best", "p_vs_best", "significant_vs_best", "train_time_s", "model_memory_mb", "num_parameters",
)


def _num(value: float | None, spec: str = ".6f") -> str:
    return "" if value is None else format(value, spec)


def render_csv(board: Board) -> str:
    """leaderboard.csv: one line per table row, metrics as fractions with six decimals.

    Text cells go through :func:`escape.csv_cell`, so no cell starts a spreadsheet formula.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    text = escape.csv_cell
    for table in (*board.tables, *board.published):
        key = table.key
        for row in table.rows:
            stats = [_num(getattr(row.stats.get(c), field, None)) for c in COLUMNS for field in ("mean", "std")]
            test = row.vs_best
            writer.writerow([
                text(key.slug), text(key.dataset), text(key.dataset_options), text(key.task),
                text("+".join(key.relations)), text(key.features), text(key.settings_title),
                int(key.synthetic), row.source, text(row.model), text(row.name), row.kind, int(row.tuned),
                text(row.aux_loss or ""), _num(row.aux_weight, "g"), row.group_id, row.n_seeds,
                int(row.source == "run" and row.n_seeds < board.min_seeds), *stats,
                int(row.is_best), "" if test is None else _num(test.p_value, ".6g"),
                "" if test is None else int(test.significant(board.alpha)),
                _num(row.train_time_s), _num(row.model_memory_mb), _num(row.num_parameters, "d"),
            ])
    return buffer.getvalue()
