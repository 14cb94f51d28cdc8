"""Reference-style builds of GCN, GraphSAGE, R-GCN and BotRGCN from stock PyG layers.

Built the way the MGTAB authors' scripts build them (``GCNConv``, ``SAGEConv``,
``RGCNConv`` called on ``edge_index``/``edge_type`` every forward), with their
bugs fixed exactly as in our models. Two uses: the oracle of the equivalence
tests (each fast model's ``load_reference_state`` copies these weights, the
parameter names and shapes are the same) and the baseline of
``benchmarks/bench_gnn_epoch.py``. Not registered: they compute the same
functions as ``gcn``, ``graphsage``, ``rgcn`` and ``botrgcn``, only slower.
"""

from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GCNConv, RGCNConv, SAGEConv

from .botrgcn import BotRGCNEncoder
from .frame import TwoLayerFrame


class ReferenceGCN(TwoLayerFrame):
    """:class:`.gcn.GCN` with two ``GCNConv``."""

    def __init__(self, in_channels: int, num_classes: int, num_relations: int = 1,
                 hidden_channels: int = 256, dropout: float = 0.3):
        super().__init__(in_channels, num_classes, hidden_channels, dropout,
                         lambda: GCNConv(hidden_channels, hidden_channels))


class ReferenceGraphSAGE(TwoLayerFrame):
    """:class:`.graphsage.GraphSAGE` with two ``SAGEConv`` (mean)."""

    def __init__(self, in_channels: int, num_classes: int, num_relations: int = 1,
                 hidden_channels: int = 256, dropout: float = 0.3):
        super().__init__(in_channels, num_classes, hidden_channels, dropout,
                         lambda: SAGEConv(hidden_channels, hidden_channels))


class ReferenceRGCN(TwoLayerFrame):
    """:class:`.rgcn.RGCN` with two distinct ``RGCNConv`` (the MGTAB script applies ``rgcn1`` twice)."""

    relational = True

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 256, dropout: float = 0.3):
        super().__init__(in_channels, num_classes, hidden_channels, dropout,
                         lambda: RGCNConv(hidden_channels, hidden_channels, num_relations))


class ReferenceBotRGCN(nn.Module):
    """:class:`.botrgcn.BotRGCN` with two distinct ``RGCNConv`` (the MGTAB script applies one ``rgcn`` twice)."""

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 256, dropout: float = 0.3,
                 feature_blocks: dict[str, tuple[int, int]] | None = None,
                 categorical_columns: Sequence[int] | None = None):
        super().__init__()
        self.dropout = dropout
        self.encoder = BotRGCNEncoder(in_channels, hidden_channels, feature_blocks, categorical_columns)
        self.input = nn.Sequential(nn.Linear(hidden_channels, hidden_channels), nn.LeakyReLU())
        self.conv1 = RGCNConv(hidden_channels, hidden_channels, num_relations)
        self.conv2 = RGCNConv(hidden_channels, hidden_channels, num_relations)
        self.output = nn.Sequential(nn.Linear(hidden_channels, hidden_channels), nn.LeakyReLU())
        self.classifier = nn.Linear(hidden_channels, num_classes)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        h = self.conv1(self.input(self.encoder(x)), edge_index, edge_type)
        h = F.dropout(h, p=self.dropout, training=self.training)
        h = self.output(self.conv2(h, edge_index, edge_type))
        return self.classifier(h)
