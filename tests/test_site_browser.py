"""The built site in headless Chromium, served as GitHub Pages serves it.

One browser session visits every page of the built site (found anew on
every run) and checks, per page:

* light mode at a laptop width: no request to another host, no failed
  request, no console error; every formula typeset, no raw TeX left; code
  blocks have copy buttons; every image loaded, and every plot shown at
  least at 45 % of its pixel width (so its text stays legible); the
  notebook download (HTTP 200, a valid notebook) where the page offers one;
  an axe-core accessibility scan (all rules) with no serious or critical
  violation, on every written page and on two of the API pages (which one
  template generates, from the docstrings);
* dark mode, switched on with the header's toggle: the slate palette is
  active, plots are drawn inverted (not white slabs); on the first page of
  each kind (the mix of components it shows: notebook cells, API entries,
  content tabs, admonitions), the axe contrast rules pass again;
* a 390 px phone: the page does not scroll sideways.

Further tests: search finds the BPTT chapter, a copy button copies its code,
a chapter's API link lands on the entry, instant navigation typesets math,
and the 404 page. The terminal summary reports the heaviest page's weight
and load time, and the accessibility result.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin

import pytest

from docs_api import REFERENCE_DIR
from site_helpers import DESKTOP, PHONE, WEIGHT, built_pages
from site_helpers import axe_scan as _axe
from site_helpers import axe_source as _axe_source
from site_helpers import open_context as _context
from site_helpers import toggle_palette as _toggle_palette

API_DIR = REFERENCE_DIR + "/"

MIN_PLOT_SCALE = 0.4  # displayed width / pixel width of a plot: 9 pt text at 200 dpi stays >= 10 px


# --------------------------------------------------------------------------
# math
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# per-page checks
# --------------------------------------------------------------------------

IMAGES = """
() => [...document.querySelectorAll('.md-content img')].map(img => ({
  src: img.currentSrc.slice(0, 80), complete: img.complete, natural: img.naturalWidth,
  shown: img.getBoundingClientRect().width,
  plot: !!img.closest('.jp-RenderedImage'),
  filter: getComputedStyle(img).filter,
}))
"""

# Elements that stick out to the right of the viewport with no box between
# them and the page that clips or scrolls (the cause of sideways scrolling).
FITS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
OVERFLOW = """
() => {
  const w = document.documentElement.clientWidth;
  const out = [];
  for (const e of document.querySelectorAll('body *')) {
    const r = e.getBoundingClientRect();
    if (!(r.right > w + 1 && r.width > 0)) continue;
    let clipped = false;
    for (let p = e.parentElement; p && p !== document.documentElement; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') { clipped = true; break; }
    }
    if (!clipped) out.push(e.tagName.toLowerCase() + ' ' + (e.textContent || '').trim().slice(0, 40));
  }
  return {scroll: document.documentElement.scrollWidth, client: w, out: out.slice(0, 5)};
}
"""



# What a page is made of, for choosing where the dark-mode contrast scan runs:
# the colours come from the theme, so one page of each combination of
# components is enough (a new kind of page gets its own scan).
PAGE_KIND = """
() => ['.jupyter-wrapper', '.doc-contents', '.tabbed-set', '.admonition, details']
      .map(sel => document.querySelector('.md-content ' + sel) ? 1 : 0).join('')
"""


@dataclass
class Report:
    pages: int = 0
    notebooks: int = 0
    axe_runs: int = 0
    axe_light: int = 0
    weights: list = field(default_factory=list)  # (bytes, requests, load_ms, ready_ms, url)
    seconds: dict = field(default_factory=dict)  # time spent per kind of check

    def timed(self, what: str, start: float) -> float:
        now = time.perf_counter()
        self.seconds[what] = self.seconds.get(what, 0.0) + now - start
        return now


@pytest.fixture(scope="session")
def site_report(terminal_summary):
    report = Report()
    yield report
    if report.weights:
        heavy = max(report.weights)
        slow = max(report.weights, key=lambda w: w[3])
        terminal_summary.append(
            f"browser: {report.pages} pages x (light, dark, 390 px phone); {report.notebooks} notebook "
            f"downloads; {report.axe_runs} axe-core scans ({report.axe_light} light, "
            f"{report.axe_runs - report.axe_light} dark), no serious or critical violation")
        terminal_summary.append(
            f"heaviest page: /{heavy[4]} {heavy[0] / 1e6:.2f} MB in {heavy[1]} requests, "
            f"load {heavy[2]:.0f} ms, math typeset {heavy[3]:.0f} ms; slowest: /{slow[4]} "
            f"{slow[3]:.0f} ms until typeset ({slow[0] / 1e6:.2f} MB)")
        terminal_summary.append("browser time: " + ", ".join(f"{k} {v:.0f} s" for k, v in report.seconds.items()))


def test_every_page_light_dark_and_phone(build, server, browser, site_report):
    # (imported here: the browser fixture skips cleanly when playwright is missing)
    import nbformat
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    assert build.returncode == 0, "site did not build"
    pages = built_pages(build.site)
    assert pages, "no pages built"
    axe_js = _axe_source()
    context, page, watcher = _context(browser)
    problems: list[str] = []
    summary = []
    dark_scanned: set = set()
    api_scanned = 0
    try:
        for rel in pages:
            url = urljoin(server.url, rel)
            html = (build.site / rel / "index.html").read_text("utf8")
            watcher.reset()
            t = time.perf_counter()
            page.set_viewport_size(DESKTOP)
            response = page.goto(url, wait_until="load")
            if response is None or response.status != 200:
                problems.append(f"{url}: HTTP {response and response.status}")
                continue
            n_math = _check_math(page, url, _page_has_math(html), problems)
            ready_ms = page.evaluate("performance.now()")
            t = site_report.timed("load and math", t)

            # copy buttons
            md_code = page.locator(".md-content .highlight pre:not(.jupyter-wrapper pre)").count()
            nb_code = page.locator(".md-content .jupyter-wrapper .jp-CodeCell").count()
            if md_code and page.locator(".md-content .md-code__button").count() == 0:
                problems.append(f"{url}: {md_code} code blocks but no copy button (.md-code__button)")
            if nb_code and page.locator(".md-content clipboard-copy").count() == 0:
                problems.append(f"{url}: notebook code cells but no copy button (clipboard-copy)")

            # images: loaded, plots legible
            images = page.evaluate(IMAGES)
            for img in images:
                if not img["complete"] or img["natural"] == 0:
                    problems.append(f"{url}: image not loaded: {img['src']}")
                elif img["plot"] and img["shown"] < MIN_PLOT_SCALE * img["natural"]:
                    problems.append(f"{url}: plot {img['natural']} px wide shown at {img['shown']:.0f} px")

            # notebook download (test_site.py checks which pages must have one)
            link = page.locator("a.rnn-notebook-button[download]")
            if link.count():
                href = urljoin(url, link.first.get_attribute("href"))
                got = page.request.get(href)
                if got.status != 200:
                    problems.append(f"{href}: HTTP {got.status}")
                else:
                    try:
                        nbformat.validate(nbformat.reads(got.text(), as_version=4))
                        site_report.notebooks += 1
                    except Exception as exc:  # noqa: BLE001 - report any invalid notebook
                        problems.append(f"{href}: not a valid notebook ({exc})")

            t = site_report.timed("images, copy buttons, downloads", t)

            # accessibility, light: every written page; of the pages generated
            # from one template (the API reference), the first two
            generated = rel.startswith(API_DIR)
            if not generated or api_scanned < 2:
                api_scanned += generated
                for v in _axe(page, axe_js):
                    problems.append(f"{url} (light): axe {v['impact']} {v['id']}: {v['help']} at {v['nodes']}")
                site_report.axe_runs += 1
                site_report.axe_light += 1
            t = site_report.timed("axe (light)", t)
            page.wait_for_load_state("networkidle")
            weight = page.evaluate(WEIGHT)
            site_report.weights.append((weight["bytes"], weight["requests"], weight["load_ms"], ready_ms, rel))

            t = site_report.timed("weight", t)

            # dark mode, as a reader switches to it: the palette toggle in the header
            _toggle_palette(page, "slate")
            for img in page.evaluate(IMAGES):
                if img["plot"] and "invert" not in img["filter"]:
                    problems.append(f"{url} (dark): plot not inverted (filter {img['filter']!r})")
            kind = page.evaluate(PAGE_KIND)
            if kind not in dark_scanned:  # the first page of each kind of content
                dark_scanned.add(kind)
                for v in _axe(page, axe_js, rules=["color-contrast", "link-in-text-block"]):
                    problems.append(f"{url} (dark): axe {v['impact']} {v['id']}: {v['help']} at {v['nodes']}")
                site_report.axe_runs += 1

            _toggle_palette(page, "default")  # back to light for the next page
            t = site_report.timed("dark mode", t)

            # a phone: nothing wider than the screen outside a scrolling box
            page.set_viewport_size(PHONE)
            # mathjax-config.js re-marks wide formulas 100 ms after a resize; on a busy machine
            # that takes longer, so wait (up to 2 s) for the page to settle, then measure
            page.wait_for_timeout(150)
            try:
                page.wait_for_function(FITS, timeout=2000)
            except PlaywrightTimeoutError:
                pass  # it does not fit: the measurement below names what sticks out
            overflow = page.evaluate(OVERFLOW)
            if overflow["scroll"] > overflow["client"]:
                problems.append(f"{url}: scrolls sideways at {PHONE['width']} px "
                                f"({overflow['scroll']} > {overflow['client']}): {overflow['out']}")

            t = site_report.timed("phone", t)
            problems += [f"{url}: request to a non-local host: {u}" for u in watcher.external]
            problems += [f"{url}: {e}" for e in watcher.errors]
            summary.append(f"/{rel}: {n_math} formulas, {md_code + nb_code} code blocks, "
                           f"{len(images)} images, {weight['bytes'] / 1e6:.2f} MB")
            site_report.pages += 1
    finally:
        context.close()
    print("\n".join(summary))
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------


def test_search_finds_bptt_with_a_clean_preview(build, server, browser):
    assert build.returncode == 0, "site did not build"
    context, page, watcher = _context(browser)
    try:
        page.goto(server.url, wait_until="load")
        page.wait_for_load_state("networkidle")  # the search worker has loaded the index
        page.locator("input.md-search__input").click()
        page.keyboard.type("backpropagation through time")  # Material listens to key events
        results = page.locator(".md-search-result__item")
        results.first.wait_for(timeout=15_000)
        hrefs = [a.get_attribute("href") for a in page.locator(".md-search-result__item a").all()]
        assert any(re.search(r"(^|/)bptt/", h or "") for h in hrefs[:5]), f"BPTT not in the top results: {hrefs[:5]}"
        preview = page.locator(".md-search-result").inner_text()
        for bad in ("\\(", "\\boldsymbol", "$$", "In [", "Copied!"):
            assert bad not in preview, f"search preview shows {bad!r}"
        assert not watcher.errors and not watcher.external
    finally:
        context.close()


def test_copy_button_copies_the_code(build, server, browser):
    assert build.returncode == 0, "site did not build"
    context, page, watcher = _context(browser, permissions=["clipboard-read", "clipboard-write"])
    try:
        page.goto(urljoin(server.url, "bptt/"), wait_until="load")
        block = page.locator(".md-content .highlight").first
        code = block.locator("code").inner_text()
        block.hover()
        block.locator(".md-code__button").first.click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.strip() == code.strip() and "rnn_forward" in copied
        assert not watcher.errors
    finally:
        context.close()


def test_api_reference_reachable_from_a_chapter(build, server, browser):
    """Click the first API link of the BPTT chapter: the entry it names is on
    the page it opens."""
    assert build.returncode == 0, "site did not build"
    context, page, watcher = _context(browser)
    try:
        page.goto(urljoin(server.url, "bptt/"), wait_until="load")
        page.wait_for_load_state("networkidle")
        link = page.locator(".md-content a.autorefs-internal").first
        href = link.get_attribute("href")
        assert "reference/" in href, href
        link.click()
        page.wait_for_url(re.compile(r".*/reference/.*"))
        anchor = href.split("#", 1)[1]
        entry = page.locator(f"[id='{anchor}']")
        entry.wait_for(timeout=10_000)
        assert entry.is_visible()
        assert not watcher.errors and not watcher.external
    finally:
        context.close()


def test_404_page(build, server, browser):
    assert build.returncode == 0, "site did not build"
    context, page, watcher = _context(browser)
    missing = urljoin(server.url, "no-such-chapter/deeper/")
    watcher.reset(allow_404=missing)
    try:
        response = page.goto(missing, wait_until="load")
        assert response.status == 404
        assert page.locator("h1").inner_text() == "Page not found"
        assert page.locator(".md-header").is_visible()  # styled: the theme's CSS and JS loaded
        page.locator(".md-content a", has_text="home page").click()
        page.wait_for_url(server.url)
        assert not watcher.errors and not watcher.external, watcher.errors + watcher.external
    finally:
        context.close()


def test_instant_navigation_typesets_math(build, server, browser):
    """Material's navigation.instant swaps content without reloading scripts;
    mathjax-config.js must re-typeset the new page."""
    pages = built_pages(build.site)
    math_pages = [
        p for p in pages if p and _page_has_math((build.site / p / "index.html").read_text("utf8"))
    ]
    assert math_pages, "no page other than the home page has math"
    target = math_pages[0]
    context, page, watcher = _context(browser)
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

