"""Tests of the vanilla RNN cell: forward values against a plain-Python
reference, every BPTT gradient against central finite differences in
float64, dtypes, and the error messages for bad input."""


import numpy as np
import pytest

# tests/reference.py sits next to this file; make it importable whatever pytest's import
# mode (pytest-markdown-docs imports test files as the package "tests.*").

import reference
from rnn.gradcheck import numerical_gradient, relative_error
from rnn.rnn_cell import RNNCache, rnn_backward, rnn_forward, rnn_step

SEEDS = [0, 1, 2]
# (T, B, D, H): includes a single step and a single sequence.
SHAPES = [(1, 1, 3, 2), (4, 1, 2, 3), (3, 2, 3, 4), (5, 3, 2, 2)]

FD_TOL = 1e-7


def random_problem(seed, T, B, D, H, scale=0.5):
    """Inputs, state, weights ~ N(0, scale^2) and a fixed upstream gradient G."""
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((T, B, D)),
        "h0": rng.standard_normal((B, H)) * scale,
        "U": rng.standard_normal((H, D)) * scale,
        "W": rng.standard_normal((H, H)) * scale,
        "b": rng.standard_normal(H) * scale,
        "G": rng.standard_normal((T, B, H)),
    }


def rnn_fd_errors(seed, shape):
    """Relative error of each rnn_backward gradient against central differences.

    The scalar is f = sum(h * G), so dL/dh = G is the upstream gradient.
    """
    p = random_problem(seed, *shape)
    arrays = {k: p[k] for k in ("x", "h0", "U", "W", "b")}

    def f():
        h, _ = rnn_forward(arrays["x"], arrays["h0"], arrays["U"], arrays["W"], arrays["b"])
        return float((h * p["G"]).sum())

    _, cache = rnn_forward(**arrays)
    dx, dh0, dU, dW, db = rnn_backward(p["G"], cache)
    analytic = {"x": dx, "h0": dh0, "U": dU, "W": dW, "b": db}
    errors = {}
    for name, x in arrays.items():
        num = numerical_gradient(f, x)
        assert analytic[name].shape == x.shape, name
        # the gradients must not be trivially small, or the comparison means little
        assert np.abs(num).max() > 1e-3, name
        errors[name] = relative_error(analytic[name], num)
    return errors


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_rnn_backward_matches_finite_differences(seed, shape):
    errors = rnn_fd_errors(seed, shape)
    assert set(errors) == {"x", "h0", "U", "W", "b"}
    for name, err in errors.items():
        assert err < FD_TOL, (name, err)


def test_finite_differences_detect_a_truncated_gradient():
    # Sanity check of the method: a dU that ignores the path through time
    # (no dh_next) must fail the same comparison that rnn_backward passes.
    p = random_problem(0, 4, 2, 3, 3)
    U = p["U"]

    def f():
        h, _ = rnn_forward(p["x"], p["h0"], U, p["W"], p["b"])
        return float((h * p["G"]).sum())

    h, cache = rnn_forward(p["x"], p["h0"], U, p["W"], p["b"])
    dU_local = sum((p["G"][t] * (1 - h[t] ** 2)).T @ p["x"][t] for t in range(4))
    dU_numerical = numerical_gradient(f, U)
    assert relative_error(dU_local, dU_numerical) > 1e-2
    # ... which rnn_backward's dU, which does carry the gradient back, passes
    assert relative_error(rnn_backward(p["G"], cache)[2], dU_numerical) < FD_TOL


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_rnn_forward_matches_plain_python_reference(seed, shape):
    p = random_problem(seed, *shape)
    h, cache = rnn_forward(p["x"], p["h0"], p["U"], p["W"], p["b"])
    expected = reference.rnn_forward(*(reference.to_list(p[k]) for k in ("x", "h0", "U", "W", "b")))
    assert h.shape == shape[:2] + (shape[3],)
    np.testing.assert_allclose(h, np.array(expected), rtol=0, atol=1e-14)
    assert isinstance(cache, RNNCache)
    assert cache.h is h


def test_rnn_forward_hand_worked_single_unit():
    # H = D = B = 1: h(t) = tanh(b + w h(t-1) + u x(t)), worked step by step.
    import math

    u, w, b, h0 = 2.0, -0.5, 0.25, 0.3
    xs = [1.0, -1.0, 0.5]
    h1 = math.tanh(b + w * h0 + u * xs[0])
    h2 = math.tanh(b + w * h1 + u * xs[1])
    h3 = math.tanh(b + w * h2 + u * xs[2])
    h, _ = rnn_forward(np.array(xs).reshape(3, 1, 1), np.array([[h0]]),
                       np.array([[u]]), np.array([[w]]), np.array([b]))
    np.testing.assert_allclose(h.ravel(), [h1, h2, h3], rtol=0, atol=1e-15)


@pytest.mark.parametrize("seed", SEEDS)
def test_rnn_step_repeated_equals_rnn_forward(seed):
    p = random_problem(seed, 5, 3, 4, 3)
    h, _ = rnn_forward(p["x"], p["h0"], p["U"], p["W"], p["b"])
    h_t = p["h0"]
    for t in range(5):
        h_t = rnn_step(p["x"][t], h_t, p["U"], p["W"], p["b"])
        np.testing.assert_allclose(h_t, h[t], rtol=0, atol=1e-15)


def test_rnn_step_with_large_weights_saturates_like_the_reference():
    p = random_problem(0, 1, 4, 3, 5, scale=3.0)
    h_t = rnn_step(p["x"][0], p["h0"], p["U"], p["W"], p["b"])
    expected = reference.rnn_forward(*(reference.to_list(a) for a in (
        p["x"][:1], p["h0"], p["U"], p["W"], p["b"])))[0]
    assert h_t.shape == (4, 5)
    np.testing.assert_allclose(h_t, np.array(expected), rtol=0, atol=1e-13)
    assert np.all(np.abs(h_t) <= 1.0)
    assert np.mean(np.abs(h_t) > 0.99) > 0.3  # large weights push most units to +-1


def test_float32_in_float32_out():
    p = {k: v.astype(np.float32) for k, v in random_problem(1, 3, 2, 4, 3).items()}
    h_t = rnn_step(p["x"][0], p["h0"], p["U"], p["W"], p["b"])
    assert h_t.dtype == np.float32
    h, cache = rnn_forward(p["x"], p["h0"], p["U"], p["W"], p["b"])
    assert h.dtype == np.float32
    grads = rnn_backward(p["G"], cache)
    for g in grads:
        assert g.dtype == np.float32
    # and float32 results agree with float64 to float32 precision
    p64 = {k: v.astype(np.float64) for k, v in p.items()}
    h64, cache64 = rnn_forward(p64["x"], p64["h0"], p64["U"], p64["W"], p64["b"])
    np.testing.assert_allclose(h, h64, rtol=0, atol=1e-5)
    for g32, g64 in zip(grads, rnn_backward(p64["G"], cache64)):
        assert relative_error(g32, g64) < 1e-5


def test_rnn_backward_zero_upstream_gives_zero_gradients():
    p = random_problem(2, 3, 2, 2, 3)
    _, cache = rnn_forward(p["x"], p["h0"], p["U"], p["W"], p["b"])
    for g in rnn_backward(np.zeros((3, 2, 3)), cache):
        assert not np.any(g)


# ---------------------------------------------------------------- bad input

B, D, H = 3, 4, 5


@pytest.fixture
def ok():
    rng = np.random.default_rng(0)
    return {
        "x_t": rng.standard_normal((B, D)),
        "x": rng.standard_normal((2, B, D)),
        "h0": np.zeros((B, H)),
        "U": rng.standard_normal((H, D)),
        "W": rng.standard_normal((H, H)),
        "b": np.zeros(H),
    }


def test_rnn_step_wrong_x_t_shape(ok):
    with pytest.raises(ValueError, match=r"rnn_step: x_t must have shape \(B, D\) = \(\?, 4\), got \(3, 5\)"):
        rnn_step(np.zeros((B, D + 1)), ok["h0"], ok["U"], ok["W"], ok["b"])
    with pytest.raises(ValueError, match=r"x_t must have shape \(B, D\).*got \(4,\)"):
        rnn_step(np.zeros(D), ok["h0"], ok["U"], ok["W"], ok["b"])


def test_rnn_step_wrong_h_prev_shape(ok):
    with pytest.raises(ValueError, match=r"rnn_step: h_prev must have shape \(B, H\) = \(3, 5\), got \(2, 5\)"):
        rnn_step(ok["x_t"], np.zeros((2, H)), ok["U"], ok["W"], ok["b"])


def test_rnn_step_wrong_U_shape(ok):
    with pytest.raises(ValueError, match=r"rnn_step: U must have shape \(H, D\), got \(5,\)"):
        rnn_step(ok["x_t"], ok["h0"], np.zeros(H), ok["W"], ok["b"])
    # U of the wrong width is caught through x_t (D is read off U)
    with pytest.raises(ValueError, match=r"x_t must have shape \(B, D\) = \(\?, 2\), got \(3, 4\)"):
        rnn_step(ok["x_t"], ok["h0"], np.zeros((H, 2)), ok["W"], ok["b"])


def test_rnn_step_wrong_W_shape(ok):
    with pytest.raises(ValueError, match=r"rnn_step: W must have shape \(H, H\) = \(5, 5\), got \(5, 4\)"):
        rnn_step(ok["x_t"], ok["h0"], ok["U"], np.zeros((H, H - 1)), ok["b"])


def test_rnn_step_wrong_b_shape(ok):
    with pytest.raises(ValueError, match=r"rnn_step: b must have shape \(H,\) = \(5,\), got \(1, 5\)"):
        rnn_step(ok["x_t"], ok["h0"], ok["U"], ok["W"], np.zeros((1, H)))


@pytest.mark.parametrize("name", ["x_t", "h_prev", "U", "W", "b"])
def test_rnn_step_integer_input(ok, name):
    args = {"x_t": ok["x_t"], "h_prev": ok["h0"], "U": ok["U"], "W": ok["W"], "b": ok["b"]}
    args[name] = np.ones(args[name].shape, dtype=np.int64)
    with pytest.raises(ValueError, match=rf"rnn_step: {name} must be a floating-point array.*got dtype int64"):
        rnn_step(**args)


def test_rnn_forward_zero_steps(ok):
    with pytest.raises(ValueError, match=r"rnn_forward: x has T = 0 time steps"):
        rnn_forward(np.zeros((0, B, D)), ok["h0"], ok["U"], ok["W"], ok["b"])


def test_rnn_forward_h0_batch_mismatch(ok):
    with pytest.raises(ValueError, match=r"rnn_forward: h0 must have shape \(B, H\) = \(3, 5\), got \(2, 5\)"):
        rnn_forward(ok["x"], np.zeros((2, H)), ok["U"], ok["W"], ok["b"])


def test_rnn_forward_wrong_x_rank(ok):
    with pytest.raises(ValueError, match=r"rnn_forward: x must have shape \(T, B, D\) = \(\?, \?, 4\), got \(3, 4\)"):
        rnn_forward(ok["x_t"], ok["h0"], ok["U"], ok["W"], ok["b"])


def test_rnn_forward_integer_x(ok):
    with pytest.raises(ValueError, match=r"rnn_forward: x must be a floating-point array"):
        rnn_forward(ok["x"].astype(np.int32), ok["h0"], ok["U"], ok["W"], ok["b"])


def test_rnn_backward_wrong_dh_shape(ok):
    _, cache = rnn_forward(ok["x"], ok["h0"], ok["U"], ok["W"], ok["b"])
    with pytest.raises(ValueError, match=r"rnn_backward: dh must have shape \(T, B, H\) = \(2, 3, 5\), got \(2, 3, 4\)"):
        rnn_backward(np.zeros((2, B, H - 1)), cache)
    with pytest.raises(ValueError, match=r"dh must have shape \(T, B, H\) = \(2, 3, 5\), got \(3, 5\)"):
        rnn_backward(np.zeros((B, H)), cache)


def test_rnn_backward_wrong_cache(ok):
    h, cache = rnn_forward(ok["x"], ok["h0"], ok["U"], ok["W"], ok["b"])
    with pytest.raises(ValueError, match=r"rnn_backward: cache must be the RNNCache returned by rnn_forward, got tuple"):
        rnn_backward(np.zeros_like(h), tuple(cache))
    with pytest.raises(ValueError, match=r"cache must be the RNNCache.*got ndarray"):
        rnn_backward(np.zeros_like(h), h)
