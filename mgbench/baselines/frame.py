"""The MGTAB baseline frame shared by GCN, GraphSAGE and R-GCN (fast and reference-style)."""

from __future__ import annotations

from typing import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from .init import check_init, initialise


class TwoLayerFrame(nn.Module):
    """Input Linear+LeakyReLU, graph layer, dropout, graph layer, Linear classifier.

    The frame of the MGTAB reference models (``models.GCN``, ``models.SAGE``,
    ``models.RGCN``): no nonlinearity between the two graph layers, every
    ``nn.Linear`` weight re-initialised as ``MGTAB-GNN.py``'s ``init_weights``
    does (``init="authors"``). Two design preferences are hyperparameters, off
    by default: ``inner_activation=True`` puts the papers' ReLU after the first
    graph layer, ``init="torch"`` keeps PyTorch's and PyG's initialisation. A
    subclass only says which layer it stacks: ``make_conv()`` builds one (it is
    called twice, after the input layer, so parameters are initialised in
    module order) and ``relational`` says whether it takes ``edge_type``.
    """

    relational = False

    def __init__(self, in_channels: int, num_classes: int, hidden_channels: int, dropout: float,
                 make_conv: Callable[[], nn.Module], inner_activation: bool = False, init: str = "authors"):
        super().__init__()
        check_init(init)
        self.dropout, self.inner_activation = dropout, bool(inner_activation)
        self.input = nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.LeakyReLU())
        self.conv1 = make_conv()
        self.conv2 = make_conv()
        self.classifier = nn.Linear(hidden_channels, num_classes)
        initialise(self, init)

    def _conv(self, conv: nn.Module, h: Tensor, edge_index: Tensor, edge_type: Tensor | None) -> Tensor:
        return conv(h, edge_index, edge_type) if self.relational else conv(h, edge_index)

    def embed(self, x: Tensor, edge_index: Tensor, edge_type: Tensor | None = None) -> Tensor:
        """Node embeddings: the classifier's input."""
        h = self._conv(self.conv1, self.input(x), edge_index, edge_type)
        if self.inner_activation:
            h = F.relu(h)
        h = F.dropout(h, p=self.dropout, training=self.training)
        return self._conv(self.conv2, h, edge_index, edge_type)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor | None = None) -> Tensor:
        return self.classifier(self.embed(x, edge_index, edge_type))

    def load_reference_state(self, reference: nn.Module) -> None:
        """Copy the weights of the reference-style build (same parameter names and shapes)."""
        self.load_state_dict(reference.state_dict())
