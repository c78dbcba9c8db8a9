"""One LSTM or GRU layer (rnn.lstm / rnn.gru directly) against float64
PyTorch autograd: forward values and every gradient, the two torch biases
included. The whole model, for every cell, is checked against torch in
test_cells.py.

Weights are drawn by torch and copied into our per-gate dicts by slicing
torch's stacked layout here in the test, so the mapping itself (gate order
i, f, g, o for the LSTM and r, z, n for the GRU, and which biases add) is
under test too."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnn import relative_error  # noqa: E402
from rnn.gru import gru_backward, gru_forward  # noqa: E402
from rnn.lstm import lstm_backward, lstm_forward  # noqa: E402
from torch_models import arr, params_from_torch, torch_module  # noqa: E402

TOL = 1e-10
SEEDS = [0, 1, 2]
# (T, B, D, H): includes a single step and a single sequence.
SHAPES = [(1, 1, 3, 2), (4, 1, 2, 3), (5, 3, 4, 4)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_lstm_layer_matches_torch(seed, shape):
    T, B, D, H = shape
    mod = torch_module(torch, "lstm", D, H, 1, seed)
    rng = np.random.default_rng(seed)
    x, h0, s0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    G = rng.standard_normal((T, B, H))
    xt, h0t, s0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, s0))
    out, (hn, cn) = mod(xt, (h0t[None], s0t[None]))
    (out * torch.tensor(G)).sum().backward()

    h, cache = lstm_forward(x, h0, s0, params_from_torch(mod, "lstm", 0))
    assert relative_error(h, arr(out)) < TOL
    assert relative_error(cache.s[-1], arr(cn[0])) < TOL
    dx, dh0, ds0, grads = lstm_backward(G, cache)
    assert relative_error(dx, arr(xt.grad)) < TOL
    assert relative_error(dh0, arr(h0t.grad)) < TOL
    assert relative_error(ds0, arr(s0t.grad)) < TOL
    expected, b_ih_grad, b_hh_grad = params_from_torch(mod, "lstm", 0, grad=True)
    for name, g in grads.items():
        assert relative_error(g, expected[name]) < TOL, name
    db_all = np.concatenate([grads[f"b_{k}"] for k in "ifgo"])
    assert relative_error(db_all, b_ih_grad) < TOL and relative_error(db_all, b_hh_grad) < TOL


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_gru_layer_matches_torch(seed, shape):
    T, B, D, H = shape
    mod = torch_module(torch, "gru", D, H, 1, seed)
    rng = np.random.default_rng(seed)
    x, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    G = rng.standard_normal((T, B, H))
    xt, h0t = (torch.tensor(a, requires_grad=True) for a in (x, h0))
    out, _ = mod(xt, h0t[None])
    (out * torch.tensor(G)).sum().backward()

    h, cache = gru_forward(x, h0, params_from_torch(mod, "gru", 0))
    assert relative_error(h, arr(out)) < TOL
    dx, dh0, grads = gru_backward(G, cache)
    assert relative_error(dx, arr(xt.grad)) < TOL
    assert relative_error(dh0, arr(h0t.grad)) < TOL
    expected, b_ih_grad, b_hh_grad = params_from_torch(mod, "gru", 0, grad=True)
    for name, g in grads.items():
        assert relative_error(g, expected[name]) < TOL, name
    # r and z: both torch biases get our gradient; n: b_in is b_n, b_hn is bh_n
    assert relative_error(np.concatenate([grads["b_r"], grads["b_z"]]), b_hh_grad[:2 * H]) < TOL
    assert relative_error(grads["b_n"], b_ih_grad[2 * H:]) < TOL
    assert relative_error(grads["bh_n"], b_hh_grad[2 * H:]) < TOL
