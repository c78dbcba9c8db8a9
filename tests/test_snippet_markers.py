"""Every `--8<-- [start:name]` section in src/ (and tests/) is included by some page, and
every `--8<-- "file:name"` include in docs/ names a section that exists (the
strict build would fail on a missing file, but not on an unused section)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = re.compile(r'--8<--\s+"([^":]+)(?::([^"]+))?"')
START = re.compile(r"--8<-- \[start:([^\]]+)\]")
END = re.compile(r"--8<-- \[end:([^\]]+)\]")


def _sections():
    found = {}
    tests = [p for p in sorted((ROOT / "tests").rglob("*.py")) if p.name != Path(__file__).name]
    for path in sorted((ROOT / "src").rglob("*.py")) + tests:
        text = path.read_text("utf8")
        starts, ends = START.findall(text), END.findall(text)
        assert sorted(starts) == sorted(ends), f"{path}: unbalanced section markers"
        assert len(set(starts)) == len(starts), f"{path}: a section name is used twice"
        rel = path.relative_to(ROOT).as_posix()
        found.update({(rel, name): path for name in starts})
    return found


def _includes():
    used = set()
    for path in sorted((ROOT / "docs").rglob("*")):
        if path.suffix in (".md", ".py") and path.is_file():
            for m in INCLUDE.finditer(path.read_text("utf8")):
                used.add((m.group(1), m.group(2), path.relative_to(ROOT).as_posix()))
    return used


def test_every_section_is_included_and_every_include_exists():
    sections = _sections()
    includes = _includes()
    assert sections, "no section markers found in src/"
    missing = sorted(f"{page} includes {f}:{name}" for f, name, page in includes
                     if name is not None and (f, name) not in sections)
    unused = sorted(f"{f}:{name}" for f, name in sections
                    if not any((f, name) == (i[0], i[1]) for i in includes))
    assert not missing, f"includes of sections that do not exist: {missing}"
    assert not unused, f"sections no page includes (remove the markers): {unused}"
    for f, name, page in includes:
        assert (ROOT / f).is_file(), f"{page} includes {f}, which does not exist"
