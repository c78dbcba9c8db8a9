"""The LSTM and GRU against float64 PyTorch autograd: forward values and
every gradient, for one layer (rnn.lstm / rnn.gru directly) and for the
whole model (rnn.loss_and_grads with one and two layers against
torch.nn.LSTM / torch.nn.GRU + Linear + cross_entropy).

Weights are drawn by torch and copied into our per-gate dicts by slicing
torch's stacked layout here in the test, so the mapping itself (gate order
i, f, g, o for the LSTM and r, z, n for the GRU, and which biases add) is
under test too."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnn import loss_and_grads, relative_error  # noqa: E402
from rnn.gru import gru_backward, gru_forward  # noqa: E402
from rnn.lstm import lstm_backward, lstm_forward  # noqa: E402

TOL = 1e-10
SEEDS = [0, 1, 2]
# (T, B, D, H): includes a single step and a single sequence.
SHAPES = [(1, 1, 3, 2), (4, 1, 2, 3), (5, 3, 4, 4)]


def arr(t):
    return t.detach().numpy().copy()


def key(name, layer):
    return name if layer == 0 else f"{name}.{layer}"


def torch_module(cell, D, H, layers, seed):
    """A float64 torch.nn.LSTM / GRU with its own random weights, scaled up
    1.5x so that gates are not all near their midpoint."""
    torch.manual_seed(seed)
    cls = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
    mod = cls(D, H, num_layers=layers, dtype=torch.float64)
    with torch.no_grad():
        for p in mod.parameters():
            p.mul_(1.5)
    return mod


def params_from_torch(mod, cell, layer, grad=False):
    """Our per-gate dict for one layer, read off torch's stacked arrays.

    With ``grad=True`` it reads the ``.grad`` fields instead and also returns
    the torch bias gradients, for the checks that only apply to them.
    """
    H = mod.hidden_size
    get = (lambda n: arr(getattr(mod, f"{n}_l{layer}").grad)) if grad else \
          (lambda n: arr(getattr(mod, f"{n}_l{layer}")))
    w_ih, w_hh, b_ih, b_hh = get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")
    gates = "ifgo" if cell == "lstm" else "rzn"
    p = {}
    for k, gate in enumerate(gates):
        rows = slice(k * H, (k + 1) * H)
        p[f"U_{gate}"], p[f"W_{gate}"] = w_ih[rows], w_hh[rows]
        # our bias is torch's two biases added, so its gradient is that of either one
        p[f"b_{gate}"] = b_ih[rows] if grad else b_ih[rows] + b_hh[rows]
    if cell == "gru":  # except the GRU candidate's: b_hn sits inside r * (W_hn h + b_hn)
        p["b_n"], p["bh_n"] = b_ih[2 * H:], b_hh[2 * H:]
    return (p, b_ih, b_hh) if grad else p


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_lstm_layer_matches_torch(seed, shape):
    T, B, D, H = shape
    mod = torch_module("lstm", D, H, 1, seed)
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
    mod = torch_module("gru", D, H, 1, seed)
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


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_model_matches_torch_stack(cell, layers, reduction):
    K, H, T, B = 5, 4, 6, 3
    seed = 10 * layers + (cell == "gru")
    mod = torch_module(cell, K, H, layers, seed)
    lin = torch.nn.Linear(H, K, dtype=torch.float64)
    rng = np.random.default_rng(seed)
    inputs, targets = rng.integers(0, K, (T, B)), rng.integers(0, K, (T, B))
    S = 2 if cell == "lstm" else 1
    state0 = rng.standard_normal((layers, S, B, H))

    x = torch.nn.functional.one_hot(torch.tensor(inputs), K).double()  # (T, B, K)
    if cell == "lstm":
        out, (hn, cn) = mod(x, (torch.tensor(state0[:, 0]), torch.tensor(state0[:, 1])))
        torch_state = np.stack([arr(hn), arr(cn)], axis=1)  # (L, 2, B, H)
    else:
        out, hn = mod(x, torch.tensor(state0[:, 0]))
        torch_state = arr(hn)[:, None]  # (L, 1, B, H)
    logits = lin(out)
    loss_t = torch.nn.functional.cross_entropy(logits.reshape(T * B, K), torch.tensor(targets).reshape(-1),
                                               reduction=reduction)
    loss_t.backward()

    params = {"V": arr(lin.weight), "c": arr(lin.bias)}
    expected = {"V": arr(lin.weight.grad), "c": arr(lin.bias.grad)}
    for layer in range(layers):
        params.update({key(n, layer): v for n, v in params_from_torch(mod, cell, layer).items()})
        g, _, _ = params_from_torch(mod, cell, layer, grad=True)
        expected.update({key(n, layer): v for n, v in g.items()})

    loss, grads, state = loss_and_grads(params, inputs, targets, state0, reduction=reduction)
    assert abs(loss - loss_t.item()) / abs(loss_t.item()) < TOL
    assert relative_error(state, torch_state) < TOL
    assert set(grads) == set(expected)
    for name, g in grads.items():
        assert relative_error(g, expected[name]) < TOL, name
