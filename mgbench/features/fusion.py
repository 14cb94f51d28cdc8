"""Fusing the profile, text and image views into node features.

Two fusions:

- :func:`concat_blocks`: the blocks side by side, with their column ranges
  recorded as ``feature_blocks`` so that a model or loss can take one view
  (``x[:, slice(*data.feature_blocks["text"])]``).
- :class:`TextGuidedImageAttention`: in the style of MVCN, the user's text
  representation is the query over the image's spatial regions, so the image
  summary keeps the regions the text points at. Attention weights come from
  ``entmax.sparsemax``: unlike softmax, it gives irrelevant regions exactly
  zero weight, and the weights still sum to one. The module has trainable
  projections, so it is trained end to end with the GNN on
  ``data.image_spatial`` (see :func:`mgbench.features.recipes.build_features`,
  recipe ``fused``).
"""

from __future__ import annotations

import math
from typing import Mapping

import torch
from entmax import sparsemax
from torch import nn


def concat_blocks(blocks: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, tuple[int, int]]]:
    """Concatenate [N, d_i] blocks in the given order; return ``x`` and each block's ``(start, stop)``."""
    layout: dict[str, tuple[int, int]] = {}
    start = 0
    for name, block in blocks.items():
        layout[name] = (start, start + block.size(1))
        start += block.size(1)
    return torch.cat([b.to(torch.float32) for b in blocks.values()], dim=1), layout


class TextGuidedImageAttention(nn.Module):
    """Text-queried sparse attention over image regions: [N, text_dim] x [N, R, image_dim] -> [N, out_dim].

    ``q = W_q t``, ``k_r = W_k v_r``, ``a = sparsemax(q . k / sqrt(h))`` over
    the R regions, output ``W_o sum_r a_r W_v v_r``. A user without an image
    (``has_image`` False) gets a zero output, so it adds no made-up evidence.
    ``last_weights`` keeps the latest attention [N, R] for inspection.
    """

    def __init__(self, text_dim: int, image_dim: int, out_dim: int, hidden_dim: int = 128):
        super().__init__()
        self.query = nn.Linear(text_dim, hidden_dim)
        self.key = nn.Linear(image_dim, hidden_dim)
        self.value = nn.Linear(image_dim, hidden_dim)
        self.out = nn.Linear(hidden_dim, out_dim)
        self.scale = 1.0 / math.sqrt(hidden_dim)
        self.last_weights: torch.Tensor | None = None

    def attention(self, text: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        """Sparse attention weights [N, R]: non-negative, summing to one, exact zeros for ignored regions."""
        scores = torch.einsum("nh,nrh->nr", self.query(text), self.key(regions.to(text.dtype))) * self.scale
        return sparsemax(scores, dim=-1)

    def forward(self, text: torch.Tensor, regions: torch.Tensor, has_image: torch.Tensor | None = None) -> torch.Tensor:
        regions = regions.to(text.dtype)
        weights = self.attention(text, regions)
        self.last_weights = weights.detach()
        fused = self.out(torch.einsum("nr,nrh->nh", weights, self.value(regions)))
        if has_image is not None:
            fused = fused * has_image.to(fused.dtype).unsqueeze(-1)
        return fused
