"""Comparable tables (one set of training settings each), tuned and outside rows, new columns, figures."""

from __future__ import annotations

import csv
import json
import io
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from scipy import stats

from mgbench.leaderboard.escape import csv_cell, markdown, plain
from mgbench.leaderboard.figures import f1_bars, f1_vs_time, figure_style
from mgbench.leaderboard.page import render_page
from mgbench.leaderboard.tables import render_csv, render_markdown

from test_leaderboard import _build_without_figures, board_of, only_table, row, write_record

DEFAULT = {"epochs": 10, "patience": 5, "lr": 0.01, "weight_decay": 0.0005}
TUNING = {"study": "gcn-mgtab-synthetic-bot", "sampler": "tpe", "pruner": "median",
          "budget": {"trials": 20, "timeout_s": None}, "trials": 20, "search_seeds": [0],
          "selected_on": "val"}
EXTERNAL = {"predictions": "ab" * 32, "kind": "scores"}


def _headings(board) -> list[str]:
    return [t.key.heading for t in board.tables]


def test_runs_under_other_training_settings_go_to_their_own_table(tmp_path: Path) -> None:
    for seed in range(3):
        write_record(tmp_path, model="gcn", seed=seed, f1=0.80, training=DEFAULT)
        write_record(tmp_path, model="gat", seed=seed, f1=0.78, training=DEFAULT)
        write_record(tmp_path, model="my_gnn.py:MyGNN", seed=seed, f1=0.90,
                     training={**DEFAULT, "epochs": 200, "min_epochs": 100})
        write_record(tmp_path, model="gcn", seed=seed, f1=0.70, training=DEFAULT, protocol="reference")
        write_record(tmp_path, model="gcn", seed=seed, f1=0.75, training=DEFAULT,
                     extra={"sampling": {"fanout": [10, 10], "batch_size": 512}})
        write_record(tmp_path, model="svm", model_kind="features", training={}, seed=seed, f1=0.60)

    board = board_of(tmp_path)

    assert len(board.tables) == 4
    by_models = {tuple(sorted(r.name for r in t.rows)): t.key for t in board.tables}
    assert set(by_models) == {("gat", "gcn", "svm"), ("my_gnn.py:MyGNN", "svm"),
                              ("gcn (reference protocol)",), ("gcn", "svm")}
    plain_table = by_models[("gat", "gcn", "svm")]
    assert plain_table.heading.endswith(
        "default features · standard protocol, epochs=10, patience=5, lr=0.01, weight_decay=0.0005")
    assert "epochs=200, patience=5, min_epochs=100" in by_models[("my_gnn.py:MyGNN", "svm")].heading
    assert "reference protocol" in by_models[("gcn (reference protocol)",)].heading
    sampled = [k for models, k in by_models.items() if "sampled (" in k.heading]
    assert len(sampled) == 1 and "fanout=[10,10]" in sampled[0].heading
    # every GNN row of a table ran under the settings its heading names
    for table in board.tables:
        assert len({r.definition_json.split('"training":')[1].split("}")[0]
                    for r in table.rows if r.kind == "G"}) <= 1
    assert len({t.key.slug for t in board.tables}) == 4          # one figure name each
    text = render_markdown(board, [], [], 18)
    for heading in _headings(board):
        assert f"## {markdown(heading)}" in text


def test_a_feature_only_table_says_it_has_no_training_settings(tmp_path: Path) -> None:
    write_record(tmp_path, model="svm", model_kind="features", training={})
    key = only_table(board_of(tmp_path)).key
    assert key.settings_title == "standard protocol, no training settings (feature models and outside runs)"


def _tuned_and_default(results: Path, default_f1: list[float], tuned_f1: list[float], **tuned) -> None:
    for seed, (d, t) in enumerate(zip(default_f1, tuned_f1)):
        write_record(results, model="gcn", seed=seed, f1=d, training=DEFAULT)
        write_record(results, model="gcn", seed=seed, f1=t, extra={"tuning": TUNING},
                     hyperparameters={"hidden_channels": 128, "dropout": 0.4},
                     training={**DEFAULT, "lr": 0.003, "weight_decay": 0.0001}, **tuned)


def test_a_tuned_row_sits_beside_its_default_with_its_budget_and_paired_gain(tmp_path: Path) -> None:
    default = [0.70, 0.72, 0.71, 0.69, 0.73]
    tuned = [0.74, 0.75, 0.76, 0.72, 0.78]
    _tuned_and_default(tmp_path, default, tuned)
    write_record(tmp_path, model="gat", seed=0, f1=0.5, training={**DEFAULT, "epochs": 99},
                 extra={"tuning": TUNING})                     # another training budget: not beside gcn

    board = board_of(tmp_path)

    main = next(t for t in board.tables if len(t.rows) == 2)
    assert {r.name for r in main.rows} == {"gcn", "gcn (tuned)"}
    assert "lr and weight_decay tuned per row" not in main.key.heading      # the default's table
    lone = next(t for t in board.tables if t is not main)
    assert [r.name for r in lone.rows] == ["gat (tuned)"]
    assert "epochs=99" in lone.key.heading and "lr and weight_decay tuned per row" in lone.key.heading

    effect = next(e for e in board.tuning_effects if e.key == main.key)
    assert effect.default_name == "gcn" and effect.test.n == 5
    assert effect.test.mean_diff == pytest.approx(np.mean(tuned) - np.mean(default))
    assert effect.test.p_value == pytest.approx(stats.ttest_rel(tuned, default).pvalue)
    orphan = next(e for e in board.tuning_effects if e.key == lone.key)
    assert orphan.default_group_id is None and "no default run" in orphan.unpaired_reason

    text = render_markdown(board, [], [], 11)
    section = text.split("## Does tuning help?")[1]
    assert "budget 20 trials, 20 trials run, tpe sampler, median pruner, selected on val of seed 0" in section
    assert "+4.00" in section and "helps" in section
    table_text = text.split("## Does tuning help?")[0]
    assert "gcn (tuned): tuned (budget 20 trials" in table_text and "+4.00 F1 points against gcn" in table_text
    page = render_page(board, {}, [], 11)
    assert page.count(" tuned\"") == 2 and "Does tuning help?" in page
    lines = list(csv.DictReader(io.StringIO(render_csv(board))))
    runs = sorted((r["name"], r["tuned"]) for r in lines if r["source"] == "run")
    assert runs == [("gat (tuned)", "1"), ("gcn", "0"), ("gcn (tuned)", "1")]


def test_outside_runs_join_the_table_of_their_data_marked_E(tmp_path: Path) -> None:
    for seed in range(3):
        write_record(tmp_path, model="gcn", seed=seed, f1=0.80, training=DEFAULT)
        write_record(tmp_path, model="gcn", seed=seed, f1=0.70, training={**DEFAULT, "epochs": 50})
        write_record(tmp_path, model="my-llm-pipeline", model_kind="external", training={},
                     hyperparameters={}, seed=seed, f1=0.85, train_time_s=None,
                     extra={"external": EXTERNAL})

    board = board_of(tmp_path)

    assert len(board.tables) == 2
    for table in board.tables:
        outside = row(table, "my-llm-pipeline")
        assert outside.kind == "E" and outside.n_seeds == 3
    text = render_markdown(board, [], [], 9)
    assert "| my-llm-pipeline | E |" in text
    assert "Type E (my-llm-pipeline): trained outside the runner" in text
    assert "E = trained outside the runner" in text                       # the Type legend
    page = render_page(board, {}, [], 9)
    assert 'class="run best external"' in page and "<b>E</b> trained outside the runner" in page


@pytest.mark.parametrize("change, fault", [
    ({"extra": {"external": EXTERNAL}}, "definition.external (given for a run the runner trained)"),
    ({"model_kind": "external", "extra": {"external": "sha"}}, "definition.external (not an object"),
    ({"model_kind": "external"}, "definition.external (not an object: None)"),
    ({"extra": {"tuning": {**TUNING, "budget": {"trials": -1}}}}, "definition.tuning.budget.trials (-1 outside"),
    ({"extra": {"tuning": {**TUNING, "budget": None}}}, "definition.tuning.budget (not an object"),
    ({"extra": {"tuning": {**TUNING, "search_seeds": [0, "x"]}}}, "definition.tuning.search_seeds[1]"),
    ({"model_kind": "transformer"}, "definition.model_kind ('transformer', not one of gnn, features, external)"),
])
def test_tuning_and_outside_fields_are_validated(change: dict, fault: str, tmp_path: Path) -> None:
    write_record(tmp_path, seed=0)
    write_record(tmp_path, seed=1, file_name="bad.json", **change)
    report = _build_without_figures(tmp_path, tmp_path / "board")
    assert report.records == 1 and report.skipped[0].path == "bad.json"
    assert fault in report.skipped[0].reason


def test_roc_auc_and_bot_class_f1_are_columns(tmp_path: Path) -> None:
    for seed in range(2):
        write_record(tmp_path, task="bot", seed=seed, metrics={"f1_bot": 0.61 + 0.02 * seed,
                                                             "roc_auc_macro": 0.93})
        write_record(tmp_path, task="stance+bot", seed=seed, metrics={"bot/f1_bot": 0.55})
        write_record(tmp_path, task="stance", seed=seed)
    board = board_of(tmp_path)
    sections = {s.split(" · ")[1]: s for s in render_markdown(board, [], [], 6).split("\n## ")[1:4]}
    assert "| F1 (bot class) | ROC-AUC |" in sections["bot"]
    assert "| 62.00 ± 1.41 | 93.00 ± 0.00 |" in sections["bot"]
    assert "| 55.00 ± 0.00 | 90.00 ± 0.00 |" in sections["stance+bot"]
    assert "F1 (bot class)" not in sections["stance"] and "| ROC-AUC |" in sections["stance"]
    header = render_csv(board).splitlines()[0]
    assert "f1_bot_mean,f1_bot_std,roc_auc_mean,roc_auc_std" in header


def test_the_report_reads_as_a_summary(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_record(results, seed=0)
    (results / "broken.json").write_text("{")
    report = _build_without_figures(results, tmp_path / "board")
    text = str(report)
    assert not text.startswith("BuildReport(")
    assert text.splitlines()[0] == (f"leaderboard: 1 record(s) in 1 table(s) -> {tmp_path / 'board' / 'LEADERBOARD.md'}"
                                    ", index.html, leaderboard.csv and 0 figure(s)")
    assert "1 file(s) not counted" in text and "broken.json: malformed record, skipped: invalid JSON" in text


# --- figures ------------------------------------------------------------------------------

def _table_of_many(results: Path, n: int = 22):
    for i in range(n):
        write_record(results, model=f"model-{i:02d}", seed=0, f1=0.5 + 0.02 * i, train_time_s=1.0 + i)
    write_record(results, model="model-00", seed=0, f1=0.45, train_time_s=3.0, extra={"tuning": TUNING})
    return only_table(board_of(results))


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_the_scatter_names_only_the_best_the_fastest_and_tuned_rows(tmp_path: Path) -> None:
    table = _table_of_many(tmp_path)
    with figure_style():
        fig = f1_vs_time(table)
        named = _texts(fig)
        assert sorted(named) == ["model-00", "model-00 (tuned)", "model-19", "model-20", "model-21"]
        FigureCanvasAgg(fig).draw()
        boxes = [t.get_window_extent() for t in fig.axes[0].texts]
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
        assert "18 more points unnamed" in fig._suptitle.get_text()


def test_bars_start_at_zero_and_titles_fit_the_figure(tmp_path: Path) -> None:
    table = _table_of_many(tmp_path)
    with figure_style():
        fig = f1_bars(table, min_seeds=5)
        assert fig.axes[0].get_xlim()[0] == 0
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        title = fig._suptitle.get_window_extent(renderer)
        assert title.x0 >= 0 and title.x1 <= fig.bbox.width and title.y1 <= fig.bbox.height
        assert fig._suptitle.get_text().replace("\n", " ").startswith(table.key.heading)


def test_escapes() -> None:
    assert plain("$\\foo{$") == "\\$\\foo{\\$"                 # matplotlib draws \$ as a dollar
    assert plain("a\nb" + "x" * 60, limit=10) == "a bxxxxxx…"
    assert markdown("<b>|[x](y)`\n&") == "&lt;b&gt;\\|\\[x\\](y)\\` &amp;"
    assert [csv_cell(t) for t in ("=1", "+1", "-1", "@1", "\t1", "ok", "")] == \
        ["'=1", "'+1", "'-1", "'@1", "'\t1", "ok", ""]


def test_an_outside_models_seeds_are_one_row_though_each_file_differs(tmp_path: Path) -> None:
    for seed in range(3):
        write_record(tmp_path, model="my-llm", model_kind="external", training={}, hyperparameters={}, seed=seed,
                     f1=0.8 + 0.01 * seed, extra={"external": {"predictions": f"{seed:02d}" * 32, "kind": "scores"}})
    assert row(only_table(board_of(tmp_path)), "my-llm").n_seeds == 3


def test_an_undefined_roc_auc_is_accepted_and_left_out_of_the_mean(tmp_path: Path) -> None:
    write_record(tmp_path, seed=0, metrics={"roc_auc_macro": None})
    write_record(tmp_path, seed=1, metrics={"roc_auc_macro": 0.8})
    report = _build_without_figures(tmp_path, tmp_path / "board")
    assert report.records == 2 and not report.skipped


def test_memory_is_what_the_run_added(tmp_path: Path) -> None:
    for model, added in (("gcn", 12.0), ("gat", None)):       # gat: made before model_memory_mb existed
        path = write_record(tmp_path, seed=0, model=model)
        record = json.loads(path.read_text())
        record["model_memory_mb"] = added
        if added is None:
            del record["model_memory_mb"]
        path.write_text(json.dumps(record))
    text = render_markdown(board_of(tmp_path), [], [], 2)
    assert "Model mem (MB)" in text and "| 12 |" in text and "peak_memory_mb" not in text


def test_your_runs_stand_beside_the_published_ones(tmp_path: Path, monkeypatch, capsys) -> None:
    from mgbench.cli import main

    for seed in range(2):
        write_record(tmp_path / "published", model="gcn", seed=seed, f1=0.80)
        write_record(tmp_path / "mine", model="gcn", seed=seed, f1=0.80)       # a reproduction: same run ids
        write_record(tmp_path / "mine", model="my_gnn.py:MyGNN", seed=seed, f1=0.85)
    (tmp_path / "mine" / "broken.json").write_text("{")
    monkeypatch.setenv("MGBENCH_RESULTS", str(tmp_path / "mine"))
    assert main(["leaderboard", "--results", str(tmp_path / "published"), "--out", str(tmp_path / "board")]) == 0
    out = capsys.readouterr().out
    assert "6 record(s) in 1 table(s)" in out and "yours/broken.json" in out
    text = (tmp_path / "board" / "LEADERBOARD.md").read_text()
    for name in ("| gcn | G |", "| gcn (yours) | G |", "| my_gnn.py:MyGNN (yours) | G |"):
        assert name in text
    assert main(["leaderboard", "--results", str(tmp_path / "published"), "--no-yours",
                 "--out", str(tmp_path / "published-board")]) == 0
    assert "(yours)" not in (tmp_path / "published-board" / "LEADERBOARD.md").read_text()


def test_frontier_numbers_join_as_rows_marked_with_their_own_protocol(tmp_path: Path) -> None:
    write_record(tmp_path, dataset="mgtab", task="bot")
    write_record(tmp_path, dataset="mgtab", task="stance")
    write_record(tmp_path, dataset="cresci-15", task="bot", relations=("followers", "friends"))
    board = board_of(tmp_path)
    by_task = {(t.key.dataset, t.key.task): t for t in board.tables}
    label = "OS-GNN README, 10/10/80 split"
    mgtab_bot = {r.name: r for r in by_task[("mgtab", "bot")].rows}
    os_gat = mgtab_bot[f"OS-GAT ({label})"]
    assert os_gat.source == "paper" and os_gat.stats["f1"].mean == pytest.approx(0.8539)
    assert "precision" not in os_gat.stats                       # not published: no number invented
    assert {f"GCN ({label})", f"os-gnn ({label})", f"GAT ({label})"} <= set(mgtab_bot)
    assert not any(label in r.name for r in by_task[("mgtab", "stance")].rows)
    assert any(label in r.name for r in by_task[("cresci-15", "bot")].rows)
    text = render_markdown(board, [], [], 3)
    assert "were published under their own protocol" in text and "10 % train / 10 % validation" in text


def test_a_published_bot_class_f1_fills_that_column_only_and_its_relation_set(tmp_path: Path) -> None:
    """SEBot's table prints the bot class's F1 over all seven MGTAB relations, runs unstated: its
    rows join the all-relations MGTAB table only, in the bot-class column, with no macro F1,
    no seed count and no bar invented, ranked below every row that has a macro F1."""
    write_record(tmp_path, dataset="mgtab", task="bot")
    write_record(tmp_path, dataset="mgtab", task="bot", relations=("followers", "friends", "mention", "reply",
                                                                   "quoted", "url", "hashtag"))
    board = board_of(tmp_path)
    label = "SEBot README, bot-class F1"
    paper_pair, all_seven = sorted((t for t in board.tables if t.key.dataset == "mgtab"),
                                   key=lambda t: len(t.key.relations))
    assert not any(label in r.name for r in paper_pair.rows)
    rows = {r.name: r for r in all_seven.rows}
    sebot = rows[f"sebot ({label})"]
    assert set(sebot.stats) == {"accuracy", "f1_bot"} and sebot.n_seeds is None
    assert sebot.stats["f1_bot"].mean == pytest.approx(0.8212) and sebot.stats["accuracy"].std == pytest.approx(0.0144)
    assert all_seven.rows[0].source == "run" and all("f1" not in r.stats for r in all_seven.rows[1:])
    text = render_markdown(board, [], [], 3)
    assert f"| sebot ({label}) | G | 90.46 ± 1.44 |" in text and "bot class's F1" in text
    with figure_style():
        FigureCanvasAgg(f1_bars(all_seven, 3)).draw()


def test_published_numbers_no_run_shows_get_a_part_of_their_own(tmp_path: Path) -> None:
    """A board of twin runs alone still shows the real datasets' published numbers (the MGTAB
    paper's and the frontier detectors'), each setting in a table of published rows with its
    sources' notes, unranked; a setting whose table of runs shows them is not repeated there."""
    write_record(tmp_path, dataset="mgtab-synthetic", task="bot")
    board = board_of(tmp_path)
    assert len(board.tables) == 1
    published = {(t.key.dataset, t.key.task, "+".join(t.key.relations)): t for t in board.published}
    assert set(published) == {("mgtab", "stance", "followers+friends"), ("mgtab", "bot", "followers+friends"),
                              ("mgtab", "bot", "followers+friends+hashtag+mention+quoted+reply+url"),
                              ("twibot20", "bot", "followers+friends"), ("cresci-15", "bot", "followers+friends")}
    rows = [r for t in board.published for r in t.rows]
    assert all(r.source == "paper" and not r.is_best and r.vs_best is None for r in rows)
    assert {"RGT (paper)", "os-gnn (OS-GNN README, 10/10/80 split)"} <= {
        r.name for r in published[("mgtab", "bot", "followers+friends")].rows}
    text = render_markdown(board, [], [], 1)
    part = text[text.index("## Published numbers"):]
    assert "### twibot20 · bot · followers+friends · default features" in part
    assert "Rows marked (SEBot README, bot-class F1) were published under their own protocol" in part
    assert "| RGT (paper) | G | 92.12 ± 0.37 |" in part
    assert sum(line.startswith("mgbench-") or ",paper," in line for line in render_csv(board).splitlines()) == len(rows)

    write_record(tmp_path, dataset="mgtab", task="bot")  # runs on MGTAB's paper setting: its rows move there
    board = board_of(tmp_path)
    assert ("mgtab", "bot", ("followers", "friends")) not in {(t.key.dataset, t.key.task, t.key.relations)
                                                              for t in board.published}
    names = [r.name for t in (*board.tables, *board.published) for r in t.rows]
    assert names.count("RGT (paper)") == 2  # stance and bot, once each
