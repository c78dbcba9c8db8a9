"""The examples in the package's docstrings run and print what they show.

They are published on the API reference pages, so a reader copies them like
any snippet of the chapters; pytest-markdown-docs only collects docstring
fences when src/ is on the command line, and ``>>>`` examples not at all.
"""

import doctest
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "rnn"
WITH_EXAMPLES = sorted(p.stem for p in SRC.glob("*.py") if ">>> " in p.read_text("utf8"))


def test_the_examples_are_found():
    assert {"data", "torch_bridge"} <= set(WITH_EXAMPLES)


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples_run(name):
    if name == "torch_bridge":
        pytest.importorskip("torch")
    module = importlib.import_module(f"rnn.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"rnn.{name}: no example found"
    assert result.failed == 0, f"rnn.{name}: {result.failed} of {result.attempted} example lines failed (see above)"
