"""The fast GRU layer: what :func:`rnn.gru.layer_forward` and
:func:`rnn.gru.layer_backward` run (training, evaluation, sampling).

It computes the numbers of :func:`rnn.gru.gru_forward` and
:func:`rnn.gru.gru_backward` (tests/test_fast.py checks them equal to 1e-12 in
float64) with the techniques of :mod:`rnn._fast` and of the fast LSTM
(:mod:`rnn._lstm_fast`): the sigmoid gates r and z as (1 + tanh(a/2)) / 2
with their rows of U, W and b halved, one tanh for both, and every factor of
dL/da(t) that does not wait for the recurrence computed before the loop.
The new state is written ``n + z ⊙ (h(t-1) - n)``, one multiplication fewer
than ``(1 - z) ⊙ n + z ⊙ h(t-1)``.

Per step the forward pass makes 12 NumPy calls, the backward pass 6.
Stored: the gates (3 T*B*H numbers), h and W_n h(t-1) + bh_n (T*B*H each);
the backward pass adds dL/d(input terms) and dL/d(recurrent terms), 3 T*B*H
each.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _fast
from ._checks import as_float_array, check_cache, check_shape, split_state_grad

__all__ = ["GRUFastCache", "GRUWeights", "prepare", "forward", "layer_forward",
           "layer_backward"]

GATES = ("r", "z", "n")  # torch's order, as rnn.gru.pack_gru
NAMES = ("U_r", "W_r", "b_r", "U_z", "W_z", "b_z", "U_n", "W_n", "b_n", "bh_n")


class GRUFastCache(NamedTuple):
    """What the fast :func:`layer_forward` keeps for :func:`layer_backward`.

    Attributes
    ----------
    x : ndarray of shape (T, B, D), or (T, B) of token ids
    ids : bool
        True if ``x`` holds token ids.
    hs : ndarray of shape (T+1, B, H)
        h(0) followed by every hidden state.
    gates : ndarray of shape (T, B, 3H)
        r, z and n after their nonlinearity (the layout of :class:`rnn.gru.GRUCache`).
    hn : ndarray of shape (T, B, H)
        W_n h(t-1) + bh_n, the term the reset gate multiplies.
    U_all : ndarray of shape (3H, D)
    W_all : ndarray of shape (3H, H)
        The fused weights (:func:`rnn.gru.pack_gru`) in the dtype of the computation.
    """

    x: np.ndarray
    ids: bool
    hs: np.ndarray
    gates: np.ndarray
    hn: np.ndarray
    U_all: np.ndarray
    W_all: np.ndarray

    @property
    def h(self):
        """Every hidden state (T, B, H)."""
        return self.hs[1:]


class GRUWeights(NamedTuple):
    """One layer's weights as the fast forward pass reads them (:func:`prepare`)."""

    U_all: np.ndarray  # (3H, D), for the backward pass
    W_all: np.ndarray  # (3H, H), for the backward pass
    UsT: np.ndarray  # (D, 3H): U_all.T with the columns of r and z halved
    WsT: np.ndarray  # (H, 3H): W_all.T likewise
    bs: np.ndarray  # (3H,): b_all likewise
    bh_n: np.ndarray  # (H,)


def prepare(params, dtype, ids: bool = False) -> GRUWeights:
    """The weights of one layer in ``dtype``, laid out for :func:`forward` (after a check).

    σ(a) = (1 + tanh(a/2)) / 2: the rows of U, W and b that feed r and z are
    halved (exact in binary floating point).
    """
    arrays, H, _ = _fast.gated_params("layer_forward", params, NAMES, "a GRU")
    return _prepare(arrays, H, dtype)


def _prepare(arrays, H, dtype):
    U_all, W_all, b_all = _fast.pack(arrays, GATES, dtype)
    _, UsT, WsT, bs = _fast.halved(U_all, W_all, b_all, np.arange(3 * H) < 2 * H, dtype)  # r, z
    return GRUWeights(U_all, W_all, UsT, WsT, bs, arrays["bh_n"].astype(dtype, copy=False))


def layer_forward(x, state0, params):
    """The GRU layer over a sequence: h (T, B, H), the cache and the state (1, B, H).

    See :func:`rnn.gru.layer_forward`.
    """
    return _fast.gated_layer_forward(x, state0, params, NAMES, "a GRU", 1, _prepare, forward)


def forward(weights: GRUWeights, x, ids: bool, state0):
    """:func:`layer_forward` after the checks: prepared weights, x and state0 (1, B, H) as given."""
    U_all, W_all, UsT, WsT, bs, bh_n = weights
    T, B = x.shape[:2]
    H = W_all.shape[1]
    dtype = W_all.dtype
    # --8<-- [start:fast-forward]
    gates = np.empty((T, B, 3 * H), dtype)  # r, z, n: first the input terms of every step
    _fast.input_term(x, ids, UsT, bs, out=gates.reshape(T * B, 3 * H))  # (halved for r, z)
    hs = np.empty((T + 1, B, H), dtype)
    hn = np.empty((T, B, H), dtype)
    hs[0] = state0[0]
    a, tmp = np.empty((B, 3 * H), dtype), np.empty((B, H), dtype)
    a_rz, a_n = a[:, :2 * H], a[:, 2 * H:]
    h_l = list(hs)  # views made once: the loop only calls NumPy
    for rz, r, z, n, hn_t, h_prev, h_t in zip(gates[:, :, :2 * H], gates[:, :, :H],
                                               gates[:, :, H:2 * H], gates[:, :, 2 * H:], hn,
                                               h_l, h_l[1:]):
        h_prev.dot(WsT, out=a)  # the recurrent terms of r, z (halved) and n
        np.add(rz, a_rz, out=rz)
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5  # r, z = σ(...) = (1 + tanh(a/2)) / 2
        np.add(a_n, bh_n, out=hn_t)  # W_n h(t-1) + bh_n
        np.multiply(r, hn_t, out=tmp)
        np.add(n, tmp, out=n)
        np.tanh(n, out=n)  # n = tanh(U_n x(t) + b_n + r ⊙ (W_n h(t-1) + bh_n))
        np.subtract(h_prev, n, out=tmp)
        tmp *= z
        np.add(n, tmp, out=h_t)  # h(t) = n + z ⊙ (h(t-1) - n)
    # --8<-- [end:fast-forward]
    return hs[1:], GRUFastCache(x, ids, hs, gates, hn, U_all, W_all), hs[T][None]


def layer_backward(dh, cache, dstate=None):
    """BPTT for the fast :func:`layer_forward`: dx, dstate0 (1, B, H) and the gradients.

    See :func:`rnn.gru.layer_backward`; dx is None if the layer read token ids.
    """
    func = "layer_backward"
    check_cache(func, cache, GRUFastCache, "layer_forward")
    x, ids, hs, gates, hn, U_all, W_all = cache
    T, B, H = hn.shape
    dh = as_float_array(func, "dh", dh)
    check_shape(func, "dh", dh, (T, B, H), "(T, B, H)")
    (dh_last,) = split_state_grad(func, dstate, 1, B, H)
    dtype = gates.dtype
    # --8<-- [start:fast-backward-coefficients]
    r, z, n = gates[:, :, :H], gates[:, :, H:2 * H], gates[:, :, 2 * H:]
    dax = np.empty_like(gates)  # dL/d(input terms): r, z, n, one factor dL/dh(t) short
    dah = np.empty_like(gates)  # dL/d(recurrent terms), likewise
    x3, h3 = dax.reshape(T, B, 3, H), dah.reshape(T, B, 3, H)
    np.multiply(n, n, out=x3[:, :, 2])
    np.subtract(1.0, x3[:, :, 2], out=x3[:, :, 2])
    np.subtract(1.0, z, out=x3[:, :, 1])
    x3[:, :, 2] *= x3[:, :, 1]  # n: (1 - z) ⊙ (1 - n²)
    np.subtract(1.0, r, out=x3[:, :, 0])
    x3[:, :, 0] *= r
    x3[:, :, 0] *= hn
    x3[:, :, 0] *= x3[:, :, 2]  # r: (1 - z)(1 - n²) ⊙ hn ⊙ σ'(r)
    np.subtract(hs[:-1], n, out=x3[:, :, 1])
    x3[:, :, 1] *= z
    np.subtract(1.0, z, out=h3[:, :, 1])
    x3[:, :, 1] *= h3[:, :, 1]  # z: (h(t-1) - n) ⊙ σ'(z)
    h3[:, :, :2] = x3[:, :, :2]  # r and z: the two sides are just added
    np.multiply(x3[:, :, 2], r, out=h3[:, :, 2])  # n, hidden side: inside the reset product
    # --8<-- [end:fast-backward-coefficients]
    # --8<-- [start:fast-backward-loop]
    g, g_next, tmp = np.empty((B, H), dtype), np.empty((B, H), dtype), np.empty((B, H), dtype)
    g_next[...] = dh[T - 1] if dh_last is None else dh[T - 1] + dh_last
    dah_l, z_l = list(dah), list(z)
    x3[T - 1] *= g_next[:, None, :]
    h3[T - 1] *= g_next[:, None, :]
    for x3_t, h3_t, dh_t, dah_next, z_next in zip(x3[-2::-1], h3[-2::-1], dh[-2::-1],
                                                  dah_l[:0:-1], z_l[:0:-1]):
        dah_next.dot(W_all, out=g)  # through the three gates of step t+1
        np.add(g, dh_t, out=g)
        np.multiply(g_next, z_next, out=tmp)
        np.add(g, tmp, out=g)  # + the direct path h(t+1) = ... + z ⊙ h(t): dL/dh(t)
        g3 = g[:, None, :]
        x3_t *= g3  # dL/dh(t) times the factors
        h3_t *= g3
        g, g_next = g_next, g
    dh0 = dah[0].dot(W_all)
    np.multiply(g_next, z[0], out=tmp)
    dh0 += tmp
    dW_all = dah.reshape(T * B, 3 * H).T.dot(hs[:-1].reshape(T * B, H))
    dU_all, db_all, dx = _fast.input_grads(x, ids, dax.reshape(T * B, 3 * H), U_all)
    dbh_n = np.add.reduce(h3[:, :, 2], axis=(0, 1))
    # --8<-- [end:fast-backward-loop]
    grads = _fast.unpack(dU_all, dW_all, db_all, GATES, NAMES)
    grads["bh_n"] = dbh_n
    return dx, dh0[None], grads
