"""Tuning: search spaces at registration, deterministic studies, validation-only selection,
resume after a kill, several processes on one storage, and bad input before any training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import sqlalchemy
import pytest

import mgbench.datasets as ds
from mgbench.benchmark import ResultStore, RunSpec, tuning
from mgbench.benchmark.tuning import Target, TuneOptions, tune
from mgbench.cli import main
from mgbench.registry import Choice, IntRange, LogUniform, Uniform, register_model

REPO = Path(__file__).resolve().parents[1]
FAST = {"epochs": 8, "min_epochs": 0, "patience": 100}

# A user's model with its own search space, declared with the public API and found by file path.
USER_MODEL = '''
import time, torch
from mgbench.registry import IntRange, LogUniform, register_model

@register_model("tuning-test-slow", kind="gnn", defaults={"width": 8},
                search_space={"lr": LogUniform(1e-3, 1e-1), "width": IntRange(4, 16)})
class Slow(torch.nn.Module):
    def __init__(self, in_channels, num_classes, num_relations, width=8):
        super().__init__()
        self.hidden = torch.nn.Linear(in_channels, width)
        self.classifier = torch.nn.Linear(width, num_classes)
    def forward(self, x, edge_index, edge_type):
        time.sleep(SLEEP)
        return self.classifier(self.hidden(x).relu())
'''


def user_model(folder: Path, sleep: float = 0.0, name: str = "slow.py") -> str:
    path = folder / name
    path.write_text(USER_MODEL.replace("SLEEP", repr(sleep)))
    return f"{path}:Slow"


def target(model: str, seeds=(0,), **training) -> Target:
    spec = RunSpec(dataset="mgtab-synthetic", task="bot", model=model, dataset_options={"num_nodes": 300},
                   training={**FAST, **training})
    return Target(spec, tuple(seeds))


def trials_of(storage: str, name: str | None = None) -> list[optuna.trial.FrozenTrial]:
    storage_obj = tuning.open_storage(storage, ".")
    names = [s.study_name for s in optuna.get_all_study_summaries(storage_obj)]
    study = optuna.load_study(study_name=name or names[0], storage=storage_obj)
    return study.get_trials()


def cli(*args: str, root: Path, results: Path) -> list[str]:
    return [sys.executable, "-m", "mgbench", "tune", *args, "--dataset", "mgtab-synthetic",
            "--dataset-option", "num_nodes=300", "--task", "bot", "--root", str(root), "--results", str(results)]


# -- search spaces ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: LogUniform(0, 1e-2), "LogUniform needs 0 < low < high"),
    (lambda: LogUniform(1e-2, 1e-3), "LogUniform needs 0 < low < high"),
    (lambda: Uniform(0.5, 0.5), "Uniform needs low < high"),
    (lambda: Uniform(0.0, float("nan")), "must be a finite number"),
    (lambda: IntRange(1, 10, step=4), "step must be >= 1 and divide high - low"),
    (lambda: IntRange(0, 64, log=True), "log=True) needs step 1 and low >= 1"),
    (lambda: IntRange(1.0, 4), "IntRange low must be an int"),
    (lambda: Choice([64]), "at least two distinct values"),
    (lambda: Choice([1, 1]), "at least two distinct values"),
    (lambda: Choice([[256], [128, 128]]), "Choice values must be None, bool, int, float or str"),
    (lambda: Choice("abc"), "Choice takes a list of values"),
])
def test_bad_dimension_is_refused_at_declaration(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_bad_search_space_is_refused_at_registration():
    with pytest.raises(ValueError, match=r"search-space entry 'lr' is \(0.0001, 0.01\); give one of LogUniform"):
        register_model("tuning-test-bad", kind="gnn", search_space={"lr": (1e-4, 1e-2)})
    with pytest.raises(ValueError, match="search_space must be a dict"):
        register_model("tuning-test-bad", kind="gnn", search_space=[LogUniform(1e-4, 1e-2)])


BASELINE_NAMES = {"adaboost", "random-forest", "decision-tree", "svm", "knn", "logistic-regression", "mlp",
                  "gcn", "gat", "graphsage", "rgcn", "botrgcn", "hgt", "simple-hgn", "rgt",
                  "rf-gnn", "sebot", "os-gnn", "botmoe"}


def test_every_baseline_declares_a_space_of_names_it_takes(capsys):
    from mgbench.benchmark import registered_models

    baselines = [s for s in registered_models().values()  # not the models other tests registered
                 if s.name in BASELINE_NAMES]
    assert len(baselines) == len(BASELINE_NAMES)
    for spec in baselines:
        space = tuning.check_search_space(spec)  # raises on a key the model does not take
        if spec.kind == "gnn":
            assert {"lr", "weight_decay", "dropout"} <= set(space), spec.name
            assert {"hidden_channels", "expert_hidden"} & set(space), spec.name  # a hidden size
    assert main(["models", "gat"]) == 0
    out = capsys.readouterr().out
    assert "search space (mgbench tune):\n  lr: log-uniform [0.0001, 0.01]" in out
    assert "  heads: one of 1, 2, 4, 8" in out


def test_unknown_search_space_key_is_one_clear_line_before_anything_trains(tmp_path, data_root, capsys,
                                                                          monkeypatch):
    model = tmp_path / "odd.py"
    model.write_text(USER_MODEL.replace("SLEEP", "0").replace('"tuning-test-slow"', '"tuning-test-odd"')
                     .replace('"width": IntRange(4, 16)', '"depth": IntRange(1, 4)'))
    monkeypatch.setattr(tuning, "execute", lambda *a, **k: pytest.fail("trained before the error"))
    code = main(["tune", "--model", f"{model}:Slow", "--dataset", "mgtab-synthetic", "--dataset-option",
                 "num_nodes=300", "--task", "bot", "--trials", "2", "--root", str(data_root),
                 "--results", str(tmp_path / "results"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert ("model 'tuning-test-odd': search-space key 'depth' is neither a hyperparameter nor a tunable "
            "training setting; it accepts: width, lr (training), weight_decay (training)") in err
    assert not (tmp_path / "results").exists()  # not even the study's database


@pytest.mark.parametrize("storage, message", [
    ("foo://somewhere/db", "is not a storage Optuna can use"),
    ("results/tuning.db", "is not a storage Optuna can use"),
    ("journal:///tmp/no-suffix", "needs a file name ending in .log"),
    ("postgresql://user:secret@127.0.0.1:1/db", "cannot open it"),
])
def test_unknown_storage_is_one_clear_line_before_anything_trains(storage, message, tmp_path, data_root, capsys,
                                                                  monkeypatch):
    monkeypatch.setattr(tuning, "execute", lambda *a, **k: pytest.fail("trained before the error"))
    code = main(["tune", "--model", "gcn", "--dataset", "mgtab-synthetic", "--dataset-option", "num_nodes=300",
                 "--task", "bot", "--trials", "2", "--storage", storage, "--root", str(data_root),
                 "--results", str(tmp_path / "results"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert "secret" not in err  # a password in a URL is never printed


# -- the search --------------------------------------------------------------------------------------------------

def test_tiny_study_is_deterministic_for_a_fixed_sampler_seed(tmp_path, data_root):
    def study(folder: str, sampler_seed: int) -> list[tuple]:
        options = TuneOptions(trials=4, sampler_seed=sampler_seed, pruner="median")
        [outcome] = tune([target("gcn")], ResultStore(tmp_path / folder), options, root=data_root,
                         progress=False, search_only=True)
        assert outcome.trials == 4 and outcome.records == []
        return [(t.number, t.state, t.params, t.value) for t in trials_of(f"sqlite:///{tmp_path / folder}/tuning.db")]

    first = study("a", 0)
    assert len(first) == 4 and all(t[1] == optuna.trial.TrialState.COMPLETE for t in first)
    assert study("b", 0) == first
    assert [t[2] for t in study("c", 1)] != [t[2] for t in first]  # the seed is what fixes it


class CountingSplit:
    """A split that counts reads of its test indices."""

    reads = 0

    def __init__(self, split):
        self._split = split

    train = property(lambda self: self._split.train)
    val = property(lambda self: self._split.val)

    @property
    def test(self):
        CountingSplit.reads += 1
        return self._split.test


def test_the_search_never_reads_the_test_split_and_tuned_records_say_so(tmp_path, data_root, monkeypatch):
    real = ds.get_split
    CountingSplit.reads = 0
    monkeypatch.setattr(ds, "get_split", lambda *a, **k: CountingSplit(real(*a, **k)))
    store = ResultStore(tmp_path / "results")
    options = TuneOptions(trials=3, pruner="none")
    outcomes = tune([target("gcn", seeds=(0, 1)), target("logistic-regression", seeds=(0, 1))], store, options,
                    root=data_root, progress=False, search_only=True)
    assert CountingSplit.reads == 0
    for outcome in outcomes:
        assert outcome.trials == 3 and 0.0 < outcome.best_value <= 1.0
    # The final runs score test as ever (so the counter works), and carry how they were chosen.
    outcomes = tune([target("gcn", seeds=(0, 1))], store, options, root=data_root, progress=False)
    assert CountingSplit.reads > 0
    records = outcomes[0].records
    assert sorted(r["definition"]["seed"] for r in records) == [0, 1]
    for record in records:
        d = record["definition"]
        assert d["tuning"] == {"study": outcomes[0].study, "sampler": "tpe", "pruner": "none",
                               "budget": {"trials": 3, "timeout_s": None}, "trials": 3, "search_seeds": [0],
                               "selected_on": "val"}
        chosen = outcomes[0].best_params
        assert d["training"]["lr"] == chosen["lr"] and d["hyperparameters"]["dropout"] == chosen["dropout"]
        assert record["metrics"]["test"]["f1_macro"] > 0
    # The selected trial's value is seed 0's validation macro F1 of the tuned run.
    assert next(r for r in records if r["definition"]["seed"] == 0)["metrics"]["val"]["f1_macro"] == \
        pytest.approx(outcomes[0].best_value)


def test_only_tuned_runs_record_tuning(data_root):
    from dataclasses import replace

    from mgbench.benchmark import run_id
    from mgbench.benchmark.runner import DataCache, prepare

    cache = DataCache(data_root)
    spec = RunSpec(dataset="mgtab-synthetic", task="bot", model="gcn", dataset_options={"num_nodes": 300})
    plain = prepare(spec, cache).definition
    tuned = prepare(replace(spec, tuning={"study": "s", "trials": 3}), cache).definition
    assert "tuning" not in plain  # so the ids of every record made before tuning existed stay valid
    assert tuned["tuning"] == {"study": "s", "trials": 3} and run_id(tuned) != run_id(plain)


def test_pruning_stops_trials_that_fall_behind(tmp_path, data_root):
    options = TuneOptions(trials=10, pruner="median", sampler_seed=3)
    model = target("gcn", epochs=tuning.WARMUP_EPOCHS + 10)
    tune([model], ResultStore(tmp_path), options, root=data_root, progress=False, search_only=True)
    trials = trials_of(f"sqlite:///{tmp_path}/tuning.db")
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(trials) == 10 and pruned
    for t in pruned:  # never inside the warm-up, always on a reported validation score
        assert tuning.WARMUP_EPOCHS <= t.user_attrs["pruned_at_epoch"] == t.last_step


# -- resume and several processes -------------------------------------------------------------------------------

def finished(trials) -> list:
    return [t for t in trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]


@pytest.mark.slow
def test_a_killed_search_loses_at_most_its_running_trial_and_resumes(tmp_path, data_root):
    storage = f"sqlite:///{tmp_path}/study.db"
    cmd = cli("--model", user_model(tmp_path, sleep=0.02), "--trials", "6", "--set", "epochs=10",
              "--set", "min_epochs=0", "--storage", storage, "--search-only", "--quiet",
              root=data_root, results=tmp_path / "results")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline, before = time.time() + 180, []
    while time.time() < deadline and len(before) < 2:
        time.sleep(0.2)
        if (tmp_path / "study.db").exists():
            try:
                before = finished(trials_of(storage))
            except (KeyError, IndexError, optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError):
                pass  # the study (or the database itself) is being created
    os.kill(proc.pid, signal.SIGKILL)  # no cleanup runs
    proc.wait()
    assert 2 <= len(before) < 6, proc.stderr.read()
    before = finished(trials_of(storage))  # what the kill left, complete trials only
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    after = trials_of(storage)
    assert len(finished(after)) == 6  # the budget counts each finished trial once
    assert len(after) <= 7  # at most the killed process's running trial is lost
    by_number = {t.number: t for t in after}
    for t in before:  # finished trials were kept, not redone
        assert by_number[t.number].state == t.state and by_number[t.number].params == t.params


@pytest.mark.slow
def test_two_processes_share_one_sqlite_study(tmp_path, data_root):
    storage = f"sqlite:///{tmp_path}/shared.db"
    model = user_model(tmp_path, sleep=0.01)
    cmd = cli("--model", model, "--trials", "8", "--set", "epochs=10", "--set", "min_epochs=0", "--storage",
              storage, "--study", "shared", "--pruner", "none", "--search-only",
              root=data_root, results=tmp_path / "results")
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
    ran = [{int(line.split("(#")[1].split(")")[0]) for line in out.splitlines() if "(#" in line}
           for out, _ in outputs]
    trials = trials_of(storage, "shared")
    numbers = {t.number for t in finished(trials)}
    assert all(ran), outputs  # both processes searched
    assert not ran[0] & ran[1]  # no trial counted by both
    assert ran[0] | ran[1] == numbers == {t.number for t in trials}  # none lost, none left running
    assert 8 <= len(numbers) <= 9  # the budget, overshot by at most one trial per extra process


def test_a_reused_study_name_for_another_target_is_refused(tmp_path, data_root):
    store = ResultStore(tmp_path)
    options = TuneOptions(trials=1, study="mine", pruner="none")
    tune([target("logistic-regression")], store, options, root=data_root, progress=False, search_only=True)
    with pytest.raises(ValueError, match="study 'mine' in this storage searches another target"):
        tune([target("decision-tree")], store, options, root=data_root, progress=False, search_only=True)


def test_journal_file_storage_holds_a_study(tmp_path, data_root):
    log = tmp_path / "shared" / "tuning.log"
    options = TuneOptions(trials=2, storage=str(log), pruner="none")
    [outcome] = tune([target("logistic-regression")], ResultStore(tmp_path), options, root=data_root,
                     progress=False, search_only=True)
    assert outcome.trials == 2 and log.stat().st_size > 0
    assert len(finished(trials_of(f"journal://{log}"))) == 2


def test_suite_tunes_every_model_with_the_same_budget(tmp_path, data_root, capsys):
    suite = tmp_path / "two.yaml"
    suite.write_text("seeds: 0-1\ndatasets: [{name: mgtab-synthetic, options: {num_nodes: 300}}]\n"
                     "tasks: [bot]\nmodels: [logistic-regression, knn]\n")
    results = tmp_path / "results"
    assert main(["tune", "--suite", str(suite), "--trials", "2", "--root", str(data_root),
                 "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "logistic-regression.mgtab-synthetic.bot." in out and "trial 2 of 2" in out
    records = [json.loads(p.read_text()) for p in results.glob("*.json")]
    assert sorted((r["definition"]["model"], r["definition"]["seed"]) for r in records) == \
        [("knn", 0), ("knn", 1), ("logistic-regression", 0), ("logistic-regression", 1)]
    assert {r["definition"]["tuning"]["budget"]["trials"] for r in records} == {2}
