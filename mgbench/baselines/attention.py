"""Edge-softmax attention on fixed CSR patterns: the machinery under GAT, HGT, Simple-HGN and RGT.

Why this module exists. Stock PyG attention layers (``GATConv``, ``HGTConv``,
``TransformerConv``) materialise per-edge *feature* tensors -- ``x_j``,
``q_i``, ``k_j``, the messages and the gradient of each, ``[E, heads,
channels]``, 1.7 GB apiece at MGTAB size -- and scatter them back to the
nodes. Here a per-edge tensor holds one scalar per head and everything else is
done by two sparse kernels on a pattern built once per graph:

- **SpMM** ``A @ X`` (aggregation; the attention weights are the values of
  ``A``): ``F.embedding_bag(mode="sum", per_sample_weights=values)``, which is
  exactly a CSR product (bags = rows, offsets = the row pointer, inputs = the
  column indices). On the 2-core development CPU it is 2.5-4x faster than
  ``torch.sparse.mm`` on the same CSR matrix and 30-60x faster than
  ``index_add_`` of per-edge messages (1.7 M edges x 256 channels: 0.15 s,
  0.3-0.6 s, 5-10 s).
- **SDDMM** ``<Q[row_e], K[col_e]>`` for every stored entry ``e`` (dot-product
  attention logits, and every gradient with respect to attention values):
  ``torch.sparse.sampled_addmm``, run in place on a CSR tensor that shares
  the pattern's index arrays; gathering ``Q[row] * K[col]`` instead allocates
  ``[E, D]`` and is ~15x slower.

Both run on CUDA as well (the CUDA ``embedding_bag`` kernel, cuSPARSE SDDMM).

A :class:`SparsePattern` is the sparsity of an ``M x K`` matrix in CSR order.
Rows are targets (one softmax segment per row), columns index the rows of a
dense operand. Multi-head attention interleaves heads
(:meth:`SparsePattern.interleave`): row ``i*H + h`` is row ``i`` for head
``h``, so per-head operands keep their natural ``[nodes, heads, channels]``
layout and one kernel call covers every head. Backward passes are written
out (autograd Functions) so that they are SpMMs on the cached transposed
pattern and SDDMMs too.

Each model builds its :class:`GraphLayout` once per graph and reuses it:
:class:`GraphCache` keys it on the graph tensors' identity and version.
"""

from __future__ import annotations

import copy
import os
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Callable, Generic, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

T = TypeVar("T")


def _pointer(index: Tensor, size: int) -> Tensor:
    """CSR pointer ``[size + 1]`` of a sorted index vector."""
    ptr = index.new_zeros(size + 1, dtype=torch.int64)
    torch.cumsum(torch.bincount(index, minlength=size), 0, out=ptr[1:])
    return ptr


@dataclass(frozen=True, eq=False)
class SparsePattern:
    """The sparsity of an ``M x K`` matrix in CSR order, plus its transpose.

    ``crow`` ``[M+1]``, ``col`` and ``row`` ``[nnz]`` give entry ``e`` as
    ``(row[e], col[e])``, sorted by row. ``t_crow`` ``[K+1]``, ``t_col`` and
    ``t_perm`` ``[nnz]`` are the transposed matrix: its ``i``-th entry is entry
    ``t_perm[i]`` of this one, in row ``col[t_perm[i]]`` and column ``t_col[i]``.
    All int64: ``sampled_addmm`` converts narrower CSR indices on every call, and
    ``index_select`` with an int32 index is slower on the CPU.
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
        row, col = row.to(torch.int64), col.to(torch.int64)
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
        device = self.col.device
        head = torch.arange(heads, device=device).unsqueeze(0)  # [1, H]
        crow, t_crow = self.crow, self.t_crow
        start, count = crow[:-1], crow.diff()
        row = self.row.unsqueeze(1)  # [nnz, 1]
        entry = torch.arange(self.nnz, device=device).unsqueeze(1)

        def scatter(index: Tensor, values: Tensor) -> Tensor:
            return torch.empty(index.numel(), dtype=torch.int64, device=device).index_put_(
                (index.reshape(-1),), values.reshape(-1))

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


# -- per-entry gathers and reductions, split across threads ----------------------------------
#
# torch's CPU index_select, index_add_ and segment_reduce run on one thread whatever
# torch.get_num_threads() says, and over attention's per-entry tensors (13.7 M entries for GAT's 8
# heads at MGTAB size) they were the largest part of an epoch. Each call here is split into contiguous
# chunks run side by side on a small thread pool (torch releases the GIL inside an op): on the 2-core
# development machine a 13.7 M gather takes 5 ms instead of 9. Results equal the single call's, but for
# scatter_sum, which adds per-chunk partial sums (fixed chunks: the same numbers on every run with the
# same thread count). On CUDA, and for small inputs, each is the plain single call.

_MIN_CHUNK = 1 << 18  # entries per thread below which splitting does not pay
_pool: tuple[int, ThreadPoolExecutor] | None = None  # (workers, pool)


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
        _pool = (len(tasks), ThreadPoolExecutor(len(tasks), thread_name_prefix="mgbench-attention"))
    return [f.result() for f in [_pool[1].submit(task) for task in tasks]]


def gather(table: Tensor, index: Tensor) -> Tensor:
    """``table[index]`` for a 1-D ``table`` (no autograd, like every kernel here)."""
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


# -- kernels (no autograd) ---------------------------------------------------------------------

def _spmm(crow: Tensor, col: Tensor, values: Tensor, x: Tensor) -> Tensor:
    """CSR product ``A @ x``; rows without entries give 0.

    Detached operands: ``embedding_bag`` picks its slower training kernel
    (which also builds bag bookkeeping) whenever an operand requires grad,
    even under ``no_grad``; our callers do their own backward.
    """
    return F.embedding_bag(col, x.detach().contiguous(), crow, mode="sum", per_sample_weights=values.detach(),
                           include_last_offset=True)


def spmm_raw(pattern: SparsePattern, values: Tensor, x: Tensor) -> Tensor:
    """``A @ x`` with ``A`` the pattern holding ``values``; ``x`` is ``[K, D]``."""
    return _spmm(pattern.crow, pattern.col, values, x)


def spmm_t_raw(pattern: SparsePattern, values: Tensor, x: Tensor) -> Tensor:
    """``A^T @ x`` through the cached transposed pattern; ``x`` is ``[M, D]``."""
    return _spmm(pattern.t_crow, pattern.t_col, gather(values, pattern.t_perm), x)


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


# -- differentiable operations -----------------------------------------------------------------

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


# -- per-graph layouts -------------------------------------------------------------------------

class GraphLayout:
    """A graph in the CSR order one model needs, built once per graph by its :class:`GraphCache`.

    ``pattern`` is the single-head pattern, ``relation`` the relation id of
    each of its entries (CSR order) where the model needs it. :meth:`heads`
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


class GraphCache(Generic[T]):
    """Builds a per-graph layout once and returns it while the graph is unchanged.

    ``cache(edge_index, edge_type, num_nodes)`` calls ``build(edge_index,
    edge_type, num_nodes)`` (under ``no_grad``) only when the graph differs
    from the last one (``edge_type`` may be ``None``: GAT ignores relations).
    Key: the identity of ``edge_index`` and ``edge_type`` (held by weak
    reference, so the cache never keeps a graph alive, and an id reused by a
    new tensor never matches), their version counters (bumped by every
    in-place write), shapes and devices, and ``num_nodes``. A graph moved with
    ``.to(device)``, sliced or rebuilt is a new tensor and rebuilds, on its
    device. Writes that bypass the version counter (through ``.data``,
    ``.numpy()`` or DLPack) go unnoticed: call :meth:`clear` after them.

    One entry: a model trains on one graph. Copies (``deepcopy``, pickling)
    start empty.
    """

    def __init__(self, build: Callable[[Tensor, Tensor | None, int], T]):
        self.build = build
        self.builds = 0
        self.clear()

    def clear(self) -> None:
        self._refs: tuple[weakref.ref | None, ...] = ()
        self._key: tuple | None = None
        self._value: T | None = None

    @staticmethod
    def _fingerprint(t: Tensor | None) -> tuple | None:
        return None if t is None else (t._version, tuple(t.shape), t.device)

    def _same_objects(self, tensors: tuple[Tensor | None, ...]) -> bool:
        return len(self._refs) == len(tensors) and all(
            (ref is None and t is None) or (ref is not None and ref() is t) for ref, t in zip(self._refs, tensors))

    def __call__(self, edge_index: Tensor, edge_type: Tensor | None, num_nodes: int) -> T:
        tensors = (edge_index, edge_type)
        key = tuple(self._fingerprint(t) for t in tensors) + (num_nodes,)
        if key != self._key or not self._same_objects(tensors):
            with torch.no_grad():
                self._value = self.build(edge_index, edge_type, num_nodes)
            self._refs = tuple(None if t is None else weakref.ref(t) for t in tensors)
            self._key = key
            self.builds += 1
        return self._value

    def __getstate__(self) -> dict:
        return {"build": self.build, "builds": 0}

    def __setstate__(self, state: dict) -> None:
        self.build, self.builds = state["build"], state["builds"]
        self.clear()

    def __deepcopy__(self, memo: dict) -> "GraphCache[T]":
        return GraphCache(copy.deepcopy(self.build, memo))


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


def kaiming_linear_init(module: torch.nn.Module) -> None:
    """Re-initialise every ``nn.Linear`` as the MGTAB HGT/RGT/SHGN scripts do.

    ``kaiming_uniform_`` weights (gain sqrt(2), fan in) and zero biases, in place
    of PyTorch's default; PyG layers (``torch_geometric.nn.Linear``) keep theirs.
    """
    for m in module.modules():
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.kaiming_uniform_(m.weight)
            if m.bias is not None:
                torch.nn.init.zeros_(m.bias)
