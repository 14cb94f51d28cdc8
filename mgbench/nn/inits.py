"""Weight initialisers, drawn exactly as PyG's ``torch_geometric.nn.inits`` and ``Linear`` draw them.

Why our own copy of a few lines: importing anything from ``torch_geometric``
imports all of PyG (about 3 s of CPU here), and the layers of :mod:`mgbench.nn`
are imported whenever the models are registered, e.g. by ``mgbench models``.
The draws (order, bounds, one ``uniform_`` per tensor) match PyG's, so a model
built under a seed has the same weights as with PyG's initialisers, and state
dicts load either way (``tests/test_nn.py`` checks both against PyG).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def glorot(tensor: Tensor) -> None:
    """Uniform in ``+-sqrt(6 / (fan_in + fan_out))`` over the last two dimensions."""
    bound = math.sqrt(6.0 / (tensor.size(-2) + tensor.size(-1)))
    tensor.data.uniform_(-bound, bound)


def kaiming_uniform(tensor: Tensor, fan: int, a: float) -> None:
    """Uniform in ``+-sqrt(6 / ((1 + a^2) fan))``; ``a = sqrt(5)`` is PyTorch's ``nn.Linear`` default."""
    bound = math.sqrt(6 / ((1 + a ** 2) * fan))
    tensor.data.uniform_(-bound, bound)


def uniform(size: int, tensor: Tensor) -> None:
    """Uniform in ``+-1 / sqrt(size)`` (a bias, with ``size`` its layer's fan in)."""
    bound = 1.0 / math.sqrt(size)
    tensor.data.uniform_(-bound, bound)


def zeros(tensor: Tensor) -> None:
    tensor.data.fill_(0.0)


def ones(tensor: Tensor) -> None:
    tensor.data.fill_(1.0)


class Linear(nn.Module):
    """``x W^T + b`` with PyG's ``Linear`` parameters and initialisers.

    ``weight_initializer`` ``"glorot"`` or ``None`` (PyTorch's default: Kaiming
    uniform with ``a = sqrt(5)``); the bias, if any, uniform in ``+-1/sqrt(in)``.
    Deliberately not an ``nn.Linear``: the MGTAB authors' re-initialisation
    (:mod:`mgbench.baselines.init`) touches ``nn.Linear`` modules only, and
    leaves PyG's ``Linear`` inside their graph layers as built.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True,
                 weight_initializer: str | None = None):
        super().__init__()
        if weight_initializer not in (None, "glorot"):
            raise ValueError(f"weight_initializer must be None or 'glorot', got {weight_initializer!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight_initializer = weight_initializer
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight_initializer == "glorot":
            glorot(self.weight)
        else:
            kaiming_uniform(self.weight, fan=self.in_channels, a=math.sqrt(5))
        if self.bias is not None:
            uniform(self.in_channels, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, bias={self.bias is not None}"
