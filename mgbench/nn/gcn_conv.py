"""``GCNConv``: PyG's ``GCNConv`` function on a cached normalised adjacency."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from .inits import Linear, zeros

from .cache import gcn_operator
from .kernels import transform_aggregate


class GCNConv(nn.Module):
    """Graph convolution (Kipf & Welling, ICLR 2017): PyG ``GCNConv``'s defaults (self loops, symmetric norm, bias).

    ``out = D^-1/2 (A + I) D^-1/2 x W + b``, computed as one matmul and one
    sparse product, with the normalised adjacency built on a graph's first
    forward and cached (:func:`.cache.gcn_operator`). Parameters carry
    ``GCNConv``'s names, shapes and initialisation (``lin.weight`` ``[out,
    in]``, glorot; ``bias`` zeros), so state dicts load either way. Edges are
    unweighted.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.lin = Linear(in_channels, out_channels, bias=False, weight_initializer="glorot")
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        zeros(self.bias)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """``x`` ``[N, in]``, ``edge_index`` ``[2, E]`` (row 0 sources, row 1 targets) -> ``[N, out]``."""
        op = gcn_operator(edge_index, x.size(0), x.dtype)
        return transform_aggregate(x, op, self.lin.weight.t(), self.bias)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"
