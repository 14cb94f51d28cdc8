"""On-disk cache of encoded feature blocks.

Why: encoding tweets and images is by far the slowest step of a run with text
or image features, and every seed and model of a sweep needs the same blocks.
An entry is keyed by what determines its content: a hash of the raw input
(tweet texts, or image paths with their sizes, modification times and
inodes), the encoder's name and a hash of its weights, and the pooling and
other encoding options. A changed input or encoder therefore gives a new key, never a stale
block. Entries are dicts of tensors written atomically and read back with
``weights_only=True``; a file that cannot be read, or lacks what was stored,
is deleted and recomputed (an empty file left by a killed write included). A
folder that cannot be written only costs the caching: the block is computed
and returned all the same.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Mapping

import torch

from mgbench.datasets.errors import DatasetError
from mgbench.datasets.io import load_pt, save_pt

log = logging.getLogger(__name__)

Block = dict[str, torch.Tensor]


def digest(parts: Iterable[str | bytes]) -> str:
    """SHA-256 of a sequence of parts, each length-prefixed so that boundaries count."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


class FeatureCache:
    """A folder of encoded blocks; ``hits``, ``misses`` and ``rebuilt`` count what happened.

    ``root=None`` disables caching: every :meth:`fetch` computes.
    """

    def __init__(self, root: str | os.PathLike | None):
        self.root = Path(root).expanduser() if root is not None else None
        self.hits = self.misses = self.rebuilt = 0

    def path(self, kind: str, key: Mapping[str, str]) -> Path:
        if self.root is None:
            raise ValueError("caching is disabled (root=None)")
        name = digest(f"{k}={key[k]}" for k in sorted(key))[:24]
        return self.root / f"{kind}-{name}.pt"

    def fetch(self, kind: str, key: Mapping[str, str], compute: Callable[[], Block]) -> Block:
        """The block stored under ``(kind, key)``, computing and storing it when absent or corrupt."""
        if self.root is None:
            self.misses += 1
            return compute()
        path = self.path(kind, key)
        if path.is_file():
            try:
                stored = load_pt(path)
                if isinstance(stored, dict) and stored.get("_key") == dict(key):
                    self.hits += 1
                    return {k: v for k, v in stored.items() if k != "_key"}
                raise DatasetError(f"{path}: cache entry does not hold the expected block")
            except DatasetError as err:
                log.warning("feature cache: %s; rebuilding it", err)
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass
                self.rebuilt += 1
        self.misses += 1
        block = compute()
        try:
            save_pt({**block, "_key": dict(key)}, path)
        except OSError as err:  # a read-only or full cache folder: the block is computed, just not kept
            log.warning("feature cache: cannot write %s (%s); the block is not cached", path, err.strerror or err)
        return block
