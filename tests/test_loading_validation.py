"""Every kind of corrupt raw file is a DatasetError naming the file; the processed cache never goes stale."""

from __future__ import annotations

import io
import pickle
import re
import shutil
from pathlib import Path

import pytest
import torch

from mgbench.datasets import DatasetError, load
from mgbench.datasets.io import load_pt, load_tensor
from mgbench.datasets.synthetic import SyntheticConfig, write


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
