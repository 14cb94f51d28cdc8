"""Reference-style builds of GCN, GraphSAGE, R-GCN and BotRGCN from stock PyG layers.

Written from the MGTAB authors' ``models.py`` (``GCN``, ``SAGE``, ``RGCN``,
``BotRGCN``) as run by ``MGTAB-GNN.py``: ``GCNConv``, ``SAGEConv``,
``RGCNConv`` called on ``edge_index``/``edge_type`` every forward, no
nonlinearity between the graph layers, ``init_weights`` applied after the
build; with the bugs fixed exactly as in our models (R-GCN's second layer is
used; BotRGCN's categorical columns are the graph's). The unused
``linear_relu_output1`` of their GCN, SAGE and R-GCN is left out (it only
draws random numbers). Our models' design options (``inner_activation``,
``init``, BotRGCN's ``shared_graph_layer`` and ``output_mlp``) are mirrored so
the oracles cover both settings. Two uses: the oracle of the equivalence tests
(each fast model's ``load_reference_state`` copies these weights; parameter
names and shapes are the same) and the baseline of
``benchmarks/bench_gnn_epoch.py``. Not registered: they compute the same
functions as ``gcn``, ``graphsage``, ``rgcn`` and ``botrgcn``, only slower.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GCNConv, RGCNConv, SAGEConv

from .botrgcn import BotRGCNEncoder
from .init import initialise


class _ReferenceTwoLayer(nn.Module):
    """``models.GCN`` / ``models.SAGE`` / ``models.RGCN``'s forward: ``linear_relu_input``,
    layer 1, dropout, layer 2, ``linear_output2`` (named ``input``, ``conv1``,
    ``conv2``, ``classifier`` here)."""

    relational = False

    def __init__(self, in_channels: int, num_classes: int, hidden_channels: int, dropout: float,
                 make_conv: Callable[[], nn.Module], inner_activation: bool, init: str):
        super().__init__()
        self.dropout, self.inner_activation = dropout, inner_activation
        self.input = nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.LeakyReLU())
        self.conv1 = make_conv()
        self.conv2 = make_conv()
        self.classifier = nn.Linear(hidden_channels, num_classes)
        initialise(self, init)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor | None = None) -> Tensor:
        args = (edge_index, edge_type) if self.relational else (edge_index,)
        h = self.conv1(self.input(x), *args)
        if self.inner_activation:
            h = F.relu(h)
        h = F.dropout(h, p=self.dropout, training=self.training)
        return self.classifier(self.conv2(h, *args))


class ReferenceGCN(_ReferenceTwoLayer):
    """``models.GCN``: two ``GCNConv``."""

    def __init__(self, in_channels: int, num_classes: int, num_relations: int = 1,
                 hidden_channels: int = 256, dropout: float = 0.3, inner_activation: bool = False,
                 init: str = "authors"):
        super().__init__(in_channels, num_classes, hidden_channels, dropout,
                         lambda: GCNConv(hidden_channels, hidden_channels), inner_activation, init)


class ReferenceGraphSAGE(_ReferenceTwoLayer):
    """``models.SAGE``: two ``SAGEConv`` (mean)."""

    def __init__(self, in_channels: int, num_classes: int, num_relations: int = 1,
                 hidden_channels: int = 256, dropout: float = 0.3, inner_activation: bool = False,
                 init: str = "authors"):
        super().__init__(in_channels, num_classes, hidden_channels, dropout,
                         lambda: SAGEConv(hidden_channels, hidden_channels), inner_activation, init)


class ReferenceRGCN(_ReferenceTwoLayer):
    """``models.RGCN`` with its two ``RGCNConv`` both used (the script applies ``rgcn1`` twice)."""

    relational = True

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 256, dropout: float = 0.3, inner_activation: bool = False,
                 init: str = "authors"):
        super().__init__(in_channels, num_classes, hidden_channels, dropout,
                         lambda: RGCNConv(hidden_channels, hidden_channels, num_relations), inner_activation, init)


class ReferenceBotRGCN(nn.Module):
    """``models.BotRGCN``: encoders, ``linear_relu_input``, one ``RGCNConv`` applied twice, ``linear_output2``.

    The categorical columns come from the graph (their column list is a bug).
    ``shared_graph_layer=False`` and ``output_mlp=True`` mirror our options.
    """

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 256, dropout: float = 0.3,
                 feature_blocks: dict[str, tuple[int, int]] | None = None,
                 categorical_columns: Sequence[int] | None = None,
                 shared_graph_layer: bool = True, output_mlp: bool = False, init: str = "authors"):
        super().__init__()
        self.dropout = dropout
        self.encoder = BotRGCNEncoder(in_channels, hidden_channels, feature_blocks, categorical_columns)
        self.input = nn.Sequential(nn.Linear(hidden_channels, hidden_channels), nn.LeakyReLU())
        self.conv1 = RGCNConv(hidden_channels, hidden_channels, num_relations)
        self.conv2 = None if shared_graph_layer else RGCNConv(hidden_channels, hidden_channels, num_relations)
        self.output = (nn.Sequential(nn.Linear(hidden_channels, hidden_channels), nn.LeakyReLU())
                       if output_mlp else None)
        self.classifier = nn.Linear(hidden_channels, num_classes)
        initialise(self, init)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        h = self.conv1(self.input(self.encoder(x)), edge_index, edge_type)
        h = F.dropout(h, p=self.dropout, training=self.training)
        h = (self.conv1 if self.conv2 is None else self.conv2)(h, edge_index, edge_type)
        if self.output is not None:
            h = self.output(h)
        return self.classifier(h)
