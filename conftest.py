"""Repository-wide pytest configuration (loaded for tests/ and docs/).

1. Keep Python files that are not tests out of collection. With
   ``--markdown-docs`` every ``.py`` file under a collected path is imported to
   look for docstring fences, so a jupytext notebook under docs/ would be
   executed at collection time, and the mkdocs hook would be imported.

2. Doc snippets are tested exactly as rendered. pytest-markdown-docs parses
   Markdown with markdown-it (CommonMark), which differs from what MkDocs
   renders in two ways that matter here:

   * it does not expand ``pymdownx.snippets`` includes
     (``--8<-- "src/rnn/rnn_cell.py:forward"``), so an included section would
     run as the literal include line;
   * a fence indented inside an admonition (``!!! example``), a collapsible
     (``??? note``) or a content tab (``=== "NumPy"``) is, for CommonMark, an
     indented code block, not a fence, so it would silently not be collected.

   The ``pytest_markdown_docs_markdown_it`` hook below supplies a parser that
   first runs the snippets preprocessor with the settings in mkdocs.yml and
   then finds fences the way ``pymdownx.superfences`` does (at any
   indentation).

3. CI strictness: with CI=true (or 1) a skipped test is reported as FAILED,
   so a green CI run means that everything ran.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
# Markdown as the site reads it (fences, includes, tabs, chains): shared with
# the mkdocs hooks. (pyproject's pythonpath has scripts/ too; this makes the
# import independent of the directory pytest is started from.)
sys.path.insert(0, str(ROOT / "scripts"))
from docs_source import SnippetsSuperfencesParser, imports_torch, load_mkdocs_yml  # noqa: E402
from docs_outputs import compare, expected_output  # noqa: E402

# (1) Paths are relative to this file; fnmatch's "*" also matches "/".
collect_ignore_glob = [
    "docs/*.py",  # jupytext notebooks (docs/notebooks/*.py), any helper scripts
    "scripts/*",  # mkdocs hooks, dev scripts
    "site/*",  # built site
    ".cache/*",  # mkdocs-jupyter cache
    ".venv/*",
]


# --------------------------------------------------------------------------
# (2) Markdown parsing for pytest-markdown-docs
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mkdocs_config() -> dict:
    return load_mkdocs_yml()


@pytest.hookimpl(tryfirst=True)
def pytest_markdown_docs_markdown_it():
    return SnippetsSuperfencesParser()


# Remember every collected item before -k / -m deselection, for
# tests/test_docs_collected.py.
ALL_COLLECTED_NODEIDS = pytest.StashKey[list]()


TORCH_HINT = (
    "needs PyTorch: pip install torch==2.13.0 "
    "(on Linux, the CPU build: --index-url https://download.pytorch.org/whl/cpu)"
)


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    config.stash[ALL_COLLECTED_NODEIDS] = [item.nodeid for item in items]
    # A doc snippet that imports torch (a "PyTorch" tab, the NumPy-to-PyTorch
    # page) is skipped without torch, as the torch tests are
    # (pytest.importorskip); under CI=true the skip is a failure (below).
    if not torch_available():
        for item in items:
            code = getattr(item, "code", None)
            if isinstance(code, str) and imports_torch(code):
                item.add_marker(pytest.mark.skip(reason=TORCH_HINT))


@pytest.fixture
def all_collected_nodeids(request) -> list[str]:
    """Node ids of every item collected in this session, before deselection."""
    return request.config.stash.get(
        ALL_COLLECTED_NODEIDS, [item.nodeid for item in request.session.items]
    )


# Lines that tests add (e.g. the site build time), printed at the end of the run.
TERMINAL_SUMMARY = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def terminal_summary(request) -> list[str]:
    """Append a line to print it in pytest's terminal summary."""
    return request.config.stash.setdefault(TERMINAL_SUMMARY, [])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = config.stash.get(TERMINAL_SUMMARY, [])
    if lines:
        terminalreporter.write_sep("-", "rnn summary")
        for line in lines:
            terminalreporter.write_line(line)


# --------------------------------------------------------------------------
# (3) CI=true: a skip is a failure
# --------------------------------------------------------------------------


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr)
    return reason.removeprefix("Skipped: ")


def _fail_skip(report) -> None:
    report.outcome = "failed"
    report.longrepr = (
        f"skipped under CI=true: {_skip_reason(report)}; CI must run everything"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    # xfail also reports as "skipped" (with .wasxfail); that test did run.
    if _under_ci() and report.skipped and not hasattr(report, "wasxfail"):
        _fail_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    # e.g. a module-level pytest.importorskip(...)
    if _under_ci() and report.skipped:
        _fail_skip(report)
    return report


# --------------------------------------------------------------------------
# (4) The output a page shows is the output the code prints
# --------------------------------------------------------------------------


class _Capturing:
    """A pytest-markdown-docs runner whose snippet's stdout goes to a buffer."""

    def __init__(self, runner, buffer):
        self.runner, self.buffer = runner, buffer

    def __getattr__(self, name):
        return getattr(self.runner, name)

    def runtest(self, *args, **kwargs):
        with contextlib.redirect_stdout(self.buffer):
            return self.runner.runtest(*args, **kwargs)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A ```text block right after a doc snippet is its output: run the snippet
    with stdout captured and compare (scripts/docs_outputs.py says how)."""
    start = getattr(item, "start_line", None)
    path = getattr(item, "path", None)
    if start is None or path is None or path.suffix != ".md":
        return (yield)
    shown = expected_output(path, start - 1)  # start_line is the first line of code
    if shown is None:
        return (yield)
    buffer = io.StringIO()
    runner = item.runner  # pytest-markdown-docs runs it with pytest's capture suspended,
    item.runner = _Capturing(runner, buffer)  # so capture inside the runner
    try:
        result = yield
    finally:
        item.runner = runner
    problem = compare(shown, buffer.getvalue())
    if problem:
        raise AssertionError(f"{path.name}, the output shown under the block at line {start}: "
                             f"{problem}")
    return result
