"""GAT (Veličković et al., ICLR 2018) in the MGTAB baseline frame, on cached CSR attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot, zeros

from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .attention import GraphCache, GraphLayout, SparsePattern, additive_logits, attend, check_graph
from .init import check_init, initialise


def build_gat_layout(edge_index: Tensor, edge_type: Tensor | None, num_nodes: int) -> GraphLayout:
    """All edges as one graph, existing self loops replaced by one per node (``GATConv``'s default).

    Relations are ignored; a multi-edge stays two entries, as in PyG.
    """
    check_graph(edge_index, None, num_nodes)
    src, dst = edge_index
    keep = src != dst
    loop = torch.arange(num_nodes, device=edge_index.device)
    pattern, _ = SparsePattern.from_coo(torch.cat([dst[keep], loop]), torch.cat([src[keep], loop]),
                                        (num_nodes, num_nodes))
    return GraphLayout(pattern)


class GATLayer(nn.Module):
    """The function of PyG's ``GATConv`` (self loops, LeakyReLU 0.2 logits, bias), on a :class:`GraphLayout`.

    ``e_ij = LeakyReLU(a_src . W x_j + a_dst . W x_i)`` per head, softmax over
    ``j in N(i) + {i}``, ``out_i = ||_h sum_j alpha_ij W x_j`` (or the mean of
    heads), ``+ bias``. The two attention terms are per-node scalars, computed
    as ``x . (W^T a)`` (one ``[N, 2H]`` product) and gathered per entry by
    :func:`.attention.additive_logits`; aggregation is one SpMM over all heads. Parameters carry
    ``GATConv``'s names, shapes and initialisation (``lin.weight``,
    ``att_src``, ``att_dst``, ``bias``), so state dicts load either way.
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0):
        super().__init__()
        self.heads, self.out_channels, self.concat = heads, out_channels, concat
        self.negative_slope, self.dropout = negative_slope, dropout
        self.lin = Linear(in_channels, heads * out_channels, bias=False, weight_initializer="glorot")
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        self.bias = nn.Parameter(torch.empty(heads * out_channels if concat else out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        zeros(self.bias)

    def forward(self, x: Tensor, layout: GraphLayout) -> Tensor:
        num_nodes, heads, channels = x.size(0), self.heads, self.out_channels
        h = self.lin(x).view(num_nodes, heads, channels)
        # a . (W x) = (W^T a) . x: both scores of every head from x in one small product, [N, 2H]
        weight = self.lin.weight.view(heads, channels, -1)
        att = torch.cat([self.att_src[0], self.att_dst[0]]).view(2, heads, channels, 1)
        scores = x @ (weight * att).sum(2).view(2 * heads, -1).t()
        pattern = layout.heads(heads)  # row i*H + h: node i, head h
        logits = additive_logits(pattern, scores[:, heads:].reshape(-1), scores[:, :heads].reshape(-1),
                                 negative_slope=self.negative_slope)
        out = attend(pattern, logits, h.view(-1, channels), self.dropout, self.training)
        out = out.view(num_nodes, heads * channels) if self.concat else out.view(num_nodes, heads, channels).mean(1)
        return out + self.bias


@register_model("gat", kind="gnn", defaults={"hidden_channels": 256, "heads": 8, "dropout": 0.3,
                                              "inner_activation": False, "init": "authors"},
                search_space={"lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
                              "hidden_channels": Choice([64, 128, 256]),
                              "heads": Choice([1, 2, 4, 8]), "dropout": Uniform(0.0, 0.6)})
class GAT(nn.Module):
    """GAT: input Linear+LeakyReLU, an 8-head and a 1-head attention layer, Linear classifier.

    The MGTAB authors' model (``models.GAT``, ``MGTAB-GNN.py`` defaults: hidden
    256, dropout 0.3; weights initialised by its ``init_weights``):
    ``Linear(in, hidden)`` + LeakyReLU, ``GATConv(hidden, hidden / heads,
    heads)`` (heads concatenated), dropout, ``GATConv(hidden, hidden)``,
    ``Linear(hidden, classes)``, no nonlinearity between the attention layers.
    Relations are ignored (``num_relations`` is accepted for the GNN contract):
    all edges of the selected relations form one graph, with self loops.

    Options from the paper, off by default: ``inner_activation=True`` puts its
    ELU after the first attention layer; ``attention_dropout`` drops attention
    coefficients (the paper uses 0.6). ``init="torch"`` keeps PyTorch's
    initialisation of the two ``nn.Linear``.

    The paper's output layer is itself an attention layer averaging heads; the
    MGTAB frame keeps a linear classifier after it, as we do.
    """

    def __init__(self, in_channels: int, num_classes: int, num_relations: int = 1,
                 hidden_channels: int = 256, heads: int = 8, dropout: float = 0.3,
                 attention_dropout: float = 0.0, inner_activation: bool = False, init: str = "authors"):
        super().__init__()
        if hidden_channels % heads:
            raise ValueError(f"hidden_channels ({hidden_channels}) must be divisible by heads ({heads})")
        check_init(init)
        self.dropout, self.inner_activation = dropout, bool(inner_activation)
        self.input = nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.LeakyReLU())
        self.conv1 = GATLayer(hidden_channels, hidden_channels // heads, heads, dropout=attention_dropout)
        self.conv2 = GATLayer(hidden_channels, hidden_channels, 1, dropout=attention_dropout)
        self.classifier = nn.Linear(hidden_channels, num_classes)
        self.layouts = GraphCache(build_gat_layout)
        initialise(self, init)

    def embed(self, x: Tensor, edge_index: Tensor, edge_type: Tensor | None = None) -> Tensor:
        """Node embeddings: the classifier's input."""
        layout = self.layouts(edge_index, None, x.size(0))  # relations do not matter to GAT
        h = self.conv1(self.input(x), layout)
        if self.inner_activation:
            h = F.elu(h)
        h = F.dropout(h, p=self.dropout, training=self.training)
        return self.conv2(h, layout)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor | None = None) -> Tensor:
        return self.classifier(self.embed(x, edge_index, edge_type))

    def load_reference_state(self, reference: nn.Module) -> None:
        """Copy the weights of a :class:`.reference_attention.ReferenceGAT` (same parameter names)."""
        self.load_state_dict(reference.state_dict())
