"""Beam search time against the length generated: linear, not quadratic.

Times rnn.sample.beam_search (back-pointers, one pass back at the end) and,
for comparison, the same search keeping each beam's whole text and copying
it at every step (the loop rnn 0.2 had), on one model, at several lengths.
Linear time doubles with the length; the copying loop's copy grows with
its square. Prints the seconds and the ratios, measured in one run.

    python benchmarks/beam_search.py                    # lengths 2000 and 8000, 50 beams
    python benchmarks/beam_search.py --lengths 500 1000 4000 --width 50

Runs with one BLAS thread; each time is the best of ``--repeat`` runs, since
other programs on the machine slow single runs down.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def copying_beam_search(params, vocab, length, beam_width):
    """The quadratic loop: every step copies the texts of all the beams."""
    import numpy as np

    from rnn.losses import log_softmax
    from rnn.model import forward, init_state
    from rnn.sample import _read, _start_ids

    K = vocab.size
    logits, state = _read(params, _start_ids(vocab, ""), init_state(params, 1))
    logits, scores, seqs = logits[None], np.zeros(1), np.zeros((1, 0), dtype=np.int64)
    for _ in range(length):
        cand = scores[:, None] + log_softmax(logits.astype(np.float64))
        flat = cand.ravel()
        best = np.argsort(-flat, kind="stable")[:beam_width]
        parent, k = np.divmod(best, K)
        scores = flat[best]
        seqs = np.concatenate([seqs[parent], k[:, None]], axis=1)  # O(length) per step
        o, state = forward(params, k[None, :], state[:, :, parent])
        logits = o[0]
    return vocab.decode(seqs[0])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[2000, 8000])
    ap.add_argument("--width", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=128)
    args = ap.parse_args(argv)

    import rnn
    from rnn.cli import limit_blas_threads
    from rnn.sample import beam_search

    limit_blas_threads(1)
    text, _ = rnn.default_corpus()
    vocab = rnn.Vocab.from_text(text)
    params = rnn.init_params(vocab.size, args.hidden, init="scaled", seed=0)
    print(f"beam width {args.width}, H = {args.hidden}, K = {vocab.size} (an untrained model)")
    print(f"{'length':>7} {'beam_search':>12} {'per char':>10} {'copying':>9} {'per char':>10}")
    first = None
    def best_of(f):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = f()
            times.append(time.perf_counter() - t0)
        return min(times), out

    for n in args.lengths:
        fast_n, fast = best_of(lambda: beam_search(params, vocab, n, beam_width=args.width))
        slow_n, slow = best_of(lambda: copying_beam_search(params, vocab, n, args.width))
        assert fast == slow, "the two loops must find the same text"
        first = first or (n, fast_n, slow_n)
        print(f"{n:>7} {fast_n:>11.2f}s {1e6 * fast_n / n:>8.0f}us {slow_n:>8.2f}s "
              f"{1e6 * slow_n / n:>8.0f}us")
    n0, fast0, slow0 = first
    n = args.lengths[-1]
    print(f"{n // n0}x the length: beam_search {fast_n / fast0:.1f}x the time (linear: "
          f"{n / n0:.0f}x), the copying loop {slow_n / slow0:.1f}x")


if __name__ == "__main__":
    main()
