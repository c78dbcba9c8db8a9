"""The fast vanilla RNN layer: what :func:`rnn.rnn_cell.layer_forward` and
:func:`rnn.rnn_cell.layer_backward` run (training, evaluation, sampling).

It computes the numbers of :func:`rnn.rnn_cell.rnn_forward` and
:func:`rnn.rnn_cell.rnn_backward` (tests/test_fast.py checks them equal to
1e-12 in float64) with the techniques of :mod:`rnn._fast`:

* one buffer ``hs`` (T+1, B, H) holds h(0), h(1), ..., h(T); the input terms
  U x(t) + b of all steps are written into ``hs[1:]`` before the loop (a
  gather for token ids), and each step finishes its slot in place, so the
  forward pass stores T*B*H numbers and allocates nothing inside the loop;
* the backward pass writes 1 - h(t)^2 for all steps into ``da`` first and
  each step multiplies its slot by dL/dh(t) in place: three NumPy calls a
  step (the product with W, the add, the multiply);
* dL/dW is one product after the loop, ``da^T hs[:-1]`` over all T*B rows,
  and dL/dU a product with the inputs (or with the one-hot rows of the ids).

Peak memory of a forward and backward pass: ``hs`` and ``da``, 2*T*B*H
numbers, plus (B, H) temporaries.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _fast
from ._checks import as_float_array, check_cache, check_shape, split_state_grad

__all__ = ["RNNFastCache", "RNNWeights", "prepare", "forward", "layer_forward", "layer_backward"]


class RNNFastCache(NamedTuple):
    """What the fast :func:`layer_forward` keeps for :func:`layer_backward`.

    Attributes
    ----------
    x : ndarray of shape (T, B, D), or (T, B) of token ids
        The inputs, as given.
    ids : bool
        True if ``x`` holds token ids.
    hs : ndarray of shape (T+1, B, H)
        h(0) (the initial state) followed by every hidden state.
    U : ndarray of shape (H, D)
    W : ndarray of shape (H, H)
        The weights, in the dtype of the computation.
    """

    x: np.ndarray
    ids: bool
    hs: np.ndarray
    U: np.ndarray
    W: np.ndarray


def _params(params, D=None):
    """U, W, b after a cheap check; any problem is reported by the reference check."""
    try:
        U, W, b = params["U"], params["W"], params["b"]
        H = W.shape[0]
        ok = (len(params) == 3 and U.ndim == 2 and U.shape[0] == H and W.shape == (H, H)
              and b.shape == (H,) and U.dtype.kind == W.dtype.kind == b.dtype.kind == "f")
    except (KeyError, AttributeError, TypeError):
        ok = False
    if not ok:
        from .rnn_cell import _check_params

        if not isinstance(params, dict) or set(params) != {"U", "W", "b"}:
            raise ValueError(f"layer_forward: params must be a dict with the keys ['U', 'W', 'b'], "
                             f"got {sorted(params) if isinstance(params, dict) else type(params).__name__}")
        _check_params("layer_forward", params["U"], params["W"], params["b"])
    return U, W, b


class RNNWeights(NamedTuple):
    """One layer's weights as the fast forward pass reads them (:func:`prepare`)."""

    U: np.ndarray  # (H, D)
    UT: np.ndarray  # (D, H): U.T, a contiguous copy if the layer reads token ids (rows to gather)
    W: np.ndarray  # (H, H)
    b: np.ndarray  # (H,)


def prepare(params, dtype, ids: bool = False) -> RNNWeights:
    """The weights of one layer in ``dtype``, laid out for :func:`forward` (after a check)."""
    return _prepare(*_params(params), dtype, ids)


def _prepare(U, W, b, dtype, ids):
    U, W, b = (a.astype(dtype, copy=False) for a in (U, W, b))
    return RNNWeights(U, np.ascontiguousarray(U.T) if ids else U.T, W, b)


def layer_forward(x, state0, params):
    """The vanilla layer over a sequence: h (T, B, H), the cache and the state (1, B, H).

    See :func:`rnn.rnn_cell.layer_forward`.
    """
    func = "layer_forward"
    U, W, b = _params(params)
    H, D = U.shape
    x, ids, T, B = _fast.layer_inputs(func, x, D)
    state0 = _fast.check_state0(func, state0, 1, B, H)
    dtype = _fast.compute_dtype(x, ids, (state0, U, W, b))
    return forward(_prepare(U, W, b, dtype, ids), x if ids else x.astype(dtype, copy=False), ids,
                   state0)


def forward(weights: RNNWeights, x, ids: bool, state0):
    """:func:`layer_forward` after the checks: prepared weights, x and state0 (1, B, H) as given."""
    U, UT, W, b = weights
    T, B = x.shape[:2]
    H = W.shape[0]
    dtype = W.dtype
    # --8<-- [start:fast-forward]
    hs = np.empty((T + 1, B, H), dtype)  # hs[0] = h(0), hs[t+1] = h(t+1): all T*B*H we keep
    hs[0] = state0[0]
    _fast.input_term(x, ids, UT, b, out=hs[1:].reshape(T * B, H))  # U x(t) + b for every t at once
    WT = W.T
    a = np.empty((B, H), dtype)  # the one temporary of the loop
    views = list(hs)  # views made once: the loop only calls NumPy
    for h_prev, h_t in zip(views, views[1:]):
        h_prev.dot(WT, out=a)  # W h(t-1) (the method, unlike np.dot, has no dispatch layer)
        np.add(a, h_t, out=h_t)  # + U x(t) + b, already in place
        np.tanh(h_t, out=h_t)  # h(t) = tanh(b + W h(t-1) + U x(t))
    # --8<-- [end:fast-forward]
    return hs[1:], RNNFastCache(x, ids, hs, U, W), hs[T][None]


def layer_backward(dh, cache, dstate=None):
    """BPTT for the fast :func:`layer_forward`: dx, dstate0 (1, B, H) and the gradients.

    See :func:`rnn.rnn_cell.layer_backward`; dx is None if the layer read token ids.
    """
    func = "layer_backward"
    check_cache(func, cache, RNNFastCache, "layer_forward")
    x, ids, hs, U, W = cache
    T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    dh = as_float_array(func, "dh", dh)
    check_shape(func, "dh", dh, (T, B, H), "(T, B, H)")
    (dh_last,) = split_state_grad(func, dstate, 1, B, H)
    # --8<-- [start:fast-backward]
    da = np.multiply(hs[1:], hs[1:])  # (T, B, H), becomes dL/da(t) in place:
    np.subtract(1.0, da, out=da)  # first tanh'(a(t)) = 1 - h(t)^2 for every t at once
    g = np.empty((B, H), da.dtype)  # dL/dh(t), the one temporary of the loop
    if dh_last is None:
        g[...] = dh[T - 1]
    else:
        np.add(dh[T - 1], dh_last, out=g)  # a gradient on h(T) from outside the layer
    views = list(da)
    views[T - 1] *= g
    for da_next, da_t, dh_t in zip(views[:0:-1], views[-2::-1], dh[-2::-1]):
        da_next.dot(W, out=g)  # W^T dL/da(t+1): through h(t+1)
        np.add(g, dh_t, out=g)  # + the gradient from above: dL/dh(t)
        da_t *= g  # dL/da(t) = (1 - h(t)^2) * dL/dh(t)
    dh0 = views[0].dot(W)  # dL/dh(0)
    da2 = da.reshape(T * B, H)  # one row per (t, b): the weight gradients as single products
    dW = da2.T.dot(hs[:-1].reshape(T * B, H))  # sum_t dL/da(t) h(t-1)^T
    dU, db, dx = _fast.input_grads(x, ids, da2, U)
    # --8<-- [end:fast-backward]
    return dx, dh0[None], {"U": dU, "W": dW, "b": db}
