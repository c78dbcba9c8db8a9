// "What the units learned": a passage of held-out text coloured by one hidden
// unit's activation (Karpathy's figure), computed in the page with the
// build's model; the unit's correlations with the text features come from the
// build (rnn.units, units.json). docs/interactive/units.md.
//
// Markup: <div data-rnn-widget="units" data-units="URL" data-models="rnn=URL gru=URL">
// For the tests: data-state / data-cell / data-unit / data-passage on the
// root, data-a (the activation, full precision) on every character.

import * as M from "./model.js";
import {
  activationColor, charName, clearError, el, field, loadJson, nextId, onSchemeChange, pageUrl,
  radios, showError, signed, themeColors,
} from "./ui.js";

export function mount(root) {
  const urls = Object.fromEntries(
    (root.dataset.models || "").split(/\s+/).filter(Boolean).map((pair) => pair.split("=")));
  const cells = Object.keys(urls);
  const loading = {};
  let data = null; // units.json
  let cell = cells[0];
  let model = null;
  let unit = 0;
  let passage = 0;
  let acts = []; // the chosen unit's activation after each character of the passage
  let cursor = -1; // the character read out with the arrow keys

  const unitSelect = el("select", { class: "rnn-units__select" });
  const passageSelect = el("select", { class: "rnn-units__select" });
  const verdict = el("p", { class: "rnn-units__verdict", "aria-live": "polite" });
  const textBox = el("div", { class: "rnn-units__text", tabindex: "0", role: "group" });
  const readout = el("p", { class: "rnn-units__readout", "aria-live": "polite" });
  const summary = el("p", { class: "rnn-live__caption", id: nextId("rnn-units-summary") });
  textBox.setAttribute("aria-describedby", summary.id);
  const rTable = el("table");
  const legend = el("p", { class: "rnn-units__legend", "aria-hidden": "true" },
    el("span", { class: "rnn-units__swatch rnn-units__swatch--neg" }), " −1 ",
    el("span", { class: "rnn-units__swatch rnn-units__swatch--zero" }), " 0 ",
    el("span", { class: "rnn-units__swatch rnn-units__swatch--pos" }), " +1");
  const cellChoice = cells.length > 1
    ? radios("Cell", nextId("rnn-cell"), Object.fromEntries(cells.map((c) => [c, M.CELL_NAMES[c] || c])),
      cell, (c) => choose(c))
    : null;

  root.replaceChildren(
    el("div", { class: "rnn-live__top" }, cellChoice),
    el("div", { class: "rnn-live__controls" }, field("Unit", unitSelect), field("Passage", passageSelect)),
    verdict, legend, textBox, readout, summary,
    el("details", { class: "rnn-units__details" },
      el("summary", {}, "This unit's correlation with every feature"), rTable),
  );
  root.dataset.state = "loading";

  const feature = (name) => data.features.find((f) => f.name === name);

  function unitLabel(u) {
    if (u.feature === null) return `unit ${u.unit}: constant on this text`;
    if (u.interpretable) return `unit ${u.unit}: ${feature(u.feature).label} (corr = ${signed(u.r)})`;
    return `unit ${u.unit}: not interpretable (best: ${feature(u.feature).label}, corr = ${signed(u.r)})`;
  }

  function fillUnits() {
    const units = data.models[cell].units.slice();
    units.sort((a, b) => (b.interpretable - a.interpretable) ||
      (b.interpretable ? Math.abs(b.r) - Math.abs(a.r) : a.unit - b.unit));
    unitSelect.replaceChildren(...units.map((u) => el("option", { value: String(u.unit) }, unitLabel(u))));
    unit = units[0].unit;
    unitSelect.value = String(unit);
  }

  function render() {
    if (!model) return;
    const u = data.models[cell].units[unit];
    const row = data.models[cell].r[unit];
    root.dataset.unit = String(unit);
    root.dataset.passage = String(passage);
    verdict.textContent = u.interpretable
      ? `Unit ${unit} of the ${M.CELL_NAMES[cell]} follows “${feature(u.feature).label}”: corr = ${signed(u.r)} over ` +
        `${data.chars.toLocaleString("en")} held-out characters (|corr| ≥ ${data.threshold}).`
      : `Unit ${unit} of the ${M.CELL_NAMES[cell]} is not interpretable with these features: its strongest ` +
        `correlation, with “${u.feature ? feature(u.feature).label : "none"}”, is ${u.r === null ? "undefined" : signed(u.r)}, ` +
        `below the ${data.threshold} that would name it.`;
    rTable.replaceChildren(
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "feature"), el("th", { scope: "col" }, "corr"))),
      el("tbody", {}, ...data.features.map((f, j) => el("tr", {},
        el("td", {}, f.label), el("td", { class: "rnn-num" }, row[j] === null ? "–" : signed(row[j]))))));
    // the passage, read from a zero state, coloured by the unit
    const text = data.passages[passage].text;
    let state = M.zeroState(model);
    acts = [];
    const colors = themeColors(root);
    const spans = [];
    for (const ch of text) {
      const id = model.index.get(ch);
      if (id !== undefined) state = M.step(model, state, id);
      const a = M.top(state)[unit];
      acts.push(a);
      spans.push(el("span", { "data-a": String(a), style: `background-color: ${activationColor(a, colors)}` }, ch));
    }
    textBox.replaceChildren(...spans);
    textBox.setAttribute("aria-label", `Passage ${passage + 1} coloured by unit ${unit}: use the arrow keys ` +
      "to hear each character's activation");
    cursor = -1;
    readout.textContent = "";
    const high = acts.filter((a) => a > 0.5).length;
    const low = acts.filter((a) => a < -0.5).length;
    const mean = acts.reduce((s, a) => s + a, 0) / acts.length;
    summary.textContent = `In this passage of ${acts.length} characters, unit ${unit} is above +0.5 on ${high} ` +
      `and below −0.5 on ${low} of them (mean ${signed(mean)}). Orange: positive, blue: negative; ` +
      "the stronger the colour, the larger the value.";
  }

  function recolor() {
    const colors = themeColors(root);
    textBox.querySelectorAll("span").forEach((span, i) => {
      span.style.backgroundColor = activationColor(acts[i], colors);
    });
  }

  function move(delta) {
    const spans = textBox.querySelectorAll("span");
    if (!spans.length) return;
    if (cursor >= 0) spans[cursor].classList.remove("rnn-units__cursor");
    cursor = Math.max(0, Math.min(spans.length - 1, cursor + delta));
    spans[cursor].classList.add("rnn-units__cursor");
    const ch = data.passages[passage].text[cursor];
    readout.textContent = `Character ${cursor + 1}, ${charName(ch)}: unit ${unit} at ${signed(acts[cursor])}.`;
  }

  textBox.addEventListener("keydown", (event) => {
    const steps = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 10, ArrowUp: -10, Home: -1e9, End: 1e9 };
    if (event.key in steps) {
      event.preventDefault();
      move(steps[event.key]);
    }
  });
  unitSelect.addEventListener("change", () => { unit = Number(unitSelect.value); render(); });
  passageSelect.addEventListener("change", () => { passage = Number(passageSelect.value); render(); });

  async function choose(c) {
    cell = c;
    root.dataset.cell = c;
    root.dataset.state = "loading";
    loading[c] = loading[c] || M.loadModel(pageUrl(urls[c]));
    try {
      const m = await loading[c];
      if (cell !== c) return;
      clearError(root);
      model = m;
      fillUnits();
      render();
      root.dataset.state = "ready";
    } catch (err) {
      delete loading[c];
      showError(root, `The ${M.CELL_NAMES[c] || c} model cannot be used`, err);
    }
  }

  (async () => {
    try {
      data = await loadJson(pageUrl(root.dataset.units));
    } catch (err) {
      showError(root, "The units' data cannot be read", err);
      return;
    }
    passageSelect.replaceChildren(...data.passages.map((p, i) => {
      // named after its speakers (lines "NAME:"), else its first line
      const names = [...new Set(p.text.split("\n").filter((l) => /^[A-Za-z][A-Za-z &'.-]*:$/.test(l))
        .map((l) => l.slice(0, -1)))];
      const first = p.text.split("\n").find((line) => line.trim()) || "";
      const label = names.length ? names.slice(0, 3).join(", ") + (names.length > 3 ? ", …" : "") : first.slice(0, 40);
      return el("option", { value: String(i) }, `${i + 1}: ${label}`);
    }));
    choose(cell);
  })();
  const stopWatching = onSchemeChange(recolor);
  return { destroy: stopWatching };
}
