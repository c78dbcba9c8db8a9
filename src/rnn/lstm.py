"""The long short-term memory (LSTM) cell: one step, the forward pass over a
sequence, and backpropagation through time.

An LSTM layer carries two state vectors: the hidden state h, which the rest
of the network reads, and the cell state s, a running sum that gates decide
to keep, overwrite or expose. With σ the logistic sigmoid and ⊙ the
elementwise product, one step reads::

    i(t) = σ(U_i x(t) + W_i h(t-1) + b_i)       input gate
    f(t) = σ(U_f x(t) + W_f h(t-1) + b_f)       forget gate
    o(t) = σ(U_o x(t) + W_o h(t-1) + b_o)       output gate
    g(t) = tanh(U_g x(t) + W_g h(t-1) + b_g)    candidate
    s(t) = f(t) ⊙ s(t-1) + i(t) ⊙ g(t)          cell state
    h(t) = o(t) ⊙ tanh(s(t))                    hidden state

Every ``U_*`` has shape (H, D), every ``W_*`` (H, H), every ``b_*`` (H,).
The parameters travel in a ``dict`` with the keys :data:`LSTM_PARAM_NAMES`.

Names in other sources
----------------------
The cell state is called s as in Goodfellow, Bengio & Courville, *Deep
Learning*, §10.10.1 (c is already the output bias of o(t) = c + V h(t)).
The book uses different letters for two of the gates, so read this table
before comparing formulas:

==================  ========================  =======================
this package        *Deep Learning* §10.10.1  torch.nn.LSTM
==================  ========================  =======================
input gate i        external input gate g     i
forget gate f       forget gate f             f
output gate o       output gate q             o
candidate g (tanh)  unit σ(b + U x + W h)     g
cell state s        state unit s              c
hidden state h      output h                  h
U_i, W_i, b_i       U^g, W^g, b^g             W_ii, W_hi, b_ii + b_hi
U_f, W_f, b_f       U^f, W^f, b^f             W_if, W_hf, b_if + b_hf
U_o, W_o, b_o       U^o, W^o, b^o             W_io, W_ho, b_io + b_ho
U_g, W_g, b_g       U, W, b (no superscript)  W_ig, W_hg, b_ig + b_hg
==================  ========================  =======================

So the book's g is *our* i, and our g is the book's unnamed input unit (the
book writes a generic sigmoid σ there; tanh, as here and in PyTorch, is the
usual choice). torch keeps two biases per gate, one on each product; they
only ever appear as a sum, so one bias per gate is enough here.

PyTorch stores the four gates stacked in the order i, f, g, o:
``weight_ih_l0`` = [W_ii | W_if | W_ig | W_io] of shape (4H, D) and
``weight_hh_l0`` likewise (4H, H). :func:`pack_lstm` stacks our per-gate
arrays in the same order, so ``U_all`` *is* ``weight_ih_l0``, ``W_all`` is
``weight_hh_l0``, and ``b_all`` is ``bias_ih_l0 + bias_hh_l0``.

Two forms of the same computation
---------------------------------
:func:`lstm_step` is written gate by gate, one line per equation above: the
form to read. :func:`lstm_forward` and :func:`lstm_backward` are the form to
run: the four gates share one matrix product per step (``h_prev @ W_all.T``
gives all 4H pre-activations at once), and the input products of *all* time
steps are one matrix product before the loop, ``x.reshape(T*B, D) @ U_all.T``,
because they do not depend on h. Only the recurrent product has to wait for
the previous step.

Initialisation (:func:`init_layer`) starts the forget-gate bias b_f at 1,
so that the cell starts out remembering; see its docstring.

Arrays are time-major and a batch is stored as rows: ``T`` steps, ``B``
sequences, ``D`` inputs, ``H`` hidden units. The module follows the layer
protocol of :mod:`rnn.rnn_cell` (``PARAM_NAMES``, ``N_STATES`` = 2 for h and
s, ``init_layer``, ``layer_forward``, ``layer_backward``). ``layer_forward``
and ``layer_backward`` are the fast implementation of :mod:`rnn._lstm_fast`
(what training runs); ``reference_layer_forward`` and
``reference_layer_backward`` wrap the functions below.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _gates
from ._checks import add_to_last, as_float_array, check_cache, check_shape, split_state_grad
from ._gates import param_grads, sigmoid
from ._lstm_fast import forward as prepared_forward
from ._lstm_fast import layer_backward, layer_forward
from ._lstm_fast import prepare as prepare_layer

__all__ = ["LSTM_GATES", "LSTM_PARAM_NAMES", "LSTMCache", "sigmoid", "pack_lstm", "unpack_lstm",
           "lstm_step", "lstm_forward", "lstm_backward", "PARAM_NAMES", "N_STATES",
           "param_shapes", "init_layer", "layer_forward", "layer_backward",
           "reference_layer_forward", "reference_layer_backward", "prepare_layer", "prepared_forward"]

#: Gate order of the fused arrays, the same as torch.nn.LSTM.
LSTM_GATES = ("i", "f", "g", "o")

#: Keys of an LSTM parameter (and gradient) dict.
LSTM_PARAM_NAMES = ("U_i", "W_i", "b_i", "U_f", "W_f", "b_f",
                    "U_o", "W_o", "b_o", "U_g", "W_g", "b_g")

#: Parameter names of one layer (the layer protocol's name for :data:`LSTM_PARAM_NAMES`).
PARAM_NAMES = LSTM_PARAM_NAMES
#: State vectors per layer: the hidden state h and the cell state s.
N_STATES = 2


class LSTMCache(NamedTuple):
    """What :func:`lstm_forward` keeps for :func:`lstm_backward`.

    Attributes
    ----------
    x : ndarray of shape (T, B, D)
        The inputs.
    h0 : ndarray of shape (B, H)
        The initial hidden state.
    s0 : ndarray of shape (B, H)
        The initial cell state.
    h : ndarray of shape (T, B, H)
        Every hidden state; ``h[t]`` is the state after reading ``x[t]``.
    s : ndarray of shape (T, B, H)
        Every cell state.
    tanh_s : ndarray of shape (T, B, H)
        ``tanh(s)``, so that ``h = o * tanh_s``.
    gates : ndarray of shape (T, B, 4H)
        Gate values after their nonlinearity, in the order i, f, g, o.
    U_all : ndarray of shape (4H, D)
    W_all : ndarray of shape (4H, H)
        The fused weights from :func:`pack_lstm`.
    """

    x: np.ndarray
    h0: np.ndarray
    s0: np.ndarray
    h: np.ndarray
    s: np.ndarray
    tanh_s: np.ndarray
    gates: np.ndarray
    U_all: np.ndarray
    W_all: np.ndarray


def _check_params(func, params):
    """Validate an LSTM parameter dict; return it as float arrays, with H and D."""
    return _gates.check_params(func, params, LSTM_PARAM_NAMES, "an LSTM")


def pack_lstm(params):
    """Stack the per-gate parameters into the fused arrays, gates in order i, f, g, o.

    Row block k of ``U_all`` is the ``U`` of gate ``LSTM_GATES[k]``::

        U_all = [U_i; U_f; U_g; U_o]    (4H, D)   = torch weight_ih_l0
        W_all = [W_i; W_f; W_g; W_o]    (4H, H)   = torch weight_hh_l0
        b_all = [b_i; b_f; b_g; b_o]    (4H,)     = torch bias_ih_l0 + bias_hh_l0

    so ``x_t @ U_all.T + h_prev @ W_all.T + b_all`` holds the four gate
    pre-activations side by side, columns ``[k*H:(k+1)*H]`` for gate k.

    Parameters
    ----------
    params : dict
        The keys :data:`LSTM_PARAM_NAMES`, shapes as in the module docstring.

    Returns
    -------
    U_all : ndarray of shape (4H, D)
    W_all : ndarray of shape (4H, H)
    b_all : ndarray of shape (4H,)
        New arrays (copies).

    Raises
    ------
    ValueError
        If a key is missing or unexpected, or a shape does not match.
    """
    p, _, _ = _check_params("pack_lstm", params)
    return _gates.pack(p, LSTM_GATES)


def unpack_lstm(U_all, W_all, b_all):
    """Split fused LSTM arrays back into a per-gate dict (the inverse of :func:`pack_lstm`).

    Parameters
    ----------
    U_all : ndarray of shape (4H, D)
    W_all : ndarray of shape (4H, H)
    b_all : ndarray of shape (4H,)
        Gate blocks in the order i, f, g, o (torch's layout).

    Returns
    -------
    params : dict
        Keys :data:`LSTM_PARAM_NAMES`. The values are *views* of the fused
        arrays (row blocks, so each is contiguous): writing into
        ``params["b_f"]`` writes into ``b_all``.

    Raises
    ------
    ValueError
        If the shapes do not fit together or 4 does not divide the rows.
    """
    params = _gates.unpack("unpack_lstm", U_all, W_all, b_all, LSTM_GATES)
    return {name: params[name] for name in LSTM_PARAM_NAMES}


def lstm_step(x_t, h_prev, s_prev, params):
    """Advance the LSTM by one time step, gate by gate.

    This is the readable form: one line per equation of the module
    docstring. :func:`lstm_forward` computes the same numbers with fused
    matrix products.

    Parameters
    ----------
    x_t : ndarray of shape (B, D)
        Inputs at this step, one row per sequence.
    h_prev : ndarray of shape (B, H)
        Hidden state from the previous step.
    s_prev : ndarray of shape (B, H)
        Cell state from the previous step.
    params : dict
        ``U_*`` (H, D), ``W_*`` (H, H), ``b_*`` (H,) for * in i, f, o, g;
        the keys :data:`LSTM_PARAM_NAMES`.

    Returns
    -------
    h_t : ndarray of shape (B, H)
        The new hidden state.
    s_t : ndarray of shape (B, H)
        The new cell state.

    Raises
    ------
    ValueError
        If a key is missing or a shape or dtype does not match the ones above.
    """
    func = "lstm_step"
    p, H, D = _check_params(func, params)
    x_t, (h_prev, s_prev) = _gates.check_step(func, x_t, {"h_prev": h_prev, "s_prev": s_prev}, H, D)
    U_i, W_i, b_i, U_f, W_f, b_f = (p[k] for k in ("U_i", "W_i", "b_i", "U_f", "W_f", "b_f"))
    U_o, W_o, b_o, U_g, W_g, b_g = (p[k] for k in ("U_o", "W_o", "b_o", "U_g", "W_g", "b_g"))
    # --8<-- [start:step]
    i = sigmoid(x_t @ U_i.T + h_prev @ W_i.T + b_i)  # input gate: how much of g to write
    f = sigmoid(x_t @ U_f.T + h_prev @ W_f.T + b_f)  # forget gate: how much of s to keep
    o = sigmoid(x_t @ U_o.T + h_prev @ W_o.T + b_o)  # output gate: how much of s to show
    g = np.tanh(x_t @ U_g.T + h_prev @ W_g.T + b_g)  # candidate values to write
    s_t = f * s_prev + i * g  # s(t) = f ⊙ s(t-1) + i ⊙ g
    h_t = o * np.tanh(s_t)  # h(t) = o ⊙ tanh(s(t))
    # --8<-- [end:step]
    return h_t, s_t


def lstm_forward(x, h0, s0, params):
    """Run the LSTM over a whole sequence, with fused matrix products.

    Parameters
    ----------
    x : ndarray of shape (T, B, D)
        Inputs, time-major.
    h0 : ndarray of shape (B, H)
        Initial hidden state.
    s0 : ndarray of shape (B, H)
        Initial cell state.
    params : dict
        The keys :data:`LSTM_PARAM_NAMES` (see :func:`lstm_step`).

    Returns
    -------
    h : ndarray of shape (T, B, H)
        Hidden states; ``h[t]`` is the state after reading ``x[t]``.
    cache : LSTMCache
        Everything :func:`lstm_backward` needs; ``cache.s[-1]`` is the last
        cell state.

    Raises
    ------
    ValueError
        If a key is missing, a shape or dtype does not match, or T = 0.
    """
    func = "lstm_forward"
    p, H, D = _check_params(func, params)
    x, (h0, s0), T, B = _gates.check_sequence(func, x, {"h0": h0, "s0": s0}, H, D)
    U_all, W_all, b_all = _gates.pack(p, LSTM_GATES)
    dtype = np.result_type(x, h0, s0, U_all, W_all, b_all)
    # --8<-- [start:forward]
    # input term of every step at once: one (T*B, D) x (D, 4H) product
    xu = (x.reshape(T * B, D) @ U_all.T + b_all).reshape(T, B, 4 * H)
    gates = np.empty((T, B, 4 * H), dtype=dtype)  # i, f, g, o side by side
    h = np.empty((T, B, H), dtype=dtype)
    s = np.empty((T, B, H), dtype=dtype)
    tanh_s = np.empty((T, B, H), dtype=dtype)  # kept: backward needs it
    h_prev, s_prev = h0, s0
    for t in range(T):
        a = xu[t] + h_prev @ W_all.T  # (B, 4H): all four pre-activations
        gates[t, :, :2 * H] = sigmoid(a[:, :2 * H])  # i, f
        gates[t, :, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])  # g
        gates[t, :, 3 * H:] = sigmoid(a[:, 3 * H:])  # o
        i, f, g, o = np.split(gates[t], 4, axis=1)
        s[t] = f * s_prev + i * g  # s(t) = f ⊙ s(t-1) + i ⊙ g
        tanh_s[t] = np.tanh(s[t])
        h[t] = o * tanh_s[t]  # h(t) = o ⊙ tanh(s(t))
        h_prev, s_prev = h[t], s[t]
    # --8<-- [end:forward]
    return h, LSTMCache(x, h0, s0, h, s, tanh_s, gates, U_all, W_all)


def lstm_backward(dh, cache, dh_last=None, ds_last=None):
    """Backpropagation through time for :func:`lstm_forward`.

    Going back one step, with dh(t) the total gradient on h(t) and ds(t)
    the one on s(t)::

        ds(t)  += dh(t) ⊙ o ⊙ (1 - tanh²(s(t)))     through h(t) = o ⊙ tanh(s(t))
        do      = dh(t) ⊙ tanh(s(t))
        di      = ds(t) ⊙ g,   dg = ds(t) ⊙ i,   df = ds(t) ⊙ s(t-1)
        ds(t-1) = ds(t) ⊙ f                      the cell-state highway

    then through the nonlinearities (σ' = σ(1 - σ), tanh' = 1 - tanh²) to
    the pre-activations, and through the fused products to x, h(t-1) and
    the weights.

    Parameters
    ----------
    dh : ndarray of shape (T, B, H)
        Upstream gradient of the loss with respect to every hidden state
        ``h[t]``, *not* counting the path through later steps (for a
        language model, the gradient that flows down from o(t) only).
    cache : LSTMCache
        As returned by :func:`lstm_forward`.
    dh_last, ds_last : ndarray of shape (B, H), optional
        Gradients on the last hidden and cell states from outside the
        sequence (e.g. a decoder that starts from them); zero if omitted.

    Returns
    -------
    dx : ndarray of shape (T, B, D)
        Gradient with respect to the inputs.
    dh0 : ndarray of shape (B, H)
        Gradient with respect to the initial hidden state.
    ds0 : ndarray of shape (B, H)
        Gradient with respect to the initial cell state.
    grads : dict
        Gradients with respect to the parameters, summed over time and
        batch, keyed like ``params`` (:data:`LSTM_PARAM_NAMES`); the values
        are views of the fused gradients (see :func:`unpack_lstm`).

    Raises
    ------
    ValueError
        If ``dh`` does not have the shape of the hidden states, or
        ``cache`` is not an :class:`LSTMCache`.
    """
    func = "lstm_backward"
    check_cache(func, cache, LSTMCache, "lstm_forward")
    x, h0, s0, h, s, tanh_s, gates, U_all, W_all = cache
    dh = as_float_array(func, "dh", dh)
    check_shape(func, "dh", dh, h.shape, "(T, B, H)")
    dh = add_to_last(func, dh, dh_last)
    T, B, H = h.shape
    # --8<-- [start:backward-init]
    da = np.empty_like(gates)  # dL/d(pre-activations), i, f, g, o side by side
    dh_next = np.zeros_like(h0)  # dL/dh(t) arriving from step t+1
    ds_next = np.zeros_like(s0)  # dL/ds(t) arriving from step t+1
    # --8<-- [end:backward-init]
    if ds_last is not None:  # a gradient on s(T) from outside the sequence
        ds_next = as_float_array(func, "ds_last", ds_last)
        check_shape(func, "ds_last", ds_next, (B, H), "(B, H)")
    # --8<-- [start:backward-loop]
    for t in reversed(range(T)):
        # --8<-- [start:backward-unpack]
        i, f, g, o = np.split(gates[t], 4, axis=1)
        s_prev = s[t - 1] if t > 0 else s0
        # --8<-- [end:backward-unpack]
        # --8<-- [start:backward-dh]
        dh_t = dh[t] + dh_next  # dL/dh(t): from above and from step t+1
        # --8<-- [end:backward-dh]
        # --8<-- [start:backward-ds]
        ds_t = ds_next + dh_t * o * (1.0 - tanh_s[t] ** 2)  # dL/ds(t)
        # --8<-- [end:backward-ds]
        # --8<-- [start:backward-gates]
        da[t, :, :H] = ds_t * g * i * (1.0 - i)  # input gate, through σ
        da[t, :, H:2 * H] = ds_t * s_prev * f * (1.0 - f)  # forget gate, through σ
        da[t, :, 2 * H:3 * H] = ds_t * i * (1.0 - g ** 2)  # candidate, through tanh
        da[t, :, 3 * H:] = dh_t * tanh_s[t] * o * (1.0 - o)  # output gate, through σ
        # --8<-- [end:backward-gates]
        # --8<-- [start:backward-carry]
        dh_next = da[t] @ W_all  # dL/dh(t-1) through all four gates
        ds_next = ds_t * f  # dL/ds(t-1) through s(t) = f ⊙ s(t-1) + ...
        # --8<-- [end:backward-carry]
    # --8<-- [end:backward-loop]
    # the weight gradients: one product each over all T*B rows (rnn._gates.param_grads);
    # the input and recurrent terms are simply added, so both get the same da
    dU_all, dW_all, db_all, dx = param_grads(da, da, x, h0, h, U_all)
    dh0, ds0 = dh_next, ds_next  # what arrives at step 0 is the gradient of the initial state
    return dx, dh0, ds0, unpack_lstm(dU_all, dW_all, db_all)


# ---------------------------------------------------------------- layer protocol

def param_shapes(D: int, H: int) -> dict:
    """Shapes of one layer's parameters: ``U_*`` (H, D), ``W_*`` (H, H), ``b_*`` (H,)."""
    return _gates.param_shapes(PARAM_NAMES, D, H)


def init_layer(D: int, H: int, rng, init: str = "scaled", dtype=np.float64) -> dict:
    """Draw one LSTM layer: weights by ``init``, biases 0 except the forget gate's.

    The forget-gate bias b_f starts at 1 (Gers et al. 2000; Jozefowicz et
    al. 2015): f = σ(1) ≈ 0.73, so the cell starts by remembering instead of
    halving s at every step.
    """
    p = _gates.init_layer(PARAM_NAMES, D, H, rng, init, dtype)
    p["b_f"][:] = 1.0
    return p


def reference_layer_forward(x, state0, params):
    """The layer protocol's forward pass with the reference :func:`lstm_forward`.

    x (T, B, D) (floats only) and state0 (2, B, H) = (h, s) in; h (T, B, H),
    the cache and the final state (2, B, H) out. The fast :func:`layer_forward`
    (:mod:`rnn._lstm_fast`) computes the same and also reads token ids.
    """
    h, cache = lstm_forward(x, state0[0], state0[1], params)
    return h, cache, np.stack([h[-1], cache.s[-1]])


def reference_layer_backward(dh, cache, dstate=None):
    """The layer protocol's backward pass with the reference :func:`lstm_backward`.

    dh (T, B, H) and an optional gradient on the final state, dstate (2, B, H),
    in; dx (T, B, D), dstate0 (2, B, H) and the parameter gradients (a dict) out.
    """
    dh_last, ds_last = split_state_grad("layer_backward", dstate, 2, *cache.h0.shape)
    dx, dh0, ds0, grads = lstm_backward(dh, cache, dh_last, ds_last)
    return dx, np.stack([dh0, ds0]), grads
