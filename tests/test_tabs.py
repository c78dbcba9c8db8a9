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

Every chapter with model code (a page that includes package source with
``--8<-- "src/rnn/..."`` or whose tested blocks import ``rnn``) has at least
one group, except the pages of NO_TABS, each with the reason a PyTorch twin
makes no sense there (test_every_chapter_with_model_code_has_tabs).
"""

from __future__ import annotations

import ast
import re
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
    """Names bound at the module level of ``code``: assignments and loop or
    ``with`` targets, also inside ``for``/``while``/``if``/``with``/``try``
    blocks (imports, function bodies and throwaways like ``_`` excluded)."""
    names: set[str] = set()

    def visit(statements):
        for node in statements:
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
                targets = [node.target]
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                targets = [i.optional_vars for i in node.items if i.optional_vars]
            for t in targets:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name) and not n.id.startswith("_"))
            for field in ("body", "orelse", "finalbody"):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    visit(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                visit(handler.body)

    visit(ast.parse(code).body)
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


def compare(group: Group) -> tuple[list[str], list[str], float]:
    """Run every tab of the group; return (names compared, problems, the
    largest difference found, relative to each array's largest entry)."""
    results = {}
    for title, block in group.tabs.items():
        results[title] = (run_tab(block, f"{group.page} [{title} tab]"), assigned_names(block.fence.code))
    common = set.intersection(*(names for _, names in results.values()))
    (ref_title, (ref, _)), *others = results.items()
    compared, problems, worst = [], [], 0.0
    for name in sorted(common):
        unbound = [title for title, (ns, _) in results.items() if name not in ns]
        if unbound:  # assigned in a branch that did not run
            problems.append(f"{name!r} is assigned in every tab but not bound after the {unbound} tab ran")
            continue
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
                worst = max(worst, err)
                if err > 1e-9:
                    problems.append(f"{name!r} differs between the {ref_title} and {title} tabs "
                                    f"by {err:.1e} of its largest entry")
                elif name not in compared:
                    compared.append(name)
    if not compared and not problems:
        problems.append(f"the tabs {list(group.tabs)} share no number, array or tensor, so nothing "
                        "is compared; give the results the same names in every tab")
    return compared, problems, worst


WORST: dict[str, float] = {}  # group id -> largest difference, for the report


@pytest.mark.parametrize("group", GROUPS, ids=[g.id for g in GROUPS])
def test_tabs_compute_the_same(group):
    if any(imports_torch(b.source) for b in group.tabs.values()):
        pytest.importorskip("torch")
    compared, problems, worst = compare(group)
    assert not problems, f"{group.id}: " + "; ".join(problems)
    WORST[group.id] = worst
    print(f"{group.id}: {', '.join(compared)} agree in tabs {', '.join(group.tabs)} "
          f"(largest difference {worst:.0e} of the largest entry)")


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
    compared, problems, worst = compare(groups[0])
    assert compared == ["y"] and len(problems) == 1 and "'s' differs" in problems[0]
    assert worst == pytest.approx(1e-3 / 12)  # s = 12 in tab A


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


# Chapters with model code that have no NumPy/PyTorch tabs, and why.
NO_TABS = {
    "index.md": "the home page: its one block tours the layer protocol of all three cells; "
                "the chapters it links to hold each cell's tabs",
    "notation.md": "a reference of symbols and shapes: its blocks check the shapes the "
                   "notation promises, they compute nothing a PyTorch twin would confirm",
    "gradcheck.md": "its PyTorch section is itself one of the chapter's checks: it prints the "
                    "relative errors of the loss and every gradient against float64 nn.RNN + "
                    "Linear + cross_entropy, since how far two computations of a gradient may "
                    "differ is what the chapter teaches; bptt.md's tabs compute the same "
                    "gradients by autograd",
    "reliability.md": "checkpoint files, signals and memory budgets: package machinery with "
                      "no PyTorch counterpart to compare",
    "train-your-own.md": "the rnn train / rnn sample command line; the training step in PyTorch "
                         "is char-rnn.md's tabs, continuing training in PyTorch is to-pytorch.md",
    "to-pytorch.md": "the page is the bridge itself: every block moves a model between the "
                     "package and torch and checks the two sides against each other",
    "interactive/live-model.md": "its one block writes and reads the model file the page's "
                                 "JavaScript runs; the browser's numbers are checked against the "
                                 "package in tests/test_site_interactive.py, the model's PyTorch "
                                 "twin is to-pytorch.md's",
    "making-it-fast.md": "its blocks check the fast layers against the reference ones the other "
                         "chapters teach (and those have tabs) and time them; PyTorch is the "
                         "speed baseline of benchmarks/speed.py and the speed notebook, not a "
                         "second computation of a result",
}

RE_IMPORTS_RNN = re.compile(r"^\s*(import rnn\b|from rnn\b)", re.M)


def has_model_code(path: Path) -> bool:
    """Does the page include package source, or import rnn in a tested block?"""
    text = path.read_text("utf8")
    if '--8<-- "src/rnn/' in text:
        return True
    blocks = code_blocks(text.split("\n"))
    return any(b.fence.is_tested and RE_IMPORTS_RNN.search(b.fence.code) for b in blocks)


def test_every_chapter_with_model_code_has_tabs(terminal_summary):
    assert GROUPS, "no content-tab groups in docs/: the NumPy/PyTorch tabs are gone"
    pages = {p.relative_to(DOCS).as_posix(): p for p in sorted(DOCS.rglob("*.md"))}
    with_code = {rel for rel, p in pages.items() if has_model_code(p)}
    with_tabs = {g.page for g in GROUPS}
    missing = sorted(with_code - with_tabs - set(NO_TABS))
    stale = sorted(rel for rel in NO_TABS if rel not in with_code or rel in with_tabs)
    torch_pages = {g.page for g in GROUPS if any(imports_torch(b.fence.code) for b in g.tabs.values())}
    line = (f"tabs: {len(GROUPS)} NumPy/PyTorch groups on {len(with_tabs)} pages "
            f"({len(torch_pages)} with PyTorch); {len(with_code)} pages with model code, "
            f"{len(NO_TABS)} of them without tabs by design ({', '.join(sorted(NO_TABS))})")
    if WORST:
        page, worst = max(WORST.items(), key=lambda kv: kv[1])
        line += f"; largest difference between tabs {worst:.0e} of the largest entry ({page})"
    terminal_summary.append(line)
    assert not missing, (
        f"pages with model code but no NumPy/PyTorch tab group: {missing}. Add a group "
        "(=== \"NumPy\" / === \"PyTorch\") computing the page's model both ways, or add the "
        "page to NO_TABS in tests/test_tabs.py with the reason a PyTorch twin makes no sense")
    assert not stale, (f"NO_TABS lists {stale}, which have no model code or do have tabs: "
                       "remove them from the list")


def test_model_code_is_recognised(tmp_path):
    included = tmp_path / "a.md"
    included.write_text('```python\n--8<-- "src/rnn/rnn_cell.py:forward"\n```\n')
    imported = tmp_path / "b.md"
    imported.write_text("```{.python continuation}\nimport numpy as np\nfrom rnn import rnn_step\n```\n")
    untested = tmp_path / "c.md"
    untested.write_text("```{.python notest}\nimport rnn\n```\n\n```console\n$ rnn train\n```\n")
    assert has_model_code(included) and has_model_code(imported) and not has_model_code(untested)
