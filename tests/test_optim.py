"""Tests of rnn.optim: each optimiser against updates computed by hand with
plain Python floats, against torch.optim in float64, state_dict round trips,
and gradient clipping against hand-computed values."""

import io
import math

import numpy as np
import pytest

from rnn.optim import (SGD, Adagrad, Adam, DEFAULT_LR, clip_elementwise, clip_global_norm,
                       make_optimizer)

P0 = [1.0, -2.0, 3.0]
GRADS = [[0.2, -0.4, 1.0], [-1.0, 0.5, 0.0], [0.3, 0.3, -2.0]]


def run(opt, grads=GRADS, p0=P0):
    """Apply ``opt`` to a 3-element parameter; return the values after each step."""
    params = {"w": np.array(p0)}
    out = []
    for g in grads:
        opt.step(params, {"w": np.array(g)})
        out.append(params["w"].copy())
    return out


# ----------------------------------------------------------------------------- by hand


def test_sgd_hand_computed():
    got = run(SGD(0.5))
    # p - 0.5 g, step by step
    expected = [[0.9, -1.8, 2.5], [1.4, -2.05, 2.5], [1.25, -2.2, 3.5]]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)


def test_adagrad_hand_computed():
    lr, eps = 0.1, 1e-8
    got = run(Adagrad(lr, eps=eps))
    # step 1: mem = g^2, so the step is lr * g / |g| = 0.1 * sign(g) (up to eps)
    np.testing.assert_allclose(got[0], [0.9, -1.9, 2.9], rtol=0, atol=1e-8)
    # all steps from the formula, element by element, with Python floats
    for j in range(3):
        p, mem = P0[j], 0.0
        for k, g in enumerate(GRADS):
            mem += g[j] * g[j]
            p -= lr * g[j] / (math.sqrt(mem) + eps)
            assert abs(got[k][j] - p) <= 1e-15 * max(1.0, abs(p)), (k, j)
    # step 2, element 0 by hand: mem = 0.04 + 1 = 1.04, p = 0.9 + 0.1 / sqrt(1.04)
    assert got[1][0] == pytest.approx(0.9 + 0.1 / math.sqrt(1.04), abs=1e-8)
    # element 2 has g = 0 at step 2: it does not move
    assert got[1][2] == got[0][2]


def test_adam_hand_computed():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    got = run(Adam(lr))
    # step 1: m = (1 - b1) g, v = (1 - b2) g^2; bias-corrected m / sqrt(v) = sign(g)
    np.testing.assert_allclose(got[0], [0.99, -1.99, 2.99], rtol=0, atol=1e-8)
    for j in range(3):
        p, m, v = P0[j], 0.0, 0.0
        for k, g in enumerate(GRADS):
            t = k + 1
            m = b1 * m + (1 - b1) * g[j]
            v = b2 * v + (1 - b2) * g[j] ** 2
            m_hat = m / (1 - b1 ** t)
            v_hat = v / (1 - b2 ** t)
            p -= lr * m_hat / (math.sqrt(v_hat) + eps)
            assert abs(got[k][j] - p) <= 1e-14 * max(1.0, abs(p)), (k, j)


def test_step_updates_in_place_every_key():
    params = {"U": np.ones((2, 3)), "b": np.zeros(2)}
    U, b = params["U"], params["b"]
    SGD(0.1).step(params, {"U": np.full((2, 3), 2.0), "b": np.array([1.0, -1.0])})
    assert params["U"] is U and params["b"] is b
    np.testing.assert_allclose(U, 0.8)
    np.testing.assert_allclose(b, [-0.1, 0.1])


def test_step_rejects_mismatched_grads():
    params = {"U": np.ones((2, 3))}
    with pytest.raises(ValueError, match="missing"):
        Adam(0.1).step(params, {"W": np.ones((2, 3))})
    with pytest.raises(ValueError, match=r"shape of params\['U'\] \(2, 3\), got \(3, 2\)"):
        Adam(0.1).step(params, {"U": np.ones((3, 2))})
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        SGD(0.0)


# ----------------------------------------------------------------------------- state


@pytest.mark.parametrize("make", [lambda: SGD(0.3), lambda: Adagrad(0.2), lambda: Adam(0.05)])
def test_state_dict_round_trip_continues_identically(make):
    rng = np.random.default_rng(0)
    grads = [{"U": rng.standard_normal((3, 2)), "b": rng.standard_normal(3)} for _ in range(5)]
    params = {"U": rng.standard_normal((3, 2)), "b": rng.standard_normal(3)}
    a = make()
    for g in grads[:2]:
        a.step(params, g)
    sd = a.state_dict()
    assert sd["step"].shape == () and sd["step"].dtype == np.int64 and int(sd["step"]) == 2
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    buf = io.BytesIO()
    np.savez(buf, **sd)  # pickle-free: arrays only
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as z:
        loaded = {k: z[k] for k in z.files}
    b = make()
    b.load_state_dict(loaded)
    params_b = {k: v.copy() for k, v in params.items()}
    for g in grads[2:]:
        a.step(params, g)
        b.step(params_b, g)
    for k in params:
        np.testing.assert_array_equal(params[k], params_b[k])
    # the state is a copy: stepping a does not change a saved dict
    assert int(sd["step"]) == 2


def test_state_dict_keys_and_wrong_optimizer():
    params = {"U": np.ones(2)}
    adam = Adam(0.1)
    adam.step(params, {"U": np.ones(2)})
    assert sorted(adam.state_dict()) == ["m/U", "step", "v/U"]
    with pytest.raises(ValueError, match="different optimiser"):
        Adagrad(0.1).load_state_dict(adam.state_dict())
    with pytest.raises(ValueError, match="'step'"):
        Adam(0.1).load_state_dict({"m/U": np.ones(2)})
    other = Adam(0.1)
    other.load_state_dict(adam.state_dict())
    with pytest.raises(ValueError, match="different model"):
        other.step({"U": np.ones(3)}, {"U": np.ones(3)})


def test_make_optimizer_defaults():
    assert DEFAULT_LR == {"adam": 2e-3, "adagrad": 0.1, "sgd": 1.0}
    for name, cls in (("adam", Adam), ("adagrad", Adagrad), ("sgd", SGD)):
        opt = make_optimizer(name)
        assert isinstance(opt, cls) and opt.name == name and opt.lr == DEFAULT_LR[name]
        assert make_optimizer(name, 0.5).lr == 0.5
    with pytest.raises(ValueError, match=r"unknown optimiser 'rmsprop'.*'adagrad', 'adam', 'sgd'"):
        make_optimizer("rmsprop")


# ----------------------------------------------------------------------------- torch


def torch_run(torch, torch_cls, kwargs, params, grads):
    ts = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    opt = torch_cls(list(ts.values()), **kwargs)
    for g in grads:
        for k, t in ts.items():
            t.grad = torch.tensor(g[k], dtype=torch.float64)
        opt.step()
    return {k: t.detach().numpy() for k, t in ts.items()}


@pytest.mark.parametrize("name,ours,torch_name,kwargs", [
    ("sgd", lambda: SGD(0.3), "SGD", {"lr": 0.3}),
    ("adagrad", lambda: Adagrad(0.1), "Adagrad", {"lr": 0.1, "eps": 1e-8}),
    ("adam", lambda: Adam(0.01), "Adam", {"lr": 0.01}),
    ("adam-betas", lambda: Adam(0.02, beta1=0.8, beta2=0.99, eps=1e-6), "Adam",
     {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6}),
])
def test_matches_torch_optim_float64(name, ours, torch_name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(42)
    params = {"U": rng.standard_normal((4, 3)), "b": rng.standard_normal(4)}
    grads = [{"U": rng.standard_normal((4, 3)), "b": rng.standard_normal(4) * 0.1}
             for _ in range(6)]
    expected = torch_run(torch, getattr(torch.optim, torch_name), kwargs, params, grads)
    mine = {k: v.copy() for k, v in params.items()}
    opt = ours()
    for g in grads:
        opt.step(mine, g)
    for k in params:
        assert not np.allclose(mine[k], params[k])  # they did move
        rel = np.max(np.abs(mine[k] - expected[k])) / np.max(np.abs(expected[k]))
        assert rel < 1e-12, (name, k, rel)


# ----------------------------------------------------------------------------- clipping


def test_clip_elementwise_hand_computed_in_place():
    a = np.array([-7.0, 2.0, 5.0, 6.5])
    b = np.array([[0.1, -5.1]])
    grads = {"a": a, "b": b}
    out = clip_elementwise(grads)
    assert out is grads and grads["a"] is a and grads["b"] is b
    np.testing.assert_array_equal(a, [-5.0, 2.0, 5.0, 5.0])
    np.testing.assert_array_equal(b, [[0.1, -5.0]])
    clip_elementwise(grads, limit=1.5)
    np.testing.assert_array_equal(a, [-1.5, 1.5, 1.5, 1.5])
    np.testing.assert_array_equal(b, [[0.1, -1.5]])
    with pytest.raises(ValueError, match="limit must be a finite number > 0"):
        clip_elementwise(grads, 0.0)


def test_clip_global_norm_hand_computed():
    # norm = sqrt(3^2 + 0^2 + 4^2) = 5
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    a = grads["a"]
    assert clip_global_norm(grads, 10.0) == 5.0
    np.testing.assert_array_equal(grads["a"], [3.0, 0.0])  # below the limit: unchanged
    assert clip_global_norm(grads, 2.5) == 5.0
    assert grads["a"] is a
    np.testing.assert_allclose(grads["a"], [1.5, 0.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(grads["b"], [[2.0]], rtol=0, atol=1e-15)
    # norm of (1, 2, 2) is 3; clipping to 1 gives (1/3, 2/3, 2/3)
    g = {"x": np.array([1.0, 2.0, 2.0])}
    assert clip_global_norm(g, 1.0) == pytest.approx(3.0, abs=1e-15)
    np.testing.assert_allclose(g["x"], [1 / 3, 2 / 3, 2 / 3], rtol=1e-15)
    # a non-finite norm is reported and nothing is touched
    g = {"x": np.array([np.nan, 1.0])}
    assert math.isnan(clip_global_norm(g, 1.0))
    assert g["x"][1] == 1.0
    with pytest.raises(ValueError, match="max_norm must be a finite number > 0"):
        clip_global_norm(g, -1.0)


# ----------------------------------------------------------------------------- edges

@pytest.mark.parametrize("make", [lambda: Adagrad(0.2), lambda: Adam(0.05)])
def test_state_dict_is_a_copy_and_load_state_dict_copies(make):
    rng = np.random.default_rng(0)
    params = {"U": rng.standard_normal((2, 2))}
    a = make()
    a.step(params, {"U": rng.standard_normal((2, 2))})
    sd = a.state_dict()
    slot = next(k for k in sd if k != "step")
    before = sd[slot].copy()
    a.step(params, {"U": rng.standard_normal((2, 2))})
    np.testing.assert_array_equal(sd[slot], before)  # stepping a leaves the saved dict alone
    sd2 = a.state_dict()
    sd2[slot][:] = 123.0  # writing into a saved dict leaves a alone
    assert not np.any(a.state_dict()[slot] == 123.0)
    b = make()
    given = a.state_dict()
    b.load_state_dict(given)
    given[slot][:] = -7.0  # ... and so does writing into the dict b was loaded from
    assert not np.any(b.state_dict()[slot] == -7.0)
    np.testing.assert_array_equal(b.state_dict()[slot], a.state_dict()[slot])


@pytest.mark.parametrize("step", [np.array(-1), np.array(2.0), np.array([1, 2]), np.array(True)])
def test_load_state_dict_refuses_a_bad_step(step):
    with pytest.raises(ValueError, match="'step' must be a non-negative 0-d integer"):
        Adam(0.1).load_state_dict({"step": step})


def test_parameter_names_with_slashes_round_trip():
    params = {"enc/W": np.ones((2, 2)), "dec/W": np.ones(3)}
    grads = {"enc/W": np.full((2, 2), 0.5), "dec/W": np.full(3, -0.25)}
    a = Adam(0.1)
    a.step(params, grads)
    sd = a.state_dict()
    assert sorted(sd) == ["m/dec/W", "m/enc/W", "step", "v/dec/W", "v/enc/W"]
    b = Adam(0.1)
    b.load_state_dict(sd)
    p_a = {k: v.copy() for k, v in params.items()}
    a.step(params, grads)
    b.step(p_a, grads)
    for k in params:
        np.testing.assert_array_equal(params[k], p_a[k])


def test_clip_global_norm_zero_is_refused_not_a_silent_zeroing():
    g = {"x": np.array([3.0, 4.0])}
    with pytest.raises(ValueError, match="max_norm must be a finite number > 0, got 0"):
        clip_global_norm(g, 0)
    np.testing.assert_array_equal(g["x"], [3.0, 4.0])
    with pytest.raises(ValueError, match="max_norm"):
        clip_global_norm(g, True)


def test_clip_global_norm_of_float32_gradients_whose_squares_overflow():
    # 3e20^2 = 9e40 overflows float32 (max 3.4e38); the norm must still be 5e20
    g = {"a": np.array([3e20], np.float32), "b": np.array([[4e20]], np.float32)}
    norm = clip_global_norm(g, 1.0)
    assert norm == pytest.approx(5e20, rel=1e-6)
    np.testing.assert_allclose(g["a"], [0.6], rtol=1e-6)
    np.testing.assert_allclose(g["b"], [[0.8]], rtol=1e-6)
    assert g["a"].dtype == np.float32


def test_repr_names_the_optimiser_rate_and_step():
    a = Adam(0.002)
    assert repr(a) == "Adam(lr=0.002, step=0)"
    a.step({"w": np.zeros(1)}, {"w": np.ones(1)})
    assert repr(a) == "Adam(lr=0.002, step=1)"
    assert repr(SGD(1.0)) == "SGD(lr=1, step=0)" and repr(Adagrad(0.1)) == "Adagrad(lr=0.1, step=0)"


def test_booleans_are_not_learning_rates_or_limits():
    for bad in (True, float("nan"), float("inf"), "0.1"):
        with pytest.raises(ValueError, match="lr"):
            Adam(bad)
    with pytest.raises(ValueError, match="limit"):
        clip_elementwise({"x": np.ones(1)}, True)


def test_load_state_dict_with_params_refuses_an_incomplete_state():
    # a missing moment used to be re-created as zeros: the resumed run silently differed
    params = {"U": np.ones((2, 3)), "b": np.ones(2)}
    adam = Adam(0.1)
    adam.step(params, {k: np.ones_like(v) for k, v in params.items()})
    state = adam.state_dict()
    Adam(0.1).load_state_dict(state, params)  # complete: fine
    del state["v/b"]
    with pytest.raises(ValueError, match=r"v/b is missing"):
        Adam(0.1).load_state_dict(state, params)
    state = adam.state_dict()
    state["m/U"] = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"m/U has shape \(3, 2\), the parameter \(2, 3\)"):
        Adam(0.1).load_state_dict(state, params)
    Adam(0.1).load_state_dict({"step": np.array(0)}, params)  # before the first step: empty is right


# ---------------------------------------------------------------- clipping keeps descending

@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_clipping_still_points_downhill(seed, scale):
    # g^T clip(g) = sum_i |g_i| min(|g_i|, c) > 0 for elementwise clipping, and norm
    # clipping is a positive multiple of g: both are descent directions for any g != 0.
    rng = np.random.default_rng(seed)
    grads = {"W": scale * rng.standard_cauchy((6, 6)), "b": scale * rng.standard_normal(6)}
    g = np.concatenate([v.ravel() for v in grads.values()])
    by_entry = clip_elementwise({k: v.copy() for k, v in grads.items()}, 0.5)
    e = np.concatenate([v.ravel() for v in by_entry.values()])
    assert g @ e > 0
    assert g @ e == pytest.approx(np.sum(np.abs(g) * np.minimum(np.abs(g), 0.5)), rel=1e-12)
    by_norm = {k: v.copy() for k, v in grads.items()}
    clip_global_norm(by_norm, 0.5)
    n = np.concatenate([v.ravel() for v in by_norm.values()])
    assert g @ n > 0 and g @ n == pytest.approx(np.linalg.norm(g) * np.linalg.norm(n), rel=1e-12)
