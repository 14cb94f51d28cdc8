"""Does the full-size twin rank models as MGTAB does? Twin F1 against the MGTAB paper's, per task.

Runs the chosen models on the full-size ``mgtab-synthetic`` (10,199 nodes) with
the paper's relations (followers, friends) under the standard protocol, for the
chosen seeds, into a results folder (runs whose record is there are skipped, so
a killed run resumes), then prints per task: the paper's macro F1, the twin's
mean ± std over seeds and their difference, Kendall's tau between the two over
the models the paper reports, and the three checks the twin is built to pass:

(a) every feature model beats the majority class's macro F1 on the twin;
(b) Kendall's tau between twin and paper F1 is at least 0.6;
(c) no model is more than 8 points from its paper F1.

    python benchmarks/twin_vs_paper.py --results /tmp/twin --seeds 0-4           # all 15 models
    python benchmarks/twin_vs_paper.py --results /tmp/twin --models adaboost,svm,knn --seeds 0
    python benchmarks/twin_vs_paper.py --results /tmp/twin --models gcn,gat --set epochs=100 --twin 1

The exit status is 1 when a check fails. ``--set`` changes GNN training settings
(``epochs``, ``patience``, ...) for quick calibration; the paper's table used 200 epochs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau
from sklearn.metrics import f1_score

from mgbench import datasets as ds
from mgbench.benchmark import ResultStore, RunSpec, prepare, sweep
from mgbench.benchmark.runner import DataCache
from mgbench.leaderboard import reference

FEATURE_MODELS = ("adaboost", "random-forest", "decision-tree", "svm", "knn", "logistic-regression", "mlp")
GNNS = ("gcn", "gat", "graphsage", "rgcn", "botrgcn", "hgt", "simple-hgn", "rgt")
TASKS = ("stance", "bot")
RELATIONS = "followers,friends"
MIN_TAU = 0.6
MAX_GAP = 8.0


def paper_f1(task: str) -> dict[str, float]:
    """The paper's mean macro F1 (percent) per registered model name."""
    return {reference.registered_name(r.model): 100 * r.mean["f1"] for r in
            reference.published_results("mgtab", task, RELATIONS.split(","), "default")}


def majority_f1(graph, task: str, seeds: list[int]) -> float:
    """Mean over seeds of the test macro F1 of always predicting the training split's majority class."""
    y = ds.task_labels(graph, task)[0].numpy()
    scores = []
    for seed in seeds:
        split = ds.get_split(graph, task, seed)
        majority = np.bincount(y[split.train.numpy()]).argmax()
        test = y[split.test.numpy()]
        scores.append(100 * f1_score(test, np.full_like(test, majority), average="macro"))
    return float(np.mean(scores))


def report(task: str, f1s: dict[str, list[float]], majority: float) -> bool:
    """Print one task's table and checks; True when all three hold."""
    paper = paper_f1(task)
    print(f"\n{task}: macro F1 (percent), twin mean ± std over seeds; majority class {majority:.1f}")
    print(f"{'model':<20} {'paper':>6} {'twin':>13} {'diff':>6} {'seeds':>5}")
    for model, values in sorted(f1s.items(), key=lambda kv: -np.mean(kv[1])):
        mean, std = np.mean(values), np.std(values)
        ref = paper.get(model)
        diff = f"{mean - ref:+6.1f}" if ref is not None else f"{'':>6}"
        print(f"{model:<20} {ref if ref is not None else float('nan'):6.1f} {mean:6.1f} ± {std:4.1f} {diff} "
              f"{len(values):5d}")
    common = [m for m in f1s if m in paper]
    tau = kendalltau([paper[m] for m in common], [np.mean(f1s[m]) for m in common]).statistic \
        if len(common) > 1 else float("nan")
    below = [m for m in f1s if m in FEATURE_MODELS and np.mean(f1s[m]) <= majority]
    far = [m for m in common if abs(np.mean(f1s[m]) - paper[m]) > MAX_GAP]
    checks = {"(a) every feature model beats the majority class": not below,
              f"(b) Kendall's tau >= {MIN_TAU}": tau >= MIN_TAU,
              f"(c) every model within {MAX_GAP:g} points of the paper": not far}
    print(f"Kendall's tau over {len(common)} models: {tau:.2f}")
    details = {0: f" (not: {', '.join(below)})" if below else "", 2: f" (not: {', '.join(far)})" if far else ""}
    for i, (name, ok) in enumerate(checks.items()):
        print(f"  {'PASS' if ok else 'FAIL'} {name}{details.get(i, '')}")
    return all(checks.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", required=True, help="results folder (kept; rerunning resumes)")
    parser.add_argument("--models", default=",".join(FEATURE_MODELS + GNNS),
                        help="comma list of registered models (default: all 15 baselines)")
    parser.add_argument("--seeds", default="0-4", help="seeds (default 0-4, as the paper)")
    parser.add_argument("--tasks", default=",".join(TASKS), help="stance, bot or both (default)")
    parser.add_argument("--twin", type=int, default=None, help="twin version (default: the generator's default)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="GNN training setting, e.g. epochs=100 (repeatable)")
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side, one thread each")
    parser.add_argument("--root", default=None, help="dataset root (default: $MGBENCH_ROOT or ~/.cache/mgbench)")
    args = parser.parse_args(argv)
    seeds = ds.parse_seeds(args.seeds)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    options = {} if args.twin is None else {"twin": args.twin}
    training = {}
    for item in args.set:
        key, _, value = item.partition("=")
        training[key] = float(value) if "." in value else int(value)
    gnn_training = lambda m: training if m not in FEATURE_MODELS else {}  # noqa: E731
    specs = [RunSpec(dataset="mgtab-synthetic", task=task, model=model, relations=RELATIONS, seed=seed,
                     dataset_options=options, training=gnn_training(model))
             for task in tasks for model in models for seed in seeds]
    store = ResultStore(Path(args.results))
    sweep(specs, store, root=args.root, jobs=args.jobs)
    cache = DataCache(args.root, progress=False)
    f1s: dict[str, dict[str, list[float]]] = {t: {} for t in tasks}
    for spec in specs:
        record = json.loads(store.path(prepare(spec, cache).definition).read_text())
        f1s[spec.task].setdefault(spec.model, []).append(100 * record["metrics"]["test"]["f1_macro"])
    graph = cache.graph("mgtab-synthetic", options)
    ok = [report(task, f1s[task], majority_f1(graph, task, seeds)) for task in tasks]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
