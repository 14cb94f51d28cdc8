"""Readers for the authors' file layouts: MGTAB, MGTAB-large and Cresci-15.

Each reader takes the folder holding the ``.pt`` files, reads every file with
``torch.load(weights_only=True)`` (see :mod:`.io`), checks shapes, id ranges
and label ranges, and returns the one graph form of :mod:`.graph`.

Where the MGTAB reference loader is wrong we differ on purpose:
- MGTAB-large: the reference builds ``edge_type`` for relations 5 and 6 from
  the *edge index tensors* of those relations (and the lengths of relation 4);
  here relation ``r`` is exactly the edges of ``large_edge_index{r}.pt``.
- Cresci-15: the reference loads ``test_idx.pt`` as validation and
  ``val_idx.pt`` as test; here each file is what its name says.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch_geometric.data import Data

from .errors import DatasetError
from .graph import MGTAB_RELATIONS, build_graph
from .io import check_integral, load_ids, load_tensor

#: MGTAB's 20 profile-property columns come first, then the 768-d tweet embedding.
NUM_PROFILE_COLUMNS = 20
#: The categorical (boolean) profile columns, as BotRGCN's encoders split them.
#: The reference code uses ``[1,2,3,5,9,16,17,18,19,20]``, where 20 is the first
#: tweet-embedding column and property 0 is never seen; we use 0 instead of 20.
MGTAB_CATEGORICAL = (0, 1, 2, 3, 5, 9, 16, 17, 18, 19)

MGTAB_FILES = ("features.pt", "edge_index.pt", "edge_type.pt", "edge_weight.pt",
               "labels_stance.pt", "labels_bot.pt")
MGTAB_LARGE_FILES = ("large_features.pt", *(f"large_edge_index{r}.pt" for r in range(7)),
                     "labels_stance.pt", "labels_bot.pt")
CRESCI_FILES = ("cat_properties_tensor.pt", "num_properties_tensor.pt", "des_tensor.pt",
                "tweets_tensor.pt", "label.pt", "edge_index.pt", "edge_type.pt",
                "train_idx.pt", "val_idx.pt", "test_idx.pt")
CRESCI_RELATIONS = ("followers", "friends")


def find_folder(root: str | Path, marker: str, name: str) -> Path:
    """The folder under ``root`` that holds ``marker``: ``root`` itself, ``root/name``,
    or one folder below either (an archive unpacked with a top-level folder)."""
    root = Path(root).expanduser()
    candidates = [root, root / name]
    for base in list(candidates):
        if base.is_dir():
            candidates.extend(sorted(p for p in base.iterdir() if p.is_dir()))
    for folder in candidates:
        if (folder / marker).is_file():
            return folder
    raise DatasetError(
        f"{name}: no {marker} under {root} (looked in the folder, {name}/ and one level below). "
        f"Run `mgbench download {name} --root {root}` or point --root at the folder holding the .pt files."
    )


def _features(path: Path) -> torch.Tensor:
    """The feature matrix of ``path``: 2-D, more columns than the profile block, finite."""
    x = load_tensor(path)
    if x.is_complex():
        raise DatasetError(f"{path}: features must be real numbers, found dtype {x.dtype}")
    if x.dim() != 2 or x.size(1) <= NUM_PROFILE_COLUMNS:
        raise DatasetError(f"{path}: expected [nodes, >{NUM_PROFILE_COLUMNS}] features, got shape {tuple(x.shape)}")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).any(dim=1).sum())
        raise DatasetError(f"{path}: features hold NaN or inf values in {bad} node rows")
    return x


def _labels(path: Path, num_nodes: int, num_classes: int, labelled_first: bool = False) -> torch.Tensor:
    y = load_ids(path, "labels").reshape(-1)
    if labelled_first and y.numel() < num_nodes:  # MGTAB-large: only the first 10,199 are labelled
        y = torch.cat([y, torch.full((num_nodes - y.numel(),), -1, dtype=torch.int64)])
    if y.numel() != num_nodes:
        raise DatasetError(f"{path}: {y.numel()} labels for {num_nodes} nodes")
    bad = (y < -1) | (y >= num_classes)
    if bool(bad.any()):
        raise DatasetError(f"{path}: labels outside 0..{num_classes - 1} (e.g. {int(y[bad][0])})")
    return y


def read_mgtab(folder: str | Path, name: str = "mgtab") -> Data:
    """Read the MGTAB layout (``features.pt``, ``edge_index.pt``, ... ``labels_bot.pt``).

    Extra ``labels_<task>.pt`` files (the synthetic twin's ``labels_topics.pt``)
    become ``y_<task>`` as multi-label [N, C] tensors.
    """
    folder = Path(folder)
    x = _features(folder / "features.pt")
    n = x.size(0)
    edge_index = load_ids(folder / "edge_index.pt", "node ids")
    edge_type = load_ids(folder / "edge_type.pt", "relation ids")
    edge_weight = load_tensor(folder / "edge_weight.pt")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise DatasetError(f"{folder / 'edge_index.pt'}: expected shape [2, E], got {tuple(edge_index.shape)}")
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= n):
        raise DatasetError(f"{folder / 'edge_index.pt'}: node ids outside [0, {n})")
    for fname, t in (("edge_type.pt", edge_type), ("edge_weight.pt", edge_weight)):
        if t.numel() != edge_index.size(-1):
            raise DatasetError(f"{folder / fname}: {t.numel()} entries for {edge_index.size(-1)} edges")
    if edge_type.numel() and (int(edge_type.min()) < 0 or int(edge_type.max()) >= len(MGTAB_RELATIONS)):
        raise DatasetError(f"{folder / 'edge_type.pt'}: relation ids outside 0..{len(MGTAB_RELATIONS) - 1}")
    labels = {"y_stance": _labels(folder / "labels_stance.pt", n, 3),
              "y_bot": _labels(folder / "labels_bot.pt", n, 2)}
    for extra in sorted(folder.glob("labels_*.pt")):
        task = extra.stem[len("labels_"):]
        if task in ("stance", "bot"):
            continue
        y = load_ids(extra, "labels")
        if y.dim() != 2 or y.size(0) != n or bool(((y < -1) | (y > 1)).any()):
            raise DatasetError(f"{extra}: expected a multi-hot [{n}, C] tensor of 0/1 (-1 rows unlabelled)")
        labels[f"y_{task}"] = y
    return build_graph(
        x=x, edge_index=edge_index, edge_type=edge_type, edge_weight=edge_weight,
        relation_names=MGTAB_RELATIONS, labels=labels,
        feature_blocks={"profile": (0, NUM_PROFILE_COLUMNS), "tweet": (NUM_PROFILE_COLUMNS, x.size(1))},
        categorical_columns=MGTAB_CATEGORICAL, name=name, source=str(folder))


def read_mgtab_large(folder: str | Path, name: str = "mgtab-large") -> Data:
    """Read the MGTAB-large layout: 410,199 users, the 10,199 labelled ones first.

    Relation ``r`` is exactly the edges of ``large_edge_index{r}.pt``.
    """
    folder = Path(folder)
    x = _features(folder / "large_features.pt")
    n = x.size(0)
    # ~98 M edges: the files are memory-mapped (io.load_pt) and copied one by one
    # into preallocated int64 outputs, so no relation is ever held twice.
    paths = [folder / f"large_edge_index{r}.pt" for r in range(len(MGTAB_RELATIONS))]
    parts = [load_tensor(path) for path in paths]
    for path, ei in zip(paths, parts):
        if ei.dim() != 2 or ei.size(0) != 2:
            raise DatasetError(f"{path}: expected shape [2, E], got {tuple(ei.shape)}")
        check_integral(ei, str(path), "node ids")
    total = sum(p.size(1) for p in parts)
    edge_index = torch.empty((2, total), dtype=torch.int64)
    edge_type = torch.empty(total, dtype=torch.int64)
    start = 0
    for r, path in enumerate(paths):
        stop = start + parts[r].size(1)
        block = edge_index[:, start:stop]
        block.copy_(parts[r])
        parts[r] = None  # unmap the file
        if block.numel() and (int(block.min()) < 0 or int(block.max()) >= n):
            raise DatasetError(f"{path}: node ids outside [0, {n})")
        edge_type[start:stop] = r
        start = stop
    labels = {"y_stance": _labels(folder / "labels_stance.pt", n, 3, labelled_first=True),
              "y_bot": _labels(folder / "labels_bot.pt", n, 2, labelled_first=True)}
    return build_graph(
        x=x, edge_index=edge_index, edge_type=edge_type, relation_names=MGTAB_RELATIONS, labels=labels,
        feature_blocks={"profile": (0, NUM_PROFILE_COLUMNS), "tweet": (NUM_PROFILE_COLUMNS, x.size(1))},
        categorical_columns=MGTAB_CATEGORICAL, name=name, source=str(folder))


def read_cresci15(folder: str | Path, name: str = "cresci-15") -> Data:
    """Read the standardised Cresci-15 (BotRGCN layout) with its given split."""
    folder = Path(folder)
    blocks = {}
    tensors = []
    start = 0
    for block, fname in (("profile_categorical", "cat_properties_tensor.pt"),
                         ("profile_numerical", "num_properties_tensor.pt"),
                         ("description", "des_tensor.pt"), ("tweet", "tweets_tensor.pt")):
        t = load_tensor(folder / fname).float()
        if t.dim() == 1:
            t = t.unsqueeze(1)
        if tensors and t.size(0) != tensors[0].size(0):
            raise DatasetError(f"{folder / fname}: {t.size(0)} rows, expected {tensors[0].size(0)}")
        blocks[block] = (start, start + t.size(1))
        start += t.size(1)
        tensors.append(t)
    x = torch.cat(tensors, dim=1)
    n = x.size(0)
    blocks["profile"] = (0, blocks["profile_numerical"][1])
    y_bot = _labels(folder / "label.pt", n, 2)
    split = {}
    for part in ("train", "val", "test"):
        idx = load_ids(folder / f"{part}_idx.pt", "node ids").reshape(-1)
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n):
            raise DatasetError(f"{folder / f'{part}_idx.pt'}: node ids outside [0, {n})")
        split[f"split_{part}"] = idx
    return build_graph(
        x=x, edge_index=load_ids(folder / "edge_index.pt", "node ids"),
        edge_type=load_ids(folder / "edge_type.pt", "relation ids"),
        relation_names=CRESCI_RELATIONS, labels={"y_bot": y_bot}, feature_blocks=blocks,
        categorical_columns=range(*blocks["profile_categorical"]), name=name, source=str(folder), **split)
