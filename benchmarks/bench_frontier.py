"""One training epoch of the frontier detectors against R-GCN, on the full-size twin with all 7 relations.

The budget the frontier suite holds them to: each within 3x R-GCN's epoch.
One epoch = training-mode forward, the model's training objective (its
``training_loss`` where it has one, so RF-GNN's bootstraps, SEBot's
contrastive term, OS-GNN's synthetic nodes and BotMoE's balance loss are
timed), backward, AdamW step, then the eval-mode forward that scores
validation, as ``fit_gnn`` runs it. Every model runs at its registered
defaults in a fresh subprocess with one thread budget, under the runner's
allocator setting (``freed_memory_kept``). The first epoch builds what is
built once per graph (operators, RF-GNN's edge samples, SEBot's encoding
tree when its cache is cold, OS-GNN's propagated features and synthetic
nodes): its time is reported apart (``first s``). ``s/epoch`` is the median
of ``--repeats`` later epochs; ``peak MB`` is the resident high-water mark
above the loaded data and model, over all epochs.

    python benchmarks/bench_frontier.py                  # full size, all relations, 2 threads
    python benchmarks/bench_frontier.py --num-nodes 2000 --models rgcn,sebot
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODELS = ("rgcn", "rf-gnn", "sebot", "os-gnn", "botmoe")


def _memory_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(job: dict) -> dict:
    import torch

    from mgbench import datasets as ds
    from mgbench.benchmark.environment import freed_memory_kept, seed_everything
    from mgbench.benchmark.models import build_gnn, merge_hyperparameters, resolve_model
    from mgbench.benchmark.train import training_objective

    torch.set_num_threads(job["threads"])
    options = {"num_nodes": job["num_nodes"]} if job["num_nodes"] else {}
    graph = ds.load("mgtab-synthetic", **options)
    task = ds.get_task("bot")
    y, _ = ds.task_labels(graph, task)
    split = ds.get_split(graph, task, 0)
    seed_everything(0)
    spec = resolve_model(job["model"])
    model = build_gnn(spec, merge_hyperparameters(spec, {}), in_channels=graph.num_features,
                      num_classes=task.num_outputs, num_relations=len(graph.relation_names),
                      feature_blocks=graph.feature_blocks, categorical_columns=graph.categorical_columns)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=5e-4)
    objective = training_objective(model, task)
    x, edge_index, edge_type = graph.x, graph.edge_index, graph.edge_type

    def epoch() -> float:
        start = time.perf_counter()
        model.train()
        optimizer.zero_grad(set_to_none=True)
        loss = objective(model(x, edge_index, edge_type), y, split.train)
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            model(x, edge_index, edge_type)
        return time.perf_counter() - start

    base_kb = _memory_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM) to the current RSS
    with freed_memory_kept():
        first = epoch()
        times = [epoch() for _ in range(job["repeats"])]
    return {"model": job["model"], "first_s": first, "epoch_s": statistics.median(times),
            "peak_mb": (_memory_kb("VmHWM") - base_kb) / 1024,
            "parameters": sum(p.numel() for p in model.parameters())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--num-nodes", type=int, default=0, help="0: the full-size twin (10,199 users)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    rows = []
    for name in args.models.split(","):
        job = {"model": name, "num_nodes": args.num_nodes, "threads": args.threads, "repeats": args.repeats}
        proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"{name} failed:\n{proc.stderr}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"done {name}: {rows[-1]['epoch_s']:.3f} s/epoch", file=sys.stderr)
    base = next((r["epoch_s"] for r in rows if r["model"] == "rgcn"), None)
    print("| model | s/epoch | ratio to rgcn | first s | peak MB | parameters |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = f"{r['epoch_s'] / base:.2f}x" if base else "n/a"
        print(f"| {r['model']} | {r['epoch_s']:.3f} | {ratio} | {r['first_s']:.2f} | {r['peak_mb']:.0f} | "
              f"{r['parameters']:,} |")


if __name__ == "__main__":
    main()
