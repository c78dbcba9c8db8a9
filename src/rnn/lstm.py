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

Initialisation: the model (``rnn.init_params(..., cell="lstm")``) sets the
forget-gate bias b_f to 1 and every other bias to 0. With b_f = 0 the forget
gate starts near σ(0) = 1/2, which halves the cell state at every step, so
the gradient through s vanishes geometrically from the first update on;
b_f = 1 makes f ≈ 0.73 and the cell starts out remembering (Gers,
Schmidhuber & Cummins 2000; Jozefowicz, Zaremba & Sutskever 2015 found it
closes most of the gap between LSTM and the alternatives they searched).

Arrays are time-major and a batch is stored as rows: ``T`` steps, ``B``
sequences, ``D`` inputs, ``H`` hidden units.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_gated_params, check_shape

__all__ = ["LSTM_GATES", "LSTM_PARAM_NAMES", "LSTMCache", "sigmoid", "pack_lstm", "unpack_lstm",
           "lstm_step", "lstm_forward", "lstm_backward"]

#: Gate order of the fused arrays, the same as torch.nn.LSTM.
LSTM_GATES = ("i", "f", "g", "o")

#: Keys of an LSTM parameter (and gradient) dict.
LSTM_PARAM_NAMES = ("U_i", "W_i", "b_i", "U_f", "W_f", "b_f",
                    "U_o", "W_o", "b_o", "U_g", "W_g", "b_g")


# --8<-- [start:sigmoid]
def sigmoid(a):
    """The logistic function σ(a) = 1 / (1 + exp(-a)), without overflow.

    ``exp(-a)`` overflows for a < -709 in float64; with ``e = exp(-|a|)``,
    which lies in (0, 1], σ(a) is ``1 / (1 + e)`` for a >= 0 and
    ``e / (1 + e)`` for a < 0, both accurate to the last bits.

    Parameters
    ----------
    a : ndarray, floating point, any shape

    Returns
    -------
    ndarray of the shape and dtype of ``a``, entries in [0, 1]
    """
    a = np.asarray(a)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0, e) / (1.0 + e)
# --8<-- [end:sigmoid]


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
    return check_gated_params(func, params, LSTM_PARAM_NAMES, "an LSTM")


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
    # --8<-- [start:pack]
    U_all = np.concatenate([p[f"U_{k}"] for k in LSTM_GATES])  # (4H, D)
    W_all = np.concatenate([p[f"W_{k}"] for k in LSTM_GATES])  # (4H, H)
    b_all = np.concatenate([p[f"b_{k}"] for k in LSTM_GATES])  # (4H,)
    # --8<-- [end:pack]
    return U_all, W_all, b_all


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
    func = "unpack_lstm"
    U_all = as_float_array(func, "U_all", U_all)
    W_all = as_float_array(func, "W_all", W_all)
    b_all = as_float_array(func, "b_all", b_all)
    if U_all.ndim != 2 or U_all.shape[0] % 4:
        raise ValueError(f"{func}: U_all must have shape (4H, D), got {U_all.shape}")
    H = U_all.shape[0] // 4
    check_shape(func, "W_all", W_all, (4 * H, H), "(4H, H)")
    check_shape(func, "b_all", b_all, (4 * H,), "(4H,)")
    params = {}
    for k, gate in enumerate(LSTM_GATES):
        rows = slice(k * H, (k + 1) * H)
        params[f"U_{gate}"], params[f"W_{gate}"], params[f"b_{gate}"] = U_all[rows], W_all[rows], b_all[rows]
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
    x_t = as_float_array(func, "x_t", x_t)
    h_prev = as_float_array(func, "h_prev", h_prev)
    s_prev = as_float_array(func, "s_prev", s_prev)
    check_shape(func, "x_t", x_t, (None, D), "(B, D)")
    B = x_t.shape[0]
    check_shape(func, "h_prev", h_prev, (B, H), "(B, H)")
    check_shape(func, "s_prev", s_prev, (B, H), "(B, H)")
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
    _, H, D = _check_params(func, params)
    x = as_float_array(func, "x", x)
    h0 = as_float_array(func, "h0", h0)
    s0 = as_float_array(func, "s0", s0)
    check_shape(func, "x", x, (None, None, D), "(T, B, D)")
    T, B, _ = x.shape
    if T == 0:
        raise ValueError(f"{func}: x has T = 0 time steps; pass at least one step")
    check_shape(func, "h0", h0, (B, H), "(B, H)")
    check_shape(func, "s0", s0, (B, H), "(B, H)")
    U_all, W_all, b_all = pack_lstm(params)
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


def lstm_backward(dh, cache):
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
    if not isinstance(cache, LSTMCache):
        raise ValueError(f"{func}: cache must be the LSTMCache returned by lstm_forward, "
                         f"got {type(cache).__name__}")
    x, h0, s0, h, s, tanh_s, gates, U_all, W_all = cache
    dh = as_float_array(func, "dh", dh)
    check_shape(func, "dh", dh, h.shape, "(T, B, H)")
    T, B, H = h.shape
    D = x.shape[2]
    # --8<-- [start:backward]
    # --8<-- [start:backward-init]
    da = np.empty_like(gates)  # dL/d(pre-activations), i, f, g, o side by side
    dh_next = np.zeros_like(h0)  # dL/dh(t) arriving from step t+1
    ds_next = np.zeros_like(s0)  # dL/ds(t) arriving from step t+1
    # --8<-- [end:backward-init]
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
    # --8<-- [start:backward-params]
    # the weight gradients need no loop: one product over all T*B rows each
    h_prev = np.concatenate([h0[None], h[:-1]])  # h(t-1) for every t, (T, B, H)
    da2 = da.reshape(T * B, 4 * H)
    dU_all = da2.T @ x.reshape(T * B, D)  # (4H, D)
    dW_all = da2.T @ h_prev.reshape(T * B, H)  # (4H, H)
    db_all = da2.sum(axis=0)  # (4H,)
    dx = (da2 @ U_all).reshape(T, B, D)
    # --8<-- [end:backward-params]
    # --8<-- [end:backward]
    dh0, ds0 = dh_next, ds_next  # what arrives at step 0 is the gradient of the initial state
    return dx, dh0, ds0, unpack_lstm(dU_all, dW_all, db_all)
