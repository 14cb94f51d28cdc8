"""Feature recipes: which views make a run's node features, built from the raw data.

A run's definition names its recipe (``--features``):

- ``profile``: the profile properties, standardised as MGTAB does;
- ``profile+text``: plus the user's tweets encoded and pooled (``text``);
- ``profile+text+image``: plus the profile image's pooled vector (``image``)
  and a has-image flag (``has_image``); ``data.image_counts`` says how many
  users had no image, an unfetched URL, or an unreadable file;
- ``fused``: ``x`` is ``profile | text | has_image``, and the image enters
  through :class:`~mgbench.features.fusion.TextGuidedImageAttention`, trained
  with the model. The graph carries what the module needs:
  ``data.image_spatial`` [N, R, C] (float16, R regions of the image's feature
  map; cast it to the model's dtype), ``data.has_image`` bool [N], and the
  text view is ``x[:, slice(*data.feature_blocks["text"])]``. A model builds
  ``TextGuidedImageAttention(text_dim, C, out_dim)``, computes
  ``z = attn(text, data.image_spatial, data.has_image)`` and uses
  ``torch.cat([x, z], 1)``.

With ``pooling="attention"`` the ``text`` block holds the mean over tweets (a
usable view on its own) and the graph also carries every tweet's vector,
``data.tweet_vectors`` [T, d], and its owner, ``data.tweet_owner`` [T], for a
:class:`~mgbench.features.text.TweetAttentionPooling` trained with the model.

Raw inputs are ``data.tweets`` (one list of strings per user) and
``data.image_paths`` (one path, URL or ``None`` per user), as the TwiBot
loaders give them. A dataset without raw tweets but with a ready tweet block
(MGTAB's 768-d ``tweet`` columns) uses that block as its text view. Encoded
blocks go through :class:`~.cache.FeatureCache`.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Sequence

import torch
from torch_geometric.data import Data

from .cache import FeatureCache, digest
from .fusion import concat_blocks
from .extras import require
from .image import encode_images, image_encoder_fingerprint, image_encoder_packages, is_remote
from .profile import standardise_profile
from .text import (MAX_TOKENS, POOLINGS, encode_texts, encode_tweet_sets, pool_tweets, text_encoder_fingerprint,
                   text_encoder_packages)

RECIPES = ("profile", "profile+text", "profile+text+image", "fused")
#: The recipes with an image view.
IMAGE_RECIPES = ("profile+text+image", "fused")
#: Default regions of the spatial map for ``fused``: EfficientNet-Lite0's 7x7 pooled to 4x4 keeps
#: 16 regions to attend over at a third of the memory (16 x 1280 half floats per user).
DEFAULT_IMAGE_GRID = 4


def default_cache_dir() -> Path:
    from mgbench.datasets import default_root

    return default_root() / "features"


def build_features(data: Data, recipe: str = "profile", *, text_encoder: str | os.PathLike | None = None,
                   image_encoder: str | os.PathLike | None = None, pooling: str = "mean",
                   profile_scaling: str = "minmax", image_grid: int | None = DEFAULT_IMAGE_GRID,
                   cache: FeatureCache | str | os.PathLike | None = None, progress: bool = True) -> Data:
    """A copy of ``data`` whose ``x``, ``feature_blocks`` and ``categorical_columns`` follow ``recipe``.

    ``text_encoder`` / ``image_encoder``: ``transformers`` names or local
    paths (defaults: all-MiniLM-L6-v2, EfficientNet-Lite0). ``pooling``:
    ``mean``, ``max`` or ``attention`` (see the module notes).
    ``profile_scaling``: ``minmax`` (MGTAB's), ``zscore`` or ``none``.
    ``image_grid``: regions per side of the spatial map for ``fused``
    (``None``: the encoder's native map). ``cache``: a :class:`FeatureCache`,
    a folder, or ``None`` for ``$MGBENCH_ROOT/features``.
    """
    if recipe not in RECIPES:
        raise ValueError(f"unknown feature recipe {recipe!r}; available: {', '.join(RECIPES)}")
    if pooling not in (*POOLINGS, "attention"):
        raise ValueError(f"unknown pooling {pooling!r}; available: {', '.join(POOLINGS)}, attention")
    _require_encoders(data, recipe, text_encoder, image_encoder)
    if not isinstance(cache, FeatureCache):
        cache = FeatureCache(cache if cache is not None else default_cache_dir())
    out = copy.copy(data)
    profile, categorical = _profile_block(data, profile_scaling)
    blocks = {"profile": profile}
    if recipe != "profile":
        blocks["text"] = _text_block(data, out, text_encoder, pooling, cache, progress)
    if recipe in IMAGE_RECIPES:
        image = _image_block(data, image_encoder, image_grid, cache, progress)
        if recipe == "profile+text+image":
            blocks["image"] = image["pooled"]
        else:
            out.image_spatial = image["spatial"]
        blocks["has_image"] = image["has_image"].unsqueeze(1).float()
        out.has_image = image["has_image"]
        out.image_counts = dict(zip(("missing", "remote", "unreadable"), image["counts"].tolist()))
    out.x, out.feature_blocks = concat_blocks(blocks)
    out.categorical_columns = categorical
    out.feature_recipe = recipe
    return out


def _require_encoders(data: Data, recipe: str, text_encoder, image_encoder) -> None:
    """Refuse, before any work, a recipe whose encoders' optional packages are not installed
    (a dataset with a ready text block and no raw tweets needs no text encoder)."""
    if recipe != "profile" and "tweets" in data:
        require(*text_encoder_packages(text_encoder), purpose=f"the {recipe} recipe encodes tweets")
    if recipe in IMAGE_RECIPES and "image_paths" in data:
        require(*image_encoder_packages(image_encoder), purpose=f"the {recipe} recipe encodes profile images")


def _profile_block(data: Data, scaling: str) -> tuple[torch.Tensor, list[int]]:
    blocks = getattr(data, "feature_blocks", None) or {}
    if "profile" not in blocks:
        raise ValueError(f"dataset {getattr(data, 'name', '')!r} has no profile block "
                         f"(feature blocks: {', '.join(blocks) or 'none'})")
    start, stop = blocks["profile"]
    categorical = [c - start for c in getattr(data, "categorical_columns", []) if start <= c < stop]
    return standardise_profile(data.x[:, start:stop], categorical, scaling), categorical


def _ready_text(data: Data) -> torch.Tensor:
    blocks = getattr(data, "feature_blocks", None) or {}
    for name in ("text", "tweet"):
        if name in blocks:
            return data.x[:, slice(*blocks[name])]
    raise ValueError(f"dataset {getattr(data, 'name', '')!r} has no text view: neither raw data.tweets nor a "
                     f"text/tweet feature block (feature blocks: {', '.join(blocks) or 'none'})")


def _tweets_digest(tweets: Sequence[Sequence[str]]) -> str:
    return digest(part for user in tweets for part in (f"user:{len(user)}", *user))


def _text_block(data: Data, out: Data, encoder: str | os.PathLike | None, pooling: str, cache: FeatureCache,
                progress: bool) -> torch.Tensor:
    if "tweets" not in data:
        return _ready_text(data)
    tweets = data.tweets
    key = {"input": _tweets_digest(tweets), "encoder": str(encoder or "default"),
           "weights": text_encoder_fingerprint(encoder), "max_tokens": str(MAX_TOKENS)}
    if pooling != "attention":
        return cache.fetch("text", {**key, "pooling": pooling},
                           lambda: {"text": encode_texts(tweets, encoder, pooling, progress=progress)})["text"]
    stored = cache.fetch("tweets", key, lambda: dict(zip(("vectors", "owner"),
                                                         encode_tweet_sets(tweets, encoder, progress=progress))))
    out.tweet_vectors, out.tweet_owner = stored["vectors"], stored["owner"]
    return pool_tweets(stored["vectors"], stored["owner"], len(tweets), "mean")


def _image_ref(ref: str | None) -> str:
    """What identifies an image input: a local file by path, size, modification time and inode."""
    if not ref:
        return "none"
    path = Path(ref)
    if is_remote(ref) or not path.is_file():
        return f"absent:{ref}"
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def _image_block(data: Data, encoder: str | os.PathLike | None, grid: int | None, cache: FeatureCache,
                 progress: bool) -> dict[str, torch.Tensor]:
    """Pooled vectors, region map and has-image flags of every user's image, from one
    encoding pass: the encoder yields the pooled vector and the region map together, so
    ``profile+text+image`` and ``fused`` share one cache entry instead of encoding twice."""
    if "image_paths" not in data:
        raise ValueError(f"the image view needs raw profile images (data.image_paths); dataset "
                         f"{getattr(data, 'name', '')!r} has none")
    paths = data.image_paths
    key = {"input": digest(_image_ref(p) for p in paths), "encoder": str(encoder or "default"),
           "weights": image_encoder_fingerprint(encoder), "grid": str(grid)}

    def compute() -> dict[str, torch.Tensor]:
        enc = encode_images(paths, encoder, spatial=True, grid=grid, progress=progress)
        return {"pooled": enc.pooled, "has_image": enc.has_image, "spatial": enc.spatial.to(torch.float16),
                "counts": torch.tensor([enc.missing, enc.remote, enc.unreadable])}

    return cache.fetch("image", key, compute)
