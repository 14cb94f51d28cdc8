"""GCN (Kipf & Welling, ICLR 2017) in the MGTAB baseline frame, computed with cached CSR products."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import zeros

from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .frame import TwoLayerFrame
from .sparse import gcn_operator, transform_aggregate


class CSRGCNConv(nn.Module):
    """The function of PyG's ``GCNConv`` (defaults: self loops, symmetric norm, bias).

    ``out = D^-1/2 (A + I) D^-1/2 x W + b``, with the normalised adjacency
    built once per graph and cached (:func:`.sparse.gcn_operator`). Parameters
    carry ``GCNConv``'s names, shapes and initialisation (``lin.weight``
    ``[out, in]``, glorot; ``bias`` zeros), so state dicts load either way.
    Edges are unweighted, as in the MGTAB scripts.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.lin = Linear(in_channels, out_channels, bias=False, weight_initializer="glorot")
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        zeros(self.bias)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        op = gcn_operator(edge_index, x.size(0), x.dtype)
        return transform_aggregate(x, op, self.lin.weight.t(), self.bias)


@register_model("gcn", kind="gnn", defaults={"hidden_channels": 256, "dropout": 0.3, "inner_activation": False,
                                              "init": "authors"},
                search_space={"lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
                              "hidden_channels": Choice([64, 128, 256]),
                              "dropout": Uniform(0.0, 0.6)})
class GCN(TwoLayerFrame):
    """GCN: input Linear+LeakyReLU, two GCN layers, Linear classifier (all relations merged).

    The MGTAB authors' model (``models.GCN``, initialised by ``MGTAB-GNN.py``'s
    ``init_weights``): ``Linear(in, hidden)`` + LeakyReLU, two graph layers with
    dropout and no nonlinearity between them, ``Linear(hidden, classes)``.
    ``inner_activation=True`` adds the paper's ReLU after the first graph layer
    (``Z = softmax(A ReLU(A X W0) W1)``); ``init="torch"`` keeps PyTorch's
    initialisation (see :class:`.frame.TwoLayerFrame`). Relations are ignored
    (``num_relations`` is accepted for the common GNN contract): every edge of
    the selected relations is an edge of one homogeneous graph.
    """
    def __init__(self, in_channels: int, num_classes: int, num_relations: int = 1,
                 hidden_channels: int = 256, dropout: float = 0.3, inner_activation: bool = False,
                 init: str = "authors"):
        super().__init__(in_channels, num_classes, hidden_channels, dropout,
                         lambda: CSRGCNConv(hidden_channels, hidden_channels), inner_activation, init)
