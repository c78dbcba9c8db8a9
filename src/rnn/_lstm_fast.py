"""The fast LSTM layer: what :func:`rnn.lstm.layer_forward` and
:func:`rnn.lstm.layer_backward` run (training, evaluation, sampling).

It computes the numbers of :func:`rnn.lstm.lstm_forward` and
:func:`rnn.lstm.lstm_backward` (tests/test_fast.py checks them equal to 1e-12
in float64) with the techniques of :mod:`rnn._fast`, and two more for the
gates:

* **one tanh for all four gates.** σ(a) = (1 + tanh(a/2)) / 2, so with the
  rows of the sigmoid gates (i, f, o) of U, W and b halved (exact in binary
  floating point), one ``np.tanh`` over the (B, 4H) pre-activations gives
  tanh(a/2) for i, f, o and tanh(a) for g, and one multiply and one add with
  per-column constants turn the first into sigmoids;
* **the backward coefficients before the loop.** Everything in dL/da(t)
  that does not depend on the recurrence (σ' = σ(1 - σ), 1 - g², the other
  gate values, 1 - tanh²(s)) is computed for all steps at once into the
  array ``da``; each step then only scales its slot by dL/ds(t) and dL/dh(t).

Per step the forward pass makes 10 NumPy calls, the backward pass 7.
Stored: the gates (4 T*B*H numbers), h, s and tanh(s) (T*B*H each); the
backward pass adds ``da`` (4 T*B*H) and one (T, B, H) coefficient array.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _fast
from ._checks import as_float_array, check_cache, check_shape, split_state_grad

__all__ = ["LSTMFastCache", "LSTMWeights", "prepare", "forward", "layer_forward",
           "layer_backward"]

GATES = ("i", "f", "g", "o")  # torch's order, as rnn.lstm.pack_lstm
NAMES = ("U_i", "W_i", "b_i", "U_f", "W_f", "b_f", "U_o", "W_o", "b_o", "U_g", "W_g", "b_g")


class LSTMFastCache(NamedTuple):
    """What the fast :func:`layer_forward` keeps for :func:`layer_backward`.

    Attributes
    ----------
    x : ndarray of shape (T, B, D), or (T, B) of token ids
    ids : bool
        True if ``x`` holds token ids.
    hs, ss : ndarray of shape (T+1, B, H)
        h(0) and s(0) followed by every hidden and cell state.
    tanh_s : ndarray of shape (T, B, H)
        tanh(s(t)).
    gates : ndarray of shape (T, B, 4H)
        i, f, g, o after their nonlinearity (the layout of :class:`rnn.lstm.LSTMCache`).
    U_all : ndarray of shape (4H, D)
    W_all : ndarray of shape (4H, H)
        The fused weights (:func:`rnn.lstm.pack_lstm`) in the dtype of the computation.
    """

    x: np.ndarray
    ids: bool
    hs: np.ndarray
    ss: np.ndarray
    tanh_s: np.ndarray
    gates: np.ndarray
    U_all: np.ndarray
    W_all: np.ndarray

    @property
    def h(self):
        """Every hidden state (T, B, H)."""
        return self.hs[1:]

    @property
    def s(self):
        """Every cell state (T, B, H)."""
        return self.ss[1:]


class LSTMWeights(NamedTuple):
    """One layer's weights as the fast forward pass reads them (:func:`prepare`)."""

    U_all: np.ndarray  # (4H, D), for the backward pass
    W_all: np.ndarray  # (4H, H), for the backward pass
    UsT: np.ndarray  # (D, 4H): U_all.T with the columns of i, f, o halved
    WsT: np.ndarray  # (H, 4H): W_all.T likewise
    bs: np.ndarray  # (4H,): b_all likewise
    scale: np.ndarray  # (4H,): 1/2 on i, f, o and 1 on g ...
    offset: np.ndarray  # (4H,): ... and 1/2, 0: σ(a) = scale * tanh(a/2) + offset


def prepare(params, dtype, ids: bool = False) -> LSTMWeights:
    """The weights of one layer in ``dtype``, laid out for :func:`forward` (after a check).

    σ(a) = (1 + tanh(a/2)) / 2: halving the rows of U, W and b that feed the
    sigmoid gates (exact in binary floating point) lets one tanh serve all four.
    """
    arrays, H, _ = _fast.gated_params("layer_forward", params, NAMES, "an LSTM")
    return _prepare(arrays, H, dtype)


def _prepare(arrays, H, dtype):
    U_all, W_all, b_all = _fast.pack(arrays, GATES, dtype)
    sigmoid = np.repeat([True, True, False, True], H)  # i, f, g, o
    scale, UsT, WsT, bs = _fast.halved(U_all, W_all, b_all, sigmoid, dtype)
    offset = np.where(sigmoid, 0.5, 0.0).astype(dtype)
    return LSTMWeights(U_all, W_all, UsT, WsT, bs, scale, offset)


def layer_forward(x, state0, params):
    """The LSTM layer over a sequence: h (T, B, H), the cache and the state (2, B, H).

    See :func:`rnn.lstm.layer_forward`.
    """
    return _fast.gated_layer_forward(x, state0, params, NAMES, "an LSTM", 2, _prepare, forward)


def forward(weights: LSTMWeights, x, ids: bool, state0):
    """:func:`layer_forward` after the checks: prepared weights, x and state0 (2, B, H) as given."""
    U_all, W_all, UsT, WsT, bs, scale, offset = weights
    T, B = x.shape[:2]
    H = W_all.shape[1]
    dtype = W_all.dtype
    # --8<-- [start:fast-forward]
    gates = np.empty((T, B, 4 * H), dtype)  # i, f, g, o: first the input terms of every step
    _fast.input_term(x, ids, UsT, bs, out=gates.reshape(T * B, 4 * H))  # (halved for i, f, o)
    hs, ss = np.empty((T + 1, B, H), dtype), np.empty((T + 1, B, H), dtype)
    tanh_s = np.empty((T, B, H), dtype)
    hs[0], ss[0] = state0
    a, tmp = np.empty((B, 4 * H), dtype), np.empty((B, H), dtype)
    g4 = gates.reshape(T, B, 4, H)
    h_l, s_l = list(hs), list(ss)  # views made once: the loop only calls NumPy
    for z, i, f, g, o, h_prev, h_t, s_prev, s_t, th in zip(
            gates, g4[:, :, 0], g4[:, :, 1], g4[:, :, 2], g4[:, :, 3],
            h_l, h_l[1:], s_l, s_l[1:], tanh_s):
        h_prev.dot(WsT, out=a)  # all four recurrent terms, the sigmoid ones halved
        np.add(a, z, out=z)
        np.tanh(z, out=z)  # tanh(a/2) for i, f, o and tanh(a) for g, in one call
        z *= scale
        z += offset  # i, f, o: (1 + tanh(a/2)) / 2 = σ(a); g unchanged
        np.multiply(f, s_prev, out=s_t)
        np.multiply(i, g, out=tmp)
        np.add(s_t, tmp, out=s_t)  # s(t) = f ⊙ s(t-1) + i ⊙ g
        np.tanh(s_t, out=th)
        np.multiply(o, th, out=h_t)  # h(t) = o ⊙ tanh(s(t))
    # --8<-- [end:fast-forward]
    cache = LSTMFastCache(x, ids, hs, ss, tanh_s, gates, U_all, W_all)
    return hs[1:], cache, np.stack([hs[T], ss[T]])


def layer_backward(dh, cache, dstate=None):
    """BPTT for the fast :func:`layer_forward`: dx, dstate0 (2, B, H) and the gradients.

    See :func:`rnn.lstm.layer_backward`; dx is None if the layer read token ids.
    """
    func = "layer_backward"
    check_cache(func, cache, LSTMFastCache, "layer_forward")
    x, ids, hs, ss, tanh_s, gates, U_all, W_all = cache
    T, B, H = tanh_s.shape
    dh = as_float_array(func, "dh", dh)
    check_shape(func, "dh", dh, (T, B, H), "(T, B, H)")
    dh_last, ds_last = split_state_grad(func, dstate, 2, B, H)
    dtype = gates.dtype
    # --8<-- [start:fast-backward-coefficients]
    # everything in dL/da(t) that does not wait for the recurrence, for all steps at once
    g4 = gates.reshape(T, B, 4, H)
    i, f, g, o = g4[:, :, 0], g4[:, :, 1], g4[:, :, 2], g4[:, :, 3]
    da = np.subtract(1.0, gates)  # (T, B, 4H)
    da *= gates  # σ' = σ(1 - σ) for i, f, o
    d4 = da.reshape(T, B, 4, H)
    np.multiply(g, g, out=d4[:, :, 2])
    np.subtract(1.0, d4[:, :, 2], out=d4[:, :, 2])  # tanh' = 1 - g² for g
    d4[:, :, 0] *= g  # da_i = ds ⊙ g ⊙ σ'(i)
    d4[:, :, 1] *= ss[:-1]  # da_f = ds ⊙ s(t-1) ⊙ σ'(f)
    d4[:, :, 2] *= i  # da_g = ds ⊙ i ⊙ (1 - g²)
    d4[:, :, 3] *= tanh_s  # da_o = dh ⊙ tanh(s) ⊙ σ'(o)
    ds_dh = np.multiply(tanh_s, tanh_s)
    np.subtract(1.0, ds_dh, out=ds_dh)
    ds_dh *= o  # dL/ds(t) gets dL/dh(t) ⊙ o ⊙ (1 - tanh²(s(t)))
    # --8<-- [end:fast-backward-coefficients]
    # --8<-- [start:fast-backward-loop]
    gh, ds = np.empty((B, H), dtype), np.empty((B, H), dtype)  # dL/dh(t), dL/ds(t)
    carry = np.zeros((B, H), dtype) if ds_last is None else np.array(ds_last, dtype)
    ds3 = ds[:, None, :]  # to scale the three blocks i, f, g at once
    gh[...] = dh[T - 1] if dh_last is None else dh[T - 1] + dh_last
    da_l = list(da)
    for k, (d_ifg, d_o, c_t, f_t, dh_t) in enumerate(zip(  # step t = T - 1 - k, from the last
            d4[::-1, :, :3], d4[::-1, :, 3], ds_dh[::-1], f[::-1], dh[::-1])):
        if k:  # every step but the last: dL/dh(t) through the gates of step t + 1 = T - k
            da_l[T - k].dot(W_all, out=gh)
            np.add(gh, dh_t, out=gh)  # + from above
        np.multiply(gh, c_t, out=ds)
        np.add(ds, carry, out=ds)  # dL/ds(t): through h(t) and from s(t+1)
        d_ifg *= ds3  # i, f, g: scaled by dL/ds(t)
        d_o *= gh  # o: scaled by dL/dh(t)
        np.multiply(ds, f_t, out=carry)  # dL/ds(t-1) through s(t) = f ⊙ s(t-1) + ...
    dh0 = da[0].dot(W_all)
    da2 = da.reshape(T * B, 4 * H)
    dW_all = da2.T.dot(hs[:-1].reshape(T * B, H))
    dU_all, db_all, dx = _fast.input_grads(x, ids, da2, U_all)
    # --8<-- [end:fast-backward-loop]
    grads = _fast.unpack(dU_all, dW_all, db_all, GATES, NAMES)
    return dx, np.stack([dh0, carry]), grads
