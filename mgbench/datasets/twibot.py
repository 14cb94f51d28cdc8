"""Readers for the raw TwiBot-20 and TwiBot-22 layouts, into the one graph form.

Why raw layouts: TwiBot users hold JSON and CSV files, not tensors, and the
text and image pipelines need the raw tweets and profile images, which no
tensor archive keeps. Both readers return the graph of :mod:`.graph` plus:

- ``tweets``: one list of tweet strings per user (possibly empty);
- ``image_paths``: per user a local image path, an image URL, or ``None``;
- ``user_ids``: the dataset's own user ids, in node order;
- ``dropped_edges``: how many edges pointed outside the data (also logged);
- ``split_train/val/test`` when the data carries a split.

Node features ``x`` are the 20 MGTAB-like profile properties of
:data:`~mgbench.features.profile.PROFILE_COLUMNS`, computed by
:func:`~mgbench.features.profile.profile_properties`, *unscaled* (counts as ``log2(1 + count)``, lengths in
characters, flags 0/1); :func:`mgbench.features.build_features` standardises
them as MGTAB does. Standardising is a per-column affine map, so it composes:
min-max or z-score of these columns gives the same result whether or not the
loader had already scaled them, and the cached graph stays independent of that
choice.

Relations: an edge ``(u, v)`` of relation ``r`` means "``v`` is in ``r(u)``".
TwiBot-20's ``neighbor.follower`` and TwiBot-22's ``followers`` become
``followers``; ``neighbor.following`` and ``following`` become ``friends``
(Twitter's word for the accounts a user follows, and MGTAB's relation name), so
the default relations of the MGTAB protocol apply unchanged. TwiBot-22 edges
that touch tweets are projected onto their authors through the ``post`` edges
(``mentioned`` -> ``mention``, ``replied_to`` -> ``reply``, ``quoted``,
``retweeted`` -> ``retweet``, ``like``); self loops and duplicate edges are
removed. Edges whose other end is not a user of the data (an id outside it, a
list, a hashtag, a tweet of unknown author) are dropped and counted.

Files are streamed with ``ijson`` and ``csv``: a multi-GB ``node.json`` costs
the memory of what is kept (properties, tweet texts), not several times the
file. The parsed graph goes through the processed cache of :mod:`.cache`: in
``<folder>/processed/`` when that folder is writable, else in the user's cache
folder (the official sample ships read-only, and its folder is never written to).
"""

from __future__ import annotations

import csv
import logging
import os
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import ijson
import numpy as np
import torch
from torch_geometric.data import Data

from mgbench.features.profile import (PROFILE_CATEGORICAL, PROFILE_COLUMNS, clean_value, profile_field,
                                     profile_matrix, profile_properties)

from .cache import load_processed
from .errors import DatasetError
from .graph import MGTAB_RELATIONS, build_graph
from .tasks import DOMAIN

log = logging.getLogger(__name__)

#: TwiBot-22 relation -> our relation name (MGTAB's where one exists).
TWIBOT22_RELATIONS = {"followers": "followers", "following": "friends", "mentioned": "mention",
                      "replied_to": "reply", "quoted": "quoted", "retweeted": "retweet", "like": "like"}
#: Edges that state authorship, not a relation between users.
AUTHORSHIP = ("post", "pinned")
TWIBOT20_FILES = {"train.json": "train", "dev.json": "val", "test.json": "test", "support.json": None}
_SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "dev": "val", "validation": "val", "test": "test"}
_LABEL_NAMES = {"human": 0, "0": 0, "bot": 1, "1": 1}
#: The sample (and TwiBot-20) spell one domain "Bussiness".
_DOMAIN_ALIASES = {"bussiness": "Business"}


# --------------------------------------------------------------------------- images

def _image_ref(profile: Mapping[str, Any], folder: Path) -> str | None:
    """A URL as given; a relative path resolved against the dataset folder."""
    ref = clean_value(profile_field(profile, "profile_image_url_https", "profile_image_url"))
    if not isinstance(ref, str):
        return None
    if "://" in ref or Path(ref).is_absolute():
        return ref
    return str((folder / ref).resolve())


# --------------------------------------------------------------------------- assembling the graph

@dataclass
class _Users:
    """What a reader keeps per user while streaming, and the edges by dataset id."""

    ids: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    rows: list[list[float]] = field(default_factory=list)
    created: list[float | None] = field(default_factory=list)
    tweets: list[list[str]] = field(default_factory=list)
    images: list[str | None] = field(default_factory=list)
    edges: dict[str, array] = field(default_factory=dict)  # per relation: src, dst, src, dst, ... (int64)
    dropped: dict[str, int] = field(default_factory=dict)

    def add(self, uid: str, profile: Mapping[str, Any], folder: Path) -> int | None:
        if uid in self.index:
            return None
        self.index[uid] = len(self.ids)
        self.ids.append(uid)
        row, created = profile_properties(profile)
        self.rows.append(row)
        self.created.append(created)
        self.tweets.append([])
        self.images.append(_image_ref(profile, folder))
        return self.index[uid]

    def edge(self, relation: str, src: int | None, dst: int | None) -> None:
        if src is None or dst is None:
            self.dropped[relation] = self.dropped.get(relation, 0) + 1
        elif src != dst:
            self.edges.setdefault(relation, array("q")).extend((src, dst))

    def graph(self, name: str, source: str, labels: dict[str, torch.Tensor], **extra: Any) -> Data:
        known = [r for r in MGTAB_RELATIONS if r in self.edges or r in ("followers", "friends")]
        relations = known + sorted(set(self.edges) - set(known))
        parts = [torch.from_numpy(np.frombuffer(self.edges.get(r, array("q")), dtype=np.int64).copy()).reshape(-1, 2)
                 for r in relations]
        triples = torch.cat([torch.cat([torch.full((p.size(0), 1), i), p], dim=1) for i, p in enumerate(parts)])
        triples = torch.unique(triples, dim=0)  # sorted by relation, then source, then target
        dropped = sum(self.dropped.values())
        if dropped:
            detail = ", ".join(f"{r} {c}" for r, c in sorted(self.dropped.items()))
            log.info("%s: dropped %d edges whose other end is not a user of the data (%s)", source, dropped, detail)
        return build_graph(
            x=profile_matrix(self.rows, self.created), edge_index=triples[:, 1:].t().contiguous(),
            edge_type=triples[:, 0], relation_names=relations, labels=labels,
            feature_blocks={"profile": (0, len(PROFILE_COLUMNS))}, categorical_columns=PROFILE_CATEGORICAL,
            name=name, source=source, tweets=self.tweets, image_paths=self.images, user_ids=self.ids,
            dropped_edges=dropped, **extra)


def _split_tensors(members: Mapping[str, list[int]]) -> dict[str, torch.Tensor]:
    if not any(members.values()):
        return {}
    return {f"split_{part}": torch.tensor(sorted(members.get(part, [])), dtype=torch.int64)
            for part in ("train", "val", "test")}


def _label(value: Any, where: str) -> int:
    value = clean_value(value)
    if value is None:
        return -1
    key = str(value).strip().lower()
    if key not in _LABEL_NAMES:
        raise DatasetError(f"{where}: unknown label {value!r} (expected human/bot or 0/1)")
    return _LABEL_NAMES[key]


def _domain_row(domains: Iterable[str] | None, where: str) -> list[int]:
    if not domains:
        return [-1] * DOMAIN.num_outputs
    row = [0] * DOMAIN.num_outputs
    for raw in domains:
        name = _DOMAIN_ALIASES.get(str(raw).strip().lower(), str(raw).strip())
        if name not in DOMAIN.labels:
            raise DatasetError(f"{where}: unknown domain {raw!r} (expected one of {', '.join(DOMAIN.labels)})")
        row[DOMAIN.labels.index(name)] = 1
    return row


def _stream(path: Path) -> Iterator[dict]:
    """The objects of a JSON list, one at a time."""
    try:
        with open(path, "rb") as f:
            yield from ijson.items(f, "item", use_float=True)
    except ijson.JSONError as err:
        raise DatasetError(f"{path}: malformed JSON: {err}") from None


def _rows(path: Path, *columns: str) -> Iterator[list[str]]:
    """The given columns of a CSV file with a header, row by row."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in columns if c not in header]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(missing)} (header: {', '.join(header)})")
        at = [header.index(c) for c in columns]
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) < len(header):
                raise DatasetError(f"{path}:{line}: expected {len(header)} fields, got {len(row)}")
            yield [row[i].strip() for i in at]


# --------------------------------------------------------------------------- TwiBot-20

def twibot20_files(path: str | os.PathLike) -> list[Path]:
    """The JSON files of a TwiBot-20 dataset at ``path``: the file itself, the folder's
    ``train/dev/test[/support].json``, or the folder's single JSON list (the sample)."""
    path = Path(path).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DatasetError(f"twibot20: {path} does not exist")
    split_files = [path / f for f in TWIBOT20_FILES if (path / f).is_file()]
    if split_files:
        return split_files
    lists = sorted(p for p in path.glob("*.json") if p.is_file())
    if len(lists) == 1:
        return lists
    raise DatasetError(f"twibot20: {path} holds neither train.json/dev.json/test.json nor a single JSON list "
                       f"(found {len(lists)} .json files)")


def read_twibot20(path: str | os.PathLike, name: str = "twibot20", *,
                  max_tweets_per_user: int | None = None) -> Data:
    """Read TwiBot-20: ``train.json``/``dev.json``/``test.json`` (+ ``support.json``), or one JSON list.

    The file a user comes from is its split (``support`` users belong to none);
    a missing ``label`` is unlabelled (-1), a null ``neighbor`` list gives no
    edges, and a neighbour outside the data is an edge dropped and counted.
    """
    files = twibot20_files(path)
    users = _Users()
    bot: list[int] = []
    domain: list[list[int]] = []
    members: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    pending: list[tuple[str, int, str]] = []
    for file in files:
        part = TWIBOT20_FILES.get(file.name)
        for n, user in enumerate(_stream(file)):
            where = f"{file} (user #{n})"
            uid = str(clean_value(user.get("ID")) or "")
            if not uid:
                raise DatasetError(f"{where}: user without an ID")
            idx = users.add(uid, user.get("profile") or {}, file.parent)
            if idx is None:
                continue
            users.tweets[idx] = [t for t in (user.get("tweet") or []) if isinstance(t, str)][:max_tweets_per_user]
            bot.append(_label(user.get("label"), where))
            domain.append(_domain_row(user.get("domain"), where))
            if part is not None:
                members[part].append(idx)
            for key, relation in (("follower", "followers"), ("following", "friends")):
                for other in ((user.get("neighbor") or {}).get(key) or []):
                    pending.append((relation, idx, str(other).strip()))
    for relation, src, other in pending:
        users.edge(relation, src, users.index.get(other))
    labels = {"y_bot": torch.tensor(bot, dtype=torch.int64),
              "y_domain": torch.tensor(domain, dtype=torch.int64).reshape(-1, DOMAIN.num_outputs)}
    source = str(files[0] if len(files) == 1 else files[0].parent)
    return users.graph(name, source, labels, **_split_tensors(members))


# --------------------------------------------------------------------------- TwiBot-22

def twibot22_node_files(folder: Path) -> list[Path]:
    """``node.json`` (users and tweets), else ``user.json`` and any ``tweet*.json``."""
    if (folder / "node.json").is_file():
        return [folder / "node.json"]
    if (folder / "user.json").is_file():
        return [folder / "user.json", *sorted(folder.glob("tweet*.json"))]
    raise DatasetError(f"twibot22: {folder} holds neither node.json nor user.json")


def _is_tweet(obj: Mapping[str, Any]) -> bool:
    oid = str(obj.get("id", ""))
    return oid.startswith("t") or (not oid.startswith("u") and "text" in obj and "username" not in obj)


def read_twibot22(folder: str | os.PathLike, name: str = "twibot22", *,
                  max_tweets_per_user: int | None = None) -> Data:
    """Read TwiBot-22: ``node.json`` or ``user.json`` (+ ``tweet*.json``), ``edge.csv``,
    ``label.csv`` (``id,label``: human/bot) and ``split.csv`` (``id,split``: train/valid/test).

    Tweets reach their author through ``post`` edges (or a tweet's
    ``author_id``). ``edge.csv`` is read twice, so that only authorship is held
    in memory while users are streamed, never the raw edge list.
    """
    folder = Path(folder).expanduser()
    node_files = twibot22_node_files(folder)
    edge_file = folder / "edge.csv"
    author: dict[str, str] = {}
    if edge_file.is_file():
        for src, rel, dst in _rows(edge_file, "source_id", "relation", "target_id"):
            if rel == "post":
                author[dst] = src
    users = _Users()

    def owner_index(owner: str) -> int | None:
        return users.index.get(owner, users.index.get("u" + owner))

    def attach(idx: int, text: str) -> None:
        if max_tweets_per_user is None or len(users.tweets[idx]) < max_tweets_per_user:
            users.tweets[idx].append(text)

    waiting: list[tuple[str, str]] = []  # tweets met before their author (node.json mixes them)
    for file in node_files:
        for obj in _stream(file):
            oid = str(obj.get("id", "")).strip()
            if _is_tweet(obj):
                owner = author.get(oid) or obj.get("author_id")
                if owner is not None and isinstance(obj.get("text"), str):
                    owner = str(owner)
                    author.setdefault(oid, owner)
                    idx = owner_index(owner)
                    if idx is None:
                        waiting.append((owner, obj["text"]))
                    else:
                        attach(idx, obj["text"])
            elif oid:
                users.add(oid, obj, folder)
    for owner, text in waiting:
        idx = owner_index(owner)
        if idx is not None:
            attach(idx, text)
    del waiting

    def resolve(node: str) -> int | None:
        found = users.index.get(node)
        return owner_index(author[node]) if found is None and node in author else found

    if edge_file.is_file():
        for src, rel, dst in _rows(edge_file, "source_id", "relation", "target_id"):
            if rel not in AUTHORSHIP:
                users.edge(TWIBOT22_RELATIONS.get(rel, rel), resolve(src), resolve(dst))
    n = len(users.ids)
    bot = torch.full((n,), -1, dtype=torch.int64)
    if (folder / "label.csv").is_file():
        for uid, label in _rows(folder / "label.csv", "id", "label"):
            if uid in users.index:
                bot[users.index[uid]] = _label(label, f"{folder / 'label.csv'} (id {uid})")
    members: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    if (folder / "split.csv").is_file():
        for uid, part in _rows(folder / "split.csv", "id", "split"):
            part = _SPLIT_NAMES.get(part.lower())
            if part is not None and uid in users.index:
                members[part].append(users.index[uid])
    return users.graph(name, str(folder), {"y_bot": bot}, **_split_tensors(members))


# --------------------------------------------------------------------------- finding, caching

def find_twibot(root: str | os.PathLike, name: str) -> Path:
    """The TwiBot data at ``root``: ``root`` itself, ``root/<name>``, or one folder below either.

    TwiBot-20 may also be given as its JSON file.
    """
    root = Path(root).expanduser()
    if name.startswith("twibot20") and root.is_file():
        return root
    candidates = [root, root / name]
    for base in list(candidates):
        if base.is_dir():
            candidates.extend(sorted(p for p in base.iterdir() if p.is_dir() and p.name != "processed"))
    for folder in candidates:
        try:
            if name.startswith("twibot20"):
                twibot20_files(folder)
            else:
                twibot22_node_files(folder)
            return folder
        except DatasetError:
            continue
    expected = ("train.json/dev.json/test.json or one JSON list" if name.startswith("twibot20")
                else "node.json or user.json, with edge.csv, label.csv, split.csv")
    raise DatasetError(f"{name}: no {expected} under {root} (looked in the folder, {name}/ and one level below)")


def open_twibot20(root: str | os.PathLike, name: str = "twibot20", *,
                  max_tweets_per_user: int | None = None) -> Data:
    """Find TwiBot-20 at ``root`` (folder or JSON file) and read it through the processed cache."""
    path = find_twibot(root, "twibot20")
    files = twibot20_files(path)
    return load_processed(files, name, lambda: read_twibot20(path, name, max_tweets_per_user=max_tweets_per_user),
                          {"max_tweets_per_user": max_tweets_per_user})


def open_twibot22(root: str | os.PathLike, name: str = "twibot22", *,
                  max_tweets_per_user: int | None = None) -> Data:
    """Find TwiBot-22 at ``root`` and read it through the processed cache."""
    folder = find_twibot(root, "twibot22")
    raw = [*twibot22_node_files(folder),
           *(folder / f for f in ("edge.csv", "label.csv", "split.csv") if (folder / f).is_file())]
    return load_processed(raw, name, lambda: read_twibot22(folder, name, max_tweets_per_user=max_tweets_per_user),
                          {"max_tweets_per_user": max_tweets_per_user})
