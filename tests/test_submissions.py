"""A researcher's own model: stable identity, the contract checked before training,
registration honoured however the model is found, embeddings by the documented route,
and a results folder that fails before training, not after."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mgbench.cli import main

from test_runner import SLOW_MODEL

TINY = ["--dataset", "mgtab-synthetic", "--dataset-option", "num_nodes=300", "--task", "bot", "--seeds", "0",
        "--quiet"]

MODEL = '''
import torch

class Net(torch.nn.Module):
    def __init__(self, in_channels, num_classes, num_relations, hidden_channels=16):
        super().__init__()
        self.hidden = torch.nn.Linear(in_channels, hidden_channels)
        self.classifier = torch.nn.Linear(hidden_channels, num_classes)

    def forward(self, x, edge_index, edge_type):
        return self.classifier(self.hidden(x).relu()){EXTRA}
'''


def write_model(folder: Path, extra: str = "", name: str = "net.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(MODEL.replace("{EXTRA}", extra))
    return path


def run(args: list[str], data_root: Path, results: Path, capsys=None) -> tuple[int, str]:
    code = main(["run", *TINY, "--set", "epochs=3", "--root", str(data_root), "--results", str(results), *args])
    err = capsys.readouterr().err if capsys is not None else ""
    return code, err


def stored(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


# -- identity ---------------------------------------------------------------------------------------------------

def test_editing_the_model_file_makes_a_new_run(data_root, tmp_path):
    model = write_model(tmp_path / "user")
    assert run(["--model", f"{model}:Net"], data_root, tmp_path / "r")[0] == 0
    write_model(tmp_path / "user", extra="  # edited")
    assert run(["--model", f"{model}:Net"], data_root, tmp_path / "r")[0] == 0
    first, second = stored(tmp_path / "r")
    assert first["definition"]["model_source"] != second["definition"]["model_source"]
    assert {first["definition"]["model"], second["definition"]["model"]} == {"net.py:Net"}


def test_same_code_from_any_folder_or_spelling_is_the_same_run(data_root, tmp_path, monkeypatch):
    a = write_model(tmp_path / "a")
    b = write_model(tmp_path / "elsewhere" / "deeper")
    assert run(["--model", f"{a}:Net"], data_root, tmp_path / "r")[0] == 0
    [record] = stored(tmp_path / "r")
    for ref in (f"{b}:Net", "./net.py:Net", "net.py:Net"):
        monkeypatch.chdir(b.parent if ref != f"{b}:Net" else tmp_path)
        assert run(["--model", ref], data_root, tmp_path / "r")[0] == 0
        assert len(stored(tmp_path / "r")) == 1  # already stored: nothing new trained
    text = json.dumps(record)
    assert str(tmp_path) not in text and str(Path.home()) + "/" not in text.replace(str(data_root), "")


def test_force_reruns_and_replaces(data_root, tmp_path, capsys):
    model = write_model(tmp_path / "user")
    assert run(["--model", f"{model}:Net"], data_root, tmp_path / "r", capsys)[0] == 0
    code, _ = run(["--model", f"{model}:Net"], data_root, tmp_path / "r")
    assert "already stored (--force runs them again)" in capsys.readouterr().out
    path = next((tmp_path / "r").glob("*.json"))
    before = json.loads(path.read_text())["timestamp"]
    time.sleep(1.1)
    assert run(["--model", f"{model}:Net", "--force"], data_root, tmp_path / "r")[0] == 0
    assert "1 run(s) written" in capsys.readouterr().out
    assert len(stored(tmp_path / "r")) == 1 and json.loads(path.read_text())["timestamp"] != before


# -- the contract, checked before training ------------------------------------------------------------------------

CONTRACT_MISTAKES = {
    "wrong number of rows": ("return self.classifier(self.hidden(x).relu())[:5]", "shape [5, 2]"),
    "wrong number of classes": ("return torch.cat([self.classifier(self.hidden(x).relu())] * 2, dim=1)",
                                "shape [256, 4]"),
    "integer output": ("return self.classifier(self.hidden(x).relu()).argmax(1)", "torch.int64"),
    "not a tensor": ("return {'logits': self.classifier(self.hidden(x))}", "forward returned dict"),
}


@pytest.mark.parametrize("mistake", sorted(CONTRACT_MISTAKES))
def test_forward_mistakes_are_named_before_training(mistake, data_root, tmp_path, capsys):
    body, expected = CONTRACT_MISTAKES[mistake]
    source = MODEL.replace("return self.classifier(self.hidden(x).relu()){EXTRA}", body)
    (tmp_path / "bad.py").write_text(source)
    code, err = run(["--model", f"{tmp_path / 'bad.py'}:Net"], data_root, tmp_path / "r", capsys)
    assert code == 2 and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert stored(tmp_path / "r") == []


def test_forward_with_two_arguments_is_named(data_root, tmp_path, capsys):
    source = MODEL.replace("def forward(self, x, edge_index, edge_type):", "def forward(self, x, edge_index):")
    (tmp_path / "two.py").write_text(source.replace("{EXTRA}", ""))
    code, err = run(["--model", f"{tmp_path / 'two.py'}:Net"], data_root, tmp_path / "r", capsys)
    assert code == 2 and "forward(x, edge_index, edge_type)" in err and stored(tmp_path / "r") == []


def test_a_constructor_with_other_names_is_refused(data_root, tmp_path, capsys):
    (tmp_path / "sig.py").write_text(
        "import torch\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self, num_features, hidden, out_dim):\n"
        "        super().__init__()\n"
        "        self.classifier = torch.nn.Linear(num_features, out_dim)\n"
        "    def forward(self, x, edge_index, edge_type):\n"
        "        return self.classifier(x)\n")
    code, err = run(["--model", f"{tmp_path / 'sig.py'}:Net"], data_root, tmp_path / "r", capsys)
    assert code == 2 and "must take in_channels, num_classes, num_relations by keyword" in err
    assert "num_features, hidden, out_dim" in err and stored(tmp_path / "r") == []


@pytest.mark.parametrize("setting, expected", [
    ("epochs=abc", "epochs='abc' is not an integer"),
    ("epochs=0", "epochs=0 must lie in [1, 100000]"),
    ("epochs=1e12", "epochs=1000000000000 must lie in [1, 100000]"),
    ("lr=nan", "lr=nan is not a finite number"),
    ("hidden_channels=abc", "hidden_channels='abc' is not an integer (default 16)"),
    ("hidden_channels=2.5", "hidden_channels=2.5 is not an integer"),
])
def test_bad_set_values_are_refused_with_key_value_and_type(setting, expected, data_root, tmp_path, capsys):
    model = write_model(tmp_path / "user")
    code, err = run(["--model", f"{model}:Net", "--set", setting], data_root, tmp_path / "r", capsys)
    assert code == 2 and expected in err and stored(tmp_path / "r") == []


def test_set_values_take_their_defaults_type(data_root, tmp_path):
    model = write_model(tmp_path / "user")
    assert run(["--model", f"{model}:Net", "--set", "hidden_channels=8.0"], data_root, tmp_path / "r")[0] == 0
    [record] = stored(tmp_path / "r")
    assert record["definition"]["hyperparameters"] == {"hidden_channels": 8}


def test_a_models_own_lr_is_its_hyperparameter(data_root, tmp_path):
    source = MODEL.replace("hidden_channels=16):", "hidden_channels=16, lr=0.5):").replace("{EXTRA}", "")
    (tmp_path / "lr.py").write_text(source)
    assert run(["--model", f"{tmp_path / 'lr.py'}:Net", "--set", "lr=0.25"], data_root, tmp_path / "r")[0] == 0
    [record] = stored(tmp_path / "r")
    assert record["definition"]["hyperparameters"]["lr"] == 0.25
    assert record["definition"]["training"]["lr"] == 0.001


def test_a_bad_feature_model_setting_fails_before_training(data_root, tmp_path, capsys):
    code, err = run(["--model", "logistic-regression", "--set", "C=-1.0"], data_root, tmp_path / "r", capsys)
    assert code == 2 and "failed a test fit" in err and stored(tmp_path / "r") == []


# -- registration honoured however the model is found -------------------------------------------------------------

REGISTERED = '''
import torch
from mgbench.registry import register_model

@register_model("my-registered-gnn", kind="gnn", defaults={"hidden_channels": 12})
class Registered(torch.nn.Module):
    def __init__(self, in_channels, num_classes, num_relations, hidden_channels=99):
        super().__init__()
        self.hidden = torch.nn.Linear(in_channels, hidden_channels)
        self.classifier = torch.nn.Linear(hidden_channels, num_classes)

    def forward(self, x, edge_index, edge_type):
        return self.classifier(self.hidden(x).relu())


class Child(Registered):
    """Not registered itself: its parent's registration must not apply to it."""
'''


def test_registration_applies_to_a_file_reference(data_root, tmp_path):
    (tmp_path / "reg.py").write_text(REGISTERED)
    assert run(["--model", f"{tmp_path / 'reg.py'}:Registered"], data_root, tmp_path / "r")[0] == 0
    [record] = stored(tmp_path / "r")
    d = record["definition"]
    assert d["model"] == "my-registered-gnn" and d["hyperparameters"] == {"hidden_channels": 12}
    assert "model_source" in d  # a user's code is hashed even when registered
    from mgbench.benchmark import resolve_model

    child = resolve_model(f"{tmp_path / 'reg.py'}:Child")
    assert child.name == "reg.py:Child" and child.defaults == {"hidden_channels": 99}


@pytest.fixture
def installed_entry_point(throwaway_package):
    """A throwaway installed package exposing a model under the ``mgbench.models`` group."""
    throwaway_package("throwaway_models", REGISTERED.replace("my-registered-gnn", "throwaway-gnn"),
                      "mgbench.models", "throwaway = throwaway_models:Registered")
    return "throwaway"


def test_entry_point_models_are_listed_and_keep_their_registration(installed_entry_point, data_root, tmp_path,
                                                                    capsys):
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert "throwaway" in listing and "hidden_channels=12" in listing
    assert run(["--model", installed_entry_point], data_root, tmp_path / "r")[0] == 0
    [record] = stored(tmp_path / "r")
    assert record["definition"]["hyperparameters"] == {"hidden_channels": 12}


# -- embeddings for the auxiliary losses --------------------------------------------------------------------------

PAIR = '''
import torch

class Pair(torch.nn.Module):
    """No `classifier`; its last registered Linear is not its last called one."""
    def __init__(self, in_channels, num_classes, num_relations):
        super().__init__()
        self.head = torch.nn.Linear(8, num_classes)
        self.body = torch.nn.Linear(in_channels, 8)

    def forward(self, x, edge_index, edge_type):
        z = self.body(x).relu()
        return {RETURN}
'''


def test_embeddings_come_from_a_logits_embeddings_pair(data_root, tmp_path):
    (tmp_path / "pair.py").write_text(PAIR.replace("{RETURN}", "self.head(z), z"))
    args = ["--model", f"{tmp_path / 'pair.py'}:Pair", "--aux-loss", "supcon"]
    assert run(args, data_root, tmp_path / "r")[0] == 0
    [record] = stored(tmp_path / "r")
    assert record["definition"]["aux_loss"] == "supcon" and record["metrics"]["test"]


def test_no_guessing_of_embeddings(data_root, tmp_path, capsys):
    (tmp_path / "pair.py").write_text(PAIR.replace("{RETURN}", "self.head(z)"))
    args = ["--model", f"{tmp_path / 'pair.py'}:Pair", "--aux-loss", "supcon"]
    code, err = run(args, data_root, tmp_path / "r", capsys)
    assert code == 2 and "exposes no node embeddings" in err and stored(tmp_path / "r") == []
    assert run(["--model", f"{tmp_path / 'pair.py'}:Pair"], data_root, tmp_path / "r")[0] == 0  # no aux: fine


# -- the result store ---------------------------------------------------------------------------------------------

def test_results_that_cannot_be_written_fail_before_training(data_root, tmp_path, capsys):
    model = write_model(tmp_path / "user")
    afile = tmp_path / "afile"
    afile.write_text("")
    code, err = run(["--model", f"{model}:Net"], data_root, afile, capsys)
    assert code == 2 and "is a file" in err
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, err = run(["--model", f"{model}:Net"], data_root, locked, capsys)
        assert code == 2 and "not writable" in err


@pytest.mark.parametrize("content", ["", "{", '{"definition": {}, "metrics": {"test": {}}}', "[]"])
def test_an_empty_or_corrupt_record_is_run_again(content, data_root, tmp_path, capsys):
    model = write_model(tmp_path / "user")
    assert run(["--model", f"{model}:Net"], data_root, tmp_path / "r")[0] == 0
    path = next((tmp_path / "r").glob("*.json"))
    path.write_text(content)
    main(["run", *TINY[:-1], "--set", "epochs=3", "--root", str(data_root), "--results", str(tmp_path / "r"),
          "--model", f"{model}:Net"])
    captured = capsys.readouterr()
    assert "running it again" in captured.err and "1 run(s) written" in captured.out
    assert json.loads(path.read_text())["metrics"]["test"]["f1_macro"] >= 0




def test_ctrl_c_says_what_was_kept_in_one_line(data_root, tmp_path):
    (tmp_path / "slow.py").write_text(SLOW_MODEL)
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "mgbench", "run", "--model", f"{tmp_path / 'slow.py'}:Slow", *TINY[:-3],
           "--task", "bot", "--seeds", "0-5", "--set", "epochs=60", "--set", "patience=100", "--quiet",
           "--results", str(results), "--root", str(data_root)]
    # Ctrl-C reaches the run as in a terminal, even where this test was started in the background
    # of a non-interactive shell (whose jobs inherit SIGINT ignored, which Python then keeps)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and not list(results.glob("*.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    kept = len(list(results.glob("*.json")))
    assert proc.returncode == 130 and "Traceback" not in err
    assert f"interrupted; {kept} run(s) of this sweep stored in {results}" in err
    assert "resumes" in err


@pytest.mark.parametrize("text, expected", [
    ("datasets: mgtab-synthetic\ntasks: [bot]\nmodels: [gcn]\ntraining: [epochs, 3]\n", "training must be a mapping"),
    ("datasets: [mgtab-synthetic]\ntasks: [3]\nmodels: [gcn]\n", "tasks must hold str values"),
    ("datasets: [mgtab-synthetic]\ntasks: [bot]\nmodels: [{name: gcn, set: 5}]\n", "may hold only name and set"),
    ("datasets: [mgtab-synthetic]\ntasks: [bot]\nmodels: [[gcn]]\n", "must be a name or a mapping"),
    ("datasets: [mgtab-synthetic]\ntasks: [bot]\nmodels: [gcn]\naux_weight: lots\n", "aux_weight must hold"),
    ("- just\n- a list\n", "a suite is a mapping"),
    ("datasets: [mgtab-synthetic]\ntasks: [bot]\nmodels: [gcn]\nblocks: {models: [rgcn]}\n",
     "blocks must be a list of mappings"),
])
def test_a_suite_of_wrong_types_is_one_clear_line(text, expected, tmp_path, capsys):
    suite = tmp_path / "suite.yaml"
    suite.write_text(text)
    assert main(["run", "--suite", str(suite), "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


def test_the_runner_writes_the_schemas_definition_keys(data_root):
    """The runner's definitions and the board's reader share one list (mgbench/schema.py)."""
    from mgbench.benchmark import RunSpec
    from mgbench.benchmark.runner import DataCache, prepare
    from mgbench.schema import DEFINITION_KEYS, OPTIONAL_DEFINITION_KEYS

    definition = prepare(RunSpec(dataset="mgtab-synthetic", task="bot", model="gcn"), DataCache(data_root)).definition
    assert set(DEFINITION_KEYS) <= set(definition) <= set(DEFINITION_KEYS) | set(OPTIONAL_DEFINITION_KEYS)
