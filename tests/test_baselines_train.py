"""Every feature model learns a strongly planted signal; relations matter where the signal is in them.

Each GNN's own training test lives beside its equivalence tests (``test_gnn_*_family.py``).
"""

from __future__ import annotations

import pytest
import torch

from mgbench.benchmark import ResultStore, RunSpec, registered_models, sweep


def _majority(data_root) -> float:
    from mgbench import datasets as ds

    g = ds.load("mgtab-synthetic", root=data_root, num_nodes=600, seed=0, feature_signal=5.0, twin=2)
    test = ds.get_split(g, "bot", 0).test
    return float(torch.bincount(g.y_bot[test]).max()) / len(test)


@pytest.mark.parametrize("model", sorted(n for n, s in registered_models().items() if s.kind == "features"))
def test_every_feature_model_beats_the_majority_class(model, data_root, tmp_path):
    spec = RunSpec(dataset="mgtab-synthetic", task="bot", model=model, relations="followers,friends",
                   dataset_options={"num_nodes": 600, "feature_signal": 5.0, "twin": 2},
                   training={"epochs": 25, "lr": 0.01, "patience": 25})
    [rec] = sweep([spec], ResultStore(tmp_path), root=data_root, progress=False)
    assert rec["metrics"]["test"]["accuracy"] > _majority(data_root) + 0.05


def test_relational_model_beats_features_when_the_signal_is_in_the_relations(data_root, tmp_path):
    options = {"num_nodes": 600, "feature_signal": 0.0, "relation_signal": 1.0, "twin": 2}
    specs = [RunSpec(dataset="mgtab-synthetic", task="bot", model=m, relations="followers,friends",
                     dataset_options=options, training={"epochs": 40, "lr": 0.01, "patience": 40})
             for m in ("logistic-regression", "rgcn")]
    features, relational = sweep(specs, ResultStore(tmp_path), root=data_root, progress=False)
    assert relational["metrics"]["test"]["f1_macro"] > features["metrics"]["test"]["f1_macro"] + 0.15
