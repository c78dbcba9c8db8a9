// Small DOM helpers shared by the interactive figures.

let uid = 0;
export function nextId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// el("button", {type: "button", onclick: f}, "text", child, ...)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElementNS(
    attrs.svg ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml", tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "svg" || value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

export function svg(tag, attrs = {}, ...children) {
  return el(tag, { ...attrs, svg: true }, ...children);
}

// A labelled control in a flex row.
export function field(label, control, hint) {
  const id = control.id || nextId("rnn-field");
  control.id = id;
  return el("div", { class: "rnn-field" }, el("label", { for: id }, label), control, hint || null);
}

// A radio group (fieldset) of choices {value: label}; onChange(value).
// group.add(value, label) appends a choice later.
export function radios(legend, name, choices, checked, onChange) {
  const group = el("fieldset", { class: "rnn-radios" }, el("legend", {}, legend));
  group.add = (value, label) => {
    const input = el("input", { type: "radio", name, value, checked: value === checked,
      onchange: () => input.checked && onChange(value) });
    group.append(el("label", {}, input, " ", label));
    return input;
  };
  for (const [value, label] of Object.entries(choices)) group.add(value, label);
  return group;
}

// The message a figure shows instead of itself when it cannot run.
export function showError(root, what, err) {
  const message = err && err.message ? err.message : String(err);
  let box = root.querySelector(":scope > .rnn-error");
  if (!box) {
    box = el("div", { class: "rnn-error admonition failure", role: "alert" });
    root.prepend(box);
  }
  box.replaceChildren(el("p", { class: "admonition-title" }, what), el("p", {}, message));
  root.dataset.state = "error";
}

export function clearError(root) {
  const box = root.querySelector(":scope > .rnn-error");
  if (box) box.remove();
}

// How a character is shown on its own: visible marks for space and newline.
export function charLabel(ch) {
  if (ch === " ") return "␣";
  if (ch === "\n") return "↵";
  if (ch === "\t") return "⇥";
  return ch;
}
export function charName(ch) {
  if (ch === " ") return "space";
  if (ch === "\n") return "newline";
  if (ch === "\t") return "tab";
  return `“${ch}”`;
}

// Numbers with a real minus sign.
export function signed(x, digits = 2) {
  const s = Math.abs(x).toFixed(digits);
  return (x < 0 && Number(s) !== 0 ? "−" : "+") + s;
}
export function num(x, digits = 3) {
  const s = x.toFixed(digits);
  return s.startsWith("-") && Number(s) !== 0 ? "−" + s.slice(1) : s.replace(/^-/, "");
}
// 3.1 × 10⁻⁹
const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
export function sci(x, digits = 2) {
  if (x === 0) return "0";
  if (!Number.isFinite(x)) return String(x);
  const e = Math.floor(Math.log10(Math.abs(x)));
  if (e >= -2 && e <= 3) return num(x, Math.max(0, digits - e));
  const m = x / 10 ** e;
  return `${num(m, digits)} × 10${String(e).replace(/./g, (c) => SUPERSCRIPT[c])}`;
}

// Colours of the site's theme (docs/stylesheets/interactive.css), read when
// drawing, so that a figure follows the light/dark switch.
export function themeColors(node) {
  const style = getComputedStyle(node);
  const read = (name) => parseColor(style.getPropertyValue(name).trim());
  return {
    neg: read("--rnn-neg"), pos: read("--rnn-pos"), zero: read("--rnn-zero"),
    fg: style.getPropertyValue("--rnn-fg").trim(), muted: style.getPropertyValue("--rnn-muted").trim(),
  };
}

function parseColor(text) {
  const m = /^#([0-9a-f]{6})$/i.exec(text);
  if (!m) return [128, 128, 128];
  const v = parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

// The colour of an activation v in [-1, 1]: from `zero` towards `neg` or `pos`.
export function activationColor(v, colors) {
  const t = Math.min(1, Math.abs(v));
  const end = v < 0 ? colors.neg : colors.pos;
  const mix = colors.zero.map((z, i) => Math.round(z + (end[i] - z) * t));
  return `rgb(${mix[0]}, ${mix[1]}, ${mix[2]})`;
}

// Call `redraw` whenever the reader switches between light and dark.
export function onSchemeChange(redraw) {
  const observer = new MutationObserver(redraw);
  observer.observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
  return () => observer.disconnect();
}

// A URL relative to the page (data-* attributes hold them relative, so the
// site works under any sub-path).
export function pageUrl(relative) {
  return new URL(relative, document.baseURI).href;
}

// Fetch JSON with a readable error; figures that share a file fetch it once.
const jsonCache = new Map();
export function loadJson(url) {
  if (!jsonCache.has(url)) {
    const promise = fetchJson(url);
    promise.catch(() => jsonCache.delete(url)); // a failure is retried next time
    jsonCache.set(url, promise);
  }
  return jsonCache.get(url);
}

// The JSON file named by the figure's data-src (its `key` entry), or null once
// the figure shows why it cannot be read.
export async function figureData(root, key) {
  try {
    return (await loadJson(pageUrl(root.dataset.src)))[key];
  } catch (err) {
    showError(root, "The figure's data cannot be read", err);
    return null;
  }
}

async function fetchJson(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`${url} could not be fetched (${err.message})`);
  }
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  try {
    return await response.json();
  } catch (err) {
    throw new Error(`${url} is not valid JSON (${err.message})`);
  }
}
