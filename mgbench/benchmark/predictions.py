"""Predictions made outside the runner: read, checked, and turned into the runner's scores.

A prediction is either a class label per node (``labels``, single-label tasks
only) or a score row per node (``scores``: one column per class, or per label
of a multi-label task). Scores need not be probabilities: the whole matrix is
read as probabilities when it already is one (single-label: every row
non-negative and summing to 1 within 1e-4; multi-label: every value in
[0, 1]), and otherwise as logits, turned into probabilities exactly as the
runner turns a model's output (:func:`mgbench.benchmark.train.probabilities`:
softmax, or sigmoid for multi-label tasks). One reading for the whole matrix,
never row by row, so that a logit row that happens to sum to 1 is not read
differently from its neighbours.

Files (:func:`load_prediction_file`): a CSV with a ``node`` column and either a
``label`` column or the columns ``score_0`` ... ``score_<C-1>``; a ``.pt``
tensor (``torch.load(weights_only=True)``) or a ``.npy`` array
(``numpy.load(allow_pickle=False)``) of labels ``[N]`` or scores ``[N, C]``
over all ``N`` nodes of the dataset. Anything else is refused with one
:class:`PredictionError` line naming what is wrong.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mgbench.datasets.tasks import Task

from .train import probabilities

#: Largest prediction file read (bytes): MGTAB-large's 410,199 nodes take ~30 MB as a scores CSV.
MAX_FILE_BYTES = 256 * 2**20
FORMATS = (".csv", ".pt", ".npy")
#: How far a row sum may be from 1 for scores to count as probabilities.
SUM_TOLERANCE = 1e-4
_SCORE_COLUMN = re.compile(r"score_(\d+)")


class PredictionError(ValueError):
    """Predictions that cannot be scored; the message says what is wrong and how to fix it."""


def _few(values, limit: int = 5) -> str:
    values = [int(v) for v in values]
    more = f", ... ({len(values)} in all)" if len(values) > limit else ""
    return ", ".join(map(str, values[:limit])) + more


@dataclass(frozen=True)
class Predictions:
    """Checked predictions: ``values`` row ``i`` belongs to node ``nodes[i]`` (all nodes in order if ``None``)."""

    kind: str                    # "labels" or "scores"
    values: torch.Tensor         # int64 [n] labels, or float [n, C] scores (on the caller's device)
    nodes: torch.Tensor | None   # int64 [n] node ids; None: row i is node i, every node present
    num_nodes: int
    task: str                    # the task they were checked against
    are_probabilities: bool      # scores only: used as they are (True) or read as logits (False)

    @classmethod
    def build(cls, values, task: Task, num_nodes: int, nodes=None, source: str = "predictions") -> "Predictions":
        """Check ``values`` (and ``nodes``) against ``task`` and a graph of ``num_nodes`` nodes.

        ``values``: a tensor or array of labels ``[n]`` or scores ``[n, C]``;
        without ``nodes`` they must cover all ``num_nodes`` nodes in order.
        """
        values = _as_tensor(values, source)
        if values.dim() not in (1, 2):
            raise PredictionError(f"{source}: shape {list(values.shape)}; expected labels [N] or scores "
                                  f"[N, {task.num_outputs}] (one column per class)")
        if nodes is None and values.shape[0] != num_nodes:
            raise PredictionError(f"{source}: {values.shape[0]} rows, but the dataset has {num_nodes} nodes; an "
                                  "array holds one row per node, in node order (a CSV with a `node` column "
                                  "may hold fewer)")
        if values.shape[0] == 0:
            raise PredictionError(f"{source}: no predictions (empty)")
        if nodes is not None:
            nodes = _check_nodes(nodes, num_nodes, source)
            if len(nodes) != values.shape[0]:
                raise PredictionError(f"{source}: {len(nodes)} node ids for {values.shape[0]} predictions")
        if values.is_floating_point() and not bool(torch.isfinite(values).all()):
            row = int(torch.nonzero(~torch.isfinite(values.reshape(values.shape[0], -1)).all(dim=1))[0])
            where = int(nodes[row]) if nodes is not None else row
            raise PredictionError(f"{source}: NaN or infinite values (first at node {where}); "
                                  "every prediction must be a finite number")
        if values.dim() == 1:
            values = _check_labels(values, task, source)
            kind, are_probabilities = "labels", False
        else:
            if values.shape[1] != task.num_outputs:
                raise PredictionError(f"{source}: {values.shape[1]} score columns, but task {task.name!r} has "
                                      f"{task.num_outputs} {'labels' if task.multilabel else 'classes'} "
                                      f"({', '.join(task.labels)})")
            values = values if values.is_floating_point() else values.double()
            kind, are_probabilities = "scores", _are_probabilities(values, task)
        return cls(kind, values, nodes, num_nodes, task.name, are_probabilities)

    def missing(self, ids: torch.Tensor) -> torch.Tensor:
        """The nodes of ``ids`` that these predictions do not cover."""
        if self.nodes is None:
            return ids[:0]
        present = torch.zeros(self.num_nodes, dtype=torch.bool)
        present[self.nodes] = True
        return ids[~present[ids]]

    def scores(self, ids: torch.Tensor, task: Task) -> np.ndarray:
        """Class probabilities ``[len(ids), C]`` of nodes ``ids`` (all covered), as the runner scores a model.

        Labels become one-hot rows: the same argmax, hence the same accuracy,
        precision, recall and F1 as any scores with that argmax.
        """
        if self.nodes is None:
            rows = ids
        else:
            position = torch.full((self.num_nodes,), -1, dtype=torch.int64)
            position[self.nodes] = torch.arange(len(self.nodes))
            rows = position[ids]
        chosen = self.values[rows.to(self.values.device)]
        if self.kind == "labels":
            return torch.nn.functional.one_hot(chosen, task.num_outputs).float().cpu().numpy()
        if self.are_probabilities:
            return chosen.detach().float().cpu().numpy()
        return probabilities(chosen, task)


def _as_tensor(values, source: str) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        tensor = values.detach()
    else:
        try:
            array = np.asarray(values)
        except ValueError as err:  # e.g. ragged nested lists
            raise PredictionError(f"{source}: not an array of numbers ({_first_line(err)})") from None
        if array.dtype == object or not (np.issubdtype(array.dtype, np.integer)
                                         or np.issubdtype(array.dtype, np.floating)):
            raise PredictionError(f"{source}: values of type {array.dtype}; expected numbers (integer labels or "
                                  "float scores)")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.dtype == torch.bool or tensor.is_complex():
        raise PredictionError(f"{source}: values of type {tensor.dtype}; expected integer labels or float scores")
    return tensor


def _check_labels(values: torch.Tensor, task: Task, source: str) -> torch.Tensor:
    if task.multilabel:
        raise PredictionError(f"{source}: labels [N] given, but task {task.name!r} is multi-label: give scores "
                              f"[N, {task.num_outputs}] (one column per label; 0/1 values are fine)")
    if values.is_floating_point():
        bad = torch.nonzero(values != values.round()).flatten()
        if len(bad):
            raise PredictionError(f"{source}: non-integral label {float(values[bad[0]])!r}; labels are class "
                                  f"indices 0..{task.num_outputs - 1} (give scores [N, C] for probabilities)")
    bad = torch.nonzero((values < 0) | (values >= task.num_outputs)).flatten()
    if len(bad):
        raise PredictionError(f"{source}: label {values[bad[0]].item():g} out of range; task {task.name!r} has "
                              f"classes 0..{task.num_outputs - 1} ({', '.join(task.labels)})")
    return values.long()


def _are_probabilities(values: torch.Tensor, task: Task) -> bool:
    if task.multilabel:
        return bool(((values >= 0) & (values <= 1)).all())
    return bool((values >= 0).all() and ((values.double().sum(dim=1) - 1).abs() <= SUM_TOLERANCE).all())


def _check_nodes(nodes, num_nodes: int, source: str) -> torch.Tensor:
    nodes = torch.as_tensor(np.asarray(nodes), dtype=torch.int64)
    unknown = nodes[(nodes < 0) | (nodes >= num_nodes)]
    if len(unknown):
        raise PredictionError(f"{source}: unknown node id(s) {_few(unknown)}; the dataset's nodes are "
                              f"0..{num_nodes - 1}")
    unique, counts = torch.unique(nodes, return_counts=True)
    if len(unique) < len(nodes):
        raise PredictionError(f"{source}: node id(s) {_few(unique[counts > 1])} appear more than once; give one "
                              "row per node")
    return nodes


def load_prediction_file(path: str | Path, task: Task, num_nodes: int) -> tuple[Predictions, str]:
    """Read and check a prediction file; return the predictions and the file's SHA-256.

    The file is read once, into memory, so that the hash is of the very
    bytes scored. Nothing in it runs: ``.pt`` loads with ``weights_only=True``,
    ``.npy`` with ``allow_pickle=False``.
    """
    path = Path(path)
    if not path.is_file():
        raise PredictionError(f"prediction file {path} not found")
    if path.suffix.lower() not in FORMATS:
        raise PredictionError(f"{path.name}: unknown format {path.suffix or '(no suffix)'!r}; give a .csv, .pt "
                              "or .npy file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise PredictionError(f"{path.name}: {size / 2**20:.0f} MiB, over the {MAX_FILE_BYTES // 2**20} MiB limit "
                              "for prediction files; keep only the test and validation nodes (a CSV)")
    raw = path.read_bytes()
    if not raw:
        raise PredictionError(f"{path.name}: the file is empty")
    digest = hashlib.sha256(raw).hexdigest()
    suffix = path.suffix.lower()
    if suffix == ".csv":
        values, nodes = _read_csv(raw, task, path.name)
        return Predictions.build(values, task, num_nodes, nodes=nodes, source=path.name), digest
    values = _read_pt(raw, path.name) if suffix == ".pt" else _read_npy(raw, path.name)
    return Predictions.build(values, task, num_nodes, source=path.name), digest


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return (text[0][:200] if text else type(err).__name__)


def _read_pt(raw: bytes, source: str) -> torch.Tensor:
    try:
        obj = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure of a foreign file is named, not raised
        raise PredictionError(f"{source}: not a readable tensor file (torch.load, weights_only=True: "
                              f"{_first_line(err)}); save one tensor with torch.save(tensor, path)") from None
    if not isinstance(obj, torch.Tensor):
        raise PredictionError(f"{source}: holds a {type(obj).__name__}, not a tensor; save one tensor of labels "
                              "[N] or scores [N, C] with torch.save(tensor, path)")
    return obj


def _read_npy(raw: bytes, source: str) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError as err:
        if "Object arrays" in str(err):
            raise PredictionError(f"{source}: holds Python objects (a pickle), which are never loaded; save a "
                                  "numeric array with numpy.save(path, array)") from None
        raise PredictionError(f"{source}: not a .npy array (a pickle or another format); save a numeric array "
                              "with numpy.save(path, array)") from None
    except Exception as err:  # noqa: BLE001
        raise PredictionError(f"{source}: not a readable .npy array ({_first_line(err)})") from None
    if not isinstance(array, np.ndarray):  # an .npz archive
        raise PredictionError(f"{source}: an .npz archive, not one array; save with numpy.save(path, array)")
    return array


def _read_csv(raw: bytes, task: Task, source: str) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise PredictionError(f"{source}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise PredictionError(f"{source}: not a readable CSV ({_first_line(err)})") from None
    columns = [str(c) for c in frame.columns]
    score_columns = {int(m.group(1)): c for c in columns if (m := _SCORE_COLUMN.fullmatch(c))}
    expected = (f"node and label, or node and score_0..score_{task.num_outputs - 1}" if not task.multilabel
                else f"node and score_0..score_{task.num_outputs - 1} (one per label)")
    unknown = [c for c in columns if c not in ("node", "label") and c not in score_columns.values()]
    if "node" not in columns or unknown or ("label" in columns) == bool(score_columns):
        why = ("no `node` column" if "node" not in columns else
               f"unknown column(s) {', '.join(map(repr, unknown))}" if unknown else
               "both `label` and score columns" if score_columns else "no `label` or score columns")
        raise PredictionError(f"{source}: {why}; expected the columns {expected}")
    if len(frame) == 0:
        raise PredictionError(f"{source}: no rows (empty)")
    if score_columns and sorted(score_columns) != list(range(task.num_outputs)):
        raise PredictionError(f"{source}: score columns for classes {sorted(score_columns)}, but task "
                              f"{task.name!r} has {task.num_outputs} ({', '.join(task.labels)}); expected "
                              f"score_0..score_{task.num_outputs - 1}")
    nodes = _numbers(frame["node"], "node", source)
    if not (nodes == np.round(nodes)).all():
        row = int(np.nonzero(nodes != np.round(nodes))[0][0])
        raise PredictionError(f"{source}: node id {frame['node'].iloc[row]!r} (line {row + 2}) is not an integer; "
                              "nodes are the dataset's node indices")
    if "label" in columns:
        values = _numbers(frame["label"], "label", source)
    else:
        values = np.stack([_numbers(frame[score_columns[i]], score_columns[i], source)
                           for i in range(task.num_outputs)], axis=1)
    return values, nodes.astype(np.int64)


def _numbers(column, name: str, source: str) -> np.ndarray:
    """A CSV column as float64; a cell that is no number is named with its line (NaN/inf pass, checked later)."""
    import pandas as pd

    text = column.str.strip()
    empty = np.nonzero((text == "").to_numpy())[0]
    if len(empty):
        raise PredictionError(f"{source}: {name} is empty on line {int(empty[0]) + 2}; give every row a value")
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    spelled_nan = text.str.lower().isin(("nan", "-nan", "+nan"))
    bad = np.nonzero(np.isnan(numbers) & ~spelled_nan.to_numpy())[0]
    if len(bad):
        row = int(bad[0])
        raise PredictionError(f"{source}: {name} {column.iloc[row]!r} on line {row + 2} is not a number")
    return numbers
