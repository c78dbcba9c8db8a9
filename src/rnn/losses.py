"""The output layer, softmax and the cross-entropy loss.

Book notation (Goodfellow et al., ch. 10)::

    o(t) = c + V h(t)
    y_hat(t) = softmax(o(t))
    L = sum_t L(t) = sum_t -log y_hat(t)[y(t)]

In code the batch is rows: ``o = h @ V.T + c``. The functions accept any
number of leading axes, so the same code handles one step (B, H), a whole
sequence (T, B, H) or a single vector (H,).

:func:`output_forward`, :func:`softmax_cross_entropy` and
:func:`output_backward` are the three steps the chapters teach;
:func:`output_cross_entropy` does all three in one pass over the logits, in
place (what training runs; tests/test_fast.py checks it against them).
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_ids, check_shape

__all__ = ["softmax", "log_softmax", "softmax_cross_entropy", "output_forward", "output_backward",
           "output_cross_entropy"]


def log_softmax(o):
    """Numerically stable log-softmax over the last axis.

    Uses log softmax(o)_k = o_k - m - log sum_j exp(o_j - m) with m = max_j o_j,
    so no exponential can overflow.

    Parameters
    ----------
    o : ndarray of shape (..., K)
        Logits (unnormalised log-probabilities).

    Returns
    -------
    logp : ndarray of shape (..., K)
        Log-probabilities; ``np.exp(logp).sum(-1)`` is 1.
    """
    o = as_float_array("log_softmax", "o", o)
    if o.ndim == 0 or o.shape[-1] == 0:
        raise ValueError(f"log_softmax: o must have shape (..., K) with K >= 1, got {o.shape}")
    # --8<-- [start:log_softmax]
    m = o.max(axis=-1, keepdims=True)  # (..., 1) shift: exp never overflows
    z = o - m
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    # --8<-- [end:log_softmax]
    return logp


def softmax(o):
    """Softmax over the last axis: y_hat_k = exp(o_k) / sum_j exp(o_j).

    Parameters
    ----------
    o : ndarray of shape (..., K)
        Logits.

    Returns
    -------
    y_hat : ndarray of shape (..., K)
        Probabilities, non-negative, summing to 1 over the last axis.
    """
    return np.exp(log_softmax(o))


def softmax_cross_entropy(o, y, reduction="sum"):
    """Cross-entropy of softmax(o) against integer targets, and its gradient.

    Parameters
    ----------
    o : ndarray of shape (..., K)
        Logits, e.g. (T, B, K) for a batch of sequences.
    y : ndarray of int, shape (...)
        Target class ids in ``[0, K)``; the shape of ``o`` without its last axis.
    reduction : {"sum", "mean"}, default "sum"
        ``"sum"`` returns L = sum over every position of -log y_hat[y], the
        book's L summed over time (and batch). ``"mean"`` divides by the number
        of positions (T*B), giving the loss per character in nats.

    Returns
    -------
    loss : float
        The reduced loss.
    do : ndarray of shape (..., K)
        dL/do = y_hat - onehot(y), divided by the number of positions when
        ``reduction="mean"``.

    Raises
    ------
    ValueError
        If shapes disagree, ``y`` is not integer, an id is out of range, or
        ``reduction`` is unknown.
    """
    func = "softmax_cross_entropy"
    o = as_float_array(func, "o", o)
    if o.ndim == 0:
        raise ValueError(f"{func}: o must have shape (..., K), got a scalar")
    K = o.shape[-1]
    y = check_ids(func, "y", y, K)
    if y.shape != o.shape[:-1]:
        raise ValueError(f"{func}: y must have shape {o.shape[:-1]} (o's shape without K), got {y.shape}")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"{func}: reduction must be 'sum' or 'mean', got {reduction!r}")
    # --8<-- [start:cross_entropy]
    logp = log_softmax(o)  # (..., K)
    picked = np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]  # log y_hat(t)[y(t)]
    loss = -picked.sum()  # L = sum_t -log y_hat(t)[y(t)]
    onehot = np.eye(K, dtype=o.dtype)[y]  # (..., K), 1 at the target
    do = np.exp(logp) - onehot  # dL/do(t) = y_hat(t) - onehot(y(t))
    # --8<-- [end:cross_entropy]
    if reduction == "mean":
        n = max(y.size, 1)
        loss, do = loss / n, do / n
    return float(loss), do


def output_forward(h, V, c):
    """The output layer o(t) = c + V h(t), for every position at once.

    Parameters
    ----------
    h : ndarray of shape (..., H)
        Hidden states, e.g. (T, B, H).
    V : ndarray of shape (K, H)
        Hidden-to-output weights.
    c : ndarray of shape (K,)
        Output bias.

    Returns
    -------
    o : ndarray of shape (..., K)
        Logits.
    """
    func = "output_forward"
    h, V, c = (as_float_array(func, n, a) for n, a in (("h", h), ("V", V), ("c", c)))
    if V.ndim != 2:
        raise ValueError(f"{func}: V must have shape (K, H), got {V.shape}")
    K, H = V.shape
    check_shape(func, "c", c, (K,), "(K,)")
    if h.ndim == 0 or h.shape[-1] != H:
        raise ValueError(f"{func}: h must have shape (..., H) with H = {H} (V's columns), got {h.shape}")
    # --8<-- [start:output_forward]
    o = h @ V.T + c  # o(t) = c + V h(t), all T*B rows in one matrix product
    # --8<-- [end:output_forward]
    return o


def output_backward(do, h, V):
    """Backward pass of :func:`output_forward`.

    Parameters
    ----------
    do : ndarray of shape (..., K)
        dL/do for every position.
    h : ndarray of shape (..., H)
        The hidden states given to :func:`output_forward`.
    V : ndarray of shape (K, H)
        Hidden-to-output weights.

    Returns
    -------
    dh : ndarray of shape (..., H)
        dL/dh through o only (the recurrence adds the rest).
    dV : ndarray of shape (K, H)
        Summed over every position.
    dc : ndarray of shape (K,)
        Summed over every position.
    """
    func = "output_backward"
    do, h, V = (as_float_array(func, n, a) for n, a in (("do", do), ("h", h), ("V", V)))
    if V.ndim != 2:
        raise ValueError(f"{func}: V must have shape (K, H), got {V.shape}")
    K, H = V.shape
    if do.shape[-1:] != (K,) or h.shape[-1:] != (H,) or do.shape[:-1] != h.shape[:-1]:
        raise ValueError(f"{func}: do must have shape (..., K) and h shape (..., H) with the same "
                         f"leading axes, K = {K}, H = {H}; got do {do.shape}, h {h.shape}")
    # --8<-- [start:output_backward]
    do2, h2 = do.reshape(-1, K), h.reshape(-1, H)  # all positions as rows
    dV = do2.T @ h2  # dL/dV = sum_t dL/do(t) h(t)^T
    dc = do2.sum(axis=0)  # dL/dc = sum_t dL/do(t)
    dh = do @ V  # dL/dh(t) via o(t) = V^T dL/do(t)
    # --8<-- [end:output_backward]
    return dh, dV, dc


def output_cross_entropy(h, V, c, y, reduction="sum"):
    """Output layer, softmax cross-entropy and their gradients in one pass (the fast path).

    The same numbers as :func:`output_forward`, :func:`softmax_cross_entropy`
    and :func:`output_backward` in a row, with one (N, K) array for the
    logits, the probabilities and dL/do in turn (N = the number of positions)
    and no one-hot matrix: the loss is ``sum(log sum_k exp(z_k) - z_y)`` with
    ``z = o - max(o)``, and dL/do is the softmax with 1 subtracted at each target.

    Parameters
    ----------
    h : ndarray of shape (..., H)
    V : ndarray of shape (K, H)
    c : ndarray of shape (K,)
    y : ndarray of int, shape (...)
        Targets, the shape of ``h`` without its last axis.
    reduction : {"sum", "mean"}, default "sum"

    Returns
    -------
    loss : float
    dh : ndarray of shape (..., H)
    dV : ndarray of shape (K, H)
    dc : ndarray of shape (K,)
    """
    func = "output_cross_entropy"
    if not (np.ndim(V) == 2 and np.shape(c) == V.shape[:1] and np.shape(h)[-1:] == V.shape[1:]):
        output_forward(h, V, c)  # raises the detailed message
    K, H = V.shape
    if y.shape != h.shape[:-1]:
        raise ValueError(f"{func}: y must have shape {h.shape[:-1]} (h's shape without H), "
                         f"got {y.shape}")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"{func}: reduction must be 'sum' or 'mean', got {reduction!r}")
    # --8<-- [start:fast-output]
    h2, n = h.reshape(-1, H), y.size  # one row per position
    at = np.arange(0, n * K, K) + y.reshape(-1)  # where each target sits in the flat (N, K) array
    z = h2.dot(V.T)  # (N, K): o = c + V h, ...
    z += c
    z -= np.maximum.reduce(z, axis=1, keepdims=True)  # ... shifted: exp cannot overflow
    flat = z.reshape(-1)
    z_y = flat[at]  # the target's shifted logit
    np.exp(z, out=z)
    total = np.add.reduce(z, axis=1)  # sum_k exp(z_k)
    loss = float(np.add.reduce(np.log(total)) - np.add.reduce(z_y))  # sum of -log softmax(o)[y]
    scale = 1.0 / n if reduction == "mean" else 1.0
    total /= scale
    z /= total[:, None]  # the softmax (divided by N for the mean) ...
    flat[at] -= scale  # ... minus onehot(y): dL/do
    loss *= scale
    dV = z.T.dot(h2)
    dc = np.add.reduce(z, axis=0)
    dh = z.dot(V).reshape(h.shape)
    # --8<-- [end:fast-output]
    return loss, dh, dV, dc
