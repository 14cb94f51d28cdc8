"""Auxiliary losses on a GNN's node embeddings: ``L = task loss + lambda * sum_k L_k``.

:class:`AuxObjective` feeds each loss of :data:`mgbench.losses.AUX_LOSSES`
what it consumes, for a seeded random batch of at most ``batch`` labelled
training nodes per step (LOSSES.md, "Using a loss on a graph encoder"):

- class ids: the task's classes; for a multi-label task, the id of the
  node's whole label set (two nodes share a class iff their sets are equal);
- label sets: the task's multi-hot labels (one-hot for single-label tasks);
- label embeddings (ICL): a label-embedding head, one linear map per label
  applied to the node embedding (the graph analogue of SpanEmo's label tokens);
- label scores (JSPCL): the model's logits;
- two views (ITC, ITM): the node embedding and an MLP over a named feature
  block (``view``, default ``tweet``), projected to the embedding's size.

Trainable parts (heads, the view MLP) are submodules, so the optimiser that
trains the GNN trains them too.
"""

from __future__ import annotations

import inspect

import torch
from torch import Tensor, nn

from mgbench.losses import AUX_LOSSES

#: Settings of the objective itself, beside the losses' own keyword arguments.
OWN_SETTINGS = {"batch": 1024, "view": "tweet", "label_dim": 64}


def parse_aux(names: str) -> list[str]:
    """``"supcon+scc"`` -> ["supcon", "scc"]; unknown names are an error listing the known."""
    parts = [p.strip() for p in names.split("+") if p.strip()]
    unknown = [p for p in parts if p not in AUX_LOSSES]
    if not parts or unknown:
        raise ValueError(f"unknown auxiliary loss {', '.join(unknown) or repr(names)}; "
                         f"available: {', '.join(AUX_LOSSES)} (combine with +)")
    if len(set(parts)) != len(parts):
        raise ValueError(f"auxiliary loss named twice in {names!r}")
    return parts


def loss_kwargs(name: str) -> set[str]:
    """The settings a loss takes (its keyword parameters that are not tensors or state)."""
    spec = AUX_LOSSES[name]
    return {k for k in spec.defaults if k not in ("generator",)}


def check_aux(names: str, settings: dict, feature_blocks) -> list[str]:
    """Validate loss names, settings and the view block before any training."""
    parts = parse_aux(names)
    known = set(OWN_SETTINGS).union(*(loss_kwargs(p) for p in parts))
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"unknown auxiliary setting(s) {', '.join(unknown)} for {names}; "
                         f"available: {', '.join(sorted(known))}")
    if any(AUX_LOSSES[p].inputs == "two_views" for p in parts):
        view = settings.get("view", OWN_SETTINGS["view"])
        if view not in feature_blocks:
            raise ValueError(f"{names} contrasts the graph view with feature block {view!r}, which this "
                             f"run lacks; its blocks: {', '.join(feature_blocks)} (set aux.view=BLOCK)")
    return parts


#: The auxiliary loss's weight when a run or a suite names a loss but no weight.
DEFAULT_AUX_WEIGHT = 0.1


class AuxObjective(nn.Module):
    """Callable as ``aux(embeddings, logits, train_idx) -> weight * sum of losses``."""

    def __init__(self, names: str, weight: float, settings: dict, *, embedding_dim: int, labels: Tensor,
                 multilabel: bool, num_outputs: int, x: Tensor, feature_blocks: dict, seed: int):
        super().__init__()
        self.parts = check_aux(names, settings, feature_blocks)
        self.weight = weight
        self.batch = int(settings.get("batch", OWN_SETTINGS["batch"]))
        self.kwargs = {p: {k: v for k, v in settings.items() if k in loss_kwargs(p)} for p in self.parts}
        self.generator = torch.Generator().manual_seed(seed)
        if multilabel:
            label_sets, class_ids = labels.float(), torch.unique(labels, dim=0, return_inverse=True)[1]
        else:
            label_sets, class_ids = nn.functional.one_hot(labels.clamp(min=0), num_outputs).float(), labels
        # Buffers, not parameters: they move with ``.to(device)`` and are not saved.
        self.register_buffer("label_sets", label_sets, persistent=False)
        self.register_buffer("class_ids", class_ids, persistent=False)
        self.state = {p: AUX_LOSSES[p].state(embedding_dim) for p in self.parts if AUX_LOSSES[p].state}
        self.heads = nn.ModuleDict({p: s for p, s in self.state.items() if isinstance(s, nn.Module)})
        kinds = {AUX_LOSSES[p].inputs for p in self.parts}
        if "label_embeddings+labelsets" in kinds:
            label_dim = int(settings.get("label_dim", OWN_SETTINGS["label_dim"]))
            self.label_maps = nn.Parameter(torch.empty(num_outputs, embedding_dim, label_dim))
            nn.init.xavier_uniform_(self.label_maps.view(-1, label_dim))
        if "two_views" in kinds:
            start, stop = feature_blocks[settings.get("view", OWN_SETTINGS["view"])]
            self.register_buffer("view_block", x[:, start:stop], persistent=False)
            self.view_mlp = nn.Sequential(nn.Linear(stop - start, embedding_dim), nn.ReLU(),
                                          nn.Linear(embedding_dim, embedding_dim))

    def _inputs(self, kind: str, z: Tensor, logits: Tensor, idx: Tensor) -> tuple[Tensor, Tensor]:
        if kind == "embeddings+classes":
            return z, self.class_ids[idx]
        if kind == "embeddings+labelsets":
            return z, self.label_sets[idx]
        if kind == "label_embeddings+labelsets":
            return torch.einsum("bd,cdk->bck", z, self.label_maps), self.label_sets[idx]
        if kind == "label_scores+labelsets":
            return logits[idx], self.label_sets[idx]
        return z, self.view_mlp(self.view_block[idx])

    def forward(self, embeddings: Tensor, logits: Tensor, train_idx: Tensor) -> Tensor:
        if len(train_idx) > self.batch:
            pick = torch.randperm(len(train_idx), generator=self.generator)[: self.batch]
            train_idx = train_idx[pick.to(train_idx.device)]
        z = embeddings[train_idx]
        total = z.new_zeros(())
        for name in self.parts:
            spec = AUX_LOSSES[name]
            a, b = self._inputs(spec.inputs, z, logits, train_idx)
            kwargs = dict(self.kwargs[name])
            if "generator" in inspect.signature(spec.fn).parameters:
                kwargs["generator"] = self.generator
            if name in self.state:
                total = total + spec.fn(a, b, self.state[name], **kwargs)
            else:
                total = total + spec.fn(a, b, **kwargs)
        return self.weight * total
