"""Time one full-batch training epoch of the GNN baselines: ours vs the reference-style build.

One epoch = forward, cross-entropy on the training nodes, backward, AdamW step
(lr 1e-3, weight decay 5e-4, as the MGTAB scripts). Each (model, relations,
implementation) runs in a fresh subprocess, so that timings do not share
allocator state and the peak memory is that measurement's alone: the child
notes its resident memory with data and model loaded, resets the kernel's
high-water mark (``/proc/self/clear_refs``), runs one warm-up epoch (which
builds our cached operators, so its time is reported apart) and ``--repeats``
timed epochs, and reports the median and the high-water mark above that base.
Ours trains with the allocator settings of ``mgbench run``
(:func:`~mgbench.benchmark.environment.freed_memory_kept`: glibc reuses freed
memory instead of faulting in fresh pages for every large tensor). The
reference is timed twice: as the MGTAB scripts run it (glibc's defaults:
``ref s`` and ``speed-up``, what a user of those scripts waits for) and with
ours' allocator settings (``ref kept s`` and ``kept speed-up``: the layers
alone compared). ``--system-malloc`` times both builds with glibc's defaults
only.

The floor of a model is what its epoch would take if every kernel ran at the
machine's measured peak: dense-matmul FLOPs (forward plus backward, counted
analytically) and sparse-product FLOPs (SpMM and SDDMM, ``2 nnz width`` each)
at the speed of a large float32 matmul, plus the bytes each kernel must read
and write once (operands, results, CSR indices, per-edge attention scalars,
optimizer state) at the bandwidth of a large tensor copy. Both speeds are
measured in our build's child right after its timed epochs (the ``GFLOP/s`` and
``GB/s`` columns): this VM's copy bandwidth has been seen to move between 41
and 83 GB/s within one run, and a floor taken at another moment would not be the
epoch's. It ignores what a
real kernel cannot avoid (cache misses of row gathers, thread start-up,
Python), so ``ours / floor`` says how much of the machine an epoch leaves
unused; ``ref kept / floor`` bounds the speed-up any build can have over the
reference under the same allocator settings (none beats the floor). Every model has one: the GCN family (:func:`_rgcn_cost`) and the
attention family (:func:`_gat_cost`, :func:`_hgt_cost`,
:func:`_simple_hgn_cost`, :func:`_rgt_cost`), whose stored entries per
pattern come from the layouts the models build.

Adding a model: put ``name: (our_class, reference_class, hyperparameters)`` in
:data:`MODELS` and, for a floor, ``name: cost_function`` in :data:`COSTS`
(see :func:`_rgcn_cost`); models without one print ``n/a``.

    python benchmarks/bench_gnn_epoch.py                      # full MGTAB size, 7 and 2 relations
    python benchmarks/bench_gnn_epoch.py --quick --models gcn --relations all
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from mgbench.baselines import botrgcn, gcn, graphsage, reference, rgcn
from mgbench.baselines import gat, hgt, reference_attention, rgt, simple_hgn
from mgbench.nn import gat_conv as nn_gat, hgt_conv as nn_hgt, kernels, rgt_conv as nn_rgt
from mgbench.nn import simple_hgn_conv as nn_simple_hgn
from mgbench.benchmark.environment import freed_memory_kept
from mgbench.datasets import get_split, load, select_relations

DEFAULTS = {"hidden_channels": 256, "dropout": 0.3}

#: name -> (our class, reference-style class, hyperparameters)
MODELS: dict[str, tuple[type, type, dict]] = {
    "gcn": (gcn.GCN, reference.ReferenceGCN, DEFAULTS),
    "graphsage": (graphsage.GraphSAGE, reference.ReferenceGraphSAGE, DEFAULTS),
    "rgcn": (rgcn.RGCN, reference.ReferenceRGCN, DEFAULTS),
    "botrgcn": (botrgcn.BotRGCN, reference.ReferenceBotRGCN, DEFAULTS),
    # the attention family, at their registered (MGTAB-script) defaults
    "gat": (gat.GAT, reference_attention.ReferenceGAT, {"hidden_channels": 256, "heads": 8, "dropout": 0.3}),
    "hgt": (hgt.HGT, reference_attention.ReferenceHGT,
            {"hidden_channels": 256, "linear_channels": 128, "out_channels": 32, "heads": 1, "dropout": 0.3}),
    "simple-hgn": (simple_hgn.SimpleHGN, reference_attention.ReferenceSimpleHGN,
                   {"hidden_channels": 256, "linear_channels": 128, "out_channels": 32, "rel_dim": 200,
                    "beta": 0.05, "dropout": 0.5}),
    "rgt": (rgt.RGT, reference_attention.ReferenceRGT,
            {"hidden_channels": 128, "out_channels": 64, "heads": 4, "semantic_heads": 4, "dropout": 0.5}),
}

F32 = 4  # bytes


@dataclass
class Cost:
    """FLOPs and compulsory bytes of one epoch, accumulated kernel by kernel."""

    flops: float = 0.0
    bytes: float = 0.0

    def linear(self, rows: int, fin: int, fout: int, input_grad: bool = True, batch: int = 1) -> None:
        """``y = x W + b`` (``batch`` of them: a ``bmm``): forward, weight gradient, input gradient when needed."""
        passes = 3 if input_grad else 2
        self.flops += batch * passes * 2.0 * rows * fin * fout
        self.bytes += batch * passes * F32 * (rows * fin + fin * fout + rows * fout)

    def spmm(self, nnz: int, rows_out: int, rows_in: int, width: int) -> None:
        """One CSR product ``[rows_out, rows_in] @ [rows_in, width]`` and its transpose in backward."""
        self.flops += 2 * 2.0 * nnz * width
        self.bytes += F32 * (2 * 2 * nnz + rows_out + rows_in + 2 + 2 * (rows_in + rows_out) * width)

    def sddmm(self, nnz: int, rows_a: int, rows_b: int, width: int) -> None:
        """One SDDMM ``<a[row_e], b[col_e]>``: each operand read once (not once per entry), CSR read, values written."""
        self.flops += 2.0 * nnz * width
        self.bytes += F32 * (2 * nnz + rows_a + 1 + (rows_a + rows_b) * width)

    def aggregate(self, nnz: int, rows_out: int, rows_in: int, width: int) -> None:
        """``A(w) @ x`` with learned values ``w`` (attention): the SpMM and its transpose, and an SDDMM for ``dw``."""
        self.spmm(nnz, rows_out, rows_in, width)
        self.sddmm(nnz, rows_out, rows_in, width)

    def logits(self, nnz: int, rows_a: int, rows_b: int, width: int) -> None:
        """Dot-product logits ``<a[row_e], b[col_e]>``, both operands learned: the SDDMM, backward an SpMM each way."""
        self.sddmm(nnz, rows_a, rows_b, width)
        self.spmm(nnz, rows_a, rows_b, width)

    def elementwise(self, numel: int) -> None:
        """An activation or dropout: forward reads and writes, backward reads two and writes one."""
        self.bytes += 5 * F32 * numel

    def optimizer(self, params: int) -> None:
        """AdamW: read parameter, gradient and two moments, write three."""
        self.flops += 12.0 * params
        self.bytes += 7 * F32 * params


@dataclass(frozen=True)
class Shape:
    """What a cost model needs of one (model, graph): sizes, stored entries, hyperparameters."""

    nodes: int
    features: int
    hidden: int
    classes: int
    relations: int
    # Stored entries of the operators: "gcn", "mean", "relational" (GCN family), and of the single-head
    # attention layouts "gat" (self loops), "hgt", "simple-hgn", "rgt"; interleaving H heads copies each entry H times.
    nnz: dict[str, int]
    params: int
    encoder: tuple[tuple[int, int], ...] = ()   # BotRGCN: (in, out) per feature-group encoder
    hyperparameters: dict[str, float] = field(default_factory=dict)  # the constructor's, defaults filled in
    semantic_hidden: int = 0                    # RGT: hidden units of the semantic attention


def _two_layer_cost(s: Shape, nnz: int, slots: int) -> Cost:
    cost = Cost()
    n, h = s.nodes, s.hidden
    cost.linear(n, s.features, h, input_grad=False)
    cost.elementwise(n * h)
    for _ in range(2):
        cost.linear(n, h, slots * h)
        cost.spmm(nnz, n, slots * n, h)
    cost.elementwise(2 * n * h)  # ReLU + dropout
    cost.linear(n, h, s.classes)
    cost.optimizer(s.params)
    return cost


def _gcn_cost(s: Shape) -> Cost:
    return _two_layer_cost(s, s.nnz["gcn"], 1)


def _sage_cost(s: Shape) -> Cost:
    return _two_layer_cost(s, s.nnz["mean"], 2)


def _rgcn_cost(s: Shape) -> Cost:
    return _two_layer_cost(s, s.nnz["relational"], s.relations + 1)


def _botrgcn_cost(s: Shape) -> Cost:
    cost = Cost()
    n, h = s.nodes, s.hidden
    for fin, fout in s.encoder:
        cost.linear(n, fin, fout, input_grad=False)
    cost.elementwise(2 * n * h)  # encoder + input LeakyReLU
    cost.linear(n, h, h)
    for _ in range(2):
        cost.linear(n, h, (s.relations + 1) * h)
        cost.spmm(s.nnz["relational"], n, (s.relations + 1) * n, h)
    cost.elementwise(2 * n * h)  # dropout + output LeakyReLU
    cost.linear(n, h, h)
    cost.linear(n, h, s.classes)
    cost.optimizer(s.params)
    return cost


# -- the attention family. What none of these counts: parameter-sized work (bias adds, the relation
# embeddings' and prior's tiny products, weight reshapes), concatenations and index gathers that a fused kernel
# would not write out, the softmax's row max/sum passes beyond one read and write per entry, and the loss.


def _gat_layer(cost: Cost, n: int, width: int, heads: int, nnz: int, attention_dropout: float) -> None:
    """One :class:`~mgbench.nn.GATConv`, ``width`` = heads x channels in and out.

    Counts ``W x``; the per-head source and destination scores (two dot products
    per node and head, as a ``[n H, d] x [d, 2]`` product); the per-entry logits
    (gather + LeakyReLU), softmax and optional attention dropout over the
    ``nnz H`` interleaved entries; the aggregation (SpMM, its transpose, SDDMM
    for the weights' gradient) at the head width. Leaves out the bias add.
    """
    channels, entries = width // heads, nnz * heads
    cost.linear(n, width, width)
    cost.linear(n * heads, channels, 2)
    cost.elementwise((3 if attention_dropout else 2) * entries)
    cost.aggregate(entries, n * heads, n * heads, channels)


def _gat_cost(s: Shape) -> Cost:
    """Input Linear + LeakyReLU, an H-head and a 1-head layer (ELU, dropout between), classifier, AdamW.

    Both layers aggregate ``nnz H x hidden / H = nnz x hidden`` products: the
    sparse work is the same at 8 heads as at 1, the per-entry scalars are not.
    """
    cost = Cost()
    n, h, hp = s.nodes, s.hidden, s.hyperparameters
    cost.linear(n, s.features, h, input_grad=False)
    cost.elementwise(n * h)  # LeakyReLU
    _gat_layer(cost, n, h, int(hp["heads"]), s.nnz["gat"], hp["attention_dropout"])
    cost.elementwise(2 * n * h)  # ELU + dropout
    _gat_layer(cost, n, h, 1, s.nnz["gat"], hp["attention_dropout"])
    cost.linear(n, h, s.classes)
    cost.optimizer(s.params)
    return cost


def _hgt_layer(cost: Cost, n: int, fin: int, fout: int, heads: int, relations: int, nnz: int) -> None:
    """One :class:`~mgbench.nn.HGTConv` as ours computes it.

    Counts K, Q, V (one ``fin -> 3 fout`` product); the keys and values of
    every (node, relation, head) (per head a ``[n, d] x [d, R d]`` product);
    the logits SDDMM of ``Q`` against the keys and the aggregation of the
    values over the ``nnz H`` (target, (source, relation)) entries, each with
    its backward; the softmax; GELU; the output Linear; the gated residual when
    ``fin == fout``. Leaves out the ``mu / sqrt(d)`` prior folded into the weights.
    """
    dim, entries, columns = fout // heads, nnz * heads, n * relations * heads
    cost.linear(n, fin, 3 * fout)
    for _ in range(2):  # keys K W_att, values V W_msg
        cost.linear(n, dim, relations * dim, batch=heads)
    cost.logits(entries, n * heads, columns, dim)
    cost.elementwise(entries)  # softmax
    cost.aggregate(entries, n * heads, columns, dim)
    cost.elementwise(n * fout)  # GELU
    cost.linear(n, fout, fout)
    if fin == fout:
        cost.elementwise(n * fout)  # sigmoid(skip)-gated residual


def _framed(s: Shape, layers: Callable[[Cost], None], layers_out: int, output_elementwise: int) -> Cost:
    """The frame HGT, Simple-HGN and RGT share around their two layers.

    Input Linear + LeakyReLU + dropout, ``layers``, an output Linear from
    ``layers_out`` to ``out_channels`` followed by ``output_elementwise``
    activation/dropout passes, the classifier, AdamW.
    """
    cost = Cost()
    n, h, out = s.nodes, s.hidden, int(s.hyperparameters["out_channels"])
    cost.linear(n, s.features, h, input_grad=False)
    cost.elementwise(2 * n * h)
    layers(cost)
    cost.linear(n, layers_out, out)
    cost.elementwise(output_elementwise * n * out)
    cost.linear(n, out, s.classes)
    cost.optimizer(s.params)
    return cost


def _hgt_cost(s: Shape) -> Cost:
    """Two HGT layers in :func:`_framed` (output LeakyReLU)."""
    n, h, hp = s.nodes, s.hidden, s.hyperparameters
    lin, heads = int(hp["linear_channels"]), int(hp["heads"])

    def layers(cost: Cost) -> None:
        _hgt_layer(cost, n, h, h, heads, s.relations, s.nnz["hgt"])
        _hgt_layer(cost, n, h, lin, heads, s.relations, s.nnz["hgt"])
    return _framed(s, layers, lin, 1)


def _simple_hgn_layer(cost: Cost, n: int, fin: int, fout: int, relations: int, rel_dim: int, nnz: int,
                      mix: bool, final: bool) -> None:
    """One :class:`~mgbench.nn.SimpleHGNConv` (one head, ``nnz`` = edges).

    Counts ``W x`` and ``W_res x`` (one ``fin -> 2 fout`` product), the source
    and target scores, ``W_r`` on the relation embeddings; per entry the logits
    (gather + LeakyReLU), softmax and, when ``mix``, the blend with the previous
    layer's attention; the aggregation with its backward; ELU and, in the final
    layer, the L2 normalisation. Leaves out the residual add (fusable into the SpMM).
    """
    cost.linear(n, fin, 2 * fout)
    cost.linear(n, fout, 2)
    cost.linear(relations, rel_dim, fout)
    cost.elementwise((3 if mix else 2) * nnz)
    cost.aggregate(nnz, n, n, fout)
    cost.elementwise((2 if final else 1) * n * fout)


def _simple_hgn_cost(s: Shape) -> Cost:
    """Two Simple-HGN layers in :func:`_framed` (output LeakyReLU + dropout)."""
    n, h, hp = s.nodes, s.hidden, s.hyperparameters
    lin, rel_dim = int(hp["linear_channels"]), int(hp["rel_dim"])

    def layers(cost: Cost) -> None:
        _simple_hgn_layer(cost, n, h, h, s.relations, rel_dim, s.nnz["simple-hgn"], mix=False, final=False)
        _simple_hgn_layer(cost, n, h, lin, s.relations, rel_dim, s.nnz["simple-hgn"], mix=True, final=True)
    return _framed(s, layers, lin, 2)


def _rgt_layer(cost: Cost, n: int, channels: int, heads: int, relations: int, nnz: int,
               semantic_heads: int, semantic_hidden: int, attention_dropout: float) -> None:
    """One :class:`~mgbench.nn.RGTConv` as ours computes it (the bilinear form on ``[x, 1]``).

    Counts the bilinear ``M_{r,h} = [W_q, b_q]^T [W_k, b_k]`` and ``[x, 1] M``
    for every (relation, node, head) -- cheaper than Q and K, so still a lower
    bound of the per-relation ``TransformerConv`` function; the logits SDDMM
    and the aggregation over the ``nnz H`` ((relation, target), source)
    entries against the ``[n, C + 1]`` node matrix, each with its backward;
    softmax and attention dropout; the value map after aggregation; the skip
    (every relation from the shared ``x``) and the gate's two products;
    sigmoid, tanh and the gated mix over ``[R, n, C]``; the semantic
    projection and its tanh; the relation-weighted sum. Leaves out the ``[x, 1]``
    concatenation, the semantic scores (``[R, S]``) and the weights' reshapes.
    """
    width, rows, entries = channels + 1, relations * n, nnz * heads
    cost.linear(width, channels, width, batch=relations * heads)
    cost.linear(n, width, relations * heads * width)
    cost.logits(entries, rows * heads, n, width)
    cost.elementwise((2 if attention_dropout else 1) * entries)
    cost.aggregate(entries, rows * heads, n, width)
    cost.linear(n, heads * width, channels, batch=relations)
    cost.linear(n, channels, relations * channels)
    cost.linear(rows, channels, channels)
    cost.linear(n, channels, channels)
    cost.elementwise(3 * rows * channels)
    cost.linear(rows, channels, semantic_heads * semantic_hidden)
    cost.elementwise(rows * semantic_heads * semantic_hidden)
    cost.linear(n * channels, relations, 1)


def _rgt_cost(s: Shape) -> Cost:
    """Two RGT layers, a LeakyReLU after each, in :func:`_framed` (output LeakyReLU + dropout)."""
    n, c, hp = s.nodes, s.hidden, s.hyperparameters

    def layers(cost: Cost) -> None:
        for _ in range(2):
            _rgt_layer(cost, n, c, int(hp["heads"]), s.relations, s.nnz["rgt"], int(hp["semantic_heads"]),
                       s.semantic_hidden, hp["dropout"])
            cost.elementwise(n * c)
    return _framed(s, layers, c, 2)


#: name -> epoch cost model, for the floor
COSTS: dict[str, Callable[[Shape], Cost]] = {
    "gcn": _gcn_cost, "graphsage": _sage_cost, "rgcn": _rgcn_cost, "botrgcn": _botrgcn_cost,
    "gat": _gat_cost, "hgt": _hgt_cost, "simple-hgn": _simple_hgn_cost, "rgt": _rgt_cost,
}


# ---------------------------------------------------------------- machine

def _best(fn: Callable[[], object], repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure_machine() -> tuple[float, float]:
    """Peak float32 matmul FLOP/s (2048^3) and copy bandwidth in bytes/s (256 MB, preallocated)."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    flops = 2 * 2048**3 / _best(lambda: a @ b)
    src = torch.randn(64 * 2**20)
    dst = torch.empty_like(src)
    bandwidth = 2 * src.numel() * F32 / _best(lambda: dst.copy_(src))
    return flops, bandwidth


# ---------------------------------------------------------------- child: one measurement

def _memory_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _build(cls: type, graph: dict, hyperparameters: dict) -> torch.nn.Module:
    """Construct like the runner: pass ``feature_blocks``/``categorical_columns`` when named."""
    params = inspect.signature(cls).parameters
    extra = {k: graph[k] for k in ("feature_blocks", "categorical_columns") if k in params}
    return cls(graph["x"].size(1), 2, graph["num_relations"], **hyperparameters, **extra)


def run_child(job: dict) -> dict:
    graph = torch.load(job["graph"], weights_only=True)
    ours, ref, hyperparameters = MODELS[job["model"]]
    torch.manual_seed(0)
    model = _build(ours if job["impl"] == "ours" else ref, graph, hyperparameters)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=5e-4)
    x, edge_index, edge_type, y, train = (graph[k] for k in ("x", "edge_index", "edge_type", "y", "train"))

    def epoch() -> None:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x, edge_index, edge_type)[train], y[train]).backward()
        optimizer.step()

    base_kb = _memory_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM) to the current RSS
    with contextlib.nullcontext() if job["system_malloc"] else freed_memory_kept():
        start = time.perf_counter()
        epoch()
        first = time.perf_counter() - start
        times = []
        for _ in range(job["repeats"]):
            start = time.perf_counter()
            epoch()
            times.append(time.perf_counter() - start)
        peak_mb = (_memory_kb("VmHWM") - base_kb) / 1024
    result = {"seconds": statistics.median(times), "first": first, "peak_mb": peak_mb}
    if job["impl"] == "ours":  # the machine as it ran these epochs: the host's bandwidth drifts over a long run
        result["flops"], result["bandwidth"] = measure_machine()
    return result


# ---------------------------------------------------------------- parent

def _save_graph(data, relations: str, folder: Path) -> tuple[Path, dict]:
    sub = select_relations(data, relations)
    split = get_split(sub, "bot", seed=0)
    graph = {"x": sub.x, "edge_index": sub.edge_index, "edge_type": sub.edge_type, "y": sub.y_bot,
             "train": split.train, "num_relations": len(sub.relation_names),
             "feature_blocks": dict(sub.feature_blocks), "categorical_columns": list(sub.categorical_columns)}
    path = folder / f"graph-{relations.replace(',', '+')}.pt"
    torch.save(graph, path)
    n, r = sub.num_nodes, len(sub.relation_names)
    nnz = {"gcn": kernels.build_gcn_operator(sub.edge_index, n).matrix.values().numel(),
           "mean": kernels.build_mean_operator(sub.edge_index, n).matrix.values().numel(),
           "relational": kernels.build_mean_operator(sub.edge_index, n, sub.edge_type, r).matrix.values().numel(),
           **_attention_nnz(sub.edge_index, sub.edge_type, n, r)}
    return path, {"graph": graph, "nnz": nnz}


def _attention_nnz(edge_index: torch.Tensor, edge_type: torch.Tensor, n: int, r: int) -> dict[str, int]:
    """Stored entries of each attention model's single-head layout, from the layout builders themselves.

    So the floor sees what the models run on: GAT's self loops (existing ones
    replaced), every multi-edge kept as its own entry.
    """
    builders = {"gat": lambda: nn_gat.build_gat_layout(edge_index, None, n),
                "hgt": lambda: nn_hgt.build_hgt_layout(edge_index, edge_type, n, r),
                "simple-hgn": lambda: nn_simple_hgn.build_simple_hgn_layout(edge_index, edge_type, n, r),
                "rgt": lambda: nn_rgt.build_rgt_layout(edge_index, edge_type, n, r)}
    with torch.no_grad():
        return {name: build().pattern.nnz for name, build in builders.items()}


def _hyperparameters(cls: type, given: dict) -> dict:
    """The constructor's defaults overridden by ``given``: every option a cost model may read."""
    defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **given}


def _shape(name: str, info: dict) -> Shape:
    graph = info["graph"]
    model = _build(MODELS[name][0], graph, MODELS[name][2])
    encoder = tuple((m[0].in_features, m[0].out_features) for m in model.encoder.encoders.values()) \
        if name == "botrgcn" else ()
    return Shape(nodes=graph["x"].size(0), features=graph["x"].size(1),
                 hidden=MODELS[name][2]["hidden_channels"], classes=2, relations=graph["num_relations"],
                 nnz=info["nnz"], params=sum(p.numel() for p in model.parameters()), encoder=encoder,
                 hyperparameters=_hyperparameters(MODELS[name][0], MODELS[name][2]),
                 semantic_hidden=model.conv1.semantic.hidden if name == "rgt" else 0)


def _measure(job: dict) -> dict | None:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        why = (f"killed by signal {-proc.returncode}" + (" (out of memory?)" if proc.returncode == -9 else "")
               if proc.returncode < 0 else f"exit status {proc.returncode}")
        print(f"  {job['model']}/{job['impl']} failed: {why}\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma list of {', '.join(MODELS)}")
    parser.add_argument("--relations", nargs="+", default=["all", "followers,friends"],
                        help="relation selections, each 'all' or a comma list")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per measurement (median)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000-node graph, 1 repeat")
    parser.add_argument("--root", default=None, help="dataset root (default: $MGBENCH_ROOT or ~/.cache/mgbench)")
    parser.add_argument("--system-malloc", action="store_true",
                        help="glibc's default malloc settings instead of those `mgbench run` sets")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))))
        return
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; available: {', '.join(MODELS)}")
    repeats = 1 if args.quick else args.repeats
    with freed_memory_kept() as kept:
        malloc = "glibc defaults" if args.system_malloc else "freed memory kept" if kept else "as the environment sets"
    options = {"num_nodes": 1000} if args.quick else {}
    data = load("mgtab-synthetic", root=args.root, **options)
    peak_flops, bandwidth = measure_machine()
    print(f"mgtab-synthetic: {data.num_nodes} nodes, {data.edge_index.size(1)} edges, {data.x.size(1)} features; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.1f}; matmul {peak_flops / 1e9:.0f} GFLOP/s, copy {bandwidth / 1e9:.1f} GB/s; "
          f"median of {repeats} epochs after 1 warm-up; malloc: {malloc} "
          f"(ref s: glibc defaults, as the MGTAB scripts run)")
    print(f"{'model':<10} {'relations':<18} {'ours s':>7} {'ref s':>7} {'speed-up':>8} {'ref kept s':>10} "
          f"{'kept speed-up':>13} {'ours MB':>8} {'ref MB':>7} {'floor s':>8} {'ours/floor':>10} "
          f"{'ref kept/floor':>14} {'1st ours s':>10} {'GFLOP/s':>7} {'GB/s':>5}")
    with tempfile.TemporaryDirectory() as tmp:
        for relations in args.relations:
            path, info = _save_graph(data, relations, Path(tmp))
            for name in models:
                job = {"model": name, "graph": str(path), "repeats": repeats, "system_malloc": args.system_malloc}
                ours = _measure({**job, "impl": "ours"}) or {}
                ref = _measure({**job, "impl": "reference", "system_malloc": True}) or {}
                ref_kept = ref if args.system_malloc else _measure({**job, "impl": "reference"}) or {}
                floor = None
                flops, bytes_per_s = ours.get("flops", peak_flops), ours.get("bandwidth", bandwidth)
                if name in COSTS:
                    cost = COSTS[name](_shape(name, info))
                    floor = cost.flops / flops + cost.bytes / bytes_per_s
                o, r, rk = ours.get("seconds"), ref.get("seconds"), ref_kept.get("seconds")
                print(f"{name:<10} {relations:<18} {_cell(o, '.3f'):>7} {_cell(r, '.3f'):>7} "
                      f"{_ratio(r, o, '.1f', 'x'):>8} {_cell(rk, '.3f'):>10} {_ratio(rk, o, '.1f', 'x'):>13} "
                      f"{_cell(ours.get('peak_mb'), '.0f'):>8} {_cell(ref.get('peak_mb'), '.0f'):>7} "
                      f"{_cell(floor, '.3f'):>8} {_ratio(o, floor):>10} {_ratio(rk, floor):>14} "
                      f"{_cell(ours.get('first'), '.2f'):>10} {flops / 1e9:>7.0f} {bytes_per_s / 1e9:>5.1f}", flush=True)


def _cell(value: float | None, spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else format(value, spec) + suffix


def _ratio(a: float | None, b: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return _cell(a / b if a and b else None, spec, suffix)

if __name__ == "__main__":
    main()
