"""Time to quality: the validation loss the package and PyTorch reach in the same time.

Each model trains for the same wall-clock budget (default 5 minutes) on one
thread, twice: with the package, exactly as ``rnn train`` runs it
(``rnn.train.train`` with the options below, evaluating, sampling and saving
checkpoints on its usual schedule, all inside the budget), and with torch's
standard modules (``speed.torch_model`` / ``speed.torch_trainer``: one-hot
input, ``nn.RNN``/``GRU``/``LSTM``, ``Linear``, ``cross_entropy``,
``clip_grad_value_``, ``Adam``) on the same corpus, split, stream batches,
initial weights (copied from the package's initialisation) and
hyperparameters, and the same validation passes inside its budget (every
``eval_every`` steps, as ``rnn train``; they use ``rnn.train.evaluate`` on
the torch weights). Both final models are scored by the same
``rnn.train.evaluate`` on the same validation text. Tokens per second count
training steps only, on both sides.

Models (``--models``, comma-separated):

* ``default``: the defaults of ``rnn train`` (vanilla RNN, H = 128, T = 64,
  B = 32, Adam 2e-3 held constant, gradients clipped to +-5, float32);
* ``decay``: the same with ``--lr-decay linear`` (the learning rate falls in
  a straight line to 0 at the end of the budget, on both sides);
* ``gru``: ``rnn train --cell gru --hidden 256 --lr-decay linear`` (the gated
  cell that does best in this budget);
* ``lstm``: ``rnn train --cell lstm --hidden 256 --lr-decay linear``.

    python benchmarks/time_to_quality.py                      # default, decay and gru, 5 min each side
    python benchmarks/time_to_quality.py --models lstm --minutes 2
    python benchmarks/time_to_quality.py --parallel           # both sides at once, one core each
    python benchmarks/time_to_quality.py --tiny               # a few seconds: proves it runs

``--parallel`` runs the package and torch at the same time, each in its own
process on one thread: half the wall-clock time on a two-core machine, and on
a machine that other programs keep busy both sides share the same conditions
(on a quiet one, run them one after the other, the default).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402  (same folder: torch_model, torch_trainer, params_from_torch)

MODELS = {"default": {}, "decay": {"lr_decay": "linear"},
          "gru": {"cell": "gru", "hidden": 256, "lr_decay": "linear"},
          "lstm": {"cell": "lstm", "hidden": 256, "lr_decay": "linear"}}
TINY_TEXT = "to be or not to be, that is the question. " * 200


def one_thread():
    """One BLAS thread for NumPy, one thread for torch (also in a worker process)."""
    speed.setup_path()
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    torch.set_num_threads(1)


def config(name, minutes, out, tiny=False):
    from rnn.config import TrainConfig

    extra = dict(MODELS[name])
    if tiny:
        extra.update(hidden=8, seq_len=8, batch=4, eval_every=0, sample_every=0,
                     checkpoint_every=0)
    return TrainConfig(minutes=minutes, out=out, **extra)


def run_package(cfg, text):
    """``rnn train`` with ``cfg``; returns (validation loss, steps, tokens/s)."""
    from rnn.train import train

    r = train(cfg, text=text, progress=False, log=lambda *a: None)
    return r.val_loss, r.step, r.history[-1].tokens_per_s


def run_torch(cfg, text):
    """The same model, data, start and budget in torch; returns (validation loss, steps, tokens/s)."""
    import torch

    from rnn.run_state import Corpus, RunState
    from rnn.train import evaluate

    corpus = Corpus.prepare(cfg, text)
    run = RunState.new(cfg, corpus)  # the package's initial weights and batcher
    mod, lin = speed.torch_model(cfg.cell, cfg.hidden, cfg.dtype, params=run.params,
                                 vocab=corpus.vocab.size)
    step = speed.torch_trainer(mod, lin, cfg.cell, lr=run.optimizer.lr, clip=cfg.clip)
    state, steps, train_time = None, 0, 0.0
    start = time.perf_counter()
    while time.perf_counter() - start < cfg.minutes * 60:
        if cfg.lr_decay == "linear":  # as rnn train: a line to 0 at the end of the budget
            left = 1.0 - (time.perf_counter() - start) / (cfg.minutes * 60)
            for group in step.optimizer.param_groups:
                group["lr"] = run.optimizer.lr * max(left, 0.0)
        t0 = time.perf_counter()
        inputs, targets, reset = run.batcher.next()
        if reset:  # a stream wrapped around: start it from zero, as rnn train does
            state = None
        _, state = step(inputs, targets, state)
        steps += 1
        train_time += time.perf_counter() - t0
        if cfg.eval_every and steps % cfg.eval_every == 0:  # rnn train's schedule, in the budget
            with torch.no_grad():
                evaluate(speed.params_from_torch(mod, lin, cfg.cell), corpus.val_ids)
    with torch.no_grad():
        params = speed.params_from_torch(mod, lin, cfg.cell)
    val = evaluate(params, corpus.val_ids)
    return val, steps, steps * cfg.seq_len * cfg.batch / train_time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="default,decay,gru", help=f"comma-separated, of {sorted(MODELS)}")
    p.add_argument("--minutes", type=float, default=5.0, help="budget of each run (default 5)")
    p.add_argument("--tiny", action="store_true", help="tiny models and text, 1 s per run")
    p.add_argument("--parallel", action="store_true",
                   help="run the package and torch at the same time, one process each")
    args = p.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in names if m not in MODELS]
    if bad or not names:
        p.error(f"--models must be a comma-separated subset of {','.join(MODELS)}, got {bad or names}")
    speed.setup_path()
    minutes = 1 / 60 if args.tiny else args.minutes
    text = TINY_TEXT if args.tiny else None
    one_thread()
    print(f"one thread each; {minutes * 60:g} s per run{', both sides at once' * args.parallel}; "
          f"load average before: {speed.load()}", flush=True)
    rows = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix="rnn-ttq-") as out:
            cfg = config(name, minutes, out, tiny=args.tiny)
            if args.parallel:
                print(f"{name}: package and torch, in parallel ...", flush=True)
                with ProcessPoolExecutor(2, mp_context=get_context("spawn"),
                                         initializer=one_thread) as pool:
                    jobs = [pool.submit(run_package, cfg, text), pool.submit(run_torch, cfg, text)]
                    pkg, tor = (job.result() for job in jobs)
            else:
                print(f"{name}: package ...", flush=True)
                pkg = run_package(cfg, text)
                print(f"{name}: torch ...", flush=True)
                tor = run_torch(dataclasses.replace(cfg), text)
        rows.append((name, cfg, pkg, tor))
        print(f"  package {pkg[0]:.4f} nats/char ({pkg[1]:,} steps, {pkg[2]:,.0f} tokens/s); "
              f"torch {tor[0]:.4f} ({tor[1]:,} steps, {tor[2]:,.0f} tokens/s); "
              f"load average {speed.load()}", flush=True)
    head = (f"{'model':<8} {'cell':<5} {'H':>4} | {'package':>8} {'torch':>8} nats/char | "
            f"{'package':>9} {'torch':>9} tokens/s | {'steps':>13}")
    print("\nvalidation loss after the same wall-clock budget (lower is better)\n" + head)
    print("-" * len(head))
    for name, cfg, pkg, tor in rows:
        print(f"{name:<8} {cfg.cell:<5} {cfg.hidden:>4} | {pkg[0]:>8.4f} {tor[0]:>8.4f}           | "
              f"{pkg[2]:>9,.0f} {tor[2]:>9,.0f}          | {pkg[1]:>6,}/{tor[1]:<6,}")
    print(f"({minutes * 60:g} s per run; bits/char = nats/char / ln 2 = nats x {1 / math.log(2):.3f}; "
          f"load average after: {speed.load()})")
    return rows


if __name__ == "__main__":
    main()
