"""What truncated BPTT computes, checked against independent references.

The reference is the full gradient written as a double sum of terms
dL(s)/dW(t): the loss at step s, through the use of the weights at step t.
Torch computes every term separately, with one untied copy of U, W, b per
step and one loss per step. Then:

* windows with the state carried (rnn train's default) add up exactly the
  terms with s and t in the same window, and nothing else;
* overlapping TBPTT(k1, k2), driven through the training loop's own
  RunState, adds up exactly the terms Williams & Peng's definition keeps;
* randomised truncation weighs each term by the product of the factors it
  crosses, and its expectation over the factors is the window's gradient;
* the segmented forward/backward of any cell and any depth equals float64
  torch with the state detached or rescaled at the same steps.
"""

import itertools

import numpy as np
import pytest

import rnn
from rnn.config import TrainConfig
from rnn.data import Vocab
from rnn.run_state import Corpus, RunState
from rnn.truncation import Truncation, random_keep, term_weights, truncated_loss_and_grads

from torch_models import params_from_torch, torch_module

torch = pytest.importorskip("torch")

K, H = 5, 3
RECURRENT = ("U", "W", "b")


def _model(seed=0, scale=0.9):
    p = rnn.init_params(K, H, init="scaled", seed=seed)
    rng = np.random.default_rng(seed + 100)
    return {k: scale * rng.standard_normal(v.shape) for k, v in p.items()}  # weights that matter


def _terms(P, ids):
    """Every term of the full gradient of a vanilla model on a stream, by torch.

    ids : (N + 1, B). Returns terms[name] of shape (N, N) + shape: entry [s, t]
    is dL(s)/dname(t), L(s) the loss at step s summed over the batch, for the
    untied copy of U, W or b at step t (zero for t > s); and per_loss[name]
    (N,) + shape, dL(s)/dV and dL(s)/dc.
    """
    N, B = ids.shape[0] - 1, ids.shape[1]
    x = torch.nn.functional.one_hot(torch.as_tensor(ids[:-1]), K).double()
    copies = {n: [torch.tensor(P[n], requires_grad=True) for _ in range(N)] for n in RECURRENT}
    V, c = (torch.tensor(P[n], requires_grad=True) for n in ("V", "c"))
    h, losses = torch.zeros(B, H, dtype=torch.float64), []
    for t in range(N):
        h = torch.tanh(x[t] @ copies["U"][t].T + h @ copies["W"][t].T + copies["b"][t])
        o = h @ V.T + c
        losses.append(torch.nn.functional.cross_entropy(o, torch.as_tensor(ids[t + 1]),
                                                        reduction="sum"))
    terms = {n: np.zeros((N, N) + P[n].shape) for n in RECURRENT}
    per_loss = {n: np.zeros((N,) + P[n].shape) for n in ("V", "c")}
    for s in range(N):
        wrt = [copies[n][t] for n in RECURRENT for t in range(s + 1)] + [V, c]
        g = torch.autograd.grad(losses[s], wrt, retain_graph=True)
        for i, n in enumerate(RECURRENT):
            for t in range(s + 1):
                terms[n][s, t] = g[i * (s + 1) + t].numpy()
        per_loss["V"][s], per_loss["c"][s] = g[-2].numpy(), g[-1].numpy()
    return terms, per_loss


def _weighted(terms, per_loss, weights, counted=None):
    """The gradient an estimator with these term weights computes (losses ``counted``)."""
    counted = np.ones(len(weights), bool) if counted is None else counted
    w = weights * counted[:, None]
    out = {n: np.einsum("st,st...->...", w, terms[n]) for n in RECURRENT}
    out.update({n: per_loss[n][counted].sum(axis=0) for n in ("V", "c")})
    return out


def _close(a, b):
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_reference_terms_add_up_to_full_bptt():
    P, ids = _model(), np.random.default_rng(1).integers(0, K, size=(9, 2))
    terms, per_loss = _terms(P, ids)
    _, full, _ = rnn.loss_and_grads(P, ids[:-1], ids[1:])  # one window over everything
    _close(_weighted(terms, per_loss, np.tril(np.ones((8, 8)))), full)


def test_windows_with_carried_state_drop_exactly_the_cross_window_terms():
    N, T, B = 12, 4, 2
    P, ids = _model(seed=2), np.random.default_rng(3).integers(0, K, size=(N + 1, B))
    terms, per_loss = _terms(P, ids)
    # the package: three windows of T steps, the state carried, gradients added up
    total, state = None, None
    for w in range(N // T):
        window = slice(w * T, (w + 1) * T)
        _, g, state = rnn.loss_and_grads(P, ids[window], ids[1:][window], state)
        total = g if total is None else {k: total[k] + g[k] for k in g}
    # kept: s and t in the same window, written out for N = 12, T = 4
    kept = np.zeros((N, N))
    for s in range(N):
        for t in range(s + 1):
            kept[s, t] = s // T == t // T
    np.testing.assert_array_equal(term_weights(N, T), kept)
    _close(_weighted(terms, per_loss, kept), total)
    # the loss at position p of a window keeps p + 1 terms: the first keeps only its own step
    assert [int(kept[s].sum()) for s in range(N)] == [1, 2, 3, 4] * 3
    # and what is dropped is not nothing: full BPTT differs
    full = _weighted(terms, per_loss, np.tril(np.ones((N, N))))
    assert rnn.relative_error(full["W"], total["W"]) > 1e-2


@pytest.mark.parametrize("k1,k2", [(2, 5), (3, 3), (1, 4)])
def test_overlapping_tbptt_through_run_state_matches_williams_and_peng(k1, k2):
    B, L = 2, 17  # two streams of 17 ids: 16 predictions each
    rng = np.random.default_rng(4)
    ids = rng.integers(0, K, size=B * L)
    vocab = Vocab([chr(97 + i) for i in range(K)])
    corpus = Corpus("test", vocab, ids, ids[:k2 + 1], np.zeros(32, np.uint8))
    cfg = TrainConfig(seq_len=k2, batch=B, hidden=H, truncation="overlap", truncation_stride=k1,
                      dtype="float64").validate()
    P = _model(seed=5)
    run = RunState.new(cfg, corpus, params=P)
    n_windows = run.batcher.windows_per_epoch
    total = None
    for _ in range(n_windows):
        inputs, targets, state0, plan = run.next_batch(corpus, cfg)
        _, g, run.state = plan.loss_and_grads(run.params, inputs, targets, state0, reduction="sum")
        total = g if total is None else {k: total[k] + g[k] for k in g}
    # Williams & Peng, written from the definition: the first window trains on its k2 steps,
    # window j >= 1 (starting at j k1) on its last k1; each loss backpropagates to the start
    # of the window that trains it
    covered = k2 + (n_windows - 1) * k1
    kept, counted = np.zeros((L - 1, L - 1)), np.zeros(L - 1, bool)
    for j in range(n_windows):
        start = j * k1
        for s in range(start if j == 0 else start + k2 - k1, start + k2):
            counted[s] = True
            kept[s, start:s + 1] = 1.0
    assert counted.sum() == covered
    np.testing.assert_array_equal(term_weights(L - 1, k2, stride=k1)[:covered, :covered],
                                  kept[:covered, :covered])
    streams = ids.reshape(B, L).T  # (L, B): column i is stream i
    terms, per_loss = _terms(P, streams)
    _close(_weighted(terms, per_loss, kept, counted), total)
    if k1 < k2:  # every loss after the first window keeps at least k2 - k1 + 1 terms
        assert kept[k2:covered].sum(axis=1).min() == k2 - k1 + 1


def test_randomised_truncation_weighs_each_term_by_the_factors_it_crosses():
    N, B = 6, 1
    P, ids = _model(seed=6), np.random.default_rng(7).integers(0, K, size=(N + 1, B))
    terms, per_loss = _terms(P, ids)
    keep = np.array([[2.0], [0.0], [1.25], [4.0], [1.0]])  # (N - 1, B): any factors
    _, g, _ = truncated_loss_and_grads(P, ids[:-1], ids[1:], keep=keep)
    weights = np.zeros((N, N))
    for s in range(N):
        for t in range(s + 1):
            weights[s, t] = np.prod(keep[t:s, 0])  # the crossings s -> s-1, ..., t+1 -> t
    np.testing.assert_array_equal(term_weights(N, N, keep=keep[:, 0]), weights)
    _close(_weighted(terms, per_loss, weights), g)


def test_randomised_truncation_is_unbiased_within_the_window():
    T, B, p = 4, 2, 0.7
    P, ids = _model(seed=8), np.random.default_rng(9).integers(0, K, size=(T + 1, B))
    _, window, _ = rnn.loss_and_grads(P, ids[:-1], ids[1:])
    expected = {k: np.zeros_like(v) for k, v in window.items()}
    for cuts in itertools.product([False, True], repeat=(T - 1) * B):  # every pattern, exactly
        cut = np.array(cuts).reshape(T - 1, B)
        prob = np.prod(np.where(cut, 1 - p, p))
        _, g, _ = truncated_loss_and_grads(P, ids[:-1], ids[1:], keep=np.where(cut, 0.0, 1 / p))
        for k in g:
            expected[k] += prob * g[k]
    _close(expected, window)


def test_random_keep_draws_zero_or_one_over_p():
    keep = random_keep(2001, 4, 0.8, np.random.default_rng(0))
    assert keep.shape == (2000, 4) and set(np.unique(keep)) == {0.0, 1.25}
    assert abs((keep > 0).mean() - 0.8) < 0.02 and abs(keep.mean() - 1.0) < 0.03


def _torch_cut(cell, layers, keep, carry_at, seed=0):
    """Loss and gradients of a float64 torch model run one step at a time, with the
    state's gradient scaled by keep[t - 1] between steps t - 1 and t (detach for 0)."""
    T, B, D = keep.shape[0] + 1, keep.shape[1], K
    mod = torch_module(torch, cell, D, H, layers, seed)
    rng = np.random.default_rng(seed)
    V, c = rng.standard_normal((K, H)), rng.standard_normal(K)
    ids = rng.integers(0, K, size=(T + 1, B))
    x = torch.nn.functional.one_hot(torch.as_tensor(ids[:-1]), K).double()
    Vt, ct = torch.tensor(V, requires_grad=True), torch.tensor(c, requires_grad=True)
    S = 2 if cell == "lstm" else 1
    state0 = 0.3 * rng.standard_normal((layers, S, B, H))
    states = [torch.tensor(state0[:, i]) for i in range(S)]
    outs, carried = [], None
    for t in range(T):
        if t > 0:  # value unchanged, gradient multiplied by keep[t - 1] (per batch row)
            f = torch.tensor(keep[t - 1])[None, :, None]
            states = [f * s + (1 - f) * s.detach() for s in states]
        out, new = mod(x[t:t + 1], tuple(states) if cell == "lstm" else states[0])
        states = list(new) if cell == "lstm" else [new]
        outs.append(out)
        if t + 1 == carry_at:
            carried = np.stack([s.detach().numpy() for s in states], axis=1)
    o = torch.cat(outs) @ Vt.T + ct
    loss = torch.nn.functional.cross_entropy(o.reshape(-1, K), torch.as_tensor(ids[1:]).reshape(-1),
                                             reduction="sum")
    loss.backward()
    params, grads = {}, {}
    for layer in range(layers):
        suffix = "" if layer == 0 else f".{layer}"
        for name, v in params_from_torch(mod, cell, layer).items():
            params[name + suffix] = v
        g, b_ih, b_hh = params_from_torch(mod, cell, layer, grad=True)
        for name, v in g.items():
            grads[name + suffix] = v
    params.update(V=V, c=c)
    grads.update(V=Vt.grad.numpy(), c=ct.grad.numpy())
    return params, ids, state0, loss.item(), grads, carried


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", sorted(rnn.model.CELLS))
def test_segments_with_cuts_and_factors_match_torch(cell, layers):
    keep = np.array([[1.0, 0.5], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0], [1.0, 1.0]])  # (T - 1, B)
    carry_at = 3
    params, ids, state0, loss, grads, carried = _torch_cut(cell, layers, keep, carry_at)
    ours, g, state = truncated_loss_and_grads(params, ids[:-1], ids[1:], state0, keep=keep,
                                              carry_at=carry_at)
    assert ours == pytest.approx(loss, rel=1e-12)
    for k in grads:
        np.testing.assert_allclose(g[k], grads[k], rtol=1e-9, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(state, carried, rtol=1e-12, atol=1e-14)
    # with factors 1 the segments change nothing: the plain window's gradient
    ones = np.ones_like(keep)
    _, plain, _ = rnn.loss_and_grads(params, ids[:-1], ids[1:], state0)
    _, seg, mid = Truncation(carry_at=2, keep=ones).loss_and_grads(params, ids[:-1], ids[1:], state0,
                                                                  reduction="sum")
    for k in plain:
        np.testing.assert_allclose(seg[k], plain[k], rtol=1e-12, atol=1e-13, err_msg=k)
    np.testing.assert_allclose(mid, rnn.forward(params, ids[:2], state0)[1], rtol=1e-13, atol=1e-14)


def test_loss_mask_counts_only_the_marked_positions():
    P, ids = _model(seed=10), np.random.default_rng(11).integers(0, K, size=(7, 3))
    mask = np.zeros((6, 3), bool)
    mask[-1] = True
    mask[2, 1] = True
    loss, g, _ = rnn.loss_and_grads(P, ids[:-1], ids[1:], reduction="mean", loss_mask=mask)

    def masked_loss():
        o, _ = rnn.forward(P, ids[:-1])
        logp = rnn.log_softmax(o)
        picked = np.take_along_axis(logp, ids[1:][..., None], axis=-1)[..., 0]
        return -picked[mask].mean()

    assert loss == pytest.approx(masked_loss(), rel=1e-13)
    errors = rnn.check_gradients(masked_loss, P, g)
    assert max(errors.values()) < 1e-8


def test_bad_arguments_are_named():
    P, ids = _model(), np.zeros((4, 2), np.int64)
    with pytest.raises(ValueError, match=r"carry_at must lie in \[1, T\] = \[1, 4\], got 5"):
        truncated_loss_and_grads(P, ids, ids, carry_at=5)
    with pytest.raises(ValueError, match=r"keep must have shape \(T - 1, B\) = \(3, 2\)"):
        truncated_loss_and_grads(P, ids, ids, keep=np.ones((4, 2)))
    with pytest.raises(ValueError, match="loss_mask must be a bool array"):
        rnn.loss_and_grads(P, ids, ids, loss_mask=np.ones((4, 2)))
    with pytest.raises(ValueError, match="loss_mask selects no position"):
        rnn.loss_and_grads(P, ids, ids, loss_mask=np.zeros((4, 2), bool))
    with pytest.raises(ValueError, match="term_weights: T must be at most n_steps = 5, got T = 6"):
        term_weights(5, 6)
    with pytest.raises(ValueError, match="stride k1 must be at most T = k2 = 4, got 5"):
        term_weights(10, 4, stride=5)
    with pytest.raises(ValueError, match=r"random_keep: p must be a finite number in \(0, 1\]"):
        random_keep(4, 2, 0.0, np.random.default_rng(0))


@pytest.mark.parametrize("kw,message", [
    (dict(truncation="overlap"), "needs truncation_stride"),
    (dict(truncation="overlap", truncation_stride=9, seq_len=8), "at most seq_len = k2 = 8, got 9"),
    (dict(truncation_stride=2), "truncation_stride only applies to truncation='overlap'"),
    (dict(truncation="overlap", truncation_stride=2, truncation_keep=0.5),
     "truncation_keep only applies to truncation='random'"),
    (dict(truncation="random", truncation_keep=0.0), r"truncation_keep must be a finite number in \(0, 1\]"),
    (dict(truncation="full"), "truncation must be one of"),
])
def test_truncation_options_are_checked_together(kw, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kw).validate()
