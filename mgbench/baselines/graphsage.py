"""GraphSAGE-mean (Hamilton et al., NeurIPS 2017) in the MGTAB baseline frame, with cached CSR products."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn.dense.linear import Linear

from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .frame import TwoLayerFrame
from .sparse import mean_operator, transform_aggregate


class CSRSAGEConv(nn.Module):
    """The function of PyG's ``SAGEConv`` (mean aggregation, root weight, no normalisation).

    ``out_i = W_l mean_{j in N(i)} x_j + b + W_r x_i``: one cached operator with
    two slots (the neighbour mean and the identity), one matmul with
    ``[W_l^T | W_r^T]``, one sparse product. Parameters carry ``SAGEConv``'s names, shapes and
    initialisation (``lin_l`` with bias, ``lin_r`` without).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.lin_l = Linear(in_channels, out_channels, bias=True)
        self.lin_r = Linear(in_channels, out_channels, bias=False)

    def reset_parameters(self) -> None:
        self.lin_l.reset_parameters()
        self.lin_r.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        op = mean_operator(edge_index, x.size(0), dtype=x.dtype)
        weight = torch.cat([self.lin_l.weight.t(), self.lin_r.weight.t()], dim=1)
        return transform_aggregate(x, op, weight, self.lin_l.bias)


@register_model("graphsage", kind="gnn", defaults={"hidden_channels": 256, "dropout": 0.3, "inner_activation": False,
                                                    "init": "authors"},
                search_space={"lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
                              "hidden_channels": Choice([64, 128, 256]),
                              "dropout": Uniform(0.0, 0.6)})
class GraphSAGE(TwoLayerFrame):
    """GraphSAGE-mean: input Linear+LeakyReLU, two SAGE layers, Linear classifier (relations merged).

    The MGTAB authors' model (``models.SAGE``, initialised by ``MGTAB-GNN.py``'s
    ``init_weights``), with no nonlinearity between its two graph layers;
    ``inner_activation=True`` adds the ReLU that the paper's layer
    ``h = sigma(W [h_self, mean h_N])`` prescribes, ``init="torch"`` keeps
    PyTorch's initialisation. The second layer's output is the embedding fed
    to the classifier; the paper's optional L2 normalisation is off, as in the
    reference. Relations are ignored (``num_relations`` is accepted for the
    common GNN contract).
    """
    def __init__(self, in_channels: int, num_classes: int, num_relations: int = 1,
                 hidden_channels: int = 256, dropout: float = 0.3, inner_activation: bool = False,
                 init: str = "authors"):
        super().__init__(in_channels, num_classes, hidden_channels, dropout,
                         lambda: CSRSAGEConv(hidden_channels, hidden_channels), inner_activation, init)
