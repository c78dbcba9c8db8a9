"""The NumPy package against float64 PyTorch autograd on identical weights.

PyTorch is an independent implementation: its gradients come from autograd,
not from hand-derived formulas, so agreement to ~1e-15 relative error means
the hand-written backward passes are right. Two references are used for the
recurrence: the equations written with torch ops, and ``torch.nn.RNN``
itself (whose two biases b_ih + b_hh play the role of the book's single b).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from rnn.gradcheck import relative_error  # noqa: E402
from rnn.losses import log_softmax, output_backward, output_forward, softmax, softmax_cross_entropy  # noqa: E402
from rnn.model import forward, init_params, loss_and_grads  # noqa: E402
from rnn.rnn_cell import rnn_backward, rnn_forward  # noqa: E402

TORCH_TOL = 1e-10
SEEDS = [0, 1, 2]
SHAPES = [(1, 1, 3, 2), (4, 1, 2, 3), (3, 2, 3, 4), (6, 3, 5, 4)]  # (T, B, D, H)
F64 = torch.float64


def t64(a, grad=False):
    """A float64 torch tensor with its own copy of the data."""
    return torch.tensor(np.asarray(a), dtype=F64, requires_grad=grad)


def np_(t):
    return t.detach().numpy()


def random_rnn(seed, T, B, D, H, scale=0.5):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((T, B, D)),
        "h0": rng.standard_normal((B, H)) * scale,
        "U": rng.standard_normal((H, D)) * scale,
        "W": rng.standard_normal((H, H)) * scale,
        "b": rng.standard_normal(H) * scale,
        "G": rng.standard_normal((T, B, H)),
    }


def numpy_rnn(p):
    h, cache = rnn_forward(p["x"], p["h0"], p["U"], p["W"], p["b"])
    dx, dh0, dU, dW, db = rnn_backward(p["G"], cache)
    return h, {"x": dx, "h0": dh0, "U": dU, "W": dW, "b": db}


def rnn_torch_ops_errors(seed, shape):
    """rnn_forward / rnn_backward against the recurrence written in torch ops."""
    p = random_rnn(seed, *shape)
    h, grads = numpy_rnn(p)
    leaves = {k: t64(p[k], grad=True) for k in ("x", "h0", "U", "W", "b")}
    x, U, W, b = leaves["x"], leaves["U"], leaves["W"], leaves["b"]
    h_t, hs = leaves["h0"], []
    for t in range(x.shape[0]):
        h_t = torch.tanh(x[t] @ U.T + h_t @ W.T + b)
        hs.append(h_t)
    h_torch = torch.stack(hs)
    (h_torch * t64(p["G"])).sum().backward()
    errors = {"h": relative_error(h, np_(h_torch))}
    for k, leaf in leaves.items():
        errors["d" + k] = relative_error(grads[k], leaf.grad.numpy())
    return errors


def rnn_nn_module_errors(seed, shape):
    """rnn_forward / rnn_backward against torch.nn.RNN with the same weights."""
    p = random_rnn(seed, *shape)
    T, B, D, H = shape
    h, grads = numpy_rnn(p)
    module = torch.nn.RNN(D, H, num_layers=1, nonlinearity="tanh", dtype=F64)
    with torch.no_grad():
        module.weight_ih_l0.copy_(t64(p["U"]))
        module.weight_hh_l0.copy_(t64(p["W"]))
        module.bias_ih_l0.copy_(t64(p["b"]))
        module.bias_hh_l0.zero_()
    x, h0 = t64(p["x"], grad=True), t64(p["h0"][None], grad=True)
    out, h_n = module(x, h0)  # time-major: (T, B, H)
    (out * t64(p["G"])).sum().backward()
    return {
        "h": relative_error(h, np_(out)),
        "h_last": relative_error(h[-1], np_(h_n[0])),
        "dx": relative_error(grads["x"], x.grad.numpy()),
        "dh0": relative_error(grads["h0"], h0.grad[0].numpy()),
        "dU": relative_error(grads["U"], module.weight_ih_l0.grad.numpy()),
        "dW": relative_error(grads["W"], module.weight_hh_l0.grad.numpy()),
        "db": relative_error(grads["b"], module.bias_ih_l0.grad.numpy()),
        # torch's second bias enters the same sum, so it gets the same gradient
        "db_hh": relative_error(grads["b"], module.bias_hh_l0.grad.numpy()),
    }


def output_ce_errors(seed, lead, H, K, reduction):
    """Output layer + cross-entropy against torch.nn.functional.cross_entropy."""
    rng = np.random.default_rng(seed)
    h = rng.standard_normal(lead + (H,))
    V = rng.standard_normal((K, H)) * 0.5
    c = rng.standard_normal(K) * 0.5
    y = rng.integers(0, K, lead)
    G = rng.standard_normal(lead + (K,))

    o = output_forward(h, V, c)
    loss, do = softmax_cross_entropy(o, y, reduction=reduction)
    dh, dV, dc = output_backward(do, h, V)

    h_t, V_t, c_t = t64(h, True), t64(V, True), t64(c, True)
    o_t = h_t @ V_t.T + c_t
    o_t.retain_grad()
    loss_t = F.cross_entropy(o_t.reshape(-1, K), torch.as_tensor(y).reshape(-1), reduction=reduction)
    loss_t.backward()
    errors = {
        "o": relative_error(o, np_(o_t)),
        "loss": abs(loss - loss_t.item()) / abs(loss_t.item()),
        "do": relative_error(do, o_t.grad.numpy()),
        "dh": relative_error(dh, h_t.grad.numpy()),
        "dV": relative_error(dV, V_t.grad.numpy()),
        "dc": relative_error(dc, c_t.grad.numpy()),
    }
    # output_backward alone, for an arbitrary upstream gradient G = dL/do
    h_t, V_t, c_t = t64(h, True), t64(V, True), t64(c, True)
    ((h_t @ V_t.T + c_t) * t64(G)).sum().backward()
    dh, dV, dc = output_backward(G, h, V)
    errors.update({"dh(G)": relative_error(dh, h_t.grad.numpy()),
                   "dV(G)": relative_error(dV, V_t.grad.numpy()),
                   "dc(G)": relative_error(dc, c_t.grad.numpy())})
    return errors


def random_model(seed, K, H, layers, T, B, scale=0.5):
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(v.shape) * scale
              for k, v in init_params(K, H, layers=layers, seed=seed).items()}
    inputs = rng.integers(0, K, (T, B))
    targets = rng.integers(0, K, (T, B))
    state0 = rng.standard_normal((layers, 1, B, H)) * scale
    return params, inputs, targets, state0


def model_torch_ops_errors(seed, K, H, layers, T, B, reduction):
    """loss_and_grads against a torch re-implementation of the whole model from one-hot input."""
    params, inputs, targets, state0 = random_model(seed, K, H, layers, T, B)
    loss, grads, state = loss_and_grads(params, inputs, targets, state0, reduction=reduction)

    P = {k: t64(v, True) for k, v in params.items()}
    x = F.one_hot(torch.as_tensor(inputs), K).to(F64)  # (T, B, K)
    last = []
    for l in range(layers):
        sfx = "" if l == 0 else f".{l}"
        U, W, b = P["U" + sfx], P["W" + sfx], P["b" + sfx]
        h_t, hs = t64(state0[l, 0]), []  # the initial state is a constant
        for t in range(T):
            h_t = torch.tanh(x[t] @ U.T + h_t @ W.T + b)
            hs.append(h_t)
        x = torch.stack(hs)
        last.append(h_t)
    o = x @ P["V"].T + P["c"]
    loss_t = F.cross_entropy(o.reshape(-1, K), torch.as_tensor(targets).reshape(-1), reduction=reduction)
    loss_t.backward()
    errors = {"loss": abs(loss - loss_t.item()) / abs(loss_t.item()),
              "state": relative_error(state[:, 0], np_(torch.stack(last)))}
    for k in params:
        errors["d" + k] = relative_error(grads[k], P[k].grad.numpy())
    return errors


def model_nn_module_errors(seed, K, H, layers, T, B, reduction):
    """loss_and_grads against torch.nn.RNN(num_layers=layers) + a linear layer + cross_entropy."""
    params, inputs, targets, state0 = random_model(seed, K, H, layers, T, B)
    loss, grads, state = loss_and_grads(params, inputs, targets, state0, reduction=reduction)
    o_np, _ = forward(params, inputs, state0)

    module = torch.nn.RNN(K, H, num_layers=layers, nonlinearity="tanh", dtype=F64)
    with torch.no_grad():
        for l in range(layers):
            sfx = "" if l == 0 else f".{l}"
            getattr(module, f"weight_ih_l{l}").copy_(t64(params["U" + sfx]))
            getattr(module, f"weight_hh_l{l}").copy_(t64(params["W" + sfx]))
            getattr(module, f"bias_ih_l{l}").copy_(t64(params["b" + sfx]))
            getattr(module, f"bias_hh_l{l}").zero_()
    V, c = t64(params["V"], True), t64(params["c"], True)
    x = F.one_hot(torch.as_tensor(inputs), K).to(F64)
    out, h_n = module(x, t64(state0[:, 0]))
    o = out @ V.T + c
    loss_t = F.cross_entropy(o.reshape(-1, K), torch.as_tensor(targets).reshape(-1), reduction=reduction)
    loss_t.backward()
    errors = {"loss": abs(loss - loss_t.item()) / abs(loss_t.item()),
              "o": relative_error(o_np, np_(o)),
              "state": relative_error(state[:, 0], np_(h_n)),
              "dV": relative_error(grads["V"], V.grad.numpy()),
              "dc": relative_error(grads["c"], c.grad.numpy())}
    for l in range(layers):
        sfx = "" if l == 0 else f".{l}"
        errors["dU" + sfx] = relative_error(grads["U" + sfx], getattr(module, f"weight_ih_l{l}").grad.numpy())
        errors["dW" + sfx] = relative_error(grads["W" + sfx], getattr(module, f"weight_hh_l{l}").grad.numpy())
        errors["db" + sfx] = relative_error(grads["b" + sfx], getattr(module, f"bias_ih_l{l}").grad.numpy())
    return errors


def assert_all_small(errors):
    bad = {k: v for k, v in errors.items() if not v < TORCH_TOL}
    assert not bad, bad


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_rnn_matches_torch_ops(seed, shape):
    errors = rnn_torch_ops_errors(seed, shape)
    assert set(errors) == {"h", "dx", "dh0", "dU", "dW", "db"}
    assert_all_small(errors)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_rnn_matches_torch_nn_rnn(seed, shape):
    assert_all_small(rnn_nn_module_errors(seed, shape))


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("lead", [(1, 1), (4, 1), (1, 3), (3, 2)])
@pytest.mark.parametrize("seed", SEEDS)
def test_output_layer_and_cross_entropy_match_torch(seed, lead, reduction):
    assert_all_small(output_ce_errors(seed, lead, 3, 5, reduction))


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_matches_torch(seed):
    o = np.random.default_rng(seed).standard_normal((3, 2, 7)) * 5
    o[0, 0, 0] = 1000.0
    o[1, 1, :] = -1000.0
    assert relative_error(softmax(o), torch.softmax(t64(o), dim=-1).numpy()) < TORCH_TOL
    assert relative_error(log_softmax(o), torch.log_softmax(t64(o), dim=-1).numpy()) < TORCH_TOL


MODEL_CASES = [(5, 3, 1, 1), (5, 3, 4, 2), (7, 4, 6, 3), (4, 2, 3, 1)]  # (K, H, T, B)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("case", MODEL_CASES)
@pytest.mark.parametrize("seed", SEEDS)
def test_model_matches_torch_ops(seed, case, layers, reduction):
    K, H, T, B = case
    errors = model_torch_ops_errors(seed, K, H, layers, T, B, reduction)
    assert len(errors) == 2 + 3 * layers + 2
    assert_all_small(errors)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("case", MODEL_CASES)
@pytest.mark.parametrize("seed", SEEDS)
def test_model_matches_torch_nn_rnn(seed, case, layers, reduction):
    K, H, T, B = case
    assert_all_small(model_nn_module_errors(seed, K, H, layers, T, B, reduction))
