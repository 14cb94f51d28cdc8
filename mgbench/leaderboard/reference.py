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
    """One published row; ``mean`` and ``std`` are fractions keyed by column; ``model`` is the
    name the source prints (:func:`registered_name` gives ours for the paper's rows)."""

    model: str
    kind: str                 # "F" or "G"
    mean: Mapping[str, float]
    std: Mapping[str, float]
    n_seeds: int
    label: str = "paper"      # what the row's name says of its source


@lru_cache(maxsize=2)
def _load(name: str) -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


def _paper() -> dict[str, Any]:
    return _load("paper_mgtab.json")


#: ``paper_frontier.json``'s dataset names as our registry spells them.
_FRONTIER_DATASETS = {"mgtab": "mgtab", "cresci-15": "cresci-15", "twibot-20": "twibot20"}
#: The published frontier numbers' columns as ours (balanced accuracy has no column of ours).
_FRONTIER_COLUMNS = {"accuracy": "accuracy", "f1_macro": "f1"}


def frontier_label() -> str:
    """What a frontier row's name says of its source."""
    return _load("paper_frontier.json")["row_label"]


def frontier_protocol() -> str:
    """How the frontier repositories' numbers were made (their own protocol, not ours), for footnotes."""
    frontier = _load("paper_frontier.json")
    return f"{frontier['source']}: {frontier['protocol']}"


def frontier_results(dataset: str, task: str, relations: Sequence[str],
                     features: str) -> tuple[PublishedResult, ...]:
    """Numbers the detectors published since MGTAB report in their repositories, as rows
    marked with their source: under their own protocol (see :func:`frontier_protocol`), so
    they place a model, they do not rank against our runs. MGTAB rows join only the paper's
    relation set (followers, friends); every row only the default features."""
    if features != "default" or (dataset == "mgtab" and sorted(relations) != ["followers", "friends"]):
        return ()
    frontier, rows = _load("paper_frontier.json"), []
    for entry in frontier["rows"]:
        if _FRONTIER_DATASETS.get(entry["dataset"]) != dataset or entry["task"] != task:
            continue
        published = {ours: entry[theirs] for theirs, ours in _FRONTIER_COLUMNS.items() if theirs in entry}
        rows.append(PublishedResult(model=entry["model"], kind=entry["type"],
                                    mean={c: v[0] / 100 for c, v in published.items()},
                                    std={c: v[1] / 100 for c, v in published.items()},
                                    n_seeds=5, label=frontier["row_label"]))
    return tuple(rows)


def swapped_models() -> tuple[str, ...]:
    """The published rows whose precision and recall this module exchanges (their script swaps them)."""
    return tuple(_paper()["precision_recall_swapped"])


def registered_name(paper_model: str) -> str | None:
    """Our registered name of a model in the paper's table (``None`` for one we do not register)."""
    return _paper()["registered_names"].get(paper_model)


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
