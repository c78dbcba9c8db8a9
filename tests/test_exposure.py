"""rnn.exposure: teacher-forced and free-running losses against the exact
values for a bigram model of a known Markov chain."""

import numpy as np
import pytest

import rnn
from rnn.exposure import exposure_losses

P = np.array([[0.02, 0.50, 0.40, 0.08], [0.04, 0.36, 0.34, 0.26],
              [0.02, 0.04, 0.04, 0.90], [0.30, 0.30, 0.20, 0.20]])


def _bigram_model():
    """An RNN that is exactly the bigram model P (see the sampling chapter)."""
    params = rnn.init_params(4, 4, seed=0)
    params["U"][:], params["W"][:], params["b"][:] = 20.0 * np.eye(4), 0.0, 0.0
    params["V"][:], params["c"][:] = np.log(P).T, 0.0
    return params


def _chain(B, N, start, seed):
    rng = np.random.default_rng(seed)
    ids = np.full((N + 1, B), start)
    for t in range(1, N + 1):
        ids[t] = (P[ids[t - 1]].cumsum(axis=1) <= rng.random((B, 1))).sum(axis=1)
    return ids


@pytest.mark.parametrize("mode", ["sample", "greedy"])
def test_bigram_losses_match_the_exact_values(mode):
    B, N, a = 6000, 6, 2
    tf, fr = exposure_losses(_bigram_model(), _chain(B, N, a, seed=1), 1, mode=mode, seed=2)
    Pk = [np.linalg.matrix_power(P, k) for k in range(N + 1)]
    logP = np.log(P)
    # teacher-forced: the state is the true character at k - 1, distributed as P^k[a]
    tf_exact = [-(Pk[k][a][:, None] * P * logP).sum() for k in range(N)]
    if mode == "sample":  # its own character at k - 1, also ~ P^k[a], independent of the truth
        fr_exact = [-(Pk[k][a][:, None] * Pk[k + 1][a][None, :] * logP).sum() for k in range(N)]
    else:  # its own character is the greedy path from a
        s, fr_exact = a, []
        for k in range(N):
            fr_exact.append(-(Pk[k + 1][a] * logP[s]).sum())
            s = int(np.argmax(P[s]))
    assert np.abs(tf - tf_exact).max() < 0.05
    assert np.abs(fr - fr_exact).max() < 0.05
    assert tf[0] == fr[0]  # the same state before the first prediction
    assert fr[-1] > tf[-1] + 0.3  # reading its own output loses track of the truth


def test_errors():
    params = _bigram_model()
    ids = np.zeros((5, 2), int)
    with pytest.raises(ValueError, match=r"prime must be an integer in \[1, 4\], got 5"):
        exposure_losses(params, ids, 5)
    with pytest.raises(ValueError, match="mode must be 'greedy' or 'sample'"):
        exposure_losses(params, ids, 2, mode="beam")
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        exposure_losses(params, ids, 2, mode="sample", temperature=0)
    with pytest.raises(ValueError, match=r"ids must have shape \(P \+ N, B\)"):
        exposure_losses(params, ids[:, 0], 2)
