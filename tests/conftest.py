"""Fixtures for the tests of the built site (test_site.py, test_site_browser.py,
test_notebooks.py): one strict build per session, served the way GitHub Pages
serves a project site, and one headless Chromium.

The browser needs Debian's chromium at /usr/bin/chromium and the playwright
Python package (never `playwright install`: no browser download). Missing
either skips the browser tests locally; under CI=true the root conftest.py
turns that skip into a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest

from site_helpers import CHROMIUM, CHROMIUM_ARGS, ROOT
# The repository the test build links to: any github.com address works, since
# the browser tests block every non-local request. The Pages workflow passes
# the real one (.github/workflows/docs.yml).
TEST_REPO = "octo-org/rnn-site-test"


class _PagesHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site below ``prefix`` only, as GitHub Pages does for a
    project site: anything outside it, or missing, gets the site's 404.html
    with status 404 (so a root-absolute link fails, and the 404 page can be
    tested as a reader meets it)."""

    prefix = "/"

    def translate_path(self, path):
        if not path.startswith(self.prefix):
            return str(Path(self.directory) / "__outside_the_site_prefix__")
        return super().translate_path("/" + path[len(self.prefix) :])

    def send_error(self, code, message=None, explain=None):
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

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
    intercepts only links under site_url). Same sub-path as the default site_url."""
    site = tmp_path_factory.mktemp("site")
    prefix = urlparse(mkdocs_config["site_url"]).path or "/"
    if not prefix.endswith("/"):
        prefix += "/"
    handler = type("Handler", (_PagesHandler,), {"prefix": prefix})
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
    repo_url: str
    returncode: int
    output: str
    seconds: float


@pytest.fixture(scope="session")
def build(server, terminal_summary) -> Build:
    """`mkdocs build --strict` with the environment the Pages workflow sets."""
    repo_url = f"https://github.com/{TEST_REPO}"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", SITE_URL=server.url, REPO_URL=repo_url,
               REPO_NAME=TEST_REPO)
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(server.site)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    line = f"mkdocs build --strict: {seconds:.1f} s (exit code {proc.returncode})"
    print(line)
    terminal_summary.append(line)
    return Build(server.site, server.url, repo_url, proc.returncode, proc.stdout + proc.stderr, seconds)


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
