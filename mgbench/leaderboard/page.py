"""index.html: the whole board in one self-contained file.

Inline CSS and JavaScript, figures as base64 PNG data URIs and a Content
Security Policy that forbids every network fetch, so the page can be mailed,
archived or opened from disk and shows the same thing. Tables sort by
clicking a header and filter by dataset, task, model type and loss.
"""

from __future__ import annotations

import base64
import html
from typing import Mapping, Sequence

from .aggregate import PUBLISHED, Board, Row, Table
from .tables import (
    AUX_COLUMNS, KIND_NAMES, PUBLISHED_INTRO, SYNTHETIC_WARNING, TUNING_COLUMNS, TWIN_COLUMNS, Cell, Column,
    aux_cells, aux_intro, board_columns, conventions, figure_names, relation_figure_name, row_cells, table_notes, tuning_cells,
    tuning_intro, twin_cells, twin_intro, twin_summary, twin_title,
)

CE_ONLY = "CE only"

_CSS = """
:root { --fg: #1a202c; --muted: #4a5568; --line: #e2e8f0; --accent: #2b6cb0; --warn: #c53030; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #f7fafc; }
header, main { max-width: 1360px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 20px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { font-size: 17px; margin: 0 0 8px; overflow-wrap: anywhere; }
h2 .settings { display: block; font-size: 13px; font-weight: 400; color: var(--muted); margin-top: 2px; }
.legend { color: var(--muted); margin: 0 0 12px; font-size: 13px; }
.legend b { color: var(--fg); }
.summary { color: var(--muted); margin: 0 0 12px; }
.banner { border: 2px solid var(--warn); background: #fff5f5; color: var(--warn); font-weight: 700; padding: 10px 14px; border-radius: 6px; margin: 0 0 12px; font-size: 15px; }
details.conventions { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin-bottom: 12px; }
details.conventions summary { cursor: pointer; font-weight: 600; }
nav.filters { position: sticky; top: 0; z-index: 2; background: #edf2f7; border-bottom: 1px solid var(--line); padding: 8px 20px; display: flex; flex-wrap: wrap; gap: 14px; align-items: center; justify-content: center; }
nav.filters label { font-weight: 600; color: var(--muted); }
nav.filters select { margin-left: 4px; font: inherit; padding: 2px 4px; }
section.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin: 16px 0; }
section.synthetic { border-left: 6px solid var(--warn); }
.badge { display: inline-block; font-size: 11px; font-weight: 700; padding: 1px 6px; border-radius: 4px; vertical-align: middle; margin-left: 6px; background: var(--warn); color: #fff; text-transform: uppercase; }
.warning { color: var(--warn); font-weight: 700; margin: 0 0 8px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 7px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { background: #f1f5f9; text-align: left; cursor: pointer; user-select: none; position: relative; padding-right: 18px; }
th.num, td.num { text-align: right; }
th { white-space: normal; }
td.wrap { white-space: normal; min-width: 18em; }
th:hover { background: #e2e8f0; }
th::after { content: "\\2195"; position: absolute; right: 4px; color: #a0aec0; font-size: 11px; }
th[aria-sort="ascending"]::after { content: "\\25B2"; color: var(--accent); }
th[aria-sort="descending"]::after { content: "\\25BC"; color: var(--accent); }
tr.paper td { font-style: italic; color: var(--muted); background: #fafaf5; }
tr.best td { font-weight: 700; background: #ebf8ff; }
tr.tuned td:first-child { border-left: 3px solid #38a169; }
tr.external td:first-child { border-left: 3px solid #6b46c1; }
tbody tr:hover td { background: #f0f4f8; }
ul.notes { color: var(--muted); font-size: 12px; margin: 8px 0 0; padding-left: 18px; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 12px; }
figure { margin: 0; flex: 1 1 520px; max-width: 760px; }
figure img { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { font-size: 12px; color: var(--muted); }
code { font-size: 12px; }
footer { max-width: 1360px; margin: 0 auto; padding: 12px 20px 30px; color: var(--muted); font-size: 12px; }
"""

_JS = """
(function () {
  var selects = Array.prototype.slice.call(document.querySelectorAll("select[data-filter]"));
  function applyFilters() {
    var want = {};
    selects.forEach(function (s) { if (s.value) { want[s.getAttribute("data-filter")] = s.value; } });
    var visible = 0;
    document.querySelectorAll("table.filterable").forEach(function (table) {
      var shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
        var ok = Object.keys(want).every(function (k) { return tr.getAttribute("data-" + k) === want[k]; });
        tr.hidden = !ok;
        if (ok) { shown += 1; }
      });
      var card = table.closest("section.board");
      if (card) { card.hidden = shown === 0; if (shown) { visible += 1; } }
    });
    document.getElementById("shown-count").textContent = visible + " table(s) shown";
  }
  selects.forEach(function (s) { s.addEventListener("change", applyFilters); });

  function sortBy(th) {
    var table = th.closest("table"), tbody = table.tBodies[0];
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.classList.contains("num");
    var current = th.getAttribute("aria-sort");
    var dir = current === "descending" ? "ascending" : current === "ascending" ? "descending"
      : (numeric ? "descending" : "ascending");
    table.querySelectorAll("th").forEach(function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", dir);
    var sign = dir === "ascending" ? 1 : -1;
    var rows = Array.prototype.map.call(tbody.rows, function (tr, i) {
      return { tr: tr, i: i, v: tr.cells[index].getAttribute("data-v") };
    });
    rows.sort(function (a, b) {
      var ea = a.v === null || a.v === "", eb = b.v === null || b.v === "";
      if (ea || eb) { return ea === eb ? a.i - b.i : (ea ? 1 : -1); }
      var c = numeric ? parseFloat(a.v) - parseFloat(b.v) : a.v.localeCompare(b.v);
      return c !== 0 ? sign * c : a.i - b.i;
    });
    rows.forEach(function (r) { tbody.appendChild(r.tr); });
  }
  document.querySelectorAll("table.sortable th").forEach(function (th) {
    th.tabIndex = 0;
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(th); }
    });
  });
  applyFilters();
})();
"""

_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _sort_value(value: float | str | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else format(float(value), ".10g")


def _attrs(attrs: Mapping[str, str]) -> str:
    return "".join(f' {name}="{_e(value)}"' for name, value in attrs.items())


def _table(columns: Sequence[Column], rows: Sequence[tuple[dict[str, Cell], dict[str, str]]],
           sorted_by: str | None) -> str:
    def align(column: Column) -> str:
        return ' class="num"' if column.numeric else ' class="wrap"' if column.wrap else ""

    head = "".join(
        f'<th{align(c)} aria-sort="{"descending" if c.key == sorted_by else "none"}" '
        f'title="{_e((c.help + ". " if c.help else "") + "Click to sort.")}">{_e(c.header)}</th>'
        for c in columns)
    body = []
    for cells, attrs in rows:
        tds = "".join(f'<td{align(c)} data-v="{_e(_sort_value(cells[c.key].sort))}">{_e(cells[c.key].text)}</td>'
                      for c in columns)
        body.append(f"<tr{_attrs(attrs)}>{tds}</tr>")
    return (f'<div class="scroll"><table class="sortable filterable"><thead><tr>{head}</tr></thead>'
            "<tbody>\n" + "\n".join(body) + "\n</tbody></table></div>")


def _row_attrs(row: Row, table: Table) -> dict[str, str]:
    classes = ([row.source] + (["best"] if row.is_best else []) + (["tuned"] if row.tuned else [])
               + (["external"] if row.kind == "E" else []))
    attrs = {"class": " ".join(classes), "data-dataset": table.key.dataset, "data-task": table.key.task,
             "data-type": row.kind, "data-loss": row.aux_loss or CE_ONLY}
    if row.group_id:
        attrs["title"] = f"config {row.group_id}: {row.definition_json}"
    return attrs


def _figure(path: str, caption: str, figures: Mapping[str, bytes]) -> str:
    data = base64.b64encode(figures[path]).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _table_section(table: Table, board: Board, figures: Mapping[str, bytes]) -> str:
    key = table.key
    classes = "card board" + (" synthetic" if key.synthetic else "") + (" published" if key.scope == PUBLISHED else "")
    parts = [f'<section class="{classes}" id="{_e(key.slug)}"'
             f' data-dataset="{_e(key.dataset)}" data-task="{_e(key.task)}">',
             f"<h2>{_e(key.title)}"
             + ('<span class="badge">synthetic</span>' if key.synthetic else "")
             + f'<span class="settings">{_e(key.settings_title)}</span></h2>']
    if key.synthetic:
        parts.append(f'<p class="warning">&#9888; Warning: {_e(SYNTHETIC_WARNING)}.</p>')
    cells = [row_cells(r, board) for r in table.rows]
    parts.append(_table(board_columns(cells), list(zip(cells, [_row_attrs(r, table) for r in table.rows])),
                        sorted_by="f1"))
    notes = table_notes(table, board)
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    bars, scatter = figure_names(key)
    drawn = [(bars, f"Macro F1 per model ({key.heading})"),
             (scatter, f"Macro F1 against train time per run ({key.heading}); the best rows, the "
                       "fastest and tuned or outside rows are named")]
    parts.append('<div class="figures">' + "".join(_figure(p, c, figures) for p, c in drawn if p in figures)
                 + "</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _select(name: str, label: str, values: Sequence[str]) -> str:
    options = '<option value="">all</option>' + "".join(
        f'<option value="{_e(v)}">{_e(v)}</option>' for v in values)
    return f'<label>{_e(label)}<select id="filter-{name}" data-filter="{name}">{options}</select></label>'


def render_page(board: Board, figures: Mapping[str, bytes], not_counted: Sequence[str],
                records: int) -> str:
    """The complete ``index.html`` text."""
    everything = (*board.tables, *board.published)
    rows = [r for t in everything for r in t.rows]
    filters = "".join([
        _select("dataset", "Dataset", sorted({t.key.dataset for t in everything})),
        _select("task", "Task", sorted({t.key.task for t in everything})),
        _select("type", "Type", sorted({r.kind for r in rows})),
        _select("loss", "Loss", sorted({r.aux_loss or CE_ONLY for r in rows})),
    ])
    synthetic = [t for t in board.tables if t.key.synthetic]
    banner = ""
    if synthetic:
        scope = "All tables on this page" if len(synthetic) == len(board.tables) else \
            f"{len(synthetic)} of {len(board.tables)} tables (marked SYNTHETIC)"
        banner = (f'<div class="banner" role="alert">&#9888; {_e(scope)}: {_e(SYNTHETIC_WARNING)}, '
                  "from the generated mgtab-synthetic twin, not from MGTAB.</div>")

    sections = [_table_section(t, board, figures) for t in board.tables]
    if not board.tables:
        sections.append('<section class="card"><p>No result records yet.</p></section>')
    if board.published:
        sections.append(f'<section class="card" id="published"><h2>Published numbers</h2>'
                        f"<p>{_e(PUBLISHED_INTRO)}</p></section>")
        sections += [_table_section(t, board, figures) for t in board.published]

    aux = ['<section class="card" id="aux-losses"><h2>Do auxiliary losses help?</h2>']
    if board.aux_effects:
        aux.append(f"<p>{_e(aux_intro(board.alpha))}</p>")
        aux.append(_table(AUX_COLUMNS, [
            (aux_cells(e, board.alpha), {"data-dataset": e.key.dataset, "data-task": e.key.task,
                                         "data-type": e.kind, "data-loss": e.aux_loss})
            for e in board.aux_effects], sorted_by=None))
    else:
        aux.append("<p>No run with an auxiliary loss yet.</p>")
    aux.append("</section>")

    tuning = []
    if board.tuning_effects:
        tuning = ['<section class="card" id="tuning"><h2>Does tuning help?</h2>',
                  f"<p>{_e(tuning_intro(board.alpha))}</p>",
                  _table(TUNING_COLUMNS, [
                      (tuning_cells(e, board.alpha), {"data-dataset": e.key.dataset, "data-task": e.key.task,
                                                      "data-type": e.kind, "data-loss": ""})
                      for e in board.tuning_effects], sorted_by=None),
                  "</section>"]

    twins = []
    if board.twin_comparisons:
        twins = ['<section class="card" id="twin"><h2>Does the twin rank models as the paper does?</h2>']
        for comparison in board.twin_comparisons:
            twins += [f"<h3>{_e(twin_title(comparison))}</h3>", f"<p>{_e(twin_intro(comparison))}</p>",
                      _table(TWIN_COLUMNS, [(twin_cells(e), {"data-dataset": comparison.key.dataset,
                                                             "data-task": comparison.key.task,
                                                             "data-type": "", "data-loss": ""})
                                            for e in comparison.entries], sorted_by=None),
                      f"<p>{_e(twin_summary(comparison))}</p>"]
        twins.append("</section>")

    relations = []
    if board.relation_comparisons:
        relations = ['<section class="card" id="relation-sets"><h2>Relation sets</h2>'
                     "<p>Models that ran on more than one relation set.</p><div class=\"figures\">"]
        relations += [_figure(relation_figure_name(c), c.title, figures) for c in board.relation_comparisons
                      if relation_figure_name(c) in figures]
        relations.append("</div></section>")

    skipped = []
    if not_counted:
        skipped = ['<section class="card" id="not-counted"><h2>Records not counted</h2><ul>']
        skipped += [f"<li><code>{_e(line)}</code></li>" for line in not_counted]
        skipped.append("</ul></section>")

    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>mgbench leaderboard</title>",
        f"<style>{_CSS}</style></head><body>",
        "<header><h1>mgbench leaderboard</h1>",
        f'<p class="summary">Built from {records} result records in {len(board.tables)} tables. '
        "Click a column header to sort; use the selectors to filter.</p>",
        banner,
        '<p class="legend">Type: ' + " · ".join(f"<b>{k}</b> {_e(v)}" for k, v in KIND_NAMES.items())
        + (". Rows named (tuned) were tuned: the table notes and “Does tuning help?” give the search "
           "and its budget" if board.tuning_effects else "") + ".</p>",
        '<details class="conventions"><summary>How to read the tables</summary><ul>'
        + "".join(f"<li>{_e(line)}</li>" for line in conventions(board)) + "</ul></details>",
        "</header>",
        f'<nav class="filters">{filters}<span id="shown-count"></span></nav>',
        "<main>", *sections, *aux, *tuning, *twins, *relations, *skipped, "</main>",
        "<footer>Generated by mgbench from the result records alone; the same records give the same page."
        "</footer>",
        f"<script>{_JS}</script>",
        "</body></html>",
        "",
    ])
