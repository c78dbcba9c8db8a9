"""Tests of the command line (rnn.cli, python -m rnn): help, a tiny end-to-end
train/sample/resume, reproducible sampling, Ctrl-C, and one-line errors."""

import os
import signal
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from rnn.checkpoint import load_checkpoint
from rnn.cli import main

from processes import env, rnn_process

TEXT = ("ROMEO: but soft, what light through yonder window breaks?\n"
        "JULIET: o romeo, romeo, wherefore art thou romeo?\n") * 30
TINY = ["--hidden", "16", "--seq-len", "8", "--batch", "4", "--no-progress", "--sample-every", "0",
        "--eval-every", "0"]


def rnn_cmd(*args, **kw):
    kw.setdefault("env", env())
    return subprocess.run([sys.executable, "-m", "rnn", *args], capture_output=True, text=True,
                          timeout=120, **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    data = d / "input.txt"
    data.write_text(TEXT, encoding="utf-8")
    assert main(["train", "--data", str(data), "--steps", "40", "--out", str(d / "run"), *TINY]) == 0
    return data, d / "run" / "checkpoint.npz"


def sample_out(capsys, *args):
    capsys.readouterr()
    rc = main(["sample", *map(str, args)])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return out.out


def assert_one_line_error(rc, err):
    assert rc != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnn: error: "), err
    return lines[0]


# ---------------------------------------------------------------- help

def test_python_m_rnn_help():
    p = rnn_cmd("--help")
    assert p.returncode == 0 and "train" in p.stdout and "sample" in p.stdout and "export" in p.stdout
    p = rnn_cmd("train", "--help")
    assert p.returncode == 0
    for opt in ("--data", "--cell", "--layers", "--hidden", "--seq-len", "--batch", "--steps",
                "--minutes", "--lr", "--optim", "--clip", "--seed", "--out", "--resume"):
        assert opt in p.stdout
    p = rnn_cmd("sample", "--help")
    for opt in ("--length", "--temperature", "--top-k", "--prime", "--seed", "--greedy", "--beam"):
        assert opt in p.stdout


@pytest.mark.parametrize("page,command", [("train-your-own.md", "train"),
                                          ("train-your-own.md", "sample")])
def test_the_help_a_page_shows_is_the_commands(page, command):
    """The ```text block after ``$ rnn <command> --help`` on a page is what the command
    prints (at 80 columns), so that a new option cannot leave the page behind."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / page).read_text(encoding="utf-8")
    m = re.search(rf"\$ rnn {command} --help\n```\n+```text\n(.*?)```", text, re.S)
    assert m, f"{page}: no ```text block after '$ rnn {command} --help'"
    p = rnn_cmd(command, "--help", env={**env(), "COLUMNS": "80"})
    assert p.returncode == 0
    assert m.group(1) == p.stdout, (f"{page}: the help shown differs from `rnn {command} "
                                    f"--help`; paste its output (COLUMNS=80) into the page")


# ---------------------------------------------------------------- train / sample / resume

def test_train_writes_a_loadable_checkpoint(trained):
    data, ckpt = trained
    ck = load_checkpoint(ckpt)
    assert ck.step == 40 and ck.config["hidden"] == 16 and ck.config["data"] == str(data)
    assert "".join(ck.vocab.chars) == "".join(sorted(set(TEXT)))


def test_sample_same_seed_same_text(trained, capsys):
    _, ckpt = trained
    a = sample_out(capsys, ckpt, "--seed", 3, "--length", 80)
    assert a == sample_out(capsys, ckpt, "--seed", 3, "--length", 80)
    assert a != sample_out(capsys, ckpt, "--seed", 4, "--length", 80)
    assert len(a) == 81  # 80 characters and a final newline


def test_greedy_top_k_1_and_beam_1_agree(trained, capsys):
    _, ckpt = trained
    g = sample_out(capsys, ckpt, "--greedy", "--length", 60, "--prime", "ROMEO")
    assert g.startswith("ROMEO")
    assert g == sample_out(capsys, ckpt, "--greedy", "--length", 60, "--prime", "ROMEO")
    assert g == sample_out(capsys, ckpt, "--top-k", 1, "--seed", 9, "--length", 60, "--prime", "ROMEO")
    assert g == sample_out(capsys, ckpt, "--beam", 1, "--length", 60, "--prime", "ROMEO")


def test_sample_in_a_subprocess_is_reproducible(trained):
    _, ckpt = trained
    a = rnn_cmd("sample", str(ckpt), "--seed", "11", "--length", "40")
    b = rnn_cmd("sample", str(ckpt), "--seed", "11", "--length", "40")
    assert a.returncode == 0 and a.stdout == b.stdout and len(a.stdout) == 41


def test_resume_continues_the_step_count_in_the_same_folder(trained, tmp_path):
    data, ckpt = trained
    out = tmp_path / "copy"
    out.mkdir()
    copy = out / "checkpoint.npz"
    copy.write_bytes(ckpt.read_bytes())
    assert main(["train", "--resume", str(copy), "--steps", "5", "--no-progress"]) == 0
    assert load_checkpoint(copy).step == 45


def test_resume_refuses_model_options(trained, capsys):
    _, ckpt = trained
    rc = main(["train", "--resume", str(ckpt), "--hidden", "32"])
    line = assert_one_line_error(rc, capsys.readouterr().err)
    assert "--hidden" in line and "resum" in line


def test_ctrl_c_saves_and_exits_130(tmp_path):
    data = tmp_path / "input.txt"
    data.write_text(TEXT, encoding="utf-8")
    p = rnn_process("train", "--data", str(data), "--minutes", "1", "--out",
                    str(tmp_path / "run"), *TINY)
    try:
        for line in p.stdout:  # wait until the training loop has started
            if line.startswith("model:"):
                break
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130, err
    assert "checkpoint saved to" in out and "Traceback" not in err
    assert load_checkpoint(tmp_path / "run" / "checkpoint.npz").step > 0


def test_divergence_exits_1_with_one_line(tmp_path, capsys):
    data = tmp_path / "input.txt"
    data.write_text(TEXT, encoding="utf-8")
    rc = main(["train", "--data", str(data), "--steps", "300", "--optim", "sgd", "--lr", "3000",
               "--clip", "0", "--out", str(tmp_path / "run"), *TINY])
    line = assert_one_line_error(rc, capsys.readouterr().err)
    assert rc == 1 and "diverged" in line and "--lr" in line


# ---------------------------------------------------------------- errors

def _bad_files(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\u00e9 ".encode("latin-1") * 50)
    short = tmp_path / "short.txt"
    short.write_text("to be or not", encoding="utf-8")
    return {"missing": (tmp_path / "nope.txt", "does not exist"), "empty": (empty, "empty"),
            "non-utf8": (latin1, "UTF-8"), "directory": (tmp_path, "directory"),
            "too-short": (short, "too short")}


@pytest.mark.parametrize("case", ["missing", "empty", "non-utf8", "directory", "too-short"])
def test_bad_data_file(tmp_path, capsys, case):
    path, words = _bad_files(tmp_path)[case]
    rc = main(["train", "--data", str(path), "--steps", "1", "--out", str(tmp_path / "run"), *TINY])
    line = assert_one_line_error(rc, capsys.readouterr().err)
    assert rc == 2 and words in line and str(path) in line


def _corrupt(tmp_path, ckpt):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(os.urandom(300))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(ckpt.read_bytes()[:400])
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    return {"nonexistent": tmp_path / "nope.npz", "garbage": garbage, "truncated": truncated,
            "foreign": foreign}


@pytest.mark.parametrize("case", ["nonexistent", "garbage", "truncated", "foreign"])
def test_bad_checkpoint(trained, tmp_path, capsys, case):
    path = _corrupt(tmp_path, trained[1])[case]
    rc = main(["sample", str(path)])
    line = assert_one_line_error(rc, capsys.readouterr().err)
    assert rc == 2 and str(path) in line
    rc = main(["train", "--resume", str(path), "--steps", "1"])
    assert_one_line_error(rc, capsys.readouterr().err)


@pytest.mark.parametrize("args,words", [
    (["--temperature", "0"], "--temperature"),
    (["--temperature", "-1"], "--temperature"),
    (["--temperature", "abc"], "--temperature"),
    (["--temperature", "nan"], "--temperature"),
    (["--top-k", "0"], "--top-k"),
    (["--top-k", "1000"], "--top-k"),
    (["--length", "-3"], "--length"),
    (["--prime", "ROMEO\u00e9Q"], "'\u00e9'"),
    (["--greedy", "--beam", "2"], "--beam"),
])
def test_bad_sample_options(trained, capsys, args, words):
    rc = main(["sample", str(trained[1]), *args])
    line = assert_one_line_error(rc, capsys.readouterr().err)
    assert rc == 2 and words in line


def test_unknown_prime_characters_are_all_named(trained, capsys):
    rc = main(["sample", str(trained[1]), "--prime", "Zounds! Xerxes"])
    line = assert_one_line_error(rc, capsys.readouterr().err)
    for ch in "ZXx!":
        assert repr(ch) in line


@pytest.mark.parametrize("args", [
    ["train", "--steps", "5", "--minutes", "1"],
    ["train", "--hidden", "0"],
    ["train", "--cell", "transformer"],
    ["train", "--optim", "rmsprop"],
    ["train", "--bogus"],
    [],
])
def test_bad_train_options(capsys, args):
    rc = main(args)
    assert rc == 2
    assert_one_line_error(rc, capsys.readouterr().err)


def test_errors_in_a_subprocess_have_no_traceback(tmp_path):
    p = rnn_cmd("train", "--data", str(tmp_path / "missing.txt"))
    assert p.returncode == 2 and p.stderr.startswith("rnn: error: ") and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    p = rnn_cmd("sample", str(tmp_path / "missing.npz"), "--temperature", "-2")
    assert p.returncode == 2 and p.stderr.startswith("rnn: error: argument --temperature: expected a finite number > 0")


def test_threads_option_limits_numpys_openblas(trained, capsys):
    import ctypes
    import glob

    from rnn.cli import limit_blas_threads
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*"))
    getter = None
    for path in libs:
        getter = getattr(ctypes.CDLL(path), "scipy_openblas_get_num_threads64_", None) or getter
    if getter is None:
        pytest.skip("NumPy is not linked to its bundled scipy-openblas here")
    before = getter()
    try:
        assert limit_blas_threads(2) and getter() == 2
        sample_out(capsys, trained[1], "--length", 5, "--seed", 0, "--threads", 1)
        assert getter() == 1
    finally:
        limit_blas_threads(before)


# ---------------------------------------------------------------- truncation and initialisation flags

def test_truncation_and_init_flags_train(tmp_path, trained, capsys):
    data, _ = trained
    for flags in (["--truncation", "overlap", "--truncation-stride", "3"],
                  ["--truncation", "random", "--truncation-keep", "0.8"],
                  ["--init", "orthogonal", "--spectral-radius", "0.9"]):
        out = tmp_path / flags[1]
        assert main(["train", "--data", str(data), "--steps", "3", "--out", str(out), *TINY,
                     *flags]) == 0
        config = load_checkpoint(out / "checkpoint.npz").config
        assert config[flags[0][2:].replace("-", "_")] == flags[1]
    capsys.readouterr()
    rc = main(["train", "--data", str(data), "--steps", "3", "--out", str(tmp_path / "x"), *TINY,
               "--truncation", "overlap"])
    line = assert_one_line_error(rc, capsys.readouterr().err)
    assert "truncation='overlap' needs truncation_stride" in line
    rc = main(["train", "--data", str(data), "--steps", "3", "--out", str(tmp_path / "y"), *TINY,
               "--spectral-radius", "-1"])
    assert "--spectral-radius" in assert_one_line_error(rc, capsys.readouterr().err)


# ---------------------------------------------------------------- export

def test_export_writes_the_checkpoints_model(trained, tmp_path, capsys):
    from rnn.export import load_export

    _, ckpt = trained
    out = tmp_path / "model.bin"
    capsys.readouterr()
    assert main(["export", str(ckpt), str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out}: a 1-layer rnn model, H = 16, K = ") and "bytes" in printed
    ck, ex = load_checkpoint(ckpt), load_export(out)
    assert ex.vocab.chars == ck.vocab.chars and ex.meta["steps"] == 40
    assert ex.meta["config"]["hidden"] == 16
    for name, value in ck.params.items():
        np.testing.assert_array_equal(ex.params[name], value.astype(np.float32))


def test_export_keeps_what_exists(trained, tmp_path, capsys):
    _, ckpt = trained
    out = tmp_path / "model.bin"
    out.write_bytes(b"mine")
    line = assert_one_line_error(main(["export", str(ckpt), str(out)]), capsys.readouterr().err)
    assert "exists; pass --overwrite" in line and out.read_bytes() == b"mine"
    line = assert_one_line_error(main(["export", str(ckpt), str(ckpt), "--overwrite"]),
                                 capsys.readouterr().err)
    assert "is the checkpoint itself" in line
    assert main(["export", str(ckpt), str(out), "--overwrite"]) == 0
    assert out.read_bytes()[:4] == b"RNNM"
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a checkpoint")
    assert_one_line_error(main(["export", str(bad), str(tmp_path / "x.bin")]), capsys.readouterr().err)
    assert not (tmp_path / "x.bin").exists()
