"""Time one full-batch training epoch of the GNN baselines: ours vs the stock-PyG (reference-style) build.

One epoch = forward, cross-entropy on the training nodes, backward, AdamW step
(the runner's learning rate and weight decay, ``TrainSettings``). Every model is
the registered one, built by the runner's own constructor call with its
registered defaults (``mgbench models NAME``); its stock-PyG build is the class
``Reference<Class>`` of :mod:`mgbench.baselines.reference` /
:mod:`~mgbench.baselines.reference_attention`, given the same hyperparameters
where it takes them. Each (model, relations, build) runs in a fresh subprocess,
so that timings do not share allocator state and the peak memory is that
measurement's alone: the child notes its resident memory with data and model
loaded, resets the kernel's high-water mark (``/proc/self/clear_refs``), runs
one warm-up epoch (which builds our cached operators, so its time is reported
apart) and ``--repeats`` timed epochs, and reports the median and the
high-water mark above that base. Ours trains with the allocator settings of
``mgbench run`` (:func:`~mgbench.benchmark.environment.freed_memory_kept`:
glibc reuses freed memory instead of faulting in fresh pages for every large
tensor). The stock build is timed twice: as the MGTAB scripts run it (glibc's
defaults: ``ref s`` and ``speed-up``, what a user of those scripts waits for)
and with ours' allocator settings (``ref kept s`` and ``kept speed-up``: the
layers alone compared). ``--system-malloc`` times both builds with glibc's
defaults only.

The floor of a model is what its epoch would take if every kernel our build
must run ran at the machine's measured peak: its FLOPs at the speed of a large
float32 matmul plus its compulsory bytes at the bandwidth of a large tensor
copy. Both are counted from one traced forward and backward pass of our build
(:func:`epoch_cost`), so they follow the model as it is, whatever its
architecture: dense FLOPs by :class:`torch.utils.flop_counter.FlopCounterMode`;
our two sparse kernels, the CSR product and the SDDMM, by one small function
each (:func:`_spmm_cost`, :func:`_sddmm_cost`); the bytes of every dense
product, nonlinearity, dropout mask and softmax as its operands read once and
its results written once; AdamW's 12 FLOPs and 7 reads or writes per
parameter. Left out, as a fused kernel would not write them: gathers, copies,
concatenations, additions, the loss. Both speeds are measured in our build's
child right after its timed epochs (the ``GFLOP/s`` and ``GB/s`` columns): this
VM's copy bandwidth has been seen to move between 41 and 83 GB/s within one run,
and a floor taken at another moment would not be the epoch's. So ``ours /
floor`` says how much of the machine our epoch leaves unused, and ``ref kept /
floor`` roughly how much a build could gain over the stock one.

    python benchmarks/bench_gnn_epoch.py                      # full MGTAB size, 7 and 2 relations
    python benchmarks/bench_gnn_epoch.py --models gat,rgt --relations all
    python benchmarks/bench_gnn_epoch.py --quick              # smoke test: tiny graph, in one process
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from mgbench.baselines import reference, reference_attention
from mgbench.benchmark import ModelSpec, TrainSettings, registered_models
from mgbench.benchmark.environment import freed_memory_kept
from mgbench.benchmark.models import build_gnn
from mgbench.datasets import get_split, load, select_relations

aten = torch.ops.aten
QUICK_MODELS = "gcn,gat"


def gnn_models() -> dict[str, ModelSpec]:
    """The registered GNNs, by name."""
    return {name: spec for name, spec in registered_models().items() if spec.kind == "gnn"}


def reference_class(spec: ModelSpec) -> type | None:
    """The stock-PyG build of a registered model: ``Reference<Class>`` in the reference modules, if any."""
    name = "Reference" + spec.factory.__name__
    return next((getattr(m, name) for m in (reference, reference_attention) if hasattr(m, name)), None)


def build(name: str, impl: str, graph: dict) -> torch.nn.Module:
    """Model ``name`` at its registered defaults, ours or its stock build, constructed as the runner does."""
    spec = gnn_models()[name]
    if impl != "ours":
        cls = reference_class(spec)
        accepted = ModelSpec(spec.name, "gnn", cls).accepted
        spec = ModelSpec(spec.name, "gnn", cls, {k: v for k, v in spec.defaults.items()
                                                 if accepted is None or k in accepted})
    return build_gnn(spec, dict(spec.defaults), in_channels=graph["x"].size(1), num_classes=2,
                     num_relations=graph["num_relations"], feature_blocks=graph["feature_blocks"],
                     categorical_columns=graph["categorical_columns"])


# ---------------------------------------------------------------- the floor

F32 = 4  # bytes
#: Kernels whose operands and results a fused implementation must still read and write once:
#: nonlinearities and their gradients, the dropout mask, the softmax over attention entries.
ELEMENTWISE = {aten.relu, aten.threshold_backward, aten.leaky_relu, aten.leaky_relu_, aten.leaky_relu_backward,
               aten.elu, aten.elu_backward, aten.gelu, aten.gelu_backward, aten.sigmoid, aten.sigmoid_backward,
               aten.tanh, aten.tanh_backward, aten.exp, aten._softmax, aten._softmax_backward_data,
               aten.bernoulli_, aten.native_dropout, aten.native_dropout_backward}


def _nbytes(values) -> int:
    return sum(t.numel() * t.element_size() for t in values
               if isinstance(t, torch.Tensor) and t.layout == torch.strided)


def _flat(tree) -> list:
    return list(tree) if isinstance(tree, (tuple, list)) else [tree]


def _spmm_cost(args: tuple, out: tuple) -> tuple[float, float]:
    """Our CSR product ``A @ X`` (``aten._embedding_bag_forward_only``, sum mode, one bag per row).

    FLOPs: a multiply and an add per stored entry and column (one add without
    per-entry values). Bytes: ``X`` read once (not once per entry), the column
    indices, row offsets and entry values read once, the result written once.
    """
    weight, indices, offsets = args[:3]
    values = args[6] if len(args) > 6 else None
    flops = (2.0 if values is not None else 1.0) * indices.numel() * weight.size(1)
    return flops, _nbytes((weight, indices, offsets, values, out[0]))


def _sddmm_cost(args: tuple, out: torch.Tensor) -> tuple[float, float]:
    """Our SDDMM ``<a[row_e], b[col_e]>`` (``aten.sparse_sampled_addmm`` on a CSR pattern).

    FLOPs: a multiply and an add per stored entry and inner column. Bytes: both
    dense operands read once (not once per entry), the pattern's row offsets and
    column indices read once, one value per entry written.
    """
    pattern, a, b = args[:3]
    nnz = pattern._nnz()
    return 2.0 * nnz * a.size(-1), _nbytes((a, b, pattern.crow_indices(), pattern.col_indices(), out.values()))


#: Our sparse kernels, one cost function each.
SPARSE_KERNELS: dict[object, Callable[[tuple, object], tuple[float, float]]] = {
    aten._embedding_bag_forward_only: _spmm_cost,
    aten.sparse_sampled_addmm: _sddmm_cost,
}


class _CompulsoryTraffic(TorchDispatchMode):
    """Counts, op by op, the FLOPs of our sparse kernels and the compulsory bytes of every kernel that has some."""

    def __init__(self, dense: set):
        super().__init__()
        self.dense, self.flops, self.bytes = dense, 0.0, 0.0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        kernel = func.overloadpacket
        if kernel in SPARSE_KERNELS:
            flops, moved = SPARSE_KERNELS[kernel](args, out)
            self.flops += flops
            self.bytes += moved
        elif kernel in self.dense or kernel in ELEMENTWISE:
            self.bytes += _nbytes(args) + _nbytes(_flat(out))
        return out


def epoch_cost(step: Callable[[], torch.Tensor], model: torch.nn.Module) -> tuple[float, float]:
    """FLOPs and compulsory bytes of one training step: ``step()`` (forward and loss) traced with its
    backward, plus AdamW's update (12 FLOPs, 7 reads or writes of 4 bytes per parameter)."""
    counter = FlopCounterMode(display=False)
    traffic = _CompulsoryTraffic(set(counter.flop_registry))
    with counter, traffic:
        step().backward()
    model.zero_grad(set_to_none=True)
    params = sum(p.numel() for p in model.parameters())
    return counter.get_total_flops() + traffic.flops + 12.0 * params, traffic.bytes + 7 * F32 * params


def _best(fn: Callable[[], object], repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure_machine(size: int = 2048, copy_mb: int = 256) -> tuple[float, float]:
    """Peak float32 matmul FLOP/s (``size``^3) and copy bandwidth in bytes/s (``copy_mb``, preallocated)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    flops = 2 * size**3 / _best(lambda: a @ b)
    src = torch.randn(copy_mb * 2**20 // F32)
    dst = torch.empty_like(src)
    bandwidth = 2 * src.numel() * F32 / _best(lambda: dst.copy_(src))
    return flops, bandwidth


# ---------------------------------------------------------------- child: one measurement

def _memory_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def time_epochs(epoch: Callable[[], None], repeats: int) -> tuple[float, list[float]]:
    """Seconds of a first (warm-up: caches built) call of ``epoch``, then of ``repeats`` more."""
    def timed() -> float:
        start = time.perf_counter()
        epoch()
        return time.perf_counter() - start

    first = timed()
    return first, [timed() for _ in range(repeats)]


def run_child(job: dict) -> dict:
    graph = torch.load(job["graph"], weights_only=True)
    torch.manual_seed(0)
    model = build(job["model"], job["impl"], graph)
    settings = TrainSettings()
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    x, edge_index, edge_type, y, train = (graph[k] for k in ("x", "edge_index", "edge_type", "y", "train"))

    def loss() -> torch.Tensor:
        model.train()
        return F.cross_entropy(model(x, edge_index, edge_type)[train], y[train])

    def epoch() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss().backward()
        optimizer.step()

    base_kb = _memory_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM) to the current RSS
    with contextlib.nullcontext() if job["system_malloc"] else freed_memory_kept():
        first, times = time_epochs(epoch, job["repeats"])
        peak_mb = (_memory_kb("VmHWM") - base_kb) / 1024
        result = {"seconds": statistics.median(times), "first": first, "peak_mb": peak_mb}
        if job["impl"] == "ours":  # the machine as it ran these epochs: the host's bandwidth drifts over a long run
            result["flops"], result["bytes"] = epoch_cost(loss, model)
            result["peak_flops"], result["bandwidth"] = measure_machine(*job.get("machine", ()))
    return result


# ---------------------------------------------------------------- parent

def _save_graph(data, relations: str, folder: Path) -> Path:
    sub = select_relations(data, relations)
    split = get_split(sub, "bot", seed=0)
    graph = {"x": sub.x, "edge_index": sub.edge_index, "edge_type": sub.edge_type, "y": sub.y_bot,
             "train": split.train, "num_relations": len(sub.relation_names),
             "feature_blocks": dict(sub.feature_blocks), "categorical_columns": list(sub.categorical_columns)}
    path = folder / f"graph-{relations.replace(',', '+')}.pt"
    torch.save(graph, path)
    return path


def _measure(job: dict, in_process: bool) -> dict | None:
    if in_process:
        return run_child(job)
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        why = (f"killed by signal {-proc.returncode}" + (" (out of memory?)" if proc.returncode == -9 else "")
               if proc.returncode < 0 else f"exit status {proc.returncode}")
        print(f"  {job['model']}/{job['impl']} failed: {why}\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    models = gnn_models()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", help=f"comma list of {', '.join(models)} (default: all; {QUICK_MODELS} with --quick)")
    parser.add_argument("--relations", nargs="+", help="relation selections, each 'all' or a comma list "
                                                       "(default: all and followers,friends; all with --quick)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per measurement (median)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 300-node graph, 1 timed epoch, measured in this process")
    parser.add_argument("--root", default=None, help="dataset root (default: $MGBENCH_ROOT or ~/.cache/mgbench)")
    parser.add_argument("--system-malloc", action="store_true",
                        help="glibc's default malloc settings instead of those `mgbench run` sets")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))))
        return
    names = [m.strip() for m in (args.models or (QUICK_MODELS if args.quick else ",".join(models))).split(",")
             if m.strip()]
    unknown = [m for m in names if m not in models]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; available: {', '.join(models)}")
    relation_sets = args.relations or (["all"] if args.quick else ["all", "followers,friends"])
    repeats = 1 if args.quick else args.repeats
    with freed_memory_kept() as kept:
        malloc = "glibc defaults" if args.system_malloc else "freed memory kept" if kept else "as the environment sets"
    data = load("mgtab-synthetic", root=args.root, **({"num_nodes": 300} if args.quick else {}))
    print(f"mgtab-synthetic: {data.num_nodes} nodes, {data.edge_index.size(1)} edges, {data.x.size(1)} features; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}; "
          f"median of {repeats} epochs after 1 warm-up; malloc: {malloc} "
          f"(ref s: glibc defaults, as the MGTAB scripts run)")
    print(f"{'model':<10} {'relations':<18} {'ours s':>7} {'ref s':>7} {'speed-up':>8} {'ref kept s':>10} "
          f"{'kept speed-up':>13} {'ours MB':>8} {'ref MB':>7} {'floor s':>8} {'ours/floor':>10} "
          f"{'ref kept/floor':>14} {'1st ours s':>10} {'GFLOP/s':>7} {'GB/s':>5}")
    with tempfile.TemporaryDirectory() as tmp:
        for relations in relation_sets:
            path = _save_graph(data, relations, Path(tmp))
            for name in names:
                job = {"model": name, "graph": str(path), "repeats": repeats, "system_malloc": args.system_malloc,
                       **({"machine": (512, 32)} if args.quick else {})}
                has_ref = reference_class(models[name]) is not None
                ours = _measure({**job, "impl": "ours"}, args.quick) or {}
                ref = (_measure({**job, "impl": "reference", "system_malloc": True}, args.quick) or {}) if has_ref else {}
                ref_kept = ref if args.system_malloc or not has_ref else \
                    _measure({**job, "impl": "reference"}, args.quick) or {}
                flops, bandwidth = ours.get("peak_flops"), ours.get("bandwidth")
                floor = ours["flops"] / flops + ours["bytes"] / bandwidth if flops else None
                o, r, rk = ours.get("seconds"), ref.get("seconds"), ref_kept.get("seconds")
                print(f"{name:<10} {relations:<18} {_cell(o, '.3f'):>7} {_cell(r, '.3f'):>7} "
                      f"{_ratio(r, o, '.1f', 'x'):>8} {_cell(rk, '.3f'):>10} {_ratio(rk, o, '.1f', 'x'):>13} "
                      f"{_cell(ours.get('peak_mb'), '.0f'):>8} {_cell(ref.get('peak_mb'), '.0f'):>7} "
                      f"{_cell(floor, '.3f'):>8} {_ratio(o, floor):>10} {_ratio(rk, floor):>14} "
                      f"{_cell(ours.get('first'), '.2f'):>10} {_cell(flops and flops / 1e9, '.0f'):>7} "
                      f"{_cell(bandwidth and bandwidth / 1e9, '.1f'):>5}", flush=True)


def _cell(value: float | None, spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else format(value, spec) + suffix


def _ratio(a: float | None, b: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return _cell(a / b if a and b else None, spec, suffix)


if __name__ == "__main__":
    main()
