"""rnn.units: text features, hidden states, correlations, names.

Every feature is compared with a separate implementation written from its
definition, character by character (look back or forward from each position,
no running state), on a handmade play excerpt and on random strings of the
characters the features care about; the correlations with numpy.corrcoef.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnn import units
from rnn.model import CELLS, forward, init_params

PLAY = """ACT I

SCENE I. Elsinore. A platform before the castle.

Enter BERNARDO and FRANCISCO

BERNARDO:
Who's there? [Aside] "Nay, answer me."

First Witch:
When shall we three meet again: in thunder?
Look, where they come:

Exeunt
"""

LETTERS = "aeEbBXy'"


def line_of(text, i):
    """(start, end) of the line character i belongs to (a newline ends its line)."""
    start = text.rfind("\n", 0, i) + 1
    end = i if text[i] == "\n" else (text.find("\n", i) if "\n" in text[i:] else len(text))
    return start, end


def previous_line(text, start):
    if start == 0:
        return ""
    p = text.rfind("\n", 0, start - 1) + 1
    return text[p:start - 1]


def ref_position_in_line(text, i):
    return i - (text.rfind("\n", 0, i) + 1)


def ref_speaker_line(text, i):
    start, end = line_of(text, i)
    line = text[start:end]
    name = line[:-1]
    ok = (len(line) >= 2 and line.endswith(":") and name[0].isascii() and name[0].isalpha()
          and all((c.isascii() and c.isalpha()) or c in " &'.-" for c in name))
    return float(ok and previous_line(text, start) == "")


def ref_stage_direction(text, i):
    start, end = line_of(text, i)
    line = text[start:end]
    for word in ("Enter", "Re-enter", "Exit", "Exeunt"):
        if line.startswith(word) and (len(line) == len(word) or not (line[len(word)].isalnum() or line[len(word)] == "_")):
            return 1.0
    return 0.0


def ref_in_capitals(text, i):
    up = text[i].isupper()
    return float(up and ((i > 0 and text[i - 1].isupper()) or (i + 1 < len(text) and text[i + 1].isupper())))


def ref_in_brackets(text, i):
    opened = text.rfind("[", 0, i + 1)
    closed = text.rfind("]", 0, i)
    return float(opened != -1 and opened > closed)


def ref_in_quotes(text, i):
    return float(text[i] == '"' or text[:i].count('"') % 2 == 1)


def ref_position_in_word(text, i):
    n = 0
    while i - n >= 0 and (text[i - n].isalpha() or text[i - n] == "'"):
        n += 1
    return n


def ref_after_sentence_end(text, i):
    j = i
    while j >= 0 and text[j].isspace():
        j -= 1
    return float(j >= 0 and text[j] in ".!?" and (j == i or text[i].isspace()))


REFERENCE = {
    "position_in_line": ref_position_in_line,
    "speaker_line": ref_speaker_line,
    "in_capitals": ref_in_capitals,
    "stage_direction": ref_stage_direction,
    "in_brackets": ref_in_brackets,
    "in_quotes": ref_in_quotes,
    "position_in_word": ref_position_in_word,
    "after_sentence_end": ref_after_sentence_end,
    "space": lambda text, i: float(text[i] == " "),
    "vowel": lambda text, i: float(text[i] in "aeiouAEIOU"),
}


def random_texts(n=40, seed=0):
    rng = np.random.default_rng(seed)
    alphabet = list(LETTERS + ' ".!?[]:\n&-') + ["\n\n", "Enter ", "Exit", "HAM:", "\nA B:\n"]
    return ["".join(rng.choice(alphabet, size=rng.integers(1, 60))) for _ in range(n)]


def test_every_feature_has_a_reference():
    assert set(REFERENCE) == set(units.FEATURES)


@pytest.mark.parametrize("text", [PLAY, "", "\n", "a", "HAM:", "\n\nX:\nY"] + random_texts())
def test_features_match_their_definitions(text):
    names, F = units.text_features(text)
    assert F.shape == (len(text), len(units.FEATURES)) and names == list(units.FEATURES)
    for j, name in enumerate(names):
        expected = [REFERENCE[name](text, i) for i in range(len(text))]
        np.testing.assert_array_equal(F[:, j], expected, err_msg=f"{name} on {text!r}")


def test_the_play_excerpt_has_each_feature():
    """The handmade text exercises every feature (so the comparison above means something)."""
    names, F = units.text_features(PLAY)
    col = dict(zip(names, F.T))
    speaker = "".join(ch for ch, on in zip(PLAY, col["speaker_line"]) if on)
    assert speaker == "BERNARDO:\nFirst Witch:\n"  # not "Look, where they come:"
    assert "".join(ch for ch, on in zip(PLAY, col["in_brackets"]) if on) == "[Aside]"
    assert "".join(ch for ch, on in zip(PLAY, col["in_quotes"]) if on) == '"Nay, answer me."'
    assert col["stage_direction"].sum() == len("Enter BERNARDO and FRANCISCO\n") + len("Exeunt\n")
    assert col["in_capitals"].sum() > 20 and col["after_sentence_end"].sum() > 5


def test_text_features_names_and_errors():
    names, F = units.text_features("ab c", ["space", "vowel"])
    assert names == ["space", "vowel"] and F.tolist() == [[0, 1], [0, 0], [1, 0], [0, 0]]
    with pytest.raises(ValueError, match="unknown feature names \\['colour'\\]"):
        units.text_features("ab", ["colour"])
    with pytest.raises(ValueError, match="text must be a str"):
        units.text_features(b"ab")


def test_correlations_equal_numpy_corrcoef():
    rng = np.random.default_rng(1)
    N, H = 300, 6
    F = np.column_stack([rng.standard_normal(N), rng.integers(0, 2, N), np.arange(N) % 7,
                         np.zeros(N), np.full(N, 3.0)])
    acts = np.tanh(rng.standard_normal((N, H)) + F[:, :1])
    acts[:, 4] = 0.25  # a constant unit
    r = units.correlations(acts, F)
    assert r.shape == (H, F.shape[1])
    for i in range(H):
        for j in range(F.shape[1]):
            if np.ptp(acts[:, i]) == 0 or np.ptp(F[:, j]) == 0:
                assert np.isnan(r[i, j])
            else:
                assert r[i, j] == pytest.approx(np.corrcoef(acts[:, i], F[:, j])[0, 1], abs=1e-12)
    assert np.nanmax(np.abs(r)) <= 1


def test_correlations_of_a_perfect_fit():
    x = np.linspace(-1, 1, 50)
    r = units.correlations(np.column_stack([x, -x]), np.column_stack([3 * x + 1]))
    np.testing.assert_allclose(r[:, 0], [1, -1])


def test_correlations_errors():
    with pytest.raises(ValueError, match="the same N >= 2"):
        units.correlations(np.zeros((3, 2)), np.zeros((4, 1)))


def test_name_units():
    names = ["a", "b", "c"]
    r = np.array([[0.1, -0.7, 0.6],     # b, named (|r| beats c's)
                  [0.2, np.nan, -0.3],  # a NaN is ignored: best is c, not named
                  [np.nan] * 3,         # nothing varies
                  [0.5, 0.1, 0.0]])     # exactly the threshold: named
    got = units.name_units(r, names)
    assert got[0] == units.UnitName(0, "b", -0.7, True)
    assert got[1] == units.UnitName(1, "c", -0.3, False)
    assert got[2].feature is None and np.isnan(got[2].r) and not got[2].interpretable
    assert got[3] == units.UnitName(3, "a", 0.5, True)
    assert [u.interpretable for u in units.name_units(r, names, threshold=0.8)] == [False] * 4
    with pytest.raises(ValueError, match="r must have shape"):
        units.name_units(r, names[:2])
    with pytest.raises(ValueError, match="threshold"):
        units.name_units(r, names, threshold=0)


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("layers", [1, 2])
def test_hidden_states_give_the_models_logits(cell, layers):
    """V h(t) + c of the states equals rnn.model.forward's logits, step by step."""
    K, H = 7, 5
    params = init_params(K, H, cell=cell, layers=layers, seed=3, init="scaled")
    ids = np.random.default_rng(0).integers(0, K, 25)
    acts, state = units.hidden_states(params, ids)
    o, state_ref = forward(params, ids[:, None])
    assert acts.shape == (25, H)
    np.testing.assert_allclose(acts @ params["V"].T + params["c"], o[:, 0], atol=1e-12)
    np.testing.assert_allclose(state, state_ref, atol=1e-12)
    # and carrying the state on is the same as reading everything at once
    first, mid = units.hidden_states(params, ids[:10])
    rest, _ = units.hidden_states(params, ids[10:], mid)
    np.testing.assert_allclose(np.vstack([first, rest]), acts, atol=1e-12)
