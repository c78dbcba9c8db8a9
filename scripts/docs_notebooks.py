"""Jupyter notebooks for download, made at build time.

* ``chapter_notebook()``: a chapter's Markdown as a notebook. Prose becomes
  Markdown cells, every Python block a code cell, with ``--8<--`` includes
  expanded exactly as the site renders them. Admonitions and content tabs
  (which Jupyter does not know) become a bold title line with their content
  un-indented; a tab's code cells are tagged with the tab's title. Relative
  links point to the published site. Blocks marked ``notest`` are tagged
  ``skip-execution``, which nbclient (and so CI) honours.
* ``jupytext_notebook()``: an executed notebook page (docs/notebooks/*.py in
  jupytext's percent format) as a plain ``.ipynb``.

Both add a first cell that says where the notebook comes from, what it needs
and its licence. Cell ids are deterministic, so a rebuild writes the same file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from docs_source import code_blocks, expand_includes, imports_torch

TORCH_CPU = "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
RE_CONTAINER = re.compile(
    r'^(?P<indent> *)(?P<kind>!!!|\?\?\?\+?|===[+!]*)\s*(?P<type>[\w-]+)?\s*(?:"(?P<title>[^"]*)")?\s*$'
)
RE_ATTR_LINE = re.compile(r"^\s*\{:?\s*[.#][^}]*\}\s*$")
RE_LINK = re.compile(r"(?P<pre>!?\[[^\]]*\]\()(?P<target>[^)\s]+)(?P<post>(?:\s+\"[^\"]*\")?\))")


def _nb(cells, metadata_extra=None):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        **(metadata_extra or {}),
    }
    return nb


def absolutize_links(markdown: str, resolve: Callable[[str], str | None]) -> str:
    """Rewrite ``[text](target)`` / ``![alt](target)`` whose target is
    relative (no scheme, not ``#...``) to ``resolve(target)`` when it gives one."""

    def repl(m):
        target = m.group("target")
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            return m.group(0)
        new = resolve(target)
        return m.group(0) if new is None else f"{m.group('pre')}{new}{m.group('post')}"

    return RE_LINK.sub(repl, markdown)


def header_cell(*, title: str, page_url: str, repo_url: str | None, torch_cells: list, kind: str):
    """The notebook's first cell after the title: where it comes from and what
    it needs (PyTorch only if ``torch_cells``, the code cells that import it)."""
    import nbformat

    repo = f"[the repository]({repo_url})" if repo_url else "the repository"
    torch = ""
    if torch_cells:
        in_tabs = all("PyTorch" in c.metadata.get("tags", []) for c in torch_cells)
        who = "The cells tagged `PyTorch` also need" if in_tabs else "It also needs"
        torch = f" {who} PyTorch (CPU build: `{TORCH_CPU}`)."
    text = (
        f"*This notebook is {kind} [{title}]({page_url}), a page of the site "
        f"*Recurrent networks and backpropagation through time, from scratch*. "
        f"It needs the `rnn` package (`pip install -e .` in a clone of {repo}) and NumPy."
        f"{torch} Run the cells in order: a cell may use what an earlier one defined. "
        f"Text CC BY 4.0, code MIT.*"
    )
    return nbformat.v4.new_markdown_cell(text, id="about")


def chapter_notebook(
    markdown: str,
    *,
    title: str,
    page_url: str,
    repo_url: str | None,
    resolve_link: Callable[[str], str | None],
):
    """The notebook of one chapter (see the module docstring)."""
    import nbformat

    lines = expand_includes(markdown).split("\n")
    blocks = {b.fence.start: b for b in code_blocks(lines)}
    cells = []
    prose: list[str] = []
    containers: list[int] = []  # body indentation of the open admonitions / tabs

    def flush():
        text = absolutize_links("\n".join(prose).strip("\n"), resolve_link)
        prose.clear()
        if text.strip():
            cells.append(nbformat.v4.new_markdown_cell(text, id=f"md-{len(cells)}"))

    k = 0
    while k < len(lines):
        line = lines[k].expandtabs(4)
        if line.strip():
            indent = len(line) - len(line.lstrip(" "))
            while containers and indent < containers[-1]:
                containers.pop()
        block = blocks.get(k)
        if block is not None:
            flush()
            tags = []
            if block.tab is not None:
                tags.append(block.tab.title)
            if not block.fence.is_tested:
                tags.append("skip-execution")
            cell = nbformat.v4.new_code_cell(block.fence.code.rstrip("\n"), id=f"code-{block.number}")
            if tags:
                cell.metadata["tags"] = tags
            cells.append(cell)
            k = block.fence.end + 1
            continue
        strip = containers[-1] if containers else 0
        text = line[strip:] if line[:strip].strip() == "" else line.lstrip(" ")
        m = RE_CONTAINER.match(text)
        if m:
            label = m.group("title") or (m.group("type") or "").replace("-", " ").capitalize()
            prose.append("")
            if label:
                prose.append(f"**{label}**")
            prose.append("")
            containers.append(strip + len(m.group("indent")) + 4)
        elif not RE_ATTR_LINE.match(text):
            prose.append(text if line.strip() else "")
        k += 1
    flush()
    torch_cells = [c for c in cells if c.cell_type == "code" and imports_torch(c.source)]
    about = header_cell(title=title, page_url=page_url, repo_url=repo_url, torch_cells=torch_cells,
                        kind="generated from the chapter")
    first = 1 if cells and cells[0].cell_type == "markdown" and cells[0].source.startswith("# ") else 0
    if first:  # keep the title first: split it off the first prose cell
        head, _, rest = cells[0].source.partition("\n")
        cells[0].source = head
        if rest.strip():
            cells.insert(1, nbformat.v4.new_markdown_cell(rest.strip("\n"), id="md-intro"))
    cells.insert(first, about)
    return _nb(cells)


def jupytext_notebook(path: Path, *, title: str, page_url: str, repo_url: str | None,
                      resolve_link: Callable[[str], str | None]):
    """An executed notebook page's source (jupytext percent format) as .ipynb."""
    import jupytext

    nb = jupytext.read(path)
    nb.metadata.pop("jupytext", None)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
        if cell.cell_type == "markdown":
            cell.source = absolutize_links(cell.source, resolve_link)
    torch_cells = [c for c in nb.cells if c.cell_type == "code" and imports_torch(c.source)]
    about = header_cell(title=title, page_url=page_url, repo_url=repo_url, torch_cells=torch_cells,
                        kind="the source of")
    first = 1 if nb.cells and nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ") else 0
    nb.cells.insert(first, about)
    return _nb(nb.cells, {k: v for k, v in nb.metadata.items() if k not in ("kernelspec", "language_info")})


def dumps(nb) -> str:
    import nbformat

    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"
