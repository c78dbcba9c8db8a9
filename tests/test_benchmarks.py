"""The benchmark scripts run (their tiny modes; no timing is asserted), and the
torch model of the comparisons is the package's model: same weights, same
parametrisation, same first training step."""

import sys
from pathlib import Path

import numpy as np
import pytest

import rnn
from rnn.train import train_step

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
torch = pytest.importorskip("torch")

import speed  # noqa: E402
import time_to_quality  # noqa: E402


def test_speed_tiny_prints_the_table(capsys):
    result = speed.main(["--tiny"])
    out = capsys.readouterr().out
    assert "tokens per second" in out and "GEMM peak" in out and "load average" in out
    assert [(r["cell"], r["B"], r["T"], r["H"]) for r in result["rows"]] == \
        [row[:4] for row in speed.TINY_ROWS]
    for row in result["rows"]:
        assert set(row["tokens_per_s"]) >= {"package", "torch"}
        assert all(v > 0 for v in row["tokens_per_s"].values())
        assert row["peak_memory"] > 0
    assert "min-char-rnn" in result["rows"][0]["tokens_per_s"]  # the vanilla B = 1 row
    m = result["machine"]
    assert m["numpy"] == np.__version__ and m["torch"] == torch.__version__ and m["blas"]


def test_time_to_quality_tiny_runs_both_sides(capsys):
    rows = time_to_quality.main(["--tiny", "--models", "default,gru"])
    assert [r[0] for r in rows] == ["default", "gru"]
    for _, cfg, pkg, tor in rows:
        for val, steps, tps in (pkg, tor):
            assert 0 < val < 10 and steps > 0 and tps > 0
    assert "validation loss after the same wall-clock budget" in capsys.readouterr().out


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_torch_model_is_the_package_model(cell):
    """Same weights in, same loss, same gradient step: after one Adam step from the same
    start, on the same batch, the two models still hold the same weights (float64)."""
    K, H, T, B = 7, 5, 6, 3
    params = rnn.init_params(K, H, cell=cell, init="scaled", seed=3)
    rng = np.random.default_rng(0)
    params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in params.items()}  # biases too
    inputs, targets = rng.integers(0, K, (T, B)), rng.integers(0, K, (T, B))
    mod, lin = speed.torch_model(cell, H, "float64", params=params, vocab=K)
    back = speed.params_from_torch(mod, lin, cell)
    assert sorted(back) == sorted(params)
    for k in params:
        np.testing.assert_allclose(back[k], params[k], rtol=0, atol=1e-15, err_msg=k)

    step = speed.torch_trainer(mod, lin, cell, lr=0.01, clip=0.05)  # the clip acts
    loss_t, _ = step(inputs, targets, None)
    ours = {k: v.copy() for k, v in params.items()}
    loss, _ = train_step(ours, rnn.Adam(0.01), inputs, targets, clip=0.05)
    assert loss == pytest.approx(loss_t, rel=1e-12)
    after = speed.params_from_torch(mod, lin, cell)
    for k in params:
        assert np.abs(after[k] - params[k]).max() > 1e-3, k  # every parameter moved ...
        np.testing.assert_allclose(after[k], ours[k], rtol=0, atol=1e-9, err_msg=k)  # ... alike
