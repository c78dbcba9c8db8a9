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

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent

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


def load_mkdocs_yml() -> dict:
    """mkdocs.yml as a dict: !ENV [VAR, default] is resolved, other tags
    (e.g. !!python/name:...) become None."""
    import yaml

    class PermissiveLoader(yaml.SafeLoader):
        pass

    def _env(loader, node):
        if isinstance(node, yaml.ScalarNode):
            names, default = [loader.construct_scalar(node)], None
        else:
            values = loader.construct_sequence(node)
            names, default = values[:-1] or values, values[-1] if len(values) > 1 else None
        for name in names:
            if name in os.environ:
                return os.environ[name]
        return default

    PermissiveLoader.add_constructor("!ENV", _env)
    PermissiveLoader.add_multi_constructor("", lambda loader, suffix, node: None)
    return yaml.load((ROOT / "mkdocs.yml").read_text("utf8"), Loader=PermissiveLoader)


@pytest.fixture(scope="session")
def mkdocs_config() -> dict:
    return load_mkdocs_yml()


@lru_cache(maxsize=None)
def snippets_config() -> dict:
    """The pymdownx.snippets options from mkdocs.yml, base paths made absolute.

    MkDocs resolves a relative base_path against the working directory, which is
    the repository root for `mkdocs build`/`serve` (scripts/dev.sh cds there);
    here it is resolved against the directory of mkdocs.yml so pytest may be run
    from anywhere.
    """
    config = load_mkdocs_yml()
    options = None
    for ext in config.get("markdown_extensions") or []:
        if ext == "pymdownx.snippets":
            options = {}
        elif isinstance(ext, dict) and "pymdownx.snippets" in ext:
            options = dict(ext["pymdownx.snippets"] or {})
    if options is None:
        return {}
    base = options.get("base_path", ["."])
    if isinstance(base, str):
        base = [base]
    options["base_path"] = [str((ROOT / b).resolve()) for b in base]
    return options


def _snippet_preprocessor():
    """A fresh pymdownx.snippets preprocessor configured like mkdocs.yml."""
    import markdown

    options = snippets_config()
    md = markdown.Markdown(
        extensions=["pymdownx.snippets"],
        extension_configs={"pymdownx.snippets": options},
    )
    return md.preprocessors["snippet"]


@dataclass
class _Fence:
    start: int  # 0-based index of the opening fence line
    end: int  # 0-based index of the closing fence line
    info: str  # what follows the backticks, e.g. "python" or "{.python notest}"
    lines: list[str]  # content, with the fence's indentation removed


def scan_fences(lines: list[str]) -> list[_Fence]:
    """Find fenced code blocks the way pymdownx.superfences does.

    A fence may be indented by any number of spaces (inside an admonition, a
    tab, a list item); its content lines must be indented at least as much as
    the opening line, and the closing line must use the same fence characters
    at the same indentation. Blockquoted fences are not supported.
    """
    from pymdownx.superfences import NESTED_FENCE_END, RE_NESTED_FENCE_START

    fences = []
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r").expandtabs(4)
        indent = len(line) - len(line.lstrip(" "))
        m = RE_NESTED_FENCE_START.match(line, indent)
        if m is None:
            i += 1
            continue
        fence = m.group("fence")
        end_re = re.compile(NESTED_FENCE_END % re.escape(fence))
        body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            text = lines[j].rstrip("\r").expandtabs(4)
            if not text.strip():
                body.append("")
            elif len(text) - len(text.lstrip(" ")) < indent:
                break  # not indented enough: superfences abandons the fence
            else:
                content = text[indent:]
                if end_re.match(content):
                    closed = True
                    break
                body.append(content)
            j += 1
        if closed:
            fences.append(_Fence(i, j, m.group(0)[len(fence) :].strip(), body))
            i = j + 1
        else:
            i += 1
    return fences


def _has_snippet_line(lines) -> bool:
    from pymdownx.snippets import SnippetPreprocessor

    return any("8<-" in ln and SnippetPreprocessor.RE_ALL_SNIPPETS.match(ln) for ln in lines)


class SnippetsSuperfencesParser:
    """Stands in for markdown_it.MarkdownIt: pytest-markdown-docs only calls
    ``parse(text)`` and reads ``type``, ``map``, ``info`` and ``content`` of the
    returned tokens.

    Includes inside a fence (the usual case) are expanded per fence, so the
    reported line numbers stay those of the .md file. An include outside any
    fence (e.g. a figure, or a Markdown fragment that itself holds fences) is
    expanded first, as MkDocs does, with a map back to the .md lines, so
    fences after it still report their own line numbers.
    """

    def parse(self, text: str):
        from markdown_it.token import Token

        lines = text.split("\n")
        fences = scan_fences(lines)
        origin = list(range(len(lines)))  # line of the .md file each line comes from
        inside = {k for f in fences for k in range(f.start, f.end + 1)}
        outside = [ln for k, ln in enumerate(lines) if k not in inside]
        if _has_snippet_line(outside):
            if any(ln.strip() == "--8<--" for ln in outside):
                # block-style includes span lines: expand the page as a whole
                # (line numbers after them are those of the expanded text)
                lines = _snippet_preprocessor().run(lines)
                origin = list(range(len(lines)))
            else:
                # expand each single-line include on its own and remember where
                # every resulting line came from, so reports name .md lines
                expanded, origin = [], []
                for k, ln in enumerate(lines):
                    new = [ln]
                    if k not in inside and _has_snippet_line([ln]):
                        new = _snippet_preprocessor().run([ln])
                    expanded += new
                    origin += [k] * len(new)
                lines = expanded
            fences = scan_fences(lines)
        tokens = []
        for f in fences:
            body = f.lines
            if _has_snippet_line(body):
                body = _snippet_preprocessor().run(list(body))
            content = "".join(ln + "\n" for ln in body)
            tokens.append(
                Token(
                    type="fence",
                    tag="code",
                    nesting=0,
                    map=[origin[f.start], origin[f.end] + 1],
                    info=f.info,
                    content=content,
                    markup="```",
                    block=True,
                )
            )
        return tokens


@pytest.hookimpl(tryfirst=True)
def pytest_markdown_docs_markdown_it():
    return SnippetsSuperfencesParser()


# Remember every collected item before -k / -m deselection, for
# tests/test_docs_collected.py.
ALL_COLLECTED_NODEIDS = pytest.StashKey[list]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    config.stash[ALL_COLLECTED_NODEIDS] = [item.nodeid for item in items]


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
