"""The vanilla (Elman) recurrent cell: one step, the forward pass over a
sequence, and backpropagation through time.

Notation follows Goodfellow, Bengio & Courville, *Deep Learning*, ch. 10::

    a(t) = b + W h(t-1) + U x(t)
    h(t) = tanh(a(t))

Arrays are time-major and a batch is stored as rows, so in code the
matrix-vector products become ``x_t @ U.T`` and ``h_prev @ W.T``.

Shapes: ``T`` steps, ``B`` sequences in a batch, ``D`` inputs, ``H`` hidden units.

This is the reference implementation used for teaching: one loop over time,
one line per equation. The chapter "Backpropagation through time" includes
the code below section by section.

The layer protocol
------------------
Every cell module (this one, :mod:`rnn.lstm`, :mod:`rnn.gru`) exposes the same
five names, through which :mod:`rnn.model` drives any cell without knowing
which one it is:

* ``PARAM_NAMES``: the parameter names of one layer (here U, W, b);
* ``N_STATES``: state vectors per layer, S (here 1: h);
* ``param_shapes(D, H)`` and ``init_layer(D, H, rng, init, dtype)``;
* ``layer_forward(x, state0, params) -> (h, cache, state)`` with
  x (T, B, D), state0 and state (S, B, H), h (T, B, H);
* ``layer_backward(dh, cache, dstate=None) -> (dx, dstate0, grads)``, where
  ``dstate`` (S, B, H) is an optional gradient on the final state and
  ``dstate0`` the gradient on the initial one.

Token ids as input: ``x`` may also be an integer array (T, B) of ids in
[0, D), read as one-hot vectors of size D (the first layer of a character
model). The input product ``U x(t)`` is then a gather of columns of U, its
gradient a sum of rows of dL/da into columns of dU, and ``dx`` is ``None``
(ids carry no gradient). Every cell's ``layer_forward`` accepts both kinds
of input.

Two implementations of the protocol: ``layer_forward``/``layer_backward``
are the fast ones (:mod:`rnn._rnn_cell_fast`), used for training,
evaluation and sampling; ``reference_layer_forward``/``reference_layer_backward``
wrap the functions below, which the chapters teach. tests/test_fast.py checks
the two equal; the chapter "Making it fast" explains the difference.

For generation, one step at a time, ``layer_forward`` splits in two:
``prepare_layer(params, dtype, ids=False) -> weights`` checks and lays out
the weights once, and ``prepared_forward(weights, x, ids, state0)`` runs
``layer_forward``'s computation on them (:func:`rnn.model.stepper`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import add_to_last, as_float_array, check_cache, check_shape, split_state_grad
from ._rnn_cell_fast import forward as prepared_forward
from ._rnn_cell_fast import layer_backward, layer_forward
from ._rnn_cell_fast import prepare as prepare_layer
from .initializers import init_weight

__all__ = ["RNNCache", "rnn_step", "rnn_forward", "rnn_backward", "PARAM_NAMES", "N_STATES",
           "param_shapes", "init_layer", "layer_forward", "layer_backward",
           "reference_layer_forward", "reference_layer_backward", "prepare_layer", "prepared_forward"]

#: Parameter names of one layer.
PARAM_NAMES = ("U", "W", "b")
#: State vectors per layer: the hidden state h.
N_STATES = 1


class RNNCache(NamedTuple):
    """What :func:`rnn_forward` keeps for :func:`rnn_backward`.

    Attributes
    ----------
    x : ndarray of shape (T, B, D)
        The inputs.
    h0 : ndarray of shape (B, H)
        The initial hidden state.
    h : ndarray of shape (T, B, H)
        Every hidden state; ``h[t]`` is h(t+1) in 1-based book indexing.
    U : ndarray of shape (H, D)
    W : ndarray of shape (H, H)
    """

    x: np.ndarray
    h0: np.ndarray
    h: np.ndarray
    U: np.ndarray
    W: np.ndarray


def _check_params(func, U, W, b):
    U = as_float_array(func, "U", U)
    W = as_float_array(func, "W", W)
    b = as_float_array(func, "b", b)
    if U.ndim != 2:
        raise ValueError(f"{func}: U must have shape (H, D), got {U.shape}")
    H, D = U.shape
    check_shape(func, "W", W, (H, H), "(H, H)")
    check_shape(func, "b", b, (H,), "(H,)")
    return U, W, b, H, D


def rnn_step(x_t, h_prev, U, W, b):
    """Advance the vanilla RNN by one time step.

    Computes ``h_t = tanh(x_t @ U.T + h_prev @ W.T + b)``, the batched
    form of h(t) = tanh(b + W h(t-1) + U x(t)).

    Parameters
    ----------
    x_t : ndarray of shape (B, D)
        Inputs at this step, one row per sequence.
    h_prev : ndarray of shape (B, H)
        Hidden state from the previous step.
    U : ndarray of shape (H, D)
        Input-to-hidden weights.
    W : ndarray of shape (H, H)
        Hidden-to-hidden weights.
    b : ndarray of shape (H,)
        Hidden bias.

    Returns
    -------
    h_t : ndarray of shape (B, H)
        The new hidden state.

    Raises
    ------
    ValueError
        If a shape or dtype does not match the ones above.
    """
    func = "rnn_step"
    U, W, b, H, D = _check_params(func, U, W, b)
    x_t = as_float_array(func, "x_t", x_t)
    h_prev = as_float_array(func, "h_prev", h_prev)
    check_shape(func, "x_t", x_t, (None, D), "(B, D)")
    B = x_t.shape[0]
    check_shape(func, "h_prev", h_prev, (B, H), "(B, H)")
    # --8<-- [start:step]
    h_t = np.tanh(x_t @ U.T + h_prev @ W.T + b)  # (B, H)
    # --8<-- [end:step]
    return h_t


def rnn_forward(x, h0, U, W, b):
    """Run the vanilla RNN over a whole sequence.

    Parameters
    ----------
    x : ndarray of shape (T, B, D)
        Inputs, time-major.
    h0 : ndarray of shape (B, H)
        Initial hidden state h(0) (zeros at the start of a text).
    U : ndarray of shape (H, D)
        Input-to-hidden weights.
    W : ndarray of shape (H, H)
        Hidden-to-hidden weights.
    b : ndarray of shape (H,)
        Hidden bias.

    Returns
    -------
    h : ndarray of shape (T, B, H)
        Hidden states; ``h[t]`` is the state after reading ``x[t]``.
    cache : RNNCache
        Everything :func:`rnn_backward` needs.

    Raises
    ------
    ValueError
        If a shape or dtype does not match the ones above, or T = 0.
    """
    func = "rnn_forward"
    U, W, b, H, D = _check_params(func, U, W, b)
    x = as_float_array(func, "x", x)
    h0 = as_float_array(func, "h0", h0)
    check_shape(func, "x", x, (None, None, D), "(T, B, D)")
    T, B, _ = x.shape
    if T == 0:
        raise ValueError(f"{func}: x has T = 0 time steps; pass at least one step")
    check_shape(func, "h0", h0, (B, H), "(B, H)")
    # --8<-- [start:forward]
    dtype = np.result_type(x, h0, U, W, b)
    h = np.empty((T, B, H), dtype=dtype)  # every hidden state, kept for BPTT
    h_prev = h0
    for t in range(T):
        h[t] = np.tanh(x[t] @ U.T + h_prev @ W.T + b)  # h(t) = tanh(b + W h(t-1) + U x(t))
        h_prev = h[t]
    # --8<-- [end:forward]
    return h, RNNCache(x, h0, h, U, W)


def rnn_backward(dh, cache, dh_last=None):
    """Backpropagation through time for :func:`rnn_forward`.

    Parameters
    ----------
    dh : ndarray of shape (T, B, H)
        Upstream gradient of the loss with respect to every hidden state
        ``h[t]``, *not* counting the path through later steps (for a
        language model, the gradient that flows down from o(t) only).
        The recursion adds the gradient that comes back from step t+1.
    cache : RNNCache
        As returned by :func:`rnn_forward`.
    dh_last : ndarray of shape (B, H), optional
        Gradient on the last hidden state from outside the sequence (e.g.
        a decoder that starts from it), added to ``dh[-1]``.

    Returns
    -------
    dx : ndarray of shape (T, B, D)
        Gradient with respect to the inputs.
    dh0 : ndarray of shape (B, H)
        Gradient with respect to the initial state.
    dU : ndarray of shape (H, D)
    dW : ndarray of shape (H, H)
    db : ndarray of shape (H,)
        Gradients with respect to the parameters, summed over time and batch.

    Raises
    ------
    ValueError
        If ``dh`` does not have the shape of the hidden states.
    """
    func = "rnn_backward"
    check_cache(func, cache, RNNCache, "rnn_forward")
    x, h0, h, U, W = cache
    dh = as_float_array(func, "dh", dh)
    check_shape(func, "dh", dh, h.shape, "(T, B, H)")
    dh = add_to_last(func, dh, dh_last)
    T = h.shape[0]
    # --8<-- [start:backward-init]
    dtype = h.dtype  # the forward pass's dtype: float64 if any input was
    dx = np.empty(x.shape, dtype)
    dU, dW, db = np.zeros(U.shape, dtype), np.zeros(W.shape, dtype), np.zeros(W.shape[0], dtype)
    dh_next = np.zeros_like(h0)  # dL/dh(t) arriving from step t+1; none after the last step
    # --8<-- [end:backward-init]
    # --8<-- [start:backward-loop]
    for t in reversed(range(T)):
        # --8<-- [start:backward-prev]
        h_prev = h[t - 1] if t > 0 else h0
        # --8<-- [end:backward-prev]
        # --8<-- [start:backward-total]
        g = dh[t] + dh_next  # dL/dh(t): from o(t) and from h(t+1)
        # --8<-- [end:backward-total]
        # --8<-- [start:backward-tanh]
        da = g * (1.0 - h[t] ** 2)  # dL/da(t) = diag(1 - h(t)^2) dL/dh(t)
        # --8<-- [end:backward-tanh]
        # --8<-- [start:backward-params]
        db += da.sum(axis=0)  # dL/db = sum_t dL/da(t)
        dW += da.T @ h_prev  # dL/dW = sum_t dL/da(t) h(t-1)^T
        dU += da.T @ x[t]  # dL/dU = sum_t dL/da(t) x(t)^T
        dx[t] = da @ U  # dL/dx(t) = U^T dL/da(t)
        # --8<-- [end:backward-params]
        # --8<-- [start:backward-carry]
        dh_next = da @ W  # dL/dh(t-1) through h(t): W^T dL/da(t)
        # --8<-- [end:backward-carry]
    dh0 = dh_next
    # --8<-- [end:backward-loop]
    return dx, dh0, dU, dW, db


# ---------------------------------------------------------------- layer protocol

def param_shapes(D: int, H: int) -> dict:
    """Shapes of one layer's parameters: U (H, D), W (H, H), b (H,)."""
    return {"U": (H, D), "W": (H, H), "b": (H,)}


def init_layer(D: int, H: int, rng, init: str = "scaled", dtype=np.float64) -> dict:
    """Draw U (H, D) and W (H, H) with :func:`rnn.initializers.init_weight`; b = 0."""
    return {"U": init_weight("input", (H, D), rng, init, dtype),
            "W": init_weight("recurrent", (H, H), rng, init, dtype),
            "b": np.zeros(H, dtype)}


def reference_layer_forward(x, state0, params):
    """The layer protocol's forward pass with the reference :func:`rnn_forward`.

    x (T, B, D) (floats only) and state0 (1, B, H) = (h,) in; h (T, B, H),
    the cache and the final state (1, B, H) out. The fast :func:`layer_forward`
    computes the same.
    """
    h, cache = rnn_forward(x, state0[0], params["U"], params["W"], params["b"])
    return h, cache, h[-1][None]


def reference_layer_backward(dh, cache, dstate=None):
    """The layer protocol's backward pass with the reference :func:`rnn_backward`.

    dh (T, B, H) and an optional gradient on the final state, dstate (1, B, H),
    in; dx (T, B, D), dstate0 (1, B, H) and the parameter gradients (a dict) out.
    """
    (dh_last,) = split_state_grad("layer_backward", dstate, 1, *cache.h0.shape)
    dx, dh0, dU, dW, db = rnn_backward(dh, cache, dh_last)
    return dx, dh0[None], {"U": dU, "W": dW, "b": db}
