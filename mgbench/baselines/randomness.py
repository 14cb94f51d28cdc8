"""Model-owned random streams that follow the run's seed.

Why: RF-GNN's bootstraps, OS-GNN's synthetic nodes and SEBot's contrastive
batches are drawn inside the model, some lazily (once the training nodes are
known). Drawing them from the global RNG would tie them to how many draws
happened before (dropout masks, an epoch more or less); a generator of their
own, seeded at construction from the global RNG (which the runner seeds),
makes them depend on the seed alone.
"""

from __future__ import annotations

import torch


def draw_seed() -> int:
    """A seed for a model-owned generator, drawn from the global torch RNG (so from the run's seed)."""
    return int(torch.randint(0, 2**62, (1,)).item())


def generator(seed: int) -> torch.Generator:
    """A CPU generator (draws are made on the CPU and moved, so CPU and CUDA runs draw the same)."""
    return torch.Generator().manual_seed(seed)
