"""Sparsemax (Martins & Astudillo, ICML 2016), from the ``entmax`` package."""

from __future__ import annotations

import entmax
import torch
from torch import Tensor


def sparsemax(x: Tensor, dim: int = -1) -> Tensor:
    """Euclidean projection of ``x`` onto the probability simplex along ``dim``.

    Unlike softmax the output has exact zeros; it sums to one and is invariant
    to adding a constant along ``dim``. Used by text-guided fusion. A thin
    wrapper over ``entmax.sparsemax`` that rejects non-finite input, for which
    the projection's threshold is undefined and ``entmax`` fails with an
    unrelated-looking indexing error or returns NaN.
    """
    if not torch.isfinite(x).all():
        raise ValueError("sparsemax needs finite input (got NaN or inf)")
    return entmax.sparsemax(x, dim=dim)
