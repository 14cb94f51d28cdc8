"""Sentiment-consistency constraint with class centroids held in a FIFO queue.

Source: MVCN (Wei et al., ACL 2023), its sentiment-consistency constraint and
accumulative calibration. LOSSES.md, section 5.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._core import as_compute, masked_mean


def class_centroids(feats: Tensor, labels: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Mean feature of each class, detached, and which classes have any member.

    Returns:
        ``(centroids [num_classes, d], present [num_classes] bool)``; the row of
        an absent class is 0 and must be ignored.
    """
    if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes})")
    feats = as_compute(feats.detach())
    counts = torch.bincount(labels, minlength=num_classes)
    sums = feats.new_zeros(num_classes, feats.shape[1]).index_add_(0, labels, feats)
    return sums / counts.clamp_min(1).unsqueeze(1).to(sums.dtype), counts > 0


def scc(h: Tensor, y: Tensor, queue_feats: Tensor, queue_labels: Tensor) -> Tensor:
    """Relative L2 distance of each sample to its class centroid.

    Source: MVCN (Wei et al., ACL 2023)::

        L_i = ‖h_i − c_{y_i}‖₂ / Σ_k ‖h_i − c_k‖₂ ,   L = mean_i L_i

    with ``c_k`` the mean of the queued features of class ``k``, over the
    classes present in the queue, treated as constants. The relative form is
    the paper's: a plain L2 to the centroid collapses the representation.

    Choices of this project: a sample whose class is absent from the queue is
    skipped (so is a negative id, e.g. -1 for unlabelled), as is one at
    distance 0 from every centroid (0/0); with no sample left the loss is
    exactly 0, attached to the graph. No L2 normalisation: the ratio is
    scale-invariant anyway.

    Args:
        h: features ``[B, d]``.
        y: class ids ``[B]``.
        queue_feats, queue_labels: the queued features ``[N, d]`` and class ids ``[N]``.

    Returns:
        A scalar, float32 (float64 for float64 ``h``).
    """
    if h.dim() != 2 or y.shape != h.shape[:1]:
        raise ValueError(f"expected h [B, d] and y [B], got {tuple(h.shape)} and {tuple(y.shape)}")
    h = as_compute(h)
    if queue_labels.numel() == 0:
        return (h * 0).sum()
    num_classes = int(queue_labels.max()) + 1
    centroids, present = class_centroids(queue_feats, queue_labels, num_classes)
    own = y.long().clamp(0, num_classes - 1)
    keep = (y >= 0) & (y < num_classes) & present[own]
    centroids = centroids.to(h.dtype)
    # The ratio is scale-invariant: dividing sample i and the centroids by a
    # bound on their largest entry (detached) keeps the squares from overflowing.
    scale = torch.maximum(h.detach().abs().amax(1), centroids.abs().amax()).clamp_min(1.0)
    scale = scale[:, None]
    diff = (h / scale)[:, None, :] - centroids / scale[:, :, None]
    squared = torch.linalg.vecdot(diff, diff)
    # sqrt has an infinite derivative at 0: take it only where the distance is positive.
    positive = (squared > 0) & present
    dist = torch.where(positive, torch.where(positive, squared, 1.0).sqrt(), 0.0)
    total = dist.sum(1)
    keep = keep & (total > 0)
    ratio = dist.gather(1, own[:, None]).squeeze(1) / torch.where(keep, total, 1.0)
    return masked_mean(ratio, keep)


class CentroidQueue:
    """FIFO of detached features and labels, the source of the SCC centroids.

    MVCN's accumulative calibration: centroids come from the last
    ``max_len`` samples seen, not only the current batch, so that they move
    slowly. :meth:`push` appends a batch and drops the oldest entries beyond
    ``max_len``; ``feats`` and ``labels`` are kept oldest first.
    """

    def __init__(self, max_len: int = 3600) -> None:
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        self.max_len = max_len
        self.feats = torch.empty(0, 0)
        self.labels = torch.empty(0, dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def push(self, h: Tensor, y: Tensor) -> None:
        """Append ``h [B, d]`` (detached) and ``y [B]``; keep only the newest ``max_len``."""
        if h.dim() != 2 or y.shape != h.shape[:1]:
            raise ValueError(f"expected h [B, d] and y [B], got {tuple(h.shape)} and {tuple(y.shape)}")
        h, y = h.detach(), y.detach().long()
        if len(self):
            h, y = torch.cat([self.feats, h]), torch.cat([self.labels, y])
        # A copy: never share storage with the caller's batch, nor keep the dropped rows alive.
        self.feats, self.labels = h[-self.max_len :].clone(), y[-self.max_len :].clone()

    def centroids(self, num_classes: int) -> tuple[Tensor, Tensor]:
        """``(centroids [num_classes, d], present [num_classes])`` of the queued samples."""
        return class_centroids(self.feats, self.labels, num_classes)


def scc_from_queue(h: Tensor, y: Tensor, queue: CentroidQueue) -> Tensor:
    """:func:`scc` against the centroids of ``queue``, then push the batch into it.

    The order matters: the batch is measured against the centroids of earlier
    batches, then joins them (MVCN's accumulative calibration).
    """
    loss = scc(h, y, queue.feats, queue.labels)
    queue.push(h, y)
    return loss
