"""Fault drills: what a run does when it is interrupted, killed, crowded,
fed hostile input or asked for the impossible.

* SIGINT, SIGTERM and SIGHUP, mid-step and mid-save: the run stops after the
  step, saves a loadable checkpoint, leaves no temporary file, and resuming
  gives exactly the weights of a run that was never interrupted. A second
  signal stops at once (after a save in progress) without a temporary file.
* A real `rnn train` process: SIGTERM and SIGHUP stop it with exit 143 and
  129 and a saved checkpoint; while it runs, a second run into its folder is
  refused with a message naming the folder and its process; `kill -9` leaves a
  stale lock that the next run detects and takes over.
* The run folder: another run's checkpoint is never replaced unless asked
  (--resume of the same run, or --overwrite); the best checkpoint is kept
  beside the latest; an unwritable --out is found before training.
* Divergence never writes non-finite weights and names the last finite
  checkpoint; non-finite checkpoints are refused.
* Every command-line error path prints one line, exits 2 (1 for
  divergence) and leaves the files already in the folder byte-identical.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import rnn.train as train_mod
from rnn.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from rnn.cli import main
from rnn.progress import Interrupted
from rnn.run_folder import LOCK_NAME
from rnn.train import TrainConfig, TrainingDiverged, train

from processes import default_signals, env, rnn_process

TEXT = ("the quick brown fox jumps over the lazy dog.\n"
        "she sells sea shells by the sea shore; so it goes.\n") * 26
TINY = dict(hidden=8, seq_len=8, batch=4, eval_every=3, sample_every=0, checkpoint_every=2,
            dtype="float64")
TINY_ARGS = ["--hidden", "8", "--seq-len", "8", "--batch", "4", "--sample-every", "0",
             "--no-progress"]
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


def quiet(out, **kw):
    return TrainConfig(**{**TINY, "out": str(out), **kw})


def run(out, steps, resume=None, **kw):
    return train(quiet(out, steps=steps, **kw), text=TEXT, progress=False, resume=resume,
                 log=lambda *a: None)


def files(folder) -> dict:
    """Every file of a folder and its bytes."""
    return {p.name: p.read_bytes() for p in Path(folder).iterdir()}


def assert_clean(folder):
    names = sorted(os.listdir(folder))
    assert not [n for n in names if n.endswith(".tmp") or n == LOCK_NAME], names


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


@pytest.fixture
def default_handlers():
    """Python's own handlers for the three signals, whatever pytest inherited
    (a background job starts with SIGINT ignored, nohup with SIGHUP ignored)."""
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    yield
    for s, h in previous.items():
        signal.signal(s, h)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """Twelve steps without interruption: what every resumed run must reproduce."""
    return run(tmp_path_factory.mktemp("straight"), 12)


def _kill_during(monkeypatch, target, name, at_calls, sig, times=1):
    """Send ``sig`` (``times`` times) to this process during the given calls of ``target.name``."""
    real, calls = getattr(target, name), []

    def wrapper(*a, **kw):
        calls.append(1)
        if len(calls) in at_calls:
            for _ in range(times):
                os.kill(os.getpid(), sig)  # handled before the next bytecode: inside the call
        return real(*a, **kw)

    monkeypatch.setattr(target, name, wrapper)


# ---------------------------------------------------------------- signals, in process

@pytest.mark.parametrize("where", ["mid-step", "mid-save"])
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_stops_after_the_step_saves_and_resumes_bit_identically(
        tmp_path, monkeypatch, default_handlers, straight, sig, where):
    if where == "mid-step":  # during the 5th step's forward/backward pass
        _kill_during(monkeypatch, train_mod, "loss_and_grads", {5}, sig)
    else:  # while the checkpoint of step 2 is being written
        _kill_during(monkeypatch, np, "savez", {1}, sig)
    messages = []
    r = train(quiet(tmp_path, steps=12), text=TEXT, progress=False, log=messages.append)
    monkeypatch.undo()
    assert r.interrupted and r.signal == sig and r.step == (5 if where == "mid-step" else 2)
    assert any("stopping after this step" in m for m in messages)
    assert load_checkpoint(r.checkpoint).step == r.step  # complete and loadable
    assert_clean(tmp_path)
    assert all(signal.getsignal(s) is not None for s in SIGNALS)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers restored
    resumed = run(tmp_path, 12 - r.step, resume=r.checkpoint)
    assert resumed.step == 12
    assert_same_weights(resumed.params, straight.params)
    assert resumed.best_val_loss == straight.best_val_loss


def test_a_decaying_learning_rate_resumes_on_the_same_line(tmp_path, monkeypatch,
                                                           default_handlers):
    """--lr-decay linear: interrupted at step 5 of 12 and resumed for the 7 left, the run
    continues the same line (the checkpoint holds where it started and ends) and ends
    bit-identical to 12 steps straight; resumed for more steps, it draws a new line
    from where the rate stood."""
    straight_decay = run(tmp_path / "straight", 12, lr_decay="linear")
    _kill_during(monkeypatch, train_mod, "loss_and_grads", {5}, signal.SIGTERM)
    r = run(tmp_path / "split", 12, lr_decay="linear")
    monkeypatch.undo()
    assert r.interrupted and r.step == 5
    saved = load_checkpoint(r.checkpoint).extra["lr_decay"]
    np.testing.assert_array_equal(saved, [(12 - 4) / 12, 0, 12, 1.0])  # step 5 ran at 8/12
    shutil.copytree(tmp_path / "split", tmp_path / "split-longer")
    resumed = run(tmp_path / "split", 7, resume=r.checkpoint, lr_decay="linear")
    assert resumed.step == 12
    assert_same_weights(resumed.params, straight_decay.params)
    seen, real = [], train_mod.train_step

    def spy(params, optimizer, *a, **kw):
        seen.append(optimizer.lr)
        return real(params, optimizer, *a, **kw)

    monkeypatch.setattr(train_mod, "train_step", spy)
    longer = run(tmp_path / "split-longer", 10, lr_decay="linear",
                 resume=str(tmp_path / "split-longer" / "checkpoint.npz"))
    assert longer.step == 15  # a new line from step 5 (rate 8/12 of lr) to 0 after step 15
    lr = TINY.get("lr") or 2e-3
    assert seen == pytest.approx([lr * 8 / 12 * (10 - k) / 10 for k in range(10)], rel=1e-14)
    # its budget spent, the run saved a fresh start: more steps begin at the full rate
    np.testing.assert_array_equal(load_checkpoint(longer.checkpoint).extra["lr_decay"],
                                  [1.0, -1, -1, 1.0])
    seen.clear()
    run(tmp_path / "split-longer", 4, lr_decay="linear", resume=longer.checkpoint)
    assert seen == pytest.approx([lr * (4 - k) / 4 for k in range(4)], rel=1e-14)


def test_a_second_signal_mid_save_stops_after_the_save(tmp_path, monkeypatch, default_handlers):
    # the first SIGTERM in step 3; the second while the final checkpoint is written
    _kill_during(monkeypatch, train_mod, "loss_and_grads", {3}, signal.SIGTERM)
    _kill_during(monkeypatch, np, "savez", {2}, signal.SIGTERM)  # best.npz, then checkpoint.npz
    with pytest.raises(Interrupted) as e:
        run(tmp_path, 12, eval_every=0, checkpoint_every=0)
    monkeypatch.undo()
    assert e.value.signum == signal.SIGTERM and "after the save" in str(e.value)
    assert load_checkpoint(tmp_path / "checkpoint.npz").step == 3  # the save finished
    assert_clean(tmp_path)


def test_a_second_signal_mid_step_stops_at_once(tmp_path, monkeypatch, default_handlers):
    _kill_during(monkeypatch, train_mod, "loss_and_grads", {5}, signal.SIGHUP, times=2)
    with pytest.raises(Interrupted, match="SIGHUP again"):
        run(tmp_path, 12)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "checkpoint.npz").step == 4  # the periodic one, intact
    assert_clean(tmp_path)


def test_ignored_signals_stay_ignored(tmp_path, monkeypatch, default_handlers):
    # nohup ignores SIGHUP: a run started under it must keep running when the terminal closes
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _kill_during(monkeypatch, train_mod, "loss_and_grads", {2}, signal.SIGHUP)
    r = run(tmp_path, 4)
    assert not r.interrupted and r.step == 4
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN


def test_ctrl_c_during_start_up_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys,
                                                              default_handlers):
    from rnn.run_state import Corpus
    _kill_during(monkeypatch, Corpus, "prepare", {1}, signal.SIGINT)
    data = tmp_path / "in.txt"
    data.write_text(TEXT)
    rc = main(["train", "--data", str(data), "--out", str(tmp_path / "run"), *TINY_ARGS])
    err = capsys.readouterr().err
    assert rc == 130 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "Ctrl-C" in err and "nothing was saved" in err
    assert not (tmp_path / "run").exists()  # no lock, no checkpoint, not even the folder


# ---------------------------------------------------------------- signals and locks, real processes

def _start(args):
    p = rnn_process(*args, start_new_session=True)  # not in pytest's process group
    for line in p.stdout:  # wait until training has started
        if line.startswith("model:"):
            return p
    p.kill()
    raise AssertionError(p.stderr.read())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP],
                         ids=lambda s: signal.Signals(s).name)
def test_a_running_process_holds_its_folder_and_saves_on_a_signal(tmp_path, capsys, sig):
    data = tmp_path / "in.txt"
    data.write_text(TEXT)
    out = tmp_path / "run"
    p = _start(["train", "--data", str(data), "--minutes", "5", "--out", str(out), *TINY_ARGS])
    try:
        # a second run into the same folder is refused, naming the folder and the process
        rc = main(["train", "--data", str(data), "--steps", "2", "--out", str(out), *TINY_ARGS])
        line = capsys.readouterr().err.strip()
        assert rc == 2 and len(line.splitlines()) == 1 and "Traceback" not in line
        assert str(out) in line and f"pid {p.pid}" in line and "in use" in line
        time.sleep(0.3)
        p.send_signal(sig)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr and "checkpoint saved to" in stdout
    assert f"{signal.Signals(sig).name}: stopping after this step" in stdout
    ckpt = load_checkpoint(out / "checkpoint.npz")
    assert ckpt.step > 0
    assert_clean(out)
    # and the run continues exactly: its resumption equals one uninterrupted run
    cfg = dict(hidden=8, seq_len=8, batch=4, sample_every=0, data=str(data))
    straight = train(TrainConfig(**cfg, steps=ckpt.step + 3, out=str(tmp_path / "straight")),
                     progress=False, log=lambda *a: None)
    resumed = train(TrainConfig(steps=3, out=str(out)), resume=str(out / "checkpoint.npz"),
                    progress=False, log=lambda *a: None)
    assert_same_weights(resumed.params, straight.params)


def test_a_killed_process_leaves_a_stale_lock_that_the_next_run_takes_over(tmp_path):
    data = tmp_path / "in.txt"
    data.write_text(TEXT)
    out = tmp_path / "run"
    p = _start(["train", "--data", str(data), "--minutes", "5", "--out", str(out), *TINY_ARGS])
    p.kill()  # SIGKILL: no handler runs, the lock file stays
    p.communicate(timeout=60)
    assert (out / LOCK_NAME).exists()
    (out / ".checkpoint.npz.x1y2z3.tmp").write_bytes(b"PK half a checkpoint")  # as if mid-save
    messages = []
    r = train(quiet(out, steps=2), text=TEXT, progress=False, log=messages.append)
    assert r.step == 2
    assert any(f"pid {p.pid}" in m and "no longer running" in m for m in messages)
    assert any(".checkpoint.npz.x1y2z3.tmp" in m for m in messages)
    assert_clean(out)


# `python -m rnn ARGS`, after telling the test that Python itself has started
RNN_AFTER_READY = ("import runpy, sys; sys.argv = ['rnn', *sys.argv[1:]]; print('ready', flush=True);"
                   " runpy.run_module('rnn', run_name='__main__', alter_sys=True)")


@pytest.mark.parametrize("delay", [0.1, 0.2])
def test_ctrl_c_at_any_moment_of_start_up_is_one_line(tmp_path, delay):
    # whether it lands while NumPy is imported, the options parsed or the corpus read
    data = tmp_path / "in.txt"
    data.write_text(TEXT * 10_000)  # 25 MB: reading it takes a few tenths of a second
    p = subprocess.Popen([sys.executable, "-c", RNN_AFTER_READY, "train", "--data", str(data),
                          "--out", str(tmp_path / "run")], env=env(), text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=default_signals)
    assert p.stdout.readline() == "ready\n"
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("rnn: error: "), err
    assert not (tmp_path / "run").exists()


def test_cli_does_not_import_numpy_before_main():
    # so Ctrl-C at start-up lands in rnn.cli.main, which reports it in one line
    code = "import sys, rnn.cli; print('numpy' in sys.modules)"
    p = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True,
                       timeout=60)
    assert p.stdout.strip() == "False", p.stderr


# ---------------------------------------------------------------- the run folder

def test_best_checkpoint_is_kept_beside_the_latest(tmp_path, monkeypatch):
    real, calls = train_mod.evaluate, []

    def scripted(params, val_ids, *a):  # validation losses 5, 3, 4, 3.5 at steps 0, 3, 6, 9
        calls.append(real(params, val_ids, *a))
        return [5.0, 3.0, 4.0, 3.5][len(calls) - 1]

    monkeypatch.setattr(train_mod, "evaluate", scripted)
    r = run(tmp_path, 9)
    assert r.best_checkpoint == str(tmp_path / "best.npz") and r.best_val_loss == 3.0
    best, latest = load_checkpoint(r.best_checkpoint), load_checkpoint(r.checkpoint)
    assert best.step == 3 and latest.step == 9
    assert float(best.extra["best_val_loss"]) == float(latest.extra["best_val_loss"]) == 3.0


def test_another_runs_checkpoint_is_not_replaced(tmp_path):
    first = run(tmp_path, 3)
    before = files(tmp_path)
    with pytest.raises(ValueError, match=r"holds checkpoint.npz, the checkpoint of another run "
                                         r"\(step 3\); continue that run with --resume .*--overwrite"):
        run(tmp_path, 3, seed=1)
    assert files(tmp_path) == before
    # resuming the run is allowed, from its latest or its best checkpoint
    assert run(tmp_path, 2, resume=first.checkpoint).step == 5
    best_step = load_checkpoint(first.best_checkpoint).step
    assert run(tmp_path, 1, resume=first.best_checkpoint).step == best_step + 1
    # a resumed run may not overwrite a third run's folder either
    other = tmp_path / "other"
    run(other, 2)
    with pytest.raises(ValueError, match="another run"):
        run(other, 1, resume=first.checkpoint)
    # unless asked
    r = train(quiet(other, steps=1), text=TEXT, progress=False, overwrite=True,
              log=lambda *a: None)
    assert r.step == 1 and load_checkpoint(other / "checkpoint.npz").step == 1


def test_unwritable_out_is_found_before_training(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(train_mod, "train_step", lambda *a, **k: calls.append(1))
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ValueError, match=r"output folder .*a-file/run' cannot be written"):
        run(tmp_path / "a-file" / "run", 5)
    real_open = os.open

    def no_write(path, flags, *a):
        if str(path).endswith(LOCK_NAME):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *a)

    monkeypatch.setattr(os, "open", no_write)
    with pytest.raises(ValueError, match=r"cannot be written \(Permission denied\)"):
        run(tmp_path / "ro", 5)
    assert calls == []  # not one step was taken


# ---------------------------------------------------------------- divergence and non-finite weights

def test_an_update_that_overflows_writes_nothing_and_names_the_last_finite_checkpoint(
        tmp_path, monkeypatch):
    from rnn.optim import SGD
    r = run(tmp_path, 4, optim="sgd", lr=1e-3)
    before = files(tmp_path)
    real = SGD._update

    def overflowing(self, key, p, g):  # the gradients are finite; the update of step 5 is not
        with np.errstate(invalid="ignore", over="ignore"):
            real(self, key, p, g * np.inf)

    monkeypatch.setattr(SGD, "_update", overflowing)
    with pytest.raises(TrainingDiverged) as e:
        run(tmp_path, 3, resume=r.checkpoint)
    msg = str(e.value)
    assert "step 4: the update made a weight" in msg
    assert f"the last checkpoint, {r.checkpoint} (step 4), holds finite weights" in msg
    assert files(tmp_path) == before  # nothing written
    assert_clean(tmp_path)


def test_save_and_load_refuse_non_finite_weights(tmp_path):
    r = run(tmp_path / "a", 2)
    ck = load_checkpoint(r.checkpoint)
    params = dict(ck.params, W=np.full_like(ck.params["W"], np.nan))
    with pytest.raises(ValueError, match=r"params\['W'\] holds NaN"):
        save_checkpoint(tmp_path / "nan.npz", params=params, vocab=ck.vocab, config=ck.config,
                        step=2, optim_state=ck.optim_state, rng_state=ck.rng_state)
    assert not (tmp_path / "nan.npz").exists()
    # a NaN checkpoint written by something else is refused when loaded
    with np.load(r.checkpoint) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["param/W"][0, 0] = np.inf
    np.savez(tmp_path / "inf.npz", **arrays)
    with pytest.raises(CheckpointError, match=r"cannot be used: parameter 'W' holds NaN or "
                                              r"infinite"):
        load_checkpoint(tmp_path / "inf.npz")


# ---------------------------------------------------------------- resume rough edges

def test_resume_refuses_a_missing_optimiser_moment(tmp_path):
    r = run(tmp_path / "a", 3)
    ck = load_checkpoint(r.checkpoint)
    optim = {k: v for k, v in ck.optim_state.items() if k != "v/W"}
    save_checkpoint(tmp_path / "b" / "checkpoint.npz", params=ck.params, vocab=ck.vocab,
                    config=ck.config, step=ck.step, optim_state=optim, rng_state=ck.rng_state,
                    extra=ck.extra)
    with pytest.raises(ValueError, match=r"cannot be resumed: .*v/W is missing"):
        run(tmp_path / "b", 1, resume=str(tmp_path / "b" / "checkpoint.npz"))


def test_data_path_is_stored_absolute_and_a_changed_file_is_named(tmp_path, monkeypatch):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "in.txt").write_text(TEXT)
    monkeypatch.chdir(tmp_path / "d")
    r = train(quiet("../run", steps=2, data="in.txt"), progress=False, log=lambda *a: None)
    assert load_checkpoint(r.checkpoint).config["data"] == str(tmp_path / "d" / "in.txt")
    monkeypatch.chdir(tmp_path)  # resume from another folder: the stored path still works
    assert train(TrainConfig(steps=1, out="run"), resume="run/checkpoint.npz", progress=False,
                 log=lambda *a: None).step == 3
    (tmp_path / "d" / "in.txt").write_text(TEXT.upper())
    with pytest.raises(ValueError, match=r"training text \(.*d/in.txt \(2,4\d\d characters\)\) is "
                                         r"not the text the checkpoint run/checkpoint.npz"):
        train(TrainConfig(steps=1, out="run"), resume="run/checkpoint.npz", progress=False,
              log=lambda *a: None)
    # the same text at a new path is found with --data
    (tmp_path / "moved.txt").write_text(TEXT)
    r = train(TrainConfig(steps=1, out="run", data="moved.txt"), resume="run/checkpoint.npz",
              progress=False, log=lambda *a: None)
    assert r.step == 4 and r.config.data == str(tmp_path / "moved.txt")


# ---------------------------------------------------------------- every CLI error path

def _error_cases(tmp_path, folder, data, ckpt):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    bad = tmp_path / "crafted.npz"
    bad.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    out = ["--out", str(folder)]
    new = ["train", "--data", str(data), "--steps", "2", *TINY_ARGS]
    return {
        "another run's folder": (new + out, 2, "another run"),
        "folder in use": (None, 2, "in use"),  # filled in by the test
        "model option on resume": (["train", "--resume", str(ckpt), "--hidden", "9"], 2, "--hidden"),
        "other text on resume": (["train", "--resume", str(ckpt), "--data", str(tmp_path / "b.txt"),
                                  "--steps", "1"], 2, "not the text"),
        "/dev/zero as data": (new[:2] + ["/dev/zero"] + new[3:] + out + ["--overwrite"], 2,
                              "character device"),
        "FIFO as data": (new[:2] + [str(fifo)] + new[3:] + out + ["--overwrite"], 2, "FIFO"),
        "FIFO as checkpoint": (["sample", str(fifo)], 2, "FIFO"),
        "crafted checkpoint": (["sample", str(bad)], 2, "is not an rnn checkpoint"),
        "resume a crafted checkpoint": (["train", "--resume", str(bad)] + out, 2,
                                        "is not an rnn checkpoint"),
        "hidden 1e9": (new + ["--hidden", "1000000000"] + out + ["--overwrite"], 2,
                       "more than the"),
        "layers 1e9": (new + ["--layers", "1000000000"] + out + ["--overwrite"], 2,
                       "more than the"),
        "batch 1e9, random windows": (new + ["--batch", "1000000000", "--batching", "random"]
                                      + out + ["--overwrite"], 2, "more than the"),
        "seq-len 1e9": (new + ["--seq-len", "1000000000"] + out + ["--overwrite"], 2,
                        "too short"),
        "val-fraction 1e-9": (new + ["--val-fraction", "1e-9"] + out + ["--overwrite"], 2,
                              "too short"),
        "out is a file": (new + ["--out", str(data)], 2, "cannot be written"),
        "diverged": (new + ["--steps", "300", "--optim", "sgd", "--lr", "3000", "--clip", "0"]
                     + out + ["--overwrite"], 1, "diverged"),
        "overflowing update": (new + ["--lr", "1e300", "--dtype", "float32"] + out
                               + ["--overwrite"], 1, "the update made a weight"),
    }


@pytest.mark.filterwarnings("error")  # a warning would be a second line on stderr
def test_every_cli_error_is_one_line_and_leaves_files_byte_identical(tmp_path, capsys):
    data = tmp_path / "in.txt"
    data.write_text(TEXT)
    (tmp_path / "b.txt").write_text(TEXT.upper())
    folder = tmp_path / "run"
    assert main(["train", "--data", str(data), "--steps", "3", "--out", str(folder),
                 *TINY_ARGS]) == 0
    ckpt = folder / "checkpoint.npz"
    before = files(folder)
    capsys.readouterr()
    cases = _error_cases(tmp_path, folder, data, ckpt)
    from rnn.run_folder import RunFolder
    holder = RunFolder(str(folder)).acquire()  # as if another process held the folder
    try:
        cases["folder in use"] = (["train", "--data", str(data), "--steps", "1", "--out",
                                   str(folder), "--overwrite", *TINY_ARGS], 2, "in use")
        rc = main(cases.pop("folder in use")[0])
        assert rc == 2 and "in use" in capsys.readouterr().err
    finally:
        holder.release()
    assert files(folder) == before
    for name, (args, code, words) in cases.items():
        rc = main(args)
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert rc == code, (name, err)
        assert len(lines) == 1 and lines[0].startswith("rnn: error: "), (name, err)
        assert words in lines[0] and "Traceback" not in err, (name, err)
        assert files(folder) == before, name  # nothing the user saved was touched


def test_the_lazy_package_exports_every_name_and_module():
    import importlib
    import pkgutil

    import rnn
    for name in rnn.__all__:
        assert getattr(rnn, name) is not None, name
    modules = {m.name for m in pkgutil.iter_modules(rnn.__path__)
               if not m.name.startswith("_")}
    assert modules == rnn._SUBMODULES
    for name in modules:
        assert getattr(rnn, name) is importlib.import_module(f"rnn.{name}")
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        rnn.nope


def test_overwrite_leaves_no_file_of_the_other_run(tmp_path, monkeypatch, default_handlers):
    run(tmp_path, 6)  # another run: checkpoint.npz and best.npz
    # the new run is stopped during its first evaluation, so it never writes a best.npz
    _kill_during(monkeypatch, train_mod, "evaluate", {1}, signal.SIGTERM)
    r = train(quiet(tmp_path, steps=5, seed=1), text=TEXT, progress=False, overwrite=True,
              log=lambda *a: None)
    monkeypatch.undo()
    assert r.interrupted and r.step == 0 and r.best_checkpoint is None
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz"]  # the other run's best.npz is gone
    assert run(tmp_path, 2, resume=r.checkpoint).step == 2  # and the run resumes in its folder
