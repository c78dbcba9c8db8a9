"""The tasks of rnn.tasks used by the chapters beyond language models:
answers checked against plain-Python definitions."""

import numpy as np
import pytest

from rnn.tasks import parity_batch, reversal_batch, seen_later_batch


def _real(ids, lengths, n):
    return [int(v) for v in ids[:lengths[n], n]]


def test_parity():
    ids, lengths, labels = parity_batch(np.random.default_rng(0), B=50, min_len=1, max_len=9)
    assert ids.shape == (lengths.max(), 50) and lengths.min() >= 1 and lengths.max() <= 9
    for n in range(50):
        assert labels[n] == sum(_real(ids, lengths, n)) % 2
        assert not ids[lengths[n]:, n].any()  # padded with 0
    assert 0.3 < labels.mean() < 0.7


def test_seen_later():
    ids, lengths, tags = seen_later_batch(np.random.default_rng(1), B=40, max_len=8, alphabet=3)
    for n in range(40):
        s = _real(ids, lengths, n)
        assert tags[:lengths[n], n].tolist() == [int(s[t] in s[t + 1:]) for t in range(len(s))]
        assert not tags[lengths[n]:, n].any()


def test_reversal():
    src, sl, tgt, tl = reversal_batch(np.random.default_rng(2), B=40, min_len=2, max_len=7,
                                      alphabet=5)
    assert tgt.shape == (src.shape[0] + 1, 40) and np.array_equal(tl, sl + 1)
    for n in range(40):
        s = _real(src, sl, n)
        assert min(s) >= 1 and max(s) <= 5
        assert _real(tgt, tl, n) == s[::-1] + [0]
        assert not tgt[tl[n]:, n].any()


def test_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="min_len must be <= max_len, got min_len = 5 and max_len = 3"):
        parity_batch(rng, min_len=5, max_len=3)
    with pytest.raises(ValueError, match="B must be a positive integer, got 0"):
        reversal_batch(rng, B=0)
    with pytest.raises(ValueError, match="alphabet must be a positive integer"):
        seen_later_batch(rng, alphabet=0)
