"""Trials per hour of ``mgbench tune`` with and without pruning, on one model.

Each pruner searches the same model, data and budget from the same sampler seed
(a fresh SQLite study each), under the standard protocol (up to 200 epochs,
early stopping from epoch 100). Prints a Markdown table: wall time, trials per
hour, the same per hour of this process's CPU time (steadier than wall time on a
shared machine), how many trials were pruned, epochs trained per trial, and the
best validation macro F1 the search found (what pruning may cost).

    python benchmarks/bench_pruning.py                       # gcn, 2,000-node twin, 20 trials
    python benchmarks/bench_pruning.py --model rgcn --trials 30 --num-nodes 4000
"""

from __future__ import annotations

import argparse
import tempfile
import time

import optuna
import torch

from mgbench.benchmark import ResultStore, RunSpec
from mgbench.benchmark.tuning import PRUNERS, Target, TuneOptions, open_storage, tune


def measure(pruner: str, target: Target, trials: int, root: str | None) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        options = TuneOptions(trials=trials, pruner=pruner, sampler_seed=0)
        start, cpu_start = time.perf_counter(), time.process_time()
        [outcome] = tune([target], ResultStore(folder), options, root=root, progress=False, search_only=True)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        study = optuna.load_study(study_name=outcome.study, storage=open_storage(None, folder))
        done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))
    epochs = [sum(t.user_attrs["epochs_run"]) for t in done]
    return {"pruner": pruner, "wall_s": wall, "trials": len(done), "per_hour": 3600 * len(done) / wall,
            "cpu_s": cpu, "per_cpu_hour": 3600 * len(done) / cpu,
            "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in done),
            "epochs": sum(epochs) / len(epochs), "best": outcome.best_value}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="gcn")
    parser.add_argument("--task", default="bot")
    parser.add_argument("--num-nodes", type=int, default=2000, help="size of the mgtab-synthetic twin")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--root", help="data folder (default: $MGBENCH_ROOT or ~/.cache/mgbench)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = RunSpec(dataset="mgtab-synthetic", task=args.task, model=args.model,
                   dataset_options={"num_nodes": args.num_nodes})
    target = Target(spec, (0,))
    rows = [measure(pruner, target, args.trials, args.root) for pruner in PRUNERS[::-1]]  # none first
    print(f"{args.model} on mgtab-synthetic ({args.num_nodes:,} nodes), {args.task}, {args.trials} trials, "
          f"TPE seed 0, {args.threads} thread(s)\n")
    print("| pruner | wall s | trials / hour | CPU s | trials / CPU hour | pruned | epochs / trial | "
          "best val macro F1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['pruner']} | {r['wall_s']:.0f} | {r['per_hour']:.0f} | {r['cpu_s']:.0f} | "
              f"{r['per_cpu_hour']:.0f} | {r['pruned']} of {r['trials']} | {r['epochs']:.0f} | {r['best']:.4f} |")


if __name__ == "__main__":
    main()
