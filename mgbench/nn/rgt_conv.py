"""``RGTConv``: the RGT layer (a graph transformer per relation, gate, semantic attention) on cached CSR attention."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from .inits import kaiming_uniform, uniform

from .cache import cached_layout
from .kernels import GraphLayout, SparsePattern, attend, check_graph, sddmm


def build_rgt_layout(edge_index: Tensor, edge_type: Tensor, num_nodes: int, num_relations: int) -> GraphLayout:
    """Rows are ``(relation, target)`` pairs, columns source nodes: ``(R * N) x N``.

    Row ``r * N + i`` holds node ``i``'s relation-``r`` in-edges, so each row is
    one relation's softmax (a ``TransformerConv`` per relation); every head
    reads the same columns (the node features), hence ``shared_columns``.
    """
    check_graph(edge_index, edge_type, num_nodes, num_relations)
    src, dst = edge_index
    pattern, _ = SparsePattern.from_coo(edge_type * num_nodes + dst, src, (num_relations * num_nodes, num_nodes))
    return GraphLayout(pattern, shared_columns=True)


class RelationLinear(nn.Module):
    """One ``Linear(in, out)`` per relation, stacked: ``weight [R, out, in]``, ``bias [R, out]``.

    Initialised like PyG's ``Linear`` (kaiming-uniform with ``a = sqrt(5)``,
    uniform bias), the layers of ``TransformerConv``.
    """

    def __init__(self, num_relations: int, in_channels: int, out_channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_relations, out_channels, in_channels))
        self.bias = nn.Parameter(torch.empty(num_relations, out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        in_channels = self.weight.size(-1)
        kaiming_uniform(self.weight, fan=in_channels, a=math.sqrt(5))
        uniform(in_channels, self.bias)

    def augmented(self) -> Tensor:
        """``[R, out, in + 1]``: the weight with the bias as last column (acts on ``[x, 1]``)."""
        return torch.cat([self.weight, self.bias.unsqueeze(-1)], dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """``[R, N, out]``: every relation's map of ``x`` ``[N, in]``, one batched matmul."""
        return torch.baddbmm(self.bias.unsqueeze(1), x.expand(self.weight.size(0), -1, -1),
                             self.weight.transpose(1, 2))


class SemanticAttention(nn.Module):
    """Relation-level attention (RGT's semantic attention network, HAN-style), multi-head.

    Head ``s`` scores relation ``r`` by ``mean_i q_s . tanh(W_s z_{r,i} + b_s)``,
    softmaxes the scores over relations and mixes ``z_r`` with them; the heads'
    outputs are averaged. ``project`` stacks the heads' ``W_s`` (``[S*hidden,
    C]``), ``query.weight`` their ``q_s`` (``[S, hidden]``).
    """

    def __init__(self, channels: int, heads: int, hidden: int = 128):
        super().__init__()
        self.heads, self.hidden = heads, hidden
        self.project = nn.Linear(channels, heads * hidden)
        self.query = nn.Linear(hidden, heads, bias=False)

    def forward(self, z: Tensor) -> Tensor:
        """``z`` ``[R, N, C]`` -> ``[N, C]``."""
        # The mean over nodes commutes with the dot product: average tanh(...) first (as a sum,
        # whose backward is a broadcast rather than a division over [R, N, S*hidden]).
        summary = torch.tanh(self.project(z)).sum(1).view(-1, self.heads, self.hidden) / z.size(1)
        beta = torch.softmax((summary * self.query.weight).sum(-1), dim=0).mean(1)  # [R]
        return (beta @ z.flatten(1)).view(z.shape[1:])


class RGTConv(nn.Module):
    """One RGT layer (Feng et al., AAAI 2022): a graph transformer per relation, a gated residual, semantic attention.

    Per relation ``r``: ``u_r = TransformerConv_r(x)`` (``heads`` heads averaged,
    root weight, attention dropout), gate ``a_r = sigmoid(W_g [u_r, x] + b)``
    (shared by relations), ``z_r = tanh(u_r) * a_r + x * (1 - a_r)``; output
    ``SemanticAttention(z_1..z_R)``. Needs ``in == out`` (the residual).

    How it is fast. The relation-``r`` head-``h`` logit ``(W_q x_i + b_q) .
    (W_k x_j + b_k) / sqrt(d)`` is the bilinear form ``[x_i, 1] M_{r,h} [x_j, 1]``
    with ``M = [W_q, b_q]^T [W_k, b_k] / sqrt(d)``: one batched matmul gives
    ``[x_i, 1] M_{r,h}`` for every (relation, node, head), one SDDMM against
    ``[x, 1]`` the logits, one SpMM aggregates ``[x, 1]`` itself, and the value
    map is applied after aggregation (``sum_j a_ij (W_v x_j + b_v) = W_v (sum a x)
    + b_v sum a``; the ``1`` column carries ``sum a``, exact under attention
    dropout and 0 for nodes without edges). The sparse kernels only ever read
    the small ``[N, in + 1]`` node matrix, and no per-relation Python loop
    remains. Same function as ``TransformerConv(in, out, heads, concat=False,
    dropout)`` per relation; parameters stack theirs per relation.
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int, heads: int = 4,
                 semantic_heads: int = 4, dropout: float = 0.0):
        super().__init__()
        if in_channels != out_channels:
            raise ValueError(f"RGTConv needs in_channels == out_channels (its gated residual), "
                             f"got {in_channels} and {out_channels}")
        channels = in_channels
        self.channels, self.num_relations, self.heads, self.dropout = channels, num_relations, heads, dropout
        self.query = RelationLinear(num_relations, channels, heads * channels)
        self.key = RelationLinear(num_relations, channels, heads * channels)
        self.value = RelationLinear(num_relations, channels, heads * channels)
        self.skip = RelationLinear(num_relations, channels, channels)
        self.gate = nn.Linear(2 * channels, channels)
        self.semantic = SemanticAttention(channels, semantic_heads)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        """``x`` ``[N, C]``, ``edge_index`` ``[2, E]``, ``edge_type`` ``[E]`` in ``[0, R)`` -> ``[N, C]``."""
        num_nodes, rels, heads, channels = x.size(0), self.num_relations, self.heads, self.channels
        layout = cached_layout("rgt", build_rgt_layout, edge_index, edge_type, num_nodes, rels)
        width = channels + 1
        x1 = torch.cat([x, x.new_ones(num_nodes, 1)], dim=1)  # [N, in + 1]
        w_q = self.query.augmented().view(rels, heads, channels, width)
        w_k = self.key.augmented().view(rels, heads, channels, width)
        w_v = self.value.augmented().view(rels, heads, channels, width)
        bilinear = torch.matmul(w_q.transpose(-1, -2), w_k) / math.sqrt(channels)  # [R, H, in+1, in+1]
        # bmm on the expanded x: torch.matmul's broadcasting computes the transpose and copies it back
        queries = torch.bmm(x1.expand(rels, -1, -1), bilinear.transpose(1, 2).reshape(rels, width, heads * width))
        pattern = layout.heads(heads)  # row (r*N + i)*H + h: queries [R, N, H*(in+1)] row by row
        logits = sddmm(pattern, queries.view(-1, width), x1)
        agg = attend(pattern, logits, x1, self.dropout, self.training).view(rels, num_nodes, heads * width)
        w_out = w_v.permute(0, 1, 3, 2).reshape(rels, heads * width, channels) / heads
        u = torch.bmm(agg, w_out) + self.skip(x)  # [R, N, C]
        w_u, w_x = self.gate.weight.split(channels, dim=1)
        a = torch.sigmoid(torch.matmul(u, w_u.t()) + F.linear(x, w_x, self.gate.bias))
        z = torch.tanh(u) * a + x * (1 - a)
        return self.semantic(z)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.channels}, {self.channels}, num_relations={self.num_relations}, "
                f"heads={self.heads})")
