"""Objectives between two views of a node: contrastive (ITC) and matching (ITM).

Views are, e.g., the graph embedding vs the text block of a user, or text vs
image. Names follow ALBEF (Li et al., NeurIPS 2021): image-text contrastive
and image-text matching.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._core import as_compute, check_temperature, l2_normalize


def _check_views(a: Tensor, b: Tensor) -> None:
    if a.dim() != 2 or a.shape != b.shape:
        raise ValueError(
            f"expected two views [B, d] of equal shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def itc(a: Tensor, b: Tensor, temperature: float | Tensor = 0.07, *, normalize: bool = True) -> Tensor:
    """Symmetric in-batch InfoNCE between two views: sample ``i``'s views are the positive pair.

    Source: ALBEF's ``loss_ita`` without its momentum queue and soft targets,
    i.e. CLIP's loss: ``S_ij = â_i · b̂_j / tau``,
    ``ITC = (CE(S, arange) + CE(Sᵀ, arange)) / 2``. Symmetric in ``(a, b)``;
    exactly 0 for a batch of 1 (one candidate, nothing to contrast).

    Args:
        a, b: the two views ``[B, d]``, L2-normalised inside unless ``normalize=False``.
        temperature: ``tau > 0``, fixed; :class:`ITC` makes it learnable.

    Returns:
        A scalar, float32 (float64 for float64 inputs).
    """
    check_temperature(temperature)
    _check_views(a, b)
    a, b = as_compute(a), as_compute(b)
    if normalize:
        a, b = l2_normalize(a), l2_normalize(b)
    logits = (a / temperature) @ b.T
    target = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


class ITC(nn.Module):
    """:func:`itc` as a module, with an optionally learnable temperature.

    With ``learnable=True`` the temperature is a parameter clamped in place to
    ``[0.001, 0.5]`` before each forward pass, as ALBEF does (it keeps the
    logits bounded while letting the model sharpen or soften them).
    """

    MIN_TEMPERATURE, MAX_TEMPERATURE = 0.001, 0.5

    def __init__(self, temperature: float = 0.07, learnable: bool = False) -> None:
        super().__init__()
        check_temperature(temperature)
        self.learnable = learnable
        value = torch.tensor(float(temperature))
        if learnable:
            self.temperature = nn.Parameter(value.clamp(self.MIN_TEMPERATURE, self.MAX_TEMPERATURE))
        else:
            self.register_buffer("temperature", value)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        if self.learnable:
            with torch.no_grad():
                self.temperature.clamp_(self.MIN_TEMPERATURE, self.MAX_TEMPERATURE)
        return itc(a, b, self.temperature)


def itm_pairs(
    batch_size: int, p: float = 0.5, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Draw the pairs for view matching: which second view each sample is shown with.

    For each ``i`` independently, with probability ``p`` its second view is
    replaced by that of a uniformly chosen other sample ``j != i``. A batch of
    1 has no other sample: nothing is replaced.

    Returns:
        ``(partner, target)``, both int64 ``[B]`` on the generator's device
        (CPU without one): ``partner[i]`` is the sample whose second view is
        paired with ``a_i`` (``i`` itself if not replaced); ``target[i]`` is 1
        for a matching pair, 0 for a replaced one.
    """
    if batch_size < 0 or not 0.0 <= p <= 1.0:
        raise ValueError(f"need batch_size >= 0 and 0 <= p <= 1, got {batch_size} and {p}")
    device = generator.device if generator is not None else torch.device("cpu")
    index = torch.arange(batch_size, device=device)
    if batch_size < 2:
        return index, torch.ones_like(index)
    replaced = torch.rand(batch_size, generator=generator, device=device) < p
    # i + k mod B for k uniform in 1..B-1 is uniform over the B - 1 other samples.
    offset = torch.randint(1, batch_size, (batch_size,), generator=generator, device=device)
    partner = torch.where(replaced, (index + offset) % batch_size, index)
    return partner, (~replaced).long()


class ITMHead(nn.Module):
    """Pair head for view matching: ``[a; b; a ⊙ b; |a - b|]`` -> MLP -> 2 logits.

    ALBEF classifies a cross-attended fused token; without a fusion encoder,
    the product and absolute difference give the MLP the interactions
    directly (as in sentence-pair heads such as InferSent's). Logit 1 means
    "the two views belong to the same node".
    """

    def __init__(self, in_channels: int, hidden_channels: int | None = None) -> None:
        super().__init__()
        hidden_channels = hidden_channels or in_channels
        self.mlp = nn.Sequential(
            nn.Linear(4 * in_channels, hidden_channels),
            nn.ReLU(),
            nn.Linear(hidden_channels, 2),
        )

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return self.mlp(torch.cat([a, b, a * b, (a - b).abs()], dim=-1))


def itm(
    a: Tensor,
    b: Tensor,
    head: ITMHead,
    *,
    p: float = 0.5,
    generator: torch.Generator | None = None,
) -> Tensor:
    """View-matching loss: cross-entropy of ``head`` on pairs drawn by :func:`itm_pairs`.

    Source: ALBEF's ``loss_itm``, with random negatives (ALBEF mines hard
    negatives from the contrastive similarities; random ones keep this loss
    independent of ITC) and the pair head :class:`ITMHead` in place of the
    fusion encoder.

    Args:
        a, b: the two views ``[B, d]``; ``b`` is the one that gets replaced.
        head: the trainable pair head (its parameters belong in the optimiser).
        p: probability that a sample's pair is a mismatch.
        generator: seeds the draw of the pairs.

    Returns:
        A scalar, float32 (float64 for float64 logits).
    """
    _check_views(a, b)
    partner, target = itm_pairs(len(a), p, generator)
    logits = head(a, b[partner.to(b.device)])
    return F.cross_entropy(as_compute(logits), target.to(logits.device))
