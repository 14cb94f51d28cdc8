"""SEBot (Yang et al., KDD 2024, "SEBot: Structural Entropy Guided Multi-View Contrastive Learning for Social
Bot Detection").

Two views of every user: a relational encoder on the user graph, and an
encoder on the graph's encoding tree (communities found by minimising
structural entropy, :mod:`.encoding_tree`), whose messages run up to the
communities and back down. A contrastive term pulls each user's two views
together against the other users'. The tree is computed once per graph and
cached on disk. Our reading of the authors' code (846468230/SEBot,
``main_mgtab.py``, ``SEPN/``) and what we chose: ``docs/BASELINES.md``
("Frontier detectors").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mgbench.losses import itc
from mgbench.registry import Choice, IntRange, LogUniform, Uniform, register_model

from .encoding_tree import EncodingTree, cached_encoding_tree
from .randomness import draw_seed, generator
from mgbench.nn import RGCNConv
from mgbench.nn.cache import GraphCache

#: Relations of the tree graph: the users' own (merged, undirected) edges, child -> parent,
#: parent -> child, and the edges between communities of one level.
TREE_RELATIONS = ("user", "up", "down", "community")


def tree_graph(tree: EncodingTree) -> tuple[Tensor, Tensor, int]:
    """The encoding tree as one graph over users and communities: ``(edge_index, edge_type, num_nodes)``.

    Users keep their ids; level ``l``'s communities follow level ``l - 1``'s.
    """
    sizes = tree.sizes
    offsets = torch.tensor([0] + sizes).cumsum(0).tolist()
    edges, types = [], []

    def add(src: Tensor, dst: Tensor, relation: str) -> None:
        edges.append(torch.stack([src, dst]))
        types.append(torch.full((len(src),), TREE_RELATIONS.index(relation), dtype=torch.long))

    for level, (pairs, parents) in enumerate(zip(tree.pairs, tree.parents)):
        u, v = pairs + offsets[level]
        add(torch.cat([u, v]), torch.cat([v, u]), "user" if level == 0 else "community")
        child = torch.arange(sizes[level]) + offsets[level]
        parent = parents + offsets[level + 1]
        add(child, parent, "up")
        add(parent, child, "down")
    return torch.cat(edges, dim=1), torch.cat(types), offsets[-1]


@register_model("sebot", kind="gnn", defaults={
    "hidden_channels": 32, "projection_channels": 16, "dropout": 0.3, "tree_levels": 2,
    "contrast_weight": 0.1, "temperature": 0.1, "contrast_batch": 2048}, search_space={
    "lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
    "hidden_channels": Choice([32, 64, 128]), "dropout": Uniform(0.0, 0.6), "tree_levels": IntRange(1, 3),
    "contrast_weight": LogUniform(1e-3, 1.0), "temperature": LogUniform(0.05, 1.0)})
class SEBot(nn.Module):
    """SEBot: an R-GCN view and an encoding-tree view of each user, fused, with a contrastive term between them.

    - relational view ``r``: Linear + LeakyReLU, two R-GCN layers, each
      followed by ReLU and dropout (the authors' backbone frame);
    - tree view ``t``: Linear + LeakyReLU on the users, zeros on the
      communities, ``2 * tree_levels + 1`` R-GCN layers on :func:`tree_graph`
      (ReLU and dropout between), read at the users;
    - logits ``classifier(LeakyReLU(W [t | r]))``;
    - training objective: task loss ``+ contrast_weight * InfoNCE(proj(t), proj(r))``
      over ``contrast_batch`` users drawn each step (:func:`mgbench.losses.itc`,
      temperature ``temperature``; one projection head for both views, as the
      authors' code).
    """

    relational = True

    def __init__(self, in_channels: int, num_classes: int, num_relations: int, hidden_channels: int = 32,
                 projection_channels: int = 16, dropout: float = 0.3, tree_levels: int = 2,
                 contrast_weight: float = 0.1, temperature: float = 0.1, contrast_batch: int = 2048):
        super().__init__()
        if tree_levels < 1:
            raise ValueError(f"tree_levels must be at least 1, got {tree_levels}")
        if contrast_batch < 2:
            raise ValueError(f"contrast_batch must be at least 2, got {contrast_batch}")
        self.dropout, self.tree_levels = dropout, tree_levels
        self.contrast_weight, self.temperature, self.contrast_batch = contrast_weight, temperature, contrast_batch
        self.relational_input = nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.LeakyReLU())
        self.conv1 = RGCNConv(hidden_channels, hidden_channels, num_relations)
        self.conv2 = RGCNConv(hidden_channels, hidden_channels, num_relations)
        self.tree_input = nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.LeakyReLU())
        self.tree_convs = nn.ModuleList(RGCNConv(hidden_channels, hidden_channels, len(TREE_RELATIONS))
                                        for _ in range(2 * tree_levels + 1))
        self.projection = nn.Sequential(nn.Linear(hidden_channels, projection_channels), nn.LeakyReLU(),
                                        nn.Linear(projection_channels, hidden_channels))
        self.head = nn.Sequential(nn.Linear(2 * hidden_channels, hidden_channels), nn.LeakyReLU())
        self.classifier = nn.Linear(hidden_channels, num_classes)
        self._generator = generator(draw_seed())
        self._trees = GraphCache(maxsize=2)
        self._contrast: Tensor | None = None

    def tree(self, edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor, int]:
        """The tree graph of this graph (built or read from the disk cache once per graph tensor)."""
        def build():
            ei, et, total = tree_graph(cached_encoding_tree(edge_index, num_nodes, self.tree_levels))
            return ei.to(edge_index.device), et.to(edge_index.device), total

        return self._trees.get(("sebot-tree", num_nodes, self.tree_levels), (edge_index,), build)

    def views(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> tuple[Tensor, Tensor]:
        """``(tree view, relational view)``, each ``[N, hidden]``."""
        r = self.relational_input(x)
        for conv in (self.conv1, self.conv2):
            r = F.dropout(F.relu(conv(r, edge_index, edge_type)), p=self.dropout, training=self.training)
        tree_index, tree_type, total = self.tree(edge_index, x.size(0))
        t = self.tree_input(x)
        t = torch.cat([t, t.new_zeros(total - x.size(0), t.size(1))])
        for i, conv in enumerate(self.tree_convs):
            t = conv(t, tree_index, tree_type)
            if i < len(self.tree_convs) - 1:
                t = F.dropout(F.relu(t), p=self.dropout, training=self.training)
        return t[:x.size(0)], r

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        t, r = self.views(x, edge_index, edge_type)
        if self.training:
            pick = torch.randperm(x.size(0), generator=self._generator)[:self.contrast_batch].to(x.device)
            self._contrast = itc(self.projection(t[pick]), self.projection(r[pick]), self.temperature)
        return self.classifier(self.head(torch.cat([t, r], dim=1)))

    def training_loss(self, logits: Tensor, y: Tensor, train_idx: Tensor, loss_fn) -> Tensor:
        if self._contrast is None:
            raise RuntimeError("training_loss needs the contrastive term of a training-mode forward pass")
        return loss_fn(logits[train_idx], y[train_idx]) + self.contrast_weight * self._contrast
