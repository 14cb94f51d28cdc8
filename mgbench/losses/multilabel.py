"""The five multi-label contrastive losses of Lin et al. (Findings of ACL 2023).

SCL, ICL, JSCL, JSPCL, SLCL; reference code IIP-Lab-2024/CL-MTC,
``scripts/model.py``. Each loss has two forms:

- the clean form (default): embeddings L2-normalised, the weighted SupCon
  core of ``_core`` with its clean semantics (anchors without positive or
  without denominator left out; 0 when none is left);
- ``authors_code=True``: that code's arithmetic replayed exactly (see
  ``_authors``): no normalisation, ``+1e-20`` in the denominators and in the
  positive mean, the loss multiplied by ``tau / 0.07``, and the extra
  per-sample / per-label divisions noted on ICL and SLCL.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._authors import authors_anchor_loss, authors_log_prob, authors_supcon
from ._core import (
    as_compute,
    check_temperature,
    compute_dtype,
    log_prob_over_candidates,
    masked_mean,
    similarity_logits,
    weighted_supcon,
)
from ._labelsets import as_labelsets, identical, jaccard


def _check_embeddings(z: Tensor, Y: Tensor) -> None:
    if z.dim() != 2 or Y.dim() != 2 or z.shape[0] != Y.shape[0]:
        raise ValueError(
            f"expected embeddings [B, d] and label sets [B, C], "
            f"got {tuple(z.shape)} and {tuple(Y.shape)}"
        )


def scl(
    z: Tensor,
    Y: Tensor,
    temperature: float = 0.2,
    *,
    normalize: bool = True,
    authors_code: bool = False,
) -> Tensor:
    """Strict contrastive loss (SCL): positives have exactly the same label set.

    Source: Lin et al. 2023, SCL; the mask of the reference code's ``'SCL'``
    branch (two empty sets count as equal). It equals :func:`supcon` on
    one-hot labels.

    Args:
        z: embeddings ``[B, d]``.
        Y: multi-hot label sets ``[B, C]`` (0/1, float, int or bool).
        temperature: ``tau > 0`` (default 0.2, LOSSES.md section 2).
        normalize: L2-normalise ``z`` (clean form only).
        authors_code: replay the reference code's numbers (no normalisation,
            ``+1e-20`` terms, times ``tau / 0.07``; an anchor without
            positive contributes ``-tau / 0.07`` and is counted).

    Returns:
        A scalar, float32 (float64 for float64 ``z``).
    """
    check_temperature(temperature)
    _check_embeddings(z, Y)
    if authors_code:
        z = as_compute(z)
        return authors_supcon(z, identical(as_labelsets(Y, len(z), z.dtype)), temperature)
    logits = similarity_logits(z, temperature, normalize)
    return weighted_supcon(logits, identical(as_labelsets(Y, len(z), logits.dtype)))


def icl(
    E: Tensor,
    Y: Tensor,
    temperature: float = 0.2,
    *,
    normalize: bool = True,
    authors_code: bool = False,
) -> Tensor:
    """Intra-sample contrastive loss (ICL) over each sample's label embeddings.

    Source: Lin et al. 2023, ICL; reference code's ``'ICL'`` branch. For
    sample ``i``, SupCon over its ``C`` label embeddings ``E_i,1..C`` with the
    binary labels ``Y_i`` (present labels attract each other, absent labels
    attract each other). Clean form ``L = (1/B) sum_i SupCon(E_i, Y_i)``, where
    a sample with no kept anchor contributes 0 and is still counted (the
    formula of LOSSES.md); the authors' code also divides each term by ``C``.
    On a graph, ``E`` comes from a label-embedding head (one linear map per
    label on the node embedding), the analogue of SpanEmo's label tokens.

    Args:
        E: label embeddings ``[B, C, d]``.
        Y: multi-hot label sets ``[B, C]``.
        temperature: ``tau > 0`` (default 0.2, LOSSES.md section 2).
        normalize: L2-normalise each label embedding (clean form only).
        authors_code: replay the reference code's numbers.

    Returns:
        A scalar, float32 (float64 for float64 ``E``).
    """
    check_temperature(temperature)
    if E.dim() != 3 or E.shape[:2] != Y.shape:
        raise ValueError(
            f"expected label embeddings [B, C, d] and label sets [B, C], "
            f"got {tuple(E.shape)} and {tuple(Y.shape)}"
        )
    Y = as_labelsets(Y, E.shape[0], compute_dtype(E.dtype))
    same_value = Y[:, :, None] == Y[:, None, :]
    if authors_code:
        per_sample = authors_supcon(as_compute(E), same_value, temperature)
        return (per_sample / E.shape[1]).mean()
    return weighted_supcon(similarity_logits(E, temperature, normalize), same_value).mean()


def jscl(
    z: Tensor,
    Y: Tensor,
    temperature: float = 0.2,
    *,
    normalize: bool = True,
    authors_code: bool = False,
) -> Tensor:
    """Jaccard similarity contrastive loss (JSCL).

    Source: Lin et al. 2023, JSCL; reference code's ``'JSCL'`` branch. Every
    other sample is a positive with weight 1; the Jaccard similarity
    ``J(Y_i, Y_a)`` (0 when both sets are empty) weights only the
    denominator, ``v_ia = J_ia``: this is what the authors' code does. In the
    clean form an anchor whose label set meets no other sample's is left out.

    The authors' code divides by zero for an anchor with an empty label set
    (its Jaccard row is all zero) and returns NaN; with ``authors_code=True``
    such a batch raises ``ValueError`` instead of replaying the NaN.

    Args:
        z: embeddings ``[B, d]``.
        Y: multi-hot label sets ``[B, C]``.
        temperature: ``tau > 0`` (default 0.2, LOSSES.md section 2).
        normalize: L2-normalise ``z`` (clean form only).
        authors_code: replay the reference code's numbers.

    Returns:
        A scalar, float32 (float64 for float64 ``z``).
    """
    check_temperature(temperature)
    _check_embeddings(z, Y)
    if authors_code:
        z = as_compute(z)
        Y = as_labelsets(Y, len(z), z.dtype)
        if (Y.sum(1) == 0).any():
            raise ValueError(
                "authors_code=True: the reference code returns NaN when a sample has an "
                "empty label set (all its Jaccard weights are 0); use the clean form"
            )
        return authors_supcon(z, z.new_ones(len(z), len(z)), temperature, jaccard(Y))
    logits = similarity_logits(z, temperature, normalize)
    Y = as_labelsets(Y, len(z), logits.dtype)
    every_other = logits.new_ones((), dtype=torch.bool)  # all j != i are positives
    return weighted_supcon(logits, every_other, jaccard(Y))


def jspcl(
    P: Tensor,
    Y: Tensor,
    temperature: float = 0.2,
    *,
    normalize: bool = True,
    authors_code: bool = False,
) -> Tensor:
    """Jaccard similarity probability contrastive loss (JSPCL): JSCL on label scores.

    Source: Lin et al. 2023, JSPCL; reference code's ``'JSPCL'`` branch, which
    feeds the multi-label head's pre-sigmoid logits ``P`` to the JSCL
    arithmetic. Clean form: ``P`` L2-normalised; ``authors_code=True``: raw.

    Args:
        P: label scores (pre-sigmoid logits) ``[B, C]``.
        Y: multi-hot label sets ``[B, C]``.
        temperature: ``tau > 0`` (default 0.2, LOSSES.md section 2).
        normalize: L2-normalise ``P`` (clean form only).
        authors_code: replay the reference code's numbers.

    Returns:
        A scalar, float32 (float64 for float64 ``P``).
    """
    if P.shape != Y.shape:
        raise ValueError(
            f"label scores and label sets must both be [B, C], "
            f"got {tuple(P.shape)} and {tuple(Y.shape)}"
        )
    return jscl(P, Y, temperature, normalize=normalize, authors_code=authors_code)


def _same_value_sums(log_prob: Tensor, Y: Tensor) -> tuple[Tensor, Tensor]:
    """For each anchor ``i`` and label ``c``: sum and count of ``log_prob_ip`` over
    ``p != i`` with ``Y_pc == Y_ic``, both ``[B, C]``.

    Two matrix products instead of ``C`` masked ``[B, B]`` reductions: the
    denominators of SLCL do not depend on the label, only the positives do.
    """
    B = Y.shape[0]
    log_prob = torch.where(torch.eye(B, dtype=torch.bool, device=Y.device), 0.0, log_prob)
    with_c, without_c = (log_prob @ torch.cat([Y, 1 - Y], 1)).chunk(2, 1)
    has_c = Y > 0
    n_with = Y.sum(0)
    return (
        torch.where(has_c, with_c, without_c),
        torch.where(has_c, n_with - 1, B - n_with - 1),
    )


def slcl(
    z: Tensor,
    Y: Tensor,
    temperature: float = 0.2,
    *,
    normalize: bool = True,
    authors_code: bool = False,
) -> Tensor:
    """Single-label contrastive loss (SLCL): one SupCon per label, averaged.

    Source: Lin et al. 2023, SLCL; reference code's ``'SLCL'`` branch. For
    label ``c``, SupCon over the batch with the binary labels ``Y[:, c]``
    (both have label ``c`` or both lack it). Clean form
    ``L = (1/C) sum_c SupCon(z, Y[:, c])``, where a label with no kept anchor
    contributes 0 and is still counted (the formula of LOSSES.md); the
    authors' code also divides each term by ``B``. Vectorised over labels
    without a ``[C, B, B]`` tensor (see ``_same_value_sums``).

    Args:
        z: embeddings ``[B, d]``.
        Y: multi-hot label sets ``[B, C]``.
        temperature: ``tau > 0`` (default 0.2, LOSSES.md section 2).
        normalize: L2-normalise ``z`` (clean form only).
        authors_code: replay the reference code's numbers.

    Returns:
        A scalar, float32 (float64 for float64 ``z``).
    """
    check_temperature(temperature)
    _check_embeddings(z, Y)
    B = z.shape[0]
    if authors_code:
        z = as_compute(z)
        pos_sum, pos_count = _same_value_sums(
            authors_log_prob(z, temperature), as_labelsets(Y, B, z.dtype)
        )
        per_label = authors_anchor_loss(pos_sum, pos_count, temperature).mean(0) / B
        return per_label.mean()
    log_prob, _ = log_prob_over_candidates(similarity_logits(z, temperature, normalize))
    pos_sum, pos_count = _same_value_sums(log_prob, as_labelsets(Y, B, log_prob.dtype))
    per_anchor = -pos_sum / pos_count.clamp_min(1)
    return masked_mean(per_anchor, pos_count > 0, dim=0).mean()
