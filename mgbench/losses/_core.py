"""The numerics shared by the contrastive losses (LOSSES.md, "Conventions").

Every contrastive loss of this package is an instance of one weighted SupCon
core, computed here once, vectorised over anchors (and over leading batch
dimensions, so that ICL runs one core per sample in a single call)::

    l_i = -(1/|P(i)|) sum_{p in P(i)} w_ip [ s_ip/tau - log sum_{a in A(i)} v_ia exp(s_ia/tau) ]
    P(i) = {p != i : w_ip > 0},   A(i) = {a != i : v_ia > 0}

Clean semantics: an anchor with an empty P(i) or A(i) is left out of the mean
over anchors; with no anchor left the result is exactly 0, still attached to
the autograd graph, with zero gradient. Every intermediate value stays finite
for finite input, so that masked-out entries cannot leak NaN into backward.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the losses compute in: float64 stays, everything else becomes float32.

    Half-precision inputs (bf16, fp16) lose too much in ``exp``/``log`` and in
    sums over the batch, so the losses upcast and return float32.
    """
    return torch.float64 if dtype == torch.float64 else torch.float32


def as_compute(x: Tensor) -> Tensor:
    """``x`` cast to :func:`compute_dtype` (autograd flows back to the original dtype)."""
    return x.to(compute_dtype(x.dtype))


def check_temperature(temperature: float | Tensor) -> None:
    """Reject a non-positive or non-finite temperature given as a number.

    A tensor (a learnable temperature) is used as is: checking it would force
    a device synchronisation at every step.
    """
    if isinstance(temperature, Tensor):
        return
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")


def l2_normalize(x: Tensor, dim: int = -1) -> Tensor:
    """``F.normalize(x, dim, eps=1e-12)`` that does not overflow for huge rows.

    ``F.normalize`` squares the entries: beyond about 1e19 in float32 (bf16
    input, upcast, included) the norm is inf and the row silently becomes 0.
    Dividing first by the row's largest magnitude (detached, and only when it
    exceeds 1) changes neither the value nor the gradient, since normalisation
    is scale-invariant; it is also cheaper than accumulating the norm in float64.
    """
    scale = x.detach().abs().amax(dim, keepdim=True).clamp_min(1.0)
    return F.normalize(x / scale, dim=dim, eps=1e-12)


def similarity_logits(z: Tensor, temperature: float | Tensor, normalize: bool) -> Tensor:
    """``s_ij / tau`` for all pairs of rows of ``z [..., n, d]`` -> ``[..., n, n]``."""
    z = as_compute(z)
    if normalize:
        z = l2_normalize(z)
    if z.shape[-2] > z.shape[-1]:  # divide the smaller of the [n, d] factor and the [n, n] product
        return (z / temperature) @ z.transpose(-1, -2)
    return z @ z.transpose(-1, -2) / temperature


def log_prob_over_candidates(
    logits: Tensor, denom_weight: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """``s_ij/tau - log sum_{a in A(i)} v_ia exp(s_ia/tau)`` and whether ``A(i)`` is non-empty.

    ``v`` enters as ``log v`` inside one ``logsumexp`` (stable at any
    temperature). A row without candidates gets a finite dummy denominator
    instead of ``log 0``: its anchor is dropped later, and ``logsumexp`` of an
    all ``-inf`` row would put NaN into the backward pass.
    """
    n = logits.shape[-1]
    excluded = torch.eye(n, dtype=torch.bool, device=logits.device)
    scores = logits
    if denom_weight is not None:
        excluded = excluded | (denom_weight <= 0)
        scores = logits + torch.log(denom_weight.clamp_min(torch.finfo(logits.dtype).tiny))
    has_candidate = ~excluded.all(-1)
    excluded = excluded & has_candidate.unsqueeze(-1)
    log_denominator = torch.logsumexp(torch.where(excluded, -math.inf, scores), -1, keepdim=True)
    return logits - log_denominator, has_candidate


def masked_mean(values: Tensor, keep: Tensor, dim: int = -1) -> Tensor:
    """Mean of ``values`` over the kept entries along ``dim``; exactly 0 (attached) if none."""
    return torch.where(keep, values, 0.0).sum(dim) / keep.sum(dim).clamp_min(1)


def weighted_supcon(
    logits: Tensor, pos_weight: Tensor, denom_weight: Tensor | None = None
) -> Tensor:
    """The weighted SupCon core: mean over kept anchors of ``l_i``, per leading batch index.

    Args:
        logits: ``s_ij / tau``, shape ``[..., n, n]``.
        pos_weight: ``w_ij >= 0`` (a bool mask for unit weights, which saves a
            pass over ``n²``), broadcastable to ``logits``; its diagonal is ignored.
        denom_weight: ``v_ij >= 0`` or ``None`` for all ones; its diagonal is ignored.

    Returns:
        Shape ``logits.shape[:-2]``.
    """
    log_prob, has_candidate = log_prob_over_candidates(logits, denom_weight)
    n = logits.shape[-1]
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=logits.device)
    if pos_weight.dtype == torch.bool:
        positive, weighted = pos_weight & off_diagonal, log_prob
    else:
        positive, weighted = (pos_weight > 0) & off_diagonal, pos_weight * log_prob
    n_pos = positive.sum(-1)
    per_anchor = -torch.where(positive, weighted, 0.0).sum(-1) / n_pos.clamp_min(1)
    return masked_mean(per_anchor, (n_pos > 0) & has_candidate)
