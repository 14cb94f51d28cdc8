"""One cache for every layer's per-graph structure: built on a graph's first forward, reused after.

Every layer of :mod:`mgbench.nn` turns ``edge_index`` (and ``edge_type``) into
a sparse structure (a :class:`~.kernels.SparseOperator` or a
:class:`~.kernels.GraphLayout`) whose construction sorts every edge: far too
slow to repeat each forward. A training loop passes the same graph tensors
every epoch, so the structure is built once and looked up by the tensors'
identity. Layers of one model on one graph share an entry (a model's second
GCN layer reuses its first's operator; GAT layers of 8 and 1 heads share one
layout), and so do models.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Callable, NamedTuple, TypeVar

import torch
from torch import Tensor

from .kernels import (GraphLayout, SparseOperator, build_gcn_operator, build_mean_operator)

T = TypeVar("T")


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    size: int


class GraphCache:
    """A small LRU of per-graph structures, keyed on the graph tensors' identity.

    Key: the structure's kind and parameters (node count, relation count,
    dtype...), plus per graph tensor its ``id``, ``data_ptr``, version counter
    (bumped by every in-place write), shape and device. An entry also holds a
    weak reference to each tensor and only counts as a hit while that very
    object is alive, so an ``id`` or address reused by a later tensor never
    matches a stale entry; and an entry is dropped as soon as one of its
    tensors is garbage collected (the cache never keeps a graph alive). Why it
    is safe: the same live object at the same address with the same version
    has the same content. The one way around that is writing through
    ``.data``, ``.numpy()`` or DLPack views, which bypass the version counter;
    call :func:`clear_cache` after such writes. Inference-mode tensors have no
    version counter and are never cached. A graph moved with ``.to(device)``,
    sliced or rebuilt is a new tensor, so its structure is built anew, on its
    device. Structures are built under ``no_grad``. Models hold no cache
    state, so copies (``deepcopy``, pickling) need no special care.
    """

    def __init__(self, maxsize: int = 8):
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple, tuple[tuple[weakref.ref, ...], object]] = OrderedDict()
        self._hits = self._misses = 0

    @staticmethod
    def _fingerprint(t: Tensor) -> tuple:
        return (id(t), t.data_ptr(), t._version, tuple(t.shape), t.device)

    def get(self, params: tuple, tensors: tuple[Tensor, ...], build: Callable[[], T]) -> T:
        """The structure ``build()`` makes for these graph tensors, built on the first call only."""
        if any(t.is_inference() for t in tensors):
            with torch.no_grad():
                return build()
        key = params + tuple(self._fingerprint(t) for t in tensors)
        entry = self._entries.get(key)
        if entry is not None and all(ref() is t for ref, t in zip(entry[0], tensors)):
            self._entries.move_to_end(key)
            self._hits += 1
            return entry[1]  # type: ignore[return-value]
        self._misses += 1
        with torch.no_grad():
            value = build()
        self._entries[key] = (tuple(weakref.ref(t) for t in tensors), value)
        entries = weakref.ref(self._entries)  # not the dict itself: a dropped cache must not live on in finalizers
        for t in tensors:
            weakref.finalize(t, _drop_entry, entries, key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return value

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


_CACHE = GraphCache()


def cache_info() -> CacheInfo:
    """Hits, misses and entries of the shared structure cache."""
    return _CACHE.info()


def clear_cache() -> None:
    """Drop every cached structure (needed only after writes that bypass version counters)."""
    _CACHE.clear()


def cached(params: tuple, tensors: tuple[Tensor, ...], build: Callable[[], T]) -> T:
    """``build()``'s structure for the graph ``tensors``, from the shared cache (see :class:`GraphCache`)."""
    return _CACHE.get(params, tensors, build)


def gcn_operator(edge_index: Tensor, num_nodes: int, dtype: torch.dtype = torch.float32) -> SparseOperator:
    """The cached :func:`~.kernels.build_gcn_operator` of this graph."""
    return cached(("gcn", num_nodes, dtype), (edge_index,), lambda: build_gcn_operator(edge_index, num_nodes, dtype))


def mean_operator(edge_index: Tensor, num_nodes: int, edge_type: Tensor | None = None,
                  num_relations: int = 1, dtype: torch.dtype = torch.float32) -> SparseOperator:
    """The cached :func:`~.kernels.build_mean_operator` of this graph."""
    tensors = (edge_index,) if edge_type is None else (edge_index, edge_type)
    return cached(("mean", num_nodes, num_relations, dtype), tensors,
                  lambda: build_mean_operator(edge_index, num_nodes, edge_type, num_relations, dtype))


def cached_layout(kind: str, build: Callable[..., GraphLayout], edge_index: Tensor, edge_type: Tensor | None,
           num_nodes: int, num_relations: int = 1) -> GraphLayout:
    """The cached attention layout ``build(edge_index, edge_type, num_nodes, num_relations)`` of this graph.

    ``kind`` names the layout (one per layer family); ``edge_type=None`` for
    layouts that ignore relations (GAT).
    """
    tensors = (edge_index,) if edge_type is None else (edge_index, edge_type)
    return cached((kind, num_nodes, num_relations), tensors,
                  lambda: build(edge_index, edge_type, num_nodes, num_relations))
