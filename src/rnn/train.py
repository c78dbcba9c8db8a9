"""Training a character-level language model: min-char-rnn done right.

One training step (:func:`train_step`) is truncated backpropagation through
time on a batch of windows of ``seq_len`` characters::

    loss, grads, state = loss_and_grads(params, inputs, targets, state0, reduction="mean")
    clip(grads)                                  # +-5 elementwise, or by global norm
    optimizer.step(params, grads)                # in place

With ``batching="stream"`` (the default, as in min-char-rnn and char-rnn)
row i of every batch continues row i of the previous one, so the final
hidden state of one window is the initial state of the next; the gradient
still stops at the window edge. With ``batching="random"`` every window
starts at a random place from a zero state. ``truncation`` chooses what the
gradient of a window keeps (:mod:`rnn.truncation`): the whole window
(``"window"``), overlapping windows that train their last
``truncation_stride`` steps (``"overlap"``, TBPTT(k1, k2)), or random cuts
scaled to stay unbiased (``"random"``).

:func:`train` runs the loop: it reports a smoothed training loss (an
exponential moving average with weights 0.99/0.01, see :data:`SMOOTHING`),
the validation loss, tokens per second and a short sample now and then; it
stops with :class:`TrainingDiverged` if the loss becomes NaN/inf or more than
three times its starting value, and it writes an atomic checkpoint every
``checkpoint_every`` steps, at the end, and when interrupted with Ctrl-C. A
checkpoint holds everything needed to continue *bit-identically*: weights,
optimiser state, random generator, batcher position, the hidden state
carried between windows, and the step count (see :class:`rnn.run_state.RunState`).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from ._flat import arrays_of
from .checkpoint import save_checkpoint
from .config import DEFAULT_MINUTES, TrainConfig
from .data import Vocab, validation_windows
from .losses import log_softmax
from .model import count_params, forward, init_state, loss_and_grads
from .optim import clip_elementwise, clip_global_norm
from .progress import SIGNALS, AbortOnSignal, StopOnSignal, format_time, make_progress
from .run_folder import BEST_NAME, CHECKPOINT_NAME, RunFolder
from .run_state import (Corpus, Record, RunState, check_memory, load_corpus, new_run_id,
                        resolve_config, run_id_of)
from .sample import sample

__all__ = ["TrainConfig", "TrainResult", "TrainingDiverged", "Record", "RunState", "train",
           "train_step", "evaluate", "load_corpus", "DEFAULT_MINUTES", "EVAL_SEQ_LEN",
           "EVAL_BATCH", "SMOOTHING", "DIVERGENCE_FACTOR"]

#: The validation loss is always measured with these window sizes, whatever
#: the training ``seq_len`` and ``batch``, so that runs compare.
EVAL_SEQ_LEN = 128
EVAL_BATCH = 16

#: Weight of the old value in the displayed moving average of the training
#: loss. min-char-rnn uses 0.999 over steps of 25 characters; a batched step
#: reads B*T = 2048 characters, and 0.999 would then lag thousands of steps
#: (millions of characters) behind the current loss. 0.99 averages over about
#: the last hundred steps.
SMOOTHING = 0.99

#: Training stops when the loss of a step exceeds this many times the first one.
DIVERGENCE_FACTOR = 3.0


class TrainingDiverged(RuntimeError):
    """The loss or a gradient became NaN/inf, or the loss grew past
    :data:`DIVERGENCE_FACTOR` times its starting value."""


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
    history : list of Record
        One :class:`Record` per evaluation.
    checkpoint : str or None
        Path of the last checkpoint written.
    val_loss : float
        Validation loss of the final parameters (nats per character).
    interrupted : bool
        True if the run was stopped by a signal (Ctrl-C, SIGTERM, SIGHUP)
        after saving its checkpoint.
    config : TrainConfig
    best_checkpoint : str or None
        Path of ``best.npz``, the checkpoint with the lowest validation loss
        measured after step 0.
    best_val_loss : float
        Its validation loss.
    signal : int or None
        The signal that stopped the run, if any.
    """

    params: dict
    vocab: Vocab
    step: int
    history: list = field(default_factory=list)
    checkpoint: str | None = None
    val_loss: float = float("nan")
    interrupted: bool = False
    config: TrainConfig | None = None
    best_checkpoint: str | None = None
    best_val_loss: float = float("nan")
    signal: int | None = None


# --8<-- [start:train-step]
def train_step(params, optimizer, inputs, targets, state0=None, *, clip=5.0,
               clip_mode="elementwise", max_loss=None, plan=None):
    """One step of truncated BPTT: forward, mean loss, backward, clipping, update.

    Parameters
    ----------
    params : dict of str to ndarray
        Updated in place.
    optimizer : rnn.optim.SGD, Adagrad or Adam
    inputs, targets : ndarray of int, shape (T, B)
    state0 : ndarray of shape (layers, S, B, H), optional
        Initial state (zeros if omitted); no gradient flows into it.
    clip : float or None, default 5.0
        Clipping threshold; None or 0 disables clipping.
    clip_mode : {"elementwise", "norm"}, default "elementwise"
        Clip each entry to [-clip, clip], or rescale to global norm <= clip.
    max_loss : float, optional
        Refuse the step if the loss exceeds it.
    plan : rnn.truncation.Truncation, optional
        Which positions count in the loss, which state to hand on, and where
        the gradient is cut inside the window (overlapping and randomised
        truncation, a loss at the last step only). None: every position
        counts, the gradient flows back to the window start, and the state
        after the last step is handed on.

    Returns
    -------
    loss : float
        Mean loss per character of this batch, before the update.
    state : ndarray of shape (layers, S, B, H)
        The state to start the next window from.

    Raises
    ------
    TrainingDiverged
        If the loss or a gradient is not finite, or the loss exceeds
        ``max_loss``; ``params`` are then left untouched. Also if the update
        itself made a weight or the optimiser's state NaN or infinite (only a
        learning rate far too large does that): the weights are then
        unusable, and :func:`train` saves nothing.
    """
    if plan is None:  # the plain window: every position, back to the window start
        loss, grads, state = loss_and_grads(params, inputs, targets, state0, reduction="mean")
    else:  # a loss mask, an overlap or random cuts (rnn.truncation)
        loss, grads, state = plan.loss_and_grads(params, inputs, targets, state0)
    if not math.isfinite(loss):
        raise TrainingDiverged(f"the loss became {loss}")
    if not all(np.isfinite(g).all() for g in arrays_of(grads)):  # one buffer: rnn._flat
        raise TrainingDiverged(f"a gradient became NaN or infinite (the loss was {loss:.4g})")
    if max_loss is not None and loss > max_loss:
        raise TrainingDiverged(f"the loss {loss:.4g} exceeded max_loss = {max_loss:.4g}")
    if clip and clip_mode == "elementwise":
        clip_elementwise(grads, clip)  # every entry to [-clip, clip], as min-char-rnn
    elif clip:
        clip_global_norm(grads, clip)  # all gradients together to norm <= clip
    optimizer.step(params, grads)  # in place
    updated = [*arrays_of(params), *(a for slot in optimizer.state.values() for a in arrays_of(slot))]
    if not all(np.isfinite(a).all() for a in updated):  # only a far too large learning rate
        raise TrainingDiverged("the update made a weight or the optimiser's state NaN or "
                               "infinite (is the learning rate far too large?)")
    return loss, state
# --8<-- [end:train-step]


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


class _Session:
    """One call of :func:`train`: the loop and its periodic duties (evaluate,
    sample, save, show progress) over a :class:`RunState`, writing into a
    held :class:`rnn.run_folder.RunFolder`."""

    def __init__(self, cfg, corpus, run, log, folder, resumed=None, replaced=()):
        self.cfg, self.corpus, self.run, self.log = cfg, corpus, run, log
        self.replaced = list(replaced)  # another run's files that --overwrite replaces
        self.bar = None
        self.stop = None
        self.out_path = folder.file(CHECKPOINT_NAME)
        self.best_path = folder.file(BEST_NAME)
        self.last_ckpt, self.last_step = (resumed, run.step) if resumed else (None, None)
        self.best_ckpt = None
        self.t_start = time.perf_counter()
        self.start_step = run.step
        self.train_time, self.tokens = 0.0, 0
        self.val_loss = run.history[-1].val_loss if run.history else float("nan")
        if cfg.steps is None and cfg.minutes is None:
            self.seconds, self.max_steps = DEFAULT_MINUTES * 60, None
        else:
            self.seconds = cfg.minutes * 60 if cfg.minutes is not None else None
            self.max_steps = cfg.steps
        self.base_lr = run.optimizer.lr
        if cfg.lr_decay == "linear":
            end = run.step + self.max_steps if self.max_steps is not None else -1
            if end < 0 or end != run.decay_end or run.decay_from < 0:  # a new line from here
                run.decay_from, run.decay_end, run.decay_scale = run.step, end, run.lr_scale
            # else: a resumed run that ends where the saved one would have: the same line
        else:
            run.restart_decay()

    def lr_factor(self) -> float:
        """The learning rate's factor for the next step under ``lr_decay="linear"``: the
        line from ``decay_scale`` down to 0 at the end of the budget (in steps, exact
        fractions of integers; in minutes, the share of this session's time left)."""
        run, left = self.run, 1.0
        if run.decay_end >= 0:
            left = (run.decay_end - run.step) / (run.decay_end - run.decay_from)
        if self.seconds is not None:
            left = min(left, 1.0 - (time.perf_counter() - self.t_start) / self.seconds)
        return run.decay_scale * max(left, 0.0)

    def begin(self, progress: bool):
        """Start the clock and the progress display (None if ``progress`` is False)."""
        steps = self.max_steps is not None
        self.bar = make_progress(progress, self.max_steps if steps else self.seconds,
                                 "step" if steps else "s")
        self.t_start = time.perf_counter()
        return self.bar

    def say(self, msg: str) -> None:
        if self.bar is not None and self.log is print:
            self.bar.write(msg)
        else:
            self.log(msg)

    def elapsed(self) -> float:
        return self.run.elapsed + time.perf_counter() - self.t_start

    def rate(self) -> float:
        return self.tokens / self.train_time if self.train_time > 0 else float("nan")

    def done(self) -> bool:
        if self.max_steps is not None and self.run.step - self.start_step >= self.max_steps:
            return True
        return self.seconds is not None and time.perf_counter() - self.t_start >= self.seconds

    def step(self) -> None:
        """One training step, with the divergence test and the bookkeeping."""
        cfg, run = self.cfg, self.run
        t0 = time.perf_counter()
        inputs, targets, state0, plan = run.next_batch(self.corpus, cfg)
        max_loss = None if run.initial_loss is None else DIVERGENCE_FACTOR * run.initial_loss
        if cfg.lr_decay == "linear":
            run.lr_scale = self.lr_factor()
            run.optimizer.lr = self.base_lr * run.lr_scale
        try:
            loss, state = train_step(run.params, run.optimizer, inputs, targets, state0,
                                     clip=cfg.clip, clip_mode=cfg.clip_mode, max_loss=max_loss,
                                     plan=plan)
        except TrainingDiverged as exc:
            what = str(exc)
            if "max_loss" in what:
                what = (f"{what.split(' exceeded')[0]} exceeded {DIVERGENCE_FACTOR:g}x its "
                        f"starting value {run.initial_loss:.4g}")
            raise self._diverged(what) from None
        if run.batcher is not None:
            run.state = state
        if run.initial_loss is None:
            run.initial_loss = run.smooth_loss = loss
        run.step += 1
        run.smooth_loss = SMOOTHING * run.smooth_loss + (1 - SMOOTHING) * loss  # for display
        # characters trained on: with overlapping windows, only the new ones count
        self.tokens += inputs.size if plan is None or plan.loss_mask is None \
            else int(plan.loss_mask.sum())
        self.train_time += time.perf_counter() - t0

    def _diverged(self, what: str) -> TrainingDiverged:
        saved = (f"; the last checkpoint, {self.last_ckpt} (step {self.last_step:,}), holds "
                 f"finite weights and is intact" if self.last_ckpt else "; nothing was saved")
        clip = "--clip 1 --clip-mode norm" if self.cfg.clip else "--clip 5"
        lr = self.run.optimizer.lr
        return TrainingDiverged(f"training diverged at step {self.run.step}: {what}{saved}. Try a "
                                f"lower learning rate (e.g. --lr {lr / 10:g}) or clip the "
                                f"gradients ({clip}).")

    def record(self) -> None:
        """Measure the validation loss; keep ``best.npz`` if it is the lowest so far."""
        run = self.run
        val_ids = self.corpus.val_ids[:self.cfg.eval_chars]
        self.val_loss = evaluate(run.params, val_ids)
        smooth = float("nan") if run.smooth_loss is None else run.smooth_loss
        run.history.append(Record(run.step, smooth, self.val_loss, self.rate(), self.elapsed()))
        if self.bar is None:
            self.say(f"step {run.step} | loss {smooth:.3f} | val {self.val_loss:.3f} | "
                     f"{self.rate():,.0f} tok/s | {format_time(self.elapsed())}")
        if run.step > 0 and (run.best_val_loss is None or self.val_loss < run.best_val_loss):
            run.best_val_loss = self.val_loss
            self._write(self.best_path)
            self.best_ckpt = self.best_path

    def show_sample(self) -> None:
        cfg = self.cfg
        txt = sample(self.run.params, self.corpus.vocab, cfg.sample_length,
                     temperature=cfg.sample_temperature,
                     seed=cfg.seed + self.run.step)  # its own generator: never changes training
        self.say(f"---- sample at step {self.run.step} ----\n{txt}\n----")

    def _write(self, path: str) -> None:
        run = self.run
        with self.stop.deferred():  # a second signal waits for the file to be complete
            save_checkpoint(path, params=run.params, vocab=self.corpus.vocab,
                            config=self.cfg.to_dict(), step=run.step,
                            optim_state=run.optimizer.state_dict(),
                            rng_state=run.rng.bit_generator.state,
                            extra=run.to_extra(self.corpus.digest, self.elapsed()))

    def save(self) -> None:
        self._write(self.out_path)
        self.last_ckpt, self.last_step = self.out_path, self.run.step
        if BEST_NAME in self.replaced and self.best_ckpt is None:
            os.unlink(self.best_path)  # another run's best: the folder is this run's now
        self.replaced = []

    def show_progress(self, force: bool = False) -> None:
        if self.bar is None:
            return
        run = self.run
        n = (run.step - self.start_step if self.max_steps is not None
             else time.perf_counter() - self.t_start)
        smooth = "-" if run.smooth_loss is None else f"{run.smooth_loss:.3f}"
        self.bar.update(n, {"step": run.step, "loss": smooth, "val": f"{self.val_loss:.3f}",
                            "tok/s": f"{self.rate():,.0f}"}, force=force)

    def after_step(self) -> None:
        cfg, step = self.cfg, self.run.step
        if cfg.eval_every and step % cfg.eval_every == 0:
            self.record()
        if cfg.sample_every and step % cfg.sample_every == 0:
            self.show_sample()
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            self.save()
        self.show_progress()

    def budget(self) -> str:
        text = (f"{self.max_steps:,} steps" if self.max_steps is not None
                else f"{self.seconds / 60:g} minutes")
        if self.max_steps is not None and self.seconds is not None:
            text += f" or {self.seconds / 60:g} minutes"
        return text

    def loop(self, progress: bool, fresh: bool):
        """Train until the budget is spent or a signal asks to stop; save at the end.

        Returns the signal that stopped the run, or None.
        """
        bar = self.begin(progress)
        try:
            with StopOnSignal(self.say, SIGNALS) as self.stop:
                if fresh and self.cfg.eval_every:
                    self.record()
                while not self.done() and not self.stop.requested:
                    self.step()
                    self.after_step()
                if not self.run.history or self.run.history[-1].step != self.run.step:
                    self.record()
                self.show_progress(force=True)
                if not self.stop.requested and self.cfg.lr_decay == "linear":
                    # the budget is spent and the rate has come down: more training
                    # (a resume with a new budget) starts a new line at the full rate
                    self.run.restart_decay()
                self.save()
        finally:
            if bar is not None:
                bar.close()
        return self.stop.signum


def _decay_text(cfg, run) -> str:
    if cfg.lr_decay == "none":
        return ""
    return " falling linearly to 0" + (f" from {run.decay_scale:.3g} of it"
                                       if run.decay_scale != 1.0 else "")


def train(config: TrainConfig | None = None, *, text: str | None = None, params: dict | None = None,
          progress: bool = True, resume: str | None = None, overwrite: bool = False,
          log=print) -> TrainResult:
    """Train a character-level model.

    Parameters
    ----------
    config : TrainConfig, optional
        The run; defaults to ``TrainConfig()``.
    text : str, optional
        Training text; if omitted it is read from ``config.data`` (piece by
        piece, however large) or the default corpus.
    params : dict, optional
        Initial parameters (copied, cast to ``config.dtype``) instead of a
        random initialisation; their cell, layers, H and K must match the
        config and the text. Not allowed with ``resume``.
    progress : bool, default True
        Show a progress bar (tqdm if installed, else one status line).
    resume : str, optional
        Path of a checkpoint to continue from. The model, data and optimiser
        options then come from the checkpoint's config; only the run options
        (those declared with ``run=True`` in :mod:`rnn.config`: ``steps``,
        ``minutes``, ``out``, ``eval_every``, ``sample_every``,
        ``sample_length``, ``sample_temperature``, ``checkpoint_every``) come
        from ``config``, and ``steps``/``minutes`` count from the resume
        point; ``config.data``, if given, names the same text at a new path.
        The continuation is bit-identical to a run that was never
        interrupted.
    overwrite : bool, default False
        Replace the checkpoints of another run in ``config.out``; without
        it such a folder is refused.
    log : callable, default print
        Receives every message (corpus, samples, where checkpoints go).

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingDiverged
        If the loss becomes NaN/inf or exceeds 3x its starting value. No
        checkpoint is written then; the message names the last one.
    ValueError
        For bad options, unreadable data, a corrupt checkpoint
        (:class:`rnn.checkpoint.CheckpointError`), a text that differs from
        the one a checkpoint was trained on, a model too large for the
        memory, an output folder that cannot be written, is used by another
        run (it is locked while a run trains) or holds another run's
        checkpoint.
    rnn.progress.Interrupted
        (a KeyboardInterrupt) for a signal during start-up, or a second one
        while training; nothing more is saved, and no temporary file is left.

    Notes
    -----
    The first Ctrl-C, SIGTERM or SIGHUP stops the run after the current
    step and saves a checkpoint (``interrupted`` and ``signal`` of the
    result say so). The folder ``config.out`` receives ``checkpoint.npz``
    (the latest state) and ``best.npz`` (the lowest validation loss).
    """
    if resume is not None and params is not None:
        raise ValueError("train: pass either params (a new run) or resume (a saved run), not both")
    cfg, ckpt = resolve_config(config, resume)
    run_id = run_id_of(ckpt) if ckpt is not None else new_run_id()
    folder = RunFolder(cfg.out)
    try:
        with AbortOnSignal("stopped while starting, before any training; nothing was saved"):
            folder.acquire()  # also checks that the folder can be written, before any training
            for note in folder.notes:
                log(note)
            replaced = folder.check_owner(run_id if ckpt is not None else None, resume,
                                          overwrite)
            corpus = Corpus.prepare(cfg, text)
            check_memory(cfg, corpus.vocab.size)
            run = (RunState.new(cfg, corpus, params, run_id) if ckpt is None
                   else RunState.from_checkpoint(ckpt, resume, cfg, corpus))
        session = _Session(cfg, corpus, run, log, folder, resumed=resume, replaced=replaced)
        log(f"corpus: {corpus.description}; K = {corpus.vocab.size} distinct characters "
            f"({len(corpus.train_ids):,} train / {len(corpus.val_ids):,} validation)")
        log(f"model: {cfg.cell} x{cfg.layers}, H = {cfg.hidden}, {count_params(run.params):,} "
            f"parameters, {cfg.dtype}; {cfg.optim} lr {run.optimizer.lr:g}{_decay_text(cfg, run)}, "
            f"T = {cfg.seq_len}, "
            f"B = {cfg.batch}, {cfg.batching} batching; "
            + (f"resuming from step {run.step} ({resume}); " if ckpt is not None else "")
            + f"training for {session.budget()}")
        signum = session.loop(progress, fresh=ckpt is None)
    finally:
        folder.release()
    if signum is not None:
        log(f"interrupted at step {run.step}; checkpoint saved to {session.last_ckpt} "
            f"(continue with: rnn train --resume {session.last_ckpt})")
    else:
        v = session.val_loss
        log(f"done: step {run.step}, validation loss {v:.4f} nats/char ({v / math.log(2):.3f} "
            f"bits/char), {session.rate():,.0f} tokens/s; checkpoint {session.last_ckpt}")
    best = float("nan") if run.best_val_loss is None else run.best_val_loss
    return TrainResult(params=run.params, vocab=corpus.vocab, step=run.step, history=run.history,
                       checkpoint=session.last_ckpt, val_loss=session.val_loss,
                       interrupted=signum is not None, config=cfg,
                       best_checkpoint=session.best_ckpt or _existing(folder.file(BEST_NAME)),
                       best_val_loss=best, signal=signum)


def _existing(path: str) -> str | None:
    return path if os.path.exists(path) else None
