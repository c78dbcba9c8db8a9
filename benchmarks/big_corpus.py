"""Memory and start-up time of `rnn train` on a big text file.

Writes a text file of ``--mb`` megabytes (the default corpus repeated,
every copy with its lines in another order), then runs, in a fresh process,
what `rnn train --data FILE --steps 1` does with the default options, and
prints:

* the peak memory of that process (its maximum resident set size) and the
  same above a process that has only imported rnn and NumPy, each as a
  multiple of the file's size (the target: at most 4x);
* the seconds from the start of train() to the corpus being ready and to
  the end of the first training step (the target: a few seconds).

    python benchmarks/big_corpus.py            # 100 MB
    python benchmarks/big_corpus.py --mb 20

Both processes run with one BLAS thread. Peak memory is the kernel's
``ru_maxrss`` of each child process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy, rnn.train as T
marks = {}
if sys.argv[1] == "baseline":
    print(json.dumps({}))
    raise SystemExit
real_step, real_prepare = T.train_step, T.Corpus.prepare
def step(*a, **k):
    out = real_step(*a, **k)
    marks.setdefault("first step", time.perf_counter() - t0)
    return out
def prepare(*a, **k):
    out = real_prepare(*a, **k)
    marks["corpus ready"] = time.perf_counter() - t0
    return out
T.train_step, T.Corpus.prepare = step, classmethod(lambda cls, *a, **k: prepare(*a, **k))
T.train(T.TrainConfig(data=sys.argv[1], steps=1, out=sys.argv[2]), progress=False,
        log=lambda m: None)
marks["whole run"] = time.perf_counter() - t0
print(json.dumps(marks))
"""


def write_text(path: Path, mb: int) -> int:
    sys.path.insert(0, SRC)
    from rnn.corpus import default_corpus

    lines = default_corpus()[0].splitlines(keepends=True)
    rng = random.Random(0)
    size = 0
    with open(path, "w", encoding="utf-8") as f:
        while size < mb * 10 ** 6:
            rng.shuffle(lines)
            chunk = "".join(lines)
            f.write(chunk)
            size += len(chunk.encode("utf-8"))
    return path.stat().st_size


def child(*args) -> tuple:
    env = {**os.environ, "PYTHONPATH": SRC, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, capture_output=True,
                       text=True, check=True)
    # the largest peak of the children so far (KiB on Linux): run the smaller child first
    return json.loads(p.stdout), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=100, help="size of the text file (default 100)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rnn-big-") as d:
        path = Path(d) / "big.txt"
        size = write_text(path, args.mb)
        # the baseline first: RUSAGE_CHILDREN reports the largest child so far
        _, base = child("baseline")
        marks, peak = child(str(path), str(Path(d) / "run"))
    print(f"text file: {size / 1e6:.1f} MB ({size:,} bytes)")
    print(f"peak memory of `rnn train --steps 1`: {peak / 1e6:,.0f} MB = {peak / size:.2f}x the "
          f"file (target <= 4x)")
    print(f"  above a process that only imported rnn and NumPy ({base / 1e6:.0f} MB): "
          f"{(peak - base) / 1e6:,.0f} MB = {(peak - base) / size:.2f}x the file")
    for what, seconds in marks.items():
        print(f"{what:>13}: {seconds:5.2f} s after start-up")


if __name__ == "__main__":
    main()
