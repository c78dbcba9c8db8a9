"""rnn.attention: additive attention against hand-computed values, finite
differences and float64 torch; padded source steps get no weight."""

import numpy as np
import pytest

from rnn.attention import (attention_backward, attention_forward, attention_keys,
                           attention_keys_backward)
from rnn.gradcheck import numerical_gradient, relative_error
from rnn.masking import mask_from_lengths


def _problem(seed=0, T_x=5, B=3, H=4, lengths=(5, 2, 3)):
    rng = np.random.default_rng(seed)
    return dict(q=rng.standard_normal((B, H)), h_enc=rng.standard_normal((T_x, B, H)),
                W_a=rng.standard_normal((H, H)), U_a=rng.standard_normal((H, H)),
                v_a=rng.standard_normal(H), mask=mask_from_lengths(list(lengths), T_x),
                G=rng.standard_normal((B, H)))


def _run(p):
    keys = attention_keys(p["h_enc"], p["U_a"])
    return attention_forward(p["q"], keys, p["h_enc"], p["mask"], p["W_a"], p["v_a"])


def test_one_sequence_by_hand():
    p = _problem()
    C, alpha, _ = _run(p)
    n = 1  # sequence 1 has 2 real source steps
    scores = [p["v_a"] @ np.tanh(p["W_a"] @ p["q"][n] + p["U_a"] @ p["h_enc"][j, n]) for j in range(2)]
    weights = np.exp(scores) / np.exp(scores).sum()
    assert np.allclose(alpha[:, n], [weights[0], weights[1], 0, 0, 0])
    assert np.allclose(C[n], weights[0] * p["h_enc"][0, n] + weights[1] * p["h_enc"][1, n])
    assert np.allclose(alpha.sum(axis=0), 1.0)


def test_padded_source_steps_have_no_influence():
    p = _problem()
    C, alpha, _ = _run(p)
    p["h_enc"] = np.where(p["mask"][..., None], p["h_enc"], 1e3)  # garbage in the padding
    C2, alpha2, _ = _run(p)
    np.testing.assert_array_equal(alpha, alpha2)
    np.testing.assert_allclose(C, C2, rtol=0, atol=1e-15)


def test_gradients_match_finite_differences():
    p = _problem(1)

    def f():
        return float((_run(p)[0] * p["G"]).sum())

    _, _, cache = _run(p)
    dq, dkeys, dh_values, dW_a, dv_a = attention_backward(p["G"], cache)
    dh_keys, dU_a = attention_keys_backward(dkeys, p["h_enc"], p["U_a"])
    analytic = dict(q=dq, h_enc=dh_values + dh_keys, W_a=dW_a, U_a=dU_a, v_a=dv_a)
    for name, g in analytic.items():
        num = numerical_gradient(f, p[name])
        assert np.abs(num).max() > 1e-3, name
        assert relative_error(g, num) < 1e-8, name
    assert not (dh_values + dh_keys)[~p["mask"]].any()


def test_matches_torch():
    torch = pytest.importorskip("torch")
    p = _problem(2, T_x=6, B=4, H=5, lengths=(6, 1, 4, 3))
    t = {k: torch.tensor(p[k], requires_grad=True) for k in ("q", "h_enc", "W_a", "U_a", "v_a")}
    u = torch.tanh(t["q"] @ t["W_a"].T + t["h_enc"] @ t["U_a"].T)  # (T_x, B, H)
    scores = (u @ t["v_a"]).masked_fill(~torch.tensor(p["mask"]), float("-inf"))
    alpha_t = torch.softmax(scores, dim=0)
    C_t = (alpha_t[..., None] * t["h_enc"]).sum(dim=0)
    (C_t * torch.tensor(p["G"])).sum().backward()

    C, alpha, cache = _run(p)
    dq, dkeys, dh_values, dW_a, dv_a = attention_backward(p["G"], cache)
    dh_keys, dU_a = attention_keys_backward(dkeys, p["h_enc"], p["U_a"])
    ours = dict(C=C, alpha=alpha, q=dq, h_enc=dh_values + dh_keys, W_a=dW_a, U_a=dU_a, v_a=dv_a)
    theirs = dict(C=C_t, alpha=alpha_t, **{k: t[k].grad for k in ("q", "h_enc", "W_a", "U_a", "v_a")})
    for k in ours:
        assert relative_error(ours[k], theirs[k].detach().numpy()) < 1e-12, k


def test_errors():
    p = _problem()
    keys = attention_keys(p["h_enc"], p["U_a"])
    with pytest.raises(ValueError, match=r"q must have shape \(B, H\) = \(3, 4\)"):
        attention_forward(p["q"][:2], keys, p["h_enc"], p["mask"], p["W_a"], p["v_a"])
    with pytest.raises(ValueError, match=r"keys must have shape \(T_x, B, H\)"):
        attention_forward(p["q"], keys[:2], p["h_enc"], p["mask"], p["W_a"], p["v_a"])
    with pytest.raises(ValueError, match=r"mask must be a boolean array of shape \(T_x, B\)"):
        attention_forward(p["q"], keys, p["h_enc"], p["mask"][:, :2], p["W_a"], p["v_a"])
    empty = p["mask"].copy()
    empty[:, 0] = False
    with pytest.raises(ValueError, match="with a real step in every column"):
        attention_forward(p["q"], keys, p["h_enc"], empty, p["W_a"], p["v_a"])
    with pytest.raises(ValueError, match=r"U_a must have shape \(H, H\)"):
        attention_keys(p["h_enc"], p["U_a"][:2])
    with pytest.raises(ValueError, match="cache must be the AttentionCache"):
        attention_backward(p["G"], None)
