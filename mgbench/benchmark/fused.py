"""The ``fused`` feature recipe: MVCN-style text-guided image attention trained with the GNN.

``build_features(..., "fused")`` gives ``x = [profile | text | has_image]`` plus
the images' spatial features. :class:`FusedInputGNN` puts the attention module
in front of any GNN: the text block queries the image regions (sparsemax
weights), the attended image vector is appended to ``x``, and the GNN sees the
result, so the attention learns from the task loss end to end.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mgbench.features import TextGuidedImageAttention

from .train import embedding_module

FUSED_DIM = 64


class FusedInputGNN(nn.Module):
    def __init__(self, build_gnn, in_channels: int, text_block: tuple[int, int], image_spatial: Tensor,
                 has_image: Tensor, out_dim: int = FUSED_DIM):
        super().__init__()
        self.text = slice(*text_block)
        self.attention = TextGuidedImageAttention(text_block[1] - text_block[0], image_spatial.size(-1), out_dim)
        self.gnn = build_gnn(in_channels + out_dim)
        self.classifier = embedding_module(self.gnn)  # embeddings for auxiliary losses stay the GNN's
        self.register_buffer("image_spatial", image_spatial.float(), persistent=False)
        self.register_buffer("has_image", has_image.bool(), persistent=False)
        if callable(getattr(self.gnn, "training_loss", None)):  # the GNN's own objective still applies
            self.training_loss = self.gnn.training_loss

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        fused = self.attention(x[:, self.text], self.image_spatial, self.has_image)
        return self.gnn(torch.cat([x, fused], dim=1), edge_index, edge_type)
