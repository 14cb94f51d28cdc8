"""Shared fixtures: one tiny synthetic graph per session, in a private data root."""

from __future__ import annotations

import pytest

from mgbench import datasets as ds


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("mgbench-data")


@pytest.fixture(scope="session")
def tiny_graph(data_root):
    """300 users of twin 2, whose bots' neighbours show the planted signal (the graph the layer and
    training tests were written on; twin 3, the default, is tested in test_twin_signal)."""
    return ds.load("mgtab-synthetic", root=data_root, num_nodes=300, seed=0, twin=2)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Caches a test cannot put beside its data go to a temporary folder, never the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MGBENCH_CACHE", str(tmp_path_factory.mktemp("mgbench-cache")))
        yield


@pytest.fixture
def throwaway_package(tmp_path, monkeypatch):
    """Install a throwaway package into a temp site folder: ``install(package, source, group, entry)``
    writes ``package/__init__.py`` and a dist-info whose entry point ``entry`` (``name = module:attr``)
    sits in ``group``, and puts the folder on ``sys.path`` (removed, with the module, afterwards)."""
    import sys

    site, installed = tmp_path / "site", []

    def install(package: str, source: str, group: str, entry: str) -> None:
        (site / package).mkdir(parents=True)
        (site / package / "__init__.py").write_text(source)
        info = site / f"{package}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package.replace('_', '-')}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[{group}]\n{entry}\n")
        installed.append(package)

    monkeypatch.syspath_prepend(str(site))
    yield install
    for package in installed:
        sys.modules.pop(package, None)
