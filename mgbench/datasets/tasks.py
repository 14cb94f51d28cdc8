"""Prediction tasks: which labels a task reads, and how many classes it has.

Single-label tasks (``stance``, ``bot``) read one int64 label per node.
Multi-label tasks (``topics``, ``domain``, and ``stance+bot`` as a label set)
read a multi-hot ``[N, C]`` tensor; ``stance+bot`` builds it from the two
single-label tasks (3 stance one-hot columns, then 2 bot one-hot columns).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch_geometric.data import Data


@dataclass(frozen=True)
class Task:
    name: str
    multilabel: bool
    labels: tuple[str, ...]          # class names (single-label) or label names (multi-label)
    sources: tuple[str, ...]         # the single-label tasks a joint task is built from

    @property
    def num_outputs(self) -> int:
        return len(self.labels)

    @property
    def attr(self) -> str:
        return "y_" + self.name.replace("+", "_")


STANCE = Task("stance", False, ("neutral", "against", "support"), ())
BOT = Task("bot", False, ("human", "bot"), ())
STANCE_BOT = Task("stance+bot", True, STANCE.labels + BOT.labels, ("stance", "bot"))
TOPICS = Task("topics", True, ("politics", "economy", "health", "technology", "sports",
                              "entertainment", "science", "environment"), ())
DOMAIN = Task("domain", True, ("Politics", "Business", "Entertainment", "Sports"), ())

TASKS: dict[str, Task] = {t.name: t for t in (STANCE, BOT, STANCE_BOT, TOPICS, DOMAIN)}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; available: {', '.join(TASKS)}")
    return TASKS[name]


def available_tasks(data: Data) -> list[str]:
    """The tasks whose labels this graph carries."""
    out = []
    for task in TASKS.values():
        needed = [TASKS[s].attr for s in task.sources] or [task.attr]
        if all(a in data for a in needed):
            out.append(task.name)
    return out


def task_labels(data: Data, task: Task | str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(y, labelled)``: labels (int64 [N] or float multi-hot [N, C]) and a bool mask.

    Raises ``ValueError`` naming the tasks the dataset has if it lacks this one.
    """
    task = get_task(task) if isinstance(task, str) else task
    if task.name not in available_tasks(data):
        raise ValueError(
            f"dataset {getattr(data, 'name', '')!r} has no labels for task {task.name!r}; "
            f"its tasks: {', '.join(available_tasks(data)) or 'none'}"
        )
    if task.sources:
        parts = [data[TASKS[s].attr] for s in task.sources]
        labelled = torch.stack([p >= 0 for p in parts]).all(dim=0)
        hots = [torch.nn.functional.one_hot(p.clamp(min=0), TASKS[s].num_outputs)
                for p, s in zip(parts, task.sources)]
        return torch.cat(hots, dim=1).float(), labelled
    y = data[task.attr]
    if task.multilabel:
        return y.clamp(min=0).float(), (y >= 0).all(dim=1)
    return y, y >= 0
