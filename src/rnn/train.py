"""Training a character-level language model: min-char-rnn done right.

One training step is truncated backpropagation through time on a batch of
windows of ``seq_len`` characters::

    inputs, targets = next batch (T, B)          # targets = inputs shifted by one
    loss, grads, state = loss_and_grads(params, inputs, targets, state0, reduction="mean")
    clip(grads)                                  # +-5 elementwise, or by global norm
    optimizer.step(params, grads)                # in place

With ``batching="stream"`` (the default, as in min-char-rnn and char-rnn)
row i of every batch continues row i of the previous one, so the final
hidden state of one window is the initial state of the next; the gradient
still stops at the window edge. With ``batching="random"`` every window
starts at a random place from a zero state.

The loop reports a smoothed training loss (an exponential moving average
with weights 0.99/0.01, see :data:`SMOOTHING`), the validation loss, tokens
per second and a short sample now and then; it stops with
:class:`TrainingDiverged` if the loss becomes NaN/inf or more than three
times its starting value, and it writes an atomic checkpoint every
``checkpoint_every`` steps, at the end, and when interrupted with Ctrl-C.
A checkpoint holds everything needed to continue *bit-identically*:
weights, optimiser state, random generator, batcher position, the hidden
state carried between windows, and the step count.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .checkpoint import load_checkpoint, rng_from_state, save_checkpoint
from .data import StreamBatcher, Vocab, default_corpus, load_text, random_windows, split, validation_windows
from .losses import log_softmax
from .model import (CELLS, count_params, forward, init_params, init_state, loss_and_grads,
                    model_info)
from .optim import clip_elementwise, clip_global_norm, make_optimizer
from .sample import sample

__all__ = ["TrainConfig", "TrainResult", "TrainingDiverged", "train", "evaluate", "load_corpus",
           "DEFAULT_MINUTES", "EVAL_SEQ_LEN", "EVAL_BATCH"]

#: Training time when neither ``steps`` nor ``minutes`` is given.
DEFAULT_MINUTES = 3.0
#: The validation loss is always measured with these window sizes, whatever
#: the training ``seq_len`` and ``batch``, so that runs compare.
EVAL_SEQ_LEN = 128
EVAL_BATCH = 16

#: Fields that belong to one run rather than to the model and its data; when
#: resuming they come from the new config, everything else from the checkpoint.
RUN_FIELDS = ("steps", "minutes", "out", "eval_every", "sample_every", "sample_length",
              "sample_temperature", "checkpoint_every")


#: Weight of the old value in the displayed moving average of the training
#: loss. min-char-rnn uses 0.999 over steps of 25 characters; a batched step
#: reads B*T = 2048 characters, and 0.999 would then lag thousands of steps
#: (millions of characters) behind the current loss. 0.99 averages over about
#: the last hundred steps.
SMOOTHING = 0.99


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf or grew past three times its starting value."""


@dataclass
class TrainConfig:
    """Everything that defines a training run.

    Attributes
    ----------
    data : str or None
        Path of a UTF-8 text file; None uses :func:`rnn.data.default_corpus`.
    cell : str
        A key of :data:`rnn.model.CELLS`.
    layers, hidden : int
        Stacked recurrent layers and hidden units per layer (H).
    seq_len, batch : int
        Window length T (steps of truncated BPTT) and number of windows B.
    steps, minutes : int or float, optional
        Stop after this many steps or this much wall-clock time (whichever
        comes first); with neither, train for :data:`DEFAULT_MINUTES`.
    lr : float, optional
        Learning rate; None takes the optimiser's default (adam 2e-3,
        adagrad 0.1, sgd 1.0).
    optim : {"adam", "adagrad", "sgd"}
    clip : float or None
        Gradient clipping threshold; None or 0 disables clipping.
    clip_mode : {"elementwise", "norm"}
        Clip every entry to [-clip, clip] (min-char-rnn) or rescale all
        gradients together so their global L2 norm is at most ``clip``.
    init : {"scaled", "small"}
        Weight initialisation (see :func:`rnn.model.init_params`).
    batching : {"stream", "random"}
        Contiguous streams with the hidden state carried between windows, or
        random windows from a zero state.
    val_fraction : float
        The last fraction of the text is held out for validation.
    eval_every, sample_every, checkpoint_every : int
        Every how many steps to measure the validation loss, print a sample,
        write a checkpoint (0 disables).
    sample_length : int
        Characters in each periodic sample.
    sample_temperature : float
        Temperature of the periodic samples.
    seed : int
        Seeds the initialisation and the batches.
    out : str
        Directory for ``checkpoint.npz``.
    dtype : {"float32", "float64"}
        Floating-point type of the parameters and the computation.
    """

    data: str | None = None
    cell: str = "rnn"
    layers: int = 1
    hidden: int = 128
    seq_len: int = 64
    batch: int = 32
    steps: int | None = None
    minutes: float | None = None
    lr: float | None = None
    optim: str = "adam"
    clip: float | None = 5.0
    clip_mode: str = "elementwise"
    init: str = "scaled"
    batching: str = "stream"
    val_fraction: float = 0.05
    eval_every: int = 500
    sample_every: int = 2000
    sample_length: int = 200
    sample_temperature: float = 0.8
    checkpoint_every: int = 1000
    seed: int = 0
    out: str = "runs/rnn"
    dtype: str = "float32"

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
        def positive_int(name, allow_none=False, allow_zero=False):
            v = getattr(self, name)
            if v is None and allow_none:
                return
            ok = isinstance(v, (int, np.integer)) and not isinstance(v, bool)
            if not ok or v < (0 if allow_zero else 1):
                need = "a non-negative integer" if allow_zero else "a positive integer"
                raise ValueError(f"{name} must be {need}, got {v!r}")

        def number(name, v):
            return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) \
                and math.isfinite(v)

        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        for name in ("layers", "hidden", "seq_len", "batch"):
            positive_int(name)
        positive_int("steps", allow_none=True)
        for name in ("eval_every", "sample_every", "checkpoint_every", "sample_length"):
            positive_int(name, allow_zero=True)
        if self.minutes is not None and not (number("minutes", self.minutes) and self.minutes > 0):
            raise ValueError(f"minutes must be a number > 0, got {self.minutes!r}")
        if self.lr is not None and not (number("lr", self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a number > 0, got {self.lr!r}")
        if self.optim not in ("adam", "adagrad", "sgd"):
            raise ValueError(f"optim must be 'adam', 'adagrad' or 'sgd', got {self.optim!r}")
        if self.clip is not None and not (number("clip", self.clip) and self.clip >= 0):
            raise ValueError(f"clip must be a number >= 0 (0 disables clipping), got {self.clip!r}")
        if self.clip_mode not in ("elementwise", "norm"):
            raise ValueError(f"clip_mode must be 'elementwise' or 'norm', got {self.clip_mode!r}")
        if self.init not in ("scaled", "small"):
            raise ValueError(f"init must be 'scaled' or 'small', got {self.init!r}")
        if self.batching not in ("stream", "random"):
            raise ValueError(f"batching must be 'stream' or 'random', got {self.batching!r}")
        if not (number("val_fraction", self.val_fraction) and 0 < self.val_fraction < 1):
            raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {self.val_fraction!r}")
        if not (number("sample_temperature", self.sample_temperature) and self.sample_temperature > 0):
            raise ValueError(f"sample_temperature must be a number > 0, got {self.sample_temperature!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.data is not None and not isinstance(self.data, str):
            raise ValueError(f"data must be a file path (str) or None, got {self.data!r}")
        return self


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    params : dict of str to ndarray
        The trained parameters.
    vocab : rnn.data.Vocab
    step : int
        Total optimisation steps (including those before a resume).
    history : list of tuple
        ``(step, train_loss, val_loss, tokens_per_s, elapsed)`` at every
        evaluation: smoothed training loss and validation loss in nats per
        character, training throughput, seconds since the start of the run.
    checkpoint : str or None
        Path of the last checkpoint written.
    val_loss : float
        Validation loss of the final parameters (nats per character).
    interrupted : bool
        True if the run was stopped with Ctrl-C (the checkpoint was saved).
    config : TrainConfig
    """

    params: dict
    vocab: Vocab
    step: int
    history: list = field(default_factory=list)
    checkpoint: str | None = None
    val_loss: float = float("nan")
    interrupted: bool = False
    config: TrainConfig | None = None


# --8<-- [start:evaluate]
def evaluate(params: dict, val_ids, T: int = EVAL_SEQ_LEN, B: int = EVAL_BATCH) -> float:
    """Mean loss per character (nats) of a model on held-out ids.

    The ids are read as ``B`` contiguous streams in windows of ``T`` steps,
    carrying the hidden state from window to window (no gradients), so
    every character except the first of each stream is predicted with its
    full left context.

    Parameters
    ----------
    params : dict
        Model parameters.
    val_ids : ndarray of int, shape (N,)
        Validation token ids.
    T, B : int
        Window length and number of streams.

    Returns
    -------
    loss : float
        Sum of -log y_hat[y] over every predicted character divided by their number.
    """
    total, count = 0.0, 0
    state = None
    for inputs, targets in validation_windows(val_ids, T, B):
        if state is None or state.shape[2] != inputs.shape[1]:
            state = init_state(params, inputs.shape[1])
        o, state = forward(params, inputs, state)  # (T, B, K); state carried, no backward pass
        logp = log_softmax(o)
        total -= float(np.take_along_axis(logp, targets[..., None], axis=-1).sum())
        count += targets.size
    if count == 0:
        raise ValueError(f"evaluate: val_ids (length {len(val_ids)}) is too short for one window "
                         f"of T + 1 = {T + 1} characters")
    return total / count
# --8<-- [end:evaluate]


def load_corpus(config: TrainConfig) -> tuple:
    """The training text of a config: ``(text, description)``."""
    if config.data is not None:
        text = load_text(config.data)
        return text, f"{config.data} ({len(text):,} characters)"
    return default_corpus()


def _text_digest(text: str) -> np.ndarray:
    return np.frombuffer(hashlib.sha256(text.encode("utf-8")).digest(), dtype=np.uint8).copy()


# ---------------------------------------------------------------- progress display

def _fmt_time(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _PlainProgress:
    """One status line on stderr, rewritten in place (a line every 10 s if not a terminal)."""

    def __init__(self, total, unit):
        self.total, self.unit = total, unit
        self.stream = sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.width = 0
        self.last = -math.inf

    def update(self, n, postfix: dict, force=False):
        now = time.perf_counter()
        if not force and now - self.last < (0.25 if self.tty else 10.0):
            return
        self.last = now
        done = f"{n:.0f}/{self.total:.0f}{self.unit}" if self.total else f"{n:.0f}{self.unit}"
        line = f"{done} | " + " | ".join(f"{k} {v}" for k, v in postfix.items())
        if self.tty:
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def write(self, msg):
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
            self.last = -math.inf  # redraw on the next update
        print(msg, flush=True)

    def close(self):
        if self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()


class _TqdmProgress:
    def __init__(self, tqdm, total, unit):
        # a fixed 20-character bar leaves room for the postfix on a narrow terminal
        self.bar = tqdm(total=total, unit=unit, leave=True,
                        bar_format="{percentage:3.0f}%|{bar:20}| {n:.0f}/{total:.0f}" + unit
                                   + " [{elapsed}<{remaining}{postfix}]")
        self.last = -math.inf

    def update(self, n, postfix: dict, force=False):
        now = time.perf_counter()
        if not force and now - self.last < 0.25:
            return
        self.last = now
        self.bar.n = min(n, self.bar.total)
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.refresh()

    def write(self, msg):
        self.bar.write(msg)

    def close(self):
        self.bar.close()


def _make_progress(enabled, total, unit):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _PlainProgress(total, unit)
    return _TqdmProgress(tqdm, total, unit)


class _StopOnSigint:
    """Turn the first Ctrl-C into a request to stop after the current step.

    Stopping between steps guarantees the checkpoint never holds a
    half-applied update. A second Ctrl-C raises KeyboardInterrupt at once.
    Only active in the main thread (the only one that receives signals).
    """

    def __init__(self, say):
        self.requested = False
        self.say = say
        self.previous = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.say("Ctrl-C: stopping after this step and saving a checkpoint (Ctrl-C again to abort "
                 "without saving)")

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


# ---------------------------------------------------------------- the training loop

def _diverged(step, loss, initial, cfg, lr, last_ckpt):
    if not math.isfinite(loss):
        what = f"the loss became {loss}"
    else:
        what = f"the loss {loss:.4g} exceeded 3x its starting value {initial:.4g}"
    saved = f"; the last good checkpoint is {last_ckpt}" if last_ckpt else ""
    clip = ("--clip 1 --clip-mode norm" if cfg.clip else "--clip 5")
    return TrainingDiverged(f"training diverged at step {step}: {what}{saved}. "
                            f"Try a lower learning rate (e.g. --lr {lr / 10:g}) or clip the "
                            f"gradients ({clip}).")


def train(config: TrainConfig | None = None, *, text: str | None = None, progress: bool = True,
          resume: str | None = None, log=print) -> TrainResult:
    """Train a character-level model.

    Parameters
    ----------
    config : TrainConfig, optional
        The run; defaults to ``TrainConfig()``.
    text : str, optional
        Training text; if omitted it is read from ``config.data`` or the
        default corpus.
    progress : bool, default True
        Show a progress bar (tqdm if installed, else one status line).
    resume : str, optional
        Path of a checkpoint to continue from. The model, data and optimiser
        options then come from the checkpoint's config; only the run options
        (``steps``, ``minutes``, ``out``, ``eval_every``, ``sample_every``,
        ``sample_length``, ``sample_temperature``, ``checkpoint_every``) come
        from ``config``, and ``steps``/``minutes`` count from the resume
        point. The continuation is bit-identical to a run that was never
        interrupted.
    log : callable, default print
        Receives every message (corpus, samples, where checkpoints go).

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingDiverged
        If the loss becomes NaN/inf or exceeds 3x its starting value.
    ValueError
        For bad options, unreadable data, a corrupt checkpoint or a text that
        differs from the one a checkpoint was trained on.
    """
    config = TrainConfig() if config is None else config
    ckpt = None
    if resume is not None:
        ckpt = load_checkpoint(resume)
        merged = dict(ckpt.config)
        merged.update({f: getattr(config, f) for f in RUN_FIELDS})
        cfg = TrainConfig.from_dict(merged)
    else:
        cfg = dataclasses.replace(config)
    cfg.validate()

    # ---- data
    if text is None:
        text, description = load_corpus(cfg)
    else:
        description = f"text passed to train() ({len(text):,} characters)"
    vocab = Vocab.from_text(text)
    digest = _text_digest(text)
    if ckpt is not None:
        if vocab != ckpt.vocab or not np.array_equal(ckpt.extra.get("text_sha256", digest), digest):
            raise ValueError(f"the training text ({description}) is not the text the checkpoint "
                             f"{resume} was trained on; resume with the same --data, or start a new run")
    ids = vocab.encode(text)
    T, B = cfg.seq_len, cfg.batch
    K = vocab.size
    try:
        train_ids, val_ids = split(ids, cfg.val_fraction, T=T)
        batcher = StreamBatcher(train_ids, T, B) if cfg.batching == "stream" else None
    except ValueError as exc:  # the text is too short: say which text
        raise ValueError(f"{description}: {exc}") from None

    # ---- model, optimiser, random generator, batches
    dtype = np.dtype(cfg.dtype)
    optimizer = make_optimizer(cfg.optim, cfg.lr)
    if ckpt is None:
        rng = np.random.default_rng(cfg.seed)
        params = init_params(K, cfg.hidden, cell=cfg.cell, layers=cfg.layers, init=cfg.init,
                             seed=rng, dtype=dtype)
        step, initial, smooth, elapsed0 = 0, None, None, 0.0
        state = init_state(params, B)
        history = []
    else:
        params = {k: np.array(v) for k, v in ckpt.params.items()}
        cell, layers, _, H = model_info(params)
        if (cell, layers, H) != (cfg.cell, cfg.layers, cfg.hidden):
            raise ValueError(f"checkpoint {resume}: its weights ({cell!r}, {layers} layers, H={H}) do "
                             f"not match its config ({cfg.cell!r}, {cfg.layers} layers, H={cfg.hidden})")
        extra = ckpt.extra
        needed = ["initial_loss", "smooth_loss"] + (["state"] if batcher is not None else [])
        missing = [k for k in needed if k not in extra]
        if missing:
            raise ValueError(f"checkpoint {resume} holds no training state (missing {missing}); "
                             f"it can be sampled from but not resumed")
        optimizer.load_state_dict(ckpt.optim_state)
        rng = rng_from_state(ckpt.rng_state)
        step = int(ckpt.step)
        initial, smooth = float(extra["initial_loss"]), float(extra["smooth_loss"])
        if math.isnan(initial):  # saved before the first step
            initial = smooth = None
        elapsed0 = float(extra.get("elapsed", 0.0))
        history = [tuple(r) for r in np.asarray(extra.get("history", np.zeros((0, 5)))).tolist()]
        history = [(int(r[0]), *r[1:]) for r in history]
        if batcher is not None:
            batcher.load_state_dict({k[len("batcher."):]: v for k, v in extra.items()
                                     if k.startswith("batcher.")})
            state = np.array(extra["state"])
        else:
            state = init_state(params, B)

    out_path = os.path.join(cfg.out, "checkpoint.npz")
    last_ckpt = resume

    def save():
        extra = {
            "initial_loss": np.array(initial if initial is not None else np.nan),
            "smooth_loss": np.array(smooth if smooth is not None else np.nan),
            "elapsed": np.array(elapsed0 + time.perf_counter() - t_start),
            "history": np.array(history, dtype=np.float64).reshape(-1, 5),
            "text_sha256": digest,
        }
        if batcher is not None:
            extra["state"] = state
            extra.update({f"batcher.{k}": np.asarray(v) for k, v in batcher.state_dict().items()})
        save_checkpoint(out_path, params=params, vocab=vocab, config=cfg.to_dict(), step=step,
                        optim_state=optimizer.state_dict(), rng_state=rng.bit_generator.state,
                        extra=extra)
        return out_path

    # ---- budget
    if cfg.steps is None and cfg.minutes is None:
        seconds, max_steps = DEFAULT_MINUTES * 60, None
    else:
        seconds = cfg.minutes * 60 if cfg.minutes is not None else None
        max_steps = cfg.steps
    start_step = step
    n_params = count_params(params)
    log(f"corpus: {description}; K = {K} distinct characters "
        f"({len(train_ids):,} train / {len(val_ids):,} validation)")
    budget = f"{max_steps:,} steps" if max_steps is not None else f"{seconds / 60:g} minutes"
    if max_steps is not None and seconds is not None:
        budget += f" or {seconds / 60:g} minutes"
    log(f"model: {cfg.cell} x{cfg.layers}, H = {cfg.hidden}, {n_params:,} parameters, {cfg.dtype}; "
        f"{cfg.optim} lr {optimizer.lr:g}, T = {T}, B = {B}, {cfg.batching} batching; "
        + (f"resuming from step {step} ({resume}); " if ckpt is not None else "")
        + f"training for {budget}")

    bar = _make_progress(progress, max_steps if max_steps is not None else seconds,
                         "step" if max_steps is not None else "s")

    def say(msg):
        if bar is not None and log is print:
            bar.write(msg)
        else:
            log(msg)

    t_start = time.perf_counter()
    train_time, tokens = 0.0, 0
    val_loss = history[-1][2] if history else float("nan")

    def rate():
        return tokens / train_time if train_time > 0 else float("nan")

    def postfix():
        return {"step": step, "loss": f"{smooth:.3f}" if smooth is not None else "-",
                "val": f"{val_loss:.3f}", "tok/s": f"{rate():,.0f}"}

    def record():
        nonlocal val_loss
        val_loss = evaluate(params, val_ids)
        elapsed = elapsed0 + time.perf_counter() - t_start
        history.append((step, smooth if smooth is not None else float("nan"), val_loss, rate(), elapsed))
        if bar is None:
            say(f"step {step} | loss {history[-1][1]:.3f} | val {val_loss:.3f} | "
                f"{rate():,.0f} tok/s | {_fmt_time(elapsed)}")

    def show_sample():
        txt = sample(params, vocab, cfg.sample_length, temperature=cfg.sample_temperature,
                     seed=cfg.seed + step)  # its own generator: sampling never changes training
        say(f"---- sample at step {step} ----\n{txt}\n----")

    interrupted = False
    try:
        with _StopOnSigint(say) as sigint:
            if ckpt is None and cfg.eval_every:
                record()
            while True:
                now = time.perf_counter()
                if max_steps is not None and step - start_step >= max_steps:
                    break
                if seconds is not None and now - t_start >= seconds:
                    break
                if sigint.requested:
                    interrupted = True
                    break
                # --8<-- [start:train-step]
                if batcher is not None:
                    inputs, targets, reset = batcher.next()
                    if reset:  # a stream wrapped around to the start of the text
                        state = init_state(params, B)
                    state0 = state
                else:
                    inputs, targets = random_windows(train_ids, T, B, rng)
                    state0 = None  # every random window starts from h(0) = 0
                loss, grads, state = loss_and_grads(params, inputs, targets, state0, reduction="mean")
                if initial is None:
                    initial = smooth = loss
                if not math.isfinite(loss) or loss > 3 * initial:
                    raise _diverged(step, loss, initial, cfg, optimizer.lr, last_ckpt)
                if cfg.clip:
                    if cfg.clip_mode == "elementwise":
                        clip_elementwise(grads, cfg.clip)
                    else:
                        clip_global_norm(grads, cfg.clip)
                optimizer.step(params, grads)  # in place
                step += 1
                smooth = SMOOTHING * smooth + (1 - SMOOTHING) * loss  # moving average for display
                # --8<-- [end:train-step]
                tokens += T * B
                train_time += time.perf_counter() - now
                if cfg.eval_every and step % cfg.eval_every == 0:
                    record()
                if cfg.sample_every and step % cfg.sample_every == 0:
                    show_sample()
                if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                    last_ckpt = save()
                if bar is not None:
                    n = step - start_step if max_steps is not None else time.perf_counter() - t_start
                    bar.update(n, postfix())
            if not history or history[-1][0] != step:
                record()
            if bar is not None:
                n = step - start_step if max_steps is not None else time.perf_counter() - t_start
                bar.update(n, postfix(), force=True)
            last_ckpt = save()
    finally:
        if bar is not None:
            bar.close()
    if interrupted:
        log(f"interrupted at step {step}; checkpoint saved to {last_ckpt} "
            f"(continue with: rnn train --resume {last_ckpt})")
    else:
        log(f"done: step {step}, validation loss {val_loss:.4f} nats/char "
            f"({val_loss / math.log(2):.3f} bits/char), {rate():,.0f} tokens/s; checkpoint {last_ckpt}")
    return TrainResult(params=params, vocab=vocab, step=step, history=history, checkpoint=last_ckpt,
                       val_loss=val_loss, interrupted=interrupted, config=cfg)
