"""Plumbing shared by the gated cells (:mod:`rnn.lstm`, :mod:`rnn.gru`).

Both cells keep one ``U_*`` (H, D), ``W_*`` (H, H) and bias (H,) per gate in a
dict, stack them into fused arrays whose row blocks follow PyTorch's gate
order, run one matrix product per step for all gates, and after the
backward loop turn the pre-activation gradients of every step into weight
gradients with one product each. This module holds those shared pieces and
the logistic function both cells use; the cell modules hold the maths that
differs.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._checks import as_float_array, check_shape
from .initializers import init_weight

__all__ = ["sigmoid", "check_params", "check_sequence", "pack", "unpack", "param_grads",
           "init_layer", "param_shapes", "check_step"]


# --8<-- [start:sigmoid]
def sigmoid(a):
    """The logistic function σ(a) = 1 / (1 + exp(-a)), without overflow.

    ``exp(-a)`` overflows for a < -709 in float64; with ``e = exp(-|a|)``,
    which lies in (0, 1], σ(a) is ``1 / (1 + e)`` for a >= 0 and
    ``e / (1 + e)`` for a < 0, both accurate to the last bits.

    Parameters
    ----------
    a : ndarray, floating point, any shape

    Returns
    -------
    ndarray of the shape and dtype of ``a``, entries in [0, 1]
    """
    a = np.asarray(a)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0, e) / (1.0 + e)
# --8<-- [end:sigmoid]


def param_shapes(names: tuple, D: int, H: int) -> dict:
    """Shape of every parameter of one layer, read off its name: ``U_*`` (H, D),
    ``W_*`` (H, H), biases (H,)."""
    return {n: (H, D) if n.startswith("U") else (H, H) if n.startswith("W") else (H,)
            for n in names}


def init_layer(names: tuple, D: int, H: int, rng, scheme: str, dtype) -> dict:
    """Draw every weight of one layer in the order of ``names``; biases zero."""
    p = {}
    for name, shape in param_shapes(names, D, H).items():
        if len(shape) == 1:
            p[name] = np.zeros(shape, dtype)
        else:
            role = "input" if name.startswith("U") else "recurrent"
            p[name] = init_weight(role, shape, rng, scheme, dtype)
    return p


def check_params(func: str, params, names: tuple, cell: str):
    """Validate the parameter dict of one gated layer.

    ``names`` lists the required keys; H and D are read off the first,
    which must be a ``U_*`` matrix, and every other shape follows from its
    name (:func:`param_shapes`).

    Returns
    -------
    p : dict of str to ndarray
        The parameters as floating-point arrays.
    H, D : int
    """
    if not isinstance(params, Mapping):
        raise ValueError(f"{func}: params must be a dict with keys {list(names)}, "
                         f"got {type(params).__name__}")
    missing = [k for k in names if k not in params]
    if missing:
        raise ValueError(f"{func}: params is missing {missing}; {cell} needs the keys {list(names)}")
    extra = sorted(set(params) - set(names))
    if extra:
        raise ValueError(f"{func}: params has unexpected keys {extra}; {cell} needs exactly "
                         f"the keys {list(names)}")
    p = {k: as_float_array(func, f"params['{k}']", params[k]) for k in names}
    first = names[0]
    if p[first].ndim != 2:
        raise ValueError(f"{func}: params['{first}'] must have shape (H, D), got {p[first].shape}")
    H, D = p[first].shape
    labels = {(H, D): "(H, D)", (H, H): "(H, H)", (H,): "(H,)"}
    for k, shape in param_shapes(names, D, H).items():
        check_shape(func, f"params['{k}']", p[k], shape, labels[shape])
    return p, H, D


def _check_states(func: str, states: dict, B: int, H: int) -> list:
    checked = []
    for name, a in states.items():
        a = as_float_array(func, name, a)
        check_shape(func, name, a, (B, H), "(B, H)")
        checked.append(a)
    return checked


def check_step(func: str, x_t, states: dict, H: int, D: int):
    """Check the inputs (B, D) and states (B, H) of one step; return them as float arrays."""
    x_t = as_float_array(func, "x_t", x_t)
    check_shape(func, "x_t", x_t, (None, D), "(B, D)")
    return x_t, _check_states(func, states, x_t.shape[0], H)


def check_sequence(func: str, x, states: dict, H: int, D: int):
    """Check the inputs (T, B, D) and initial states (B, H) of a forward pass.

    Returns ``x``, the states as float arrays (in the order given), and T, B.
    """
    x = as_float_array(func, "x", x)
    check_shape(func, "x", x, (None, None, D), "(T, B, D)")
    T, B, _ = x.shape
    if T == 0:
        raise ValueError(f"{func}: x has T = 0 time steps; pass at least one step")
    return x, _check_states(func, states, B, H), T, B


def pack(params: dict, gates: tuple):
    """Stack per-gate arrays ``U_<g>``, ``W_<g>``, ``b_<g>`` for g in ``gates`` (copies)."""
    # --8<-- [start:pack]
    U_all = np.concatenate([params[f"U_{g}"] for g in gates])  # (n*H, D): gate blocks of rows
    W_all = np.concatenate([params[f"W_{g}"] for g in gates])  # (n*H, H)
    b_all = np.concatenate([params[f"b_{g}"] for g in gates])  # (n*H,)
    # --8<-- [end:pack]
    return U_all, W_all, b_all


def unpack(func: str, U_all, W_all, b_all, gates: tuple) -> dict:
    """Split fused arrays into per-gate *views* ``U_<g>``, ``W_<g>``, ``b_<g>`` (inverse of :func:`pack`)."""
    n = len(gates)
    U_all = as_float_array(func, "U_all", U_all)
    W_all = as_float_array(func, "W_all", W_all)
    b_all = as_float_array(func, "b_all", b_all)
    if U_all.ndim != 2 or U_all.shape[0] % n:
        raise ValueError(f"{func}: U_all must have shape ({n}H, D), got {U_all.shape}")
    H = U_all.shape[0] // n
    check_shape(func, "W_all", W_all, (n * H, H), f"({n}H, H)")
    check_shape(func, "b_all", b_all, (n * H,), f"({n}H,)")
    params = {}
    for k, g in enumerate(gates):
        rows = slice(k * H, (k + 1) * H)
        params[f"U_{g}"], params[f"W_{g}"], params[f"b_{g}"] = U_all[rows], W_all[rows], b_all[rows]
    return params


def param_grads(dax, dah, x, h0, h, U_all):
    """Weight gradients of a fused gated layer from its pre-activation gradients.

    Parameters
    ----------
    dax : ndarray of shape (T, B, nH)
        dL/d(input-side pre-activations) ``x(t) @ U_all.T + b_all`` of every step.
    dah : ndarray of shape (T, B, nH)
        dL/d(recurrent terms) ``h(t-1) @ W_all.T`` of every step (the same
        array as ``dax`` for the LSTM, where the two are simply added).
    x : ndarray of shape (T, B, D)
    h0 : ndarray of shape (B, H)
    h : ndarray of shape (T, B, H)
    U_all : ndarray of shape (nH, D)

    Returns
    -------
    dU_all (nH, D), dW_all (nH, H), db_all (nH,), dx (T, B, D)
    """
    T, B, H, D = *h.shape, x.shape[2]
    # --8<-- [start:param-grads]
    # the weight gradients need no loop: one product over all T*B rows each
    h_prev = np.concatenate([h0[None], h[:-1]])  # h(t-1) for every t, (T, B, H)
    dax2, dah2 = dax.reshape(T * B, -1), dah.reshape(T * B, -1)  # (T*B, nH): one row per (t, b)
    dU_all = dax2.T @ x.reshape(T * B, D)  # sum over t and the batch of da(t) x(t)^T
    dW_all = dah2.T @ h_prev.reshape(T * B, H)  # sum of da(t) h(t-1)^T
    db_all = dax2.sum(axis=0)  # sum of da(t)
    dx = (dax2 @ U_all).reshape(T, B, D)  # U_all^T da(t), the gradient for the layer below
    # --8<-- [end:param-grads]
    return dU_all, dW_all, db_all, dx
