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
- 20 profile properties (10 binary, 10 min-max scaled log counts) and a 768-d
  tweet-embedding block. Three versions (``twin``), each kept byte for byte so
  that records made on it stay valid: 1, the first twin (bot-shifted rates,
  isotropic class directions); 2, features shaped so that feature models rank
  as in the MGTAB paper (see :func:`_features_v2`): the bot signal in
  thresholds of a few profile columns (two kinds of bot), the stance signal in
  the embedding, partly on a few dimensions, and a share of users whose
  features show another class than theirs; 3, the default: twin 2's features,
  and the bots that evade detection disguised in the follow graph too
  (:data:`GRAPH_DISGUISE`), so that GNNs rank as in the paper on ``bot``:
  GCN and GAT, whose own features are averaged into their neighbours', fall
  below the feature models; models with a separate self weight stay at or
  above them;
- a multi-label ``topics`` task (8 topics, 1-4 per user, nested and
  overlapping sets) for the multi-label losses.

Edges and labels are drawn before the features, so twins 1 and 2 give the
same graph for a seed; twin 3's edges depend on which bots are disguised. The planted signal is tunable: ``feature_signal``
scales the class separation in the features, ``relation_signal`` scales the homophily above chance, so that
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
    twin: int = 3                    # generator version: 1 the first twin, 2 its MGTAB-shaped features, 3 the default

    def __post_init__(self):
        if self.twin not in FEATURE_GENERATORS:
            raise ValueError(f"mgtab-synthetic option twin must be one of {sorted(FEATURE_GENERATORS)} "
                             f"(1: the first twin, 2: MGTAB-shaped features, 3: the default, with bots disguised in the "
                             f"graph too, ranks models like MGTAB), got {self.twin!r}")

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


#: Twin 3: bots that evade detection do so in the graph too. A share of bots
#: follow, and are followed, as a human is (the "heterophilous disguise" that
#: HOFA and HCGBot describe on TwiBot-20/22): their edges are drawn as if they
#: were human. Share of bots disguised so, when their features look human and
#: when they look like a bot's.
GRAPH_DISGUISE = {"features hidden": 0.8, "features shown": 0.4}
#: Twin 3 multiplies each relation's bot share of :data:`RELATION_MIX` by this, so that
#: the bots not disguised keep the relations' bot homophily near twin 1 and 2's.
BOT_MIX_SCALE_V3 = 0.7 / 0.55


def _edge_bot_class(rng, bot: np.ndarray, bot_look: np.ndarray) -> np.ndarray:
    """Twin 3: the bot class each user's edges are drawn for (disguised bots: human)."""
    rate = np.where(bot_look == 1, GRAPH_DISGUISE["features shown"], GRAPH_DISGUISE["features hidden"])
    return np.where((bot == 1) & (rng.random(len(bot)) < rate), 0, bot)


def _relation_mix(twin: int) -> dict[str, tuple[float, float, float]]:
    if twin < 3:
        return RELATION_MIX
    return {rel: (s, b * BOT_MIX_SCALE_V3, t) for rel, (s, b, t) in RELATION_MIX.items()}


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


#: Twin 2's bot signal lives in the profile, as in MGTAB, where tree models
#: do best on ``bot`` from a few thresholded properties. Per column: its kind
#: and its value for a human, a spam bot and a fake follower (the two kinds of
#: bot behave in opposite ways on some counts, so the signal is not linear in
#: them). "bin": probability of a 1; "count": (mu, sigma) of a log-normal
#: count, written min-max scaled on a log scale. Columns not listed are noise.
PROFILE_V2 = {
    1: ("bin", 0.06, 0.30, 0.65),                         # default profile image
    2: ("bin", 0.15, 0.01, 0.00),                         # verified
    6: ("count", (5.5, 1.3), (6.5, 1.2), (7.5, 0.8)),     # friends
    7: ("count", (8.0, 1.0), (11.0, 0.6), (2.5, 1.0)),    # statuses
    9: ("bin", 0.88, 0.70, 0.30),                         # has a description
    11: ("count", (7.6, 0.3), (6.2, 0.6), (6.4, 0.6)),    # account age in days
}
SPAM_SHARE = 0.55            # bots that are spam bots; the others are fake followers
BOT_HIDDEN = 0.19            # bots whose profile and tweets look human
BOT_MIMIC = 0.025            # humans whose profile and tweets look like a bot's
STANCE_HIDDEN = 0.18         # users whose tweets show another stance than theirs
TEXT_NOISE = 0.085           # per-dimension noise of the tweet embedding
NUISANCE_FACTORS = 16        # low-rank variation shared by all classes: it blurs distances, not linear scores
NUISANCE_SCALE = 0.012       # per-dimension weight of each of those factors
STANCE_DIMS = 128            # embedding dimensions that carry part of the stance signal
STANCE_SPARSE = 0.055        # per-dimension stance pattern on those dimensions (what trees split on)
STANCE_DENSE = 0.7           # stance direction spread over all dimensions (what linear models use)
BOT_TEXT = 0.75              # spam bots and fake followers tweet on opposite sides of humans
TOPIC_TEXT = 0.25            # per-topic direction in the embedding


def _profile(rng, n, bot, signal):
    """Twin 1: 20 MGTAB-style properties, binary flags and min-max scaled log counts."""
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
    """Twin 1: 768-d tweet-embedding block, class directions times ``signal`` plus noise."""
    n = len(stance)
    dirs = rng.standard_normal((3 + 2 + NUM_TOPICS, TWEET_DIM)).astype(np.float32)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    emb = rng.standard_normal((n, TWEET_DIM)).astype(np.float32) / math.sqrt(TWEET_DIM) * 4.0
    emb += 0.26 * signal * dirs[stance]
    emb += 0.2 * signal * dirs[3 + bot]
    emb += 0.25 * signal * (topics.astype(np.float32) @ dirs[5:])
    return emb


def _features_v1(rng, stance, bot, main_topic, topics, signal):
    return _profile(rng, len(bot), bot, signal), _tweets(rng, stance, bot, main_topic, topics, signal)


def _min_max_log(raw: np.ndarray) -> np.ndarray:
    logv = np.log1p(raw)
    return (logv - logv.min()) / max(logv.max() - logv.min(), 1e-12)


def _profile_v2(rng, look, signal):
    """Twin 2: 20 properties; ``look`` is the kind each user's profile shows (0 human, 1 spam, 2 fake)."""
    n = len(look)
    prof = np.zeros((n, NUM_PROFILE_COLUMNS), dtype=np.float32)
    for col in range(NUM_PROFILE_COLUMNS):
        kind, human, *bots = PROFILE_V2.get(col, (None, None))
        if kind == "bin":
            p = np.clip(human + signal * (np.array([human, *bots]) - human), 0.005, 0.995)[look]
            prof[:, col] = rng.random(n) < p
        elif kind == "count":
            mu, sigma = (np.array([h] + [b[i] for b in bots]) for i, h in enumerate(human))
            mu, sigma = mu[0] + signal * (mu - mu[0]), np.maximum(sigma[0] + signal * (sigma - sigma[0]), 0.1)
            prof[:, col] = _min_max_log(rng.lognormal(mu[look], sigma[look]))
        elif col in MGTAB_CATEGORICAL:
            prof[:, col] = rng.random(n) < rng.uniform(0.05, 0.3)
        else:
            prof[:, col] = _min_max_log(rng.lognormal(3.0, 1.5, n))
    return prof


def _hide(rng, labels: np.ndarray, rate: np.ndarray, num_classes: int) -> np.ndarray:
    """The class each user's features show: their own, or (with probability ``rate``) another one."""
    other = (labels + rng.integers(1, num_classes, len(labels))) % num_classes
    return np.where(rng.random(len(labels)) < rate, other, labels)


def _add_products(out: np.ndarray, coefficients: np.ndarray, directions: np.ndarray) -> None:
    """``out += coefficients @ directions`` one rank-1 term at a time: element-wise float32
    arithmetic gives the same bytes whatever BLAS and thread count a machine has."""
    for k in range(coefficients.shape[1]):
        out += coefficients[:, k:k + 1] * directions[k]


def _bot_look(rng, bot: np.ndarray) -> np.ndarray:
    """The bot class each user's features show: hidden bots look human, a few humans look automated."""
    return _hide(rng, bot, np.where(bot == 1, BOT_HIDDEN, BOT_MIMIC), 2)


def _features_v2(rng, stance, bot, main_topic, topics, signal, bot_look=None):
    """Twin 2: bot signal in thresholded profile columns, stance signal in the embedding.

    A share of users show another class than theirs (hidden bots, humans that
    look automated, tweets that do not show one's stance): no feature model gets
    past that, while neighbours in the graph still tell; these users tweet about
    the topics of a user of the class they show, so topics do not leak the label.
    ``bot_look`` is drawn here unless the edges needed it first (twin 3).
    """
    n = len(stance)
    bot_look = _bot_look(rng, bot) if bot_look is None else bot_look
    look = np.where(bot_look == 1, np.where(rng.random(n) < SPAM_SHARE, 1, 2), 0)
    profile = _profile_v2(rng, look, signal)
    stance_look = _hide(rng, stance, np.full(n, STANCE_HIDDEN), 3)
    donor = np.arange(n)
    for c in range(3):
        moved = np.flatnonzero((stance_look == c) & (stance != c))
        donor[moved] = rng.choice(np.flatnonzero(stance == c), size=len(moved))
    dims = rng.permutation(TWEET_DIM)[:STANCE_DIMS]
    sparse = np.zeros((3, TWEET_DIM), dtype=np.float32)
    sparse[:, dims] = rng.standard_normal((3, STANCE_DIMS))
    dirs = rng.standard_normal((3 + 2 + NUM_TOPICS, TWEET_DIM)).astype(np.float32)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    mixing = rng.standard_normal((NUISANCE_FACTORS, TWEET_DIM)).astype(np.float32) * NUISANCE_SCALE
    emb = rng.standard_normal((n, TWEET_DIM)).astype(np.float32) * TEXT_NOISE
    _add_products(emb, rng.standard_normal((n, NUISANCE_FACTORS)).astype(np.float32), mixing)
    emb += signal * (STANCE_SPARSE * sparse[stance_look] + STANCE_DENSE * dirs[stance_look])
    # spam bots and fake followers tweet on opposite sides of humans: no linear signal
    emb += signal * BOT_TEXT * np.array([0.0, 2 * (1 - SPAM_SHARE), -2 * SPAM_SHARE], np.float32)[look, None] * dirs[3]
    _add_products(emb, topics[donor].astype(np.float32), signal * TOPIC_TEXT * dirs[5:])
    return profile, emb


#: ``twin`` option -> feature generator; each draws from the same stream after the edges
#: (twin 3 draws which bots its features hide before the edges, which depend on it).
FEATURE_GENERATORS = {1: _features_v1, 2: _features_v2, 3: _features_v2}


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
    bot_look, edge_bot = None, bot
    if config.twin >= 3:
        bot_look = _bot_look(rng, bot)
        edge_bot = _edge_bot_class(rng, bot, bot_look)
    samplers = {
        "all_src": _GroupSampler(np.zeros(n_all, dtype=np.int64), activity),
        "stance": (_GroupSampler(stance, popularity), stance),
        "bot": (_GroupSampler(edge_bot, popularity), edge_bot),
        "topic": (_GroupSampler(main_topic, popularity), main_topic),
        "all": (_GroupSampler(np.zeros(n_all, dtype=np.int64), popularity), np.zeros(n_all, dtype=np.int64)),
    }
    base = LARGE_EDGE_COUNTS if config.large else EDGE_COUNTS
    ref_n = LARGE_NUM_NODES if config.large else MGTAB_NUM_NODES
    max_edges = n_all * (n_all - 1)
    rel_edges, mix = [], _relation_mix(config.twin)
    for rel in MGTAB_RELATIONS:
        count = min(max_edges // 4, max(1, round(base[rel] * config.edge_scale * n_all / ref_n)))
        rel_edges.append(_relation_edges(rng, count, activity, samplers, mix[rel],
                                         config.relation_signal, n_all))
    shown = {} if bot_look is None else {"bot_look": bot_look}
    profile, tweets = FEATURE_GENERATORS[config.twin](rng, stance, bot, main_topic, topics, config.feature_signal,
                                                      **shown)
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
