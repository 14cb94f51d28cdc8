"""Reference-style builds of GAT, HGT, Simple-HGN and RGT from stock PyG layers.

Built the way the MGTAB authors' code builds them -- ``GATConv``, ``HGTConv``
on a per-relation edge dict, a Simple-HGN ``MessagePassing`` layer computing
its attention per edge like their ``layer.py``, RGT from one
``TransformerConv`` per relation plus semantic attention -- with their bugs
fixed exactly as in our models. Two uses: the oracle of the equivalence tests
(each fast model's ``load_reference_state`` copies these weights) and the
baseline of the epoch benchmark. Not registered: they compute the same
functions as ``gat``, ``hgt``, ``simple-hgn`` and ``rgt``, only slower.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, HGTConv, MessagePassing, TransformerConv
from torch_geometric.utils import softmax

from .init import kaiming_linear_init
from .init import initialise


class ReferenceGAT(nn.Module):
    """``models.GAT`` as ``MGTAB-GNN.py`` runs it: ``linear_relu_input``, ``GATConv`` (8 heads
    concatenated), dropout, ``GATConv``, ``linear_output2``; no nonlinearity between the
    attention layers, ``init_weights`` after the build. ``inner_activation`` (our ELU option),
    ``attention_dropout`` and ``init`` mirror :class:`.gat.GAT`'s options."""

    def __init__(self, in_channels: int, num_classes: int, num_relations: int = 1,
                 hidden_channels: int = 256, heads: int = 8, dropout: float = 0.3,
                 attention_dropout: float = 0.0, inner_activation: bool = False, init: str = "authors"):
        super().__init__()
        self.dropout, self.inner_activation = dropout, inner_activation
        self.input = nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.LeakyReLU())
        self.conv1 = GATConv(hidden_channels, hidden_channels // heads, heads, dropout=attention_dropout)
        self.conv2 = GATConv(hidden_channels, hidden_channels, dropout=attention_dropout)
        self.classifier = nn.Linear(hidden_channels, num_classes)
        initialise(self, init)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor | None = None) -> Tensor:
        h = self.conv1(self.input(x), edge_index)
        if self.inner_activation:
            h = F.elu(h)
        h = F.dropout(h, p=self.dropout, training=self.training)
        return self.classifier(self.conv2(h, edge_index))


class ReferenceHGT(nn.Module):
    """:class:`.hgt.HGT` with two ``HGTConv`` on a per-relation edge dict (the MGTAB script's input form)."""

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 256, linear_channels: int = 128, out_channels: int = 32,
                 heads: int = 1, dropout: float = 0.3):
        super().__init__()
        self.dropout = dropout
        self.edge_types = [("user", str(r), "user") for r in range(num_relations)]
        metadata = (["user"], self.edge_types)
        self.input = nn.Linear(in_channels, hidden_channels)
        self.conv1 = HGTConv(hidden_channels, hidden_channels, metadata, heads)
        self.conv2 = HGTConv(hidden_channels, linear_channels, metadata, heads)
        self.output = nn.Linear(linear_channels, out_channels)
        self.classifier = nn.Linear(out_channels, num_classes)
        kaiming_linear_init(self)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        edge_index_dict = {t: edge_index[:, edge_type == r] for r, t in enumerate(self.edge_types)}
        h = F.dropout(F.leaky_relu(self.input(x)), p=self.dropout, training=self.training)
        h = self.conv1({"user": h}, edge_index_dict)
        h = self.conv2(h, edge_index_dict)["user"]
        return self.classifier(F.leaky_relu(self.output(h)))


class ReferenceRGTLayer(nn.Module):
    """``layer.RGTLayer`` of the MGTAB code with every relation used: a ``TransformerConv`` per relation."""

    def __init__(self, channels: int, num_relations: int, heads: int, semantic_heads: int, dropout: float):
        super().__init__()
        self.convs = nn.ModuleList(TransformerConv(channels, channels, heads=heads, concat=False, dropout=dropout)
                                   for _ in range(num_relations))
        self.gate = nn.Linear(2 * channels, channels)
        self.semantic = nn.ModuleList(
            nn.Sequential(nn.Linear(channels, 128), nn.Tanh(), nn.Linear(128, 1, bias=False))
            for _ in range(semantic_heads))

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        zs = []
        for rel, conv in enumerate(self.convs):
            u = conv(x, edge_index[:, edge_type == rel])
            a = torch.sigmoid(self.gate(torch.cat([u, x], dim=1)))
            zs.append(torch.tanh(u) * a + x * (1 - a))
        z = torch.stack(zs, dim=1)  # [N, R, C]
        out = sum((torch.softmax(head(z).mean(0), dim=0) * z).sum(1) for head in self.semantic)
        return out / len(self.semantic)


class ReferenceRGT(nn.Module):
    """:class:`.rgt.RGT` with two distinct :class:`ReferenceRGTLayer` (the MGTAB script applies layer 1 twice)."""

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 128, out_channels: int = 64, heads: int = 4,
                 semantic_heads: int = 4, dropout: float = 0.5):
        super().__init__()
        self.dropout = dropout
        self.input = nn.Linear(in_channels, hidden_channels)
        self.conv1 = ReferenceRGTLayer(hidden_channels, num_relations, heads, semantic_heads, dropout)
        self.conv2 = ReferenceRGTLayer(hidden_channels, num_relations, heads, semantic_heads, dropout)
        self.output = nn.Linear(hidden_channels, out_channels)
        self.classifier = nn.Linear(out_channels, num_classes)
        kaiming_linear_init(self)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        h = F.dropout(F.leaky_relu(self.input(x)), p=self.dropout, training=self.training)
        h = F.leaky_relu(self.conv1(h, edge_index, edge_type))
        h = F.leaky_relu(self.conv2(h, edge_index, edge_type))
        h = F.dropout(F.leaky_relu(self.output(h)), p=self.dropout, training=self.training)
        return self.classifier(h)


class ReferenceSimpleHGNLayer(MessagePassing):
    """``layer.SimpleHGNLayer`` of the MGTAB code: attention computed per edge from ``W x_i``, ``W x_j``, ``W_r r``."""

    def __init__(self, in_channels: int, out_channels: int, num_relations: int, rel_dim: int,
                 beta: float | None = None, final_layer: bool = False):
        super().__init__(aggr="add", node_dim=0)
        self.beta, self.final_layer = beta, final_layer
        self.W = nn.Linear(in_channels, out_channels, bias=False)
        self.W_r = nn.Linear(rel_dim, out_channels, bias=False)
        self.a = nn.Linear(3 * out_channels, 1, bias=False)
        self.W_res = nn.Linear(in_channels, out_channels, bias=False)
        self.rel_emb = nn.Embedding(num_relations, rel_dim)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor,
                alpha_prev: Tensor | None = None) -> tuple[Tensor, Tensor]:
        alpha = self.edge_updater(edge_index, x=x, edge_type=edge_type, alpha_prev=alpha_prev)
        out = F.elu(self.propagate(edge_index, x=x, alpha=alpha) + self.W_res(x))
        if self.final_layer:
            out = F.normalize(out, dim=1)
        return out, alpha.detach()

    def edge_update(self, x_i: Tensor, x_j: Tensor, edge_type: Tensor, alpha_prev: Tensor | None,
                    index: Tensor, ptr: Tensor | None, size_i: int | None) -> Tensor:
        logits = self.a(torch.cat([self.W(x_i), self.W(x_j), self.W_r(self.rel_emb(edge_type))], dim=1))
        alpha = softmax(F.leaky_relu(logits, 0.2), index, ptr, size_i)
        if alpha_prev is not None and self.beta is not None:
            alpha = alpha * (1 - self.beta) + alpha_prev * self.beta
        return alpha

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        return self.W(x_j) * alpha


class ReferenceSimpleHGN(nn.Module):
    """:class:`.simple_hgn.SimpleHGN` with layer 1 then the final layer 2 (the MGTAB script applies layer 1 twice)."""

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 256, linear_channels: int = 128, out_channels: int = 32,
                 rel_dim: int = 200, beta: float = 0.05, dropout: float = 0.5):
        super().__init__()
        self.dropout = dropout
        self.input = nn.Linear(in_channels, hidden_channels)
        self.conv1 = ReferenceSimpleHGNLayer(hidden_channels, hidden_channels, num_relations, rel_dim, beta)
        self.conv2 = ReferenceSimpleHGNLayer(hidden_channels, linear_channels, num_relations, rel_dim, beta,
                                             final_layer=True)
        self.output = nn.Linear(linear_channels, out_channels)
        self.classifier = nn.Linear(out_channels, num_classes)
        kaiming_linear_init(self)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        h = F.dropout(F.leaky_relu(self.input(x)), p=self.dropout, training=self.training)
        h, alpha = self.conv1(h, edge_index, edge_type)
        h, _ = self.conv2(h, edge_index, edge_type, alpha)
        h = F.dropout(F.leaky_relu(self.output(h)), p=self.dropout, training=self.training)
        return self.classifier(h)
