"""Tests of the character-level model: a hand-worked forward pass, the
plain-Python reference, loss_and_grads against central finite differences
(1 and 2 layers), initialisation, helpers and bad input."""

import math

import numpy as np
import pytest

# tests/reference.py sits next to this file; make it importable whatever pytest's import
# mode (pytest-markdown-docs imports test files as the package "tests.*").

import reference
import rnn
from rnn.gradcheck import numerical_gradient, relative_error
from rnn.losses import output_forward, softmax, softmax_cross_entropy
from rnn.model import embed, forward, init_params, init_state, loss_and_grads, model_info, one_hot
from rnn.rnn_cell import rnn_forward

SEEDS = [0, 1, 2]
FD_TOL = 1e-7


def random_params(K, H, layers, seed, scale=0.5):
    """Model parameters with every entry (biases too) ~ N(0, scale^2)."""
    rng = np.random.default_rng(seed)
    params = init_params(K, H, layers=layers, seed=seed)
    return {k: rng.standard_normal(v.shape) * scale for k, v in params.items()}


def model_fd_errors(seed, K, H, layers, T, B, reduction, with_state=True):
    """Relative error of every loss_and_grads gradient against central differences."""
    rng = np.random.default_rng(100 + seed)
    params = random_params(K, H, layers, seed)
    inputs = rng.integers(0, K, (T, B))
    targets = rng.integers(0, K, (T, B))
    state0 = rng.standard_normal((layers, 1, B, H)) * 0.5 if with_state else None
    loss, grads, _ = loss_and_grads(params, inputs, targets, state0, reduction=reduction)
    assert set(grads) == set(params)

    def f():
        return loss_and_grads(params, inputs, targets, state0, reduction=reduction)[0]

    errors = {}
    for name, x in params.items():
        num = numerical_gradient(f, x)
        assert grads[name].shape == x.shape
        errors[name] = relative_error(grads[name], num)
    # no gradient is trivially small (the deepest-below layer of a 3-layer stack is the smallest)
    assert min(np.abs(g).max() for g in grads.values()) > 1e-3
    return errors


MODEL_CASES = [  # (K, H, layers, T, B)
    (4, 3, 1, 1, 1),
    (5, 3, 1, 4, 2),
    (3, 4, 2, 3, 1),
    (4, 3, 2, 1, 2),
    (4, 2, 3, 3, 2),
]


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("case", MODEL_CASES)
@pytest.mark.parametrize("seed", SEEDS)
def test_loss_and_grads_matches_finite_differences(seed, case, reduction):
    errors = model_fd_errors(seed, *case, reduction=reduction)
    for name, err in errors.items():
        assert err < FD_TOL, (name, err)


def test_loss_and_grads_default_state_is_zero():
    params = random_params(4, 3, 2, 0)
    rng = np.random.default_rng(1)
    inputs, targets = rng.integers(0, 4, (3, 2)), rng.integers(0, 4, (3, 2))
    loss0, g0, s0 = loss_and_grads(params, inputs, targets)
    loss1, g1, s1 = loss_and_grads(params, inputs, targets, np.zeros((2, 1, 2, 3)))
    assert loss0 == loss1
    np.testing.assert_array_equal(s0, s1)
    for k in params:
        np.testing.assert_array_equal(g0[k], g1[k])


# ---------------------------------------------------------------- forward values

def test_hand_worked_example():
    # H = 2, D = K = 2, T = 2, B = 1, h(0) = 0, one-hot inputs x(1) = e0, x(2) = e1,
    # targets y(1) = 1, y(2) = 0. Every number below is worked out with scalars.
    U = [[1.0, -1.0], [0.5, 2.0]]
    W = [[0.5, -0.25], [1.0, 0.5]]
    b = [0.1, -0.2]
    V = [[1.0, -1.0], [2.0, 0.5]]
    c = [0.0, 0.5]

    # a(1) = b + U e0 = (0.1 + 1, -0.2 + 0.5)
    h1 = [math.tanh(1.1), math.tanh(0.3)]
    # a(2) = b + W h(1) + U e1
    h2 = [math.tanh(0.1 + 0.5 * h1[0] - 0.25 * h1[1] - 1.0),
          math.tanh(-0.2 + 1.0 * h1[0] + 0.5 * h1[1] + 2.0)]
    # o(t) = c + V h(t)
    o1 = [h1[0] - h1[1], 0.5 + 2.0 * h1[0] + 0.5 * h1[1]]
    o2 = [h2[0] - h2[1], 0.5 + 2.0 * h2[0] + 0.5 * h2[1]]
    p1 = [math.exp(o1[0]) / (math.exp(o1[0]) + math.exp(o1[1])),
          math.exp(o1[1]) / (math.exp(o1[0]) + math.exp(o1[1]))]
    p2 = [math.exp(o2[0]) / (math.exp(o2[0]) + math.exp(o2[1])),
          math.exp(o2[1]) / (math.exp(o2[0]) + math.exp(o2[1]))]
    loss = -math.log(p1[1]) - math.log(p2[0])
    # sanity: the first hidden unit after step 1 is tanh(1.1) ~ 0.80050
    assert abs(h1[0] - 0.80050) < 1e-5

    # the generic plain-Python reference agrees with the hand computation
    ref_loss, ref_h, ref_o = reference.sequence_loss([[[1.0, 0.0]], [[0.0, 1.0]]], [[0.0, 0.0]],
                                                     U, W, b, V, c, [[1], [0]])
    assert ref_loss == pytest.approx(loss, rel=1e-14)
    np.testing.assert_allclose(np.array(ref_h)[:, 0], [h1, h2], rtol=1e-14)

    # the package, layer by layer
    A = {k: np.array(v) for k, v in dict(U=U, W=W, b=b, V=V, c=c).items()}
    x = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    h, _ = rnn_forward(x, np.zeros((1, 2)), A["U"], A["W"], A["b"])
    np.testing.assert_allclose(h[:, 0], [h1, h2], rtol=0, atol=1e-15)
    o = output_forward(h, A["V"], A["c"])
    np.testing.assert_allclose(o[:, 0], [o1, o2], rtol=0, atol=1e-15)
    np.testing.assert_allclose(softmax(o)[:, 0], [p1, p2], rtol=0, atol=1e-15)
    got, _ = softmax_cross_entropy(o, np.array([[1], [0]]))
    assert got == pytest.approx(loss, rel=1e-14)

    # and the whole model from token ids
    params = {k: A[k] for k in ("U", "W", "b", "V", "c")}
    inputs, targets = np.array([[0], [1]]), np.array([[1], [0]])
    o_model, state = forward(params, inputs)
    np.testing.assert_allclose(o_model[:, 0], [o1, o2], rtol=0, atol=1e-15)
    np.testing.assert_allclose(state[0, 0, 0], h2, rtol=0, atol=1e-15)
    model_loss, _, _ = loss_and_grads(params, inputs, targets)
    assert model_loss == pytest.approx(loss, rel=1e-14)
    mean_loss, _, _ = loss_and_grads(params, inputs, targets, reduction="mean")
    assert mean_loss == pytest.approx(loss / 2, rel=1e-14)


@pytest.mark.parametrize("seed", SEEDS)
def test_model_loss_matches_plain_python_reference(seed):
    K, H, T, B = 4, 3, 3, 2
    params = random_params(K, H, 1, seed)
    rng = np.random.default_rng(seed + 50)
    inputs, targets = rng.integers(0, K, (T, B)), rng.integers(0, K, (T, B))
    h0 = rng.standard_normal((B, H)) * 0.5
    P = {k: reference.to_list(v) for k, v in params.items()}
    x = [[[1.0 if k == inputs[t, n] else 0.0 for k in range(K)] for n in range(B)] for t in range(T)]
    ref_loss, ref_h, ref_o = reference.sequence_loss(x, reference.to_list(h0), P["U"], P["W"], P["b"],
                                                     P["V"], P["c"], targets.tolist())
    o, state = forward(params, inputs, h0[None, None])
    np.testing.assert_allclose(o, np.array(ref_o), rtol=0, atol=1e-13)
    np.testing.assert_allclose(state[0, 0], np.array(ref_h[-1]), rtol=0, atol=1e-14)
    loss, _, state2 = loss_and_grads(params, inputs, targets, h0[None, None])
    assert loss == pytest.approx(ref_loss, rel=1e-13)
    np.testing.assert_array_equal(state2, state)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("K, T, B", [(10, 8, 4), (65, 25, 2), (3, 1, 1)])
def test_untrained_loss_is_about_T_B_log_K(K, T, B, layers):
    params = init_params(K, 16, layers=layers, init="small", seed=0)
    rng = np.random.default_rng(0)
    inputs, targets = rng.integers(0, K, (T, B)), rng.integers(0, K, (T, B))
    loss, _, _ = loss_and_grads(params, inputs, targets)
    assert loss == pytest.approx(T * B * math.log(K), rel=0.02)
    mean, _, _ = loss_and_grads(params, inputs, targets, reduction="mean")
    assert mean == pytest.approx(math.log(K), rel=0.02)


def test_state_carries_over_between_windows():
    # Running T steps at once equals two windows with the state handed over.
    params = random_params(5, 4, 2, 3)
    inputs = np.random.default_rng(3).integers(0, 5, (6, 2))
    o, state = forward(params, inputs)
    o_a, state_a = forward(params, inputs[:4])
    o_b, state_b = forward(params, inputs[4:], state_a)
    np.testing.assert_allclose(np.concatenate([o_a, o_b]), o, rtol=0, atol=1e-14)
    np.testing.assert_allclose(state_b, state, rtol=0, atol=1e-15)


def test_forward_and_loss_and_grads_agree():
    params = random_params(4, 3, 2, 4)
    rng = np.random.default_rng(4)
    inputs, targets = rng.integers(0, 4, (3, 2)), rng.integers(0, 4, (3, 2))
    o, state = forward(params, inputs)
    loss, _, state2 = loss_and_grads(params, inputs, targets)
    np.testing.assert_array_equal(state, state2)
    # the loss from the logits by the definition -log softmax(o)[y]
    p = softmax(o)
    expected = -sum(math.log(p[t, n, targets[t, n]]) for t in range(3) for n in range(2))
    assert loss == pytest.approx(expected, rel=1e-13)


# ---------------------------------------------------------------- helpers and init

@pytest.mark.parametrize("seed", SEEDS)
def test_embed_equals_one_hot_product(seed):
    rng = np.random.default_rng(seed)
    K, H = 6, 3
    U = rng.standard_normal((H, K))
    ids = rng.integers(0, K, (4, 2))
    np.testing.assert_allclose(embed(ids, U), one_hot(ids, K) @ U.T, rtol=0, atol=1e-15)


def test_one_hot():
    ids = np.array([[0, 2], [1, 1]])
    x = one_hot(ids, 3)
    assert x.shape == (2, 2, 3) and x.dtype == np.float64
    np.testing.assert_array_equal(x.sum(-1), 1.0)
    for t in range(2):
        for n in range(2):
            assert x[t, n, ids[t, n]] == 1.0
    assert one_hot(ids, 3, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match=r"one_hot: ids holds ids in \[0, 2\] but must lie in \[0, 1\]"):
        one_hot(ids, 2)


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_init_params_keys_shapes_and_info(layers):
    K, H = 7, 5
    params = init_params(K, H, layers=layers, seed=0)
    expected = {"U": (H, K), "W": (H, H), "b": (H,), "V": (K, H), "c": (K,)}
    for l in range(1, layers):
        expected.update({f"U.{l}": (H, H), f"W.{l}": (H, H), f"b.{l}": (H,)})
    assert {k: v.shape for k, v in params.items()} == expected
    assert model_info(params) == ("rnn", layers, K, H)
    assert init_state(params, 3).shape == (layers, 1, 3, H)
    assert not np.any(init_state(params, 3))


def test_init_params_schemes_and_reproducibility():
    K, H = 20, 16
    small = init_params(K, H, init="small", seed=1)
    assert 0.005 < small["W"].std() < 0.02
    assert not np.any(small["b"]) and not np.any(small["c"])
    scaled = init_params(K, H, init="scaled", seed=1)
    for k in ("U", "W", "V"):
        assert np.abs(scaled[k]).max() <= 1 / math.sqrt(H)
        assert np.abs(scaled[k]).max() > 0.5 / math.sqrt(H)
    again = init_params(K, H, init="scaled", seed=1)
    for k in scaled:
        np.testing.assert_array_equal(scaled[k], again[k])
    other = init_params(K, H, init="scaled", seed=2)
    assert not np.array_equal(scaled["W"], other["W"])
    gen = init_params(K, H, seed=np.random.default_rng(5))
    assert gen["U"].shape == (H, K)


def test_float32_model():
    params = init_params(5, 4, layers=2, init="scaled", seed=0, dtype=np.float32)
    for v in params.values():
        assert v.dtype == np.float32
    rng = np.random.default_rng(0)
    inputs, targets = rng.integers(0, 5, (3, 2)), rng.integers(0, 5, (3, 2))
    o, state = forward(params, inputs)
    assert o.dtype == np.float32 and state.dtype == np.float32
    loss, grads, state = loss_and_grads(params, inputs, targets)
    assert isinstance(loss, float)
    assert state.dtype == np.float32
    for g in grads.values():
        assert g.dtype == np.float32
    # float32 gradients agree with float64 ones to float32 precision
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    _, g64, _ = loss_and_grads(p64, inputs, targets)
    for k in params:
        assert relative_error(grads[k], g64[k]) < 1e-5, k


def test_package_exports():
    for name in rnn.__all__:
        assert hasattr(rnn, name), name


# ---------------------------------------------------------------- bad input

@pytest.fixture
def model():
    params = init_params(5, 3, layers=2, seed=0)
    rng = np.random.default_rng(0)
    return params, rng.integers(0, 5, (4, 2)), rng.integers(0, 5, (4, 2))


# Parameter counts written out by hand for one-hot inputs (D = K) and the
# output layer V (K, H), c (K,): independent of init_params.
HAND_COUNT = {
    "rnn": lambda K, H: (H * K + H * H + H) + K * H + K,
    "lstm": lambda K, H: 4 * (H * K + H * H + H) + K * H + K,
    "gru": lambda K, H: 3 * (H * K + H * H + H) + H + K * H + K,
}


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_count_params_matches_the_hand_count(cell):
    for K, H in [(5, 3), (67, 64), (67, 139)]:
        assert rnn.count_params(rnn.init_params(K, H, cell=cell)) == HAND_COUNT[cell](K, H)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_hidden_for_budget_is_the_closest_width(cell):
    K, budget = 67, HAND_COUNT["lstm"](67, 64)  # 38,147
    H, count = rnn.hidden_for_budget(K, budget, cell=cell)
    assert count == HAND_COUNT[cell](K, H)
    by_search = min(range(1, 400), key=lambda h: abs(HAND_COUNT[cell](K, h) - budget))
    assert H == by_search
    assert {"rnn": 139, "lstm": 64, "gru": 76}[cell] == H
    # a second layer adds (H D + H H + H) per gate block with D = H: a narrower model
    assert rnn.hidden_for_budget(K, budget, cell=cell, layers=2)[0] < H


def test_init_params_bad_arguments():
    with pytest.raises(ValueError, match=r"init_params: cell must be one of \[.*'rnn'.*\], got 'gru2'"):
        init_params(5, 3, cell="gru2")
    with pytest.raises(ValueError, match=r"init_params: K must be a positive integer, got 0"):
        init_params(0, 3)
    with pytest.raises(ValueError, match=r"init_params: H must be a positive integer, got -1"):
        init_params(5, -1)
    with pytest.raises(ValueError, match=r"init_params: H must be a positive integer, got 3.0"):
        init_params(5, 3.0)
    with pytest.raises(ValueError, match=r"init_params: layers must be a positive integer, got 0"):
        init_params(5, 3, layers=0)
    with pytest.raises(ValueError, match=r"init_params: init must be one of \[.identity., .orthogonal., "
                                         r".scaled., .small.\], got .xavier."):
        init_params(5, 3, init="xavier")
    with pytest.raises(ValueError, match=r"init_params: spectral_radius must be a finite number >= 0, "
                                         r"got -0.5"):
        init_params(5, 3, spectral_radius=-0.5)


def test_loss_and_grads_targets_shape_mismatch(model):
    params, inputs, targets = model
    with pytest.raises(ValueError, match=r"loss_and_grads: targets must have the shape of inputs \(T, B\) = \(4, 2\), got \(4, 1\)"):
        loss_and_grads(params, inputs, targets[:, :1])


def test_loss_and_grads_input_id_out_of_range(model):
    params, inputs, targets = model
    inputs = inputs.copy()
    inputs[1, 1] = 5
    with pytest.raises(ValueError, match=r"inputs holds ids in \[\d, 5\] but must lie in \[0, 4\] for K = 5"):
        loss_and_grads(params, inputs, targets)
    inputs[1, 1] = -2
    with pytest.raises(ValueError, match=r"inputs holds ids in \[-2, \d\]"):
        forward(params, inputs)


def test_loss_and_grads_target_id_out_of_range(model):
    params, inputs, targets = model
    targets = targets.copy()
    targets[0, 0] = 9
    with pytest.raises(ValueError, match=r"targets holds ids in \[\d, 9\] but must lie in \[0, 4\] for K = 5"):
        loss_and_grads(params, inputs, targets)


def test_loss_and_grads_non_integer_ids(model):
    params, inputs, targets = model
    with pytest.raises(ValueError, match=r"inputs must hold integer class ids, got dtype float64"):
        loss_and_grads(params, inputs.astype(float), targets)
    with pytest.raises(ValueError, match=r"targets must hold integer class ids, got dtype float64"):
        loss_and_grads(params, inputs, targets.astype(float))


def test_loss_and_grads_state0_wrong_shape(model):
    params, inputs, targets = model
    with pytest.raises(ValueError, match=r"state0 must have shape \(layers, S, B, H\) = \(2, 1, 2, 3\), got \(1, 1, 2, 3\)"):
        loss_and_grads(params, inputs, targets, np.zeros((1, 1, 2, 3)))
    with pytest.raises(ValueError, match=r"state0 must have shape \(layers, S, B, H\) = \(2, 1, 2, 3\), got \(2, 2, 3\)"):
        forward(params, inputs, np.zeros((2, 2, 3)))


def test_forward_inputs_wrong_rank(model):
    params, inputs, _ = model
    with pytest.raises(ValueError, match=r"inputs must have shape \(T, B\) with T >= 1, got \(4,\)"):
        forward(params, inputs[:, 0])
    with pytest.raises(ValueError, match=r"inputs must have shape \(T, B\) with T >= 1, got \(0, 2\)"):
        forward(params, inputs[:0])


def test_loss_and_grads_bad_reduction(model):
    params, inputs, targets = model
    with pytest.raises(ValueError, match=r"reduction must be 'sum' or 'mean', got 'max'"):
        loss_and_grads(params, inputs, targets, reduction="max")


def test_model_info_broken_dicts(model):
    params = model[0]
    with pytest.raises(ValueError, match=r"params must be a dict holding at least 'V' \(K, H\) and 'c' \(K,\)"):
        model_info([("V", params["V"])])
    no_c = {k: v for k, v in params.items() if k != "c"}
    with pytest.raises(ValueError, match=r"params must be a dict holding at least 'V' \(K, H\) and 'c'"):
        model_info(no_c)
    no_W = {k: v for k, v in params.items() if k != "W"}
    with pytest.raises(ValueError, match=r"params matches no known cell: keys \[.*\]"):
        model_info(no_W)
    # layer 1 incomplete: "W.1" missing leaves "U.1" and "b.1" unexplained
    no_W1 = {k: v for k, v in params.items() if k != "W.1"}
    with pytest.raises(ValueError, match=r"params has unexpected keys \['U.1', 'b.1'\] for a 1-layer 'rnn' model"):
        model_info(no_W1)
    extra = dict(params, extra=np.zeros(3))
    with pytest.raises(ValueError, match=r"params has unexpected keys \['extra'\]"):
        model_info(extra)
    bad_V = dict(params, V=np.zeros(5))
    with pytest.raises(ValueError, match=r"model_info: params\[.V.\] must have shape \(K, H\), got \(5,\)"):
        model_info(bad_V)
    with pytest.raises(ValueError, match=r"params must be a dict"):
        loss_and_grads({"U": np.zeros((3, 5))}, model[1], model[2])


def test_model_with_inconsistent_shapes(model):
    params, inputs, targets = model
    bad = dict(params, W=np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"W must have shape \(H, H\) = \(3, 3\), got \(3, 4\)"):
        loss_and_grads(bad, inputs, targets)
    bad = dict(params, c=np.zeros(4))
    with pytest.raises(ValueError, match=r"c must have shape \(K,\) = \(5,\), got \(4,\)"):
        loss_and_grads(bad, inputs, targets)
