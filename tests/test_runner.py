"""The runner: user submissions, determinism, resume, shards, protocols and bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from mgbench.benchmark import ResultStore, RunSpec, compute_metrics, sweep
from mgbench.cli import main
from mgbench.datasets import get_task

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = ["--dataset", "mgtab-synthetic", "--dataset-option", "num_nodes=300", "--quiet"]


@pytest.fixture(scope="module")
def readme_model(tmp_path_factory) -> Path:
    """The README's custom GNN, copied verbatim into a file."""
    text = README.read_text()
    block = re.search(r"```python\n(# my_gnn\.py\n.*?)```", text, re.S).group(1)
    path = tmp_path_factory.mktemp("user") / "my_gnn.py"
    path.write_text(block)
    return path


def records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def test_readme_example_runs_as_a_submission(readme_model, data_root, tmp_path):
    code = main(["run", "--model", f"{readme_model}:MyGNN", "--task", "bot", "--seeds", "0",
                 "--set", "epochs=30", "--set", "hidden_channels=32", "--results", str(tmp_path),
                 "--root", str(data_root), *TINY])
    assert code == 0
    [rec] = records(tmp_path)
    d = rec["definition"]
    assert d["model_kind"] == "gnn" and d["hyperparameters"] == {"hidden_channels": 32}
    assert d["training"]["epochs"] == 30
    for key in ("accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc_macro", "f1_bot"):
        assert 0.0 <= rec["metrics"]["test"][key] <= 1.0
    assert rec["metrics"]["test"]["accuracy"] > 0.7305  # beats always predicting "human"
    for key in ("best_epoch", "train_time_s", "peak_memory_mb", "num_parameters", "versions", "hardware",
                "timestamp", "git_commit"):
        assert key in rec
    assert rec["run_id"] == Path(next(tmp_path.glob("*.json"))).stem


def _spec(model: str, seed: int = 0, **kw) -> RunSpec:
    return RunSpec(dataset="mgtab-synthetic", task=kw.pop("task", "stance"), model=model, seed=seed,
                   dataset_options={"num_nodes": 300}, **kw)


def test_seeded_run_is_deterministic(readme_model, data_root, tmp_path):
    spec = _spec(f"{readme_model}:MyGNN", seed=3, training={"epochs": 15})
    a = sweep([spec], ResultStore(tmp_path / "a"), root=data_root, progress=False)[0]
    b = sweep([spec], ResultStore(tmp_path / "b"), root=data_root, progress=False)[0]
    assert a["metrics"] == b["metrics"] and a["best_epoch"] == b["best_epoch"]
    c = sweep([_spec(f"{readme_model}:MyGNN", seed=4, training={"epochs": 15})], ResultStore(tmp_path / "c"),
              root=data_root, progress=False)[0]
    assert c["run_id"] != a["run_id"]


def test_existing_records_are_skipped(data_root, tmp_path):
    store = ResultStore(tmp_path)
    specs = [_spec("logistic-regression", seed=s) for s in range(3)]
    assert len(sweep(specs, store, root=data_root, progress=False)) == 3
    assert sweep(specs, store, root=data_root, progress=False) == []


def test_shard_union_equals_full_sweep(data_root, tmp_path):
    specs = [_spec("logistic-regression", seed=s, task=t) for s in range(4) for t in ("stance", "bot")]
    full = {r["run_id"] for r in sweep(specs, ResultStore(tmp_path / "full"), root=data_root, progress=False)}
    shards = [{r["run_id"] for r in sweep(specs, ResultStore(tmp_path / f"s{i}"), root=data_root,
                                          shard=(i, 3), progress=False)} for i in range(3)]
    assert set().union(*shards) == full and sum(map(len, shards)) == len(full) == 8


def test_jobs_run_the_same_records_in_worker_processes(data_root, tmp_path):
    """``--jobs 2``: every run once, each record written whole, numbers equal to a one-thread sweep."""
    specs = [_spec(m, seed=s, training={"epochs": 5}) for m in ("gcn", "logistic-regression") for s in (0, 1)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' setting, so the two sweeps do the same arithmetic
    try:
        serial = sweep(specs, ResultStore(tmp_path / "serial"), root=data_root, progress=False)
    finally:
        torch.set_num_threads(threads)
    parallel = sweep(specs, ResultStore(tmp_path / "jobs"), root=data_root, progress=False, jobs=2)
    assert sorted(r["run_id"] for r in parallel) == sorted(r["run_id"] for r in serial)
    stored = {r["run_id"]: r for r in records(tmp_path / "jobs")}
    assert len(stored) == 4
    for record in serial:
        assert stored[record["run_id"]]["metrics"] == record["metrics"]
    assert sweep(specs, ResultStore(tmp_path / "jobs"), root=data_root, progress=False, jobs=2) == []
    with pytest.raises(ValueError, match="--jobs"):
        sweep(specs, ResultStore(tmp_path / "none"), root=data_root, progress=False, jobs=0)


SLOW_MODEL = '''
import time, torch
class Slow(torch.nn.Module):
    def __init__(self, in_channels, num_classes, num_relations):
        super().__init__()
        self.classifier = torch.nn.Linear(in_channels, num_classes)
    def forward(self, x, edge_index, edge_type):
        time.sleep(0.02)
        return self.classifier(x)
'''


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] not in "ZX"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG is Linux's")
def test_workers_of_a_killed_sweep_end_with_it(data_root, tmp_path):
    """`--jobs 2` trains in child processes; SIGKILL of the sweep (a scheduler's limit, `kill -9`)
    must not leave them training on: each ends within seconds, and nothing half-written is left."""
    model = tmp_path / "slow.py"
    model.write_text(SLOW_MODEL)
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "mgbench", "run", "--model", f"{model}:Slow", "--task", "bot", "--seeds", "0-3",
           "--set", "epochs=5000", "--set", "patience=10000", "--jobs", "2", "--results", str(results),
           "--root", str(data_root), *TINY]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline, workers = time.time() + 180, []
    while time.time() < deadline and len(workers) < 2:
        workers = [int(p) for p in children.read_text().split()] if children.exists() else []
        time.sleep(0.1)
    assert len(workers) >= 2, "the sweep never started its workers"
    time.sleep(5)  # the workers have imported the runner and are training
    proc.kill()
    proc.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)
    assert not list(results.glob("*"))  # no run finished, and none left a partial record


def test_killed_sweep_resumes_without_duplicates_or_loss(data_root, tmp_path):
    model = tmp_path / "slow.py"
    model.write_text(SLOW_MODEL)
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "mgbench", "run", "--model", f"{model}:Slow", "--task", "bot", "--seeds", "0-3",
           "--set", "epochs=40", "--set", "patience=100", "--results", str(results), "--root", str(data_root), *TINY]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(results.glob("*.json"))) < 1:
        time.sleep(0.05)
    proc.kill()  # SIGKILL: no cleanup runs
    proc.wait()
    first = {p.name: p.read_bytes() for p in results.glob("*.json")}
    assert 1 <= len(first) < 4
    for blob in first.values():
        json.loads(blob)  # every record on disk is complete
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    final = records(results)
    assert len(final) == 4 and len({r["run_id"] for r in final}) == 4
    assert sorted(r["definition"]["seed"] for r in final) == [0, 1, 2, 3]
    for name, blob in first.items():
        assert (results / name).read_bytes() == blob  # finished runs were not redone


def test_reference_protocol_is_recorded_and_differs(readme_model, data_root, tmp_path):
    std = _spec(f"{readme_model}:MyGNN", training={"epochs": 10})
    ref = _spec(f"{readme_model}:MyGNN", training={"epochs": 10}, protocol="reference")
    a, b = sweep([std, ref], ResultStore(tmp_path), root=data_root, progress=False)
    assert a["definition"]["protocol"] == "standard" and b["definition"]["protocol"] == "reference"
    assert b["epochs_run"] == 10 and a["run_id"] != b["run_id"]


def test_reference_metrics_swap_precision_and_recall():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 0, 0, 0, 1, 0, 2])
    proba = np.eye(3)[pred]
    task = get_task("stance")
    ours, theirs = compute_metrics(y, proba, task), compute_metrics(y, proba, task, swap_truth=True)
    assert ours["precision_macro"] == pytest.approx(theirs["recall_macro"])
    assert ours["recall_macro"] == pytest.approx(theirs["precision_macro"])
    assert ours["precision_macro"] != pytest.approx(ours["recall_macro"])



@pytest.mark.parametrize("task_name", ["stance", "bot", "stance+bot", "topics"])
@pytest.mark.parametrize("protocol", ["standard", "reference"])
def test_selection_score_is_the_metric_it_names(task_name, protocol):
    """Training scores each epoch with ``selection_score``: it must equal the full metric the protocol names."""
    from mgbench.benchmark.metrics import selection_score
    from mgbench.benchmark.protocol import get_protocol

    protocol = get_protocol(protocol)

    task = get_task(task_name)
    rng = np.random.default_rng(3)
    n, c = 200, task.num_outputs
    if task.multilabel:
        y = (rng.random((n, c)) < 0.3).astype(np.int64)
        proba = rng.random((n, c))
    else:
        y = rng.integers(0, c, n)
        proba = rng.dirichlet(np.ones(c), n)
    swap = protocol.swaps_truth("gcn", "gnn")
    full = compute_metrics(y, proba, task, swap_truth=swap)[protocol.selection_metric(task)]
    assert selection_score(y, proba, task, protocol.select_on_accuracy) == pytest.approx(full, abs=1e-12)


BROKEN_IMPORT = "import not_a_module_anywhere\n"
BROKEN_BUILD = '''
import torch
class Bad(torch.nn.Module):
    def __init__(self, in_channels, num_classes, num_relations):
        raise RuntimeError("boom")
'''


@pytest.mark.parametrize("args, message", [
    (["--dataset", "nope", "--task", "bot", "--model", "gcn"], "unknown dataset 'nope'"),
    (["--dataset", "mgtab-synthetic", "--task", "sentiment", "--model", "svm"], "unknown task 'sentiment'"),
    (["--dataset", "mgtab-synthetic", "--task", "bot", "--model", "svm", "--relations", "likes"],
     "unknown relation 'likes'"),
    (["--dataset", "mgtab-synthetic", "--task", "bot", "--model", "no-such-model"], "unknown model 'no-such-model'"),
    (["--dataset", "mgtab-synthetic", "--task", "bot", "--model", "svm", "--set", "depth=3"],
     "takes no hyperparameter depth"),
    (["--dataset", "mgtab-synthetic", "--task", "bot", "--model", "{broken_import}:X"], "could not import"),
    (["--dataset", "mgtab-synthetic", "--task", "bot", "--model", "{broken_build}:Bad"], "failed to build: RuntimeError: boom"),
    (["--dataset", "mgtab-synthetic", "--task", "bot", "--model", "{missing}:X"], "does not exist"),
])
def test_bad_input_is_one_clear_line_and_writes_nothing(args, message, tmp_path, data_root, capsys):
    (tmp_path / "broken_import.py").write_text(BROKEN_IMPORT)
    (tmp_path / "broken_build.py").write_text(BROKEN_BUILD)
    args = [a.format(broken_import=tmp_path / "broken_import.py", broken_build=tmp_path / "broken_build.py",
                     missing=tmp_path / "missing.py") for a in args]
    results = tmp_path / "results"
    code = main(["run", *args, "--seeds", "0", "--dataset-option", "num_nodes=300", "--set", "epochs=2",
                 "--root", str(data_root), "--results", str(results), "--quiet"]
                if "epochs" not in " ".join(args) else [])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert not list(results.glob("*.json"))


def test_suite_narrowed_by_model_and_seeds(data_root, tmp_path, capsys):
    """`--suite S --model a --seeds k` runs the suite's runs of model a on seed k, and nothing else."""
    suite = tmp_path / "two.yaml"
    suite.write_text("seeds: 0-1\ndatasets: [{name: mgtab-synthetic, options: {num_nodes: 300}}]\n"
                     "tasks: [bot]\nmodels: [logistic-regression, decision-tree]\n")
    results = tmp_path / "results"
    base = ["run", "--suite", str(suite), "--root", str(data_root), "--results", str(results), "--quiet"]
    assert main(base + ["--model", "decision-tree", "--seeds", "3"]) == 0
    runs = [(r["definition"]["model"], r["definition"]["seed"]) for r in records(results)]
    assert runs == [("decision-tree", 3)]
    assert main(base + ["--model", "gcn"]) == 2
    assert "the suite has no model 'gcn'; it has logistic-regression, decision-tree" in capsys.readouterr().err
    assert len(records(results)) == 1


def test_early_stopping_waits_for_min_epochs():
    """A model on the majority-class plateau is not stopped before ``min_epochs``."""
    from mgbench.benchmark.protocol import STANDARD
    from mgbench.benchmark.train import EpochSelector, FitResult

    task = get_task("bot")
    y = np.array([0] * 7 + [1] * 3)
    plateau = np.tile([0.9, 0.1], (10, 1))          # predicts the majority class: F1 cannot improve
    learned = np.eye(2)[y] * 0.8 + 0.1              # from epoch 41 on, every node right

    def stops_at(min_epochs: int) -> tuple[int, int]:
        selector = EpochSelector(FitResult(0, {}, {}, 0), task, y, y, STANDARD)
        for epoch in range(200):
            selector.update(epoch, learned if epoch >= 40 else plateau, plateau)
            if selector.should_stop(30, min_epochs):
                break
        return selector.result.epochs_run, selector.result.best_epoch

    assert stops_at(0) == (31, 1)                   # patience alone gives up on the plateau
    assert stops_at(100) == (100, 41)


def test_min_epochs_zero_is_recorded_as_absent(data_root, tmp_path):
    """The default (100) is recorded; 0 is written as absent, the definition of runs made before it
    existed, so their stored ids still match -- and a run read back without it stops by patience alone."""
    base = ["run", "--dataset", "mgtab-synthetic", "--dataset-option", "num_nodes=300", "--task", "bot",
            "--model", "gcn", "--seeds", "0", "--set", "epochs=6", "--set", "patience=1", "--set", "lr=0",
            "--root", str(data_root), "--quiet"]          # lr 0: validation F1 never improves after epoch 1
    assert main(base + ["--results", str(tmp_path / "default")]) == 0
    assert main(base + ["--set", "min_epochs=0", "--results", str(tmp_path / "zero")]) == 0
    (default,), (zero,) = records(tmp_path / "default"), records(tmp_path / "zero")
    assert default["definition"]["training"]["min_epochs"] == 100 and default["epochs_run"] == 6
    assert "min_epochs" not in zero["definition"]["training"] and zero["epochs_run"] == 2
