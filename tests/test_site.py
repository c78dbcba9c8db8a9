"""The documentation site as built: a strict build, then checks of the files
it wrote. Everything here iterates over what the build produced (every page,
every module, every notebook), so pages and modules added later are covered
without an edit. The browser checks are in test_site_browser.py, the
notebooks' execution in test_notebooks.py.
"""

from __future__ import annotations

import base64
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urljoin

from docs_api import REFERENCE_DIR, ApiNames, modules
from docs_source import code_blocks, expand_includes
from site_helpers import ROOT, built_pages, nav_sources, source_to_url

DOCS = ROOT / "docs"
PLACEHOLDERS = ("example.github.io", "github.com/example/", "example/rnn", "CHANGE ME")


def test_mkdocs_build_strict(build):
    warnings = [ln for ln in build.output.splitlines() if re.match(r"^(WARNING|ERROR)\b", ln)]
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.output}"
    assert not warnings, "mkdocs printed warnings:\n" + "\n".join(warnings)
    assert (build.site / "index.html").is_file()
    assert (build.site / "assets" / "mathjax" / "tex-chtml.js").is_file()


def test_build_output_is_calm_and_shows_progress(build, mkdocs_config):
    """No alarming kernel warnings; a line for every executed notebook page."""
    assert build.returncode == 0, "site did not build"
    alarming = [ln for ln in build.output.splitlines()
                if re.search(r"\[IPKernelApp\] WARNING|without encryption|Traceback|DeprecationWarning", ln)]
    assert not alarming, "the build printed:\n" + "\n".join(alarming[:10])
    notebooks = [s for s in nav_sources(mkdocs_config["nav"]) if not s.endswith(".md")]
    for src in notebooks:
        assert re.search(rf"Notebook page {re.escape(src)} ready in [\d.]+ s", build.output), (
            f"no progress line for {src}")


# --------------------------------------------------------------------------
# links, pages, nav, URLs
# --------------------------------------------------------------------------


def _links(html: str):
    """href/src values of a built page that point inside the site, with fragment."""
    for m in re.finditer(r'\b(?:href|src)="([^"]+)"', html):
        url = m.group(1)
        if re.match(r"^([a-z]+:|//)", url):  # external, data:, mailto:
            continue
        yield url.split("?")[0]


_ids_cache: dict[Path, set[str]] = {}


def _ids(page: Path) -> set[str]:
    if page not in _ids_cache:
        _ids_cache[page] = set(re.findall(r'\bid="([^"]+)"', page.read_text("utf8")))
    return _ids_cache[page]


def test_every_internal_link_resolves(build):
    """mkdocs --strict checks Markdown links; notebook pages, theme templates
    and the API cross-references are HTML it does not check. Every relative
    link of every built page must name a file of the built site, and its
    #fragment an element of that page."""
    assert build.returncode == 0, "site did not build"
    broken = []
    for page in build.site.rglob("*.html"):
        if page.name == "404.html":  # served at any depth, so its links are root-absolute by design
            continue
        for url in _links(page.read_text("utf8")):
            path, _, fragment = url.partition("#")
            rel = page.relative_to(build.site)
            if path.startswith("/"):
                broken.append(f"{rel}: root-absolute link {url!r}")
                continue
            target = (page.parent / path).resolve() if path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{rel}: {url!r} -> missing {target}")
            elif fragment and target.suffix == ".html" and fragment not in _ids(target):
                broken.append(f"{rel}: {url!r} -> no id {fragment!r} in {target.relative_to(build.site)}")
    assert not broken, "broken links in the built site:\n" + "\n".join(broken[:30])


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
    """Every page is in the nav (mkdocs.yml's, plus the generated API pages)
    and the sitemap, and every nav entry was built."""
    assert build.returncode == 0, "site did not build"
    nav = {source_to_url(s) for s in nav_sources(mkdocs_config.get("nav"))}
    nav |= {source_to_url(m.page) for m in modules()}
    files = set(built_pages(build.site))
    sitemap = sitemap_pages(build.site, build.site_url)
    assert files == sitemap, f"built pages {sorted(files)} != sitemap {sorted(sitemap)}"
    assert files == nav, (
        f"pages not in the nav: {sorted(files - nav)}; nav entries not built: {sorted(nav - files)}"
    )


def test_urls_come_from_the_environment(build):
    """Canonical links and the header's repository link come from SITE_URL and
    REPO_URL (the Pages workflow sets them); no placeholder is left anywhere."""
    assert build.returncode == 0, "site did not build"
    problems = []
    for rel in built_pages(build.site):
        html = (build.site / rel / "index.html").read_text("utf8")
        canonical = re.search(r'<link rel="canonical" href="([^"]+)"', html)
        if canonical is None or canonical.group(1) != urljoin(build.site_url, rel):
            problems.append(f"/{rel}: canonical link {canonical and canonical.group(1)!r}")
        if f'href="{build.repo_url}"' not in html:
            problems.append(f"/{rel}: no link to the repository {build.repo_url}")
        problems += [f"/{rel}: placeholder {p!r}" for p in PLACEHOLDERS if p in html]
    for path in ["README.md", "mkdocs.yml", "pyproject.toml", ".github/workflows/docs.yml",
                 *(p.relative_to(ROOT).as_posix() for p in DOCS.rglob("*.md"))]:
        text = (ROOT / path).read_text("utf8")
        problems += [f"{path}: placeholder {p!r}" for p in PLACEHOLDERS if p in text]
    workflow = (ROOT / ".github/workflows/docs.yml").read_text("utf8")
    for needed in ("actions/configure-pages", "steps.pages.outputs.base_url", "SITE_URL:", "REPO_URL:",
                   "github.repository"):
        if needed not in workflow:
            problems.append(f"docs.yml does not use {needed}")
    assert not problems, "\n".join(problems[:30])


def test_404_page(build):
    html = (build.site / "404.html").read_text("utf8")
    assert "Page not found" in html
    site_path = re.sub(r"^https?://[^/]+", "", build.site_url).rstrip("/")
    for href in re.findall(r'<a href="([^"]+)"', html.split("md-content", 1)[1]):
        if not href.startswith(("http", "#")):
            assert href.startswith(site_path + "/"), f"404.html link {href!r} is not absolute under {site_path}/"


def test_cite_this(build):
    import rnn

    html = (build.site / "index.html").read_text("utf8")
    text = re.sub(r"<[^>]+>", "", html)
    assert "Cite this" in html
    assert "@misc{rnn_from_scratch" in text
    assert build.site_url in text and rnn.__version__ in text
    assert not re.search(r"\{\{\s*rnn\.", text), "an unreplaced {{ rnn.* }} variable"


# --------------------------------------------------------------------------
# API reference
# --------------------------------------------------------------------------


def test_api_reference_has_every_module_and_name(build):
    """A page per module of src/rnn, and on it an entry (an element with the
    object's id) for every function and class the module defines."""
    assert build.returncode == 0, "site did not build"
    api = ApiNames()
    module_names = {m.name for m in modules()}
    missing = []
    for m in modules():
        page = build.site / source_to_url(m.page) / "index.html"
        if not page.is_file():
            missing.append(f"no page for {m.name} ({m.page})")
            continue
        ids = _ids(page)
        names = {ident for ident in set(api.mapping.values())
                 if ident not in module_names and ident.rsplit(".", 1)[0] == m.name}
        if m.name != "rnn":
            names.add(m.name)  # the module's own heading
        missing += [f"{m.page}: no entry for {n}" for n in sorted(names) if n not in ids]
    assert not missing, "\n".join(missing[:30])


def test_chapters_link_to_the_api(build):
    """A chapter that names an API object in inline code links to its entry."""
    assert build.returncode == 0, "site did not build"
    unlinked = []
    n_links = 0
    for md in sorted(DOCS.glob("*.md")):
        rel = source_to_url(md.relative_to(DOCS).as_posix())
        html = (build.site / rel / "index.html").read_text("utf8")
        links = re.findall(rf'<a class="autorefs autorefs-internal"[^>]*href="[^"]*{REFERENCE_DIR}/', html)
        n_links += len(links)
        if re.search(r"`rnn\.\w+", md.read_text("utf8")) and not links:
            unlinked.append(md.name)
    assert not unlinked, f"chapters naming rnn.* with no link to the API reference: {unlinked}"
    assert n_links > 20


# --------------------------------------------------------------------------
# search
# --------------------------------------------------------------------------


def test_search_index_is_readable(build):
    """Search previews show text: no TeX source, no notebook prompts or
    copy-button labels."""
    assert build.returncode == 0, "site did not build"
    index = json.loads((build.site / "search" / "search_index.json").read_text("utf8"))
    problems = []
    for doc in index["docs"]:
        text = doc["text"]
        prose = re.sub(r"<pre>.*?</pre>|<code>.*?</code>", "", text, flags=re.S)  # code may hold anything
        for bad in ("In [", "In\xa0[", "Copied!"):
            if bad in text:
                problems.append(f"{doc['location']}: {bad!r}")
        for bad in ("\\(", "\\[", "$$"):
            if bad in prose:
                problems.append(f"{doc['location']}: {bad!r}")
        m = re.search(r"\\[A-Za-z]{2,}|\$[^$\s][^$]*\$", prose)
        if m:
            problems.append(f"{doc['location']}: TeX {m.group(0)[:40]!r}")
    assert len(index["docs"]) > 50
    assert not problems, "\n".join(problems[:20])


# --------------------------------------------------------------------------
# notebooks for download
# --------------------------------------------------------------------------


def _download_link(html: str) -> str | None:
    m = re.search(r'<a href="([^"]+\.ipynb)" download', html)
    return m.group(1) if m else None


def test_every_page_with_code_offers_a_notebook(build, mkdocs_config):
    """Every chapter with Python code and every executed notebook page links
    to a .ipynb that exists and is a valid notebook; a chapter's has one code
    cell per Python block of the page, with the included code written out."""
    import nbformat

    assert build.returncode == 0, "site did not build"
    problems = []
    n_chapters = 0
    for src in nav_sources(mkdocs_config["nav"]):
        rel = source_to_url(src)
        html = (build.site / rel / "index.html").read_text("utf8")
        is_chapter = src.endswith(".md")
        blocks = code_blocks(expand_includes((DOCS / src).read_text("utf8")).split("\n")) if is_chapter else None
        if is_chapter and not blocks:
            continue
        link = _download_link(html)
        if link is None:
            problems.append(f"/{rel}: no notebook download link")
            continue
        path = build.site / rel / link
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        if not is_chapter:
            continue
        n_chapters += 1
        cells = [c for c in nb.cells if c.cell_type == "code"]
        if [c.source for c in cells] != [b.fence.code.rstrip("\n") for b in blocks]:
            problems.append(f"{link}: code cells differ from the page's {len(blocks)} Python blocks")
        prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        for bad in ("--8<--", '!!! ', '??? ', '=== "', "](", ".md)"):
            if bad == "](":
                relative = [t for t in re.findall(r"\]\(([^)\s]+)", prose)
                            if not re.match(r"^(https?:|#|mailto:)", t)]
                problems += [f"{link}: relative link {t!r}" for t in relative[:3]]
            elif bad in prose:
                problems.append(f"{link}: {bad!r} left in the Markdown cells")
    assert n_chapters >= 10
    assert not problems, "\n".join(problems[:30])


# --------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------


def _notebook_pngs(site: Path):
    for rel in built_pages(site):
        html = (site / rel / "index.html").read_text("utf8")
        for data in re.findall(r'<img[^>]+src="data:image/png;base64,([^"]+)"', html):
            yield rel, base64.b64decode(data)


def test_plots_are_sized_for_the_page_and_transparent(build):
    """Every plot of the executed notebooks is drawn for a ~550 px column at
    about 2x (a 5.5 to 7 in figure at the matplotlibrc's 200 dpi: 1000-1450 px
    wide, so 9 pt text shows at 10 px or more), and has a transparent
    background (no white slab in dark mode)."""
    import matplotlib.image

    assert build.returncode == 0, "site did not build"
    problems = []
    pngs = list(_notebook_pngs(build.site))
    for rel, png in pngs:
        img = matplotlib.image.imread(io.BytesIO(png), format="png")
        h, w = img.shape[:2]
        if not 1000 <= w <= 1450:
            problems.append(f"/{rel}: a plot {w} px wide (expected 1000-1450: 5.5 to 7 in at 200 dpi)")
        if img.shape[2] != 4 or img[0, 0, 3] != 0 or img[-1, -1, 3] != 0:
            problems.append(f"/{rel}: a plot with an opaque background")
    assert pngs, "no notebook plots found"
    assert not problems, "\n".join(problems)


def _luminance(rgb):
    """WCAG relative luminance of sRGB values in [0, 1]."""
    import numpy as np

    c = np.asarray(rgb, dtype=float)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(lin @ [0.2126, 0.7152, 0.0722])


def _contrast(a, b):
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


WHITE = (1.0, 1.0, 1.0)  # Material's default background
SLATE = (30 / 255, 33 / 255, 41 / 255)  # its dark background, hsl(225deg, 15%, 14%)


def test_plot_text_reads_in_both_themes(build):
    """The plots' text and axes are black (scripts/notebook_env/matplotlibrc),
    which the dark theme inverts to white (docs/stylesheets/extra.css; the
    browser test checks the filter): at least 4.5:1 on both backgrounds.
    A notebook that draws its text in grey (3.5-4.5:1 on one of them) fails:
    every plot must hold a good number of opaque, colourless pixels that are
    that dark, the cores of its glyphs and axes."""
    import matplotlib.image
    import numpy as np

    assert build.returncode == 0, "site did not build"
    darkest_text = 0.15  # a grey level; its contrast, both themes:
    ink = (darkest_text,) * 3
    inverted = tuple(1 - v for v in ink)
    assert _contrast(ink, WHITE) >= 4.5 and _contrast(inverted, SLATE) >= 4.5
    assert _contrast((0.533,) * 3, WHITE) < 4.5  # #888888, the grey of the plots before
    problems = []
    for rel, png in _notebook_pngs(build.site):
        img = matplotlib.image.imread(io.BytesIO(png), format="png")
        rgb, alpha = img[..., :3], img[..., 3]
        grey = (rgb.max(axis=-1) - rgb.min(axis=-1)) < 0.05
        dark = (alpha > 0.99) & grey & (rgb.max(axis=-1) <= darkest_text)
        if dark.sum() < 500:
            problems.append(f"/{rel}: a plot with only {dark.sum()} opaque pixels of dark, colourless "
                            "ink: is its text grey? (draw text and axes in the matplotlibrc's black)")
    assert not problems, "\n".join(problems)

