"""What single hidden units track: simple features of the text, correlated
with every unit's activation.

Karpathy's *The Unreasonable Effectiveness of Recurrent Neural Networks*
showed text coloured by one hidden unit of a trained character model, and
found units that switch on inside quotes, count along a line, or mark the
inside of an ``if`` statement. This module finds such units automatically,
and says so when there is none:

1. run the model over a text and keep the hidden state after every
   character, ``acts`` of shape (N, H) (:func:`hidden_states`);
2. compute simple, exactly defined features of the same text, one number
   per character (:data:`FEATURES`, :func:`text_features`): inside brackets,
   the position in the line, a line that names a speaker, ...;
3. correlate every unit with every feature (Pearson's r, :func:`correlations`);
4. name a unit after the feature it correlates with most strongly when
   ``|r|`` reaches a threshold, and call it *not interpretable* (with its best
   r) when it does not (:func:`name_units`).

A feature at position t describes the text *up to and including* character t
(the state ``acts[t]`` has read exactly that much), except
``speaker_line``, which is true on the whole line of a speaker's name: a
unit that correlates with it has learned to tell such a line from its first
characters on.

Correlation finds units that *follow* a feature linearly; a unit may still
encode something no listed feature describes, or mix several. Only the
numbers, not the names, are the result.
"""

from __future__ import annotations

import re
from typing import Callable, NamedTuple

import numpy as np

from ._checks import as_float_array, check_ids_1d, check_number
from .model import CELLS, model_info, one_hot, param_key

__all__ = ["Feature", "FEATURES", "text_features", "hidden_states", "correlations",
           "UnitName", "name_units", "DEFAULT_THRESHOLD"]

#: ``|r|`` from which a unit is named after a feature: the feature then
#: accounts for at least a quarter of the unit's variance (r² >= 0.25).
DEFAULT_THRESHOLD = 0.5


class Feature(NamedTuple):
    """One feature of a text.

    Attributes
    ----------
    label : str
        A short name for a person ("inside brackets").
    definition : str
        Exactly what the value at character t is.
    compute : callable
        ``compute(text) -> ndarray (len(text),) float64``.
    """

    label: str
    definition: str
    compute: Callable[[str], np.ndarray]


def _position_in_line(text: str) -> np.ndarray:
    """Index of each character in its line; a newline ends (and belongs to) its line."""
    out = np.empty(len(text))
    pos = 0
    for i, ch in enumerate(text):
        out[i] = pos
        pos = 0 if ch == "\n" else pos + 1
    return out


def _between(text: str, opening: str, closing: str) -> np.ndarray:
    """1 from an opening mark up to the next closing one (both included), else 0."""
    out = np.zeros(len(text))
    inside = False
    for i, ch in enumerate(text):
        inside = inside or ch == opening
        out[i] = inside
        inside = inside and ch != closing
    return out


def _in_quotes(text: str) -> np.ndarray:
    """1 from an opening double quote up to its closing one (both included)."""
    out = np.zeros(len(text))
    inside = False
    for i, ch in enumerate(text):
        out[i] = inside or ch == '"'
        if ch == '"':
            inside = not inside
    return out


_SPEAKER = re.compile(r"[A-Za-z][A-Za-z &'.-]*:")


def _line_flags(text: str, test: Callable[[str, str], bool]) -> np.ndarray:
    """1 on every character of a line (its newline included) for which
    ``test(line, previous_line)`` holds."""
    out = np.zeros(len(text))
    pos, previous = 0, ""
    for line in text.split("\n"):
        end = min(pos + len(line) + 1, len(text))  # with its newline, if any
        if test(line, previous):
            out[pos:end] = 1.0
        pos, previous = end, line
    return out


def _speaker_line(text: str) -> np.ndarray:
    # "HAMLET:", "First Witch:" after a blank line (or at the start), no other words
    return _line_flags(text, lambda line, prev: prev == "" and _SPEAKER.fullmatch(line) is not None)


def _stage_direction(text: str) -> np.ndarray:
    return _line_flags(text, lambda line, prev: re.match(r"(Enter|Re-enter|Exit|Exeunt)\b", line)
                       is not None)


def _position_in_word(text: str) -> np.ndarray:
    """Letters since the last character that is not a letter or an apostrophe (0 there)."""
    out = np.zeros(len(text))
    count = 0
    for i, ch in enumerate(text):
        count = count + 1 if ch.isalpha() or ch == "'" else 0
        out[i] = count
    return out


def _in_capitals(text: str) -> np.ndarray:
    """1 on an upper-case letter whose neighbour is an upper-case letter too (NAMES, ACT)."""
    up = np.array([ch.isupper() for ch in text], dtype=bool)
    out = np.zeros(len(text))
    if len(text) > 1:
        pair = up[1:] & up[:-1]
        out[1:] += pair
        out[:-1] += pair
    return (out > 0).astype(np.float64)


def _after_sentence_end(text: str) -> np.ndarray:
    """1 from a full stop, ! or ? on, through the spaces and newlines after it."""
    out = np.zeros(len(text))
    on = False
    for i, ch in enumerate(text):
        if ch in ".!?":
            on = True
        elif not ch.isspace():
            on = False
        out[i] = on
    return out


def _is_char(chars: str) -> Callable[[str], np.ndarray]:
    return lambda text: np.array([ch in chars for ch in text], dtype=np.float64)


#: The features, by name. Each value is a number per character.
FEATURES: dict = {
    "position_in_line": Feature(
        "position in the line", "characters since the last newline (the newline itself: "
        "the length of the line it ends)", _position_in_line),
    "speaker_line": Feature(
        "a speaker's name", "1 on every character of a line that names a speaker "
        "(\"HAMLET:\", \"First Witch:\": letters, spaces, & ' . - and a final colon, after a "
        "blank line)", _speaker_line),
    "in_capitals": Feature(
        "inside a word in capitals", "1 on an upper-case letter next to another upper-case "
        "letter (names in capitals, ACT, SCENE)", _in_capitals),
    "stage_direction": Feature(
        "a stage direction", "1 on every character of a line starting with Enter, Re-enter, "
        "Exit or Exeunt", _stage_direction),
    "in_brackets": Feature(
        "inside brackets", "1 from a [ up to the next ] (both included)",
        lambda text: _between(text, "[", "]")),
    "in_quotes": Feature(
        "inside double quotes", "1 from an opening \" up to its closing \" (both included)",
        _in_quotes),
    "position_in_word": Feature(
        "position in the word", "letters (and apostrophes) since the last other character",
        _position_in_word),
    "after_sentence_end": Feature(
        "after the end of a sentence", "1 on a . ! or ? and on the spaces and newlines after it",
        _after_sentence_end),
    "space": Feature("a space", "1 on a space", _is_char(" ")),
    "vowel": Feature("a vowel", "1 on a, e, i, o, u (either case)", _is_char("aeiouAEIOU")),
}


def text_features(text: str, names=None) -> tuple:
    """The features of a text, one column each.

    Parameters
    ----------
    text : str
    names : sequence of str, optional
        Keys of :data:`FEATURES` (default: all, in their order).

    Returns
    -------
    names : list of str
    F : ndarray of shape (len(text), len(names)), float64
    """
    names = list(FEATURES) if names is None else list(names)
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ValueError(f"text_features: unknown feature names {unknown}; known: {list(FEATURES)}")
    if not isinstance(text, str):
        raise ValueError(f"text_features: text must be a str, got {type(text).__name__}")
    F = np.empty((len(text), len(names)))
    for j, name in enumerate(names):
        F[:, j] = FEATURES[name].compute(text)
    return names, F


def hidden_states(params: dict, ids, state0=None) -> tuple:
    """The top layer's hidden state after every character of one sequence.

    Parameters
    ----------
    params : dict
        A model (:func:`rnn.model.init_params`), any cell and number of layers.
    ids : ndarray of int, shape (N,)
        The token ids, read in order.
    state0 : ndarray of shape (layers, S, 1, H), optional
        Initial state (zeros if omitted).

    Returns
    -------
    acts : ndarray of shape (N, H)
        ``acts[t]`` is h after reading ``ids[t]`` (for the LSTM, its output h,
        not its cell state).
    state : ndarray of shape (layers, S, 1, H)
        The state after the last character.
    """
    cell, layers, K, H = model_info(params)
    module = CELLS[cell]
    ids = check_ids_1d("hidden_states", ids)
    dtype = params["V"].dtype
    if state0 is None:
        state0 = np.zeros((layers, module.N_STATES, 1, H), dtype)
    x = one_hot(ids[:, None], K, dtype=dtype)  # (N, 1, K)
    last = []
    for layer in range(layers):
        p = {n: params[param_key(n, layer)] for n in module.PARAM_NAMES}
        x, _, state = module.layer_forward(x, state0[layer], p)  # this layer's h (N, 1, H)
        last.append(state)
    return x[:, 0, :], np.stack(last)


def correlations(acts, F) -> np.ndarray:
    """Pearson's r between every unit and every feature.

    Parameters
    ----------
    acts : ndarray of shape (N, H)
    F : ndarray of shape (N, n_features)

    Returns
    -------
    r : ndarray of shape (H, n_features)
        ``r[i, j]`` is the correlation of unit i with feature j over the N
        positions; NaN where either is constant (no correlation is defined).
    """
    acts = as_float_array("correlations", "acts", acts).astype(np.float64)
    F = as_float_array("correlations", "F", F).astype(np.float64)
    if acts.ndim != 2 or F.ndim != 2 or acts.shape[0] != F.shape[0] or acts.shape[0] < 2:
        raise ValueError(f"correlations: acts (N, H) and F (N, n_features) need the same N >= 2, "
                         f"got {acts.shape} and {F.shape}")
    a = acts - acts.mean(axis=0)
    f = F - F.mean(axis=0)
    sa = np.sqrt((a * a).sum(axis=0))  # (H,)
    sf = np.sqrt((f * f).sum(axis=0))  # (n_features,)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a.T @ f) / np.outer(sa, sf)
    # a constant column (zero spread, up to rounding) has no correlation
    r[sa <= 1e-12 * np.sqrt(acts.shape[0]), :] = np.nan
    r[:, sf <= 1e-12 * np.sqrt(F.shape[0])] = np.nan
    return np.clip(r, -1.0, 1.0)


class UnitName(NamedTuple):
    """What :func:`name_units` says about one unit.

    Attributes
    ----------
    unit : int
    feature : str or None
        The feature with the largest ``|r|`` (None if no feature varies).
    r : float
        Its correlation (NaN if ``feature`` is None).
    interpretable : bool
        ``|r| >= threshold``.
    """

    unit: int
    feature: str | None
    r: float
    interpretable: bool


def name_units(r, names, threshold: float = DEFAULT_THRESHOLD) -> list:
    """Name every unit after its most correlated feature, when the correlation is strong.

    Parameters
    ----------
    r : ndarray of shape (H, n_features)
        From :func:`correlations` (NaN entries are ignored).
    names : sequence of str
        The feature of each column.
    threshold : float in (0, 1], default :data:`DEFAULT_THRESHOLD`

    Returns
    -------
    units : list of UnitName
        One per unit, in unit order.
    """
    r = as_float_array("name_units", "r", r)
    names = list(names)
    if r.ndim != 2 or r.shape[1] != len(names):
        raise ValueError(f"name_units: r must have shape (H, {len(names)}) for {len(names)} "
                         f"names, got {r.shape}")
    threshold = check_number("name_units", "threshold", threshold, low=0, low_open=True, high=1)
    out = []
    for i, row in enumerate(r):
        strength = np.where(np.isnan(row), -1.0, np.abs(row))
        j = int(np.argmax(strength)) if row.size else 0
        if row.size == 0 or strength[j] < 0:
            out.append(UnitName(i, None, float("nan"), False))
        else:
            out.append(UnitName(i, names[j], float(row[j]), bool(abs(row[j]) >= threshold)))
    return out
