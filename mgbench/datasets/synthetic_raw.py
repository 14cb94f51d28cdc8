"""``twibot22-synthetic``: a seeded raw dataset in the TwiBot-22 file layout.

Why: the text and image pipelines read raw tweets and profile pictures, which no
tensor archive holds, and CI has no network. This generator writes the same
files a TwiBot-22 user has (``node.json`` with users and tweets, ``edge.csv``
with ``post`` edges from users to their tweets, ``label.csv``, ``split.csv``)
plus small PNG profile images, so :func:`.twibot.read_twibot22` and the
encoders run end to end offline.

Planted signal, each tunable so that feature recipes can be told apart:

- text (strong): a share ``text_signal`` of a tweet's content words comes from
  the author's class word list (bots: promotion vocabulary; humans: everyday
  life), the rest from a neutral list shared by both;
- image: bots' pictures are reddish with stripes, humans' bluish with a disc,
  mixed with noise by ``image_signal``;
- profile (weak): bots post more and follow more, shifted by ``profile_signal``;
- relations: follow edges join users of the same class with probability
  ``homophily``.

Some users have no tweets and some no picture, a few edges point outside the
data, and ``corrupt_images`` pictures are garbage bytes, so the loaders' and
encoders' edge cases are exercised too.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from torch_geometric.data import Data

from .twibot import open_twibot22

BOT_WORDS = ("giveaway", "crypto", "airdrop", "promo", "discount", "click", "free", "win", "deal", "bonus",
             "followback", "subscribe", "offer", "token", "signal", "profit")
HUMAN_WORDS = ("family", "dinner", "weekend", "friends", "coffee", "garden", "concert", "hiking", "kids",
               "morning", "birthday", "book", "rain", "cooking", "vacation", "school")
NEUTRAL_WORDS = ("today", "really", "just", "this", "about", "with", "time", "new", "people", "think",
                 "good", "know", "great", "day", "thing", "still", "going", "very", "here", "after")


@dataclass(frozen=True)
class TwiBot22SyntheticConfig:
    """Everything that defines a synthetic TwiBot-22 folder; its :meth:`key` names the folder."""

    num_users: int = 200
    tweets_per_user: int = 6          # mean; a few users get none
    words_per_tweet: int = 8
    bot_fraction: float = 0.3
    text_signal: float = 0.5
    image_signal: float = 0.7
    profile_signal: float = 0.2
    homophily: float = 0.7
    follows_per_user: float = 3.0
    image_fraction: float = 0.85      # users with a picture
    image_size: int = 32
    corrupt_images: int = 0
    seed: int = 0

    def key(self) -> str:
        """Short enough for a folder name whatever the fields: size, seed, then a hash of the rest."""
        digest = hashlib.sha256(repr(sorted(asdict(self).items())).encode()).hexdigest()[:12]
        return f"n{self.num_users}-seed{self.seed}-{digest}"


def _tweet(rng: np.random.Generator, words: tuple[str, ...], config: TwiBot22SyntheticConfig) -> str:
    n = rng.integers(config.words_per_tweet // 2, config.words_per_tweet + 1)
    from_class = rng.random(n) < config.text_signal
    return " ".join(str(rng.choice(words)) if c else str(rng.choice(NEUTRAL_WORDS)) for c in from_class)


def _image(rng: np.random.Generator, bot: bool, config: TwiBot22SyntheticConfig) -> Image.Image:
    """A ``image_size``-square RGB picture: class colour and pattern, blended with noise."""
    s = config.image_size
    yy, xx = np.mgrid[0:s, 0:s] / s
    if bot:
        base = np.stack([0.9 + 0 * xx, 0.3 * (np.sin(12 * xx) > 0), 0.2 + 0 * xx], axis=-1)
    else:
        disc = ((xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.1).astype(float)
        base = np.stack([0.2 + 0 * xx, 0.3 + 0.5 * disc, 0.9 + 0 * xx], axis=-1)
    pixels = config.image_signal * base + (1 - config.image_signal) * rng.random((s, s, 3))
    return Image.fromarray((pixels.clip(0, 1) * 255).astype(np.uint8), "RGB")


def _user(rng: np.random.Generator, i: int, bot: bool, image: str | None, config: TwiBot22SyntheticConfig) -> dict:
    shift = config.profile_signal if bot else 0.0
    year = int(rng.integers(2008, 2022))
    return {
        "id": f"u{i}", "name": f"User {i}", "username": f"user_{i:05d}",
        "description": " ".join(rng.choice(NEUTRAL_WORDS, size=int(rng.integers(0, 12)))),
        "created_at": f"{year}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d} 12:00:00+00:00",
        "public_metrics": {"followers_count": int(rng.lognormal(5.0, 2.0)),
                           "following_count": int(rng.lognormal(5.0 + 3 * shift, 1.5)),
                           "tweet_count": int(rng.lognormal(7.0 + 5 * shift, 1.5)),
                           "listed_count": int(rng.lognormal(1.0, 1.0))},
        "verified": bool(rng.random() < 0.1 * (1 - shift)), "protected": bool(rng.random() < 0.05),
        "location": None if rng.random() < 0.4 else "Somewhere", "url": None,
        "profile_image_url": image, "pinned_tweet_id": None,
    }


def generate_twibot22(config: TwiBot22SyntheticConfig, folder: str | os.PathLike) -> Path:
    """Write the dataset into ``folder`` (created whole or not at all) and return it.

    An existing ``folder`` is taken as complete: the files are written into a
    temporary sibling that is renamed into place only when every file is there.
    """
    folder = Path(folder)
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        _write(config, tmp)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not folder.is_dir():  # else another process finished the same folder first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _write(config: TwiBot22SyntheticConfig, folder: Path) -> None:
    rng = np.random.default_rng(config.seed)
    n = config.num_users
    bot = rng.random(n) < config.bot_fraction
    (folder / "images").mkdir()
    with_image = rng.random(n) < config.image_fraction
    corrupt = set(rng.choice(np.flatnonzero(with_image), size=min(config.corrupt_images, int(with_image.sum())),
                             replace=False).tolist())
    nodes, edges = [], []
    for i in range(n):
        image = None
        if with_image[i]:
            image = f"images/u{i}.png"
            if i in corrupt:
                (folder / image).write_bytes(b"\x89PNG not really an image")
            else:
                _image(rng, bool(bot[i]), config).save(folder / image)
        nodes.append(_user(rng, i, bool(bot[i]), image, config))
    tweet_id = 0
    words = {True: BOT_WORDS, False: HUMAN_WORDS}
    for i in range(n):
        for _ in range(int(rng.poisson(config.tweets_per_user))):
            nodes.append({"id": f"t{tweet_id}", "text": _tweet(rng, words[bool(bot[i])], config)})
            edges.append((f"u{i}", "post", f"t{tweet_id}"))
            if rng.random() < 0.2:
                edges.append((f"t{tweet_id}", "mentioned", f"u{int(rng.integers(n))}"))
            tweet_id += 1
    for i in range(n):
        for _ in range(int(rng.poisson(config.follows_per_user))):
            same = np.flatnonzero(bot == bot[i]) if rng.random() < config.homophily else np.arange(n)
            j = int(rng.choice(same))
            edges.append((f"u{i}", "following", f"u{j}"))
            edges.append((f"u{j}", "followers", f"u{i}"))
    edges.append(("u0", "following", "u999999999"))  # an account outside the data
    edges.append(("u1", "followers", "u999999998"))
    order = rng.permutation(n)
    cut = (int(0.6 * n), int(0.8 * n))
    split = {int(u): "train" for u in order[:cut[0]]}
    split.update({int(u): "valid" for u in order[cut[0]:cut[1]]})
    split.update({int(u): "test" for u in order[cut[1]:]})
    with open(folder / "node.json", "w", encoding="utf-8") as f:
        json.dump(nodes, f)
    for name, header, rows in (
            ("edge.csv", ("source_id", "relation", "target_id"), edges),
            ("label.csv", ("id", "label"), [(f"u{i}", "bot" if bot[i] else "human") for i in range(n)]),
            ("split.csv", ("id", "split"), [(f"u{i}", split[i]) for i in range(n)])):
        with open(folder / name, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)


def open_twibot22_synthetic(root: str | os.PathLike, name: str = "twibot22-synthetic", **options) -> Data:
    """Generate (once) under ``root/<name>/<config key>`` and read back through the TwiBot-22 loader.

    ``options`` are :class:`TwiBot22SyntheticConfig` fields.
    """
    unknown = set(options) - set(TwiBot22SyntheticConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown {name} option(s) {sorted(unknown)}; "
                         f"available: {', '.join(TwiBot22SyntheticConfig.__dataclass_fields__)}")
    config = TwiBot22SyntheticConfig(**options)
    folder = generate_twibot22(config, Path(root).expanduser() / name / config.key())
    return open_twibot22(folder, name)
