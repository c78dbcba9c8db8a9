"""Tests of what is particular to the GRU cell: the gate-by-gate step
against the fused forward pass, hand-worked values, where bh_n sits, the
behaviour of saturated gates, the fused layout, the model wiring, and the
error messages for bad input. What every cell shares (finite differences,
torch, dtypes, training, checkpoints) is in test_cells.py; one layer against
torch.nn.GRU in test_gated_torch.py."""

import math

import numpy as np
import pytest

import rnn
from rnn.gradcheck import relative_error
from rnn import gru
from rnn.gru import (GRU_GATES, GRU_PARAM_NAMES, GRUCache, gru_backward, gru_forward, gru_step,
                     pack_gru, unpack_gru)
from rnn.lstm import LSTM_PARAM_NAMES, lstm_forward

from problems import random_layer, random_problem  # noqa: E402

SEEDS = [0, 1, 2]
# (T, B, D, H): includes a single step and a single sequence.
SHAPES = [(1, 1, 3, 2), (4, 1, 2, 3), (3, 2, 3, 4), (5, 3, 2, 2)]



# ----------------------------------------------------- forward pass values

def test_gru_forward_hand_worked_single_unit():
    # B = D = H = 1, every gate a scalar, computed with math.exp / math.tanh.
    w = {"U_r": 0.6, "W_r": -0.4, "b_r": 0.2, "U_z": -0.5, "W_z": 0.7, "b_z": 0.1,
         "U_n": 1.2, "W_n": -0.9, "b_n": 0.3, "bh_n": -0.25}
    xs, h = [1.0, -0.5, 2.0, 0.25], 0.4
    expected = []
    for x in xs:
        r = 1 / (1 + math.exp(-(w["U_r"] * x + w["W_r"] * h + w["b_r"])))
        z = 1 / (1 + math.exp(-(w["U_z"] * x + w["W_z"] * h + w["b_z"])))
        n = math.tanh(w["U_n"] * x + w["b_n"] + r * (w["W_n"] * h + w["bh_n"]))
        h = (1 - z) * n + z * h
        expected.append(h)
    params = {k: np.array([[v]]) if k[0] in "UW" else np.array([v]) for k, v in w.items()}
    out, _ = gru_forward(np.array(xs).reshape(4, 1, 1), np.array([[0.4]]), params)
    np.testing.assert_allclose(out.ravel(), expected, rtol=0, atol=1e-15)


def test_bh_n_sits_inside_the_reset_product():
    # With the reset gate shut (r = 0) the candidate ignores W_n and bh_n entirely,
    # while b_n still counts: the two candidate biases are not interchangeable.
    rng = np.random.default_rng(7)
    D, H, B = 3, 4, 2
    p = random_layer(gru, D, H, rng)
    x_t, h_prev = rng.standard_normal((B, D)), rng.standard_normal((B, H))
    shut = dict(p, b_r=np.full(H, -50.0))
    h1 = gru_step(x_t, h_prev, shut)
    h2 = gru_step(x_t, h_prev, dict(shut, bh_n=shut["bh_n"] + 3.0, W_n=np.zeros((H, H))))
    np.testing.assert_allclose(h1, h2, rtol=0, atol=1e-15)
    h3 = gru_step(x_t, h_prev, dict(shut, b_n=shut["b_n"] + 3.0))
    assert np.abs(h3 - h1).min() > 1e-3


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_gate_by_gate_step_agrees_with_fused_forward(seed, shape):
    p = random_problem("gru", seed, *shape, scale=1.0)
    h, cache = gru_forward(p["x"], p["h0"], p["params"])
    assert isinstance(cache, GRUCache) and cache.h is h
    h_t = p["h0"]
    for t in range(shape[0]):
        h_t = gru_step(p["x"][t], h_t, p["params"])
        np.testing.assert_allclose(h_t, h[t], rtol=0, atol=1e-14)


def test_saturated_update_gate_copies_or_replaces_the_state():
    rng = np.random.default_rng(4)
    T, B, D, H = 5, 2, 3, 4
    p = random_layer(gru, D, H, rng)
    x, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    # z = 1: h(t) = h(t-1), the state is copied through time, and so is its gradient
    keep = dict(p, b_z=np.full(H, 50.0))
    h, cache = gru_forward(x, h0, keep)
    np.testing.assert_allclose(h, np.broadcast_to(h0, (T, B, H)), rtol=0, atol=1e-15)
    G = rng.standard_normal((T, B, H))
    dx, dh0, grads = gru_backward(G, cache)
    np.testing.assert_allclose(dh0, G.sum(axis=0), rtol=1e-12, atol=0)
    assert np.abs(dx).max() < 1e-15 and np.abs(grads["U_n"]).max() < 1e-15
    # z = 0: h(t) = n(t), the candidate alone
    h, cache = gru_forward(x, h0, dict(p, b_z=np.full(H, -50.0)))
    np.testing.assert_allclose(h, cache.gates[..., 2 * H:], rtol=0, atol=1e-15)


def test_float32_in_float32_out():
    p = random_problem("gru", 1, 3, 2, 4, 3)
    p32 = {k: v.astype(np.float32) for k, v in p.items() if k != "params"}
    params32 = {k: v.astype(np.float32) for k, v in p["params"].items()}
    assert gru_step(p32["x"][0], p32["h0"], params32).dtype == np.float32
    h, cache = gru_forward(p32["x"], p32["h0"], params32)
    assert h.dtype == np.float32
    dx, dh0, grads = gru_backward(p32["G"], cache)
    for g in (dx, dh0, *grads.values()):
        assert g.dtype == np.float32
    h64, cache64 = gru_forward(p["x"], p["h0"], p["params"])
    np.testing.assert_allclose(h, h64, rtol=0, atol=1e-5)
    dx64, _, grads64 = gru_backward(p["G"], cache64)
    assert relative_error(dx, dx64) < 1e-5
    for k in grads:
        assert relative_error(grads[k], grads64[k]) < 1e-5, k


# ----------------------------------------------------------------- packing

def test_pack_gru_stacks_gates_in_torch_order():
    rng = np.random.default_rng(0)
    D, H = 3, 4
    params = random_layer(gru, D, H, rng)
    U_all, W_all, b_all, bh_n = pack_gru(params)
    assert U_all.shape == (3 * H, D) and W_all.shape == (3 * H, H) and b_all.shape == (3 * H,)
    assert GRU_GATES == ("r", "z", "n")
    for k, gate in enumerate("rzn"):
        np.testing.assert_array_equal(U_all[k * H:(k + 1) * H], params[f"U_{gate}"])
        np.testing.assert_array_equal(W_all[k * H:(k + 1) * H], params[f"W_{gate}"])
        np.testing.assert_array_equal(b_all[k * H:(k + 1) * H], params[f"b_{gate}"])
    np.testing.assert_array_equal(bh_n, params["bh_n"])
    h_prev = rng.standard_normal((5, H))
    fused = h_prev @ W_all.T  # one product: recurrent terms of all three gates
    for k, gate in enumerate("rzn"):
        np.testing.assert_allclose(fused[:, k * H:(k + 1) * H], h_prev @ params[f"W_{gate}"].T,
                                   rtol=0, atol=1e-14)
    assert not np.shares_memory(bh_n, params["bh_n"])  # pack copies


def test_unpack_gru_inverts_pack_with_views():
    params = random_layer(gru, 2, 3, np.random.default_rng(1))
    U_all, W_all, b_all, bh_n = pack_gru(params)
    back = unpack_gru(U_all, W_all, b_all, bh_n)
    assert tuple(back) == GRU_PARAM_NAMES
    for k in GRU_PARAM_NAMES:
        np.testing.assert_array_equal(back[k], params[k])
    back["b_z"][:] = 7.0
    np.testing.assert_array_equal(b_all[3:6], 7.0)
    assert np.shares_memory(back["W_n"], W_all) and back["bh_n"] is bh_n


# ------------------------------------------------------------ model wiring

def test_init_params_gru():
    K, H = 6, 5
    for init, bound in (("small", 0.1), ("scaled", 1 / math.sqrt(H))):
        params = rnn.init_params(K, H, cell="gru", layers=2, init=init, seed=0)
        assert rnn.model_info(params) == ("gru", 2, K, H)
        assert set(params) == {rnn.model.param_key(n, l) for n in GRU_PARAM_NAMES for l in (0, 1)} | {"V", "c"}
        for layer, D in ((0, K), (1, H)):
            sfx = "" if layer == 0 else ".1"
            for gate in "rzn":
                assert params[f"U_{gate}{sfx}"].shape == (H, D)
                assert np.abs(params[f"W_{gate}{sfx}"]).max() <= bound
                np.testing.assert_array_equal(params[f"b_{gate}{sfx}"], 0.0)
            np.testing.assert_array_equal(params[f"bh_n{sfx}"], 0.0)
        assert rnn.init_state(params, 3).shape == (2, 1, 3, H)


def test_model_state_is_last_h_of_each_layer():
    K, H, T, B = 5, 4, 6, 3
    rng = np.random.default_rng(3)
    params = rnn.init_params(K, H, cell="gru", layers=2, init="scaled", seed=1)
    inputs = rng.integers(0, K, (T, B))
    state0 = rng.standard_normal((2, 1, B, H))
    _, state = rnn.forward(params, inputs, state0)
    x = np.eye(K)[inputs]
    for layer in range(2):
        lp = {n: params[rnn.model.param_key(n, layer)] for n in GRU_PARAM_NAMES}
        x, _ = gru_forward(x, state0[layer, 0], lp)
        np.testing.assert_allclose(state[layer, 0], x[-1], rtol=0, atol=1e-15)


# ---------------------------------------------------------------- bad input

B, D, H = 3, 4, 5


@pytest.fixture
def ok():
    rng = np.random.default_rng(0)
    return {
        "x_t": rng.standard_normal((B, D)),
        "x": rng.standard_normal((2, B, D)),
        "h0": np.zeros((B, H)),
        "params": random_layer(gru, D, H, rng),
    }


def test_params_not_a_dict(ok):
    with pytest.raises(ValueError, match=r"gru_step: params must be a dict with keys \['U_r', 'W_r'.*got tuple"):
        gru_step(ok["x_t"], ok["h0"], tuple(ok["params"].values()))


def test_missing_key_is_named_and_expected_keys_listed(ok):
    params = dict(ok["params"])
    del params["bh_n"], params["U_z"]
    with pytest.raises(ValueError, match=r"gru_forward: params is missing \['U_z', 'bh_n'\]; a GRU needs the keys "
                                         r"\['U_r', 'W_r', 'b_r', 'U_z', 'W_z', 'b_z', 'U_n', 'W_n', 'b_n', "
                                         r"'bh_n'\]"):
        gru_forward(ok["x"], ok["h0"], params)


def test_lstm_params_given_to_gru(ok):
    lstm_params = {k: np.zeros((H, D) if k[0] == "U" else (H, H) if k[0] == "W" else H)
                   for k in LSTM_PARAM_NAMES}
    with pytest.raises(ValueError, match=r"gru_step: params is missing \['U_r'"):
        gru_step(ok["x_t"], ok["h0"], lstm_params)


def test_unexpected_key(ok):
    params = dict(ok["params"], b_hn=np.zeros(H))
    with pytest.raises(ValueError, match=r"gru_forward: params has unexpected keys \['b_hn'\]"):
        gru_forward(ok["x"], ok["h0"], params)


@pytest.mark.parametrize("key, shape, message", [
    ("U_n", (H, D + 1), r"params\['U_n'\] must have shape \(H, D\) = \(5, 4\), got \(5, 5\)"),
    ("W_z", (H + 1, H), r"params\['W_z'\] must have shape \(H, H\) = \(5, 5\), got \(6, 5\)"),
    ("b_r", (H, 1), r"params\['b_r'\] must have shape \(H,\) = \(5,\), got \(5, 1\)"),
    ("bh_n", (H - 1,), r"params\['bh_n'\] must have shape \(H,\) = \(5,\), got \(4,\)"),
    ("U_r", (H,), r"params\['U_r'\] must have shape \(H, D\), got \(5,\)"),
])
def test_wrong_param_shape(ok, key, shape, message):
    params = dict(ok["params"], **{key: np.zeros(shape)})
    with pytest.raises(ValueError, match="gru_step: " + message):
        gru_step(ok["x_t"], ok["h0"], params)


def test_integer_param(ok):
    params = dict(ok["params"], W_r=np.zeros((H, H), dtype=np.int32))
    with pytest.raises(ValueError, match=r"gru_forward: params\['W_r'\] must be a floating-point array.*int32"):
        gru_forward(ok["x"], ok["h0"], params)


def test_wrong_input_shapes(ok):
    with pytest.raises(ValueError, match=r"gru_step: x_t must have shape \(B, D\) = \(\?, 4\), got \(4,\)"):
        gru_step(np.zeros(D), ok["h0"], ok["params"])
    with pytest.raises(ValueError, match=r"gru_step: h_prev must have shape \(B, H\) = \(3, 5\), got \(3, 4\)"):
        gru_step(ok["x_t"], np.zeros((B, H - 1)), ok["params"])
    with pytest.raises(ValueError, match=r"gru_forward: x must have shape \(T, B, D\) = \(\?, \?, 4\), got \(2, 3, 3\)"):
        gru_forward(np.zeros((2, B, D - 1)), ok["h0"], ok["params"])
    with pytest.raises(ValueError, match=r"gru_forward: x has T = 0 time steps"):
        gru_forward(np.zeros((0, B, D)), ok["h0"], ok["params"])
    with pytest.raises(ValueError, match=r"gru_forward: h0 must have shape \(B, H\) = \(3, 5\), got \(2, 5\)"):
        gru_forward(ok["x"], np.zeros((2, H)), ok["params"])


def test_gru_backward_bad_input(ok):
    h, cache = gru_forward(ok["x"], ok["h0"], ok["params"])
    with pytest.raises(ValueError, match=r"gru_backward: dh must have shape \(T, B, H\) = \(2, 3, 5\), got \(3, 5\)"):
        gru_backward(np.zeros((B, H)), cache)
    with pytest.raises(ValueError, match=r"gru_backward: dh must be a floating-point array"):
        gru_backward(np.zeros(h.shape, dtype=np.int64), cache)
    lstm_params = {k: np.zeros((H, D) if k[0] == "U" else (H, H) if k[0] == "W" else H)
                   for k in LSTM_PARAM_NAMES}
    _, lcache = lstm_forward(ok["x"], ok["h0"], ok["h0"], lstm_params)
    with pytest.raises(ValueError, match=r"gru_backward: cache must be the GRUCache returned by gru_forward, got LSTMCache"):
        gru_backward(np.zeros_like(h), lcache)


def test_unpack_gru_bad_shapes():
    with pytest.raises(ValueError, match=r"unpack_gru: U_all must have shape \(3H, D\), got \(4, 2\)"):
        unpack_gru(np.zeros((4, 2)), np.zeros((4, 2)), np.zeros(4), np.zeros(1))
    with pytest.raises(ValueError, match=r"unpack_gru: bh_n must have shape \(H,\) = \(2,\), got \(6,\)"):
        unpack_gru(np.zeros((6, 3)), np.zeros((6, 2)), np.zeros(6), np.zeros(6))


def test_model_rejects_lstm_state_for_gru():
    params = rnn.init_params(4, 3, cell="gru", seed=0)
    ids = np.zeros((2, 2), dtype=np.int64)
    with pytest.raises(ValueError, match=r"state0 must have shape \(layers, S, B, H\) = \(1, 1, 2, 3\), got \(1, 2, 2, 3\)"):
        rnn.loss_and_grads(params, ids, ids, np.zeros((1, 2, 2, 3)))
