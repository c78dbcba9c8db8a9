// "Step through BPTT": the unrolled vanilla RNN of a tiny model, its
// backward pass one time step at a time. Every number is computed here, in
// float64, from the weights in bptt.json (made by the build); the test checks
// them against rnn.rnn_forward / rnn.rnn_backward. docs/interactive/bptt.md.
//
// Markup: <div data-rnn-widget="bptt-stepper" data-src="URL">
// For the tests: data-state / data-done (steps taken) on the root; every
// vector and matrix in the ledger carries data-v (JSON, full precision).

import { charName, el, field, figureData, num, svg } from "./ui.js";

const MAX_T = 8;

// h(t) = tanh(U x(t) + W h(t-1) + b), o(t) = V h(t) + c, yhat = softmax(o), L(t) = -log yhat[y]
export function forward(m, ids, targets) {
  const H = m.b.length;
  const K = m.c.length;
  const h = [];
  const yhat = [];
  const loss = [];
  let prev = new Array(H).fill(0);
  for (let t = 0; t < ids.length; t++) {
    const ht = m.b.map((_, i) => Math.tanh(m.U[i][ids[t]] + m.W[i].reduce((s, w, j) => s + w * prev[j], 0) + m.b[i]));
    const o = m.c.map((c, k) => m.V[k].reduce((s, v, j) => s + v * ht[j], 0) + c);
    const mx = Math.max(...o);
    const e = o.map((v) => Math.exp(v - mx));
    const sum = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => v / sum);
    h.push(ht);
    yhat.push(p);
    loss.push(-Math.log(p[targets[t]]));
    prev = ht;
  }
  return { h, yhat, loss, H, K };
}

const zeros = (n) => new Array(n).fill(0);
const zerosM = (r, c) => Array.from({ length: r }, () => zeros(c));
// M^T v for M of shape (rows, cols): a vector of length cols
const tmul = (M, v) => M[0].map((_, j) => M.reduce((s, row, i) => s + row[j] * v[i], 0));

// The backward pass, one record per time step, from the last to the first.
export function backward(m, ids, targets, f) {
  const T = ids.length;
  const steps = [];
  let dW = zerosM(f.H, f.H);
  let dU = zerosM(f.H, f.K);
  let db = zeros(f.H);
  let daNext = null; // dL/da(t+1)
  for (let t = T - 1; t >= 0; t--) {
    const dy = f.yhat[t].map((p, k) => p - (k === targets[t] ? 1 : 0)); // dL/do(t) = yhat - onehot(y)
    const fromO = tmul(m.V, dy); // V^T dL/do(t)
    const fromNext = daNext ? tmul(m.W, daNext) : zeros(f.H); // W^T dL/da(t+1) = W^T diag(1 - h(t+1)^2) dL/dh(t+1)
    const g = fromO.map((v, i) => v + fromNext[i]);
    const da = g.map((v, i) => v * (1 - f.h[t][i] ** 2));
    const hPrev = t > 0 ? f.h[t - 1] : zeros(f.H);
    dW = dW.map((row, i) => row.map((v, j) => v + da[i] * hPrev[j]));
    dU = dU.map((row, i) => row.map((v, k) => v + (k === ids[t] ? da[i] : 0)));
    db = db.map((v, i) => v + da[i]);
    steps.push({ t, dy, fromO, fromNext, g, da, dW, dU, db, dh0: t === 0 ? tmul(m.W, da) : null });
    daNext = da;
  }
  return steps;
}

const vec = (v, digits = 3) => `[${v.map((x) => num(x, digits)).join(", ")}]`;

export function mount(root) {
  let m = null;
  let text = "";
  let ids = [];
  let targets = [];
  let f = null;
  let steps = [];
  let done = 0; // backward steps taken

  const input = el("input", { type: "text", class: "rnn-bptt__seq", maxlength: String(MAX_T + 1),
    spellcheck: "false", autocomplete: "off", autocapitalize: "off" });
  const inputNote = el("span", { class: "rnn-live__note", "aria-live": "polite" });
  const buttons = {
    reset: el("button", { type: "button", class: "rnn-button" }, "Start over"),
    back: el("button", { type: "button", class: "rnn-button" }, "Undo a step"),
    next: el("button", { type: "button", class: "rnn-button rnn-button--primary" }, "Next step back in time"),
    all: el("button", { type: "button", class: "rnn-button" }, "All steps"),
  };
  const figure = svg("svg", { class: "rnn-bptt__svg", role: "img" });
  const status = el("p", { class: "rnn-bptt__status", "aria-live": "polite" });
  const current = el("div", { class: "rnn-bptt__current" });
  const ledger = el("div", { class: "rnn-bptt__ledger" });
  root.replaceChildren(
    el("div", { class: "rnn-live__controls" }, field("Sequence", input, inputNote),
      buttons.reset, buttons.back, buttons.next, buttons.all),
    el("div", { class: "rnn-bptt__figure" }, figure), status, current, ledger);
  root.dataset.state = "loading";

  function setSequence(value) {
    const chars = [...value];
    const bad = chars.filter((ch) => !m.vocab.includes(ch));
    if (chars.length < 2 || chars.length > MAX_T + 1 || bad.length) {
      inputNote.textContent = `Use 2 to ${MAX_T + 1} of the letters ${[...m.vocab].join(", ")}` +
        (bad.length ? ` (not: ${[...new Set(bad)].map(charName).join(", ")})` : "") + ".";
      return false;
    }
    inputNote.textContent = `Reads “${value.slice(0, -1)}”, predicts “${value.slice(1)}”.`;
    text = value;
    ids = chars.slice(0, -1).map((ch) => m.vocab.indexOf(ch));
    targets = chars.slice(1).map((ch) => m.vocab.indexOf(ch));
    f = forward(m, ids, targets);
    steps = backward(m, ids, targets, f);
    done = 0;
    render();
    return true;
  }

  // ---- the unrolled graph
  function drawFigure() {
    const T = ids.length;
    const colW = 150;
    const W = 60 + T * colW;
    const Hh = 300;
    figure.setAttribute("viewBox", `0 0 ${W} ${Hh}`);
    figure.setAttribute("width", String(W));
    const kids = [];
    kids.push(svg("defs", {}, svg("marker", { id: "rnn-bptt-arrow", viewBox: "0 0 10 10", refX: "9", refY: "5",
      markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
    svg("path", { d: "M0,0 L10,5 L0,10 z", class: "rnn-bptt__head" }))));
    const rowY = { L: 20, o: 90, h: 170, x: 260 };
    const box = (x, y, w, h, label, cls, data) => [
      svg("rect", { x: x - w / 2, y: y - h / 2, width: w, height: h, rx: 7, class: `rnn-bptt__box ${cls || ""}` }),
      svg("text", { x, y: y + 5, "text-anchor": "middle", class: "rnn-bptt__label", ...data }, label)];
    const arrow = (x1, y1, x2, y2, cls) =>
      svg("line", { x1, y1, x2, y2, class: `rnn-bptt__edge ${cls || ""}`, "marker-end": "url(#rnn-bptt-arrow)" });
    const current = done > 0 ? steps[done - 1].t : null;
    // h(0)
    kids.push(...box(30, rowY.h, 44, 30, "h(0)"));
    for (let t = 0; t < T; t++) {
      const x = 60 + colW * t + colW / 2;
      const processed = done > 0 && t >= T - done;
      const cls = t === current ? "rnn-bptt__box--current" : processed ? "rnn-bptt__box--done" : "";
      kids.push(arrow(x, rowY.x - 17, x, rowY.h + 17), arrow(x, rowY.h - 17, x, rowY.o + 17), arrow(x, rowY.o - 17, x, rowY.L + 15));
      kids.push(arrow(t === 0 ? 52 : x - colW + 45, rowY.h, x - 45, rowY.h));
      kids.push(...box(x, rowY.x, 90, 30, `x(${t + 1}) = ${m.vocab[ids[t]] === " " ? "␣" : m.vocab[ids[t]]}`));
      kids.push(...box(x, rowY.h, 90, 30, `h(${t + 1})`, cls, { "data-h": data(f.h[t]) }));
      kids.push(...box(x, rowY.o, 110, 30, `ŷ[${m.vocab[targets[t]]}] = ${num(f.yhat[t][targets[t]], 2)}`, "",
        { "data-yhat": data(f.yhat[t]) }));
      kids.push(...box(x, rowY.L, 100, 26, `L(${t + 1}) = ${num(f.loss[t], 2)}`, "", { "data-loss": String(f.loss[t]) }));
      if (t === current) { // the two terms that h(t) collects
        kids.push(svg("line", { x1: x - 25, y1: rowY.o + 17, x2: x - 25, y2: rowY.h - 17,
          class: "rnn-bptt__grad", "marker-end": "url(#rnn-bptt-arrow)" }));
        if (t < T - 1) {
          kids.push(svg("line", { x1: x + colW - 45, y1: rowY.h + 8, x2: x + 45, y2: rowY.h + 8,
            class: "rnn-bptt__grad", "marker-end": "url(#rnn-bptt-arrow)" }));
        }
        kids.push(svg("text", { x: x - 30, y: (rowY.o + rowY.h) / 2 + 4, "text-anchor": "end", class: "rnn-bptt__note" }, "from o"));
        if (t < T - 1) kids.push(svg("text", { x: x + colW / 2, y: rowY.h + 26, "text-anchor": "middle", class: "rnn-bptt__note" }, `from h(${t + 2})`));
      }
      if (processed) {
        kids.push(svg("text", { x, y: rowY.h + 44, "text-anchor": "middle", class: "rnn-bptt__vec" },
          `∂L/∂h = ${vec(steps[T - 1 - t].g, 2)}`));
      }
    }
    figure.replaceChildren(...kids);
    const parts = [`The network unrolled over ${T} steps, reading “${text.slice(0, -1)}” and predicting “${text.slice(1)}”.`];
    parts.push(`Total loss ${num(f.loss.reduce((a, b) => a + b, 0), 3)}.`);
    if (current !== null) parts.push(`Highlighted: h(${current + 1}), whose gradient is being collected.`);
    figure.setAttribute("aria-label", parts.join(" "));
  }

  function data(value) {
    return JSON.stringify(value);
  }

  function vectorCell(v, digits) {
    return el("td", { class: "rnn-num", "data-v": data(v) }, vec(v, digits));
  }

  function matrix(name, M) {
    return el("figure", { class: "rnn-bptt__matrix" },
      el("figcaption", {}, name),
      el("table", { "data-v": data(M) },
        el("tbody", {}, ...M.map((row) => el("tr", {}, ...row.map((x) => el("td", { class: "rnn-num" }, num(x, 3))))))));
  }

  function render() {
    const T = ids.length;
    root.dataset.done = String(done);
    buttons.back.disabled = done === 0;
    buttons.reset.disabled = done === 0;
    buttons.next.disabled = done === T;
    buttons.all.disabled = done === T;
    drawFigure();
    // the current step, term by term
    if (done === 0) {
      status.textContent = `Forward pass done: ${T} losses, total ${num(f.loss.reduce((a, b) => a + b, 0), 3)}. ` +
        `Press “Next step back in time” to start the backward pass at the last step, h(${T}).`;
      current.replaceChildren();
    } else {
      const s = steps[done - 1];
      const t = s.t + 1; // book time
      const hasNext = s.t < T - 1;
      status.textContent = `Step ${done} of ${T}: the gradient on h(${t}) collects ` +
        (hasNext ? `two terms, one from o(${t}) and one from h(${t + 1}).` : `one term, from o(${t}): h(${t}) is the last state, no h(${t + 1}) reads it.`) +
        (s.t === 0 ? " This was the last step: the sums over time are complete." : "");
      current.replaceChildren(el("table", {},
        el("caption", {}, `Step ${done}: what ∂L/∂h(${t}) collects`),
        el("tbody", {},
          el("tr", { "data-term": "from-o" }, el("th", { scope: "row" }, `from o(${t}): Vᵀ(ŷ(${t}) − y(${t}))`), vectorCell(s.fromO)),
          el("tr", { "data-term": "from-next" }, el("th", { scope: "row" }, hasNext
            ? `from h(${t + 1}): Wᵀ diag(1 − h(${t + 1})²) ∂L/∂h(${t + 1})` : `from h(${t + 1}): none (last step)`), vectorCell(s.fromNext)),
          el("tr", { "data-term": "total" }, el("th", { scope: "row" }, `total ∂L/∂h(${t})`), vectorCell(s.g)),
          el("tr", { "data-term": "da" }, el("th", { scope: "row" }, `through tanh: ∂L/∂a(${t}) = (1 − h(${t})²) ⊙ ∂L/∂h(${t})`), vectorCell(s.da)),
          s.dh0 ? el("tr", { "data-term": "dh0" }, el("th", { scope: "row" }, "∂L/∂h(0) = Wᵀ ∂L/∂a(1)"), vectorCell(s.dh0)) : null)));
    }
    // every step so far, and the running sums
    const rows = [];
    for (let t = T - 1; t >= 0; t--) {
      const k = T - 1 - t; // index into steps
      const s = k < done ? steps[k] : null;
      rows.push(el("tr", { "data-t": String(t + 1) }, el("th", { scope: "row" }, `${t + 1}`),
        s ? vectorCell(s.fromO, 3) : el("td", {}, "–"), s ? vectorCell(s.fromNext, 3) : el("td", {}, "–"),
        s ? vectorCell(s.g, 3) : el("td", {}, "–")));
    }
    const s = done ? steps[done - 1] : null;
    const H = f.H;
    ledger.replaceChildren(
      el("div", { class: "rnn-bptt__scroll", tabindex: "0", role: "region", "aria-label": "The backward pass so far" },
        el("table", {},
          el("caption", {}, "∂L/∂h(t) for every step processed so far"),
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "t"), el("th", { scope: "col" }, "from o(t)"),
            el("th", { scope: "col" }, "from h(t+1)"), el("th", { scope: "col" }, "total ∂L/∂h(t)"))),
          el("tbody", {}, ...rows))),
      el("div", { class: "rnn-bptt__sums", "data-sums": "" },
        matrix(`∂L/∂W so far (${H}×${H})`, s ? s.dW : zerosM(H, H)),
        matrix(`∂L/∂U so far (${H}×${f.K})`, s ? s.dU : zerosM(H, f.K)),
        matrix("∂L/∂b so far", (s ? s.db : zeros(H)).map((x) => [x]))),
    );
  }

  buttons.next.addEventListener("click", () => { done = Math.min(ids.length, done + 1); render(); });
  buttons.back.addEventListener("click", () => { done = Math.max(0, done - 1); render(); });
  buttons.reset.addEventListener("click", () => { done = 0; render(); });
  buttons.all.addEventListener("click", () => { done = ids.length; render(); });
  input.addEventListener("input", () => { if (m) setSequence(input.value); });

  (async () => {
    m = await figureData(root, "stepper");
    if (!m) return;
    input.value = m.text;
    setSequence(m.text);
    root.dataset.state = "ready";
  })();
  return { destroy() {} };
}
