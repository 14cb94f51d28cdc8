"""Safe reading and atomic writing of ``.pt`` files.

Reading: a file we cannot trust (downloaded, or a cache another process may
have cut short) is refused with a :class:`DatasetError` naming it before any
large allocation. Writing goes through :func:`mgbench.atomic.atomic_path`: a
reader never sees a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, Iterator

import torch

from mgbench.atomic import atomic_path

from .errors import DatasetError


def load_tensor(path: str | os.PathLike) -> torch.Tensor:
    """Load one tensor saved with ``torch.save``, never running pickled code.

    ``weights_only=True`` makes torch refuse any pickle that would construct an
    arbitrary object: a downloaded file can hold tensors, nothing executable.
    Every failure is re-raised as :class:`DatasetError` naming the file.
    """
    obj = load_pt(path)
    if not isinstance(obj, torch.Tensor):
        raise DatasetError(f"{path}: expected a tensor, found {type(obj).__name__}")
    return obj


def load_ids(path: str | os.PathLike, what: str = "ids") -> torch.Tensor:
    """A tensor of whole numbers (node ids, relation ids, labels) as int64; fractions are refused."""
    t = load_tensor(path)
    check_integral(t, str(path), what)
    return t.to(torch.int64)


def check_integral(t: torch.Tensor, where: str, what: str = "ids") -> None:
    """Refuse a tensor of ids or labels that ``.to(torch.int64)`` would silently change.

    A float file holding ``0.5`` would otherwise become node 0 or class 0.
    """
    if t.is_complex():
        raise DatasetError(f"{where}: {what} must be whole numbers, found dtype {t.dtype}")
    if t.is_floating_point() and t.numel():
        bad = ~torch.isfinite(t) | (t != torch.round(t))
        if bool(bad.any()):
            raise DatasetError(f"{where}: {what} must be whole numbers, found {t[bad].flatten()[0].item()!r} "
                               f"({int(bad.sum())} such values); they would be truncated silently")


def load_pt(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True)`` with errors that name the file.

    Refused before loading: a missing, empty or unreadable file. Refused after
    (before any tensor is materialised): a tensor claiming more elements than
    its file stores, such as a crafted stride-0 view of one value with a
    billion-element shape.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: file is missing")
    if not path.is_file():
        raise DatasetError(f"{path}: not a regular file")
    try:
        with path.open("rb"):
            pass
        size = path.stat().st_size
    except OSError as err:
        raise DatasetError(f"{path}: cannot be read ({err.strerror or err}); check its permissions") from None
    if size == 0:
        raise DatasetError(f"{path}: empty file (0 bytes), a cut-short download, copy or cache write; "
                           f"restore or delete it")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=_can_mmap(path))
    except pickle.UnpicklingError as err:
        raise DatasetError(
            f"{path}: refused to load: the file holds objects other than tensors "
            f"(loaded with weights_only=True): {_first_line(err)}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, IndexError, KeyError) as err:
        raise DatasetError(f"{path}: corrupt or truncated .pt file: {_first_line(err)}") from None
    for t in _tensors(obj):
        _check_stored(t, path)
    return obj


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def _tensors(obj: Any) -> Iterator[torch.Tensor]:
    """Every tensor in ``obj``, in the dicts nested in it and in its lists of tensors.

    What we load holds tensors there only (a tensor file, a cached graph's or
    feature block's dict); a list of anything else (the tweet texts of a
    cached TwiBot graph: millions of strings) is not walked.
    """
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)) and item and isinstance(item[0], torch.Tensor):
            stack.extend(item)


def _check_stored(t: torch.Tensor, path: Path) -> None:
    """Refuse a tensor whose shape needs more bytes than its storage holds (stride 0, overlapping strides)."""
    need = t.numel() * t.element_size()
    stored = t.untyped_storage().nbytes() - t.storage_offset() * t.element_size()
    if need > stored:
        raise DatasetError(f"{path}: a tensor of shape {tuple(t.shape)} (stride {t.stride()}) needs {need} bytes "
                           f"but the file stores {max(stored, 0)}: an implausible view, refused before "
                           f"allocating it")


def _can_mmap(path: Path) -> bool:
    # Memory-mapping needs the zip-based format (torch >= 1.6); older pickles cannot.
    return zipfile.is_zipfile(path)


# --- writing ---------------------------------------------------------------------------------------------

def save_pt(obj: Any, target: str | os.PathLike) -> None:
    """``torch.save`` atomically."""
    with atomic_path(target) as tmp:
        torch.save(obj, tmp)
