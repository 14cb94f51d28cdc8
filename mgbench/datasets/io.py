"""Safe reading of ``.pt`` files and atomic writing of anything we produce."""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

import torch

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


def load_pt(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True)`` with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file is missing")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=_can_mmap(path))
    except pickle.UnpicklingError as err:
        raise DatasetError(
            f"{path}: refused to load: the file holds objects other than tensors "
            f"(loaded with weights_only=True): {str(err).splitlines()[0]}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise DatasetError(f"{path}: corrupt or truncated .pt file: {str(err).splitlines()[0]}") from None


def _can_mmap(path: Path) -> bool:
    # Memory-mapping needs the zip-based format (torch >= 1.6); older pickles cannot.
    return zipfile.is_zipfile(path)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    A reader never sees a half-written file: either the old file or the new one.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def save_pt(obj: Any, target: str | os.PathLike) -> None:
    """``torch.save`` atomically."""
    with atomic_path(target) as tmp:
        torch.save(obj, tmp)
