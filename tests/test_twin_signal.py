"""The twin's feature generators: version 1 is the first twin to the byte, version 2
(the default) is deterministic, keeps the graph, and puts the signal where MGTAB has it."""

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


@pytest.mark.parametrize("options, digest, sums", FIRST_TWIN)
def test_twin_1_reproduces_the_first_generator(options, digest, sums):
    got_digest, got_sums = _fingerprint(synthetic.generate(synthetic.SyntheticConfig(twin=1, **options)))
    assert got_digest == digest
    assert got_sums == pytest.approx(sums, rel=1e-8)


def test_twin_2_is_the_default_and_deterministic_per_seed():
    a = synthetic.generate(synthetic.SyntheticConfig(num_nodes=400, seed=7))
    b = synthetic.generate(synthetic.SyntheticConfig(num_nodes=400, seed=7, twin=2))
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


def test_unknown_twin_is_one_clear_error(data_root):
    with pytest.raises(ValueError, match="twin must be one of \\[1, 2\\].*got 3"):
        ds.load("mgtab-synthetic", root=data_root, num_nodes=300, twin=3)


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
