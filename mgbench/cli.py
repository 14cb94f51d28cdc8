"""The ``mgbench`` command: thin wrappers over the library, one sub-command each."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path

import yaml

#: The records committed with the project: the published board's input.
COMMITTED_RESULTS = Path("leaderboard") / "results"


def user_results() -> Path:
    """Where ``mgbench run`` writes by default: ``$MGBENCH_RESULTS``, else ``results/`` under
    the data root. Why not ``leaderboard/results``: a fresh clone's committed records would
    make the first ``run`` skip everything, and a user's runs would mix into the published ones."""
    from mgbench.datasets import default_root

    return Path(os.environ.get("MGBENCH_RESULTS") or default_root() / "results").expanduser()


#: Stands in a help string for the registered datasets' names, filled in only when help is shown:
#: building the parser must not import the data layer (``--version`` answers at once).
DATASET_NAMES = "<registered datasets>"
#: The same for the shipped suites' names (the files in ``mgbench/suites/``).
SUITE_NAMES = "<shipped suites>"


class _HelpFormatter(argparse.HelpFormatter):
    """Fills :data:`DATASET_NAMES` and :data:`SUITE_NAMES` in when a help text is printed."""

    def _get_help_string(self, action):
        text = super()._get_help_string(action) or ""
        if DATASET_NAMES in text:
            from mgbench.registry import registered_datasets

            text = text.replace(DATASET_NAMES, ", ".join(registered_datasets()).replace("%", "%%"))
        if SUITE_NAMES in text:
            from mgbench.suites import shipped_suites

            text = text.replace(SUITE_NAMES, ", ".join(shipped_suites()).replace("%", "%%"))
        return text


class _Parser(argparse.ArgumentParser):
    """The parser of ``mgbench`` and of each sub-command (argparse builds them with the parent's class)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with what the interrupted command kept."""


def _key_values(items: list[str] | None, flag: str) -> dict:
    """``["a=1", "b=x"]`` -> {"a": 1, "b": "x"} (values parsed as YAML scalars, see :func:`_scalar`)."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} takes key=value, got {item!r}")
        out[key.strip()] = _scalar(value)
    return out


def _scalar(text: str):
    """A ``--set`` value as YAML reads it, with numbers YAML 1.1 leaves as text (``1e12``, ``nan``)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"cannot read {text!r}: {str(err).splitlines()[0]}") from None
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _dataset_options(args) -> dict:
    options = _key_values(args.dataset_option, "--dataset-option")
    if args.scale:
        options["scale"] = args.scale
    return options


def cmd_download(args) -> None:
    from mgbench.datasets.download import download

    folder = download(args.name, root=args.root, progress=not args.quiet, force=args.force)
    print(f"{args.name}: ready in {folder}")


def cmd_info(args) -> None:
    from mgbench import datasets as ds

    if not args.name:
        return cmd_datasets(args)
    spec = ds.resolve_dataset(args.name)
    if not ds.is_downloaded(spec, args.root):
        where = args.root or ds.default_root()
        if spec.source is not None and spec.source.url:
            root = f" --root {shlex.quote(args.root)}" if args.root else ""
            raise ValueError(f"{spec.name} is not downloaded under {where}; run `mgbench download {spec.name}{root}`")
        home = f" (see {spec.source.homepage})" if spec.source is not None else ""
        raise ValueError(f"{spec.name} is not under {where}; put its files there{home}, or point --root at them")
    data = ds.load_spec(spec, args.root, **_dataset_options(args))
    print(f"dataset      {spec.name}" + (f" ({spec.description})" if spec.description else ""))
    if spec.synthetic:
        print("generated    yes (synthetic data, not a real dataset)")
    elif spec.present is not None:
        print(f"present      yes, under {args.root or ds.default_root()}")
    if ds.dataset_source(spec):
        print(f"source       {args.name} (sha256 {ds.dataset_source(spec)})")
    if spec.source is not None:
        print(f"licence      {spec.source.license}")
    print(f"nodes        {data.num_nodes:,}")
    print(f"features     {data.num_features} columns" + "".join(
        f"{': ' if i == 0 else ', '}{k} [{a}:{b})" for i, (k, (a, b)) in enumerate(data.feature_blocks.items())))
    counts = ds.edge_counts(data)
    print(f"edges        {sum(counts.values()):,}")
    single = [t for t in ds.available_tasks(data) if not ds.get_task(t).multilabel]
    homophily = {t: ds.edge_homophily(data, ds.get_task(t).attr) for t in single}
    header = "".join(f"  homophily[{t}]" for t in single)
    print(f"  {'relation':<10} {'edges':>12}{header}")
    for rel, n in counts.items():
        print(f"  {rel:<10} {n:>12,}" + "".join(f"  {homophily[t][rel]:>{len(t) + 11}.3f}" for t in single))
    for name in ds.available_tasks(data):
        task = ds.get_task(name)
        y, labelled = ds.task_labels(data, task)
        per = y[labelled].sum(0) if task.multilabel else __import__("torch").bincount(y[labelled], minlength=task.num_outputs)
        total = int(labelled.sum())
        balance = ", ".join(f"{lab} {int(c):,} ({100 * int(c) / max(total, 1):.2f} %)" for lab, c in zip(task.labels, per))
        print(f"task {name:<11} labelled {total:,}: {balance}")


def cmd_datasets(args) -> None:
    """The registered datasets and installed entry points: what each is, its tasks, whether it is here."""
    from mgbench import datasets as ds

    for name, spec in ds.available_datasets().items():
        if isinstance(spec, Exception):
            print(f"{name:<20} {'?':<10} (entry point broken: {spec})")
            continue
        kind = ("generated" if spec.synthetic else "download" if spec.source is not None and spec.source.url
                else "local" if spec.present is not None else "function")
        here = "" if spec.present is None else "  [present]" if ds.is_downloaded(spec, args.root) else "  [absent]"
        tasks = ",".join(spec.tasks) if spec.tasks is not None else "(from the data)"
        print(f"{name:<20} {kind:<10} {tasks:<30} {spec.description}{here}")


def cmd_splits(args) -> None:
    from mgbench import datasets as ds

    seeds = ds.parse_seeds(args.seeds or ds.DEFAULT_SEEDS)  # a bad spec fails before the load
    data = ds.load(args.name, root=args.root, **_dataset_options(args))
    out = Path(args.out)
    for seed in seeds:
        split = ds.get_split(data, args.task, seed)
        split.save(out / f"seed{seed}")
        print(f"seed {seed}: train {len(split.train):,} / val {len(split.val):,} / test {len(split.test):,} "
              f"-> {out / f'seed{seed}'}")


def cmd_models(args) -> None:
    from mgbench.benchmark.models import available_models, resolve_model
    from mgbench.benchmark.protocol import TrainSettings
    from mgbench.registry import search_space_of

    if args.name:
        spec = resolve_model(args.name)
        print(f"{spec.name} ({spec.kind}): {spec.description}")
        print("hyperparameters (--set key=value):")
        for key, value in sorted(spec.defaults.items()):
            print(f"  {key} = {value!r}")
        if spec.kind == "gnn":
            print("training settings (--set key=value):")
            for key, value in TrainSettings().__dict__.items():
                print(f"  {key} = {value!r}")
        space = search_space_of(spec)
        print("search space (mgbench tune):" if space else "search space: none declared (mgbench tune needs one)")
        for key, dim in space.items():
            print(f"  {key}: {dim}")
        return
    for name, spec in available_models().items():
        if isinstance(spec, Exception):
            print(f"{name:<20} {'?':<9} (entry point broken: {spec})")
            continue
        defaults = ", ".join(f"{k}={v!r}" for k, v in sorted(spec.defaults.items()))
        print(f"{name:<20} {spec.kind:<9} {defaults}")


def cmd_run(args) -> None:
    from mgbench.benchmark import ResultStore, RunSpec, distributed, sweep
    from mgbench.benchmark.runner import parse_shard
    from mgbench.benchmark.sampling import parse_fanout
    from mgbench.benchmark.auxiliary import DEFAULT_AUX_WEIGHT
    from mgbench.datasets import DEFAULT_SEEDS, parse_seeds
    from tqdm.auto import tqdm

    sampling = {}
    if args.sampled or args.distributed:
        sampling = {"fanout": list(parse_fanout(args.fanout)), "batch_size": args.batch_size,
                    "per_relation": args.per_relation}
    if args.suite:
        specs = _suite_specs(args)
        if sampling:
            specs = [replace(s, sampling=sampling) for s in specs]
    else:
        missing = [f"--{k}" for k in ("dataset", "task", "model") if getattr(args, k) is None]
        if missing:
            raise ValueError(f"give --suite, or all of {', '.join(missing)}")
        settings, training, aux_settings = _settings(args.set, args.model)
        aux_weight = DEFAULT_AUX_WEIGHT if args.aux_weight is None else args.aux_weight
        specs = [RunSpec(dataset=args.dataset, task=args.task, model=args.model, relations=_relations(args),
                         seed=seed, hyperparameters=settings, training=training,
                         dataset_options=_dataset_options(args), features=args.features,
                         feature_options=_key_values(args.feature_option, "--feature-option"),
                         aux_loss=args.aux_loss, aux_weight=aux_weight if args.aux_loss else 0.0,
                         aux_settings=aux_settings, protocol=args.protocol, sampling=sampling)
                 for seed in parse_seeds(args.seeds or DEFAULT_SEEDS)]
    store = ResultStore(args.results or user_results())
    progress = not args.quiet
    say = (lambda message: tqdm.write(message, file=sys.stderr)) if progress else (lambda message: None)
    try:
        with distributed.session(args.device) if args.distributed else contextlib.nullcontext() as device:
            records = sweep(specs, store, root=args.root, device=str(device or args.device), amp=args.amp,
                            shard=parse_shard(args.shard), progress=progress, sampler=args.sampler,
                            jobs=args.jobs, force=args.force, on_record=lambda r: tqdm.write(_result_line(r)),
                            notify=say)
            if not distributed.is_main():
                return
    except KeyboardInterrupt:
        raise Interrupted(f"{len(store.written)} run(s) of this sweep stored in {store.folder}; "
                          "the same command again resumes where it stopped") from None
    stored = len(specs) - len(records)
    where = f" or in other shards" if args.shard else ""
    print(f"{len(records)} run(s) written to {store.folder}; {stored} already stored{where}" +
          (" (--force runs them again)" if stored and not args.shard else ""))


def _hyperparameter_names(model: str) -> set[str]:
    from mgbench.benchmark import resolve_model

    spec = resolve_model(model)
    return set(spec.defaults) | set(spec.accepted or ())


def _result_line(record: dict) -> str:
    d, m = record["definition"], record["metrics"]["test"]
    acc = m.get("accuracy", m.get("subset_accuracy"))
    return (f"{d['model']:<20} {d['dataset']}/{d['task']} seed {d['seed']}: test acc {acc:.4f}  "
            f"f1_macro {m['f1_macro']:.4f}  ({record['train_time_s']:.1f} s) -> {record['run_id']}.json")


def _settings(items: list[str] | None, model: str | None) -> tuple[dict, dict, dict]:
    """``--set`` items as (hyperparameters, training settings, ``aux.`` settings); a key the
    model's constructor takes is its own even where a training setting has its name (``lr``)."""
    from mgbench.benchmark.protocol import TrainSettings

    settings = _key_values(items, "--set")
    takes = _hyperparameter_names(model) if model else set()
    training = {k: settings.pop(k) for k in list(settings) if k in TrainSettings.names() and k not in takes}
    aux_settings = {k[4:]: settings.pop(k) for k in list(settings) if k.startswith("aux.")}
    return settings, training, aux_settings


def _suite_specs(args) -> list:
    """The suite's runs, narrowed or moved by ``--dataset``, ``--model`` and ``--seeds``."""
    from mgbench.benchmark import load_suite
    from mgbench.datasets import parse_seeds

    specs = load_suite(args.suite)
    if args.dataset:  # run a suite on another dataset, e.g. `--suite mgtab --dataset mgtab-synthetic`
        options = _dataset_options(args)
        specs = [replace(s, dataset=args.dataset, dataset_options=options) for s in specs]
    if args.model:  # a part of a suite, e.g. `--suite mgtab --model gcn,rgcn`
        specs = _suite_models(specs, args.model)
    if args.seeds:  # the suite's runs on other seeds, e.g. `--seeds 0` for a timing
        seeds = parse_seeds(args.seeds)
        specs = list({repr(r): r for r in (replace(s, seed=seed) for s in specs for seed in seeds)}.values())
    return specs


def cmd_tune(args) -> None:
    from mgbench.benchmark import ResultStore, RunSpec
    from mgbench.benchmark.tuning import TuneOptions, targets_from_specs, tune
    from mgbench.datasets import DEFAULT_SEEDS, parse_seeds

    if args.suite:
        if args.set:
            raise ValueError("--set applies to one model; with --suite, put fixed settings in the suite file")
        targets = targets_from_specs(_suite_specs(args))
    else:
        missing = [f"--{k}" for k in ("dataset", "task", "model") if getattr(args, k) is None]
        if missing:
            raise ValueError(f"give --suite, or all of {', '.join(missing)}")
        hyper, training, aux_settings = _settings(args.set, args.model)
        if aux_settings:
            raise ValueError("tune searches without auxiliary losses; drop the aux.* settings")
        spec = RunSpec(dataset=args.dataset, task=args.task, model=args.model, relations=_relations(args),
                       hyperparameters=hyper, training=training, dataset_options=_dataset_options(args))
        targets = targets_from_specs([spec], parse_seeds(args.seeds or DEFAULT_SEEDS))
    options = TuneOptions(trials=args.trials, timeout_s=args.timeout, storage=args.storage, study=args.study,
                          search_seeds=tuple(parse_seeds(args.search_seeds)), pruner=args.pruner,
                          sampler_seed=args.sampler_seed)
    tune(targets, ResultStore(args.results or user_results()), options, root=args.root, device=args.device,
         amp=args.amp, progress=not args.quiet, search_only=args.search_only)


def _relations(args) -> str:
    """``--relations``, or the datasets' default set (followers and friends, the MGTAB paper's)."""
    from mgbench.datasets import DEFAULT_RELATIONS

    return args.relations or ",".join(DEFAULT_RELATIONS)


def _suite_models(specs: list, models: str) -> list:
    """The suite's runs of the named models (a comma list); a name the suite lacks is an error."""
    wanted = [m.strip() for m in models.split(",") if m.strip()]
    present = list(dict.fromkeys(s.model for s in specs))
    missing = [m for m in wanted if m not in present]
    if missing:
        raise ValueError(f"the suite has no model {', '.join(map(repr, missing))}; it has {', '.join(present)}")
    return [s for s in specs if s.model in wanted]


def cmd_evaluate(args) -> None:
    from mgbench.benchmark import ResultStore
    from mgbench.benchmark.evaluate import evaluate_file

    record = evaluate_file(args.predictions, dataset=args.dataset, task=args.task, seed=args.seed, name=args.name,
                           relations=_relations(args), features=args.features, dataset_options=_dataset_options(args),
                           root=args.root)
    for part, metrics in record["metrics"].items():
        print(f"{part:<5} " + "  ".join(f"{k} {'-' if v is None else f'{v:.4f}'}" for k, v in metrics.items()))
    if "val" not in record["metrics"]:
        print("val   not scored: the file does not cover every validation node")
    print(f"{args.name} ({record['definition']['external']['kind']}) -> {ResultStore(args.results or user_results()).write(record)}")


def cmd_leaderboard(args) -> None:
    from mgbench.leaderboard import build_leaderboard

    results = Path(args.results) if args.results else COMMITTED_RESULTS
    yours = None if args.no_yours else Path(args.yours) if args.yours else user_results()
    if yours is not None and (not yours.is_dir() or yours.resolve() == results.resolve()):
        if args.yours:
            raise ValueError(f"--yours {args.yours}: no such folder")
        yours = None
    if not results.is_dir():
        if yours is None:
            raise ValueError(f"no records in {results}: run `mgbench run ...` first, or give --results DIR")
        results, yours = yours, None  # outside a clone: the user's own runs are the board
    report = build_leaderboard(results, args.out, yours=yours)
    print(report)


def build_parser() -> argparse.ArgumentParser:
    from mgbench import __version__
    from mgbench.benchmark.protocol import PROTOCOLS

    parser = _Parser(prog="mgbench", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mgbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    dataset_help = f"{DATASET_NAMES}; or path/to/file.py:function, module:function, an mgbench.datasets entry point"

    def data_args(p, name=True, optional=False):
        if name:
            p.add_argument("name", nargs="?" if optional else None, help=f"dataset: {dataset_help}")
        p.add_argument("--root", help="data folder (default: $MGBENCH_ROOT or ~/.cache/mgbench)")
        p.add_argument("--scale", help="the dataset option scale, for a generated dataset that takes one "
                                       "(the MGTAB twin: tiny, small, full (default), large)")
        p.add_argument("--dataset-option", action="append", metavar="KEY=VALUE",
                       help="a dataset option (a keyword argument of its loader), e.g. num_nodes=2000")

    p = sub.add_parser("download", help="download, verify and extract an official dataset")
    p.add_argument("name", help="a dataset with a download source (`mgbench datasets` marks them)")
    p.add_argument("--root", help="data folder (default: $MGBENCH_ROOT or ~/.cache/mgbench)")
    p.add_argument("--force", action="store_true", help="download again even if present")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("info", help="what a dataset holds: nodes, edges, blocks, balance, homophily "
                                    "(no name: the list of datasets)")
    data_args(p, optional=True)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("datasets", help="list the registered datasets and installed entry points")
    p.add_argument("--root", help="data folder (default: $MGBENCH_ROOT or ~/.cache/mgbench)")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("splits", help="write the MGTAB-protocol split indices as CSV files")
    data_args(p)
    p.add_argument("--seeds", help="e.g. 0-4 (the default) or 0,2")
    p.add_argument("--task", default="bot")
    p.add_argument("--out", default="splits")
    p.set_defaults(func=cmd_splits)

    p = sub.add_parser("models", help="list registered models, or one model's settings")
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("run", help="run models under the standard protocol and store one record per run")
    p.add_argument("--suite", help=f"a suite file or a shipped suite name ({SUITE_NAMES})")
    p.add_argument("--dataset", help=f"dataset: {dataset_help}; with --suite, replaces the suite's datasets")
    p.add_argument("--task", help="stance, bot, stance+bot, topics, domain")
    p.add_argument("--model", help="a registered name, module:Class, path/to/file.py:Class or entry point; "
                                   "with --suite, a comma list of the suite's models to run")
    p.add_argument("--relations", help="names or ids, comma-separated, or 'all' (default: followers,friends)")
    p.add_argument("--seeds", help="e.g. 0-4 (the default) or 0,2; with --suite, replaces the suite's seeds")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a hyperparameter, a training setting (epochs, lr, weight_decay, patience, min_epochs) or aux.KEY")
    p.add_argument("--features", default="default",
                   help="feature recipe: default (the dataset's x), profile, profile+text, profile+text+image, fused")
    p.add_argument("--feature-option", action="append", metavar="KEY=VALUE",
                   help="text_encoder=NAME|PATH, image_encoder=NAME|PATH, pooling=mean|max, image_grid=N")
    p.add_argument("--aux-loss", help="auxiliary loss(es), e.g. supcon or supcon+scc")
    p.add_argument("--aux-weight", type=float, help="the auxiliary loss's weight (default 0.1)")
    p.add_argument("--protocol", default="standard", choices=list(PROTOCOLS),
                   help="standard (ours) or reference (the MGTAB scripts' choices, for comparison)")
    p.add_argument("--results", help="records folder (default: $MGBENCH_RESULTS or results/ under the data root)")
    p.add_argument("--force", action="store_true", help="run again and replace runs whose record is stored")
    p.add_argument("--shard", help="i/n: run only this process's share of the sweep")
    p.add_argument("--jobs", type=int, default=1,
                   help="train this many runs side by side, one single-threaded process each (CPU sweeps)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--amp", action="store_true", help="bfloat16 mixed precision")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--sampled", action="store_true",
                   help="GNNs train on mini-batches of sampled neighbourhoods (MGTAB-large and other big graphs)")
    p.add_argument("--fanout", default="10,10",
                   help="with --sampled: neighbours per hop, one entry per GNN layer (all: every neighbour)")
    p.add_argument("--batch-size", type=int, default=1024, help="with --sampled: seeds per (global) mini-batch")
    p.add_argument("--per-relation", action="store_true", help="with --sampled: the fan-out applies per relation")
    p.add_argument("--sampler", default="auto", choices=["auto", "pyg", "torch"],
                   help="neighbour sampler: PyG's (needs mgbench[large]), the built-in one, or auto")
    p.add_argument("--distributed", action="store_true",
                   help="under torchrun: one model over all processes (DDP, NCCL on GPUs, gloo on CPUs); "
                        "implies --sampled")
    data_args(p, name=False)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("evaluate", help="score a prediction file from your own training loop; store its record")
    p.add_argument("--dataset", required=True, help=f"dataset: {dataset_help}")
    p.add_argument("--task", required=True, help="stance, bot, stance+bot, topics, domain")
    p.add_argument("--seed", type=int, required=True, help="the seed whose split the model was trained on")
    p.add_argument("--predictions", required=True, metavar="FILE",
                   help="CSV (node + label, or node + score_0..score_<C-1>), or .pt/.npy labels [N] or scores [N, C]")
    p.add_argument("--name", required=True, help="the model's name on the board")
    p.add_argument("--relations", help="the relations the model used (as for run)")
    p.add_argument("--features", default="default", help="the feature recipe the model used (as for run)")
    p.add_argument("--results", help="records folder (default: $MGBENCH_RESULTS or results/ under the data root)")
    data_args(p, name=False)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("tune", help="search a model's space with Optuna on validation, then run the best "
                                    "configuration on the seeds as tuned records")
    p.add_argument("--suite", help="tune every model of a suite, each with the same budget")
    p.add_argument("--dataset", help="dataset name; with --suite, replaces the suite's datasets")
    p.add_argument("--task", help="stance, bot, stance+bot, topics, domain")
    p.add_argument("--model", help="a model reference as for `run`; with --suite, a comma list of its models")
    p.add_argument("--relations", help="names or ids, comma-separated, or 'all' (default: followers,friends)")
    p.add_argument("--trials", type=int, help="budget: finished trials per study (complete or pruned)")
    p.add_argument("--timeout", type=float, help="budget: seconds of trial time per study, over all processes")
    p.add_argument("--storage", help="Optuna storage: a database URL (default sqlite:///<results>/tuning.db), "
                                     "journal:///path/file.log or a path ending in .log")
    p.add_argument("--study", help="study name (default: derived from the target); with --suite, a prefix")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a fixed hyperparameter or training setting (e.g. epochs=100); the search space overrides")
    p.add_argument("--search-seeds", default="0", help="seeds whose validation split scores a trial")
    p.add_argument("--seeds", help="seeds the best configuration runs on (default 0-4; with --suite, the suite's)")
    p.add_argument("--pruner", default="median", choices=["median", "hyperband", "none"])
    p.add_argument("--sampler-seed", type=int, default=0, help="seed of the TPE sampler")
    p.add_argument("--search-only", action="store_true",
                   help="search, but do not run the best configuration (workers of a shared study)")
    p.add_argument("--results", help="records folder and default study storage (default: $MGBENCH_RESULTS "
                                     "or results/ under the data root)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--amp", action="store_true", help="bfloat16 mixed precision")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    data_args(p, name=False)
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("leaderboard", help="rebuild the board from the stored result records")
    p.add_argument("--results", help=f"the records to rank (default: {COMMITTED_RESULTS}, the published ones)")
    p.add_argument("--yours", help="your own runs, shown beside them as rows marked (yours) "
                                   "(default: $MGBENCH_RESULTS or results/ under the data root, if present)")
    p.add_argument("--no-yours", action="store_true", help="rank only --results (how the published board is built)")
    p.add_argument("--out", default="leaderboard")
    p.set_defaults(func=cmd_leaderboard)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as err:  # DatasetError, ModelError and the rest of ours
        print(f"mgbench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        print(f"\nmgbench: interrupted{f'; {stop}' if str(stop) else ''}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
