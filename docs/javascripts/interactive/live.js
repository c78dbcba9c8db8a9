// "Type to a trained network": the next-character distribution, the hidden
// state per keystroke, and seeded sampling, computed in the page from the
// build's exported models (docs/interactive/live-model.md).
//
// Markup: <div data-rnn-widget="live-model" data-models="rnn=URL gru=URL"
//              data-text="initial text">
// For the tests, the figure exposes its numbers in full precision:
// data-state / data-cell on the root, data-char / data-prob on every
// candidate, data-h (JSON) on the hidden-state canvas.

import * as M from "./model.js";
import {
  activationColor, charLabel, charName, clearError, el, field, nextId, onSchemeChange, pageUrl,
  radios, showError, signed, themeColors,
} from "./ui.js";

const TOP = 10; // candidates shown
const ROWS = 12; // characters in the hidden-state history
const CELL_W = 5; // px per unit
const ROW_H = 16;
const LABEL_W = 26;

export function mount(root) {
  const urls = Object.fromEntries(
    (root.dataset.models || "").split(/\s+/).filter(Boolean).map((pair) => pair.split("=")));
  const cells = Object.keys(urls);
  const loading = {}; // cell -> Promise of a model
  let cell = cells[0];
  let model = null;
  let ids = []; // the ids read so far
  let states = []; // states[t]: after reading ids[t]
  let dist = null; // distribution shown
  let lastLogits = null;

  // ---- controls and outputs
  const info = el("p", { class: "rnn-live__info", "aria-live": "polite" }, "Loading the model…");
  const textarea = el("textarea", { class: "rnn-live__input", rows: 4, spellcheck: "false",
    autocomplete: "off", autocapitalize: "off", "aria-describedby": "" });
  textarea.value = root.dataset.text || "";
  const unknownNote = el("p", { class: "rnn-live__note", id: nextId("rnn-unknown") });
  textarea.setAttribute("aria-describedby", unknownNote.id);
  const temperature = el("input", { type: "range", min: "0.1", max: "2", step: "0.05", value: "1" });
  const temperatureOut = el("output", { class: "rnn-live__value" });
  const seed = el("input", { type: "number", min: "0", max: "4294967295", step: "1", value: "1",
    inputmode: "numeric", class: "rnn-live__number" });
  const length = el("input", { type: "number", min: "1", max: "2000", step: "1", value: "200",
    inputmode: "numeric", class: "rnn-live__number" });
  const sampleButton = el("button", { type: "button", class: "rnn-button rnn-button--primary" },
    "Sample a continuation");
  const sampleOut = el("pre", { class: "rnn-live__sample", tabindex: "0", "aria-live": "polite",
    "aria-label": "Sampled continuation" });
  const distList = el("ol", { class: "rnn-dist" });
  const distCaption = el("p", { class: "rnn-live__caption", id: nextId("rnn-dist") });
  const canvas = el("canvas", { class: "rnn-strip", role: "img" });
  const stripSummary = el("p", { class: "rnn-live__caption", id: nextId("rnn-strip") });
  canvas.setAttribute("aria-describedby", stripSummary.id);

  const labels = Object.fromEntries(cells.map((c) => [c, M.CELL_NAMES[c] || c]));
  const cellChoice = radios("Model", nextId("rnn-cell"), labels, cell, (c) => choose(c));
  // the reader's own model: a file written by `rnn export`, read here, sent nowhere
  const fileInput = el("input", { type: "file", accept: ".bin,application/octet-stream", class: "rnn-live__file" });
  let fileRadio = null;

  root.replaceChildren(
    el("div", { class: "rnn-live__top" }, cellChoice,
      field("Or your own model (a file from rnn export)", fileInput)),
    info,
    field("Type to the network", textarea),
    unknownNote,
    el("section", { class: "rnn-live__panel", "aria-labelledby": distCaption.id },
      el("h3", {}, "Next character"), distCaption, distList),
    el("section", { class: "rnn-live__panel", "aria-labelledby": stripSummary.id },
      el("h3", {}, "Hidden state"), canvas, stripSummary),
    el("section", { class: "rnn-live__sampler" },
      el("h3", {}, "Sample a continuation"),
      el("div", { class: "rnn-live__controls" },
        field("Temperature", temperature, temperatureOut),
        field("Seed", seed),
        field("Characters", length),
        sampleButton),
      sampleOut),
  );
  root.dataset.state = "loading";

  // ---- the forward pass, incrementally: only what changed is recomputed
  function update() {
    if (!model) return;
    const { ids: now, unknown } = M.encode(model, textarea.value);
    unknownNote.textContent = unknown.length
      ? `Not in the model's vocabulary of ${model.K} characters, so skipped: ${unknown.map(charName).join(", ")}.`
      : "";
    let same = 0;
    while (same < ids.length && same < now.length && ids[same] === now[same]) same++;
    ids = ids.slice(0, same);
    states = states.slice(0, same);
    let state = same ? states[same - 1] : M.zeroState(model);
    for (let t = same; t < now.length; t++) {
      state = M.step(model, state, now[t]);
      ids.push(now[t]);
      states.push(state);
    }
    if (!ids.length) { // nothing read yet: read a newline first, as rnn.sample does
      state = M.step(model, M.zeroState(model), M.startId(model));
    }
    lastLogits = M.logits(model, state);
    showDistribution();
    drawStrip();
  }

  function showDistribution() {
    const T = Number(temperature.value);
    temperatureOut.textContent = T.toFixed(2);
    temperature.setAttribute("aria-valuetext", T.toFixed(2));
    dist = M.distribution(lastLogits, T);
    const order = Array.from(dist.keys()).sort((a, b) => dist[b] - dist[a] || a - b).slice(0, TOP);
    const last = ids.length ? charName(model.chars[ids[ids.length - 1]]) : "nothing yet (a newline is read first)";
    distCaption.textContent = `After ${last}: the ${TOP} most likely next characters at temperature ${T.toFixed(2)}` +
      ` (these ${TOP} hold ${(100 * order.reduce((s, i) => s + dist[i], 0)).toFixed(1)} % of the probability).`;
    const top = dist[order[0]];
    distList.replaceChildren(...order.map((i) => {
      const ch = model.chars[i];
      return el("li", { "data-char": ch, "data-prob": String(dist[i]) },
        el("span", { class: "rnn-dist__char", "aria-hidden": "true" }, charLabel(ch)),
        el("span", { class: "rnn-visually-hidden" }, charName(ch) + ": "),
        el("span", { class: "rnn-dist__track" },
          el("span", { class: "rnn-dist__bar", style: `width: ${(100 * dist[i] / top).toFixed(2)}%` })),
        el("span", { class: "rnn-dist__p" }, `${(100 * dist[i]).toFixed(1)} %`));
    }));
  }

  function drawStrip() {
    const H = model.H;
    const rows = states.slice(-ROWS).map(M.top);
    const chars = ids.slice(-ROWS).map((i) => model.chars[i]);
    const width = LABEL_W + H * CELL_W;
    const height = Math.max(1, ROWS) * ROW_H;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    canvas.style.width = `${width}px`;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const colors = themeColors(root);
    ctx.clearRect(0, 0, width, height);
    ctx.font = "12px sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const top = (ROWS - rows.length) * ROW_H; // newest at the bottom
    rows.forEach((h, r) => {
      const y = top + r * ROW_H;
      ctx.fillStyle = colors.fg;
      ctx.fillText(charLabel(chars[r]), LABEL_W / 2, y + ROW_H / 2);
      for (let i = 0; i < H; i++) {
        ctx.fillStyle = activationColor(h[i], colors);
        ctx.fillRect(LABEL_W + i * CELL_W, y + 1, CELL_W, ROW_H - 2);
      }
    });
    const h = states.length ? M.top(states[states.length - 1]) : null;
    canvas.dataset.h = h ? JSON.stringify(Array.from(h)) : "[]";
    canvas.setAttribute("aria-label", `The ${H} hidden units after each of the last ${rows.length} characters, ` +
      "one row per character (the newest at the bottom), blue for negative and orange for positive values.");
    if (!h) {
      stripSummary.textContent = `No character read yet. The ${H} units start at zero.`;
      return;
    }
    const order = Array.from(h.keys()).sort((a, b) => h[b] - h[a]);
    const fmt = (i) => `${i} (${signed(h[i])})`;
    const saturated = h.filter((v) => Math.abs(v) > 0.9).length;
    stripSummary.textContent = `After ${charName(chars[chars.length - 1])}: most positive units ` +
      `${order.slice(0, 3).map(fmt).join(", ")}; most negative ${order.slice(-3).reverse().map(fmt).join(", ")}; ` +
      `${saturated} of ${H} units beyond ±0.9. Each row: one character, each column: one unit ` +
      "(blue −1, background 0, orange +1).";
  }

  function describe(m) {
    const meta = m.meta || {};
    const facts = [`${M.CELL_NAMES[m.cell]}${m.layers > 1 ? ` of ${m.layers} layers` : ""}, H = ${m.H}`,
      `K = ${m.K} characters`];
    if (meta.params) facts.push(`${meta.params.toLocaleString("en")} parameters`);
    if (meta.steps) facts.push(`${meta.steps.toLocaleString("en")} training steps`);
    if (meta.val_loss) facts.push(`validation loss ${meta.val_loss.toFixed(2)} nats per character`);
    facts.push(`${(m.bytes / 1000).toFixed(0)} kB`);
    return `Running the ${facts.join(", ")}.`;
  }

  async function choose(c) {
    cell = c;
    root.dataset.cell = c;
    root.dataset.state = "loading";
    info.textContent = `Loading the ${labels[c]}…`;
    loading[c] = loading[c] || M.loadModel(pageUrl(urls[c]));
    try {
      const m = await loading[c];
      if (cell !== c) return; // the reader chose another cell meanwhile
      clearError(root);
      model = m;
      ids = [];
      states = [];
      info.textContent = describe(m);
      update();
      runSample();
      root.dataset.state = "ready";
    } catch (err) {
      delete loading[c];
      info.textContent = "";
      showError(root, `The ${labels[c]} model cannot be used`, err);
    }
  }

  fileInput.addEventListener("change", async () => {
    const file = fileInput.files[0];
    if (!file) return;
    let m;
    try {
      m = M.parseModel(await file.arrayBuffer());
    } catch (err) {
      showError(root, `Your file ${file.name} cannot be used`, err);
      if (model) root.dataset.state = "ready"; // the model shown before still runs
      return;
    }
    labels.file = `your ${M.CELL_NAMES[m.cell]} (${file.name})`;
    loading.file = Promise.resolve(m);
    if (!fileRadio) fileRadio = cellChoice.add("file", "");
    fileRadio.parentElement.lastChild.textContent = labels.file;
    fileRadio.checked = true;
    choose("file");
  });

  function runSample() {
    if (!model) return;
    const s = Math.max(0, Math.min(4294967295, Math.floor(Number(seed.value) || 0)));
    const n = Math.max(1, Math.min(2000, Math.floor(Number(length.value) || 1)));
    const state = states.length ? states[states.length - 1] : M.step(model, M.zeroState(model), M.startId(model));
    const text = M.sample(model, state, lastLogits, n, Number(temperature.value), s);
    sampleOut.textContent = text;
    sampleOut.dataset.seed = String(s);
  }

  textarea.addEventListener("input", update);
  temperature.addEventListener("input", () => model && showDistribution());
  sampleButton.addEventListener("click", runSample);
  const stopWatching = onSchemeChange(() => model && drawStrip());
  temperatureOut.textContent = Number(temperature.value).toFixed(2);
  choose(cell);
  return { destroy: stopWatching };
}
