"""Token ids for a character-level language model: the vocabulary, the
train/validation split and the two ways of cutting a long id sequence into
(T, B) windows for truncated backpropagation through time.

* :class:`Vocab` maps characters to integer ids 0..K-1 and back. It is
  stored with every checkpoint (as code points, no pickle), so a sampled
  model always decodes with the vocabulary it was trained on.
* :func:`split` keeps the last fraction of the ids for validation.
* :class:`StreamBatcher` (min-char-rnn / char-rnn style) cuts the ids into
  B contiguous streams; window k+1 of row i continues exactly where window
  k of row i stopped, so the caller carries hidden state row i across
  windows. :func:`random_windows` draws B independent windows instead,
  used with a zero initial state. :func:`validation_windows` walks the
  validation ids once, deterministically.

* :func:`encode_pieces` turns a text of any size, given as pieces (a file
  read a few megabytes at a time), into the vocabulary and one array of ids
  in the smallest unsigned type that holds them (one byte per character for
  up to 256 distinct characters), without ever holding the whole text as a
  ``str``.

Getting the text itself is :mod:`rnn.corpus`'s job. A corpus's ids are
stored once, in that small type; the batchers read windows out of that one
array (no copy of it) and hand out ``int64`` windows. Windows are
time-major, ``inputs[t, i]`` is the id read at step t by sequence i and
``targets[t, i]`` the id it must predict, the next character:
``targets[t] == inputs[t + 1]`` within one window.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np

from ._checks import check_ids_1d, check_int, check_number

__all__ = ["Vocab", "EncodedText", "encode_pieces", "str_pieces", "id_dtype", "split",
           "StreamBatcher", "random_windows", "validation_windows"]

_N_CODE_POINTS = 0x110000
_PIECE_CHARS = 1 << 22  # characters per piece of an in-memory text

_MAX_SHOWN = 10  # unknown characters listed in an encode error


class Vocab:
    """A character vocabulary: ids ``0..K-1`` to characters and back.

    Parameters
    ----------
    chars : sequence of str
        Distinct single characters; ``chars[k]`` gets id ``k``. Use
        :meth:`from_text` to build the vocabulary of a corpus.

    Attributes
    ----------
    chars : list of str
        The characters, in id order.
    size : int
        K, the number of characters.

    Examples
    --------
    >>> v = Vocab.from_text("hello")
    >>> v.chars
    ['e', 'h', 'l', 'o']
    >>> v.encode("hole").tolist()
    [1, 3, 2, 0]
    >>> v.decode([1, 0, 2, 2, 3])
    'hello'
    """

    def __init__(self, chars):
        chars = list(chars)
        if not chars:
            raise ValueError("Vocab: the vocabulary is empty; build it from a non-empty text")
        for ch in chars:
            if not isinstance(ch, str) or len(ch) != 1:
                raise ValueError(f"Vocab: every entry must be a single character, got {ch!r}")
        if len(set(chars)) != len(chars):
            dup = sorted({c for c in chars if chars.count(c) > 1})
            raise ValueError(f"Vocab: characters must be distinct, got duplicates {dup!r}")
        self.chars = chars
        # Code points sorted, and the id of each, for a vectorised encode.
        cps = np.array([ord(c) for c in chars], dtype=np.int64)
        order = np.argsort(cps, kind="stable")
        self._sorted_cps = cps[order]
        self._sorted_ids = order.astype(np.int64)

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        """The vocabulary of ``text``: its distinct characters, sorted by code point."""
        if not isinstance(text, str):
            raise ValueError(f"Vocab.from_text: text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("Vocab.from_text: text is empty, so there are no characters to "
                             "build a vocabulary from")
        return cls(sorted(set(text)))

    @property
    def size(self) -> int:
        """K, the number of characters."""
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.chars == other.chars

    __hash__ = None  # equal by content, so not hashable

    def __repr__(self) -> str:
        preview = "".join(self.chars[:20])
        more = "..." if len(self.chars) > 20 else ""
        return f"Vocab(K={self.size}, chars={preview!r}{more})"

    def encode(self, text: str) -> np.ndarray:
        """Ids of the characters of ``text``.

        Parameters
        ----------
        text : str

        Returns
        -------
        ids : ndarray of int64, shape (N,)
            N = len(text).

        Raises
        ------
        ValueError
            If ``text`` holds characters that are not in the vocabulary; the
            message lists them (up to 10).
        """
        if not isinstance(text, str):
            raise ValueError(f"Vocab.encode: text must be a str, got {type(text).__name__}")
        if not text:
            return np.zeros(0, dtype=np.int64)
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        codes = codes.astype(np.int64)
        pos = np.searchsorted(self._sorted_cps, codes)
        pos = np.minimum(pos, len(self._sorted_cps) - 1)
        known = self._sorted_cps[pos] == codes
        if not known.all():
            unknown = []
            for cp in codes[~known]:  # first appearance order
                ch = chr(int(cp))
                if ch not in unknown:
                    unknown.append(ch)
            shown = ", ".join(repr(c) for c in unknown[:_MAX_SHOWN])
            more = f" and {len(unknown) - _MAX_SHOWN} more" if len(unknown) > _MAX_SHOWN else ""
            raise ValueError(
                f"text contains {len(unknown)} character(s) that are not in the training "
                f"vocabulary of {self.size} characters: {shown}{more}; use only characters "
                f"the model was trained on")
        return self._sorted_ids[pos]

    def decode(self, ids) -> str:
        """The text spelled by ``ids`` (any shape; read in C order)."""
        ids = np.asarray(ids)
        if ids.size == 0:
            return ""
        if not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"Vocab.decode: ids must be integers, got dtype {ids.dtype}")
        flat = ids.ravel()
        if flat.min() < 0 or flat.max() >= self.size:
            raise ValueError(f"Vocab.decode: ids must lie in [0, {self.size - 1}] for K = "
                             f"{self.size}, got values in [{flat.min()}, {flat.max()}]")
        chars = self.chars
        return "".join([chars[i] for i in flat.tolist()])

    def to_array(self) -> np.ndarray:
        """The characters as code points: ndarray of int32, shape (K,) (pickle-free storage)."""
        return np.array([ord(c) for c in self.chars], dtype=np.int32)

    @classmethod
    def from_array(cls, a) -> "Vocab":
        """Rebuild a vocabulary from :meth:`to_array` output (ids keep their order)."""
        a = np.asarray(a)
        if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"Vocab.from_array: expected a 1-D integer array of code points, "
                             f"got dtype {a.dtype} and shape {a.shape}")
        if a.size and (a.min() < 0 or a.max() > 0x10FFFF):
            raise ValueError(f"Vocab.from_array: code points must lie in [0, 0x10FFFF], got "
                             f"values in [{a.min()}, {a.max()}]")
        return cls([chr(int(c)) for c in a])


def id_dtype(K: int) -> np.dtype:
    """The smallest unsigned integer type that holds the ids 0..K-1 (uint8 for K <= 256)."""
    K = check_int("id_dtype", "K", K)
    return np.dtype(np.uint8 if K <= 1 << 8 else np.uint16 if K <= 1 << 16 else np.uint32)


class EncodedText(NamedTuple):
    """A text as the model reads it (see :func:`encode_pieces`)."""

    vocab: Vocab
    ids: np.ndarray  # (N,), dtype id_dtype(K)
    sha256: np.ndarray  # (32,) uint8: SHA-256 of the text's UTF-8 bytes


def _code_points(piece: str) -> np.ndarray:
    """The code points of ``piece``: uint8 for ASCII text, else uint32."""
    if piece.isascii():
        return np.frombuffer(piece.encode("ascii"), np.uint8)
    return np.frombuffer(piece.encode("utf-32-le", "surrogatepass"), np.uint32)


def str_pieces(text: str):
    """A :func:`encode_pieces` source for a text already in memory."""
    if not isinstance(text, str):
        raise ValueError(f"str_pieces: text must be a str, got {type(text).__name__}")
    return lambda: (text[i:i + _PIECE_CHARS] for i in range(0, len(text), _PIECE_CHARS))


def encode_pieces(pieces) -> EncodedText:
    """The vocabulary and ids of a text given in pieces, in two passes.

    The first pass counts every code point (and hashes the text), the second
    writes each piece's ids into one preallocated array of the smallest
    unsigned type, so memory holds the ids (one byte a character for up to
    256 distinct characters) and one piece at a time, never the whole text.

    Parameters
    ----------
    pieces : callable
        Returns an iterable of ``str`` pieces of the text; called twice, it
        must give the same text both times (a file changed in between is
        detected by its hash and refused).

    Returns
    -------
    EncodedText
        ``vocab`` (the distinct characters sorted by code point, as
        :meth:`Vocab.from_text`), ``ids`` and ``sha256``.
    """
    counts = np.zeros(_N_CODE_POINTS, np.int64)
    n, digest = 0, hashlib.sha256()
    for piece in pieces():
        codes = _code_points(piece)
        found = np.bincount(codes)
        counts[:len(found)] += found
        n += len(codes)
        digest.update(piece.encode("utf-8", "surrogatepass"))
    if n == 0:
        raise ValueError("encode_pieces: the text is empty, so there are no characters to "
                         "build a vocabulary from")
    chars = np.flatnonzero(counts)
    del counts
    vocab = Vocab([chr(c) for c in chars.tolist()])
    lookup = np.zeros(int(chars[-1]) + 1, id_dtype(len(chars)))
    lookup[chars] = np.arange(len(chars))
    ids = np.empty(n, lookup.dtype)
    pos, again = 0, hashlib.sha256()
    for piece in pieces():
        codes = _code_points(piece)
        if pos + len(codes) > n or (len(codes) and codes.max() >= len(lookup)):
            break
        ids[pos:pos + len(codes)] = lookup[codes]
        pos += len(codes)
        again.update(piece.encode("utf-8", "surrogatepass"))
    if pos != n or again.digest() != digest.digest():
        raise ValueError("the text changed while it was being read (two passes gave different "
                         "texts); train on a file that nothing is writing to")
    return EncodedText(vocab, ids, np.frombuffer(digest.digest(), np.uint8).copy())


def _first(ok, lo: int) -> int:
    """The smallest m >= lo with ok(m), for ok monotone (False ... False True ...)."""
    hi = max(lo, 1)
    while not ok(hi):
        lo, hi = hi + 1, 2 * hi
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid + 1, hi)
    return lo


def _shortest_text(f: float, need: int) -> int:
    """The fewest ids whose split at fraction f leaves ``need`` ids on each side.

    Both ``round(m f)`` and ``m - round(m f)`` grow with m (by 0 or 1 per
    step, as 0 < f < 1), so each condition has a first m, found by bisection.
    """
    val_ok = _first(lambda m: int(round(m * f)) >= need, need)
    train_ok = _first(lambda m: m - int(round(m * f)) >= need, need)
    return max(val_ok, train_ok)


def split(ids, val_fraction: float = 0.1, *, T: int = 1):
    """Split a sequence of ids into training ids and the last part for validation.

    Parameters
    ----------
    ids : ndarray of int, shape (N,)
    val_fraction : float in (0, 1), default 0.1
        The last ``round(N * val_fraction)`` ids are the validation set.
    T : int, default 1
        Window length (``--seq-len``): each part needs at least ``T + 1`` ids,
        one input window and its shifted targets. Pass the training window
        length so a too-short text is reported here, in terms of characters.

    Returns
    -------
    train_ids : ndarray of int, shape (N - n_val,)
    val_ids : ndarray of int, shape (n_val,)
        Contiguous views of ``ids``.

    Raises
    ------
    ValueError
        If either part is shorter than ``T + 1``; the message says how many
        characters the text must have.
    """
    ids = check_ids_1d("split", ids)
    T = check_int("split", "T", T)
    f = check_number("split", "val_fraction", val_fraction, low=0.0, high=1.0, low_open=True,
                     high_open=True)
    n = len(ids)
    n_val = int(round(n * f))
    need = T + 1
    if n_val < need or n - n_val < need:
        m = _shortest_text(f, need)
        raise ValueError(
            f"the text is too short: {n} characters give {n - n_val} for training and {n_val} "
            f"for validation (val_fraction={f:g}), but each part needs at least one window of "
            f"T + 1 = {need} characters, so the text must have at least {m} characters; use a "
            f"longer text or a shorter --seq-len")
    return ids[:n - n_val], ids[n - n_val:]


class StreamBatcher:
    """Contiguous (T, B) windows for truncated BPTT with carried hidden state.

    The ids are cut into B streams of equal length ``L = len(ids) // B``
    (the last ``len(ids) % B`` ids are dropped): stream i is
    ``ids[i*L : (i+1)*L]``. Each call of :meth:`next` returns the next T
    steps of every stream, so row i of one window continues exactly where
    row i of the previous window stopped, and the hidden state the model
    ends window k with is the right initial state for window k+1.

    When the next window would run past the end of the streams, the batcher
    wraps around to position 0, and the returned ``reset`` flag is True:
    the caller must then zero the hidden state, since the new window does
    not continue the old one. ``reset`` is True exactly when the window
    starts at position 0, so also on the very first call.

    With ``stride`` k1 < T the windows overlap, as TBPTT(k1, k2 = T) needs:
    each window starts k1 steps after the previous one, so its first T - k1
    steps were already in the previous window and its last k1 are new (all
    T on a ``reset`` window). The state to carry is then the one after the
    first k1 steps of the window, where the next window starts.

    Parameters
    ----------
    ids : ndarray of int, shape (N,)
    T : int
        Steps per window (``--seq-len``).
    B : int
        Number of streams (batch size).
    stride : int, optional
        Steps from one window's start to the next, 1 <= stride <= T (default T).

    Attributes
    ----------
    pos : int
        Position in every stream where the next window starts (before any
        wrap-around).
    epoch : int
        Number of completed passes over the streams.
    stream_len : int
        L, the length of each stream.
    stride : int
        Steps from one window's start to the next.
    windows_per_epoch : int
        ``(L - 1 - T) // stride + 1`` windows per pass: ``(L - 1) // T`` without overlap.

    Examples
    --------
    >>> sb = StreamBatcher(np.arange(20), T=3, B=2)   # streams 0..9 and 10..19
    >>> x, y, reset = sb.next()
    >>> x[:, 0].tolist(), y[:, 0].tolist(), reset
    ([0, 1, 2], [1, 2, 3], True)
    >>> x, y, reset = sb.next()
    >>> x[:, 1].tolist(), reset
    ([13, 14, 15], False)
    """

    def __init__(self, ids, T: int, B: int, *, stride=None):
        ids = check_ids_1d("StreamBatcher", ids)
        T = check_int("StreamBatcher", "T", T)
        B = check_int("StreamBatcher", "B", B)
        stride = T if stride is None else check_int("StreamBatcher", "stride", stride)
        if stride > T:
            raise ValueError(f"StreamBatcher: stride must be at most T = {T} (windows that skip "
                             f"steps would never train on them), got {stride}")
        L = len(ids) // B
        if L < T + 1:
            raise ValueError(
                f"StreamBatcher: {len(ids)} ids are too few for B = {B} streams of at least "
                f"T + 1 = {T + 1} ids each (need at least B * (T + 1) = {B * (T + 1)}); use a "
                f"longer text, a smaller --batch or a shorter --seq-len")
        self.T, self.B, self.stride = int(T), int(B), int(stride)
        self.stream_len = L
        self.windows_per_epoch = (L - 1 - self.T) // self.stride + 1
        self._streams = ids[:B * L].reshape(B, L)  # (B, L): row i is stream i; a view, no copy
        self.pos = 0
        self.epoch = 0

    def next(self):
        """The next window.

        Returns
        -------
        inputs : ndarray of int64, shape (T, B)
        targets : ndarray of int64, shape (T, B)
            ``inputs`` shifted by one step: ``targets[t, i]`` follows
            ``inputs[t, i]`` in stream i.
        reset : bool
            True if this window starts a new pass at position 0: zero the
            hidden state before running it.
        """
        if self.pos + self.T + 1 > self.stream_len:
            self.pos = 0
            self.epoch += 1
        reset = self.pos == 0
        w = _window(self._streams, self.pos, self.pos + self.T + 1)  # (T + 1, B)
        self.pos += self.stride
        return w[:-1], w[1:], reset

    __next__ = next

    def __iter__(self):
        return self

    def state_dict(self) -> dict:
        """Position for an exact resume: dict of 0-d int64 arrays (pickle-free)."""
        return {k: np.array(v, dtype=np.int64) for k, v in
                (("pos", self.pos), ("epoch", self.epoch), ("T", self.T), ("B", self.B),
                 ("stream_len", self.stream_len), ("stride", self.stride))}

    def load_state_dict(self, d: dict) -> None:
        """Restore a position saved by :meth:`state_dict` of a batcher over the same data.

        A position saved before strides existed (no ``"stride"`` entry) had stride T.
        """
        try:
            got = {k: int(np.asarray(d[k])) for k in ("pos", "epoch", "T", "B", "stream_len")}
            got["stride"] = int(np.asarray(d.get("stride", got["T"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"StreamBatcher.load_state_dict: expected integer entries 'pos', "
                             f"'epoch', 'T', 'B', 'stream_len' (and 'stride'), got keys "
                             f"{sorted(d)}") from exc
        mine = {"T": self.T, "B": self.B, "stream_len": self.stream_len, "stride": self.stride}
        if any(got[k] != v for k, v in mine.items()):
            raise ValueError(
                f"StreamBatcher.load_state_dict: the saved position is for T={got['T']}, "
                f"B={got['B']}, stride {got['stride']}, stream length {got['stream_len']}, but "
                f"this batcher has T={self.T}, B={self.B}, stride {self.stride}, stream length "
                f"{self.stream_len}; resume with the same data, --seq-len, --batch and "
                f"--truncation-stride")
        if not 0 <= got["pos"] <= self.stream_len or got["epoch"] < 0:
            raise ValueError(f"StreamBatcher.load_state_dict: pos must lie in "
                             f"[0, {self.stream_len}] and epoch be >= 0, got pos={got['pos']}, "
                             f"epoch={got['epoch']}")
        self.pos, self.epoch = got["pos"], got["epoch"]


def _window(streams, start: int, stop: int) -> np.ndarray:
    """Steps ``start:stop`` of every stream (rows of ``streams``) as a new int64 (time, B) array."""
    return np.ascontiguousarray(streams[:, start:stop].T, dtype=np.int64)


# --8<-- [start:random]
def random_windows(ids, T: int, B: int, rng):
    """B windows at independent random positions, for training from a zero state.

    Parameters
    ----------
    ids : ndarray of int, shape (N,)
    T : int
    B : int
    rng : numpy.random.Generator
        Start positions are ``rng.integers(0, N - T, size=B)``.

    Returns
    -------
    inputs : ndarray of int64, shape (T, B)
        Column j is ``ids[s_j : s_j + T]``.
    targets : ndarray of int64, shape (T, B)
        Column j is ``ids[s_j + 1 : s_j + T + 1]``.
    """
    ids = check_ids_1d("random_windows", ids)
    T = check_int("random_windows", "T", T)
    B = check_int("random_windows", "B", B)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"random_windows: rng must be a numpy.random.Generator, got "
                         f"{type(rng).__name__}; create one with np.random.default_rng(seed)")
    if len(ids) < T + 1:
        raise ValueError(f"random_windows: {len(ids)} ids are too few for one window of "
                         f"T + 1 = {T + 1} ids")
    starts = rng.integers(0, len(ids) - T, size=B)
    idx = starts[None, :] + np.arange(T + 1)[:, None]  # (T + 1, B)
    w = ids[idx].astype(np.int64)
    return w[:-1], w[1:]
# --8<-- [end:random]


def validation_windows(ids, T: int, B: int):
    """Walk the validation ids once in contiguous streams (deterministic).

    The ids are cut into ``B' = min(B, len(ids) // (T + 1))`` streams of
    equal length L (at least 1 stream; the last ``len(ids) % B'`` ids are
    dropped). Windows advance T steps at a time like :class:`StreamBatcher`,
    and the last window of a pass may be shorter, so every id of every
    stream after its first is a target exactly once. Start from a zero
    state of ``inputs.shape[1]`` rows (which is B' and may be less than B
    for a short validation set) and carry it from window to window.

    Parameters
    ----------
    ids : ndarray of int, shape (N,), N >= 2
    T : int
    B : int

    Yields
    ------
    inputs : ndarray of int64, shape (T_k, B')
        ``T_k == T`` except possibly for the last window.
    targets : ndarray of int64, shape (T_k, B')
    """
    ids = check_ids_1d("validation_windows", ids)
    T = check_int("validation_windows", "T", T)
    B = check_int("validation_windows", "B", B)
    if len(ids) < 2:
        raise ValueError(f"validation_windows: need at least 2 ids (one input and its target), "
                         f"got {len(ids)}")
    nb = max(1, min(B, len(ids) // (T + 1)))
    L = len(ids) // nb
    streams = ids[:nb * L].reshape(nb, L)  # (B', L), a view
    for start in range(0, L - 1, T):
        stop = min(start + T, L - 1)
        w = _window(streams, start, stop + 1)  # (T_k + 1, B')
        yield w[:-1], w[1:]
