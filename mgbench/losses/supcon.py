"""Supervised contrastive loss (Khosla et al., NeurIPS 2020)."""

from __future__ import annotations

from torch import Tensor

from ._core import check_temperature, similarity_logits, weighted_supcon


def supcon(z: Tensor, y: Tensor, temperature: float = 0.07, *, normalize: bool = True) -> Tensor:
    """SupCon over a batch of embeddings with class ids.

    Source: Khosla et al. 2020, Eq. 2 (``L^sup_out``), single view, contrast
    mode "all"; reference code HobbitLong/SupContrast ``losses.py``. Positives
    of anchor ``i`` are the other samples of its class, the denominator runs
    over every other sample.

    Choice of this project: that code returns NaN for an anchor without a
    positive (a class of one member, a batch of 1); here such an anchor is
    left out of the mean, and the loss is exactly 0 (attached to the graph,
    zero gradient) when no anchor is left.

    Args:
        z: embeddings ``[B, d]``, L2-normalised inside unless ``normalize=False``.
        y: class ids ``[B]``.
        temperature: ``tau > 0``.

    Returns:
        A scalar, float32 (float64 for float64 ``z``).
    """
    check_temperature(temperature)
    if z.dim() != 2 or y.shape != z.shape[:1]:
        raise ValueError(
            f"expected z [B, d] and y [B], got {tuple(z.shape)} and {tuple(y.shape)}"
        )
    logits = similarity_logits(z, temperature, normalize)
    return weighted_supcon(logits, y[:, None] == y[None, :])
