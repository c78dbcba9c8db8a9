"""Many-to-one: one label for a whole sequence, read at its last real step.

A recurrent layer (any cell of :data:`rnn.model.CELLS`) reads sequence n,
of T_n steps, and only its last state is classified (Goodfellow et al.,
*Deep Learning*, §10.2, Fig. 10.5)::

    h(t) = f(h(t-1), x(t); θ)           t = 1, ..., T_n
    o = c + V h(T_n)                     logits of the K classes
    L = -log softmax(o)[y]               one loss per sequence

Sequences of different lengths share a right-padded batch (see
:mod:`rnn.masking`): the layer runs over all T steps, padding included, and
the output layer reads ``h[T_n - 1, n]``. Nothing after step T_n can change
the earlier states, so the padding is harmless; in the backward pass the
upstream gradient ``dh`` is zero everywhere except at the last real steps.

Parameters are one flat dict: the layer's own names (``"U"``, ``"W"``,
``"b"`` for the vanilla cell, ``"U_i"``, ... for the LSTM, as in
:func:`rnn.model.init_params`) and the output layer ``"V"`` (K, H), ``"c"`` (K,).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_ids, check_int, check_shape
from ._parts import as_inputs, check_cell, find_cell, fit, group, rng_from
from .initializers import init_weight
from .losses import output_backward, output_forward, softmax_cross_entropy
from .masking import check_lengths, gather_last, scatter_last
from .model import CELLS

__all__ = ["init_classifier", "ClassifierCache", "classifier_forward", "classifier_loss_and_grads",
           "classify", "train_classifier"]


class ClassifierCache(NamedTuple):
    """What :func:`classifier_forward` keeps for the backward pass."""

    module: object
    layer_cache: object
    lengths: np.ndarray
    h_last: np.ndarray
    T: int


def init_classifier(D: int, H: int, K: int, *, cell: str = "rnn", init: str = "scaled", seed=None,
                    dtype=np.float64) -> dict:
    """Parameters of a many-to-one classifier.

    Parameters
    ----------
    D : int
        Input size (the alphabet size, for one-hot inputs).
    H : int
        Hidden units.
    K : int
        Number of classes.
    cell : str, default "rnn"
        A key of :data:`rnn.model.CELLS`.
    init : str, default "scaled"
        A key of :data:`rnn.initializers.SCHEMES`.
    seed : int or numpy.random.Generator, optional
    dtype : numpy dtype, default float64

    Returns
    -------
    params : dict of str to ndarray
        The layer's parameters under the cell's names, ``"V"`` (K, H), ``"c"`` (K,).
    """
    func = "init_classifier"
    module = check_cell(func, cell)
    D, H, K = (check_int(func, n, v) for n, v in (("D", D), ("H", H), ("K", K)))
    rng = rng_from(seed)
    params = dict(module.init_layer(D, H, rng, init, dtype))
    params["V"] = init_weight("output", (K, H), rng, init, dtype)
    params["c"] = np.zeros(K, dtype)
    return params


def _check_model(func, params):
    cell = find_cell(func, params)
    for k in ("V", "c"):
        if k not in params:
            raise ValueError(f"{func}: params has no output layer {k!r}; create it with init_classifier")
    module = CELLS[cell]
    H, D = params[module.PARAM_NAMES[0]].shape
    V = as_float_array(func, "params['V']", params["V"])
    check_shape(func, "params['V']", V, (None, H), "(K, H)")
    return module, D, H, V.shape[0]


def classifier_forward(params: dict, inputs, lengths):
    """Logits of every sequence of a padded batch, read at its last real step.

    Parameters
    ----------
    params : dict
        From :func:`init_classifier`.
    inputs : ndarray of int, shape (T, B), or float (T, B, D)
        Token ids in [0, D) (one-hot encoded here) or input vectors;
        right-padded.
    lengths : ndarray of int, shape (B,)
        Real steps of each sequence, each in [1, T].

    Returns
    -------
    o : ndarray of shape (B, K)
        Logits.
    cache : ClassifierCache
    """
    func = "classifier_forward"
    module, D, H, K = _check_model(func, params)
    x = as_inputs(func, inputs, D, params["V"].dtype)  # (T, B, D)
    T, B, _ = x.shape
    lengths = check_lengths(func, lengths, T, B)
    state0 = np.zeros((module.N_STATES, B, H), x.dtype)  # h(0) = 0
    layer = group(params, module, "")  # the recurrent layer's own parameters
    # --8<-- [start:forward]
    h, layer_cache, _ = module.layer_forward(x, state0, layer)  # (T, B, H), padding included
    h_last = gather_last(h, lengths)  # (B, H): h(T_n) of every sequence
    o = output_forward(h_last, params["V"], params["c"])  # (B, K): o = c + V h(T_n)
    # --8<-- [end:forward]
    return o, ClassifierCache(module, layer_cache, lengths, h_last, T)


def classifier_loss_and_grads(params: dict, inputs, lengths, targets, *, reduction: str = "mean"):
    """Cross-entropy of a many-to-one classifier and its gradient by BPTT.

    Parameters
    ----------
    params : dict
        From :func:`init_classifier`.
    inputs : ndarray of int (T, B) or float (T, B, D)
        Right-padded inputs.
    lengths : ndarray of int, shape (B,)
    targets : ndarray of int, shape (B,)
        The class of each sequence, in [0, K).
    reduction : {"mean", "sum"}, default "mean"
        Mean or sum over the B sequences.

    Returns
    -------
    loss : float
    grads : dict of str to ndarray
        dL/dparam for every key of ``params``.
    """
    func = "classifier_loss_and_grads"
    o, cache = classifier_forward(params, inputs, lengths)
    targets = check_ids(func, "targets", targets, o.shape[1])
    if targets.shape != (o.shape[0],):
        raise ValueError(f"{func}: targets must have shape (B,) = ({o.shape[0]},), one class per "
                         f"sequence, got {targets.shape}")
    module, layer_cache, lengths, h_last, T = cache
    # --8<-- [start:backward]
    loss, do = softmax_cross_entropy(o, targets, reduction)  # (B, K)
    dh_last, dV, dc = output_backward(do, h_last, params["V"])  # (B, H)
    dh = scatter_last(dh_last, lengths, T)  # (T, B, H): zero except at t = T_n - 1
    _, _, grads = module.layer_backward(dh, layer_cache)  # BPTT from the last real step back
    # --8<-- [end:backward]
    grads.update(V=dV, c=dc)
    return loss, {k: grads[k] for k in params}


def classify(params: dict, inputs, lengths) -> np.ndarray:
    """The most likely class of every sequence: ndarray of int64, shape (B,)."""
    o, _ = classifier_forward(params, inputs, lengths)
    return np.argmax(o, axis=1)


def train_classifier(make_batch, D: int, K: int, *, cell: str = "gru", hidden: int = 32,
                     steps: int = 1000, lr: float = 1e-2, clip: float = 1.0, seed=0):
    """Train a many-to-one classifier with Adam on batches from ``make_batch``.

    Parameters
    ----------
    make_batch : callable
        ``make_batch(rng)`` returns ``(inputs (T, B), lengths (B,), targets (B,))``,
        e.g. ``functools.partial(rnn.tasks.parity_batch, B=64, max_len=20)``.
    D, K : int
        Alphabet size (one-hot inputs) and number of classes.
    cell : str, default "gru"
    hidden : int, default 32
    steps : int, default 1000
    lr : float, default 1e-2
        Adam's learning rate.
    clip : float, default 1.0
        Gradients are clipped to this global norm.
    seed : int, default 0
        Seeds the initialisation and the batches.

    Returns
    -------
    params : dict
    losses : list of float
        The mean loss of every step.
    """
    rng = rng_from(seed)
    params = init_classifier(D, hidden, K, cell=cell, seed=rng)
    losses = fit(params, classifier_loss_and_grads, make_batch, steps=steps, lr=lr, clip=clip,
                 seed=rng)
    return params, losses
