"""OS-GNN (GraphDetec/OS-GNN, "Over-Sampling Strategy in Feature Space for Graphs based Class-imbalanced
Bot Detection"): SMOTE in a graph-propagated feature space, then a classifier on the balanced set.

Oversampling nodes of a graph is awkward (a synthetic node has no edges), so
OS-GNN moves the graph into the features first: ``[Â² x | x]``, the features
after two propagation steps beside the raw ones. There a synthetic minority
node is an ordinary vector, and SMOTE applies: interpolate between a minority
training node and one of its nearest same-class neighbours. What we follow
and where the authors' code differs: ``docs/BASELINES.md`` ("Frontier detectors").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mgbench.registry import Choice, IntRange, LogUniform, Uniform, register_model

from .randomness import draw_seed, generator
from mgbench.nn.cache import GraphCache, gcn_operator
from mgbench.nn.kernels import operator_spmm as spmm


def smote(features: Tensor, labels: Tensor, neighbours: int = 5,
          gen: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Synthetic samples that bring every class up to the largest class's count (balanced SMOTE).

    For each class ``c`` with ``n_c < n_max`` members, ``n_max - n_c`` samples
    ``x_r + u (x_nb - x_r)``: ``x_r`` a uniformly drawn member, ``x_nb`` one of
    its ``neighbours`` nearest members (Euclidean, itself excluded) drawn
    uniformly, ``u ~ U(0, 1)`` (Chawla et al., 2002). A class of one member
    repeats it. Returns only the new samples and their labels, so
    ``len(labels) + len(new)`` is ``num_classes * n_max``; draws come from ``gen``
    on the CPU.
    """
    if labels.dim() != 1:
        raise ValueError("SMOTE oversamples classes: labels must be one class id per node, not label sets")
    if neighbours < 1:
        raise ValueError(f"neighbours must be at least 1, got {neighbours}")
    classes, counts = torch.unique(labels, return_counts=True)
    target = int(counts.max())
    new_x, new_y = [], []
    for c, n in zip(classes.tolist(), counts.tolist()):
        need = target - n
        if need == 0:
            continue
        members = features[labels == c]
        k = min(neighbours, n - 1)
        ref = torch.randint(n, (need,), generator=gen).to(members.device)
        if k == 0:
            new_x.append(members[ref])
        else:
            near = _nearest(members, k)  # [n, k]
            pick = torch.randint(k, (need,), generator=gen).to(members.device)
            u = torch.rand(need, 1, generator=gen).to(members.device, members.dtype)
            x_r = members[ref]
            new_x.append(x_r + u * (members[near[ref, pick]] - x_r))
        new_y.append(torch.full((need,), c, dtype=labels.dtype, device=labels.device))
    if not new_x:
        return features[:0], labels[:0]
    return torch.cat(new_x), torch.cat(new_y)


def _nearest(points: Tensor, k: int, chunk: int = 2048) -> Tensor:
    """Indices of each point's ``k`` nearest other points, in row chunks (memory ``chunk x n``)."""
    out = []
    for start in range(0, len(points), chunk):
        d = torch.cdist(points[start:start + chunk], points)
        rows = torch.arange(d.size(0), device=points.device)
        d[rows, rows + start] = float("inf")  # not its own neighbour
        out.append(d.topk(k, dim=1, largest=False).indices)
    return torch.cat(out)


@register_model("os-gnn", kind="gnn", defaults={
    "hidden_channels": 128, "dropout": 0.3, "synthetic_weight": 0.8, "neighbours": 5}, search_space={
    "lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
    "hidden_channels": Choice([64, 128, 256]), "dropout": Uniform(0.0, 0.6),
    "synthetic_weight": Uniform(0.0, 1.0), "neighbours": IntRange(2, 10)})
class OSGNN(nn.Module):
    """OS-GNN: two propagation steps into the features, balanced SMOTE on the training nodes, a 2-layer classifier.

    Features ``h = [Â² x | x]`` with ``Â = D^-1/2 (A + I) D^-1/2`` over all
    selected relations (computed once per graph, no gradient); logits
    ``W_2 dropout(ReLU(W_1 h))``, the layers of the authors' OS-GCN (their
    "convolutions" skip propagation once the features hold it). The training
    objective (:meth:`training_loss`) is, with ``alpha = synthetic_weight``,

        alpha * L(train + synthetic) + (1 - alpha) * L(train)

    where the synthetic nodes are :func:`smote` of the training nodes' ``h``,
    drawn once per graph and training set. Single-label tasks only.
    """

    def __init__(self, in_channels: int, num_classes: int, num_relations: int = 1, hidden_channels: int = 128,
                 dropout: float = 0.3, synthetic_weight: float = 0.8, neighbours: int = 5):
        super().__init__()
        if not 0 <= synthetic_weight <= 1:
            raise ValueError(f"synthetic_weight must be in [0, 1], got {synthetic_weight}")
        if neighbours < 1:
            raise ValueError(f"neighbours must be at least 1, got {neighbours}")
        self.dropout, self.synthetic_weight, self.neighbours = dropout, synthetic_weight, neighbours
        self.hidden = nn.Linear(2 * in_channels, hidden_channels)
        self.classifier = nn.Linear(hidden_channels, num_classes)
        self.seed = draw_seed()
        self._propagated = GraphCache(maxsize=2)
        self._synthetic: tuple[tuple, tuple[Tensor, Tensor]] | None = None
        self._features: Tensor | None = None

    def features(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """``[Â² x | x]``, built once per graph (keyed like the sparse operators)."""
        def build() -> Tensor:
            a = gcn_operator(edge_index, x.size(0), x.dtype).matrix
            return torch.cat([spmm(a, spmm(a, x)), x], dim=1)

        with torch.no_grad():
            return self._propagated.get(("os-gnn", x.size(0), x.dtype), (x, edge_index), build)

    def _embed(self, h: Tensor) -> Tensor:
        return F.dropout(F.relu(self.hidden(h)), p=self.dropout, training=self.training)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor | None = None) -> Tensor:
        self._features = self.features(x, edge_index)
        return self.classifier(self._embed(self._features))

    def synthetic(self, y: Tensor, train_idx: Tensor) -> tuple[Tensor, Tensor]:
        """The SMOTE nodes of this training set (drawn once; redrawn if the training nodes change)."""
        key = (self._features.data_ptr(), train_idx.data_ptr(), len(train_idx), int(train_idx.sum()))
        if self._synthetic is None or self._synthetic[0] != key:
            self._synthetic = (key, smote(self._features[train_idx], y[train_idx], self.neighbours,
                                          generator(self.seed)))
        return self._synthetic[1]

    def training_loss(self, logits: Tensor, y: Tensor, train_idx: Tensor, loss_fn) -> Tensor:
        if y.dim() != 1:
            raise ValueError("os-gnn oversamples classes and needs a single-label task (stance or bot), "
                             "not a multi-label one")
        real = loss_fn(logits[train_idx], y[train_idx])
        new_x, new_y = self.synthetic(y, train_idx)
        if not len(new_y):
            return real
        # F.linear, not self.classifier: the embedding hook must keep seeing the graph's nodes
        new_logits = F.linear(self._embed(new_x), self.classifier.weight, self.classifier.bias)
        both = loss_fn(torch.cat([logits[train_idx], new_logits]), torch.cat([y[train_idx], new_y]))
        return self.synthetic_weight * both + (1 - self.synthetic_weight) * real
