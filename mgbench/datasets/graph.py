"""The one in-memory form of every dataset: a validated multi-relational PyG ``Data``.

Fields (DESIGN.md): ``x`` float32 [N, F]; ``edge_index`` int64 [2, E];
``edge_type`` int64 [E] indexing ``relation_names``; ``edge_weight`` float32 [E];
one label tensor per task, ``-1`` marking unlabelled nodes (``y_stance``,
``y_bot`` of shape [N]; multi-label tasks ``y_<task>`` of shape [N, C] with
rows of ``-1`` for unlabelled nodes); ``feature_blocks`` mapping a block name
(``profile``, ``tweet``, ``text``, ``image``, ...) to its column range
``(start, stop)``; ``categorical_columns`` listing the profile columns that hold
categorical properties (BotRGCN encodes them apart from the numerical ones).
A dataset that comes with its own split also carries ``split_train``,
``split_val`` and ``split_test`` (node ids).
"""

from __future__ import annotations

import copy
from typing import Iterable, Sequence

import torch
from torch_geometric.data import Data, HeteroData

from .errors import DatasetError
from .io import check_integral
from .tasks import TASKS

#: The label attribute of each task that a dataset stores itself (``y_stance``, ``y_topics``, ...).
_LABELLED_TASKS = {task.attr: task for task in TASKS.values() if not task.sources}

#: MGTAB's seven relations, in the order of its ``edge_type`` ids.
MGTAB_RELATIONS: tuple[str, ...] = ("followers", "friends", "mention", "reply", "quoted", "url", "hashtag")

#: The relations the MGTAB paper's GNN scripts use by default (``--relation_select 0 1``).
DEFAULT_RELATIONS: tuple[str, ...] = ("followers", "friends")

#: Node type of the heterogeneous view: every node is a user.
USER = "user"


def build_graph(
    *,
    x: torch.Tensor,
    edge_index: torch.Tensor,
    edge_type: torch.Tensor,
    relation_names: Sequence[str],
    labels: dict[str, torch.Tensor],
    feature_blocks: dict[str, tuple[int, int]],
    edge_weight: torch.Tensor | None = None,
    categorical_columns: Sequence[int] = (),
    name: str = "",
    source: str = "",
    **extra,
) -> Data:
    """Assemble and validate a dataset graph; raise :class:`DatasetError` naming ``source``.

    ``labels`` maps a task's label attribute (``y_stance``) to its tensor.
    Integer ids are converted to int64 and features to float32 here, once, so
    that every loader returns exactly the same dtypes.
    """
    where = source or name or "dataset"
    if not x.is_floating_point():
        x = x.float()
    x = x.to(torch.float32)
    if x.dim() != 2:
        raise DatasetError(f"{where}: features must be 2-D [nodes, features], got shape {tuple(x.shape)}")
    num_nodes = x.size(0)
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).any(dim=1).sum())
        raise DatasetError(f"{where}: features hold NaN or inf values in {bad} node rows")

    check_integral(edge_index, where, "edge_index node ids")
    edge_index = edge_index.to(torch.int64)
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise DatasetError(f"{where}: edge_index must have shape [2, E], got {tuple(edge_index.shape)}")
    num_edges = edge_index.size(1)
    if num_edges and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
        raise DatasetError(
            f"{where}: edge_index holds node ids outside [0, {num_nodes}) "
            f"(min {int(edge_index.min())}, max {int(edge_index.max())})"
        )
    check_integral(edge_type, where, "edge_type relation ids")
    edge_type = edge_type.to(torch.int64).reshape(-1)
    if edge_type.numel() != num_edges:
        raise DatasetError(f"{where}: edge_type has {edge_type.numel()} entries for {num_edges} edges")
    if num_edges and (int(edge_type.min()) < 0 or int(edge_type.max()) >= len(relation_names)):
        raise DatasetError(
            f"{where}: edge_type holds relation ids outside [0, {len(relation_names)}) "
            f"(known relations: {', '.join(relation_names)})"
        )
    if edge_weight is None:
        edge_weight = torch.ones(num_edges)
    edge_weight = edge_weight.to(torch.float32).reshape(-1)
    if edge_weight.numel() != num_edges:
        raise DatasetError(f"{where}: edge_weight has {edge_weight.numel()} entries for {num_edges} edges")
    if not bool(torch.isfinite(edge_weight).all()):
        raise DatasetError(f"{where}: edge_weight holds NaN or inf values")

    for attr, y in labels.items():
        check_integral(y, where, f"{attr} labels")
        if y.dim() == 0 or y.size(0) != num_nodes:
            raise DatasetError(f"{where}: {attr} has {y.size(0) if y.dim() else 0} labels for {num_nodes} nodes")
        _check_label_range(y.to(torch.int64), attr, where)
    for block, (start, stop) in feature_blocks.items():
        if not 0 <= start < stop <= x.size(1):
            raise DatasetError(f"{where}: feature block {block!r} = [{start}, {stop}) outside {x.size(1)} columns")

    data = Data(x=x, edge_index=edge_index, edge_type=edge_type, edge_weight=edge_weight, num_nodes=num_nodes)
    for attr, y in labels.items():
        data[attr] = y.to(torch.int64)
    data.relation_names = list(relation_names)
    data.feature_blocks = {k: (int(a), int(b)) for k, (a, b) in feature_blocks.items()}
    data.categorical_columns = [int(c) for c in categorical_columns]
    data.name = name
    for key, value in extra.items():
        data[key] = value
    return data


def _check_label_range(y: torch.Tensor, attr: str, where: str) -> None:
    """A task's labels: class ids in ``[-1, C)`` ([N]), or multi-hot rows of 0/1 with ``-1`` for unlabelled ([N, C])."""
    task = _LABELLED_TASKS.get(attr)
    if task is None:
        return
    if task.multilabel:
        if y.dim() != 2 or y.size(1) != task.num_outputs:
            raise DatasetError(f"{where}: {attr} must have shape [nodes, {task.num_outputs}] (one column per "
                               f"{task.name} label), got {tuple(y.shape)}")
        low, high = -1, 1
    else:
        if y.dim() != 1:
            raise DatasetError(f"{where}: {attr} must have shape [nodes], got {tuple(y.shape)}")
        low, high = -1, task.num_outputs - 1
    if y.numel() and (int(y.min()) < low or int(y.max()) > high):
        raise DatasetError(f"{where}: {attr} holds values outside [{low}, {high}] (min {int(y.min())}, max "
                           f"{int(y.max())}); {task.name} labels are {', '.join(task.labels)}"
                           f"{' as 0/1 columns' if task.multilabel else ' as 0..' + str(high)}, -1 for unlabelled")


#: What :func:`check_graph` takes from a ``Data`` itself; every other attribute is kept as it is.
_FORM_KEYS = ("x", "edge_index", "edge_type", "edge_weight", "relation_names", "feature_blocks",
              "categorical_columns", "name", "num_nodes")


def check_graph(data: object, where: str, name: str = "") -> Data:
    """A user's ``Data`` validated by the same checks as our loaders' graphs (:func:`build_graph`).

    Needs ``x``, ``edge_index``, ``edge_type`` and ``relation_names``; labels are
    its ``y_<task>`` attributes; ``edge_weight``, ``feature_blocks`` and
    ``categorical_columns`` are optional; ``name`` is the graph's name unless it
    has one. Anything wrong is one :class:`DatasetError`.
    """
    if not isinstance(data, Data):
        raise DatasetError(f"{where}: returned a {type(data).__name__}, not a torch_geometric.data.Data "
                           "(see mgbench.datasets.build_graph for the form)")
    keys = set(data.keys())
    missing = [k for k in ("x", "edge_index", "edge_type", "relation_names") if k not in keys]
    if missing:
        raise DatasetError(f"{where}: the Data has no {', '.join(missing)} (see mgbench.datasets.build_graph "
                           "for the form)")
    labels = {k: data[k] for k in sorted(keys) if k.startswith("y_")}
    for key in ("x", "edge_index", "edge_type", "edge_weight", *labels):
        if key in keys and not isinstance(data[key], torch.Tensor):
            raise DatasetError(f"{where}: {key} must be a tensor, got {type(data[key]).__name__}")
    relations = data.relation_names
    if isinstance(relations, str) or not all(isinstance(r, str) for r in relations):
        raise DatasetError(f"{where}: relation_names must be a list of names, got {relations!r}")
    blocks = data.feature_blocks if "feature_blocks" in keys else {}
    try:
        blocks = {str(k): (int(a), int(b)) for k, (a, b) in dict(blocks).items()}
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: feature_blocks must map a block name to (start, stop) columns, "
                           f"got {blocks!r}") from None
    extra = {k: data[k] for k in keys if k not in _FORM_KEYS and k not in labels}
    return build_graph(x=data.x, edge_index=data.edge_index, edge_type=data.edge_type, relation_names=relations,
                       labels=labels, feature_blocks=blocks, edge_weight=data.edge_weight if "edge_weight" in keys
                       else None, categorical_columns=data.categorical_columns if "categorical_columns" in keys
                       else (), name=data.name if "name" in keys and data.name else name, source=where, **extra)


def parse_relations(spec: str | Iterable[str | int] | None, available: Sequence[str]) -> list[int]:
    """Turn ``"followers,friends"``, ``"0,1"``, ``"all"`` or a list into relation ids.

    Unknown names and out-of-range ids raise a ``ValueError`` listing what exists.
    """
    if spec is None or spec == "all":
        return list(range(len(available)))
    items = [s.strip() for s in spec.split(",") if s.strip()] if isinstance(spec, str) else list(spec)
    if not items:
        raise ValueError("no relation selected")
    ids: list[int] = []
    for item in items:
        if isinstance(item, int) or (isinstance(item, str) and item.isdigit()):
            idx = int(item)
            if not 0 <= idx < len(available):
                raise ValueError(f"relation id {idx} out of range 0-{len(available) - 1} ({', '.join(available)})")
        elif item in available:
            idx = available.index(item)
        else:
            raise ValueError(f"unknown relation {item!r}; available: {', '.join(available)}")
        if idx in ids:
            raise ValueError(f"relation {available[idx]!r} selected twice")
        ids.append(idx)
    return ids


def select_relations(data: Data, relations: str | Iterable[str | int] | None) -> Data:
    """Keep only the chosen relations, renumbered ``0..k-1`` in the order given.

    The returned graph's ``relation_names`` lists the kept relations in that
    order, so ``edge_type`` always indexes ``relation_names`` and a relational
    model sees exactly ``k`` relations. Feature and label tensors are shared
    with ``data``, not copied (a deep copy of MGTAB-large's graph would need
    another 5 GiB); with every relation in the original order the edge tensors
    are shared too.
    """
    ids = parse_relations(relations, data.relation_names)
    out = copy.copy(data)
    if ids == list(range(len(data.relation_names))):
        out.relation_names = list(data.relation_names)
        return out
    remap = torch.full((len(data.relation_names),), -1, dtype=torch.int64)
    remap[torch.tensor(ids)] = torch.arange(len(ids))
    new_type = remap[data.edge_type]
    keep = new_type >= 0
    out.edge_index = data.edge_index[:, keep]
    out.edge_type = new_type[keep]
    out.edge_weight = data.edge_weight[keep]
    out.relation_names = [data.relation_names[i] for i in ids]
    return out


def to_hetero(data: Data) -> HeteroData:
    """A ``HeteroData`` view: one node type ``user``, one edge type per relation.

    Used by heterogeneous models (HGT). Feature and label tensors are shared,
    not copied.
    """
    hetero = HeteroData()
    hetero[USER].x = data.x
    for key in data.keys():
        if key.startswith("y_") or key.startswith("split_"):
            hetero[USER][key] = data[key]
    for rel_id, rel in enumerate(data.relation_names):
        mask = data.edge_type == rel_id
        store = hetero[USER, rel, USER]
        store.edge_index = data.edge_index[:, mask]
        store.edge_weight = data.edge_weight[mask]
    return hetero


def edge_counts(data: Data) -> dict[str, int]:
    """Edges per relation, in relation order."""
    counts = torch.bincount(data.edge_type, minlength=len(data.relation_names))
    return {rel: int(c) for rel, c in zip(data.relation_names, counts)}


def edge_homophily(data: Data, label_attr: str) -> dict[str, float]:
    """Per relation, the share of edges whose two ends (both labelled) share the label.

    Only defined for single-label tasks; edges touching an unlabelled node are ignored.
    """
    y = data[label_attr]
    src, dst = data.edge_index
    both = (y[src] >= 0) & (y[dst] >= 0)
    same = (y[src] == y[dst]) & both
    out = {}
    for rel_id, rel in enumerate(data.relation_names):
        mask = data.edge_type == rel_id
        n = int((both & mask).sum())
        out[rel] = float((same & mask).sum()) / n if n else float("nan")
    return out
