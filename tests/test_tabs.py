"""NumPy beside PyTorch: every content-tab group of the docs shows the same
computation in several libraries, and this test runs each tab and checks
that they compute the same numbers.

For every group of tabs (``=== "NumPy"`` / ``=== "PyTorch"``) in
docs/**/*.md, found anew on every run, each tab's code runs in a fresh
namespace after the blocks it needs (the page's chain of continuation blocks
before the group, as scripts/docs_source.py works it out), and every name
that all the tabs assign is compared: arrays and tensors (``.detach()``-ed)
entrywise to a relative 1e-9 of their largest entry, strings and flags by
``==``; library objects (an optimiser, a module) are not compared. A group
whose tabs share no number, array or tensor fails: it would check nothing.

pytest-markdown-docs runs every tab as an ordinary block too. Since it
chains a continuation block after *all* earlier blocks, including the other
tabs of the group, a group must end its chain: the next Python block of the
page must not be a continuation (test_a_tab_group_ends_its_chain).
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from docs_source import CodeBlock, code_blocks, expand_includes, imports_torch

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@dataclass
class Group:
    page: str  # docs-relative path
    index: int  # of the group on its page
    tabs: dict[str, CodeBlock]  # tab title -> the tab's last code block
    line: int  # 1-based line of the group's first tab header

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _page_groups(path: Path, root: Path = DOCS) -> tuple[list[Group], list[CodeBlock]]:
    lines = expand_includes(path.read_text("utf8")).split("\n")
    blocks = code_blocks(lines)
    groups: dict[int, Group] = {}
    for b in blocks:
        if b.group is None or not b.fence.is_tested:
            continue
        g = groups.setdefault(b.group, Group(path.relative_to(root).as_posix(), b.group, {}, b.tab.header + 1))
        g.tabs[b.tab.title] = b  # the last block of a tab needs the earlier ones of that tab
    return [g for g in groups.values() if len(g.tabs) > 1], blocks


def all_groups() -> list[Group]:
    return [g for page in sorted(DOCS.rglob("*.md")) for g in _page_groups(page)[0]]


GROUPS = all_groups()


def assigned_names(code: str) -> set[str]:
    """Names bound at the top level of ``code`` (assignments, for-loop targets, imports excluded)."""
    names: set[str] = set()
    for node in ast.parse(code).body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, (ast.For, ast.With)):
            targets = [node.target] if isinstance(node, ast.For) else [i.optional_vars for i in node.items if i.optional_vars]
            for inner in node.body:
                names |= assigned_names(ast.unparse(inner))
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name) and not n.id.startswith("_"):  # not throwaways like _
                    names.add(n.id)
    return names


def as_array(value):
    """A NumPy array for numbers, arrays and torch tensors; None for anything else."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    if isinstance(value, (int, float, np.number, np.ndarray)) and not isinstance(value, bool):
        return np.asarray(value)
    return None


def run_tab(block: CodeBlock, where: str) -> dict:
    namespace = {"__name__": "__main__"}
    exec(compile(block.source, where, "exec"), namespace)  # noqa: S102 (the docs' own code)
    return namespace


def compare(group: Group) -> tuple[list[str], list[str]]:
    """Run every tab of the group; return (names compared, problems)."""
    results = {}
    for title, block in group.tabs.items():
        results[title] = (run_tab(block, f"{group.page} [{title} tab]"), assigned_names(block.fence.code))
    common = set.intersection(*(names for _, names in results.values()))
    (ref_title, (ref, _)), *others = results.items()
    compared, problems = [], []
    for name in sorted(common):
        a = as_array(ref[name])
        for title, (ns, _) in others:
            b = as_array(ns[name])
            if a is None and b is None:
                if isinstance(ref[name], (str, bool, type(None))) and ref[name] != ns[name]:
                    problems.append(f"{name!r} is {ref[name]!r} in the {ref_title} tab but {ns[name]!r} in the {title} tab")
                continue  # library objects (an optimiser, a module) differ by nature
            if a is None or b is None:
                problems.append(f"{name!r} is a number or array in one tab only")
            elif a.shape != b.shape:
                problems.append(f"{name!r} has shape {a.shape} ({ref_title}) but {b.shape} ({title})")
            else:
                scale = max(float(np.max(np.abs(a))) if a.size else 0.0, 1e-300)
                err = float(np.max(np.abs(a - b))) / scale if a.size else 0.0
                if err > 1e-9:
                    problems.append(f"{name!r} differs between the {ref_title} and {title} tabs "
                                    f"by {err:.1e} of its largest entry")
                elif name not in compared:
                    compared.append(name)
    if not compared and not problems:
        problems.append(f"the tabs {list(group.tabs)} share no number, array or tensor, so nothing "
                        "is compared; give the results the same names in every tab")
    return compared, problems


@pytest.mark.parametrize("group", GROUPS, ids=[g.id for g in GROUPS])
def test_tabs_compute_the_same(group):
    if any(imports_torch(b.source) for b in group.tabs.values()):
        pytest.importorskip("torch")
    compared, problems = compare(group)
    assert not problems, f"{group.id}: " + "; ".join(problems)
    print(f"{group.id}: {', '.join(compared)} agree in tabs {', '.join(group.tabs)}")


def test_the_comparison_catches_a_difference(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(textwrap.dedent("""\
        ```python
        import numpy as np
        x = np.arange(4.0)
        ```

        === "A"

            ```{.python continuation}
            y = x * 2
            s = float(y.sum())
            ```

        === "B"

            ```{.python continuation}
            y = x + x
            s = float(y.sum()) + 1e-3
            ```
        """))
    groups, _ = _page_groups(page, tmp_path)
    compared, problems = compare(groups[0])
    assert compared == ["y"] and len(problems) == 1 and "'s' differs" in problems[0]


def test_a_tab_group_ends_its_chain():
    problems = []
    for page in sorted(DOCS.rglob("*.md")):
        groups, blocks = _page_groups(page)
        for g in groups:
            last = max(b.fence.end for b in g.tabs.values())
            after = next((b for b in blocks if b.fence.start > last and b.fence.is_tested), None)
            if after is not None and after.fence.is_continuation:
                problems.append(f"{g.id}: the block at line {after.fence.start + 1} continues the "
                                "chain after a tab group; start a new example there (a plain ```python block)")
    assert not problems, "\n".join(problems)


def test_tab_report(terminal_summary):
    """How many groups there are, and which chapters with package code have none."""
    assert GROUPS, "no content-tab groups in docs/: the NumPy/PyTorch tabs are gone"
    pages_with_tabs = {g.page for g in GROUPS}
    torch_pages = {g.page for g in GROUPS if any(imports_torch(b.fence.code) for b in g.tabs.values())}
    no_tabs = sorted(
        p.relative_to(DOCS).as_posix()
        for p in DOCS.rglob("*.md")
        if '--8<-- "src/rnn/' in p.read_text("utf8") and p.relative_to(DOCS).as_posix() not in pages_with_tabs
    )
    terminal_summary.append(
        f"tabs: {len(GROUPS)} NumPy/PyTorch groups on {len(pages_with_tabs)} pages "
        f"({len(torch_pages)} with PyTorch); pages including package code without tabs: {no_tabs or 'none'}")
