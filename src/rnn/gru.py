"""The gated recurrent unit (GRU): one step, the forward pass over a
sequence, and backpropagation through time.

A GRU carries a single state vector h. An update gate z decides, unit by
unit, whether to keep the old value or take a new candidate n, and a reset
gate r decides how much of the old state the candidate may look at. This
module follows ``torch.nn.GRU`` exactly::

    r(t) = σ(U_r x(t) + W_r h(t-1) + b_r)                   reset gate
    z(t) = σ(U_z x(t) + W_z h(t-1) + b_z)                   update gate
    n(t) = tanh(U_n x(t) + b_n + r(t) ⊙ (W_n h(t-1) + bh_n)) candidate
    h(t) = (1 - z(t)) ⊙ n(t) + z(t) ⊙ h(t-1)                 new state

Every ``U_*`` has shape (H, D), every ``W_*`` (H, H), and the biases
``b_r``, ``b_z``, ``b_n``, ``bh_n`` shape (H,). The parameters travel in a
``dict`` with the keys :data:`GRU_PARAM_NAMES`.

Why a fourth bias ``bh_n``
--------------------------
torch has an input-side and a hidden-side bias for every gate. For r and z
the two are simply added, so one bias each is enough (``b_r = b_ir + b_hr``).
For the candidate they are not interchangeable: the hidden-side bias sits
*inside* the reset product, ``r ⊙ (W_n h + bh_n)``, and is switched off with
it. So the candidate has ``b_n`` outside (torch ``b_in``) and ``bh_n``
inside (torch ``b_hn``). (``c`` would be the natural letter, but in this
project c is the bias of the output layer.)

===============  ========================  =================================
this package     *Deep Learning* §10.10.2  ``torch.nn.GRU``
===============  ========================  =================================
reset gate r     reset gate r              r: W_ir, W_hr, b_ir + b_hr
update gate z    update gate u             z: W_iz, W_hz, b_iz + b_hz
candidate n      (inline, see below)       n: W_in, W_hn, b_in; b_hn = bh_n
===============  ========================  =================================

torch stacks the gates in the order r, z, n: ``weight_ih_l0`` =
[W_ir | W_iz | W_in] (3H, D) and ``weight_hh_l0`` = [W_hr | W_hz | W_hn]
(3H, H). :func:`pack_gru` uses the same order.

The other common variant
------------------------
Cho et al. (2014), who introduced the GRU, and *Deep Learning* §10.10.2
apply the reset gate to h *before* the product::

    n(t) = tanh(U_n x(t) + W_n (r(t) ⊙ h(t-1)) + b_n)

The two are different functions with the same parameter count. The form
used here (also cuDNN's) has one practical advantage: W_n multiplies h(t-1)
itself, so one fused product ``h_prev @ W_all.T`` gives the recurrent terms
of all three gates, whereas the Cho form must wait for r before it can
compute W_n (r ⊙ h). The book calls the update gate u and writes
h(t) = u ⊙ h(t-1) + (1 - u) ⊙ candidate, so its u is our z (some texts
swap the roles of z and 1 - z; torch and this module do not), and it writes
a generic σ for the candidate's nonlinearity where we use tanh.

Two forms of the same computation
---------------------------------
:func:`gru_step` is written gate by gate, one line per equation.
:func:`gru_forward` and :func:`gru_backward` use fused products: the input
terms of all gates and all time steps in one product before the loop, and
one (B, H) x (H, 3H) product per step.

Arrays are time-major and a batch is stored as rows: ``T`` steps, ``B``
sequences, ``D`` inputs, ``H`` hidden units. :func:`init_layer` starts every
GRU bias at zero. The module follows the layer protocol of :mod:`rnn.rnn_cell`
(``PARAM_NAMES``, ``N_STATES`` = 1, ``init_layer``, ``layer_forward``,
``layer_backward``). ``layer_forward`` and ``layer_backward`` are the fast
implementation of :mod:`rnn._gru_fast` (what training runs);
``reference_layer_forward`` and ``reference_layer_backward`` wrap the
functions below.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _gates
from ._checks import add_to_last, as_float_array, check_cache, check_shape, split_state_grad
from ._gates import param_grads, sigmoid
from ._gru_fast import forward as prepared_forward
from ._gru_fast import layer_backward, layer_forward
from ._gru_fast import prepare as prepare_layer

__all__ = ["GRU_GATES", "GRU_PARAM_NAMES", "GRUCache", "pack_gru", "unpack_gru",
           "gru_step", "gru_forward", "gru_backward", "PARAM_NAMES", "N_STATES",
           "param_shapes", "init_layer", "layer_forward", "layer_backward",
           "reference_layer_forward", "reference_layer_backward", "prepare_layer", "prepared_forward"]

#: Gate order of the fused arrays, the same as torch.nn.GRU.
GRU_GATES = ("r", "z", "n")

#: Keys of a GRU parameter (and gradient) dict.
GRU_PARAM_NAMES = ("U_r", "W_r", "b_r", "U_z", "W_z", "b_z", "U_n", "W_n", "b_n", "bh_n")

#: Parameter names of one layer (the layer protocol's name for :data:`GRU_PARAM_NAMES`).
PARAM_NAMES = GRU_PARAM_NAMES
#: State vectors per layer: the hidden state h.
N_STATES = 1


class GRUCache(NamedTuple):
    """What :func:`gru_forward` keeps for :func:`gru_backward`.

    Attributes
    ----------
    x : ndarray of shape (T, B, D)
        The inputs.
    h0 : ndarray of shape (B, H)
        The initial hidden state.
    h : ndarray of shape (T, B, H)
        Every hidden state; ``h[t]`` is the state after reading ``x[t]``.
    gates : ndarray of shape (T, B, 3H)
        r, z and n after their nonlinearity, side by side.
    hn : ndarray of shape (T, B, H)
        ``W_n h(t-1) + bh_n``, the term the reset gate multiplies.
    U_all : ndarray of shape (3H, D)
    W_all : ndarray of shape (3H, H)
        The fused weights from :func:`pack_gru`.
    """

    x: np.ndarray
    h0: np.ndarray
    h: np.ndarray
    gates: np.ndarray
    hn: np.ndarray
    U_all: np.ndarray
    W_all: np.ndarray


def _check_params(func, params):
    """Validate a GRU parameter dict; return it as float arrays, with H and D."""
    return _gates.check_params(func, params, GRU_PARAM_NAMES, "a GRU")


def pack_gru(params):
    """Stack the per-gate parameters into fused arrays, gates in order r, z, n.

    ::

        U_all = [U_r; U_z; U_n]    (3H, D)   = torch weight_ih_l0
        W_all = [W_r; W_z; W_n]    (3H, H)   = torch weight_hh_l0
        b_all = [b_r; b_z; b_n]    (3H,)     input-side biases
        bh_n                       (H,)      = torch bias_hh_l0[2H:]

    ``x_t @ U_all.T + b_all`` holds the three input terms side by side and
    ``h_prev @ W_all.T`` the three recurrent ones; ``bh_n`` is added to the
    last block before the reset gate multiplies it.

    Parameters
    ----------
    params : dict
        The keys :data:`GRU_PARAM_NAMES`.

    Returns
    -------
    U_all : ndarray of shape (3H, D)
    W_all : ndarray of shape (3H, H)
    b_all : ndarray of shape (3H,)
    bh_n : ndarray of shape (H,)
        New arrays (copies).

    Raises
    ------
    ValueError
        If a key is missing or unexpected, or a shape does not match.
    """
    p, _, _ = _check_params("pack_gru", params)
    return (*_gates.pack(p, GRU_GATES), p["bh_n"].copy())


def unpack_gru(U_all, W_all, b_all, bh_n):
    """Split fused GRU arrays back into a per-gate dict (the inverse of :func:`pack_gru`).

    Parameters
    ----------
    U_all : ndarray of shape (3H, D)
    W_all : ndarray of shape (3H, H)
    b_all : ndarray of shape (3H,)
        Gate blocks in the order r, z, n (torch's layout).
    bh_n : ndarray of shape (H,)

    Returns
    -------
    params : dict
        Keys :data:`GRU_PARAM_NAMES`. The values are *views* of the fused
        arrays (``params["bh_n"]`` is ``bh_n`` itself).

    Raises
    ------
    ValueError
        If the shapes do not fit together or 3 does not divide the rows.
    """
    params = _gates.unpack("unpack_gru", U_all, W_all, b_all, GRU_GATES)
    bh_n = as_float_array("unpack_gru", "bh_n", bh_n)
    check_shape("unpack_gru", "bh_n", bh_n, (U_all.shape[0] // 3,), "(H,)")
    params["bh_n"] = bh_n
    return {name: params[name] for name in GRU_PARAM_NAMES}


def gru_step(x_t, h_prev, params):
    """Advance the GRU by one time step, gate by gate.

    This is the readable form: one line per equation of the module
    docstring. :func:`gru_forward` computes the same numbers with fused
    matrix products.

    Parameters
    ----------
    x_t : ndarray of shape (B, D)
        Inputs at this step, one row per sequence.
    h_prev : ndarray of shape (B, H)
        Hidden state from the previous step.
    params : dict
        ``U_*`` (H, D), ``W_*`` (H, H), ``b_*`` (H,) for * in r, z, n, and
        ``bh_n`` (H,); the keys :data:`GRU_PARAM_NAMES`.

    Returns
    -------
    h_t : ndarray of shape (B, H)
        The new hidden state.

    Raises
    ------
    ValueError
        If a key is missing or a shape or dtype does not match the ones above.
    """
    func = "gru_step"
    p, H, D = _check_params(func, params)
    x_t, (h_prev,) = _gates.check_step(func, x_t, {"h_prev": h_prev}, H, D)
    U_r, W_r, b_r, U_z, W_z, b_z = (p[k] for k in ("U_r", "W_r", "b_r", "U_z", "W_z", "b_z"))
    U_n, W_n, b_n, bh_n = (p[k] for k in ("U_n", "W_n", "b_n", "bh_n"))
    # --8<-- [start:step]
    r = sigmoid(x_t @ U_r.T + h_prev @ W_r.T + b_r)  # reset gate
    z = sigmoid(x_t @ U_z.T + h_prev @ W_z.T + b_z)  # update gate: 1 keeps the old state
    n = np.tanh(x_t @ U_n.T + b_n + r * (h_prev @ W_n.T + bh_n))  # candidate
    h_t = (1.0 - z) * n + z * h_prev  # h(t) = (1 - z) ⊙ n + z ⊙ h(t-1)
    # --8<-- [end:step]
    return h_t


def gru_forward(x, h0, params):
    """Run the GRU over a whole sequence, with fused matrix products.

    Parameters
    ----------
    x : ndarray of shape (T, B, D)
        Inputs, time-major.
    h0 : ndarray of shape (B, H)
        Initial hidden state.
    params : dict
        The keys :data:`GRU_PARAM_NAMES` (see :func:`gru_step`).

    Returns
    -------
    h : ndarray of shape (T, B, H)
        Hidden states; ``h[t]`` is the state after reading ``x[t]``.
    cache : GRUCache
        Everything :func:`gru_backward` needs.

    Raises
    ------
    ValueError
        If a key is missing, a shape or dtype does not match, or T = 0.
    """
    func = "gru_forward"
    p, H, D = _check_params(func, params)
    x, (h0,), T, B = _gates.check_sequence(func, x, {"h0": h0}, H, D)
    U_all, W_all, b_all = _gates.pack(p, GRU_GATES)
    bh_n = p["bh_n"]
    dtype = np.result_type(x, h0, U_all, W_all, b_all, bh_n)
    # --8<-- [start:forward]
    # input terms of every gate and step at once: one (T*B, D) x (D, 3H) product
    xu = (x.reshape(T * B, D) @ U_all.T + b_all).reshape(T, B, 3 * H)
    gates = np.empty((T, B, 3 * H), dtype=dtype)  # r, z, n side by side
    hn = np.empty((T, B, H), dtype=dtype)  # W_n h(t-1) + bh_n, kept for backward
    h = np.empty((T, B, H), dtype=dtype)
    h_prev = h0
    for t in range(T):
        hw = h_prev @ W_all.T  # (B, 3H): recurrent terms of r, z, n
        gates[t, :, :2 * H] = sigmoid(xu[t, :, :2 * H] + hw[:, :2 * H])  # r, z
        r, z = gates[t, :, :H], gates[t, :, H:2 * H]
        hn[t] = hw[:, 2 * H:] + bh_n
        gates[t, :, 2 * H:] = n = np.tanh(xu[t, :, 2 * H:] + r * hn[t])  # candidate
        h[t] = (1.0 - z) * n + z * h_prev  # h(t) = (1 - z) ⊙ n + z ⊙ h(t-1)
        h_prev = h[t]
    # --8<-- [end:forward]
    return h, GRUCache(x, h0, h, gates, hn, U_all, W_all)


def gru_backward(dh, cache, dh_last=None):
    """Backpropagation through time for :func:`gru_forward`.

    Going back one step, with dh(t) the total gradient on h(t)::

        dn = dh(t) ⊙ (1 - z),   dz = dh(t) ⊙ (h(t-1) - n)
        d(pre-activation of n) = dn ⊙ (1 - n²) =: da_n
        dr = da_n ⊙ (W_n h(t-1) + bh_n),   d(W_n h(t-1) + bh_n) = da_n ⊙ r
        dh(t-1) = dh(t) ⊙ z + (the three recurrent products)ᵀ

    The input side of the candidate gets da_n, the hidden side gets
    da_n ⊙ r: that is the only place where the two sides differ.

    Parameters
    ----------
    dh : ndarray of shape (T, B, H)
        Upstream gradient of the loss with respect to every hidden state
        ``h[t]``, *not* counting the path through later steps.
    cache : GRUCache
        As returned by :func:`gru_forward`.
    dh_last : ndarray of shape (B, H), optional
        Gradient on the last hidden state from outside the sequence, added
        to ``dh[-1]``; zero if omitted.

    Returns
    -------
    dx : ndarray of shape (T, B, D)
        Gradient with respect to the inputs.
    dh0 : ndarray of shape (B, H)
        Gradient with respect to the initial hidden state.
    grads : dict
        Gradients with respect to the parameters, summed over time and
        batch, keyed like ``params`` (:data:`GRU_PARAM_NAMES`); the values
        are views of the fused gradients (see :func:`unpack_gru`).

    Raises
    ------
    ValueError
        If ``dh`` does not have the shape of the hidden states, or
        ``cache`` is not a :class:`GRUCache`.
    """
    func = "gru_backward"
    check_cache(func, cache, GRUCache, "gru_forward")
    x, h0, h, gates, hn, U_all, W_all = cache
    dh = as_float_array(func, "dh", dh)
    check_shape(func, "dh", dh, h.shape, "(T, B, H)")
    dh = add_to_last(func, dh, dh_last)
    T, B, H = h.shape
    # --8<-- [start:backward-init]
    dax = np.empty_like(gates)  # dL/d(input-side pre-activations) of r, z, n
    dah = np.empty_like(gates)  # dL/d(recurrent terms h(t-1) @ W_all.T) of r, z, n
    dh_next = np.zeros_like(h0)  # dL/dh(t) arriving from step t+1
    # --8<-- [end:backward-init]
    # --8<-- [start:backward-loop]
    for t in reversed(range(T)):
        # --8<-- [start:backward-unpack]
        r, z, n = np.split(gates[t], 3, axis=1)
        h_prev = h[t - 1] if t > 0 else h0
        # --8<-- [end:backward-unpack]
        # --8<-- [start:backward-dh]
        dh_t = dh[t] + dh_next  # dL/dh(t): from above and from step t+1
        # --8<-- [end:backward-dh]
        # --8<-- [start:backward-gates]
        da_n = dh_t * (1.0 - z) * (1.0 - n ** 2)  # through h = (1-z) n + ..., then tanh
        dax[t, :, :H] = da_n * hn[t] * r * (1.0 - r)  # reset gate, through σ
        dax[t, :, H:2 * H] = dh_t * (h_prev - n) * z * (1.0 - z)  # update gate, through σ
        dax[t, :, 2 * H:] = da_n  # candidate, input side
        # --8<-- [end:backward-gates]
        # --8<-- [start:backward-hidden-side]
        dah[t, :, :2 * H] = dax[t, :, :2 * H]  # r and z: the two sides are just added
        dah[t, :, 2 * H:] = da_n * r  # candidate, hidden side: inside the reset product
        # --8<-- [end:backward-hidden-side]
        # --8<-- [start:backward-carry]
        dh_next = dh_t * z + dah[t] @ W_all  # dL/dh(t-1): direct path plus the three gates
        # --8<-- [end:backward-carry]
    # --8<-- [end:backward-loop]
    # the weight gradients: one product each over all T*B rows (rnn._gates.param_grads)
    dU_all, dW_all, db_all, dx = param_grads(dax, dah, x, h0, h, U_all)
    # --8<-- [start:backward-bh]
    dbh_n = dah[:, :, 2 * H:].sum(axis=(0, 1))  # bh_n sits on the hidden side of n, inside r * (...)
    # --8<-- [end:backward-bh]
    dh0 = dh_next  # what arrives at step 0 is the gradient of the initial state
    return dx, dh0, unpack_gru(dU_all, dW_all, db_all, dbh_n)


# ---------------------------------------------------------------- layer protocol

def param_shapes(D: int, H: int) -> dict:
    """Shapes of one layer's parameters: ``U_*`` (H, D), ``W_*`` (H, H), biases (H,)."""
    return _gates.param_shapes(PARAM_NAMES, D, H)


def init_layer(D: int, H: int, rng, init: str = "scaled", dtype=np.float64) -> dict:
    """Draw one GRU layer: weights by ``init``, every bias (``bh_n`` included) 0."""
    return _gates.init_layer(PARAM_NAMES, D, H, rng, init, dtype)


def reference_layer_forward(x, state0, params):
    """The layer protocol's forward pass with the reference :func:`gru_forward`.

    x (T, B, D) (floats only) and state0 (1, B, H) = (h,) in; h (T, B, H), the
    cache and the final state (1, B, H) out. The fast :func:`layer_forward`
    (:mod:`rnn._gru_fast`) computes the same and also reads token ids.
    """
    h, cache = gru_forward(x, state0[0], params)
    return h, cache, h[-1][None]


def reference_layer_backward(dh, cache, dstate=None):
    """The layer protocol's backward pass with the reference :func:`gru_backward`.

    dh (T, B, H) and an optional gradient on the final state, dstate (1, B, H),
    in; dx (T, B, D), dstate0 (1, B, H) and the parameter gradients (a dict) out.
    """
    (dh_last,) = split_state_grad("layer_backward", dstate, 1, *cache.h0.shape)
    dx, dh0, grads = gru_backward(dh, cache, dh_last)
    return dx, dh0[None], grads
