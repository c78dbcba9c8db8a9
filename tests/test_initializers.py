"""Tests of the initialisation schemes: orthogonal and identity recurrent
matrices, and rescaling to an exact spectral radius, for every cell."""

import math

import numpy as np
import pytest

import rnn
from rnn.config import TrainConfig
from rnn.data import Vocab
from rnn.initializers import SCHEMES, init_weight, orthogonal, scale_to_radius, spectral_radius
from rnn.model import CELLS
from rnn.run_state import Corpus, RunState


def _recurrent(params):
    return {k: v for k, v in params.items() if k.startswith("W")}


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_orthogonal_recurrent_matrices(cell):
    H = 12
    p = rnn.init_params(7, H, cell=cell, layers=2, init="orthogonal", seed=0)
    recurrent = _recurrent(p)
    assert len(recurrent) == 2 * len([n for n in CELLS[cell].PARAM_NAMES if n.startswith("W")])
    for name, W in recurrent.items():
        np.testing.assert_allclose(W.T @ W, np.eye(H), atol=1e-12, err_msg=name)
        np.testing.assert_allclose(np.abs(np.linalg.eigvals(W)), 1.0, atol=1e-10, err_msg=name)
    others = [v for k, v in p.items() if v.ndim == 2 and not k.startswith("W")]
    assert all(np.abs(v).max() <= 1 / math.sqrt(H) for v in others)  # as "scaled"
    first = next(iter(recurrent))  # another seed, another matrix
    assert not np.allclose(recurrent[first],
                           rnn.init_params(7, H, cell=cell, init="orthogonal", seed=1)[first])


def test_orthogonal_is_uniform_over_the_group():
    # For Haar-distributed Q, every entry has mean 0 and variance 1/H, and det = +1 and -1
    # are equally likely (without the sign fix of QR, the diagonal would be biased)
    rng = np.random.default_rng(0)
    Qs = np.stack([orthogonal(4, rng) for _ in range(4000)])
    assert abs(Qs[:, 0, 0].mean()) < 0.02 and abs(Qs.var(axis=0).mean() - 0.25) < 0.01
    assert abs(np.mean(np.linalg.det(Qs) > 0) - 0.5) < 0.03


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_identity_recurrent_matrices(cell):
    p = rnn.init_params(5, 6, cell=cell, init="identity", seed=0, dtype=np.float32)
    for name, W in _recurrent(p).items():
        assert W.dtype == np.float32 and np.array_equal(W, np.eye(6)), name


@pytest.mark.parametrize("radius", [0.5, 0.9, 1.0, 1.5, 3.0])
@pytest.mark.parametrize("init", sorted(SCHEMES))
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_spectral_radius_is_hit_exactly(cell, init, radius):
    p = rnn.init_params(5, 10, cell=cell, init=init, seed=3, spectral_radius=radius)
    for name, W in _recurrent(p).items():
        rho = np.abs(np.linalg.eigvals(W)).max()
        assert abs(rho - radius) < 1e-12 * radius, (name, rho)


def test_scale_to_radius_keeps_the_eigenvectors():
    W = np.random.default_rng(4).standard_normal((5, 5))
    S = scale_to_radius(W, 0.7)
    assert spectral_radius(S) == pytest.approx(0.7, rel=1e-13)
    np.testing.assert_allclose(S / W, S[0, 0] / W[0, 0])  # one factor for every entry
    assert np.array_equal(scale_to_radius(np.zeros((3, 3)), 0.0), np.zeros((3, 3)))


def test_train_config_spectral_radius_reaches_the_model():
    text = "abcdefgh" * 40
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    corpus = Corpus("t", vocab, ids[:250], ids[250:], np.zeros(32, np.uint8))
    cfg = TrainConfig(hidden=8, seq_len=4, batch=2, init="orthogonal", spectral_radius=0.6,
                      dtype="float64").validate()
    W = RunState.new(cfg, corpus).params["W"]
    assert spectral_radius(W) == pytest.approx(0.6, rel=1e-12)
    np.testing.assert_allclose(W.T @ W, 0.36 * np.eye(8), atol=1e-12)  # orthogonal, scaled


@pytest.mark.parametrize("call,message", [
    (lambda: scale_to_radius(np.eye(3), -1.0), "scale_to_radius: radius must be a finite number >= 0, got -1.0"),
    (lambda: scale_to_radius(np.triu(np.ones((3, 3)), 1), 1.0), "spectral radius 0"),
    (lambda: spectral_radius(np.zeros((2, 3))), r"W must be a square matrix \(H, H\)"),
    (lambda: init_weight("recurrent", (3, 4), np.random.default_rng(0), "orthogonal"),
     r"a recurrent matrix must be square \(H, H\) for init 'orthogonal', got shape \(3, 4\)"),
    (lambda: TrainConfig(spectral_radius=-0.1).validate(), "spectral_radius must be a finite number >= 0"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
