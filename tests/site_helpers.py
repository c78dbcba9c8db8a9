"""Helpers for the site tests: Chromium settings and the pages of a built site."""

from __future__ import annotations

import re
from pathlib import Path

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
