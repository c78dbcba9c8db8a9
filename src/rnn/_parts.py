"""Plumbing shared by the models beyond the language model (:mod:`rnn.classify`,
:mod:`rnn.bidirectional`, :mod:`rnn.seq2seq`): named groups of layer
parameters in one flat dict, inputs given as ids or vectors, and a small
training loop.

A model's parameters are one flat ``dict`` of arrays, as for the language
model, so that the optimisers, clipping and checkpoints of the package work
unchanged. A recurrent layer's parameters sit under a prefix: ``"enc.U"``,
``"enc.W"``, ``"enc.b"`` for an encoder of vanilla cells, ``"fwd.U_f"`` for
the forward direction of an LSTM layer, and so on.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import as_float_array, check_int, check_number, check_shape
from .model import CELLS, one_hot
from .optim import Adam, clip_global_norm


def check_cell(func: str, cell) -> object:
    """The module of ``cell``, a key of :data:`rnn.model.CELLS`."""
    if cell not in CELLS:
        raise ValueError(f"{func}: cell must be one of {sorted(CELLS)}, got {cell!r}")
    return CELLS[cell]


def find_cell(func: str, params, prefix: str = "") -> str:
    """The cell whose parameter names, after ``prefix``, are all keys of ``params``."""
    if not isinstance(params, dict):
        raise ValueError(f"{func}: params must be a dict of arrays, got {type(params).__name__}")
    for cell, module in CELLS.items():
        if all(prefix + n in params for n in module.PARAM_NAMES):
            return cell
    raise ValueError(f"{func}: params holds no recurrent layer under the prefix {prefix!r}; "
                     f"expected the keys of one cell, e.g. {[prefix + n for n in CELLS['rnn'].PARAM_NAMES]}")


def init_group(cell: str, D: int, H: int, rng, init: str, dtype, prefix: str) -> dict:
    """A layer's parameters from the cell's ``init_layer``, keys prefixed."""
    return {prefix + n: v for n, v in CELLS[cell].init_layer(D, H, rng, init, dtype).items()}


def group(params: dict, module, prefix: str) -> dict:
    """The layer parameters stored under ``prefix``, with their plain names."""
    return {n: params[prefix + n] for n in module.PARAM_NAMES}


def ungroup(grads: dict, prefix: str) -> dict:
    """Layer gradients with their plain names, keys prefixed."""
    return {prefix + n: g for n, g in grads.items()}


def as_inputs(func: str, inputs, D: int, dtype, name: str = "inputs") -> np.ndarray:
    """Inputs (T, B, D) from token ids (T, B) (one-hot encoded) or from vectors (T, B, D)."""
    a = np.asarray(inputs)
    if np.issubdtype(a.dtype, np.integer) and a.dtype != bool:
        if a.ndim != 2:
            raise ValueError(f"{func}: {name} as ids must have shape (T, B), got {a.shape}")
        if a.size and (a.min() < 0 or a.max() >= D):
            raise ValueError(f"{func}: {name} holds ids in [{a.min()}, {a.max()}] but the model "
                             f"reads D = {D} symbols, ids in [0, {D - 1}]")
        return one_hot(a, D, dtype=dtype)
    a = as_float_array(func, name, a)
    check_shape(func, name, a, (None, None, D), "(T, B, D)")
    return a


def rng_from(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def fit(params: dict, loss_and_grads, make_batch, *, steps: int, lr: float, clip: float,
        seed) -> list:
    """Adam on ``loss_and_grads(params, *make_batch(rng))`` for ``steps`` steps (params in place).

    Gradients are clipped to global norm ``clip``. Returns the loss of every step.
    """
    func = "fit"
    steps = check_int(func, "steps", steps)
    check_number(func, "lr", lr, low=0, low_open=True)
    check_number(func, "clip", clip, low=0, low_open=True)
    rng = rng_from(seed)
    optimizer = Adam(lr)
    losses = []
    for _ in range(steps):
        loss, grads = loss_and_grads(params, *make_batch(rng))
        if not math.isfinite(loss):
            raise FloatingPointError(f"training diverged: the loss became {loss}")
        clip_global_norm(grads, clip)
        optimizer.step(params, grads)
        losses.append(loss)
    return losses
