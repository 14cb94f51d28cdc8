"""The MGTAB paper's published baseline numbers, as reference rows.

The numbers live in ``paper_mgtab.json`` exactly as the authors published
them. The scripts behind some rows call ``precision_score(pred, label)`` and
``recall_score(pred, label)``, i.e. with truth and prediction swapped, which
turns macro precision into macro recall and back: ``MGTAB-GNN.py`` (GCN,
GraphSAGE, GAT, BotRGCN) and ``SHGN.py`` (S-HGN). ``MGTAB-ML.py`` (the feature
models), ``HGT.py`` and ``RGT.py`` pass the truth first. The JSON lists the
swapped rows (``precision_recall_swapped``); this module swaps their two
columns back, and only theirs, so that every row lines up with our correctly
computed ones. Accuracy and F1 are symmetric in that swap and stay as published.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping, Sequence

COLUMNS = ("accuracy", "precision", "recall", "f1")


@dataclass(frozen=True)
class PublishedResult:
    """One published row; ``mean`` and ``std`` are fractions keyed by column."""

    model: str
    kind: str                 # "F" or "G"
    mean: Mapping[str, float]
    std: Mapping[str, float]
    n_seeds: int


@lru_cache(maxsize=1)
def _paper() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("paper_mgtab.json").read_text(encoding="utf-8")
    return json.loads(text)


def swapped_models() -> tuple[str, ...]:
    """The published rows whose precision and recall this module exchanges (their script swaps them)."""
    return tuple(_paper()["precision_recall_swapped"])


def source() -> str:
    """Where the published numbers come from, for footnotes."""
    return _paper()["source"]


def published_results(dataset: str, task: str, relations: Sequence[str],
                      features: str) -> tuple[PublishedResult, ...]:
    """Published rows comparable with a table, or none.

    Comparable means the paper's setting: dataset ``mgtab``, its default
    relation set (followers, friends), its default 788-d features, and the
    stance or bot task.
    """
    paper = _paper()
    if (dataset != paper["dataset"] or sorted(relations) != sorted(paper["relations"])
            or features != paper["features"] or task not in paper["tasks"]):
        return ()
    swapped = set(paper["precision_recall_swapped"])
    rows = []
    for entry in paper["tasks"][task]:
        swap = {"precision": "recall", "recall": "precision"} if entry["model"] in swapped else {}
        published = {swap.get(column, column): entry[column] for column in COLUMNS}
        rows.append(PublishedResult(
            model=entry["model"],
            kind=entry["type"],
            mean={c: published[c][0] / 100 for c in COLUMNS},
            std={c: published[c][1] / 100 for c in COLUMNS},
            n_seeds=paper["seeds"],
        ))
    return tuple(rows)
