"""Own training loop, same board: the Evaluator scores as the runner does; prediction files become records."""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import mgbench
from mgbench import datasets as ds
from mgbench.benchmark import Evaluator, PredictionError, ResultStore, RunSpec, compute_metrics, sweep
from mgbench.benchmark import predictions as predictions_module
from mgbench.cli import main

OPTIONS = {"num_nodes": 300}
TINY = ["--dataset", "mgtab-synthetic", "--dataset-option", "num_nodes=300"]

#: A model whose output does not depend on training: its logits come from a fixed
#: matrix (a buffer); the parameter only gives the optimiser something to step.
FIXED_MODEL = '''
import torch

class Fixed(torch.nn.Module):
    def __init__(self, in_channels, num_classes, num_relations):
        super().__init__()
        g = torch.Generator().manual_seed(7)
        self.register_buffer("weight", torch.randn(in_channels, num_classes, generator=g))
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x, edge_index, edge_type):
        return x @ self.weight + 0 * self.unused
'''


@pytest.fixture(scope="module")
def graph(data_root):
    return ds.load("mgtab-synthetic", root=data_root, **OPTIONS)


@pytest.fixture(scope="module")
def logits(graph):
    """Logits [N, 2] for ``bot`` that carry signal (a fixed projection of the features)."""
    g = torch.Generator().manual_seed(3)
    return graph.x @ torch.randn(graph.num_features, 2, generator=g)


def run_cli(args: list[str], data_root: Path, results: Path, capsys) -> tuple[int, str, str]:
    code = main(["evaluate", *TINY, "--root", str(data_root), "--results", str(results), *args])
    out, err = capsys.readouterr()
    return code, out, err


def stored(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


# --- the Evaluator -------------------------------------------------------------------------------------------


def test_evaluator_gives_the_runners_metrics_for_the_same_model(graph, data_root, tmp_path):
    """A model trained through the runner and the same model's logits scored in one's own loop agree exactly."""
    file = tmp_path / "fixed.py"
    file.write_text(FIXED_MODEL)
    spec = RunSpec(dataset="mgtab-synthetic", task="stance", model=f"{file}:Fixed", seed=1,
                   dataset_options=OPTIONS, training={"epochs": 2})
    [record] = sweep([spec], ResultStore(tmp_path / "results"), root=data_root, progress=False)

    namespace: dict = {}
    exec(FIXED_MODEL, namespace)
    model = namespace["Fixed"](graph.num_features, 3, len(graph.relation_names)).eval()
    with torch.no_grad():
        own_logits = model(graph.x, graph.edge_index, graph.edge_type)
    evaluator = Evaluator(graph, "stance", seed=1)
    assert evaluator.score(own_logits) == record["metrics"]["test"]
    assert evaluator.score(own_logits, part="val") == record["metrics"]["val"]
    assert 0.0 < record["metrics"]["test"]["roc_auc_macro"] < 1.0  # a real ranking was compared


def test_scores_are_read_as_probabilities_or_as_logits(graph):
    """Logits are softmax-ed as by the runner; a matrix of probabilities is used as it is."""
    g = torch.Generator().manual_seed(4)
    logits3 = graph.x @ torch.randn(graph.num_features, 3, generator=g)
    task = ds.get_task("stance")
    evaluator = Evaluator(graph, task, seed=0)
    test = evaluator.split.test
    y = graph.y_stance[test].numpy()
    probs = torch.softmax(logits3, dim=1)
    assert evaluator.score(logits3) == compute_metrics(y, probs[test].numpy(), task)
    as_is = compute_metrics(y, probs[test].numpy(), task)
    softmaxed_twice = compute_metrics(y, torch.softmax(probs[test], dim=1).numpy(), task)
    assert as_is["roc_auc_macro"] != softmaxed_twice["roc_auc_macro"]  # so the next line tells the two apart
    assert evaluator.score(probs) == as_is


def test_multilabel_logits_go_through_a_sigmoid(graph):
    g = torch.Generator().manual_seed(5)
    scores = graph.x @ torch.randn(graph.num_features, 5, generator=g)
    task = ds.get_task("stance+bot")
    evaluator = Evaluator(graph, task, seed=2)
    y, _ = ds.task_labels(graph, task)
    test = evaluator.split.test
    assert evaluator.score(scores) == compute_metrics(y[test].numpy(), torch.sigmoid(scores[test]).numpy(), task)
    with pytest.raises(PredictionError, match="multi-label"):
        evaluator.score(scores.argmax(dim=1))


def test_labels_score_their_classes_and_have_no_roc_auc(graph, logits):
    evaluator = Evaluator(graph, "bot", seed=0)
    from_labels, from_scores = evaluator.score(logits.argmax(dim=1)), evaluator.score(logits)
    assert "roc_auc_macro" not in from_labels
    from_scores.pop("roc_auc_macro")
    assert from_labels == from_scores


def test_each_seed_scores_its_own_split(graph, logits):
    scores = [Evaluator(graph, "bot", seed=s).score(logits)["f1_macro"] for s in range(3)]
    assert len(set(scores)) > 1
    assert not torch.equal(Evaluator(graph, "bot", seed=0).split.test, Evaluator(graph, "bot", seed=1).split.test)


def test_import_mgbench_stays_light_and_serves_the_evaluator():
    code = ("import sys, mgbench; assert 'torch' not in sys.modules; "
            "from mgbench import Evaluator, evaluate; from mgbench.benchmark import Evaluator as E; "
            "assert Evaluator is E and callable(evaluate)")
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError):
        mgbench.no_such_name


# --- prediction files become records -------------------------------------------------------------------------


def test_prediction_files_each_make_a_record(graph, logits, data_root, tmp_path, capsys):
    evaluator = Evaluator(graph, "bot", seed=0)
    test, val = evaluator.split.test, evaluator.split.val
    files = tmp_path / "files"
    files.mkdir()
    torch.save(logits.argmax(dim=1), files / "labels.pt")
    np.save(files / "scores.npy", logits.numpy())
    both = torch.cat([test, val])
    pd.DataFrame({"node": test.numpy(), "label": logits[test].argmax(dim=1).numpy()}).to_csv(
        files / "labels.csv", index=False)
    pd.DataFrame({"node": both.numpy(), "score_0": logits[both, 0].numpy(), "score_1": logits[both, 1].numpy()}
                 ).to_csv(files / "scores.csv", index=False)
    results = tmp_path / "results"
    for name in ("labels.pt", "scores.npy", "labels.csv", "scores.csv"):
        code, out, err = run_cli(["--task", "bot", "--seed", "0", "--name", "my-loop", "--predictions",
                                  str(files / name)], data_root, results, capsys)
        assert code == 0, err
        assert "f1_macro" in out and str(results) in out
    records = stored(results)
    assert len(records) == 4  # a different file is a different run
    for record in records:
        d = record["definition"]
        assert d["model"] == "my-loop" and d["model_kind"] == "external" and d["protocol"] == "standard"
        assert d["hyperparameters"] == {} and d["training"] == {} and d["seed"] == 0
        assert d["relations"] == ["followers", "friends"] and d["dataset_options"] == {**OPTIONS, "twin": 3}
        for key in ("train_time_s", "peak_memory_mb", "num_parameters", "best_epoch", "epochs_run"):
            assert record[key] is None
        for key in ("versions", "git_commit", "hardware", "timestamp"):
            assert key in record
        assert (results / f"{record['run_id']}.json").is_file()
    by_file = {r["definition"]["external"]["predictions"]: r for r in records}
    npy = by_file[hashlib.sha256((files / "scores.npy").read_bytes()).hexdigest()]
    csv = by_file[hashlib.sha256((files / "scores.csv").read_bytes()).hexdigest()]
    labels_csv = by_file[hashlib.sha256((files / "labels.csv").read_bytes()).hexdigest()]
    assert npy["definition"]["external"]["kind"] == "scores" == csv["definition"]["external"]["kind"]
    assert npy["metrics"]["test"] == evaluator.score(logits)
    assert npy["metrics"]["val"] == evaluator.score(logits, part="val")
    assert csv["metrics"]["test"] == pytest.approx(npy["metrics"]["test"])  # the CSV holds the same logits
    assert "val" in csv["metrics"] and "val" not in labels_csv["metrics"]  # val only where the file covers it


def test_a_prediction_file_is_scored_on_the_seed_asked_for(graph, logits, data_root, tmp_path, capsys):
    np.save(tmp_path / "scores.npy", logits.numpy())
    for seed in (0, 1):
        code, _, err = run_cli(["--task", "bot", "--seed", str(seed), "--name", "x", "--predictions",
                                str(tmp_path / "scores.npy")], data_root, tmp_path / "results", capsys)
        assert code == 0, err
    by_seed = {r["definition"]["seed"]: r["metrics"]["test"] for r in stored(tmp_path / "results")}
    assert by_seed == {s: Evaluator(graph, "bot", seed=s).score(logits) for s in (0, 1)}


class _RunsCode:
    """An object whose unpickling would create the file ``marker``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _csv(rows: dict) -> str:
    return pd.DataFrame(rows).to_csv(index=False, na_rep="nan")


def _bad_files(graph, split, logits, tmp_path):
    """(file name, content writer, expected message part, task): each a file the command must refuse."""
    n, test = graph.num_nodes, split.test.numpy()
    labels = logits.argmax(dim=1).numpy()

    def text(s):
        return lambda p: p.write_text(s)

    return {
        "missing test nodes": ("p.csv", text(_csv({"node": test[3:], "label": labels[test[3:]]})),
                               f"miss 3 of the {len(test)} test nodes", "bot"),
        "unknown node id": ("p.csv", text(_csv({"node": [*test, n], "label": [*labels[test], 0]})),
                            f"unknown node id(s) {n}", "bot"),
        "negative node id": ("p.csv", text(_csv({"node": [*test, -1], "label": [*labels[test], 0]})),
                             "unknown node id(s) -1", "bot"),
        "duplicate node id": ("p.csv", text(_csv({"node": [*test, test[0]], "label": [*labels[test], 0]})),
                              f"node id(s) {test[0]} appear more than once", "bot"),
        "node id not an integer": ("p.csv", text(_csv({"node": [*test[:-1], 1.5], "label": labels[test]})),
                                   "'1.5'", "bot"),
        "label not a number": ("p.csv", text(_csv({"node": test, "label": ["bot", *labels[test[1:]]]})),
                               "label 'bot' on line 2 is not a number", "bot"),
        "NaN score in a CSV": ("p.csv", text(_csv({"node": test, "score_0": [np.nan, *[0.5] * (len(test) - 1)],
                                                   "score_1": [0.5] * len(test)})), "NaN or infinite", "bot"),
        "inf in an array": ("p.npy", lambda p: np.save(p, np.where(np.arange(n)[:, None] == 7, np.inf,
                                                                   logits.numpy())), "first at node 7", "bot"),
        "non-integral labels": ("p.pt", lambda p: torch.save(torch.full((n,), 0.5), p), "non-integral", "bot"),
        "label out of range": ("p.pt", lambda p: torch.save(torch.full((n,), 2), p), "label 2 out of range", "bot"),
        "wrong class count": ("p.npy", lambda p: np.save(p, np.zeros((n, 3))), "3 score columns", "bot"),
        "wrong score columns": ("p.csv", text(_csv({"node": test, **{f"score_{c}": [0.1] * len(test)
                                                                     for c in range(3)}})),
                                "score columns for classes [0, 1, 2]", "bot"),
        "labels for a multi-label task": ("p.pt", lambda p: torch.save(torch.zeros(n, dtype=torch.long), p),
                                          "multi-label", "stance+bot"),
        "wrong shape": ("p.npy", lambda p: np.save(p, np.zeros((n, 2, 1))), "shape [", "bot"),
        "not one row per node": ("p.pt", lambda p: torch.save(torch.zeros(n - 1, dtype=torch.long), p),
                                 f"{n - 1} rows", "bot"),
        "empty file": ("p.csv", text(""), "empty", "bot"),
        "header only": ("p.csv", text("node,label\n"), "no rows", "bot"),
        "no node column": ("p.csv", text(_csv({"id": test, "label": labels[test]})), "no `node` column", "bot"),
        "unknown column": ("p.csv", text(_csv({"node": test, "label": labels[test], "x": 0})),
                           "unknown column(s) 'x'", "bot"),
        "label and scores": ("p.csv", text(_csv({"node": test, "label": 0, "score_0": 0.5, "score_1": 0.5})),
                             "both `label` and score columns", "bot"),
        "garbage .pt": ("p.pt", lambda p: p.write_bytes(b"\x00not a tensor file"), "not a readable tensor file",
                        "bot"),
        "a dict in .pt": ("p.pt", lambda p: torch.save({"pred": torch.zeros(n)}, p), "holds a dict", "bot"),
        "code in .pt": ("p.pt", lambda p: torch.save(_RunsCode(tmp_path / "ran"), p), "weights_only=True",
                        "bot"),
        "pickle in .npy": ("p.npy", lambda p: np.save(p, np.array([{"a": 1}] * n, dtype=object)),
                           "Python objects", "bot"),
        "not an .npy": ("p.npy", lambda p: p.write_bytes(pickle.dumps([0] * n)), "not a .npy array", "bot"),
        "unknown format": ("p.txt", text("0\n"), "unknown format '.txt'", "bot"),
        "no such file": ("absent.csv", lambda p: None, "not found", "bot"),
    }


BAD = ["missing test nodes", "unknown node id", "negative node id", "duplicate node id", "node id not an integer",
       "label not a number", "NaN score in a CSV", "inf in an array", "non-integral labels", "label out of range",
       "wrong class count", "wrong score columns", "labels for a multi-label task", "wrong shape",
       "not one row per node", "empty file", "header only", "no node column", "unknown column", "label and scores",
       "garbage .pt", "a dict in .pt", "code in .pt", "pickle in .npy", "not an .npy", "unknown format",
       "no such file"]


@pytest.mark.parametrize("case", BAD)
def test_bad_prediction_files_are_refused_in_one_line_and_write_nothing(case, graph, logits, data_root, tmp_path,
                                                                        capsys):
    cases = _bad_files(graph, ds.get_split(graph, "bot", 0), logits, tmp_path)
    assert sorted(cases) == sorted(BAD)
    name, write, message, task = cases[case]
    path = tmp_path / name
    write(path)
    code, out, err = run_cli(["--task", task, "--seed", "0", "--name", "mine", "--predictions", str(path)],
                             data_root, tmp_path / "results", capsys)
    assert code == 2 and out == ""
    assert err.startswith("mgbench: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "ran").exists()  # nothing in the file ran


def test_oversized_files_are_refused_before_reading(logits, data_root, tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "p.npy", logits.numpy())
    monkeypatch.setattr(predictions_module, "MAX_FILE_BYTES", 1024)
    code, _, err = run_cli(["--task", "bot", "--seed", "0", "--name", "mine", "--predictions",
                            str(tmp_path / "p.npy")], data_root, tmp_path / "results", capsys)
    assert code == 2 and "limit for prediction files" in err and not (tmp_path / "results").exists()


@pytest.mark.parametrize("args, message", [
    (["--name", "gcn"], "registered model's name"),
    (["--name", " padded"], "without surrounding spaces"),
    (["--name", "mine", "--relations", "followers,nope"], "unknown relation 'nope'"),
    (["--name", "mine", "--features", "nope"], "unknown feature recipe 'nope'"),
])
def test_bad_definitions_are_refused(args, message, logits, data_root, tmp_path, capsys):
    np.save(tmp_path / "p.npy", logits.numpy())
    code, _, err = run_cli(["--task", "bot", "--seed", "0", "--predictions", str(tmp_path / "p.npy"), *args],
                           data_root, tmp_path / "results", capsys)
    assert code == 2 and message in err and not (tmp_path / "results").exists()


def test_readme_own_loop_example_runs(graph, monkeypatch, capsys):
    """The README's loop, verbatim, on the tiny graph with a stand-in for the user's training."""
    import re
    import shlex

    from mgbench.cli import build_parser

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Your own training loop", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(FIXED_MODEL, namespace)
    monkeypatch.setattr(ds, "load", lambda name, **options: graph)
    exec(code, {"train_my_way": lambda data, split: namespace["Fixed"](data.num_features, 2, 2)})
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and all("'f1_macro'" in line for line in printed)
    command = re.search(r"```bash\n(mgbench evaluate .*?)\n```", section, re.S).group(1)
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert (args.dataset, args.task, args.seed) == ("mgtab-synthetic", "bot", 0)


def test_predictions_checked_for_another_graph_or_task_are_refused(graph, logits):
    from mgbench.benchmark import Predictions

    stance = Predictions.build(torch.zeros(graph.num_nodes, 3), ds.get_task("stance"), graph.num_nodes)
    with pytest.raises(PredictionError, match="task 'stance'"):
        Evaluator(graph, "topics", seed=0).score(stance)
    bot = Predictions.build(logits[:10], ds.get_task("bot"), 10)
    with pytest.raises(PredictionError, match="on 10 nodes"):
        Evaluator(graph, "bot", seed=0).score(bot)
    with pytest.raises(ValueError, match="unknown part 'tset'"):
        Evaluator(graph, "bot", seed=0).score(logits, part="tset")
