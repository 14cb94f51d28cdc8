"""Simple-HGN (Lv et al., KDD 2021) in the MGTAB baseline frame, on cached CSR attention."""

from __future__ import annotations

from functools import partial

import torch.nn.functional as F
from torch import Tensor, nn

from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .attention import (GraphCache, GraphLayout, SparsePattern, additive_logits, check_graph, kaiming_linear_init,
                        segment_softmax, spmm)


def build_simple_hgn_layout(edge_index: Tensor, edge_type: Tensor, num_nodes: int, num_relations: int) -> GraphLayout:
    """Rows are targets, columns sources (``N x N``), with every entry's relation id."""
    check_graph(edge_index, edge_type, num_nodes, num_relations)
    src, dst = edge_index
    pattern, perm = SparsePattern.from_coo(dst, src, (num_nodes, num_nodes))
    return GraphLayout(pattern, relation=edge_type[perm])


class SimpleHGNLayer(nn.Module):
    """One Simple-HGN layer: GAT attention with learnable relation embeddings, residuals, optional L2 norm.

    ``e_ij = LeakyReLU(a^T [W x_i || W x_j || W_r r_{type(ij)}])``, ``alpha`` =
    softmax over ``j in N(i)``, mixed with the previous layer's attention as
    ``(1 - beta) alpha + beta alpha_prev`` when given; ``out_i = ELU(sum_j
    alpha_ij W x_j + W_res x_i)``, L2-normalised in the final layer. Returns the
    output and the (detached) attention for the next layer.

    How it is fast: ``a`` splits into three parts, so the logit is the sum of a
    per-target, a per-source and a per-relation scalar, each computed once per
    node (or relation) and gathered per edge (:func:`.attention.additive_logits`);
    aggregation is one SpMM. The
    parameters are those of the MGTAB ``layer.SimpleHGNLayer`` (``W``,
    ``W_r``, ``a``, ``W_res``, ``rel_emb``; one head), so state dicts load
    either way.
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int, rel_dim: int,
                 beta: float | None = None, final_layer: bool = False):
        super().__init__()
        self.out_channels, self.beta, self.final_layer = out_channels, beta, final_layer
        self.W = nn.Linear(in_channels, out_channels, bias=False)
        self.W_r = nn.Linear(rel_dim, out_channels, bias=False)
        self.a = nn.Linear(3 * out_channels, 1, bias=False)
        self.W_res = nn.Linear(in_channels, out_channels, bias=False)
        self.rel_emb = nn.Embedding(num_relations, rel_dim)

    def forward(self, x: Tensor, layout: GraphLayout, alpha_prev: Tensor | None = None) -> tuple[Tensor, Tensor]:
        pattern = layout.pattern
        h = self.W(x)
        a_dst, a_src, a_rel = self.a.weight.view(3, self.out_channels)
        score_rel = self.W_r(self.rel_emb.weight) @ a_rel  # [R]
        logits = additive_logits(pattern, h @ a_dst, h @ a_src, score_rel.index_select(0, layout.relation), 0.2)
        alpha = segment_softmax(pattern, logits)
        if alpha_prev is not None and self.beta is not None:
            alpha = alpha * (1 - self.beta) + alpha_prev * self.beta
        out = F.elu(spmm(pattern, alpha, h) + self.W_res(x))
        if self.final_layer:
            out = F.normalize(out, dim=1)
        return out, alpha.detach()


@register_model("simple-hgn", kind="gnn", defaults={"hidden_channels": 256, "linear_channels": 128,
                                                     "out_channels": 32, "rel_dim": 200, "beta": 0.05,
                                                     "dropout": 0.5},
                search_space={"lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
                              "hidden_channels": Choice([64, 128, 256]),
                              "beta": Uniform(0.0, 0.2), "dropout": Uniform(0.0, 0.6)})
class SimpleHGN(nn.Module):
    """Simple-HGN: Linear+LeakyReLU+dropout, two Simple-HGN layers, Linear+LeakyReLU+dropout, classifier.

    Frame and defaults of the MGTAB reference (``models.SHGN`` and
    ``layer.SimpleHGNLayer``, ``SHGN.py``: hidden 256, linear_channels 128,
    out_channel 32, rel_dim 200, beta 0.05, dropout 0.5; AdamW lr 1e-3, weight
    decay 5e-4 there): ``Linear(in, hidden)`` + LeakyReLU + dropout, a layer
    ``hidden -> hidden``, a final layer ``hidden -> linear_channels`` (L2-
    normalised output, attention residual from layer 1), ``Linear(
    linear_channels, out_channels)`` + LeakyReLU + dropout, ``Linear(
    out_channels, classes)``; every ``nn.Linear`` re-initialised kaiming-
    uniform with zero bias, as there.

    Differences from that code and the paper:

    - the reference builds ``HGN_layer2`` (the final, normalised layer) but
      applies ``HGN_layer1`` twice; we apply layer 1 then layer 2;
    - as the reference (and unlike the paper's 8), one attention head, and no
      self-loop edges; the paper's edge-type embedding, node and attention
      residuals, ELU and final L2 normalisation are all kept. The previous
      layer's attention enters detached, as in both the reference and the
      Simple-HGN authors' code.
    """

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 256, linear_channels: int = 128, out_channels: int = 32,
                 rel_dim: int = 200, beta: float = 0.05, dropout: float = 0.5):
        super().__init__()
        self.dropout = dropout
        self.input = nn.Linear(in_channels, hidden_channels)
        self.conv1 = SimpleHGNLayer(hidden_channels, hidden_channels, num_relations, rel_dim, beta)
        self.conv2 = SimpleHGNLayer(hidden_channels, linear_channels, num_relations, rel_dim, beta,
                                    final_layer=True)
        self.output = nn.Linear(linear_channels, out_channels)
        self.classifier = nn.Linear(out_channels, num_classes)
        kaiming_linear_init(self)
        self.layouts = GraphCache(partial(build_simple_hgn_layout, num_relations=num_relations))

    def embed(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        """Node embeddings: the classifier's input."""
        layout = self.layouts(edge_index, edge_type, x.size(0))
        h = F.dropout(F.leaky_relu(self.input(x)), p=self.dropout, training=self.training)
        h, alpha = self.conv1(h, layout)
        h, _ = self.conv2(h, layout, alpha)
        return F.dropout(F.leaky_relu(self.output(h)), p=self.dropout, training=self.training)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        return self.classifier(self.embed(x, edge_index, edge_type))

    def load_reference_state(self, reference: nn.Module) -> None:
        """Copy the weights of a :class:`.reference_attention.ReferenceSimpleHGN` (same parameter names)."""
        self.load_state_dict(reference.state_dict())
