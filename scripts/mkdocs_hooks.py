"""MkDocs hooks for the rnn site (registered under ``hooks:`` in mkdocs.yml).

Everything here works for every page and module, including those added
later, without an edit to this file:

* Offline math: MathJax 3, from the ``django-static-mathjax`` package (it has
  no dependencies and ships MathJax 3.2.2's ``es5/`` build), is copied into
  ``<site>/assets/mathjax/`` after the build, never fetched from a CDN.
* Where the site lives: ``site_url``/``repo_url`` come from the environment
  (the Pages workflow sets them from the repository it runs in); without
  ``REPO_URL``, a github.com ``origin`` remote gives the repository link.
* The API reference: one generated page per module of src/rnn
  (scripts/docs_api.py), appended to the nav; inline code naming an API
  object in a chapter or a notebook page, and the Sphinx roles of the
  docstrings, link to its entry (scripts/docs_render.py).
* Notebooks: every chapter with Python code can be downloaded as a ``.ipynb``
  made from its Markdown, and every executed notebook page as a ``.ipynb``
  made from its jupytext source (scripts/docs_notebooks.py); the theme
  (overrides/main.html) shows the download button from ``page.meta.notebook``.
* "Needs the code from ... on" above every continuation block.
* Executed notebooks: run with the settings in scripts/notebook_env/
  (matplotlib defaults sized for the page, an encrypted kernel connection,
  progress lines), and cached by mkdocs-jupyter under a folder named after a
  hash of src/ and those settings, so a change to the package re-runs them.
* Search previews without TeX source or notebook noise (scripts/docs_search.py).
* The interactive pages' data: two character models trained and exported,
  what their units track, the BPTT figures' numbers (scripts/docs_live.py,
  cached in .cache/live/ under a hash of src/ and the settings), published
  under interactive/data/; their facts fill the pages' {{ rnn.live_* }}.
"""

from __future__ import annotations

import datetime
import filecmp
import hashlib
import logging
import os
import posixpath
import re
import shutil
import subprocess
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

import docs_api
import docs_live
import docs_notebooks
import docs_render
import docs_search
from docs_source import ROOT, code_blocks

log = logging.getLogger("mkdocs.plugins.rnn")

# --------------------------------------------------------------------------
# MathJax
# --------------------------------------------------------------------------

# Paths relative to MathJax's es5/ directory.
MATHJAX_FILES = ["tex-chtml.js", "input/mml.js"]
MATHJAX_DIRS = [
    "output/chtml/fonts/woff-v2",  # the fonts CommonHTML loads through CSS
    "input/tex/extensions",  # TeX packages loaded on demand (\boldsymbol, \cancel, ...)
    "input/mml",  # the rest: what the right-click menu loads for accessibility
    "ui",
    "a11y",
    "sre",
]
TARGET = Path("assets") / "mathjax"

_INSTALL_HINT = (
    "MathJax 3 is needed to build the site offline, and it comes from the "
    "'django-static-mathjax' package. Install it with\n"
    "    pip install django-static-mathjax\n"
    "or install the docs extra:  pip install -e '.[docs]'"
)


def mathjax_es5_dir() -> Path:
    """Return the es5/ directory of the installed MathJax 3, or raise PluginError."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        version("django-static-mathjax")
    except PackageNotFoundError:
        raise PluginError("django-static-mathjax is not installed. " + _INSTALL_HINT) from None

    import importlib.util

    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise PluginError("Cannot import the 'mathjax' package. " + _INSTALL_HINT)
    for location in spec.submodule_search_locations:
        es5 = Path(location) / "static" / "mathjax" / "es5"
        if (es5 / "tex-chtml.js").is_file():
            return es5
    raise PluginError(
        "The installed 'mathjax' package has no static/mathjax/es5/tex-chtml.js. " + _INSTALL_HINT
    )


def _copy_file(src: Path, dst: Path) -> None:
    if dst.exists() and filecmp.cmp(src, dst, shallow=True):
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)


def copy_mathjax(site_dir: str) -> None:
    es5 = mathjax_es5_dir()
    target = Path(site_dir) / TARGET
    for name in MATHJAX_FILES:
        _copy_file(es5 / name, target / name)
    for name in MATHJAX_DIRS:
        for src in (es5 / name).rglob("*"):
            if src.is_file():
                _copy_file(src, target / src.relative_to(es5))
    licence = es5.parent / "LICENSE"
    if licence.is_file():
        _copy_file(licence, target / "LICENSE")


# --------------------------------------------------------------------------
# configuration: repository, notebook environment, cache, API nav
# --------------------------------------------------------------------------

NOTEBOOK_ENV = ROOT / "scripts" / "notebook_env"
RE_GITHUB = re.compile(r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)([\w.-]+/[\w.-]+?)(?:\.git)?/?$")


def github_repository() -> str | None:
    """'owner/name' from the origin remote of this clone, if it is on github.com."""
    try:
        url = subprocess.run(
            ["git", "-C", str(ROOT), "remote", "get-url", "origin"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    m = RE_GITHUB.match(url)
    return m.group(1) if m else None


def source_hash(root: Path = ROOT) -> str:
    """Hash of what an executed notebook's output depends on besides the
    notebook itself: the package source and the notebook environment."""
    h = hashlib.sha256()
    # the package's modules (not the egg-info pip rewrites on every install)
    # and every file of the notebook environment
    paths = sorted((root / "src").rglob("*.py")) + sorted((root / NOTEBOOK_ENV.relative_to(ROOT)).rglob("*"))
    for path in paths:
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _key_notebook_cache(config, root: Path = ROOT) -> None:
    """Point mkdocs-jupyter's cache at a folder named after source_hash(),
    and delete the folders of other hashes (stale results)."""
    plugin = config.plugins.get("mkdocs-jupyter")
    if plugin is None or not plugin.config.get("cache", True):
        return
    base = Path(plugin.config["cache_dir"])
    if base.name.startswith("src-"):  # already keyed (mkdocs serve reloads the config)
        base = base.parent
    keyed = base / f"src-{source_hash(root)}"
    if base.is_dir():  # results computed with another package source are stale
        for old in base.iterdir():
            if old != keyed and (old.name.startswith("src-") or old.suffix == ".json"):
                shutil.rmtree(old) if old.is_dir() else old.unlink()
    plugin.config["cache_dir"] = str(keyed)


api_names = docs_api.ApiNames()
live: docs_live.LiveData | None = None  # set by on_config


def on_config(config, **kwargs):
    # Fail early, before a long (notebook-executing) build, if MathJax is missing.
    mathjax_es5_dir()
    if not config.repo_url:
        repo = github_repository()
        if repo:
            config.repo_url = f"https://github.com/{repo}"
            config.repo_name = repo
    # Every notebook the build executes: matplotlib defaults, nbconvert settings.
    os.environ["MATPLOTLIBRC"] = str(NOTEBOOK_ENV / "matplotlibrc")
    paths = [str(NOTEBOOK_ENV)] + [p for p in os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join(dict.fromkeys(paths))
    _key_notebook_cache(config)
    global live
    try:
        live = docs_live.ensure()
    except docs_live.LiveDataError as exc:
        raise PluginError(str(exc)) from None
    if config.nav is not None and not any(
        isinstance(e, dict) and docs_api.NAV_TITLE in e for e in config.nav
    ):
        config.nav.append(docs_api.nav_entry())
    return config


# --------------------------------------------------------------------------
# pages
# --------------------------------------------------------------------------


def on_files(files, config, **kwargs):
    for path, content in docs_api.pages(api_names).items():
        files.append(File.generated(config, path, content=content))
    for path, content in live.files.items():
        files.append(File.generated(config, path, content=content))
    return files


def _is_notebook_page(page) -> bool:
    return not page.file.src_uri.endswith(".md")


def _notebook_name(src_uri: str) -> str:
    p = Path(src_uri)
    if p.stem == "index":
        return (p.parent.name or "introduction") + ".ipynb"
    return p.stem + ".ipynb"


def _link_resolver(page, config, files):
    """A relative link as written in a page -> absolute URL on the published site."""
    from urllib.parse import urljoin

    site_url = config.site_url or "/"
    page_url = urljoin(site_url, page.url)

    def resolve(target: str) -> str | None:
        path, _, fragment = target.partition("#")
        src = posixpath.normpath(posixpath.join(posixpath.dirname(page.file.src_uri), path))
        file = files.get_file_from_path(src)
        url = urljoin(site_url, file.url) if file is not None else urljoin(page_url, path)
        return url + (f"#{fragment}" if fragment else "")

    return resolve


def _build_values(config) -> dict[str, str]:
    import rnn

    return {
        "version": rnn.__version__,
        "site_url": config.site_url or "",
        "repo_url": config.repo_url or config.site_url or "",
        "year": str(datetime.date.today().year),
        **live.values(),
    }


def on_page_markdown(markdown, page, config, files, **kwargs):
    from urllib.parse import urljoin

    if _is_notebook_page(page):  # mkdocs-jupyter renders these itself
        nb = docs_notebooks.jupytext_notebook(
            Path(page.file.abs_src_path),
            title=page.title or page.file.name,
            page_url=urljoin(config.site_url or "/", page.url),
            repo_url=config.repo_url,
            resolve_link=_link_resolver(page, config, files),
        )
        page.meta["notebook"] = _notebook_name(page.file.src_uri)
        page.notebook_json = docs_notebooks.dumps(nb)
        return markdown
    markdown = docs_render.substitute(markdown, _build_values(config))
    if page.file.src_uri.startswith(docs_api.REFERENCE_DIR + "/"):
        return markdown
    if code_blocks(markdown.split("\n")):
        title = next((ln[2:].strip() for ln in markdown.split("\n") if ln.startswith("# ")), page.title)
        nb = docs_notebooks.chapter_notebook(
            markdown,
            title=title or page.file.name,
            page_url=urljoin(config.site_url or "/", page.url),
            repo_url=config.repo_url,
            resolve_link=_link_resolver(page, config, files),
        )
        page.meta["notebook"] = _notebook_name(page.file.src_uri)
        page.notebook_json = docs_notebooks.dumps(nb)
    markdown = docs_render.annotate_code_blocks(markdown)
    return docs_render.link_api_names(markdown, api_names.resolve)


_started: dict[str, float] = {}


def on_pre_page(page, config, files, **kwargs):
    if _is_notebook_page(page):
        import time

        _started[page.file.src_uri] = time.perf_counter()
    return page


def on_page_content(html, page, config, files, **kwargs):
    import time

    start = _started.pop(page.file.src_uri, None)
    if start is not None:
        log.info("Notebook page %s ready in %.1f s", page.file.src_uri, time.perf_counter() - start)
    module = docs_api.module_of_page(page.file.src_uri)
    if module is not None:  # an API page: the docstrings' Sphinx roles become links
        html = docs_render.link_api_html(html, lambda name: api_names.resolve_in(name, module))
    if _is_notebook_page(page):
        html = docs_render.link_api_html(html, api_names.resolve, plain_code=True)
        # Code cells, code in Markdown cells and text outputs scroll sideways:
        # make them reachable from the keyboard (Material does this for its own
        # code blocks, not for the notebook's).
        html = html.replace('<div class="highlight-ipynb', '<div tabindex="0" class="highlight-ipynb')
        html = re.sub(r'(<div class="highlight">|data-mime-type="text/plain">)(\s*)<pre>', r'\1\2<pre tabindex="0">', html)
    return html


# Material's search box is a dialog without a name (axe: aria-dialog-name).
SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog">'


def on_post_page(output, page, config, **kwargs):
    content = getattr(page, "notebook_json", None)
    if content is not None:
        target = Path(page.file.abs_dest_path).parent / page.meta["notebook"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, "utf8")
    return output.replace(SEARCH_DIALOG, SEARCH_DIALOG[:-1] + ' aria-label="Search">')


@event_priority(-100)  # after the search plugin has written its index
def on_post_build(config, **kwargs):
    copy_mathjax(config["site_dir"])
    docs_search.clean_index(config["site_dir"])


def on_post_template(output_content, template_name, config, **kwargs):
    # 404.html and other static templates
    return output_content.replace(SEARCH_DIALOG, SEARCH_DIALOG[:-1] + ' aria-label="Search">')
