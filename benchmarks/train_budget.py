"""Train the default model on the default corpus for a fixed wall-clock budget.

Prints the validation loss (nats and bits per character, measured by
rnn.train.evaluate on the held-out end of the corpus), the training
throughput in tokens per second, and a sample.

    python benchmarks/train_budget.py                 # 180 s, the defaults of `rnn train`
    python benchmarks/train_budget.py --seconds 60 --dtype float64
    python benchmarks/train_budget.py --threads 0     # leave NumPy's BLAS threads alone

``--threads N`` limits NumPy's BLAS to N threads with rnn.cli.limit_blas_threads,
as `rnn train` does (default 1). The matrices of this model are small
(B x H by H x H), so extra BLAS threads gain little on an idle machine and
lose a lot when other processes compete for the cores.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path


def parse_args(argv=None, description=__doc__):
    p = argparse.ArgumentParser(description=description.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=180.0, help="training budget (default 180)")
    p.add_argument("--dtype", choices=["float32", "float64"], default=None,
                   help="override the default dtype of TrainConfig")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads, as `rnn train --threads` (default 1; 0: leave as is)")
    p.add_argument("--sample-length", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def limit_threads(n):
    """Limit BLAS threads like `rnn train`; return a description for the report."""
    if not n:
        return "BLAS threads left as they are"
    from rnn.cli import limit_blas_threads

    return f"BLAS threads {n}" if limit_blas_threads(n) else "BLAS threads: could not be set"


def setup_path():
    src = str(Path(__file__).resolve().parents[1] / "src")
    if src not in sys.path:
        sys.path.insert(0, src)


def run_default(seconds, dtype=None, seed=0, log=print):
    """Train ``TrainConfig()`` (the `rnn train` defaults) for ``seconds``; return the result."""
    import dataclasses

    from rnn.train import TrainConfig, train

    cfg = TrainConfig(minutes=seconds / 60, out=tempfile.mkdtemp(prefix="rnn-bench-"),
                      sample_every=0, seed=seed)
    if dtype is not None:
        cfg = dataclasses.replace(cfg, dtype=dtype)
    return train(cfg, progress=False, log=log)


def report(name, val_loss, tokens_per_s, steps, seconds):
    print(f"{name}: {steps:,} steps in {seconds:.0f} s, {tokens_per_s:,.0f} tokens/s; "
          f"validation loss {val_loss:.4f} nats/char = {val_loss / math.log(2):.4f} bits/char")


def main(argv=None):
    args = parse_args(argv)
    setup_path()
    threads = limit_threads(args.threads)
    from rnn.sample import sample

    r = run_default(args.seconds, args.dtype, args.seed)
    c = r.config
    elapsed = r.history[-1].elapsed
    print()
    report(f"default model ({c.cell} x{c.layers}, H={c.hidden}, T={c.seq_len}, B={c.batch}, "
           f"{c.optim}, {c.dtype}; {threads})",
           r.val_loss, r.history[-1].tokens_per_s, r.step, elapsed)
    print(f"\nsample (temperature 0.8, seed {args.seed}):\n")
    print(sample(r.params, r.vocab, args.sample_length, prime="\n", temperature=0.8, seed=args.seed))


if __name__ == "__main__":
    main()
