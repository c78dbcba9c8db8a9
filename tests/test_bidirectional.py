"""rnn.bidirectional: the bidirectional layer equals float64
torch.nn.RNN/LSTM/GRU(bidirectional=True), with and without packed
variable lengths; its gradients match finite differences; a padded batch is
the sequences one by one; the tagger learns a task that needs the future."""

import functools

import numpy as np
import pytest

from rnn.bidirectional import (bidirectional_backward, bidirectional_forward, init_bidirectional,
                               init_tagger, tag, tagger_loss_and_grads, train_tagger)
from rnn.gradcheck import numerical_gradient, relative_error
from rnn.masking import mask_from_lengths
from rnn.model import CELLS
from rnn.tasks import seen_later_batch

CELL_NAMES = sorted(CELLS)


def _random(cell, D, H, seed, scale=0.6):
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(v.shape) * scale
              for k, v in init_bidirectional(D, H, cell=cell, seed=seed).items()}
    return params, rng


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_equals_torch_bidirectional(cell, packed):
    torch = pytest.importorskip("torch")
    from torch_beyond import layer_params, recurrent, run_packed, stack_state
    from torch_models import arr

    T, B, D, H = 6, 4, 3, 5
    S = CELLS[cell].N_STATES
    lengths = np.array([6, 2, 4, 1]) if packed else np.full(B, T)
    mod = recurrent(torch, cell, D, H, seed=7, bidirectional=True)
    params = {**layer_params(mod, cell, prefix="fwd."),
              **layer_params(mod, cell, prefix="bwd.", suffix="_reverse")}
    rng = np.random.default_rng(7)
    x = rng.standard_normal((T, B, D))
    state0 = rng.standard_normal((2, S, B, H))
    G, G_state = rng.standard_normal((T, B, 2 * H)), rng.standard_normal((2, S, B, H))
    xt = torch.tensor(x, requires_grad=True)
    s0t = tuple(torch.tensor(state0[:, k], requires_grad=True) for k in range(S))  # (2, B, H) each
    if packed:
        out, state_t = run_packed(torch, mod, cell, xt, lengths, s0t if S == 2 else s0t[0])
    else:
        out, state_t = mod(xt, s0t if S == 2 else s0t[0])
        state_t = state_t if S == 2 else (state_t,)
    loss = (out * torch.tensor(G)).sum() + sum((s * torch.tensor(G_state[:, k])).sum()
                                               for k, s in enumerate(state_t))
    loss.backward()

    h, cache, state = bidirectional_forward(x, params, lengths if packed else None, state0)
    dx, dstate0, grads = bidirectional_backward(G, cache, G_state)
    assert relative_error(h, arr(out)) < 1e-12
    assert relative_error(state, stack_state(state_t)) < 1e-12  # (2, S, B, H) both ways
    assert relative_error(dx, arr(xt.grad)) < 1e-12
    assert relative_error(dstate0, np.stack([arr(s.grad) for s in s0t], axis=1)) < 1e-12
    expected = {**layer_params(mod, cell, prefix="fwd.", grad=True),
                **layer_params(mod, cell, prefix="bwd.", suffix="_reverse", grad=True)}
    assert set(grads) == set(expected)
    for k in grads:
        assert relative_error(grads[k], expected[k]) < 1e-12, k


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_tagger_matches_torch(cell):
    """The whole tagger: a packed bidirectional torch module, Linear, and the
    cross-entropy of the real steps only."""
    torch = pytest.importorskip("torch")
    from torch_beyond import layer_params, recurrent, run_packed
    from torch_models import arr

    D, H, K = 4, 3, 2
    ids, lengths, tags = seen_later_batch(np.random.default_rng(8), B=5, max_len=6, alphabet=D)
    mod = recurrent(torch, cell, D, H, seed=8, bidirectional=True)
    lin = torch.nn.Linear(2 * H, K, dtype=torch.float64)
    out, _ = run_packed(torch, mod, cell, torch.nn.functional.one_hot(torch.tensor(ids), D).double(),
                        lengths)
    real = torch.tensor(mask_from_lengths(lengths, ids.shape[0]))
    loss_t = torch.nn.functional.cross_entropy(lin(out)[real], torch.tensor(tags)[real])
    loss_t.backward()

    params = {**layer_params(mod, cell, prefix="fwd."),
              **layer_params(mod, cell, prefix="bwd.", suffix="_reverse"),
              "V": arr(lin.weight), "c": arr(lin.bias)}
    expected = {**layer_params(mod, cell, prefix="fwd.", grad=True),
                **layer_params(mod, cell, prefix="bwd.", suffix="_reverse", grad=True),
                "V": arr(lin.weight.grad), "c": arr(lin.bias.grad)}
    loss, grads = tagger_loss_and_grads(params, ids, lengths, tags)
    assert abs(loss - loss_t.item()) < 1e-12 * loss
    for k in params:
        assert relative_error(grads[k], expected[k]) < 1e-11, k


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_gradients_match_finite_differences(cell):
    T, B, D, H = 4, 3, 2, 3
    params, rng = _random(cell, D, H, seed=1)
    S = CELLS[cell].N_STATES
    lengths = np.array([4, 1, 3])
    x, state0 = rng.standard_normal((T, B, D)), rng.standard_normal((2, S, B, H)) * 0.5
    G, G_state = rng.standard_normal((T, B, 2 * H)), rng.standard_normal((2, S, B, H))

    def f():
        h, _, state = bidirectional_forward(x, params, lengths, state0)
        return float((h * G).sum() + (state * G_state).sum())

    _, cache, _ = bidirectional_forward(x, params, lengths, state0)
    dx, dstate0, grads = bidirectional_backward(G, cache, G_state)
    for name, a, g in [("x", x, dx), ("state0", state0, dstate0)] + \
            [(k, params[k], grads[k]) for k in params]:
        assert relative_error(g, numerical_gradient(f, a)) < 1e-7, name


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_tagger_padded_batch_is_the_sequences_one_by_one(cell, bidirectional):
    rng = np.random.default_rng(3)
    ids, lengths, tags = seen_later_batch(rng, B=5, max_len=6, alphabet=3)
    params = init_tagger(3, 4, 2, cell=cell, bidirectional=bidirectional, seed=3)
    params = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    loss, grads = tagger_loss_and_grads(params, ids, lengths, tags, reduction="sum")
    alone = [tagger_loss_and_grads(params, ids[:n, i:i + 1], [n], tags[:n, i:i + 1],
                                   reduction="sum") for i, n in enumerate(lengths)]
    assert abs(loss - sum(l for l, _ in alone)) < 1e-12 * loss
    for k in params:
        assert relative_error(grads[k], sum(g[k] for _, g in alone)) < 1e-13, k
    f = lambda: tagger_loss_and_grads(params, ids, lengths, tags)[0]  # noqa: E731
    _, grads = tagger_loss_and_grads(params, ids, lengths, tags)
    for k in ("V", "c", "fwd." + CELLS[cell].PARAM_NAMES[0]):
        assert relative_error(grads[k], numerical_gradient(f, params[k])) < 1e-7, k


def test_errors():
    params, rng = _random("gru", 2, 3, seed=0)
    x = rng.standard_normal((4, 2, 2))
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, D\) = \(\?, \?, 2\)"):
        bidirectional_forward(x[..., :1], params)
    with pytest.raises(ValueError, match=r"state0 must have shape \(2, S, B, H\)"):
        bidirectional_forward(x, params, None, np.zeros((1, 1, 2, 3)))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, T\] = \[1, 4\]"):
        bidirectional_forward(x, params, [0, 4])
    _, cache, _ = bidirectional_forward(x, params, [4, 2])
    with pytest.raises(ValueError, match=r"dh must have shape \(T, B, 2H\) = \(4, 2, 6\)"):
        bidirectional_backward(np.zeros((4, 2, 3)), cache)
    with pytest.raises(ValueError, match="cache must be the BidirectionalCache"):
        bidirectional_backward(np.zeros((4, 2, 6)), None)
    with pytest.raises(ValueError, match="no recurrent layer under the prefix 'bwd.'"):
        bidirectional_forward(x, {k: v for k, v in params.items() if k.startswith("fwd.")})
    with pytest.raises(ValueError, match=r"targets must have shape \(T, B\) = \(4, 2\)"):
        tagger_loss_and_grads(init_tagger(2, 3, 2, seed=0), np.zeros((4, 2), int), [4, 2],
                              np.zeros((3, 2), int))


def test_the_future_is_needed_and_a_bidirectional_tagger_learns_it():
    make_batch = functools.partial(seen_later_batch, B=32, max_len=8, alphabet=4)
    ids, lengths, tags = seen_later_batch(np.random.default_rng(9), B=400, max_len=8, alphabet=4)
    mask = mask_from_lengths(lengths, ids.shape[0])
    accuracy = {}
    for bidirectional in (True, False):
        params, _ = train_tagger(make_batch, 4, 2, hidden=8, bidirectional=bidirectional,
                                 steps=300, lr=3e-2, seed=0)
        accuracy[bidirectional] = (tag(params, ids, lengths) == tags)[mask].mean()
    assert accuracy[True] > 0.95 and accuracy[False] < 0.8, accuracy
