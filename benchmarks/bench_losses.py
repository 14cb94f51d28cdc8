"""Time each loss of ``mgbench.losses`` (forward + backward) beside the obvious way to write it.

The references below are what one writes first: loop-free, with dense masks
(``[C, B, B]`` for SLCL, ``[B, B, C]`` comparisons for SCL and Jaccard), a
full ``exp`` then ``log`` (HobbitLong/SupContrast style, no max subtraction),
and none of the clean-semantics handling. They are only correct when every
anchor has a positive and a non-zero denominator, which the random batches
here guarantee. Each reference is
checked against ours before it is timed.

    python benchmarks/bench_losses.py            # B = 256, 1024, 4096
    python benchmarks/bench_losses.py --quick    # B = 64, 256
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
import torch.utils.benchmark as benchmark
from torch import Tensor

from mgbench.losses import CentroidQueue, ITMHead, icl, itc, itm, jscl, jspcl, scc, scl, sdl, slcl, supcon

D, C, TAU = 128, 8, 0.1
Loss = Callable[[], Tensor]


def obvious_supcon(logits: Tensor, positive: Tensor, denom_weight: Tensor | float = 1.0) -> Tensor:
    """HobbitLong-style masked SupCon with per-pair weights, mean over anchors."""
    not_self = 1.0 - torch.eye(logits.shape[-1])
    exp_logits = torch.exp(logits) * not_self * denom_weight
    log_prob = logits - torch.log(exp_logits.sum(-1, keepdim=True))
    positive = positive * not_self
    return (-(positive * log_prob).sum(-1) / (positive > 0).sum(-1)).mean(-1)


def cosine(a: Tensor, b: Tensor | None = None) -> Tensor:
    a = F.normalize(a, dim=-1)
    b = a if b is None else F.normalize(b, dim=-1)
    return a @ b.transpose(-1, -2) / TAU


def obvious_jaccard(Y: Tensor) -> Tensor:
    inter = torch.minimum(Y[:, None, :], Y[None, :, :]).sum(-1)
    return inter / torch.maximum(Y[:, None, :], Y[None, :, :]).sum(-1)


def obvious_sdl_weights(Y: Tensor) -> Tensor:
    inter, size = Y @ Y.T, Y.sum(1)
    return inter / size[:, None] / (1 + size[None, :] - inter)


def obvious_scc(h: Tensor, y: Tensor, queue_feats: Tensor, queue_labels: Tensor) -> Tensor:
    one_hot = F.one_hot(queue_labels).float()
    distance = torch.cdist(h, (one_hot.T @ queue_feats) / one_hot.sum(0)[:, None])
    return (distance.gather(1, y[:, None]).squeeze(1) / distance.sum(1)).mean()


def obvious_itm(a: Tensor, b: Tensor, head: ITMHead, g: torch.Generator) -> Tensor:
    B = len(a)
    replaced = torch.rand(B, generator=g) < 0.5
    other = (torch.arange(B) + torch.randint(1, B, (B,), generator=g)) % B
    b = b[torch.where(replaced, other, torch.arange(B))]
    return F.cross_entropy(head.mlp(torch.cat([a, b, a * b, (a - b).abs()], 1)), (~replaced).long())


def cases(B: int) -> tuple[list[Tensor], list[tuple[str, Loss, Loss]]]:
    """The leaves that receive gradients, and ``(name, ours, reference)`` for batch size ``B``."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(B, D, generator=g, requires_grad=True)
    z2 = torch.randn(B, D, generator=g)  # a second view
    # Every class and every label set occurs at least twice, and every label
    # set has two labels present and two absent, so that the references
    # (which divide by the number of positives) are defined.
    y = torch.randperm(B, generator=g) % C
    pool = (torch.rand(32, C, generator=g) < 0.5).float()
    pool[:, :2], pool[:, 2:4] = 1.0, 0.0
    pool = pool.gather(1, torch.rand(32, C, generator=g).argsort(1))
    Y = pool[torch.randperm(B, generator=g) % len(pool)]
    E = torch.randn(B, C, D, generator=g, requires_grad=True)
    P = torch.randn(B, C, generator=g, requires_grad=True)
    queue = CentroidQueue()
    queue.push(torch.randn(queue.max_len, D, generator=g), torch.randint(0, C, (queue.max_len,), generator=g))
    head = ITMHead(D)
    ones, arange = torch.ones(B, B), torch.arange(B)

    def same_class() -> Tensor:
        return (y[:, None] == y[None, :]).float()

    def same_set() -> Tensor:
        return (Y[:, None, :] == Y[None, :, :]).all(-1).float()

    def same_value_within_sample() -> Tensor:  # [B, C, C]
        return (Y[:, :, None] == Y[:, None, :]).float()

    def same_value_per_label() -> Tensor:  # [C, B, B]
        return (Y.T[:, :, None] == Y.T[:, None, :]).float()

    def clip() -> Tensor:
        return (F.cross_entropy(cosine(z, z2), arange) + F.cross_entropy(cosine(z2, z), arange)) / 2

    table: list[tuple[str, Loss, Loss]] = [
        ("supcon", lambda: supcon(z, y, TAU), lambda: obvious_supcon(cosine(z), same_class())),
        ("scl", lambda: scl(z, Y, TAU), lambda: obvious_supcon(cosine(z), same_set())),
        ("icl", lambda: icl(E, Y, TAU), lambda: obvious_supcon(cosine(E), same_value_within_sample()).mean()),
        ("jscl", lambda: jscl(z, Y, TAU), lambda: obvious_supcon(cosine(z), ones, obvious_jaccard(Y))),
        ("jspcl", lambda: jspcl(P, Y, TAU), lambda: obvious_supcon(cosine(P), ones, obvious_jaccard(Y))),
        ("slcl", lambda: slcl(z, Y, TAU), lambda: obvious_supcon(cosine(z), same_value_per_label()).mean()),
        ("sdl", lambda: sdl(z, Y, TAU), lambda: obvious_supcon(cosine(z), obvious_sdl_weights(Y))),
        ("itc", lambda: itc(z, z2, TAU), clip),
        (
            "itm",
            lambda: itm(z, z2, head, generator=g.manual_seed(1)),
            lambda: obvious_itm(z, z2, head, g.manual_seed(1)),
        ),
        (
            "scc",
            lambda: scc(z, y, queue.feats, queue.labels),
            lambda: obvious_scc(z, y, queue.feats, queue.labels),
        ),
    ]
    return [z, E, P, *head.parameters()], table


def median_ms(loss: Loss, leaves: list[Tensor], threads: int) -> float:
    """Median time of ``loss().backward()`` over ``torch.utils.benchmark`` blocks.

    With one thread, process CPU time rather than wall time: on a shared
    machine the wall time mostly measures the neighbours (on an idle one the
    two agree). With more threads CPU time would add the threads up, so wall.
    """

    def step() -> None:
        for leaf in leaves:
            leaf.grad = None
        loss().backward()

    clock = time.process_time if threads == 1 else time.perf_counter
    timer = benchmark.Timer(stmt="step()", globals={"step": step}, num_threads=threads, timer=clock)
    return 1000 * timer.blocked_autorange(min_run_time=0.5).median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small batches (64, 256), for a smoke run")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args()
    sizes = (64, 256) if args.quick else (256, 1024, 4096)
    clock = "CPU time" if args.threads == 1 else "wall time"
    print(f"torch {torch.__version__}, CPU, {args.threads} thread(s), {clock}, d = {D}, C = {C}, tau = {TAU}")
    print(f"{'loss':<8}{'B':>6}{'ours ms':>11}{'reference ms':>14}{'ratio':>8}")
    for B in sizes:
        leaves, table = cases(B)
        for name, ours, reference in table:
            torch.testing.assert_close(ours(), reference(), rtol=1e-4, atol=1e-4, msg=name)
            ours_ms = median_ms(ours, leaves, args.threads)
            reference_ms = median_ms(reference, leaves, args.threads)
            print(f"{name:<8}{B:>6}{ours_ms:>11.2f}{reference_ms:>14.2f}{ours_ms / reference_ms:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
