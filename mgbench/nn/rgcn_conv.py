"""``RGCNConv``: PyG's ``RGCNConv`` function, every relation and the root in one cached operator."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from .inits import glorot, zeros

from .cache import mean_operator
from .kernels import SparseOperator, transform_aggregate


class RGCNConv(nn.Module):
    """Relational graph convolution (Schlichtkrull et al., ESWC 2018): PyG ``RGCNConv``'s defaults.

    ``out_i = x_i W_0 + b + sum_r sum_{j in N_r(i)} x_j W_r / |N_r(i)|`` (mean
    per relation, root weight, bias, no basis decomposition). All relations
    and the root are slots of one cached operator, so the layer is one ``[N,
    in] @ [in, (R+1) out]`` matmul and one sparse product, where ``RGCNConv``
    runs a Python loop of masked propagations. Parameters carry
    ``RGCNConv``'s names, shapes and initialisation (``weight`` ``[R, in,
    out]``, ``root`` ``[in, out]``, glorot; ``bias`` zeros).
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int):
        super().__init__()
        self.in_channels, self.out_channels, self.num_relations = in_channels, out_channels, num_relations
        self.weight = nn.Parameter(torch.empty(num_relations, in_channels, out_channels))
        self.root = nn.Parameter(torch.empty(in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot(self.weight)
        glorot(self.root)
        zeros(self.bias)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        """``x`` ``[N, in]``, ``edge_index`` ``[2, E]``, ``edge_type`` ``[E]`` in ``[0, R)`` -> ``[N, out]``."""
        return self.aggregate(x, mean_operator(edge_index, x.size(0), edge_type, self.num_relations, x.dtype))

    def aggregate(self, x: Tensor, op: SparseOperator) -> Tensor:
        """The layer on a given operator (``R + 1`` slots: the relations' means, then the root), for
        models that build their own graphs' operators (RF-GNN's per-branch edge samples, SEBot's tree)."""
        weight = torch.cat([self.weight, self.root.unsqueeze(0)]).transpose(0, 1).flatten(1)  # [in, (R+1) out]
        return transform_aggregate(x, op, weight, self.bias)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, num_relations={self.num_relations})"
