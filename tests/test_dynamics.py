"""Tests of rnn.dynamics: Jacobian products and their bound, gradient-norm
probes for every cell (against finite differences), and the fitted decay rate."""

import numpy as np
import pytest

import rnn
from rnn.dynamics import (decay_rate, jacobian_bound, jacobian_products, loss_gradient_norms,
                          state_gradients)
from rnn.gradcheck import numerical_gradient
from rnn.model import CELLS

from problems import random_problem


def _trajectory(seed=0, tau=7, D=3, H=4, scale=0.8):
    rng = np.random.default_rng(seed)
    U, W, b = rng.standard_normal((H, D)), scale * rng.standard_normal((H, H)), rng.standard_normal(H)
    x, h0 = rng.standard_normal((tau, 1, D)), rng.standard_normal((1, H))
    h, _ = rnn.rnn_forward(x, h0, U, W, b)
    return x, h0, U, W, b, h


def test_jacobian_products_match_finite_differences():
    x, h0, U, W, b, h = _trajectory()
    tau = len(x)
    P = jacobian_products(h[:, 0], W)
    assert P.shape == (tau + 1, 4, 4) and np.array_equal(P[0], np.eye(4))
    for k in range(1, tau + 1):
        start = h[tau - k - 1] if k < tau else h0  # the state k steps before the last: h(tau - k)
        numeric = np.empty((4, 4))
        for j in range(4):  # column j: d h(tau) / d h(tau - k)_j, by central differences
            e = np.zeros((1, 4))
            e[0, j] = 1e-6
            plus, _ = rnn.rnn_forward(x[tau - k:], start + e, U, W, b)
            minus, _ = rnn.rnn_forward(x[tau - k:], start - e, U, W, b)
            numeric[:, j] = (plus[-1, 0] - minus[-1, 0]) / 2e-6
        np.testing.assert_allclose(P[k], numeric, rtol=1e-6, atol=1e-9, err_msg=f"k = {k}")


@pytest.mark.parametrize("scale", [0.3, 0.8, 2.0])
def test_the_bound_holds_and_is_at_most_the_norm_of_W_to_the_k(scale):
    x, h0, U, W, b, h = _trajectory(seed=1, tau=20, scale=scale)
    P, bound = jacobian_products(h[:, 0], W), jacobian_bound(h[:, 0], W)
    actual = np.array([np.linalg.norm(p, 2) for p in P])
    assert np.all(actual <= bound * (1 + 1e-12))
    assert np.all(bound <= np.linalg.norm(W, 2) ** np.arange(21) * (1 + 1e-12))
    assert bound[0] == 1.0


def test_decay_rate_is_below_one_when_the_bound_says_so():
    # ||W||_2 = 0.8 < 1 and |tanh'| <= 1: every factor of the product is at most 0.8,
    # so the gradient 100 steps back must have shrunk by 0.8^100 at least
    K, H, tau, B = 6, 16, 100, 8
    params = rnn.init_params(K, H, init="scaled", seed=0)
    params["W"] *= 0.8 / np.linalg.norm(params["W"], 2)
    ids = np.random.default_rng(0).integers(0, K, size=(tau + 1, B))
    norms = loss_gradient_norms(params, ids[:-1], ids[-1])
    assert norms.shape == (tau + 1, B)
    assert decay_rate(norms) < 0.8
    assert np.all(norms[1:] <= norms[0] * 0.8 ** np.arange(1, tau + 1)[:, None] * (1 + 1e-9))
    # and for a matrix whose bound allows growth, the measured rate can exceed 1
    params["W"] *= 3.0 / rnn.initializers.spectral_radius(params["W"])
    assert decay_rate(loss_gradient_norms(params, ids[:-1], ids[-1])) > 1.0


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_state_gradients_match_finite_differences_for_every_cell(cell):
    module = CELLS[cell]
    tau, B, D, H = 5, 2, 3, 4
    p = random_problem(cell, 3, tau, B, D, H, scale=0.8)
    dh_last = p["G"][-1]
    grads = state_gradients(cell, p["params"], p["x"], p["state0"], dh_last)
    assert grads.shape == (tau + 1, module.N_STATES, B, H)
    states = [p["state0"]]
    for t in range(tau):
        states.append(module.layer_forward(p["x"][t:t + 1], states[-1], p["params"])[2])
    for k in range(tau + 1):
        start = states[tau - k].copy()

        def f():
            if k == 0:
                return float((start[0] * dh_last).sum())
            h, _, _ = module.layer_forward(p["x"][tau - k:], start, p["params"])
            return float((h[-1] * dh_last).sum())

        np.testing.assert_allclose(grads[k], numerical_gradient(f, start), rtol=1e-6, atol=1e-9,
                                   err_msg=f"k = {k}")
    # the last one is the dstate0 of one backward pass over the whole sequence
    h, cache, _ = module.layer_forward(p["x"], p["state0"], p["params"])
    dh = np.zeros_like(h)
    dh[-1] = dh_last
    np.testing.assert_allclose(grads[tau], module.layer_backward(dh, cache)[1], rtol=1e-12,
                               atol=1e-14)


def test_loss_gradient_norms_start_at_the_output_layer():
    K, H = 5, 6
    params = rnn.init_params(K, H, cell="gru", init="scaled", seed=2)
    ids = np.random.default_rng(2).integers(0, K, size=(9, 3))
    norms = loss_gradient_norms(params, ids[:-1], ids[-1])
    o, state = rnn.forward(params, ids[:-1])
    y_hat = rnn.softmax(o[-1])
    y_hat[np.arange(3), ids[-1]] -= 1.0  # dL/do(tau) = y_hat - e_y
    np.testing.assert_allclose(norms[0], np.linalg.norm(y_hat @ params["V"], axis=1), rtol=1e-12)


def test_decay_rate_recovers_a_geometric_series_and_skips_underflow():
    k = np.arange(30)
    norms = 3.0 * 0.7 ** k[:, None] * np.array([1.0, 2.0, 0.5])  # three sequences
    assert decay_rate(norms) == pytest.approx(0.7, rel=1e-12)
    assert decay_rate(norms[:, 0], start=0) == pytest.approx(0.7, rel=1e-12)
    norms[20:] = 0.0  # underflowed: no slope to read
    assert decay_rate(norms) == pytest.approx(0.7, rel=1e-12)
    with pytest.raises(ValueError, match="need at least 2 lags"):
        decay_rate(np.zeros(5))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"jacobian_products: W must be a square matrix \(H, H\)"):
        jacobian_products(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"jacobian_bound: h must have shape \(tau, H\)"):
        jacobian_bound(np.zeros((3, 4)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="state_gradients: cell must be one of"):
        state_gradients("elman", {}, np.zeros((2, 1, 3)), np.zeros((1, 1, 2)), np.zeros((1, 2)))
    two = rnn.init_params(4, 3, layers=2, seed=0)
    with pytest.raises(ValueError, match="loss_gradient_norms: params must be a one-layer model"):
        loss_gradient_norms(two, np.zeros((2, 1), np.int64), np.zeros(1, np.int64))
    one = rnn.init_params(4, 3, seed=0)
    with pytest.raises(ValueError, match=r"loss_gradient_norms: target must have shape \(B,\)"):
        loss_gradient_norms(one, np.zeros((2, 2), np.int64), np.zeros(3, np.int64))
