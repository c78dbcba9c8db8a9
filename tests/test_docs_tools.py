"""The site-building code in scripts/ (docs_source, docs_render,
docs_notebooks, docs_search, docs_api), on small hand-written pages with known
answers, and against pytest-markdown-docs' own reading of the real chapters.
The built site itself is checked in test_site.py and test_site_browser.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from docs_api import ApiNames, modules
from docs_notebooks import absolutize_links, chapter_notebook
from docs_render import annotate_code_blocks, link_api_html, link_api_names, substitute
from docs_search import clean_text, tex_to_text
from docs_source import code_blocks, expand_includes, parse_info, scan_fences

ROOT = Path(__file__).resolve().parents[1]

PAGE = textwrap.dedent('''\
    # A page

    ```python
    x = 1
    ```

    ## Second

    Text with `rnn_forward` and `rnn.rnn_backward`, [a link with `rnn_forward`](other.md).

    ```{.python continuation}
    y = x + 1
    ```

    !!! note "A note"

        Inside the note, see [the forward pass](forward.md#the-equations).

        ```{.python continuation}
        z = y + 1
        ```

    === "NumPy"

        ```{.python continuation}
        r = z * 2
        ```

    === "PyTorch"

        ```{.python continuation}
        r = z + z
        ```

    ```python
    w = 5
    ```

    ```{.python notest}
    open("missing")
    ```
''')


def test_fences_and_chains():
    lines = PAGE.split("\n")
    assert [f.info for f in scan_fences(lines)] == [
        "python", "{.python continuation}", "{.python continuation}", "{.python continuation}",
        "{.python continuation}", "python", "{.python notest}"]
    assert parse_info("{.python continuation #id key=\"v\"}") == ("python", {"continuation"})
    blocks = code_blocks(lines)
    needs = {b.number: [n.number for n in b.needs] for b in blocks}
    # the PyTorch tab needs the chain before its group, not the NumPy tab
    assert needs == {1: [], 2: [1], 3: [1, 2], 4: [1, 2, 3], 5: [1, 2, 3], 6: [], 7: []}
    assert [b.tab.title if b.tab else None for b in blocks] == [None, None, None, "NumPy", "PyTorch", None, None]
    assert blocks[4].source == "x = 1\ny = x + 1\nz = y + 1\nr = z + z\n"
    assert blocks[1].section == "Second" and blocks[0].section == "A page"


def test_chains_agree_with_pytest_markdown_docs():
    """For every chapter, what a block needs (docs_source) is what
    pytest-markdown-docs runs before it, outside tab groups."""
    from pytest_markdown_docs.plugin import FenceSyntax, extract_fence_tests

    from docs_source import SnippetsSuperfencesParser

    checked = 0
    for page in sorted((ROOT / "docs").rglob("*.md")):
        text = page.read_text("utf8")
        blocks = [b for b in code_blocks(expand_includes(text).split("\n")) if b.fence.is_tested]
        tests = list(extract_fence_tests(SnippetsSuperfencesParser(), text, 0, page,
                                         fence_syntax=FenceSyntax.superfences))
        assert len(tests) == len(blocks), page.name
        for block, test in zip(blocks, tests):
            if block.group is not None or any(n.group is not None for n in block.needs):
                continue  # pytest-markdown-docs chains through sibling tabs; see test_tabs.py
            assert test.source.strip("\n").split("\n") and [
                ln for ln in test.source.split("\n") if ln.strip()] == [
                ln for ln in block.source.split("\n") if ln.strip()], f"{page.name} block {block.number}"
            checked += 1
    assert checked > 100


def test_continuation_notes_link_to_the_first_block():
    out = annotate_code_blocks(PAGE)
    assert out.count("Needs the code above") == 4  # blocks 2, 3, 4 and 5
    assert "[the block in “A page”](#code-1)" in out
    assert "&#8203;\n{: #code-1 .rnn-anchor }" in out
    # inside the admonition the note is indented like the block
    assert "    Needs the code above, from [the block in “A page”](#code-1) on.\n    {: .rnn-needs }" in out
    # blocks that need nothing get no note; the source lines are unchanged
    assert [ln for ln in out.split("\n") if ln.strip() and "code-1" not in ln and "rnn-" not in ln
            and "Needs the code" not in ln and ln.strip() != "&#8203;"] == [ln for ln in PAGE.split("\n") if ln.strip()]


def test_api_names_are_linked_once_per_section_and_never_inside_links():
    resolve = {"rnn_forward": "rnn.rnn_cell.rnn_forward", "rnn.rnn_backward": "rnn.rnn_cell.rnn_backward"}.get
    text = "# T\n\n`rnn_forward` and `rnn_forward`\n\n## Two\n\n`rnn_forward`, [see `rnn_forward`](x.md), `other`\n"
    out = link_api_names(text, resolve)
    assert out.count("[`rnn_forward`][rnn.rnn_cell.rnn_forward]") == 2  # once per ## section
    assert "[see `rnn_forward`](x.md)" in out and "`other`" in out
    assert link_api_names("```python\n`rnn_forward`\n```\n", resolve) == "```python\n`rnn_forward`\n```\n"


def test_api_names_resolve_to_where_objects_are_defined():
    api = ApiNames()
    assert api.resolve("rnn.rnn_backward") == "rnn.rnn_cell.rnn_backward"
    assert api.resolve("loss_and_grads") == "rnn.model.loss_and_grads"
    assert api.resolve("rnn.model") == "rnn.model"
    assert api.resolve("Vocab.encode") == "rnn.data.Vocab.encode"
    assert api.resolve("sigmoid") == "rnn._gates.sigmoid"  # re-exported by rnn.lstm and rnn
    assert api.resolve("model") is None and api.resolve("h") is None  # words of prose stay text
    assert {m.name for m in modules()} >= {"rnn", "rnn.model", "rnn.torch_bridge", "rnn._gates"}


def test_substitute():
    assert substitute("v{{ rnn.version }} {{rnn.site_url}}", {"version": "1", "site_url": "u"}) == "v1 u"
    with pytest.raises(KeyError, match="rnn.nope"):
        substitute("{{ rnn.nope }}", {})


def test_chapter_notebook(tmp_path):
    import nbformat

    nb = chapter_notebook(PAGE, title="A page", page_url="https://site/a/", repo_url=None,
                          resolve_link=lambda t: "https://site/" + t)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.source for c in code] == ["x = 1", "y = x + 1", "z = y + 1", "r = z * 2", "r = z + z",
                                        "w = 5", 'open("missing")']
    assert code[3].metadata["tags"] == ["NumPy"] and code[4].metadata["tags"] == ["PyTorch"]
    assert code[6].metadata["tags"] == ["skip-execution"]
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert nb.cells[0].source == "# A page" and nb.cells[1].id == "about"
    assert "**A note**" in prose and "!!!" not in prose and '=== "' not in prose
    assert "\nInside the note, see [the forward pass](https://site/forward.md#the-equations)." in prose
    assert "torch" not in nb.cells[1].source  # the header names PyTorch only when a cell imports it
    assert "torch.nn" not in prose


def test_chapter_notebook_says_which_cells_need_torch():
    def header(page):
        nb = chapter_notebook(page, title="P", page_url="u", repo_url=None, resolve_link=lambda t: None)
        return nb.cells[1].source

    tabs = PAGE.replace("    r = z + z", "    import torch\n    r = z + z")
    assert "The cells tagged `PyTorch` also need PyTorch" in header(tabs)
    assert "It also needs PyTorch" in header(PAGE.replace("w = 5", "import torch\nw = 5"))


def test_chapter_notebook_expands_includes():
    page = '# P\n\n```python\n--8<-- "src/rnn/rnn_cell.py:step"\n```\n'
    nb = chapter_notebook(page, title="P", page_url="u", repo_url="https://github.com/o/r",
                          resolve_link=lambda t: None)
    assert "np.tanh(x_t @ U.T + h_prev @ W.T + b)" in nb.cells[-1].source
    assert "https://github.com/o/r" in nb.cells[1].source


def test_absolutize_links():
    text = "[a](b.md) ![i](img/x.svg) [c](https://e.org) [d](#here) [e](mailto:x@y)"
    out = absolutize_links(text, lambda t: "https://s/" + t)
    assert out == "[a](https://s/b.md) ![i](https://s/img/x.svg) [c](https://e.org) [d](#here) [e](mailto:x@y)"


def test_search_text():
    assert tex_to_text(r"\nabla_{\boldsymbol{W}} L") == "∇W L"
    assert tex_to_text(r"\hat{\boldsymbol{y}}^{(t)} - \boldsymbol{e}_{y^{(t)}}") == "ŷ⁽ᵗ⁾ - ey⁽ᵗ⁾"
    assert tex_to_text(r"\frac{\partial L}{\partial W_{ij}}") == "(∂ L)/(∂ Wij)"
    text = '<p>loss \\(L\\) and $\\tau &lt; 1$</p> In [3]: Copied! <pre>x = "$\\tau$"\n</pre> x = "$\\tau$"'
    assert clean_text(text) == '<p>loss L and τ &lt; 1</p> <pre>x = "$\\tau$"\n</pre>'


def test_strict_build_fails_on_a_broken_cross_reference(tmp_path):
    """The site's configuration, on a one-page site: a link to an API entry
    that does not exist fails `mkdocs build --strict`; the same page with a
    valid one builds."""
    docs = tmp_path / "docs"
    docs.mkdir()
    config = tmp_path / "mkdocs.yml"
    config.write_text(textwrap.dedent(f"""\
        INHERIT: {ROOT / "mkdocs.yml"}
        docs_dir: {docs}
        site_dir: {tmp_path / "site"}
        theme:
          custom_dir: {ROOT / "overrides"}
        hooks:
          - {ROOT / "scripts" / "mkdocs_hooks.py"}
        watch: []
        nav:
          - index.md
        """))
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")

    def build(target):
        (docs / "index.md").write_text(f"# Test\n\nSee [`rnn_backward`][{target}].\n")
        # cwd: the temporary folder, so mkdocs-jupyter's cache of the real site is not touched
        return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    good = build("rnn.rnn_cell.rnn_backward")
    assert good.returncode == 0, good.stdout + good.stderr
    bad = build("rnn.no_such_function")
    assert bad.returncode != 0
    assert "rnn.no_such_function" in bad.stdout + bad.stderr


def test_notebook_cache_is_keyed_on_the_package_source(tmp_path, monkeypatch):
    """A change to src/ gives executed notebooks a new cache folder (so the
    build runs them again) and removes the stale one."""
    import mkdocs_hooks

    module = tmp_path / "src" / "rnn" / "a.py"
    module.parent.mkdir(parents=True)
    module.write_text("x = 1\n")
    env = tmp_path / "scripts" / "notebook_env"
    env.mkdir(parents=True)
    (env / "matplotlibrc").write_text("font.size: 10\n")
    before = mkdocs_hooks.source_hash(tmp_path)
    assert mkdocs_hooks.source_hash(tmp_path) == before
    module.write_text("x = 2\n")
    after = mkdocs_hooks.source_hash(tmp_path)
    assert after != before

    monkeypatch.chdir(tmp_path)
    cache = Path(".cache/mkdocs-jupyter")
    (cache / f"src-{before}").mkdir(parents=True)
    (cache / "from-before-keying.json").write_text("{}")

    class Plugin:
        config = {"cache": True, "cache_dir": str(cache)}

    class Config:
        plugins = {"mkdocs-jupyter": Plugin()}

    mkdocs_hooks._key_notebook_cache(Config(), root=tmp_path)
    assert Plugin.config["cache_dir"] == str(cache / f"src-{after}")
    assert not (cache / f"src-{before}").exists() and not (cache / "from-before-keying.json").exists()


def test_api_links_in_rendered_html():
    resolve = {"CELLS": "rnn.model.CELLS", "rnn.train_step": "rnn.train.train_step"}.get
    html = ('<p>See :data:<code>CELLS</code> and :func:<code>np.load</code>.</p>'
            '<pre><code>rnn.train_step</code></pre><p><code>rnn.train_step</code> and '
            '<code>rnn.train_step</code>, <a href="x"><code>rnn.train_step</code></a></p>')
    out = link_api_html(html, resolve)
    assert '<autoref identifier="rnn.model.CELLS"><code>CELLS</code></autoref>' in out
    assert ":func:" not in out and "<code>np.load</code>" in out  # unknown: plain code
    assert out.count("<autoref") == 1  # plain code is linked only when asked
    out = link_api_html(html, resolve, plain_code=True)
    assert out.count('<autoref identifier="rnn.train.train_step">') == 1  # the first mention, outside pre and a
    assert '<pre><code>rnn.train_step</code></pre>' in out and '<a href="x"><code>rnn.train_step</code></a>' in out


def test_every_closing_fence_is_followed_by_a_blank_line():
    """Text right after a closing ``` joins no paragraph: Python-Markdown renders it bare
    (outside any <p>), so its links lose the underline of running text and axe reports
    them. Every closing fence in docs/ (found as superfences finds them) is followed by a
    blank line, another fence or a tab/admonition marker."""
    import re

    problems = []
    for path in sorted((ROOT / "docs").rglob("*.md")):
        lines = path.read_text(encoding="utf-8").split("\n")
        for fence in scan_fences(lines):
            after = lines[fence.end + 1] if fence.end + 1 < len(lines) else ""
            if after.strip() and not re.match(r"^\s*(`{3,}|===|\?\?\?|!!!)", after):
                problems.append(f"{path.relative_to(ROOT)}:{fence.end + 2}: {after.strip()[:60]!r}")
    assert not problems, "text right after a closing fence (add a blank line):\n" + "\n".join(problems)
