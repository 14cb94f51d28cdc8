"""Tuning: every model searched with the same budget, on validation only, in Optuna's storage.

A *target* is a run without its seed (dataset, task, relations, model, fixed
settings). Its study searches the model's registered search space with Optuna's
seeded TPE sampler. A trial trains the configuration on each *search seed*
under the standard protocol and scores it by the selection metric on the
validation split (macro F1; the mean over search seeds); the test split is never
read while searching (``FitOptions(score_test=False)``). Pruning (median or
Hyperband) sees the best validation score so far after every epoch.

The budget is ``trials`` finished trials (complete or pruned) and/or
``timeout_s`` seconds of trial time, both counted over the whole study, so a
study continued after a kill, or searched by several processes at once, spends
one budget. The best configuration then runs on the target's seeds through the
ordinary runner; its records carry ``definition["tuning"]``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mgbench.registry import (Choice, Dimension, IntRange, LogUniform, ModelSpec, Uniform,
                              search_space_of)

from .models import resolve_model
from .protocol import get_protocol
from .runner import DataCache, FitOptions, RunSpec, execute, prepare, sweep
from .store import ResultStore

PRUNERS = ("median", "hyperband", "none")
#: Training settings a search space may vary; epochs, patience and min_epochs are the protocol's.
TUNABLE_TRAINING = ("lr", "weight_decay")
#: Epochs before a trial can be pruned: early validation scores rank learning rates badly.
WARMUP_EPOCHS = 20
#: Heartbeats let a database storage fail the trial of a killed process (after the grace period).
HEARTBEAT_S, GRACE_S = 60, 180
STORAGE_HELP = ("give a database URL Optuna accepts (sqlite:///path/tuning.db, postgresql://user@host/db, "
                "mysql+pymysql://...), journal:///path/file.log or a path ending in .log")


@dataclass(frozen=True)
class TuneOptions:
    """The search's budget and machinery; the same for every target of a suite."""

    trials: int | None = 20
    timeout_s: float | None = None
    storage: str | None = None       # None: sqlite:///<results>/tuning.db
    study: str | None = None         # None: derived from the target; with several targets, a prefix
    search_seeds: tuple[int, ...] = (0,)
    pruner: str = "median"
    sampler_seed: int = 0

    def check(self) -> None:
        if self.trials is None and self.timeout_s is None:
            raise ValueError("give a budget: --trials N and/or --timeout SECONDS")
        if self.trials is not None and self.trials < 1:
            raise ValueError(f"--trials must be at least 1, got {self.trials}")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ValueError(f"--timeout must be positive, got {self.timeout_s}")
        if self.pruner not in PRUNERS:
            raise ValueError(f"unknown pruner {self.pruner!r}; available: {', '.join(PRUNERS)}")
        if not self.search_seeds:
            raise ValueError("--search-seeds needs at least one seed")


@dataclass(frozen=True)
class Target:
    """One study: a run spec (its seed is ignored) and the seeds the chosen configuration runs on."""

    spec: RunSpec
    seeds: tuple[int, ...]


@dataclass
class Outcome:
    study: str
    trials: int                       # finished trials (complete or pruned)
    best_value: float
    best_params: dict[str, Any]
    records: list[dict]               # the tuned runs written now (none with search_only)


def targets_from_specs(specs: list[RunSpec], seeds: list[int] | None = None) -> list[Target]:
    """Group runs that differ only in their seed (a suite's expansion) into targets, in order."""
    groups: dict[str, tuple[RunSpec, list[int]]] = {}
    for spec in specs:
        key = repr(replace(spec, seed=0))
        groups.setdefault(key, (replace(spec, seed=0), []))[1].append(spec.seed)
    return [Target(spec, tuple(seeds or dict.fromkeys(found))) for spec, found in groups.values()]


# -- search spaces -------------------------------------------------------------------------------------------

def check_search_space(spec: ModelSpec) -> dict[str, Dimension]:
    """The space, after checking every key names something the model takes (one clear error if not)."""
    space = search_space_of(spec)
    if not space:
        raise ValueError(f"model {spec.name!r} declares no search space; register it with "
                         f"register_model(..., search_space={{'lr': LogUniform(1e-4, 1e-2), ...}})")
    accepted = spec.accepted
    hyper = None if accepted is None else (set(accepted) | set(spec.defaults)) - {"feature_blocks",
                                                                                 "categorical_columns"}
    training = set(TUNABLE_TRAINING) if spec.kind == "gnn" else set()
    for key in space:
        if key in training or hyper is None or key in hyper:
            continue
        takes = sorted(hyper) + [f"{t} (training)" for t in TUNABLE_TRAINING if t in training]
        raise ValueError(f"model {spec.name!r}: search-space key {key!r} is neither a hyperparameter nor a "
                         f"tunable training setting; it accepts: {', '.join(takes) or 'none'}")
    return space


def suggest(trial, space: dict[str, Dimension]) -> dict[str, Any]:
    """One configuration drawn by ``trial`` (an ``optuna.Trial``) from ``space``."""
    values = {}
    for key, dim in space.items():
        if isinstance(dim, LogUniform):
            values[key] = trial.suggest_float(key, dim.low, dim.high, log=True)
        elif isinstance(dim, Uniform):
            values[key] = trial.suggest_float(key, dim.low, dim.high)
        elif isinstance(dim, IntRange):
            values[key] = trial.suggest_int(key, dim.low, dim.high, step=dim.step, log=dim.log)
        elif isinstance(dim, Choice):
            values[key] = trial.suggest_categorical(key, list(dim.values))
        else:  # registry.check_search_space admits nothing else
            raise TypeError(f"{key}: unknown dimension {dim!r}")
    return values


def with_values(spec: RunSpec, model: ModelSpec, values: dict[str, Any]) -> RunSpec:
    """``spec`` with the drawn values as hyperparameters and (GNNs) training settings."""
    training = {k: v for k, v in values.items() if model.kind == "gnn" and k in TUNABLE_TRAINING}
    hyper = {k: v for k, v in values.items() if k not in training}
    return replace(spec, hyperparameters={**spec.hyperparameters, **hyper}, training={**spec.training, **training})


# -- storage -------------------------------------------------------------------------------------------------

def _safe(url: str) -> str:
    """The URL as it may be printed: a password is masked."""
    try:
        import sqlalchemy

        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a database URL; nothing to hide
        return url


def open_storage(url: str | None, results: str | os.PathLike):
    """Optuna storage for ``url`` (default: SQLite at ``<results>/tuning.db``), checked before any training.

    ``journal:///path/file.log`` or a path ending in ``.log``: a journal file, for a
    shared file system (NFS, SLURM arrays). Anything else must be a SQLAlchemy
    database URL whose dialect is installed.
    """
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if url is None:
        path = Path(results) / "tuning.db"
        url = f"sqlite:///{path}"
    if url.startswith("journal://") or ("://" not in url and url.endswith(".log")):
        path = Path(url[len("journal://"):] if url.startswith("journal://") else url)
        if not path.name.endswith(".log"):
            raise ValueError(f"--storage {url!r}: a journal storage needs a file name ending in .log")
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    import sqlalchemy
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = sqlalchemy.engine.make_url(url)
        parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as err:
        reason = str(err).splitlines()[0]
        raise ValueError(f"--storage {_safe(url)!r} is not a storage Optuna can use ({reason}); {STORAGE_HELP}") \
            from None
    engine_kwargs = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": 60}}  # several processes wait for the file's lock
    for attempt in range(3):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats: stable since 2.9
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_S,
                                                  grace_period=GRACE_S)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError) as err:
            # Two processes creating one new database at once (workers of one study starting together):
            # one of them wins the schema ("UNIQUE constraint failed", "table ... already exists"); the
            # other opens what it made. Any other operational error is the user's to see.
            racing = isinstance(err, sqlalchemy.exc.IntegrityError) or "already exists" in str(err)
            if not racing:
                reason = str(err).splitlines()[0]
                raise ValueError(f"--storage {_safe(url)!r}: cannot open it: {reason}") from None
            if attempt == 2:
                raise ValueError(f"--storage {_safe(url)!r}: cannot open it: another process keeps initialising "
                                 "it; try again") from None
            time.sleep(1.0 + attempt)
        except Exception as err:  # noqa: BLE001 - a driver missing, a server unreachable: the user's to fix
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ValueError(f"--storage {_safe(url)!r}: cannot open it: {reason}") from None
    raise AssertionError("unreachable")


# -- one study -----------------------------------------------------------------------------------------------

def _identity(definition: dict, space: dict, options: TuneOptions) -> dict:
    """What a study searches; a stored study must match it (a reused --study name is refused)."""
    return {"definition": {k: v for k, v in definition.items() if k != "seed"},
            "search_space": {k: str(v) for k, v in space.items()},
            "search_seeds": list(options.search_seeds), "pruner": options.pruner}


def study_name(definition: dict, identity: dict, options: TuneOptions, several: bool) -> str:
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    derived = f"{definition['model']}.{definition['dataset']}.{definition['task']}.{digest}"
    if options.study:
        return f"{options.study}.{derived}" if several else options.study
    return derived


def _pruner(name: str, max_steps: int):
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=WARMUP_EPOCHS)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=WARMUP_EPOCHS, max_resource=max_steps,
                                              reduction_factor=3)
    return optuna.pruners.NopPruner()


def _finished(study) -> list:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def _spent_s(trials: list) -> float:
    return sum((t.datetime_complete - t.datetime_start).total_seconds() for t in trials
               if t.datetime_complete and t.datetime_start)


def _budget_left(study, options: TuneOptions) -> tuple[int | None, float | None]:
    """(trials, seconds) left of the study's budget, over every process that searched it."""
    done = _finished(study)
    trials = None if options.trials is None else options.trials - len(done)
    seconds = None if options.timeout_s is None else options.timeout_s - _spent_s(done)
    return trials, seconds


def _exhausted(left: tuple[int | None, float | None]) -> bool:
    return any(v is not None and v <= 0 for v in left)


class _Prepared:
    """A target checked before anything trains: its run definition, model and search space."""

    def __init__(self, target: Target, cache: DataCache, options: TuneOptions, several: bool):
        self.target = target
        self.model = resolve_model(target.spec.model)
        self.space = check_search_space(self.model)
        if target.spec.sampling:
            raise ValueError("tuning trains full-batch; a suite with sampling cannot be tuned")
        self.definition = prepare(target.spec, cache).definition
        self.identity = _identity(self.definition, self.space, options)
        self.name = study_name(self.definition, self.identity, options, several)


def _objective(prepared: _Prepared, cache: DataCache, device, options: TuneOptions, amp: bool) -> Callable:
    import optuna
    from mgbench.datasets import get_task

    d = prepared.definition
    metric = get_protocol(d["protocol"]).selection_metric(get_task(d["task"]))
    epochs = int(d["training"].get("epochs") or 0)
    prune = options.pruner != "none" and prepared.model.kind == "gnn"

    def objective(trial) -> float:
        spec = with_values(prepared.target.spec, prepared.model, suggest(trial, prepared.space))
        scores: list[float] = []
        epochs_run: list[int] = []
        for k, seed in enumerate(options.search_seeds):
            run = prepare(replace(spec, seed=seed), cache)
            best = -math.inf

            def on_epoch(epoch: int, score: float) -> None:
                nonlocal best
                best = max(best, score)
                trial.report((sum(scores) + best) / (k + 1), k * epochs + epoch)
                if trial.should_prune():
                    trial.set_user_attr("pruned_at_epoch", epoch)
                    trial.set_user_attr("epochs_run", [*epochs_run, epoch])
                    raise optuna.TrialPruned()

            record = execute(run, cache, device, FitOptions(amp=amp, progress=False, score_test=False,
                                                            on_epoch=on_epoch if prune else None))
            scores.append(float(record["metrics"]["val"][metric]))
            epochs_run.append(record["epochs_run"])
        trial.set_user_attr("val_" + metric, scores)
        trial.set_user_attr("epochs_run", epochs_run)
        return float(np.mean(scores))

    return objective


def _sampler(options: TuneOptions, created: bool, study_size: int):
    """TPE, seeded with ``sampler_seed`` on a new study (so a fresh search repeats exactly).

    A process that joins or continues a study mixes in the trials already there and
    its process id: re-seeding with the same number would redraw the first
    trials' configurations.
    """
    import optuna

    seed = options.sampler_seed
    if not created:
        seed = int(np.random.SeedSequence([options.sampler_seed, study_size, os.getpid()]).generate_state(1)[0])
    return optuna.samplers.TPESampler(seed=seed)


def _open_study(prepared: _Prepared, storage, options: TuneOptions):
    import optuna

    max_steps = max(1, int(prepared.definition["training"].get("epochs") or 1)) * len(options.search_seeds)
    pruner = _pruner(options.pruner, max_steps)
    try:
        study = optuna.create_study(storage=storage, study_name=prepared.name, direction="maximize",
                                    sampler=_sampler(options, True, 0), pruner=pruner)
        study.set_user_attr("target", prepared.identity)
        return study
    except optuna.exceptions.DuplicatedStudyError:
        pass
    study = optuna.load_study(study_name=prepared.name, storage=storage, pruner=pruner)
    study.sampler = _sampler(options, False, len(study.get_trials(deepcopy=False)))
    stored = study.user_attrs.get("target")
    if stored is not None and stored != prepared.identity:
        raise ValueError(f"study {prepared.name!r} in this storage searches another target "
                         f"({stored['definition'].get('model')} on {stored['definition'].get('dataset')}/"
                         f"{stored['definition'].get('task')}, or other settings); give another --study")
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise ValueError(f"study {prepared.name!r} in this storage minimises; give another --study")
    return study


def _tuning_field(name: str, options: TuneOptions, trials: int) -> dict:
    return {"study": name, "sampler": "tpe", "pruner": options.pruner,
            "budget": {"trials": options.trials, "timeout_s": options.timeout_s}, "trials": trials,
            "search_seeds": list(options.search_seeds), "selected_on": "val"}


def _search(prepared: _Prepared, study, cache: DataCache, device, options: TuneOptions, amp: bool,
            say: Callable[[str], None]) -> None:
    """Run trials until the study's budget is spent (by this and any other process)."""
    import optuna

    left = _budget_left(study, options)
    if _exhausted(left):
        say(f"{prepared.name}: budget spent ({len(_finished(study))} trials); nothing to search")
        return

    def after_trial(study, trial) -> None:
        done = _finished(study)
        total = f" of {options.trials}" if options.trials else ""
        spent = f", {_spent_s(done):.0f} of {options.timeout_s:g} s" if options.timeout_s else ""
        what = (f"pruned at epoch {trial.user_attrs.get('pruned_at_epoch')}"
                if trial.state == optuna.trial.TrialState.PRUNED else f"val {trial.value:.4f}")
        complete = [t for t in done if t.state == optuna.trial.TrialState.COMPLETE]
        best = max(complete, key=lambda t: t.value) if complete else None
        best_text = f"best {best.value:.4f} (trial {best.number})" if best else "no complete trial yet"
        say(f"{prepared.name}: trial {len(done)}{total}{spent} (#{trial.number}): {what}; {best_text}")
        if _exhausted(_budget_left(study, options)):
            study.stop()

    study.optimize(_objective(prepared, cache, device, options, amp), n_trials=left[0], timeout=left[1],
                   callbacks=[after_trial], gc_after_trial=True)


def tune(targets: list[Target], store: ResultStore, options: TuneOptions, *, root: str | Path | None = None,
         device: str = "auto", amp: bool = False, progress: bool = True, search_only: bool = False,
         say: Callable[[str], None] | None = None) -> list[Outcome]:
    """Search each target's space with the same budget, then run its best configuration on its seeds.

    Everything that can be wrong (options, storage, models, search spaces, run
    definitions) is checked for every target before the first trial trains.
    """
    import optuna

    from . import environment as env

    say = say or (print if progress else (lambda _: None))
    options.check()
    cache = DataCache(root, progress=progress)
    prepared = [_Prepared(t, cache, options, len(targets) > 1) for t in targets]
    names = [p.name for p in prepared]
    if len(set(names)) != len(names):
        raise ValueError("two targets would share one study; they differ only in what a study does not record")
    storage = open_storage(options.storage, store.folder)
    dev = env.resolve_device(device)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    outcomes = []
    for p in prepared:
        study = _open_study(p, storage, options)
        _search(p, study, cache, dev, options, amp, say)
        done = _finished(study)
        complete = [t for t in done if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete:
            raise ValueError(f"study {p.name!r} has no complete trial (all {len(done)} pruned or failed); "
                             "give a larger budget or --pruner none")
        best = study.best_trial
        records = []
        if not search_only:
            tuned = with_values(p.target.spec, p.model, best.params)
            specs = [replace(tuned, seed=s, tuning=_tuning_field(p.name, options, len(done)))
                     for s in p.target.seeds]
            records = sweep(specs, store, root=root, device=device, amp=amp, progress=progress)
        say(f"{p.name}: best val {best.value:.4f} after {len(done)} trials with {best.params}"
            + ("" if search_only else f"; {len(records)} new tuned run(s) in {store.folder}"))
        outcomes.append(Outcome(p.name, len(done), best.value, dict(best.params), records))
    return outcomes
