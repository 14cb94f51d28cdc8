"""``HGTConv``: PyG's ``HGTConv`` function for one node type and ``R`` edge types, on cached CSR attention."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from .inits import Linear, kaiming_uniform, ones

from .cache import cached_layout
from .kernels import GraphLayout, SparsePattern, attend, check_graph, sddmm


def build_hgt_layout(edge_index: Tensor, edge_type: Tensor, num_nodes: int, num_relations: int) -> GraphLayout:
    """Rows are target nodes, columns ``(source, relation)`` pairs: ``N x (N * R)``.

    One softmax per target over its incoming edges of every relation (HGT's
    attention is normalised across relations); column ``j * R + r`` reads the
    relation-``r`` key and value of node ``j``.
    """
    check_graph(edge_index, edge_type, num_nodes, num_relations)
    src, dst = edge_index
    pattern, _ = SparsePattern.from_coo(dst, src * num_relations + edge_type, (num_nodes, num_nodes * num_relations))
    return GraphLayout(pattern)


class HGTConv(nn.Module):
    """Heterogeneous graph transformer layer (Hu et al., WWW 2020), one node type, ``R`` relations.

    Per head ``h`` and edge ``j -r-> i``: ``k = K(x_j) W^att_{h,r}``,
    ``v = V(x_j) W^msg_{h,r}``, logit ``Q(x_i) . k * mu_{r,h} / sqrt(d)``,
    softmax over all incoming edges of ``i`` (every relation), ``out_i =
    A-Linear(GELU(sum alpha v))``, then a ``sigmoid(skip)``-gated residual when
    ``in_channels == out_channels`` -- PyG ``HGTConv``'s function.

    How it is fast: ``K(x) W^att_{h,r}`` for every relation and head is one
    batched matmul over nodes (``[N, R, H, d]``, the prior ``mu / sqrt(d)``
    folded into the weights), logits are one SDDMM against it, and aggregation
    one SpMM over the ``(source, relation)`` columns of the graph's cached
    pattern -- no per-relation Python loop and no per-edge feature tensor.
    Parameters: ``kqv``/``out`` are the ``user`` linears of ``HGTConv``'s
    ``kqv_lin``/``out_lin`` (PyG ``Linear``); ``k_rel``/``v_rel`` ``[H*R, d,
    d]`` (index ``h * R + r``), ``skip`` and ``p_rel`` ``[R, H]`` are
    ``HGTConv``'s, initialised alike.
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int, heads: int = 1):
        super().__init__()
        if out_channels % heads:
            raise ValueError(f"out_channels ({out_channels}) must be divisible by heads ({heads})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_relations, self.heads = num_relations, heads
        dim = out_channels // heads
        self.kqv = Linear(in_channels, 3 * out_channels)
        self.out = Linear(out_channels, out_channels)
        self.k_rel = nn.Parameter(torch.empty(heads * num_relations, dim, dim))
        self.v_rel = nn.Parameter(torch.empty(heads * num_relations, dim, dim))
        self.skip = nn.Parameter(torch.empty(1))
        self.p_rel = nn.Parameter(torch.empty(num_relations, heads))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.kqv.reset_parameters()
        self.out.reset_parameters()
        dim = self.out_channels // self.heads
        kaiming_uniform(self.k_rel, fan=dim, a=math.sqrt(5))
        kaiming_uniform(self.v_rel, fan=dim, a=math.sqrt(5))
        ones(self.skip)
        ones(self.p_rel)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        """``x`` ``[N, in]``, ``edge_index`` ``[2, E]``, ``edge_type`` ``[E]`` in ``[0, R)`` -> ``[N, out]``."""
        num_nodes, heads, rels = x.size(0), self.heads, self.num_relations
        layout = cached_layout("hgt", build_hgt_layout, edge_index, edge_type, num_nodes, rels)
        dim = self.out_channels // heads
        # Three matmuls rather than one split [N, 3F]: the split's backward would copy its gradient together.
        k, q, v = (F.linear(x, w, b).view(num_nodes, heads, dim)
                   for w, b in zip(self.kqv.weight.chunk(3), self.kqv.bias.chunk(3)))  # each [N, H, d]
        prior = (self.p_rel / math.sqrt(dim)).t().reshape(heads, rels, 1, 1)
        w_att = self.k_rel.view(heads, rels, dim, dim) * prior
        w_msg = self.v_rel.view(heads, rels, dim, dim)
        keys = torch.einsum("nhd,hrde->nrhe", k, w_att).reshape(-1, dim)  # row (j*R + r)*H + h
        values = torch.einsum("nhd,hrde->nrhe", v, w_msg).reshape(-1, dim)
        pattern = layout.heads(heads)  # row i*H + h, column (j*R + r)*H + h
        logits = sddmm(pattern, q.reshape(-1, dim), keys)
        agg = attend(pattern, logits, values).view(num_nodes, self.out_channels)
        out = self.out(F.gelu(agg))
        if self.out_channels == self.in_channels:
            gate = self.skip.sigmoid()
            out = gate * out + (1 - gate) * x
        return out

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"num_relations={self.num_relations}, heads={self.heads})")
