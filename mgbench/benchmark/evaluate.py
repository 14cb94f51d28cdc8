"""Own training loop, same board: score predictions exactly as the runner does.

OGB's route for a model the runner cannot train (custom sampling,
pre-training, an LLM pipeline)::

    from mgbench import datasets as ds
    from mgbench.benchmark import Evaluator

    data = ds.load("mgtab-synthetic")
    split = ds.get_split(data, "bot", seed=0)        # train on split.train, select on split.val
    ...
    evaluator = Evaluator(data, "bot", seed=0)
    evaluator.score(logits)                          # the metric dict a record holds
    evaluator.score(logits, part="val")

Scores go through the runner's own pieces: the split of
:func:`mgbench.datasets.get_split`, the probabilities of
:func:`mgbench.benchmark.train.probabilities` and the metrics of
:func:`mgbench.benchmark.metrics.compute_metrics`, so a model's logits score
the same here as inside ``mgbench run``. How labels and non-probability scores
are read: :mod:`mgbench.benchmark.predictions`. Labels carry no ranking, so
their metrics have no ``roc_auc_macro``.

:func:`evaluate_file` makes a prediction file an ordinary record
(``mgbench evaluate``), marked ``model_kind: "external"``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch_geometric.data import Data

from mgbench import datasets as ds
from mgbench.datasets.tasks import Task

from . import environment as env
from .metrics import compute_metrics
from .predictions import Predictions, PredictionError, load_prediction_file
from .store import SCHEMA, run_id

PARTS = ("train", "val", "test")
EXTERNAL_KIND = "external"
#: The longest model name the board accepts (its record validation's limit on names).
MAX_NAME = 128


class Evaluator:
    """Scores predictions on one dataset, task and seed's split, as the runner does.

    ``predictions`` are a tensor or array over all nodes (labels ``[N]`` or
    scores/logits ``[N, C]``, e.g. a model's full-graph output), or
    :class:`~mgbench.benchmark.predictions.Predictions` read from a file. The
    seed has no default: scoring one seed's test nodes with a model trained on
    another seed's split would leak its training nodes into the test.
    """

    def __init__(self, data: Data, task: str | Task, seed: int):
        self.task = ds.get_task(task) if isinstance(task, str) else task
        self.seed = int(seed)
        self.labels, _ = ds.task_labels(data, self.task)
        self.split = ds.get_split(data, self.task, self.seed)
        self.num_nodes = int(data.num_nodes)

    @classmethod
    def from_names(cls, dataset: str, task: str, seed: int, *, root: str | Path | None = None,
                   **dataset_options) -> "Evaluator":
        """Load ``dataset`` (as :func:`mgbench.datasets.load`) and build its evaluator."""
        return cls(ds.load(dataset, root=root, **dataset_options), task, seed)

    def nodes(self, part: str) -> torch.Tensor:
        """The node ids of ``part`` (train, val or test) of this seed's split."""
        if part not in PARTS:
            raise ValueError(f"unknown part {part!r}; available: {', '.join(PARTS)}")
        return getattr(self.split, part)

    def check(self, predictions) -> Predictions:
        """``predictions`` checked against this task and graph (a :class:`PredictionError` names what is wrong)."""
        if isinstance(predictions, Predictions):
            if (predictions.num_nodes, predictions.task) != (self.num_nodes, self.task.name):
                raise PredictionError(f"predictions checked for task {predictions.task!r} on {predictions.num_nodes} "
                                      f"nodes; this evaluator scores {self.task.name!r} on {self.num_nodes}")
            return predictions
        return Predictions.build(predictions, self.task, self.num_nodes)

    def covers(self, predictions, part: str) -> bool:
        """Whether ``predictions`` hold every node of ``part``."""
        return len(self.check(predictions).missing(self.nodes(part))) == 0

    def score(self, predictions, part: str = "test") -> dict:
        """The metrics of ``predictions`` on ``part``: the dict a record holds under ``metrics[part]``."""
        predictions = self.check(predictions)
        ids = self.nodes(part)
        missing = predictions.missing(ids)
        if len(missing):
            shown = ", ".join(str(int(i)) for i in missing[:5])
            raise PredictionError(f"predictions miss {len(missing)} of the {len(ids)} {part} nodes of seed "
                                  f"{self.seed} (e.g. {shown}); give a prediction for every {part} node "
                                  f"(`mgbench splits` writes them)")
        metrics = compute_metrics(self.labels[ids].cpu().numpy(), predictions.scores(ids, self.task), self.task)
        if predictions.kind == "labels":  # hard labels rank nothing: their ROC-AUC would be another quantity
            metrics = {k: v for k, v in metrics.items() if k.rsplit("/", 1)[-1] != "roc_auc_macro"}
        return metrics


def evaluate(data: Data, task: str | Task, predictions, *, seed: int, part: str = "test") -> dict:
    """``Evaluator(data, task, seed).score(predictions, part)`` in one call."""
    return Evaluator(data, task, seed).score(predictions, part)


def _check_name(name: str) -> str:
    from mgbench.registry import registered_models

    if not name or name != name.strip() or not name.isprintable() or len(name) > MAX_NAME:
        raise ValueError(f"--name {name!r}: give a printable name of 1..{MAX_NAME} characters without surrounding "
                         "spaces")
    if name in registered_models():
        raise ValueError(f"--name {name!r} is a registered model's name; give your model its own")
    return name


def external_definition(*, dataset: str, dataset_options: dict, task: str, relations: list[str], features: str,
                        seed: int, name: str, digest: str, kind: str) -> dict:
    """A run definition with the runner's keys for a model trained outside it.

    The prediction file's hash is part of it, so a different file is a different run.
    """
    return {
        "dataset": dataset, "dataset_options": dict(sorted(dataset_options.items())), "task": task,
        "relations": relations, "features": features, "feature_options": {},
        "model": name, "model_kind": EXTERNAL_KIND, "hyperparameters": {}, "training": {},
        "aux_loss": None, "aux_weight": 0.0, "aux_settings": {}, "protocol": "standard", "seed": int(seed),
        "external": {"predictions": digest, "kind": kind},
    }


def evaluate_file(path: str | Path, *, dataset: str, task: str, seed: int, name: str,
                  relations: str | list = ",".join(ds.DEFAULT_RELATIONS), features: str = "default",
                  dataset_options: dict | None = None, root: str | Path | None = None) -> dict:
    """Score a prediction file on ``seed``'s split; return its record (not yet stored).

    Every check (name, dataset, relations, feature recipe, the file and its
    coverage of the test nodes) runs before the record exists. Validation
    metrics are included when the file covers every validation node.
    """
    from .runner import DataCache, RunSpec, check_features

    name = _check_name(name)
    dataset_options = dict(dataset_options or {})
    spec = ds.resolve_dataset(dataset)
    task_name = ds.get_task(task).name
    check_features(RunSpec(dataset=dataset, task=task_name, model=name, features=features), DataCache(root))
    dataset_options = spec.record_options(dataset_options)  # recorded defaults written in, as for a run
    data = ds.load_spec(spec, root, **spec.loading_options(dataset_options))
    relation_names = list(data.relation_names)
    relations = [relation_names[i] for i in ds.parse_relations(relations, relation_names)]
    evaluator = Evaluator(data, task_name, seed)
    predictions, digest = load_prediction_file(path, evaluator.task, evaluator.num_nodes)
    metrics = {"test": evaluator.score(predictions, "test")}
    if evaluator.covers(predictions, "val"):
        metrics["val"] = evaluator.score(predictions, "val")
    definition = external_definition(dataset=spec.name, dataset_options=dataset_options, task=task_name,
                                     relations=relations, features=features, seed=seed, name=name,
                                     digest=digest, kind=predictions.kind)
    if ds.dataset_source(spec):  # a user's dataset: its code is part of the record, as for a run
        definition["dataset_source"] = ds.dataset_source(spec)
    return {
        "schema": SCHEMA, "run_id": run_id(definition), "definition": definition, "metrics": metrics,
        "best_epoch": None, "epochs_run": None, "train_time_s": None, "peak_memory_mb": None,
        "model_memory_mb": None, "num_parameters": None, "versions": env.versions(), "git_commit": env.git_commit(),
        "hardware": env.hardware(torch.device("cpu")), "timestamp": env.timestamp(),
    }
