"""Plumbing shared by the fast layer implementations (:mod:`rnn._rnn_cell_fast`,
:mod:`rnn._lstm_fast`, :mod:`rnn._gru_fast`).

The fast layers compute exactly what the reference functions of the chapters
compute (``rnn_forward``, ``lstm_forward``, ...); they differ in *how*:

* **token ids in, a gather out.** The first layer of a character model reads
  one-hot vectors, and ``one_hot(ids) @ U.T`` is just rows ``ids`` of
  ``U.T``. A layer may therefore be given the ids (T, B) instead of floats
  (T, B, D): :func:`input_term` gathers, and :func:`input_grads` forms
  dL/dU from the same ids (as one product with the one-hot matrix, which is
  faster here than ``np.add.at``'s scatter-add). Ids carry no gradient, so dx
  is then ``None``.
* **input terms of every step at once.** ``x(t) U^T + b`` does not depend on
  the recurrence: one product for all T*B rows before the loop, written
  straight into the buffer the loop then finishes in place.
* **weight gradients after the loop.** Inside the backward loop only
  dL/dh(t-1) has to wait for step t+1; dL/dU, dL/dW and dL/db are sums over
  steps, computed after the loop as one (nH x T*B) by (T*B x D) product each.
* **no allocation inside the loops.** Every array the loop writes is created
  once per call (``out=`` everywhere), and loops run over pre-built lists of
  views, so that at B = 1, where a step is a few microseconds of arithmetic,
  Python and NumPy call overhead is all that is left.

The validation here is cheap checks of shapes and dtypes; on any failure the
reference checks of the cell module run and raise their detailed message.
The fast code writes ``a.dot(b)`` and ``np.add.reduce(a, axis)`` where the
reference writes ``a @ b`` and ``a.sum(axis)``: the same operations without a
layer of Python dispatch, which at B = 1 is a measurable part of a step.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_ids, check_shape

__all__ = ["layer_inputs", "check_state0", "gated_params", "gated_layer_forward",
           "compute_dtype", "pack", "halved", "unpack", "input_term", "input_grads", "one_hot_rows"]


def layer_inputs(func: str, x, D: int):
    """Check a layer's input: token ids (T, B) in [0, D), or floats (T, B, D).

    Returns ``(x, ids, T, B)`` with ``ids`` True for token ids.
    """
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    ids = x.dtype.kind in "iu"
    if ids:
        if x.ndim != 2:
            raise ValueError(f"{func}: token ids must have shape (T, B), got {x.shape}; float "
                             f"inputs have shape (T, B, D)")
        x = check_ids(func, "x", x, D)
    elif x.dtype.kind != "f":
        raise ValueError(f"{func}: x must be float inputs (T, B, D) or integer token ids (T, B), "
                         f"got dtype {x.dtype}")
    else:
        check_shape(func, "x", x, (None, None, D), "(T, B, D)")
    T, B = x.shape[:2]
    if T == 0:
        raise ValueError(f"{func}: x has T = 0 time steps; pass at least one step")
    return x, ids, T, B


def check_state0(func: str, state0, S: int, B: int, H: int) -> np.ndarray:
    """The initial state (S, B, H) as a float array, or a clear error."""
    state0 = as_float_array(func, "state0", state0)
    check_shape(func, "state0", state0, (S, B, H), "(S, B, H)")
    return state0


def gated_params(func: str, params, names: tuple, cell: str):
    """The parameter dict of a gated layer after a cheap check of keys, shapes and dtypes.

    Returns ``(arrays, H, D)`` with ``arrays`` in the order of ``names``. Any
    problem is reported by the full check of :func:`rnn._gates.check_params`.
    """
    try:
        arrays = {n: params[n] for n in names}
        H, D = arrays[names[0]].shape
        ok = len(params) == len(names) and all(
            a.dtype.kind == "f" and a.shape == ((H, D) if n[0] == "U" else (H, H) if n[0] == "W"
                                                else (H,))
            for n, a in arrays.items())
    except (KeyError, AttributeError, TypeError, ValueError):
        ok = False
    if not ok:
        from ._gates import check_params

        check_params(func, params, names, cell)
    return arrays, H, D


def gated_layer_forward(x, state0, params, names: tuple, cell: str, S: int, prepare, forward):
    """``layer_forward`` of a gated cell: check everything, lay out the weights with
    ``prepare(arrays, H, dtype)``, then run ``forward(weights, x, ids, state0)``."""
    func = "layer_forward"
    arrays, H, D = gated_params(func, params, names, cell)
    x, ids, T, B = layer_inputs(func, x, D)
    state0 = check_state0(func, state0, S, B, H)
    dtype = compute_dtype(x, ids, (state0, *arrays.values()))
    return forward(prepare(arrays, H, dtype), x if ids else x.astype(dtype, copy=False), ids,
                   state0)


def pack(arrays: dict, gates: tuple, dtype) -> tuple:
    """Fused ``U_all``, ``W_all``, ``b_all`` (gate blocks in the order ``gates``) in ``dtype``."""
    return tuple(np.concatenate([arrays[f"{kind}_{g}"] for g in gates]).astype(dtype, copy=False)
                 for kind in "UWb")


def halved(U_all, W_all, b_all, sigmoid, dtype) -> tuple:
    """The fused weights with the rows of the sigmoid gates halved, transposed for the loop.

    ``sigmoid`` (nH,) marks the columns of the sigmoid gates; σ(a) =
    (1 + tanh(a/2)) / 2, and halving is exact in binary floating point.
    Returns ``scale`` (nH,: 1/2 or 1), ``UsT`` (D, nH), ``WsT`` (H, nH), ``bs`` (nH,).
    """
    scale = np.where(sigmoid, 0.5, 1.0).astype(dtype)
    return (scale, np.multiply(U_all.T, scale, order="C"), np.multiply(W_all.T, scale, order="C"),
            b_all * scale)


def unpack(dU_all, dW_all, db_all, gates: tuple, names: tuple) -> dict:
    """Per-gate views of fused gradients, keyed and ordered like ``names``."""
    H = dW_all.shape[1]
    fused = {"U": dU_all, "W": dW_all, "b": db_all}
    blocks = {f"{kind}_{g}": a[k * H:(k + 1) * H]
              for kind, a in fused.items() for k, g in enumerate(gates)}
    return {n: blocks[n] for n in names if n in blocks}


def compute_dtype(x, ids: bool, arrays):
    """The dtype of the computation: float64 if any float input is, else float32."""
    dtype = np.result_type(*arrays)
    return dtype if ids else np.result_type(dtype, x.dtype)


def one_hot_rows(ids, D: int, dtype) -> np.ndarray:
    """One-hot rows (N, D) for the ids (any shape, N = ids.size)."""
    flat = ids.reshape(-1)
    out = np.zeros((flat.size, D), dtype)
    out[np.arange(flat.size), flat] = 1
    return out


def input_term(x, ids: bool, UT, b, out) -> None:
    """Write ``x(t) @ UT + b`` for every step into ``out`` (T*B, nH).

    ``UT`` (D, nH) is the transposed input weights. For token ids this is a
    gather of rows of ``UT`` (no product at all), which needs ``UT`` contiguous.
    """
    # --8<-- [start:input-term]
    if ids:  # U e_k is column k of U, row k of UT: gather, for every (t, b) at once
        np.take(UT, x.reshape(-1), axis=0, out=out, mode="clip")  # (ids checked already)
    else:
        np.dot(x.reshape(-1, x.shape[2]), UT, out=out)
    out += b
    # --8<-- [end:input-term]


def input_grads(x, ids: bool, dA, U_all):
    """Gradients of the input side ``x(t) @ U_all.T + b_all``, all steps at once.

    Parameters
    ----------
    x : ndarray (T, B, D) of floats, or (T, B) of token ids
    dA : ndarray of shape (T*B, nH)
        dL/d(input-side pre-activations), one row per (t, b).
    U_all : ndarray of shape (nH, D)

    Returns
    -------
    dU_all (nH, D), db_all (nH,), and dx (T, B, D), or None for token ids.
    """
    # --8<-- [start:input-grads]
    db_all = np.add.reduce(dA, axis=0)  # the sum over all rows
    if ids:  # column k of dU gets the rows of dA with id k: the product with the one-hot rows
        dU_all, dx = dA.T.dot(one_hot_rows(x, U_all.shape[1], dA.dtype)), None  # no dx for ids
    else:
        dU_all, dx = dA.T.dot(x.reshape(-1, x.shape[2])), dA.dot(U_all).reshape(x.shape)
    # --8<-- [end:input-grads]
    return dU_all, db_all, dx
