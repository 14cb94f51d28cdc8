"""The leaderboard: records in, the same bytes out; the statistics; bad and duplicate records."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from mgbench.leaderboard import build, build_leaderboard, reference
from mgbench.leaderboard.aggregate import Board, PairedTest, build_board, holm, paired_test
from mgbench.leaderboard.page import render_page
from mgbench.leaderboard.records import load_records
from mgbench.leaderboard.tables import SYNTHETIC_WARNING, render_csv, render_markdown


def write_record(results: Path, *, dataset: str = "mgtab-synthetic", task: str = "bot",
                 relations: tuple[str, ...] = ("followers", "friends"), features: str = "default",
                 model: str = "gcn", model_kind: str = "gnn", hyperparameters: dict | None = None,
                 training: dict | None = None, aux_loss: str | None = None, aux_weight: float = 0.0,
                 protocol: str = "standard", seed: int = 0, f1: float = 0.8,
                 train_time_s: float | None = 1.5, file_name: str | None = None,
                 extra: dict | None = None, metrics: dict | None = None) -> Path:
    """Write one record as docs/RESULTS.md specifies; the other metrics are offsets of ``f1``.

    ``extra`` adds definition keys (``tuning``, ``external``, ``sampling``); ``metrics``
    adds or replaces test metrics.
    """
    definition = {
        "dataset": dataset, "dataset_options": {}, "task": task, "relations": list(relations),
        "features": features, "model": model, "model_kind": model_kind,
        "hyperparameters": hyperparameters or {"hidden_channels": 32},
        "training": {"epochs": 10, "lr": 0.01} if training is None else training, "aux_loss": aux_loss,
        "aux_weight": aux_weight, "aux_settings": {}, "protocol": protocol, "seed": seed, **(extra or {}),
    }
    run_id = hashlib.sha256(json.dumps(definition, sort_keys=True, separators=(",", ":"))
                            .encode()).hexdigest()[:16]
    test = {"accuracy": min(1.0, f1 + 0.05), "precision_macro": f1 + 0.01, "recall_macro": f1 - 0.01,
            "f1_macro": f1, "roc_auc_macro": 0.9, **(metrics or {})}
    record = {
        "schema": 1, "run_id": run_id, "definition": definition, "metrics": {"test": test, "val": test},
        "best_epoch": 3, "train_time_s": train_time_s, "peak_memory_mb": 64.0, "model_memory_mb": 64.0,
        "num_parameters": 1234,
        "versions": {"mgbench": "0.1.0"}, "git_commit": None, "hardware": {"device": "cpu"},
        "timestamp": f"2026-01-01T00:00:0{seed % 10}Z",
    }
    path = results / (file_name or f"{run_id}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1))
    return path


def board_of(results: Path, **options: Any) -> Board:
    return build_board(load_records(results).records, **options)


def only_table(board: Board):
    assert len(board.tables) == 1
    return board.tables[0]


def row(table, name: str):
    return next(r for r in table.rows if r.name == name)


def read_all(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def md_sections(folder: Path) -> dict[str, str]:
    """LEADERBOARD.md split at its second-level headings."""
    parts = (folder / "LEADERBOARD.md").read_text().split("\n## ")[1:]
    return {part.split("\n", 1)[0]: part for part in parts}


# --- determinism and locality -------------------------------------------------------------

# mgtab-synthetic records without `twin` were made on the first twin: the title says so
SETTINGS = "standard protocol, epochs=10, lr=0.01"     # write_record's default training
SMALL = f"mgtab-synthetic (twin=1) · bot · followers+friends · default features · {SETTINGS}"
OTHER = f"mgtab-synthetic (twin=1) · bot · followers+friends+mention · default features · {SETTINGS}"


def _base_records(results: Path, reverse: bool = False) -> None:
    """Two tables, and gcn on both relation sets: every kind of figure."""
    calls = [dict(model=model, seed=seed, f1=f1 + 0.01 * seed) for model, f1 in (("gcn", 0.7), ("rgcn", 0.75))
             for seed in range(3)]
    calls += [dict(model="gcn", relations=("followers", "friends", "mention"), seed=seed, f1=0.72)
              for seed in range(3)]
    for kwargs in reversed(calls) if reverse else calls:
        write_record(results, **kwargs)


@pytest.fixture(scope="module")
def base_board(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    results = tmp_path_factory.mktemp("results")
    _base_records(results)
    out = tmp_path_factory.mktemp("board")
    build_leaderboard(results, out)
    return results, out


def test_same_records_give_the_same_bytes(base_board, tmp_path: Path) -> None:
    _, first = base_board
    results = tmp_path / "copy"
    _base_records(results, reverse=True)             # other folder, other write order
    second = tmp_path / "second"
    build_leaderboard(results, second)
    files = read_all(first)
    assert files == read_all(second)
    assert {"LEADERBOARD.md", "index.html", "leaderboard.csv"} <= set(files)
    figures = [name for name in files if name.startswith("figures/")]
    assert len(figures) == 5 and sum(name.endswith("-f1.png") for name in figures) == 2
    assert sum(name.endswith("-time.png") for name in figures) == 2
    assert sum(name.startswith("figures/relations-") for name in figures) == 1


def test_a_record_changes_only_its_table(base_board, tmp_path: Path) -> None:
    base_results, before = base_board
    results = tmp_path / "results"
    shutil.copytree(base_results, results)
    out = tmp_path / "board"
    shutil.copytree(before, out)
    added = write_record(results, task="bot", model="gat", seed=0, f1=0.9)
    build_leaderboard(results, out)

    old, new = md_sections(before), md_sections(out)
    assert old[OTHER] == new[OTHER]
    assert old[SMALL] != new[SMALL] and "| gat |" in new[SMALL]
    old_csv, new_csv = (p.joinpath("leaderboard.csv").read_text().splitlines() for p in (before, out))
    assert [line for line in old_csv if "-mention_" in line] == [line for line in new_csv if "-mention_" in line]
    assert len(new_csv) == len(old_csv) + 1
    old_files, new_files = read_all(before), read_all(out)
    changed = {name for name in old_files if old_files[name] != new_files.get(name)}
    assert changed == {"LEADERBOARD.md", "index.html", "leaderboard.csv",
                       *(n for n in old_files if n.startswith("figures/mgtab-synthetic_bot_followers-friends_d"))}

    added.unlink()                                   # and removing it restores the old board
    build_leaderboard(results, out)
    assert read_all(out) == old_files


def test_a_failed_build_leaves_the_old_board(base_board, tmp_path: Path, monkeypatch) -> None:
    base_results, before = base_board
    results = tmp_path / "results"
    shutil.copytree(base_results, results)
    write_record(results, task="bot", model="gat", seed=0, f1=0.9)
    out = tmp_path / "board"
    shutil.copytree(before, out)
    monkeypatch.setattr(build, "render_figures", lambda board: {})      # keep the test fast

    def killed(src, dst):
        raise KeyboardInterrupt("killed between writing and renaming")
    monkeypatch.setattr(build.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        build_leaderboard(results, out)
    assert read_all(out) == read_all(before)         # no temporary file left, nothing replaced

    def broken_page(*args, **kwargs):
        raise RuntimeError("render failed")
    monkeypatch.undo()
    monkeypatch.setattr(build, "render_figures", lambda board: {})
    monkeypatch.setattr(build, "render_page", broken_page)
    with pytest.raises(RuntimeError):
        build_leaderboard(results, out)
    assert read_all(out) == read_all(before)


# --- statistics ---------------------------------------------------------------------------

def test_mean_and_sample_std_over_seeds(tmp_path: Path) -> None:
    for seed, f1 in enumerate([0.80, 0.82, 0.87]):
        write_record(tmp_path, seed=seed, f1=f1, train_time_s=1.0 + seed)
    board = board_of(tmp_path, min_seeds=3)
    gcn = row(only_table(board), "gcn")
    # mean 83; deviations -3, -1, 4 points; sample variance 26 / 2 = 13
    assert gcn.stats["f1"].mean == pytest.approx(0.83)
    assert gcn.stats["f1"].std == pytest.approx(math.sqrt(13) / 100)
    assert gcn.stats["accuracy"].mean == pytest.approx(0.88)
    assert gcn.stats["f1"].n == 3 and gcn.train_time_s == pytest.approx(2.0)
    assert ("| gcn | G | 88.00 ± 3.61 | 84.00 ± 3.61 | 82.00 ± 3.61 | 83.00 ± 3.61 | 90.00 ± 0.00 | 3 | best "
            "| 2.00 | 64 | 1,234 |") in render_markdown(board, [], [], 3)


def test_paired_t_test_against_the_best_row(tmp_path: Path) -> None:
    best = [0.90, 0.92, 0.91, 0.95]
    other = [0.85, 0.88, 0.88, 0.90]
    for seed, (a, b) in enumerate(zip(best, other)):
        write_record(tmp_path, model="rgt", seed=seed, f1=a)
        write_record(tmp_path, model="gcn", seed=seed, f1=b)
    write_record(tmp_path, model="gcn", seed=9, f1=0.10)     # no partner: must not count
    table = only_table(board_of(tmp_path, min_seeds=4))
    rgt, gcn = row(table, "rgt"), row(table, "gcn")
    assert rgt.is_best and rgt.vs_best is None
    # by hand: differences 5, 4, 3, 5 points; mean 4.25, sample sd sqrt(2.75 / 3)
    t = 4.25 / (math.sqrt(2.75 / 3) / math.sqrt(4))
    assert gcn.vs_best.n == 4
    assert gcn.vs_best.mean_diff == pytest.approx(0.0425)
    assert gcn.vs_best.p_value == pytest.approx(2 * stats.t.sf(t, df=3))
    assert gcn.vs_best.p_value == pytest.approx(stats.ttest_rel(best, other).pvalue)
    assert gcn.vs_best.significant(0.05)


def test_paired_test_edge_cases() -> None:
    assert paired_test({0: 0.9, 1: 0.8}, {0: 0.8, 1: 0.7}) == PairedTest(2, pytest.approx(0.1), 0.0)
    assert paired_test({0: 0.9, 1: 0.8}, {0: 0.9, 1: 0.8}) == PairedTest(2, 0.0, 1.0)
    assert paired_test({0: 0.9, 1: 0.8}, {1: 0.7, 2: 0.7}) == PairedTest(1, pytest.approx(0.1), None)
    assert paired_test({0: 0.9}, {1: 0.7}) == PairedTest(0, None, None)


def test_auxiliary_loss_effect_is_paired_with_the_ce_run(tmp_path: Path) -> None:
    ce = [0.70, 0.72, 0.71, 0.69, 0.73]
    aux = [0.74, 0.75, 0.73, 0.74, 0.76]
    for seed, (c, a) in enumerate(zip(ce, aux)):
        write_record(tmp_path, model="gcn", seed=seed, f1=c)
        write_record(tmp_path, model="gcn", seed=seed, f1=a, aux_loss="supcon", aux_weight=0.1)
        write_record(tmp_path, model="gcn", seed=seed, f1=0.5, aux_loss="supcon", aux_weight=0.1,
                     training={"epochs": 99, "lr": 0.01})           # no CE run with these settings
    board = board_of(tmp_path)
    paired, unpaired = sorted(board.aux_effects, key=lambda e: e.baseline_group_id is None)
    assert paired.f1_ce == pytest.approx(np.mean(ce)) and paired.f1_aux == pytest.approx(np.mean(aux))
    assert paired.test.mean_diff == pytest.approx(np.mean(aux) - np.mean(ce))
    assert paired.test.p_value == pytest.approx(stats.ttest_rel(aux, ce).pvalue)
    assert unpaired.baseline_group_id is None
    section = render_markdown(board, [], [], 15).split("## Do auxiliary losses help?")[1]
    assert "+3.40" in section and "helps" in section and "no CE-only run to compare with" in section


def test_holm_adjustment_matches_the_step_down_formula() -> None:
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    # sorted: 0.005 (x5), 0.01 (x4), 0.03 (x3), 0.04 (x2), 0.5 (x1), each at least the one before
    expected = {3: 0.025, 0: 0.04, 2: 0.09, 1: 0.09, 4: 0.5}
    assert holm(p) == pytest.approx([expected[i] for i in range(5)])
    assert holm([]) == [] and holm([0.7, 0.9]) == pytest.approx([1.0, 1.0])


def test_auxiliary_verdicts_are_holm_adjusted_over_the_table(tmp_path: Path) -> None:
    """A change significant on its own (p ~ 0.02) is not once ten losses are tested in one table."""
    rng = np.random.default_rng(0)
    ce = [0.70, 0.72, 0.71, 0.69, 0.73]
    lifts = {"supcon": [0.04, 0.03, 0.05, 0.035, 0.045]}   # large and steady: survives the adjustment
    lifts.update({name: list(rng.normal(0.0, 0.01, 5)) for name in
                  ("scl", "icl", "jscl", "jspcl", "slcl", "sdl", "itc", "itm")})
    lifts["scc"] = [0.02, 0.005, 0.03, 0.01, 0.015]          # p ~ 0.02 alone
    for seed, c in enumerate(ce):
        write_record(tmp_path, model="gcn", seed=seed, f1=c)
        for name, lift in lifts.items():
            write_record(tmp_path, model="gcn", seed=seed, f1=c + lift[seed], aux_loss=name, aux_weight=0.1)
    board = board_of(tmp_path)
    effects = {e.aux_loss: e for e in board.aux_effects}
    raw = {name: stats.ttest_rel(np.add(ce, lift), ce).pvalue for name, lift in lifts.items()}
    assert raw["scc"] < 0.05
    names = sorted(raw)
    for name, adjusted in zip(names, holm([raw[n] for n in names])):
        assert effects[name].p_holm == pytest.approx(adjusted)
    assert effects["supcon"].significant(0.05) and not effects["scc"].significant(0.05)
    section = render_markdown(board, [], [], 15).split("## Do auxiliary losses help?")[1]
    assert "Holm" in section
    rows = {line.split("|")[3].strip().split(" ")[0]: line for line in section.splitlines()
            if line.startswith("| ") and "λ=" in line}
    assert "helps" in rows["supcon"] and "no significant change" in rows["scc"]


def test_under_seeded_rows_are_marked_and_not_chosen_as_best(tmp_path: Path) -> None:
    for seed in range(5):
        write_record(tmp_path, model="gcn", seed=seed, f1=0.80)
    for seed in range(2):
        write_record(tmp_path, model="lucky", seed=seed, f1=0.95)
    board = board_of(tmp_path, min_seeds=5)
    table = only_table(board)
    assert row(table, "gcn").is_best and not row(table, "lucky").is_best
    text = render_markdown(board, [], [], 7)
    assert "| 2† |" in text and "† fewer than 5 seeds" in text


# --- reference rows and labels ------------------------------------------------------------

def test_paper_rows_join_the_mgtab_default_tables(tmp_path: Path) -> None:
    write_record(tmp_path, dataset="mgtab", task="stance", relations=("friends", "followers"))
    write_record(tmp_path, dataset="mgtab", task="bot")
    write_record(tmp_path, dataset="mgtab", task="bot", relations=("followers", "friends", "mention"))
    write_record(tmp_path, dataset="mgtab", task="stance", features="profile")
    write_record(tmp_path, dataset="mgtab-synthetic", task="stance")
    board = board_of(tmp_path)
    paper = {(t.key.dataset, t.key.task, t.key.relations, t.key.features):
             [r for r in t.rows if r.source == "paper" and r.name.endswith("(paper)")] for t in board.tables}
    stance = paper[("mgtab", "stance", ("followers", "friends"), "default")]
    assert len(stance) == 13 and len(paper[("mgtab", "bot", ("followers", "friends"), "default")]) == 13
    assert sum(map(len, paper.values())) == 26          # and no paper rows anywhere else
    by_model = {r.model: r for r in stance}
    # RGT.py and MGTAB-ML.py pass the truth first: shown as published (precision 85.22, recall 84.40)
    rgt, ada, gcn = by_model["RGT"], by_model["AdaBoost"], by_model["GCN"]
    assert rgt.stats["precision"].mean == pytest.approx(0.8522)
    assert rgt.stats["recall"].mean == pytest.approx(0.8440)
    assert rgt.stats["f1"].mean == pytest.approx(0.8686) and rgt.kind == "G"
    assert (ada.stats["precision"].mean, ada.stats["recall"].mean) == pytest.approx((0.7460, 0.7402))
    # MGTAB-GNN.py passes predictions as the truth: GCN's published precision is its recall
    assert (gcn.stats["precision"].mean, gcn.stats["recall"].mean) == pytest.approx((0.8019, 0.8108))
    text = render_markdown(board, [], [], 5)
    assert "| RGT (paper) | G | 87.78 ± 0.43 | 85.22 ± 0.89 | 84.40 ± 0.74 | 86.86 ± 0.43 |" in text


def test_every_swapped_paper_row_exists() -> None:
    models = {e["model"] for rows in reference._paper()["tasks"].values() for e in rows}
    assert set(reference.swapped_models()) == {"GCN", "GraphSAGE", "GAT", "BotRGCN", "S-HGN"}
    assert set(reference.swapped_models()) <= models


def test_synthetic_tables_say_so(tmp_path: Path) -> None:
    write_record(tmp_path, dataset="mgtab-synthetic")
    write_record(tmp_path, dataset="mgtab")
    board = board_of(tmp_path)
    sections = render_markdown(board, [], [], 2).split("\n## ")
    synthetic = next(s for s in sections if s.startswith("mgtab-synthetic"))
    real = next(s for s in sections if s.startswith("mgtab ·"))
    assert SYNTHETIC_WARNING in synthetic and SYNTHETIC_WARNING not in real
    page = render_page(board, {}, [], 2)
    assert 'role="alert"' in page and SYNTHETIC_WARNING in page
    assert not re.search(r'(src|href)="(?!data:)', page)       # self-contained: nothing to fetch


# --- bad, duplicate and missing input -----------------------------------------------------

def test_bad_records_are_reported_and_skipped(tmp_path: Path, caplog) -> None:
    results = tmp_path / "results"
    good = write_record(results, seed=0)
    (results / "bad.json").write_text("{not json")
    (results / "truncated.json").write_text(good.read_text()[:200])
    missing = json.loads(good.read_text())
    del missing["definition"]["seed"], missing["metrics"]["test"]["f1_macro"], missing["train_time_s"]
    (results / "missing.json").write_text(json.dumps(missing))
    forged = json.loads(good.read_text())
    forged["definition"]["model"] = "other"
    (results / "forged.json").write_text(json.dumps(forged))
    (results / "list.json").write_text("[]")
    (results / ".partial.json.tmp").write_text("{")           # a writer's temporary file: ignored

    out = tmp_path / "board"
    with caplog.at_level(logging.WARNING, logger="mgbench.leaderboard"):
        report = _build_without_figures(results, out)
    assert report.records == 1 and report.tables == 1
    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == {"bad.json", "truncated.json", "missing.json", "forged.json", "list.json"}
    assert reasons["bad.json"].startswith("invalid JSON")
    assert reasons["truncated.json"].startswith("invalid JSON")
    assert reasons["missing.json"] == ("missing fields: train_time_s, definition.seed, "
                                       "metrics.test.f1_macro")
    assert "not the hash" in reasons["forged.json"] and reasons["list.json"] == "not a JSON object"
    for name in reasons:
        assert name in caplog.text and name in (out / "LEADERBOARD.md").read_text()
        assert name in (out / "index.html").read_text()
    assert "Built from 1 result records" in (out / "LEADERBOARD.md").read_text()


def test_duplicate_run_ids_are_counted_once(tmp_path: Path, caplog) -> None:
    results = tmp_path / "results"
    first = write_record(results, seed=0, file_name="machine-a/run.json")
    (results / "machine-b").mkdir()
    shutil.copy(first, results / "machine-b" / "run.json")
    shutil.copy(first, results / "zz-copy.json")
    write_record(results, seed=1, file_name="machine-b/other.json")
    with caplog.at_level(logging.WARNING, logger="mgbench.leaderboard"):
        report = _build_without_figures(results, tmp_path / "board")
    assert report.records == 2
    assert [(d.path, d.kept) for d in report.duplicates] == [
        ("machine-b/run.json", "machine-a/run.json"), ("zz-copy.json", "machine-a/run.json")]
    assert "zz-copy.json: duplicate of machine-a/run.json" in caplog.text
    assert only_table(board_of(results)).rows[0].n_seeds == 2


def test_empty_and_missing_results_folders(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    report = build_leaderboard(tmp_path / "results", tmp_path / "board")
    assert report.records == 0 and report.tables == 0
    assert "No result records yet" in (tmp_path / "board" / "index.html").read_text()
    rows = list(csv.DictReader(io.StringIO(render_csv(board_of(tmp_path / "results")))))
    assert rows and {r["source"] for r in rows} == {"paper"}           # published numbers only, no run
    with pytest.raises(FileNotFoundError):
        build_leaderboard(tmp_path / "nowhere", tmp_path / "board")


def _build_without_figures(results: Path, out: Path):
    """Build with figures skipped: these tests are about what gets counted, not drawing."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build, "render_figures", lambda board: {})
        return build_leaderboard(results, out)


def test_the_twin_at_its_default_options_is_set_against_the_paper(tmp_path: Path) -> None:
    """mgtab-synthetic registers twin_of="mgtab": its default-size runs get a section with the
    paper's F1 beside the twin's, Kendall's tau and the largest gap; a smaller twin gets none."""
    from mgbench.leaderboard import reference

    paper = {reference.registered_name(r.model): r.mean["f1"]
             for r in reference.published_results("mgtab", "bot", ["followers", "friends"], "default")}
    results = tmp_path / "results"
    twin = {"dataset_options": {"twin": 3}}
    for seed in range(2):
        write_record(results, model="svm", model_kind="features", training={}, f1=paper["svm"] + 0.01,
                     seed=seed, extra=twin)
        write_record(results, model="knn", model_kind="features", training={}, f1=paper["knn"] - 0.03,
                     seed=seed, extra=twin)
        write_record(results, model="adaboost", model_kind="features", training={}, f1=0.5, seed=seed, extra=twin)
        write_record(results, model="svm", model_kind="features", training={}, f1=0.7, seed=seed,
                     extra={"dataset_options": {"twin": 3, "num_nodes": 1000}})

    build_leaderboard(results, tmp_path / "board")
    text = (tmp_path / "board" / "LEADERBOARD.md").read_text()

    section = text.split("## Does the twin rank models as the paper does?")[1]
    assert section.count("### ") == 1 and "num_nodes" not in section.split("\n\n")[1]
    assert f"| svm | SVM | {100 * paper['svm']:.2f} | {100 * (paper['svm'] + 0.01):.2f} ± 0.00 | +1.00 |" in section
    assert "| knn | KNN |" in section and "-3.00 |" in section
    # paper: adaboost > svm > knn; twin: svm > knn > adaboost -> 1 concordant, 2 discordant pairs
    assert "Kendall's τ between paper and twin F1: -0.33 over 3 models" in section
    assert f"largest gap {100 * (0.5 - paper['adaboost']):+.1f} points (adaboost)" in section
    assert "Does the twin rank models" in (tmp_path / "board" / "index.html").read_text()
