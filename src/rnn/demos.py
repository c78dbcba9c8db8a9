"""Train the models beyond the language model on their tasks, from the command line.

Examples::

    python -m rnn.demos parity                    # a GRU classifies bit strings by parity
    python -m rnn.demos parity --cell rnn         # ... and a vanilla RNN fails to
    python -m rnn.demos tagging                   # a bidirectional tagger
    python -m rnn.demos tagging --forwards-only   # ... and one that reads forwards only
    python -m rnn.demos reverse --attention       # an encoder-decoder reverses strings

Each prints the training loss and the accuracy on fresh examples (for
``reverse``, by length, greedy decoding), and takes seconds with the
defaults. The same runs are one function call each:
:func:`rnn.classify.train_classifier`, :func:`rnn.bidirectional.train_tagger`,
:func:`rnn.seq2seq.train_seq2seq`.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time

import numpy as np

from ._checks import check_int
from .model import CELLS

__all__ = ["main"]


def _positive(text):
    try:
        return check_int("", "", int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rnn.demos", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="task", required=True, metavar="{parity,tagging,reverse}")
    tasks = {"parity": "many-to-one: is the number of ones odd? (rnn.classify)",
             "tagging": "does each symbol occur again later? (rnn.bidirectional)",
             "reverse": "reverse a string (rnn.seq2seq)"}
    defaults = {"parity": (16, 1000, 20), "tagging": (16, 500, 12), "reverse": (32, 800, 12)}
    for name, help_text in tasks.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        hidden, steps, max_len = defaults[name]
        p.add_argument("--cell", choices=sorted(CELLS), default="gru", help="default: gru")
        p.add_argument("--hidden", type=_positive, default=hidden, help=f"default: {hidden}")
        p.add_argument("--steps", type=_positive, default=steps, help=f"default: {steps}")
        p.add_argument("--max-len", type=_positive, default=max_len,
                       help=f"longest training sequence (default: {max_len})")
        p.add_argument("--seed", type=int, default=0, help="default: 0")
        if name == "tagging":
            p.add_argument("--forwards-only", action="store_true",
                           help="a layer that reads forwards only, for comparison")
        if name == "reverse":
            p.add_argument("--attention", action="store_true", help="add additive attention")
    return parser


def _parity(args):
    from .classify import classify, train_classifier
    from .tasks import parity_batch

    make_batch = functools.partial(parity_batch, B=64, max_len=args.max_len)
    params, losses = train_classifier(make_batch, 2, 2, cell=args.cell, hidden=args.hidden,
                                      steps=args.steps, seed=args.seed)
    ids, lengths, labels = parity_batch(np.random.default_rng(args.seed + 1), B=2000,
                                        max_len=args.max_len)
    return losses, f"accuracy {(classify(params, ids, lengths) == labels).mean():.1%}"


def _tagging(args):
    from .bidirectional import tag, train_tagger
    from .masking import mask_from_lengths
    from .tasks import seen_later_batch

    make_batch = functools.partial(seen_later_batch, B=64, max_len=args.max_len)
    params, losses = train_tagger(make_batch, 6, 2, cell=args.cell, hidden=args.hidden,
                                  bidirectional=not args.forwards_only, steps=args.steps,
                                  seed=args.seed)
    ids, lengths, tags = seen_later_batch(np.random.default_rng(args.seed + 1), B=2000,
                                          max_len=args.max_len)
    real = mask_from_lengths(lengths, ids.shape[0])
    return losses, f"accuracy {(tag(params, ids, lengths) == tags)[real].mean():.1%} of the steps"


def _reverse(args):
    from .seq2seq import decode_greedy, exact_matches, train_seq2seq
    from .tasks import reversal_batch

    make_batch = functools.partial(reversal_batch, B=64, max_len=args.max_len, alphabet=8)
    params, losses = train_seq2seq(make_batch, 9, 9, cell=args.cell, hidden=args.hidden,
                                   attention=args.attention, steps=args.steps, lr=1e-2,
                                   seed=args.seed)
    rng, by_length = np.random.default_rng(args.seed + 1), []
    for L in range(1, args.max_len + 1):
        src, sl, tgt, tl = reversal_batch(rng, B=200, min_len=L, max_len=L, alphabet=8)
        outputs, _ = decode_greedy(params, src, sl, max_len=L + 4)
        by_length.append(f"{L}: {exact_matches(outputs, tgt, tl).mean():.0%}")
    return losses, "exact reversals by length, " + ", ".join(by_length)


def main(argv=None) -> int:
    """Run one task; return the exit status (2 for bad arguments)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    start = time.perf_counter()
    losses, result = {"parity": _parity, "tagging": _tagging, "reverse": _reverse}[args.task](args)
    print(f"{args.task}: {args.steps} steps in {time.perf_counter() - start:.1f} s, loss "
          f"{losses[0]:.3f} -> {np.mean(losses[-50:]):.3f}; {result}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
