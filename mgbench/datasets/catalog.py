"""Our datasets, each registered once with everything the suite knows about it.

Loader, relations, tasks, synthetic or not, source (URL, archive, marker,
licence, citation) and how to tell it is present: the runner, the CLI, the
downloader and the leaderboard read these facts from the registry
(:func:`mgbench.registry.registered_datasets`) and never test a dataset's name.
A user's dataset registers the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from torch_geometric.data import Data

from mgbench.registry import DatasetSource, register_dataset

from .cache import load_processed
from .errors import DatasetError
from .graph import MGTAB_RELATIONS
from .layout import CRESCI_RELATIONS, find_folder, read_cresci15, read_mgtab, read_mgtab_large
from .synthetic import MGTAB_NUM_NODES, SyntheticConfig, write as write_synthetic
from .synthetic_raw import open_twibot22_synthetic
from .twibot import find_twibot, open_twibot20, open_twibot22

GDRIVE = "https://drive.google.com/uc?export=download&id={}"
MGTAB_HOME = "https://github.com/GraphDetec/MGTAB"
MGTAB_LICENSE = "CC BY-NC-ND 4.0"
MGTAB_CITATION = (
    "Shi, S., Qiao, K., Chen, J., Yang, S., Yang, J., Song, B., Wang, L., Yan, B. (2023). "
    "MGTAB: A Multi-Relational Graph-Based Twitter Account Detection Benchmark. arXiv:2301.01123."
)
CRESCI_CITATION = (
    "Cresci, S., Di Pietro, R., Petrocchi, M., Spognardi, A., Tesconi, M. (2015). Fame for sale: "
    "efficient detection of fake Twitter followers. Decision Support Systems 80. "
    "Standardised graph version: Feng, S. et al. (2021) BotRGCN; distributed by the MGTAB authors."
)
TWIBOT20_CITATION = (
    "Feng, S., Wan, H., Wang, N., Li, J., Luo, M. (2021). TwiBot-20: A Comprehensive Twitter Bot "
    "Detection Benchmark. CIKM 2021."
)
TWIBOT22_CITATION = (
    "Feng, S., Tan, Z., Wan, H., Wang, N., Chen, Z., et al. (2022). TwiBot-22: Towards Graph-Based "
    "Twitter Bot Detection. NeurIPS 2022 Datasets and Benchmarks."
)
MGTAB_TASKS = ("stance", "bot", "stance+bot")

#: ``--scale`` presets of the synthetic twin (nodes).
SCALES = {"tiny": 300, "small": 2_000, "full": MGTAB_NUM_NODES}


def load_folder(folder: Path, name: str, reader: Callable[[Path, str], Data]) -> Data:
    """Read a folder of ``.pt`` files with ``reader``, through the processed cache."""
    raw = sorted(p for p in folder.glob("*.pt") if p.is_file())
    return load_processed(raw, name, lambda: reader(folder, name))


def _found(find: Callable[[], object]) -> bool:
    try:
        find()
        return True
    except DatasetError:
        return False


def _register_archive(name: str, reader: Callable[[Path, str], Data], source: DatasetSource, **facts) -> None:
    """A dataset of ``.pt`` files unpacked from ``source``: present where its marker file is."""
    marker = source.marker

    def load(root: Path) -> Data:
        return load_folder(find_folder(root, marker, name), name, reader)

    load.__name__ = load.__qualname__ = f"load_{name.replace('-', '_')}"
    register_dataset(name, source=source, present=lambda root: _found(lambda: find_folder(root, marker, name)),
                     **facts)(load)


_register_archive(
    "mgtab", read_mgtab, DatasetSource(
        MGTAB_HOME, MGTAB_LICENSE, MGTAB_CITATION, url=GDRIVE.format("1gbWNOoU1JB8RrTu2a5j9KMNVa9wX72Fe"),
        filename="MGTAB.zip", marker="features.pt"),
    relations=MGTAB_RELATIONS, tasks=MGTAB_TASKS,
    description="MGTAB: 10,199 labelled users, 7 relations, stance + bot")
_register_archive(
    "mgtab-large", read_mgtab_large, DatasetSource(
        MGTAB_HOME, MGTAB_LICENSE, MGTAB_CITATION, url=GDRIVE.format("17XuXbklLJgZI3uISaB6I4Kw39FTw8r1i"),
        filename="MGTAB-large.zip", marker="large_features.pt"),
    relations=MGTAB_RELATIONS, tasks=MGTAB_TASKS,
    description="MGTAB-large: 410,199 users (10,199 labelled), ~98 M edges")
_register_archive(
    "cresci-15", read_cresci15, DatasetSource(
        MGTAB_HOME, "research use (see the Bot Repository terms)", CRESCI_CITATION,
        url=GDRIVE.format("1AzMUNt70we5G2DShS8hk5qH95VR9HfD3"), filename="Cresci-15.zip",
        marker="cat_properties_tensor.pt"),
    relations=CRESCI_RELATIONS, tasks=("bot",),
    description="Cresci-15 (standardised graph version), bot detection")


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


# `twin`: 3, the generator that ranks models as MGTAB does, for new runs; a record without the key
# was made on the first generator (twin 1), and keeps meaning it.
@register_dataset("mgtab-synthetic", relations=MGTAB_RELATIONS, tasks=(*MGTAB_TASKS, "topics"), synthetic=True,
                  recorded_defaults={"twin": (3, 1)}, twin_of="mgtab")
def load_mgtab_synthetic(root: Path, **options) -> Data:
    """embedded default: seeded twin of MGTAB (generated, no download)

    ``options`` are :class:`SyntheticConfig` fields (``num_nodes``, ``seed``,
    ``feature_signal``, ...) or ``scale``; the graph is generated once into
    ``root/mgtab-synthetic/<config key>`` and read back through the MGTAB loader.
    """
    config = synthetic_config(**options)
    folder = write_synthetic(config, Path(root) / "mgtab-synthetic" / config.key())
    return load_folder(folder, "mgtab-synthetic", read_mgtab_large if config.large else read_mgtab)


def _twibot_present(name: str) -> Callable[[Path], bool]:
    return lambda root: _found(lambda: find_twibot(root, name))


@register_dataset(
    "twibot20", relations=("followers", "friends"), tasks=("bot", "domain"), present=_twibot_present("twibot20"),
    source=DatasetSource("https://github.com/BunsenFeng/TwiBot-20", "by request from the authors; the "
                         "100-user sample is MIT-licensed", TWIBOT20_CITATION),
    description="TwiBot-20 raw JSON (train/dev/test[/support].json, or one list such as the 100-user sample): "
                "bot + domain, tweets, image URLs")
def load_twibot20(root: Path, max_tweets_per_user: int | None = None) -> Data:
    """Find TwiBot-20 under ``root`` (a folder or its JSON file) and read it."""
    return open_twibot20(root, "twibot20", max_tweets_per_user=max_tweets_per_user)


@register_dataset(
    "twibot22", tasks=("bot",), present=_twibot_present("twibot22"),
    source=DatasetSource("https://github.com/LuoUndergradXJTU/TwiBot-22", "by request from the authors",
                         TWIBOT22_CITATION),
    description="TwiBot-22 raw layout (node.json or user.json, edge.csv, label.csv, split.csv): bot, tweets, "
                "image URLs")
def load_twibot22(root: Path, max_tweets_per_user: int | None = None) -> Data:
    """Find TwiBot-22 under ``root`` and read it."""
    return open_twibot22(root, "twibot22", max_tweets_per_user=max_tweets_per_user)


@register_dataset("twibot22-synthetic", tasks=("bot",), synthetic=True)
def load_twibot22_synthetic(root: Path, **options) -> Data:
    """generated raw TwiBot-22 layout with tweets and PNG profile images (planted text/image signal)"""
    return open_twibot22_synthetic(Path(root), "twibot22-synthetic", **options)

