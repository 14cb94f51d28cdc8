"""Replay of the SupCon arithmetic in Lin et al.'s code (IIP-Lab-2024/CL-MTC, ``scripts/model.py``).

Their ``SupConLoss`` / ``SupConLossMulti`` with one view and contrast mode
"all", step for step, so that ``authors_code=True`` reproduces their numbers:

- no L2 normalisation; ``logits = f fᵀ / tau`` minus the (detached) row
  maximum, the diagonal included;
- denominator ``sum_a (exp(logit_ia) [a != i] + 1e-20) · weight_ia`` (the
  ``+1e-20`` on every entry, the diagonal's included, before the weights);
- ``((sum_p mask_ip log_prob_ip) + 1e-20) / (sum_p mask_ip + 1e-20)``, so an
  anchor without positive scores 1 and is counted;
- times ``-tau / 0.07`` (``base_temperature`` keeps its default 0.07), mean
  over anchors.
"""

from __future__ import annotations

import torch
from torch import Tensor

BASE_TEMPERATURE = 0.07
EPS = 1e-20


def authors_log_prob(features: Tensor, temperature: float, weights: Tensor | None = None) -> Tensor:
    """Their ``log_prob`` matrix ``[..., n, n]`` for raw features ``[..., n, d]``."""
    logits = features @ features.transpose(-1, -2) / temperature
    logits = logits - logits.amax(-1, keepdim=True).detach()
    n = logits.shape[-1]
    off_diagonal = 1.0 - torch.eye(n, dtype=logits.dtype, device=logits.device)
    exp_logits = torch.exp(logits) * off_diagonal + EPS
    if weights is not None:
        exp_logits = exp_logits * weights
    return logits - torch.log(exp_logits.sum(-1, keepdim=True))


def authors_anchor_loss(pos_sum: Tensor, pos_count: Tensor, temperature: float) -> Tensor:
    """Their per-anchor loss from ``sum_p mask_ip log_prob_ip`` and ``sum_p mask_ip``."""
    return -(temperature / BASE_TEMPERATURE) * (pos_sum + EPS) / (pos_count + EPS)


def authors_supcon(
    features: Tensor, mask: Tensor, temperature: float, weights: Tensor | None = None
) -> Tensor:
    """Their loss for positive ``mask [..., n, n]``, one value per leading batch index."""
    log_prob = authors_log_prob(features, temperature, weights)
    n = log_prob.shape[-1]
    mask = mask.to(log_prob.dtype).masked_fill(
        torch.eye(n, dtype=torch.bool, device=log_prob.device), 0.0
    )
    return authors_anchor_loss((mask * log_prob).sum(-1), mask.sum(-1), temperature).mean(-1)
