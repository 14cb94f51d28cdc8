"""HGT (Hu et al., WWW 2020) in the MGTAB baseline frame, built from :class:`mgbench.nn.HGTConv`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mgbench.nn import HGTConv
from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .init import kaiming_linear_init


@register_model("hgt", kind="gnn", defaults={"hidden_channels": 256, "linear_channels": 128,
                                              "out_channels": 32, "heads": 1, "dropout": 0.3},
                search_space={"lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
                              "hidden_channels": Choice([64, 128, 256]),
                              "heads": Choice([1, 2, 4, 8]), "dropout": Uniform(0.0, 0.6)})
class HGT(nn.Module):
    """HGT: Linear+LeakyReLU+dropout, two HGT layers, Linear+LeakyReLU, Linear classifier.

    Frame and defaults of the MGTAB reference (``models.HGT``, ``HGT.py``:
    hidden 256, linear_channels 128, out_channel 32, dropout 0.3, PyG's
    default of one head; AdamW lr 1e-3, weight decay 5e-4 there):
    ``Linear(in, hidden)`` + LeakyReLU + dropout, ``HGTConv(hidden, hidden)``,
    ``HGTConv(hidden, linear_channels)``, ``Linear(linear_channels,
    out_channels)`` + LeakyReLU, ``Linear(out_channels, classes)``; every
    ``nn.Linear`` of the frame re-initialised kaiming-uniform with zero bias,
    as there. Runs from ``forward(x, edge_index, edge_type)``: the
    per-relation layout is built from ``edge_type`` once per graph and cached.

    Differences from that code and the paper:

    - the reference builds ``HGT_layer2`` but applies ``HGT_layer1`` twice; we
      apply layer 1 then layer 2, as the paper stacks layers;
    - as PyG's ``HGTConv``, the residual is a learned sigmoid gate (from the
      authors' pyHGT code) rather than the paper's plain sum, and there is no
      relative temporal encoding (the graph has no timestamps) and no layer
      norm or dropout inside the layer;
    - one attention head by default (PyG's default, which the reference keeps);
      the paper uses 8 (``heads``).
    """

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 256, linear_channels: int = 128, out_channels: int = 32,
                 heads: int = 1, dropout: float = 0.3):
        super().__init__()
        self.dropout = dropout
        self.input = nn.Linear(in_channels, hidden_channels)
        self.conv1 = HGTConv(hidden_channels, hidden_channels, num_relations, heads)
        self.conv2 = HGTConv(hidden_channels, linear_channels, num_relations, heads)
        self.output = nn.Linear(linear_channels, out_channels)
        self.classifier = nn.Linear(out_channels, num_classes)
        kaiming_linear_init(self)

    def embed(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        """Node embeddings: the classifier's input."""
        h = F.dropout(F.leaky_relu(self.input(x)), p=self.dropout, training=self.training)
        h = self.conv2(self.conv1(h, edge_index, edge_type), edge_index, edge_type)
        return F.leaky_relu(self.output(h))

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        return self.classifier(self.embed(x, edge_index, edge_type))

    def load_reference_state(self, reference: nn.Module) -> None:
        """Copy the weights of a :class:`.reference_attention.ReferenceHGT` (``HGTConv`` layers)."""
        state = {k: v for k, v in reference.state_dict().items() if not k.startswith(("conv1.", "conv2."))}
        for layer in ("conv1", "conv2"):
            conv = getattr(reference, layer)
            state.update({f"{layer}.{k}": v for k, v in {
                "kqv.weight": conv.kqv_lin.lins["user"].weight, "kqv.bias": conv.kqv_lin.lins["user"].bias,
                "out.weight": conv.out_lin.lins["user"].weight, "out.bias": conv.out_lin.lins["user"].bias,
                "k_rel": conv.k_rel.weight, "v_rel": conv.v_rel.weight, "skip": conv.skip["user"],
                "p_rel": torch.cat([conv.p_rel["__".join(t)] for t in conv.edge_types]),
            }.items()})
        self.load_state_dict(state)
