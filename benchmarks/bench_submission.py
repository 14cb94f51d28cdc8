"""The README's submission example against the built-in baseline of its architecture: epoch time and peak memory.

Issue 19's goal: a researcher's model built from :mod:`mgbench.nn` trains as
fast and as lean as our baselines. Three contestants, each on the runner's
default task (full-size ``mgtab-synthetic``, bot, relations
``followers,friends``, default features):

- ``example``: the README's ``MyGNN`` (the ``# my_gnn.py`` block, verbatim)
  with ``hidden_channels=128`` as the README's command sets it, built from
  :class:`mgbench.nn.SAGEConv`;
- ``example (stock PyG)``: the same block with ``torch_geometric.nn``'s
  ``SAGEConv`` (what the README showed before issue 19);
- ``graphsage``: the built-in baseline, its registered defaults.

One epoch is what :func:`mgbench.benchmark.train.fit_gnn` does per epoch: a
training forward, the loss on the training nodes, backward, an AdamW step, and
an evaluation forward without gradients. Each contestant runs in a fresh
subprocess, built the runner's way (``resolve_model``, ``merge_hyperparameters``,
``build_gnn``) and trained inside the runner's allocator setting
(``freed_memory_kept``); it reports the median of ``--repeats`` timed epochs
after one warm-up epoch (which builds the cached sparse structure) and its
peak resident memory over the whole child (``VmHWM``: data, model, training),
which is what the user's machine must hold.

    python benchmarks/bench_submission.py                  # full size, 5 timed epochs each
    python benchmarks/bench_submission.py --quick          # 1,000 nodes, 2 epochs: a smoke run
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from bench_gnn_epoch import _memory_kb, time_epochs  # a script beside this one: benchmarks/ is on sys.path when run

README = Path(__file__).resolve().parents[1] / "README.md"
STOCK_IMPORT = "from torch_geometric.nn import SAGEConv"


def readme_example() -> str:
    """The README's ``# my_gnn.py`` block, verbatim."""
    match = re.search(r"```python\n(# my_gnn\.py\n.*?)```", README.read_text(), re.S)
    if match is None:
        raise SystemExit("README.md has no ```python block starting with '# my_gnn.py'")
    return match.group(1)


def stock_variant(source: str) -> str:
    """The same model with stock PyG's ``SAGEConv`` in place of ``mgbench.nn``'s."""
    stock, count = re.subn(r"^from mgbench\.nn import SAGEConv.*$", STOCK_IMPORT, source, flags=re.M)
    if count != 1:
        raise SystemExit("the README example does not import SAGEConv from mgbench.nn on one line")
    return stock


def run_child(job: dict) -> dict:
    """Build one contestant as the runner does and time its epochs (in this fresh process)."""
    import torch.nn.functional as F

    from mgbench import datasets as ds
    from mgbench.benchmark.environment import freed_memory_kept
    from mgbench.benchmark.models import build_gnn, merge_hyperparameters, resolve_model

    data = ds.load("mgtab-synthetic", root=job["root"], **job["options"])
    graph = ds.select_relations(data, "followers,friends")
    split = ds.get_split(graph, "bot", seed=0)
    spec = resolve_model(job["model"])
    hyperparameters = merge_hyperparameters(spec, job["set"])
    torch.manual_seed(0)
    model = build_gnn(spec, hyperparameters, in_channels=graph.x.size(1), num_classes=2,
                      num_relations=len(graph.relation_names), feature_blocks=dict(graph.feature_blocks),
                      categorical_columns=list(graph.categorical_columns))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=5e-4)
    x, edge_index, edge_type, y, train = graph.x, graph.edge_index, graph.edge_type, graph.y_bot, split.train

    def epoch() -> None:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x, edge_index, edge_type)[train], y[train]).backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            model(x, edge_index, edge_type)

    with freed_memory_kept():
        first, times = time_epochs(epoch, job["repeats"])
    return {"seconds": statistics.median(times), "first": first, "peak_mb": _memory_kb("VmHWM") / 1024,
            "nodes": graph.num_nodes, "edges": graph.edge_index.size(1), "features": graph.x.size(1),
            "hyperparameters": hyperparameters}


def _measure(job: dict) -> dict | None:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)],
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        why = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
        print(f"  {job['model']} failed: {why}\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per contestant (median)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000-node graph, 2 timed epochs")
    parser.add_argument("--root", default=None, help="dataset root (default: $MGBENCH_ROOT or ~/.cache/mgbench)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))))
        return
    repeats = 2 if args.quick else args.repeats
    options = {"num_nodes": 1000} if args.quick else {}
    with tempfile.TemporaryDirectory() as tmp:
        example = Path(tmp) / "my_gnn.py"
        example.write_text(readme_example())
        stock = Path(tmp) / "my_gnn_stock.py"
        stock.write_text(stock_variant(example.read_text()))
        job = {"root": args.root, "options": options, "repeats": repeats}
        contestants = [("example (mgbench.nn)", {**job, "model": f"{example}:MyGNN", "set": {"hidden_channels": 128}}),
                       ("example (stock PyG)", {**job, "model": f"{stock}:MyGNN", "set": {"hidden_channels": 128}}),
                       ("graphsage baseline", {**job, "model": "graphsage", "set": {}})]
        results = {name: _measure(job) for name, job in contestants}
    base = results["graphsage baseline"]
    first = next((r for r in results.values() if r), None)
    if first:
        print(f"mgtab-synthetic bot, followers,friends: {first['nodes']} nodes, {first['edges']} edges, "
              f"{first['features']} features; torch {torch.__version__}, {torch.get_num_threads()} threads; "
              f"median of {repeats} epochs (train step + eval forward) after 1 warm-up")
    print(f"| {'contestant':<22} | {'s/epoch':>7} | {'x baseline':>10} | {'1st epoch s':>11} | {'peak MB':>7} "
          f"| {'x baseline':>10} |")
    print(f"|{'-' * 24}|{'-' * 8}:|{'-' * 11}:|{'-' * 12}:|{'-' * 8}:|{'-' * 11}:|")
    for name, r in results.items():
        if r is None:
            print(f"| {name:<22} | {'failed':>7} | {'':>10} | {'':>11} | {'':>7} | {'':>10} |")
            continue
        time_ratio = f"{r['seconds'] / base['seconds']:.2f}x" if base else "n/a"
        mem_ratio = f"{r['peak_mb'] / base['peak_mb']:.2f}x" if base else "n/a"
        print(f"| {name:<22} | {r['seconds']:>7.3f} | {time_ratio:>10} | {r['first']:>11.2f} | {r['peak_mb']:>7.0f} "
              f"| {mem_ratio:>10} |", flush=True)


if __name__ == "__main__":
    main()
