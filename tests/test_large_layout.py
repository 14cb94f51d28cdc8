"""A generated MGTAB-large-format dataset read back through the MGTAB-large file layout."""

from __future__ import annotations

import pytest
import torch

from mgbench import datasets as ds
from mgbench.datasets.errors import DatasetError
from mgbench.datasets.io import load_tensor, save_pt
from mgbench.datasets.layout import read_mgtab_large
from mgbench.datasets.synthetic import SyntheticConfig, write

CONFIG = SyntheticConfig(large=True, num_nodes=3000, seed=1)


@pytest.fixture(scope="module")
def large_folder(tmp_path_factory):
    return write(CONFIG, tmp_path_factory.mktemp("large") / "mgtab-large")


def test_relation_r_is_file_r_and_labels_pad_with_minus_one(large_folder):
    data = read_mgtab_large(large_folder)
    assert data.num_nodes == 3000 and data.x.dtype == torch.float32
    assert data.edge_index.dtype == torch.int64 and data.edge_type.dtype == torch.int64
    start = 0
    for r, rel in enumerate(ds.MGTAB_RELATIONS):
        edges = load_tensor(large_folder / f"large_edge_index{r}.pt")
        stop = start + edges.size(1)
        assert torch.equal(data.edge_index[:, start:stop], edges), rel
        assert bool((data.edge_type[start:stop] == r).all()), rel
        start = stop
    assert start == data.edge_index.size(1)
    labelled = load_tensor(large_folder / "labels_bot.pt").numel()
    assert labelled == round(3000 * 10_199 / 410_199)
    for attr in ("y_bot", "y_stance"):
        y = data[attr]
        assert bool((y[:labelled] >= 0).all()) and bool((y[labelled:] == -1).all())
    split = ds.get_split(data, "bot", 0)
    assert int(torch.cat([split.train, split.val, split.test]).max()) < labelled


def test_load_by_name_reads_the_same_graph(large_folder):
    direct = read_mgtab_large(large_folder)
    named = ds.load("mgtab-large", root=large_folder.parent)  # finds the folder by its marker
    generated = ds.load("mgtab-synthetic", root=large_folder.parent.parent / "gen", large=True, num_nodes=3000,
                        seed=1)
    for graph in (named, generated):
        assert torch.equal(graph.edge_index, direct.edge_index) and torch.equal(graph.edge_type, direct.edge_type)
        assert torch.equal(graph.x, direct.x) and torch.equal(graph.y_bot, direct.y_bot)


def test_compact_edge_files_are_widened_and_bad_ids_name_the_file(large_folder, tmp_path):
    for f in large_folder.glob("*.pt"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    save_pt(load_tensor(tmp_path / "large_edge_index2.pt").to(torch.int32), tmp_path / "large_edge_index2.pt")
    assert torch.equal(read_mgtab_large(tmp_path).edge_index, read_mgtab_large(large_folder).edge_index)
    bad = load_tensor(tmp_path / "large_edge_index4.pt").clone()
    bad[1, 0] = 3000
    save_pt(bad, tmp_path / "large_edge_index4.pt")
    with pytest.raises(DatasetError, match=r"large_edge_index4\.pt: node ids outside"):
        read_mgtab_large(tmp_path)
