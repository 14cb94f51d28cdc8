"""The frontier detectors (RF-GNN, SEBot, OS-GNN, BotMoE), their closed-form pieces, and their training hook."""

from __future__ import annotations

import math

import pytest
import torch

from mgbench import datasets as ds
from mgbench.baselines import encoding_tree as et
from mgbench.baselines.botmoe import NoisyTopKGate
from mgbench.baselines.os_gnn import smote
from mgbench.benchmark import ResultStore, RunSpec, sweep
from mgbench.benchmark.models import build_gnn, merge_hyperparameters, resolve_model
from mgbench.benchmark.runner import DataCache, prepare
from mgbench.benchmark.protocol import TrainSettings
from mgbench.benchmark.train import fit_gnn, task_loss, training_objective

#: Small settings so that each model trains in seconds on the tiny graphs.
SMALL = {
    "rf-gnn": {"num_branches": 3, "hidden_channels": 16},
    "sebot": {"hidden_channels": 16, "contrast_batch": 128},
    "os-gnn": {"hidden_channels": 32},
    "botmoe": {"align_channels": 16, "expert_hidden": 16},
}
FRONTIER = sorted(SMALL)


@pytest.fixture(autouse=True)
def private_root(tmp_path, monkeypatch):
    """SEBot caches its encoding tree under ``$MGBENCH_ROOT``: keep it out of the user's cache."""
    monkeypatch.setenv("MGBENCH_ROOT", str(tmp_path / "root"))


def _build(name: str, graph, num_classes: int = 2, **overrides):
    spec = resolve_model(name)
    return build_gnn(spec, merge_hyperparameters(spec, {**SMALL[name], **overrides}), in_channels=graph.num_features,
                     num_classes=num_classes, num_relations=len(graph.relation_names),
                     feature_blocks=graph.feature_blocks, categorical_columns=graph.categorical_columns)


# --- the training hook ---------------------------------------------------------------------------------------


class _Spy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.classifier = torch.nn.Linear(3, 2)
        self.calls = 0

    def forward(self, x, edge_index, edge_type):
        return self.classifier(x[:, :3])

    def training_loss(self, logits, y, train_idx, loss_fn):
        self.calls += 1
        return loss_fn(logits[train_idx], y[train_idx]) * 0 + 7.0  # still a graph to backpropagate


def test_training_objective_is_the_task_loss_unless_the_model_defines_its_own():
    task = ds.get_task("bot")
    logits, y, idx = torch.randn(5, 2), torch.tensor([0, 1, 1, 0, 1]), torch.tensor([0, 2, 4])
    plain = torch.nn.Linear(3, 2)
    assert torch.equal(training_objective(plain, task)(logits, y, idx), task_loss(logits[idx], y[idx], task))
    spy = _Spy()
    assert float(training_objective(spy, task)(logits, y, idx)) == 7.0 and spy.calls == 1


def test_fit_gnn_trains_with_the_models_training_loss(tiny_graph):
    task = ds.get_task("bot")
    y, _ = ds.task_labels(tiny_graph, task)
    spy = _Spy()
    result = fit_gnn(spy, tiny_graph.x, tiny_graph.edge_index, tiny_graph.edge_type, y,
                     ds.get_split(tiny_graph, task, 0), task, TrainSettings(epochs=3, min_epochs=0), progress=False)
    assert spy.calls == result.epochs_run == 3


def test_sampled_training_refuses_a_model_with_its_own_training_loss(data_root):
    spec = RunSpec(dataset="mgtab-synthetic", task="bot", model="os-gnn", dataset_options={"num_nodes": 300},
                   sampling={"fanout": [5, 5]})
    with pytest.raises(ValueError, match="training_loss"):
        prepare(spec, DataCache(data_root))


# --- each model --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FRONTIER)
def test_forward_and_backward_on_a_tiny_graph(name, tiny_graph):
    torch.manual_seed(0)
    model = _build(name, tiny_graph, num_classes=3)
    task = ds.get_task("stance")
    y, _ = ds.task_labels(tiny_graph, task)
    idx = ds.get_split(tiny_graph, task, 0).train
    logits = model(tiny_graph.x, tiny_graph.edge_index, tiny_graph.edge_type)
    assert logits.shape == (tiny_graph.num_nodes, 3) and torch.isfinite(logits).all()
    training_objective(model, task)(logits, y, idx).backward()
    grad = model.classifier.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert model.classifier.in_features > 0  # the embedding the auxiliary losses tap
    model.eval()
    with torch.no_grad():
        again = model(tiny_graph.x, tiny_graph.edge_index, tiny_graph.edge_type)
    assert again.shape == logits.shape


@pytest.mark.parametrize("name", FRONTIER)
def test_same_seed_same_numbers(name, tiny_graph):
    task = ds.get_task("bot")
    y, _ = ds.task_labels(tiny_graph, task)
    split = ds.get_split(tiny_graph, task, 0)
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = _build(name, tiny_graph)
        fit_gnn(model, tiny_graph.x, tiny_graph.edge_index, tiny_graph.edge_type, y, split, task,
                TrainSettings(epochs=3, min_epochs=0), progress=False)
        model.eval()
        with torch.no_grad():
            outs.append(model(tiny_graph.x, tiny_graph.edge_index, tiny_graph.edge_type))
    assert torch.equal(outs[0], outs[1])


#: A small twin whose planted bot signal every neighbour shows (twin 2: no bot disguised in the graph).
SIGNAL_TWIN = {"num_nodes": 600, "seed": 0, "feature_signal": 5.0, "twin": 2}


def _majority(data_root) -> float:
    g = ds.load("mgtab-synthetic", root=data_root, **SIGNAL_TWIN)
    test = ds.get_split(g, "bot", 0).test
    return float(torch.bincount(g.y_bot[test]).max()) / len(test)


@pytest.mark.parametrize("name", FRONTIER)
def test_learns_the_planted_signal_better_than_the_majority_class(name, data_root, tmp_path):
    spec = RunSpec(dataset="mgtab-synthetic", task="bot", model=name, relations="followers,friends",
                   dataset_options=SIGNAL_TWIN, hyperparameters=SMALL[name],
                   training={"epochs": 25, "lr": 0.01, "patience": 25, "min_epochs": 0})
    [rec] = sweep([spec], ResultStore(tmp_path / "results"), root=data_root, progress=False)
    assert rec["metrics"]["test"]["accuracy"] > _majority(data_root) + 0.05


# --- structural entropy and the encoding tree ----------------------------------------------------------------

#: Two triangles {0, 1, 2} and {3, 4, 5} joined by the edge 2-3 (each edge once; direction does not matter).
TRIANGLES = torch.tensor([[0, 1, 2, 3, 4, 5, 2], [1, 2, 0, 4, 5, 3, 3]])


def _triangles():
    pairs = et.undirected_pairs(TRIANGLES, 6)
    weights = torch.ones(pairs.size(1), dtype=torch.float64)
    degree = torch.tensor([2, 2, 3, 3, 2, 2], dtype=torch.float64)
    return pairs, weights, degree


def test_structural_entropy_of_two_triangles_by_hand():
    pairs, weights, degree = _triangles()
    # V = 14. Partition {0,1,2} {3,4,5}: each community has volume 7 and cut 1.
    # Leaves: per triangle 2 * (2/14) log2(7/2) + (3/14) log2(7/3); communities: 2 * (1/14) log2(14/7).
    by_hand = 2 * (2 * (2 / 14) * math.log2(7 / 2) + (3 / 14) * math.log2(7 / 3)) + 2 * (1 / 14) * math.log2(2)
    got = et.structural_entropy(pairs, weights, degree, torch.tensor([0, 0, 0, 1, 1, 1]))
    assert got == pytest.approx(by_hand, abs=1e-12)
    # singletons (and one community of all) give the one-dimensional entropy -sum (d/V) log2(d/V)
    one_dim = -sum(d / 14 * math.log2(d / 14) for d in (2, 2, 3, 3, 2, 2))
    assert et.structural_entropy(pairs, weights, degree, torch.arange(6)) == pytest.approx(one_dim, abs=1e-12)
    assert et.structural_entropy(pairs, weights, degree, torch.zeros(6, dtype=torch.long)) == pytest.approx(one_dim)


def test_the_greedy_minimisation_finds_the_two_triangles():
    tree = et.build_encoding_tree(TRIANGLES, 6, levels=2)
    assert tree.parents[0].tolist() == [0, 0, 0, 1, 1, 1]
    assert tree.entropy[0] == pytest.approx(et.structural_entropy(*_triangles(), tree.parents[0]))
    assert tree.sizes == [6, 2, tree.sizes[2]]


def test_the_tree_lowers_the_entropy_of_the_twin_and_is_cached_by_content(tiny_graph, monkeypatch):
    first = et.cached_encoding_tree(tiny_graph.edge_index, tiny_graph.num_nodes, levels=2)
    pairs = et.undirected_pairs(tiny_graph.edge_index, tiny_graph.num_nodes)
    weights = torch.ones(pairs.size(1), dtype=torch.float64)
    degree = torch.zeros(tiny_graph.num_nodes, dtype=torch.float64).index_add_(0, pairs[0], weights)
    degree.index_add_(0, pairs[1], weights)
    singletons = et.structural_entropy(pairs, weights, degree, torch.arange(tiny_graph.num_nodes))
    assert first.entropy[0] < singletons
    monkeypatch.setattr(et, "build_encoding_tree", lambda *a, **k: pytest.fail("cache missed"))
    # the same edges in another order and direction are the same graph: a cache hit
    shuffled = tiny_graph.edge_index.flip(0)[:, torch.randperm(tiny_graph.edge_index.size(1))]
    again = et.cached_encoding_tree(shuffled, tiny_graph.num_nodes, levels=2)
    assert all(torch.equal(a, b) for a, b in zip(first.parents, again.parents))
    with pytest.raises(BaseException, match="cache missed"):  # a different graph is a different key
        et.cached_encoding_tree(tiny_graph.edge_index[:, :-50], tiny_graph.num_nodes, levels=2)


def test_the_tree_refuses_a_graph_above_its_limit(monkeypatch):
    monkeypatch.setattr(et, "MAX_TREE_EDGES", 5)
    with pytest.raises(ValueError, match="above the limit of 5.*--relations"):
        et.build_encoding_tree(TRIANGLES, 6)


# --- SMOTE and the gate ---------------------------------------------------------------------------------------


def test_smote_brings_every_class_to_the_largest_count():
    torch.manual_seed(0)
    labels = torch.tensor([0] * 10 + [1] * 4 + [2] * 1)
    features = torch.randn(15, 3)
    new_x, new_y = smote(features, labels, neighbours=5, gen=torch.Generator().manual_seed(0))
    assert len(new_x) == len(new_y) == (10 - 4) + (10 - 1)
    assert torch.bincount(torch.cat([labels, new_y])).tolist() == [10, 10, 10]
    assert torch.equal(new_x[new_y == 2], features[14].expand(9, 3))  # a class of one repeats it


def test_smote_interpolates_between_a_member_and_a_neighbour():
    # class 1 at 0, 1 and 10 on a line, class 0 seven strong: four synthetic class-1 points, each between a
    # member and its nearest other member (0-1, 1-0 or 10-1), so inside [0, 10] and never at 10 -> beyond
    features = torch.tensor([[0.0], [1.0], [10.0]] + [[20.0 + i] for i in range(7)])
    labels = torch.tensor([1, 1, 1] + [0] * 7)
    new_x, new_y = smote(features, labels, neighbours=1, gen=torch.Generator().manual_seed(0))
    assert new_y.tolist() == [1, 1, 1, 1]
    assert ((new_x >= 0) & (new_x <= 10)).all()


def test_the_gate_picks_the_top_k_and_sums_to_one():
    gate = NoisyTopKGate(3, 3, k=2)
    with torch.no_grad():
        gate.w_gate.copy_(torch.eye(3))
    gate.eval()
    gates, load = gate(torch.tensor([[1.0, 2.0, 3.0]]))
    # by hand: softmax over the top two logits (3 and 2), zero for the third
    e2, e3 = math.exp(2), math.exp(3)
    assert gates[0].tolist() == pytest.approx([0.0, e2 / (e2 + e3), e3 / (e2 + e3)])
    assert load.tolist() == [0.0, 1.0, 1.0]
    gate.train()
    torch.manual_seed(0)
    noisy, _ = gate(torch.randn(50, 3))
    assert torch.allclose(noisy.sum(1), torch.ones(50)) and ((noisy > 0).sum(1) == 2).all()
