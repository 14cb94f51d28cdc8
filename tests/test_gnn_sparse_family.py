"""GCN, GraphSAGE, R-GCN and BotRGCN: the fast CSR builds against stock-PyG oracles, training, the operator cache.

The graph is conftest's session-wide ``tiny_graph`` (300 nodes, seed 0).
"""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
import torch.nn.functional as F

from mgbench.baselines import botrgcn, gcn, graphsage, reference, rgcn
from mgbench.nn import cache, kernels
from mgbench.datasets import get_split, select_relations
from mgbench.registry import registered_models

FAST_AND_REFERENCE = {
    "gcn": (gcn.GCN, reference.ReferenceGCN),
    "graphsage": (graphsage.GraphSAGE, reference.ReferenceGraphSAGE),
    "rgcn": (rgcn.RGCN, reference.ReferenceRGCN),
    "botrgcn": (botrgcn.BotRGCN, reference.ReferenceBotRGCN),
}
#: the design options that restore the builds before issue 18 (off by default: the authors' architecture)
OPTIONS = {
    "gcn": {"inner_activation": True, "init": "torch"},
    "graphsage": {"inner_activation": True, "init": "torch"},
    "rgcn": {"inner_activation": True, "init": "torch"},
    "botrgcn": {"shared_graph_layer": False, "output_mlp": True, "init": "torch"},
}
# float64, so that only summation order separates the two builds
RTOL, ATOL = 1e-9, 1e-12


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny graphs gain nothing from threads, and on a shared loaded machine OpenMP's
    spinning makes two threads ~10x slower than one; restore the setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _graph_case(data, relations: str, empty_relation: bool):
    """``data`` on ``relations`` plus the awkward cases: an isolated node, self loops, multi-edges.

    Returns ``(x, edge_index, edge_type, num_relations)``; ``empty_relation``
    adds one relation id with no edge at all.
    """
    sub = select_relations(data, relations)
    x = torch.cat([sub.x, torch.randn(1, sub.x.size(1))]).double()  # node 300: no edge
    loops = torch.tensor([[5, 7], [5, 7]])
    edge_index = torch.cat([sub.edge_index, loops, sub.edge_index[:, :4]], dim=1)
    edge_type = torch.cat([sub.edge_type, torch.zeros(2, dtype=torch.long), sub.edge_type[:4]])
    assert not (edge_index == data.num_nodes).any()
    return x, edge_index, edge_type, len(sub.relation_names) + int(empty_relation)


def _run(model, x, edge_index, edge_type):
    x = x.clone().requires_grad_()
    torch.manual_seed(1)  # in training mode, both builds draw the same dropout mask
    out = model(x, edge_index, edge_type)
    (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
    return out.detach(), x.grad, {name: p.grad for name, p in model.named_parameters()}


@pytest.mark.parametrize("name", list(FAST_AND_REFERENCE))
@pytest.mark.parametrize("relations,empty_relation", [("followers,friends", False), ("all", False),
                                                      ("mention,url", True)])
@pytest.mark.parametrize("with_options", [False, True], ids=["authors", "options"])
def test_fast_build_computes_the_reference_function(tiny_graph, name, relations, empty_relation, with_options):
    """The authors' architecture by default (``models.py`` as ``MGTAB-GNN.py`` runs it), and with our options."""
    x, edge_index, edge_type, num_relations = _graph_case(tiny_graph, relations, empty_relation)
    fast_cls, ref_cls = FAST_AND_REFERENCE[name]
    options = OPTIONS[name] if with_options else {}
    torch.manual_seed(0)
    ref = ref_cls(x.size(1), 3, num_relations, hidden_channels=16, **options).double()
    fast = fast_cls(x.size(1), 3, num_relations, hidden_channels=16, **options).double()
    fast.load_reference_state(ref)
    out_ref, gx_ref, gp_ref = _run(ref, x, edge_index, edge_type)
    out, gx, gp = _run(fast, x, edge_index, edge_type)
    torch.testing.assert_close(out, out_ref, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(gx, gx_ref, rtol=RTOL, atol=ATOL)
    assert gp.keys() == gp_ref.keys()
    for key in gp:
        torch.testing.assert_close(gp[key], gp_ref[key], rtol=RTOL, atol=ATOL, msg=key)


@pytest.mark.parametrize("name", list(FAST_AND_REFERENCE))
def test_trains_above_majority_on_bot_task(tiny_graph, name):
    data = select_relations(tiny_graph, "followers,friends")
    split = get_split(data, "bot", seed=0)
    held_out = torch.cat([split.val, split.test])
    y = data.y_bot
    torch.manual_seed(0)
    spec = registered_models()[name]
    model = spec.factory(data.x.size(1), 2, len(data.relation_names), **spec.defaults)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(30):  # BotRGCN, the deepest, needs ~30 epochs at lr 0.01
        model.train()
        optimizer.zero_grad()
        F.cross_entropy(model(data.x, data.edge_index, data.edge_type)[split.train], y[split.train]).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        pred = model(data.x, data.edge_index, data.edge_type).argmax(1)
    accuracy = (pred[held_out] == y[held_out]).float().mean().item()
    majority = torch.bincount(y[held_out]).max().item() / held_out.numel()
    assert accuracy > majority, (accuracy, majority)


def test_operator_cache_reuses_and_rebuilds(tiny_graph):
    cache.clear_cache()
    model = rgcn.RGCN(tiny_graph.x.size(1), 2, 7, hidden_channels=8)
    edge_index, edge_type = tiny_graph.edge_index.clone(), tiny_graph.edge_type.clone()
    model(tiny_graph.x, edge_index, edge_type)
    assert cache.cache_info() == (1, 1, 1)  # conv2 reuses conv1's operator
    model(tiny_graph.x, edge_index, edge_type)
    assert cache.cache_info() == (3, 1, 1)
    other = select_relations(tiny_graph, "followers,friends")
    model(tiny_graph.x, other.edge_index, other.edge_type)  # another graph: built once more
    assert cache.cache_info() == (4, 2, 2)
    edge_type[0] = (edge_type[0] + 1) % 7  # in-place edit: the version counter changes
    model(tiny_graph.x, edge_index, edge_type)
    assert cache.cache_info().misses == 3
    size = cache.cache_info().size
    del edge_index
    gc.collect()
    assert cache.cache_info().size < size  # entries die with their graph


def test_operator_matches_dense_definition():
    edge_index = torch.tensor([[0, 1, 1, 2, 2], [1, 0, 2, 1, 1]])  # 2 -> 1 twice
    edge_type = torch.tensor([0, 1, 0, 0, 1])
    op = kernels.build_mean_operator(edge_index, 4, edge_type, num_relations=3, dtype=torch.float64)
    dense = op.matrix.to_dense().view(4, 4, 4).permute(2, 0, 1)  # [slot, node i, neighbour j]
    assert dense[0, 1].tolist() == [0.5, 0, 0.5, 0] and dense[1, 1].tolist() == [0, 0, 1, 0]
    assert dense[2].abs().sum() == 0 and dense[:3, 3].abs().sum() == 0  # empty relation, isolated node
    assert torch.equal(dense[3], torch.eye(4, dtype=torch.float64))
    torch.testing.assert_close(op.transposed.to_dense(), op.matrix.to_dense().t())


def test_registered_with_defaults():
    models = registered_models()
    frame = {"hidden_channels": 256, "dropout": 0.3, "inner_activation": False, "init": "authors"}
    expected = {"gcn": frame, "graphsage": frame, "rgcn": frame,
                "botrgcn": {"hidden_channels": 256, "dropout": 0.3, "shared_graph_layer": True, "output_mlp": False,
                            "init": "authors"}}
    for name, defaults in expected.items():
        assert models[name].kind == "gnn"
        assert models[name].defaults == defaults
        assert set(OPTIONS[name]) <= set(defaults) <= models[name].accepted
    assert {"feature_blocks", "categorical_columns"} <= models["botrgcn"].accepted


@pytest.mark.parametrize("name", list(FAST_AND_REFERENCE))
def test_authors_init_is_mgtab_gnn_init_weights(tiny_graph, name):
    """``init="authors"``: kaiming-uniform (a=0) weights on every ``nn.Linear``, nothing else touched.

    ``MGTAB-GNN.py``'s ``init_weights`` re-draws ``nn.Linear`` weights only: biases
    and the graph layers (PyG's own ``Linear``, ``RGCNConv``'s tensors) keep their
    initialisation, and the bound is ``sqrt(6 / fan_in)``, sqrt(6) times PyTorch's.
    """
    build = lambda init: FAST_AND_REFERENCE[name][0](  # noqa: E731
        tiny_graph.x.size(1), 3, 7, init=init, **({"shared_graph_layer": False} if name == "botrgcn" else {}))
    torch.manual_seed(0)
    authors = build("authors")
    torch.manual_seed(0)
    default = build("torch")
    linears = {n for n, m in authors.named_modules() if type(m) is torch.nn.Linear}
    assert {"input.0", "classifier"} <= linears
    for key, value in authors.state_dict().items():
        module, _, kind = key.rpartition(".")
        if module in linears and kind == "weight":
            bound = (6 / value.size(1)) ** 0.5
            assert value.abs().max() <= bound and value.abs().max() > 0.9 * bound, key
            assert not torch.equal(value, default.state_dict()[key]), key
        else:
            assert torch.equal(value, default.state_dict()[key]), key
    with pytest.raises(ValueError, match="init must be one of"):
        build("xavier")


def test_botrgcn_encoder_groups():
    mgtab = botrgcn.BotRGCNEncoder(788, 256)  # MGTAB layout by default
    assert {k: m[0].in_features for k, m in mgtab.encoders.items()} == {"tweet": 768, "numerical": 10,
                                                                         "categorical": 10}
    assert {k: m[0].out_features for k, m in mgtab.encoders.items()} == {"tweet": 192, "numerical": 32,
                                                                          "categorical": 32}
    assert 0 in mgtab.categorical_columns.tolist() and 20 not in mgtab.categorical_columns.tolist()
    blocks = {"profile_categorical": (0, 3), "profile_numerical": (3, 8), "description": (8, 18),
              "tweet": (18, 28), "profile": (0, 8)}
    cresci = botrgcn.BotRGCNEncoder(28, 64, blocks, categorical_columns=range(3))
    assert {k: m[0].out_features for k, m in cresci.encoders.items()} == {
        "description": 16, "tweet": 16, "numerical": 16, "categorical": 16}
    assert cresci(torch.randn(5, 28)).shape == (5, 64)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", list(FAST_AND_REFERENCE))
def test_runs_on_cuda_like_on_cpu(tiny_graph, name):
    x, edge_index, edge_type, num_relations = _graph_case(tiny_graph, "all", True)
    model = FAST_AND_REFERENCE[name][0](x.size(1), 2, num_relations, hidden_channels=16).double().eval()
    out_cpu, gx_cpu, _ = _run(model, x, edge_index, edge_type)
    out, gx, _ = _run(model.cuda(), x.cuda(), edge_index.cuda(), edge_type.cuda())
    torch.testing.assert_close(out.cpu(), out_cpu, rtol=RTOL, atol=1e-10)
    torch.testing.assert_close(gx.cpu(), gx_cpu, rtol=RTOL, atol=1e-10)


def test_a_dropped_graph_cache_does_not_live_on_in_its_graphs_finalizers():
    """A model's own cache (RF-GNN's branch operators) must go with the model while the graph lives on."""
    graph = torch.zeros(3)
    own = cache.GraphCache()
    own.get(("k",), (graph,), lambda: torch.ones(10))
    entries = weakref.ref(own._entries)
    del own
    gc.collect()
    assert entries() is None
