"""Helpers for the site tests: Chromium settings, the pages of a built site,
and what every browser test shares (a watched page, the axe-core scan, the
light/dark toggle, the page weight)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

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
NON_PAGE_DIRS = ("assets", "search", "javascripts", "stylesheets")


def built_pages(site: Path) -> list[str]:
    """Site-relative URLs of every page ("" for the home page, "bptt/", ...)."""
    pages = set()
    for html in site.rglob("index.html"):
        rel = html.parent.relative_to(site).as_posix()
        if rel.split("/")[0] in NON_PAGE_DIRS:
            continue
        pages.add("" if rel == "." else rel + "/")
    return sorted(pages)


def nav_sources(nav) -> list[str]:
    """docs-relative source paths named in a nav (mkdocs.yml)."""
    out = []
    for entry in nav or []:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            out += nav_sources(value)
        elif isinstance(value, str) and not re.match(r"^[a-z]+://", value):
            out.append(value)
    return out


def source_to_url(src: str) -> str:
    """docs-relative source file -> site-relative URL (use_directory_urls)."""
    stem = re.sub(r"\.(md|ipynb|py)$", "", src)
    if stem == "index" or stem.endswith("/index"):
        stem = stem[: -len("index")]
    else:
        stem += "/"
    return stem.lstrip("/")


# --------------------------------------------------------------------------
# the browser tests' shared parts (test_site_browser.py, test_site_interactive.py)
# --------------------------------------------------------------------------

AXE_IMPACTS = ("serious", "critical")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

def is_external(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https", "ws", "wss") and parsed.hostname not in LOCAL_HOSTS



class PageWatcher:
    """Records, per page, everything that must not happen."""

    def __init__(self, page):
        self.page = page
        self.reset()
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.errors.append(f"pageerror: {err}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def reset(self, allow_404: str | None = None):
        self.external: list[str] = []
        self.errors: list[str] = []
        self.allow_404 = allow_404

    def _console(self, msg):
        if msg.type == "error" and not (self.allow_404 and "404" in msg.text):
            self.errors.append(f"console error: {msg.text} @ {msg.location}")

    def _failed(self, request):
        if not is_external(request.url):  # external ones are aborted on purpose
            self.errors.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response):
        if response.status >= 400 and response.url != self.allow_404:
            self.errors.append(f"HTTP {response.status}: {response.url}")

    def route(self, route):
        self.external.append(route.request.url)
        route.abort()


def open_context(browser, **kwargs):
    """A new browser context at a laptop size, its page, and a PageWatcher; every
    request to another host is recorded and aborted."""
    context = browser.new_context(viewport=DESKTOP, **kwargs)
    page = context.new_page()
    watcher = PageWatcher(page)
    context.route(is_external, watcher.route)
    return context, page, watcher


# Bytes the page needed (document and every resource, cached or not), and its timing.
WEIGHT = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const bytes = (nav ? nav.decodedBodySize : 0) + res.reduce((s, r) => s + (r.decodedBodySize || 0), 0);
  return {bytes, requests: res.length + 1, load_ms: nav ? nav.loadEventEnd - nav.startTime : 0};
}
"""


def axe_source() -> str:
    """axe-core, as shipped by the axe-playwright-python package (test extra)."""
    axe = pytest.importorskip("axe_playwright_python", reason="pip install axe-playwright-python")
    return (Path(axe.__file__).parent / "axe.min.js").read_text("utf8")


def axe_scan(page, axe_js: str, rules: list[str] | None = None) -> list[dict]:
    """axe-core's serious and critical violations on the page (all rules, or ``rules``)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_js)
    options = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    result = page.evaluate("async (o) => await axe.run(document, o)", options)
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"][:3]]}
        for v in result["violations"] if v["impact"] in AXE_IMPACTS
    ]


def toggle_palette(page, scheme: str) -> None:
    """Click the header's light/dark toggle; wait until ``scheme`` is active."""
    page.locator("form[data-md-component=palette] label:visible").first.click()
    page.wait_for_function(f"document.body.getAttribute('data-md-color-scheme') === '{scheme}'",
                           timeout=5_000)
