"""Shared fixtures: one tiny synthetic graph per session, in a private data root."""

from __future__ import annotations

import pytest

from mgbench import datasets as ds


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("mgbench-data")


@pytest.fixture(scope="session")
def tiny_graph(data_root):
    return ds.load("mgtab-synthetic", root=data_root, num_nodes=300, seed=0)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Caches a test cannot put beside its data go to a temporary folder, never the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MGBENCH_CACHE", str(tmp_path_factory.mktemp("mgbench-cache")))
        yield
