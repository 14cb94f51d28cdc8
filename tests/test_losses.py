"""Tests of mgbench.losses against deliberately plain references.

The references below are written from the formulas of LOSSES.md, in float64,
with Python loops over anchors and pairs and no numerical tricks, so that
they share no code and no vectorisation idea with the implementation. Values
and autograd gradients of both are compared.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mgbench.losses import (
    AUX_LOSSES,
    INPUT_KINDS,
    ITC,
    CentroidQueue,
    ITMHead,
    icl,
    itc,
    itm,
    itm_pairs,
    jscl,
    jspcl,
    scc,
    scc_from_queue,
    scl,
    sdl,
    sdl_relations,
    slcl,
    sparsemax,
    supcon,
)

DT = torch.float64

# --------------------------------------------------------------------------
# Inputs: empty label sets, identical sets, a label held by one sample,
# classes of one member, duplicate embeddings, a batch of 1, a batch where no
# anchor has a positive.
# --------------------------------------------------------------------------

MIXED_Y = [
    [0, 0, 0, 0],  # empty
    [1, 1, 0, 0],
    [0, 1, 1, 0],
    [1, 1, 0, 0],  # same set as row 1
    [1, 0, 0, 0],
    [0, 0, 0, 0],  # empty, same set as row 0
    [0, 1, 1, 1],  # the only sample with label 3
    [1, 1, 1, 0],
    [0, 0, 1, 0],
]
MIXED_y = [0, 0, 1, 2, 2, 2, 3, 1, 4]  # classes 3 and 4 have one member


def make_batch(case: str, d: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(z [B, d], Y [B, 4], y [B])`` in float64 for a named case."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(len(MIXED_Y), d, generator=g, dtype=DT)
    z[4] = z[2]  # duplicate embeddings
    Y = torch.tensor(MIXED_Y, dtype=DT)
    y = torch.tensor(MIXED_y)
    if case == "mixed":
        return z, Y, y
    if case == "single":
        return z[:1], Y[1:2], y[:1]
    if case == "no_positive":  # disjoint label sets, distinct classes
        return z[:2], torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=DT), torch.tensor([0, 1])
    raise ValueError(case)


CASES = ["mixed", "single", "no_positive"]


def labelsets(Y: torch.Tensor) -> list[frozenset[int]]:
    return [frozenset(torch.nonzero(row).flatten().tolist()) for row in Y]


def value_and_grads(fn, *inputs: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``fn(*inputs)`` and its gradient with respect to each input (zeros where unused)."""
    inputs = [x.detach().clone().requires_grad_(True) for x in inputs]
    out = fn(*inputs)
    if not out.requires_grad:
        return out.detach(), [torch.zeros_like(x) for x in inputs]
    grads = torch.autograd.grad(out, inputs, allow_unused=True)
    return out.detach(), [torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs)]


def assert_same_value_and_grads(ours, reference, *inputs: torch.Tensor, rtol: float = 1e-9) -> None:
    value, grads = value_and_grads(ours, *inputs)
    ref_value, ref_grads = value_and_grads(reference, *inputs)
    assert value.dtype == DT
    torch.testing.assert_close(value, ref_value.to(DT), rtol=rtol, atol=1e-10)
    for g, ref_g in zip(grads, ref_grads):
        torch.testing.assert_close(g, ref_g, rtol=rtol, atol=1e-10)


# --------------------------------------------------------------------------
# Plain references of the clean forms.
# --------------------------------------------------------------------------


def unit(v: torch.Tensor) -> torch.Tensor:
    return v / torch.sqrt((v * v).sum())


def ref_core(rows, w, v, tau: float):
    """LOSSES.md's weighted SupCon core, anchor by anchor, with a plain exp/log."""
    n = len(rows)
    terms = []
    for i in range(n):
        positives = [p for p in range(n) if p != i and w(i, p) > 0]
        candidates = [a for a in range(n) if a != i and v(i, a) > 0]
        if not positives or not candidates:
            continue
        denominator = sum(v(i, a) * torch.exp(rows[i] @ rows[a] / tau) for a in candidates)
        total = sum(w(i, p) * (rows[i] @ rows[p] / tau - torch.log(denominator)) for p in positives)
        terms.append(-total / len(positives))
    return sum(terms) / len(terms) if terms else torch.zeros((), dtype=DT)


def ref_supcon(z, y, tau, normalize=True):
    rows = [unit(r) if normalize else r for r in z]
    labels = [int(c) for c in y]
    return ref_core(rows, lambda i, p: float(labels[i] == labels[p]), lambda i, a: 1.0, tau)


def ref_scl(z, Y, tau):
    sets = labelsets(Y)
    return ref_core([unit(r) for r in z], lambda i, p: float(sets[i] == sets[p]), lambda i, a: 1.0, tau)


def ref_jaccard(S: frozenset, T: frozenset) -> float:
    return len(S & T) / len(S | T) if S | T else 0.0


def ref_jscl(z, Y, tau):
    sets = labelsets(Y)
    return ref_core(
        [unit(r) for r in z], lambda i, p: 1.0, lambda i, a: ref_jaccard(sets[i], sets[a]), tau
    )


def ref_slcl(z, Y, tau):
    C = Y.shape[1]
    return sum(ref_supcon(z, Y[:, c], tau) for c in range(C)) / C


def ref_icl(E, Y, tau):
    B = E.shape[0]
    return sum(ref_supcon(E[i], Y[i], tau) for i in range(B)) / B


def ref_sdl_weight(S: frozenset, T: frozenset) -> float:
    if not S & T:
        return 0.0
    return len(S & T) / len(S) * 1.0 / (1 + len(T - S))


def ref_sdl(z, Y, tau):
    sets = labelsets(Y)
    return ref_core(
        [unit(r) for r in z], lambda i, p: ref_sdl_weight(sets[i], sets[p]), lambda i, a: 1.0, tau
    )


# --------------------------------------------------------------------------
# Plain replay of the authors' arithmetic (CL-MTC scripts/model.py).
# --------------------------------------------------------------------------


def ref_authors(rows, positive, tau: float, weight=None):
    """Their SupConLoss / SupConLossMulti, one view, contrast mode 'all', anchor by anchor."""
    n = len(rows)
    losses = []
    for i in range(n):
        logits = [rows[i] @ rows[a] / tau for a in range(n)]
        row_max = torch.stack(logits).max().detach()
        logits = [x - row_max for x in logits]
        denominator = 0.0
        for a in range(n):
            entry = (torch.exp(logits[a]) if a != i else 0.0) + 1e-20
            denominator = denominator + entry * (weight(i, a) if weight else 1.0)
        pos = [p for p in range(n) if p != i and positive(i, p)]
        pos_sum = sum(logits[p] - torch.log(denominator) for p in pos)
        mean_log_prob_pos = (pos_sum + 1e-20) / (len(pos) + 1e-20)
        losses.append(-(tau / 0.07) * mean_log_prob_pos)
    return torch.as_tensor(sum(losses) / n, dtype=DT)


def ref_authors_scl(z, Y, tau):
    sets = labelsets(Y)
    return ref_authors(list(z), lambda i, p: sets[i] == sets[p], tau)


def ref_authors_jscl(z, Y, tau):
    sets = labelsets(Y)
    return ref_authors(list(z), lambda i, p: True, tau, lambda i, a: ref_jaccard(sets[i], sets[a]))


def ref_authors_slcl(z, Y, tau):
    B, C = Y.shape
    total = 0.0
    for c in range(C):
        total = total + ref_authors(list(z), lambda i, p: Y[i, c] == Y[p, c], tau) / B
    return total / C


def ref_authors_icl(E, Y, tau):
    B, C = Y.shape
    total = 0.0
    for i in range(B):
        total = total + ref_authors(list(E[i]), lambda a, b: Y[i, a] == Y[i, b], tau) / C
    return total / B


# --------------------------------------------------------------------------
# Clean forms against the references: values and gradients.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("tau", [0.07, 0.5])
def test_supcon_matches_reference(case, tau):
    z, _, y = make_batch(case)
    assert_same_value_and_grads(lambda z: supcon(z, y, tau), lambda z: ref_supcon(z, y, tau), z)


def test_supcon_without_normalisation_matches_reference():
    z, _, y = make_batch("mixed")
    assert_same_value_and_grads(
        lambda z: supcon(z, y, 2.0, normalize=False),
        lambda z: ref_supcon(z, y, 2.0, normalize=False),
        z,
    )


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
    "ours, reference",
    [(scl, ref_scl), (jscl, ref_jscl), (jspcl, ref_jscl), (slcl, ref_slcl), (sdl, ref_sdl)],
    ids=["scl", "jscl", "jspcl", "slcl", "sdl"],
)
def test_labelset_losses_match_reference(case, ours, reference):
    z, Y, _ = make_batch(case)  # d = C = 4: z also serves as JSPCL's label scores
    assert_same_value_and_grads(lambda z: ours(z, Y, 0.2), lambda z: reference(z, Y, 0.2), z)


@pytest.mark.parametrize("case", CASES)
def test_icl_matches_reference(case):
    _, Y, _ = make_batch(case)
    E = torch.randn(len(Y), Y.shape[1], 3, generator=torch.Generator().manual_seed(1), dtype=DT)
    E[0, 1] = E[0, 2]  # duplicate label embeddings
    assert_same_value_and_grads(lambda E: icl(E, Y, 0.2), lambda E: ref_icl(E, Y, 0.2), E)


# --------------------------------------------------------------------------
# authors_code=True against the loop replay.
# --------------------------------------------------------------------------


def raw_features(B: int, d: int) -> torch.Tensor:
    """Unnormalised features; one large row makes the 1e-20 terms matter."""
    z = torch.randn(B, d, generator=torch.Generator().manual_seed(2), dtype=DT)
    z[B // 2] *= 8.0
    return z


@pytest.mark.parametrize(
    "ours, reference",
    [(scl, ref_authors_scl), (slcl, ref_authors_slcl)],
    ids=["scl", "slcl"],
)
@pytest.mark.parametrize("case", CASES)
def test_authors_code_replay(ours, reference, case):
    _, Y, _ = make_batch(case)
    z = raw_features(len(Y), 5)
    assert_same_value_and_grads(
        lambda z: ours(z, Y, 0.2, authors_code=True), lambda z: reference(z, Y, 0.2), z
    )


@pytest.mark.parametrize("ours", [jscl, jspcl], ids=["jscl", "jspcl"])
def test_authors_code_replay_jaccard(ours):
    _, Y, _ = make_batch("mixed")
    keep = Y.sum(1) > 0  # the authors' code gives NaN for an empty label set
    Y = Y[keep]
    z = raw_features(len(Y), Y.shape[1])
    assert_same_value_and_grads(
        lambda z: ours(z, Y, 0.2, authors_code=True), lambda z: ref_authors_jscl(z, Y, 0.2), z
    )


def test_authors_code_jscl_rejects_empty_label_set():
    z, Y, _ = make_batch("mixed")
    with pytest.raises(ValueError, match="empty label set"):
        jscl(z, Y, authors_code=True)


@pytest.mark.parametrize("case", CASES)
def test_authors_code_replay_icl(case):
    _, Y, _ = make_batch(case)
    E = torch.randn(len(Y), Y.shape[1], 3, generator=torch.Generator().manual_seed(3), dtype=DT) * 3
    assert_same_value_and_grads(
        lambda E: icl(E, Y, 0.2, authors_code=True), lambda E: ref_authors_icl(E, Y, 0.2), E
    )


def test_authors_code_counts_anchor_without_positive_as_minus_tau_over_base():
    z = torch.randn(1, 4, dtype=DT)
    assert scl(z, torch.ones(1, 2), 0.2, authors_code=True).item() == pytest.approx(-0.2 / 0.07)


# --------------------------------------------------------------------------
# Reductions and clean semantics.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("tau", [0.07, 0.2])
def test_scl_and_sdl_equal_supcon_on_one_hot_labels(tau):
    z, _, y = make_batch("mixed")
    one_hot = F.one_hot(y).to(DT)
    expected = supcon(z, y, tau)
    torch.testing.assert_close(scl(z, one_hot, tau), expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(sdl(z, one_hot, tau), expected, rtol=1e-12, atol=0)


def all_losses(z: torch.Tensor, Y: torch.Tensor, y: torch.Tensor, tau: float) -> dict[str, torch.Tensor]:
    """Every loss on one batch (ICL on label embeddings derived from ``z``)."""
    C = Y.shape[1]
    E = torch.stack([z.roll(c, dims=1) for c in range(C)], dim=1)
    queue_feats = torch.cat([z.detach(), -z.detach()])
    queue_labels = torch.cat([y, (y + 1) % 5])
    return {
        "supcon": supcon(z, y, tau),
        "scl": scl(z, Y, tau),
        "icl": icl(E, Y, tau),
        "jscl": jscl(z, Y, tau),
        "jspcl": jspcl(z[:, :C], Y, tau),
        "slcl": slcl(z, Y, tau),
        "sdl": sdl(z, Y, tau),
        "itc": itc(z, z.flip(0), tau),
        "scc": scc(z, y, queue_feats, queue_labels),
    }


@pytest.mark.parametrize("tau", [0.01, 0.07, 1.0])
def test_float32_agrees_with_float64(tau):
    g = torch.Generator().manual_seed(4)
    z = torch.randn(64, 16, generator=g, dtype=DT)
    Y = (torch.rand(64, 5, generator=g) < 0.4).to(DT)
    y = torch.randint(0, 5, (64,), generator=g)
    precise = all_losses(z, Y, y, tau)
    single = all_losses(z.float(), Y.float(), y, tau)
    for name, value in single.items():
        assert value.dtype == torch.float32, name
        torch.testing.assert_close(value.double(), precise[name], rtol=1e-5, atol=1e-5, msg=name)


@pytest.mark.parametrize("scale", [1e-8, 1.0, 1e8, 1e30])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_finite_under_extreme_inputs(scale, dtype):
    g = torch.Generator().manual_seed(5)
    base = F.normalize(torch.randn(32, 8, generator=g), dim=1)
    z = (base * scale).to(dtype).requires_grad_(True)
    Y = (torch.rand(32, 4, generator=g) < 0.5).float()
    y = torch.randint(0, 3, (32,), generator=g)
    losses = all_losses(z, Y, y, 0.01)
    reference = all_losses(base, Y, y, 0.01)
    for name, value in losses.items():
        assert value.dtype == torch.float32, name
        assert torch.isfinite(value), name
        (grad,) = torch.autograd.grad(value, z)
        assert grad.dtype == dtype and torch.isfinite(grad).all(), name
        if dtype == torch.float32:  # scale-invariant: the same value as at unit norm
            torch.testing.assert_close(value, reference[name], rtol=1e-4, atol=1e-4, msg=name)


def test_duplicate_embeddings_and_zero_rows_stay_finite():
    z = torch.zeros(6, 4, requires_grad=True)
    Y = torch.tensor([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1], [0, 0]])
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    for name, value in all_losses(z, Y, y, 0.01).items():
        (grad,) = torch.autograd.grad(value, z)
        assert torch.isfinite(value) and torch.isfinite(grad).all(), name


@pytest.mark.parametrize("case", ["single", "no_positive"])
def test_no_anchor_left_gives_attached_exact_zero(case):
    z, Y, y = make_batch(case)
    z = z.float().requires_grad_(True)
    losses = {
        "supcon": supcon(z, y),
        "scl": scl(z, Y),
        "jscl": jscl(z, Y),
        "sdl": sdl(z, Y),
        "scc": scc(z, y, z.detach(), y + 10),  # no sample's class is in the queue
    }
    if case == "single":
        losses |= {"slcl": slcl(z, Y), "icl": icl(z[:, None, :], Y[:, :1]), "itc": itc(z, z)}
    for name, value in losses.items():
        assert value.item() == 0.0 and value.requires_grad, name
        (grad,) = torch.autograd.grad(value, z)
        assert torch.equal(grad, torch.zeros_like(z)), name


def test_rejects_bad_arguments():
    z, Y, y = make_batch("mixed")
    with pytest.raises(ValueError, match="temperature"):
        supcon(z, y, 0.0)
    with pytest.raises(ValueError, match="multi-hot"):
        scl(z, Y * 2, 0.2)
    with pytest.raises(ValueError):
        slcl(z, Y[:-1])


# --------------------------------------------------------------------------
# SDL relations.
# --------------------------------------------------------------------------


def test_sdl_relations_on_hand_made_sets():
    sets = [{0, 1}, {0, 1}, {0}, {0, 1, 2}, {1, 2}, {3}, set()]
    Y = torch.zeros(len(sets), 4, dtype=torch.bool)
    for i, s in enumerate(sets):
        Y[i, list(s)] = True
    expected = torch.tensor(
        [  # S = row (anchor), T = column (sample)
            [2, 2, 4, 5, 3, 1, 1],
            [2, 2, 4, 5, 3, 1, 1],
            [5, 5, 2, 5, 1, 1, 1],
            [4, 4, 4, 2, 4, 1, 1],
            [3, 3, 1, 5, 2, 1, 1],
            [1, 1, 1, 1, 1, 2, 1],
            [1, 1, 1, 1, 1, 1, 1],
        ]
    )
    codes = sdl_relations(Y)
    assert codes.dtype == torch.int64
    assert torch.equal(codes, expected)


# --------------------------------------------------------------------------
# SCC and the centroid queue.
# --------------------------------------------------------------------------


def ref_scc(h, y, queue_feats, queue_labels):
    classes = sorted(set(queue_labels.tolist()))
    centroids = {
        k: sum(f for f, c in zip(queue_feats, queue_labels.tolist()) if c == k)
        / queue_labels.tolist().count(k)
        for k in classes
    }
    terms = []
    for h_i, y_i in zip(h, y.tolist()):
        if y_i not in centroids:
            continue
        distance = {k: torch.sqrt(((h_i - c) ** 2).sum()) for k, c in centroids.items()}
        terms.append(distance[y_i] / sum(distance.values()))
    return sum(terms) / len(terms) if terms else torch.zeros((), dtype=DT)


def test_scc_matches_reference():
    g = torch.Generator().manual_seed(6)
    queue_feats = torch.randn(12, 3, generator=g, dtype=DT)
    queue_labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 4, 4])  # class 3 absent
    h = torch.randn(7, 3, generator=g, dtype=DT)
    y = torch.tensor([0, 1, 2, 3, 4, 0, 5])  # 3 and 5 are skipped
    assert_same_value_and_grads(
        lambda h: scc(h, y, queue_feats, queue_labels),
        lambda h: ref_scc(h, y, queue_feats, queue_labels),
        h,
    )


def test_scc_treats_centroids_as_constants():
    h = torch.randn(4, 3, requires_grad=True)
    y = torch.tensor([0, 1, 0, 1])
    scc(h, y, h, y).backward()  # the queue is the batch itself, yet only h_i gets gradient
    expected = torch.autograd.grad(scc(h, y, h.detach(), y), h)[0]
    torch.testing.assert_close(h.grad, expected)


def test_queue_is_fifo_and_yields_centroids():
    queue = CentroidQueue(max_len=5)
    h1 = torch.arange(6.0).reshape(3, 2).requires_grad_(True)
    h2 = 10 + torch.arange(6.0).reshape(3, 2)
    queue.push(h1, torch.tensor([0, 1, 0]))
    assert len(queue) == 3 and not queue.feats.requires_grad
    queue.push(h2, torch.tensor([1, 1, 2]))
    assert len(queue) == 5
    assert torch.equal(queue.feats, torch.cat([h1.detach(), h2])[1:])  # the oldest row left
    assert queue.labels.tolist() == [1, 0, 1, 1, 2]
    centroids, present = queue.centroids(4)
    assert present.tolist() == [True, True, True, False]
    torch.testing.assert_close(centroids[0], h1[2].detach())
    torch.testing.assert_close(centroids[1], (h1[1].detach() + h2[0] + h2[1]) / 3)
    torch.testing.assert_close(centroids[2], h2[2])
    h2 += 100  # the queue holds copies
    assert queue.feats[-1, 0].item() == 14.0


def test_scc_from_queue_measures_then_pushes():
    queue = CentroidQueue(max_len=8)
    h = torch.randn(4, 3)
    y = torch.tensor([0, 1, 0, 1])
    assert scc_from_queue(h, y, queue).item() == 0.0  # empty queue: no centroid yet
    assert len(queue) == 4
    expected = scc(h + 1, y, queue.feats, queue.labels)
    torch.testing.assert_close(scc_from_queue(h + 1, y, queue), expected)
    assert len(queue) == 8


# --------------------------------------------------------------------------
# ITC and ITM.
# --------------------------------------------------------------------------


def ref_itc(a, b, tau):
    B = len(a)
    S = [[unit(a[i]) @ unit(b[j]) / tau for j in range(B)] for i in range(B)]
    rows = sum(-torch.log(torch.exp(S[i][i]) / sum(torch.exp(S[i][j]) for j in range(B))) for i in range(B))
    cols = sum(-torch.log(torch.exp(S[j][j]) / sum(torch.exp(S[i][j]) for i in range(B))) for j in range(B))
    return (rows + cols) / (2 * B)


def test_itc_matches_reference_and_is_symmetric():
    g = torch.Generator().manual_seed(7)
    a, b = torch.randn(6, 4, generator=g, dtype=DT), torch.randn(6, 4, generator=g, dtype=DT)
    assert_same_value_and_grads(lambda a, b: itc(a, b, 0.1), lambda a, b: ref_itc(a, b, 0.1), a, b)
    torch.testing.assert_close(itc(a, b), itc(b, a), rtol=1e-12, atol=0)


def test_itc_is_zero_for_one_sample():
    a = torch.randn(1, 4, requires_grad=True)
    loss = itc(a, torch.randn(1, 4))
    assert loss.item() == 0.0 and loss.requires_grad


def test_itc_module_learnable_temperature_is_clamped():
    module = ITC(learnable=True)
    a, b = torch.randn(5, 4), torch.randn(5, 4)
    with torch.no_grad():
        module.temperature.fill_(3.0)
    loss = module(a, b)
    assert module.temperature.item() == pytest.approx(0.5)
    loss.backward()
    assert module.temperature.grad is not None
    torch.testing.assert_close(loss, itc(a, b, 0.5))
    assert list(ITC(0.1).parameters()) == []


def test_itm_pairs_statistics():
    g = torch.Generator().manual_seed(8)
    for p in (0.2, 0.5):
        draws = [itm_pairs(50, p, g) for _ in range(200)]
        partner = torch.stack([d[0] for d in draws])
        target = torch.stack([d[1] for d in draws])
        index = torch.arange(50).expand_as(partner)
        assert abs((target == 0).float().mean().item() - p) < 0.02
        assert not (partner[target == 0] == index[target == 0]).any()
        assert torch.equal(partner[target == 1], index[target == 1])
    # a replaced partner is uniform over the other samples
    draws = [itm_pairs(4, 1.0, g) for _ in range(3000)]
    assert all(torch.equal(target, torch.zeros(4, dtype=torch.int64)) for _, target in draws)
    offset = (torch.stack([partner for partner, _ in draws]) - torch.arange(4)) % 4
    share = torch.bincount(offset.flatten(), minlength=4).float() / offset.numel()
    assert share[0] == 0 and (share[1:] - 1 / 3).abs().max() < 0.02


def test_itm_pairs_edge_cases():
    partner, target = itm_pairs(1, 1.0)
    assert partner.tolist() == [0] and target.tolist() == [1]
    partner, target = itm_pairs(5, 0.0)
    assert partner.tolist() == list(range(5)) and target.tolist() == [1] * 5
    first, second = (itm_pairs(9, 0.5, torch.Generator().manual_seed(1)) for _ in range(2))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_itm_loss_is_cross_entropy_of_the_pair_head():
    head = ITMHead(4, 8)
    a, b = torch.randn(6, 4), torch.randn(6, 4)
    assert head(a, b).shape == (6, 2)
    loss = itm(a, b, head, p=0.5, generator=torch.Generator().manual_seed(9))
    partner, target = itm_pairs(6, 0.5, torch.Generator().manual_seed(9))
    torch.testing.assert_close(loss, F.cross_entropy(head(a, b[partner]), target))
    loss.backward()
    assert all(p.grad is not None for p in head.parameters())


# --------------------------------------------------------------------------
# Sparsemax.
# --------------------------------------------------------------------------


def test_sparsemax():
    x = torch.randn(8, 6, generator=torch.Generator().manual_seed(10)) * 3
    out = sparsemax(x)
    torch.testing.assert_close(out.sum(-1), torch.ones(8))
    assert (out >= 0).all() and (out == 0).any()
    torch.testing.assert_close(sparsemax(x + 7.5), out)
    assert torch.equal(sparsemax(torch.tensor([3.0, 1.0, -2.0])), torch.tensor([1.0, 0.0, 0.0]))
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError, match="finite"):
            sparsemax(torch.tensor([1.0, bad]))


# --------------------------------------------------------------------------
# The dispatch table.
# --------------------------------------------------------------------------


def test_aux_losses_dispatch_table():
    B, C, d = 6, 3, 4
    g = torch.Generator().manual_seed(11)
    z = torch.randn(B, d, generator=g, requires_grad=True)
    Y = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1], [1, 0, 1], [0, 1, 0]])
    inputs = {
        "embeddings+classes": (z, torch.tensor([0, 0, 1, 1, 2, 2])),
        "embeddings+labelsets": (z, Y),
        "label_embeddings+labelsets": (z[:, None, :] + torch.randn(1, C, d, generator=g), Y),
        "label_scores+labelsets": (z[:, :C], Y),
        "two_views": (z, z.flip(1)),
    }
    assert set(AUX_LOSSES) == {"supcon", "scl", "icl", "jscl", "jspcl", "slcl", "sdl", "itc", "itm", "scc"}
    assert AUX_LOSSES["supcon"].defaults["temperature"] == 0.07
    assert AUX_LOSSES["sdl"].defaults["temperature"] == 0.07
    assert all(AUX_LOSSES[n].defaults["temperature"] == 0.2 for n in ("scl", "icl", "jscl", "jspcl", "slcl"))
    assert AUX_LOSSES["itm"].defaults["p"] == 0.5
    for name, spec in AUX_LOSSES.items():
        assert spec.inputs in INPUT_KINDS
        x1, x2 = inputs[spec.inputs]
        if spec.state is None:
            loss = spec.fn(x1, x2, **spec.defaults)
        else:
            loss = spec.fn(x1, x2, spec.state(d), **spec.defaults)
        assert loss.dim() == 0 and torch.isfinite(loss), name
