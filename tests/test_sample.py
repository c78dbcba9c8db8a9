"""Tests of rnn.sample: the sampling distribution, sampling, greedy and beam search.

References are independent: hand-computed probabilities, a brute-force
search over every continuation, and a decoder that re-reads the whole text
from a zero state at every step (so it shares no carried state with the
code under test).
"""

import itertools
import math

import numpy as np
import pytest

from rnn.data import Vocab
from rnn.losses import log_softmax
from rnn.model import forward, init_params
from rnn.sample import beam_search, next_distribution, sample

TEXT = "hello world\nhow are you\n"


def _model(text=TEXT, H=16, layers=1, seed=0):
    vocab = Vocab.from_text(text)
    # "scaled" init gives a random model whose predictions are far from uniform
    params = init_params(vocab.size, H, layers=layers, init="scaled", seed=seed)
    params["c"] += np.random.default_rng(seed + 1).normal(0, 1.0, vocab.size)
    return params, vocab


def _last_logits(params, ids):
    """Logits after reading ``ids`` from a zero state, recomputed from scratch."""
    o, _ = forward(params, np.asarray(ids, dtype=np.int64).reshape(-1, 1))
    return o[-1, 0]


# ---------------------------------------------------------------- next_distribution

def test_next_distribution_hand_computed():
    # logits (1, 2, 0.5) at temperature 0.5 -> (2, 4, 1); top-2 keeps ids 1 and 0:
    # p1 = e^4 / (e^4 + e^2) = 1 / (1 + e^-2), p0 = 1 / (1 + e^2), p2 = 0
    p = next_distribution(np.array([1.0, 2.0, 0.5]), temperature=0.5, top_k=2)
    expected = np.array([1 / (1 + math.exp(2)), 1 / (1 + math.exp(-2)), 0.0])
    np.testing.assert_allclose(p, expected, rtol=1e-14, atol=0)
    assert p[2] == 0.0


def test_next_distribution_no_options_is_softmax():
    o = np.array([0.3, -1.2, 2.0, 0.0])
    e = np.exp(o)
    np.testing.assert_allclose(next_distribution(o), e / e.sum(), rtol=1e-14)


def test_next_distribution_batched_and_large_logits():
    o = np.array([[1000.0, 999.0, -1000.0], [0.0, 0.0, 0.0]])
    p = next_distribution(o, temperature=1.0)
    np.testing.assert_allclose(p[0], [1 / (1 + math.exp(-1)), 1 / (1 + math.exp(1)), 0.0], rtol=1e-12)
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=1e-14)


def test_top_k_ties_break_towards_lower_id_like_argmax():
    o = np.array([0.0, 3.0, 1.0, 3.0])
    np.testing.assert_array_equal(next_distribution(o, top_k=1), [0, 1, 0, 0])
    assert np.argmax(o) == 1


@pytest.mark.parametrize("temperature", [1e-320, 5e-324, 1e-300])
def test_a_temperature_so_small_that_the_division_overflows_is_greedy(temperature):
    """o / T overflows to +-inf here; subtracting the max first keeps the largest at 0
    (dividing first gave inf - inf = NaN). Ties at the max share the mass."""
    o = np.array([[0.3, 2.0, -1.0, 2.0], [5.0, -5.0, 0.0, 1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no NaN, no warning
        p = next_distribution(o, temperature)
    assert np.array_equal(p, [[0, 0.5, 0, 0.5], [1, 0, 0, 0]])
    assert np.array_equal(next_distribution(o, temperature, top_k=1), [[0, 1, 0, 0], [1, 0, 0, 0]])


def test_temperature_to_zero_approaches_greedy():
    o = np.array([0.5, 1.7, 1.6, -3.0])
    p_max = [next_distribution(o, t)[1] for t in (2.0, 1.0, 0.3, 0.1, 0.03, 0.01)]
    assert all(a < b for a, b in zip(p_max, p_max[1:]))  # mass moves to the arg-max
    np.testing.assert_allclose(next_distribution(o, 1e-3), [0, 1, 0, 0], atol=1e-40)


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan"), float("inf"), "1"])
def test_next_distribution_rejects_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature"):
        next_distribution(np.zeros(3), temperature)


@pytest.mark.parametrize("top_k", [0, 4, -1, 1.5])
def test_next_distribution_rejects_bad_top_k(top_k):
    with pytest.raises(ValueError, match=r"top_k must be an integer in \[1, 3\]"):
        next_distribution(np.zeros(3), 1.0, top_k)


# ---------------------------------------------------------------- sample

def test_same_seed_same_text_different_seed_different_text():
    params, vocab = _model()
    a = sample(params, vocab, 80, prime="he", seed=7)
    assert a == sample(params, vocab, 80, prime="he", seed=7)
    assert a != sample(params, vocab, 80, prime="he", seed=8)
    assert len(a) == 80 and set(a) <= set(vocab.chars)


def test_sample_draws_from_the_softmax_of_the_model():
    # The first generated character after the prime is drawn from
    # softmax(o / T); compare the empirical frequencies over many seeds.
    params, vocab = _model()
    prime, T, n = "how", 1.5, 3000
    p = next_distribution(_last_logits(params, vocab.encode(prime)), T)
    counts = np.zeros(vocab.size)
    for s in range(n):
        counts[vocab.encode(sample(params, vocab, 1, prime=prime, temperature=T, seed=s))[0]] += 1
    # 5 standard errors of a binomial proportion for every character
    np.testing.assert_array_less(np.abs(counts / n - p), 5 * np.sqrt(p * (1 - p) / n) + 1e-3)


def test_greedy_is_deterministic_and_matches_a_from_scratch_decoder():
    params, vocab = _model(layers=2)
    prime = "how "
    text = sample(params, vocab, 30, prime=prime, greedy=True)
    assert text == sample(params, vocab, 30, prime=prime, greedy=True, seed=123)
    ids = list(vocab.encode(prime))
    for _ in range(30):  # re-read everything from h(0) = 0 each step: no carried state
        ids.append(int(np.argmax(_last_logits(params, ids))))
    assert text == vocab.decode(np.array(ids[len(prime):]))


def test_top_k_1_equals_greedy():
    params, vocab = _model()
    greedy = sample(params, vocab, 50, prime="w", greedy=True)
    for seed in (0, 1, 2):
        assert sample(params, vocab, 50, prime="w", top_k=1, seed=seed, temperature=3.0) == greedy


def test_tiny_temperature_equals_greedy():
    params, vocab = _model()
    greedy = sample(params, vocab, 40, greedy=True)
    assert sample(params, vocab, 40, temperature=1e-4, seed=5) == greedy
    assert sample(params, vocab, 40, temperature=5.0, seed=5) != greedy


def test_top_k_restricts_the_characters():
    params, vocab = _model()
    prime = "are"
    p = next_distribution(_last_logits(params, vocab.encode(prime)))
    allowed = {vocab.chars[i] for i in np.argsort(-p)[:3]}
    firsts = {sample(params, vocab, 1, prime=prime, top_k=3, temperature=5.0, seed=s) for s in range(200)}
    assert firsts == allowed


def test_empty_prime_reads_a_newline_or_the_first_character():
    params, vocab = _model()
    assert sample(params, vocab, 30, seed=3) == sample(params, vocab, 30, prime="\n", seed=3)
    params2, vocab2 = _model(text="abcab")  # no newline in this vocabulary
    assert sample(params2, vocab2, 30, seed=3) == sample(params2, vocab2, 30, prime="a", seed=3)


def test_unknown_prime_characters_are_named():
    params, vocab = _model()
    with pytest.raises(ValueError) as e:
        sample(params, vocab, 10, prime="hello QZ")
    assert "'Q'" in str(e.value) and "'Z'" in str(e.value)
    with pytest.raises(ValueError, match="'Q'"):
        beam_search(params, vocab, 10, prime="Q")


def test_sample_rejects_bad_options():
    params, vocab = _model()
    with pytest.raises(ValueError, match="temperature"):
        sample(params, vocab, 10, temperature=0)
    with pytest.raises(ValueError, match="top_k"):
        sample(params, vocab, 10, top_k=vocab.size + 1)
    with pytest.raises(ValueError, match="length"):
        sample(params, vocab, -1)
    with pytest.raises(ValueError, match="vocabulary has"):
        sample(params, Vocab.from_text("ab"), 10)
    assert sample(params, vocab, 0, seed=0) == ""


# ---------------------------------------------------------------- beam search

def test_beam_width_1_equals_greedy():
    params, vocab = _model(layers=2)
    for prime in ("", "how", "o"):
        assert beam_search(params, vocab, 40, prime=prime, beam_width=1) == \
            sample(params, vocab, 40, prime=prime, greedy=True)


def _seq_logprob(params, prime_ids, cont):
    ids = np.concatenate([prime_ids, cont]).astype(np.int64)
    o, _ = forward(params, ids.reshape(-1, 1))
    logp = log_softmax(o[:, 0])  # logp[t] predicts ids[t + 1]
    n = len(prime_ids)
    return sum(logp[n - 1 + j, cont[j]] for j in range(len(cont)))


def test_wide_beam_finds_the_most_likely_continuation_by_brute_force():
    vocab = Vocab.from_text("abcd")
    params = init_params(vocab.size, 8, init="scaled", seed=9)
    params["V"] *= 2.0  # a model on which greedy decoding is not optimal (checked below)
    prime = vocab.encode("a")
    L, K = 4, vocab.size
    scores = {c: _seq_logprob(params, prime, np.array(c)) for c in itertools.product(range(K), repeat=L)}
    best = max(scores, key=scores.get)
    greedy = tuple(vocab.encode(sample(params, vocab, L, prime="a", greedy=True)).tolist())
    assert scores[greedy] < scores[best] - 1e-3  # the case is not trivial
    # with K^(L-1) beams nothing is ever pruned that could still win
    assert beam_search(params, vocab, L, prime="a", beam_width=K ** (L - 1)) == vocab.decode(np.array(best))
    narrow = vocab.encode(beam_search(params, vocab, L, prime="a", beam_width=2))
    assert scores[tuple(narrow)] <= scores[best] + 1e-12


def _reference_beam(params, prime_ids, length, width):
    """Beam search by brute force: every candidate re-read from a zero state."""
    beams = [((), 0.0)]
    for _ in range(length):
        cands = []
        for seq, score in beams:
            logp = log_softmax(_last_logits(params, list(prime_ids) + list(seq)))
            cands += [(seq + (k,), score + logp[k]) for k in range(len(logp))]
        cands.sort(key=lambda c: -c[1])  # stable: ties keep (beam, id) order
        beams = cands[:width]
    return beams[0][0]


@pytest.mark.parametrize("width", [2, 3, 7])
def test_beam_search_matches_a_from_scratch_beam_search(width):
    params, vocab = _model(layers=2, seed=3)
    params["W"] *= 3.0  # long memory: the beams' states differ a lot
    params["W.1"] *= 3.0
    prime = vocab.encode("how")
    expected = _reference_beam(params, prime, 8, width)
    assert beam_search(params, vocab, 8, prime="how", beam_width=width) == vocab.decode(np.array(expected))


def test_beam_search_rejects_bad_width():
    params, vocab = _model()
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(params, vocab, 5, beam_width=0)


# ---------------------------------------------------------------- edges and defaults

def _reference_sample(params, vocab, length, prime, temperature, seed):
    """Sampling written out independently: re-read the whole text from a zero
    state each step, softmax in plain Python, and an inverse-CDF draw with one
    ``rng.random()`` per character (the draw rnn.sample documents)."""
    rng = np.random.default_rng(seed)
    ids = list(vocab.encode(prime))
    out = []
    for _ in range(length):
        o = [float(v) / temperature for v in _last_logits(params, ids)]
        m = max(o)
        e = [math.exp(v - m) for v in o]
        total = sum(e)
        u, acc, k = rng.random(), 0.0, len(e) - 1
        for j, v in enumerate(e):
            acc += v / total
            if u < acc:
                k = j
                break
        out.append(k)
        ids.append(k)
    return vocab.decode(np.array(out, dtype=np.int64))


@pytest.mark.parametrize("temperature", [0.7, 1.0, 1.6])
def test_sample_matches_an_independent_sampler(temperature):
    params, vocab = _model(layers=2, seed=4)
    for seed in (0, 1):
        expected = _reference_sample(params, vocab, 25, "how", temperature, seed)
        assert sample(params, vocab, 25, prime="how", temperature=temperature, seed=seed) == expected


def test_default_temperature_is_one_and_default_beam_width_is_five():
    import inspect

    assert inspect.signature(sample).parameters["temperature"].default == 1.0
    assert inspect.signature(beam_search).parameters["beam_width"].default == 5
    params, vocab = _model(layers=2, seed=4)
    default = sample(params, vocab, 40, prime="how", seed=2)
    assert default == _reference_sample(params, vocab, 40, "how", 1.0, 2)
    assert default != sample(params, vocab, 40, prime="how", temperature=2.0, seed=2)
    params, vocab = _model(layers=2, seed=0)  # a model on which 5 beams beat greedy decoding
    prime = vocab.encode("how")
    five = vocab.decode(np.array(_reference_beam(params, prime, 6, 5)))
    assert five != vocab.decode(np.array(_reference_beam(params, prime, 6, 1)))
    assert beam_search(params, vocab, 6, prime="how") == five


def test_empty_prime_is_a_newline_not_the_first_character():
    # "\n" sorts before every printable character, so only a text with a
    # lower code point (a tab) tells "read a newline" from "read chars[0]"
    params, vocab = _model(text="\tab cd\nef ab")
    params["U"] *= 10.0  # the first character read decides the samples
    params["V"] *= 10.0
    assert vocab.chars[:2] == ["\t", "\n"]
    assert sample(params, vocab, 30, seed=1) == sample(params, vocab, 30, prime="\n", seed=1)
    assert sample(params, vocab, 30, seed=1) != sample(params, vocab, 30, prime="\t", seed=1)
    params2, vocab2 = _model(text="zabcdef")  # no newline: the first character in id order, "a"
    params2["U"] *= 10.0
    params2["V"] *= 10.0
    assert sample(params2, vocab2, 30, seed=3) == sample(params2, vocab2, 30, prime="a", seed=3)
    assert sample(params2, vocab2, 30, seed=3) != sample(params2, vocab2, 30, prime="z", seed=3)


def test_batched_top_k_is_row_by_row():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 4, 9))
    batched = next_distribution(logits, 0.8, top_k=3)
    for i in range(3):
        for j in range(4):
            np.testing.assert_allclose(batched[i, j], next_distribution(logits[i, j], 0.8, top_k=3),
                                       rtol=1e-15, atol=0)
            assert np.count_nonzero(batched[i, j]) == 3


def test_top_k_ties_keep_the_lowest_ids_even_in_long_rows():
    # 40 equal logits: an unstable sort may put any of them first
    logits = np.zeros((2, 40))
    logits[1, 30] = 1.0
    p = next_distribution(logits, 1.0, top_k=5)
    np.testing.assert_array_equal(np.flatnonzero(p[0]), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(np.flatnonzero(p[1]), [0, 1, 2, 3, 30])


def test_top_k_equal_to_K_is_the_plain_softmax():
    logits = np.random.default_rng(1).standard_normal(7)
    np.testing.assert_allclose(next_distribution(logits, 1.3, top_k=7), next_distribution(logits, 1.3),
                               rtol=1e-15, atol=0)


def test_booleans_are_not_lengths_widths_or_ks():
    params, vocab = _model()
    with pytest.raises(ValueError, match="length"):
        sample(params, vocab, True)
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(params, vocab, 5, beam_width=True)
    with pytest.raises(ValueError, match="length"):
        beam_search(params, vocab, True)
    with pytest.raises(ValueError, match="top_k"):
        next_distribution(np.zeros(3), top_k=True)


def test_backtrack_spells_each_beam_from_its_back_pointers():
    from rnn.sample import backtrack
    # three steps, two beams: beam 0 at the end came from beam 1, which came from beam 0
    parents = [np.array([0]), np.array([0, 0]), np.array([1, 0])]
    chars = [np.array([4]), np.array([7, 8]), np.array([2, 3])]
    assert backtrack(parents, chars, 0).tolist() == [4, 8, 2]
    assert backtrack(parents, chars, 1).tolist() == [4, 7, 3]
    assert backtrack([], [], 0).tolist() == []


def test_long_beam_search_matches_the_reference():
    params, vocab = _model(layers=1, seed=3)
    expected = _reference_beam(params, vocab.encode("how"), 300, 3)
    assert beam_search(params, vocab, 300, prime="how", beam_width=3) == \
        vocab.decode(np.array(expected))
