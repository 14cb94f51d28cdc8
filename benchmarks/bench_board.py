"""Time the GNN half of the `mgtab` board on the full-size twin and extrapolate to every seed.

The MGTAB board is 8 GNNs x 2 tasks x 5 seeds under the default protocol (up
to 200 epochs, early stopping with patience 30 from epoch 100 on). This script runs the suite's
GNN runs for ``--seeds`` (default: seed 0 only, 16 runs) through the real CLI,

    mgbench run --suite mgtab --dataset mgtab-synthetic --model <the 8 GNNs> --seeds 0 --jobs 2

into a fresh results folder, measures the wall time of that command, and
prints per model and task the training time and epochs of each run, the wall
time, and the board's estimated wall time: the measured wall time times
``5 / len(seeds)`` (every seed trains the same models for a similar number of
epochs; the spread of epochs over seeds is the estimate's uncertainty).

    python benchmarks/bench_board.py                     # 16 runs, about 20 minutes on 2 cores
    python benchmarks/bench_board.py --seeds 0-4         # the whole board, measured, not estimated
    python benchmarks/bench_board.py --models gcn,rgcn   # a part
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mgbench.datasets import parse_seeds

GNNS = "gcn,gat,graphsage,rgcn,botrgcn,hgt,simple-hgn,rgt"
BOARD_SEEDS = 5


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=GNNS, help=f"comma list of the suite's models (default {GNNS})")
    parser.add_argument("--seeds", default="0", help="seeds to run (default 0); the board has 0-4")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2, one per core)")
    parser.add_argument("--root", default=None, help="dataset root (default: $MGBENCH_ROOT or ~/.cache/mgbench)")
    parser.add_argument("--results", default=None, help="results folder (default: a fresh temporary one)")
    args = parser.parse_args(argv)
    seeds = parse_seeds(args.seeds)

    with tempfile.TemporaryDirectory() as tmp:
        results = Path(args.results or tmp)
        command = [sys.executable, "-m", "mgbench", "run", "--suite", "mgtab", "--dataset", "mgtab-synthetic",
                   "--model", args.models, "--seeds", args.seeds, "--jobs", str(args.jobs),
                   "--results", str(results), "--quiet"] + (["--root", args.root] if args.root else [])
        print("$", " ".join(command[1:]), flush=True)
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        records = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]

    print(f"{len(records)} runs, {args.jobs} jobs, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'model':<11} {'task':<7} {'seed':>4} {'epochs':>6} {'best':>5} {'train s':>8} {'s/epoch':>8} "
          f"{'test F1':>7}")
    for r in sorted(records, key=lambda r: (r["definition"]["model"], r["definition"]["task"],
                                             r["definition"]["seed"])):
        d = r["definition"]
        print(f"{d['model']:<11} {d['task']:<7} {d['seed']:>4} {r['epochs_run']:>6} {r['best_epoch']:>5} "
              f"{r['train_time_s']:>8.1f} {r['train_time_s'] / r['epochs_run']:>8.2f} "
              f"{r['metrics']['test']['f1_macro']:>7.4f}")
    train = sum(r["train_time_s"] for r in records)
    scale = BOARD_SEEDS / len(seeds)
    print(f"training time summed over runs: {train / 60:.1f} min; wall time: {wall / 60:.1f} min")
    print(f"board estimate ({BOARD_SEEDS} seeds): {wall * scale / 3600:.2f} h wall "
          f"(measured wall x {scale:g})")


if __name__ == "__main__":
    main()
