"""rnn.masking: padding, masks and lengths; a layer run to each sequence's
last real step equals the sequences run one by one, for every cell, and its
gradients match finite differences and float64 torch with packed sequences."""

import numpy as np
import pytest

from rnn.gradcheck import numerical_gradient, relative_error
from rnn.masking import (backward_to_lengths, forward_to_lengths, gather_last, lengths_from_mask,
                         mask_from_lengths, masked_cross_entropy, pad, reverse_index,
                         reverse_padded, scatter_last)
from rnn.model import CELLS

from problems import random_layer

CELL_NAMES = sorted(CELLS)


def test_pad_mask_and_lengths_round_trip():
    ids, lengths = pad([np.array([3, 1, 2]), np.array([5]), np.array([4, 4])], pad_id=9)
    assert ids.tolist() == [[3, 5, 4], [1, 9, 4], [2, 9, 9]]
    assert lengths.tolist() == [3, 1, 2]
    mask = mask_from_lengths(lengths, 4)
    assert mask.tolist() == [[True, True, True], [True, False, True], [True, False, False],
                             [False, False, False]]
    assert lengths_from_mask(mask).tolist() == [3, 1, 2]


@pytest.mark.parametrize("mask, message", [
    (np.array([[True, False], [True, True]]), "column 1 of mask is not right-padded"),
    (np.array([[True, False], [False, False]]), "column 1 of mask has no real step"),
    (np.array([[1, 1]]), "must be a boolean array of shape"),
    (np.array([True, True]), "must be a boolean array of shape"),
])
def test_bad_masks_are_refused(mask, message):
    with pytest.raises(ValueError, match=message):
        lengths_from_mask(mask)


@pytest.mark.parametrize("lengths, message", [
    ([0, 2], r"must lie in \[1, T\] = \[1, 3\].*got 0"),
    ([2, 4], r"must lie in \[1, T\] = \[1, 3\].*got 4"),
    ([2.0, 1.0], "must hold integer lengths"),
    ([1, 2, 3], r"must have shape \(B,\) = \(2,\)"),
])
def test_bad_lengths_are_refused(lengths, message):
    with pytest.raises(ValueError, match=message):
        gather_last(np.zeros((3, 2, 4)), lengths)


def test_pad_refuses_empty_and_non_integer_sequences():
    with pytest.raises(ValueError, match="seqs is empty"):
        pad([])
    with pytest.raises(ValueError, match=r"seqs\[1\] must be a non-empty 1-D integer array"):
        pad([np.array([1]), np.array([], dtype=int)])
    with pytest.raises(ValueError, match=r"seqs\[0\] must be a non-empty 1-D integer array"):
        pad([np.array([0.5])])


def test_gather_and_scatter_by_hand():
    h = np.arange(3 * 2 * 1, dtype=float).reshape(3, 2, 1)  # h[t, n] = 2 t + n
    assert gather_last(h, [3, 1])[:, 0].tolist() == [4.0, 1.0]
    dh = scatter_last(np.array([[10.0], [20.0]]), [3, 1], 3)
    assert dh[:, :, 0].tolist() == [[0, 20], [0, 0], [10, 0]]
    # scatter is the adjoint of gather: <gather(h), g> = <h, scatter(g)>
    rng = np.random.default_rng(0)
    h, g, lengths = rng.standard_normal((5, 4, 3)), rng.standard_normal((4, 3)), [5, 1, 3, 2]
    assert np.isclose((gather_last(h, lengths) * g).sum(), (h * scatter_last(g, lengths, 5)).sum())


def test_reverse_within_lengths():
    a = np.array([[1, 4, 6], [2, 5, 0], [3, 0, 0]])  # lengths 3, 2, 1; 0 is padding
    r = reverse_padded(a, [3, 2, 1])
    assert r.tolist() == [[3, 5, 6], [2, 4, 0], [1, 0, 0]]  # padding stays at the end
    assert np.array_equal(reverse_padded(r, [3, 2, 1]), a)  # its own inverse
    assert reverse_index([2], 3)[:, 0].tolist() == [1, 0, 2]


def test_masked_cross_entropy_counts_only_the_masked_positions():
    rng = np.random.default_rng(1)
    o, y = rng.standard_normal((4, 3, 5)), rng.integers(0, 5, (4, 3))
    mask = mask_from_lengths([4, 1, 2], 4)
    loss, do = masked_cross_entropy(o, y, mask, "mean")
    logp = o - np.log(np.exp(o).sum(-1, keepdims=True))  # by hand
    picked = np.take_along_axis(logp, y[..., None], -1)[..., 0]
    assert np.isclose(loss, -picked[mask].mean())
    assert not do[~mask].any()
    f = lambda: masked_cross_entropy(o, y, mask, "mean")[0]  # noqa: E731
    assert relative_error(do, numerical_gradient(f, o)) < 1e-8
    with pytest.raises(ValueError, match="mask selects no position"):
        masked_cross_entropy(o, y, np.zeros((4, 3), bool))
    with pytest.raises(ValueError, match=r"mask must be a boolean array of shape \(T, B\)"):
        masked_cross_entropy(o, y, mask[:2])


def _problem(cell, seed, lengths, D=3, H=4):
    module = CELLS[cell]
    rng = np.random.default_rng(seed)
    T, B = max(lengths), len(lengths)
    x = rng.standard_normal((T, B, D))
    x[~mask_from_lengths(lengths, T)] = 1e3 * rng.standard_normal(D)  # garbage in the padding
    return (module, x, rng.standard_normal((module.N_STATES, B, H)) * 0.5,
            random_layer(module, D, H, rng), rng.standard_normal((T, B, H)),
            rng.standard_normal((module.N_STATES, B, H)))


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_forward_to_lengths_equals_each_sequence_alone(cell):
    lengths = np.array([4, 1, 3, 4, 2])
    module, x, state0, params, G, G_state = _problem(cell, 0, lengths)
    h, cache, state = forward_to_lengths(module, x, state0, params, lengths)
    _, _, grads = backward_to_lengths(G, cache, G_state)
    total = {k: 0.0 for k in grads}
    for n, T_n in enumerate(lengths):
        h_n, c_n, s_n = module.layer_forward(x[:T_n, n:n + 1], state0[:, n:n + 1], params)
        np.testing.assert_allclose(h[:T_n, n:n + 1], h_n, rtol=0, atol=1e-15)
        np.testing.assert_allclose(state[:, n:n + 1], s_n, rtol=0, atol=1e-15)
        _, _, g = module.layer_backward(G[:T_n, n:n + 1], c_n, G_state[:, n:n + 1])
        total = {k: total[k] + g[k] for k in g}
    assert not h[~mask_from_lengths(lengths, 4)].any()  # padded steps are zero
    for k in grads:
        assert relative_error(grads[k], total[k]) < 1e-13, k


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_forward_to_lengths_gradients_match_finite_differences(cell):
    lengths = np.array([3, 1, 2])
    module, x, state0, params, G, G_state = _problem(cell, 1, lengths)
    arrays = {"x": x, "state0": state0, **params}

    def f():
        h, _, state = forward_to_lengths(module, x, state0, params, lengths)
        return float((h * G).sum() + (state * G_state).sum())

    _, cache, _ = forward_to_lengths(module, x, state0, params, lengths)
    dx, dstate0, grads = backward_to_lengths(G, cache, G_state)
    analytic = {"x": dx, "state0": dstate0, **grads}
    for name, a in arrays.items():
        num = numerical_gradient(f, a, eps=1e-6 if name == "x" else 1e-5)
        assert relative_error(analytic[name], num) < 1e-7, name
    assert not dx[~mask_from_lengths(lengths, 3)].any()  # the padding has no influence


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_forward_to_lengths_matches_torch_packed_sequences(cell):
    torch = pytest.importorskip("torch")
    from torch_beyond import layer_params, recurrent, run_packed, stack_state
    from torch_models import arr

    T, B, D, H = 6, 4, 3, 5
    lengths = np.array([2, 6, 1, 4])
    mod = recurrent(torch, cell, D, H, seed=3)
    params = layer_params(mod, cell)
    rng = np.random.default_rng(3)
    x, G = rng.standard_normal((T, B, D)), rng.standard_normal((T, B, H))
    G_state = rng.standard_normal((CELLS[cell].N_STATES, B, H))
    state0 = rng.standard_normal((CELLS[cell].N_STATES, B, H))
    xt = torch.tensor(x, requires_grad=True)
    s0t = tuple(torch.tensor(s[None], requires_grad=True) for s in state0)
    out, state_t = run_packed(torch, mod, cell, xt, lengths, s0t if cell == "lstm" else s0t[0])
    loss = (out * torch.tensor(G)).sum() + sum((s[0] * torch.tensor(g)).sum()
                                               for s, g in zip(state_t, G_state))
    loss.backward()

    h, cache, state = forward_to_lengths(CELLS[cell], x, state0, params, lengths)
    dx, dstate0, grads = backward_to_lengths(G, cache, G_state)
    assert relative_error(h, arr(out)) < 1e-12
    assert relative_error(state, stack_state(state_t)[0]) < 1e-12
    assert relative_error(dx, arr(xt.grad)) < 1e-12
    assert relative_error(dstate0, np.stack([arr(s.grad[0]) for s in s0t])) < 1e-12
    expected = layer_params(mod, cell, grad=True)
    for k in grads:
        assert relative_error(grads[k], expected[k]) < 1e-12, k


def test_backward_to_lengths_refuses_a_foreign_cache_and_bad_dstate():
    lengths = np.array([2, 1])
    module, x, state0, params, G, G_state = _problem("rnn", 2, lengths)
    _, cache, _ = forward_to_lengths(module, x, state0, params, lengths)
    with pytest.raises(ValueError, match="cache must be the LengthsCache"):
        backward_to_lengths(G, ("not", "a", "cache"))
    with pytest.raises(ValueError, match=r"dstate must have shape \(S, B, H\)"):
        backward_to_lengths(G, cache, G_state[:, :1])
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, D\)"):
        forward_to_lengths(module, x[0], state0, params, lengths)
