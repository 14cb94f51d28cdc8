"""Neighbour sampling: the built-in sampler's distribution is exact, PyG's (on pyg-lib) agrees,
torch-sparse's is known not to, and sampled training learns."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
import torch

from mgbench import datasets as ds
from mgbench.benchmark.models import build_gnn, resolve_model
from mgbench.benchmark.sampling import SamplingSettings, fit_gnn_sampled, parse_fanout
from mgbench.benchmark.protocol import TrainSettings
from mgbench.datasets.sampler import TorchNeighborSampler, make_sampler, pyg_engine

DRAWS = 3000


def _stars(in_degrees: list[int], copies: int = 1, relations: list[int] | None = None):
    """``copies`` independent stars per entry of ``in_degrees``: target ``t`` has its own sources
    ``first[t] .. first[t] + d - 1``. Sampling every target once draws ``copies`` samples per degree.
    Returns (edge_index, edge_type, num_nodes, first)."""
    degrees = [d for d in in_degrees for _ in range(copies)]
    targets = len(degrees)
    first = torch.tensor([0, *itertools.accumulate(degrees)])[:-1] + targets
    src = torch.cat([torch.arange(f, f + d) for f, d in zip(first.tolist(), degrees)])
    dst = torch.repeat_interleave(torch.arange(targets), torch.tensor(degrees))
    edge_type = torch.tensor(relations * targets if relations is not None else [0] * src.numel())
    return torch.stack([src, dst]), edge_type, targets + src.numel(), first


def _sampled_sets(sampler, targets: int, first: torch.Tensor, seed: int = 0) -> list[tuple[int, ...]]:
    """Sample every target once; per target, the offsets of its drawn sources (sorted)."""
    sub = sampler.sample(torch.arange(targets), torch.Generator().manual_seed(seed))
    src, dst = sub.n_id[sub.edge_index[0]], sub.n_id[sub.edge_index[1]]
    sets: list[list[int]] = [[] for _ in range(targets)]
    for s, t in zip((src - first[dst]).tolist(), dst.tolist()):
        sets[t].append(s)
    return [tuple(sorted(s)) for s in sets]


def _assert_uniform(sets: list[tuple[int, ...]], d: int, k: int) -> None:
    """Every ``k``-subset of ``range(d)`` drawn, each with frequency 1/C(d, k) (within 5 sigma)."""
    counts = Counter(sets)
    subsets = list(itertools.combinations(range(d), k))
    assert set(counts) == set(subsets)
    p, n = 1 / len(subsets), len(sets)
    sigma = (n * p * (1 - p)) ** 0.5
    for subset in subsets:
        assert abs(counts[subset] - n * p) < 5 * sigma, (subset, counts[subset], n * p)


def test_fallback_draws_uniform_subsets_without_replacement():
    # degree 5 > 2k: rejection path; degree 3 in (k, 2k]: random keys; degree 2 <= k: all; 0: none.
    edge_index, _, n, first = _stars([5, 3, 2, 0], copies=DRAWS)
    sets = _sampled_sets(TorchNeighborSampler(edge_index, n, [2]), 4 * DRAWS, first)
    _assert_uniform(sets[:DRAWS], 5, 2)
    _assert_uniform(sets[DRAWS:2 * DRAWS], 3, 2)
    assert set(sets[2 * DRAWS:3 * DRAWS]) == {(0, 1)}
    assert set(sets[3 * DRAWS:]) == {()}


def test_fallback_per_relation_fanout_applies_to_each_relation():
    edge_index, edge_type, n, first = _stars([5], copies=1000, relations=[0, 0, 0, 0, 1])
    sampler = make_sampler(edge_index, n, [2], backend="torch", edge_type=edge_type, num_relations=2,
                           per_relation=True)
    sets = _sampled_sets(sampler, 1000, first)
    assert all(len(s) == 3 and s[-1] == 4 for s in sets)  # 2 of the 4 of relation 0, always the one of 1
    _assert_uniform([s[:2] for s in sets], 4, 2)


def test_full_fanout_is_the_exact_k_hop_in_neighbourhood_and_ids_map_back():
    from torch_geometric.utils import k_hop_subgraph

    gen = torch.Generator().manual_seed(1)
    edge_index = torch.randint(0, 60, (2, 300), generator=gen)
    sampler = TorchNeighborSampler(edge_index, 60, [-1, -1])
    seeds = torch.tensor([3, 17, 42])
    sub = sampler.sample(seeds, gen)
    assert torch.equal(sub.n_id[:3], seeds) and sub.n_id.unique().numel() == sub.n_id.numel()
    expected, _, _, _ = k_hop_subgraph(seeds, 2, edge_index, num_nodes=60, flow="source_to_target")
    assert set(sub.n_id.tolist()) == set(expected.tolist())
    assert torch.equal(edge_index[:, sub.e_id], sub.n_id[sub.edge_index])  # local ids -> the global edges
    assert sub.e_id.unique().numel() == sub.e_id.numel()


def test_same_generator_seed_same_subgraph():
    edge_index = torch.randint(0, 200, (2, 2000), generator=torch.Generator().manual_seed(0))
    sampler = TorchNeighborSampler(edge_index, 200, [4, 3])
    a, b = (sampler.sample(torch.arange(10), torch.Generator().manual_seed(7)) for _ in range(2))
    assert torch.equal(a.n_id, b.n_id) and torch.equal(a.edge_index, b.edge_index) and torch.equal(a.e_id, b.e_id)


@pytest.mark.skipif(pyg_engine() != "pyg-lib", reason="needs pyg-lib")
def test_pyg_lib_and_fallback_sample_the_same_distribution():
    # Hop 1: PyG's sampler draws uniform subsets too.
    edge_index, _, n, first = _stars([5, 3], copies=DRAWS)
    sets = _sampled_sets(make_sampler(edge_index, n, [2], backend="pyg"), 2 * DRAWS, first)
    _assert_uniform(sets[:DRAWS], 5, 2)
    _assert_uniform(sets[DRAWS:], 3, 2)
    # Two hops on a random graph: each edge is sampled equally often by both (within 5 sigma).
    gen = torch.Generator().manual_seed(3)
    edge_index = torch.randint(0, 40, (2, 400), generator=gen)
    seeds, draws, freq = torch.tensor([0, 1, 2]), 2000, {}
    for backend in ("pyg", "torch"):
        sampler = make_sampler(edge_index, 40, [3, 2], backend=backend)
        hits = torch.zeros(edge_index.size(1))
        g = torch.Generator().manual_seed(11)
        for _ in range(draws):
            hits[sampler.sample(seeds, g).e_id] += 1
        freq[backend] = hits / draws
    p = (freq["pyg"] + freq["torch"]) / 2
    sigma = (2 * p * (1 - p) / draws).sqrt()
    assert bool(((freq["pyg"] - freq["torch"]).abs() <= 5 * sigma + 1e-3).all())


@pytest.mark.skipif(pyg_engine() != "torch-sparse", reason="needs torch-sparse without pyg-lib")
def test_torch_sparse_sampler_is_not_uniform_so_auto_avoids_it():
    """rusty1s/pytorch_sparse#385: fan-out 1 of 2 neighbours always draws the first in CSC order,
    so two draws always agree (uniform: half the time). When a torch-sparse release fixes this,
    this test fails: let ``auto`` use it again."""
    edge_index, _, n, first = _stars([2], copies=500)
    with pytest.warns(UserWarning, match="pytorch_sparse#385"):
        sampler = make_sampler(edge_index, n, [1], backend="pyg")
    agree = [a == b for a, b in zip(*(_sampled_sets(sampler, 500, first, seed=s) for s in (1, 2)))]
    assert all(agree)
    fallback = make_sampler(edge_index, n, [1])
    assert fallback.name == "torch"
    agree = [a == b for a, b in zip(*(_sampled_sets(fallback, 500, first, seed=s) for s in (1, 2)))]
    assert 0.4 < sum(agree) / 500 < 0.6


def test_settings_and_fanout_parsing():
    assert parse_fanout("10,5") == (10, 5) and parse_fanout("-1") == parse_fanout("all") == (-1,)
    assert SamplingSettings(fanout=[3]).to_dict() == {"fanout": [3], "batch_size": 1024, "per_relation": False}
    for bad in ((), (0,), (-2,)):
        with pytest.raises(ValueError, match="fanout"):
            SamplingSettings(fanout=bad)
    with pytest.raises(ValueError, match="--fanout"):
        parse_fanout("ten")


def test_sampled_training_beats_the_majority_class(tiny_graph):
    graph = ds.select_relations(tiny_graph, "all")
    task = ds.get_task("stance")
    y, _ = ds.task_labels(graph, task)
    split = ds.get_split(graph, task, 0)
    torch.manual_seed(0)
    model = build_gnn(resolve_model("rgcn"), {"hidden_channels": 32}, in_channels=graph.num_features,
                      num_classes=task.num_outputs, num_relations=len(graph.relation_names),
                      feature_blocks=graph.feature_blocks, categorical_columns=graph.categorical_columns)
    result = fit_gnn_sampled(model, graph.x, graph.edge_index, graph.edge_type, y, split, task,
                             TrainSettings(epochs=20, lr=1e-2, patience=20),
                             SamplingSettings(fanout=(5, 5), batch_size=64), seed=0, progress=False)
    majority = torch.bincount(y[split.test]).max().item() / split.test.numel()
    assert result.test["accuracy"] > majority + 0.1
    assert result.sampler in ("pyg", "torch") and result.seeds_per_s > 0
    assert 1 <= result.best_epoch <= result.epochs_run <= 20
