"""Running the `rnn` command in a child process for the tests.

The child gets ``src`` on its path and the default action for SIGINT,
SIGTERM and SIGHUP, whatever the test process inherited: a background job
starts with SIGINT ignored and ``nohup`` ignores SIGHUP, and `rnn train`
keeps ignoring a signal that was ignored when it started (as nohup promises).
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")


def env() -> dict:
    return {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}


def default_signals():
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_DFL)


def rnn_process(*args, **kw) -> subprocess.Popen:
    """``python -m rnn ARGS`` started with text pipes for stdout and stderr."""
    return subprocess.Popen([sys.executable, "-m", "rnn", *args], env=env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=default_signals, **kw)
