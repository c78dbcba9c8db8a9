"""Synthetic tasks with a known answer, for training and testing recurrent models.

Every generator takes a seed or a NumPy random generator, so the same seed
always gives the same batch, and returns time-major int arrays like every
batch in ``rnn``. Two families:

* long-range memory (chapter "Long-range memory"): the distance between the
  input that decides the answer and the step where the answer is due is a
  knob; batches are :class:`TaskBatch` tuples scored at the last step;
* sequences of varying length for the models beyond the language model
  (many-to-one, tagging, sequence-to-sequence): right-padded ids with their
  lengths (see :mod:`rnn.masking`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import check_int, check_number
from .model import forward, init_params
from .optim import make_optimizer
from .train import train_step
from .truncation import Truncation

__all__ = ["TaskBatch", "adding_problem", "first_symbol", "recall_text", "recall_accuracy",
           "evaluate_task", "train_on_task", "TASKS",
           "parity_batch", "seen_later_batch", "reversal_batch"]


# ==========================================================================
# Long-range memory tasks (chapter "Long-range memory"): the distance
# between the input that decides the answer and the step where the answer
# is due is a knob.
#
#   adding_problem   the sum of two marked digits (Hochreiter & Schmidhuber 1997)
#   first_symbol     the symbol read `distance` steps ago, through noise
#   recall_text      the same as a text stream, for `rnn train` and truncated BPTT
#   recall_accuracy  how often a language model trained on it gets the answers
#   evaluate_task, train_on_task
#
# Every batch is a TaskBatch: inputs and targets (T, B), a loss mask that is
# True at the last step only (the one prediction that is scored), the answers,
# the vocabulary size K, and the loss and accuracy of the best guess that
# ignores the inputs (the trivial baseline).
# ==========================================================================


class TaskBatch(NamedTuple):
    """A batch of a task with a known answer.

    Attributes
    ----------
    inputs : ndarray of int64, shape (T, B)
    targets : ndarray of int64, shape (T, B)
        The answer at the last step, 0 elsewhere (those positions do not count).
    loss_mask : ndarray of bool, shape (T, B)
        True at the last step only: pass it to ``rnn.loss_and_grads``.
    answers : ndarray of int64, shape (B,)
        ``targets[-1]``.
    K : int
        Vocabulary size: the model's input ids and output classes.
    baseline_loss : float
        Cross-entropy (nats) of the best prediction that ignores the inputs:
        the entropy of the answer's distribution.
    chance : float
        Accuracy of the best such guess (the most likely answer).
    """

    inputs: np.ndarray
    targets: np.ndarray
    loss_mask: np.ndarray
    answers: np.ndarray
    K: int
    baseline_loss: float
    chance: float


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _length(func, distance, length):
    distance = check_int(func, "distance", distance, low=1)
    length = distance + 1 if length is None else check_int(func, "length", length)
    if length < distance + 1:
        raise ValueError(f"{func}: length must be at least distance + 1 = {distance + 1} (the "
                         f"input that decides the answer, then distance more steps), got {length}")
    return distance, length


def _batch(inputs, answers, K, probs):
    T, B = inputs.shape
    targets = np.zeros((T, B), np.int64)
    targets[-1] = answers
    mask = np.zeros((T, B), bool)
    mask[-1] = True
    probs = np.asarray(probs, dtype=np.float64)
    entropy = float(-(probs * np.log(probs)).sum())
    return TaskBatch(inputs, targets, mask, answers, K, entropy, float(probs.max()))


def adding_problem(batch: int, distance: int, *, length=None, digits: int = 4,
                   seed=None) -> TaskBatch:
    """The adding problem with digits: add the two marked inputs, answer at the last step.

    Every step reads a digit v in 0 .. m-1 (m = ``digits``), unmarked (id v)
    or marked (id m + v). Exactly two are marked: the first ``distance`` steps
    before the last step, the second at a uniformly random later step (the
    last one included). The answer is the sum of the two marked digits, a
    class in 0 .. 2m - 2. Hochreiter & Schmidhuber (1997) add real numbers;
    digits turn it into a classification the character model can do.

    Parameters
    ----------
    batch : int
        B, the number of sequences.
    distance : int >= 1
        Steps from the first marked input to the step that must answer.
    length : int, optional
        T >= distance + 1 (default distance + 1); the steps before the first
        marker hold unmarked digits.
    digits : int >= 2
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    TaskBatch
        K = 2m. The baseline is the triangular distribution of a sum of two
        uniform digits: chance accuracy 1/m.
    """
    func = "adding_problem"
    B = check_int(func, "batch", batch)
    distance, T = _length(func, distance, length)
    m = check_int(func, "digits", digits, low=2)
    rng = _rng(seed)
    values = rng.integers(0, m, size=(T, B))
    first = T - 1 - distance
    second = rng.integers(first + 1, T, size=B)  # a later step, up to the last
    inputs = values.copy()
    cols = np.arange(B)
    inputs[first, cols] += m
    inputs[second, cols] += m
    answers = values[first, cols] + values[second, cols]
    probs = [(m - abs(s - (m - 1))) / m ** 2 for s in range(2 * m - 1)]  # P(sum = s)
    return _batch(inputs.astype(np.int64), answers.astype(np.int64), 2 * m, probs)


def first_symbol(batch: int, distance: int, *, length=None, symbols: int = 4, noise: int = 4,
                 seed=None) -> TaskBatch:
    """Remember one symbol through ``distance`` steps of noise, answer at the last step.

    The step ``distance`` steps before the last one reads a symbol, an id in
    0 .. m-1 (m = ``symbols``); every other step reads a noise id from
    m .. m + n - 1 (n = ``noise``; n = 1 is a constant filler). The answer at
    the last step is the symbol.

    Parameters
    ----------
    batch : int
    distance : int >= 1
    length : int, optional
        T >= distance + 1 (default distance + 1).
    symbols, noise : int >= 1
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    TaskBatch
        K = m + n; baseline ln m, chance 1/m.
    """
    func = "first_symbol"
    B = check_int(func, "batch", batch)
    distance, T = _length(func, distance, length)
    m = check_int(func, "symbols", symbols)
    n = check_int(func, "noise", noise)
    rng = _rng(seed)
    inputs = rng.integers(m, m + n, size=(T, B))
    answers = rng.integers(0, m, size=B)
    inputs[T - 1 - distance] = answers
    return _batch(inputs.astype(np.int64), answers.astype(np.int64), m + n, np.full(m, 1 / m))


def recall_text(n_blocks: int, distance: int, *, symbols: int = 4, noise: int = 4,
                seed=None) -> str:
    """``first_symbol`` as a text stream, for ``rnn train`` and truncated BPTT.

    The text is ``n_blocks`` blocks of ``distance + 2`` characters: a symbol
    (a lowercase letter among the first m = ``symbols``), ``distance - 1``
    noise digits (among the first n = ``noise`` of ``0``-``9``), a ``?``, and
    the symbol again in upper case. Predicting the character after a ``?``
    (the upper-case answer) needs the letter read exactly ``distance`` steps
    earlier; the rest is noise (ln n nats for a digit, ln m for a new symbol)
    or counting.

    Returns
    -------
    text : str
        Answers are the characters right after each ``"?"``.
    """
    func = "recall_text"
    n_blocks = check_int(func, "n_blocks", n_blocks)
    distance = check_int(func, "distance", distance, low=1)
    m = check_int(func, "symbols", symbols, high=26)
    n = check_int(func, "noise", noise, high=10)
    rng = _rng(seed)
    letters = rng.integers(0, m, size=n_blocks)
    digits = rng.integers(0, n, size=(n_blocks, distance - 1))
    return "".join(chr(97 + a) + "".join(str(d) for d in row) + "?" + chr(65 + a)
                   for a, row in zip(letters.tolist(), digits.tolist()))


def recall_accuracy(params: dict, vocab, text: str) -> float:
    """Accuracy of a language model on the answers of a :func:`recall_text`.

    The model reads the whole text as one sequence from a zero state (the
    state carried all the way, as when generating); at every ``"?"`` its most
    likely next character is compared with the answer that follows.

    Parameters
    ----------
    params : dict
        A model trained on recall texts (any cell, any depth).
    vocab : rnn.data.Vocab
        Its vocabulary (``"?"`` must be in it).
    text : str

    Returns
    -------
    accuracy : float
        Fraction of the answers predicted right; chance is 1/m for m symbols.
    """
    ids = vocab.encode(text)
    cue = vocab.encode("?")[0]
    at = np.flatnonzero(ids[:-1] == cue)  # the steps that read "?": the next id is the answer
    if len(at) == 0:
        raise ValueError("recall_accuracy: text holds no '?' cue; make it with recall_text")
    o, _ = forward(params, ids[:-1, None])
    return float(np.mean(o[at, 0].argmax(axis=1) == ids[at + 1]))


def evaluate_task(params: dict, batch: TaskBatch) -> tuple:
    """Loss and accuracy of a model's last prediction on a task batch.

    Returns
    -------
    loss : float
        Mean cross-entropy (nats) of the answers; compare ``batch.baseline_loss``.
    accuracy : float
        Fraction of answers that are the most likely class; compare ``batch.chance``.
    """
    o, _ = forward(params, batch.inputs)
    logits = o[-1]  # (B, K): the prediction after the last input
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    cols = np.arange(len(batch.answers))
    loss = float(-logp[cols, batch.answers].mean())
    return loss, float((logits.argmax(axis=1) == batch.answers).mean())


#: The task generators by name.
TASKS = {"adding": adding_problem, "first_symbol": first_symbol}


def train_on_task(task: str, distance: int, *, cell: str = "rnn", hidden: int = 32,
                  init: str = "scaled", spectral_radius=None, steps: int = 300, batch: int = 32,
                  lr=None, clip: float = 1.0, seed: int = 0, length=None, eval_batch: int = 512,
                  **task_options) -> dict:
    """Train a model on fresh batches of a task for a fixed number of steps.

    Each step draws a new batch (so there is no overfitting to measure) and
    calls :func:`rnn.train.train_step` with the task's loss mask, Adam and
    global-norm clipping. The answer is then scored on ``eval_batch`` held-out
    sequences from another seed.

    Parameters
    ----------
    task : {"adding", "first_symbol"}
    distance : int >= 1
    cell, hidden, init, spectral_radius
        The model: :func:`rnn.init_params` arguments.
    steps, batch, lr, clip, seed
        The budget and the optimiser (Adam; lr None: its default).
    length : int, optional
        Sequence length (default distance + 1).
    eval_batch : int
    **task_options
        Passed to the generator (``digits``, or ``symbols`` and ``noise``).

    Returns
    -------
    result : dict
        ``params``, ``losses`` (the training loss of every step), ``loss`` and
        ``accuracy`` on the held-out batch, and its ``baseline_loss`` and ``chance``.
    """
    func = "train_on_task"
    if task not in TASKS:
        raise ValueError(f"{func}: task must be one of {sorted(TASKS)}, got {task!r}")
    make = TASKS[task]
    steps = check_int(func, "steps", steps)
    clip = check_number(func, "clip", clip, low=0.0, low_open=True)
    rng = np.random.default_rng(seed)
    test = make(check_int(func, "eval_batch", eval_batch), distance, length=length,
                seed=np.random.default_rng([seed, 1]), **task_options)
    params = init_params(test.K, hidden, cell=cell, init=init, seed=rng,
                         spectral_radius=spectral_radius)
    optimizer = make_optimizer("adam", lr)
    losses = []
    for _ in range(steps):
        b = make(batch, distance, length=length, seed=rng, **task_options)
        loss, _ = train_step(params, optimizer, b.inputs, b.targets, None, clip=clip,
                             clip_mode="norm", plan=Truncation(loss_mask=b.loss_mask))
        losses.append(loss)
    loss, accuracy = evaluate_task(params, test)
    return dict(params=params, losses=np.array(losses), loss=loss, accuracy=accuracy,
                baseline_loss=test.baseline_loss, chance=test.chance)


# ============================================================================
# Tasks for the models beyond the language model: many-to-one classification,
# tagging with a bidirectional layer, sequence-to-sequence.
# (rnn.classify, rnn.bidirectional, rnn.seq2seq; chapters "Many-to-one",
# "Bidirectional RNNs", "Encoder-decoder", "The step to attention")
# The block is self-contained (its own imports), so that other blocks of
# tasks can sit beside it.
# ============================================================================


def _lengths(func, rng, B, min_len, max_len):
    B = check_int(func, "B", B)
    min_len = check_int(func, "min_len", min_len)
    max_len = check_int(func, "max_len", max_len)
    if min_len > max_len:
        raise ValueError(f"{func}: min_len must be <= max_len, got min_len = {min_len} and "
                         f"max_len = {max_len}")
    return rng.integers(min_len, max_len + 1, size=B)


def _symbols(func, rng, lengths, alphabet, low):
    """Right-padded random ids in [low, low + alphabet), padding 0: (T, B)."""
    alphabet = check_int(func, "alphabet", alphabet)
    T, B = int(lengths.max()), len(lengths)
    ids = rng.integers(low, low + alphabet, size=(T, B))
    ids[np.arange(T)[:, None] >= lengths] = 0
    return ids


def parity_batch(rng, *, B: int = 64, min_len: int = 1, max_len: int = 20):
    """Bit strings labelled with their parity: is the number of ones odd?

    Parameters
    ----------
    rng : numpy.random.Generator
    B : int, default 64
        Sequences in the batch.
    min_len, max_len : int, default 1, 20
        Lengths are drawn uniformly from [min_len, max_len].

    Returns
    -------
    ids : ndarray of int64, shape (T, B)
        Bits (ids 0 and 1, so D = 2), right-padded with 0.
    lengths : ndarray of int64, shape (B,)
    labels : ndarray of int64, shape (B,)
        1 if sequence n holds an odd number of ones, else 0 (K = 2).
    """
    func = "parity_batch"
    lengths = _lengths(func, rng, B, min_len, max_len)
    ids = _symbols(func, rng, lengths, 2, 0)
    return ids, lengths, ids.sum(axis=0) % 2  # the padding is 0, so it adds nothing


def seen_later_batch(rng, *, B: int = 64, min_len: int = 1, max_len: int = 12,
                     alphabet: int = 6):
    """Tag every step: does its symbol occur again later in the sequence?

    The answer at step t depends on the steps after t, which a recurrence
    that reads forwards has not seen yet: a task for a bidirectional layer.

    Parameters
    ----------
    rng : numpy.random.Generator
    B : int, default 64
    min_len, max_len : int, default 1, 12
    alphabet : int, default 6
        Symbols are ids 0 .. alphabet - 1 (D = alphabet).

    Returns
    -------
    ids : ndarray of int64, shape (T, B)
        Right-padded with 0.
    lengths : ndarray of int64, shape (B,)
    tags : ndarray of int64, shape (T, B)
        ``tags[t, n] = 1`` if ``ids[t, n]`` occurs in ``ids[t+1 : lengths[n], n]``
        (K = 2); 0 on the padding.
    """
    func = "seen_later_batch"
    lengths = _lengths(func, rng, B, min_len, max_len)
    ids = _symbols(func, rng, lengths, alphabet, 0)
    T = ids.shape[0]
    real = np.arange(T)[:, None] < lengths
    onehot = (ids[..., None] == np.arange(alphabet)) & real[..., None]  # (T, B, alphabet)
    later = np.cumsum(onehot[::-1], axis=0)[::-1] - onehot  # occurrences after step t
    tags = np.take_along_axis(later, ids[..., None], axis=2)[..., 0] > 0
    return ids, lengths, (tags & real).astype(np.int64)


def reversal_batch(rng, *, B: int = 64, min_len: int = 1, max_len: int = 12, alphabet: int = 8):
    """Strings and their reversals, for an encoder-decoder.

    Parameters
    ----------
    rng : numpy.random.Generator
    B : int, default 64
    min_len, max_len : int, default 1, 12
        Source lengths are drawn uniformly from [min_len, max_len].
    alphabet : int, default 8
        Symbols are ids 1 .. alphabet; id 0 is the end token
        (:data:`rnn.seq2seq.END`), so D = K = alphabet + 1.

    Returns
    -------
    src : ndarray of int64, shape (T_x, B)
        Right-padded with 0.
    src_lengths : ndarray of int64, shape (B,)
    tgt : ndarray of int64, shape (T_x + 1, B)
        Each source reversed, then the end token 0; right-padded with 0.
    tgt_lengths : ndarray of int64, shape (B,)
        ``src_lengths + 1``.
    """
    func = "reversal_batch"
    lengths = _lengths(func, rng, B, min_len, max_len)
    src = _symbols(func, rng, lengths, alphabet, 1)
    T = src.shape[0]
    t = np.arange(T + 1)[:, None]
    idx = np.clip(lengths - 1 - t, 0, T - 1)  # tgt[t] = src[T_n - 1 - t] for t < T_n
    tgt = np.where(t < lengths, src[idx, np.arange(len(lengths))], 0)
    return src, lengths, tgt, lengths + 1


# ====================================================== end of the tasks beyond language models
