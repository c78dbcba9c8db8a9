"""Generating text from a trained character-level model.

The model gives logits o(t) for the character after the ones it has read.
Generation feeds its own choice back in, one character at a time::

    o(t) = c + V h(t)                       logits of the next character
    p = softmax(o(t) / temperature)         (optionally only the top-k kept)
    x(t+1) = one character drawn from p     then read it and repeat

* ``temperature`` < 1 sharpens the distribution (safer, more repetitive
  text), > 1 flattens it (more surprising, more mistakes). As it goes to 0
  the draw becomes the arg-max: greedy decoding.
* ``top_k`` keeps only the k most likely characters before drawing, so a
  rare bad character can never be picked.
* ``greedy`` always takes the most likely character; it is deterministic.
* :func:`beam_search` keeps the ``beam_width`` most likely *continuations*
  rather than the most likely next character.

Every function works with any cell registered in :data:`rnn.model.CELLS` and
any number of layers: it only calls :func:`rnn.model.forward` with a state of
shape (layers, S, B, H).
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_int, check_number
from .losses import log_softmax
from .model import forward, init_state, model_info, stepper

__all__ = ["next_distribution", "sample", "beam_search", "backtrack"]


def next_distribution(logits, temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """The distribution the sampler draws the next character from.

    Parameters
    ----------
    logits : ndarray of shape (..., K)
        Logits o(t) of the next character (any leading axes).
    temperature : float, default 1.0
        Divides the logits before the softmax; must be > 0.
    top_k : int, optional
        Keep only the ``top_k`` largest logits (1 <= top_k <= K); the others
        get probability 0. Ties are broken towards the lower id, like
        ``np.argmax``, so ``top_k=1`` puts all the mass on the arg-max.

    Returns
    -------
    probs : ndarray of shape (..., K), float64
        Non-negative, summing to 1 over the last axis.

    Raises
    ------
    ValueError
        For a non-positive or non-finite temperature or a top_k outside [1, K].
    """
    func = "next_distribution"
    o = as_float_array(func, "logits", logits).astype(np.float64)
    if o.ndim == 0 or o.shape[-1] == 0:
        raise ValueError(f"{func}: logits must have shape (..., K) with K >= 1, got {o.shape}")
    K = o.shape[-1]
    check_number(func, "temperature", temperature, low=0, low_open=True)
    # --8<-- [start:next_distribution]
    z = o - o.max(axis=-1, keepdims=True)  # stable softmax: the largest becomes exp(0) = 1 ...
    with np.errstate(over="ignore"):  # ... at any temperature (a tiny one sends the rest to -inf)
        z /= temperature  # temperature < 1 sharpens, > 1 flattens
    if top_k is not None:
        check_int(func, "top_k", top_k, low=1, high=K)
        order = np.argsort(-o, axis=-1, kind="stable")  # descending, ties: lower id first
        drop = order[..., top_k:]  # everything outside the k largest
        np.put_along_axis(z, drop, -np.inf, axis=-1)  # exp(-inf) = 0
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    # --8<-- [end:next_distribution]
    return p


def _check_model(func, params, vocab):
    cell, layers, K, H = model_info(params)
    if len(vocab) != K:
        raise ValueError(f"{func}: the vocabulary has {len(vocab)} characters but the model's "
                         f"output layer V has K = {K} rows; use the vocabulary saved with the model")
    return K


def _start_ids(vocab, prime):
    """Ids to read before generating: the prime, or one newline (else char 0)."""
    if prime:
        return vocab.encode(prime)  # raises ValueError naming unknown characters
    start = "\n" if "\n" in vocab.chars else vocab.chars[0]
    return vocab.encode(start)


def _read(params, ids, state):
    """Run the model over ``ids`` (T,) for one sequence; return last logits (K,) and state."""
    o, state = forward(params, np.asarray(ids, dtype=np.int64).reshape(-1, 1), state)
    return o[-1, 0], state


def sample(params, vocab, length: int, *, prime: str = "", temperature: float = 1.0,
           top_k: int | None = None, greedy: bool = False, seed=None) -> str:
    """Generate ``length`` characters from a model.

    Parameters
    ----------
    params : dict
        Model parameters (:func:`rnn.model.init_params` or a checkpoint).
    vocab : rnn.data.Vocab
        The vocabulary the model was trained with (K characters).
    length : int
        Number of characters to generate.
    prime : str, default ""
        Text the model reads first (its characters must be in the
        vocabulary). With an empty prime the model reads one newline, or
        ``vocab.chars[0]`` if the corpus has no newline, so that it starts
        as if at the beginning of a line.
    temperature : float, default 1.0
        Softmax temperature, > 0 (see :func:`next_distribution`).
    top_k : int, optional
        Draw only among the ``top_k`` most likely characters.
    greedy : bool, default False
        Always take the most likely character (ignores temperature, top_k
        and seed).
    seed : int or numpy.random.Generator, optional
        Same seed, same text.

    Returns
    -------
    text : str
        The generated continuation, without the prime.

    Raises
    ------
    ValueError
        For unknown characters in ``prime``, a vocabulary that does not match
        the model, a bad ``length``, ``temperature`` or ``top_k``.
    """
    func = "sample"
    K = _check_model(func, params, vocab)
    check_int(func, "length", length, low=0)
    next_distribution(np.zeros(K), temperature, top_k)  # validate the options up front
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    logits, state = _read(params, _start_ids(vocab, prime), init_state(params, 1))
    step = stepper(params)  # one step of the model, its weights laid out once
    out = []
    # --8<-- [start:sample-loop]
    for _ in range(length):
        if greedy:
            k = int(np.argmax(logits))  # the most likely next character
        else:
            p = next_distribution(logits, temperature, top_k)
            # inverse-CDF draw: the first k whose cumulative probability exceeds u
            k = int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right"))
            k = min(k, K - 1)
        out.append(k)
        logits, state = step([k], state)  # feed the choice back in
        logits = logits[0]  # (K,): one sequence
    # --8<-- [end:sample-loop]
    return vocab.decode(np.asarray(out, dtype=np.int64))


def beam_search(params, vocab, length: int, *, prime: str = "", beam_width: int = 5) -> str:
    """The most likely continuation found by beam search.

    Keeps the ``beam_width`` continuations with the highest total
    log-probability; each step extends every one of them by every character
    and keeps the best ``beam_width`` of the ``beam_width * K`` candidates.
    With ``beam_width=1`` this is greedy decoding. The beams run as one batch
    of the model (state of shape (layers, S, beam_width, H)). Each step records
    only which beam every new beam extends and the character it adds; the
    texts are spelled once, at the end, by following those back-pointers,
    so the time and memory grow linearly with ``length``.

    Parameters
    ----------
    params : dict
        Model parameters.
    vocab : rnn.data.Vocab
        The vocabulary the model was trained with.
    length : int
        Number of characters to generate.
    prime : str, default ""
        Text to read first (see :func:`sample`).
    beam_width : int, default 5
        Number of continuations kept, >= 1.

    Returns
    -------
    text : str
        The highest-scoring continuation of ``length`` characters.
    """
    func = "beam_search"
    K = _check_model(func, params, vocab)
    check_int(func, "length", length, low=0)
    check_int(func, "beam_width", beam_width)
    logits, state = _read(params, _start_ids(vocab, prime), init_state(params, 1))
    logits = logits[None]  # (n_beams, K), one beam to start with
    scores = np.zeros(1)  # total log-probability of each beam
    parents, chars = [], []  # per step: the beam each new beam extends, the character it adds
    # --8<-- [start:beam]
    for _ in range(length):
        cand = scores[:, None] + log_softmax(logits.astype(np.float64))  # (n_beams, K)
        flat = cand.ravel()
        best = np.argsort(-flat, kind="stable")[:beam_width]  # ties: lower (beam, id) first
        parent, k = np.divmod(best, K)
        scores = flat[best]
        parents.append(parent)  # back-pointers: O(beam_width) per step
        chars.append(k)
        o, state = forward(params, k[None, :], state[:, :, parent])  # read the new characters
        logits = o[0]
    # --8<-- [end:beam]
    return vocab.decode(backtrack(parents, chars, 0))


# --8<-- [start:backtrack]
def backtrack(parents, chars, beam: int) -> np.ndarray:
    """The characters of beam ``beam`` after the last step, read off the back-pointers.

    ``parents[t][i]`` is the beam that beam i of step t extended, and
    ``chars[t][i]`` the character it added. Walking from the last step to the
    first spells the text backwards, one step each: linear in the length.
    """
    out = np.empty(len(chars), dtype=np.int64)
    for t in range(len(chars) - 1, -1, -1):
        out[t] = chars[t][beam]
        beam = parents[t][beam]  # the beam it came from, one step earlier
    return out
# --8<-- [end:backtrack]
