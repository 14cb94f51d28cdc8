"""``AUX_LOSSES``: what each auxiliary loss consumes, so that a training loop can dispatch on it.

A training loop adds ``lambda * L_aux`` to its task loss. For an entry
``spec = AUX_LOSSES[name]``, it builds the two tensors named by
``spec.inputs`` for the current batch and calls::

    state = spec.state(embedding_dim) if spec.state else None    # once per run
    loss = spec.fn(x1, x2, state, **kwargs)                        # stateful entries
    loss = spec.fn(x1, x2, **kwargs)                               # all the others

where ``kwargs`` starts from ``spec.defaults`` and takes the run's overrides.
``(x1, x2)`` by ``spec.inputs``:

========================== ============================== ======================
inputs                     x1                             x2
========================== ============================== ======================
embeddings+classes         node embeddings ``[B, d]``     class ids ``[B]``
embeddings+labelsets       node embeddings ``[B, d]``     multi-hot ``[B, C]``
label_embeddings+labelsets label embeddings ``[B, C, d]`` multi-hot ``[B, C]``
label_scores+labelsets     pre-sigmoid logits ``[B, C]``  multi-hot ``[B, C]``
two_views                  first view ``[B, d]``          second view ``[B, d]``
========================== ============================== ======================

State: ``itm`` needs its trainable :class:`ITMHead` (an ``nn.Module`` whose
parameters go into the optimiser), ``scc`` its :class:`CentroidQueue`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

from torch import Tensor

from .multilabel import icl, jscl, jspcl, scl, slcl
from .scc import CentroidQueue, scc_from_queue
from .sdl import sdl
from .supcon import supcon
from .views import ITMHead, itc, itm

InputKind = Literal[
    "embeddings+classes",
    "embeddings+labelsets",
    "label_embeddings+labelsets",
    "label_scores+labelsets",
    "two_views",
]
INPUT_KINDS: tuple[str, ...] = get_args(InputKind)


@dataclass(frozen=True)
class AuxLoss:
    """How to call one auxiliary loss.

    Attributes:
        fn: the loss function.
        inputs: which pair of tensors ``fn`` takes first (see the module docstring).
        state: ``None``, or a factory called once per run with the embedding
            dimension; its result is passed to ``fn`` as third argument.
        defaults: ``fn``'s keyword parameters and their defaults (temperature
            etc.), read from its signature so that they cannot drift apart.
    """

    fn: Callable[..., Tensor]
    inputs: InputKind
    state: Callable[[int], Any] | None = None
    defaults: Mapping[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        if self.inputs not in INPUT_KINDS:
            raise ValueError(f"unknown input kind {self.inputs!r}; expected one of {INPUT_KINDS}")
        parameters = inspect.signature(self.fn).parameters.values()
        defaults = {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
        object.__setattr__(self, "defaults", MappingProxyType(defaults))


def _centroid_queue(_embedding_dim: int) -> CentroidQueue:
    return CentroidQueue()


AUX_LOSSES: Mapping[str, AuxLoss] = MappingProxyType(
    {
        "supcon": AuxLoss(supcon, "embeddings+classes"),
        "scc": AuxLoss(scc_from_queue, "embeddings+classes", state=_centroid_queue),
        "scl": AuxLoss(scl, "embeddings+labelsets"),
        "jscl": AuxLoss(jscl, "embeddings+labelsets"),
        "slcl": AuxLoss(slcl, "embeddings+labelsets"),
        "sdl": AuxLoss(sdl, "embeddings+labelsets"),
        "icl": AuxLoss(icl, "label_embeddings+labelsets"),
        "jspcl": AuxLoss(jspcl, "label_scores+labelsets"),
        "itc": AuxLoss(itc, "two_views"),
        "itm": AuxLoss(itm, "two_views", state=ITMHead),
    }
)
