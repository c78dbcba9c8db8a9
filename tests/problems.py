"""Random problems for the cell tests: inputs, an initial state, parameters
and fixed upstream gradients for one recurrent layer of any registered cell."""

import numpy as np

from rnn.model import CELLS


def random_layer(module, D, H, rng, scale=0.5):
    """A parameter dict of one layer with every entry ~ N(0, scale^2)."""
    return {n: rng.standard_normal(s) * scale for n, s in module.param_shapes(D, H).items()}


def random_problem(cell, seed, T, B, D, H, scale=0.5):
    """x (T, B, D), state0 (S, B, H), params, and upstream gradients G (T, B, H)
    and G_state (S, B, H); ``h0`` (and ``s0`` for the LSTM) name the rows of state0."""
    module = CELLS[cell]
    rng = np.random.default_rng(seed)
    p = dict(x=rng.standard_normal((T, B, D)),
             state0=rng.standard_normal((module.N_STATES, B, H)) * scale,
             params=random_layer(module, D, H, rng, scale),
             G=rng.standard_normal((T, B, H)),
             G_state=rng.standard_normal((module.N_STATES, B, H)))
    p["h0"] = p["state0"][0]
    if module.N_STATES == 2:
        p["s0"] = p["state0"][1]
    return p
