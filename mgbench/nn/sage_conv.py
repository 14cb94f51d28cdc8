"""``SAGEConv``: PyG's mean ``SAGEConv`` function on a cached neighbourhood-mean operator."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from .inits import Linear

from .cache import mean_operator
from .kernels import transform_aggregate


class SAGEConv(nn.Module):
    """GraphSAGE-mean (Hamilton et al., NeurIPS 2017): PyG ``SAGEConv``'s defaults (root weight, no normalisation).

    ``out_i = W_l mean_{j in N(i)} x_j + b + W_r x_i``: one cached operator
    with two slots (the neighbour mean and the identity), one matmul with
    ``[W_l^T | W_r^T]``, one sparse product; no ``[E, in]`` message tensor.
    Self loops in ``edge_index`` are ordinary neighbours, multi-edges count
    each time, nodes without neighbours get ``W_r x_i + b``. Parameters carry
    ``SAGEConv``'s names, shapes and initialisation (``lin_l`` with bias,
    ``lin_r`` without).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.lin_l = Linear(in_channels, out_channels, bias=True)
        self.lin_r = Linear(in_channels, out_channels, bias=False)

    def reset_parameters(self) -> None:
        self.lin_l.reset_parameters()
        self.lin_r.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """``x`` ``[N, in]``, ``edge_index`` ``[2, E]`` (row 0 sources, row 1 targets) -> ``[N, out]``."""
        op = mean_operator(edge_index, x.size(0), dtype=x.dtype)
        weight = torch.cat([self.lin_l.weight.t(), self.lin_r.weight.t()], dim=1)
        return transform_aggregate(x, op, weight, self.lin_l.bias)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, aggr='mean')"
