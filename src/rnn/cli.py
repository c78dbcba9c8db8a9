"""Command line: ``rnn train``, ``rnn sample`` and ``rnn export`` (also ``python -m rnn``).

Examples::

    rnn train                                  # 3 minutes on Shakespeare, saves runs/rnn/checkpoint.npz
    rnn train --data input.txt --hidden 256 --minutes 10 --out runs/mine
    rnn train --resume runs/rnn/checkpoint.npz --steps 2000
    rnn sample runs/rnn/checkpoint.npz --prime "ROMEO:" --temperature 0.7 --seed 1
    rnn export runs/rnn/best.npz my-model.bin   # for the site's page "Type to a trained network"

The options of ``rnn train`` are generated from the fields of
:class:`rnn.config.TrainConfig` (choices, bounds, defaults and help are
declared there once).

Every error is one line on stderr starting with ``rnn: error:`` and a
non-zero exit status: 2 for bad options, data, checkpoints or output
folders, 1 if training diverged, and 128 + the signal's number if a signal
stopped the run: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP (the first
one stops training after the current step and saves a checkpoint).

Nothing heavy is imported before :func:`main` runs (NumPy is imported
inside it), so Ctrl-C at any moment of start-up gives one line, not a
traceback.

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
import signal
import sys

from . import __version__

__all__ = ["main", "build_parser", "limit_blas_threads"]

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads(n: int) -> bool:
    """Let NumPy's BLAS use ``n`` threads in this process (with threadpoolctl).

    Returns True if a BLAS library was found and limited.
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    from ._checks import check_int

    n = check_int("limit_blas_threads", "n", n)
    threadpool_limits(n, user_api="blas")
    return any(pool["user_api"] == "blas" for pool in threadpool_info())


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


def _value_type(kind, low=None, high=None, low_open=False, high_open=False):
    """An argparse type that parses ``kind`` and checks the bounds with rnn._checks."""
    def parse(text):
        from ._checks import check_int, check_number

        try:
            v = kind(text)
        except ValueError:
            v = text  # not a number at all: let the check word the message
        try:
            if kind is int:
                return check_int("", "", v, low=low, high=high)
            return check_number("", "", v, low=low, high=high, low_open=low_open,
                                high_open=high_open)
        except ValueError as exc:  # ": : must be an integer >= 1, got 0" -> "expected an integer ..."
            wanted = str(exc).split("must be ", 1)[1].rsplit(", got", 1)[0]
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def _add_config_options(t: argparse.ArgumentParser) -> None:
    """One option of ``rnn train`` per field of TrainConfig, from its metadata."""
    from .config import TrainConfig, options

    defaults = TrainConfig()
    budget = t.add_mutually_exclusive_group()
    for f in options():
        m = f.metadata
        kwargs = dict(dest=f.name, default=argparse.SUPPRESS, metavar=m["metavar"])
        if m["choices"] is not None:
            kwargs.update(choices=m["choices"], metavar=None)
        elif m["kind"] in (int, float):
            kwargs["metavar"] = m["metavar"] or ("N" if m["kind"] is int else "X")
            kwargs["type"] = _value_type(m["kind"], m["low"], m["high"], m["low_open"],
                                         m["high_open"])
        default = getattr(defaults, f.name)
        shown = m["none"] if default is None else f"{default:g}" if isinstance(default, float) \
            else default
        kwargs["help"] = f"{m['help']} (default: {shown})"
        target = budget if f.name in ("steps", "minutes") else t
        target.add_argument("--" + f.name.replace("_", "-"), **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``rnn`` command."""
    positive = _value_type(int, low=1)
    parser = _Parser(
        prog="rnn",
        description="Train a character-level recurrent network on a text and sample from it "
                    "(NumPy only, backpropagation through time written out by hand).",
        epilog="Run `rnn train --help`, `rnn sample --help` or `rnn export --help` for the "
               "options of each command.")
    parser.add_argument("--version", action="version", version=f"rnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{train,sample,export}")

    t = sub.add_parser(
        "train", help="train a model and save <out>/checkpoint.npz",
        description="Train a character-level language model with truncated backpropagation "
                    "through time. Progress (step, smoothed loss, validation loss, tokens/s) "
                    "and short samples are printed; a checkpoint is saved every "
                    "--checkpoint-every steps, at the end, and on Ctrl-C, SIGTERM or SIGHUP "
                    "(then continue with --resume); the one with the best validation loss is "
                    "kept as best.npz.")
    _add_config_options(t)
    t.add_argument("--resume", metavar="CKPT", default=None,
                   help="continue a run from its checkpoint, exactly as if it had not stopped; "
                        "the model and data options come from the checkpoint (--data may name "
                        "the same text at a new path)")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the checkpoints of another run in --out (without it, a folder "
                        "holding another run's checkpoint is refused)")
    t.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar; print a line at every evaluation instead")
    t.add_argument("--threads", type=positive, default=None,
                   help="BLAS threads (default 1, or what OPENBLAS_NUM_THREADS/OMP_NUM_THREADS "
                        "say): the matrices are small, so more threads help little and slow "
                        "down a lot when other programs use the CPU")

    s = sub.add_parser(
        "sample", help="generate text from a checkpoint",
        description="Generate text from a trained model. The same --seed gives the same text.")
    s.add_argument("checkpoint", metavar="CKPT", help="checkpoint file written by `rnn train`")
    s.add_argument("--length", type=_value_type(int, low=0), default=500,
                   help="characters to generate (default 500)")
    s.add_argument("--temperature", type=_value_type(float, low=0, low_open=True), default=0.8,
                   help="softmax temperature > 0: lower is safer and more repetitive, higher is "
                        "more surprising (default 0.8)")
    s.add_argument("--top-k", dest="top_k", type=positive, default=None,
                   help="draw only among the K most likely characters (1 <= K <= vocabulary size)")
    s.add_argument("--prime", default="",
                   help="text the model reads first and continues (its characters must occur in "
                        "the training text)")
    s.add_argument("--seed", type=_value_type(int, low=0), default=None,
                   help="random seed; the same seed gives the same text (default: a fresh one)")
    s.add_argument("--threads", type=positive, default=None,
                   help="BLAS threads (default 1, as for `rnn train`)")
    mode = s.add_mutually_exclusive_group()
    mode.add_argument("--greedy", action="store_true",
                      help="always take the most likely character (deterministic)")
    mode.add_argument("--beam", type=positive, default=None, metavar="M",
                      help="beam search with M beams: the most likely continuation found")

    e = sub.add_parser(
        "export", help="write a checkpoint's model as one file a web page can run",
        description="Write the model of a checkpoint (weights as float32, vocabulary, how it was "
                    "trained) in the format of rnn.export, which the site's page \"Type to a "
                    "trained network\" loads with its \"your own model\" button and runs in the "
                    "browser. The file is checked (format version, CRC-32s) when it is read.")
    e.add_argument("checkpoint", metavar="CKPT", help="checkpoint file written by `rnn train`")
    e.add_argument("out", metavar="OUT", help="the file to write (e.g. my-model.bin)")
    e.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    return parser


def _train(args) -> int:
    from .config import TrainConfig, options
    from .train import train

    given = {k: v for k, v in vars(args).items()
             if k not in ("command", "resume", "progress", "threads", "overwrite")}
    if args.resume is not None:
        # --data may name the same text at a new path; the checkpoint checks it is the same text
        clash = ["--" + f.name.replace("_", "-") for f in options(run=False)
                 if f.name in given and f.name != "data"]
        if clash:
            raise ValueError(f"{', '.join(clash)} cannot be changed when resuming: the model and "
                             f"data options come from the checkpoint {args.resume}")
        given.setdefault("out", os.path.dirname(os.path.abspath(args.resume)))
    result = train(TrainConfig(**given), resume=args.resume, progress=args.progress,
                   overwrite=args.overwrite)
    return 128 + result.signal if result.interrupted else 0


def _sample(args) -> int:
    from .checkpoint import load_checkpoint
    from .sample import beam_search, sample

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


def _export(args) -> int:
    from .checkpoint import load_checkpoint
    from .export import save_export
    from .model import model_info

    ckpt = load_checkpoint(args.checkpoint)  # a bad checkpoint: one clear error, nothing written
    if os.path.exists(args.out) and os.path.samefile(args.out, args.checkpoint):
        raise ValueError(f"OUT {args.out!r} is the checkpoint itself; choose another name")
    if os.path.exists(args.out) and not args.overwrite:
        raise ValueError(f"{args.out!r} exists; pass --overwrite to replace it, or choose another "
                         f"name")
    info = model_info(ckpt.params)
    meta = {"source": os.path.basename(args.checkpoint), "steps": ckpt.step, "config": ckpt.config,
            "rnn_version": __version__}
    size = save_export(args.out, ckpt.params, ckpt.vocab, meta)
    print(f"wrote {args.out}: a {info.layers}-layer {info.cell} model, H = {info.H}, K = {info.K} "
          f"characters, {size:,} bytes")
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
    try:
        return _main(argv)
    except KeyboardInterrupt as exc:  # Ctrl-C (or rnn.progress.Interrupted) anywhere
        signum = getattr(exc, "signum", signal.SIGINT)
        _error(str(exc) or "interrupted by Ctrl-C (a checkpoint already written is complete "
                           "and intact)")
        return 128 + signum


def _main(argv) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        _error(exc)
        return 2
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    if args.command is None:
        _error("choose a command: `rnn train`, `rnn sample CKPT` or `rnn export CKPT OUT` "
               "(see `rnn --help`)")
        return 2
    import numpy as np

    from .train import TrainingDiverged

    try:
        _apply_threads(args)
        # a diverging run overflows on its way to the one-line error that reports it
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return {"train": _train, "sample": _sample, "export": _export}[args.command](args)
    except TrainingDiverged as exc:
        _error(exc)
        return 1
    except (ValueError, OSError) as exc:
        _error(exc)
        return 2
    except MemoryError:
        _error("out of memory; use a smaller model (--hidden, --layers), batch or --seq-len, or "
               "a shorter --length")
        return 2
