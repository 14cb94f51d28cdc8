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
    n_seeds: int | None       # None: the source does not say
    label: str = "paper"      # what the row's name says of its source


@lru_cache(maxsize=2)
def _load(name: str) -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


def _paper() -> dict[str, Any]:
    return _load("paper_mgtab.json")


#: ``paper_frontier.json``'s dataset names as our registry spells them.
_FRONTIER_DATASETS = {"mgtab": "mgtab", "cresci-15": "cresci-15", "twibot-20": "twibot20"}


@dataclass(frozen=True)
class FrontierSource:
    """One repository's published numbers: what its rows' names say, where they come from and
    the protocol they were made under (their own, not ours), for footnotes."""

    label: str
    source: str
    protocol: str


def _frontier_sources() -> list[dict[str, Any]]:
    return _load("paper_frontier.json")["sources"]


def frontier_sources() -> tuple[FrontierSource, ...]:
    return tuple(FrontierSource(s["row_label"], s["source"], s["protocol"]) for s in _frontier_sources())


def frontier_results(dataset: str, task: str, relations: Sequence[str],
                     features: str) -> tuple[PublishedResult, ...]:
    """Numbers the detectors published since MGTAB report in their repositories, as rows
    marked with their source: under their own protocol (see :func:`frontier_sources`), so
    they place a model, they do not rank against our runs. A source that names the relations
    it used on a dataset joins only that relation set's tables; every row only the default
    features; each published column only the column of ours that means the same."""
    if features != "default":
        return ()
    rows = []
    for source in _frontier_sources():
        wanted = source["relations"].get(dataset)
        if wanted is not None and sorted(relations) != sorted(wanted):
            continue
        for entry in source["rows"]:
            if _FRONTIER_DATASETS.get(entry["dataset"]) != dataset or entry["task"] != task:
                continue
            published = {ours: entry[theirs] for theirs, ours in source["columns"].items() if theirs in entry}
            rows.append(PublishedResult(model=entry["model"], kind=entry["type"],
                                        mean={c: v[0] / 100 for c, v in published.items()},
                                        std={c: v[1] / 100 for c, v in published.items()},
                                        n_seeds=source["runs"], label=source["row_label"]))
    return tuple(rows)


def published_settings() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """Every ``(dataset, task, relation set)`` some published row was made on, sorted: where the
    board shows published numbers that no run of ours has a table for yet. A frontier source
    that names no relation set for a dataset is placed on the MGTAB paper's (followers, friends)."""
    paper = _paper()
    default = tuple(sorted(paper["relations"]))
    found = {(paper["dataset"], task, default) for task in paper["tasks"]}
    for source in _frontier_sources():
        for entry in source["rows"]:
            dataset = _FRONTIER_DATASETS[entry["dataset"]]
            relations = source["relations"].get(dataset)
            found.add((dataset, entry["task"], tuple(sorted(relations)) if relations else default))
    return tuple(sorted(found))


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
