"""Datasets: official sources, download, loaders, the synthetic twin, relations and splits.

``load(name, root=None, **options)`` returns every dataset in the one form of
:mod:`mgbench.datasets.graph`. With no download at all, ``mgtab-synthetic`` works.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from torch_geometric.data import Data

from .cache import load_processed
from .errors import DatasetError
from .graph import (DEFAULT_RELATIONS, MGTAB_RELATIONS, build_graph, edge_counts, edge_homophily,
                    parse_relations, select_relations, to_hetero)
from .layout import find_folder, read_cresci15, read_mgtab, read_mgtab_large
from .sources import SOURCES, Source
from .splits import Split, get_split, mgtab_split, parse_seeds
from .synthetic import MGTAB_NUM_NODES, SyntheticConfig, write as write_synthetic
from .tasks import TASKS, Task, available_tasks, get_task, task_labels
from .synthetic_raw import open_twibot22_synthetic
from .twibot import open_twibot20, open_twibot22, read_twibot20, read_twibot22

__all__ = [
    "DATASETS", "DEFAULT_RELATIONS", "DatasetError", "MGTAB_RELATIONS", "SOURCES", "Source", "Split",
    "SyntheticConfig", "TASKS", "Task", "available_tasks", "build_graph", "default_root", "edge_counts",
    "edge_homophily", "get_split", "get_task", "is_downloaded", "load", "mgtab_split", "parse_relations",
    "parse_seeds", "select_relations", "task_labels", "to_hetero",
]

#: ``--scale`` presets of the synthetic twin (nodes).
SCALES = {"tiny": 300, "small": 2_000, "full": MGTAB_NUM_NODES}


def default_root() -> Path:
    """``$MGBENCH_ROOT``, else ``~/.cache/mgbench``."""
    return Path(os.environ.get("MGBENCH_ROOT", Path.home() / ".cache" / "mgbench")).expanduser()


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    reader: Callable[[Path, str], Data] | None     # None: generated, not read
    marker: str | None
    opener: Callable[..., Data] | None = None      # finds, reads and caches raw data itself: (base, name, **options)


DATASETS: dict[str, DatasetSpec] = {
    "mgtab-synthetic": DatasetSpec(
        "mgtab-synthetic", "embedded default: seeded twin of MGTAB (generated, no download)", None, None),
    "mgtab": DatasetSpec("mgtab", "MGTAB: 10,199 labelled users, 7 relations, stance + bot",
                         read_mgtab, "features.pt"),
    "mgtab-large": DatasetSpec("mgtab-large", "MGTAB-large: 410,199 users (10,199 labelled), ~98 M edges",
                               read_mgtab_large, "large_features.pt"),
    "cresci-15": DatasetSpec("cresci-15", "Cresci-15 (standardised graph version), bot detection",
                             read_cresci15, "cat_properties_tensor.pt"),
    "twibot20": DatasetSpec("twibot20", "TwiBot-20 raw JSON (train/dev/test[/support].json, or one list such as "
                            "the 100-user sample): bot + domain, tweets, image URLs", read_twibot20, "train.json",
                            opener=open_twibot20),
    "twibot22": DatasetSpec("twibot22", "TwiBot-22 raw layout (node.json or user.json, edge.csv, label.csv, "
                            "split.csv): bot, tweets, image URLs", read_twibot22, "label.csv",
                            opener=open_twibot22),
    "twibot22-synthetic": DatasetSpec("twibot22-synthetic", "generated raw TwiBot-22 layout with tweets and PNG "
                                      "profile images (planted text/image signal)", None, None,
                                      opener=open_twibot22_synthetic),
}


def _check_name(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")
    return DATASETS[name]


def is_downloaded(name: str, root: str | os.PathLike | None = None) -> bool:
    spec = _check_name(name)
    if spec.marker is None:
        return True
    try:
        find_folder(Path(root) if root else default_root(), spec.marker, name)
        return True
    except DatasetError:
        return False


def synthetic_config(scale: str | None = None, **options) -> SyntheticConfig:
    """Build a :class:`SyntheticConfig` from ``scale`` (tiny/small/full/large) and options."""
    if scale is not None:
        if scale == "large":
            options.setdefault("large", True)
        elif scale in SCALES:
            options.setdefault("num_nodes", SCALES[scale])
        else:
            raise ValueError(f"unknown scale {scale!r}; available: {', '.join([*SCALES, 'large'])}")
    unknown = set(options) - set(SyntheticConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown mgtab-synthetic option(s) {sorted(unknown)}; "
                         f"available: {', '.join(SyntheticConfig.__dataclass_fields__)}, scale")
    return SyntheticConfig(**options)


def load(name: str, root: str | os.PathLike | None = None, **options) -> Data:
    """Load dataset ``name`` as a validated multi-relational graph.

    ``root`` is the folder that holds the dataset (the one given to
    ``mgbench download``, or a folder with the ``.pt`` files of a manual
    download, with or without the archive's top-level folder). For
    ``mgtab-synthetic``, ``options`` are :class:`SyntheticConfig` fields
    (``num_nodes``, ``seed``, ``feature_signal``, ``relation_signal``, ...) or
    ``scale``; the graph is generated once into ``root`` and read back through
    the MGTAB loader.
    """
    spec = _check_name(name)
    base = Path(root).expanduser() if root else default_root()
    if spec.opener is not None:
        return spec.opener(base, name, **options)
    if spec.reader is None:
        config = synthetic_config(**options)
        folder = write_synthetic(config, base / name / config.key())
        reader = read_mgtab_large if config.large else read_mgtab
        return _load_folder(folder, name, reader)
    if options:
        raise ValueError(f"dataset {name!r} takes no options (got {sorted(options)})")
    return _load_folder(find_folder(base, spec.marker, name), name, spec.reader)


def _load_folder(folder: Path, name: str, reader: Callable[[Path, str], Data]) -> Data:
    """Read a folder of ``.pt`` files with ``reader``, through the processed cache."""
    raw = sorted(p for p in folder.glob("*.pt") if p.is_file())
    return load_processed(raw, name, lambda: reader(folder, name))
