"""MGTAB-large at scale: generate (or find) a large-format graph, load it, train with neighbour sampling.

Reports, per phase, wall time and the process's peak resident memory
(``VmHWM``, reset between phases through ``/proc/self/clear_refs``):

1. generate -- ``mgtab-synthetic --scale large`` (410,199 users, ~98 M edges at
   ``--edge-scale 1``) written in MGTAB-large's file layout, in a child process
   so that its memory is not charged to loading (its own peak is printed too);
   skipped when already on disk;
2. load (raw) -- ``read_mgtab_large`` through the processed cache (first load);
3. load (cached) -- the second load, memory-mapped from the processed cache;
4. sampler -- building the CSC neighbour index;
5. train -- ``fit_gnn_sampled`` for ``--epochs`` epochs over the labelled
   training nodes (seeds/s: training seeds per second, sampling included), and
   sampled-subgraph nodes per second over ``--steps`` timed training steps.

    python benchmarks/bench_large.py --edge-scale 0.05          # ~4.9 M edges, minutes
    python benchmarks/bench_large.py                            # full size (~98 M edges)
    python benchmarks/bench_large.py --dataset mgtab-large --root DATA   # the real archive
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from pathlib import Path

import torch

from mgbench import datasets as ds
from mgbench.benchmark.models import build_gnn, resolve_model
from mgbench.benchmark.sampling import SamplingSettings, fit_gnn_sampled, parse_fanout
from mgbench.benchmark.protocol import TrainSettings
from mgbench.benchmark.train import task_loss
from mgbench.datasets.layout import find_folder
from mgbench.datasets.sampler import make_sampler
from mgbench.datasets.synthetic import write


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class Phase:
    """Time and peak RSS of a block; the peak counts from the block's start."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self) -> "Phase":
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        seconds = time.perf_counter() - self.start
        print(f"{self.name:<16} {seconds:8.1f} s   peak RSS {_status_kb('VmHWM') / 2**20:6.2f} GiB   "
              f"(now {_status_kb('VmRSS') / 2**20:.2f} GiB)", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="mgtab-synthetic", choices=["mgtab-synthetic", "mgtab-large"])
    parser.add_argument("--root", default=str(ds.default_root()))
    parser.add_argument("--edge-scale", type=float, default=1.0, help="synthetic: multiplies MGTAB-large's edges")
    parser.add_argument("--model", default="graphsage")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--task", default="bot")
    parser.add_argument("--fanout", default="10,10")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--per-relation", action="store_true")
    parser.add_argument("--backend", default="auto", choices=["auto", "pyg", "torch"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10, help="timed steps for the nodes/s figure")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    root = Path(args.root)
    if args.dataset == "mgtab-synthetic":
        config = ds.SyntheticConfig(large=True, edge_scale=args.edge_scale)
        folder = root / "mgtab-synthetic" / config.key()
        if not (folder / "COMPLETE").is_file():
            with Phase("generate"):
                child = multiprocessing.get_context("spawn").Process(target=write, args=(config, folder))
                child.start()
                child.join()
            if child.exitcode:
                raise SystemExit(f"generation failed (exit code {child.exitcode})")
            print(f"{'':<16} generator's own peak RSS "
                  f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20:.2f} GiB", flush=True)
        load = lambda: ds.load("mgtab-synthetic", root=root, large=True, edge_scale=args.edge_scale)  # noqa: E731
    else:
        folder = find_folder(root, "large_features.pt", "mgtab-large")
        load = lambda: ds.load("mgtab-large", root=root)  # noqa: E731
    for stale in folder.glob("processed/*.pt"):
        stale.unlink()  # time the raw read, not an earlier run's cache
    with Phase("load (raw)"):
        data = load()
    del data
    with Phase("load (cached)"):
        data = load()
    num_edges = data.edge_index.size(1)
    print(f"graph            {data.num_nodes:,} nodes, {num_edges:,} edges, {data.num_features} features; "
          f"in memory: x {data.x.nbytes / 2**30:.2f} GiB, edge_index {data.edge_index.nbytes / 2**30:.2f} GiB, "
          f"edge_type {data.edge_type.nbytes / 2**30:.2f} GiB", flush=True)

    task = ds.get_task(args.task)
    y, _ = ds.task_labels(data, task)
    split = ds.get_split(data, task, 0)
    sampling = SamplingSettings(parse_fanout(args.fanout), args.batch_size, args.per_relation)
    spec = resolve_model(args.model)
    torch.manual_seed(0)
    model = build_gnn(spec, {**spec.defaults, "hidden_channels": args.hidden}, in_channels=data.num_features,
                      num_classes=task.num_outputs, num_relations=len(data.relation_names),
                      feature_blocks=data.feature_blocks, categorical_columns=data.categorical_columns)

    with Phase("sampler"):
        sampler = make_sampler(data.edge_index, data.num_nodes, sampling.fanout, backend=args.backend,
                               edge_type=data.edge_type, num_relations=len(data.relation_names),
                               per_relation=args.per_relation)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    nodes = edges = 0
    sample_s = 0.0
    with Phase(f"{args.steps} steps"):
        start = time.perf_counter()
        for step in range(args.steps):
            seeds = split.train[torch.randperm(split.train.numel(), generator=gen)[: args.batch_size]]
            t0 = time.perf_counter()
            sub = sampler.sample(seeds, gen)
            sample_s += time.perf_counter() - t0
            logits = model(data.x[sub.n_id], sub.edge_index, data.edge_type[sub.e_id])[: sub.batch_size]
            optimizer.zero_grad()
            task_loss(logits, y[seeds], task).backward()
            optimizer.step()
            nodes, edges = nodes + sub.n_id.numel(), edges + sub.e_id.numel()
        seconds = time.perf_counter() - start
    print(f"steps            {sampler.name} sampler, fanout {list(sampling.fanout)}, batch {args.batch_size}: "
          f"{args.steps * args.batch_size / seconds:,.0f} seeds/s, {nodes / seconds:,.0f} sampled nodes/s, "
          f"{edges / seconds:,.0f} sampled edges/s; sampling alone {nodes / sample_s:,.0f} nodes/s "
          f"({100 * sample_s / seconds:.0f} % of the time); mean subgraph {nodes // args.steps:,} nodes", flush=True)
    del sampler

    with Phase(f"fit {args.epochs} epochs"):
        result = fit_gnn_sampled(model, data.x, data.edge_index, data.edge_type, y, split, task,
                                 TrainSettings(epochs=args.epochs, patience=args.epochs), sampling, seed=0,
                                 backend=args.backend, progress=False)
    print(f"fit              {result.sampler} sampler: {result.seeds_per_s:,.0f} training seeds/s; "
          f"val f1_macro {result.val['f1_macro']:.4f}, test f1_macro {result.test['f1_macro']:.4f} "
          f"(epoch {result.best_epoch} of {result.epochs_run})", flush=True)


if __name__ == "__main__":
    main()
