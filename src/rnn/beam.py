"""Beam search over any model that gives next-token log-probabilities step by step.

The model is a function ``step(tokens, state) -> (logp, state)``: it reads
the last token of each of n partial outputs (*beams*) and returns the
log-probabilities of the next token, (n, K), and the new state. Beam search
keeps the ``beam_width`` partial outputs with the highest total
log-probability; at each step it extends every one of them by every token
and keeps the best ``beam_width`` extensions that have not ended. An
extension that ends with the ``end`` token is set aside as a finished
output. Search stops when no beam left can beat the best finished output
(log-probabilities only fall as an output grows) or after ``max_len``
tokens.

With ``beam_width=1`` this is greedy decoding. With a beam as wide as the
number of possible outputs, it is an exhaustive search. Each step stores
only the parent and the token of every beam, and an output is read back
through the parents when it finishes, so the cost is linear in the length.

:func:`rnn.sample.beam_search` is the character model's fixed-length beam
search; this one stops at an end token, which an encoder-decoder needs
(:func:`rnn.seq2seq.decode_beam`).
"""

from __future__ import annotations

import numpy as np

from ._checks import check_int

__all__ = ["beam_decode"]


def _trace(steps, k):
    """The tokens of beam k after the last step in ``steps``, read back through the parents."""
    out = []
    for parent, token in reversed(steps):
        out.append(int(token[k]))
        k = parent[k]
    return out[::-1]


def beam_decode(step, state, select, *, start: int, end: int, beam_width: int, max_len: int):
    """The most likely output found by beam search.

    Parameters
    ----------
    step : callable
        ``step(tokens, state) -> (logp, state)`` with ``tokens`` an int
        array (n,), ``logp`` an array (n, K) of log-probabilities of the next
        token, one row per beam.
    state : object
        The model's state for one beam (n = 1).
    select : callable
        ``select(state, rows) -> state``: the state of the beams ``rows``
        (an int array, possibly with repeats), in that order.
    start : int
        The token read first.
    end : int
        The token that ends an output.
    beam_width : int
        Number of beams kept, >= 1.
    max_len : int
        Most tokens generated, the end token included.

    Returns
    -------
    tokens : list of int
        The best output, without the end token. If no output ended within
        ``max_len`` tokens, the best unfinished one.
    score : float
        Its total log-probability (the end token's included).
    """
    func = "beam_decode"
    beam_width = check_int(func, "beam_width", beam_width)
    max_len = check_int(func, "max_len", max_len)
    tokens, scores = np.array([start]), np.zeros(1)
    steps = []  # per step: (parent (n,), token (n,)) of every beam kept
    best, best_score = None, -np.inf  # the best finished output so far
    # --8<-- [start:beam]
    for _ in range(max_len):
        logp, state = step(tokens, state)
        cand = scores[:, None] + logp  # (n, K): the score of every extension
        K = cand.shape[1]
        order = np.argsort(-cand, axis=None, kind="stable")  # best first; ties: lower (beam, token)
        parent, token = np.divmod(order, K)
        ended = token == end
        if ended[:beam_width].any():  # a finished output can only be among the first beam_width
            k = np.flatnonzero(ended)[0]
            if cand.flat[order[k]] > best_score:
                best_score = float(cand.flat[order[k]])
                best = _trace(steps + [(parent, token)], k)[:-1]  # without the end token
        keep = np.flatnonzero(~ended)[:beam_width]  # the best extensions that go on
        if keep.size == 0:  # every extension ended (K = 1)
            break
        parent, token = parent[keep], token[keep]
        scores = cand[parent, token]
        steps.append((parent, token))
        if scores[0] <= best_score:  # no beam can still beat the best finished output
            break
        state = select(state, parent)
        tokens = token
    # --8<-- [end:beam]
    if best is None:  # nothing ended within max_len tokens: the best unfinished beam
        return _trace(steps, 0), float(scores[0])
    return best, best_score
