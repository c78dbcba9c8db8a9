"""Tests of what is particular to the LSTM cell: the gate-by-gate step
against the fused forward pass, hand-worked values, the behaviour of
saturated gates, the fused layout, the model wiring, and the error messages
for bad input. What every cell shares (finite differences, torch, dtypes,
training, checkpoints) is in test_cells.py; one layer against torch.nn.LSTM
in test_gated_torch.py."""

import math
import warnings

import numpy as np
import pytest

import rnn
from rnn.gradcheck import relative_error
from rnn.gru import GRUCache, gru_forward
from rnn import lstm
from rnn.lstm import (LSTM_GATES, LSTM_PARAM_NAMES, LSTMCache, lstm_backward, lstm_forward,
                      lstm_step, pack_lstm, sigmoid, unpack_lstm)

from problems import random_layer, random_problem  # noqa: E402

SEEDS = [0, 1, 2]
# (T, B, D, H): includes a single step and a single sequence.
SHAPES = [(1, 1, 3, 2), (4, 1, 2, 3), (3, 2, 3, 4), (5, 3, 2, 2)]



def test_model_state_is_h_and_s_of_each_layer():
    K, H, T, B = 5, 4, 6, 3
    rng = np.random.default_rng(3)
    params = rnn.init_params(K, H, cell="lstm", layers=2, init="scaled", seed=1)
    inputs = rng.integers(0, K, (T, B))
    state0 = rng.standard_normal((2, 2, B, H))
    _, state = rnn.forward(params, inputs, state0)
    x = np.eye(K)[inputs]
    for layer in range(2):
        lp = {n: params[rnn.model.param_key(n, layer)] for n in LSTM_PARAM_NAMES}
        x, cache = lstm_forward(x, state0[layer, 0], state0[layer, 1], lp)
        np.testing.assert_allclose(state[layer, 0], x[-1], rtol=0, atol=1e-15)  # h
        np.testing.assert_allclose(state[layer, 1], cache.s[-1], rtol=0, atol=1e-15)  # s


# ----------------------------------------------------- forward pass values

def test_lstm_forward_hand_worked_single_unit():
    # B = D = H = 1: every gate is a scalar, computed with math.exp / math.tanh.
    w = {"U_i": 0.5, "W_i": -0.3, "b_i": 0.1, "U_f": -0.7, "W_f": 0.4, "b_f": 1.0,
         "U_o": 0.9, "W_o": 0.2, "b_o": -0.2, "U_g": 1.5, "W_g": -0.8, "b_g": 0.05}
    xs, h, s = [1.0, -0.5, 2.0], 0.3, -0.6
    expected_h, expected_s = [], []
    for x in xs:
        i = 1 / (1 + math.exp(-(w["U_i"] * x + w["W_i"] * h + w["b_i"])))
        f = 1 / (1 + math.exp(-(w["U_f"] * x + w["W_f"] * h + w["b_f"])))
        o = 1 / (1 + math.exp(-(w["U_o"] * x + w["W_o"] * h + w["b_o"])))
        g = math.tanh(w["U_g"] * x + w["W_g"] * h + w["b_g"])
        s = f * s + i * g
        h = o * math.tanh(s)
        expected_h.append(h)
        expected_s.append(s)
    params = {k: np.array([[v]]) if k[0] in "UW" else np.array([v]) for k, v in w.items()}
    out, cache = lstm_forward(np.array(xs).reshape(3, 1, 1), np.array([[0.3]]), np.array([[-0.6]]),
                              params)
    np.testing.assert_allclose(out.ravel(), expected_h, rtol=0, atol=1e-15)
    np.testing.assert_allclose(cache.s.ravel(), expected_s, rtol=0, atol=1e-15)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_gate_by_gate_step_agrees_with_fused_forward(seed, shape):
    p = random_problem("lstm", seed, *shape, scale=1.0)
    h, cache = lstm_forward(p["x"], p["h0"], p["s0"], p["params"])
    assert isinstance(cache, LSTMCache) and cache.h is h
    h_t, s_t = p["h0"], p["s0"]
    for t in range(shape[0]):
        h_t, s_t = lstm_step(p["x"][t], h_t, s_t, p["params"])
        np.testing.assert_allclose(h_t, h[t], rtol=0, atol=1e-14)
        np.testing.assert_allclose(s_t, cache.s[t], rtol=0, atol=1e-14)


def test_saturated_gates_keep_or_overwrite_the_cell_state():
    rng = np.random.default_rng(4)
    T, B, D, H = 6, 2, 3, 4
    p = random_layer(lstm, D, H, rng)
    x, h0, s0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    # forget gate open (f = 1), input gate shut (i ~ 1e-20): s carries s0 unchanged;
    # the output gate is held open too (o = 1), so h(t) = tanh(s0) at every step
    keep = dict(p, b_f=np.full(H, 50.0), b_i=np.full(H, -50.0), b_o=np.full(H, 50.0))
    _, cache = lstm_forward(x, h0, s0, keep)
    np.testing.assert_allclose(cache.s, np.broadcast_to(s0, (T, B, H)), rtol=0, atol=1e-15)
    np.testing.assert_allclose(cache.h, np.broadcast_to(np.tanh(s0), (T, B, H)), rtol=0, atol=1e-15)
    # every gate is saturated, so no gradient flows through the gates, and the
    # gradient of every h(t) reaches s0 undiminished: ds0 = sum_t G(t) (1 - tanh(s0)^2)
    G = rng.standard_normal((T, B, H))
    _, dh0, ds0, _ = lstm_backward(G, cache)
    np.testing.assert_allclose(ds0, G.sum(axis=0) * (1 - np.tanh(s0) ** 2), rtol=1e-12, atol=0)
    assert np.abs(dh0).max() < 1e-15
    # forget gate shut, input gate open: s(t) is the candidate alone
    overwrite = dict(p, b_f=np.full(H, -50.0), b_i=np.full(H, 50.0))
    _, cache = lstm_forward(x, h0, s0, overwrite)
    np.testing.assert_allclose(cache.s, cache.gates[..., 2 * H:3 * H], rtol=0, atol=1e-15)
    assert np.all(np.abs(cache.s) < 1)


def test_lstm_hidden_state_is_bounded_by_one_and_gates_lie_in_their_ranges():
    p = random_problem("lstm", 5, 8, 3, 2, 4, scale=3.0)
    h, cache = lstm_forward(p["x"], p["h0"], p["s0"], p["params"])
    assert np.all(np.abs(h) < 1)
    i, f, g, o = np.split(cache.gates, 4, axis=-1)
    assert all(np.all((a >= 0) & (a <= 1)) for a in (i, f, o)) and np.all(np.abs(g) <= 1)
    # |s(t)| <= |s(t-1)| + 1, and h = o * tanh(s) with the stored values
    s_prev = np.concatenate([p["s0"][None], cache.s[:-1]])
    assert np.all(np.abs(cache.s) <= np.abs(s_prev) + 1)
    np.testing.assert_allclose(h, o * np.tanh(cache.s), rtol=0, atol=1e-15)
    assert np.mean(np.abs(g) > 0.99) > 0.2  # large weights saturate the candidate


def test_float32_in_float32_out():
    p = random_problem("lstm", 1, 3, 2, 4, 3)
    p32 = {k: v.astype(np.float32) for k, v in p.items() if k != "params"}
    params32 = {k: v.astype(np.float32) for k, v in p["params"].items()}
    h_t, s_t = lstm_step(p32["x"][0], p32["h0"], p32["s0"], params32)
    assert h_t.dtype == s_t.dtype == np.float32
    h, cache = lstm_forward(p32["x"], p32["h0"], p32["s0"], params32)
    assert h.dtype == np.float32
    dx, dh0, ds0, grads = lstm_backward(p32["G"], cache)
    for g in (dx, dh0, ds0, *grads.values()):
        assert g.dtype == np.float32
    h64, cache64 = lstm_forward(p["x"], p["h0"], p["s0"], p["params"])
    np.testing.assert_allclose(h, h64, rtol=0, atol=1e-5)
    dx64, _, _, grads64 = lstm_backward(p["G"], cache64)
    assert relative_error(dx, dx64) < 1e-5
    for k in grads:
        assert relative_error(grads[k], grads64[k]) < 1e-5, k


# ----------------------------------------------------------------- packing

def test_pack_lstm_stacks_gates_in_torch_order():
    rng = np.random.default_rng(0)
    D, H = 3, 4
    params = random_layer(lstm, D, H, rng)
    U_all, W_all, b_all = pack_lstm(params)
    assert U_all.shape == (4 * H, D) and W_all.shape == (4 * H, H) and b_all.shape == (4 * H,)
    assert LSTM_GATES == ("i", "f", "g", "o")
    for k, gate in enumerate("ifgo"):
        np.testing.assert_array_equal(U_all[k * H:(k + 1) * H], params[f"U_{gate}"])
        np.testing.assert_array_equal(W_all[k * H:(k + 1) * H], params[f"W_{gate}"])
        np.testing.assert_array_equal(b_all[k * H:(k + 1) * H], params[f"b_{gate}"])
    # one product gives every gate's pre-activation
    x_t = rng.standard_normal((5, D))
    fused = x_t @ U_all.T
    for k, gate in enumerate("ifgo"):
        np.testing.assert_allclose(fused[:, k * H:(k + 1) * H], x_t @ params[f"U_{gate}"].T,
                                   rtol=0, atol=1e-14)
    assert not np.shares_memory(U_all, params["U_i"])  # pack copies


def test_unpack_lstm_inverts_pack_with_views():
    rng = np.random.default_rng(1)
    params = random_layer(lstm, 2, 3, rng)
    U_all, W_all, b_all = pack_lstm(params)
    back = unpack_lstm(U_all, W_all, b_all)
    assert tuple(back) == LSTM_PARAM_NAMES
    for k in LSTM_PARAM_NAMES:
        np.testing.assert_array_equal(back[k], params[k])
        assert back[k].flags.c_contiguous
    back["b_f"][:] = 7.0  # a view: writes through to the fused array
    np.testing.assert_array_equal(b_all[3:6], 7.0)
    assert np.shares_memory(back["U_o"], U_all) and np.shares_memory(back["W_g"], W_all)


# ----------------------------------------------------------------- sigmoid

def test_sigmoid_values_and_extremes():
    a = np.linspace(-30, 30, 61)
    expected = np.array([1 / (1 + math.exp(-v)) for v in a])
    np.testing.assert_allclose(sigmoid(a), expected, rtol=1e-15, atol=0)
    np.testing.assert_allclose(sigmoid(-a), 1 - sigmoid(a), rtol=0, atol=3e-16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning
        out = sigmoid(np.array([-1000.0, -745.0, 0.0, 1000.0]))
    assert out[0] == 0.0 and 0 <= out[1] < 1e-300 and out[2] == 0.5 and out[3] == 1.0
    assert sigmoid(np.zeros(3, np.float32)).dtype == np.float32


# ------------------------------------------------------------ model wiring

def test_init_params_lstm():
    K, H = 6, 5
    for init, bound in (("small", 0.1), ("scaled", 1 / math.sqrt(H))):
        params = rnn.init_params(K, H, cell="lstm", layers=2, init=init, seed=0)
        assert rnn.model_info(params) == ("lstm", 2, K, H)
        for layer, D in ((0, K), (1, H)):
            sfx = "" if layer == 0 else ".1"
            for gate in "ifog":
                assert params[f"U_{gate}{sfx}"].shape == (H, D)
                assert params[f"W_{gate}{sfx}"].shape == (H, H)
                assert np.abs(params[f"W_{gate}{sfx}"]).max() <= bound
                expected_bias = 1.0 if gate == "f" else 0.0
                np.testing.assert_array_equal(params[f"b_{gate}{sfx}"], expected_bias)
        assert rnn.init_state(params, 3).shape == (2, 2, 3, H)
    small = rnn.init_params(K, 50, cell="lstm", init="small", seed=0)
    assert 0.008 < small["W_o"].std() < 0.012


def test_model_rejects_single_vector_state_for_lstm():
    params = rnn.init_params(4, 3, cell="lstm", seed=0)
    ids = np.zeros((2, 2), dtype=np.int64)
    with pytest.raises(ValueError, match=r"state0 must have shape \(layers, S, B, H\) = \(1, 2, 2, 3\), got \(1, 1, 2, 3\)"):
        rnn.loss_and_grads(params, ids, ids, np.zeros((1, 1, 2, 3)))


# ---------------------------------------------------------------- bad input

B, D, H = 3, 4, 5


@pytest.fixture
def ok():
    rng = np.random.default_rng(0)
    return {
        "x_t": rng.standard_normal((B, D)),
        "x": rng.standard_normal((2, B, D)),
        "h0": np.zeros((B, H)),
        "s0": np.zeros((B, H)),
        "params": random_layer(lstm, D, H, rng),
    }


def test_params_not_a_dict(ok):
    with pytest.raises(ValueError, match=r"lstm_step: params must be a dict with keys \['U_i', 'W_i'.*got list"):
        lstm_step(ok["x_t"], ok["h0"], ok["s0"], list(ok["params"].values()))


def test_missing_key_is_named_and_expected_keys_listed(ok):
    params = dict(ok["params"])
    del params["W_f"]
    with pytest.raises(ValueError, match=r"lstm_forward: params is missing \['W_f'\]; an LSTM needs the keys "
                                         r"\['U_i', 'W_i', 'b_i', 'U_f', 'W_f', 'b_f', 'U_o', 'W_o', 'b_o', "
                                         r"'U_g', 'W_g', 'b_g'\]"):
        lstm_forward(ok["x"], ok["h0"], ok["s0"], params)


def test_unexpected_key(ok):
    params = dict(ok["params"], U_c=np.zeros((H, D)))
    with pytest.raises(ValueError, match=r"lstm_step: params has unexpected keys \['U_c'\]"):
        lstm_step(ok["x_t"], ok["h0"], ok["s0"], params)


@pytest.mark.parametrize("key, shape, labels", [
    ("U_f", (H, D + 1), r"\(H, D\) = \(5, 4\)"),
    ("W_o", (H, H - 1), r"\(H, H\) = \(5, 5\)"),
    ("b_g", (1, H), r"\(H,\) = \(5,\)"),
])
def test_wrong_param_shape(ok, key, shape, labels):
    params = dict(ok["params"], **{key: np.zeros(shape)})
    with pytest.raises(ValueError, match=rf"lstm_forward: params\['{key}'\] must have shape {labels}, got "
                                         + re_shape(shape)):
        lstm_forward(ok["x"], ok["h0"], ok["s0"], params)


def re_shape(shape):
    return r"\(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + r"\)"


def test_U_i_not_a_matrix(ok):
    params = dict(ok["params"], U_i=np.zeros(H))
    with pytest.raises(ValueError, match=r"lstm_step: params\['U_i'\] must have shape \(H, D\), got \(5,\)"):
        lstm_step(ok["x_t"], ok["h0"], ok["s0"], params)


def test_integer_param(ok):
    params = dict(ok["params"], b_o=np.zeros(H, dtype=np.int64))
    with pytest.raises(ValueError, match=r"lstm_step: params\['b_o'\] must be a floating-point array.*int64"):
        lstm_step(ok["x_t"], ok["h0"], ok["s0"], params)


def test_lstm_step_wrong_state_shapes(ok):
    with pytest.raises(ValueError, match=r"lstm_step: x_t must have shape \(B, D\) = \(\?, 4\), got \(3, 5\)"):
        lstm_step(np.zeros((B, D + 1)), ok["h0"], ok["s0"], ok["params"])
    with pytest.raises(ValueError, match=r"lstm_step: h_prev must have shape \(B, H\) = \(3, 5\), got \(2, 5\)"):
        lstm_step(ok["x_t"], np.zeros((2, H)), ok["s0"], ok["params"])
    with pytest.raises(ValueError, match=r"lstm_step: s_prev must have shape \(B, H\) = \(3, 5\), got \(3, 4\)"):
        lstm_step(ok["x_t"], ok["h0"], np.zeros((B, H - 1)), ok["params"])


def test_lstm_forward_wrong_shapes(ok):
    with pytest.raises(ValueError, match=r"lstm_forward: x must have shape \(T, B, D\) = \(\?, \?, 4\), got \(3, 4\)"):
        lstm_forward(ok["x_t"], ok["h0"], ok["s0"], ok["params"])
    with pytest.raises(ValueError, match=r"lstm_forward: x has T = 0 time steps"):
        lstm_forward(np.zeros((0, B, D)), ok["h0"], ok["s0"], ok["params"])
    with pytest.raises(ValueError, match=r"lstm_forward: h0 must have shape \(B, H\) = \(3, 5\), got \(1, 5\)"):
        lstm_forward(ok["x"], np.zeros((1, H)), ok["s0"], ok["params"])
    with pytest.raises(ValueError, match=r"lstm_forward: s0 must have shape \(B, H\) = \(3, 5\), got \(5,\)"):
        lstm_forward(ok["x"], ok["h0"], np.zeros(H), ok["params"])
    with pytest.raises(ValueError, match=r"lstm_forward: x must be a floating-point array"):
        lstm_forward(ok["x"].astype(np.int32), ok["h0"], ok["s0"], ok["params"])


def test_lstm_backward_bad_input(ok):
    h, cache = lstm_forward(ok["x"], ok["h0"], ok["s0"], ok["params"])
    with pytest.raises(ValueError, match=r"lstm_backward: dh must have shape \(T, B, H\) = \(2, 3, 5\), got \(2, 3, 4\)"):
        lstm_backward(np.zeros((2, B, H - 1)), cache)
    with pytest.raises(ValueError, match=r"lstm_backward: cache must be the LSTMCache returned by lstm_forward, got tuple"):
        lstm_backward(np.zeros_like(h), tuple(cache))
    gru_params = {k: np.zeros((H, D) if k[0] == "U" else (H, H) if k[0] == "W" else H)
                  for k in rnn.gru.GRU_PARAM_NAMES}
    _, gcache = gru_forward(ok["x"], ok["h0"], gru_params)
    assert isinstance(gcache, GRUCache)
    with pytest.raises(ValueError, match=r"cache must be the LSTMCache.*got GRUCache"):
        lstm_backward(np.zeros_like(h), gcache)


def test_unpack_lstm_bad_shapes():
    with pytest.raises(ValueError, match=r"unpack_lstm: U_all must have shape \(4H, D\), got \(6, 3\)"):
        unpack_lstm(np.zeros((6, 3)), np.zeros((6, 2)), np.zeros(6))
    with pytest.raises(ValueError, match=r"unpack_lstm: W_all must have shape \(4H, H\) = \(8, 2\), got \(8, 3\)"):
        unpack_lstm(np.zeros((8, 3)), np.zeros((8, 3)), np.zeros(8))
    with pytest.raises(ValueError, match=r"unpack_lstm: b_all must have shape \(4H,\) = \(8,\), got \(2,\)"):
        unpack_lstm(np.zeros((8, 3)), np.zeros((8, 2)), np.zeros(2))


def test_pack_lstm_reports_missing_key():
    params = random_layer(lstm, 2, 3, np.random.default_rng(0))
    del params["b_o"]
    with pytest.raises(ValueError, match=r"pack_lstm: params is missing \['b_o'\]"):
        pack_lstm(params)
