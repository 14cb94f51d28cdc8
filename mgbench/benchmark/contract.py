"""The model contract, checked on a few nodes before anything trains.

Why: a model that breaks the contract (wrong output shape, a ``forward`` that
takes other arguments, integer outputs, no way to reach its embeddings) should
fail in a second with one line that names the mistake, not after the data has
loaded and an epoch has run, deep inside scikit-learn or an index operation.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .models import ModelError
from .train import embedding_module, split_output

#: Nodes of the induced subgraph the smoke test runs a GNN on.
SMOKE_NODES = 256


def smoke_subgraph(x: Tensor, edge_index: Tensor, edge_type: Tensor,
                   num_nodes: int = SMOKE_NODES) -> tuple[Tensor, Tensor, Tensor]:
    """The subgraph induced by the first ``num_nodes`` nodes."""
    n = min(num_nodes, x.size(0))
    keep = (edge_index < n).all(dim=0)
    return x[:n], edge_index[:, keep], edge_type[keep]


def check_gnn(model: torch.nn.Module, name: str, x: Tensor, edge_index: Tensor, edge_type: Tensor,
              num_outputs: int, *, needs_embeddings: bool = False) -> int | None:
    """Run ``model`` in eval mode on a small subgraph (moved to the model's device) and
    check what it returns.

    Returns the embedding width when the model exposes embeddings (a
    ``(logits, embeddings)`` output, else the input of ``model.classifier``),
    ``None`` when it exposes none; with ``needs_embeddings`` (an auxiliary
    loss) that is an error. Random number generators are left as they were,
    so a run's numbers do not depend on the check.
    """
    device = next(iter(model.parameters()), x).device
    xs, ei, et = (t.to(device) for t in smoke_subgraph(x, edge_index, edge_type))
    n = xs.size(0)
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
            out = model(xs, ei, et)
    except TypeError as err:
        raise ModelError(f"model {name!r}: forward(x, edge_index, edge_type) failed on a {n}-node subgraph: "
                         f"{err} (the runner calls forward with those three tensors)") from None
    except Exception as err:  # noqa: BLE001 - the user's code; say where it failed
        raise ModelError(f"model {name!r}: forward failed on a {n}-node subgraph: "
                         f"{type(err).__name__}: {err}") from None
    finally:
        model.train(was_training)
    try:
        logits, embeddings = split_output(out)
    except TypeError as err:
        raise ModelError(f"model {name!r}: {err}") from None
    expected = f"a float tensor [{n}, {num_outputs}] (one row per node, one column per class)"
    if not logits.is_floating_point():
        raise ModelError(f"model {name!r}: forward returned a {logits.dtype} tensor; expected {expected}")
    if tuple(logits.shape) != (n, num_outputs):
        raise ModelError(f"model {name!r}: forward returned logits of shape {list(logits.shape)}; expected "
                         f"{expected}: num_classes={num_outputs} is passed to the constructor")
    if embeddings is not None:
        if embeddings.dim() != 2 or embeddings.size(0) != n or not embeddings.is_floating_point():
            raise ModelError(f"model {name!r}: forward's embeddings have shape {list(embeddings.shape)} "
                             f"({embeddings.dtype}); expected a float tensor [{n}, d]")
        return int(embeddings.size(1))
    try:
        return int(embedding_module(model).in_features)
    except ValueError as err:
        if needs_embeddings:
            raise ModelError(f"model {name!r}: {err}") from None
        return None


def check_estimator(estimator, name: str, x: np.ndarray, y: np.ndarray, train_idx: np.ndarray) -> None:
    """Fit a clone of ``estimator`` on a few training rows of each class, then predict.

    Catches bad hyperparameter values (scikit-learn validates them at ``fit``)
    and estimators that do not follow the fit/predict contract, in a moment.
    """
    from sklearn.base import clone

    state = np.random.get_state()  # an estimator without random_state draws from NumPy's global RNG
    labels = y[train_idx]
    rows = np.concatenate([train_idx[labels == c][:8] for c in np.unique(labels, axis=0)]) \
        if labels.ndim == 1 else train_idx[:32]
    try:
        probe = clone(estimator)
        if labels.ndim == 2:  # as fit_estimator trains multi-label tasks
            from sklearn.multiclass import OneVsRestClassifier

            probe = OneVsRestClassifier(probe)
        probe.fit(x[rows], y[rows])
        predictions = np.asarray(probe.predict(x[rows]))
    except Exception as err:  # noqa: BLE001 - the user's settings; say what failed
        raise ModelError(f"model {name!r} failed a test fit on {len(rows)} training rows: "
                         f"{type(err).__name__}: {err}") from None
    finally:
        np.random.set_state(state)
    if predictions.shape[0] != len(rows):
        raise ModelError(f"model {name!r}: predict returned {predictions.shape[0]} rows for {len(rows)} inputs")
