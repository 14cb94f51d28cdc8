"""HGT (Hu et al., WWW 2020) in the MGTAB baseline frame, on cached CSR attention."""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import kaiming_uniform, ones

from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .attention import GraphCache, GraphLayout, SparsePattern, attend, check_graph, kaiming_linear_init, sddmm


def build_hgt_layout(edge_index: Tensor, edge_type: Tensor, num_nodes: int, num_relations: int) -> GraphLayout:
    """Rows are target nodes, columns ``(source, relation)`` pairs: ``N x (N * R)``.

    One softmax per target over its incoming edges of every relation (HGT's
    attention is normalised across relations); column ``j * R + r`` reads the
    relation-``r`` key and value of node ``j``.
    """
    check_graph(edge_index, edge_type, num_nodes, num_relations)
    src, dst = edge_index
    pattern, _ = SparsePattern.from_coo(dst, src * num_relations + edge_type, (num_nodes, num_nodes * num_relations))
    return GraphLayout(pattern)


class HGTLayer(nn.Module):
    """The function of PyG's ``HGTConv`` for one node type and ``R`` edge types.

    Per head ``h`` and edge ``j -r-> i``: ``k = K(x_j) W^att_{h,r}``,
    ``v = V(x_j) W^msg_{h,r}``, logit ``Q(x_i) . k * mu_{r,h} / sqrt(d)``,
    softmax over all incoming edges of ``i`` (every relation), ``out_i =
    A-Linear(GELU(sum alpha v))``, then ``sigmoid(skip)``-gated residual when
    the widths match.

    How it is fast: ``K(x) W^att_{h,r}`` for every relation and head is one
    batched matmul over nodes (``[N, R, H, d]``, the prior ``mu / sqrt(d)``
    folded into the weights), logits are one SDDMM against it, and aggregation
    one SpMM over the ``(source, relation)`` columns -- no per-relation Python
    loop and no per-edge feature tensor. Parameters: ``kqv``/``out`` are the
    ``user`` linears of ``HGTConv``'s ``kqv_lin``/``out_lin`` (PyG ``Linear``,
    which the model's kaiming re-initialisation leaves alone, as in the
    reference); ``k_rel``/``v_rel`` ``[H*R, d, d]`` (index ``h * R + r``),
    ``skip`` and ``p_rel`` ``[R, H]`` are ``HGTConv``'s, initialised alike.
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int, heads: int = 1):
        super().__init__()
        if out_channels % heads:
            raise ValueError(f"out_channels ({out_channels}) must be divisible by heads ({heads})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_relations, self.heads = num_relations, heads
        dim = out_channels // heads
        self.kqv = Linear(in_channels, 3 * out_channels)
        self.out = Linear(out_channels, out_channels)
        self.k_rel = nn.Parameter(torch.empty(heads * num_relations, dim, dim))
        self.v_rel = nn.Parameter(torch.empty(heads * num_relations, dim, dim))
        self.skip = nn.Parameter(torch.empty(1))
        self.p_rel = nn.Parameter(torch.empty(num_relations, heads))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.kqv.reset_parameters()
        self.out.reset_parameters()
        dim = self.out_channels // self.heads
        kaiming_uniform(self.k_rel, fan=dim, a=math.sqrt(5))
        kaiming_uniform(self.v_rel, fan=dim, a=math.sqrt(5))
        ones(self.skip)
        ones(self.p_rel)

    def forward(self, x: Tensor, layout: GraphLayout) -> Tensor:
        num_nodes, heads, rels = x.size(0), self.heads, self.num_relations
        dim = self.out_channels // heads
        # Three matmuls rather than one split [N, 3F]: the split's backward would copy its gradient together.
        k, q, v = (F.linear(x, w, b).view(num_nodes, heads, dim)
                   for w, b in zip(self.kqv.weight.chunk(3), self.kqv.bias.chunk(3)))  # each [N, H, d]
        prior = (self.p_rel / math.sqrt(dim)).t().reshape(heads, rels, 1, 1)
        w_att = self.k_rel.view(heads, rels, dim, dim) * prior
        w_msg = self.v_rel.view(heads, rels, dim, dim)
        keys = torch.einsum("nhd,hrde->nrhe", k, w_att).reshape(-1, dim)  # row (j*R + r)*H + h
        values = torch.einsum("nhd,hrde->nrhe", v, w_msg).reshape(-1, dim)
        pattern = layout.heads(heads)  # row i*H + h, column (j*R + r)*H + h
        logits = sddmm(pattern, q.reshape(-1, dim), keys)
        agg = attend(pattern, logits, values).view(num_nodes, self.out_channels)
        out = self.out(F.gelu(agg))
        if self.out_channels == self.in_channels:
            gate = self.skip.sigmoid()
            out = gate * out + (1 - gate) * x
        return out


@register_model("hgt", kind="gnn", defaults={"hidden_channels": 256, "linear_channels": 128,
                                              "out_channels": 32, "heads": 1, "dropout": 0.3},
                search_space={"lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
                              "hidden_channels": Choice([64, 128, 256]),
                              "heads": Choice([1, 2, 4, 8]), "dropout": Uniform(0.0, 0.6)})
class HGT(nn.Module):
    """HGT: Linear+LeakyReLU+dropout, two HGT layers, Linear+LeakyReLU, Linear classifier.

    Frame and defaults of the MGTAB reference (``models.HGT``, ``HGT.py``:
    hidden 256, linear_channels 128, out_channel 32, dropout 0.3, PyG's
    default of one head; AdamW lr 1e-3, weight decay 5e-4 there):
    ``Linear(in, hidden)`` + LeakyReLU + dropout, ``HGTConv(hidden, hidden)``,
    ``HGTConv(hidden, linear_channels)``, ``Linear(linear_channels,
    out_channels)`` + LeakyReLU, ``Linear(out_channels, classes)``; every
    ``nn.Linear`` of the frame re-initialised kaiming-uniform with zero bias,
    as there. Runs from ``forward(x, edge_index, edge_type)``: the
    per-relation layout is built from ``edge_type`` once per graph and cached.

    Differences from that code and the paper:

    - the reference builds ``HGT_layer2`` but applies ``HGT_layer1`` twice; we
      apply layer 1 then layer 2, as the paper stacks layers;
    - as PyG's ``HGTConv``, the residual is a learned sigmoid gate (from the
      authors' pyHGT code) rather than the paper's plain sum, and there is no
      relative temporal encoding (the graph has no timestamps) and no layer
      norm or dropout inside the layer;
    - one attention head by default (PyG's default, which the reference keeps);
      the paper uses 8 (``heads``).
    """

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 256, linear_channels: int = 128, out_channels: int = 32,
                 heads: int = 1, dropout: float = 0.3):
        super().__init__()
        self.dropout = dropout
        self.input = nn.Linear(in_channels, hidden_channels)
        self.conv1 = HGTLayer(hidden_channels, hidden_channels, num_relations, heads)
        self.conv2 = HGTLayer(hidden_channels, linear_channels, num_relations, heads)
        self.output = nn.Linear(linear_channels, out_channels)
        self.classifier = nn.Linear(out_channels, num_classes)
        kaiming_linear_init(self)
        self.layouts = GraphCache(partial(build_hgt_layout, num_relations=num_relations))

    def embed(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        """Node embeddings: the classifier's input."""
        layout = self.layouts(edge_index, edge_type, x.size(0))
        h = F.dropout(F.leaky_relu(self.input(x)), p=self.dropout, training=self.training)
        h = self.conv2(self.conv1(h, layout), layout)
        return F.leaky_relu(self.output(h))

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        return self.classifier(self.embed(x, edge_index, edge_type))

    def load_reference_state(self, reference: nn.Module) -> None:
        """Copy the weights of a :class:`.reference_attention.ReferenceHGT` (``HGTConv`` layers)."""
        state = {k: v for k, v in reference.state_dict().items() if not k.startswith(("conv1.", "conv2."))}
        for layer in ("conv1", "conv2"):
            conv = getattr(reference, layer)
            state.update({f"{layer}.{k}": v for k, v in {
                "kqv.weight": conv.kqv_lin.lins["user"].weight, "kqv.bias": conv.kqv_lin.lins["user"].bias,
                "out.weight": conv.out_lin.lins["user"].weight, "out.bias": conv.out_lin.lins["user"].bias,
                "k_rel": conv.k_rel.weight, "v_rel": conv.v_rel.weight, "skip": conv.skip["user"],
                "p_rel": torch.cat([conv.p_rel["__".join(t)] for t in conv.edge_types]),
            }.items()})
        self.load_state_dict(state)
