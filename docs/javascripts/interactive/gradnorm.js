// The gradient norm against the distance, with a slider for the spectral
// radius of W: a random vanilla RNN (bptt.json: W1 has spectral radius 1, so
// rho * W1 has radius rho) reads a line of verse; the loss of its last
// prediction is backpropagated, and ||dL/dh(tau - k)|| is drawn against k.
// The same quantity as rnn.dynamics.loss_gradient_norms (and its decay_rate);
// the test checks both. docs/interactive/bptt.md.
//
// Markup: <div data-rnn-widget="gradient-norms" data-src="URL">
// For the tests: data-rho, data-norms (JSON) and data-rate on the root.

import { el, field, figureData, nextId, num, sci, svg } from "./ui.js";

// ||dL(tau)/dh(tau - k)|| for k = 0 .. tau
export function gradientNorms(d, rho) {
  const ids = [...d.text].map((ch) => d.vocab.indexOf(ch));
  const inputs = ids.slice(0, -1);
  const target = ids[ids.length - 1];
  const H = d.b.length;
  const W = d.W1.map((row) => row.map((w) => rho * w));
  const hs = [];
  let h = new Array(H).fill(0);
  for (const id of inputs) {
    h = d.b.map((b, i) => Math.tanh(d.U[i][id] + W[i].reduce((s, w, j) => s + w * h[j], 0) + b));
    hs.push(h);
  }
  const o = d.c.map((c, k) => d.V[k].reduce((s, v, j) => s + v * h[j], 0) + c);
  const mx = Math.max(...o);
  const e = o.map((v) => Math.exp(v - mx));
  const sum = e.reduce((a, b) => a + b, 0);
  const dy = e.map((v, k) => v / sum - (k === target ? 1 : 0));
  let g = new Array(H).fill(0).map((_, j) => d.V.reduce((s, row, k) => s + row[j] * dy[k], 0)); // V^T dy
  const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const norms = [norm(g)];
  for (let t = hs.length - 1; t >= 0; t--) {
    const da = g.map((x, i) => x * (1 - hs[t][i] ** 2));
    g = new Array(H).fill(0).map((_, j) => W.reduce((s, row, i) => s + row[j] * da[i], 0)); // W^T da
    norms.push(norm(g));
  }
  return norms;
}

// exp(slope) of a least-squares line through log(norms[k]) for k >= 1 with a
// positive, finite norm: rnn.dynamics.decay_rate with its defaults.
export function decayRate(norms) {
  const pts = [];
  for (let k = 1; k < norms.length; k++) {
    if (norms[k] > 0 && Number.isFinite(norms[k])) pts.push([k, Math.log(norms[k])]);
  }
  if (pts.length < 2) return NaN;
  const mk = pts.reduce((s, p) => s + p[0], 0) / pts.length;
  const my = pts.reduce((s, p) => s + p[1], 0) / pts.length;
  const sxy = pts.reduce((s, p) => s + (p[0] - mk) * (p[1] - my), 0);
  const sxx = pts.reduce((s, p) => s + (p[0] - mk) ** 2, 0);
  return Math.exp(sxy / sxx);
}

const Y_MIN = -20; // log10 range of the plot
const Y_MAX = 4;

export function mount(root) {
  let d = null;
  const slider = el("input", { type: "range", class: "rnn-grad__slider" });
  const out = el("output", { class: "rnn-live__value" });
  const plot = svg("svg", { class: "rnn-grad__svg", role: "img", viewBox: "0 0 640 320", width: "640" });
  const summary = el("p", { class: "rnn-live__caption", id: nextId("rnn-grad") });
  plot.setAttribute("aria-describedby", summary.id);
  const table = el("table");
  root.replaceChildren(
    el("div", { class: "rnn-live__controls" }, field("Spectral radius ρ(W)", slider, out)),
    el("div", { class: "rnn-bptt__figure" }, plot), summary,
    el("details", {}, el("summary", {}, "The numbers"),
      el("div", { class: "rnn-bptt__scroll", tabindex: "0", role: "region", "aria-label": "Gradient norms" }, table)));
  root.dataset.state = "loading";

  function draw() {
    const rho = Number(slider.value);
    const norms = gradientNorms(d, rho);
    const rate = decayRate(norms);
    const tau = norms.length - 1;
    root.dataset.rho = String(rho);
    root.dataset.norms = JSON.stringify(norms);
    root.dataset.rate = String(rate);
    out.textContent = rho.toFixed(2);
    slider.setAttribute("aria-valuetext", `ρ = ${rho.toFixed(2)}`);
    // axes: k from 0 to tau, log10 norm from Y_MIN to Y_MAX
    const L = 58, R = 625, T = 12, B = 280;
    const xs = (k) => L + ((R - L) * k) / tau;
    const ys = (v) => B - ((B - T) * (Math.max(Y_MIN, Math.min(Y_MAX, v)) - Y_MIN)) / (Y_MAX - Y_MIN);
    const kids = [];
    for (let e = Y_MIN; e <= Y_MAX; e += 4) {
      kids.push(svg("line", { x1: L, x2: R, y1: ys(e), y2: ys(e), class: "rnn-grad__grid" }));
      kids.push(svg("text", { x: L - 6, y: ys(e) + 4, "text-anchor": "end", class: "rnn-grad__tick" }, `1e${e}`));
    }
    for (let k = 0; k <= tau; k += 10) {
      kids.push(svg("text", { x: xs(k), y: B + 16, "text-anchor": "middle", class: "rnn-grad__tick" }, String(k)));
    }
    kids.push(svg("text", { x: (L + R) / 2, y: B + 34, "text-anchor": "middle", class: "rnn-grad__tick" },
      "k: steps back from the loss"));
    kids.push(svg("line", { x1: L, x2: L, y1: T, y2: B, class: "rnn-grad__axis" }),
      svg("line", { x1: L, x2: R, y1: B, y2: B, class: "rnn-grad__axis" }));
    const line = (values, cls) => svg("polyline", { class: cls, fill: "none",
      points: values.map((v, k) => `${xs(k).toFixed(1)},${ys(v).toFixed(1)}`).join(" ") });
    const logs = norms.map((v) => (v > 0 ? Math.log10(v) : Y_MIN));
    const linear = norms.map((_, k) => Math.log10(norms[0]) + k * Math.log10(rho));
    kids.push(line(linear, "rnn-grad__linear"), line(logs, "rnn-grad__measured"));
    kids.push(svg("text", { x: R - 4, y: T + 14, "text-anchor": "end", class: "rnn-grad__key rnn-grad__key--measured" },
      "measured ‖∂L/∂h(τ−k)‖"));
    kids.push(svg("text", { x: R - 4, y: T + 32, "text-anchor": "end", class: "rnn-grad__key rnn-grad__key--linear" },
      "‖∂L/∂h(τ)‖ ρᵏ"));
    plot.replaceChildren(...kids);
    const verdict = rate < 0.98 ? "vanishes" : rate > 1.02 ? "grows" : "stays about level";
    summary.textContent = `ρ(W) = ${rho.toFixed(2)}: going back from the loss at step τ = ${tau}, the gradient ` +
      `${verdict}: a factor ${num(rate, 3)} per step (a least-squares fit of log ‖∂L/∂h(τ−k)‖ over k = 1 … ${tau}). ` +
      `At k = ${tau} it is ${sci(norms[tau] / norms[0])} times its size at the loss, against ρᵏ = ${sci(rho ** tau)} ` +
      "for a linear network's dominant direction (dashed line).";
    plot.setAttribute("aria-label", `Gradient norm against the distance k on a log scale, for ρ(W) = ${rho.toFixed(2)}.`);
    const every = [];
    for (let k = 0; k <= tau; k += 5) every.push(k);
    if (every[every.length - 1] !== tau) every.push(tau);
    table.replaceChildren(
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "k"), el("th", { scope: "col" }, "‖∂L/∂h(τ−k)‖"),
        el("th", { scope: "col" }, "ratio to k = 0"))),
      el("tbody", {}, ...every.map((k) => el("tr", {}, el("td", { class: "rnn-num" }, String(k)),
        el("td", { class: "rnn-num" }, sci(norms[k])), el("td", { class: "rnn-num" }, sci(norms[k] / norms[0]))))));
  }

  slider.addEventListener("input", draw);
  (async () => {
    d = await figureData(root, "slider");
    if (!d) return;
    const [lo, hi, stepSize] = d.radii;
    Object.assign(slider, { min: String(lo), max: String(hi), step: String(stepSize), value: "1" });
    draw();
    root.dataset.state = "ready";
  })();
  return { destroy() {} }; // colours come from CSS classes: a theme switch needs no redraw
}
