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


class _TwoLayerReference(nn.Module):
    """Input Linear+LeakyReLU, conv, ReLU, dropout, conv, Linear classifier (our GCN/SAGE/RGCN frame)."""

    relational = False

    def __init__(self, in_channels: int, num_classes: int, hidden_channels: int, dropout: float,
                 conv1: nn.Module, conv2: nn.Module):
        super().__init__()
        self.dropout = dropout
        self.input = nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.LeakyReLU())
        self.conv1, self.conv2 = conv1, conv2
        self.classifier = nn.Linear(hidden_channels, num_classes)

    def _conv(self, conv: nn.Module, h: Tensor, edge_index: Tensor, edge_type: Tensor | None) -> Tensor:
        return conv(h, edge_index, edge_type) if self.relational else conv(h, edge_index)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor | None = None) -> Tensor:
        h = F.relu(self._conv(self.conv1, self.input(x), edge_index, edge_type))
        h = F.dropout(h, p=self.dropout, training=self.training)
        return self.classifier(self._conv(self.conv2, h, edge_index, edge_type))


class ReferenceGCN(_TwoLayerReference):
    """:class:`.gcn.GCN` with two ``GCNConv``."""

    def __init__(self, in_channels: int, num_classes: int, num_relations: int = 1,
                 hidden_channels: int = 256, dropout: float = 0.3):
        super().__init__(in_channels, num_classes, hidden_channels, dropout,
                         GCNConv(hidden_channels, hidden_channels), GCNConv(hidden_channels, hidden_channels))


class ReferenceGraphSAGE(_TwoLayerReference):
    """:class:`.graphsage.GraphSAGE` with two ``SAGEConv`` (mean)."""

    def __init__(self, in_channels: int, num_classes: int, num_relations: int = 1,
                 hidden_channels: int = 256, dropout: float = 0.3):
        super().__init__(in_channels, num_classes, hidden_channels, dropout,
                         SAGEConv(hidden_channels, hidden_channels), SAGEConv(hidden_channels, hidden_channels))


class ReferenceRGCN(_TwoLayerReference):
    """:class:`.rgcn.RGCN` with two distinct ``RGCNConv`` (the MGTAB script applies ``rgcn1`` twice)."""

    relational = True

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 256, dropout: float = 0.3):
        super().__init__(in_channels, num_classes, hidden_channels, dropout,
                         RGCNConv(hidden_channels, hidden_channels, num_relations),
                         RGCNConv(hidden_channels, hidden_channels, num_relations))


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
