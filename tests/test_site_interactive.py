"""The interactive pages (docs/interactive/) compute what the package computes.

They share the session's one site build and one Chromium (tests/conftest.py).
Every number a figure shows is read from the page, where the figure keeps it
in full precision (data-* attributes), and compared with the package run on
the same data, which the test reads from the built site:

* live model: a fixed text typed into the page; the distribution it shows
  equals ``rnn.model.forward`` + ``rnn.sample.next_distribution`` on the
  exported file, for both cells and two temperatures, to 1e-5, and so does
  the hidden state; a seed gives the same continuation twice, the one a
  Python re-implementation of the page's generator draws from the package's
  distributions; unknown characters are named;
* a damaged, cut or newer-version model file shows a clear message;
* a reader's own file (rnn export), loaded with the page's file button: LSTM
  and GRU models of several layers equal the package too;
* units: the coloured activations equal ``rnn.units.hidden_states``; the
  correlations and names the page shows equal ``rnn.units`` recomputed on
  the held-out text;
* BPTT stepper: after every step, each term and running sum equals
  ``rnn.output_backward`` / ``rnn.rnn_backward``; the forward numbers equal
  ``rnn.rnn_forward``; the gradient-norm slider equals
  ``rnn.dynamics.loss_gradient_norms`` and ``decay_rate``;
* the figures start on pages reached by Material's instant navigation;
* keyboard: the stepper and the passage work from the keyboard; axe-core
  (all rules) passes on each page in light and dark mode with the figures
  drawn and stepped; the pages do not scroll sideways at 390 px.

The terminal summary reports each interactive page's weight.
"""

from __future__ import annotations

import json
import math
from urllib.parse import urljoin

import numpy as np
import pytest

from site_helpers import PHONE, WEIGHT, axe_scan, axe_source, open_context, toggle_palette

DATA = "interactive/data"
LIVE = "interactive/live-model/"
UNITS = "interactive/units/"
BPTT = "interactive/bptt/"
TYPED = "HAMLET:\nTo be, or not to be: that is the quest"
TOL = 1e-5


@pytest.fixture(scope="module")
def site(build):
    assert build.returncode == 0, "site did not build"
    return build.site


def exported(site, cell):
    from rnn.export import load_export

    ex = load_export(site / DATA / f"model-{cell}.bin")
    return {k: v.astype(np.float64) for k, v in ex.params.items()}, ex.vocab, ex.meta


def open_page(browser, server, rel, **kwargs):
    context, page, watcher = open_context(browser, **kwargs)
    page.goto(urljoin(server.url, rel), wait_until="load")
    return context, page, watcher


def wait_ready(page, widget, cell=None):
    cond = f"[data-rnn-widget='{widget}'][data-state='ready']" + (f"[data-cell='{cell}']" if cell else "")
    page.wait_for_selector(cond, timeout=15_000)


def check_clean(watcher):
    assert not watcher.errors and not watcher.external, watcher.errors + watcher.external


# --------------------------------------------------------------------------
# the live model
# --------------------------------------------------------------------------


def shown_distribution(page):
    items = page.locator("[data-rnn-widget='live-model'] ol.rnn-dist li")
    return [(li.get_attribute("data-char"), float(li.get_attribute("data-prob"))) for li in items.all()]


def numpy_distribution(params, vocab, text, temperature):
    from rnn.model import forward
    from rnn.sample import next_distribution

    o, _ = forward(params, vocab.encode(text)[:, None])
    return next_distribution(o[-1, 0], temperature)


def type_text(page, text):
    box = page.locator("[data-rnn-widget='live-model'] textarea")
    box.fill("")
    box.press_sequentially(text)  # key by key, as a reader types


def test_live_model_shows_numpys_distribution_and_state(site, server, browser):
    from rnn.units import hidden_states

    context, page, watcher = open_page(browser, server, LIVE)
    try:
        for cell in ("rnn", "gru"):
            params, vocab, _ = exported(site, cell)
            page.locator(f"[data-rnn-widget='live-model'] input[type=radio][value='{cell}']").check()
            wait_ready(page, "live-model", cell)
            type_text(page, TYPED)
            for temperature in (1.0, 0.5):
                page.locator("[data-rnn-widget='live-model'] input[type=range]").fill(str(temperature))
                shown = shown_distribution(page)
                p = numpy_distribution(params, vocab, TYPED, temperature)
                top = np.argsort(-p, kind="stable")[:10]
                assert [c for c, _ in shown] == [vocab.chars[i] for i in top], (cell, temperature)
                np.testing.assert_allclose([q for _, q in shown], p[top], atol=TOL, rtol=0)
            h_page = json.loads(page.locator("[data-rnn-widget='live-model'] canvas").get_attribute("data-h"))
            acts, _ = hidden_states(params, vocab.encode(TYPED))
            np.testing.assert_allclose(h_page, acts[-1], atol=TOL, rtol=0)
            # editing in the middle recomputes from there (the page caches the states)
            page.locator("[data-rnn-widget='live-model'] textarea").fill(TYPED.replace("be", "go", 1))
            shown = shown_distribution(page)
            p = numpy_distribution(params, vocab, TYPED.replace("be", "go", 1), 0.5)
            np.testing.assert_allclose([q for _, q in shown], np.sort(p)[::-1][:10], atol=TOL, rtol=0)
        check_clean(watcher)
    finally:
        context.close()


def mulberry32(seed):
    """The page's generator (docs/javascripts/interactive/model.js), in Python."""
    a = seed & 0xFFFFFFFF
    while True:
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = ((t ^ (t >> 15)) * (t | 1)) & 0xFFFFFFFF
        t ^= (t + ((t ^ (t >> 7)) * (t | 61))) & 0xFFFFFFFF
        yield ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296


def reference_sample(params, vocab, text, n, temperature, seed):
    """Draw n characters with the package's forward pass and distribution and
    the page's rule: the first index whose running sum exceeds the uniform draw."""
    from rnn.model import forward
    from rnn.sample import next_distribution

    o, state = forward(params, vocab.encode(text)[:, None])
    o = o[-1, 0]
    draws = mulberry32(seed)
    out = []
    for _ in range(n):
        p = next_distribution(o, temperature)
        u, acc, pick = next(draws), 0.0, int(np.flatnonzero(p)[-1])
        for i, q in enumerate(p):
            acc += q
            if u < acc:
                pick = i
                break
        out.append(vocab.chars[pick])
        o, state = forward(params, np.array([[pick]]), state)
        o = o[0, 0]
    return "".join(out)


def test_the_python_generator_is_the_pages(server, browser, build):
    """mulberry32 above gives the numbers of the page's own module, for seeds at
    the edges of 32 bits (the sampling test then relies on it)."""
    context, page, watcher = open_page(browser, server, LIVE)
    try:
        module = urljoin(server.url, "javascripts/interactive/model.js")
        seeds = [0, 1, 7, 2**31 - 1, 2**31, 2**32 - 1]
        got = page.evaluate("""async ([url, seeds]) => {
            const M = await import(url);
            return seeds.map((s) => { const next = M.mulberry32(s); return Array.from({length: 200}, next); });
        }""", [module, seeds])
        for seed, numbers in zip(seeds, got):
            g = mulberry32(seed)
            assert numbers == [next(g) for _ in range(200)], seed
        check_clean(watcher)
    finally:
        context.close()


def test_live_model_sampling_is_seeded(site, server, browser):
    params, vocab, _ = exported(site, "rnn")
    context, page, watcher = open_page(browser, server, LIVE)
    root = "[data-rnn-widget='live-model']"
    try:
        wait_ready(page, "live-model", "rnn")
        type_text(page, TYPED)
        page.locator(f"{root} input[type=range]").fill("0.8")
        page.get_by_label("Characters", exact=True).fill("120")

        def sample(seed):
            page.get_by_label("Seed", exact=True).fill(str(seed))
            page.get_by_role("button", name="Sample a continuation").click()
            page.wait_for_function(f"document.querySelector(\"{root} pre\").dataset.seed === '{seed}'")
            return page.locator(f"{root} pre.rnn-live__sample").text_content()

        first, again, other = sample(7), sample(7), sample(8)
        assert len(first) == 120 and first == again and other != first
        assert first == reference_sample(params, vocab, TYPED, 120, 0.8, 7)
        assert sample(1) != first  # and back: the same seed, the same text, after others
        assert sample(7) == first
        # characters the model does not know are skipped and named
        type_text(page, "Hamlet — “hi”")
        note = page.locator(f"{root} .rnn-live__note").first.text_content()
        assert "skipped" in note and "“—”" in note and "““”" in note
        check_clean(watcher)
    finally:
        context.close()


def damaged_versions(data: bytes) -> dict:
    """Bytes served instead of the model file, and the message each must show."""
    import struct

    return {
        "damaged": (data[:-1] + bytes([data[-1] ^ 0x10]), "the file is damaged"),
        "cut": (data[: len(data) // 2], "the file is cut"),
        "version": (data[:4] + struct.pack("<I", 2) + data[8:], "format version 2, this page reads version 1"),
        "not a model": (b"<!doctype html><title>x</title>" + b" " * 64, "not an rnn model export"),
    }


@pytest.mark.parametrize("case", ["damaged", "cut", "version", "not a model"])
def test_a_bad_model_file_shows_a_clear_message(site, server, browser, case):
    body, message = damaged_versions((site / DATA / "model-rnn.bin").read_bytes())[case]
    context, page, watcher = open_context(browser)
    try:
        context.route("**/model-rnn.bin", lambda route: route.fulfill(status=200, body=body,
                                                                     content_type="application/octet-stream"))
        page.goto(urljoin(server.url, LIVE), wait_until="load")
        page.wait_for_selector("[data-rnn-widget='live-model'][data-state='error']", timeout=15_000)
        alert = page.locator("[data-rnn-widget='live-model'] [role=alert]")
        assert alert.is_visible()
        text = alert.inner_text()
        assert "vanilla RNN model cannot be used" in text and message in text, text
        # the other cell still works
        page.locator("[data-rnn-widget='live-model'] input[type=radio][value='gru']").check()
        wait_ready(page, "live-model", "gru")
        assert page.locator("[data-rnn-widget='live-model'] [role=alert]").count() == 0
        check_clean(watcher)
    finally:
        context.close()


def test_your_own_model_every_cell_and_depth(server, browser, tmp_path):
    """A file from rnn.export, loaded with the page's file button: the LSTM and
    deeper models too, each equal to the package's forward pass."""
    from rnn.data import Vocab
    from rnn.export import load_export, save_export
    from rnn.model import init_params
    from rnn.units import hidden_states

    vocab = Vocab.from_text(TYPED + "xyz")
    context, page, watcher = open_page(browser, server, LIVE)
    root = "[data-rnn-widget='live-model']"
    try:
        wait_ready(page, "live-model", "rnn")
        for n, (cell, layers) in enumerate([("lstm", 1), ("lstm", 2), ("gru", 2), ("rnn", 3)]):
            params = init_params(vocab.size, 6, cell=cell, layers=layers, init="scaled", seed=n)
            params["V"] = 4 * params["V"]  # a distribution far from uniform
            path = tmp_path / f"{cell}-{layers}.bin"
            save_export(path, params, vocab)
            page.locator(f"{root} input[type=file]").set_input_files(str(path))
            page.wait_for_function(
                f"(() => {{ const r = document.querySelector(\"{root}\");"
                f" return r.dataset.state === 'ready' && r.dataset.cell === 'file'"
                f" && r.textContent.includes('({path.name})'); }})()")
            type_text(page, TYPED)
            ex = load_export(path)
            p64 = {k: v.astype(np.float64) for k, v in ex.params.items()}
            shown = shown_distribution(page)
            p = numpy_distribution(p64, vocab, TYPED, 1.0)
            top = np.argsort(-p, kind="stable")[:10]
            assert [c for c, _ in shown] == [vocab.chars[i] for i in top], (cell, layers)
            np.testing.assert_allclose([q for _, q in shown], p[top], atol=TOL, rtol=0)
            h_page = json.loads(page.locator(f"{root} canvas").get_attribute("data-h"))
            np.testing.assert_allclose(h_page, hidden_states(p64, vocab.encode(TYPED))[0][-1], atol=TOL, rtol=0)
        bad = tmp_path / "bad.bin"
        data = path.read_bytes()
        bad.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
        page.locator(f"{root} input[type=file]").set_input_files(str(bad))
        alert = page.locator(f"{root} [role=alert]")
        alert.wait_for()
        assert "Your file bad.bin cannot be used" in alert.inner_text() and "damaged" in alert.inner_text()
        assert page.locator(root).get_attribute("data-state") == "ready"  # the last model still runs
        check_clean(watcher)
    finally:
        context.close()


# --------------------------------------------------------------------------
# what the units learned
# --------------------------------------------------------------------------


def test_units_page_shows_the_packages_numbers(site, server, browser):
    from rnn.corpus import default_corpus
    from rnn.data import Vocab, split
    from rnn.units import correlations, hidden_states, name_units, text_features

    data = json.loads((site / DATA / "units.json").read_text("utf8"))
    # the correlations and names: rnn.units again, on the held-out text the build used
    text, _ = default_corpus()
    vocab = Vocab.from_text(text)
    val = vocab.decode(split(vocab.encode(text), data["source"]["val_fraction"])[1])
    analysed = val[data["source"]["offset"]:data["source"]["offset"] + data["chars"]]
    names, F = text_features(analysed)
    assert names == [f["name"] for f in data["features"]]
    for p in data["passages"]:
        assert analysed[p["start"]:p["start"] + len(p["text"])] == p["text"]
    context, page, watcher = open_page(browser, server, UNITS)
    root = "[data-rnn-widget='units']"
    try:
        for cell in ("rnn", "gru"):
            params, vocab_m, _ = exported(site, cell)
            acts = hidden_states(params, vocab_m.encode(analysed))[0]
            r = correlations(acts, F)
            assert data["models"][cell]["change"] == pytest.approx(np.abs(np.diff(acts, axis=0)).mean(),
                                                                   rel=1e-9)
            stored = np.array([[np.nan if v is None else v for v in row] for row in data["models"][cell]["r"]])
            np.testing.assert_allclose(stored, r, atol=1e-4, equal_nan=True)
            assert [u["interpretable"] for u in data["models"][cell]["units"]] == \
                [u.interpretable for u in name_units(r, names)]
            page.locator(f"{root} input[type=radio][value='{cell}']").check()
            wait_ready(page, "units", cell)
            options = page.locator(f"{root} select").first.locator("option")
            for pick in (0, options.count() - 1):  # the strongest unit and an unnamed one
                value = options.nth(pick).get_attribute("value")
                page.locator(f"{root} select").first.select_option(value)
                unit = int(value)
                for passage in range(len(data["passages"])):
                    page.locator(f"{root} select").nth(1).select_option(str(passage))
                    page.wait_for_function(
                        f"(() => {{ const r = document.querySelector(\"{root}\");"
                        f" return r.dataset.unit === '{unit}' && r.dataset.passage === '{passage}'; }})()")
                    shown = [float(a) for a in page.eval_on_selector_all(
                        f"{root} .rnn-units__text span", "spans => spans.map(s => s.dataset.a)")]
                    ptext = data["passages"][passage]["text"]
                    acts, _ = hidden_states(params, vocab_m.encode(ptext))
                    np.testing.assert_allclose(shown, acts[:, unit], atol=TOL, rtol=0)
                verdict = page.locator(f"{root} .rnn-units__verdict").inner_text()
                best = name_units(r, names)[unit]
                assert f"Unit {unit} " in verdict
                assert (f"{abs(best.r):.2f}" in verdict) and (("follows" in verdict) == best.interpretable)
        check_clean(watcher)
    finally:
        context.close()


def test_units_tables_in_the_prose_are_the_builds(site):
    """The page's Markdown tables (made by the build) name the same best unit and r."""
    import re

    html = (site / UNITS / "index.html").read_text("utf8")
    data = json.loads((site / DATA / "units.json").read_text("utf8"))
    for cell in ("rnn", "gru"):
        r = np.array([[np.nan if v is None else v for v in row] for row in data["models"][cell]["r"]])
        for j, f in enumerate(data["features"]):
            if np.all(np.isnan(r[:, j])):
                continue
            unit = int(np.nanargmax(np.abs(r[:, j])))
            row = f"<td>{f['label']}</td>"
            assert row in html
            assert re.search(re.escape(row) + r".*?<td>" + str(unit) + r"</td>\s*<td>" +
                             re.escape(f"{r[unit, j]:+.2f}".replace("-", "−")) + "</td>", html, re.S), (cell, f["name"])


# --------------------------------------------------------------------------
# the BPTT stepper and the gradient-norm slider
# --------------------------------------------------------------------------


def vec(locator):
    return np.array(json.loads(locator.get_attribute("data-v")), dtype=float)


def check_stepper(page, m, text):
    """Step through the whole backward pass; compare every number with the package."""
    from rnn import output_backward, output_forward, rnn_backward, rnn_forward, softmax_cross_entropy
    from rnn.model import one_hot

    root = "[data-rnn-widget='bptt-stepper']"
    U, W, b, V, c = (np.array(m[k], dtype=float) for k in "UWbVc")
    K, H = len(m["vocab"]), len(m["b"])
    ids = np.array([m["vocab"].index(ch) for ch in text])
    x, y = one_hot(ids[:-1, None], K), ids[1:, None]
    T = len(ids) - 1
    h0 = np.zeros((1, H))
    h, cache = rnn_forward(x, h0, U, W, b)
    o = output_forward(h, V, c)
    loss, do = softmax_cross_entropy(o, y, reduction="sum")
    dh_out, _, _ = output_backward(do, h, V)
    # the forward pass, as drawn
    losses = [float(e.get_attribute("data-loss")) for e in page.locator(f"{root} svg [data-loss]").all()]
    yhat = np.exp(o[:, 0] - o[:, 0].max(axis=1, keepdims=True))
    yhat /= yhat.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(losses, -np.log(yhat[np.arange(T), y[:, 0]]), atol=1e-12)
    assert sum(losses) == pytest.approx(loss, abs=1e-12)
    hs = [json.loads(e.get_attribute("data-h")) for e in page.locator(f"{root} svg [data-h]").all()]
    np.testing.assert_allclose(hs, h[:, 0], atol=1e-12)
    if page.get_by_role("button", name="Start over").is_enabled():
        page.get_by_role("button", name="Start over").click()
    for k in range(1, T + 1):
        page.get_by_role("button", name="Next step back in time").click()
        page.wait_for_selector(f"{root}[data-done='{k}']")
        t = T - k  # 0-based index of the step just taken: book time t + 1
        # the suffix from this step on, from the state before it: rnn_backward's dh0 on
        # the suffix after it is the term from h(t+1); its sums are the sums so far
        h_before = h[t - 1] if t > 0 else h0
        after = None
        if t < T - 1:
            _, cache_after = rnn_forward(x[t + 1:], h[t], U, W, b)
            after = rnn_backward(dh_out[t + 1:], cache_after)
        _, cache_from = rnn_forward(x[t:], h_before, U, W, b)
        _, dh0_from, dU, dW, db = rnn_backward(dh_out[t:], cache_from)
        from_next = after[1][0] if after is not None else np.zeros(H)
        row = page.locator(f"{root} .rnn-bptt__ledger tr[data-t='{t + 1}'] td")
        np.testing.assert_allclose(vec(row.nth(0)), dh_out[t, 0], atol=1e-12)
        np.testing.assert_allclose(vec(row.nth(1)), from_next, atol=1e-12)
        np.testing.assert_allclose(vec(row.nth(2)), dh_out[t, 0] + from_next, atol=1e-12)
        terms = page.locator(f"{root} .rnn-bptt__current")
        np.testing.assert_allclose(vec(terms.locator("[data-term='da'] td")),
                                   (dh_out[t, 0] + from_next) * (1 - h[t, 0] ** 2), atol=1e-12)
        sums = page.locator(f"{root} [data-sums] table")
        np.testing.assert_allclose(vec(sums.nth(0)), dW, atol=1e-12)
        np.testing.assert_allclose(vec(sums.nth(1)), dU, atol=1e-12)
        np.testing.assert_allclose(vec(sums.nth(2))[:, 0], db, atol=1e-12)
        if t == 0:
            np.testing.assert_allclose(vec(terms.locator("[data-term='dh0'] td")), dh0_from[0], atol=1e-12)
    # after the last step: the whole gradient of rnn_backward on the whole sequence
    _, dh0, dU, dW, db = rnn_backward(dh_out, cache)
    sums = page.locator(f"{root} [data-sums] table")
    np.testing.assert_allclose(vec(sums.nth(0)), dW, atol=1e-12)
    assert page.get_by_role("button", name="Next step back in time").is_disabled()


def test_bptt_stepper_equals_rnn_backward(site, server, browser):
    m = json.loads((site / DATA / "bptt.json").read_text("utf8"))["stepper"]
    context, page, watcher = open_page(browser, server, BPTT)
    try:
        wait_ready(page, "bptt-stepper")
        check_stepper(page, m, m["text"])
        # another word, typed in
        box = page.get_by_label("Sequence", exact=True)
        box.fill("ohell")
        page.wait_for_selector("[data-rnn-widget='bptt-stepper'][data-done='0']")
        check_stepper(page, m, "ohell")
        # undo goes back one step, a bad word is refused with a note
        page.get_by_role("button", name="Undo a step").click()
        page.wait_for_selector("[data-rnn-widget='bptt-stepper'][data-done='3']")
        box.fill("hx")
        note = page.locator("[data-rnn-widget='bptt-stepper'] .rnn-live__note").inner_text()
        assert "not: “x”" in note and "Use 2 to 9 of the letters" in note  # as the page's prose says
        assert "(2 to 9 of them)" in (site / BPTT / "index.html").read_text("utf8")
        check_clean(watcher)
    finally:
        context.close()


def test_gradient_norm_slider_equals_rnn_dynamics(site, server, browser):
    from rnn.dynamics import decay_rate, loss_gradient_norms

    d = json.loads((site / DATA / "bptt.json").read_text("utf8"))["slider"]
    ids = np.array([d["vocab"].index(ch) for ch in d["text"]])
    context, page, watcher = open_page(browser, server, BPTT)
    root = page.locator("[data-rnn-widget='gradient-norms']")
    try:
        wait_ready(page, "gradient-norms")
        for rho in ("1", "0.5", "0.9", "1.5", "2"):
            root.locator("input[type=range]").fill(rho)
            page.wait_for_function(f"document.querySelector(\"[data-rnn-widget='gradient-norms']\")"
                                   f".dataset.rho === '{rho}'")
            params = {k: np.array(d[k], dtype=float) for k in ("U", "b", "V", "c")}
            params["W"] = float(rho) * np.array(d["W1"], dtype=float)
            norms = loss_gradient_norms(params, ids[:-1, None], ids[-1:])[:, 0]
            shown = np.array(json.loads(root.get_attribute("data-norms")))
            np.testing.assert_allclose(shown, norms, rtol=1e-9, atol=0)
            assert float(root.get_attribute("data-rate")) == pytest.approx(decay_rate(norms), rel=1e-9)
        assert "ρ(W) = 2.00" in root.inner_text()
        check_clean(watcher)
    finally:
        context.close()


def test_the_slider_matrix_has_spectral_radius_one(site):
    from rnn.initializers import spectral_radius

    d = json.loads((site / DATA / "bptt.json").read_text("utf8"))["slider"]
    assert spectral_radius(np.array(d["W1"])) == pytest.approx(1.0, abs=1e-9)


# --------------------------------------------------------------------------
# keyboard, accessibility, dark mode, phones, weight
# --------------------------------------------------------------------------


def test_figures_work_with_the_keyboard(server, browser, build):
    context, page, watcher = open_page(browser, server, BPTT)
    try:
        wait_ready(page, "bptt-stepper")
        page.get_by_label("Sequence", exact=True).focus()
        for _ in range(3):  # Sequence -> Start over (disabled, skipped) -> Undo (disabled) -> Next
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent") == "Next step back in time":
                break
        assert page.evaluate("document.activeElement.textContent") == "Next step back in time"
        page.keyboard.press("Enter")
        page.keyboard.press(" ")
        page.wait_for_selector("[data-rnn-widget='bptt-stepper'][data-done='2']")
        status = page.locator(".rnn-bptt__status").inner_text()
        assert status.startswith("Step 2 of 4: the gradient on h(3) collects two terms")
        page.goto(urljoin(server.url, UNITS), wait_until="load")
        wait_ready(page, "units")
        page.locator(".rnn-units__text").focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        readout = page.locator(".rnn-units__readout").inner_text()
        assert readout.startswith("Character 2, ") and " at " in readout
        check_clean(watcher)
    finally:
        context.close()


def test_figures_start_after_instant_navigation(server, browser, build):
    """Material swaps the content without reloading the scripts: the figures
    start on each page reached through the sidebar, and again on the way back."""
    context, page, watcher = open_page(browser, server, "")
    try:
        page.wait_for_load_state("networkidle")  # Material intercepts links once it has the sitemap
        page.evaluate("window.__noReload = true")
        for title, rel, widget in (("Type to a trained network", LIVE, "live-model"),
                                   ("Step through BPTT", BPTT, "gradient-norms"),
                                   ("What the units learned", UNITS, "units")):
            page.locator("nav.md-nav--primary a.md-nav__link", has_text=title).first.click()
            page.wait_for_url(urljoin(server.url, rel))
            wait_ready(page, widget)
        page.go_back()
        page.wait_for_url(urljoin(server.url, BPTT))
        wait_ready(page, "bptt-stepper")
        assert page.evaluate("window.__noReload === true"), "a click reloaded the page"
        assert page.locator("[data-rnn-widget]").count() == 2
        check_clean(watcher)
    finally:
        context.close()


OVERFLOWS = "() => document.documentElement.scrollWidth > document.documentElement.clientWidth"
# The bytes of the figures themselves: their scripts, styles and data (the rest
# of a page's weight is the theme and MathJax, which every page loads).
FIGURE_BYTES = """() => performance.getEntriesByType('resource')
    .filter(r => /\\/interactive(\\/|\\.js|\\.css)/.test(r.name))
    .reduce((s, r) => s + (r.decodedBodySize || 0), 0)"""


def weigh(page):
    w = page.evaluate(WEIGHT)
    w["figures"] = page.evaluate(FIGURE_BYTES)
    return w


@pytest.fixture(scope="module")
def weights():
    return {}


@pytest.mark.parametrize("rel, widget", [(LIVE, "live-model"), (UNITS, "units"), (BPTT, "bptt-stepper")])
def test_axe_dark_mode_and_phone_with_figures_drawn(server, browser, build, rel, widget, weights,
                                                    terminal_summary):
    """axe-core (all rules) once the figure is drawn and used, in light and dark
    mode; the figure follows the theme; no sideways scroll at 390 px."""
    axe_js = axe_source()
    context, page, watcher = open_page(browser, server, rel)
    problems = []
    try:
        wait_ready(page, widget)
        page.wait_for_load_state("networkidle")
        weights[rel] = weigh(page)
        if widget == "bptt-stepper":
            wait_ready(page, "gradient-norms")
            page.get_by_role("button", name="Next step back in time").click()
            page.get_by_role("button", name="Next step back in time").click()
        if widget == "live-model":
            page.get_by_role("button", name="Sample a continuation").click()
        colour = page.evaluate("""() => {
            const s = document.querySelector('.rnn-units__text span');
            return s ? getComputedStyle(s).backgroundColor : null; }""")
        pixel = page.evaluate("""() => { const c = document.querySelector('canvas.rnn-strip');
            return c ? Array.from(c.getContext('2d').getImageData(c.width - 2, 2, 1, 1).data) : null; }""")
        for scheme in ("default", "slate"):
            if scheme == "slate":
                toggle_palette(page, "slate")
                if colour is not None:  # the passage is recoloured for the dark theme
                    assert page.evaluate("getComputedStyle(document.querySelector('.rnn-units__text span'))"
                                         ".backgroundColor") != colour
                if pixel is not None:  # and so is the hidden-state strip
                    assert page.evaluate("""() => { const c = document.querySelector('canvas.rnn-strip');
                        return Array.from(c.getContext('2d').getImageData(c.width - 2, 2, 1, 1).data); }""") != pixel
            for v in axe_scan(page, axe_js):
                problems.append(f"{rel} ({scheme}): axe {v['impact']} {v['id']}: {v['help']} at {v['nodes']}")
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(200)
        if page.evaluate(OVERFLOWS):
            problems.append(f"{rel}: scrolls sideways at {PHONE['width']} px")
        if widget == "live-model":  # the GRU is fetched when picked: the page's weight with both
            page.locator("input[type=radio][value='gru']").check()
            wait_ready(page, "live-model", "gru")
            weights[rel + " (with the GRU)"] = weigh(page)
        check_clean(watcher)
    finally:
        context.close()
    assert not problems, "\n".join(problems)
    if len(weights) == 4:
        terminal_summary.append("interactive pages: " + "; ".join(
            f"/{k} {v['bytes'] / 1e6:.2f} MB in {v['requests']} requests, of which the figures "
            f"{v['figures'] / 1e3:.0f} kB" for k, v in weights.items()))


def test_units_threshold_is_a_quarter_of_the_variance():
    """The prose says |r| >= threshold means the feature explains a quarter of the variance."""
    from rnn.units import DEFAULT_THRESHOLD

    assert math.isclose(DEFAULT_THRESHOLD ** 2, 0.25)
