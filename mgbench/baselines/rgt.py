"""RGT (Feng et al., AAAI 2022) in the MGTAB baseline frame, on cached CSR attention."""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn.inits import kaiming_uniform, uniform

from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .attention import GraphCache, GraphLayout, SparsePattern, attend, check_graph, kaiming_linear_init, sddmm


def build_rgt_layout(edge_index: Tensor, edge_type: Tensor, num_nodes: int, num_relations: int) -> GraphLayout:
    """Rows are ``(relation, target)`` pairs, columns source nodes: ``(R * N) x N``.

    Row ``r * N + i`` holds node ``i``'s relation-``r`` in-edges, so each row is
    one relation's softmax (a ``TransformerConv`` per relation); every head
    reads the same columns (the node features), hence ``shared_columns``.
    """
    check_graph(edge_index, edge_type, num_nodes, num_relations)
    src, dst = edge_index
    pattern, _ = SparsePattern.from_coo(edge_type * num_nodes + dst, src, (num_relations * num_nodes, num_nodes))
    return GraphLayout(pattern, shared_columns=True)


class RelationLinear(nn.Module):
    """One ``Linear(in, out)`` per relation, stacked: ``weight [R, out, in]``, ``bias [R, out]``.

    Initialised like PyG's ``Linear`` (kaiming-uniform with ``a = sqrt(5)``,
    uniform bias), the layers of ``TransformerConv``.
    """

    def __init__(self, num_relations: int, in_channels: int, out_channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_relations, out_channels, in_channels))
        self.bias = nn.Parameter(torch.empty(num_relations, out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        in_channels = self.weight.size(-1)
        kaiming_uniform(self.weight, fan=in_channels, a=math.sqrt(5))
        uniform(in_channels, self.bias)

    def augmented(self) -> Tensor:
        """``[R, out, in + 1]``: the weight with the bias as last column (acts on ``[x, 1]``)."""
        return torch.cat([self.weight, self.bias.unsqueeze(-1)], dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """``[R, N, out]``: every relation's map of ``x`` ``[N, in]``, one batched matmul."""
        return torch.baddbmm(self.bias.unsqueeze(1), x.expand(self.weight.size(0), -1, -1),
                             self.weight.transpose(1, 2))


class SemanticAttention(nn.Module):
    """Relation-level attention (RGT's semantic attention network, HAN-style), multi-head.

    Head ``s`` scores relation ``r`` by ``mean_i q_s . tanh(W_s z_{r,i} + b_s)``,
    softmaxes the scores over relations and mixes ``z_r`` with them; the heads'
    outputs are averaged. ``project`` stacks the heads' ``W_s`` (``[S*hidden,
    C]``), ``query.weight`` their ``q_s`` (``[S, hidden]``).
    """

    def __init__(self, channels: int, heads: int, hidden: int = 128):
        super().__init__()
        self.heads, self.hidden = heads, hidden
        self.project = nn.Linear(channels, heads * hidden)
        self.query = nn.Linear(hidden, heads, bias=False)

    def forward(self, z: Tensor) -> Tensor:
        """``z`` ``[R, N, C]`` -> ``[N, C]``."""
        # The mean over nodes commutes with the dot product: average tanh(...) first (as a sum,
        # whose backward is a broadcast rather than a division over [R, N, S*hidden]).
        summary = torch.tanh(self.project(z)).sum(1).view(-1, self.heads, self.hidden) / z.size(1)
        beta = torch.softmax((summary * self.query.weight).sum(-1), dim=0).mean(1)  # [R]
        return (beta @ z.flatten(1)).view(z.shape[1:])


class RGTLayer(nn.Module):
    """One RGT layer: a graph transformer per relation, a gated residual, semantic attention.

    Per relation ``r``: ``u_r = TransformerConv_r(x)`` (``heads`` heads averaged,
    root weight, attention dropout), gate ``a_r = sigmoid(W_g [u_r, x] + b)``
    (shared by relations), ``z_r = tanh(u_r) * a_r + x * (1 - a_r)``; output
    ``SemanticAttention(z_1..z_R)``. Needs ``in == out`` (the residual).

    How it is fast. The relation-``r`` head-``h`` logit ``(W_q x_i + b_q) .
    (W_k x_j + b_k) / sqrt(d)`` is the bilinear form ``[x_i, 1] M_{r,h} [x_j, 1]``
    with ``M = [W_q, b_q]^T [W_k, b_k] / sqrt(d)``: one batched matmul gives
    ``[x_i, 1] M_{r,h}`` for every (relation, node, head), one SDDMM against
    ``[x, 1]`` the logits, one SpMM aggregates ``[x, 1]`` itself, and the value
    map is applied after aggregation (``sum_j a_ij (W_v x_j + b_v) = W_v (sum a x)
    + b_v sum a``; the ``1`` column carries ``sum a``, exact under attention
    dropout and 0 for nodes without edges). The sparse kernels only ever read
    the small ``[N, in + 1]`` node matrix, and no per-relation Python loop
    remains. Same function as ``TransformerConv(in, out, heads, concat=False,
    dropout)`` per relation; parameters stack theirs per relation.
    """

    def __init__(self, channels: int, num_relations: int, heads: int = 4, semantic_heads: int = 4,
                 dropout: float = 0.0):
        super().__init__()
        self.channels, self.num_relations, self.heads, self.dropout = channels, num_relations, heads, dropout
        self.query = RelationLinear(num_relations, channels, heads * channels)
        self.key = RelationLinear(num_relations, channels, heads * channels)
        self.value = RelationLinear(num_relations, channels, heads * channels)
        self.skip = RelationLinear(num_relations, channels, channels)
        self.gate = nn.Linear(2 * channels, channels)
        self.semantic = SemanticAttention(channels, semantic_heads)

    def forward(self, x: Tensor, layout: GraphLayout) -> Tensor:
        num_nodes, rels, heads, channels = x.size(0), self.num_relations, self.heads, self.channels
        width = channels + 1
        x1 = torch.cat([x, x.new_ones(num_nodes, 1)], dim=1)  # [N, in + 1]
        w_q = self.query.augmented().view(rels, heads, channels, width)
        w_k = self.key.augmented().view(rels, heads, channels, width)
        w_v = self.value.augmented().view(rels, heads, channels, width)
        bilinear = torch.matmul(w_q.transpose(-1, -2), w_k) / math.sqrt(channels)  # [R, H, in+1, in+1]
        # bmm on the expanded x: torch.matmul's broadcasting computes the transpose and copies it back
        queries = torch.bmm(x1.expand(rels, -1, -1), bilinear.transpose(1, 2).reshape(rels, width, heads * width))
        pattern = layout.heads(heads)  # row (r*N + i)*H + h: queries [R, N, H*(in+1)] row by row
        logits = sddmm(pattern, queries.view(-1, width), x1)
        agg = attend(pattern, logits, x1, self.dropout, self.training).view(rels, num_nodes, heads * width)
        w_out = w_v.permute(0, 1, 3, 2).reshape(rels, heads * width, channels) / heads
        u = torch.bmm(agg, w_out) + self.skip(x)  # [R, N, C]
        w_u, w_x = self.gate.weight.split(channels, dim=1)
        a = torch.sigmoid(torch.matmul(u, w_u.t()) + F.linear(x, w_x, self.gate.bias))
        z = torch.tanh(u) * a + x * (1 - a)
        return self.semantic(z)


@register_model("rgt", kind="gnn", defaults={"hidden_channels": 128, "out_channels": 64, "heads": 4,
                                              "semantic_heads": 4, "dropout": 0.5},
                search_space={"lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
                              "hidden_channels": Choice([32, 64, 128]),
                              "heads": Choice([1, 2, 4]), "dropout": Uniform(0.0, 0.6)})
class RGT(nn.Module):
    """RGT: Linear+LeakyReLU+dropout, two RGT layers, Linear+LeakyReLU+dropout, Linear classifier.

    Frame and defaults of the MGTAB reference (``models.RGT`` and
    ``layer.RGTLayer``, ``RGT.py``: hidden 128, out_channel 64, trans_head 4,
    semantic_head 4, dropout 0.5 -- also the transformers' attention dropout;
    AdamW lr 1e-3, weight decay 5e-3 there): ``Linear(in, hidden)`` +
    LeakyReLU + dropout, two RGT layers each followed by LeakyReLU,
    ``Linear(hidden, out_channels)`` + LeakyReLU + dropout, ``Linear(
    out_channels, classes)``; ``nn.Linear`` layers (input, gate, semantic
    projection, output, classifier) re-initialised kaiming-uniform with zero
    bias, as there. Semantic attention uses 128 hidden units, as there.

    Differences from that code, following the paper:

    - the reference applies ``RGT_layer1`` twice (its layer 2 is commented
      out); we apply two distinct layers;
    - its ``RGTLayer.forward`` returns from inside the loop over relations, so
      only relations 0 and 1 reach the semantic attention (and one relation
      returns ``None``); we use every relation.
    """

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 128, out_channels: int = 64, heads: int = 4,
                 semantic_heads: int = 4, dropout: float = 0.5):
        super().__init__()
        self.dropout = dropout
        self.input = nn.Linear(in_channels, hidden_channels)
        self.conv1 = RGTLayer(hidden_channels, num_relations, heads, semantic_heads, dropout)
        self.conv2 = RGTLayer(hidden_channels, num_relations, heads, semantic_heads, dropout)
        self.output = nn.Linear(hidden_channels, out_channels)
        self.classifier = nn.Linear(out_channels, num_classes)
        kaiming_linear_init(self)
        self.layouts = GraphCache(partial(build_rgt_layout, num_relations=num_relations))

    def embed(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        """Node embeddings: the classifier's input."""
        layout = self.layouts(edge_index, edge_type, x.size(0))
        h = F.dropout(F.leaky_relu(self.input(x)), p=self.dropout, training=self.training)
        h = F.leaky_relu(self.conv1(h, layout))
        h = F.leaky_relu(self.conv2(h, layout))
        return F.dropout(F.leaky_relu(self.output(h)), p=self.dropout, training=self.training)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        return self.classifier(self.embed(x, edge_index, edge_type))

    def load_reference_state(self, reference: nn.Module) -> None:
        """Copy the weights of a :class:`.reference_attention.ReferenceRGT` (``TransformerConv`` per relation)."""
        state = {k: v for k, v in reference.state_dict().items() if not k.startswith(("conv1.", "conv2."))}
        for layer in ("conv1", "conv2"):
            ref = getattr(reference, layer)
            for ours, theirs in (("query", "lin_query"), ("key", "lin_key"), ("value", "lin_value"),
                                 ("skip", "lin_skip")):
                for part in ("weight", "bias"):
                    state[f"{layer}.{ours}.{part}"] = torch.stack(
                        [getattr(getattr(conv, theirs), part) for conv in ref.convs])
            state[f"{layer}.gate.weight"], state[f"{layer}.gate.bias"] = ref.gate.weight, ref.gate.bias
            heads = ref.semantic
            state[f"{layer}.semantic.project.weight"] = torch.cat([h[0].weight for h in heads])
            state[f"{layer}.semantic.project.bias"] = torch.cat([h[0].bias for h in heads])
            state[f"{layer}.semantic.query.weight"] = torch.cat([h[2].weight for h in heads])
        self.load_state_dict(state)
