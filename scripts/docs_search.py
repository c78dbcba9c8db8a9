"""Readable search previews: the search index holds each section's text,
which the search box shows under every result. Left alone it would show TeX
source (``\\(\\nabla_{\\boldsymbol{W}} L\\)``) and, on notebook pages, the
copy buttons' "Copied!" and a second copy of every code cell.

``clean_index()`` rewrites ``search/search_index.json`` after the search
plugin wrote it: formulas become plain Unicode text (``∇W L``), notebook
noise is dropped. The pages themselves are not changed.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from pathlib import Path

GREEK = {
    name: chr(code)
    for name, code in {
        "alpha": 0x3B1, "beta": 0x3B2, "gamma": 0x3B3, "delta": 0x3B4, "epsilon": 0x3B5,
        "varepsilon": 0x3B5, "zeta": 0x3B6, "eta": 0x3B7, "theta": 0x3B8, "iota": 0x3B9,
        "kappa": 0x3BA, "lambda": 0x3BB, "mu": 0x3BC, "nu": 0x3BD, "xi": 0x3BE, "pi": 0x3C0,
        "rho": 0x3C1, "sigma": 0x3C3, "tau": 0x3C4, "upsilon": 0x3C5, "phi": 0x3C6,
        "varphi": 0x3C6, "chi": 0x3C7, "psi": 0x3C8, "omega": 0x3C9, "Gamma": 0x393,
        "Delta": 0x394, "Theta": 0x398, "Lambda": 0x39B, "Xi": 0x39E, "Pi": 0x3A0,
        "Sigma": 0x3A3, "Phi": 0x3A6, "Psi": 0x3A8, "Omega": 0x3A9,
    }.items()
}
SYMBOLS = {
    "nabla": "∇", "partial": "∂", "sum": "Σ", "prod": "Π", "odot": "⊙", "otimes": "⊗",
    "cdot": "·", "times": "×", "top": "ᵀ", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥",
    "ne": "≠", "neq": "≠", "approx": "≈", "sim": "~", "in": "∈", "infty": "∞", "to": "→",
    "rightarrow": "→", "leftarrow": "←", "mapsto": "↦", "dots": "…", "ldots": "…",
    "cdots": "⋯", "vdots": "⋮", "pm": "±", "sqrt": "√", "lVert": "‖", "rVert": "‖",
    "Vert": "‖", "|": "‖", "quad": " ", "qquad": " ", ",": " ", ";": " ", ":": " ", "!": "",
    "langle": "⟨", "rangle": "⟩", "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉",
    "log": "log", "ln": "ln", "exp": "exp", "tanh": "tanh", "max": "max", "min": "min",
    "arg": "arg", "det": "det", "sin": "sin", "cos": "cos", "circ": "∘", "propto": "∝",
    "equiv": "≡", "forall": "∀", "exists": "∃", "ell": "ℓ", "star": "⋆", "ast": "∗",
    "{": "{", "}": "}", "_": "_", "%": "%", "&": "&", "#": "#", "$": "$",
}
SIZING = r"left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg|middle|displaystyle|textstyle|limits|nolimits"
ACCENTS = {"hat": "\u0302", "tilde": "\u0303", "bar": "\u0304", "vec": "\u20d7", "dot": "\u0307"}
SUPERSCRIPTS = str.maketrans("0123456789+-=()nit", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵗ")


def _group(s: str, i: int) -> tuple[str, int]:
    """The argument starting at s[i]: a {...} group (without braces) or one token."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        return "", i
    if s[i] == "{":
        depth, j = 0, i
        while j < len(s):
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            if depth == 0:
                return s[i + 1 : j], j + 1
            j += 1
        return s[i + 1 :], len(s)
    if s[i] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", s[i:])
        return m.group(0), i + len(m.group(0))
    return s[i], i + 1


def tex_to_text(tex: str) -> str:
    """A readable plain-text rendering of a TeX formula (for previews only)."""
    s = re.sub(r"\\(begin|end)\{[a-z*]+\}", " ", tex)
    s = re.sub(r"\\\\", "; ", s).replace("&", " ")
    out: list[str] = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", s[i:])
            name = m.group(1)
            i += len(m.group(0))
            if re.fullmatch(SIZING, name):
                continue
            if name in ("frac", "dfrac", "tfrac"):
                num, i = _group(s, i)
                den, i = _group(s, i)
                num, den = tex_to_text(num), tex_to_text(den)
                wrap = lambda t: t if re.fullmatch(r"[\w∂∇.]+", t.strip()) else f"({t.strip()})"  # noqa: E731
                out.append(f"{wrap(num)}/{wrap(den)}")
            elif name in ACCENTS:
                arg, i = _group(s, i)
                arg = tex_to_text(arg)
                out.append(arg + ACCENTS[name] if len(arg) == 1 else arg)
            elif name in ("text", "textrm", "mathrm", "mathbf", "boldsymbol", "mathit", "mathcal",
                          "operatorname", "mathbb", "bm", "mbox", "textbf", "textit", "mathsf"):
                arg, i = _group(s, i)
                out.append(tex_to_text(arg))
            elif name in GREEK:
                out.append(GREEK[name])
            elif name in SYMBOLS:
                out.append(SYMBOLS[name])
            else:
                out.append(name)  # unknown command: its name, without the backslash
        elif ch in "^_":
            arg, i = _group(s, i + 1)
            text = tex_to_text(arg).strip()
            if ch == "^" and text and all(c in "0123456789+-=()nit" for c in text):
                out.append(text.translate(SUPERSCRIPTS))
            elif ch == "^" and text == "ᵀ":
                out.append(text)
            else:
                out.append(text if len(text) <= 1 else f"({text})" if ch == "_" and " " in text else text)
        elif ch in "{}":
            i += 1
        else:
            out.append(ch)
            i += 1
    return unicodedata.normalize("NFC", re.sub(r"\s+", " ", "".join(out)).strip())


RE_MATH = re.compile(
    r"\\\((?P<inline>.+?)\\\)|\\\[(?P<display>.+?)\\\]|\$\$(?P<dd>.+?)\$\$"
    # $...$ as notebook Markdown cells write it (not a lone price like $5)
    r"|(?<![\\$\w])\$(?=\S)(?P<single>[^$\n]+?)(?<=\S)\$(?![\w$])",
    re.S,
)
RE_CODE = re.compile(r"(<pre>.*?</pre>|<code>.*?</code>)", re.S)


def _drop_copy_duplicates(text: str) -> str:
    """mkdocs-jupyter keeps every code cell twice: highlighted, and as the
    hidden text its copy button copies, which the index holds as plain text
    right after the ``<pre>``. Drop that second copy."""
    out, pos = [], 0
    for m in re.finditer(r"<pre>(.*?)</pre>", text, re.S):
        out.append(text[pos : m.end()])
        pos = m.end()
        tokens = m.group(1).split()
        if tokens:
            dup = re.match(r"\s*" + r"\s+".join(map(re.escape, tokens)), text[pos:])
            if dup:
                pos += dup.end()
    out.append(text[pos:])
    return "".join(out)


def clean_text(text: str) -> str:
    """One search entry's text: math as plain text, no notebook noise. Code
    (``<pre>``, ``<code>``) is left as it is."""
    text = text.replace("Copied!", " ")
    text = _drop_copy_duplicates(text)
    parts = RE_CODE.split(text)
    for i in range(0, len(parts), 2):  # the text between code elements
        part = RE_MATH.sub(lambda m: _math(next(g for g in m.groups() if g is not None)), parts[i])
        part = re.sub(r"\b(In|Out)\s?\[\s*\d*\s*\]:", " ", part)
        parts[i] = re.sub(r"[ \t]{2,}", " ", part)
    return "".join(parts).strip()


def _math(tex: str) -> str:
    """TeX as the index holds it (HTML-escaped) -> plain text, HTML-escaped."""
    return html.escape(tex_to_text(html.unescape(tex)), quote=False)


def clean_index(site_dir: str | Path) -> int:
    """Rewrite search/search_index.json in place; return the number of entries."""
    path = Path(site_dir) / "search" / "search_index.json"
    if not path.is_file():
        return 0
    index = json.loads(path.read_text("utf8"))
    for doc in index.get("docs", []):
        doc["text"] = clean_text(doc.get("text", ""))
        doc["title"] = clean_text(doc.get("title", ""))
    path.write_text(json.dumps(index, ensure_ascii=False, separators=(",", ":")), "utf8")
    return len(index.get("docs", []))
