"""Training loops: full-batch GNN training and scikit-learn fitting under a protocol.

What differs between the standard and the reference protocol (which forward
scores validation, the selection metric, early stopping, swapped metric
arguments, the estimators' row order) is read from a :class:`.protocol.Protocol`
object, never from the protocol's name; :mod:`.protocol` documents both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from mgbench.datasets.splits import Split
from mgbench.datasets.tasks import Task

from .metrics import compute_metrics, selection_score
from .protocol import Protocol, TrainSettings, get_protocol


@dataclass
class FitResult:
    best_epoch: int
    val: dict
    test: dict
    epochs_run: int
    history: list[dict] = field(default_factory=list)


class EpochSelector:
    """Keep the epoch with the best validation score and its full metrics.

    Every epoch computes just the selection score; the full validation and
    test metrics are computed only when it improves (they cost more than an
    epoch of a small model). Early stopping as the protocol says.
    ``y_test`` ``None``: test is never scored (tuning).
    """

    def __init__(self, result: FitResult, task: Task, y_val: np.ndarray, y_test: np.ndarray | None,
                 protocol: Protocol, swap_truth: bool = False):
        self.result, self.task, self.protocol, self.swap_truth = result, task, protocol, swap_truth
        self.y_val, self.y_test = y_val, y_test
        self.best_score = -np.inf

    def update(self, epoch: int, val_scores: np.ndarray, test_scores: np.ndarray | None) -> float:
        """Score epoch ``epoch`` (0-based) from class probabilities; returns the score."""
        score = selection_score(self.y_val, val_scores, self.task, self.protocol.select_on_accuracy)
        self.result.epochs_run = epoch + 1
        if score > self.best_score:
            self.best_score = score
            self.result.best_epoch = epoch + 1
            self.result.val = compute_metrics(self.y_val, val_scores, self.task, swap_truth=self.swap_truth)
            if self.y_test is not None:
                self.result.test = compute_metrics(self.y_test, test_scores, self.task, swap_truth=self.swap_truth)
        return score

    def should_stop(self, patience: int | None, min_epochs: int) -> bool:
        return self.protocol.should_stop(self.result.epochs_run, self.result.best_epoch, patience, min_epochs)


def split_output(out) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A model's output as ``(logits, embeddings or None)``.

    The model contract: ``forward`` returns logits ``[N, C]``, or the pair
    ``(logits, embeddings)`` to hand the auxiliary losses its node embeddings
    directly (the documented way for a model without a ``classifier`` layer).
    """
    if isinstance(out, torch.Tensor):
        return out, None
    if isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out):
        return out[0], out[1]
    raise TypeError(f"forward returned {type(out).__name__}; expected a logits tensor [N, num_classes] "
                    "or a pair (logits, embeddings)")


def embedding_module(model: torch.nn.Module) -> torch.nn.Module:
    """The layer whose *input* is the node embedding: ``model.classifier``.

    Why no guess beyond it: the last ``nn.Linear`` registered is not always the
    last one called, and a wrong guess would silently train the auxiliary loss
    on the wrong tensor. A model without ``classifier`` returns
    ``(logits, embeddings)`` from ``forward`` instead.
    """
    classifier = getattr(model, "classifier", None)
    if isinstance(classifier, torch.nn.Linear) or (isinstance(classifier, torch.nn.Module)
                                                   and hasattr(classifier, "in_features")):
        return classifier
    raise ValueError(f"{type(model).__name__} exposes no node embeddings: name its last layer `classifier` "
                     "(an nn.Linear whose input is the embedding) or return (logits, embeddings) from forward")


class EmbeddingTap:
    """The node embeddings of the last forward pass: from a ``(logits, embeddings)``
    output, else the input of ``model.classifier`` captured with a forward hook."""

    def __init__(self, model: torch.nn.Module):
        self.value: torch.Tensor | None = None
        try:
            self._handle = embedding_module(model).register_forward_hook(self._hook)
        except ValueError:
            self._handle = None  # the model returns its embeddings (checked before training)

    def _hook(self, module, inputs, output) -> None:
        self.value = inputs[0]

    def output(self, out) -> torch.Tensor:
        """The logits of ``out``, keeping its embeddings if it carries them."""
        logits, embeddings = split_output(out)
        if embeddings is not None:
            self.value = embeddings
        return logits

    def close(self) -> None:
        if self._handle is not None:
            self._handle.remove()


def task_loss(logits: torch.Tensor, y: torch.Tensor, task: Task) -> torch.Tensor:
    if task.multilabel:
        return F.binary_cross_entropy_with_logits(logits.float(), y.float())
    return F.cross_entropy(logits.float(), y)


def training_objective(model: torch.nn.Module, task: Task) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor],
                                                                       torch.Tensor]:
    """The loss one training step minimises: ``objective(logits, y, train_idx)``.

    The task loss on the training nodes, unless the model defines
    ``training_loss(logits, y, train_idx, loss_fn)`` (the registry's model
    contract): then the model's own objective, which receives the task loss as
    ``loss_fn(logits_subset, y_subset)`` so that it composes with any task.
    Why a hook on the model: RF-GNN trains each branch on its own bootstrap of
    the training nodes, SEBot adds its contrastive term, OS-GNN adds
    oversampled nodes; each needs the labels or the training nodes, which
    ``forward`` never sees. Called only in training mode, after ``forward``.
    """
    loss_fn = lambda out, target: task_loss(out, target, task)  # noqa: E731
    custom = getattr(model, "training_loss", None)
    if custom is None:
        return lambda logits, y, idx: loss_fn(logits[idx], y[idx])
    return lambda logits, y, idx: custom(logits, y, idx, loss_fn)


def probabilities(logits: torch.Tensor, task: Task) -> np.ndarray:
    logits = logits.detach().float()
    p = torch.sigmoid(logits) if task.multilabel else torch.softmax(logits, dim=1)
    return p.cpu().numpy()


AuxFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
#: Called after every epoch with (epoch, 1-based; that epoch's validation selection score); may raise to stop.
EpochFn = Callable[[int, float], None]


def fit_gnn(model: torch.nn.Module, x: torch.Tensor, edge_index: torch.Tensor, edge_type: torch.Tensor,
            y: torch.Tensor, split: Split, task: Task, settings: TrainSettings, *,
            protocol: str | Protocol = "standard", aux: AuxFn | None = None, amp: bool = False,
            progress: bool = True, swap_truth: bool = False, score_test: bool = True,
            on_epoch: EpochFn | None = None) -> FitResult:
    """Train ``model`` full-batch and return the selected epoch's metrics.

    All tensors must already be on the model's device. ``aux(embeddings, logits,
    train_idx)`` returns an auxiliary loss added to the task loss (the caller
    chooses batch and weight; an ``nn.Module`` aux has its parameters trained
    too); embeddings are captured with :class:`EmbeddingTap`. ``swap_truth``
    passes predictions as the truth to the metrics (:meth:`.Protocol.swaps_truth`
    says for which models the reference protocol does).
    ``score_test=False`` never reads ``split.test`` (a search selects on
    validation alone; the result's ``test`` stays empty). ``on_epoch`` sees each
    epoch's validation score and may raise to end training (a pruned trial).
    """
    protocol = get_protocol(protocol)
    device = x.device
    params = list(model.parameters()) + (list(aux.parameters()) if isinstance(aux, torch.nn.Module) else [])
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    tap = EmbeddingTap(model) if aux is not None else None
    train_idx, val_idx = split.train.to(device), split.val.to(device)
    test_idx = split.test.to(device) if score_test else None
    y_val = y[split.val].cpu().numpy()
    y_test = y[split.test].cpu().numpy() if score_test else None
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp)  # noqa: E731

    objective = training_objective(model, task)
    best = FitResult(0, {}, {}, 0)
    selector = EpochSelector(best, task, y_val, y_test, protocol, swap_truth)
    bar = tqdm(range(settings.epochs), desc=type(model).__name__, disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            out = model(x, edge_index, edge_type)
            logits = tap.output(out) if tap is not None else split_output(out)[0]
            loss = objective(logits, y, train_idx)
            if aux is not None:
                loss = loss + aux(tap.value, logits, train_idx)
        if protocol.validation_from_training_pass:
            val_scores = probabilities(logits[val_idx], task)
        loss.backward()
        optimizer.step()

        model.eval()
        with torch.no_grad(), autocast():
            eval_logits = split_output(model(x, edge_index, edge_type))[0]
        if not protocol.validation_from_training_pass:
            val_scores = probabilities(eval_logits[val_idx], task)
        test_scores = probabilities(eval_logits[test_idx], task) if score_test else None
        score = selector.update(epoch, val_scores, test_scores)
        bar.set_postfix(loss=f"{loss.item():.4f}", val=f"{score:.4f}")
        if on_epoch is not None:
            on_epoch(epoch + 1, score)
        if selector.should_stop(settings.patience, settings.min_epochs):
            break
    if tap is not None:
        tap.close()
    return best


def fit_estimator(estimator, x: np.ndarray, y: np.ndarray, split: Split, task: Task,
                  protocol: str | Protocol = "standard", score_test: bool = True) -> FitResult:
    """Fit a scikit-learn estimator on the training nodes; score validation and (unless not
    ``score_test``) test.

    The protocol orders the training rows (:meth:`.Protocol.estimator_rows`): an
    estimator that draws from its rows (a random forest's bootstrap) sees exactly
    the authors' samples under the reference protocol. Metrics take the truth
    first under both protocols (``MGTAB-ML.py`` does).
    """
    from sklearn.multiclass import OneVsRestClassifier

    protocol = get_protocol(protocol)
    if task.multilabel:
        estimator = OneVsRestClassifier(estimator)
    tr = protocol.estimator_rows(split.train.numpy())
    estimator.fit(x[tr], y[tr])
    out = {"test": {}}
    for part in ("val", "test") if score_test else ("val",):
        idx = getattr(split, part).numpy()
        out[part] = compute_metrics(y[idx], _estimator_scores(estimator, x[idx], task), task)
    return FitResult(1, out["val"], out["test"], 1)


def _estimator_scores(estimator, x: np.ndarray, task: Task) -> np.ndarray:
    """Class probabilities, or softmax/sigmoid of decision scores for estimators without them."""
    if hasattr(estimator, "predict_proba"):
        try:
            proba = estimator.predict_proba(x)
            if isinstance(proba, list):  # multi-output estimators: one [n, 2] array per label
                proba = np.stack([p[:, 1] for p in proba], axis=1)
            return _full_columns(estimator, proba, task)
        except AttributeError:  # e.g. SVC(probability=False) exposes the method but refuses
            pass
    scores = torch.as_tensor(estimator.decision_function(x), dtype=torch.float64)
    if scores.dim() == 1:
        scores = torch.stack([-scores, scores], dim=1) / 2 if not task.multilabel else scores[:, None]
    return probabilities(scores, task)


def _full_columns(estimator, proba: np.ndarray, task: Task) -> np.ndarray:
    """Place the columns of classes the estimator saw into the task's full class list."""
    classes = getattr(estimator, "classes_", None)
    if task.multilabel or classes is None or len(classes) == task.num_outputs:
        return proba
    full = np.zeros((proba.shape[0], task.num_outputs))
    full[:, np.asarray(classes, dtype=int)] = proba
    return full
