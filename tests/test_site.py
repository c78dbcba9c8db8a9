"""The documentation site: strict build, then every page in headless Chromium.

The browser test needs Debian's chromium at /usr/bin/chromium and the
playwright Python package (never `playwright install`: no browser download).
Missing either skips the test locally; under CI=true conftest.py turns that
skip into a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1"}


# --------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------


class _SubPathHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site below PREFIX only, as GitHub Pages does for a
    project site; anything else is a 404 (so root-absolute links fail)."""

    prefix = "/"

    def translate_path(self, path):
        if not path.startswith(self.prefix):
            return str(Path(self.directory) / "__outside_the_site_prefix__")
        return super().translate_path("/" + path[len(self.prefix) :])

    def log_message(self, *args):
        pass


@dataclass
class Server:
    url: str  # e.g. http://127.0.0.1:PORT/rnn/, used as site_url for the build
    site: Path


@pytest.fixture(scope="session")
def server(tmp_path_factory, mkdocs_config):
    """A local HTTP server for the site, started before the build so that the
    build's site_url can be the server's URL (Material's instant navigation
    intercepts only links under site_url). Same sub-path as the real site_url."""
    site = tmp_path_factory.mktemp("site")
    prefix = urlparse(mkdocs_config["site_url"]).path or "/"
    if not prefix.endswith("/"):
        prefix += "/"
    handler = type("Handler", (_SubPathHandler,), {"prefix": prefix})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(site))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}{prefix}", site)
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass
class Build:
    site: Path
    site_url: str
    returncode: int
    output: str
    seconds: float


@pytest.fixture(scope="session")
def build(server, terminal_summary) -> Build:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", SITE_URL=server.url)
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(server.site)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    line = f"mkdocs build --strict: {seconds:.1f} s (exit code {proc.returncode})"
    print(line)
    terminal_summary.append(line)
    return Build(server.site, server.url, proc.returncode, proc.stdout + proc.stderr, seconds)


def test_mkdocs_build_strict(build):
    warnings = [ln for ln in build.output.splitlines() if re.match(r"^(WARNING|ERROR)\b", ln)]
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.output}"
    assert not warnings, "mkdocs printed warnings:\n" + "\n".join(warnings)
    assert (build.site / "index.html").is_file()
    assert (build.site / "assets" / "mathjax" / "tex-chtml.js").is_file()


def _internal_links(html: str):
    """href/src values of a built page that point inside the site."""
    for m in re.finditer(r'\b(?:href|src)="([^"]+)"', html):
        url = m.group(1)
        if re.match(r"^([a-z]+:|//|#)", url):  # external, data:, mailto:, same-page anchor
            continue
        yield url.split("#")[0].split("?")[0]


def test_every_internal_link_resolves(build):
    """mkdocs --strict checks Markdown links; notebook pages and theme
    templates are HTML it does not check. Every relative link of every built
    page must name a file of the built site."""
    assert build.returncode == 0, "site did not build"
    broken = []
    for page in build.site.rglob("*.html"):
        if page.name == "404.html":  # served at any depth, so its links are root-absolute by design
            continue
        for url in _internal_links(page.read_text("utf8")):
            if not url or url.startswith("/"):
                broken += [f"{page.relative_to(build.site)}: root-absolute link {url!r}"] if url else []
                continue
            target = (page.parent / url).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(build.site)}: {url!r} -> missing {target}")
    assert not broken, "broken links in the built site:\n" + "\n".join(broken[:30])


# --------------------------------------------------------------------------
# pages: built files, sitemap, nav
# --------------------------------------------------------------------------


def _nav_sources(nav) -> list[str]:
    out = []
    for entry in nav or []:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            out += _nav_sources(value)
        elif isinstance(value, str) and not re.match(r"^[a-z]+://", value):
            out.append(value)
    return out


def _source_to_url(src: str) -> str:
    """docs-relative source file -> site-relative URL (use_directory_urls)."""
    stem = re.sub(r"\.(md|ipynb|py)$", "", src)
    if stem == "index" or stem.endswith("/index"):
        stem = stem[: -len("index")]
    else:
        stem += "/"
    return stem.lstrip("/")


def built_pages(site: Path) -> set[str]:
    pages = set()
    for html in site.rglob("index.html"):
        rel = html.parent.relative_to(site).as_posix()
        if rel.split("/")[0] in ("assets", "search", "javascripts", "stylesheets"):
            continue
        pages.add("" if rel == "." else rel + "/")
    return pages


def sitemap_pages(site: Path, site_url: str) -> set[str]:
    ns = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ET.parse(site / "sitemap.xml").getroot()
    pages = set()
    for loc in root.findall("sm:url/sm:loc", ns):
        url = loc.text.strip()
        assert url.startswith(site_url), f"sitemap URL {url} is not under site_url {site_url}"
        pages.add(url[len(site_url) :])
    return pages


def test_pages_match_nav(build, mkdocs_config):
    assert build.returncode == 0, "site did not build"
    nav = {_source_to_url(s) for s in _nav_sources(mkdocs_config.get("nav"))}
    files = built_pages(build.site)
    sitemap = sitemap_pages(build.site, build.site_url)
    assert files == sitemap, f"built pages {sorted(files)} != sitemap {sorted(sitemap)}"
    assert files == nav, (
        f"pages not in the nav: {sorted(files - nav)}; nav entries not built: {sorted(nav - files)}"
    )


# --------------------------------------------------------------------------
# browser
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class PageWatcher:
    """Records, per page, everything that must not happen."""

    def __init__(self, page):
        self.page = page
        self.reset()
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.errors.append(f"pageerror: {err}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def reset(self):
        self.external: list[str] = []
        self.errors: list[str] = []

    def _console(self, msg):
        if msg.type == "error":
            self.errors.append(f"console error: {msg.text} @ {msg.location}")

    def _failed(self, request):
        if not _is_external(request.url):  # external ones are aborted on purpose
            self.errors.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response):
        if response.status >= 400:
            self.errors.append(f"HTTP {response.status}: {response.url}")

    def route(self, route):
        self.external.append(route.request.url)
        route.abort()


def _is_external(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https", "ws", "wss") and parsed.hostname not in LOCAL_HOSTS


WAIT_FOR_MATHJAX = """
async () => {
  await MathJax.startup.promise;
  await document.fonts.ready;
  return true;
}
"""

# Text of .md-content outside code, scripts and rendered math.
VISIBLE_TEXT = """
() => {
  const root = document.querySelector('.md-content');
  if (!root) return '';
  const clone = root.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, .highlight, .jp-InputArea-editor')
       .forEach(e => e.remove());
  return clone.textContent;
}
"""

# Formulas typeset but drawn with no glyphs (e.g. MathJax's glyph CSS dropped).
INVISIBLE_MATH = """
() => [...document.querySelectorAll('.md-content mjx-container')].filter(c => {
  const chars = [...c.querySelectorAll('mjx-c')];
  return !chars.some(e => {
    const v = getComputedStyle(e, '::before').content;
    return v && v !== 'none' && v !== 'normal' && v !== '""';
  });
}).map(c => (c.querySelector('mjx-assistive-mml') || c).textContent)
"""

RAW_TEX = ("$$", "\\[", "\\(", "\\)", "\\]")
RAW_TEX_COMMAND = re.compile(r"\\[A-Za-z]{2,}")


def _page_has_math(html: str) -> bool:
    if 'class="arithmatex"' in html:
        return True
    # notebook markdown cells keep $...$
    return any("$" in cell for cell in re.findall(r"jp-RenderedMarkdown.*?</div>", html, re.S))


def _check_math(page, url: str, has_math: bool, problems: list[str]) -> int:
    page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate(WAIT_FOR_MATHJAX)
    n_math = page.locator(".md-content mjx-container").count()
    if has_math and n_math == 0:
        problems.append(f"{url}: page has math but no rendered mjx-container")
    text = page.evaluate(VISIBLE_TEXT)
    raw = [t for t in RAW_TEX if t in text]
    if raw:
        problems.append(f"{url}: raw TeX delimiters {raw} left in the page text")
    # A TeX command outside code and outside rendered math was not typeset,
    # e.g. `$\tau = $` (arithmatex needs no space before the closing $).
    for m in list(RAW_TEX_COMMAND.finditer(text))[:3]:
        context = " ".join(text[max(0, m.start() - 30) : m.end() + 30].split())
        problems.append(f"{url}: raw TeX {m.group(0)!r} in the page text: ...{context}...")
    if page.locator(".md-content mjx-merror").count():
        problems.append(f"{url}: MathJax reports a TeX error (red text in a formula)")
    invisible = page.evaluate(INVISIBLE_MATH)
    if invisible:
        problems.append(f"{url}: formulas rendered without glyphs: {invisible[:3]}")
    return n_math


def test_every_page_in_chromium(build, server, browser):
    pages = sorted(built_pages(build.site))
    assert pages, "no pages built"
    context = browser.new_context()
    page = context.new_page()
    watcher = PageWatcher(page)
    context.route(_is_external, watcher.route)
    problems: list[str] = []
    summary = []
    try:
        for rel in pages:
            url = urljoin(server.url, rel)
            html = (build.site / rel / "index.html").read_text("utf8")
            watcher.reset()
            page.goto(url, wait_until="load")
            n_math = _check_math(page, url, _page_has_math(html), problems)

            md_code = page.locator(".md-content .highlight pre:not(.jupyter-wrapper pre)").count()
            nb_code = page.locator(".md-content .jupyter-wrapper .jp-CodeCell").count()
            if md_code and page.locator(".md-content .md-code__button").count() == 0:
                problems.append(f"{url}: {md_code} code blocks but no copy button (.md-code__button)")
            if nb_code and page.locator(".md-content clipboard-copy").count() == 0:
                problems.append(f"{url}: notebook code cells but no copy button (clipboard-copy)")

            page.wait_for_load_state("networkidle")
            problems += [f"{url}: request to a non-local host: {u}" for u in watcher.external]
            problems += [f"{url}: {e}" for e in watcher.errors]
            summary.append(f"/{rel}: {n_math} formulas, {md_code + nb_code} code blocks")
    finally:
        context.close()
    print("\n".join(summary))
    assert not problems, "\n".join(problems)


def test_instant_navigation_typesets_math(build, server, browser):
    """Material's navigation.instant swaps content without reloading scripts;
    mathjax-config.js must re-typeset the new page."""
    pages = sorted(built_pages(build.site))
    math_pages = [
        p for p in pages if p and _page_has_math((build.site / p / "index.html").read_text("utf8"))
    ]
    if not math_pages:
        pytest.skip("no page other than the home page has math")
    target = math_pages[0]
    context = browser.new_context()
    page = context.new_page()
    watcher = PageWatcher(page)
    context.route(_is_external, watcher.route)
    problems: list[str] = []
    try:
        page.goto(server.url, wait_until="load")
        page.evaluate(WAIT_FOR_MATHJAX)
        # Material intercepts links only once it has fetched sitemap.xml.
        page.wait_for_load_state("networkidle")
        # Mark the window (lost on a full reload) and the old content (replaced by
        # instant navigation), then follow a sidebar link.
        page.evaluate("window.__noReload = true")
        page.evaluate("document.querySelector('.md-content').dataset.oldPage = '1'")
        link = page.locator(f'nav.md-nav--primary a.md-nav__link[href$="{target}"]').first
        link.click()
        page.wait_for_url(urljoin(server.url, target))
        page.wait_for_function(
            "!document.querySelector('.md-content[data-old-page]')"
            " && document.querySelector('.md-content mjx-container') !== null",
            timeout=10_000,
        )
        assert page.evaluate("window.__noReload === true"), (
            "clicking a nav link reloaded the page: navigation.instant is not active"
        )
        _check_math(page, urljoin(server.url, target), True, problems)
        problems += [f"request to a non-local host: {u}" for u in watcher.external]
        problems += watcher.errors
    finally:
        context.close()
    assert not problems, "\n".join(problems)
