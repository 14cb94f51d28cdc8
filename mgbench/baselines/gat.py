"""GAT (Veličković et al., ICLR 2018) in the MGTAB baseline frame, built from :class:`mgbench.nn.GATConv`."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from mgbench.nn import GATConv
from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .init import check_init, initialise


@register_model("gat", kind="gnn", defaults={"hidden_channels": 256, "heads": 8, "dropout": 0.3,
                                              "inner_activation": False, "init": "authors"},
                search_space={"lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
                              "hidden_channels": Choice([64, 128, 256]),
                              "heads": Choice([1, 2, 4, 8]), "dropout": Uniform(0.0, 0.6)})
class GAT(nn.Module):
    """GAT: input Linear+LeakyReLU, an 8-head and a 1-head attention layer, Linear classifier.

    The MGTAB authors' model (``models.GAT``, ``MGTAB-GNN.py`` defaults: hidden
    256, dropout 0.3; weights initialised by its ``init_weights``):
    ``Linear(in, hidden)`` + LeakyReLU, ``GATConv(hidden, hidden / heads,
    heads)`` (heads concatenated), dropout, ``GATConv(hidden, hidden)``,
    ``Linear(hidden, classes)``, no nonlinearity between the attention layers.
    Relations are ignored (``num_relations`` is accepted for the GNN contract):
    all edges of the selected relations form one graph, with self loops.

    Options from the paper, off by default: ``inner_activation=True`` puts its
    ELU after the first attention layer; ``attention_dropout`` drops attention
    coefficients (the paper uses 0.6). ``init="torch"`` keeps PyTorch's
    initialisation of the two ``nn.Linear``.

    The paper's output layer is itself an attention layer averaging heads; the
    MGTAB frame keeps a linear classifier after it, as we do.
    """

    def __init__(self, in_channels: int, num_classes: int, num_relations: int = 1,
                 hidden_channels: int = 256, heads: int = 8, dropout: float = 0.3,
                 attention_dropout: float = 0.0, inner_activation: bool = False, init: str = "authors"):
        super().__init__()
        if hidden_channels % heads:
            raise ValueError(f"hidden_channels ({hidden_channels}) must be divisible by heads ({heads})")
        check_init(init)
        self.dropout, self.inner_activation = dropout, bool(inner_activation)
        self.input = nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.LeakyReLU())
        self.conv1 = GATConv(hidden_channels, hidden_channels // heads, heads, dropout=attention_dropout)
        self.conv2 = GATConv(hidden_channels, hidden_channels, 1, dropout=attention_dropout)
        self.classifier = nn.Linear(hidden_channels, num_classes)
        initialise(self, init)

    def embed(self, x: Tensor, edge_index: Tensor, edge_type: Tensor | None = None) -> Tensor:
        """Node embeddings: the classifier's input."""
        h = self.conv1(self.input(x), edge_index)  # relations do not matter to GAT
        if self.inner_activation:
            h = F.elu(h)
        h = F.dropout(h, p=self.dropout, training=self.training)
        return self.conv2(h, edge_index)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor | None = None) -> Tensor:
        return self.classifier(self.embed(x, edge_index, edge_type))

    def load_reference_state(self, reference: nn.Module) -> None:
        """Copy the weights of a :class:`.reference_attention.ReferenceGAT` (same parameter names)."""
        self.load_state_dict(reference.state_dict())
