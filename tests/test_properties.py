"""Property-based tests (hypothesis) of every registered cell and of the loss.

Instead of a few hand-picked shapes, hypothesis draws them: sequence lengths
(1 included), batch sizes, input and hidden sizes, dtypes, weight scales and
seeds, for every cell of rnn.model.CELLS through the layer protocol, and
checks properties that must hold for all of them:

* forward and backward return the documented shapes and keep the dtype;
* every gradient of a layer equals central finite differences (float64);
* float32 and float64 agree to float32 precision;
* softmax cross-entropy stays finite and exact for logits up to +-1e4
  (against log-sum-exp in exact rational arithmetic);
* 10,000-step sequences with large weights never overflow in float64.

The number of examples each property ran is printed in pytest's summary.
"""

import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnn
from rnn.gradcheck import numerical_gradient, relative_error
from rnn.losses import softmax_cross_entropy
from rnn.model import CELLS

from problems import random_problem

CELL_NAMES = sorted(CELLS)
RAN = Counter()  # examples run per property, for the summary

# Deterministic (derandomize) so CI and a developer see the same examples;
# no deadline: timings on a shared machine are noisy.
# --8<-- [start:examples]
FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None,  # shapes,
                suppress_health_check=[HealthCheck.too_slow])  # dtypes, float32 = float64
FD = settings(FAST, max_examples=15)  # finite differences
SLOW = settings(FAST, max_examples=3)  # 10,000-step sequences
# --8<-- [end:examples]

lengths = st.integers(1, 6)  # T, with T = 1 included
batches = st.integers(1, 4)
sizes = st.integers(1, 4)
seeds = st.integers(0, 2 ** 32 - 1)


@pytest.fixture(scope="module", autouse=True)
def _report(terminal_summary):
    yield
    terminal_summary.append(f"property cases (hypothesis): {sum(RAN.values())} examples over "
                            f"{len(RAN)} properties and {len(CELL_NAMES)} cells")


@pytest.mark.parametrize("cell", CELL_NAMES)
@FAST
@given(T=lengths, B=batches, D=sizes, H=sizes, seed=seeds,
       dtype=st.sampled_from([np.float32, np.float64]))
def test_shapes_and_dtypes(cell, T, B, D, H, seed, dtype):
    RAN["shapes and dtypes"] += 1
    module = CELLS[cell]
    p = random_problem(cell, seed, T, B, D, H)
    x, state0 = p["x"].astype(dtype), p["state0"].astype(dtype)
    params = {k: v.astype(dtype) for k, v in p["params"].items()}
    S = module.N_STATES
    h, cache, state = module.layer_forward(x, state0, params)
    dx, dstate0, grads = module.layer_backward(p["G"].astype(dtype), cache,
                                               p["G_state"].astype(dtype))
    assert h.shape == (T, B, H) and state.shape == (S, B, H)
    assert dx.shape == (T, B, D) and dstate0.shape == (S, B, H)
    assert list(grads) == list(module.PARAM_NAMES)
    for name, g in grads.items():
        assert g.shape == params[name].shape, name
    for a in (h, state, dx, dstate0, *grads.values()):
        assert a.dtype == dtype and np.isfinite(a).all()
    np.testing.assert_array_equal(state[0], h[-1])  # the state handed on is the last h


@pytest.mark.parametrize("cell", CELL_NAMES)
@FD
@given(T=lengths, B=st.integers(1, 3), D=st.integers(1, 3), H=st.integers(1, 3), seed=seeds)
def test_gradients_match_finite_differences(cell, T, B, D, H, seed):
    RAN["gradients = finite differences"] += 1
    module = CELLS[cell]
    p = random_problem(cell, seed, T, B, D, H)
    arrays = {"x": p["x"], "state0": p["state0"], **p["params"]}

    def f():
        h, _, state = module.layer_forward(arrays["x"], arrays["state0"], p["params"])
        return float((h * p["G"]).sum() + (state * p["G_state"]).sum())

    _, cache, _ = module.layer_forward(p["x"], p["state0"], p["params"])
    dx, dstate0, grads = module.layer_backward(p["G"], cache, p["G_state"])
    analytic = {"x": dx, "state0": dstate0, **grads}
    for name, a in arrays.items():
        num = numerical_gradient(f, a)
        # relative error, or an absolute one where the gradient is tiny (a saturated gate)
        err = min(relative_error(analytic[name], num), np.abs(analytic[name] - num).max())
        assert err < 1e-6, (name, err)


@pytest.mark.parametrize("cell", CELL_NAMES)
@FAST
@given(T=lengths, B=batches, D=sizes, H=sizes, seed=seeds, scale=st.sampled_from([0.1, 0.5, 1.0]))
def test_float32_agrees_with_float64(cell, T, B, D, H, seed, scale):
    RAN["float32 = float64"] += 1
    module = CELLS[cell]
    p = random_problem(cell, seed, T, B, D, H, scale=scale)

    def run(dtype):
        params = {k: v.astype(dtype) for k, v in p["params"].items()}
        h, cache, state = module.layer_forward(p["x"].astype(dtype), p["state0"].astype(dtype),
                                               params)
        dx, _, grads = module.layer_backward(p["G"].astype(dtype), cache)
        return [h, state, dx, *grads.values()]

    for a32, a64 in zip(run(np.float32), run(np.float64)):
        scale64 = max(np.abs(a64).max(), 1.0)
        assert np.abs(a32.astype(np.float64) - a64).max() <= 1e-4 * scale64


def _exact_loss(z, y) -> float:
    """log sum_j exp(z_j) - z_y, with the sum formed exactly (fractions) after the max shift."""
    m = max(z)
    total = sum(Fraction(math.exp(v - m)) for v in z)  # each term exact as a float, summed exactly
    return float(m - z[y] + math.log(total))


@FAST
@given(data=st.data(), K=st.integers(1, 12), N=st.integers(1, 5),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_softmax_cross_entropy_is_finite_for_logits_up_to_1e4(data, K, N, dtype):
    RAN["softmax-CE for |logits| <= 1e4"] += 1
    logits = np.array(data.draw(st.lists(st.lists(
        st.floats(-1e4, 1e4, allow_nan=False, width=32), min_size=K, max_size=K),
        min_size=N, max_size=N)), dtype=dtype)
    y = np.array(data.draw(st.lists(st.integers(0, K - 1), min_size=N, max_size=N)))
    loss, do = softmax_cross_entropy(logits, y, reduction="sum")
    assert math.isfinite(loss) and loss >= 0 and np.isfinite(do).all()
    expected = sum(_exact_loss(row.astype(np.float64).tolist(), t) for row, t in zip(logits, y))
    tol = 1e-3 if dtype == np.float32 else 1e-9
    assert abs(loss - expected) <= tol * max(1.0, expected)
    np.testing.assert_allclose(do.sum(axis=-1), 0.0, atol=1e-5)  # softmax - one-hot sums to 0
    assert (do >= -1 - 1e-6).all() and (do <= 1 + 1e-6).all()


@pytest.mark.parametrize("cell", CELL_NAMES)
@SLOW
@given(B=st.integers(1, 2), seed=seeds, scale=st.sampled_from([1.0, 5.0, 20.0]))
def test_ten_thousand_steps_do_not_overflow_in_float64(cell, B, seed, scale):
    RAN["T = 10,000 in float64"] += 1
    K, H, T = 5, 3, 10_000
    rng = np.random.default_rng(seed)
    params = rnn.init_params(K, H, cell=cell, seed=0)
    for k in params:  # large weights: saturated gates, a recurrence that could blow up
        params[k] = rng.standard_normal(params[k].shape) * scale
    inputs, targets = rng.integers(0, K, (T, B)), rng.integers(0, K, (T, B))
    loss, grads, state = rnn.loss_and_grads(params, inputs, targets, reduction="mean")
    assert math.isfinite(loss) and np.isfinite(state).all()
    assert np.abs(state[:, 0]).max() <= 1.0  # h is a tanh (or a mix of tanhs): bounded
    for name, g in grads.items():
        assert np.isfinite(g).all(), name
