"""MkDocs hooks for the rnn site (registered under ``hooks:`` in mkdocs.yml).

Offline math: the site typesets formulas with MathJax 3 served from the site
itself, never from a CDN. MathJax comes from the ``django-static-mathjax``
package on PyPI (despite its name it has no dependencies and ships MathJax
3.2.2's ``es5/`` build), so a reader with only Python can build the site.

After every build the hook copies into ``<site_dir>/assets/mathjax/``:

* ``tex-chtml.js``               - the combined TeX-input / CommonHTML-output component;
* ``output/chtml/fonts/woff-v2`` - the fonts CommonHTML loads through CSS;
* ``input/tex/extensions``       - TeX packages loaded on demand by ``autoload``
  (``\\boldsymbol``, ``\\cancel``, ``\\color``, ...) and by ``\\require``;
* ``ui``, ``a11y``, ``sre``, ``input/mml*`` - what the right-click menu loads
  when a reader switches on accessibility features (explorer, speech, ...).

(Checked in Chromium with request logging, including switching on the
explorer from the menu; the other ~17 MB of MathJax's es5/ are not needed.)

Copying happens in ``on_post_build`` (not into docs/), so ``mkdocs serve`` does
not see a change and rebuild in a loop.
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

from mkdocs.exceptions import PluginError

# Paths relative to MathJax's es5/ directory.
MATHJAX_FILES = ["tex-chtml.js", "input/mml.js"]
MATHJAX_DIRS = [
    "output/chtml/fonts/woff-v2",
    "input/tex/extensions",
    "input/mml",
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


def on_config(config, **kwargs):
    # Fail early, before a long (notebook-executing) build, if MathJax is missing.
    mathjax_es5_dir()
    return config


def _copy_file(src: Path, dst: Path) -> None:
    if dst.exists() and filecmp.cmp(src, dst, shallow=True):
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)


def on_post_build(config, **kwargs):
    es5 = mathjax_es5_dir()
    target = Path(config["site_dir"]) / TARGET
    for name in MATHJAX_FILES:
        _copy_file(es5 / name, target / name)
    for name in MATHJAX_DIRS:
        for src in (es5 / name).rglob("*"):
            if src.is_file():
                _copy_file(src, target / src.relative_to(es5))
    licence = es5.parent / "LICENSE"
    if licence.is_file():
        _copy_file(licence, target / "LICENSE")
