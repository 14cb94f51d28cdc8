"""BotMoE (Liu et al., SIGIR 2023, "BotMoE: Twitter Bot Detection with Community-Aware Mixtures of
Modal-Specific Experts").

Three modalities of a user (metadata, text, graph), each through a mixture of
experts whose gate routes a user to the experts of its kind (for the graph
modality, by its relational embedding: the paper's community-aware routing),
then an expert-fusion layer (self-attention across the three modality
outputs). Our reading of the authors' code (lyh6560new/BotMoE: ``moe_all.py``,
``ThreeInONE.py``, ``Botrgcn.py``, ``main.py``) and what we chose is in
``docs/BASELINES.md`` ("Frontier detectors").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions.normal import Normal

from mgbench.nn import RGCNConv
from mgbench.registry import Choice, IntRange, LogUniform, Uniform, register_model



def cv_squared(values: Tensor) -> Tensor:
    """Squared coefficient of variation ``var / mean^2`` (0 for one value): the balance penalty of Shazeer et al."""
    if values.numel() < 2:
        return values.new_zeros(())
    values = values.float()
    return values.var() / (values.mean() ** 2 + 1e-10)


class NoisyTopKGate(nn.Module):
    """Noisy top-k gating (Shazeer et al., ICLR 2017): ``gates [N, E]``, each row ``k`` nonzero entries summing to 1.

    ``logits = x W_g`` (+ ``N(0, 1) * softplus(x W_noise)`` in training);
    ``gates = softmax`` over each row's top-k logits, 0 elsewhere. The load
    estimate for the balance loss is the smooth probability of each expert
    being in the top k under the noise (training) or the count of nonzero
    gates (evaluation).
    """

    def __init__(self, in_features: int, num_experts: int, k: int, noise_epsilon: float = 1e-2):
        super().__init__()
        if not 1 <= k <= num_experts:
            raise ValueError(f"top-k gating needs 1 <= k <= num_experts, got k={k}, num_experts={num_experts}")
        self.k, self.num_experts, self.noise_epsilon = k, num_experts, noise_epsilon
        # zeros, as the authors' MoE: every expert starts equally likely
        self.w_gate = nn.Parameter(torch.zeros(in_features, num_experts))
        self.w_noise = nn.Parameter(torch.zeros(in_features, num_experts))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(gates [N, E], load [E])``."""
        clean = x @ self.w_gate
        noisy = self.training and self.k < self.num_experts
        if noisy:
            stddev = F.softplus(x @ self.w_noise) + self.noise_epsilon
            logits = clean + torch.randn_like(clean) * stddev
        else:
            logits = clean
        top, index = logits.topk(min(self.k + 1, self.num_experts), dim=1)
        gates = torch.zeros_like(logits).scatter(1, index[:, :self.k], torch.softmax(top[:, :self.k], dim=1))
        if noisy:
            load = self._prob_in_top_k(clean, logits, stddev, top).sum(0)
        else:
            load = (gates > 0).sum(0).to(gates.dtype)
        return gates, load

    def _prob_in_top_k(self, clean: Tensor, noisy: Tensor, stddev: Tensor, top: Tensor) -> Tensor:
        """P(expert in the top k) under fresh noise: above the k-th largest of the others."""
        threshold_in = top[:, self.k:self.k + 1]      # the (k+1)-th value: the bar if the expert is in
        threshold_out = top[:, self.k - 1:self.k]     # the k-th value: the bar if it is out
        normal = Normal(torch.zeros((), device=clean.device), torch.ones((), device=clean.device))
        is_in = noisy > threshold_in
        return torch.where(is_in, normal.cdf((clean - threshold_in) / stddev),
                           normal.cdf((clean - threshold_out) / stddev))


class MixtureOfExperts(nn.Module):
    """``sum_e gates[:, e] * expert_e(x)`` with two-layer MLP experts and a noisy top-k gate on ``gate_input``.

    Every expert runs on every node (dense): the experts are small, a node's
    ``k`` experts are most of the work anyway, and dense keeps it one batched
    matmul. ``balance_loss`` holds the last forward's
    ``cv^2(importance) + cv^2(load)``.
    """

    def __init__(self, in_features: int, gate_features: int, out_features: int, hidden: int, num_experts: int,
                 k: int):
        super().__init__()
        self.gate = NoisyTopKGate(gate_features, num_experts, k)
        self.w1 = nn.Parameter(torch.empty(num_experts, in_features, hidden))
        self.b1 = nn.Parameter(torch.empty(num_experts, 1, hidden))
        self.w2 = nn.Parameter(torch.empty(num_experts, hidden, out_features))
        self.b2 = nn.Parameter(torch.empty(num_experts, 1, out_features))
        for w, b, fan_in in ((self.w1, self.b1, in_features), (self.w2, self.b2, hidden)):
            bound = fan_in ** -0.5  # nn.Linear's initialisation, per expert
            nn.init.uniform_(w, -bound, bound)
            nn.init.uniform_(b, -bound, bound)
        self.balance_loss: Tensor | None = None

    def forward(self, x: Tensor, gate_input: Tensor) -> Tensor:
        gates, load = self.gate(gate_input)
        self.balance_loss = cv_squared(gates.sum(0)) + cv_squared(load)
        hidden = F.relu(torch.baddbmm(self.b1, x.unsqueeze(0).expand(self.w1.size(0), -1, -1), self.w1))
        out = torch.baddbmm(self.b2, hidden, self.w2)  # [E, N, out]
        return torch.einsum("ne,eno->no", gates, out)


def _block(blocks: dict, *names: str) -> tuple[int, int] | None:
    return next((tuple(blocks[n]) for n in names if n in blocks), None)


@register_model("botmoe", kind="gnn", defaults={
    "align_channels": 128, "expert_hidden": 128, "out_channels": 4, "graph_experts": 3, "text_experts": 2,
    "metadata_experts": 3, "top_k": 1, "dropout": 0.3, "balance_weight": 0.01}, search_space={
    "lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-2),
    "align_channels": Choice([32, 64, 128]), "expert_hidden": Choice([64, 128, 256]), "out_channels": Choice([4, 8, 16]), "graph_experts": IntRange(1, 4),
    "text_experts": IntRange(1, 4), "metadata_experts": IntRange(1, 4), "top_k": IntRange(1, 2),
    "dropout": Uniform(0.0, 0.6), "balance_weight": LogUniform(1e-3, 1e-1)})
class BotMoE(nn.Module):
    """BotMoE: metadata, text and graph mixtures of experts, fused by self-attention across modalities.

    Blocks come from the graph's ``feature_blocks``: metadata = ``profile``;
    text = ``tweet`` (or ``text``) plus ``description`` where present; the
    graph modality reads every block. Each block is aligned to
    ``align_channels`` (Linear + LeakyReLU). Then, per modality, an MoE of
    ``*_experts`` MLPs (``expert_hidden`` wide, ``out_channels`` out) with
    noisy top-``top_k`` gating:

    - graph: two R-GCN layers over the aligned blocks (dropout between), the
      gate on the resulting relational embedding (community-aware routing);
    - text: experts and gate on the aligned text blocks;
    - metadata: experts and gate on the aligned profile.

    Fusion: the three outputs as tokens ``[N, 3, out]`` (batch-normalised),
    one single-head self-attention layer with residual and layer norm; the
    embedding is the fused tokens with the flattened 3x3 attention map,
    batch-normalised, and ``classifier`` a Linear on it. The training
    objective adds ``balance_weight`` times the experts' balance losses.
    """

    relational = True

    def __init__(self, in_channels: int, num_classes: int, num_relations: int, align_channels: int = 128,
                 expert_hidden: int = 128, out_channels: int = 4, graph_experts: int = 3, text_experts: int = 2,
                 metadata_experts: int = 3, top_k: int = 1, dropout: float = 0.3, balance_weight: float = 0.01,
                 feature_blocks: dict[str, tuple[int, int]] | None = None):
        super().__init__()
        if feature_blocks is None:
            # Imported here, not at the top: registering the model must not load the dataset layer.
            from mgbench.datasets.layout import NUM_PROFILE_COLUMNS

            feature_blocks = {"profile": (0, NUM_PROFILE_COLUMNS), "tweet": (NUM_PROFILE_COLUMNS, in_channels)}
        metadata = _block(feature_blocks, "profile")
        text = [b for b in (_block(feature_blocks, "tweet", "text"), _block(feature_blocks, "description")) if b]
        if metadata is None or not text:
            raise ValueError(f"BotMoE needs a 'profile' block and a 'tweet' or 'text' block, got "
                             f"{sorted(feature_blocks)}")
        blocks = [metadata, *text]
        if max(stop for _, stop in blocks) > in_channels:
            raise ValueError(f"feature blocks reach beyond the {in_channels} input columns")
        if min(graph_experts, text_experts, metadata_experts) < 1:
            raise ValueError("every modality needs at least one expert")
        self.blocks = blocks  # [metadata, text..., ]: column ranges of x
        self.dropout, self.balance_weight = dropout, balance_weight
        self.align = nn.ModuleList(nn.Sequential(nn.Linear(stop - start, align_channels), nn.LeakyReLU())
                                   for start, stop in blocks)
        graph_width = align_channels * len(blocks)
        self.conv1 = RGCNConv(graph_width, graph_width, num_relations)
        self.conv2 = RGCNConv(graph_width, graph_width, num_relations)
        text_width = align_channels * len(text)
        self.graph_moe = MixtureOfExperts(graph_width, graph_width, out_channels, expert_hidden, graph_experts, top_k)
        self.text_moe = MixtureOfExperts(text_width, text_width, out_channels, expert_hidden, text_experts,
                                         min(top_k, text_experts))
        self.metadata_moe = MixtureOfExperts(align_channels, align_channels, out_channels, expert_hidden,
                                             metadata_experts, min(top_k, metadata_experts))
        self.token_norm = nn.BatchNorm1d(out_channels)
        self.query = nn.Linear(out_channels, out_channels)
        self.key = nn.Linear(out_channels, out_channels)
        self.value = nn.Linear(out_channels, out_channels)
        self.fusion_norm = nn.LayerNorm(out_channels)
        embedding = 3 * out_channels + 9
        self.embedding_norm = nn.BatchNorm1d(embedding)
        self.classifier = nn.Linear(embedding, num_classes)
        self.attention: Tensor | None = None

    def fuse(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """Single-head self-attention over the modality tokens ``[N, 3, d]``: ``(fused, attention [N, 3, 3])``."""
        q, k, v = self.query(tokens), self.key(tokens), self.value(tokens)
        attention = torch.softmax(q @ k.transpose(1, 2) / tokens.size(-1) ** 0.5, dim=-1)
        return self.fusion_norm(tokens + attention @ v), attention

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        aligned = [align(x[:, start:stop]) for align, (start, stop) in zip(self.align, self.blocks)]
        g = F.relu(self.conv1(torch.cat(aligned, dim=1), edge_index, edge_type))
        g = F.dropout(g, p=self.dropout, training=self.training)
        g = self.conv2(g, edge_index, edge_type)
        text = torch.cat(aligned[1:], dim=1)
        outputs = [self.metadata_moe(aligned[0], aligned[0]), self.text_moe(text, text), self.graph_moe(g, g)]
        tokens = self.token_norm(torch.stack(outputs, dim=1).transpose(1, 2)).transpose(1, 2)
        tokens = F.dropout(tokens, p=self.dropout, training=self.training)
        fused, self.attention = self.fuse(tokens)
        z = self.embedding_norm(torch.cat([fused.flatten(1), self.attention.flatten(1)], dim=1))
        return self.classifier(z)

    def balance_loss(self) -> Tensor:
        """The last forward's balance losses of the three mixtures, summed."""
        return sum(m.balance_loss for m in (self.metadata_moe, self.text_moe, self.graph_moe))

    def training_loss(self, logits: Tensor, y: Tensor, train_idx: Tensor, loss_fn) -> Tensor:
        return loss_fn(logits[train_idx], y[train_idx]) + self.balance_weight * self.balance_loss()
