"""Reading the chapters' Markdown the way the site renders it.

Shared by the MkDocs hooks (scripts/mkdocs_hooks.py: generated notebooks,
"runs after" notes, API links) and the tests (conftest.py: doc snippets;
tests/test_tabs.py: NumPy beside PyTorch), so that the site, the notebooks and
the tests agree on what a page's code is:

* ``mkdocs_config()`` reads mkdocs.yml (``!ENV`` resolved, other tags ignored);
* ``expand_includes()`` runs ``pymdownx.snippets`` with mkdocs.yml's settings
  (``--8<-- "src/rnn/rnn_cell.py:forward"``);
* ``scan_fences()`` finds fenced code blocks as ``pymdownx.superfences`` does,
  at any indentation (inside admonitions, tabs and list items);
  ``SnippetsSuperfencesParser`` hands them, includes expanded, to
  pytest-markdown-docs (conftest.py);
* ``code_blocks()`` lists a page's Python blocks with what each one needs:
  pytest-markdown-docs runs a ``{.python continuation}`` block after all
  earlier blocks of its chain, back to the last block that is not a
  continuation; the blocks in the tabs of one content-tab group
  (``=== "NumPy"`` / ``=== "PyTorch"``) are alternatives, so a tab needs the
  chain before the group, not its sibling tabs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY_LANGS = {"python", "py", "python3"}
RE_IMPORTS_TORCH = re.compile(r"^\s*(import torch|from torch\b)", re.M)


def imports_torch(code: str) -> bool:
    """Does this code import PyTorch (a "PyTorch" tab, the NumPy-to-PyTorch page)?"""
    return RE_IMPORTS_TORCH.search(code) is not None


# --------------------------------------------------------------------------
# mkdocs.yml and includes
# --------------------------------------------------------------------------


def load_mkdocs_yml(path: Path = ROOT / "mkdocs.yml") -> dict:
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
    return yaml.load(path.read_text("utf8"), Loader=PermissiveLoader)


@lru_cache(maxsize=None)
def snippets_config() -> dict:
    """The pymdownx.snippets options from mkdocs.yml, base paths made absolute.

    MkDocs resolves a relative base_path against the working directory, which is
    the repository root for `mkdocs build`/`serve` (scripts/dev.sh cds there);
    here it is resolved against the directory of mkdocs.yml so that tests and
    hooks work from anywhere.
    """
    options = None
    for ext in load_mkdocs_yml().get("markdown_extensions") or []:
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


def snippet_preprocessor():
    """A fresh pymdownx.snippets preprocessor configured like mkdocs.yml."""
    import markdown

    md = markdown.Markdown(
        extensions=["pymdownx.snippets"],
        extension_configs={"pymdownx.snippets": snippets_config()},
    )
    return md.preprocessors["snippet"]


def has_include(lines) -> bool:
    from pymdownx.snippets import SnippetPreprocessor

    return any("8<-" in ln and SnippetPreprocessor.RE_ALL_SNIPPETS.match(ln) for ln in lines)


def expand_includes(text: str) -> str:
    """The page with every ``--8<--`` include expanded, as MkDocs renders it."""
    lines = text.split("\n")
    if not has_include(lines):
        return text
    return "\n".join(snippet_preprocessor().run(lines))


# --------------------------------------------------------------------------
# fences
# --------------------------------------------------------------------------


@dataclass
class Fence:
    start: int  # 0-based index of the opening fence line
    end: int  # 0-based index of the closing fence line
    indent: int  # columns of indentation of the opening line
    info: str  # what follows the backticks, e.g. "python" or "{.python continuation}"
    lines: list[str]  # content, with the fence's indentation removed

    @property
    def lang(self) -> str | None:
        return parse_info(self.info)[0]

    @property
    def options(self) -> set[str]:
        return parse_info(self.info)[1]

    @property
    def is_python(self) -> bool:
        return self.lang in PY_LANGS

    @property
    def is_tested(self) -> bool:
        """Run by pytest-markdown-docs (a Python fence not marked notest)."""
        return self.is_python and "notest" not in self.options

    @property
    def is_continuation(self) -> bool:
        return "continuation" in self.options

    @property
    def code(self) -> str:
        return "".join(ln + "\n" for ln in self.lines)


def parse_info(info: str) -> tuple[str | None, set[str]]:
    """(language, options) of a fence's info string, in either syntax:
    ``python continuation`` or ``{.python continuation #id key="v"}``."""
    info = info.strip()
    if info.startswith("{"):
        words = info.strip("{}").split()
        lang = next((w[1:] for w in words if w.startswith(".")), None)
        options = {w for w in words if not w.startswith((".", "#")) and "=" not in w}
    else:
        words = info.split()
        lang, options = (words[0] if words else None), set(words[1:])
    return lang, options


def scan_fences(lines: list[str]) -> list[Fence]:
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
            fences.append(Fence(i, j, indent, m.group(0)[len(fence) :].strip(), body))
            i = j + 1
        else:
            i += 1
    return fences


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
        if has_include(outside):
            if any(ln.strip() == "--8<--" for ln in outside):
                # block-style includes span lines: expand the page as a whole
                # (line numbers after them are those of the expanded text)
                lines = snippet_preprocessor().run(lines)
                origin = list(range(len(lines)))
            else:
                # expand each single-line include on its own and remember where
                # every resulting line came from, so reports name .md lines
                expanded, origin = [], []
                for k, ln in enumerate(lines):
                    new = [ln]
                    if k not in inside and has_include([ln]):
                        new = snippet_preprocessor().run([ln])
                    expanded += new
                    origin += [k] * len(new)
                lines = expanded
            fences = scan_fences(lines)
        tokens = []
        for f in fences:
            body = f.lines
            if has_include(body):
                body = snippet_preprocessor().run(list(body))
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


# --------------------------------------------------------------------------
# content tabs and what each block needs
# --------------------------------------------------------------------------

RE_TAB = re.compile(r'^(?P<indent> *)===[+!]* +"(?P<title>[^"]*)"')
RE_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*#*\s*$")


@dataclass
class Tab:
    title: str
    header: int  # line of `=== "Title"`
    end: int  # last line of its body (inclusive)
    indent: int


def tab_groups(lines: list[str], fences: list[Fence] | None = None) -> list[list[Tab]]:
    """Groups of content tabs (pymdownx.tabbed): consecutive ``=== "Title"``
    blocks at one indentation. Lines inside fences are not tab headers."""
    fences = scan_fences(lines) if fences is None else fences
    in_fence = {k for f in fences for k in range(f.start, f.end + 1)}
    tabs: list[Tab] = []
    for k, line in enumerate(lines):
        m = RE_TAB.match(line)
        if m is None or k in in_fence:
            continue
        indent = len(m.group("indent"))
        end = k
        for j in range(k + 1, len(lines)):
            text = lines[j].expandtabs(4)
            if text.strip() and len(text) - len(text.lstrip(" ")) <= indent:
                break
            if text.strip():
                end = j
        tabs.append(Tab(m.group("title"), k, end, indent))
    groups: list[list[Tab]] = []
    for tab in tabs:
        prev = groups[-1][-1] if groups else None
        if (
            prev is not None
            and prev.indent == tab.indent
            and all(not lines[j].strip() for j in range(prev.end + 1, tab.header))
        ):
            groups[-1].append(tab)
        else:
            groups.append([tab])
    return groups


@dataclass
class CodeBlock:
    """A Python fence of a page and the blocks it needs to run."""

    number: int  # 1-based, among the page's Python fences
    fence: Fence
    section: str  # the heading above it ("" before the first heading)
    tab: Tab | None = None  # the content tab it sits in
    group: int | None = None  # index of its tab group on the page
    needs: list["CodeBlock"] = field(default_factory=list)  # earlier blocks, in order

    @property
    def source(self) -> str:
        """The code a reader must run: the blocks it needs, then itself."""
        return "".join(b.fence.code for b in self.needs) + self.fence.code


def code_blocks(lines: list[str]) -> list[CodeBlock]:
    """The page's Python fences with their chains (see the module docstring).

    ``lines`` should have its includes expanded (``expand_includes``) when the
    code, not only the structure, is wanted.
    """
    fences = scan_fences(lines)
    groups = tab_groups(lines, fences)
    headings = [
        (k, RE_HEADING.match(ln).group("title"))
        for k, ln in enumerate(lines)
        if RE_HEADING.match(ln) and not any(f.start <= k <= f.end for f in fences)
    ]
    blocks: list[CodeBlock] = []
    chain: list[CodeBlock] = []  # the tested blocks a continuation would need
    before_group: dict[int, list[CodeBlock]] = {}  # chain before each tab group
    for f in fences:
        if not f.is_python:
            continue
        section = next((t for k, t in reversed(headings) if k < f.start), "")
        block = CodeBlock(len(blocks) + 1, f, section)
        for g, group in enumerate(groups):
            for tab in group:
                if tab.header < f.start <= tab.end:
                    block.tab, block.group = tab, g
        blocks.append(block)
        if not f.is_tested:
            continue
        base = chain
        if block.group is not None and (not chain or chain[-1].tab is not block.tab):
            # the first block of a tab continues the chain before its group
            base = before_group.setdefault(block.group, list(chain))
        block.needs = list(base) if f.is_continuation else []
        chain = block.needs + [block]
    return blocks
