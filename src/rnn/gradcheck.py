"""A finite-difference gradient checker you can point at any function.

The idea: for a scalar function f and a small step eps, the central
difference

    (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

approximates df/dx_i with an error of order eps**2 (the first-order terms
cancel). Do this for every entry of an array and compare with the gradient
your backward pass computed. Work in float64: in float32 the rounding error
of f, divided by 2*eps, swamps the comparison.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

__all__ = ["numerical_gradient", "relative_error", "check_gradients"]


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Central-difference estimate of df/dx.

    Parameters
    ----------
    f : callable
        Takes no arguments and returns a scalar. It must read ``x`` (the
        array is perturbed in place, one entry at a time, and restored).
    x : ndarray of any shape, floating point
        The array to differentiate with respect to.
    eps : float, default 1e-5
        Step size. In float64, 1e-5 balances the truncation error
        (~eps**2) against the rounding error (~1e-16 * |f| / eps).

    Returns
    -------
    grad : ndarray of the shape of ``x``
        The estimate of df/dx.

    Raises
    ------
    ValueError
        If ``x`` is not a floating-point ndarray, or f does not return a scalar.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise ValueError("numerical_gradient: x must be a floating-point ndarray that f reads; "
                         f"got {type(x).__name__}" + (f" of dtype {x.dtype}" if hasattr(x, 'dtype') else ""))
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        try:
            x[idx] = old + eps
            f_plus = f()
            x[idx] = old - eps
            f_minus = f()
        finally:
            x[idx] = old  # restore before anything else can see the change, even if f raised
        if np.ndim(f_plus) != 0:
            raise ValueError("numerical_gradient: f must return a scalar; "
                             f"got shape {np.shape(f_plus)} (reduce it, e.g. with (out * dout).sum())")
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a, b) -> float:
    """Largest difference between two gradients, relative to their size.

    Computes ``max|a - b| / max(max|a|, max|b|)``: 0 for identical arrays,
    about 1e-16 for agreement to the last bit, 1 for unrelated ones.
    Scaling by the largest entry (rather than entry by entry) keeps entries
    that are almost zero from reporting a huge ratio of two rounding errors.

    Parameters
    ----------
    a, b : ndarray, same shape

    Returns
    -------
    error : float
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(np.abs(a).max(), np.abs(b).max())
    if scale == 0.0:
        return 0.0
    return float(np.abs(a - b).max() / scale)


def check_gradients(f: Callable[[], float], arrays: Mapping[str, np.ndarray],
                    grads: Mapping[str, np.ndarray], eps: float = 1e-5) -> dict:
    """Compare analytic gradients with central differences, array by array.

    Parameters
    ----------
    f : callable
        Takes no arguments, returns the scalar loss computed from ``arrays``.
    arrays : mapping of name to ndarray
        The inputs and parameters f reads (perturbed in place, then restored).
    grads : mapping of name to ndarray
        Your analytic gradient for each name in ``arrays``.
    eps : float, default 1e-5

    Returns
    -------
    errors : dict of name to float
        :func:`relative_error` for each array.
    """
    missing = set(arrays) - set(grads)
    if missing:
        raise ValueError(f"check_gradients: no analytic gradient given for {sorted(missing)}")
    return {name: relative_error(grads[name], numerical_gradient(f, x, eps))
            for name, x in arrays.items()}
