"""python -m rnn.demos: each task runs from the command line and reports its accuracy;
bad arguments exit with status 2."""

import re
import subprocess
import sys

import pytest

from rnn.demos import main


@pytest.mark.parametrize("argv, reported", [
    (["parity", "--steps", "3", "--max-len", "4"], r"accuracy \d+\.\d%"),
    (["tagging", "--steps", "3", "--forwards-only"], r"accuracy \d+\.\d% of the steps"),
    (["reverse", "--steps", "3", "--max-len", "3", "--attention", "--cell", "lstm"],
     r"exact reversals by length, 1: \d+%, 2: \d+%, 3: \d+%"),
])
def test_each_task_runs_and_reports(argv, reported, capsys):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^{argv[0]}: 3 steps in \d+\.\d s, loss \d\.\d+ -> \d\.\d+; " + reported, out)


@pytest.mark.parametrize("argv", [[], ["parity", "--steps", "0"], ["parity", "--cell", "tcn"],
                                  ["reverse", "--hidden", "x"]])
def test_bad_arguments_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "error" in capsys.readouterr().err


def test_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "rnn.demos", "parity", "--steps", "2"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("parity: 2 steps")
