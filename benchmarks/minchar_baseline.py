"""min-char-rnn's training loop, written with this package, against the default model.

The baseline reproduces the recipe of Karpathy's min-char-rnn.py (the code
here is new; only the recipe is the same):

* a vanilla RNN with H = 100, weights N(0, 0.01^2), zero biases (init="small");
* one sequence at a time (B = 1), windows of T = 25 characters, read by a
  pointer that walks through the training text, with the hidden state
  carried from window to window (reset to zero when the pointer wraps);
* the loss summed over the 25 steps, gradients clipped to [-5, 5] entrywise;
* Adagrad with learning rate 0.1 in min-char-rnn's form
  ``p -= lr * g / sqrt(mem + 1e-8)``.

Both models train on the same corpus for the same wall-clock budget and are
scored by the same rnn.train.evaluate on the same validation split.

    python benchmarks/minchar_baseline.py --seconds 180
    python benchmarks/minchar_baseline.py --seconds 180 --baseline-only
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_budget  # noqa: E402  (same folder)

H, T, LR, CLIP = 100, 25, 0.1, 5.0


def minchar_train(train_ids, K, seconds, seed=0):
    """min-char-rnn's loop for ``seconds``; returns (params, steps, tokens/s)."""
    import numpy as np

    from rnn.model import init_params, init_state, loss_and_grads
    from rnn.optim import clip_elementwise

    params = init_params(K, H, init="small", seed=seed)  # float64, as min-char-rnn
    mem = {k: np.zeros_like(v) for k, v in params.items()}  # Adagrad memory
    state = init_state(params, 1)
    pointer, steps = 0, 0
    smooth = -math.log(1.0 / K) * T  # min-char-rnn starts the average at the uniform loss
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        if pointer + T + 1 > len(train_ids):  # wrapped around: a fresh start of the text
            pointer, state = 0, init_state(params, 1)
        inputs = train_ids[pointer:pointer + T].reshape(T, 1)
        targets = train_ids[pointer + 1:pointer + T + 1].reshape(T, 1)
        loss, grads, state = loss_and_grads(params, inputs, targets, state, reduction="sum")
        clip_elementwise(grads, CLIP)
        for k in params:  # Adagrad, min-char-rnn's form: eps inside the square root
            mem[k] += grads[k] * grads[k]
            params[k] -= LR * grads[k] / np.sqrt(mem[k] + 1e-8)
        smooth = 0.999 * smooth + 0.001 * loss
        pointer += T
        steps += 1
        if steps % 20000 == 0:
            print(f"  min-char-rnn step {steps:,}: smoothed loss {smooth / T:.3f} nats/char", flush=True)
    elapsed = time.perf_counter() - start
    return params, steps, steps * T / elapsed, elapsed


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(description="min-char-rnn's recipe vs the default model, "
                                            "same corpus, budget and evaluation")
    p.add_argument("--seconds", type=float, default=180.0, help="budget of each model (default 180)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads, as `rnn train --threads` (default 1; 0: leave as is)")
    p.add_argument("--baseline-only", action="store_true", help="skip the default model")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    train_budget.setup_path()
    threads = train_budget.limit_threads(args.threads)

    from rnn.corpus import default_corpus
    from rnn.data import Vocab, split
    from rnn.sample import sample
    from rnn.config import TrainConfig
    from rnn.train import evaluate

    text, description = default_corpus()
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    train_ids, val_ids = split(ids, TrainConfig().val_fraction, T=T)  # the split `rnn train` uses
    print(f"corpus: {description}; K = {vocab.size}; {len(train_ids):,} train / "
          f"{len(val_ids):,} validation characters")
    print(threads)

    print(f"\ntraining the min-char-rnn baseline for {args.seconds:g} s ...", flush=True)
    params, steps, tps, elapsed = minchar_train(train_ids, vocab.size, args.seconds, args.seed)
    base_val = evaluate(params, val_ids)
    passes = steps * T / len(train_ids)
    print(f"  sample: {sample(params, vocab, 300, temperature=0.8, seed=args.seed)!r}")

    results = [(f"min-char-rnn baseline (H={H}, T={T}, B=1, adagrad {LR}, float64; "
                f"{passes:.2f} passes over the text)", base_val, tps, steps, elapsed)]
    if not args.baseline_only:
        print(f"\ntraining the default model for {args.seconds:g} s ...", flush=True)
        r = train_budget.run_default(args.seconds, seed=args.seed, log=lambda *a: None)
        c = r.config
        print(f"  sample: {sample(r.params, r.vocab, 300, temperature=0.8, seed=args.seed)!r}")
        results.append((f"default model ({c.cell} x{c.layers}, H={c.hidden}, T={c.seq_len}, "
                        f"B={c.batch}, {c.optim}, {c.dtype})", r.val_loss, r.history[-1].tokens_per_s,
                        r.step, r.history[-1].elapsed))

    print()
    for row in results:
        train_budget.report(*row)
    if len(results) == 2:
        (_, b, btps, *_), (_, d, dtps, *_) = results
        print(f"default / baseline: validation loss x{d / b:.3f} ({(b - d) / math.log(2):+.3f} "
              f"bits/char better), throughput x{dtps / btps:.1f}")


if __name__ == "__main__":
    main()
