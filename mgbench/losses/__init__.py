"""Contrastive and auxiliary objectives, as pure functions of tensors (spec: LOSSES.md).

Each returns a scalar usable as ``L = CE + lambda * L_aux`` on any model's
node embeddings; :data:`AUX_LOSSES` says what each one consumes.

Common contract:

- vectorised over anchors, samples and labels; no Python loop over them;
- embeddings are L2-normalised inside (``normalize=False`` turns it off);
- computed in float32 (float64 for float64 input): bf16 / fp16 inputs are
  upcast and the loss is returned in float32, gradients flow back in the
  input's dtype;
- clean semantics: never NaN or inf for finite input (a batch of 1 included);
  an anchor without positive (or without denominator) is left out of the
  mean; with none left the loss is exactly 0, attached to the graph, with a
  zero gradient;
- the five losses of Lin et al. take ``authors_code=True`` to replay that
  code's numbers instead.
"""

from .multilabel import icl, jscl, jspcl, scl, slcl
from .registry import AUX_LOSSES, INPUT_KINDS, AuxLoss
from .scc import CentroidQueue, scc, scc_from_queue
from .sdl import sdl, sdl_relations
from .sparsemax import sparsemax
from .supcon import supcon
from .views import ITC, ITMHead, itc, itm, itm_pairs

__all__ = [
    "AUX_LOSSES",
    "INPUT_KINDS",
    "AuxLoss",
    "CentroidQueue",
    "ITC",
    "ITMHead",
    "icl",
    "itc",
    "itm",
    "itm_pairs",
    "jscl",
    "jspcl",
    "scc",
    "scc_from_queue",
    "scl",
    "sdl",
    "sdl_relations",
    "slcl",
    "sparsemax",
    "supcon",
]
