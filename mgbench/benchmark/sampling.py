"""Mini-batch training with neighbour sampling, for graphs too big for full-batch (MGTAB-large).

Same protocols and result as :func:`.train.fit_gnn`, with an epoch being a
pass over the training nodes in shuffled mini-batches of ``batch_size`` seeds,
each trained on its sampled ``len(fanout)``-hop subgraph
(:mod:`mgbench.datasets.sampler`). Validation and test nodes -- the labelled
ones only, never the whole graph -- are scored the same way, with a fixed
sampling seed so that epochs are compared on identical neighbourhoods.

``standard``: after every epoch, score validation and test in eval mode; keep
the epoch with the best validation macro F1; stop after ``patience`` epochs
without improvement. ``reference`` (the MGTAB scripts' choices, carried over
to mini-batches): validation accuracy from a training-mode pass before the
epoch's steps, strict improvement, every epoch run, predictions passed as the
truth to the metrics.

Data parallel (:mod:`.distributed`): every rank draws the same global batch
from a generator seeded by the run's seed, takes ``batch[rank::world]``, and
scales its loss so that the all-reduced gradient is the global batch's mean;
the union of the ranks' shares is the single-process batch, so N processes
train the same model as one (exactly so with ``fanout=-1``). Scores are
gathered so every rank takes the same early-stopping decision.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from mgbench.datasets.sampler import Sampler, check_fanout, make_sampler
from mgbench.datasets.splits import Split
from mgbench.datasets.tasks import Task

from . import distributed
from .protocol import Protocol, TrainSettings, get_protocol
from .train import EpochSelector, FitResult, probabilities, split_output, task_loss


@dataclass(frozen=True)
class SamplingSettings:
    """What defines a sampled run (it goes into the run definition)."""

    fanout: tuple[int, ...] = (10, 10)   # neighbours per hop (-1: all); one entry per GNN layer
    batch_size: int = 1024               # seeds per global mini-batch (all ranks together)
    per_relation: bool = False           # fan-out per relation instead of over all in-edges

    def __post_init__(self) -> None:
        object.__setattr__(self, "fanout", tuple(check_fanout(self.fanout)))
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")

    @classmethod
    def from_dict(cls, options: dict) -> "SamplingSettings":
        """Settings from a run definition or a suite; unknown keys are an error listing the known."""
        unknown = sorted(set(options) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown sampling setting(s) {', '.join(unknown)}; "
                             f"available: {', '.join(cls.__dataclass_fields__)}")
        return cls(**options)

    def to_dict(self) -> dict:
        """The JSON form stored in a run definition (``fanout`` as a list)."""
        return {**asdict(self), "fanout": list(self.fanout)}


def parse_fanout(text: str) -> tuple[int, ...]:
    """``"10,10"`` -> (10, 10); ``"all,5"`` or ``"-1,5"`` -> (-1, 5) (``all`` spares the
    shell user argparse's reading of ``--fanout -1,5`` as an option)."""
    try:
        return tuple(-1 if k.strip() == "all" else int(k) for k in text.split(",") if k.strip())
    except ValueError:
        raise ValueError(f"--fanout takes comma-separated integers such as 10,10 (all or -1: every "
                         f"neighbour), got {text!r}") from None


@dataclass
class SampledFitResult(FitResult):
    sampler: str = ""             # backend that drew the neighbourhoods: "pyg" or "torch"
    seeds_per_s: float = 0.0      # training seeds per second over all ranks (sampling + step)


def _generator(*salt: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(np.random.SeedSequence(list(salt)).generate_state(1)[0]))


class _Batches:
    """Forward passes of a model over sampled subgraphs around given seeds."""

    def __init__(self, sampler: Sampler, x: torch.Tensor, edge_type: torch.Tensor, device: torch.device,
                 amp: bool):
        self.sampler, self.x, self.edge_type, self.device, self.amp = sampler, x, edge_type, device, amp

    def logits(self, model: torch.nn.Module, seeds: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        sub = self.sampler.sample(seeds, generator)
        dev = self.device
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=self.amp):
            out = split_output(model(self.x[sub.n_id].to(dev), sub.edge_index.to(dev), self.edge_type[sub.e_id].to(dev)))[0]
        return out[: sub.batch_size]

    @torch.no_grad()
    def scores(self, model: torch.nn.Module, ids: torch.Tensor, task: Task, batch_size: int,
               generator: torch.Generator) -> torch.Tensor:
        """Class probabilities of ``ids`` (all ranks together, in order); this rank scores its shard."""
        mine = distributed.shard(ids)
        parts = [torch.from_numpy(probabilities(self.logits(model, mine[i:i + batch_size], generator), task))
                 for i in range(0, mine.numel(), batch_size)]
        local = torch.cat(parts) if parts else torch.empty(0, task.num_outputs)
        return distributed.unshard(local, ids.numel())


def fit_gnn_sampled(model: torch.nn.Module, x: torch.Tensor, edge_index: torch.Tensor, edge_type: torch.Tensor,
                    y: torch.Tensor, split: Split, task: Task, settings: TrainSettings,
                    sampling: SamplingSettings, *, seed: int = 0, protocol: str | Protocol = "standard",
                    amp: bool = False, backend: str = "auto", progress: bool = True,
                    swap_truth: bool = False) -> SampledFitResult:
    """Train ``model`` on sampled mini-batches; return the selected epoch's metrics.

    The graph tensors stay on the CPU (they may be memory-mapped); each
    subgraph moves to the model's device. Inside a process group the model is
    wrapped in DistributedDataParallel and the batches are shared out.
    ``swap_truth`` as in :func:`.train.fit_gnn`.
    """
    protocol = get_protocol(protocol)
    device = next(model.parameters()).device
    world, rank = distributed.world_size(), distributed.rank()
    num_relations = int(edge_type.max()) + 1 if edge_type.numel() else 1
    sampler = make_sampler(edge_index, x.size(0), sampling.fanout, backend=backend, edge_type=edge_type,
                           num_relations=num_relations, per_relation=sampling.per_relation)
    batches = _Batches(sampler, x, edge_type, device, amp)
    trained = distributed.wrap(model, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    order_gen, train_gen = _generator(seed), _generator(seed, 1, rank)
    eval_seed = (seed, 2, rank)
    y = y.cpu()
    y_val, y_test = y[split.val].numpy(), y[split.test].numpy()
    bs = sampling.batch_size

    best = SampledFitResult(0, {}, {}, 0, sampler=sampler.name)
    selector = EpochSelector(best, task, y_val, y_test, protocol, swap_truth)
    seen, train_time, loss = 0, 0.0, torch.tensor(float("nan"))
    bar = tqdm(range(settings.epochs), desc=type(model).__name__, disable=not progress or rank != 0, leave=False)
    for epoch in bar:
        if protocol.validation_from_training_pass:
            model.train()
            val_p = batches.scores(model, split.val, task, bs, _generator(*eval_seed)).numpy()
        trained.train()
        start = time.perf_counter()
        order = split.train[torch.randperm(split.train.numel(), generator=order_gen)]
        for i in range(0, order.numel(), bs):
            batch = order[i:i + bs]
            if batch.numel() < world:  # a rank would get no seeds: drop this last sliver
                break
            mine = batch[rank::world]
            optimizer.zero_grad(set_to_none=True)
            logits = batches.logits(trained, mine, train_gen)
            # Sum over my seeds / global batch, times world: DDP's mean over ranks is the global mean.
            loss = task_loss(logits, y[mine].to(device), task) * (mine.numel() * world / batch.numel())
            loss.backward()
            optimizer.step()
            seen += batch.numel()
        train_time += time.perf_counter() - start

        model.eval()
        held_out = torch.cat([split.val, split.test])
        p = batches.scores(model, held_out, task, bs, _generator(*eval_seed)).numpy()
        if not protocol.validation_from_training_pass:
            val_p = p[: split.val.numel()]
        score = selector.update(epoch, val_p, p[split.val.numel():])
        bar.set_postfix(loss=f"{loss.item():.4f}", val=f"{score:.4f}")
        if selector.should_stop(settings.patience, settings.min_epochs):
            break
    best.seeds_per_s = round(seen / train_time, 1) if train_time > 0 else 0.0
    return best
