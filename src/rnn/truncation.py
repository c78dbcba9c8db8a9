"""What truncated backpropagation through time computes, and its variants.

Over a text of N steps, full BPTT gives the gradient of the shared weights as
a double sum (chapter "Backpropagation through time"): one term for every
loss L(s) and every step t <= s at which the weights were used,

    dL/dW = sum_{s=1..N} sum_{t=1..s} dL(s)/dW(t),
    dL(s)/dW(t) = diag(1 - h(t)^2) (J(s) ... J(t+1))^T V^T dL/do(s) h(t-1)^T,

with J(r) = diag(1 - h(r)^2) W (and likewise for U and b; V and c have no
sum over t). A truncation scheme is the set of terms (s, t) it keeps, with a
weight. :func:`term_weights` returns that set as an (N, N) matrix:

* ``window`` (what ``rnn train`` does by default, as min-char-rnn): windows
  of T steps, the state carried from one to the next, the gradient stopped at
  the window start. It keeps (s, t) iff s and t lie in the same window: the
  loss at position p of a window (0-based) keeps p + 1 terms, so the first
  loss of every window gets no gradient from any earlier step.
* ``overlap``, TBPTT(k1, k2) of Williams & Peng (1990): every k1 new steps,
  backpropagate over the last k2 = T steps, with the loss of the k1 new steps
  only. Every loss keeps at least k2 - k1 + 1 terms.
* ``random``, randomised truncation (Tallec & Ollivier 2017; d2l §9.7):
  inside a window, the gradient carried from step t back to t-1 is multiplied
  by a random ξ, 1/p with probability p and 0 otherwise. A term that
  crosses r steps survives with probability p^r and then has weight p^-r,
  so its expected weight is 1: an unbiased estimate of the window's
  gradient, with more variance.

:class:`Truncation` tells :func:`rnn.train.train_step` which positions of a
window count in the loss, after how many steps to take the state handed to
the next window, and the factors ξ; :func:`truncated_loss_and_grads`
computes the loss and gradient it describes, for any registered cell, by
running the layer protocol segment by segment.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import check_int, check_number, check_shape
from .losses import output_backward, output_forward
from .model import CELLS, _masked_loss, init_state, loss_and_grads, model_info, one_hot, param_key

__all__ = ["Truncation", "truncated_loss_and_grads", "term_weights", "random_keep"]


class Truncation(NamedTuple):
    """How one window's gradient is truncated, beyond stopping at the window start.

    Attributes
    ----------
    loss_mask : ndarray of bool, shape (T, B), optional
        The positions whose loss counts (None: all).
    carry_at : int, optional
        The state handed to the next window is the one after this many steps,
        1 <= carry_at <= T (None: after all T).
    keep : ndarray of float, shape (T - 1, B), optional
        ``keep[t - 1]`` multiplies the state gradient carried from position t
        back to position t - 1, for t = 1 .. T - 1 (None: all ones).
    """

    loss_mask: np.ndarray | None = None
    carry_at: int | None = None
    keep: np.ndarray | None = None

    def loss_and_grads(self, params, inputs, targets, state0=None, *, reduction="mean"):
        """:func:`truncated_loss_and_grads` with this truncation."""
        return truncated_loss_and_grads(params, inputs, targets, state0, loss_mask=self.loss_mask,
                                        carry_at=self.carry_at, keep=self.keep, reduction=reduction)


def random_keep(T: int, B: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """The factors ξ of randomised truncation: 1/p with probability p, else 0.

    Returns
    -------
    keep : ndarray of float64, shape (T - 1, B)
    """
    T, B = check_int("random_keep", "T", T), check_int("random_keep", "B", B)
    p = check_number("random_keep", "p", p, low=0.0, high=1.0, low_open=True)
    return np.where(rng.random((T - 1, B)) < p, 1.0 / p, 0.0)


# --8<-- [start:segments]
def truncated_loss_and_grads(params: dict, inputs, targets, state0=None, *, loss_mask=None,
                             carry_at=None, keep=None, reduction: str = "sum"):
    """Loss and gradient of one window under a :class:`Truncation`.

    Without ``carry_at`` and ``keep`` this is :func:`rnn.model.loss_and_grads`.
    Otherwise the window is cut into segments at ``carry_at`` and at every
    step where ``keep`` is not 1; each segment runs through the cell's
    ``layer_forward`` / ``layer_backward``, and the gradient on a segment's
    initial state, times ``keep``, is the gradient on the final state of the
    segment before it.

    Parameters
    ----------
    params : dict
        From :func:`rnn.init_params` (any cell, any number of layers).
    inputs, targets : ndarray of int, shape (T, B)
    state0 : ndarray of shape (layers, S, B, H), optional
        Zeros if omitted; a constant (no gradient flows into it).
    loss_mask : ndarray of bool, shape (T, B), optional
    carry_at : int in [1, T], optional
    keep : ndarray, shape (T - 1, B), optional
        See :class:`Truncation`.
    reduction : {"sum", "mean"}, default "sum"

    Returns
    -------
    loss : float
    grads : dict of str to ndarray
    state : ndarray of shape (layers, S, B, H)
        The state after ``carry_at`` steps (after T if None).
    """
    func = "truncated_loss_and_grads"
    inputs, targets = np.asarray(inputs), np.asarray(targets)
    if inputs.ndim != 2 or inputs.shape[0] == 0:
        raise ValueError(f"{func}: inputs must have shape (T, B) with T >= 1, got {inputs.shape}")
    T, B = inputs.shape
    carry_at = check_int(func, "carry_at", carry_at, low=1, allow_none=True)
    if carry_at is not None and carry_at > T:
        raise ValueError(f"{func}: carry_at must lie in [1, T] = [1, {T}], got {carry_at}")
    if keep is not None:
        keep = np.asarray(keep, dtype=np.float64)
        check_shape(func, "keep", keep, (T - 1, B), "(T - 1, B)")
    if keep is None and carry_at in (None, T):  # one segment: the plain window
        return loss_and_grads(params, inputs, targets, state0, reduction=reduction,
                              loss_mask=loss_mask)
    info = model_info(params)
    module = CELLS[info.cell]
    if state0 is None:
        state0 = init_state(params, B)
    check_shape(func, "state0", state0, (info.layers, module.N_STATES, B, info.H), "(layers, S, B, H)")
    cuts = set() if keep is None else {t for t in range(1, T) if np.any(keep[t - 1] != 1.0)}
    starts = sorted(cuts | {0, carry_at or T} - {T})
    segments = list(zip(starts, starts[1:] + [T]))
    x = one_hot(inputs, info.K, dtype=params["V"].dtype)
    caches, carried = [], []
    for layer in range(info.layers):  # forward, segment by segment, the state handed on
        p = {n: params[param_key(n, layer)] for n in module.PARAM_NAMES}
        state, out, layer_caches = state0[layer], [], []
        for a, b in segments:
            h, cache, state = module.layer_forward(x[a:b], state, p)
            out.append(h)
            layer_caches.append(cache)
            if b == (carry_at or T):
                carried.append(state)
        x = np.concatenate(out)  # (T, B, H): the input of the layer above
        caches.append(layer_caches)
    loss, do = _masked_loss(func, output_forward(x, params["V"], params["c"]), targets, loss_mask,
                            reduction)
    grads = {}
    dh, grads["V"], grads["c"] = output_backward(do, x, params["V"])
    for layer in reversed(range(info.layers)):  # backward, last segment first
        dx, dstate = [], None
        for (a, b), cache in zip(reversed(segments), reversed(caches[layer])):
            d_in, dstate, g = module.layer_backward(dh[a:b], cache, dstate)
            if a > 0 and keep is not None:
                dstate = dstate * keep[a - 1][None, :, None]  # the factor xi of step a
            dx.append(d_in)
            for name, value in g.items():
                key = param_key(name, layer)
                grads[key] = grads[key] + value if key in grads else value
        dh = np.concatenate(dx[::-1])  # dL/dx of this layer: the upstream gradient below
    return loss, {k: grads[k] for k in params}, np.stack(carried)
# --8<-- [end:segments]


def term_weights(n_steps: int, T: int, *, stride=None, keep=None) -> np.ndarray:
    """Which terms dL(s)/dW(t) of the full gradient a truncation scheme keeps.

    Steps are 0-based positions in a stream of ``n_steps`` steps cut into
    windows as :class:`rnn.StreamBatcher` cuts them (no wrap-around).

    Parameters
    ----------
    n_steps : int
        N, the length of the stream.
    T : int
        Window length (``--seq-len``), T <= N.
    stride : int, optional
        k1 of TBPTT(k1, k2 = T): windows start every k1 steps, the first one
        trains on all its T positions, every later one on its last k1. None:
        non-overlapping windows (k1 = T).
    keep : ndarray of shape (N - 1,), optional
        Randomised truncation: ``keep[r - 1]`` multiplies the gradient carried
        from step r back to step r - 1 (see :func:`random_keep`).

    Returns
    -------
    weights : ndarray of shape (N, N)
        ``weights[s, t]`` is the weight of the term dL(s)/dW(t) in the
        estimated gradient: 0 for t > s and for dropped terms, 1 for a kept
        term (a product of ``keep`` factors with randomised truncation).
        Full BPTT is the lower triangle of ones.
    """
    func = "term_weights"
    N, T = check_int(func, "n_steps", n_steps), check_int(func, "T", T)
    if T > N:
        raise ValueError(f"{func}: T must be at most n_steps = {N}, got T = {T}")
    k1 = T if stride is None else check_int(func, "stride", stride)
    if k1 > T:
        raise ValueError(f"{func}: stride k1 must be at most T = k2 = {T}, got {k1}")
    s = np.arange(N)
    # the window that trains the loss at s (the first covers [0, T), window j >= 1 trains on
    # [j k1 + T - k1, j k1 + T)), and where it starts: the gradient of L(s) stops there
    start = np.where(s < T, 0, ((s - T) // k1 + 1) * k1)
    t = np.arange(N)
    weights = ((t[None, :] >= start[:, None]) & (t[None, :] <= s[:, None])).astype(np.float64)
    if keep is not None:
        keep = np.asarray(keep, dtype=np.float64)
        check_shape(func, "keep", keep, (N - 1,), "(n_steps - 1,)")
        for si in range(N):  # weight of (s, t): the product of the factors of steps t+1 .. s
            running = 1.0
            for ti in range(si, -1, -1):
                weights[si, ti] *= running
                running *= keep[ti - 1] if ti > 0 else 1.0
    return weights
