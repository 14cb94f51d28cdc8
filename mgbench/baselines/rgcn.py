"""R-GCN (Schlichtkrull et al., ESWC 2018) in the MGTAB baseline frame, with cached per-relation CSR products."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn.inits import glorot, zeros

from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .frame import TwoLayerFrame
from .sparse import SparseOperator, mean_operator, transform_aggregate


class CSRRGCNConv(nn.Module):
    """The function of PyG's ``RGCNConv`` (mean per relation, root weight, bias, no decomposition).

    ``out_i = x_i W_0 + b + sum_r sum_{j in N_r(i)} x_j W_r / |N_r(i)|``. All
    relations and the root are slots of one cached operator, so the layer is one
    ``[N, in] @ [in, (R+1) out]`` matmul and one sparse product, where
    ``RGCNConv`` runs a Python loop of masked propagations.
    Parameters carry ``RGCNConv``'s names, shapes and initialisation
    (``weight`` ``[R, in, out]``, ``root`` ``[in, out]``, glorot; ``bias`` zeros).
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int):
        super().__init__()
        self.num_relations = num_relations
        self.weight = nn.Parameter(torch.empty(num_relations, in_channels, out_channels))
        self.root = nn.Parameter(torch.empty(in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot(self.weight)
        glorot(self.root)
        zeros(self.bias)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        return self.aggregate(x, mean_operator(edge_index, x.size(0), edge_type, self.num_relations, x.dtype))

    def aggregate(self, x: Tensor, op: SparseOperator) -> Tensor:
        """The layer on a given operator (``R + 1`` slots: the relations' means, then the root).

        For models that keep their own operators, e.g. RF-GNN's per-branch edge samples.
        """
        weight = torch.cat([self.weight, self.root.unsqueeze(0)]).transpose(0, 1).flatten(1)  # [in, (R+1) out]
        return transform_aggregate(x, op, weight, self.bias)


@register_model("rgcn", kind="gnn", defaults={"hidden_channels": 256, "dropout": 0.3, "inner_activation": False,
                                               "init": "authors"},
                search_space={"lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
                              "hidden_channels": Choice([64, 128, 256]),
                              "dropout": Uniform(0.0, 0.6)})
class RGCN(TwoLayerFrame):
    """R-GCN: input Linear+LeakyReLU, two R-GCN layers, Linear classifier.

    The MGTAB authors' model (``models.RGCN``, initialised by ``MGTAB-GNN.py``'s
    ``init_weights``), with one bug fixed: the reference builds ``rgcn2`` but
    applies ``rgcn1`` twice; here the two layers are distinct. No nonlinearity
    between the layers, as there; ``inner_activation=True`` adds the ReLU of the
    paper's layer ``h' = ReLU(sum_r ... + W_0 h)``, ``init="torch"`` keeps
    PyTorch's and PyG's initialisation.
    """

    relational = True

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 256, dropout: float = 0.3, inner_activation: bool = False,
                 init: str = "authors"):
        super().__init__(in_channels, num_classes, hidden_channels, dropout,
                         lambda: CSRRGCNConv(hidden_channels, hidden_channels, num_relations),
                         inner_activation, init)
