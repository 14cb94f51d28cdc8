"""BotRGCN (Feng et al., ASONAM 2021): per-modality user encoders, two R-GCN layers, output MLP."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mgbench.nn import RGCNConv
from mgbench.registry import Choice, LogUniform, Uniform, register_model

from .init import check_init, initialise


def _columns(cols: Sequence[int]) -> slice | Tensor:
    """A slice for a contiguous run of columns (a view, no copy), else an index tensor."""
    cols = list(cols)
    if cols == list(range(cols[0], cols[0] + len(cols))):
        return slice(cols[0], cols[0] + len(cols))
    return torch.tensor(cols, dtype=torch.long)


class BotRGCNEncoder(nn.Module):
    """BotRGCN's user representation: one Linear+LeakyReLU encoder per feature group, concatenated.

    Groups, from the graph's ``feature_blocks`` and ``categorical_columns``:
    ``description`` (if the graph has that block, as Cresci-15 does), the tweet
    encoder over ``text`` if present else ``tweet``, ``numerical`` (the
    ``profile`` columns that are not categorical) and ``categorical``. Widths
    follow the two reference codes: with a description every group gets
    ``hidden/4`` (BotRGCN's), without one numerical and categorical get
    ``hidden/8`` each and the tweet encoder the rest (MGTAB's ``3/4``). An empty
    group is left out and its width goes to the tweet encoder.

    The MGTAB reference hard-codes the categorical columns as
    ``[1,2,3,5,9,16,17,18,19,20]``: 20 is the first tweet column and property 0
    is never seen. Here the columns come from the graph. Without
    ``feature_blocks`` the MGTAB layout is assumed (20 profile columns, then
    the tweet embedding; categorical columns ``0,1,2,3,5,9,16,17,18,19``).
    """

    def __init__(self, in_channels: int, hidden_channels: int,
                 feature_blocks: dict[str, tuple[int, int]] | None = None,
                 categorical_columns: Sequence[int] | None = None):
        super().__init__()
        if feature_blocks is None:
            # Imported here, not at the top: registering the model must not load the dataset layer.
            from mgbench.datasets.layout import MGTAB_CATEGORICAL, NUM_PROFILE_COLUMNS

            feature_blocks = {"profile": (0, NUM_PROFILE_COLUMNS), "tweet": (NUM_PROFILE_COLUMNS, in_channels)}
            categorical_columns = MGTAB_CATEGORICAL if categorical_columns is None else categorical_columns
        categorical = sorted(set(categorical_columns or ()))
        text = "text" if "text" in feature_blocks else "tweet"
        if text not in feature_blocks:
            raise ValueError(f"BotRGCN needs a 'tweet' or 'text' feature block, got {sorted(feature_blocks)}")

        def block(name: str) -> list[int]:
            return list(range(*feature_blocks.get(name, (0, 0))))

        groups = {"description": block("description"), "tweet": block(text),
                  "numerical": [c for c in block("profile") if c not in categorical], "categorical": categorical}
        if max(max(cols, default=0) for cols in groups.values()) >= in_channels:
            raise ValueError(f"feature blocks / categorical columns reach beyond the {in_channels} input columns")
        groups = {name: cols for name, cols in groups.items() if cols}
        side = max(1, hidden_channels // (4 if "description" in groups else 8))
        widths = {name: side for name in groups if name != "tweet"}
        widths["tweet"] = hidden_channels - sum(widths.values())
        if widths["tweet"] < 1:
            raise ValueError(f"hidden_channels={hidden_channels} is too small for {len(groups)} encoders")
        self.encoders = nn.ModuleDict({name: nn.Sequential(nn.Linear(len(cols), widths[name]), nn.LeakyReLU())
                                       for name, cols in groups.items()})
        self._slices: dict[str, slice] = {}
        for name, cols in groups.items():
            where = _columns(cols)
            if isinstance(where, slice):
                self._slices[name] = where
            else:
                self.register_buffer(f"{name}_columns", where, persistent=False)

    def _group(self, x: Tensor, name: str) -> Tensor:
        if name in self._slices:
            return x[:, self._slices[name]]
        return x.index_select(1, self.get_buffer(f"{name}_columns"))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([encoder(self._group(x, name)) for name, encoder in self.encoders.items()], dim=1)


@register_model("botrgcn", kind="gnn", defaults={"hidden_channels": 256, "dropout": 0.3, "shared_graph_layer": True,
                                                  "output_mlp": False, "init": "authors"},
                search_space={"lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
                              "hidden_channels": Choice([64, 128, 256]),
                              "dropout": Uniform(0.0, 0.6)})
class BotRGCN(nn.Module):
    """BotRGCN: user encoders, Linear+LeakyReLU, one R-GCN layer applied twice, Linear classifier.

    The MGTAB authors' model (``models.BotRGCN``, initialised by
    ``MGTAB-GNN.py``'s ``init_weights``): ``x0 = LeakyReLU(W1 r + b1)`` over the
    concatenated encodings ``r``; one R-GCN layer (mean per relation, root
    weight) applied twice with dropout between and no nonlinearity, as both the
    MGTAB code and BotRGCN's own code (``BotRGCN/model.py``) do; a Linear
    classifier. One bug fixed: the reference's categorical columns include
    tweet column 20 and miss property 0; here they are the graph's own
    (:class:`BotRGCNEncoder`).

    Options, off by default: ``shared_graph_layer=False`` stacks two distinct
    R-GCN layers; ``output_mlp=True`` puts the paper's output layer
    ``LeakyReLU(W_O x + b_O)`` before the classifier (BotRGCN's code has it,
    MGTAB's comments it out); ``init="torch"`` keeps PyTorch's and PyG's
    initialisation.
    """

    def __init__(self, in_channels: int, num_classes: int, num_relations: int,
                 hidden_channels: int = 256, dropout: float = 0.3,
                 feature_blocks: dict[str, tuple[int, int]] | None = None,
                 categorical_columns: Sequence[int] | None = None,
                 shared_graph_layer: bool = True, output_mlp: bool = False, init: str = "authors"):
        super().__init__()
        check_init(init)
        self.dropout = dropout
        self.encoder = BotRGCNEncoder(in_channels, hidden_channels, feature_blocks, categorical_columns)
        self.input = nn.Sequential(nn.Linear(hidden_channels, hidden_channels), nn.LeakyReLU())
        self.conv1 = RGCNConv(hidden_channels, hidden_channels, num_relations)
        self.conv2 = None if shared_graph_layer else RGCNConv(hidden_channels, hidden_channels, num_relations)
        self.output = (nn.Sequential(nn.Linear(hidden_channels, hidden_channels), nn.LeakyReLU())
                       if output_mlp else nn.Identity())
        self.classifier = nn.Linear(hidden_channels, num_classes)
        initialise(self, init)

    def embed(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        """Node embeddings: the classifier's input (the output MLP's hidden layer, if there is one)."""
        h = self.conv1(self.input(self.encoder(x)), edge_index, edge_type)
        h = F.dropout(h, p=self.dropout, training=self.training)
        conv2 = self.conv1 if self.conv2 is None else self.conv2
        return self.output(conv2(h, edge_index, edge_type))

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        return self.classifier(self.embed(x, edge_index, edge_type))

    def load_reference_state(self, reference: nn.Module) -> None:
        """Copy the weights of a :class:`.reference.ReferenceBotRGCN` (same parameter names)."""
        self.load_state_dict(reference.state_dict())
