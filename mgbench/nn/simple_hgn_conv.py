"""``SimpleHGNConv``: the Simple-HGN layer (GAT with relation embeddings and residuals) on cached CSR attention."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .cache import cached_layout
from .kernels import GraphLayout, SparsePattern, additive_logits, check_graph, segment_softmax, spmm


def build_simple_hgn_layout(edge_index: Tensor, edge_type: Tensor, num_nodes: int, num_relations: int) -> GraphLayout:
    """Rows are targets, columns sources (``N x N``), with every entry's relation id."""
    check_graph(edge_index, edge_type, num_nodes, num_relations)
    src, dst = edge_index
    pattern, perm = SparsePattern.from_coo(dst, src, (num_nodes, num_nodes))
    return GraphLayout(pattern, relation=edge_type[perm])


class SimpleHGNConv(nn.Module):
    """One Simple-HGN layer (Lv et al., KDD 2021): GAT attention with learnable relation embeddings.

    ``e_ij = LeakyReLU(a^T [W x_i || W x_j || W_r r_{type(ij)}])``, ``alpha`` =
    softmax over ``j in N(i)`` (no self loops are added), mixed with the
    previous layer's attention as ``(1 - beta) alpha + beta alpha_prev`` when
    given; ``out_i = ELU(sum_j alpha_ij W x_j + W_res x_i)``, L2-normalised
    when ``final_layer``. One head, as the MGTAB reference layer.

    How it is fast: ``a`` splits into three parts, so the logit is the sum of a
    per-target, a per-source and a per-relation scalar, each computed once per
    node (or relation) and gathered per edge; aggregation is one SpMM on the
    graph's cached pattern. The parameters are those of the MGTAB
    ``layer.SimpleHGNLayer`` (``W``, ``W_r``, ``a``, ``W_res``, ``rel_emb``),
    so state dicts load either way.
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int, rel_dim: int = 200,
                 beta: float | None = None, final_layer: bool = False):
        super().__init__()
        self.in_channels, self.out_channels, self.num_relations = in_channels, out_channels, num_relations
        self.beta, self.final_layer = beta, final_layer
        self.W = nn.Linear(in_channels, out_channels, bias=False)
        self.W_r = nn.Linear(rel_dim, out_channels, bias=False)
        self.a = nn.Linear(3 * out_channels, 1, bias=False)
        self.W_res = nn.Linear(in_channels, out_channels, bias=False)
        self.rel_emb = nn.Embedding(num_relations, rel_dim)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor, alpha_prev: Tensor | None = None,
                return_attention: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """``x`` ``[N, in]``, ``edge_index`` ``[2, E]``, ``edge_type`` ``[E]`` -> ``[N, out]``.

        ``alpha_prev``: the previous layer's attention (from ``return_attention``)
        for the attention residual. With ``return_attention=True`` returns
        ``(out, alpha)``, ``alpha`` detached and in the layout's entry order
        (the input of the next layer's ``alpha_prev``, on the same graph).
        """
        layout = cached_layout("simple-hgn", build_simple_hgn_layout, edge_index, edge_type, x.size(0),
                               self.num_relations)
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
        return (out, alpha.detach()) if return_attention else out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, num_relations={self.num_relations})"
