"""Two gloo processes train the same model as one process with the same global batch."""

from __future__ import annotations

import os
import socket
import time

import pytest
import torch
import torch.multiprocessing as mp

from mgbench.benchmark import distributed
from mgbench.benchmark.models import build_gnn, resolve_model
from mgbench.benchmark.sampling import SamplingSettings, fit_gnn_sampled
from mgbench.benchmark.protocol import TrainSettings
from mgbench.datasets.splits import mgtab_split
from mgbench.datasets.tasks import get_task

# Full neighbourhoods (fan-out -1) make each seed's computation graph independent of
# the other seeds in its batch; dropout 0 removes the ranks' different dropout masks.
SAMPLING = SamplingSettings(fanout=(-1, -1), batch_size=25)  # 84 train seeds: 25, 25, 25, 9
TRAINING = TrainSettings(epochs=3, lr=1e-2, patience=10)


def _fit() -> dict:
    gen = torch.Generator().manual_seed(0)
    n = 120
    y = torch.randint(0, 2, (n,), generator=gen)
    x = torch.randn(n, 8, generator=gen) + y[:, None].float()
    edge_index = torch.randint(0, n, (2, 600), generator=gen)
    edge_type = torch.randint(0, 2, (600,), generator=gen)
    task = get_task("bot")
    torch.manual_seed(0)
    model = build_gnn(resolve_model("rgcn"), {"hidden_channels": 16, "dropout": 0.0}, in_channels=8,
                      num_classes=2, num_relations=2, feature_blocks={}, categorical_columns=[])
    result = fit_gnn_sampled(model, x, edge_index, edge_type, y, mgtab_split(torch.arange(n), 0), task,
                             TRAINING, SAMPLING, seed=0, progress=False)
    return {"val": result.val, "test": result.test, "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run, "params": {k: v.detach().clone() for k, v in model.state_dict().items()}}


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    with distributed.session("cpu") as device:
        assert device.type == "cpu" and distributed.world_size() == world
        result = _fit()
        if distributed.is_main():
            torch.save(result, out)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_equal_one_process(tmp_path):
    out = tmp_path / "rank0.pt"
    ctx = mp.spawn(_worker, args=(2, _free_port(), str(out)), nprocs=2, join=False)
    deadline = time.monotonic() + 120
    while not ctx.join(timeout=5):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail("distributed workers did not finish in 120 s")
    two = torch.load(out, weights_only=False)
    one = _fit()
    assert (two["best_epoch"], two["epochs_run"]) == (one["best_epoch"], one["epochs_run"]) == (
        one["best_epoch"], TRAINING.epochs)
    for part in ("val", "test"):
        assert two[part] == pytest.approx(one[part], abs=1e-6)
    for name, value in one["params"].items():
        torch.testing.assert_close(two["params"][name], value, atol=1e-5, rtol=1e-4)


def test_helpers_are_single_process_identities_outside_a_group():
    items = torch.arange(7)
    assert not distributed.is_active() and distributed.is_main() and distributed.world_size() == 1
    assert torch.equal(distributed.shard(items), items)
    assert torch.equal(distributed.unshard(items, 7), items)
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}


def test_setup_without_torchrun_environment_says_how_to_start(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ValueError, match="torchrun --nproc-per-node"):
        distributed.setup("cpu")
