"""Encoder throughput: the batched, length-sorted path against a naive one-item-at-a-time loop.

Runs on the synthetic TwiBot-22 twin (tweets and 32x32 PNG profile images,
generated into a temporary folder), with the default encoders
(all-MiniLM-L6-v2, EfficientNet-Lite0). Model loading and one warm-up call
are excluded from the timings. Prints a Markdown table:

    python benchmarks/bench_encoders.py --users 32 --tweets-per-user 8
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from mgbench.datasets.synthetic_raw import TwiBot22SyntheticConfig, generate_twibot22
from mgbench.datasets.twibot import read_twibot22
from mgbench.features import encode_images, encode_texts, encode_tweets


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def naive_texts(tweets_per_user: list[list[str]]) -> torch.Tensor:
    """One forward pass per tweet, then the mean per user: what a first implementation does."""
    rows = []
    for tweets in tweets_per_user:
        vectors = [encode_tweets([t]) for t in tweets]
        rows.append(torch.cat(vectors).mean(0) if vectors else torch.zeros(384))
    return torch.stack(rows)


def naive_images(paths: list[str | None]) -> None:
    for path in paths:
        encode_images([path], progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--tweets-per-user", type=int, default=8, help="mean tweets per user")
    parser.add_argument("--batch-size", type=int, default=64, help="tweets per batch (images: half)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        config = TwiBot22SyntheticConfig(num_users=args.users, tweets_per_user=args.tweets_per_user,
                                         words_per_tweet=16, image_fraction=1.0, seed=args.seed)
        data = read_twibot22(generate_twibot22(config, Path(tmp) / "data"))
        tweets, paths = data.tweets, data.image_paths
        n_tweets = sum(len(t) for t in tweets)
        n_images = sum(p is not None for p in paths)
        encode_texts(tweets[:2], progress=False)  # load and warm up both encoders
        encode_images(paths[:2], progress=False)
        rows = [
            ("text, batched + length-sorted",
             timed(lambda: encode_texts(tweets, batch_size=args.batch_size, progress=False)), True, False),
            ("text, one tweet at a time", timed(lambda: naive_texts(tweets)), True, False),
            ("image, batched", timed(lambda: encode_images(paths, batch_size=max(1, args.batch_size // 2),
                                                           progress=False)), False, True),
            ("image, one image at a time", timed(lambda: naive_images(paths)), False, True),
        ]

    print(f"\n{args.users} users, {n_tweets} tweets, {n_images} images (32x32 PNG, resized to 224); "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU\n")
    print("| path | seconds | users/s | tweets/s | images/s | speed-up |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for i, (name, seconds, text, image) in enumerate(rows):
        naive = rows[i + 1][1] if i % 2 == 0 else seconds
        print(f"| {name} | {seconds:.2f} | {args.users / seconds:.1f} | "
              f"{f'{n_tweets / seconds:.1f}' if text else '-'} | {f'{n_images / seconds:.1f}' if image else '-'} | "
              f"{naive / seconds:.1f}x |")


if __name__ == "__main__":
    main()
