"""Tests of rnn.train: the untrained loss, one training step against PyTorch,
learning a toy corpus, evaluation, divergence, checkpoints and exact resume.

Every model here is tiny so the whole file runs in seconds.
"""

import math
import os
import signal

import numpy as np
import pytest

import rnn.train as train_mod
from rnn.checkpoint import load_checkpoint
from rnn.data import Vocab
from rnn.model import CELLS, init_params, loss_and_grads
from rnn.optim import Adam
from rnn.sample import sample
from rnn.train import TrainConfig, TrainingDiverged, evaluate, train

# A varied toy text (K = 27) of ~2,500 characters.
TOY = ("the quick brown fox jumps over the lazy dog.\n"
       "she sells sea shells by the sea shore; so it goes.\n") * 26


def quiet(**kw):
    """A tiny config that prints nothing."""
    base = dict(hidden=12, seq_len=8, batch=4, eval_every=0, sample_every=0, checkpoint_every=0,
                dtype="float64")
    base.update(kw)
    return TrainConfig(**base)


def run(tmp_path, name="run", text=TOY, **kw):
    return train(quiet(out=str(tmp_path / name), **kw), text=text, progress=False, log=lambda *a: None)


# ---------------------------------------------------------------- the untrained model

@pytest.mark.parametrize("K,H", [(67, 128), (5, 10)])
def test_untrained_loss_per_character_is_ln_K(K, H):
    # With min-char-rnn's small init every logit is ~1e-4, so y_hat is uniform: -log(1/K) = ln K.
    params = init_params(K, H, init="small", seed=0)
    rng = np.random.default_rng(1)
    inputs, targets = rng.integers(0, K, (2, 64, 16))
    loss, _, _ = loss_and_grads(params, inputs, targets, reduction="mean")
    assert abs(loss - math.log(K)) / math.log(K) < 1e-3
    assert abs(evaluate(params, rng.integers(0, K, 5000)) - math.log(K)) / math.log(K) < 1e-3


def test_first_validation_loss_of_a_run_is_ln_K(tmp_path):
    r = run(tmp_path, steps=1, init="small", eval_every=1)
    assert r.history[0][0] == 0
    assert abs(r.history[0][2] - math.log(r.vocab.size)) / math.log(r.vocab.size) < 1e-3


# ---------------------------------------------------------------- one step against PyTorch

def _torch_model_loss(torch, P, inputs, targets, K, layers):
    """The same model written independently with torch ops: one-hot inputs, tanh recurrence."""
    F = torch.nn.functional
    T, B = inputs.shape
    x = F.one_hot(torch.as_tensor(inputs), K).to(torch.float64)  # (T, B, K)
    for layer in range(layers):
        s = "" if layer == 0 else f".{layer}"
        U, W, b = P["U" + s], P["W" + s], P["b" + s]
        h = torch.zeros(B, W.shape[0], dtype=torch.float64)  # stream mode starts from h(0) = 0
        hs = []
        for t in range(T):
            h = torch.tanh(b + h @ W.T + x[t] @ U.T)
            hs.append(h)
        x = torch.stack(hs)
    o = x @ P["V"].T + P["c"]
    return F.cross_entropy(o.reshape(T * B, K), torch.as_tensor(targets).reshape(-1))  # mean


@pytest.mark.parametrize("optim,clip,clip_mode,layers", [
    ("adagrad", 5.0, "elementwise", 1),     # min-char-rnn's clip: does not bite here
    ("adagrad", 0.004, "elementwise", 2),   # a clip that bites
    ("adam", 5.0, "elementwise", 1),
    ("adam", 0.004, "elementwise", 2),
    ("adam", 0.02, "norm", 1),              # global-norm clip that bites
    ("sgd", 0.0, "elementwise", 1),         # no clipping
])
def test_one_training_step_matches_torch(tmp_path, optim, clip, clip_mode, layers):
    torch = pytest.importorskip("torch")
    cfg = quiet(steps=1, optim=optim, clip=clip, clip_mode=clip_mode, layers=layers, init="scaled",
                seed=3, out=str(tmp_path / "run"))
    result = train(cfg, text=TOY, progress=False, log=lambda *a: None)

    # The same initial weights and the same first batch, rebuilt independently of train().
    vocab = Vocab.from_text(TOY)
    K = vocab.size
    P0 = init_params(K, cfg.hidden, layers=layers, init="scaled", seed=np.random.default_rng(cfg.seed))
    ids = vocab.encode(TOY)
    n_train = len(ids) - int(round(len(ids) * cfg.val_fraction))
    L = n_train // cfg.batch
    streams = ids[:cfg.batch * L].reshape(cfg.batch, L).T  # column i = stream i
    inputs, targets = streams[:cfg.seq_len], streams[1:cfg.seq_len + 1]

    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in P0.items()}
    lr = {"adam": 2e-3, "adagrad": 0.1, "sgd": 1.0}[optim]
    opt = {"adam": lambda p: torch.optim.Adam(p, lr=lr),
           "adagrad": lambda p: torch.optim.Adagrad(p, lr=lr, eps=1e-8),
           "sgd": lambda p: torch.optim.SGD(p, lr=lr)}[optim](list(P.values()))
    loss = _torch_model_loss(torch, P, inputs, targets, K, layers)
    loss.backward()
    if clip and clip_mode == "elementwise":
        torch.nn.utils.clip_grad_value_(list(P.values()), clip)
    elif clip:  # torch's clip_grad_norm_ adds 1e-6 to the norm; the plain rule is g * clip / ||g||
        norm = torch.sqrt(sum((p.grad ** 2).sum() for p in P.values()))
        assert norm > clip  # the clip bites
        for p in P.values():
            p.grad.mul_(clip / norm)
    opt.step()

    # loss: the smoothed loss after one step is the step-0 loss
    assert result.history[-1][1] == pytest.approx(loss.item(), rel=1e-12)
    for k, v in result.params.items():
        ref = P[k].detach().numpy()
        assert not np.array_equal(ref, P0[k]) or k.startswith("b")  # the step moved the weights
        err = np.abs(v - ref).max() / max(np.abs(ref).max(), 1e-300)
        assert err < 1e-10, (k, err)
    if clip and clip_mode == "elementwise":  # the clip bit: some gradient entries were larger
        grads = loss_and_grads(P0, inputs, targets, reduction="mean")[1]
        assert (max(np.abs(g).max() for g in grads.values()) > clip) == (clip < 1)


# ---------------------------------------------------------------- learning

def test_training_learns_a_toy_corpus_and_greedy_reproduces_it(tmp_path):
    text = "hello world\n" * 300
    r = run(tmp_path, text=text, steps=250, hidden=24, seq_len=12, batch=8, lr=1e-2, eval_every=50)
    K = r.vocab.size
    assert r.val_loss < 0.05 * math.log(K)
    assert r.history[0][2] > 0.9 * math.log(K)  # it started at about ln K
    out = sample(r.params, r.vocab, 48, prime="hello", greedy=True)
    assert out == (" world\n" + "hello world\n" * 5)[:48]


def test_smoothed_loss_is_a_moving_average_from_the_first_loss(tmp_path, monkeypatch):
    losses = []
    real = train_mod.loss_and_grads

    def spy(*a, **kw):
        out = real(*a, **kw)
        losses.append(out[0])
        return out

    monkeypatch.setattr(train_mod, "loss_and_grads", spy)
    r = run(tmp_path, steps=30, eval_every=10)
    smooth, expected = losses[0], {}
    for i, loss in enumerate(losses):
        smooth = 0.99 * smooth + 0.01 * loss  # written out: the weights are part of the contract
        expected[i + 1] = smooth
    for step, train_loss, *_ in r.history[1:]:
        assert train_loss == pytest.approx(expected[step], rel=1e-12)


def test_stream_batching_carries_the_state_and_resets_at_wrap_around(tmp_path, monkeypatch):
    calls = []
    real = train_mod.loss_and_grads

    def spy(params, inputs, targets, state0=None, **kw):
        out = real(params, inputs, targets, state0, **kw)
        calls.append((inputs, state0, out[2]))
        return out

    monkeypatch.setattr(train_mod, "loss_and_grads", spy)
    run(tmp_path, steps=40, batch=16)  # 17 windows per pass over the streams
    vocab = Vocab.from_text(TOY)
    ids = vocab.encode(TOY)
    n_train = len(ids) - int(round(len(ids) * 0.05))
    L = n_train // 16
    streams = ids[:16 * L].reshape(16, L).T
    per_pass = (L - 1) // 8
    for i, (inputs, state0, _) in enumerate(calls):
        pos = (i % per_pass) * 8
        np.testing.assert_array_equal(inputs, streams[pos:pos + 8])  # row j continues stream j
        if i % per_pass == 0:  # a new pass starts from a zero state
            assert not state0.any()
        else:  # otherwise the state the previous window ended with
            assert state0 is calls[i - 1][2] or np.array_equal(state0, calls[i - 1][2])
            assert state0.any()


def test_random_batching_starts_every_window_from_zero(tmp_path, monkeypatch):
    seen = []
    real = train_mod.loss_and_grads

    def spy(params, inputs, targets, state0=None, **kw):
        seen.append(state0)
        return real(params, inputs, targets, state0, **kw)

    monkeypatch.setattr(train_mod, "loss_and_grads", spy)
    run(tmp_path, steps=5, batching="random")
    assert all(s is None or not np.any(s) for s in seen) and len(seen) == 5


def test_evaluate_equals_one_pass_over_whole_streams():
    # Windows with carried state must give exactly the loss of reading each stream in one go.
    rng = np.random.default_rng(0)
    K = 6
    params = init_params(K, 7, layers=2, init="scaled", seed=1)
    ids = rng.integers(0, K, 203)
    T, B = 5, 4
    from rnn.model import forward
    nb, L = B, len(ids) // B
    streams = ids[:nb * L].reshape(nb, L).T  # (L, B)
    o, _ = forward(params, streams[:-1])
    z = o - o.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    expected = -np.take_along_axis(logp, streams[1:, :, None], -1).mean()
    assert evaluate(params, ids, T, B) == pytest.approx(expected, rel=1e-12)


def test_float32_training_keeps_float32(tmp_path):
    r = run(tmp_path, steps=5, dtype="float32")
    assert all(v.dtype == np.float32 for v in r.params.values())
    ck = load_checkpoint(r.checkpoint)
    assert all(v.dtype == np.float32 for v in ck.params.values())


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_every_registered_cell_trains_checkpoints_and_samples(tmp_path, cell):
    r = run(tmp_path, cell=cell, layers=2, steps=4, hidden=6)
    ck = load_checkpoint(r.checkpoint)
    assert ck.config["cell"] == cell and ck.step == 4
    assert ck.extra["state"].shape == (2, CELLS[cell].N_STATES, 4, 6)
    assert len(sample(ck.params, ck.vocab, 20, seed=0)) == 20


# ---------------------------------------------------------------- divergence

def test_divergence_stops_with_a_clear_message(tmp_path):
    with pytest.raises(TrainingDiverged) as e:
        run(tmp_path, steps=200, optim="sgd", lr=3000.0, clip=0, init="scaled")
    msg = str(e.value)
    assert "diverged" in msg and "--lr" in msg and "clip" in msg


@pytest.mark.parametrize("factor,stops", [(2.9, False), (3.1, True)])
def test_divergence_threshold_is_three_times_the_first_loss(tmp_path, monkeypatch, factor, stops):
    real, losses = train_mod.loss_and_grads, []

    def inflated(*a, **kw):  # step 3 (index 2) reports factor x the first loss
        loss, grads, state = real(*a, **kw)
        losses.append(loss)
        return (factor * losses[0] if len(losses) == 3 else loss), grads, state

    monkeypatch.setattr(train_mod, "loss_and_grads", inflated)
    if stops:
        with pytest.raises(TrainingDiverged, match=r"step 2: the loss .* exceeded 3x its starting"):
            run(tmp_path, steps=5)
    else:
        assert run(tmp_path, steps=5).step == 5


def test_non_finite_gradient_with_a_finite_loss_stops_before_the_update(tmp_path, monkeypatch):
    real, calls, seen = train_mod.loss_and_grads, [], {}

    def poisoned(params, *a, **kw):
        loss, grads, state = real(params, *a, **kw)
        calls.append(1)
        if len(calls) == 3:
            seen.update({k: v.copy() for k, v in params.items()})
            grads["W"][0, 0] = np.inf
        return loss, grads, state

    monkeypatch.setattr(train_mod, "loss_and_grads", poisoned)
    with pytest.raises(TrainingDiverged, match=r"step 2: a gradient became NaN or infinite"):
        run(tmp_path, steps=10)
    assert all(np.isfinite(v).all() for v in seen.values())


def test_train_step_leaves_params_untouched_when_it_refuses():
    from rnn.optim import Adam
    from rnn.train import train_step
    params = init_params(5, 4, seed=0)
    before = {k: v.copy() for k, v in params.items()}
    ids = np.zeros((3, 2), dtype=np.int64)
    opt = Adam(0.1)
    with pytest.raises(TrainingDiverged, match="exceeded max_loss"):
        train_step(params, opt, ids, ids, max_loss=0.01)
    assert opt.t == 0 and all(np.array_equal(params[k], before[k]) for k in params)
    loss, state = train_step(params, opt, ids, ids)
    assert opt.t == 1 and not np.array_equal(params["V"], before["V"])
    assert state.shape == (1, 1, 2, 4) and loss == pytest.approx(math.log(5), rel=1e-3)


def test_checkpoint_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        r = run(tmp_path, steps=2)
    finally:
        os.umask(old)
    assert os.stat(r.checkpoint).st_mode & 0o777 == 0o640  # 0o666 & ~0o027, not mkstemp's 0o600


def test_nan_loss_stops_training(tmp_path, monkeypatch):
    real, calls = train_mod.loss_and_grads, []

    def poisoned(*a, **kw):
        loss, grads, state = real(*a, **kw)
        calls.append(1)
        return (float("nan") if len(calls) == 3 else loss), grads, state

    monkeypatch.setattr(train_mod, "loss_and_grads", poisoned)
    with pytest.raises(TrainingDiverged, match=r"step 2: the loss became nan.*--lr"):
        run(tmp_path, steps=10)


# ---------------------------------------------------------------- checkpoints and resume

def test_checkpoints_every_n_steps_and_at_the_end(tmp_path, monkeypatch):
    saved = []
    real = train_mod.save_checkpoint

    def spy(path, **kw):
        saved.append((os.path.basename(path), kw["step"]))
        real(path, **kw)

    monkeypatch.setattr(train_mod, "save_checkpoint", spy)
    r = run(tmp_path, steps=12, checkpoint_every=5)
    # the final evaluation is the only one, so also the best so far
    assert saved == [("checkpoint.npz", 5), ("checkpoint.npz", 10), ("best.npz", 12),
                     ("checkpoint.npz", 12)]
    assert r.checkpoint == str(tmp_path / "run" / "checkpoint.npz")
    assert r.best_checkpoint == str(tmp_path / "run" / "best.npz")
    assert load_checkpoint(r.checkpoint).step == 12
    assert sorted(os.listdir(tmp_path / "run")) == ["best.npz", "checkpoint.npz"]  # no temp files


def _final_state(path):
    ck = load_checkpoint(path)
    return ck


@pytest.mark.parametrize("batching,truncation", [
    ("stream", {}), ("random", {}),
    ("stream", dict(truncation="overlap", truncation_stride=3)),
    ("random", dict(truncation="overlap", truncation_stride=5)),
    ("stream", dict(truncation="random", truncation_keep=0.7)),
    ("random", dict(truncation="random")),
])
def test_resume_is_bit_identical(tmp_path, batching, truncation):
    # 48 steps straight == 21 steps + resume 27 steps. With ~2,300 training characters,
    # B = 16 and T = 8 a stream pass is 17 windows (45 with stride 3), so both halves
    # of the plain window run include a wrap-around (hidden-state reset) and the split
    # falls mid-pass.
    kw = dict(batching=batching, batch=16, eval_every=7, optim="adam", seed=5, **truncation)
    a = run(tmp_path, "straight", steps=48, **kw)
    run(tmp_path, "split", steps=21, **kw)
    b = train(quiet(out=str(tmp_path / "split"), steps=27, **kw), text=TOY, progress=False,
              resume=str(tmp_path / "split" / "checkpoint.npz"), log=lambda *a: None)
    assert a.step == b.step == 48
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k
    ca, cb = _final_state(a.checkpoint), _final_state(b.checkpoint)
    assert ca.step == cb.step == 48
    assert set(ca.optim_state) == set(cb.optim_state)
    for k in ca.optim_state:
        assert np.array_equal(ca.optim_state[k], cb.optim_state[k]), k
    assert ca.rng_state == cb.rng_state
    expected = {"smooth_loss", "initial_loss", "elapsed", "history", "text_sha256",
                "best_val_loss", "run_id", "lr_decay"}
    if batching == "stream":
        expected |= {"state", "batcher.pos", "batcher.epoch", "batcher.T", "batcher.B",
                     "batcher.stream_len", "batcher.stride"}
    assert set(ca.extra) == set(cb.extra) == expected
    for k in expected - {"elapsed", "history", "run_id"}:  # (timings and the run's identity differ)
        assert np.array_equal(ca.extra[k], cb.extra[k]), k
    assert not np.array_equal(ca.extra["run_id"], cb.extra["run_id"])  # two runs, two ids
    assert ca.extra["best_val_loss"] == min(h[2] for h in a.history if h[0] > 0)
    if batching == "stream":
        assert int(ca.extra["batcher.epoch"]) >= (1 if "truncation_stride" in truncation else 2)
        assert int(ca.extra["batcher.stride"]) == truncation.get("truncation_stride", 8)
    # the recorded losses (not the timings) agree too
    ha = [h[:3] for h in a.history if h[0] % 7 == 0]
    hb = [h[:3] for h in b.history if h[0] % 7 == 0]
    assert len(ha) == 7
    np.testing.assert_array_equal(ha, hb)  # (the step-0 entry has no training loss yet: nan)


@pytest.mark.parametrize("decay", ["none", "linear"])
def test_the_learning_rate_of_each_step(tmp_path, monkeypatch, decay):
    """--lr-decay linear: step s of N runs at lr (N - s) / N, the last at lr / N; none:
    lr throughout."""
    seen, real = [], Adam.step

    def spy(self, params, grads):
        seen.append(self.lr)
        return real(self, params, grads)

    monkeypatch.setattr(Adam, "step", spy)
    run(tmp_path, "run", steps=10, optim="adam", lr=0.01, lr_decay=decay)
    expected = [0.01 * (10 - s) / 10 if decay == "linear" else 0.01 for s in range(10)]
    assert seen == pytest.approx(expected, rel=1e-14, abs=0)


def test_resume_takes_model_options_from_the_checkpoint(tmp_path):
    run(tmp_path, steps=3, hidden=9)
    r = train(TrainConfig(steps=2, hidden=999, out=str(tmp_path / "run"), eval_every=0, sample_every=0),
              text=TOY, progress=False, resume=str(tmp_path / "run" / "checkpoint.npz"),
              log=lambda *a: None)
    assert r.step == 5 and r.params["W"].shape == (9, 9)


def test_resume_with_other_text_is_refused(tmp_path):
    run(tmp_path, steps=2)
    with pytest.raises(ValueError, match="not the text the checkpoint"):
        train(quiet(steps=2, out=str(tmp_path / "run")), text=TOY.upper() + TOY, progress=False,
              resume=str(tmp_path / "run" / "checkpoint.npz"), log=lambda *a: None)


@pytest.fixture
def default_sigint():
    """SIGINT raising KeyboardInterrupt, as in an interactive shell, whatever
    pytest inherited (a background job starts with SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_after_the_step_and_saves(tmp_path, monkeypatch, default_sigint):
    real, calls = train_mod.loss_and_grads, []

    def interrupting(*a, **kw):
        calls.append(1)
        if len(calls) == 4:
            os.kill(os.getpid(), signal.SIGINT)  # as if the user pressed Ctrl-C mid-step
        return real(*a, **kw)

    monkeypatch.setattr(train_mod, "loss_and_grads", interrupting)
    messages = []
    r = train(quiet(steps=100, out=str(tmp_path / "run")), text=TOY, progress=False, log=messages.append)
    assert r.interrupted and r.step == 4
    assert load_checkpoint(r.checkpoint).step == 4
    assert any("checkpoint saved to" in m and "--resume" in m for m in messages)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


# ---------------------------------------------------------------- config

def test_config_round_trips_through_json():
    import json
    c = TrainConfig(hidden=7, lr=0.01, minutes=0.5, data="x.txt")
    assert TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(ValueError, match="unknown option"):
        TrainConfig.from_dict({"hiden": 3})


@pytest.mark.parametrize("field,value", [
    ("hidden", 0), ("seq_len", -1), ("batch", 2.5), ("steps", 0), ("minutes", -1.0), ("lr", 0.0),
    ("optim", "rmsprop"), ("clip", -1.0), ("clip_mode", "max"), ("init", "zeros"),
    ("batching", "shuffle"), ("val_fraction", 1.0), ("dtype", "float16"), ("cell", "transformer"),
])
def test_bad_config_values_are_named(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value}).validate()


def test_text_too_short_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="too short"):
        run(tmp_path, text="abcdefgh", steps=1)


# ---------------------------------------------------------------- progress display

def test_progress_bar_with_tqdm(tmp_path, capsys):
    pytest.importorskip("tqdm")
    r = train(quiet(steps=30, eval_every=10, sample_every=15, sample_length=20, out=str(tmp_path / "r")),
              text=TOY, progress=True)
    out = capsys.readouterr()
    assert r.step == 30
    assert "sample at step 15" in out.out and "step=30" in out.err and "tok/s" in out.err


def test_plain_progress_line_without_tqdm(tmp_path, capsys, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    r = train(quiet(steps=30, eval_every=10, sample_every=15, sample_length=20, out=str(tmp_path / "r")),
              text=TOY, progress=True)
    out = capsys.readouterr()
    assert r.step == 30
    assert "sample at step 15" in out.out
    last = out.err.strip().splitlines()[-1]  # not a terminal: plain lines on stderr
    assert last.startswith("30/30step") and "val" in last and "tok/s" in last


def test_resume_from_a_checkpoint_without_training_state_is_refused(tmp_path):
    from rnn.checkpoint import save_checkpoint
    r = run(tmp_path, steps=2)
    ck = load_checkpoint(r.checkpoint)
    bare = tmp_path / "bare.npz"
    save_checkpoint(bare, params=ck.params, vocab=ck.vocab, config=ck.config, step=ck.step,
                    optim_state=ck.optim_state, rng_state=ck.rng_state)
    with pytest.raises(ValueError, match="not resumed"):
        train(quiet(steps=1, out=str(tmp_path / "x")), text=TOY, progress=False, resume=str(bare),
              log=lambda *a: None)
