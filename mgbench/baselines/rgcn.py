"""R-GCN (Schlichtkrull et al., ESWC 2018) in the MGTAB baseline frame, built from :class:`mgbench.nn.RGCNConv`."""

from __future__ import annotations

from mgbench.nn import RGCNConv
from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .frame import TwoLayerFrame


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
                         lambda: RGCNConv(hidden_channels, hidden_channels, num_relations),
                         inner_activation, init)
