"""GCN (Kipf & Welling, ICLR 2017) in the MGTAB baseline frame, built from :class:`mgbench.nn.GCNConv`."""

from __future__ import annotations

from mgbench.nn import GCNConv
from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .frame import TwoLayerFrame


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
                         lambda: GCNConv(hidden_channels, hidden_channels), inner_activation, init)
