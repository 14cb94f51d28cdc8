"""What a record says about where it ran: versions, git commit, hardware, peak memory."""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import random
import signal
import subprocess
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

import mgbench


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so a run repeats exactly on the CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# glibc mallopt() parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
#: Inside the block: no allocation is its own mmap, and the heap's top is never trimmed.
_KEPT = {_M_MMAP_MAX: 0, _M_TRIM_THRESHOLD: 2**31 - 1}
#: Written on exit: glibc's built-in values (DEFAULT_MMAP_MAX and DEFAULT_TRIM_THRESHOLD in
#: malloc.c). What they cannot restore is in :func:`freed_memory_kept`'s docstring.
_ON_EXIT = {_M_MMAP_MAX: 65536, _M_TRIM_THRESHOLD: 128 * 1024}
#: A user's own settings of these parameters, as environment variables or glibc tunables; either wins.
_USER_VARIABLES = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_")
_USER_TUNABLES = ("glibc.malloc.mmap_max", "glibc.malloc.trim_threshold")
#: How many :func:`freed_memory_kept` blocks are open; only the outermost one sets and restores.
_open_blocks = 0


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(None)


def _user_tuned_malloc() -> bool:
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    return any(v in os.environ for v in _USER_VARIABLES) or any(t in tunables for t in _USER_TUNABLES)


@contextlib.contextmanager
def freed_memory_kept() -> Iterator[bool]:
    """Within the block, glibc's ``malloc`` reuses freed memory instead of mapping fresh pages for every large tensor.

    Why: by default each allocation above 32 MB is its own ``mmap``, handed
    back to the system when freed, so the next one pays again in page faults
    and zeroing -- about 12 ms per 55 MB tensor on the 2-core development
    machine, ten times the arithmetic of the elementwise op that asked for it.
    Attention layers make dozens of such per-entry tensors an epoch: GAT's
    full-batch epoch on full-size ``mgtab-synthetic`` drops from 0.41 s to
    0.29 s, RGT's from 3.2 s to 2.2 s. The price is resident memory: freed
    memory stays with the process until the block ends (R-GCN's epoch peak
    above the loaded data: 349 MB -> 753 MB). ``benchmarks/bench_gnn_epoch.py``
    measures both ways (``--system-malloc``). Results are unchanged: no
    arithmetic moves.

    The runner trains inside this block; loading stays outside, so the
    dataset's big arrays are mapped as usual. Yields whether it changed
    anything: not off glibc, not where ``MGBENCH_MALLOC=system``, not where
    the user set ``MALLOC_MMAP_MAX_`` or ``MALLOC_TRIM_THRESHOLD_`` (or the
    same as ``GLIBC_TUNABLES``: their settings win), and not in a block nested
    in another (the outer one owns the setting, so an inner exit cannot undo it).

    On exit the freed memory goes back to the system (``malloc_trim``) and the
    two parameters get glibc's built-in values: ``M_MMAP_MAX`` 65,536, which is
    exactly what it was (a user's setting of it means we never touched it), and
    ``M_TRIM_THRESHOLD`` 128 KiB. Not everything can be restored: glibc has no
    getter for these parameters and no switch back, and any ``mallopt`` of them
    turns off its dynamic mmap threshold for the rest of the process. So after
    the first block (1) the mmap threshold stays where glibc's dynamic rule had
    put it before the block (128 KiB, raised to the largest freed mmapped chunk
    up to 32 MiB), instead of rising further: an allocation between it and
    32 MiB is mapped afresh each time, as one above 32 MiB always is; (2) the
    trim threshold is 128 KiB where the dynamic rule may have had twice the
    mmap threshold, so the heap's free top goes back to the system sooner.
    Both trade a little speed outside training for a smaller resident set;
    no arithmetic moves.
    """
    global _open_blocks
    libc = _glibc()
    if libc is None or os.environ.get("MGBENCH_MALLOC") == "system" or _user_tuned_malloc() or _open_blocks:
        yield False
        return
    _open_blocks += 1
    for param, value in _KEPT.items():
        libc.mallopt(param, value)
    try:
        yield True
    finally:
        for param, value in _ON_EXIT.items():
            libc.mallopt(param, value)
        libc.malloc_trim(0)
        _open_blocks -= 1


#: prctl(2) option: the signal this process gets when its parent exits (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def exit_with_parent(parent_pid: int) -> None:
    """Make this worker process end when its parent does, however the parent ends.

    Why: a sweep's workers are its children; killed with SIGTERM or SIGKILL (``kill``,
    ``timeout``, a batch scheduler's limit) the parent leaves them running, each
    finishing a run of several minutes nobody waits for, on CPUs the next job
    expects free. Linux only (``PR_SET_PDEATHSIG``); elsewhere a no-op. A worker
    killed mid-run writes nothing: records are written whole or not at all.
    """
    libc = _glibc()
    if libc is None:
        return
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent ended before the line above
        os._exit(1)


def versions() -> dict[str, str]:
    import sklearn
    import torch_geometric

    return {"mgbench": mgbench.__version__, "torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
            "sklearn": sklearn.__version__, "python": platform.python_version()}


def git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def hardware(device: torch.device) -> dict:
    return {"device": device.type, "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}


def timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    return device


class PeakMemory:
    """Peak memory of a block, whole and above what was in use when it began.

    On a GPU: CUDA's allocator peak. On the CPU: the process's resident set
    sampled every 20 ms (``ru_maxrss`` would carry earlier runs' peaks).
    ``peak_mb`` is the process's peak; ``added_mb`` the part above the block's
    start, i.e. what the run itself needed on top of the interpreter, the
    libraries and the loaded dataset (a logistic regression's few MB rather than
    the 500 MB of an interpreter that has imported torch).
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.peak_bytes = self.start_bytes = 0
        self._stop = threading.Event()

    @staticmethod
    def _rss() -> int:
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_bytes = max(self.peak_bytes, self._rss())

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start_bytes = torch.cuda.memory_allocated(self.device)
        else:
            self.peak_bytes = self.start_bytes = self._rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, self._rss())

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 2**20, 1)

    @property
    def added_mb(self) -> float:
        return round(max(self.peak_bytes - self.start_bytes, 0) / 2**20, 1)
