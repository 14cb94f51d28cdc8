"""Every auxiliary loss trains a GNN through the runner; bad requests are refused before training."""

from __future__ import annotations

import pytest

from mgbench.benchmark import ResultStore, RunSpec, sweep
from mgbench.cli import main
from mgbench.losses import AUX_LOSSES

README_GNN = '''
import torch
class Plain(torch.nn.Module):
    def __init__(self, in_channels, num_classes, num_relations):
        super().__init__()
        self.hidden = torch.nn.Linear(in_channels, 16)
        self.classifier = torch.nn.Linear(16, num_classes)
    def forward(self, x, edge_index, edge_type):
        return self.classifier(self.hidden(x).relu())
'''


def _spec(model: str, aux: str, task: str = "stance+bot", **kw) -> RunSpec:
    return RunSpec(dataset="mgtab-synthetic", task=task, model=model, dataset_options={"num_nodes": 300},
                   training={"epochs": 3}, aux_loss=aux, aux_weight=0.1, **kw)


@pytest.mark.parametrize("aux", [*AUX_LOSSES, "supcon+scc"])
def test_each_loss_trains_and_is_recorded(aux, data_root, tmp_path):
    [rec] = sweep([_spec("gcn", aux)], ResultStore(tmp_path), root=data_root, progress=False)
    d = rec["definition"]
    assert d["aux_loss"] == aux and d["aux_weight"] == 0.1
    assert 0.0 <= rec["metrics"]["test"]["f1_macro"] <= 1.0


def test_plain_module_gets_embeddings_by_hook(data_root, tmp_path):
    """The input of its ``classifier``; without one it is refused (tests/test_submissions.py)."""
    path = tmp_path / "plain.py"
    path.write_text(README_GNN)
    [rec] = sweep([_spec(f"{path}:Plain", "supcon", task="bot", aux_settings={"temperature": 0.2})],
                  ResultStore(tmp_path / "r"), root=data_root, progress=False)
    assert rec["definition"]["aux_settings"] == {"temperature": 0.2}


def test_aux_changes_the_result(data_root, tmp_path):
    plain = RunSpec(dataset="mgtab-synthetic", task="stance", model="gcn", dataset_options={"num_nodes": 300},
                    training={"epochs": 3})
    a, b = sweep([plain, _spec("gcn", "supcon", task="stance")], ResultStore(tmp_path), root=data_root,
                 progress=False)
    assert a["run_id"] != b["run_id"]
    assert a["metrics"]["val"] != b["metrics"]["val"] or a["best_epoch"] != b["best_epoch"]


@pytest.mark.parametrize("extra, message", [
    (["--aux-loss", "triplet"], "unknown auxiliary loss triplet"),
    (["--aux-loss", "itc", "--set", "aux.view=image"], "feature block 'image'"),
    (["--aux-loss", "supcon", "--set", "aux.margin=1"], "unknown auxiliary setting(s) margin"),
    (["--aux-loss", "supcon", "--model", "svm"], "auxiliary losses need a GNN"),
])
def test_bad_aux_requests_are_refused(extra, message, data_root, tmp_path, capsys):
    args = ["run", "--dataset", "mgtab-synthetic", "--dataset-option", "num_nodes=300", "--task", "bot",
            "--seeds", "0", "--root", str(data_root), "--results", str(tmp_path), "--quiet"]
    if "--model" not in extra:
        args += ["--model", "gcn"]
    assert main(args + extra) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*.json"))


def test_feature_recipes_through_the_runner(data_root, tmp_path):
    """On the synthetic TwiBot-22 layout the planted text signal is found only with a text block."""
    specs = [RunSpec(dataset="twibot22-synthetic", task="bot", model="logistic-regression", relations="all",
                     features=recipe) for recipe in ("profile", "profile+text")]
    profile, text = sweep(specs, ResultStore(tmp_path), root=data_root, progress=False)
    assert text["definition"]["features"] == "profile+text"
    assert text["metrics"]["test"]["f1_macro"] > profile["metrics"]["test"]["f1_macro"] + 0.1


def test_fused_recipe_needs_a_gnn(data_root, tmp_path):
    spec = RunSpec(dataset="twibot22-synthetic", task="bot", model="logistic-regression", features="fused")
    with pytest.raises(ValueError, match="fused recipe trains its attention with a GNN"):
        sweep([spec], ResultStore(tmp_path), root=data_root, progress=False)
