"""The sparse kernels under every layer of :mod:`mgbench.nn`: one place for products, attention, threads.

Why these exist. PyG's stock layers materialise one message per edge
(``[E, channels]``, 1.7 GB at MGTAB size) on every forward and scatter it back;
``RGCNConv`` loops over relations in Python. Here every layer is written as a
few dense matmuls over *nodes* plus sparse kernels over a structure built once
per graph (cached by :mod:`mgbench.nn.cache`), and no per-edge tensor holds
more than one scalar per head.

Two kinds of structure, one product kernel:

- **Fixed operators** (:class:`SparseOperator`; GCN, GraphSAGE, R-GCN). These
  layers are one linear function of the node features that never changes in
  training: ``out_i = sum_s sum_j P_s[i, j] (x W_s)_j + b`` over ``S`` *slots*
  (one per relation with ``P_r[i, j] = 1/|N_r(i)|``; the merged neighbourhood
  mean; the identity for a root weight; GCN's normalised adjacency). One
  matmul ``x @ [W_0 | ... | W_S-1]`` gives ``[N, S * out]``, which *is*
  ``[N * S, out]`` without a copy, so the slots are stacked interleaved in one
  CSR matrix ``[N, N * S]`` (entry ``(i, j * S + s)`` = ``P_s[i, j]``) and one
  product sums every slot and neighbour (:func:`transform_aggregate`). Its
  backward uses the transpose, built once, and saves only ``x``.
- **Attention patterns** (:class:`SparsePattern`; GAT, HGT, Simple-HGN, RGT):
  the sparsity of an ``M x K`` matrix whose values (attention weights) change
  every step. Logits are SDDMMs (``torch.sparse.sampled_addmm``, in place on a
  CSR tensor sharing the pattern's indices: gathering ``Q[row] * K[col]``
  allocates ``[E, D]`` and is ~15x slower), softmax is a segment reduction
  over rows, aggregation is the product kernel. Multi-head attention
  interleaves heads (:meth:`SparsePattern.interleave`). Backward passes are
  written out (autograd Functions) as SpMMs on the cached transpose and SDDMMs.

The product kernel (:func:`csr_product`) is ``F.embedding_bag(mode="sum",
per_sample_weights=values)``, exactly a CSR product (bags = rows, offsets = the
row pointer, inputs = the column indices). On the 2-core development CPU it is
2.5-4x faster than ``torch.sparse.mm`` on the same CSR matrix and 30-60x faster
than ``index_add_`` of per-edge messages; it runs on CUDA as well.

**Index dtype** (:func:`index_dtype`, the one rule): int32 where only the
product kernel reads the indices and every size fits (half the index traffic:
fixed operators); int64 where SDDMM or per-entry gathers read them too
(attention patterns: ``sampled_addmm`` converts narrower CSR indices on every
call, and ``index_select`` is slower with int32 on the CPU).

**Threads** (the one policy): every kernel uses ``torch.get_num_threads()``
threads. The products, matmuls and SDDMMs are single torch calls, on torch's own
intra-op threads.
torch's CPU ``index_select``, ``index_add_`` and ``segment_reduce`` run on one
thread whatever that setting says, and over attention's per-entry tensors
(13.7 M entries for GAT's 8 heads at MGTAB size) they were the largest part of
an epoch; :func:`gather`, :func:`scatter_sum` and :func:`segment_reduce`
split such calls into contiguous chunks of at least ``_MIN_CHUNK`` entries run
side by side on a small thread pool (torch releases the GIL inside an op). The
pool is created on first use, never at import, grows to the thread count asked
for, and is forgotten in a forked child. Results equal the single call's, but
for :func:`scatter_sum`, which adds per-chunk partial sums (fixed chunks: the
same numbers on every run with the same thread count). On CUDA, and for small
inputs, each is the plain single call.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Callable, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

T = TypeVar("T")

_INT32_LIMIT = 2**31 - 1


def index_dtype(*sizes: int, gathered: bool = False) -> torch.dtype:
    """The index dtype of a sparse structure with these sizes (see the module docstring).

    ``gathered``: SDDMM or per-entry gathers read the indices too (int64);
    otherwise int32 when every size fits.
    """
    return torch.int64 if gathered or max(sizes) >= _INT32_LIMIT else torch.int32


# -- threads: per-entry gathers and reductions split across a lazily created pool --------------------

_MIN_CHUNK = 1 << 18  # entries per thread below which splitting does not pay
_pool: tuple[int, ThreadPoolExecutor] | None = None  # (workers, pool); None until first needed


def _forget_pool() -> None:
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool)  # a forked child has none of the parent's threads


def _chunks(n: int, device: torch.device) -> list[tuple[int, int]]:
    parts = min(torch.get_num_threads(), n // _MIN_CHUNK) if device.type == "cpu" else 1
    bounds = [n * k // parts for k in range(parts + 1)] if parts > 1 else [0, n]
    return list(zip(bounds[:-1], bounds[1:]))


def _side_by_side(tasks: list[Callable[[], T]]) -> list[T]:
    global _pool
    if len(tasks) == 1:
        return [tasks[0]()]
    if _pool is None or _pool[0] < len(tasks):  # first use, or more threads asked for since
        if _pool is not None:
            _pool[1].shutdown(wait=False)
        _pool = (len(tasks), ThreadPoolExecutor(len(tasks), thread_name_prefix="mgbench-nn"))
    return [f.result() for f in [_pool[1].submit(task) for task in tasks]]


def gather(table: Tensor, index: Tensor) -> Tensor:
    """``table[index]`` for a 1-D ``table`` (no autograd, like every raw kernel here)."""
    chunks, table = _chunks(index.numel(), index.device), table.detach()
    if len(chunks) == 1:
        return table.index_select(0, index)
    out = table.new_empty(index.numel())
    _side_by_side([partial(torch.index_select, table, 0, index[a:b], out=out[a:b]) for a, b in chunks])
    return out


def scatter_sum(index: Tensor, values: Tensor, size: int) -> Tensor:
    """``out[i] = sum of values[e] with index[e] == i``, ``out`` ``[size]``."""
    values = values.detach()

    def part(a: int, b: int) -> Tensor:
        return values.new_zeros(size).index_add_(0, index[a:b], values[a:b])
    parts = _side_by_side([partial(part, a, b) for a, b in _chunks(index.numel(), index.device)])
    for part in parts[1:]:
        parts[0].add_(part)
    return parts[0]


def segment_reduce(values: Tensor, crow: Tensor, reduce: str) -> Tensor:
    """``reduce`` (``"sum"`` or ``"max"``) of each row's entries, rows given by the CSR pointer ``crow``."""
    chunks, values = _chunks(values.numel(), values.device), values.detach()
    if len(chunks) == 1:
        return torch.segment_reduce(values, reduce, offsets=crow)
    # Split between rows, near the entry bounds of the chunks; a row never straddles two parts.
    cuts = torch.searchsorted(crow, torch.tensor([a for a, _ in chunks[1:]], device=crow.device)).tolist()
    rows = sorted({0, *cuts, crow.numel() - 1})

    def part(r0: int, r1: int) -> Tensor:
        start, stop = int(crow[r0]), int(crow[r1])
        return torch.segment_reduce(values[start:stop], reduce, offsets=crow[r0:r1 + 1] - start)
    return torch.cat(_side_by_side([partial(part, r0, r1) for r0, r1 in zip(rows[:-1], rows[1:])]))


# -- the product kernel -----------------------------------------------------------------------------

def csr_product(crow: Tensor, col: Tensor, values: Tensor, x: Tensor) -> Tensor:
    """CSR product ``A @ x`` (``A`` given by ``crow``, ``col``, ``values``); rows without entries give 0.

    No autograd: operands are detached because ``embedding_bag`` picks its
    slower training kernel (which also builds bag bookkeeping) whenever an
    operand requires grad, even under ``no_grad``; callers do their own backward.
    """
    return F.embedding_bag(col, x.detach().contiguous(), crow, mode="sum", per_sample_weights=values.detach(),
                           include_last_offset=True)


# -- fixed operators: GCN, GraphSAGE, R-GCN -----------------------------------------------------------

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


def _csr(rows: Tensor, cols: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    """Sorted, duplicate-free CSR; duplicate entries (multi-edges) are summed."""
    with warnings.catch_warnings():  # "CSR support is in beta": we rely on construction and indices only
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        coo = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, shape, check_invariants=False)
        csr = coo.coalesce().to_sparse_csr()
        index = index_dtype(*shape, csr.values().numel())
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


def operator_spmm(matrix: Tensor, x: Tensor) -> Tensor:
    """``matrix @ x`` for a CSR tensor ``matrix`` ``[M, N]`` and dense ``x`` ``[N, F]``; no autograd."""
    return csr_product(matrix.crow_indices(), matrix.col_indices(), matrix.values(), x)


class _TransformAggregate(torch.autograd.Function):
    """``P @ (x @ weight).view(N * S, out) + bias``, backward through the cached transposed operator.

    Transform first, and save only ``x``: the ``[N, S * out]`` intermediates
    (83 MB at 7 relations on MGTAB) live only inside the forward or the
    backward; aggregating first would keep ``P x`` for the weight gradient.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, op: SparseOperator) -> Tensor:
        out_channels = weight.size(1) // op.num_slots
        out = operator_spmm(op.matrix, (x @ weight).view(-1, out_channels))
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
            grad_transformed = operator_spmm(ctx.op.transposed, grad_out).view(x.size(0), -1)  # [N, S * out]
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


# -- attention patterns: GAT, HGT, Simple-HGN, RGT ------------------------------------------------------

def _pointer(index: Tensor, size: int) -> Tensor:
    """CSR pointer ``[size + 1]`` of a sorted index vector."""
    ptr = index.new_zeros(size + 1, dtype=index_dtype(size, gathered=True))
    torch.cumsum(torch.bincount(index, minlength=size), 0, out=ptr[1:])
    return ptr


@dataclass(frozen=True, eq=False)
class SparsePattern:
    """The sparsity of an ``M x K`` matrix in CSR order, plus its transpose.

    ``crow`` ``[M+1]``, ``col`` and ``row`` ``[nnz]`` give entry ``e`` as
    ``(row[e], col[e])``, sorted by row. ``t_crow`` ``[K+1]``, ``t_col`` and
    ``t_perm`` ``[nnz]`` are the transposed matrix: its ``i``-th entry is entry
    ``t_perm[i]`` of this one, in row ``col[t_perm[i]]`` and column ``t_col[i]``.
    Indices follow :func:`index_dtype` with ``gathered=True`` (int64).
    """

    shape: tuple[int, int]
    crow: Tensor
    col: Tensor
    row: Tensor
    t_crow: Tensor
    t_col: Tensor
    t_perm: Tensor

    @property
    def nnz(self) -> int:
        return self.col.numel()

    @classmethod
    def from_coo(cls, row: Tensor, col: Tensor, shape: tuple[int, int]) -> tuple["SparsePattern", Tensor]:
        """The pattern of entries ``(row, col)`` and the permutation that put them in CSR order.

        Entries are ordered by row, then column (duplicates are kept: a
        multi-edge is two entries). Use the permutation to bring per-edge
        attributes (relation ids) into the pattern's order.
        """
        num_rows, num_cols = shape
        index = index_dtype(num_rows, num_cols, gathered=True)
        row, col = row.to(index), col.to(index)
        perm = torch.argsort(row * num_cols + col)
        row, col = row[perm], col[perm]
        t_perm = torch.sort(col, stable=True).indices
        pattern = cls(shape, _pointer(row, num_rows), col, row, _pointer(col[t_perm], num_cols), row[t_perm], t_perm)
        return pattern, perm

    def interleave(self, heads: int, *, shared_columns: bool = False) -> "SparsePattern":
        """One copy per head, node-major: entry ``(i, j)`` becomes ``(i*H + h, j*H + h)`` for every head ``h``.

        Shape ``(H*M, H*K)``; per-head dense operands are then the natural
        ``[K, H, D]`` layout viewed as ``[K*H, D]`` (no transposes), and the
        output ``[M*H, D]`` is ``[M, H, D]``. With ``shared_columns`` the
        columns stay ``j`` (shape ``(H*M, K)``): heads reading one shared operand.
        Row ``i*H + h`` lists row ``i``'s entries in order, rows stay sorted.
        """
        if heads == 1:
            return self
        num_rows, num_cols = self.shape
        out_cols = num_cols if shared_columns else heads * num_cols
        device, index = self.col.device, self.col.dtype
        head = torch.arange(heads, device=device).unsqueeze(0)  # [1, H]
        crow, t_crow = self.crow, self.t_crow
        start, count = crow[:-1], crow.diff()
        row = self.row.unsqueeze(1)  # [nnz, 1]
        entry = torch.arange(self.nnz, device=device).unsqueeze(1)

        def scatter(where: Tensor, values: Tensor) -> Tensor:
            return torch.empty(where.numel(), dtype=index, device=device).index_put_(
                (where.reshape(-1),), values.reshape(-1))

        new_crow = torch.cat([(heads * start.unsqueeze(1) + head * count.unsqueeze(1)).reshape(-1),
                              crow[-1:] * heads])
        col = self.col.unsqueeze(1)
        new_col = col.expand(-1, heads) if shared_columns else col * heads + head
        # where entry e (in row r) of head h lands: its new row's start + its offset in the row
        where = heads * start[row] + head * count[row] + (entry - start[row])  # [nnz, H]
        new_col, new_row = scatter(where, new_col), scatter(where, row * heads + head)

        target = where.index_select(0, self.t_perm)  # the new entry each transposed entry points to
        new_t_col = self.t_col.unsqueeze(1) * heads + head
        if shared_columns:
            # Column j collects its entries of every head, interleaved (rows i*H + h ascend;
            # a multi-edge's copies may interleave by head, which no kernel minds).
            t_where = entry * heads + head
            new_t_crow = t_crow * heads
        else:
            t_start, t_count = t_crow[:-1], t_crow.diff()
            j = torch.repeat_interleave(torch.arange(num_cols, device=device), t_count).unsqueeze(1)
            t_where = heads * t_start[j] + head * t_count[j] + (entry - t_start[j])
            new_t_crow = torch.cat([(heads * t_start.unsqueeze(1) + head * t_count.unsqueeze(1)).reshape(-1),
                                    t_crow[-1:] * heads])
        return SparsePattern((heads * num_rows, out_cols), new_crow, new_col, new_row, new_t_crow,
                             scatter(t_where, new_t_col), scatter(t_where, target))


class GraphLayout:
    """A graph as one attention layer family needs it, built once per graph (see :mod:`mgbench.nn.cache`).

    ``pattern`` is the single-head pattern, ``relation`` the relation id of
    each of its entries (CSR order) where the layer needs it. :meth:`heads`
    returns its interleaved copy for ``heads`` heads, made on first use and
    kept (layers of different head counts share one layout).
    """

    def __init__(self, pattern: SparsePattern, relation: Tensor | None = None, *, shared_columns: bool = False):
        self.pattern = pattern
        self.relation = relation
        self.shared_columns = shared_columns
        self._repeats: dict[int, SparsePattern] = {1: pattern}

    def heads(self, heads: int) -> SparsePattern:
        if heads not in self._repeats:
            self._repeats[heads] = self.pattern.interleave(heads, shared_columns=self.shared_columns)
        return self._repeats[heads]


def check_graph(edge_index: Tensor, edge_type: Tensor | None, num_nodes: int, num_relations: int = 1) -> None:
    """Reject graphs the layouts cannot represent, with a message naming the problem."""
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {tuple(edge_index.shape)}")
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
        raise ValueError(f"edge_index refers to nodes outside [0, {num_nodes}), the rows of x")
    if edge_type is None:
        return
    if edge_type.numel() != edge_index.size(1):
        raise ValueError(f"edge_type has {edge_type.numel()} entries for {edge_index.size(1)} edges")
    if edge_type.numel() and (int(edge_type.min()) < 0 or int(edge_type.max()) >= num_relations):
        raise ValueError(f"edge_type holds relations outside [0, {num_relations}), the model's relations")


def spmm_raw(pattern: SparsePattern, values: Tensor, x: Tensor) -> Tensor:
    """``A @ x`` with ``A`` the pattern holding ``values``; ``x`` is ``[K, D]``."""
    return csr_product(pattern.crow, pattern.col, values, x)


def spmm_t_raw(pattern: SparsePattern, values: Tensor, x: Tensor) -> Tensor:
    """``A^T @ x`` through the cached transposed pattern; ``x`` is ``[M, D]``."""
    return csr_product(pattern.t_crow, pattern.t_col, gather(values, pattern.t_perm), x)


def sddmm_raw(pattern: SparsePattern, a: Tensor, b: Tensor) -> Tensor:
    """``<a[row_e], b[col_e]>`` for every entry ``e``: ``a`` is ``[M, D]``, ``b`` ``[K, D]``."""
    if pattern.nnz == 0:
        return a.new_zeros(0)
    # In place (out=): otherwise the kernel clones the index arrays on every call. The
    # values must start at 0, not garbage: beta = 0 still reads them.
    with warnings.catch_warnings():  # "CSR support is in beta": we use construction and sampled_addmm only
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        out = torch.sparse_csr_tensor(pattern.crow, pattern.col, a.new_zeros(pattern.nnz), pattern.shape,
                                      check_invariants=False)
    return torch.sparse.sampled_addmm(out, a, b.t(), beta=0.0, out=out).values()


def _full_precision(*tensors: Tensor) -> tuple[Tensor, ...]:
    """float32 for half-precision operands (autocast): the sparse kernels take float32/float64 only.

    The casts are differentiable, so gradients flow back in the operands' own dtypes.
    """
    return tuple(t.float() if t.dtype in (torch.float16, torch.bfloat16) else t for t in tensors)


class _SpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pattern: SparsePattern, values: Tensor, x: Tensor) -> Tensor:
        ctx.pattern = pattern
        ctx.save_for_backward(values, x)
        return spmm_raw(pattern, values, x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        values, x = ctx.saved_tensors
        pattern: SparsePattern = ctx.pattern
        grad_values = sddmm_raw(pattern, grad, x) if ctx.needs_input_grad[1] else None
        grad_x = spmm_t_raw(pattern, values, grad) if ctx.needs_input_grad[2] else None
        return None, grad_values, grad_x


def spmm(pattern: SparsePattern, values: Tensor, x: Tensor) -> Tensor:
    """Differentiable ``A @ x``: ``out[i] = sum_{e in row i} values[e] * x[col[e]]``."""
    return _SpMM.apply(pattern, *_full_precision(values, x))


class _SDDMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pattern: SparsePattern, a: Tensor, b: Tensor) -> Tensor:
        ctx.pattern = pattern
        ctx.save_for_backward(a, b)
        return sddmm_raw(pattern, a, b)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        a, b = ctx.saved_tensors
        pattern: SparsePattern = ctx.pattern
        grad_a = spmm_raw(pattern, grad, b) if ctx.needs_input_grad[1] else None
        grad_b = spmm_t_raw(pattern, grad, a) if ctx.needs_input_grad[2] else None
        return None, grad_a, grad_b


def sddmm(pattern: SparsePattern, a: Tensor, b: Tensor) -> Tensor:
    """Differentiable per-entry dot products ``<a[row_e], b[col_e]>`` ``[nnz]``."""
    return _SDDMM.apply(pattern, *_full_precision(a, b))


#: |logit| up to which a softmax may leave out its row max: exp(30) ~ 1e13, and a row sum of even 2^31 such
#: terms, stays far inside float32's range; so does exp(-30), so no row underflows to 0.
UNSHIFTED_LOGIT_LIMIT = 30.0


def _softmax_terms(pattern: SparsePattern, logits: Tensor) -> tuple[Tensor, Tensor]:
    """``p = exp(logit - shift)`` per entry and the row sums of ``p`` (1 for empty rows).

    The shift only keeps ``exp`` in range: softmax does not depend on it. So
    when every logit lies within :data:`UNSHIFTED_LOGIT_LIMIT` (one pass to
    check) it is 0, which saves a segment max and a gather over every entry;
    otherwise it is the row max, as in PyG.
    """
    low, high = torch.aminmax(logits) if logits.numel() else (logits.new_zeros(()), logits.new_zeros(()))
    if -UNSHIFTED_LOGIT_LIMIT <= low and high <= UNSHIFTED_LOGIT_LIMIT:
        p = logits.exp()
        row_sum = segment_reduce(p, pattern.crow, "sum")
        return p, row_sum.masked_fill_(row_sum == 0, 1.0)  # only empty rows sum to 0 (each p >= exp(-30))
    row_max = segment_reduce(logits, pattern.crow, "max")
    p = (logits - gather(row_max, pattern.row)).exp_()
    # Every non-empty row holds exp(0) = 1, so its sum is >= 1 and the clamp
    # only turns the 0 of empty rows (no entries, output 0) into 1.
    row_sum = segment_reduce(p, pattern.crow, "sum").clamp_min_(1.0)
    return p, row_sum


class _SegmentSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pattern: SparsePattern, logits: Tensor) -> Tensor:
        p, row_sum = _softmax_terms(pattern, logits)
        out = p.div_(gather(row_sum, pattern.row))
        ctx.pattern = pattern
        ctx.save_for_backward(out)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        (out,) = ctx.saved_tensors
        pattern: SparsePattern = ctx.pattern
        weighted = grad * out
        total = segment_reduce(weighted, pattern.crow, "sum")
        return None, weighted.sub_(out * gather(total, pattern.row))


def segment_softmax(pattern: SparsePattern, logits: Tensor) -> Tensor:
    """Softmax of the entries of each row (PyG's ``softmax(src, ptr=...)``, with a lean backward)."""
    return _SegmentSoftmax.apply(pattern, *_full_precision(logits))


class _AdditiveLogits(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pattern: SparsePattern, dst: Tensor, src: Tensor, bias: Tensor | None,
                negative_slope: float) -> Tensor:
        logits = gather(dst, pattern.row).add_(gather(src, pattern.col))
        if bias is not None:
            logits.add_(bias)
        logits = F.leaky_relu_(logits, negative_slope)
        ctx.pattern, ctx.negative_slope = pattern, negative_slope
        ctx.save_for_backward(logits)
        return logits

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        (logits,) = ctx.saved_tensors
        pattern: SparsePattern = ctx.pattern
        # LeakyReLU keeps the sign (slope > 0), so its output tells the branch
        grad = torch.ops.aten.leaky_relu_backward(grad, logits, ctx.negative_slope, True)
        grad_dst = segment_reduce(grad, pattern.crow, "sum") if ctx.needs_input_grad[1] else None
        grad_src = scatter_sum(pattern.col, grad, pattern.shape[1]) if ctx.needs_input_grad[2] else None
        return None, grad_dst, grad_src, grad if ctx.needs_input_grad[3] else None, None


def additive_logits(pattern: SparsePattern, dst: Tensor, src: Tensor, bias: Tensor | None = None,
                    negative_slope: float = 0.2) -> Tensor:
    """GAT-style logits ``LeakyReLU(dst[row_e] + src[col_e] (+ bias_e))`` ``[nnz]``.

    ``dst`` ``[M]`` and ``src`` ``[K]`` are per-row and per-column scores,
    ``bias`` an optional per-entry term. The backward is one segment sum over
    rows (entries are sorted by row) and one scatter over columns, where
    autograd through two gathers would scatter twice. Needs ``negative_slope > 0``.
    """
    if negative_slope <= 0:
        raise ValueError(f"negative_slope must be positive, got {negative_slope}")
    tensors = (dst, src) if bias is None else (dst, src, bias)
    dst, src, *rest = _full_precision(*tensors)
    return _AdditiveLogits.apply(pattern, dst, src, rest[0] if rest else None, negative_slope)


class _Attend(torch.autograd.Function):
    """``softmax -> dropout -> A @ x`` fused, never normalising the ``nnz`` values.

    Forward: ``p = exp(l - max)``, ``s`` = row sums of ``p``, ``w = dropout(p)``,
    ``out = (A(w) @ x) / s``. Backward, with ``g~ = grad / s`` per row:
    ``dx = A(w)^T @ g~`` and ``dl_e = w_e <g~_i, x_j> - p_e <g~_i, out_i>`` --
    the softmax Jacobian's row sum is ``<g~_i, out_i>``, a per-row scalar, so no
    segment reduction over entries is needed.
    """

    @staticmethod
    def forward(ctx, pattern: SparsePattern, logits: Tensor, x: Tensor, dropout: float) -> Tensor:
        p, row_sum = _softmax_terms(pattern, logits)
        w = F.dropout(p, dropout) if dropout > 0 else p
        out = spmm_raw(pattern, w, x).div_(row_sum.unsqueeze(1))
        ctx.pattern = pattern
        ctx.save_for_backward(p, w, row_sum, x, out)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        p, w, row_sum, x, out = ctx.saved_tensors
        pattern: SparsePattern = ctx.pattern
        scaled = grad / row_sum.unsqueeze(1)
        grad_logits = grad_x = None
        if ctx.needs_input_grad[1]:
            row_term = gather(torch.einsum("md,md->m", scaled, out), pattern.row)  # no [M, D] temporary
            grad_logits = sddmm_raw(pattern, scaled, x).mul_(w).sub_(p * row_term)
        if ctx.needs_input_grad[2]:
            grad_x = spmm_t_raw(pattern, w, scaled)
        return None, grad_logits, grad_x, None


def attend(pattern: SparsePattern, logits: Tensor, x: Tensor, dropout: float = 0.0,
           training: bool = False) -> Tensor:
    """``out[i] = sum_e dropout(softmax_row_i(logits))[e] * x[col[e]]`` ``[M, D]``.

    The attention weights are normalised per row of ``pattern`` (PyG's
    ``softmax(..., ptr)``) and, in training, dropped out like PyG's attention
    dropout. Rows without entries give 0.
    """
    return _Attend.apply(pattern, *_full_precision(logits, x), dropout if training else 0.0)
