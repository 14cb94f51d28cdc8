"""RGT (Feng et al., AAAI 2022) in the MGTAB baseline frame, built from :class:`mgbench.nn.RGTConv`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mgbench.nn import RGTConv
from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .init import kaiming_linear_init


@register_model("rgt", kind="gnn", defaults={"hidden_channels": 128, "out_channels": 64, "heads": 4,
                                              "semantic_heads": 4, "dropout": 0.5},
                search_space={"lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
                              "hidden_channels": Choice([32, 64, 128]),
                              "heads": Choice([1, 2, 4]), "dropout": Uniform(0.0, 0.6)})
class RGT(nn.Module):
    """RGT: Linear+LeakyReLU+dropout, two RGT layers, Linear+LeakyReLU+dropout, Linear classifier.

    Frame and defaults of the MGTAB reference (``models.RGT`` and
    ``layer.RGTLayer``, ``RGT.py``: hidden 128, out_channel 64, trans_head 4,
    semantic_head 4, dropout 0.5 -- also the transformers' attention dropout;
    AdamW lr 1e-3, weight decay 5e-3 there): ``Linear(in, hidden)`` +
    LeakyReLU + dropout, two RGT layers each followed by LeakyReLU,
    ``Linear(hidden, out_channels)`` + LeakyReLU + dropout, ``Linear(
    out_channels, classes)``; ``nn.Linear`` layers (input, gate, semantic
    projection, output, classifier) re-initialised kaiming-uniform with zero
    bias, as there. Semantic attention uses 128 hidden units, as there.

    Differences from that code, following the paper:

    - the reference applies ``RGT_layer1`` twice (its layer 2 is commented
      out); we apply two distinct layers;
    - its ``RGTLayer.forward`` returns from inside the loop over relations, so
      only relations 0 and 1 reach the semantic attention (and one relation
      returns ``None``); we use every relation.
    """

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 128, out_channels: int = 64, heads: int = 4,
                 semantic_heads: int = 4, dropout: float = 0.5):
        super().__init__()
        self.dropout = dropout
        self.input = nn.Linear(in_channels, hidden_channels)
        self.conv1 = RGTConv(hidden_channels, hidden_channels, num_relations, heads, semantic_heads, dropout)
        self.conv2 = RGTConv(hidden_channels, hidden_channels, num_relations, heads, semantic_heads, dropout)
        self.output = nn.Linear(hidden_channels, out_channels)
        self.classifier = nn.Linear(out_channels, num_classes)
        kaiming_linear_init(self)

    def embed(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        """Node embeddings: the classifier's input."""
        h = F.dropout(F.leaky_relu(self.input(x)), p=self.dropout, training=self.training)
        h = F.leaky_relu(self.conv1(h, edge_index, edge_type))
        h = F.leaky_relu(self.conv2(h, edge_index, edge_type))
        return F.dropout(F.leaky_relu(self.output(h)), p=self.dropout, training=self.training)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        return self.classifier(self.embed(x, edge_index, edge_type))

    def load_reference_state(self, reference: nn.Module) -> None:
        """Copy the weights of a :class:`.reference_attention.ReferenceRGT` (``TransformerConv`` per relation)."""
        state = {k: v for k, v in reference.state_dict().items() if not k.startswith(("conv1.", "conv2."))}
        for layer in ("conv1", "conv2"):
            ref = getattr(reference, layer)
            for ours, theirs in (("query", "lin_query"), ("key", "lin_key"), ("value", "lin_value"),
                                 ("skip", "lin_skip")):
                for part in ("weight", "bias"):
                    state[f"{layer}.{ours}.{part}"] = torch.stack(
                        [getattr(getattr(conv, theirs), part) for conv in ref.convs])
            state[f"{layer}.gate.weight"], state[f"{layer}.gate.bias"] = ref.gate.weight, ref.gate.bias
            heads = ref.semantic
            state[f"{layer}.semantic.project.weight"] = torch.cat([h[0].weight for h in heads])
            state[f"{layer}.semantic.project.bias"] = torch.cat([h[0].bias for h in heads])
            state[f"{layer}.semantic.query.weight"] = torch.cat([h[2].weight for h in heads])
        self.load_state_dict(state)
