"""Test and validation metrics, computed with scikit-learn in the right argument order.

Every metric's name carries its averaging (``f1_macro``, ``precision_bot``,
``f1_micro``) so that records from different tasks never mix meanings; see
``docs/RESULTS.md``. The MGTAB reference scripts pass the predictions as the
*truth* (``f1_score(pred, label)``), which swaps macro precision and recall;
``swap_truth=True`` reproduces that for ``--protocol reference``.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (accuracy_score, f1_score, hamming_loss, precision_score, recall_score,
                             roc_auc_score)

from mgbench.datasets.tasks import TASKS, Task


def _roc_auc(y: np.ndarray, scores: np.ndarray, multiclass: bool) -> float | None:
    """ROC-AUC, or ``None`` where it is undefined (a class absent from ``y``)."""
    try:
        if multiclass:
            return float(roc_auc_score(y, scores, multi_class="ovr", average="macro",
                                       labels=np.arange(scores.shape[1])))
        return float(roc_auc_score(y, scores[:, 1]))
    except ValueError:
        return None


def single_label_metrics(y: np.ndarray, proba: np.ndarray, task: Task, swap_truth: bool = False) -> dict:
    """Accuracy, macro P/R/F1, ROC-AUC; for ``bot`` also P/R/F1 of the bot class."""
    pred = proba.argmax(axis=1)
    truth, guess = (pred, y) if swap_truth else (y, pred)
    labels = np.arange(proba.shape[1])
    out = {
        "accuracy": float(accuracy_score(truth, guess)),
        "precision_macro": float(precision_score(truth, guess, average="macro", labels=labels, zero_division=0)),
        "recall_macro": float(recall_score(truth, guess, average="macro", labels=labels, zero_division=0)),
        "f1_macro": float(f1_score(truth, guess, average="macro", labels=labels, zero_division=0)),
        "roc_auc_macro": _roc_auc(y, proba, multiclass=proba.shape[1] > 2),
    }
    if task.name == "bot":
        out["precision_bot"] = float(precision_score(truth, guess, pos_label=1, zero_division=0))
        out["recall_bot"] = float(recall_score(truth, guess, pos_label=1, zero_division=0))
        out["f1_bot"] = float(f1_score(truth, guess, pos_label=1, zero_division=0))
    return out


def multilabel_metrics(Y: np.ndarray, proba: np.ndarray, task: Task, swap_truth: bool = False) -> dict:
    """Subset accuracy, Hamming loss, micro/macro P/R/F1, per-label F1, macro ROC-AUC."""
    pred = (proba >= 0.5).astype(np.int64)
    Y = Y.astype(np.int64)
    truth, guess = (pred, Y) if swap_truth else (Y, pred)
    out = {
        "subset_accuracy": float(accuracy_score(truth, guess)),
        "hamming_loss": float(hamming_loss(truth, guess)),
        "precision_macro": float(precision_score(truth, guess, average="macro", zero_division=0)),
        "recall_macro": float(recall_score(truth, guess, average="macro", zero_division=0)),
        "f1_macro": float(f1_score(truth, guess, average="macro", zero_division=0)),
        "f1_micro": float(f1_score(truth, guess, average="micro", zero_division=0)),
    }
    present = [c for c in range(Y.shape[1]) if 0 < Y[:, c].sum() < len(Y)]
    out["roc_auc_macro"] = (float(roc_auc_score(Y[:, present], proba[:, present], average="macro"))
                            if present else None)
    per_label = f1_score(truth, guess, average=None, zero_division=0)
    for name, value in zip(task.labels, per_label):
        out[f"f1_label/{name}"] = float(value)
    return out


def compute_metrics(y: np.ndarray, scores: np.ndarray, task: Task, swap_truth: bool = False) -> dict:
    """All metrics of ``task`` from true labels and class probabilities.

    ``scores`` are softmax probabilities [n, C] for single-label tasks and
    sigmoid probabilities [n, C] for multi-label tasks. The joint task
    ``stance+bot`` also reports each single task, prefixed (``stance/f1_macro``),
    reading its classes off the corresponding columns.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        if not task.multilabel:
            return single_label_metrics(y, scores, task, swap_truth)
        out = multilabel_metrics(y, scores, task, swap_truth)
        start = 0
        for source in task.sources:
            sub = TASKS[source]
            cols = slice(start, start + sub.num_outputs)
            part = scores[:, cols]
            part = part / np.clip(part.sum(axis=1, keepdims=True), 1e-12, None)
            sub_metrics = single_label_metrics(y[:, cols].argmax(axis=1), part, sub, swap_truth)
            out.update({f"{source}/{k}": v for k, v in sub_metrics.items()})
            start += sub.num_outputs
        return out


def selection_score(y: np.ndarray, scores: np.ndarray, task: Task, accuracy: bool = False) -> float:
    """``compute_metrics(...)[protocol.selection_metric(task)]``, computed alone: macro F1, or
    with ``accuracy`` (the reference protocol, as the MGTAB scripts) accuracy, subset accuracy
    for multi-label tasks.

    Training computes it every epoch; the full metric set (a dozen scikit-learn
    calls, ~0.15 s on MGTAB's validation split) only when the score improves.
    Accuracy and macro F1 do not depend on the swapped argument order of the
    reference protocol, so it needs no ``swap_truth``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        if task.multilabel:
            pred = (scores >= 0.5).astype(np.int64)
            y = y.astype(np.int64)
            if accuracy:
                return float(accuracy_score(y, pred))
            return float(f1_score(y, pred, average="macro", zero_division=0))
        pred = scores.argmax(axis=1)
        if accuracy:
            return float(accuracy_score(y, pred))
        return float(f1_score(y, pred, average="macro", labels=np.arange(scores.shape[1]), zero_division=0))
