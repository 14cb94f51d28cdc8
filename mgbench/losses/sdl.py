"""Similarity-Dissimilarity loss for multi-label supervised contrastive learning.

Huang, Long, Luo, arXiv 2410.13439. **Reconstructed**: only the abstract and
public reviews could be read, not the authors' code; the weights below are
this project's reading of them (LOSSES.md, section 3), not a replay.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._core import check_temperature, similarity_logits, weighted_supcon
from ._labelsets import as_labelsets, overlaps

DISJOINT, IDENTICAL, PARTIAL, SUBSET_OF_ANCHOR, SUPERSET_OF_ANCHOR = 1, 2, 3, 4, 5


def sdl_relations(Y: Tensor) -> Tensor:
    """The relation between the label sets of every pair, as int64 codes ``[B, B]``.

    With ``S = Y_i`` (the anchor, row ``i``) and ``T = Y_j`` (the sample,
    column ``j``): 1 = R1 disjoint (``S ∩ T = ∅``), 2 = R2 identical, 3 = R3
    partial overlap, 4 = R4 ``T ⊊ S``, 5 = R5 ``S ⊊ T``.

    Empty sets (a choice of this project): an empty set shares no label with
    anything, so every pair involving one is R1, two empty sets included.
    Disjointness takes precedence so that ``codes >= 2`` is exactly the set of
    SDL positives (``S ∩ T ≠ ∅``). The diagonal is coded like any pair (2 for
    a non-empty set, 1 for an empty one); SDL never uses it.
    """
    Y = as_labelsets(Y, None, torch.float32)
    inter, size = overlaps(Y)
    anchor, sample = size[:, None], size[None, :]
    codes = torch.full(inter.shape, PARTIAL, dtype=torch.int64, device=Y.device)
    codes = torch.where((inter == sample) & (sample < anchor), SUBSET_OF_ANCHOR, codes)
    codes = torch.where((inter == anchor) & (anchor < sample), SUPERSET_OF_ANCHOR, codes)
    codes = torch.where((inter == anchor) & (anchor == sample), IDENTICAL, codes)
    return torch.where(inter == 0, DISJOINT, codes)


def sdl_weights(Y: Tensor) -> Tensor:
    """``w_ij = K^s · K^d`` with ``K^s = |S ∩ T| / |S|`` and ``K^d = 1 / (1 + |T ∖ S|)``.

    ``K^s`` (similarity) is the share of the anchor's labels that the sample
    has; ``K^d`` (dissimilarity) discounts the labels the sample has extra.
    ``w_ij = 0`` exactly when ``S ∩ T = ∅`` (R1), so positives are R2-R5.
    """
    inter, size = overlaps(Y)
    similarity = inter / size[:, None].clamp_min(1)
    dissimilarity = 1 / (1 + size[None, :] - inter)
    return similarity * dissimilarity


def sdl(z: Tensor, Y: Tensor, temperature: float = 0.07, *, normalize: bool = True) -> Tensor:
    """Similarity-Dissimilarity loss (SDL), **reconstructed** from the abstract.

    Source: Huang, Long, Luo (arXiv 2410.13439); the authors' code could not
    be read. This project's reconstruction (LOSSES.md, section 3): the
    weighted SupCon core with positives ``{p != i : S ∩ T ≠ ∅}`` (relations
    R2-R5, see :func:`sdl_relations`), each weighted by :func:`sdl_weights`,
    plain denominator (``v = 1``) and normaliser ``1/|P(i)|``. On one-hot
    labels every weight is 1 and SDL is :func:`supcon`. An anchor with an
    empty label set has no positive and is left out.

    Args:
        z: embeddings ``[B, d]``.
        Y: multi-hot label sets ``[B, C]``.
        temperature: ``tau > 0``.
        normalize: L2-normalise ``z``.

    Returns:
        A scalar, float32 (float64 for float64 ``z``).
    """
    check_temperature(temperature)
    if z.dim() != 2:
        raise ValueError(f"expected embeddings [B, d], got {tuple(z.shape)}")
    logits = similarity_logits(z, temperature, normalize)
    return weighted_supcon(logits, sdl_weights(as_labelsets(Y, len(z), logits.dtype)))
