"""GraphSAGE-mean (Hamilton et al., NeurIPS 2017) in the MGTAB baseline frame, built from :class:`mgbench.nn.SAGEConv`."""

from __future__ import annotations

from mgbench.nn import SAGEConv
from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .frame import TwoLayerFrame


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
                         lambda: SAGEConv(hidden_channels, hidden_channels), inner_activation, init)
