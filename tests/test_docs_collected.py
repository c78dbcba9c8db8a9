"""Guard against doc snippets that are silently not collected.

pytest-markdown-docs collects nothing, and says nothing, when it does not
recognise a fence (e.g. `{.python continuation}` without
--markdown-docs-syntax=superfences, or a fence it fails to see inside an
admonition or a tab). This test counts the Python fences in docs/**/*.md with a
simple scanner independent of the collection code, and checks that pytest
collected at least that many markdown-docs items for every page.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

PY_LANGS = {"python", "py", "python3"}
FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


def _is_tested_python(info: str) -> bool:
    info = info.strip()
    if info.startswith("{"):
        words = info.strip("{}").split()
        lang = next((w[1:] for w in words if w.startswith(".")), None)
        options = [w for w in words if not w.startswith(".")]
    else:
        words = info.split()
        lang, options = (words[0] if words else None), words[1:]
    return lang in PY_LANGS and "notest" not in options


def count_python_fences(text: str) -> int:
    """Python fences (not marked notest), at any indentation."""
    count = 0
    open_fence = None  # (indent, fence chars) of the fence we are in
    for line in text.splitlines():
        if open_fence is None:
            m = FENCE_OPEN.match(line)
            if m:
                open_fence = (m.group("indent"), m.group("fence"))
                count += _is_tested_python(m.group("info"))
        elif line.strip() == open_fence[1] and line.startswith(open_fence[0]):
            open_fence = None
    return count


def test_count_python_fences_self_check():
    sample = "\n".join(
        [
            "```python",
            "x = 1",
            "```",
            "```{.python continuation}",
            "```",
            "```{.python notest}",
            "```",
            '=== "NumPy"',
            "",
            "    ```python",
            "    ```",
            "````markdown",
            "```python",
            "```",
            "````",
            "```text",
            "```",
        ]
    )
    assert count_python_fences(sample) == 3


def test_every_doc_fence_is_collected(request, all_collected_nodeids, terminal_summary):
    collected = Counter(
        nodeid.split("::", 1)[0]
        for nodeid in all_collected_nodeids
        if nodeid.startswith("docs/") and nodeid.split("::", 1)[0].endswith(".md")
    )
    if not collected:
        pytest.skip("no docs/ items collected in this session (a subset was run)")

    # Check every page when the whole docs/ tree was part of this run;
    # otherwise only the pages that were (partly) collected.
    invocation = Path(request.config.invocation_params.dir)
    args = [(invocation / a.split("::", 1)[0]).resolve() for a in request.config.args]
    whole_docs = any(a == DOCS or a in DOCS.parents for a in args)
    pages = sorted(DOCS.rglob("*.md"))
    if not whole_docs:
        pages = [p for p in pages if p.relative_to(ROOT).as_posix() in collected]

    expected = {
        p.relative_to(ROOT).as_posix(): count_python_fences(p.read_text("utf8")) for p in pages
    }
    missing = {
        page: (n, collected.get(page, 0))
        for page, n in expected.items()
        if collected.get(page, 0) < n
    }
    total_expected = sum(expected.values())
    total_collected = sum(collected[p] for p in expected)
    line = f"doc fences: {total_expected} Python fences in docs/, {total_collected} collected"
    print(line)
    terminal_summary.append(line)
    assert not missing, (
        "Python fences in docs/ that pytest did not collect "
        "(page: (fences in the file, items collected)): "
        f"{missing}. Use ```python, ```{{.python continuation}} or ```{{.python notest}} "
        "(superfences syntax) and run pytest with the options in pyproject.toml."
    )


def test_output_comparison_is_tolerant_for_numbers_and_strict_for_words():
    import sys
    sys.path.insert(0, str(ROOT / "scripts"))
    from docs_outputs import compare

    assert compare("loss 4.21 nats", "noise\nloss 4.2088 nats") is None  # the last digit shown
    assert compare("error 1.9e-10", "error 3.4e-10") is None  # both rounding-level
    assert compare("12,500 characters", "12,503 characters") is None  # within 2 %
    assert compare("loss 4.41 nats", "loss 4.60 nats") is not None
    assert compare("loss 4.21 nats", "loss 4.21 bits") is not None
    assert compare("two\nlines", "one line") is not None
    assert compare("100 steps", "100 steps, 3 s") is not None  # a number more or less
