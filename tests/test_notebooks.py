"""Every notebook the site offers for download runs.

The chapters' notebooks are generated at build time from their Markdown
(scripts/docs_notebooks.py), so each is executed here, in a fresh kernel,
top to bottom: a chapter whose blocks only work as separate tests, or whose
generated notebook is broken, fails. The executed notebook pages' downloads
are their jupytext sources, which the build itself has just executed; here
their code is checked to be exactly that source, which names no file of
the repository (it must run wherever a reader saves it).
"""

from __future__ import annotations

import re
import time


from site_helpers import ROOT, nav_sources, source_to_url

CELL_TIMEOUT = 300  # seconds; the chapters' blocks take well under a second each


def _downloads(build, mkdocs_config):
    """(source, notebook path) for every page that offers a notebook."""
    import re

    out = []
    for src in nav_sources(mkdocs_config["nav"]):
        page = build.site / source_to_url(src) / "index.html"
        m = re.search(r'<a href="([^"]+\.ipynb)" download', page.read_text("utf8"))
        if m:
            out.append((src, page.parent / m.group(1)))
    return out


def test_chapter_notebooks_run(build, mkdocs_config, tmp_path, terminal_summary):
    import nbformat
    from nbclient import NotebookClient
    from traitlets.config import Config

    assert build.returncode == 0, "site did not build"
    chapters = [(src, path) for src, path in _downloads(build, mkdocs_config) if src.endswith(".md")]
    assert len(chapters) >= 10
    config = Config()
    config.KernelManager.transport_encryption = "auto"  # as the build's kernels (scripts/notebook_env)
    failures, n_cells = [], 0
    start = time.perf_counter()
    for src, path in chapters:
        nb = nbformat.read(path, as_version=4)
        workdir = tmp_path / path.stem
        workdir.mkdir()
        client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", config=config,
                                resources={"metadata": {"path": str(workdir)}})
        try:
            client.execute()
        except Exception as exc:  # noqa: BLE001 - report every notebook, not just the first
            failures.append(f"{path.name} (from docs/{src}): {str(exc)[-1500:]}")
        n_cells += sum(c.cell_type == "code" for c in nb.cells)
    seconds = time.perf_counter() - start
    line = f"notebooks: {len(chapters)} chapter notebooks ({n_cells} code cells) executed in {seconds:.0f} s"
    print(line)
    terminal_summary.append(line)
    assert not failures, "\n\n".join(failures)


def test_notebook_pages_download_their_source(build, mkdocs_config):
    import jupytext
    import nbformat

    assert build.returncode == 0, "site did not build"
    pages = [(src, path) for src, path in _downloads(build, mkdocs_config) if not src.endswith(".md")]
    sources = [s for s in nav_sources(mkdocs_config["nav"]) if not s.endswith(".md")]
    assert len(pages) == len(sources), f"notebook pages without a download: {sources}"
    for src, path in pages:
        nb = nbformat.read(path, as_version=4)
        original = jupytext.read(ROOT / "docs" / src)
        assert [c.source for c in nb.cells if c.cell_type == "code"] == [
            c.source for c in original.cells if c.cell_type == "code"], f"{path.name} differs from docs/{src}"
        assert path.suffix == ".ipynb" and not (path.parent / (path.stem + ".py")).exists()


def test_notebook_sources_need_no_file_of_the_repository():
    """A downloaded notebook runs wherever the reader saves it: no string in
    its code names a file of the repository (the build runs the notebooks
    from the repository root, so such a path would work there and nowhere
    else; a plot style is the build's business, scripts/notebook_env)."""
    import io
    import tokenize

    import jupytext

    problems = []
    for path in sorted((ROOT / "docs").rglob("*.py")):
        for cell in jupytext.read(path).cells:
            if cell.cell_type != "code":
                continue
            for tok in tokenize.generate_tokens(io.StringIO(cell.source + "\n").readline):
                if tok.type == tokenize.STRING and re.search(
                        r"(docs|scripts|src|tests)/|\.mplstyle|matplotlibrc", tok.string):
                    problems.append(f"{path.relative_to(ROOT)}: {tok.string} (line {tok.start[0]} of a cell)")
    assert not problems, "\n".join(problems)
