"""The API reference: one page per module of src/rnn, generated at build time
(no file in docs/), rendered by mkdocstrings-python from the numpydoc
docstrings. A module added to the package gets its page and its nav entry
without any edit here or in mkdocs.yml.

* ``modules()``       the package's modules, public ones first, found on disk;
* ``nav_entry()``     the "API reference" section appended to the nav;
* ``pages()``         {docs-relative path: Markdown} of the generated pages;
* ``ApiNames``        resolves a name used in a chapter (`` `rnn.rnn_backward` ``,
                      `` `loss_and_grads` ``, `` `rnn.model` ``, `` `Vocab.encode` ``)
                      to the identifier of its entry, for docs_render.link_api_names.
"""

from __future__ import annotations

import ast
import importlib
import re
import inspect
from dataclasses import dataclass
from pathlib import Path

from docs_source import ROOT

PACKAGE = "rnn"
SRC = ROOT / "src"
REFERENCE_DIR = "reference"  # docs-relative folder of the generated pages
NAV_TITLE = "API reference"


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. "rnn.model"
    path: Path

    @property
    def private(self) -> bool:
        return any(part.startswith("_") for part in self.name.split(".")[1:])

    @property
    def page(self) -> str:
        """docs-relative path of its page: reference/model.md, reference/index.md for the package."""
        rel = self.name.split(".")[1:]
        return f"{REFERENCE_DIR}/{'/'.join(rel) or 'index'}.md"

    @property
    def summary(self) -> str:
        """First sentence of the module docstring, read without importing it."""
        doc = ast.get_docstring(ast.parse(self.path.read_text("utf8"))) or ""
        paragraph = " ".join(doc.strip().split("\n\n")[0].split())
        return re.split(r"(?<=[a-z)`])\.(?:\s|$)", paragraph)[0].rstrip(".")


def modules() -> list[Module]:
    """Every module of the package (not ``__main__``): the package itself,
    then public modules, then private ones (``_checks``, ...), by name."""
    root = SRC / PACKAGE
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append(Module(".".join(parts), path))
    return sorted(found, key=lambda m: (m.name != PACKAGE, m.private, m.name))


def module_of_page(src_uri: str) -> str | None:
    """The module a generated API page documents, from its docs-relative path."""
    return next((m.name for m in modules() if m.page == src_uri), None)


def nav_entry() -> dict:
    return {NAV_TITLE: [m.page if m.name == PACKAGE else {m.name: m.page} for m in modules()]}


MODULE_PAGE = """\
::: {name}
    options:
      show_root_heading: true
      heading_level: 1
"""

INDEX_PAGE = """\
# API reference

Every public function and class of the `rnn` package, generated from the
docstrings in `src/rnn` (numpydoc style: parameters, shapes, returns and
errors). The chapters explain the maths behind them and link here the first
time a section names one. One page per module, in the order of the data path
described on the [home page](../index.md).

| module | what it holds |
| --- | --- |
{modules}

## The names in `rnn`

`import rnn` gives these names directly; each links to the module that
defines it.

| name | defined in |
| --- | --- |
{names}

::: rnn
    options:
      show_root_heading: false
      show_root_toc_entry: false
      members: false
"""


def pages(api: "ApiNames") -> dict[str, str]:
    out = {}
    rows = []
    for m in modules():
        if m.name == PACKAGE:
            continue
        label = f"[`{m.name}`]({Path(m.page).name})"
        rows.append(f"| {label} | {m.summary}{' (internal)' if m.private else ''} |")
        out[m.page] = MODULE_PAGE.format(name=m.name)
    names = [
        f"| [`rnn.{n}`][{api.resolve('rnn.' + n)}] | `{api.resolve('rnn.' + n).rsplit('.', 1)[0]}` |"
        for n in api.exported()
        if api.resolve("rnn." + n)
    ]
    out[f"{REFERENCE_DIR}/index.md"] = INDEX_PAGE.format(modules="\n".join(rows), names="\n".join(names))
    return out


class ApiNames:
    """Maps names as chapters write them to mkdocstrings identifiers.

    Canonical identifiers are where an object is defined (``rnn.rnn_cell.rnn_backward``),
    since that is where its entry is rendered. Accepted spellings: the
    canonical one, ``rnn.NAME`` for a re-exported name, ``module.NAME``,
    ``Class.member`` for a member of a known class, and a bare name that
    ``rnn.__all__`` exports.
    """

    def __init__(self):
        self._map: dict[str, str] | None = None
        self._exported: list[str] = []

    def _build(self) -> dict[str, str]:
        mapping: dict[str, str] = {}
        classes: dict[str, type] = {}
        for m in modules():
            mod = importlib.import_module(m.name)
            mapping[m.name] = m.name
            if m.name != PACKAGE:
                mapping.setdefault(m.name.split(".", 1)[1], m.name)  # `model` -> rnn.model? only dotted use below
            for attr, obj in vars(mod).items():
                if attr.startswith("_") or inspect.ismodule(obj):
                    continue
                defined_here = getattr(obj, "__module__", None) == m.name
                listed = attr in getattr(mod, "__all__", ())
                if not (defined_here and (inspect.isfunction(obj) or inspect.isclass(obj))) and not (
                    listed and not callable(obj)
                ):
                    continue
                ident = f"{m.name}.{attr}"
                mapping[ident] = ident
                if inspect.isclass(obj):
                    classes[ident] = obj
        # re-exports: rnn.NAME and bare NAME for rnn.__all__, module.NAME spellings
        pkg = importlib.import_module(PACKAGE)
        self._exported = list(getattr(pkg, "__all__", []))
        for name in self._exported:
            obj = getattr(pkg, name)
            ident = self._canonical(obj, mapping)
            if ident:
                mapping[f"{PACKAGE}.{name}"] = ident
                mapping.setdefault(name, ident)
        for ident in list(mapping):
            parts = ident.split(".")
            if len(parts) == 3:  # rnn.model.forward -> model.forward
                mapping.setdefault(".".join(parts[1:]), ident)
        # Class.member, rnn.Class.member
        for ident, cls in classes.items():
            short = ident.rsplit(".", 1)[1]
            for member in vars(cls):
                if member.startswith("_"):
                    continue
                target = f"{ident}.{member}"
                mapping.setdefault(target, target)
                mapping.setdefault(f"{short}.{member}", target)
                mapping.setdefault(f"{PACKAGE}.{short}.{member}", target)
        return mapping

    @staticmethod
    def _canonical(obj, mapping) -> str | None:
        mod, name = getattr(obj, "__module__", None), getattr(obj, "__name__", None)
        ident = f"{mod}.{name}"
        return ident if ident in mapping else None

    @property
    def mapping(self) -> dict[str, str]:
        if self._map is None:
            self._map = self._build()
        return self._map

    def exported(self) -> list[str]:
        self.mapping  # noqa: B018 (builds the list)
        return self._exported

    def resolve_in(self, name: str, module: str) -> str | None:
        """``name`` as a docstring of ``module`` writes it (relative to the
        module, or absolute), or None."""
        for candidate in (f"{module}.{name}", name):
            if candidate in self.mapping:
                return self.mapping[candidate]
        return None

    def resolve(self, name: str) -> str | None:
        """The identifier for ``name`` as written in a chapter, or None.

        A bare one-word name (`` `forward` ``) resolves only if ``rnn.__all__``
        exports it, and a bare module name never does (`` `model` `` may mean
        anything in prose).
        """
        ident = self.mapping.get(name)
        if ident is None:
            return None
        if "." not in name and name not in self._exported:
            return None
        return ident
