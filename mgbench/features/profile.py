"""Standardisation of the profile block, as MGTAB does.

MGTAB min-max scales each numerical property to [0, 1] over the dataset (its
``Standardization/`` notes list the per-column minimum and maximum; counts are
on a log scale first) and leaves the boolean properties as 0/1. That is the
default here. ``zscore`` (mean 0, standard deviation 1) is offered for models
that prefer centred inputs; ``none`` keeps the block as loaded.

The statistics are taken over all nodes, labelled or not, as MGTAB does: they
use no label, so no test label leaks. Both maps are per-column affine, so
applying one to a block that was already scaled (MGTAB's own files) gives the
same result as applying it to the raw properties.
"""

from __future__ import annotations

from typing import Sequence

import torch

SCALINGS = ("minmax", "zscore", "none")


def standardise_profile(block: torch.Tensor, categorical_columns: Sequence[int] = (),
                        method: str = "minmax") -> torch.Tensor:
    """Scale the numerical columns of ``block`` [N, P] by ``method``; categorical columns stay as they are.

    A constant column becomes 0 rather than NaN.
    """
    if method not in SCALINGS:
        raise ValueError(f"unknown profile scaling {method!r}; available: {', '.join(SCALINGS)}")
    out = block.to(torch.float32).clone()
    if method == "none" or out.size(0) == 0:
        return out
    numerical = [c for c in range(out.size(1)) if c not in set(categorical_columns)]
    cols = out[:, numerical]
    if method == "minmax":
        low = cols.min(dim=0).values
        span = cols.max(dim=0).values - low
        cols = (cols - low) / torch.where(span > 0, span, torch.ones_like(span))
    else:
        std = cols.std(dim=0, unbiased=False)
        cols = (cols - cols.mean(dim=0)) / torch.where(std > 0, std, torch.ones_like(std))
    out[:, numerical] = cols
    return out
