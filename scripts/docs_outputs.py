"""The printed output that a page shows under a code block, and a tolerant
comparison of it with what the block really prints.

On this site a ```text block that directly follows a tested Python block is
that block's output. The doc tests run the Python block (and, for a
continuation, the blocks before it) and compare what it printed with the
text block, so a number a page shows cannot silently drift from what the
code computes. The comparison is exact for words and tolerant for numbers:

* two numbers agree if they differ by at most half a unit in the last digit
  the page prints, or by 2 % (so the last digit of a rounded figure, or a
  BLAS that sums in another order, does not fail the page);
* two numbers below 1e-6 in size agree: they are rounding-level quantities
  (relative errors of a gradient check, float noise) whose exact value
  depends on the machine;
* a text block written ```{.text .output-varies} is shown but not compared
  (timings, throughput: figures measured on the machine that wrote the page).
"""

from __future__ import annotations

import re
from pathlib import Path

from docs_source import scan_fences

VARIES = ".output-varies"  # the class of a text block that is shown but not compared
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?%?")


def expected_output(path: Path, start_line: int) -> str | None:
    """The ```text block right after the fence that opens at ``start_line``
    (0-based) of ``path``, or None if there is none (or it varies)."""
    lines = Path(path).read_text("utf8").split("\n")
    fences = scan_fences(lines)
    for k, f in enumerate(fences):
        if f.start == start_line:
            if k + 1 == len(fences):
                return None
            nxt = fences[k + 1]
            between = [ln for ln in lines[f.end + 1:nxt.start] if ln.strip()]
            if nxt.lang != "text" or nxt.options or between or VARIES in nxt.info.strip("{}").split():
                return None
            return "\n".join(nxt.lines).rstrip()
    return None


def _value(token: str) -> float:
    return float(token.replace(",", "").rstrip("%"))


def _half_unit(token: str) -> float:
    t = token.replace(",", "").rstrip("%")
    mantissa, _, exp = t.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return 0.5 * 10.0 ** (-decimals) * (10.0 ** int(exp) if exp else 1.0)


def numbers_agree(shown: str, got: str) -> bool:
    a, b = _value(shown), _value(got)
    if abs(a) < 1e-6 and abs(b) < 1e-6:
        return True
    return abs(a - b) <= max(_half_unit(shown) + _half_unit(got), 0.02 * max(abs(a), abs(b)))


def compare(shown: str, printed: str) -> str | None:
    """None if ``printed`` ends with what the page shows, else a one-paragraph reason."""
    got_lines = [ln.rstrip() for ln in printed.rstrip().split("\n")]
    want_lines = [ln.rstrip() for ln in shown.rstrip().split("\n")]
    if len(got_lines) < len(want_lines):
        return f"the page shows {len(want_lines)} lines of output, the code printed {len(got_lines)}"
    got_lines = got_lines[len(got_lines) - len(want_lines):]
    for want, got in zip(want_lines, got_lines):
        w_words, g_words = _NUMBER.split(want), _NUMBER.split(got)
        w_nums, g_nums = _NUMBER.findall(want), _NUMBER.findall(got)
        if w_words != g_words or len(w_nums) != len(g_nums) or not all(
                numbers_agree(x, y) for x, y in zip(w_nums, g_nums)):
            printed_tail = "\n".join("    " + ln for ln in got_lines)
            return (f"the page shows\n    {want}\nbut the code prints\n    {got}\n"
                    f"(the code's output in full, for the page:\n{printed_tail}\n)")
    return None
