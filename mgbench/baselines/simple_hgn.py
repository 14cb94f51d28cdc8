"""Simple-HGN (Lv et al., KDD 2021) in the MGTAB baseline frame, built from :class:`mgbench.nn.SimpleHGNConv`."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from mgbench.nn import SimpleHGNConv
from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .init import kaiming_linear_init


@register_model("simple-hgn", kind="gnn", defaults={"hidden_channels": 256, "linear_channels": 128,
                                                     "out_channels": 32, "rel_dim": 200, "beta": 0.05,
                                                     "dropout": 0.5},
                search_space={"lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
                              "hidden_channels": Choice([64, 128, 256]),
                              "beta": Uniform(0.0, 0.2), "dropout": Uniform(0.0, 0.6)})
class SimpleHGN(nn.Module):
    """Simple-HGN: Linear+LeakyReLU+dropout, two Simple-HGN layers, Linear+LeakyReLU+dropout, classifier.

    Frame and defaults of the MGTAB reference (``models.SHGN`` and
    ``layer.SimpleHGNLayer``, ``SHGN.py``: hidden 256, linear_channels 128,
    out_channel 32, rel_dim 200, beta 0.05, dropout 0.5; AdamW lr 1e-3, weight
    decay 5e-4 there): ``Linear(in, hidden)`` + LeakyReLU + dropout, a layer
    ``hidden -> hidden``, a final layer ``hidden -> linear_channels`` (L2-
    normalised output, attention residual from layer 1), ``Linear(
    linear_channels, out_channels)`` + LeakyReLU + dropout, ``Linear(
    out_channels, classes)``; every ``nn.Linear`` re-initialised kaiming-
    uniform with zero bias, as there.

    Differences from that code and the paper:

    - the reference builds ``HGN_layer2`` (the final, normalised layer) but
      applies ``HGN_layer1`` twice; we apply layer 1 then layer 2;
    - as the reference (and unlike the paper's 8), one attention head, and no
      self-loop edges; the paper's edge-type embedding, node and attention
      residuals, ELU and final L2 normalisation are all kept. The previous
      layer's attention enters detached, as in both the reference and the
      Simple-HGN authors' code.
    """

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 256, linear_channels: int = 128, out_channels: int = 32,
                 rel_dim: int = 200, beta: float = 0.05, dropout: float = 0.5):
        super().__init__()
        self.dropout = dropout
        self.input = nn.Linear(in_channels, hidden_channels)
        self.conv1 = SimpleHGNConv(hidden_channels, hidden_channels, num_relations, rel_dim, beta)
        self.conv2 = SimpleHGNConv(hidden_channels, linear_channels, num_relations, rel_dim, beta,
                                    final_layer=True)
        self.output = nn.Linear(linear_channels, out_channels)
        self.classifier = nn.Linear(out_channels, num_classes)
        kaiming_linear_init(self)

    def embed(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        """Node embeddings: the classifier's input."""
        h = F.dropout(F.leaky_relu(self.input(x)), p=self.dropout, training=self.training)
        h, alpha = self.conv1(h, edge_index, edge_type, return_attention=True)
        h = self.conv2(h, edge_index, edge_type, alpha_prev=alpha)
        return F.dropout(F.leaky_relu(self.output(h)), p=self.dropout, training=self.training)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        return self.classifier(self.embed(x, edge_index, edge_type))

    def load_reference_state(self, reference: nn.Module) -> None:
        """Copy the weights of a :class:`.reference_attention.ReferenceSimpleHGN` (same parameter names)."""
        self.load_state_dict(reference.state_dict())
