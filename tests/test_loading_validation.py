"""Every kind of corrupt raw file is a DatasetError naming the file; caches never go stale, never crash a load."""

from __future__ import annotations

import io
import os
import pickle
import re
import shutil
import signal
from pathlib import Path

import pytest
import torch

from mgbench.datasets import DatasetError, load
from mgbench.datasets.io import load_pt, load_tensor, save_pt
from mgbench.datasets.synthetic import SyntheticConfig, write
from mgbench.features.cache import FeatureCache


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return write(SyntheticConfig(num_nodes=200), tmp_path_factory.mktemp("pristine") / "MGTAB")


@pytest.fixture
def root(tmp_path, pristine) -> Path:
    shutil.copytree(pristine, tmp_path / "MGTAB")
    return tmp_path


def _replace(path: Path, data: bytes) -> None:
    # A new file, not an in-place rewrite: tensors loaded earlier may be memory-mapped from the old one.
    path.unlink()
    path.write_bytes(data)


def _save(path: Path, obj) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    _replace(path, buf.getvalue())


def _edit(fname: str, change):
    """A corruption that loads ``fname``'s tensor, changes it and saves it back."""
    def corrupt(folder: Path) -> None:
        _save(folder / fname, change(load_tensor(folder / fname).clone()))
    return corrupt


def _set(t: torch.Tensor, index, value) -> torch.Tensor:
    t[index] = value
    return t


class Opaque:
    """Any object that is not a tensor."""


CASES = {
    "truncated-pt": ("features.pt", "corrupt or truncated",
                     lambda f: _replace(f / "features.pt", (f / "features.pt").read_bytes()[:5000])),
    "non-tensor-pickle": ("edge_type.pt", "expected a tensor, found dict",
                          lambda f: _save(f / "edge_type.pt", {"ids": torch.zeros(3)})),
    "arbitrary-object": ("labels_stance.pt", "refused to load.*weights_only=True",
                         lambda f: _replace(f / "labels_stance.pt", pickle.dumps(Opaque(), protocol=2))),
    "edge-index-3xE": ("edge_index.pt", r"expected shape \[2, E\]",
                       _edit("edge_index.pt", lambda t: torch.cat([t, t[:1]]))),
    "features-1d": ("features.pt", r"expected \[nodes, >20\] features",
                    _edit("features.pt", lambda t: t[:, 0])),
    "labels-wrong-length": ("labels_bot.pt", "199 labels for 200 nodes",
                            _edit("labels_bot.pt", lambda t: t[:-1])),
    "node-id-out-of-range": ("edge_index.pt", r"node ids outside \[0, 200\)",
                             _edit("edge_index.pt", lambda t: _set(t, (1, 0), 200))),
    "unknown-relation": ("edge_type.pt", "relation ids outside",
                         _edit("edge_type.pt", lambda t: _set(t, 0, 7))),
    "labels-out-of-range": ("labels_stance.pt", r"labels outside 0\.\.2",
                            _edit("labels_stance.pt", lambda t: _set(t, 0, 3))),
    "nan-features": ("features.pt", "NaN",
                     _edit("features.pt", lambda t: _set(t, (0, 0), float("nan")))),
    "missing-file": ("edge_weight.pt", "file is missing", lambda f: (f / "edge_weight.pt").unlink()),
    "empty-pt": ("labels_bot.pt", r"empty file \(0 bytes\)", lambda f: _replace(f / "labels_bot.pt", b"")),
    "folder-not-file": ("edge_weight.pt", "not a regular file",
                        lambda f: ((f / "edge_weight.pt").unlink(), (f / "edge_weight.pt").mkdir())),
    "stride-0-labels": ("labels_bot.pt", r"shape \(200,\) \(stride \(0,\)\) needs 1600 bytes but the file stores 8",
                        lambda f: _save(f / "labels_bot.pt", torch.zeros(1, dtype=torch.int64).expand(200))),
    "stride-0-features": ("features.pt", r"needs \d+ bytes but the file stores 4",
                          _edit("features.pt", lambda t: torch.zeros(1).expand(t.shape))),
    "stride-0-8-terabytes": ("labels_stance.pt", "needs 8000000000000 bytes but the file stores 8",
                             lambda f: _save(f / "labels_stance.pt", torch.zeros(1, dtype=torch.int64).expand(10**12))),
    "fractional-labels": ("labels_stance.pt", "labels must be whole numbers, found 0.5",
                          _edit("labels_stance.pt", lambda t: _set(t.double(), 0, 0.5))),
    "fractional-node-ids": ("edge_index.pt", "node ids must be whole numbers, found 1.5",
                            _edit("edge_index.pt", lambda t: _set(t.double(), (0, 0), 1.5))),
    "nan-relation-ids": ("edge_type.pt", "relation ids must be whole numbers, found nan",
                         _edit("edge_type.pt", lambda t: _set(t.float(), 0, float("nan")))),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_corrupt_file_is_named(root, case):
    fname, message, corrupt = case
    corrupt(root / "MGTAB")
    with pytest.raises(DatasetError, match=re.escape(str(root / "MGTAB" / fname)) + ": .*" + message):
        load("mgtab", root=root)


def test_cache_follows_raw_files(root):
    folder = root / "MGTAB"
    before = load("mgtab", root=root).y_bot
    _save(folder / "labels_bot.pt", 1 - load_tensor(folder / "labels_bot.pt"))
    assert torch.equal(load("mgtab", root=root).y_bot, 1 - before)
    assert len(list((folder / "processed").glob("*.pt"))) == 1  # the stale cache was removed


def test_corrupt_cache_is_rebuilt(root):
    expected = load("mgtab", root=root)
    [cache] = (root / "MGTAB" / "processed").glob("*.pt")
    _replace(cache, cache.read_bytes()[:1000])
    assert torch.equal(load("mgtab", root=root).x, expected.x)
    assert torch.equal(load_pt(cache)["x"], expected.x)  # rewritten whole


def test_unreadable_file_is_named(root):
    if os.geteuid() == 0:
        pytest.skip("root reads a file of mode 000")
    path = root / "MGTAB" / "features.pt"
    path.chmod(0)
    try:
        with pytest.raises(DatasetError, match=re.escape(str(path)) + r": cannot be read \(Permission denied\)"):
            load("mgtab", root=root)
    finally:
        path.chmod(0o644)


def test_whole_numbers_stored_as_floats_still_load(root):
    expected = load("mgtab", root=root)
    folder = root / "MGTAB"
    for fname in ("edge_index.pt", "edge_type.pt", "labels_stance.pt", "labels_bot.pt"):
        _save(folder / fname, load_tensor(folder / fname).double())
    data = load("mgtab", root=root)
    for key in ("edge_index", "edge_type", "y_stance", "y_bot"):
        assert data[key].dtype == torch.int64 and torch.equal(data[key], expected[key])


@pytest.mark.parametrize("content", [b"", pickle.dumps([1, 2], protocol=2), "tensor"], ids=["empty", "not-a-pt", "a-tensor"])
def test_cache_that_is_empty_or_not_a_graph_is_rebuilt(root, content):
    expected = load("mgtab", root=root)
    [cache] = (root / "MGTAB" / "processed").glob("*.pt")
    if content == "tensor":
        _save(cache, torch.zeros(3))
    else:
        _replace(cache, content)
    assert torch.equal(load("mgtab", root=root).x, expected.x)
    assert torch.equal(load_pt(cache)["x"], expected.x)


def test_read_only_folder_loads_and_caches_elsewhere(root, tmp_path, monkeypatch):
    monkeypatch.setenv("MGBENCH_CACHE", str(tmp_path / "cache"))
    folder = root / "MGTAB"
    before = sorted(p.name for p in folder.iterdir())
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(0o555)
    try:
        first = load("mgtab", root=root)
        [cache] = (tmp_path / "cache" / "processed").glob("*/mgtab-*.pt")
        written = cache.stat().st_mtime_ns
        again = load("mgtab", root=root)
        assert cache.stat().st_mtime_ns == written  # read from the cache, not rebuilt
        assert torch.equal(first.x, again.x) and torch.equal(first.edge_index, again.edge_index)
        assert sorted(p.name for p in folder.iterdir()) == before  # nothing written beside the data
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_killed_cache_build_leaves_no_orphan(root):
    """A process killed while writing the cache leaves its hidden temporary file; the next writer removes it."""
    expected = load("mgtab", root=root)
    processed = root / "MGTAB" / "processed"
    [cache] = processed.glob("mgtab-*.pt")
    cache.unlink()
    pid = os.fork()
    if pid == 0:  # the child dies in the middle of writing the cache, as under kill -9
        try:
            def dying(obj, path, *args, **kwargs):
                Path(path).write_bytes(b"half a cache")
                os.kill(os.getpid(), signal.SIGKILL)

            torch.save = dying
            save_pt(expected.to_dict(), cache)
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert len(list(processed.glob(".*.tmp"))) == 1 and not cache.exists()
    assert torch.equal(load("mgtab", root=root).x, expected.x)
    assert sorted(p.name for p in processed.iterdir()) == [cache.name]


# --------------------------------------------------------------------------- the feature cache

KEY = {"input": "abc", "encoder": "test"}
BLOCK = {"vectors": torch.arange(6.0).reshape(2, 3)}


def test_empty_feature_cache_entry_is_rebuilt(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.path("text", KEY).write_bytes(b"")  # what a write killed before its rename can leave
    assert torch.equal(cache.fetch("text", KEY, lambda: BLOCK)["vectors"], BLOCK["vectors"])
    assert cache.rebuilt == 1
    again = cache.fetch("text", KEY, lambda: pytest.fail("the rebuilt entry should be read back"))
    assert torch.equal(again["vectors"], BLOCK["vectors"])


def test_feature_cache_that_cannot_be_written_still_computes(tmp_path):
    (tmp_path / "a-file").write_text("")
    cache = FeatureCache(tmp_path / "a-file" / "cache")
    assert torch.equal(cache.fetch("text", KEY, lambda: BLOCK)["vectors"], BLOCK["vectors"])
    assert cache.misses == 1
