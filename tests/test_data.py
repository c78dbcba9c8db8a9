"""Tests of rnn.data: the vocabulary, the train/validation split, and the
three ways of cutting ids into windows. Expected values are written out by
hand or computed independently."""

import io
import re

import numpy as np
import pytest

from rnn.data import StreamBatcher, Vocab, random_windows, split, validation_windows

# ----------------------------------------------------------------------------- vocabulary


def test_vocab_from_text_sorted_unique_and_hand_encoded():
    v = Vocab.from_text("hello world")
    assert v.chars == [" ", "d", "e", "h", "l", "o", "r", "w"]
    assert v.size == len(v) == 8
    ids = v.encode("hello")
    assert ids.dtype == np.int64 and ids.shape == (5,)
    assert ids.tolist() == [3, 2, 4, 4, 5]
    assert v.decode([7, 5, 6, 4, 1]) == "world"
    assert v.decode(np.array([[3], [2]])) == "he"
    assert v.encode("").shape == (0,) and v.decode([]) == ""


def test_vocab_round_trip_against_index_lookup():
    text = "To be, or not to be:\nthat is the question.\tÉté — naïve 😀 ok\n"
    v = Vocab.from_text(text)
    assert v.chars == sorted(set(text))
    ids = v.encode(text)
    assert ids.tolist() == [v.chars.index(ch) for ch in text]  # independent reference
    assert v.decode(ids) == text


def test_vocab_encode_error_names_unknown_chars():
    v = Vocab.from_text("abc")
    with pytest.raises(ValueError, match="not in the training vocabulary") as exc:
        v.encode("abxcyzx")
    msg = str(exc.value)
    assert "'x'" in msg and "'y'" in msg and "'z'" in msg and "3 character" in msg
    assert "'a'" not in msg
    # more than 10 unknown characters: ten are shown, the rest counted
    with pytest.raises(ValueError, match=r"and 2 more") as exc:
        v.encode("abc" + "defghijklmno")  # 12 unknown: d .. o
    shown = re.findall(r"'(.)'", str(exc.value))
    assert shown == list("defghijklm")


def test_vocab_to_array_from_array_and_pickle_free_storage():
    v = Vocab.from_text("b\na😀")
    a = v.to_array()
    assert a.dtype == np.int32 and a.tolist() == [10, 97, 98, 0x1F600]
    buf = io.BytesIO()
    np.save(buf, a)
    buf.seek(0)
    w = Vocab.from_array(np.load(buf, allow_pickle=False))
    assert w == v and w.chars == v.chars
    # from_array keeps the given id order, even unsorted
    u = Vocab.from_array(np.array([ord("z"), ord("a")], dtype=np.int32))
    assert u.chars == ["z", "a"] and u.encode("az").tolist() == [1, 0]
    with pytest.raises(ValueError, match="1-D integer array"):
        Vocab.from_array(np.array([1.5, 2.0]))
    with pytest.raises(ValueError, match="distinct"):
        Vocab.from_array(np.array([97, 97]))


def test_vocab_equality():
    assert Vocab.from_text("abc") == Vocab.from_text("cbaabc")
    assert Vocab.from_text("abc") != Vocab.from_text("abd")
    assert Vocab.from_text("abc") != Vocab.from_text("ab")
    assert Vocab.from_text("abc") != ["a", "b", "c"]


def test_vocab_errors():
    with pytest.raises(ValueError, match="empty"):
        Vocab.from_text("")
    v = Vocab.from_text("ab")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        v.decode([0, 2])
    with pytest.raises(ValueError, match="integers"):
        v.decode(np.array([0.0]))


def test_split_contiguous_last_fraction():
    ids = np.arange(1000)
    train, val = split(ids, 0.1)
    np.testing.assert_array_equal(train, np.arange(900))
    np.testing.assert_array_equal(val, np.arange(900, 1000))
    train, val = split(ids, 0.25, T=10)
    assert train[-1] == 749 and val[0] == 750 and len(val) == 250
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="val_fraction"):
            split(ids, bad)
    with pytest.raises(ValueError, match=r"1-D integer array"):
        split(np.zeros((10, 2), dtype=np.int64))


# ----------------------------------------------------------------------------- StreamBatcher


def test_stream_batcher_hand_computed_windows():
    # N = 50, B = 3: streams of L = 16 (ids 48, 49 dropped); stream i = 16 i .. 16 i + 15.
    # T = 4: windows start at 0, 4, 8 (8 + 4 + 1 = 13 <= 16); 12 + 5 > 16 wraps.
    sb = StreamBatcher(np.arange(50), T=4, B=3)
    assert sb.stream_len == 16 and sb.windows_per_epoch == 3
    resets = []
    prev = None
    for k in range(7):
        x, y, reset = sb.next()
        assert x.shape == y.shape == (4, 3) and x.dtype == y.dtype == np.int64
        start = 4 * (k % 3)
        expected = np.array([[16 * i + start + t for i in range(3)] for t in range(4)])
        np.testing.assert_array_equal(x, expected)
        np.testing.assert_array_equal(y, expected + 1)
        np.testing.assert_array_equal(y[:-1], x[1:])  # targets = inputs shifted by one
        if prev is not None and not reset:
            # row i of window k+1 continues where row i of window k ended
            np.testing.assert_array_equal(x[0], prev[1][-1])
            np.testing.assert_array_equal(x[0], prev[0][-1] + 1)
        resets.append(reset)
        prev = (x, y)
    assert resets == [True, False, False, True, False, False, True]
    assert sb.epoch == 2 and sb.pos == 4


def test_stream_batcher_rows_are_contiguous_streams_of_random_ids():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 30, size=203)
    T, B = 5, 4
    L = 203 // 4  # 50
    sb = StreamBatcher(ids, T, B)
    xs, ys = zip(*[sb.next()[:2] for _ in range((L - 1) // T)])
    rows_in = np.concatenate(xs)  # (9 * 5, B)
    for i in range(B):
        stream = ids[i * L:(i + 1) * L]
        np.testing.assert_array_equal(rows_in[:, i], stream[:len(rows_in)])
        np.testing.assert_array_equal(np.concatenate(ys)[:, i], stream[1:len(rows_in) + 1])


def test_stream_batcher_state_dict_resumes_exactly():
    ids = np.random.default_rng(1).integers(0, 10, size=97)
    a = StreamBatcher(ids, T=3, B=4)
    for _ in range(9):  # L = 97 // 4 = 24, (L - 1) // T = 7 windows a pass: past a wrap
        a.next()
    sd = a.state_dict()
    assert all(isinstance(v, np.ndarray) and v.shape == () and v.dtype == np.int64
               for v in sd.values())
    buf = io.BytesIO()
    np.savez(buf, **sd)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as z:
        loaded = {k: z[k] for k in z.files}
    b = StreamBatcher(ids, T=3, B=4)
    b.load_state_dict(loaded)
    assert (b.pos, b.epoch) == (a.pos, a.epoch)
    for _ in range(12):
        xa, ya, ra = a.next()
        xb, yb, rb = b.next()
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
        assert ra == rb
    with pytest.raises(ValueError, match="same data, --seq-len, --batch and --truncation-stride"):
        StreamBatcher(ids, T=4, B=4).load_state_dict(sd)


def test_stream_batcher_too_short_and_minimal():
    with pytest.raises(ValueError, match=r"B \* \(T \+ 1\) = 15"):
        StreamBatcher(np.arange(14), T=4, B=3)
    sb = StreamBatcher(np.arange(15), T=4, B=3)  # exactly one window per pass
    for _ in range(3):
        x, y, reset = sb.next()
        assert reset
        np.testing.assert_array_equal(x[:, 2], [10, 11, 12, 13])
    with pytest.raises(ValueError, match="positive integer"):
        StreamBatcher(np.arange(15), T=0, B=3)


# ----------------------------------------------------------------------------- random windows


def test_random_windows_shapes_shift_and_reproducibility():
    ids = np.arange(100) * 3  # distinct, so a window's start can be read off
    x, y = random_windows(ids, 5, 7, np.random.default_rng(3))
    assert x.shape == y.shape == (5, 7) and x.dtype == y.dtype == np.int64
    starts = x[0] // 3
    for j in range(7):
        np.testing.assert_array_equal(x[:, j], ids[starts[j]:starts[j] + 5])
        np.testing.assert_array_equal(y[:, j], ids[starts[j] + 1:starts[j] + 6])
    x2, y2 = random_windows(ids, 5, 7, np.random.default_rng(3))
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = random_windows(ids, 5, 7, np.random.default_rng(4))
    assert not np.array_equal(x, x3)


def test_random_windows_cover_every_valid_start():
    # N = 10, T = 3: a window needs ids s .. s + 3, so s in 0..6, all reachable, none beyond
    x, y = random_windows(np.arange(10), 3, 2000, np.random.default_rng(0))
    assert set(x[0].tolist()) == set(range(7))
    assert y.max() == 9
    with pytest.raises(ValueError, match="too few"):
        random_windows(np.arange(3), 3, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="Generator"):
        random_windows(np.arange(10), 3, 1, 0)


# ----------------------------------------------------------------------------- validation


def test_validation_windows_cover_val_ids_once():
    # N = 103, T = 4, B = 3: 3 streams of L = 34 (id 102 dropped); 33 targets per stream in
    # windows of 4, 4, ..., 4, 1.
    wins = list(validation_windows(np.arange(103), 4, 3))
    assert [w[0].shape for w in wins] == [(4, 3)] * 8 + [(1, 3)]
    xs = np.concatenate([w[0] for w in wins])
    ys = np.concatenate([w[1] for w in wins])
    for i in range(3):
        np.testing.assert_array_equal(ys[:, i], np.arange(34 * i + 1, 34 * i + 34))
        np.testing.assert_array_equal(xs[:, i], np.arange(34 * i, 34 * i + 33))
    again = list(validation_windows(np.arange(103), 4, 3))
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
               for a, b in zip(wins, again)) and len(again) == len(wins)


def test_validation_windows_short_set_uses_fewer_rows():
    # N = 12, T = 4, B = 8: only 12 // 5 = 2 streams of 6 fit; windows [0:4] and [4:5]
    wins = list(validation_windows(np.arange(12), 4, 8))
    assert [w[0].shape for w in wins] == [(4, 2), (1, 2)]
    np.testing.assert_array_equal(np.concatenate([w[1] for w in wins]).T,
                                  [[1, 2, 3, 4, 5], [7, 8, 9, 10, 11]])
    with pytest.raises(ValueError, match="at least 2 ids"):
        list(validation_windows(np.arange(1), 4, 8))


# ---------------------------------------------------------------- big texts (issue 9)

def test_encode_pieces_equals_vocab_encode_in_the_smallest_dtype():
    from rnn.data import encode_pieces, id_dtype, str_pieces
    import hashlib
    rng = np.random.default_rng(0)
    for alphabet, dtype in (("abc\n", np.uint8), ("".join(map(chr, range(32, 600))), np.uint16),
                            ("".join(chr(c) for c in range(0x4E00, 0x4E00 + 70_000)
                                     if not 0xD800 <= c < 0xE000), np.uint32)):
        text = alphabet + "".join(rng.choice(list(alphabet), 3000))  # every character occurs
        chunked = lambda: (text[i:i + 7] for i in range(0, len(text), 7))  # noqa: E731
        for pieces in (str_pieces(text), chunked):
            vocab, ids, digest = encode_pieces(pieces)
            assert vocab == Vocab.from_text(text)
            assert ids.dtype == dtype == id_dtype(vocab.size)
            np.testing.assert_array_equal(ids, vocab.encode(text))
            assert digest.tobytes() == hashlib.sha256(text.encode("utf-8")).digest()
    assert [id_dtype(k) for k in (1, 256, 257, 65536, 65537)] == \
        [np.uint8, np.uint8, np.uint16, np.uint16, np.uint32]


def test_encode_pieces_refuses_a_text_that_changes_between_passes():
    from rnn.data import encode_pieces
    texts = iter(["hello world", "hello world!"])
    with pytest.raises(ValueError, match="changed while it was being read"):
        encode_pieces(lambda: [next(texts)])
    with pytest.raises(ValueError, match="empty"):
        encode_pieces(lambda: [])


def test_batchers_share_the_one_array_of_ids():
    ids = np.arange(1000, dtype=np.uint8) % 7  # the smallest type: one byte a character
    train_ids, val_ids = split(ids, 0.1)
    assert np.shares_memory(train_ids, ids) and np.shares_memory(val_ids, ids)
    sb = StreamBatcher(train_ids, 8, 4)
    assert np.shares_memory(sb._streams, ids)  # no copy of the corpus (was an int64 copy)
    x, y, _ = sb.next()
    assert x.dtype == y.dtype == np.int64 and x.shape == (8, 4)  # windows are int64
    xv, yv = next(validation_windows(val_ids, 5, 3))
    assert xv.dtype == np.int64
