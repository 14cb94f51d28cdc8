"""Data-parallel training across processes: set-up, tear-down and rank-aware helpers.

``torchrun --nproc-per-node N -m mgbench run ... --distributed`` starts N
processes that each hold the whole graph and train one model with
:class:`~torch.nn.parallel.DistributedDataParallel`: every step, each rank
trains on its share of one global mini-batch and gradients are all-reduced
(:mod:`.sampling`). NCCL is chosen when CUDA is present (one GPU per local
rank), gloo otherwise. Outside a process group every helper degrades to the
single-process answer, so the training loop has one code path.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

import torch
import torch.distributed as dist
from torch import Tensor


def is_active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_active() else 0


def world_size() -> int:
    return dist.get_world_size() if is_active() else 1


def is_main() -> bool:
    """Rank 0 (or no process group): the one process that writes results and prints."""
    return rank() == 0


def setup(device: str = "auto") -> torch.device:
    """Join the process group described by torchrun's environment; return this rank's device.

    ``device="auto"`` takes GPU ``LOCAL_RANK`` with NCCL when CUDA is present,
    else the CPU with gloo; ``device="cpu"`` forces gloo even on a GPU machine.
    """
    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ValueError(f"--distributed needs torchrun's environment (missing {', '.join(missing)}); "
                         "start with: torchrun --nproc-per-node N -m mgbench run ... --distributed")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    if use_cuda:
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device(device if device not in ("auto", "cuda") else "cpu")
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", init_method="env://")
    return dev


def teardown() -> None:
    if is_active():
        dist.destroy_process_group()


@contextlib.contextmanager
def session(device: str = "auto") -> Iterator[torch.device]:
    """``with session(args.device) as device:`` -- set up, and always tear down."""
    dev = setup(device)
    try:
        yield dev
    finally:
        teardown()


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` in DistributedDataParallel inside a process group, else unchanged.

    ``find_unused_parameters`` is on because a registered model may hold
    parameters that its forward never uses (HGT's last-layer skip gate), which
    DDP would otherwise reject at the second step.
    """
    if not is_active():
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def shard(items: Tensor) -> Tensor:
    """This rank's share ``items[rank::world]``; the shares' union is ``items``."""
    return items[rank()::world_size()]


def unshard(local: Tensor, total: int) -> Tensor:
    """Inverse of :func:`shard` over all ranks: every rank gets all ``total`` rows in order."""
    if not is_active():
        return local
    parts: list[Any] = [None] * world_size()
    dist.all_gather_object(parts, local.cpu())
    out = torch.empty((total, *local.shape[1:]), dtype=local.dtype)
    for r, part in enumerate(parts):
        out[r::len(parts)] = part
    return out


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (e.g. the list of runs still to do)."""
    if not is_active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
