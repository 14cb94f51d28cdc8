"""``GATConv``: PyG's ``GATConv`` function on a cached CSR attention pattern."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from .inits import Linear, glorot, zeros

from .cache import cached_layout
from .kernels import GraphLayout, SparsePattern, additive_logits, attend, check_graph


def build_gat_layout(edge_index: Tensor, edge_type: Tensor | None, num_nodes: int,
                     num_relations: int = 1) -> GraphLayout:
    """All edges as one graph, existing self loops replaced by one per node (``GATConv``'s default).

    Relations are ignored; a multi-edge stays two entries, as in PyG.
    """
    check_graph(edge_index, None, num_nodes)
    src, dst = edge_index
    keep = src != dst
    loop = torch.arange(num_nodes, device=edge_index.device)
    pattern, _ = SparsePattern.from_coo(torch.cat([dst[keep], loop]), torch.cat([src[keep], loop]),
                                        (num_nodes, num_nodes))
    return GraphLayout(pattern)


class GATConv(nn.Module):
    """Graph attention (Veličković et al., ICLR 2018): PyG ``GATConv``'s function (self loops, bias).

    ``e_ij = LeakyReLU(a_src . W x_j + a_dst . W x_i)`` per head, softmax over
    ``j in N(i) + {i}``, attention dropout in training, ``out_i = ||_h sum_j
    alpha_ij W x_j`` (or the mean of heads with ``concat=False``), ``+ bias``.
    The two attention terms are per-node scalars, computed as ``x . (W^T a)``
    (one ``[N, 2H]`` product) and gathered per entry; aggregation is one SpMM
    over all heads on the graph's cached pattern. Parameters carry
    ``GATConv``'s names, shapes and initialisation (``lin.weight``,
    ``att_src``, ``att_dst``, ``bias``), so state dicts load either way.
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0):
        super().__init__()
        self.in_channels = in_channels
        self.heads, self.out_channels, self.concat = heads, out_channels, concat
        self.negative_slope, self.dropout = negative_slope, dropout
        self.lin = Linear(in_channels, heads * out_channels, bias=False, weight_initializer="glorot")
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        self.bias = nn.Parameter(torch.empty(heads * out_channels if concat else out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        zeros(self.bias)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """``x`` ``[N, in]``, ``edge_index`` ``[2, E]`` -> ``[N, heads * out]`` (``[N, out]`` if not ``concat``)."""
        num_nodes, heads, channels = x.size(0), self.heads, self.out_channels
        layout = cached_layout("gat", build_gat_layout, edge_index, None, num_nodes)
        h = self.lin(x).view(num_nodes, heads, channels)
        # a . (W x) = (W^T a) . x: both scores of every head from x in one small product, [N, 2H]
        weight = self.lin.weight.view(heads, channels, -1)
        att = torch.cat([self.att_src[0], self.att_dst[0]]).view(2, heads, channels, 1)
        scores = x @ (weight * att).sum(2).view(2 * heads, -1).t()
        pattern = layout.heads(heads)  # row i*H + h: node i, head h
        logits = additive_logits(pattern, scores[:, heads:].reshape(-1), scores[:, :heads].reshape(-1),
                                 negative_slope=self.negative_slope)
        out = attend(pattern, logits, h.view(-1, channels), self.dropout, self.training)
        out = out.view(num_nodes, heads * channels) if self.concat else out.view(num_nodes, heads, channels).mean(1)
        return out + self.bias

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"
