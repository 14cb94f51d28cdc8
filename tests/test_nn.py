"""mgbench.nn, the public fast layers: each against its oracle, stock-PyG models still run, no thread at import."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch_geometric.nn as pyg
from torch import nn

import mgbench.nn as mnn
from mgbench.baselines import hgt, reference_attention as ref_attn, rgt
from mgbench.cli import main

IN, OUT, RELATIONS = 8, 8, 3


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _graph(num_nodes: int = 40, num_edges: int = 160):
    """A small graph with self loops, a multi-edge, an isolated node and an unused relation."""
    g = torch.Generator().manual_seed(0)
    src = torch.randint(0, num_nodes - 1, (num_edges,), generator=g)
    dst = torch.randint(0, num_nodes - 1, (num_edges,), generator=g)
    edge_index = torch.cat([torch.stack([src, dst]), torch.tensor([[3, 4, 5], [3, 6, 6]])], dim=1)
    edge_index[:, -1] = edge_index[:, -2]  # 5 -> 6 twice
    edge_type = torch.randint(0, RELATIONS - 1, (edge_index.size(1),), generator=g)  # relation 2 has no edge
    x = torch.randn(num_nodes, IN, generator=g, dtype=torch.float64)
    return x, edge_index, edge_type


def _stock_pair(fast: nn.Module, stock: nn.Module):
    """``fast`` with the stock layer's weights (same parameter names), both in float64."""
    fast.load_state_dict(stock.state_dict())
    return fast.double(), stock.double()


def _pairs(name: str):
    """(public layer, oracle callable ``(x, edge_index, edge_type) -> out``), weights matched."""
    torch.manual_seed(0)
    if name == "GCNConv":
        fast, ref = _stock_pair(mnn.GCNConv(IN, OUT), pyg.GCNConv(IN, OUT))
        return fast, lambda x, ei, et: ref(x, ei)
    if name == "SAGEConv":
        fast, ref = _stock_pair(mnn.SAGEConv(IN, OUT), pyg.SAGEConv(IN, OUT))
        return fast, lambda x, ei, et: ref(x, ei)
    if name == "GATConv":
        fast, ref = _stock_pair(mnn.GATConv(IN, OUT // 2, heads=2), pyg.GATConv(IN, OUT // 2, heads=2))
        return fast, lambda x, ei, et: ref(x, ei)
    if name == "RGCNConv":
        fast, ref = _stock_pair(mnn.RGCNConv(IN, OUT, RELATIONS), pyg.RGCNConv(IN, OUT, RELATIONS))
        return fast, lambda x, ei, et: ref(x, ei, et)
    if name == "SimpleHGNConv":
        fast, ref = _stock_pair(mnn.SimpleHGNConv(IN, OUT, RELATIONS, rel_dim=5),
                                ref_attn.ReferenceSimpleHGNLayer(IN, OUT, RELATIONS, rel_dim=5))
        return fast, lambda x, ei, et: ref(x, ei, et)[0]
    # HGT and RGT: the baseline maps the oracle's weights onto its public layers (load_reference_state)
    if name == "HGTConv":
        ours, theirs = hgt.HGT(4, 2, RELATIONS, IN, OUT, 4, heads=2), ref_attn.ReferenceHGT(4, 2, RELATIONS, IN, OUT, 4,
                                                                                          heads=2)
        ours.load_reference_state(theirs)
        ours, theirs = ours.double(), theirs.double()

        def oracle(x, ei, et):
            edges = {t: ei[:, et == r] for r, t in enumerate(theirs.edge_types)}
            return theirs.conv1({"user": x}, edges)["user"]
        assert isinstance(ours.conv1, mnn.HGTConv)
        return ours.conv1, oracle
    ours, theirs = rgt.RGT(4, 2, RELATIONS, IN, 4, heads=2, semantic_heads=2), \
        ref_attn.ReferenceRGT(4, 2, RELATIONS, IN, 4, heads=2, semantic_heads=2)
    ours.load_reference_state(theirs)
    ours, theirs = ours.double().eval(), theirs.double().eval()
    assert isinstance(ours.conv1, mnn.RGTConv)
    return ours.conv1, lambda x, ei, et: theirs.conv1(x, ei, et)


class Tiny(nn.Module):
    """What a user writes: one public layer, a ReLU, a linear classifier."""

    def __init__(self, conv: nn.Module, relational: bool):
        super().__init__()
        self.conv, self.relational = conv, relational
        self.classifier = nn.Linear(OUT, 2).double()

    def forward(self, x, edge_index, edge_type):
        h = self.conv(x, edge_index, edge_type) if self.relational else self.conv(x, edge_index)
        return self.classifier(h.relu())


LAYERS = ["GCNConv", "SAGEConv", "GATConv", "RGCNConv", "HGTConv", "SimpleHGNConv", "RGTConv"]


@pytest.mark.parametrize("name", LAYERS)
def test_public_layer_matches_its_oracle_forward_and_backward(name):
    assert name in mnn.__all__
    x, edge_index, edge_type = _graph()
    fast, oracle = _pairs(name)
    model = Tiny(fast, relational=name not in ("GCNConv", "SAGEConv", "GATConv")).eval()

    def run(forward):
        xg = x.clone().requires_grad_()
        out = forward(xg)
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        return out.detach(), xg.grad

    out, grad = run(lambda xg: model(xg, edge_index, edge_type))
    expected, expected_grad = run(lambda xg: model.classifier(oracle(xg, edge_index, edge_type).relu()))
    torch.testing.assert_close(out, expected, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-9, atol=1e-12)
    assert all(p.grad is not None for p in model.conv.parameters())


def test_layers_refuse_a_graph_they_cannot_represent():
    x, edge_index, edge_type = _graph()
    with pytest.raises(ValueError, match="relations outside"):
        mnn.HGTConv(IN, OUT, 2)(x.float(), edge_index, edge_type + 1)
    with pytest.raises(ValueError, match="in_channels == out_channels"):
        mnn.RGTConv(IN, OUT + 1, RELATIONS)


def test_importing_nn_starts_no_thread_and_the_pool_comes_on_first_use():
    script = textwrap.dedent("""
        import threading
        before = threading.active_count()
        import mgbench.nn
        from mgbench.nn import kernels
        assert threading.active_count() == before, threading.enumerate()
        assert kernels._pool is None
        import torch
        torch.set_num_threads(2)
        kernels._MIN_CHUNK = 64
        values = torch.randn(1000)
        assert torch.equal(kernels.gather(values, torch.arange(999, -1, -1)), values.flip(0))
        assert kernels._pool is not None and threading.active_count() > before
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_a_model_of_stock_pyg_layers_still_runs_through_the_runner(data_root, tmp_path):
    path = tmp_path / "stock_gnn.py"
    path.write_text(textwrap.dedent("""
        import torch
        from torch_geometric.nn import RGCNConv, SAGEConv

        class StockGNN(torch.nn.Module):
            def __init__(self, in_channels, num_classes, num_relations, hidden_channels=16):
                super().__init__()
                self.sage = SAGEConv(in_channels, hidden_channels)
                self.rgcn = RGCNConv(hidden_channels, hidden_channels, num_relations)
                self.classifier = torch.nn.Linear(hidden_channels, num_classes)

            def forward(self, x, edge_index, edge_type):
                h = self.sage(x, edge_index).relu()
                return self.classifier(self.rgcn(h, edge_index, edge_type).relu())
    """))
    results = tmp_path / "results"
    code = main(["run", "--model", f"{path}:StockGNN", "--task", "bot", "--seeds", "0", "--set", "epochs=5",
                 "--results", str(results), "--root", str(data_root), "--dataset", "mgtab-synthetic",
                 "--dataset-option", "num_nodes=300", "--quiet"])
    assert code == 0
    [record] = [json.loads(p.read_text()) for p in Path(results).glob("*.json")]
    assert 0.0 <= record["metrics"]["test"]["accuracy"] <= 1.0
