"""Vanilla RNN, LSTM and GRU trained on the default corpus with the same
number of parameters and the same wall-clock time.

Each cell gets the hidden size H that brings its parameter count closest to
a common budget (by default the count of an LSTM with H = 64 on the default
corpus, about 38,000), then ``rnn.train.train`` trains it for ``--seconds``
with the same data, optimiser, window and batch. The script prints a table
(validation loss in nats and bits per character, steps, tokens per second),
a sample from each model, and, with ``--plot PATH``, saves a PNG of the
validation loss against time and against steps (needs matplotlib).

    python benchmarks/compare_cells.py                        # 120 s per cell
    python benchmarks/compare_cells.py --seconds 20 --plot compare.png
    python benchmarks/compare_cells.py --params 100000        # a larger budget

The documentation page "Comparing the cells" (docs/notebooks/compare-cells.py)
runs the same experiment with 14 s per cell at every docs build.

``--threads`` (default 1) limits NumPy's BLAS threads as ``rnn train`` does
(``train_budget.limit_threads``): the matrices are small (B x H by H x 4H at
most), and a second BLAS thread gains little on an idle machine but costs a
lot when other processes compete for the cores.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import train_budget  # same folder: setup_path, limit_threads

CELLS = ("rnn", "lstm", "gru")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=120.0,
                   help="wall-clock training budget per cell (default 120)")
    p.add_argument("--params", type=int, default=None,
                   help="parameter budget per model (default: that of an LSTM with H = 64)")
    p.add_argument("--cells", default=",".join(CELLS),
                   help="comma-separated cells to train (default rnn,lstm,gru)")
    p.add_argument("--seq-len", type=int, default=64, help="window length T (default 64)")
    p.add_argument("--batch", type=int, default=32, help="batch size B (default 32)")
    p.add_argument("--eval-every", type=int, default=None,
                   help="steps between validation measurements (default: 4 per "
                        "second of budget, at least 25; with 40 to 90 steps/s that "
                        "is 10 to 20 measurements per cell, whatever the budget)")
    p.add_argument("--val-fraction", type=float, default=0.01,
                   help="last fraction of the corpus held out for validation (default 0.01)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads, as `rnn train --threads` (default 1; 0: leave as is)")
    p.add_argument("--plot", default=None, help="write a PNG of the loss curves to this path")
    p.add_argument("--sample-length", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    args.cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    bad = [c for c in args.cells if c not in CELLS]
    if bad or not args.cells:
        p.error(f"--cells must be a comma-separated subset of {','.join(CELLS)}, got {bad or args.cells}")
    if not args.seconds > 0:
        p.error(f"--seconds must be > 0, got {args.seconds}")
    return args


def train_cell(cell, H, text, args, eval_every):
    from rnn.train import TrainConfig, train

    cfg = TrainConfig(cell=cell, hidden=H, minutes=args.seconds / 60, seq_len=args.seq_len,
                      batch=args.batch, val_fraction=args.val_fraction, eval_every=eval_every,
                      sample_every=0, checkpoint_every=0, dtype=args.dtype, seed=args.seed,
                      out=tempfile.mkdtemp(prefix=f"rnn-compare-{cell}-"))
    return train(cfg, text=text, progress=False, log=lambda msg: print("   ", msg, flush=True))


def plot(results, path):
    try:
        import matplotlib
    except ImportError:
        print(f"matplotlib is not installed: no plot written to {path}")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_s) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for cell, (H, count, r) in results.items():
        steps = [row.step for row in r.history]
        val = [row.val_loss for row in r.history]
        elapsed = [row.elapsed for row in r.history]
        label = f"{cell} (H = {H}, {count:,} parameters)"
        ax_t.plot(elapsed, val, marker=".", label=label)
        ax_s.plot(steps, val, marker=".", label=label)
    ax_t.set_xlabel("wall-clock time (s)")
    ax_s.set_xlabel("training steps")
    ax_t.set_ylabel("validation loss (nats/char)")
    for ax in (ax_t, ax_s):
        ax.grid(alpha=0.3)
    ax_s.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def main(argv=None):
    args = parse_args(argv)
    train_budget.setup_path()
    threads = train_budget.limit_threads(args.threads)
    from rnn.corpus import default_corpus
    from rnn.data import Vocab
    from rnn.model import count_params, hidden_for_budget, init_params
    from rnn.sample import sample

    text, description = default_corpus()
    K = Vocab.from_text(text).size
    budget = args.params if args.params is not None else count_params(init_params(K, 64, cell="lstm"))
    sizes = {cell: hidden_for_budget(K, budget, cell=cell) for cell in args.cells}
    eval_every = args.eval_every or max(25, round(args.seconds * 4))
    print(f"corpus: {description}, K = {K}")
    print(f"budget: {budget:,} parameters; {args.seconds:g} s per cell; T = {args.seq_len}, "
          f"B = {args.batch}, {args.dtype}, adam, validation = last {args.val_fraction:g} of the "
          f"corpus, measured every {eval_every} steps; {threads}")
    results = {}
    for cell in args.cells:
        H, count = sizes[cell]
        print(f"\n== {cell}: H = {H}, {count:,} parameters", flush=True)
        results[cell] = (H, count, train_cell(cell, H, text, args, eval_every))
        if hasattr(os, "getloadavg"):
            print(f"    load average (1 min) after this run: {os.getloadavg()[0]:.2f}")

    print()
    header = (f"{'cell':<5} {'H':>4} {'params':>8} {'steps':>7} {'tokens/s':>9} {'time (s)':>9} "
              f"{'val nats/char':>14} {'val bits/char':>14}")
    print(header)
    print("-" * len(header))
    for cell, (H, count, r) in results.items():
        print(f"{cell:<5} {H:>4} {count:>8,} {r.step:>7,} {r.history[-1].tokens_per_s:>9,.0f} "
              f"{r.history[-1].elapsed:>9.1f} {r.val_loss:>14.4f} {r.val_loss / math.log(2):>14.4f}")
    for cell, (H, count, r) in results.items():
        txt = sample(r.params, r.vocab, args.sample_length, prime="\n", temperature=0.8, seed=args.seed)
        print(f"\n---- {cell} sample (temperature 0.8, seed {args.seed}) ----\n{txt}")
    if args.plot:
        print()
        plot(results, args.plot)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"\ntotal time {time.perf_counter() - start:.0f} s")
