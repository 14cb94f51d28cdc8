"""The twin's generators: versions 1 and 2 stay as they were to the byte; version 2
keeps the graph and puts the feature signal where MGTAB has it; version 3 (the
default) is deterministic and disguises a share of bots in the follow graph."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from mgbench import datasets as ds
from mgbench.datasets import synthetic
from mgbench.datasets.layout import MGTAB_CATEGORICAL, NUM_PROFILE_COLUMNS


def _fingerprint(files: dict[str, torch.Tensor]) -> tuple[str, list[float]]:
    """SHA-256 of every integer tensor and of the binary profile columns, and four sums
    of the float features: float32 sums and products can differ in the last bit between
    BLAS builds and thread counts, so the floats are compared with a tolerance."""
    digest = hashlib.sha256()
    for name in sorted(files):
        a = files[name].numpy()
        if "features" in name:
            a = a[:, list(MGTAB_CATEGORICAL)]
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(a).tobytes())
    x = next(v for k, v in files.items() if "features" in k).numpy().astype(np.float64)
    v = np.random.default_rng(0).standard_normal(x.shape[1])
    return digest.hexdigest()[:16], [x.sum(), (x * x).sum(), x[:, :NUM_PROFILE_COLUMNS].sum(), (x @ v).std()]


#: Fingerprints of the first generator (commit 3e31455, before ``twin`` existed).
FIRST_TWIN = [
    (dict(num_nodes=400, seed=7), "94b40be88c723746", [4042.6284322536, 9563.1198258576, 3875.8979447305, 3.9055254779]),
    (dict(num_nodes=820, seed=3, large=True), "757e93761270c66f",
     [6522.9401457847, 18775.22565121, 7130.2055242849, 4.3735845287]),
    (dict(num_nodes=500, seed=1, feature_signal=0.5, relation_signal=2.0), "633f0c48445a3216",
     [4395.9888896178, 11273.6535019478, 4300.4142557996, 4.1857475289]),
]


#: Fingerprints of twin 2 (commit 15c143d, when it was the default).
SECOND_TWIN = [
    (dict(num_nodes=400, seed=7), "0e1b1ab0d1f6c3d2", [3068.1350918226, 5300.9922481427, 2677.527658494, 2.8092652657]),
    (dict(num_nodes=820, seed=3, large=True), "91b410e8cfe8f5ed",
     [4091.8912736989, 10944.3782769623, 5668.6188604493, 3.1102932694]),
]


@pytest.mark.parametrize("twin, options, digest, sums",
                         [(1, *case) for case in FIRST_TWIN] + [(2, *case) for case in SECOND_TWIN])
def test_older_twins_reproduce_their_graphs_to_the_byte(twin, options, digest, sums):
    got_digest, got_sums = _fingerprint(synthetic.generate(synthetic.SyntheticConfig(twin=twin, **options)))
    assert got_digest == digest
    assert got_sums == pytest.approx(sums, rel=1e-8)


def test_twin_3_is_the_default_and_deterministic_per_seed():
    a = synthetic.generate(synthetic.SyntheticConfig(num_nodes=400, seed=7))
    b = synthetic.generate(synthetic.SyntheticConfig(num_nodes=400, seed=7, twin=3))
    c = synthetic.generate(synthetic.SyntheticConfig(num_nodes=400, seed=8))
    assert a.keys() == b.keys()
    assert all(a[k].numpy().tobytes() == b[k].numpy().tobytes() for k in a)
    assert not torch.equal(a["features.pt"], c["features.pt"])
    assert not torch.equal(a["edge_index.pt"], c["edge_index.pt"])


@pytest.mark.parametrize("options", [dict(num_nodes=400, seed=7), dict(num_nodes=820, seed=3, large=True)])
def test_twin_2_changes_the_features_only(options):
    """Edges and labels are drawn before the features, so every edge statistic of twin 1 holds."""
    one = synthetic.generate(synthetic.SyntheticConfig(twin=1, **options))
    two = synthetic.generate(synthetic.SyntheticConfig(twin=2, **options))
    features = "large_features.pt" if options.get("large") else "features.pt"
    assert one.keys() == two.keys()
    for name in one:
        if name not in (features, "edge_weight.pt"):  # weights are drawn after the features
            assert torch.equal(one[name], two[name]), name
    assert one[features].shape == two[features].shape and not torch.equal(one[features], two[features])
    profile = two[features][:, list(MGTAB_CATEGORICAL)]
    assert set(profile.unique().tolist()) <= {0.0, 1.0}   # categorical columns stay 0/1
    numeric = two[features][:, :NUM_PROFILE_COLUMNS]
    assert float(numeric.min()) >= 0.0 and float(numeric.max()) <= 1.0


def _follow_bot_share(files: dict[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """Per user with at least 10 follow edges out: the share of bots among whom they follow (or are
    followed by); and each such user's bot label."""
    ei, et = files["edge_index.pt"].numpy(), files["edge_type.pt"].numpy()
    bot = files["labels_bot.pt"].numpy()
    src, dst = ei[:, et <= 1]  # followers, friends
    out = np.bincount(src, minlength=len(bot))
    share = np.bincount(src, weights=bot[dst], minlength=len(bot)) / np.maximum(out, 1)
    busy = out >= 10
    return share[busy], bot[busy]


def test_twin_3_disguises_a_share_of_bots_in_the_follow_graph():
    """Twin 2: nearly every bot follows far more bots than a human does. Twin 3: a share of bots
    (those its features hide, mostly, and some others: GRAPH_DISGUISE) follow as humans do, so
    their neighbourhood does not give them away; the others follow bots more than in twin 2."""
    options = dict(num_nodes=4_000, seed=5)
    disguised = {}
    for twin in (2, 3):
        share, bot = _follow_bot_share(synthetic.generate(synthetic.SyntheticConfig(twin=twin, **options)))
        human = np.quantile(share[bot == 0], 0.95)
        disguised[twin] = float((share[bot == 1] <= human).mean())
    rates = synthetic.GRAPH_DISGUISE
    expected = synthetic.BOT_HIDDEN * rates["features hidden"] + (1 - synthetic.BOT_HIDDEN) * rates["features shown"]
    assert disguised[2] < 0.05
    assert abs(disguised[3] - expected) < 0.08, (disguised, expected)


def test_twin_3_keeps_twin_2s_edge_counts_and_stance_homophily(data_root):
    two, three = (ds.load("mgtab-synthetic", root=data_root, num_nodes=3_000, seed=4, twin=t) for t in (2, 3))
    assert ds.edge_counts(two) == ds.edge_counts(three)
    h2, h3 = ds.edge_homophily(two, "y_stance"), ds.edge_homophily(three, "y_stance")
    assert all(abs(h2[rel] - h3[rel]) < 0.015 for rel in h2), (h2, h3)
    assert torch.equal(two.y_stance, three.y_stance) and torch.equal(two.y_bot, three.y_bot)


def test_twin_3_hides_the_bots_its_features_hide_more_often():
    rng = np.random.default_rng(0)
    bot = (rng.random(200_000) < 0.27).astype(np.int64)
    look = synthetic._bot_look(rng, bot)
    edge = synthetic._edge_bot_class(rng, bot, look)
    assert not edge[bot == 0].any()  # humans are drawn as humans
    hidden, shown = (bot == 1) & (look == 0), (bot == 1) & (look == 1)
    assert (edge[hidden] == 0).mean() == pytest.approx(synthetic.GRAPH_DISGUISE["features hidden"], abs=0.01)
    assert (edge[shown] == 0).mean() == pytest.approx(synthetic.GRAPH_DISGUISE["features shown"], abs=0.01)


def test_unknown_twin_is_one_clear_error(data_root):
    with pytest.raises(ValueError, match="twin must be one of \\[1, 2, 3\\].*got 4"):
        ds.load("mgtab-synthetic", root=data_root, num_nodes=300, twin=4)


@pytest.fixture(scope="module")
def small():
    files = synthetic.generate(synthetic.SyntheticConfig(num_nodes=3_000, seed=2))
    x = files["features.pt"].numpy()
    return x, files["labels_stance.pt"].numpy(), files["labels_bot.pt"].numpy()


def _score(model, x, y) -> float:
    cut = int(0.7 * len(y))
    return float(model.fit(x[:cut], y[:cut]).score(x[cut:], y[cut:]))


def test_twin_2_bot_signal_is_in_thresholds_of_a_few_profile_columns(small):
    """A depth-3 tree on the 20 properties finds bots (as trees do on MGTAB);
    the same tree on the tweet block barely beats the majority class."""
    x, _, bot = small
    majority = max(bot.mean(), 1 - bot.mean())
    tree = lambda: DecisionTreeClassifier(max_depth=3, random_state=0)  # noqa: E731
    assert _score(tree(), x[:, :NUM_PROFILE_COLUMNS], bot) > majority + 0.12
    assert _score(tree(), x[:, NUM_PROFILE_COLUMNS:], bot) < majority + 0.04


def test_twin_2_stance_signal_is_in_the_tweet_block(small):
    x, stance, _ = small
    majority = np.bincount(stance).max() / len(stance)
    linear = lambda: LogisticRegression(C=0.1, max_iter=500)  # noqa: E731
    assert _score(linear(), x[:, NUM_PROFILE_COLUMNS:], stance) > majority + 0.3
    assert _score(linear(), x[:, :NUM_PROFILE_COLUMNS], stance) < majority + 0.05


def test_twin_2_feature_signal_zero_leaves_no_label_in_the_features():
    files = synthetic.generate(synthetic.SyntheticConfig(num_nodes=3_000, seed=2, feature_signal=0.0))
    x, bot = files["features.pt"].numpy(), files["labels_bot.pt"].numpy()
    majority = max(bot.mean(), 1 - bot.mean())
    assert _score(DecisionTreeClassifier(max_depth=3, random_state=0), x, bot) < majority + 0.03
