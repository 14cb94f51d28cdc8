"""Safe reading of ``.pt`` files and atomic writing of anything we produce.

Reading: a file we cannot trust (downloaded, or a cache another process may
have cut short) is refused with a :class:`DatasetError` naming it before any
large allocation. Writing: a reader never sees a half-written file, a file we
write gets the permissions the umask allows (``tempfile.mkstemp`` would leave
0600, hiding a shared data root from its other users), and the hidden
temporary file of a writer that was killed is swept away by the next writer.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import secrets
import shutil
import socket
import time
import zipfile
from pathlib import Path
from typing import Any, Iterator

import torch

from .errors import DatasetError

#: A temporary file or folder untouched this long belongs to a dead writer, whatever its host.
ORPHAN_AGE_S = 24 * 3600


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

_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temp_name(base: str) -> str:
    """A hidden name beside ``base`` that says which host and process wrote it (see :func:`sweep_orphans`)."""
    return f".{base}.{_HOST}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def sweep_orphans(folder: Path) -> None:
    """Delete the temporary files and folders of writers that died (``kill -9``, a power cut).

    A temporary entry is an orphan when its process, on this host, is gone, or
    when nobody touched it for :data:`ORPHAN_AGE_S` (another host's writer).
    A live writer's entry is never touched.
    """
    try:
        entries = list(folder.glob(".*.tmp"))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        parts = entry.name.rsplit(".", 4)
        if len(parts) != 5 or len(parts[1]) != len(_HOST) or not parts[2].isdigit():
            continue
        _, host, pid, _, _ = parts
        try:
            stale = now - entry.lstat().st_mtime > ORPHAN_AGE_S
            if stale or (host == _HOST and not _alive(int(pid))):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        except OSError:
            continue


def _alive(pid: int) -> bool:
    if os.name != "posix":  # no cheap, harmless probe: leave it to the age rule
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    A reader never sees a half-written file: either the old file or the new one.
    The temporary file is created like any file (mode 0666 less the umask).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_orphans(target.parent)
    while True:
        tmp_path = target.with_name(temp_name(target.name))
        try:
            os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def save_pt(obj: Any, target: str | os.PathLike) -> None:
    """``torch.save`` atomically."""
    with atomic_path(target) as tmp:
        torch.save(obj, tmp)
