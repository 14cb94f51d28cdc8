"""Encoding trees by structural-entropy minimisation: SEBot's community view, computed once per graph and cached.

Structural entropy (Li & Pan, 2016) of a graph ``G`` under a partition ``P``
(a height-2 encoding tree: root, communities, nodes), for an undirected
graph with node degrees ``d_v``, volume ``V = sum_v d_v``, community volume
``vol_c`` and cut ``g_c`` (weight of the edges leaving ``c``):

    H(G; P) = - sum_v (d_v / V) log2(d_v / vol_c(v)) - sum_c (g_c / V) log2(vol_c / V)

Merging communities ``a`` and ``b`` (joined by weight ``w``) into ``m`` changes
it by ``T(m) - T(a) - T(b)`` with ``T(c) = (vol_c log2 vol_c - g_c log2(vol_c / V)) / V``
and ``g_m = g_a + g_b - 2 w``: a function of the two communities and their
edge only, so merges of disjoint pairs add up.

The minimisation (the *merge* operator of Li & Pan and SEP, greedy, in
rounds): start from singletons; each round, every community names the
neighbour whose merge lowers ``H`` most (ties broken by the pair's ids);
the trees these choices form merge whole where that lowers ``H``, else their
mutual pair merges (:func:`_merge_round`); every round lowers ``H`` and merges
at least the globally best pair, so the loop ends. Stop when no merge lowers ``H``.
Higher levels repeat this on the graph of communities (a community's degree
is its volume, its edges the cut weights), giving a tree of ``levels``
nested partitions above the nodes. SEP's own k-tree (merge to a binary tree,
then compress to height k) differs: ``docs/BASELINES.md``.

Cost on the full-size ``mgtab-synthetic`` (all 7 relations): see
:data:`MAX_TREE_EDGES` and ``docs/BASELINES.md``.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import torch
from torch import Tensor

#: Undirected simple edges above which the tree is refused: the rounds hold ~10 float64/int64
#: arrays of this length (about 80 bytes an edge, 1.6 GB at the limit); the full-size twin
#: with all 7 relations has ~1.1 M, MGTAB-large ~60 M.
MAX_TREE_EDGES = 20_000_000
#: Bump when the algorithm changes: cached trees are keyed on it.
ALGORITHM_VERSION = "1"


@dataclass
class EncodingTree:
    """Nested partitions: ``parents[0]`` maps nodes to level-1 communities, ``parents[l]`` level l to l+1.

    ``pairs[l]`` / ``weights[l]`` are the undirected edges (``u < v``) of level
    ``l``'s graph (``l = 0``: the nodes'); ``entropy[l]`` is ``H`` of level
    ``l``'s graph under ``parents[l]``, in bits; ``seconds`` the time it took.
    """

    parents: list[Tensor]
    pairs: list[Tensor]
    weights: list[Tensor]
    entropy: list[float]
    seconds: float

    @property
    def sizes(self) -> list[int]:
        """Node count of each level: the nodes, then each level's communities."""
        return [len(self.parents[0])] + [int(p.max()) + 1 if len(p) else 0 for p in self.parents]

    def to_dict(self) -> dict[str, Tensor]:
        out = {"entropy": torch.tensor(self.entropy, dtype=torch.float64), "seconds": torch.tensor(self.seconds)}
        for l, (p, e, w) in enumerate(zip(self.parents, self.pairs, self.weights)):
            out[f"parents{l}"], out[f"pairs{l}"], out[f"weights{l}"] = p, e, w
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Tensor]) -> "EncodingTree":
        levels = len(d["entropy"])
        return cls([d[f"parents{l}"] for l in range(levels)], [d[f"pairs{l}"] for l in range(levels)],
                   [d[f"weights{l}"] for l in range(levels)], d["entropy"].tolist(), float(d["seconds"]))


def undirected_pairs(edge_index: Tensor, num_nodes: int) -> Tensor:
    """The simple undirected graph of ``edge_index``: unique ``(u, v)``, ``u < v``, self loops dropped, ``[2, M]``."""
    u, v = edge_index.cpu()
    lo, hi = torch.minimum(u, v), torch.maximum(u, v)
    keep = lo != hi
    key = torch.unique(lo[keep] * num_nodes + hi[keep])
    return torch.stack([key // num_nodes, key % num_nodes])


def _term(vol: Tensor, cut: Tensor, total: float) -> Tensor:
    """``T(c)``; a community of volume 0 (isolated nodes) contributes 0."""
    safe = vol.clamp(min=1e-300)
    return torch.where(vol > 0, (vol * torch.log2(safe) - cut * torch.log2(safe / total)) / total, 0.0)


def structural_entropy(pairs: Tensor, weights: Tensor, degree: Tensor, assignment: Tensor) -> float:
    """``H(G; P)`` in bits.

    ``pairs`` ``[2, M]`` undirected (``u < v``) with ``weights``, ``degree`` of each
    node, ``assignment`` its community.
    """
    degree = degree.double()
    total = float(degree.sum())
    count = int(assignment.max()) + 1 if len(assignment) else 0
    vol = torch.zeros(count, dtype=torch.float64).index_add_(0, assignment, degree)
    a, b = assignment[pairs[0]], assignment[pairs[1]]
    crossing = a != b
    cut = torch.zeros(count, dtype=torch.float64)
    cut.index_add_(0, a[crossing], weights[crossing].double()).index_add_(0, b[crossing], weights[crossing].double())
    d = degree[degree > 0]
    return float(-(d * torch.log2(d)).sum() / total + _term(vol, cut, total).sum())


def _coarsen(pairs: Tensor, weights: Tensor, assignment: Tensor, count: int) -> tuple[Tensor, Tensor]:
    """The graph of communities: pairs between distinct communities, weights summed."""
    a, b = assignment[pairs[0]], assignment[pairs[1]]
    keep = a != b
    lo, hi = torch.minimum(a[keep], b[keep]), torch.maximum(a[keep], b[keep])
    key, inverse = torch.unique(lo * count + hi, return_inverse=True)
    summed = torch.zeros(len(key), dtype=torch.float64).index_add_(0, inverse, weights[keep].double())
    return torch.stack([key // count, key % count]), summed


def _partition(pairs: Tensor, weights: Tensor, vol: Tensor, total: float) -> Tensor:
    """Greedy 2-level minimisation on one level's graph: each node's community id (compact, 0..c-1)."""
    assignment = torch.arange(len(vol))
    comm_vol = vol.double().clone()
    p, w = pairs, weights.double()
    while p.size(1):
        count = len(comm_vol)
        cut = torch.zeros(count, dtype=torch.float64).index_add_(0, p[0], w).index_add_(0, p[1], w)
        a, b = p
        delta = (_term(comm_vol[a] + comm_vol[b], cut[a] + cut[b] - 2 * w, total)
                 - _term(comm_vol[a], cut[a], total) - _term(comm_vol[b], cut[b], total))
        candidates = torch.nonzero(delta < 0).squeeze(1)
        if not len(candidates):
            break
        relabel = _merge_round(a, b, w, delta, candidates, comm_vol, cut, total)
        assignment = relabel[assignment]
        comm_vol = torch.zeros(int(relabel.max()) + 1, dtype=torch.float64).index_add_(0, relabel, comm_vol)
        p, w = _coarsen(p, w, relabel, len(comm_vol))
    return assignment


def _merge_round(a: Tensor, b: Tensor, w: Tensor, delta: Tensor, candidates: Tensor, comm_vol: Tensor,
                 cut: Tensor, total: float) -> Tensor:
    """One round of merges: each community's new (compact) id.

    Every community points to its best partner (its first pair in the order
    ``(delta, a, b)``); pointers form trees whose roots are the mutual pairs
    (the globally best pair is always one). A tree merges whole where that
    lowers ``H`` (its ``T(merged) - sum T(members)`` is computed exactly);
    otherwise only its mutual pair merges, which always lowers it. Why groups
    and not pairs alone: on a graph with hubs, every leaf points to the hub and
    pairs alone merge one leaf a round (thousands of rounds on MGTAB's twin).
    """
    count = len(comm_vol)
    order = candidates[torch.argsort(b[candidates], stable=True)]
    order = order[torch.argsort(a[order], stable=True)]
    order = order[torch.argsort(delta[order], stable=True)]
    rank = torch.arange(len(order))
    best = torch.full((count,), len(order), dtype=torch.long)
    best.scatter_reduce_(0, a[order], rank, "amin").scatter_reduce_(0, b[order], rank, "amin")
    nodes = torch.arange(count)
    has = best < len(order)
    partner = nodes.clone()
    chosen = order[best[has]]
    partner[has] = torch.where(a[chosen] == nodes[has], b[chosen], a[chosen])
    mutual = partner[partner] == nodes
    pair_root = torch.where(mutual, torch.minimum(nodes, partner), nodes)  # mutual pairs only
    parent = torch.where(mutual & (nodes < partner), nodes, partner)       # break each 2-cycle at its smaller end
    root = parent
    while True:
        jumped = root[root]
        if torch.equal(jumped, root):
            break
        root = jumped
    # each tree's change of H if it merged whole
    group_vol = torch.zeros(count, dtype=torch.float64).index_add_(0, root, comm_vol)
    inside = root[a] == root[b]
    inner = torch.zeros(count, dtype=torch.float64).index_add_(0, root[a[inside]], w[inside])
    group_cut = torch.zeros(count, dtype=torch.float64).index_add_(0, root, cut) - 2 * inner
    members = torch.zeros(count, dtype=torch.float64).index_add_(0, root, _term(comm_vol, cut, total))
    gain = _term(group_vol, group_cut, total) - members
    target = torch.where(gain[root] < 0, root, pair_root)
    alive = torch.zeros(count, dtype=torch.bool)
    alive[target] = True
    return (torch.cumsum(alive, 0) - 1)[target]


def build_encoding_tree(edge_index: Tensor, num_nodes: int, levels: int = 2) -> EncodingTree:
    """The tree of ``levels`` nested partitions of ``edge_index``'s simple undirected graph (unit weights)."""
    if levels < 1:
        raise ValueError(f"an encoding tree needs at least 1 level of communities, got {levels}")
    start = time.perf_counter()
    pairs = undirected_pairs(edge_index, num_nodes)
    if pairs.size(1) > MAX_TREE_EDGES:
        raise ValueError(
            f"SEBot's encoding tree: the graph has {pairs.size(1):,} undirected edges, above the limit of "
            f"{MAX_TREE_EDGES:,} (about 80 bytes an edge in memory); select fewer relations "
            f"(--relations followers,friends) or a smaller graph")
    weights = torch.ones(pairs.size(1), dtype=torch.float64)
    degree = torch.zeros(num_nodes, dtype=torch.float64).index_add_(0, pairs[0], weights).index_add_(0, pairs[1],
                                                                                                       weights)
    total = float(degree.sum())
    parents, level_pairs, level_weights, entropy = [], [], [], []
    vol = degree
    for _ in range(levels):
        assignment = _partition(pairs, weights, vol, total) if total > 0 else torch.arange(len(vol))
        parents.append(assignment)
        level_pairs.append(pairs)
        level_weights.append(weights)
        entropy.append(structural_entropy(pairs, weights, vol, assignment) if total > 0 else 0.0)
        count = int(assignment.max()) + 1 if len(assignment) else 0
        vol = torch.zeros(count, dtype=torch.float64).index_add_(0, assignment, vol)
        pairs, weights = _coarsen(pairs, weights, assignment, count)
    return EncodingTree(parents, level_pairs, level_weights, entropy, time.perf_counter() - start)


def graph_digest(edge_index: Tensor, num_nodes: int) -> str:
    """SHA-256 of the simple undirected graph the tree is built on (so equal graphs share a cache entry)."""
    pairs = undirected_pairs(edge_index, num_nodes).contiguous()
    h = hashlib.sha256(f"{num_nodes}:".encode())
    h.update(pairs.numpy().tobytes())
    return h.hexdigest()


def cached_encoding_tree(edge_index: Tensor, num_nodes: int, levels: int = 2) -> EncodingTree:
    """:func:`build_encoding_tree`, through the feature cache under ``$MGBENCH_ROOT/features`` (atomic writes).

    Keyed on the graph's content (:func:`graph_digest`), ``levels`` and
    :data:`ALGORITHM_VERSION`, so any graph with the same edges reuses it
    and a changed graph or algorithm never meets a stale tree.
    """
    from mgbench.datasets import default_root
    from mgbench.features.cache import FeatureCache

    cache = FeatureCache(default_root() / "features")
    key = {"graph": graph_digest(edge_index, num_nodes), "levels": str(levels), "algorithm": ALGORITHM_VERSION}
    stored = cache.fetch("encoding-tree", key, lambda: build_encoding_tree(edge_index, num_nodes, levels).to_dict())
    return EncodingTree.from_dict(stored)
