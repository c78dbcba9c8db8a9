"""Tests of the finite-difference checker itself, on functions whose
gradients are known in closed form. The other test files trust this module,
so it is checked against calculus rather than against the package."""

import numpy as np
import pytest

from rnn.gradcheck import check_gradients, numerical_gradient, relative_error


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numerical_gradient_of_sum_of_sines_is_cosine(seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, size=(3, 4))
    grad = numerical_gradient(lambda: np.sin(x).sum(), x)
    assert grad.shape == x.shape
    assert relative_error(grad, np.cos(x)) < 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numerical_gradient_of_quadratic_form(seed):
    # f(x) = x^T A x + a^T x has gradient (A + A^T) x + a, for any (non-symmetric) A.
    rng = np.random.default_rng(seed)
    n = 5
    A = rng.standard_normal((n, n))
    a = rng.standard_normal(n)
    x = rng.standard_normal(n)
    grad = numerical_gradient(lambda: x @ A @ x + a @ x, x)
    assert relative_error(grad, (A + A.T) @ x + a) < 1e-9


def test_central_difference_error_is_second_order():
    # For f = sum(x^3): (f(x+e) - f(x-e)) / 2e = 3x^2 + e^2 exactly, so the
    # estimate must exceed the true gradient by eps^2 (central, not one-sided).
    x = np.array([0.5, -1.0, 2.0])
    for eps in (1e-2, 1e-3):
        grad = numerical_gradient(lambda: (x ** 3).sum(), x, eps=eps)
        np.testing.assert_allclose(grad - 3 * x ** 2, eps ** 2, rtol=1e-4)


def test_numerical_gradient_restores_the_array():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 2))
    before = x.copy()
    seen = []

    def f():
        seen.append(x.copy())
        return float((x ** 2).sum())

    numerical_gradient(f, x)
    np.testing.assert_array_equal(x, before)  # bit for bit, not just close
    # every call saw exactly one entry moved away from the original
    assert len(seen) == 2 * x.size
    for snapshot in seen:
        assert np.count_nonzero(snapshot != before) == 1


def test_numerical_gradient_restores_the_array_when_f_raises():
    x = np.arange(4, dtype=np.float64)
    before = x.copy()

    def f():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_float32_array_gives_float64_estimate():
    x = np.linspace(-1, 1, 5).astype(np.float32)
    grad = numerical_gradient(lambda: float((x.astype(np.float64) ** 2).sum()), x, eps=1e-2)
    assert grad.dtype == np.float64
    assert x.dtype == np.float32


def test_numerical_gradient_rejects_non_float_array():
    with pytest.raises(ValueError, match="x must be a floating-point ndarray"):
        numerical_gradient(lambda: 0.0, np.arange(3))
    with pytest.raises(ValueError, match="x must be a floating-point ndarray"):
        numerical_gradient(lambda: 0.0, [1.0, 2.0])


def test_numerical_gradient_rejects_non_scalar_f_and_restores():
    x = np.ones(3)
    with pytest.raises(ValueError, match="f must return a scalar"):
        numerical_gradient(lambda: x * 2.0, x)
    np.testing.assert_array_equal(x, np.ones(3))


def test_relative_error_zero_for_equal_arrays():
    a = np.random.default_rng(4).standard_normal((3, 2))
    assert relative_error(a, a.copy()) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.zeros((0, 2)), np.zeros((0, 2))) == 0.0


def test_relative_error_is_max_difference_over_max_scale():
    a = np.array([1.0, -4.0, 2.0])
    b = np.array([1.5, -4.0, 1.0])
    # max|a-b| = 1, max(max|a|, max|b|) = 4
    assert relative_error(a, b) == pytest.approx(0.25, abs=1e-15)
    assert relative_error(b, a) == relative_error(a, b)
    # the scale is the larger of the two maxima, so the error is symmetric
    assert relative_error([1.0, 0.0], [1.0, 8.0]) == pytest.approx(1.0, abs=1e-15)
    assert relative_error([1.0, 8.0], [1.0, 0.0]) == pytest.approx(1.0, abs=1e-15)


def test_relative_error_about_one_for_unrelated_arrays():
    rng = np.random.default_rng(5)
    a = rng.standard_normal(1000)
    assert relative_error(a, np.zeros_like(a)) == 1.0
    # a backward pass that returns all zeros must not look perfect, whichever side it is on
    assert relative_error(np.zeros_like(a), a) == 1.0
    err = relative_error(a, rng.standard_normal(1000))
    assert 0.3 < err <= 2.0
    assert relative_error(a, -a) == 2.0


def test_relative_error_is_scale_invariant():
    rng = np.random.default_rng(6)
    a = rng.standard_normal(10)
    b = a + 1e-6 * rng.standard_normal(10)
    e = relative_error(a, b)
    assert relative_error(1e-8 * a, 1e-8 * b) == pytest.approx(e, rel=1e-6)
    assert relative_error(1e8 * a, 1e8 * b) == pytest.approx(e, rel=1e-6)


def test_relative_error_shape_mismatch():
    with pytest.raises(ValueError, match=r"same shape, got \(3,\) and \(1, 3\)"):
        relative_error(np.zeros(3), np.zeros((1, 3)))


def test_check_gradients_small_for_correct_and_large_for_wrong_gradients():
    rng = np.random.default_rng(7)
    x = rng.standard_normal(4)
    y = rng.standard_normal((2, 3))

    def f():
        return np.sin(x).sum() + (y ** 2).sum() * x[0]

    correct = {"x": np.cos(x) + np.eye(4)[0] * (y ** 2).sum(), "y": 2 * y * x[0]}
    errors = check_gradients(f, {"x": x, "y": y}, correct)
    assert set(errors) == {"x", "y"}
    assert max(errors.values()) < 1e-8

    wrong = {"x": np.cos(x), "y": 2 * y * x[0]}  # forgets the x[0] term
    errors = check_gradients(f, {"x": x, "y": y}, wrong)
    assert errors["x"] > 1e-2
    assert errors["y"] < 1e-8


def test_check_gradients_requires_every_gradient():
    x = np.ones(2)
    with pytest.raises(ValueError, match=r"no analytic gradient given for \['x'\]"):
        check_gradients(lambda: x.sum(), {"x": x}, {})
