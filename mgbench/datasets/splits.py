"""Train/validation/test splits.

The MGTAB protocol (its authors' scripts): shuffle the labelled node ids with
scikit-learn's ``shuffle(ids, random_state=seed)``; the first ``int(0.7 n)``
train, up to ``int(0.9 n)`` validation, the rest test — on MGTAB 7,139 / 2,040 /
1,020. Datasets that come with their own split (Cresci-15, TwiBot) use it
whatever the seed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.utils import shuffle
from torch_geometric.data import Data

from .tasks import Task, task_labels


@dataclass(frozen=True)
class Split:
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor

    def save(self, folder: str | os.PathLike, prefix: str = "") -> list[Path]:
        """Write ``{prefix}train.csv`` etc., one node id per line (library-independent)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for part in ("train", "val", "test"):
            path = folder / f"{prefix}{part}.csv"
            np.savetxt(path, getattr(self, part).numpy(), fmt="%d", header="node_id", comments="")
            paths.append(path)
        return paths


def mgtab_split(labelled_ids: np.ndarray | torch.Tensor, seed: int) -> Split:
    """Split ``labelled_ids`` by the MGTAB protocol (70/20/10 after a seeded shuffle)."""
    ids = np.asarray(labelled_ids)
    n = len(ids)
    order = shuffle(ids, random_state=seed)
    a, b = int(0.7 * n), int(0.9 * n)
    as_t = lambda v: torch.as_tensor(np.ascontiguousarray(v), dtype=torch.int64)  # noqa: E731
    return Split(as_t(order[:a]), as_t(order[a:b]), as_t(order[b:]))


def get_split(data: Data, task: Task | str, seed: int) -> Split:
    """The split a run on ``data``/``task`` uses for ``seed``.

    A dataset's given split (``split_train`` ...) wins; its nodes unlabelled for
    this task are dropped. Otherwise the MGTAB protocol over the task's labelled nodes.
    """
    _, labelled = task_labels(data, task)
    if "split_train" in data:
        keep = lambda idx: idx[labelled[idx]]  # noqa: E731
        return Split(keep(data.split_train), keep(data.split_val), keep(data.split_test))
    return mgtab_split(torch.nonzero(labelled).flatten().numpy(), seed)


#: The seeds a run or a suite uses unless told otherwise (the MGTAB paper reports five).
DEFAULT_SEEDS = "0-4"
#: More seeds than any study runs: a larger ``--seeds`` is a typo, refused before a list is built.
MAX_SEEDS = 1000
#: scikit-learn's ``random_state`` takes seeds below 2**32.
SEED_LIMIT = 2**32


def parse_seeds(spec: str | int | list[int]) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,2,7"`` -> [0, 2, 7]; ``3`` -> [3]; ``[0, 2]`` (a YAML list) -> [0, 2].

    Seeds are whole numbers in ``0 .. 2**32 - 1``, at most :data:`MAX_SEEDS` of
    them; anything else is a ``ValueError`` that quotes the spec.
    """
    if isinstance(spec, (list, tuple)) and all(isinstance(s, int) and not isinstance(s, bool) for s in spec):
        spec = ",".join(map(str, spec))
    shown = repr(spec) if len(repr(spec)) <= 60 else repr(spec)[:57] + "..."
    if isinstance(spec, bool) or not isinstance(spec, (int, str)):
        raise ValueError(f"seeds {shown}: expected a number, a range such as 0-4 or a list such as 0,2,7")
    ranges: list[tuple[int, int]] = []
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        lo, hi = lo.strip(), hi.strip() if sep else lo.strip()
        if not (lo.isdecimal() and hi.isdecimal()):
            raise ValueError(f"seeds {shown}: {part[:30]!r} is not a seed or a range of seeds; use whole numbers "
                             f"from 0, e.g. 0-4 or 0,2,7")
        for value in (lo, hi):
            if len(value) > len(str(SEED_LIMIT)) or int(value) >= SEED_LIMIT:
                raise ValueError(f"seeds {shown}: seed {value[:20]} is too large (seeds are below 2**32 = "
                                 f"{SEED_LIMIT})")
        first, last = int(lo), int(hi)
        if last < first:
            raise ValueError(f"seeds {shown}: the range {part[:30]!r} is empty; write it low-high")
        ranges.append((first, last))
    count = sum(last - first + 1 for first, last in ranges)
    if count > MAX_SEEDS:
        raise ValueError(f"seeds {shown}: {count:,} seeds, more than the cap of {MAX_SEEDS:,}; pick fewer")
    seeds = [seed for first, last in ranges for seed in range(first, last + 1)]
    if not seeds:
        raise ValueError(f"no seeds in {shown}")
    return seeds
