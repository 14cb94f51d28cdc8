"""Fast message passing for the GCN / GraphSAGE / RGCN family: CSR operators built once.

Why this module exists: PyG's stock layers rebuild their normalisation and
materialise one message per edge (``[E, hidden]``, 1.7 GB on MGTAB) on every
forward, and ``RGCNConv`` loops over relations in Python. All three layers are
one linear function of the node features that never changes during training,
so we build that function once per graph as sparse matrices and compute each
layer as one dense matmul and one sparse-dense product (two of each backward).

The shared form. Every layer of the family computes

    out_i = sum_s sum_j P_s[i, j] (x W_s)_j + b

over ``S`` *slots*: one per relation with ``P_r[i, j] = 1/|N_r(i)|`` (RGCN), the
merged neighbourhood with the same mean (GraphSAGE), the node itself with
``P = I`` (the root weight of RGCN and GraphSAGE), or the symmetric-normalised
adjacency with self loops (GCN, one slot). One matmul with the slot weights
side by side, ``x @ [W_0 | ... | W_S-1]``, gives ``[N, S * out]``, which *is*
``[N * S, out]`` without a copy (row ``j * S + s`` = ``(x W_s)_j``). So the
slots are stacked *interleaved* in one CSR matrix ``[N, N * S]`` (entry
``(i, j * S + s)`` = ``P_s[i, j]``), and one product with it sums over every
slot and neighbour: no Python loop over relations, no per-edge tensors.

Why transform first, and why a custom backward: the backward needs the
transposed operator; :class:`_TransformAggregate` keeps it, built once, as
a second CSR ``[N * S, N]`` instead of letting autograd transpose a sparse
matrix every step, and it saves only ``x``: the ``[N, S * out]``
intermediates (83 MB at 7 relations on MGTAB) live only inside the forward or
the backward. Aggregating first (``(P x) W``) runs as fast here but must keep
``P x`` for the weight gradient, ~160 MB more peak memory at 7 relations.
The layers here are square (``in = out``), so both orders cost the same FLOPs.

Kernel: on CPU, ``torch.sparse.mm`` with a CSR matrix works (autograd included)
but runs ~3-4x slower here than ``F.embedding_bag(mode="sum",
per_sample_weights=...)``, which is exactly a CSR sparse-dense product (bags =
rows, offsets = ``crow_indices``, inputs = ``col_indices``, weights =
``values``), available on CPU and CUDA. We keep the operators as
``torch.sparse_csr_tensor`` and run them through that kernel.

Cache. Operators are cached per graph, keyed on the identity of the index
tensors (see :class:`OperatorCache`), so a training loop that passes the same
``edge_index``/``edge_type`` every epoch builds them once.
"""

from __future__ import annotations

import warnings
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable


@dataclass(frozen=True)
class SparseOperator:
    """A layer's aggregation: ``S`` stacked slots of an ``N``-node graph.

    ``matrix`` is CSR ``[N, N * S]`` (entry ``(i, j * S + s)`` = ``P_s[i, j]``);
    ``transposed`` is its transpose, CSR ``[N * S, N]``, used by the backward pass.
    """

    matrix: Tensor
    transposed: Tensor
    num_slots: int

    @property
    def num_nodes(self) -> int:
        return self.matrix.size(0)


def _index_dtype(*sizes: int) -> torch.dtype:
    """int32 indices when every size fits: half the index traffic of the products."""
    return torch.int32 if max(sizes) < 2**31 - 1 else torch.int64


def _csr(rows: Tensor, cols: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    """Sorted, duplicate-free CSR; duplicate entries (multi-edges) are summed."""
    with warnings.catch_warnings():  # "CSR support is in beta": we rely on construction and indices only
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        coo = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, shape, check_invariants=False)
        csr = coo.coalesce().to_sparse_csr()
        index = _index_dtype(*shape, csr.values().numel())
        return torch.sparse_csr_tensor(csr.crow_indices().to(index), csr.col_indices().to(index),
                                       csr.values(), shape, check_invariants=False)


def _operator(src: Tensor, dst: Tensor, slot: Tensor, values: Tensor, num_nodes: int,
              num_slots: int) -> SparseOperator:
    stacked = src * num_slots + slot
    return SparseOperator(matrix=_csr(dst, stacked, values, (num_nodes, num_nodes * num_slots)),
                          transposed=_csr(stacked, dst, values, (num_nodes * num_slots, num_nodes)),
                          num_slots=num_slots)


def build_gcn_operator(edge_index: Tensor, num_nodes: int, dtype: torch.dtype = torch.float32) -> SparseOperator:
    """``D^-1/2 (A + I) D^-1/2`` exactly as PyG's ``gcn_norm`` defaults build it.

    Existing self loops are dropped and one unit self loop per node added
    (``add_remaining_self_loops``); the degree counts incoming edges (multi-edges
    count each time) plus the loop; entry ``(i, j)`` is ``deg_j^-1/2 deg_i^-1/2``
    per edge ``j -> i``.
    """
    src, dst = edge_index
    keep = src != dst
    src, dst = src[keep], dst[keep]
    loop = torch.arange(num_nodes, device=edge_index.device)
    src, dst = torch.cat([src, loop]), torch.cat([dst, loop])
    deg = torch.bincount(dst, minlength=num_nodes).to(dtype)
    inv_sqrt = deg.pow(-0.5)
    values = inv_sqrt[src] * inv_sqrt[dst]
    return _operator(src, dst, torch.zeros_like(src), values, num_nodes, 1)


def build_mean_operator(edge_index: Tensor, num_nodes: int, edge_type: Tensor | None = None,
                        num_relations: int = 1, dtype: torch.dtype = torch.float32) -> SparseOperator:
    """Per-relation mean ``1/|N_r(i)|`` (slots ``0..R-1``) plus the identity (slot ``R``).

    With ``edge_type=None`` all edges form one relation: GraphSAGE's mean
    aggregation and root. Self loops in ``edge_index`` are ordinary neighbours,
    multi-edges count each time, nodes without neighbours in a relation get 0,
    as in PyG's ``SAGEConv`` and ``RGCNConv``.
    """
    src, dst = edge_index
    rel = torch.zeros_like(src) if edge_type is None else edge_type.to(src.dtype)
    if rel.numel() and int(rel.max()) >= num_relations:
        raise ValueError(f"edge_type holds relation {int(rel.max())}, but the layer has {num_relations} relations")
    slots = num_relations + 1
    deg = torch.bincount(dst * slots + rel, minlength=num_nodes * slots).to(dtype)
    values = deg.reciprocal()[dst * slots + rel]
    loop = torch.arange(num_nodes, device=edge_index.device)
    return _operator(torch.cat([src, loop]), torch.cat([dst, loop]),
                     torch.cat([rel, torch.full_like(loop, num_relations)]),
                     torch.cat([values, torch.ones(num_nodes, dtype=dtype, device=values.device)]),
                     num_nodes, slots)


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    size: int


class OperatorCache:
    """A small LRU of built operators, keyed on the graph tensors' identity.

    Key: the operator kind and its parameters (node count, relation count,
    dtype), plus per index tensor its ``id``, ``data_ptr``, version counter
    (bumped by every in-place write), shape and device. An entry also holds a
    weak reference to each tensor and only counts as a hit while that very
    object is alive, so an ``id`` or address reused by a later tensor never
    matches a stale entry; and an entry is dropped as soon as one of its
    tensors is garbage collected. Why it is safe: the same live object
    at the same address with the same version has the same content. The one
    way around that is writing through ``.data``, ``.numpy()`` or DLPack views,
    which bypass the version counter; call :func:`clear_operator_cache` after
    such writes. Inference-mode tensors have no version counter and are never
    cached. A graph moved with ``.to(device)`` is a new tensor, so its
    operator is built on the new device. The finalizers hold the cache only
    weakly, so a model's own cache (RF-GNN's branch operators) goes with the
    model even while the graph it was built for lives on.
    """

    def __init__(self, maxsize: int = 8):
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple, tuple[tuple[weakref.ref, ...], SparseOperator]] = OrderedDict()
        self._hits = self._misses = 0

    @staticmethod
    def _fingerprint(t: Tensor) -> tuple:
        return (id(t), t.data_ptr(), t._version, tuple(t.shape), t.device)

    def get(self, params: tuple, tensors: tuple[Tensor, ...], build: Callable[[], SparseOperator]) -> SparseOperator:
        if any(t.is_inference() for t in tensors):
            return build()
        key = params + tuple(self._fingerprint(t) for t in tensors)
        entry = self._entries.get(key)
        if entry is not None and all(ref() is t for ref, t in zip(entry[0], tensors)):
            self._entries.move_to_end(key)
            self._hits += 1
            return entry[1]
        self._misses += 1
        operator = build()
        self._entries[key] = (tuple(weakref.ref(t) for t in tensors), operator)
        entries = weakref.ref(self._entries)  # not the dict itself: a dropped cache must not live on in finalizers
        for t in tensors:
            weakref.finalize(t, _drop_entry, entries, key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return operator

    def info(self) -> CacheInfo:
        return CacheInfo(self._hits, self._misses, len(self._entries))

    def clear(self) -> None:
        self._entries.clear()
        self._hits = self._misses = 0


def _drop_entry(entries: weakref.ref, key: tuple) -> None:
    """Finalizer of a cached graph tensor: forget its entry, if the cache still exists."""
    table = entries()
    if table is not None:
        table.pop(key, None)


_CACHE = OperatorCache()


def gcn_operator(edge_index: Tensor, num_nodes: int, dtype: torch.dtype = torch.float32) -> SparseOperator:
    """The cached :func:`build_gcn_operator` of this graph."""
    return _CACHE.get(("gcn", num_nodes, dtype), (edge_index,),
                      lambda: build_gcn_operator(edge_index, num_nodes, dtype))


def mean_operator(edge_index: Tensor, num_nodes: int, edge_type: Tensor | None = None,
                  num_relations: int = 1, dtype: torch.dtype = torch.float32) -> SparseOperator:
    """The cached :func:`build_mean_operator` of this graph."""
    tensors = (edge_index,) if edge_type is None else (edge_index, edge_type)
    return _CACHE.get(("mean", num_nodes, num_relations, dtype), tensors,
                      lambda: build_mean_operator(edge_index, num_nodes, edge_type, num_relations, dtype))


def operator_cache_info() -> CacheInfo:
    """Hits, misses and entries of the shared operator cache."""
    return _CACHE.info()


def clear_operator_cache() -> None:
    """Drop every cached operator (needed only after writes that bypass version counters)."""
    _CACHE.clear()


def spmm(matrix: Tensor, x: Tensor) -> Tensor:
    """``matrix @ x`` for a CSR ``matrix`` ``[M, N]`` and dense ``x`` ``[N, F]``; no autograd.

    A weighted ``embedding_bag`` sum is exactly this product and beats the
    generic CSR kernel on CPU (see the module docstring); empty rows give 0.
    """
    return F.embedding_bag(matrix.col_indices(), x.contiguous(), matrix.crow_indices(), mode="sum",
                           per_sample_weights=matrix.values(), include_last_offset=True)


class _TransformAggregate(torch.autograd.Function):
    """``P @ (x @ weight).view(N * S, out) + bias``, backward through the cached transposed operator."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, op: SparseOperator) -> Tensor:
        out_channels = weight.size(1) // op.num_slots
        out = spmm(op.matrix, (x @ weight).view(-1, out_channels))
        if bias is not None:
            out += bias
        ctx.save_for_backward(x, weight)
        ctx.op = op
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        x, weight = ctx.saved_tensors
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            grad_transformed = spmm(ctx.op.transposed, grad_out).view(x.size(0), -1)  # [N, S * out]
            if ctx.needs_input_grad[0]:
                grad_x = grad_transformed @ weight.t()
            if ctx.needs_input_grad[1]:
                grad_weight = x.t() @ grad_transformed
        if ctx.needs_input_grad[2]:
            grad_bias = grad_out.sum(0)
        return grad_x, grad_weight, grad_bias, None


def transform_aggregate(x: Tensor, op: SparseOperator, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``sum_s P_s (x W_s) + b``, with ``weight`` the slot weights side by side: ``[in, S * out]``.

    Differentiable in ``x``, ``weight`` and ``bias`` (first order only).
    """
    if x.size(0) != op.num_nodes:
        raise ValueError(f"x has {x.size(0)} nodes, the operator {op.num_nodes}")
    if weight.size(1) % op.num_slots:
        raise ValueError(f"weight has {weight.size(1)} columns, not a multiple of {op.num_slots} slots")
    return _TransformAggregate.apply(x, weight, bias, op)
