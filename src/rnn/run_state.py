"""The state of a training run, and how it is saved and restored.

A run is its :class:`rnn.config.TrainConfig`, its text (:class:`Corpus`:
vocabulary, training and validation ids, and a digest that recognises the
text on resume) and a :class:`RunState`: everything that changes as it
trains. :class:`RunState` is the one place that writes a checkpoint's
training entries (``extra/...``: the carried hidden state, the batcher's
position, the losses, the history) and reads them back, so a resumed run
continues bit-identically.
"""

from __future__ import annotations

import dataclasses
import math
import os
import secrets
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ._checks import available_memory, format_bytes
from ._flat import FlatDict
from .checkpoint import load_checkpoint, rng_from_state
from .config import DEFAULT_KEEP, TrainConfig, options
from .corpus import default_corpus, load_text, text_pieces
from .data import StreamBatcher, Vocab, encode_pieces, random_windows, split, str_pieces
from .model import CELLS, init_params, init_state, model_info, param_count
from .optim import OPTIMIZERS, make_optimizer
from .truncation import Truncation, random_keep

__all__ = ["Record", "Corpus", "RunState", "load_corpus", "resolve_config", "training_memory",
           "check_memory", "new_run_id", "run_id_of"]


class Record(NamedTuple):
    """One row of the training history, written at every evaluation.

    Attributes
    ----------
    step : int
    train_loss : float
        Smoothed training loss, nats per character (NaN before the first step).
    val_loss : float
        Validation loss, nats per character.
    tokens_per_s : float
        Training throughput so far in this session.
    elapsed : float
        Seconds since the start of the run (summed over resumes).
    """

    step: int
    train_loss: float
    val_loss: float
    tokens_per_s: float
    elapsed: float



def load_corpus(config: TrainConfig) -> tuple:
    """The training text of a config: ``(text, description)``."""
    if config.data is not None:
        text = load_text(config.data)
        return text, f"{config.data} ({len(text):,} characters)"
    return default_corpus()


@dataclass
class Corpus:
    """The text of a run, cut up: vocabulary, training and validation ids.

    The ids are one array in the smallest unsigned type that holds them
    (:func:`rnn.data.encode_pieces`); ``train_ids`` and ``val_ids`` are views
    of it. A ``--data`` file is read piece by piece, never whole.
    """

    description: str
    vocab: Vocab
    train_ids: np.ndarray
    val_ids: np.ndarray
    digest: np.ndarray  # SHA-256 of the text, to recognise it on resume

    @classmethod
    def prepare(cls, cfg: TrainConfig, text: str | None) -> "Corpus":
        if text is not None:
            vocab, ids, digest = encode_pieces(str_pieces(text))
            description = f"text passed to train() ({len(ids):,} characters)"
        elif cfg.data is not None:
            vocab, ids, digest = encode_pieces(lambda: text_pieces(cfg.data))
            description = f"{cfg.data} ({len(ids):,} characters)"
        else:
            text, description = default_corpus()
            vocab, ids, digest = encode_pieces(str_pieces(text))
        try:
            train_ids, val_ids = split(ids, cfg.val_fraction, T=cfg.seq_len)
            if cfg.batching == "stream":
                StreamBatcher(train_ids, cfg.seq_len, cfg.batch)  # too short? say so now
        except ValueError as exc:  # the text is too short: say which text
            raise ValueError(f"{description}: {exc}") from None
        return cls(description, vocab, train_ids, val_ids, digest)


def training_memory(cfg: TrainConfig, K: int) -> int:
    """Bytes that training the model of ``cfg`` on K characters needs, roughly.

    Computed in closed form before anything is allocated: the weights, their
    gradients, the optimiser's state and a temporary copy (P numbers each),
    and the activations of one step: the one-hot inputs, logits and their
    gradient (T B K each) and what each layer keeps for backpropagation
    (about 2 G + 3 arrays of T B H for a cell with G gate blocks).
    """
    P = param_count(K, cfg.hidden, cell=cfg.cell, layers=cfg.layers)
    slots = len(OPTIMIZERS[cfg.optim]._slots)
    gates = sum(1 for n in CELLS[cfg.cell].PARAM_NAMES if n.startswith("U"))
    per_step = cfg.seq_len * cfg.batch * (3 * K + cfg.layers * cfg.hidden * (2 * gates + 3))
    return np.dtype(cfg.dtype).itemsize * (P * (3 + slots) + per_step)


def check_memory(cfg: TrainConfig, K: int) -> None:
    """Refuse a model that cannot fit in the available memory, before allocating it."""
    need, available = training_memory(cfg, K), available_memory()
    if available is not None and need > available:
        P = param_count(K, cfg.hidden, cell=cfg.cell, layers=cfg.layers)
        raise ValueError(
            f"a {cfg.layers}-layer {cfg.cell!r} model with H={cfg.hidden:,} on K={K} characters "
            f"({P:,} parameters), T={cfg.seq_len:,} and B={cfg.batch:,} needs about "
            f"{format_bytes(need)} to train (weights, gradients, optimiser state and activations), "
            f"more than the {format_bytes(available)} of memory available; use a smaller "
            f"--hidden, --layers, --batch or --seq-len")


def new_run_id() -> str:
    """A random id that tells one run's checkpoints from another's (not from the run's seed)."""
    return secrets.token_hex(8)


def run_id_of(ckpt) -> str | None:
    """The run id saved in a checkpoint, or None (checkpoints of rnn 0.1 have none)."""
    a = ckpt.extra.get("run_id")
    if a is None or a.dtype != np.uint8 or a.shape != (8,):
        return None
    return a.tobytes().hex()


@dataclass
class RunState:
    """Everything that changes while a run trains and is needed to continue it
    exactly; the one place that writes and reads a checkpoint's training entries.

    Attributes
    ----------
    params : dict
    optimizer : rnn.optim optimiser
    rng : numpy.random.Generator
        Draws the random windows (``batching="random"``) and the factors of
        randomised truncation (``truncation="random"``).
    batcher : StreamBatcher or None
        None for random windows.
    state : ndarray of shape (layers, S, B, H)
        The hidden state carried from one window to the next.
    step : int
    initial_loss, smooth_loss : float or None
        The first step's loss (for the divergence test) and the displayed
        moving average; None before the first step.
    elapsed : float
        Seconds trained in earlier sessions of this run.
    history : list of Record
    best_val_loss : float or None
        The lowest validation loss after step 0 (the one ``best.npz`` holds).
    run_id : str
        Tells this run's checkpoints from another run's (16 hex digits).
    lr_scale : float
        The factor of the learning rate (``lr_decay``) at the last step, or
        1.0: without decay, and once a decaying run has spent its budget (more
        training then starts a new line at the full rate).
    decay_from, decay_end : int
        The steps between which ``lr_decay="linear"`` lowers the factor from
        ``decay_scale`` to 0, for a budget in steps; -1 if none. A run stopped
        by a signal and resumed to end at the same ``decay_end`` continues the
        same line.
    decay_scale : float
        The factor at ``decay_from``.
    """

    params: dict
    optimizer: object
    rng: np.random.Generator
    batcher: StreamBatcher | None
    state: np.ndarray
    step: int = 0
    initial_loss: float | None = None
    smooth_loss: float | None = None
    elapsed: float = 0.0
    history: list = field(default_factory=list)
    best_val_loss: float | None = None
    run_id: str = field(default_factory=new_run_id)
    lr_scale: float = 1.0
    decay_from: int = -1
    decay_end: int = -1
    decay_scale: float = 1.0

    @classmethod
    def new(cls, cfg: TrainConfig, corpus: Corpus, params: dict | None = None,
            run_id: str | None = None) -> "RunState":
        """A fresh run; ``params`` (copied) replaces the random initialisation if given."""
        rng = np.random.default_rng(cfg.seed)
        K, dtype = corpus.vocab.size, np.dtype(cfg.dtype)
        if params is None:
            fresh = init_params(K, cfg.hidden, cell=cfg.cell, layers=cfg.layers, init=cfg.init,
                                seed=rng, dtype=dtype, spectral_radius=cfg.spectral_radius)
        else:
            _check_same_model("params", model_info(params), cfg, K)
            fresh = FlatDict(params, dtype)  # a copy, in one buffer (rnn._flat)
        batcher = _stream_batcher(cfg, corpus) if cfg.batching == "stream" else None
        return cls(fresh, make_optimizer(cfg.optim, cfg.lr), rng, batcher,
                   init_state(fresh, cfg.batch), run_id=run_id or new_run_id())

    def next_batch(self, corpus: Corpus, cfg: TrainConfig):
        """``(inputs, targets, state0, plan)`` of the next step.

        ``plan`` is the :class:`rnn.truncation.Truncation` of the step, or None
        for a plain window (``truncation="window"``).
        """
        T, B = cfg.seq_len, cfg.batch
        reset = True
        if self.batcher is None:  # every random window starts from h(0) = 0
            inputs, targets = random_windows(corpus.train_ids, T, B, self.rng)
            state0 = None
        else:
            inputs, targets, reset = self.batcher.next()
            if reset:  # a stream wrapped around to the start of the text
                self.state = init_state(self.params, B)
            state0 = self.state
        if cfg.truncation == "overlap":  # TBPTT(k1, k2): the loss on the k1 new steps
            k1 = cfg.truncation_stride
            mask = np.ones((T, B), bool)
            if not (reset and self.batcher is not None):  # a pass's first window: all are new
                mask[:T - k1] = False
            return inputs, targets, state0, Truncation(loss_mask=mask, carry_at=k1)
        if cfg.truncation == "random":
            keep = DEFAULT_KEEP if cfg.truncation_keep is None else cfg.truncation_keep
            return inputs, targets, state0, Truncation(keep=random_keep(T, B, keep, self.rng))
        return inputs, targets, state0, None

    def restart_decay(self) -> None:
        """No line of ``lr_decay`` under way: the next one starts at the full rate (a new
        run, a run without decay, and a run whose budget is spent)."""
        self.lr_scale, self.decay_from, self.decay_end, self.decay_scale = 1.0, -1, -1, 1.0

    def to_extra(self, digest: np.ndarray, elapsed: float) -> dict:
        """The checkpoint's ``extra/`` entries."""
        nan = float("nan")
        extra = {
            "initial_loss": np.array(nan if self.initial_loss is None else self.initial_loss),
            "smooth_loss": np.array(nan if self.smooth_loss is None else self.smooth_loss),
            "elapsed": np.array(elapsed),
            "history": np.array(self.history, dtype=np.float64).reshape(-1, len(Record._fields)),
            "text_sha256": digest,
            "best_val_loss": np.array(nan if self.best_val_loss is None else self.best_val_loss),
            "run_id": np.frombuffer(bytes.fromhex(self.run_id), np.uint8).copy(),
            "lr_decay": np.array([self.lr_scale, self.decay_from, self.decay_end,
                                  self.decay_scale], dtype=np.float64),
        }
        if self.batcher is not None:
            extra["state"] = self.state
            extra.update({f"batcher.{k}": np.asarray(v) for k, v in self.batcher.state_dict().items()})
        return extra

    @classmethod
    def from_checkpoint(cls, ckpt, path: str, cfg: TrainConfig, corpus: Corpus) -> "RunState":
        """Continue the run saved in ``ckpt`` (read from ``path``) on ``corpus``."""
        extra = ckpt.extra
        if corpus.vocab != ckpt.vocab or not np.array_equal(extra.get("text_sha256", corpus.digest),
                                                            corpus.digest):
            raise ValueError(f"the training text ({corpus.description}) is not the text the "
                             f"checkpoint {path} was trained on (its SHA-256 differs); resume with "
                             f"the same text (--data FILE names it if it moved), or start a new run")
        params = FlatDict(ckpt.params)  # a copy, in one buffer (rnn._flat)
        _check_same_model(f"checkpoint {path}: its weights", model_info(params), cfg, ckpt.vocab.size)
        needed = ["initial_loss", "smooth_loss"] + (["state"] if cfg.batching == "stream" else [])
        missing = [k for k in needed if k not in extra]
        if missing:
            raise ValueError(f"checkpoint {path} holds no training state (missing {missing}); "
                             f"it can be sampled from but not resumed")
        optimizer = make_optimizer(cfg.optim, cfg.lr)
        try:
            optimizer.load_state_dict(ckpt.optim_state, params)
        except ValueError as exc:
            raise ValueError(f"checkpoint {path} cannot be resumed: {exc}") from None
        initial, smooth = float(extra["initial_loss"]), float(extra["smooth_loss"])
        best = float(extra.get("best_val_loss", math.nan))
        rows = np.asarray(extra.get("history", np.zeros((0, 5)))).tolist()
        run = cls(params, optimizer, rng_from_state(ckpt.rng_state), None,
                  init_state(params, cfg.batch), step=int(ckpt.step),
                  initial_loss=None if math.isnan(initial) else initial,  # NaN: saved before step 1
                  smooth_loss=None if math.isnan(initial) else smooth,
                  elapsed=float(extra.get("elapsed", 0.0)),
                  history=[Record(int(r[0]), *r[1:]) for r in rows],
                  best_val_loss=None if math.isnan(best) else best,
                  run_id=run_id_of(ckpt) or new_run_id())
        if "lr_decay" in extra:  # (older checkpoints have none: they resume at the full rate)
            decay = np.asarray(extra["lr_decay"], dtype=np.float64).reshape(-1)
            if decay.shape != (4,) or not np.isfinite(decay).all() or not 0 <= decay[0] <= 1:
                raise ValueError(f"checkpoint {path}: its extra/lr_decay entry must hold 4 finite "
                                 f"numbers with a factor in [0, 1], got {decay.tolist()}")
            run.lr_scale, run.decay_scale = float(decay[0]), float(decay[3])
            run.decay_from, run.decay_end = int(decay[1]), int(decay[2])
        if cfg.batching == "stream":
            run.batcher = _stream_batcher(cfg, corpus)
            run.batcher.load_state_dict({k[len("batcher."):]: v for k, v in extra.items()
                                         if k.startswith("batcher.")})
            run.state = np.array(extra["state"])
        return run


def _stream_batcher(cfg: TrainConfig, corpus: Corpus) -> StreamBatcher:
    stride = cfg.truncation_stride if cfg.truncation == "overlap" else None
    return StreamBatcher(corpus.train_ids, cfg.seq_len, cfg.batch, stride=stride)


def _check_same_model(what: str, info, cfg: TrainConfig, K: int) -> None:
    want = (cfg.cell, cfg.layers, K, cfg.hidden)
    if tuple(info) != want:
        raise ValueError(f"{what} ({info.cell!r}, {info.layers} layers, H={info.H}, K={info.K}) do "
                         f"not match the config ({cfg.cell!r}, {cfg.layers} layers, "
                         f"H={cfg.hidden}, K={K})")


def resolve_config(config: TrainConfig | None, resume: str | None):
    """The validated config of the run, and the checkpoint to resume from (or None).

    When resuming, the model options come from the checkpoint and the run
    options from ``config``; ``config.data``, if set, names the text file
    anew (it may have moved). The data path is made absolute, so a resume
    from another folder finds it.
    """
    config = TrainConfig() if config is None else config
    ckpt = None
    if resume is None:
        cfg = dataclasses.replace(config).validate()
    else:
        ckpt = load_checkpoint(resume)
        merged = dict(ckpt.config)
        merged.update({f.name: getattr(config, f.name) for f in options(run=True)})
        if config.data is not None:
            merged["data"] = config.data
        cfg = TrainConfig.from_dict(merged).validate()
    if cfg.data is not None:
        cfg.data = os.path.abspath(cfg.data)
    return cfg, ckpt
