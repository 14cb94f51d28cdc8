"""Runs: a definition in, one result record out; sweeps that resume and shard.

Everything that can be wrong with a run (dataset, task, relations, model,
hyperparameter names, auxiliary loss) is checked by :func:`prepare` before any
training starts, so a bad request writes no record.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch_geometric.data import Data
from tqdm.auto import tqdm

from mgbench import datasets as ds
from mgbench.registry import DatasetSpec, ModelSpec, registered_models

from . import distributed
from . import environment as env
from .auxiliary import AuxObjective, check_aux
from .fused import FusedInputGNN
from .models import build_estimator, build_gnn, merge_hyperparameters, resolve_model, source_digest
from .sampling import SamplingSettings, fit_gnn_sampled
from .contract import check_estimator, check_gnn
from .store import SCHEMA, ResultStore, canonical_json, run_id
from .protocol import TrainSettings, get_protocol
from .train import EpochFn, FitResult, fit_estimator, fit_gnn


@dataclass
class RunSpec:
    """What a user asks for; :func:`prepare` turns it into a full run definition."""

    dataset: str
    task: str
    model: str
    relations: str | list = ",".join(ds.DEFAULT_RELATIONS)
    seed: int = 0
    hyperparameters: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    dataset_options: dict = field(default_factory=dict)
    features: str = "default"
    feature_options: dict = field(default_factory=dict)
    aux_loss: str | None = None
    aux_weight: float = 0.0
    aux_settings: dict = field(default_factory=dict)
    protocol: str = "standard"
    sampling: dict = field(default_factory=dict)  # {} full-batch; else SamplingSettings fields
    #: How a tuned run's hyperparameters were chosen (study, sampler, pruner, budget, trials,
    #: search seeds, ``selected_on``); ``{}`` for an untuned run. See :mod:`.tuning`.
    tuning: dict = field(default_factory=dict)


@dataclass
class PreparedRun:
    definition: dict
    model_spec: ModelSpec
    relation_ids: list[int]
    dataset_spec: DatasetSpec | None = None  # None: the registered dataset the definition names


FEATURE_OPTIONS = ("text_encoder", "image_encoder", "pooling", "profile_scaling", "image_grid")


class DataCache:
    """Loads each (dataset, options, feature recipe) once per process."""

    def __init__(self, root: str | Path | None = None, progress: bool = True):
        self.root = root
        self.progress = progress
        self._graphs: dict[str, Data] = {}

    def graph(self, dataset: str | DatasetSpec, options: dict, features: str = "default",
              feature_options: dict | None = None) -> Data:
        """The graph of ``dataset`` with the options a run's definition records (an absent
        recorded option means what the dataset declares for its absence, see
        :meth:`~mgbench.registry.DatasetSpec.loading_options`)."""
        spec = dataset if isinstance(dataset, DatasetSpec) else ds.resolve_dataset(dataset)
        options = spec.loading_options(options)
        loader = f"{getattr(spec.loader, '__module__', '')}.{getattr(spec.loader, '__qualname__', '')}"
        key = f"{spec.name}:{loader}:{sorted(options.items())}:{features}:{sorted((feature_options or {}).items())}"
        if key not in self._graphs:
            if features == "default":
                what = spec.name + "".join(f" {k}={v}" for k, v in sorted(options.items()))
                self._say(f"loading {what} ...")
                start = time.perf_counter()
                self._graphs[key] = ds.load_spec(spec, root=self.root, **options)
                self._say(f"loaded {what} in {time.perf_counter() - start:.1f} s")
            else:
                from mgbench.features import build_features

                base = self.graph(spec, options)
                cache_dir = Path(self.root or ds.default_root()) / "features"
                self._graphs[key] = build_features(base, features, cache=cache_dir, progress=self.progress,
                                                   **(feature_options or {}))
        return self._graphs[key]

    def _say(self, message: str) -> None:
        if self.progress and distributed.is_main():
            tqdm.write(f"mgbench: {message}", file=sys.stderr)


def relation_names_of(dataset: DatasetSpec, options: dict, cache: DataCache) -> list[str]:
    """The dataset's relations as its registration states them, else as its loaded graph has them."""
    if dataset.relations is not None:
        return list(dataset.relations)
    return list(cache.graph(dataset, options).relation_names)


def check_features(spec: RunSpec, cache: DataCache) -> dict:
    """Validate the feature recipe and its options; return the options to record."""
    from mgbench.features import RECIPES

    if spec.features == "default":
        if spec.feature_options:
            raise ValueError("feature options need a feature recipe (--features profile+text, ...)")
        return {}
    if spec.features not in RECIPES:
        raise ValueError(f"unknown feature recipe {spec.features!r}; available: default, {', '.join(RECIPES)}")
    unknown = sorted(set(spec.feature_options) - set(FEATURE_OPTIONS))
    if unknown:
        raise ValueError(f"unknown feature option(s) {', '.join(unknown)}; available: {', '.join(FEATURE_OPTIONS)}")
    return dict(sorted(spec.feature_options.items()))


def _blocks_after_recipe(spec: RunSpec, dataset: DatasetSpec, options: dict, cache: DataCache) -> list[str]:
    """Names of the feature blocks a run's model will see (recipes make ``text`` / ``image``)."""
    recipe_blocks = {"profile": ["profile"], "profile+text": ["profile", "text"], "fused": ["profile", "text"],
                     "profile+text+image": ["profile", "text", "image"]}
    if spec.features in recipe_blocks:
        return recipe_blocks[spec.features]
    return list(cache.graph(dataset, options).feature_blocks)


def prepare(spec: RunSpec, cache: DataCache) -> PreparedRun:
    """Validate ``spec`` and build its canonical definition (no training)."""
    dataset = ds.resolve_dataset(spec.dataset)
    task = ds.get_task(spec.task)
    if dataset.tasks is not None and task.name not in dataset.tasks:
        raise ValueError(f"dataset {dataset.name!r} has no task {task.name!r}; its tasks: {', '.join(dataset.tasks)}")
    protocol = get_protocol(spec.protocol)
    dataset_options = dataset.record_options(spec.dataset_options)  # recorded defaults written in
    rel_names = relation_names_of(dataset, dataset_options, cache)
    feature_options = check_features(spec, cache)
    rel_ids = ds.parse_relations(spec.relations, rel_names)
    model_spec = resolve_model(spec.model)
    hyper = merge_hyperparameters(model_spec, spec.hyperparameters)
    training: dict[str, Any] = {}  # training settings apply to GNNs only
    if model_spec.kind == "gnn":
        unknown = sorted(set(spec.training) - set(TrainSettings.names()))
        if unknown:
            raise ValueError(f"unknown training setting(s) {', '.join(unknown)}; "
                             f"available: {', '.join(TrainSettings.names())}")
        training = TrainSettings(**spec.training).definition()
        training["patience"] = protocol.recorded_patience(training["patience"])
    if spec.features == "fused" and model_spec.kind != "gnn":
        raise ValueError(f"the fused recipe trains its attention with a GNN; {spec.model!r} is a feature model")
    if spec.aux_loss:
        if model_spec.kind != "gnn":
            raise ValueError(f"auxiliary losses need a GNN; {spec.model!r} is a feature model")
        check_aux(spec.aux_loss, spec.aux_settings, _blocks_after_recipe(spec, dataset, dataset_options, cache))
    sampling: dict[str, Any] = {}  # like training settings, sampling applies to GNNs only
    if spec.sampling and model_spec.kind == "gnn":
        if spec.aux_loss or spec.features == "fused":
            raise ValueError("--sampled trains on subgraphs; auxiliary losses and the fused recipe need the "
                             "whole graph")
        if callable(getattr(model_spec.factory, "training_loss", None)):
            raise ValueError(f"--sampled trains on subgraphs; {spec.model!r} defines its own training_loss over "
                             "the whole graph's training nodes (run it full-batch)")
        sampling = SamplingSettings.from_dict(spec.sampling).to_dict()
    # Models found by reference (file, module, entry point) carry their code's hash; a registered
    # name is its own identity.
    source = None if spec.model in registered_models() else source_digest(model_spec)
    definition = {
        "dataset": dataset.name, "dataset_options": dataset_options,
        "task": task.name, "relations": [rel_names[i] for i in rel_ids], "features": spec.features,
        "feature_options": feature_options,
        "model": model_spec.name, "model_kind": model_spec.kind, "hyperparameters": hyper, "training": training,
        "aux_loss": spec.aux_loss or None, "aux_weight": float(spec.aux_weight) if spec.aux_loss else 0.0,
        "aux_settings": dict(sorted(spec.aux_settings.items())) if spec.aux_loss else {},
        "protocol": spec.protocol, "seed": int(spec.seed),
    }
    if sampling:  # only then, so that full-batch runs keep their run ids
        definition["sampling"] = sampling
    if source:  # a user's model: its code is part of the run (ours are named by the package version)
        definition["model_source"] = source
    if spec.tuning:  # likewise: untuned runs keep their run ids
        definition["tuning"] = dict(sorted(spec.tuning.items()))
    data_source = ds.dataset_source(dataset)
    if data_source:  # a user's dataset, likewise
        definition["dataset_source"] = data_source
    return PreparedRun(definition, model_spec, rel_ids, dataset)


@dataclass
class RunData:
    """What a prepared run trains and is scored on."""

    graph: Data
    task: ds.Task
    y: torch.Tensor
    split: ds.Split


def run_data(run: PreparedRun, cache: DataCache) -> RunData:
    d = run.definition
    task = ds.get_task(d["task"])
    graph = ds.select_relations(cache.graph(run.dataset_spec or d["dataset"], d["dataset_options"], d["features"],
                                            d["feature_options"]), run.relation_ids)
    y, _ = ds.task_labels(graph, task)
    return RunData(graph, task, y, ds.get_split(graph, task, d["seed"]))


def build_model(run: PreparedRun, data: RunData, device: torch.device) -> tuple[Any, int | None]:
    """Seed, build the run's model and check the model contract on a few nodes
    (:mod:`.contract`), so a broken model fails in a second, before training.
    Returns the model (a ``torch.nn.Module`` or an estimator) and, for a GNN, its
    embedding width (``None`` where it exposes no embeddings)."""
    d, graph = run.definition, data.graph
    env.seed_everything(d["seed"])
    if run.model_spec.kind == "features":
        hyper = dict(d["hyperparameters"])
        if "random_state" in (run.model_spec.accepted or ()):
            hyper.setdefault("random_state", d["seed"])
        estimator = build_estimator(run.model_spec, hyper)
        check_estimator(estimator, d["model"], graph.x.numpy(), data.y.numpy(), data.split.train.numpy())
        return estimator, None
    build = lambda in_channels: build_gnn(  # noqa: E731
        run.model_spec, d["hyperparameters"], in_channels=in_channels, num_classes=data.task.num_outputs,
        num_relations=len(graph.relation_names), feature_blocks=graph.feature_blocks,
        categorical_columns=graph.categorical_columns)
    if d["features"] == "fused":
        model = FusedInputGNN(build, graph.num_features, graph.feature_blocks["text"],
                              graph.image_spatial, graph.has_image)
    else:
        model = build(graph.num_features)
    model = model.to(device)
    embedding_dim = check_gnn(model, d["model"], graph.x, graph.edge_index, graph.edge_type,
                              data.task.num_outputs, needs_embeddings=bool(d["aux_loss"]))
    return model, embedding_dim


@dataclass
class FitOptions:
    """How a prepared run is trained, beyond its definition (none of it changes the record's id)."""

    amp: bool = False
    progress: bool = True
    sampler: str = "auto"
    #: False serves a search: the test split is never read and the record's test metrics stay empty.
    score_test: bool = True
    #: Sees each epoch's validation score and may raise to end training (a pruned trial).
    on_epoch: EpochFn | None = None


def _fit_features(run: PreparedRun, data: RunData, model: Any, embedding_dim: int | None, device: torch.device,
                  options: FitOptions) -> FitResult:
    return fit_estimator(model, data.graph.x.numpy(), data.y.numpy(), data.split, data.task,
                         run.definition["protocol"], score_test=options.score_test)


def _gnn_arguments(run: PreparedRun) -> tuple[TrainSettings, dict]:
    """A GNN run's training settings and the protocol's keyword arguments to the training loops."""
    d = run.definition
    protocol = get_protocol(d["protocol"])
    return TrainSettings.from_definition(d["training"]), {
        "protocol": protocol, "swap_truth": protocol.swaps_truth(d["model"], run.model_spec.kind)}


def _fit_full_batch(run: PreparedRun, data: RunData, model: torch.nn.Module, embedding_dim: int | None,
                    device: torch.device, options: FitOptions) -> FitResult:
    d, graph = run.definition, data.graph
    settings, protocol = _gnn_arguments(run)
    aux = None
    if d["aux_loss"]:
        aux = AuxObjective(d["aux_loss"], d["aux_weight"], d["aux_settings"], embedding_dim=embedding_dim,
                           labels=data.y, multilabel=data.task.multilabel, num_outputs=data.task.num_outputs,
                           x=graph.x, feature_blocks=graph.feature_blocks, seed=d["seed"]).to(device)
    return fit_gnn(model, graph.x.to(device), graph.edge_index.to(device), graph.edge_type.to(device),
                   data.y.to(device), data.split, data.task, settings, aux=aux, amp=options.amp,
                   progress=options.progress, score_test=options.score_test, on_epoch=options.on_epoch, **protocol)


def _fit_sampled(run: PreparedRun, data: RunData, model: torch.nn.Module, embedding_dim: int | None,
                 device: torch.device, options: FitOptions) -> FitResult:
    d, graph = run.definition, data.graph
    settings, protocol = _gnn_arguments(run)
    return fit_gnn_sampled(model, graph.x, graph.edge_index, graph.edge_type, data.y, data.split, data.task,
                           settings, SamplingSettings.from_dict(d["sampling"]), seed=d["seed"], amp=options.amp,
                           backend=options.sampler, progress=options.progress, **protocol)


Trainer = Callable[[PreparedRun, RunData, Any, "int | None", torch.device, FitOptions], FitResult]


def trainer(run: PreparedRun, options: FitOptions) -> Trainer:
    """The training loop a run's model kind and training mode call for: each takes the run, its
    data, the built model and its embedding width, the device and the :class:`FitOptions`.
    Called before any data loads, so a combination no loop serves fails first."""
    if run.model_spec.kind == "features":
        return _fit_features
    if not run.definition.get("sampling"):
        return _fit_full_batch
    if options.on_epoch is not None or not options.score_test:
        raise ValueError("tuning trains full-batch; --sampled runs cannot be searched")
    return _fit_sampled


def execute(run: PreparedRun, cache: DataCache, device: torch.device,
            options: FitOptions | None = None) -> dict:
    """Train and evaluate one prepared run; return its record (not yet stored)."""
    options = options or FitOptions()
    d = run.definition
    fit = trainer(run, options)
    data = run_data(run, cache)
    with env.freed_memory_kept(), env.PeakMemory(device) as mem:
        start = time.perf_counter()
        model, embedding_dim = build_model(run, data, device)
        result = fit(run, data, model, embedding_dim, device, options)
        train_time = time.perf_counter() - start
    if options.score_test and not result.test:
        raise ValueError(f"run {run_id(d)} ({d['model']}, seed {d['seed']}) produced no test metrics: its "
                         "validation score was never finite (did the loss diverge? try a smaller lr)")
    num_parameters = sum(p.numel() for p in model.parameters()) if isinstance(model, torch.nn.Module) else None
    return {
        "schema": SCHEMA, "run_id": run_id(d), "definition": d,
        "metrics": {"test": result.test, "val": result.val},
        "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
        "train_time_s": round(train_time, 3), "peak_memory_mb": mem.peak_mb,
        "model_memory_mb": mem.added_mb, "num_parameters": num_parameters,
        "versions": env.versions(), "git_commit": env.git_commit(), "hardware": env.hardware(device),
        "timestamp": env.timestamp(),
        **({"sampler": result.sampler, "train_seeds_per_s": result.seeds_per_s,
            "world_size": distributed.world_size()} if d.get("sampling") else {}),
    }


def preflight(runs: list[PreparedRun], cache: DataCache, device: torch.device) -> None:
    """Build and contract-check one model per distinct run (seeds aside) before any trains,
    so a broken model in a sweep fails before the sweep's first record is written."""
    seen = set()
    for run in runs:
        key = canonical_json({k: v for k, v in run.definition.items() if k != "seed"})
        if key not in seen:
            seen.add(key)
            build_model(run, run_data(run, cache), device)


def in_shard(definition: dict, shard: tuple[int, int] | None) -> bool:
    """Deterministic sharding by run id: run ``k`` of ``n`` takes ids with ``id % n == k``."""
    if shard is None:
        return True
    index, count = shard
    return int(run_id(definition), 16) % count == index


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"1/4"`` -> (1, 4) (0-based index)."""
    if not text:
        return None
    try:
        index, count = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes i/n (e.g. 0/4), got {text!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"--shard {text}: need 0 <= i < n")
    return index, count


def plan(prepared: list[PreparedRun], store: ResultStore, *, shard: tuple[int, int] | None = None,
         force: bool = False, notify: Callable[[str], None] = lambda message: None) -> list[PreparedRun]:
    """The runs of this shard that must train: those without a valid stored record (or all
    of them with ``force``). A stored record that is empty, corrupt or metric-less does not
    count as done; ``notify`` is told which ones are rerun and why."""
    todo = []
    for run in prepared:
        if not in_shard(run.definition, shard):
            continue
        problem = None if force else store.problem(run.definition)
        if force or problem is not None:
            if problem not in (None, "missing"):
                notify(f"{store.path(run.definition)} is {problem}: running it again")
            todo.append(run)
    wanted = set(distributed.broadcast_object([run_id(p.definition) for p in todo]))  # torchrun: rank 0's list
    return [p for p in prepared if run_id(p.definition) in wanted]


def sweep(specs: Iterable[RunSpec], store: ResultStore, *, root: str | Path | None = None,
          device: str = "auto", amp: bool = False, shard: tuple[int, int] | None = None,
          progress: bool = True, sampler: str = "auto", jobs: int = 1, force: bool = False,
          on_record: Callable[[dict], None] | None = None,
          notify: Callable[[str], None] = lambda message: None) -> list[dict]:
    """Prepare every run, check the results folder and each model's contract (so a bad
    request fails before any training), then run those of this shard whose record is not
    stored yet (all of them with ``force``, replacing the stored records). Returns the new
    records; ``on_record`` sees each one as soon as it is stored.

    ``jobs > 1`` trains in that many worker processes of one thread each, which
    take the runs from a shared queue: on a small CPU, single-threaded runs side
    by side finish a sweep sooner than one multi-threaded run after another
    (small graphs do not keep several threads busy). Each record is still
    written whole by the process that trained it.
    """
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    specs = list(specs)
    cache = DataCache(root, progress=progress)
    dev = env.resolve_device(device)
    prepared = [prepare(s, cache) for s in specs]
    if distributed.is_main():
        store.check_writable()
    todo = plan(prepared, store, shard=shard, force=force, notify=notify)
    preflight(todo, cache, dev)
    on_record = on_record or (lambda record: None)
    if jobs > 1:
        if distributed.world_size() > 1:
            raise ValueError("--jobs runs independent runs side by side; it does not combine with --distributed")
        by_id = {run_id(p.definition): s for s, p in zip(specs, prepared)}
        return _sweep_in_workers([by_id[run_id(p.definition)] for p in todo], store, root=root, device=device,
                                 amp=amp, sampler=sampler, jobs=jobs, progress=progress, on_record=on_record)
    progress = progress and distributed.is_main()
    records = []
    for run in tqdm(todo, desc="runs", disable=not progress or len(todo) < 2):
        record = execute(run, cache, dev, FitOptions(amp=amp, progress=progress, sampler=sampler))
        if distributed.is_main():
            store.write(record)
            on_record(record)
        records.append(record)
    return records


_WORKER_CACHE: DataCache | None = None


def _start_worker(root: str | Path | None, parent_pid: int) -> None:
    global _WORKER_CACHE
    env.exit_with_parent(parent_pid)
    torch.set_num_threads(1)
    _WORKER_CACHE = DataCache(root, progress=False)


def _run_in_worker(spec: RunSpec, folder: str, device: str, amp: bool, sampler: str) -> dict:
    run = prepare(spec, _WORKER_CACHE)
    record = execute(run, _WORKER_CACHE, env.resolve_device(device), FitOptions(amp=amp, progress=False, sampler=sampler))
    ResultStore(folder).write(record)
    return record


def _sweep_in_workers(specs: list[RunSpec], store: ResultStore, *, root, device: str, amp: bool, sampler: str,
                      jobs: int, progress: bool, on_record: Callable[[dict], None]) -> list[dict]:
    """Run ``specs`` in ``jobs`` spawned single-threaded processes; records as they finish."""
    import multiprocessing

    records = []
    context = multiprocessing.get_context("spawn")  # no forked copies of torch's thread pools
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                             initargs=(root, os.getpid())) as pool:
        futures = [pool.submit(_run_in_worker, s, str(store.folder), device, amp, sampler) for s in specs]
        try:
            for future in tqdm(as_completed(futures), total=len(futures), desc="runs", disable=not progress):
                record = future.result()
                store.written.append(store.path(record["definition"]))
                on_record(record)
                records.append(record)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return records
