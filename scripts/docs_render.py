"""Markdown transforms the site applies to every chapter before rendering
(called from scripts/mkdocs_hooks.py, on_page_markdown). None of them edits a
file in docs/: pytest still tests the chapters as written.

* ``substitute()``: a few build facts (``{{ rnn.version }}``, ``{{ rnn.site_url }}``,
  ...), e.g. for the "Cite this" block of the home page.
* ``annotate_code_blocks()``: before every code block that continues earlier
  ones (``{.python continuation}``), one line that says which block it needs
  and links to it, so that a reader who copies a single block knows what to
  run first (docs_source.code_blocks() works out the chains).
* ``link_api_names()``: inline code that names the package's API
  (`` `rnn.rnn_backward` ``, `` `loss_and_grads` ``, `` `rnn.model` ``) becomes
  a cross-reference to its entry in the API reference, resolved by
  mkdocs-autorefs (so a broken one fails ``mkdocs build --strict``).
* ``link_api_html()``: the same on rendered HTML, for what is not Markdown
  the site reads: the Sphinx roles of the docstrings (``:func:`rnn_forward```)
  on the API pages, and inline code in the notebook pages' Markdown cells.
"""

from __future__ import annotations

import re

from docs_source import RE_HEADING, code_blocks, scan_fences

# --------------------------------------------------------------------------
# build facts
# --------------------------------------------------------------------------

RE_VARIABLE = re.compile(r"\{\{\s*rnn\.(\w+)\s*\}\}")


def substitute(markdown: str, values: dict[str, str]) -> str:
    """Replace ``{{ rnn.NAME }}`` by ``values[NAME]``; an unknown NAME is an error."""

    def repl(m):
        name = m.group(1)
        if name not in values:
            raise KeyError(f"unknown build variable {{{{ rnn.{name} }}}}; known: {sorted(values)}")
        return str(values[name])

    return RE_VARIABLE.sub(repl, markdown)


# --------------------------------------------------------------------------
# "Needs the code from ... on"
# --------------------------------------------------------------------------

CODE_ID = "code-{}"  # the id of a page's n-th Python block, when something links to it
NEEDS_CLASS = "rnn-needs"
ANCHOR_CLASS = "rnn-anchor"


def _anchor(pad: str, anchor: str) -> list[str]:
    """An empty, zero-height paragraph carrying the id (attr_list), so that
    MkDocs' anchor validation sees it (it reads Markdown elements, not the
    HTML of a code block), at any indentation."""
    return ["", f"{pad}&#8203;", f"{pad}{{: #{anchor} .{ANCHOR_CLASS} }}", ""]


def annotate_code_blocks(markdown: str) -> str:
    """Put a one-line "needs" note before every continuation block, and an id
    on each block such a note links to."""
    lines = markdown.split("\n")
    blocks = code_blocks(lines)
    targets = {b.needs[0].number for b in blocks if b.needs}
    notes: dict[int, list[str]] = {}
    for b in blocks:
        if not b.needs:
            continue
        first = b.needs[0]
        where = f"“{first.section}”" if first.section else "the top of the page"
        pad = " " * b.fence.indent
        notes[b.fence.start] = [
            "",
            f"{pad}Needs the code above, from [the block in {where}](#{CODE_ID.format(first.number)}) on.",
            f"{pad}{{: .{NEEDS_CLASS} }}",
            "",
        ]
    for b in blocks:
        if b.number in targets:
            notes[b.fence.start] = _anchor(" " * b.fence.indent, CODE_ID.format(b.number)) + notes.get(
                b.fence.start, []
            )
    out = []
    for k, line in enumerate(lines):
        out += notes.get(k, [])
        out.append(line)
    return "\n".join(out)


# --------------------------------------------------------------------------
# inline code -> API reference
# --------------------------------------------------------------------------

# `name`, `rnn.x.y`, `name()`: a single-backtick code span holding a dotted name
RE_CODE_NAME = re.compile(r"(?<![`\w])`(?P<name>[A-Za-z_][\w.]*)(?P<call>\(\))?`(?!`)")


def _inside_link_text(line: str, pos: int) -> bool:
    """Is ``pos`` inside the [...] of a link (or after an unclosed '[')?"""
    # brackets inside code spans and math ($[0, K)$) do not count
    plain = re.sub(r"`[^`]*`|\$[^$]*\$", lambda m: " " * len(m.group(0)), line[:pos])
    depth = 0
    for ch in plain:
        if ch == "[":
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
    return depth > 0


def link_api_names(markdown: str, resolve) -> str:
    """Turn `` `name` `` into ``[`name`][identifier]`` where ``resolve(name)``
    gives an identifier (else None). Only the first mention of a name in each
    section (## heading) is linked; code blocks, headings, include lines and
    text already inside a link are left alone."""
    lines = markdown.split("\n")
    in_fence = {k for f in scan_fences(lines) for k in range(f.start, f.end + 1)}
    seen: set[str] = set()
    out = []
    for k, line in enumerate(lines):
        heading = RE_HEADING.match(line)
        if heading and k not in in_fence:
            if len(heading.group("hashes")) <= 2:
                seen = set()
            out.append(line)
            continue
        if k in in_fence or "--8<--" in line or "`" not in line:
            out.append(line)
            continue

        def repl(m, line=line):
            name = m.group("name")
            ident = resolve(name)
            if ident is None or name in seen or _inside_link_text(line, m.start()):
                return m.group(0)
            after = line[m.end() : m.end() + 1]
            if after in ("]", "(", "["):  # part of [text](url) or [text][ref] already
                return m.group(0)
            seen.add(name)
            return f"[{m.group(0)}][{ident}]"

        out.append(RE_CODE_NAME.sub(repl, line))
    return "\n".join(out)


# --------------------------------------------------------------------------
# rendered HTML -> API reference (docstrings, notebook pages)
# --------------------------------------------------------------------------

# Left alone: code blocks, existing links, headings, scripts and styles.
RE_PROTECTED = re.compile(
    r"(<pre\b.*?</pre>|<a\b.*?</a>|<autoref\b.*?</autoref>|<h[1-6]\b.*?</h[1-6]>"
    r"|<script\b.*?</script>|<style\b.*?</style>)",
    re.S,
)
RE_ROLE = re.compile(r":(?:mod|func|class|data|meth|attr|exc|obj):<code>~?(?P<name>[\w.]+?)(?P<call>\(\))?</code>")
RE_HTML_CODE = re.compile(r"<code>(?P<name>[A-Za-z_][\w.]*)(?P<call>\(\))?</code>")


def link_api_html(html: str, resolve, *, plain_code: bool = False) -> str:
    """Turn Sphinx roles (``:func:<code>x</code>``, as Markdown renders a
    docstring's ``:func:`x```) into cross-references, or into plain code when
    ``resolve(name)`` finds nothing; with ``plain_code``, also link the first
    ``<code>name</code>`` of each resolvable name. Links become
    ``<autoref identifier=...>`` elements, which mkdocs-autorefs resolves."""
    seen: set[str] = set()

    def autoref(ident, title):
        return f'<autoref identifier="{ident}">{title}</autoref>'

    def role(m):
        name = m.group("name")
        title = f"<code>{name}{m.group('call') or ''}</code>"
        ident = resolve(name)
        return autoref(ident, title) if ident else title

    def code(m):
        name = m.group("name")
        ident = resolve(name)
        if ident is None or name in seen:
            return m.group(0)
        seen.add(name)
        return autoref(ident, m.group(0))

    parts = RE_PROTECTED.split(html)
    for i in range(0, len(parts), 2):
        parts[i] = RE_ROLE.sub(role, parts[i])
        if plain_code:
            parts[i] = RE_HTML_CODE.sub(code, parts[i])
    return "".join(parts)
