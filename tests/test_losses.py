"""Tests of softmax, log-softmax, the cross-entropy loss and the output
layer: values against plain-Python references, gradients against central
finite differences in float64, numerical stability, and bad input."""

import math

import numpy as np
import pytest

# tests/reference.py sits next to this file; make it importable whatever pytest's import
# mode (pytest-markdown-docs imports test files as the package "tests.*").

import reference
from rnn.gradcheck import numerical_gradient, relative_error
from rnn.losses import log_softmax, output_backward, output_forward, softmax, softmax_cross_entropy

SEEDS = [0, 1, 2]
# leading shapes of o: (T, B) with T = 1 and B = 1 cases, plus a single vector
LEAD_SHAPES = [(1, 1), (3, 1), (1, 4), (3, 2), ()]

FD_TOL = 1e-7


def ce_fd_error(seed, lead, K, reduction):
    """Relative error of softmax_cross_entropy's do against central differences."""
    rng = np.random.default_rng(seed)
    o = rng.standard_normal(lead + (K,)) * 2.0
    y = rng.integers(0, K, size=lead)
    _, do = softmax_cross_entropy(o, y, reduction=reduction)
    num = numerical_gradient(lambda: softmax_cross_entropy(o, y, reduction=reduction)[0], o)
    assert do.shape == o.shape
    assert np.abs(num).max() > 1e-3
    return relative_error(do, num)


def output_fd_errors(seed, lead, H, K):
    """Relative errors of output_backward's dh, dV, dc; the scalar is sum(o * G)."""
    rng = np.random.default_rng(seed)
    arrays = {"h": rng.standard_normal(lead + (H,)),
              "V": rng.standard_normal((K, H)) * 0.5,
              "c": rng.standard_normal(K) * 0.5}
    G = rng.standard_normal(lead + (K,))

    def f():
        return float((output_forward(arrays["h"], arrays["V"], arrays["c"]) * G).sum())

    dh, dV, dc = output_backward(G, arrays["h"], arrays["V"])
    analytic = {"h": dh, "V": dV, "c": dc}
    errors = {}
    for name, x in arrays.items():
        num = numerical_gradient(f, x)
        assert analytic[name].shape == x.shape
        assert np.abs(num).max() > 1e-3
        errors[name] = relative_error(analytic[name], num)
    return errors


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("lead", LEAD_SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_cross_entropy_gradient_matches_finite_differences(seed, lead, reduction):
    assert ce_fd_error(seed, lead, 5, reduction) < FD_TOL


@pytest.mark.parametrize("lead", LEAD_SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_output_backward_matches_finite_differences(seed, lead):
    errors = output_fd_errors(seed, lead, 3, 4)
    assert set(errors) == {"h", "V", "c"}
    for name, err in errors.items():
        assert err < FD_TOL, (name, err)


@pytest.mark.parametrize("seed", SEEDS)
def test_cross_entropy_matches_plain_python(seed):
    rng = np.random.default_rng(seed)
    T, B, K = 3, 2, 4
    o = rng.standard_normal((T, B, K)) * 3
    y = rng.integers(0, K, size=(T, B))
    o_list = reference.to_list(o)
    expected = sum(reference.cross_entropy(o_list[t][n], int(y[t, n]))
                   for t in range(T) for n in range(B))
    loss, do = softmax_cross_entropy(o, y)
    assert isinstance(loss, float)
    assert loss == pytest.approx(expected, rel=1e-13)
    mean_loss, do_mean = softmax_cross_entropy(o, y, reduction="mean")
    assert mean_loss == pytest.approx(expected / (T * B), rel=1e-13)
    # dL/do = softmax(o) - onehot(y), worked entry by entry
    for t in range(T):
        for n in range(B):
            p = reference.softmax(o_list[t][n])
            want = [p[k] - (1.0 if k == y[t, n] else 0.0) for k in range(K)]
            np.testing.assert_allclose(do[t, n], want, rtol=0, atol=1e-15)
            np.testing.assert_allclose(do_mean[t, n], np.array(want) / (T * B), rtol=0, atol=1e-15)


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_matches_plain_python_and_sums_to_one(seed):
    rng = np.random.default_rng(seed)
    o = rng.standard_normal((2, 3, 6)) * 4
    p = softmax(o)
    assert p.shape == o.shape
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=0, atol=1e-15)
    assert np.all(p > 0)
    for idx in np.ndindex(o.shape[:-1]):
        np.testing.assert_allclose(p[idx], reference.softmax(o[idx].tolist()), rtol=1e-14)


@pytest.mark.parametrize("seed", SEEDS)
def test_log_softmax_is_log_of_softmax(seed):
    rng = np.random.default_rng(seed)
    o = rng.standard_normal((4, 5)) * 3
    np.testing.assert_allclose(log_softmax(o), np.log(softmax(o)), rtol=1e-13, atol=1e-14)
    # and log-softmax by its definition o_k - log sum_j exp(o_j)
    for row, lrow in zip(o, log_softmax(o)):
        lse = math.log(sum(math.exp(v) for v in row))
        np.testing.assert_allclose(lrow, [v - lse for v in row], rtol=0, atol=1e-13)


def test_softmax_is_stable_for_huge_logits():
    o = np.array([[1000.0, -1000.0, 0.0],
                  [1000.0, 1000.0, 1000.0],
                  [-1000.0, -1000.0, -999.0]])
    p = softmax(o)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p[0], [1.0, 0.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=1e-15)
    e = math.exp(1.0)
    np.testing.assert_allclose(p[2], [1 / (2 + e), 1 / (2 + e), e / (2 + e)], rtol=1e-15)
    logp = log_softmax(o)
    assert np.all(np.isfinite(logp))
    np.testing.assert_allclose(logp[0], [0.0, -2000.0, -1000.0], rtol=1e-15)
    np.testing.assert_allclose(logp[1], [-math.log(3)] * 3, rtol=1e-15)


def test_cross_entropy_is_stable_for_huge_logits():
    o = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    y = np.array([1, 1])
    loss, do = softmax_cross_entropy(o, y)
    assert math.isfinite(loss)
    assert loss == pytest.approx(2000.0, rel=1e-15)  # -log softmax = 2000 for row 0, 0 for row 1
    assert np.all(np.isfinite(do))
    np.testing.assert_allclose(do, [[1.0, -1.0], [0.0, 0.0]], atol=1e-300)


def test_softmax_is_shift_invariant():
    o = np.random.default_rng(8).standard_normal((3, 4))
    np.testing.assert_allclose(softmax(o + 123.0), softmax(o), rtol=1e-12)


def test_mean_is_sum_over_positions():
    rng = np.random.default_rng(9)
    o = rng.standard_normal((4, 3, 5))
    y = rng.integers(0, 5, (4, 3))
    s, do_s = softmax_cross_entropy(o, y, reduction="sum")
    m, do_m = softmax_cross_entropy(o, y, reduction="mean")
    assert m == pytest.approx(s / 12, rel=1e-14)
    np.testing.assert_allclose(do_m, do_s / 12, rtol=1e-14)


@pytest.mark.parametrize("seed", SEEDS)
def test_output_forward_matches_plain_python(seed):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((2, 3, 4))
    V = rng.standard_normal((5, 4))
    c = rng.standard_normal(5)
    o = output_forward(h, V, c)
    assert o.shape == (2, 3, 5)
    V_l, c_l = reference.to_list(V), reference.to_list(c)
    for idx in np.ndindex(2, 3):
        np.testing.assert_allclose(o[idx], reference.output_forward(h[idx].tolist(), V_l, c_l),
                                   rtol=0, atol=1e-14)


def test_float32_in_float32_out():
    rng = np.random.default_rng(10)
    o = rng.standard_normal((2, 3, 4)).astype(np.float32)
    y = rng.integers(0, 4, (2, 3))
    assert softmax(o).dtype == np.float32
    assert log_softmax(o).dtype == np.float32
    for reduction in ("sum", "mean"):
        loss, do = softmax_cross_entropy(o, y, reduction=reduction)
        assert isinstance(loss, float)
        assert do.dtype == np.float32
    h = rng.standard_normal((2, 3, 5)).astype(np.float32)
    V = rng.standard_normal((4, 5)).astype(np.float32)
    c = np.zeros(4, np.float32)
    assert output_forward(h, V, c).dtype == np.float32
    for g in output_backward(o, h, V):
        assert g.dtype == np.float32


# ---------------------------------------------------------------- bad input

def test_cross_entropy_float_targets():
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: y must hold integer class ids, got dtype float64"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))


@pytest.mark.parametrize("bad", [3, -1, 7])
def test_cross_entropy_target_out_of_range(bad):
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: y holds ids in .* must lie in \[0, 2\] for K = 3"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, bad]))


def test_cross_entropy_target_shape_mismatch():
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: y must have shape \(2, 3\).*got \(3, 2\)"):
        softmax_cross_entropy(np.zeros((2, 3, 4)), np.zeros((3, 2), dtype=int))
    with pytest.raises(ValueError, match=r"y must have shape \(2,\).*got \(2, 1\)"):
        softmax_cross_entropy(np.zeros((2, 4)), np.zeros((2, 1), dtype=int))


@pytest.mark.parametrize("reduction", ["avg", "none", None, "Sum"])
def test_cross_entropy_bad_reduction(reduction):
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: reduction must be 'sum' or 'mean'"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1]), reduction=reduction)


def test_cross_entropy_scalar_or_integer_logits():
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: o must have shape \(\.\.\., K\)"):
        softmax_cross_entropy(np.float64(1.0), np.array(0))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: o must be a floating-point array"):
        softmax_cross_entropy(np.zeros((2, 3), dtype=int), np.array([0, 1]))


def test_log_softmax_bad_input():
    with pytest.raises(ValueError, match=r"log_softmax: o must have shape \(\.\.\., K\) with K >= 1, got \(2, 0\)"):
        log_softmax(np.zeros((2, 0)))
    with pytest.raises(ValueError, match=r"log_softmax: o must be a floating-point array"):
        softmax(np.array([1, 2, 3]))


def test_output_forward_bad_shapes():
    h, V, c = np.zeros((2, 3, 4)), np.zeros((5, 4)), np.zeros(5)
    with pytest.raises(ValueError, match=r"output_forward: V must have shape \(K, H\), got \(4,\)"):
        output_forward(h, np.zeros(4), c)
    with pytest.raises(ValueError, match=r"output_forward: c must have shape \(K,\) = \(5,\), got \(4,\)"):
        output_forward(h, V, np.zeros(4))
    with pytest.raises(ValueError, match=r"output_forward: h must have shape \(\.\.\., H\) with H = 4.*got \(2, 3, 5\)"):
        output_forward(np.zeros((2, 3, 5)), V, c)
    with pytest.raises(ValueError, match=r"output_forward: h must be a floating-point array"):
        output_forward(h.astype(int), V, c)


def test_output_backward_bad_shapes():
    h, V = np.zeros((2, 3, 4)), np.zeros((5, 4))
    with pytest.raises(ValueError, match=r"output_backward: V must have shape \(K, H\), got \(5, 4, 1\)"):
        output_backward(np.zeros((2, 3, 5)), h, np.zeros((5, 4, 1)))
    with pytest.raises(ValueError, match=r"output_backward: do must have shape \(\.\.\., K\).*K = 5, H = 4; got do \(2, 3, 4\), h \(2, 3, 4\)"):
        output_backward(np.zeros((2, 3, 4)), h, V)
    with pytest.raises(ValueError, match=r"output_backward: .*same leading axes.*got do \(3, 2, 5\), h \(2, 3, 4\)"):
        output_backward(np.zeros((3, 2, 5)), h, V)
    with pytest.raises(ValueError, match=r"output_backward: .*got do \(2, 3, 5\), h \(2, 3, 3\)"):
        output_backward(np.zeros((2, 3, 5)), np.zeros((2, 3, 3)), V)
