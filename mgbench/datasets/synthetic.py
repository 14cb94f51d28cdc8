"""``mgtab-synthetic``: a seeded twin of MGTAB, written in MGTAB's own file layout.

Why a twin: every command of the suite must run with no download, and the tests
must exercise the real loading code. The generator therefore writes the same
``.pt`` files as the MGTAB archive and :func:`.layout.read_mgtab` reads them.

What it reproduces (targets from MGTAB's README, scaled to ``num_nodes``):

- class balance: stance neutral/against/support 3,776/3,637/2,786, bots 26.94 %;
- per-relation edge counts (1,700,108 edges at 10,199 nodes), no self loops,
  no duplicate edge within a relation;
- heavy-tailed in- and out-degrees (log-normal activity and popularity);
- per-relation label homophily: each edge joins its source to a node of the
  same stance class, the same bot class or the same main topic with
  relation-specific probabilities (:data:`RELATION_MIX`), otherwise to any
  node by popularity. Follow relations carry the bot signal (bots follow bots),
  interaction relations the stance signal, URL/hashtag mostly noise;
- 20 profile properties (10 binary, 10 min-max scaled counts, with bot-shifted
  rates) and a 768-d tweet-embedding block;
- a multi-label ``topics`` task (8 topics, 1-4 per user, nested and
  overlapping sets) for the multi-label losses.

The planted signal is tunable: ``feature_signal`` scales the class separation
in the features, ``relation_signal`` scales the homophily above chance, so that
feature models, homogeneous GNNs and relational GNNs can be told apart.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .graph import MGTAB_RELATIONS
from .io import save_pt
from .layout import MGTAB_CATEGORICAL, NUM_PROFILE_COLUMNS

MGTAB_NUM_NODES = 10_199
STANCE_COUNTS = (3_776, 3_637, 2_786)
BOT_COUNTS = (7_451, 2_748)
EDGE_COUNTS = {"followers": 308_120, "friends": 412_575, "mention": 114_516, "reply": 223_466,
               "quoted": 77_631, "url": 263_800, "hashtag": 300_000}
LARGE_NUM_NODES = 410_199
LARGE_EDGE_COUNTS = {"followers": 31_990_488, "friends": 49_668_723, "mention": 7_135_192, "reply": 1_018_834,
                     "quoted": 182_296, "url": 51_281, "hashtag": 7_950_896}
NUM_TOPICS = 8
TWEET_DIM = 768

#: Per relation: probability that an edge's target is drawn from the source's
#: (stance class, bot class, main topic); otherwise from everyone by popularity.
#: Chosen so that the resulting edge homophily is high on the relations where
#: MGTAB's authors report relational signal and near chance on url/hashtag.
RELATION_MIX = {
    "followers": (0.25, 0.55, 0.05),
    "friends": (0.25, 0.50, 0.05),
    "mention": (0.60, 0.10, 0.10),
    "reply": (0.55, 0.10, 0.10),
    "quoted": (0.65, 0.05, 0.10),
    "url": (0.10, 0.05, 0.30),
    "hashtag": (0.15, 0.00, 0.50),
}


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that defines a synthetic graph; its hash names the cache folder."""

    num_nodes: int = MGTAB_NUM_NODES
    seed: int = 0
    feature_signal: float = 1.0
    relation_signal: float = 1.0
    edge_scale: float = 1.0          # multiplies the per-relation edge counts
    large: bool = False              # MGTAB-large layout: 400,000 extra unlabelled users first-labelled

    def key(self) -> str:
        """Folder name: the settings, plus a hash of this generator's code so that a
        changed generator never serves graphs made by an older one."""
        parts = [f"{k}{v}" for k, v in sorted(asdict(self).items())]
        code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:8]
        return "-".join(parts + [code])


def _counts(total: int, weights: tuple[int, ...]) -> np.ndarray:
    """Split ``total`` in proportion to ``weights`` (largest remainders), summing exactly."""
    w = np.asarray(weights, dtype=np.float64)
    raw = total * w / w.sum()
    out = np.floor(raw).astype(np.int64)
    out[np.argsort(-(raw - out), kind="stable")[: total - out.sum()]] += 1
    return out


def _labels(rng: np.random.Generator, n: int, counts: tuple[int, ...]) -> np.ndarray:
    y = np.repeat(np.arange(len(counts)), _counts(n, counts))
    return rng.permutation(y)


def _topics(rng: np.random.Generator, n: int, stance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Main topic (stance-correlated) plus 0-3 extra topics from a co-occurrence ladder.

    Extras come from the main topic's neighbours ``t+1, t+2, ...`` (mod 8) with
    decreasing probability, so that nested sets (subsets/supersets), partial
    overlaps and disjoint sets all occur between users.
    """
    main = (2 * stance + rng.integers(0, 3, n)) % NUM_TOPICS
    sizes = rng.choice(4, size=n, p=(0.4, 0.3, 0.2, 0.1)) + 1
    multi = np.zeros((n, NUM_TOPICS), dtype=np.int64)
    multi[np.arange(n), main] = 1
    for k in range(1, 4):
        has = sizes > k
        step = np.where(rng.random(n) < 0.7, k, rng.integers(1, NUM_TOPICS, n))
        multi[np.flatnonzero(has), ((main + step) % NUM_TOPICS)[has]] = 1
    return main, multi


class _GroupSampler:
    """Draw, for many sources at once, a target of the same group weighted by popularity."""

    def __init__(self, groups: np.ndarray, weights: np.ndarray):
        self.order = np.argsort(groups, kind="stable")
        sorted_groups = groups[self.order]
        self.starts = np.searchsorted(sorted_groups, np.arange(groups.max() + 2))
        self.cum = np.cumsum(weights[self.order])
        self.base = np.concatenate([[0.0], self.cum])

    def sample(self, rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
        lo = self.base[self.starts[groups]]
        hi = self.base[self.starts[groups + 1]]
        u = lo + rng.random(len(groups)) * (hi - lo)
        pos = np.searchsorted(self.cum, u, side="right")
        return self.order[np.minimum(pos, len(self.order) - 1)]


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values, exactly as ``np.unique`` returns them, by sorting:
    NumPy >= 2.3's hash-based ``np.unique`` is ~70x slower on millions of random
    int64 edge keys, which made MGTAB-large-sized graphs take hours."""
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if a.size else a


def _relation_edges(rng, count, activity, samplers, mix, relation_signal, n):
    """``count`` distinct non-loop edges of one relation."""
    p_stance, p_bot, p_topic = (min(1.0, m * relation_signal) for m in mix)
    total_p = p_stance + p_bot + p_topic
    if total_p > 1.0:
        p_stance, p_bot, p_topic = (p / total_p for p in (p_stance, p_bot, p_topic))
    src_sampler = samplers["all_src"]
    chunks, have = [], 0
    seen = np.empty(0, dtype=np.int64)
    while have < count:
        m = int((count - have) * 1.15) + 64
        src = src_sampler.sample(rng, np.zeros(m, dtype=np.int64))
        u = rng.random(m)
        dst = np.empty(m, dtype=np.int64)
        for name, lo, hi in (("stance", 0, p_stance), ("bot", p_stance, p_stance + p_bot),
                             ("topic", p_stance + p_bot, p_stance + p_bot + p_topic),
                             ("all", p_stance + p_bot + p_topic, 1.0 + 1e-9)):
            sel = (u >= lo) & (u < hi)
            if sel.any():
                sampler, group = samplers[name]
                dst[sel] = sampler.sample(rng, group[src[sel]])
        keep = src != dst
        key = _unique(src[keep] * n + dst[keep])
        key = np.setdiff1d(key, seen, assume_unique=True)
        key = rng.permutation(key)[: count - have]
        seen = _unique(np.concatenate([seen, key]))
        chunks.append(key)
        have += len(key)
    key = rng.permutation(np.concatenate(chunks))
    return np.stack([key // n, key % n])


def _profile(rng, n, bot, signal):
    """20 MGTAB-style properties: binary flags and min-max scaled log counts."""
    prof = np.zeros((n, NUM_PROFILE_COLUMNS), dtype=np.float32)
    shift = 0.3 * signal * (2 * bot - 1)  # bots: +, humans: -
    for col in range(NUM_PROFILE_COLUMNS):
        if col in MGTAB_CATEGORICAL:
            base = rng.uniform(0.15, 0.85)
            logit = math.log(base / (1 - base)) + shift * rng.choice([-1.0, 1.0])
            prof[:, col] = rng.random(n) < 1 / (1 + np.exp(-logit))
        else:
            raw = rng.lognormal(mean=3.0 + shift * rng.choice([-1.0, 1.0]), sigma=1.5, size=n)
            logv = np.log1p(raw)
            prof[:, col] = (logv - logv.min()) / max(logv.max() - logv.min(), 1e-12)
    return prof


def _tweets(rng, stance, bot, main_topic, topics, signal):
    """768-d tweet-embedding block: class directions times ``signal`` plus noise."""
    n = len(stance)
    dirs = rng.standard_normal((3 + 2 + NUM_TOPICS, TWEET_DIM)).astype(np.float32)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    emb = rng.standard_normal((n, TWEET_DIM)).astype(np.float32) / math.sqrt(TWEET_DIM) * 4.0
    emb += 0.26 * signal * dirs[stance]
    emb += 0.2 * signal * dirs[3 + bot]
    emb += 0.25 * signal * (topics.astype(np.float32) @ dirs[5:])
    return emb


def generate(config: SyntheticConfig) -> dict[str, torch.Tensor]:
    """Generate the graph as the MGTAB archive's tensors (file name -> tensor)."""
    rng = np.random.default_rng(config.seed)
    n_all = LARGE_NUM_NODES if config.large and config.num_nodes == MGTAB_NUM_NODES else config.num_nodes
    n_lab = min(MGTAB_NUM_NODES, n_all) if config.large else n_all
    if config.large and config.num_nodes != MGTAB_NUM_NODES:
        n_lab = max(1, round(n_all * MGTAB_NUM_NODES / LARGE_NUM_NODES))
    stance = _labels(rng, n_all, STANCE_COUNTS)
    bot = _labels(rng, n_all, BOT_COUNTS)
    main_topic, topics = _topics(rng, n_all, stance)
    activity = rng.lognormal(0.0, 1.2, n_all)      # out-degree propensity
    popularity = rng.lognormal(0.0, 1.4, n_all)    # in-degree propensity
    samplers = {
        "all_src": _GroupSampler(np.zeros(n_all, dtype=np.int64), activity),
        "stance": (_GroupSampler(stance, popularity), stance),
        "bot": (_GroupSampler(bot, popularity), bot),
        "topic": (_GroupSampler(main_topic, popularity), main_topic),
        "all": (_GroupSampler(np.zeros(n_all, dtype=np.int64), popularity), np.zeros(n_all, dtype=np.int64)),
    }
    base = LARGE_EDGE_COUNTS if config.large else EDGE_COUNTS
    ref_n = LARGE_NUM_NODES if config.large else MGTAB_NUM_NODES
    max_edges = n_all * (n_all - 1)
    rel_edges = []
    for rel in MGTAB_RELATIONS:
        count = min(max_edges // 4, max(1, round(base[rel] * config.edge_scale * n_all / ref_n)))
        rel_edges.append(_relation_edges(rng, count, activity, samplers, RELATION_MIX[rel],
                                         config.relation_signal, n_all))
    profile = _profile(rng, n_all, bot, config.feature_signal)
    tweets = _tweets(rng, stance, bot, main_topic, topics, config.feature_signal)
    x = torch.from_numpy(np.concatenate([profile, tweets], axis=1))
    lab = lambda a: torch.from_numpy(a[:n_lab].astype(np.int64))  # noqa: E731
    files = {"labels_stance.pt": lab(stance), "labels_bot.pt": lab(bot), "labels_topics.pt": lab(topics)}
    if config.large:
        files["large_features.pt"] = x
        for r, ei in enumerate(rel_edges):
            files[f"large_edge_index{r}.pt"] = torch.from_numpy(ei)
        return files
    edge_index = np.concatenate(rel_edges, axis=1)
    edge_type = np.concatenate([np.full(e.shape[1], r) for r, e in enumerate(rel_edges)])
    interaction = np.isin(edge_type, [2, 3, 4])  # mention/reply/quoted: repeated interactions
    weight = np.where(interaction, rng.geometric(0.6, len(edge_type)), 1).astype(np.float32)
    files.update({"features.pt": x, "edge_index.pt": torch.from_numpy(edge_index),
                  "edge_type.pt": torch.from_numpy(edge_type.astype(np.int64)),
                  "edge_weight.pt": torch.from_numpy(weight)})
    return files


def write(config: SyntheticConfig, folder: str | Path) -> Path:
    """Generate and save in the MGTAB layout; a ``COMPLETE`` marker is written last."""
    folder = Path(folder)
    marker = folder / "COMPLETE"
    if marker.is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for fname, tensor in generate(config).items():
        save_pt(tensor, folder / fname)
    marker.write_text(config.key() + "\n")
    return folder
