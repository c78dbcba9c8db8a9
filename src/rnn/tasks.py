"""Synthetic tasks with known answers, for training and testing recurrent models.

Every generator takes a NumPy random generator first and returns
time-major, right-padded int arrays with their lengths (see
:mod:`rnn.masking`), so the same seed always gives the same batch.
"""

from __future__ import annotations

__all__: list = []  # each block below adds its own names


# ============================================================================
# Tasks for the models beyond the language model: many-to-one classification,
# tagging with a bidirectional layer, sequence-to-sequence.
# (rnn.classify, rnn.bidirectional, rnn.seq2seq; chapters "Many-to-one",
# "Bidirectional RNNs", "Encoder-decoder", "The step to attention")
# The block is self-contained (its own imports), so that other blocks of
# tasks can sit beside it.
# ============================================================================

import numpy as np  # noqa: E402

from ._checks import check_int  # noqa: E402

__all__ += ["parity_batch", "seen_later_batch", "reversal_batch"]

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
