"""Pairwise statistics of multi-hot label sets ``Y [B, C]``, shared by the multi-label losses."""

from __future__ import annotations

import torch
from torch import Tensor


def as_labelsets(Y: Tensor, batch_size: int | None, dtype: torch.dtype) -> Tensor:
    """Check that ``Y`` is a 0/1 matrix (with ``batch_size`` rows if given) and cast it to ``dtype``."""
    if Y.dim() != 2 or batch_size not in (None, Y.shape[0]):
        raise ValueError(
            f"label sets must be a multi-hot [B, C] tensor (B = {batch_size}), "
            f"got shape {tuple(Y.shape)}"
        )
    Y = Y.to(dtype)
    if not ((Y == 0) | (Y == 1)).all():
        raise ValueError("label sets must be multi-hot: every entry 0 or 1")
    return Y


def overlaps(Y: Tensor) -> tuple[Tensor, Tensor]:
    """``|Y_i ∩ Y_j|`` as ``[B, B]`` and the set sizes ``|Y_i|`` as ``[B]`` (exact integers in float)."""
    return Y @ Y.T, Y.sum(1)


def identical(Y: Tensor) -> Tensor:
    """``[B, B]`` bool: the two label sets are equal (two empty sets count as equal)."""
    inter, size = overlaps(Y)
    return (inter == size[:, None]) & (inter == size[None, :])


def jaccard(Y: Tensor) -> Tensor:
    """``|Y_i ∩ Y_j| / |Y_i ∪ Y_j|``, 0 when both sets are empty (as Lin et al.'s code does)."""
    inter, size = overlaps(Y)
    union = size[:, None] + size[None, :] - inter
    return torch.where(union > 0, inter / union.clamp_min(1), 0.0)
