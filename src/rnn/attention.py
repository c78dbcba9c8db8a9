"""Additive attention (Bahdanau, Cho & Bengio, 2015): a context vector for
every step of a decoder, a weighted average of all the encoder states.

At decoder step t, the decoder's previous state h_dec(t-1) (the *query*)
scores every encoder state h_enc(j), j = 1, ..., T_x, with a one-hidden-layer
network; a softmax over the source steps turns the scores into weights,
and the context is the weighted average::

    κ_j(t) = v_a · tanh(W_a h_dec(t-1) + U_a h_enc(j))     score of source step j
    α(t)   = softmax(κ(t))          over j; padded source steps get weight 0
    C(t)   = Σ_j α_j(t) h_enc(j)                            context of step t

W_a and U_a are (H, H), v_a is (H,). The paper writes e_ij for the score
and s_{i-1} for the decoder state; here e is a one-hot vector and s an
LSTM's cell state, hence κ and h_dec. The keys U_a h_enc(j) do not depend
on t, so :func:`attention_keys` computes them once per source sequence and
:func:`attention_forward` reuses them at every decoder step.

Arrays are time-major with the batch as rows: h_enc is (T_x, B, H), the
query (B, H), the weights (T_x, B).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_shape
from .initializers import init_weight
from .losses import softmax

__all__ = ["ATTENTION_NAMES", "init_attention", "attention_keys", "attention_keys_backward",
           "AttentionCache", "attention_forward", "attention_backward"]

#: Parameter names of the attention layer.
ATTENTION_NAMES = ("W_a", "U_a", "v_a")


class AttentionCache(NamedTuple):
    """What :func:`attention_forward` keeps for :func:`attention_backward`."""

    q: np.ndarray
    h_enc: np.ndarray
    u: np.ndarray
    alpha: np.ndarray
    W_a: np.ndarray
    v_a: np.ndarray


def init_attention(H: int, rng, init: str = "scaled", dtype=np.float64) -> dict:
    """W_a (H, H) and U_a (H, H) as recurrent weights, v_a (H,) as an output weight."""
    return {"W_a": init_weight("recurrent", (H, H), rng, init, dtype),
            "U_a": init_weight("recurrent", (H, H), rng, init, dtype),
            "v_a": init_weight("output", (1, H), rng, init, dtype)[0]}


def _check_memory(func, h_enc, U_a=None):
    h_enc = as_float_array(func, "h_enc", h_enc)
    check_shape(func, "h_enc", h_enc, (None, None, None), "(T_x, B, H)")
    if U_a is not None:
        H = h_enc.shape[2]
        check_shape(func, "U_a", as_float_array(func, "U_a", U_a), (H, H), "(H, H)")
    return h_enc


def attention_keys(h_enc, U_a) -> np.ndarray:
    """The keys U_a h_enc(j) of every source step, computed once per source.

    Parameters
    ----------
    h_enc : ndarray of shape (T_x, B, H)
        Encoder states.
    U_a : ndarray of shape (H, H)

    Returns
    -------
    keys : ndarray of shape (T_x, B, H)
    """
    h_enc = _check_memory("attention_keys", h_enc, U_a)
    # --8<-- [start:keys]
    keys = h_enc @ U_a.T  # (T_x, B, H): U_a h_enc(j), the same at every decoder step
    # --8<-- [end:keys]
    return keys


def attention_keys_backward(dkeys, h_enc, U_a):
    """Backward pass of :func:`attention_keys`: returns dh_enc (T_x, B, H) and dU_a (H, H)."""
    func = "attention_keys_backward"
    h_enc = _check_memory(func, h_enc, U_a)
    dkeys = as_float_array(func, "dkeys", dkeys)
    check_shape(func, "dkeys", dkeys, h_enc.shape, "(T_x, B, H)")
    H = h_enc.shape[2]
    # --8<-- [start:keys-backward]
    dU_a = dkeys.reshape(-1, H).T @ h_enc.reshape(-1, H)  # sum over j and the batch
    dh_enc = dkeys @ U_a  # U_a^T dL/dkey_j
    # --8<-- [end:keys-backward]
    return dh_enc, dU_a


def attention_forward(q, keys, h_enc, mask, W_a, v_a):
    """One decoder step of additive attention.

    Parameters
    ----------
    q : ndarray of shape (B, H)
        The query: the decoder's previous state h_dec(t-1).
    keys : ndarray of shape (T_x, B, H)
        From :func:`attention_keys`.
    h_enc : ndarray of shape (T_x, B, H)
        Encoder states (the values that are averaged).
    mask : ndarray of bool, shape (T_x, B), or None
        True on the real source steps; None if every step is real.
    W_a : ndarray of shape (H, H)
    v_a : ndarray of shape (H,)

    Returns
    -------
    C : ndarray of shape (B, H)
        The context C(t).
    alpha : ndarray of shape (T_x, B)
        The weights α(t); each column sums to 1, padded steps get 0.
    cache : AttentionCache
    """
    func = "attention_forward"
    h_enc = _check_memory(func, h_enc)
    T_x, B, H = h_enc.shape
    q, keys, W_a, v_a = (as_float_array(func, n, a) for n, a in
                         (("q", q), ("keys", keys), ("W_a", W_a), ("v_a", v_a)))
    check_shape(func, "q", q, (B, H), "(B, H)")
    check_shape(func, "keys", keys, (T_x, B, H), "(T_x, B, H)")
    check_shape(func, "W_a", W_a, (H, H), "(H, H)")
    check_shape(func, "v_a", v_a, (H,), "(H,)")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (T_x, B) or not mask.any(axis=0).all():
            raise ValueError(f"{func}: mask must be a boolean array of shape (T_x, B) = {(T_x, B)} "
                             f"with a real step in every column, got dtype {mask.dtype} and "
                             f"shape {mask.shape}")
    # --8<-- [start:forward]
    u = np.tanh(q @ W_a.T + keys)  # (T_x, B, H): tanh(W_a h_dec(t-1) + U_a h_enc(j)) for every j
    score = u @ v_a  # (T_x, B): κ_j(t)
    if mask is not None:
        score = np.where(mask, score, -np.inf)  # a padded step gets exp(-inf) = 0
    alpha = softmax(score.T).T  # (T_x, B): softmax over the source steps j
    C = np.einsum("jb,jbh->bh", alpha, h_enc)  # (B, H): C(t) = sum_j α_j(t) h_enc(j)
    # --8<-- [end:forward]
    return C, alpha, AttentionCache(q, h_enc, u, alpha, W_a, v_a)


def attention_backward(dC, cache):
    """Backward pass of :func:`attention_forward`.

    Parameters
    ----------
    dC : ndarray of shape (B, H)
        dL/dC(t).
    cache : AttentionCache

    Returns
    -------
    dq : ndarray of shape (B, H)
        dL/dh_dec(t-1) through the scores.
    dkeys : ndarray of shape (T_x, B, H)
        dL/d(U_a h_enc(j)); :func:`attention_keys_backward` takes it on.
    dh_enc : ndarray of shape (T_x, B, H)
        dL/dh_enc(j) through the weighted average (the values) only.
    dW_a : ndarray of shape (H, H)
    dv_a : ndarray of shape (H,)
    """
    func = "attention_backward"
    if not isinstance(cache, AttentionCache):
        raise ValueError(f"{func}: cache must be the AttentionCache returned by attention_forward, "
                         f"got {type(cache).__name__}")
    q, h_enc, u, alpha, W_a, v_a = cache
    dC = as_float_array(func, "dC", dC)
    check_shape(func, "dC", dC, q.shape, "(B, H)")
    H = q.shape[1]
    # --8<-- [start:backward]
    dh_enc = alpha[..., None] * dC  # (T_x, B, H): through C(t) = sum_j α_j h_enc(j)
    dalpha = np.einsum("jbh,bh->jb", h_enc, dC)  # (T_x, B): dL/dα_j = h_enc(j) · dL/dC
    dscore = alpha * (dalpha - (alpha * dalpha).sum(axis=0))  # softmax: α_j (dα_j - sum_i α_i dα_i)
    dv_a = np.einsum("jb,jbh->h", dscore, u)  # sum_j dL/dκ_j u_j
    dpre = dscore[..., None] * v_a * (1.0 - u ** 2)  # (T_x, B, H): through v_a · tanh(.)
    dkeys = dpre  # the key enters the pre-activation with coefficient 1
    dpre_q = dpre.sum(axis=0)  # (B, H): the query is in every source step's pre-activation
    dq = dpre_q @ W_a  # W_a^T sum_j dL/dpre_j
    dW_a = dpre_q.T @ q  # sum_j dL/dpre_j h_dec(t-1)^T, summed over the batch
    # --8<-- [end:backward]
    return dq, dkeys, dh_enc, dW_a, dv_a.reshape(H)
