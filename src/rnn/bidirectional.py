"""A bidirectional recurrent layer (Goodfellow et al., *Deep Learning*, §10.3).

Two recurrences of the same cell, each with its own parameters, read the
same inputs: one forwards in time, one backwards. The output at step t
puts the two states side by side, so it summarises the past *and* the
future of step t::

    h→(t) = f(h→(t-1), x(t); θ→)           t = 1, ..., T_n
    h←(t) = f(h←(t+1), x(t); θ←)           t = T_n, ..., 1
    output(t) = [h→(t); h←(t)]              2H numbers

The book writes g(t) for the backward state; this site writes h←(t)
(``g`` is already the LSTM's candidate). In a right-padded batch (see
:mod:`rnn.masking`) each sequence is reversed within its own length before
the backward recurrence reads it, so that recurrence starts at the
sequence's real last step, not in its padding.

The backward pass runs BPTT through each recurrence separately; both read
x(t), so the two gradients with respect to x(t) add.

Parameters: the forward recurrence's under the prefix ``"fwd."`` and the
backward one's under ``"bwd."`` (``"fwd.U"``, ``"fwd.W"``, ``"fwd.b"``,
``"bwd.U"``, ... for the vanilla cell). The layout of the output, forward
half first, is that of ``torch.nn.RNN(bidirectional=True)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_ids, check_int, check_shape
from ._parts import as_inputs, check_cell, find_cell, fit, group, init_group, rng_from, ungroup
from .initializers import init_weight
from .losses import output_backward, output_forward
from .masking import (backward_to_lengths, check_lengths, forward_to_lengths, mask_from_lengths,
                      masked_cross_entropy, reverse_padded)
from .model import CELLS

__all__ = ["DIRECTIONS", "init_bidirectional", "BidirectionalCache", "bidirectional_forward",
           "bidirectional_backward", "init_tagger", "tag", "tagger_loss_and_grads", "train_tagger"]

#: Parameter prefixes of the two recurrences.
DIRECTIONS = ("fwd.", "bwd.")


class BidirectionalCache(NamedTuple):
    """What :func:`bidirectional_forward` keeps for :func:`bidirectional_backward`."""

    fwd: object
    bwd: object
    lengths: np.ndarray
    H: int


def init_bidirectional(D: int, H: int, *, cell: str = "rnn", init: str = "scaled", seed=None,
                       dtype=np.float64, prefix: str = "") -> dict:
    """Parameters of a bidirectional layer: two independent layers of ``cell``.

    Parameters
    ----------
    D, H : int
        Input size and hidden units of each direction (the output has 2H).
    cell : str, default "rnn"
    init : str, default "scaled"
    seed : int or numpy.random.Generator, optional
    dtype : numpy dtype, default float64
    prefix : str, default ""
        Put before every key (e.g. ``"enc."`` for an encoder).

    Returns
    -------
    params : dict
        ``prefix + "fwd." + name`` and ``prefix + "bwd." + name`` for every
        name of the cell's ``PARAM_NAMES``.
    """
    func = "init_bidirectional"
    check_cell(func, cell)
    D, H = check_int(func, "D", D), check_int(func, "H", H)
    rng = rng_from(seed)
    params = {}
    for direction in DIRECTIONS:
        params.update(init_group(cell, D, H, rng, init, dtype, prefix + direction))
    return params


def bidirectional_forward(x, params: dict, lengths=None, state0=None, *, prefix: str = ""):
    """Run both recurrences of a bidirectional layer.

    Parameters
    ----------
    x : ndarray of shape (T, B, D)
        Inputs, right-padded when ``lengths`` is given.
    params : dict
        From :func:`init_bidirectional`.
    lengths : ndarray of int, shape (B,), optional
        Real steps of each sequence; all T if omitted.
    state0 : ndarray of shape (2, S, B, H), optional
        Initial states of the forward and the backward recurrence; zeros
        if omitted.
    prefix : str, default ""
        The prefix the parameters were created with.

    Returns
    -------
    h : ndarray of shape (T, B, 2H)
        ``h[t, n] = [h→(t); h←(t)]`` on the real steps, zero on the padded ones.
    cache : BidirectionalCache
    state : ndarray of shape (2, S, B, H)
        The final states: ``state[0]`` the forward one after step T_n,
        ``state[1]`` the backward one after it has read x(1).
    """
    func = "bidirectional_forward"
    cell = find_cell(func, params, prefix + DIRECTIONS[0])
    find_cell(func, params, prefix + DIRECTIONS[1])
    module = CELLS[cell]
    fwd, bwd = (group(params, module, prefix + d) for d in DIRECTIONS)
    H, D = fwd[module.PARAM_NAMES[0]].shape
    x = as_float_array(func, "x", x)
    check_shape(func, "x", x, (None, None, D), "(T, B, D)")
    T, B, _ = x.shape
    lengths = np.full(B, T) if lengths is None else check_lengths(func, lengths, T, B)
    if state0 is None:
        state0 = np.zeros((2, module.N_STATES, B, H), x.dtype)
    state0 = as_float_array(func, "state0", state0)
    check_shape(func, "state0", state0, (2, module.N_STATES, B, H), "(2, S, B, H)")
    # --8<-- [start:forward]
    h_fwd, cache_fwd, state_fwd = forward_to_lengths(module, x, state0[0], fwd, lengths)
    x_rev = reverse_padded(x, lengths)  # x(T_n), ..., x(1), then the padding
    h_rev, cache_bwd, state_bwd = forward_to_lengths(module, x_rev, state0[1], bwd, lengths)
    h_bwd = reverse_padded(h_rev, lengths)  # back in forward time: h_bwd[t] is h←(t+1)
    h = np.concatenate([h_fwd, h_bwd], axis=-1)  # (T, B, 2H): [h→(t); h←(t)]
    # --8<-- [end:forward]
    return h, BidirectionalCache(cache_fwd, cache_bwd, lengths, H), np.stack([state_fwd, state_bwd])


def bidirectional_backward(dh, cache, dstate=None, *, prefix: str = ""):
    """BPTT through both recurrences of a bidirectional layer.

    Parameters
    ----------
    dh : ndarray of shape (T, B, 2H)
        Upstream gradient on the outputs; padded rows are ignored.
    cache : BidirectionalCache
    dstate : ndarray of shape (2, S, B, H), optional
        Gradient on the final states returned by the forward pass.
    prefix : str, default ""

    Returns
    -------
    dx : ndarray of shape (T, B, D)
        The sum of what the two recurrences send back to x(t).
    dstate0 : ndarray of shape (2, S, B, H)
    grads : dict
        ``prefix + "fwd." + name`` and ``prefix + "bwd." + name``.
    """
    func = "bidirectional_backward"
    if not isinstance(cache, BidirectionalCache):
        raise ValueError(f"{func}: cache must be the BidirectionalCache returned by "
                         f"bidirectional_forward, got {type(cache).__name__}")
    cache_fwd, cache_bwd, lengths, H = cache
    T, B, _ = cache_fwd.x_shape
    dh = as_float_array(func, "dh", dh)
    check_shape(func, "dh", dh, (T, B, 2 * H), "(T, B, 2H)")
    S = cache_fwd.module.N_STATES
    if dstate is None:
        dstate = (None, None)
    else:
        dstate = as_float_array(func, "dstate", dstate)
        check_shape(func, "dstate", dstate, (2, S, B, H), "(2, S, B, H)")
    # --8<-- [start:backward]
    dh_fwd, dh_bwd = dh[..., :H], dh[..., H:]  # the two halves of [h→(t); h←(t)]
    dx_fwd, ds0_fwd, g_fwd = backward_to_lengths(dh_fwd, cache_fwd, dstate[0])
    dh_rev = reverse_padded(dh_bwd, lengths)  # into the backward recurrence's own time order
    dx_rev, ds0_bwd, g_bwd = backward_to_lengths(dh_rev, cache_bwd, dstate[1])
    dx = dx_fwd + reverse_padded(dx_rev, lengths)  # x(t) feeds both: the gradients add
    # --8<-- [end:backward]
    grads = {**ungroup(g_fwd, prefix + DIRECTIONS[0]), **ungroup(g_bwd, prefix + DIRECTIONS[1])}
    return dx, np.stack([ds0_fwd, ds0_bwd]), grads


# ---------------------------------------------------------------- a tagger: one label per step

def init_tagger(D: int, H: int, K: int, *, cell: str = "rnn", bidirectional: bool = True,
                init: str = "scaled", seed=None, dtype=np.float64) -> dict:
    """Parameters of a tagger: a recurrent layer and an output layer at every step.

    Parameters
    ----------
    D, H, K : int
        Input size, hidden units per direction, number of tags.
    cell : str, default "rnn"
    bidirectional : bool, default True
        Both recurrences (``"fwd."``, ``"bwd."``; the output layer reads 2H
        numbers) or the forward one only (H numbers), for comparison.
    init : str, default "scaled"
    seed : int or numpy.random.Generator, optional
    dtype : numpy dtype, default float64

    Returns
    -------
    params : dict
        The layer's parameters, ``"V"`` (K, 2H or H) and ``"c"`` (K,).
    """
    func = "init_tagger"
    check_cell(func, cell)
    D, H, K = (check_int(func, n, v) for n, v in (("D", D), ("H", H), ("K", K)))
    rng = rng_from(seed)
    if bidirectional:
        params = init_bidirectional(D, H, cell=cell, init=init, seed=rng, dtype=dtype)
    else:
        params = init_group(cell, D, H, rng, init, dtype, DIRECTIONS[0])
    params["V"] = init_weight("output", (K, H * (2 if bidirectional else 1)), rng, init, dtype)
    params["c"] = np.zeros(K, dtype)
    return params


def _tagger_forward(func, params, inputs, lengths):
    module = CELLS[find_cell(func, params, DIRECTIONS[0])]
    bidirectional = all(DIRECTIONS[1] + n in params for n in module.PARAM_NAMES)
    H, D = params[DIRECTIONS[0] + module.PARAM_NAMES[0]].shape
    x = as_inputs(func, inputs, D, params["V"].dtype)
    T, B, _ = x.shape
    lengths = check_lengths(func, lengths, T, B)
    if bidirectional:
        h, cache, _ = bidirectional_forward(x, params, lengths)  # (T, B, 2H)
    else:
        h, cache, _ = forward_to_lengths(module, x, np.zeros((module.N_STATES, B, H), x.dtype),
                                         group(params, module, DIRECTIONS[0]), lengths)
    return output_forward(h, params["V"], params["c"]), h, cache, lengths


def tag(params: dict, inputs, lengths) -> np.ndarray:
    """The most likely tag of every step: ndarray of int64 (T, B) (0 on the padding)."""
    o, _, _, lengths = _tagger_forward("tag", params, inputs, lengths)
    return np.where(mask_from_lengths(lengths, o.shape[0]), np.argmax(o, axis=2), 0)


def tagger_loss_and_grads(params: dict, inputs, lengths, targets, *, reduction: str = "mean"):
    """Cross-entropy of a tagger over the real steps, and its gradient.

    Parameters
    ----------
    params : dict
        From :func:`init_tagger`.
    inputs : ndarray of int (T, B), or float (T, B, D)
        Right-padded inputs.
    lengths : ndarray of int, shape (B,)
    targets : ndarray of int, shape (T, B)
        The tag of every step; ignored on the padding.
    reduction : {"mean", "sum"}, default "mean"
        ``"mean"`` divides by the number of real steps.

    Returns
    -------
    loss : float
    grads : dict of str to ndarray
    """
    func = "tagger_loss_and_grads"
    o, h, cache, lengths = _tagger_forward(func, params, inputs, lengths)
    targets = check_ids(func, "targets", targets, o.shape[2])
    if targets.shape != o.shape[:2]:
        raise ValueError(f"{func}: targets must have shape (T, B) = {o.shape[:2]}, got {targets.shape}")
    loss, do = masked_cross_entropy(o, targets, mask_from_lengths(lengths, o.shape[0]), reduction)
    dh, dV, dc = output_backward(do, h, params["V"])
    if isinstance(cache, BidirectionalCache):
        _, _, grads = bidirectional_backward(dh, cache)
    else:
        _, _, g = backward_to_lengths(dh, cache)
        grads = ungroup(g, DIRECTIONS[0])
    grads.update(V=dV, c=dc)
    return loss, {k: grads[k] for k in params}


def train_tagger(make_batch, D: int, K: int, *, cell: str = "gru", hidden: int = 16,
                 bidirectional: bool = True, steps: int = 500, lr: float = 1e-2, clip: float = 1.0,
                 seed=0):
    """Train a tagger with Adam on batches from ``make_batch``.

    Parameters
    ----------
    make_batch : callable
        ``make_batch(rng)`` returns ``(inputs (T, B), lengths (B,), targets (T, B))``,
        e.g. ``functools.partial(rnn.tasks.seen_later_batch, B=64)``.
    D, K : int
        Alphabet size and number of tags.
    cell : str, default "gru"
    hidden : int, default 16
        Hidden units per direction.
    bidirectional : bool, default True
    steps : int, default 500
    lr : float, default 1e-2
    clip : float, default 1.0
    seed : int, default 0

    Returns
    -------
    params : dict
    losses : list of float
    """
    rng = rng_from(seed)
    params = init_tagger(D, hidden, K, cell=cell, bidirectional=bidirectional, seed=rng)
    losses = fit(params, tagger_loss_and_grads, make_batch, steps=steps, lr=lr, clip=clip, seed=rng)
    return params, losses
