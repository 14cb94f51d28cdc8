"""Processed cache: the second load of a dataset reads one validated file.

Where: ``<dataset folder>/processed/`` when that folder may be written to;
otherwise (a shared read-only copy of MGTAB, the published TwiBot sample) a
folder of the user's cache, :func:`cache_root` ``/processed/<folder hash>/``.
A valid cache in a read-only ``processed/`` is read all the same.

Key: the source of the processing code, the load options, and for each raw
file its resolved path, size, modification time and inode together with the
CRC-32 of every record the file stores when it is a zip-format ``.pt`` (read
from its central directory, so nothing is hashed). A changed raw file or a
changed loader gives a new key and the stale entry is deleted; a file
overwritten in place with its old size and time still changes its CRCs.

A cache that cannot be read, or does not hold a graph, is deleted and rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch
from torch_geometric.data import Data

from .errors import DatasetError
from .io import load_pt, save_pt

log = logging.getLogger(__name__)

CACHE_ENV = "MGBENCH_CACHE"
#: The code that shapes a processed graph, relative to the ``mgbench`` package.
_CODE_FILES = ("datasets/graph.py", "datasets/layout.py", "datasets/io.py", "datasets/cache.py",
               "datasets/twibot.py", "datasets/tasks.py", "features/profile.py")
_GRAPH_KEYS = ("x", "edge_index", "edge_type", "edge_weight")


def cache_root() -> Path:
    """``$MGBENCH_CACHE``, else the user cache folder (``$XDG_CACHE_HOME/mgbench``, ``~/.cache/mgbench``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "mgbench"


def writable(folder: Path) -> bool:
    """Marked writable *and* writable by us: a folder published read-only is left alone even by
    root, whom ``os.access`` alone would let write anywhere."""
    try:
        marked = folder.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    except OSError:
        return False
    return bool(marked) and os.access(folder, os.W_OK)


def _code_hash() -> str:
    here = Path(__file__).parents[1]
    h = hashlib.sha256()
    for name in _CODE_FILES:
        h.update((here / name).read_bytes())
    return h.hexdigest()


def _zip_crcs(path: Path) -> str:
    """The names, sizes and CRC-32s of a zip-format file's records, or "" for any other file."""
    try:
        with zipfile.ZipFile(path) as zf:
            return ",".join(f"{i.filename}:{i.file_size}:{i.CRC:08x}" for i in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return ""


def cache_key(raw_files: Iterable[Path], options: Mapping[str, Any] | None = None) -> str:
    h = hashlib.sha256(_code_hash().encode())
    for path in sorted(raw_files):
        st = path.stat()
        h.update(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{_zip_crcs(path)}\n".encode())
    h.update(repr(sorted((options or {}).items())).encode())
    return h.hexdigest()[:16]


def cache_folders(home: Path) -> list[tuple[Path, bool]]:
    """Where the processed cache of the dataset in ``home`` may be, in order, each with whether we may write there."""
    local = home / "processed"
    shared = cache_root() / "processed" / hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]
    return [(local, writable(local if local.is_dir() else home)), (shared, True)]


def load_processed(raw: list[Path], name: str, read: Callable[[], Data],
                   options: Mapping[str, Any] | None = None) -> Data:
    """``read()`` the dataset whose raw files are ``raw``, through its processed cache.

    The cache lives beside the first raw file (see the module docstring). A
    cache that cannot be written is skipped with a log line: the data is
    read, just not cached.
    """
    file_name = f"{name}-{cache_key(raw, options)}.pt"
    folders = cache_folders(raw[0].parent)
    for folder, may_write in folders:
        data = _read_cache(folder / file_name, may_write)
        if data is not None:
            return data
    data = read()
    for folder, may_write in folders:
        if not may_write:
            continue
        try:
            for stale in folder.glob(f"{name}-*.pt"):
                stale.unlink(missing_ok=True)
            save_pt(data.to_dict(), folder / file_name)
            break
        except OSError as err:
            log.info("%s: not cached (%s)", folder / file_name, err)
    return data


def _read_cache(path: Path, may_write: bool) -> Data | None:
    """The graph cached in ``path``, or None (deleting a cache that is corrupt or holds something else)."""
    if not path.is_file():
        return None
    try:
        stored = load_pt(path)
        if not (isinstance(stored, dict) and all(isinstance(stored.get(k), torch.Tensor) for k in _GRAPH_KEYS)):
            raise DatasetError(f"{path}: not a processed graph")
        return Data.from_dict(stored)
    except DatasetError as err:
        log.warning("%s; rebuilding the processed cache", err)
        if may_write:
            try:
                path.unlink(missing_ok=True)  # a corrupt cache is rebuilt, never trusted
            except OSError:
                pass
        return None
