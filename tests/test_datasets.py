"""The graph form, relation selection, the hetero view, splits and the synthetic twin."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.utils import shuffle

from mgbench import datasets as ds
from mgbench.datasets import synthetic


def test_graph_form(tiny_graph):
    g = tiny_graph
    assert g.x.dtype == torch.float32 and g.x.shape == (300, 788)
    assert g.edge_index.dtype == torch.int64 and g.edge_index.size(0) == 2
    assert g.edge_type.dtype == torch.int64 and g.edge_weight.dtype == torch.float32
    assert g.relation_names == list(ds.MGTAB_RELATIONS)
    assert g.feature_blocks == {"profile": (0, 20), "tweet": (20, 788)}
    assert 20 not in g.categorical_columns and 0 in g.categorical_columns
    assert set(ds.available_tasks(g)) == {"stance", "bot", "stance+bot", "topics"}


@pytest.mark.parametrize("spec, names", [("followers,friends", ["followers", "friends"]),
                                         ("0,1", ["followers", "friends"]),
                                         ("hashtag,mention", ["hashtag", "mention"]),
                                         ("all", list(ds.MGTAB_RELATIONS))])
def test_select_relations_keeps_every_edges_relation(tiny_graph, spec, names):
    sub = ds.select_relations(tiny_graph, spec)
    assert sub.relation_names == names
    full = {(rel, int(s), int(d)) for (s, d), t in zip(tiny_graph.edge_index.t().tolist(),
                                                       tiny_graph.edge_type.tolist())
            for rel in [tiny_graph.relation_names[t]] if rel in names}
    kept = {(names[t], s, d) for (s, d), t in zip(sub.edge_index.t().tolist(), sub.edge_type.tolist())}
    assert kept == full
    assert sub.edge_weight.numel() == sub.edge_index.size(1)


def test_select_relations_shares_features_and_leaves_the_source_whole(tiny_graph):
    """No deep copy (MGTAB-large's features are GiBs), and the source graph is not touched."""
    before = (tiny_graph.edge_index.clone(), tiny_graph.edge_type.clone(), list(tiny_graph.relation_names))
    sub = ds.select_relations(tiny_graph, "friends,followers")
    assert sub.x is tiny_graph.x and sub.y_bot is tiny_graph.y_bot
    assert torch.equal(tiny_graph.edge_index, before[0]) and torch.equal(tiny_graph.edge_type, before[1])
    assert tiny_graph.relation_names == before[2]
    every = ds.select_relations(tiny_graph, "all")
    assert every.edge_index is tiny_graph.edge_index and every.relation_names == before[2]
    every.relation_names.append("x")
    assert tiny_graph.relation_names == before[2]


def test_select_relations_rejects_unknown_names(tiny_graph):
    with pytest.raises(ValueError, match="unknown relation 'likes'.*followers"):
        ds.select_relations(tiny_graph, "followers,likes")
    with pytest.raises(ValueError, match="out of range"):
        ds.select_relations(tiny_graph, "0,9")


def test_hetero_view_keeps_every_edges_relation(tiny_graph):
    sub = ds.select_relations(tiny_graph, "mention,reply,url")
    hetero = ds.to_hetero(sub)
    for rel_id, rel in enumerate(sub.relation_names):
        expected = sub.edge_index[:, sub.edge_type == rel_id]
        assert torch.equal(hetero["user", rel, "user"].edge_index, expected)
    assert hetero["user"].x is sub.x
    assert sum(hetero[et].edge_index.size(1) for et in hetero.edge_types) == sub.edge_index.size(1)


def test_mgtab_split_protocol_counts_and_order():
    split = ds.mgtab_split(np.arange(10_199), seed=3)
    assert (len(split.train), len(split.val), len(split.test)) == (7_139, 2_040, 1_020)
    expected = shuffle(np.arange(10_199), random_state=3)
    assert np.array_equal(torch.cat([split.train, split.val, split.test]).numpy(), expected)


@pytest.mark.parametrize("seed", [0, 1, 4])
def test_splits_disjoint_and_cover_labelled(tiny_graph, seed):
    split = ds.get_split(tiny_graph, "bot", seed)
    parts = [set(p.tolist()) for p in (split.train, split.val, split.test)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert set().union(*parts) == set(range(tiny_graph.num_nodes))


def test_split_skips_unlabelled_nodes(tiny_graph):
    g = tiny_graph.clone()
    g.y_bot = g.y_bot.clone()
    g.y_bot[:50] = -1
    split = ds.get_split(g, "bot", 0)
    ids = torch.cat([split.train, split.val, split.test])
    assert len(ids) == 250 and int(ids.min()) >= 50


def test_split_files_written(tiny_graph, tmp_path):
    split = ds.get_split(tiny_graph, "stance", 2)
    split.save(tmp_path)
    train = np.loadtxt(tmp_path / "train.csv", skiprows=1, dtype=np.int64)
    assert np.array_equal(train, split.train.numpy())


def test_parse_seeds():
    assert ds.parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert ds.parse_seeds("1,5,7") == [1, 5, 7]
    with pytest.raises(ValueError):
        ds.parse_seeds("")


def test_synthetic_is_deterministic_per_seed():
    a = synthetic.generate(synthetic.SyntheticConfig(num_nodes=400, seed=7))
    b = synthetic.generate(synthetic.SyntheticConfig(num_nodes=400, seed=7))
    c = synthetic.generate(synthetic.SyntheticConfig(num_nodes=400, seed=8))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["edge_index.pt"], c["edge_index.pt"])


@pytest.fixture(scope="module", params=[1, 2, 3], ids=["twin1", "twin2", "twin3"])
def mid_graph(data_root, request):
    """Every generator must keep the statistics the twin matches."""
    return ds.load("mgtab-synthetic", root=data_root, num_nodes=3_000, seed=1, twin=request.param)


def test_synthetic_statistics_near_mgtab(mid_graph):
    g, n = mid_graph, 3_000
    stance = torch.bincount(g.y_stance, minlength=3).numpy() / n
    assert np.allclose(stance, np.array(synthetic.STANCE_COUNTS) / 10_199, atol=1e-3)
    assert abs(float(g.y_bot.float().mean()) - 0.2694) < 1e-3
    counts = ds.edge_counts(g)
    for rel, target in synthetic.EDGE_COUNTS.items():
        assert counts[rel] == round(target * n / 10_199), rel
    # no self loops, no duplicate edge within a relation
    src, dst = g.edge_index
    assert not bool((src == dst).any())
    key = (g.edge_type * n + src) * n + dst
    assert key.unique().numel() == key.numel()
    # heavy-tailed degrees: the busiest node has far more than the median
    deg = torch.bincount(dst, minlength=n).float()
    assert float(deg.max()) > 8 * float(deg.median())
    out_deg = torch.bincount(src, minlength=n).float()
    assert float(out_deg.max()) > 8 * float(out_deg.median())
    # homophily: follow relations carry the bot signal, interactions the stance signal, url is near chance
    bot_h, stance_h = ds.edge_homophily(g, "y_bot"), ds.edge_homophily(g, "y_stance")
    # (twin 3 disguises a share of bots among humans: 0.72 on followers at full size, twins 1-2 0.82)
    assert bot_h["followers"] > 0.7 and bot_h["friends"] > 0.7
    assert min(bot_h["followers"], bot_h["friends"]) > max(h for rel, h in bot_h.items() if rel not in FOLLOW)
    assert stance_h["mention"] > 0.7 and stance_h["quoted"] > 0.75
    assert stance_h["url"] < 0.55
    # topics: 1-4 per user, with nested (subset) and partially overlapping sets
    sizes = g.y_topics.sum(1)
    assert int(sizes.min()) == 1 and int(sizes.max()) == 4
    rels = _pair_relations(g.y_topics[:300].bool())
    assert {"subset", "overlap", "disjoint", "identical"} <= rels


FOLLOW = ("followers", "friends")


def _pair_relations(Y: torch.Tensor) -> set[str]:
    inter = (Y[:, None] & Y[None]).sum(-1)
    a, b = Y.sum(-1)[:, None], Y.sum(-1)[None]
    out = set()
    out |= {"disjoint"} if bool((inter == 0).any()) else set()
    out |= {"identical"} if bool(((inter == a) & (inter == b)).any()) else set()
    out |= {"subset"} if bool(((inter == a) & (inter < b)).any()) else set()
    out |= {"overlap"} if bool(((inter > 0) & (inter < a) & (inter < b)).any()) else set()
    return out


def test_synthetic_full_size_counts():
    total = sum(round(c * synthetic.MGTAB_NUM_NODES / 10_199) for c in synthetic.EDGE_COUNTS.values())
    assert total == 1_700_108


def test_load_unknown_dataset_and_option(data_root):
    with pytest.raises(ValueError, match="unknown dataset 'nope'.*mgtab"):
        ds.load("nope", root=data_root)
    with pytest.raises(ValueError, match="unknown mgtab-synthetic option"):
        ds.load("mgtab-synthetic", root=data_root, nodes=3)


def test_second_load_uses_processed_cache(data_root):
    ds.load("mgtab-synthetic", root=data_root, num_nodes=300, seed=0)
    folder = next((data_root / "mgtab-synthetic").glob("*num_nodes300*seed0*"))
    cached = list((folder / "processed").glob("*.pt"))
    assert len(cached) == 1
    before = cached[0].stat().st_mtime_ns
    ds.load("mgtab-synthetic", root=data_root, num_nodes=300, seed=0)
    assert cached[0].stat().st_mtime_ns == before
