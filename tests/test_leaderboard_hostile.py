"""Hostile and broken records (issue 15): each is named and skipped or rendered inert; the build completes.

Every build here draws its figures, because a record that reaches matplotlib
or a figure's file name is part of what is tested.
"""

from __future__ import annotations

import csv
import json
import math
import re
import sys
from pathlib import Path
from typing import Callable

import pytest

from mgbench.leaderboard import build_leaderboard
from mgbench.schema import METRICS

from test_leaderboard import write_record


def _huge_hyperparameter(results: Path) -> None:
    """A 5000-digit integer, with a run_id that matches it (json.dumps needs the digit limit lifted)."""
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        write_record(results, seed=7, hyperparameters={"hidden_channels": 10 ** 4999}, file_name="bad.json")
    finally:
        sys.set_int_max_str_digits(limit)


def _metric_less(results: Path) -> None:
    path = write_record(results, seed=7, file_name="bad.json")
    record = json.loads(path.read_text())
    record["metrics"]["test"] = {}
    path.write_text(json.dumps(record))


#: id -> (what writes ``bad.json`` into the results folder, the reason the board must give)
SKIPPED: dict[str, tuple[Callable[[Path], None], str]] = {
    "300-character dataset name": (
        lambda r: write_record(r, dataset="d" * 300, file_name="bad.json"),
        "definition.dataset (300 characters, at most 128)"),
    "f1_macro 1e308": (
        lambda r: write_record(r, seed=7, metrics={"f1_macro": 1e308}, file_name="bad.json"),
        "metrics.test.f1_macro (1e+308 outside [0, 1])"),
    "f1_macro 5.0": (
        lambda r: write_record(r, seed=7, metrics={"f1_macro": 5.0}, file_name="bad.json"),
        "metrics.test.f1_macro (5.0 outside [0, 1])"),
    "f1_macro -3.0": (
        lambda r: write_record(r, seed=7, metrics={"f1_macro": -3.0}, file_name="bad.json"),
        "metrics.test.f1_macro (-3.0 outside [0, 1])"),
    "roc_auc 1.5": (
        lambda r: write_record(r, seed=7, metrics={"roc_auc_macro": 1.5}, file_name="bad.json"),
        "metrics.test.roc_auc_macro (1.5 outside [0, 1])"),
    "400-digit integer": (
        lambda r: write_record(r, seed=10 ** 399, file_name="bad.json"),
        "definition.seed (a 400-digit number outside [0, 4294967295])"),
    "5000-digit number": (_huge_hyperparameter,
                          "definition.hyperparameters.hidden_channels: a 5000-digit number"),
    "NaN setting": (
        lambda r: write_record(r, seed=7, hyperparameters={"dropout": math.nan}, file_name="bad.json"),
        "definition.hyperparameters.dropout: nan is not finite"),
    "negative train time": (
        lambda r: write_record(r, seed=7, train_time_s=-1.0, file_name="bad.json"),
        "train_time_s (-1.0 outside [0, 1e+08])"),
    "empty file": (lambda r: (r / "bad.json").write_text(""), "empty file"),
    "corrupt file": (lambda r: (r / "bad.json").write_text('{"schema": 1, "run_'), "invalid JSON"),
    "no test metrics": (_metric_less, "missing fields: metrics.test.f1_macro"),
}


@pytest.mark.parametrize("case", list(SKIPPED))
def test_a_bad_record_is_named_and_skipped_and_the_build_completes(case: str, tmp_path: Path) -> None:
    write_bad, reason = SKIPPED[case]
    results = tmp_path / "results"
    for seed in range(2):
        write_record(results, seed=seed, f1=0.8)
    write_bad(results)

    report = build_leaderboard(results, tmp_path / "board")

    assert report.records == 2 and report.tables == 1
    assert [s.path for s in report.skipped] == ["bad.json"]
    assert reason in report.skipped[0].reason
    line = f"bad.json: malformed record, skipped: {report.skipped[0].reason}"
    assert line in str(report)
    assert "- bad.json: malformed record, skipped: " in (tmp_path / "board" / "LEADERBOARD.md").read_text()
    assert sorted(p.name for p in (tmp_path / "board" / "figures").iterdir())   # figures were drawn


def test_a_mathtext_model_name_is_drawn_as_text(tmp_path: Path) -> None:
    results = tmp_path / "results"
    for seed in range(2):
        write_record(results, model="$\\foo{$", seed=seed, f1=0.8)
        write_record(results, model="gcn", seed=seed, f1=0.7)

    report = build_leaderboard(results, tmp_path / "board")

    assert report.records == 4 and not report.skipped
    assert len(list((tmp_path / "board" / "figures").glob("*.png"))) == 2
    assert "| $\\\\foo{$ | G |" in (tmp_path / "board" / "LEADERBOARD.md").read_text()


def test_figure_names_are_safe_and_bounded(tmp_path: Path) -> None:
    results = tmp_path / "results"
    odd = "../" + "é/" * 40 + "x" * 40                  # 128 characters: allowed, but not as a file name
    write_record(results, dataset=odd, relations=("a" * 128, "b" * 128))

    report = build_leaderboard(results, tmp_path / "board")

    assert report.records == 1
    names = [p.name for p in (tmp_path / "board" / "figures").iterdir()]
    assert len(names) == 2
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", n) and len(n) <= 100 for n in names)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board", "results"]   # nothing written elsewhere


def test_html_and_newlines_in_a_field_stay_inside_their_markdown_cell(tmp_path: Path) -> None:
    results = tmp_path / "results"
    evil = '<script>alert(1)</script>\n| forged | row |\r\n[link](javascript:alert(2)) `code` & more'
    for seed in range(2):
        write_record(results, model=evil, seed=seed, f1=0.8)
    write_record(results, model="gcn", seed=0, f1=0.7)

    build_leaderboard(results, tmp_path / "board")

    text = (tmp_path / "board" / "LEADERBOARD.md").read_text()
    assert "<script" not in text and "&lt;script&gt;" in text
    assert "javascript:" not in text.replace("\\[link\\](javascript:", "")   # no link is formed
    table = [line for line in text.split("## Published numbers")[0].splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 2                          # header and two rows: no forged row
    evil_row = next(line for line in table if "script" in line)
    assert evil_row.count(" | ") == table[0].count(" | ")     # the cells did not split
    assert "\\| forged \\| row \\|" in evil_row and "\\`code\\` &amp; more" in evil_row
    page = (tmp_path / "board" / "index.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page


def test_csv_cells_never_start_a_formula(tmp_path: Path) -> None:
    results = tmp_path / "results"
    names = ["=cmd|' /C calc'!A0", "+1+1", "-2-2", "@SUM(A1)", "\tTAB", "\rCR"]
    for name in names:
        write_record(results, model=name, task="=HYPERLINK(\"http://x\")", f1=0.8)

    build_leaderboard(results, tmp_path / "board")

    with open(tmp_path / "board" / "leaderboard.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["source"] == "run"]
    assert sorted(r["model"] for r in rows) == sorted(["'=cmd|' /C calc'!A0", "'+1+1", "'-2-2", "'@SUM(A1)",
                                                        "'\tTAB", "' CR"])
    text_columns = ("table", "dataset", "dataset_options", "task", "relations", "features", "settings",
                    "model", "name", "aux_loss")
    for row in rows:
        assert row["task"] == "'=HYPERLINK(\"http://x\")"
        for column in text_columns:
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), (column, row[column])


def test_validation_names_every_fault_of_a_record(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_record(results, seed=0)
    path = write_record(results, seed=1, file_name="bad.json")
    record = json.loads(path.read_text())
    record["definition"].update(model=["not", "a", "name"], relations="followers", aux_weight=True)
    record["definition"]["training"]["epochs"] = 2.5
    record["num_parameters"] = 12.0
    record["definition"]["deep"] = json.loads("[" * 20 + "]" * 20)
    path.write_text(json.dumps(record))

    report = build_leaderboard(results, tmp_path / "board")

    reason = report.skipped[0].reason
    for fault in ("definition.model (not a string", "definition.relations (not a list",
                  "definition.aux_weight (not a number: True)", "definition.training.epochs (not an integer",
                  "num_parameters (not an integer: 12.0)", "nested deeper than 8"):
        assert fault in reason
    assert len(reason) < 1000                            # bounded, whatever the record holds


@pytest.mark.parametrize("key", [key for m in METRICS for key in m.keys])
def test_every_metric_the_schema_names_is_range_checked_and_shown(key: str, tmp_path: Path) -> None:
    """The schema's metric list is the board's: each key is refused outside its range, and the
    column reads it (a metric added there needs no other list changed)."""
    metric = next(m for m in METRICS if key in m.keys)
    results = tmp_path / "results"
    earlier = {k: None for k in metric.keys[:metric.keys.index(key)]}  # the key a column prefers, absent
    for seed in range(2):
        write_record(results, seed=seed, metrics={key: 0.625})
    write_record(results, seed=7, metrics={key: metric.high + 0.5}, file_name="bad.json")
    for path in results.glob("*.json"):
        record = json.loads(path.read_text())
        for k in earlier:
            record["metrics"]["test"].pop(k, None)
        path.write_text(json.dumps(record))

    report = build_leaderboard(results, tmp_path / "board")

    assert [s.path for s in report.skipped] == ["bad.json"]
    assert f"metrics.test.{key} ({metric.high + 0.5:g} outside [{metric.low:g}, {metric.high:g}])" \
        in report.skipped[0].reason
    with open(tmp_path / "board" / "leaderboard.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["source"] == "run")
    assert float(row[f"{metric.column}_mean"]) == pytest.approx(0.625)
    assert f"| {metric.header} |" in (tmp_path / "board" / "LEADERBOARD.md").read_text()
