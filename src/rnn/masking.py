"""Sequences of different lengths in one time-major batch: padding, masks,
and running a recurrent layer up to each sequence's own last step.

A batch of B sequences of lengths T_1, ..., T_B is stored *right-padded*
in arrays of T = max T_n steps: sequence n fills steps ``0 .. T_n - 1`` of
column n, and the steps after it hold padding. The boolean mask
``mask[t, n] = t < T_n`` marks the real steps.

Right padding needs no change to the recurrence. A recurrent layer only
looks back in time, so nothing at or after step T_n, padding included, can
influence the states ``h[0 .. T_n - 1, n]``. Hence:

* a quantity read at the last real step is a gather, ``h[T_n - 1, n]``
  (:func:`gather_last`), and its gradient lands at that step only: every
  other row of the upstream gradient ``dh`` is zero (:func:`scatter_last`);
* the whole recurrent state at the last real step (for an LSTM the cell
  state too, which the layer does not output at every step) comes from
  running the layer in segments that end at the distinct lengths
  (:func:`forward_to_lengths`, :func:`backward_to_lengths`);
* a loss over some positions of a (T, B) batch counts the masked positions
  only (:func:`masked_cross_entropy`);
* reading each sequence backwards, for a bidirectional layer, reverses it
  within its own length (:func:`reverse_padded`), so that its padding stays
  at the end.

Everything here drives a cell through the layer protocol of
:mod:`rnn.rnn_cell`, so it works with every cell of :data:`rnn.model.CELLS`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_int, check_shape
from .losses import softmax_cross_entropy

__all__ = ["pad", "check_lengths", "mask_from_lengths", "lengths_from_mask", "gather_last",
           "scatter_last", "reverse_index", "reverse_padded", "LengthsCache",
           "forward_to_lengths", "backward_to_lengths", "masked_cross_entropy"]


def check_lengths(func: str, lengths, T: int, B: int, name: str = "lengths") -> np.ndarray:
    """Return ``lengths`` as an int64 array of shape (B,) with every entry in [1, T], or raise.

    Parameters
    ----------
    func : str
        The calling function, named in the error message.
    lengths : array-like of int, shape (B,)
        The number of real steps of each sequence.
    T : int
        Steps in the padded batch.
    B : int
        Sequences in the batch.
    name : str, default "lengths"
        The argument's name in the message.
    """
    a = np.asarray(lengths)
    if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{func}: {name} must hold integer lengths, got dtype {a.dtype}")
    if a.shape != (B,):
        raise ValueError(f"{func}: {name} must have shape (B,) = ({B},), one length per "
                         f"sequence, got {a.shape}")
    if B and (a.min() < 1 or a.max() > T):
        bad = int(a[(a < 1) | (a > T)][0])
        raise ValueError(f"{func}: every entry of {name} must lie in [1, T] = [1, {T}] "
                         f"(T, the padded number of steps), got {bad}")
    return a.astype(np.int64)


def pad(seqs, pad_id: int = 0):
    """Right-pad integer sequences into one time-major batch.

    Parameters
    ----------
    seqs : sequence of 1-D int arrays
        B sequences, each of at least one id.
    pad_id : int, default 0
        The id written after the end of each sequence. Its value never
        matters to a layer run with the lengths; 0 is only a convention.

    Returns
    -------
    ids : ndarray of int64, shape (T, B)
        ``ids[:T_n, n]`` is sequence n, ``T = max T_n``.
    lengths : ndarray of int64, shape (B,)

    Raises
    ------
    ValueError
        For no sequences, an empty sequence, or one that is not 1-D integer.
    """
    seqs = [np.asarray(s) for s in seqs]
    if not seqs:
        raise ValueError("pad: seqs is empty; pass at least one sequence")
    for i, s in enumerate(seqs):
        if s.ndim != 1 or s.size == 0 or not np.issubdtype(s.dtype, np.integer):
            raise ValueError(f"pad: seqs[{i}] must be a non-empty 1-D integer array, got dtype "
                             f"{s.dtype} and shape {s.shape}")
    check_int("pad", "pad_id", pad_id, low=0)
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    ids = np.full((int(lengths.max()), len(seqs)), pad_id, dtype=np.int64)
    for n, s in enumerate(seqs):
        ids[:len(s), n] = s
    return ids, lengths


def mask_from_lengths(lengths, T: int) -> np.ndarray:
    """The mask of the real steps: ``mask[t, n] = t < lengths[n]``, bool (T, B)."""
    lengths = np.asarray(lengths)
    lengths = check_lengths("mask_from_lengths", lengths, check_int("mask_from_lengths", "T", T),
                            lengths.shape[0] if lengths.ndim == 1 else -1)
    # --8<-- [start:mask]
    mask = np.arange(T)[:, None] < lengths[None, :]  # (T, B): True on the real steps
    # --8<-- [end:mask]
    return mask


def lengths_from_mask(mask) -> np.ndarray:
    """The lengths of a right-padded batch from its mask.

    Parameters
    ----------
    mask : ndarray of bool, shape (T, B)
        True on the real steps. Each column must be a run of True followed
        by a run of False (right padding), with at least one True.

    Returns
    -------
    lengths : ndarray of int64, shape (B,)

    Raises
    ------
    ValueError
        If the mask is not boolean (T, B), a column has no real step, or a
        real step follows a padded one (left or inner padding).
    """
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.ndim != 2:
        raise ValueError(f"lengths_from_mask: mask must be a boolean array of shape (T, B), got "
                         f"dtype {mask.dtype} and shape {mask.shape}")
    lengths = mask.sum(axis=0)
    if (lengths == 0).any():
        n = int(np.flatnonzero(lengths == 0)[0])
        raise ValueError(f"lengths_from_mask: column {n} of mask has no real step; every "
                         "sequence needs at least one")
    bad = ~np.all(mask == (np.arange(mask.shape[0])[:, None] < lengths), axis=0)
    if bad.any():
        n = int(np.flatnonzero(bad)[0])
        raise ValueError(f"lengths_from_mask: column {n} of mask is not right-padded (a real "
                         "step follows a padded one); put each sequence at the start of its "
                         "column and the padding after it")
    return lengths.astype(np.int64)


def gather_last(h, lengths) -> np.ndarray:
    """The state at each sequence's last real step.

    Parameters
    ----------
    h : ndarray of shape (T, B, H)
    lengths : ndarray of int, shape (B,)

    Returns
    -------
    last : ndarray of shape (B, H)
        ``last[n] = h[lengths[n] - 1, n]``.
    """
    func = "gather_last"
    h = as_float_array(func, "h", h)
    check_shape(func, "h", h, (None, None, None), "(T, B, H)")
    T, B, _ = h.shape
    lengths = check_lengths(func, lengths, T, B)
    # --8<-- [start:gather]
    last = h[lengths - 1, np.arange(B)]  # (B, H): row n is h[T_n - 1, n]
    # --8<-- [end:gather]
    return last


def scatter_last(dlast, lengths, T: int) -> np.ndarray:
    """The backward pass of :func:`gather_last`: ``dh`` (T, B, H), zero except at the last real steps.

    Parameters
    ----------
    dlast : ndarray of shape (B, H)
        Gradient with respect to the gathered states.
    lengths : ndarray of int, shape (B,)
    T : int
        Steps in the padded batch.

    Returns
    -------
    dh : ndarray of shape (T, B, H)
        ``dh[lengths[n] - 1, n] = dlast[n]``; every other row, the padded
        ones included, is zero.
    """
    func = "scatter_last"
    dlast = as_float_array(func, "dlast", dlast)
    check_shape(func, "dlast", dlast, (None, None), "(B, H)")
    B, H = dlast.shape
    lengths = check_lengths(func, lengths, check_int(func, "T", T), B)
    # --8<-- [start:scatter]
    dh = np.zeros((T, B, H), dtype=dlast.dtype)
    dh[lengths - 1, np.arange(B)] = dlast  # the loss reads h only at the last real step
    # --8<-- [end:scatter]
    return dh


def reverse_index(lengths, T: int) -> np.ndarray:
    """Time indices that reverse each sequence within its own length.

    ``idx[t, n] = lengths[n] - 1 - t`` on the real steps and ``t`` on the
    padded ones, so ``a[idx, arange(B)]`` reads sequence n backwards and
    leaves its padding at the end. Applying it twice is the identity.

    Returns
    -------
    idx : ndarray of int64, shape (T, B)
    """
    func = "reverse_index"
    lengths = np.asarray(lengths)
    T = check_int(func, "T", T)
    lengths = check_lengths(func, lengths, T, lengths.shape[0] if lengths.ndim == 1 else -1)
    # --8<-- [start:reverse]
    t = np.arange(T)[:, None]  # (T, 1)
    idx = np.where(t < lengths, lengths - 1 - t, t)  # (T, B): backwards on the real steps only
    # --8<-- [end:reverse]
    return idx


def reverse_padded(a, lengths) -> np.ndarray:
    """Reverse every sequence of a right-padded batch within its own length.

    Parameters
    ----------
    a : ndarray of shape (T, B, ...)
        Time-major values (ids, inputs, states or gradients).
    lengths : ndarray of int, shape (B,)

    Returns
    -------
    reversed : ndarray of the shape of ``a``
        ``reversed[t, n] = a[lengths[n] - 1 - t, n]`` for ``t < lengths[n]``,
        ``a[t, n]`` after that. The operation is its own inverse, and, being
        a permutation of each column, also its own backward pass.
    """
    a = np.asarray(a)
    if a.ndim < 2:
        raise ValueError(f"reverse_padded: a must have shape (T, B, ...), got {a.shape}")
    T, B = a.shape[:2]
    idx = reverse_index(check_lengths("reverse_padded", lengths, T, B), T)
    return a[idx, np.arange(B)]


class LengthsCache(NamedTuple):
    """What :func:`forward_to_lengths` keeps for :func:`backward_to_lengths`.

    Attributes
    ----------
    module : module
        The cell module (a value of :data:`rnn.model.CELLS`).
    bounds : tuple of int
        The distinct lengths, ascending: segment k runs steps
        ``bounds[k - 1] .. bounds[k] - 1`` (from 0 for k = 0).
    caches : list
        The layer cache of each segment.
    lengths : ndarray of int64, shape (B,)
    x_shape : tuple
        (T, B, D), the shape of the inputs.
    """

    module: object
    bounds: tuple
    caches: list
    lengths: np.ndarray
    x_shape: tuple


def forward_to_lengths(module, x, state0, params, lengths):
    """Run one recurrent layer over a right-padded batch; return the state at each last real step.

    The layer runs in segments that end at the distinct lengths, each
    segment starting from the state the previous one ended in, so the full
    state (S, B, H) is known at every length. Sequence n's final state is
    the state at the end of the segment that ends at ``lengths[n]``.

    Parameters
    ----------
    module : module
        A cell module following the layer protocol (``rnn.model.CELLS[cell]``).
    x : ndarray of shape (T, B, D)
        Inputs, right-padded.
    state0 : ndarray of shape (S, B, H)
        Initial state.
    params : dict
        The layer's parameters (``module.PARAM_NAMES``).
    lengths : ndarray of int, shape (B,)
        Real steps of each sequence, each in [1, T].

    Returns
    -------
    h : ndarray of shape (T, B, H)
        Hidden states on the real steps, zero on the padded ones.
    cache : LengthsCache
    state : ndarray of shape (S, B, H)
        ``state[:, n]`` is the state after step ``lengths[n] - 1`` of
        sequence n: what the layer would end in had it been run on sequence
        n alone.
    """
    func = "forward_to_lengths"
    x = as_float_array(func, "x", x)
    check_shape(func, "x", x, (None, None, None), "(T, B, D)")
    T, B, _ = x.shape
    lengths = check_lengths(func, lengths, T, B)
    # --8<-- [start:forward-to-lengths]
    bounds = tuple(int(n) for n in np.unique(lengths))  # ascending distinct lengths
    hs, caches, state, start = [], [], state0, 0
    for end in bounds:
        h_seg, cache, state = module.layer_forward(x[start:end], state, params)
        if start == 0:
            final = np.empty_like(state)  # (S, B, H)
        done = lengths == end  # the sequences whose last real step is end - 1
        final[:, done] = state[:, done]
        hs.append(h_seg)
        caches.append(cache)
        start = end
    h = np.concatenate(hs)  # (max length, B, H)
    h = np.concatenate([h, np.zeros((T - start,) + h.shape[1:], h.dtype)])  # all-padding steps
    h[~mask_from_lengths(lengths, T)] = 0.0  # padded steps are never read: zero them
    # --8<-- [end:forward-to-lengths]
    return h, LengthsCache(module, bounds, caches, lengths, x.shape), final


def backward_to_lengths(dh, cache, dstate=None):
    """The backward pass of :func:`forward_to_lengths`.

    Parameters
    ----------
    dh : ndarray of shape (T, B, H)
        Upstream gradient on the hidden states; its padded rows are ignored
        (the forward pass set those states to zero).
    cache : LengthsCache
    dstate : ndarray of shape (S, B, H), optional
        Gradient on the returned final states (for an encoder: what the
        decoder sends back through the handed-over state).

    Returns
    -------
    dx : ndarray of shape (T, B, D)
    dstate0 : ndarray of shape (S, B, H)
    grads : dict
        Parameter gradients, summed over every segment.
    """
    func = "backward_to_lengths"
    if not isinstance(cache, LengthsCache):
        raise ValueError(f"{func}: cache must be the LengthsCache returned by forward_to_lengths, "
                         f"got {type(cache).__name__}")
    module, bounds, caches, lengths, (T, B, D) = cache
    dh = as_float_array(func, "dh", dh)
    check_shape(func, "dh", dh, (T, B, None), "(T, B, H)")
    if dstate is not None:
        dstate = as_float_array(func, "dstate", dstate)
        check_shape(func, "dstate", dstate, (module.N_STATES, B, dh.shape[2]), "(S, B, H)")
    dh = dh * mask_from_lengths(lengths, T)[..., None]
    # --8<-- [start:backward-to-lengths]
    dxs, grads, carry = [], None, None  # carry: dL/d(state at a segment's end), from later segments
    for k in reversed(range(len(bounds))):
        start, end = (bounds[k - 1] if k else 0), bounds[k]
        ds = carry
        if dstate is not None:  # the gradient on a final state enters where that sequence ended
            ended = (lengths == end)[None, :, None]  # (1, B, 1)
            ds = np.where(ended, dstate, 0.0) + (0.0 if carry is None else carry)
        dx_seg, carry, g = module.layer_backward(dh[start:end], caches[k], ds)
        dxs.append(dx_seg)
        grads = g if grads is None else {n: grads[n] + g[n] for n in g}
    dx = np.concatenate(dxs[::-1])  # (max length, B, D)
    # --8<-- [end:backward-to-lengths]
    dx = np.concatenate([dx, np.zeros((T - bounds[-1], B, D), dx.dtype)])
    return dx, carry, grads


def masked_cross_entropy(o, y, mask, reduction: str = "sum"):
    """Softmax cross-entropy over the masked positions of a batch only.

    Parameters
    ----------
    o : ndarray of shape (T, B, K)
        Logits.
    y : ndarray of int, shape (T, B)
        Targets; their values at unmasked positions are ignored.
    mask : ndarray of bool, shape (T, B)
        True where a position counts.
    reduction : {"sum", "mean"}, default "sum"
        ``"mean"`` divides by the number of positions that count.

    Returns
    -------
    loss : float
    do : ndarray of shape (T, B, K)
        dL/do, zero at the unmasked positions.

    Raises
    ------
    ValueError
        If the shapes disagree, the mask is not boolean or masks every position.
    """
    func = "masked_cross_entropy"
    o = as_float_array(func, "o", o)
    check_shape(func, "o", o, (None, None, None), "(T, B, K)")
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != o.shape[:2]:
        raise ValueError(f"{func}: mask must be a boolean array of shape (T, B) = {o.shape[:2]}, "
                         f"got dtype {mask.dtype} and shape {mask.shape}")
    y = np.asarray(y)
    if y.shape != o.shape[:2]:
        raise ValueError(f"{func}: y must have shape (T, B) = {o.shape[:2]}, got {y.shape}")
    if not mask.any():
        raise ValueError(f"{func}: mask selects no position; nothing to compute a loss on")
    # --8<-- [start:masked-loss]
    loss, do_kept = softmax_cross_entropy(o[mask], y[mask], reduction)  # the real positions only
    do = np.zeros_like(o)
    do[mask] = do_kept  # padded positions get no gradient
    # --8<-- [end:masked-loss]
    return loss, do
