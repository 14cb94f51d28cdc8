"""Processed cache: the second load of a dataset reads one validated file.

The cache key hashes the raw files' names, sizes, modification times and inodes together
with the source of the processing code, so a changed raw file or a changed
loader rebuilds the cache instead of serving stale data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Iterable

from torch_geometric.data import Data

from .errors import DatasetError
from .io import load_pt, save_pt

_CODE_FILES = ("graph.py", "layout.py", "io.py", "cache.py")


def _code_hash() -> str:
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in _CODE_FILES:
        h.update((here / name).read_bytes())
    return h.hexdigest()


def cache_key(raw_files: Iterable[Path]) -> str:
    h = hashlib.sha256(_code_hash().encode())
    for path in sorted(raw_files):
        st = path.stat()
        h.update(f"{path.name}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}\n".encode())
    return h.hexdigest()[:16]


def load_processed(folder: Path, name: str, read: Callable[[Path, str], Data]) -> Data:
    """Read ``folder`` with ``read``, through a cache file in ``folder/processed/``."""
    raw = [p for p in folder.glob("*.pt") if p.is_file()]
    cache_file = folder / "processed" / f"{name}-{cache_key(raw)}.pt"
    if cache_file.is_file():
        try:
            return Data.from_dict(load_pt(cache_file))
        except DatasetError:
            cache_file.unlink(missing_ok=True)  # a corrupt cache is rebuilt, never trusted
    data = read(folder, name)
    for stale in (folder / "processed").glob(f"{name}-*.pt"):
        stale.unlink(missing_ok=True)
    save_pt(data.to_dict(), cache_file)
    return data
