"""The behaviour every recurrent cell must share, run against each module of
rnn.model.CELLS through the layer protocol (PARAM_NAMES, N_STATES,
param_shapes, init_layer, layer_forward, layer_backward):

* shapes, the initialisation policy, and the state handed to the next window;
* every gradient of a layer (inputs, initial state, parameters, with an
  upstream gradient on the final state too) against central differences;
* the whole model against central differences and against float64
  torch.nn.RNN / LSTM / GRU + Linear + cross_entropy;
* dtypes: float32 in, float32 out everywhere; any float64 input, float64;
* training with the package's own optimiser lowers the loss; checkpoints
  round-trip; a resumed run is bit-identical to an uninterrupted one.

Cell-specific facts (hand-worked values, saturated gates, the fused layout,
error messages) stay in test_rnn_cell.py, test_lstm.py and test_gru.py.
"""

import math

import numpy as np
import pytest

import rnn
from rnn.checkpoint import load_checkpoint, save_checkpoint
from rnn.gradcheck import numerical_gradient, relative_error
from rnn.model import CELLS
from rnn.train import TrainConfig, train, train_step

from problems import random_problem

CELL_NAMES = sorted(CELLS)
# (T, B, D, H): a single step and a single sequence included.
SHAPES = [(1, 1, 3, 2), (4, 1, 2, 3), (3, 2, 3, 4)]
FD_TOL = 1e-7
TORCH_TOL = 1e-10
INPUTS = ("x", "h0", "s0", "U", "W", "U_all", "W_all")  # cache fields that hold what was passed in


# ---------------------------------------------------------------- the protocol

@pytest.mark.parametrize("cell", CELL_NAMES)
def test_protocol_names_and_shapes(cell):
    module = CELLS[cell]
    D, H = 3, 5
    shapes = module.param_shapes(D, H)
    assert tuple(shapes) == tuple(module.PARAM_NAMES)
    assert module.N_STATES == (2 if cell == "lstm" else 1)
    for name, shape in shapes.items():  # the rule every cell follows, written out here
        expected = (H, D) if name[0] == "U" else (H, H) if name[0] == "W" else (H,)
        assert shape == expected, name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_init_layer_scaled_policy(cell, dtype):
    module = CELLS[cell]
    D, H = 7, 50
    p = module.init_layer(D, H, np.random.default_rng(0), "scaled", dtype)
    assert list(p) == list(module.PARAM_NAMES)
    for name, a in p.items():
        assert a.dtype == dtype and a.shape == module.param_shapes(D, H)[name]
        if a.ndim == 1:  # biases: 0, except the LSTM forget gate's 1 (Gers et al. 2000)
            assert np.all(a == (1.0 if (cell, name) == ("lstm", "b_f") else 0.0)), name
        else:  # U(-1/sqrt(H), 1/sqrt(H)), as torch: bounded, and filling the interval
            bound = 1 / math.sqrt(H)
            assert np.abs(a).max() <= bound and np.abs(a).max() > 0.9 * bound, name
            assert abs(a.std() - bound / math.sqrt(3)) < 0.15 * bound / math.sqrt(3), name


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_init_layer_small_policy_and_reproducibility(cell):
    module = CELLS[cell]
    p = module.init_layer(40, 60, np.random.default_rng(3), "small", np.float64)
    q = module.init_layer(40, 60, np.random.default_rng(3), "small", np.float64)
    weights = np.concatenate([a.ravel() for a in p.values() if a.ndim == 2])
    assert abs(weights.std() - 0.01) < 0.0005 and abs(weights.mean()) < 0.0005  # N(0, 0.01^2)
    assert all(np.array_equal(p[k], q[k]) for k in p)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_state_is_the_last_step_and_carries_over(cell):
    module = CELLS[cell]
    p = random_problem(cell, 0, 6, 3, 4, 5, scale=1.0)
    h, cache, state = module.layer_forward(p["x"], p["state0"], p["params"])
    assert h.shape == (6, 3, 5) and state.shape == (module.N_STATES, 3, 5)
    np.testing.assert_array_equal(state[0], h[-1])
    if cell == "lstm":
        np.testing.assert_array_equal(state[1], cache.s[-1])
    # two halves with the state handed over compute the same as the whole
    h1, _, mid = module.layer_forward(p["x"][:2], p["state0"], p["params"])
    h2, _, end = module.layer_forward(p["x"][2:], mid, p["params"])
    np.testing.assert_allclose(np.concatenate([h1, h2]), h, rtol=0, atol=1e-14)
    np.testing.assert_allclose(end, state, rtol=0, atol=1e-14)
    # and the state matters: another initial state gives another output
    h_other, _, _ = module.layer_forward(p["x"], p["state0"] + 1.0, p["params"])
    assert np.abs(h_other - h).max() > 1e-3


# ---------------------------------------------------------------- gradients of a layer

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_layer_gradients_match_finite_differences(cell, seed, shape):
    module = CELLS[cell]
    p = random_problem(cell, seed, *shape)
    arrays = {"x": p["x"], "state0": p["state0"], **p["params"]}

    def f():  # f = sum(h * G) + sum(state * G_state): dL/dh = G, dL/dstate = G_state
        h, _, state = module.layer_forward(arrays["x"], arrays["state0"], p["params"])
        return float((h * p["G"]).sum() + (state * p["G_state"]).sum())

    _, cache, _ = module.layer_forward(p["x"], p["state0"], p["params"])
    dx, dstate0, grads = module.layer_backward(p["G"], cache, p["G_state"])
    assert list(grads) == list(module.PARAM_NAMES)
    analytic = {"x": dx, "state0": dstate0, **grads}
    for name, a in arrays.items():
        num = numerical_gradient(f, a)
        assert analytic[name].shape == a.shape, name
        assert np.abs(num).max() > 1e-3, name  # not a trivially small gradient
        assert relative_error(analytic[name], num) < FD_TOL, name


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_final_state_gradient_is_optional_and_additive(cell):
    module = CELLS[cell]
    p = random_problem(cell, 5, 4, 2, 3, 3)
    _, cache, _ = module.layer_forward(p["x"], p["state0"], p["params"])
    without = module.layer_backward(p["G"], cache)
    zero = module.layer_backward(p["G"], cache, np.zeros_like(p["G_state"]))
    only_state = module.layer_backward(np.zeros_like(p["G"]), cache, p["G_state"])
    both = module.layer_backward(p["G"], cache, p["G_state"])
    for a, b in [(without, zero)]:
        np.testing.assert_array_equal(a[0], b[0])
    # backward is linear in the upstream gradients
    np.testing.assert_allclose(both[0], without[0] + only_state[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(both[1], without[1] + only_state[1], rtol=1e-12, atol=1e-14)
    for name in module.PARAM_NAMES:
        np.testing.assert_allclose(both[2][name], without[2][name] + only_state[2][name],
                                   rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="dstate must have shape"):
        module.layer_backward(p["G"], cache, p["G_state"][:, :1])


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_zero_upstream_gives_zero_gradients(cell):
    module = CELLS[cell]
    p = random_problem(cell, 2, 3, 2, 3, 4)
    _, cache, _ = module.layer_forward(p["x"], p["state0"], p["params"])
    dx, dstate0, grads = module.layer_backward(np.zeros_like(p["G"]), cache)
    assert not dx.any() and not dstate0.any() and not any(g.any() for g in grads.values())


# ---------------------------------------------------------------- dtypes

def _computed_arrays(h, cache, state, dx, dstate0, grads):
    """Every array the layer computed (not the inputs it stored as given)."""
    out = {"h": h, "state": state, "dx": dx, "dstate0": dstate0}
    out.update({f"cache.{k}": v for k, v in cache._asdict().items()
                if isinstance(v, np.ndarray) and k not in INPUTS})
    out.update({f"grad {k}": v for k, v in grads.items()})
    return out


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_float32_in_float32_out_everywhere(cell):
    module = CELLS[cell]
    p = random_problem(cell, 0, 3, 2, 3, 4)
    x, state0, G = (p[k].astype(np.float32) for k in ("x", "state0", "G"))
    params = {k: v.astype(np.float32) for k, v in p["params"].items()}
    h, cache, state = module.layer_forward(x, state0, params)
    dx, dstate0, grads = module.layer_backward(G, cache, p["G_state"].astype(np.float32))
    for name, a in _computed_arrays(h, cache, state, dx, dstate0, grads).items():
        assert a.dtype == np.float32, name
    # and float32 agrees with float64 to float32 precision
    h64, _, _ = module.layer_forward(p["x"], p["state0"], p["params"])
    assert np.abs(h - h64).max() < 1e-5


@pytest.mark.parametrize("which", ["x", "state0", "params"])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_any_float64_input_computes_in_float64(cell, which):
    module = CELLS[cell]
    p = random_problem(cell, 1, 3, 2, 3, 4)
    x, state0 = p["x"].astype(np.float32), p["state0"].astype(np.float32)
    params = {k: v.astype(np.float32) for k, v in p["params"].items()}
    if which == "x":
        x = p["x"]
    elif which == "state0":
        state0 = p["state0"]
    else:
        params = p["params"]
    h, cache, state = module.layer_forward(x, state0, params)
    dx, dstate0, grads = module.layer_backward(p["G"].astype(np.float32), cache)
    arrays = _computed_arrays(h, cache, state, dx, dstate0, grads)
    if which != "params":  # gradients of float32 parameters may stay float32
        arrays = {k: v for k, v in arrays.items() if not k.startswith("grad")}
    for name, a in arrays.items():
        assert a.dtype == np.float64, name


# ---------------------------------------------------------------- the whole model

def _random_model(cell, K, H, layers, seed, scale=0.5):
    rng = np.random.default_rng(seed)
    params = rnn.init_params(K, H, cell=cell, layers=layers, seed=0)
    for k in params:  # moderate random weights, so that no gradient is tiny
        params[k] = rng.standard_normal(params[k].shape) * scale
    return params, rng


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_model_gradients_match_finite_differences(cell, layers, reduction):
    K, H, T, B = 4, 3, 3, 2
    params, rng = _random_model(cell, K, H, layers, seed=layers)
    inputs, targets = rng.integers(0, K, (T, B)), rng.integers(0, K, (T, B))
    state0 = rng.standard_normal((layers, CELLS[cell].N_STATES, B, H)) * 0.5

    def f():
        return rnn.loss_and_grads(params, inputs, targets, state0, reduction=reduction)[0]

    loss, grads, state = rnn.loss_and_grads(params, inputs, targets, state0, reduction=reduction)
    assert list(grads) == list(params)
    assert state.shape == state0.shape
    for name, value in params.items():
        assert relative_error(grads[name], numerical_gradient(f, value)) < FD_TOL, name


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_model_matches_torch_stack(cell, layers, reduction):
    torch = pytest.importorskip("torch")
    from torch_models import arr, key, params_from_torch, run_torch, torch_module

    K, H, T, B = 5, 4, 6, 3
    seed = 10 * layers + CELL_NAMES.index(cell)
    mod = torch_module(torch, cell, K, H, layers, seed)
    lin = torch.nn.Linear(H, K, dtype=torch.float64)
    rng = np.random.default_rng(seed)
    inputs, targets = rng.integers(0, K, (T, B)), rng.integers(0, K, (T, B))
    state0 = rng.standard_normal((layers, CELLS[cell].N_STATES, B, H))

    x = torch.nn.functional.one_hot(torch.tensor(inputs), K).double()  # (T, B, K)
    out, torch_state = run_torch(torch, mod, cell, x, state0)
    logits = lin(out)
    loss_t = torch.nn.functional.cross_entropy(logits.reshape(T * B, K),
                                               torch.tensor(targets).reshape(-1), reduction=reduction)
    loss_t.backward()

    params = {"V": arr(lin.weight), "c": arr(lin.bias)}
    expected = {"V": arr(lin.weight.grad), "c": arr(lin.bias.grad)}
    for layer in range(layers):
        params.update({key(n, layer): v for n, v in params_from_torch(mod, cell, layer).items()})
        g, _, _ = params_from_torch(mod, cell, layer, grad=True)
        expected.update({key(n, layer): v for n, v in g.items()})

    loss, grads, state = rnn.loss_and_grads(params, inputs, targets, state0, reduction=reduction)
    assert abs(loss - loss_t.item()) / abs(loss_t.item()) < TORCH_TOL
    assert relative_error(state, torch_state) < TORCH_TOL
    assert set(grads) == set(expected)
    for name, g in grads.items():
        assert relative_error(g, expected[name]) < TORCH_TOL, name


# ---------------------------------------------------------------- training and checkpoints

TEXT = "hello world, hello there. " * 40


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_train_step_with_the_package_adam_lowers_the_loss(cell):
    vocab = rnn.Vocab.from_text(TEXT)
    ids, K = vocab.encode(TEXT), vocab.size
    params = rnn.init_params(K, 24, cell=cell, init="scaled", seed=0)
    optimizer = rnn.Adam(lr=0.02)
    rng = np.random.default_rng(0)
    losses = [train_step(params, optimizer, *rnn.random_windows(ids, 16, 8, rng))[0]
              for _ in range(80)]
    inputs, targets = rnn.random_windows(ids, 16, 8, rng)
    final = rnn.loss_and_grads(params, inputs, targets, reduction="mean")[0]
    assert losses[0] > 0.9 * math.log(K)  # starts near chance
    assert final < 0.5 * math.log(K), (losses[0], final)
    assert optimizer.t == 80


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_checkpoint_round_trip(cell, tmp_path):
    vocab = rnn.Vocab.from_text(TEXT)
    params = rnn.init_params(vocab.size, 5, cell=cell, layers=2, init="scaled", seed=1,
                             dtype=np.float32)
    save_checkpoint(tmp_path / "c.npz", params=params, vocab=vocab, config={"cell": cell},
                    step=7, optim_state={}, rng_state={})
    ck = load_checkpoint(tmp_path / "c.npz")
    assert list(ck.params) == list(params) and ck.step == 7 and ck.vocab == vocab
    for k, v in params.items():
        assert ck.params[k].dtype == v.dtype and np.array_equal(ck.params[k], v), k
    ids = vocab.encode(TEXT[:20]).reshape(-1, 1)
    assert np.array_equal(rnn.forward(ck.params, ids)[0], rnn.forward(params, ids)[0])


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_resumed_run_is_bit_identical(cell, tmp_path):
    def cfg(steps, out):
        return TrainConfig(cell=cell, layers=2, hidden=6, seq_len=8, batch=3, steps=steps,
                           eval_every=0, sample_every=0, checkpoint_every=0, dtype="float64",
                           out=str(tmp_path / out))

    quiet = dict(text=TEXT, progress=False, log=lambda *a: None)
    straight = train(cfg(6, "a"), **quiet)
    first = train(cfg(4, "b"), **quiet)
    resumed = train(cfg(2, "b"), resume=first.checkpoint, **quiet)
    assert resumed.step == straight.step == 6
    for k in straight.params:
        assert np.array_equal(straight.params[k], resumed.params[k]), k
