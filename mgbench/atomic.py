"""Atomic writing: a reader never sees a half-written file, and a killed writer leaves nothing behind.

One helper for everything mgbench writes (datasets, caches, result records,
the board): the data goes to a hidden temporary file beside its target, which
is renamed onto it once complete. A file we write gets the permissions the
umask allows (``tempfile.mkstemp`` would leave 0600, hiding a shared data root
or a published board from its other users), and the next writer to a folder
sweeps away the temporary files of writers that were killed. A leaf module:
it imports nothing of mgbench.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import socket
import time
from pathlib import Path
from typing import Iterator

#: A temporary file or folder untouched this long belongs to a dead writer, whatever its host.
ORPHAN_AGE_S = 24 * 3600

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


def write_atomic(target: str | os.PathLike, data: bytes) -> None:
    """Replace ``target`` by ``data``, flushed to disk before the rename."""
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
