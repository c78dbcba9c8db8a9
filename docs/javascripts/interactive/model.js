// A character model in the browser: the export format of rnn.export, the
// forward pass of the vanilla RNN, the GRU and the LSTM, any number of layers
// (the equations of src/rnn/rnn_cell.py, gru.py and lstm.py, one unit at a time), the
// distribution at a temperature (rnn.sample.next_distribution), and a seeded
// sampler. Arithmetic is float64 on the file's float32 weights.
// tests/test_site_interactive.py checks every number against the package.

export const FORMAT_VERSION = 1;
const MAGIC = "RNNM";
const PRELUDE = 16; // magic, version, header length, header CRC-32

// The arrays of one layer of each cell (rnn.model.param_shapes: U (H, D),
// W (H, H), biases (H,)), and the state vectors it carries: h, and the
// LSTM's cell state s.
const LAYER = {
  rnn: ["U", "W", "b"],
  gru: ["U_r", "W_r", "b_r", "U_z", "W_z", "b_z", "U_n", "W_n", "b_n", "bh_n"],
  lstm: ["U_i", "W_i", "b_i", "U_f", "W_f", "b_f", "U_o", "W_o", "b_o", "U_g", "W_g", "b_g"],
};
export const CELL_NAMES = { rnn: "vanilla RNN", gru: "GRU", lstm: "LSTM" };

// name -> shape of every array of a model (rnn.model.param_shapes)
function expectedShapes(cell, layers, K, H) {
  const out = {};
  for (let l = 0; l < layers; l++) {
    for (const name of LAYER[cell]) {
      const key = l === 0 ? name : `${name}.${l}`;
      out[key] = name[0] === "U" ? [H, l === 0 ? K : H] : name[0] === "W" ? [H, H] : [H];
    }
  }
  out.V = [K, H];
  out.c = [K];
  return out;
}

export class ModelError extends Error {}

let crcTable = null;
export function crc32(bytes) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const hex = (n) => n.toString(16).padStart(8, "0");

function isCount(v) {
  return Number.isInteger(v) && v >= 1;
}

// Parse and check an export file (an ArrayBuffer). Throws ModelError with one
// sentence naming the problem, as rnn.export.from_bytes does.
export function parseModel(buffer) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  if (bytes.length < PRELUDE) {
    throw new ModelError(`the file is ${bytes.length} bytes long, too short for a model export: it is cut or not a model file`);
  }
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic !== MAGIC) {
    throw new ModelError(`the file does not start with "${MAGIC}": it is not an rnn model export`);
  }
  const version = view.getUint32(4, true);
  if (version !== FORMAT_VERSION) {
    throw new ModelError(`the file has format version ${version}, this page reads version ${FORMAT_VERSION}: rebuild the site (or export the model again) with the same version of rnn`);
  }
  const n = view.getUint32(8, true);
  if (PRELUDE + n > bytes.length) {
    throw new ModelError(`the header is said to be ${n} bytes but the file has ${bytes.length - PRELUDE} after the prelude: the file is cut`);
  }
  const head = bytes.subarray(PRELUDE, PRELUDE + n);
  if (crc32(head) !== view.getUint32(12, true)) {
    throw new ModelError(`the header's CRC-32 is ${hex(crc32(head))}, the file says ${hex(view.getUint32(12, true))}: the file is damaged`);
  }
  let header;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(head));
  } catch (err) {
    throw new ModelError(`the header is not valid JSON (${err.message})`);
  }
  const { cell, layers, K, H, vocab } = header;
  if (!LAYER[cell]) {
    throw new ModelError(`the header's cell is ${JSON.stringify(cell)}; this page runs ${Object.values(CELL_NAMES).join(", ")} models`);
  }
  if (!isCount(layers) || !isCount(K) || !isCount(H)) {
    throw new ModelError(`the header's layers, K and H must be positive integers, got ${layers}, ${K} and ${H}`);
  }
  if (!Array.isArray(vocab) || vocab.length !== K || !vocab.every((c) => Number.isInteger(c) && c >= 0 && c <= 0x10ffff)) {
    throw new ModelError(`the header's vocabulary must be ${K} code points`);
  }
  const chars = vocab.map((c) => String.fromCodePoint(c));
  const index = new Map(chars.map((ch, i) => [ch, i]));
  if (index.size !== K) throw new ModelError("the header's vocabulary repeats a character");
  const want = expectedShapes(cell, layers, K, H);
  const listed = Array.isArray(header.params) ? header.params : [];
  const same = (a, b) => Array.isArray(a) && a.length === b.length && a.every((v, i) => v === b[i]);
  if (listed.length !== Object.keys(want).length || new Set(listed.map((e) => e && e[0])).size !== listed.length ||
      !listed.every((e) => Array.isArray(e) && want[e[0]] && same(e[1], want[e[0]]))) {
    throw new ModelError(`the header's arrays are not those of a ${layers}-layer ${CELL_NAMES[cell]} with K = ${K}, H = ${H}`);
  }
  const start = PRELUDE + n + ((4 - ((PRELUDE + n) % 4)) % 4);
  const size = 4 * listed.reduce((s, [, shape]) => s + shape.reduce((a, b) => a * b, 1), 0);
  const body = bytes.subarray(start);
  if (header.data_bytes !== size || body.length !== size) {
    throw new ModelError(`the weights take ${size} bytes; the header says ${header.data_bytes} and the file holds ${body.length}: the file is cut or was changed`);
  }
  if (crc32(body) !== header.data_crc32) {
    throw new ModelError(`the weights' CRC-32 is ${hex(crc32(body))}, the header says ${hex(header.data_crc32 >>> 0)}: the file is damaged`);
  }
  const p = {};
  let offset = start;
  for (const [name, shape] of listed) {
    const count = shape.reduce((a, b) => a * b, 1);
    const a = new Float64Array(count);
    for (let i = 0; i < count; i++, offset += 4) a[i] = view.getFloat32(offset, true);
    if (!a.every(Number.isFinite)) throw new ModelError(`the weights ${name} hold NaN or infinite values`);
    p[name] = a;
  }
  return { cell, layers, K, H, chars, index, p, meta: header.meta || {}, bytes: bytes.length };
}

// Fetch and parse; every failure becomes a ModelError with a readable message.
export async function loadModel(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new ModelError(`the model file ${url} could not be fetched (${err.message})`);
  }
  if (!response.ok) throw new ModelError(`the model file ${url} answered HTTP ${response.status}`);
  return parseModel(await response.arrayBuffer());
}

// The state of the whole model: one {h, s} per layer (s only for the LSTM).
export function zeroState(model) {
  return Array.from({ length: model.layers }, () => ({
    h: new Float64Array(model.H), s: model.cell === "lstm" ? new Float64Array(model.H) : null }));
}

// The top layer's h: what the output layer reads.
export function top(state) {
  return state[state.length - 1].h;
}

// W[i, :] . v for a row-major matrix with v.length columns
function dot(W, i, v) {
  const n = v.length;
  let s = 0;
  for (let j = 0, o = i * n; j < n; j++) s += W[o + j] * v[j];
  return s;
}

export function sigmoid(a) {
  // as rnn._gates.sigmoid: no overflow for large |a|
  if (a >= 0) return 1 / (1 + Math.exp(-a));
  const e = Math.exp(a);
  return e / (1 + e);
}

// One layer, one step. x is a character id (layer 0: U x is column x of U,
// x being one-hot) or the vector h of the layer below.
function layerStep(cell, p, sfx, x, K, { h, s }) {
  const H = h.length;
  const ux = typeof x === "number"
    ? (U, i) => U[i * K + x]
    : (U, i) => dot(U, i, x);
  const g = (name) => p[name + sfx];
  const out = new Float64Array(H);
  if (cell === "rnn") {
    const [U, W, b] = [g("U"), g("W"), g("b")];
    for (let i = 0; i < H; i++) out[i] = Math.tanh(ux(U, i) + dot(W, i, h) + b[i]); // h = tanh(Ux + Wh + b)
    return { h: out, s: null };
  }
  if (cell === "gru") {
    for (let i = 0; i < H; i++) {
      const r = sigmoid(ux(g("U_r"), i) + dot(g("W_r"), i, h) + g("b_r")[i]); // reset gate
      const z = sigmoid(ux(g("U_z"), i) + dot(g("W_z"), i, h) + g("b_z")[i]); // update gate
      const n = Math.tanh(ux(g("U_n"), i) + g("b_n")[i] + r * (dot(g("W_n"), i, h) + g("bh_n")[i])); // candidate
      out[i] = (1 - z) * n + z * h[i]; // h = (1 - z) n + z h(t-1)
    }
    return { h: out, s: null };
  }
  const cellState = new Float64Array(H);
  for (let i = 0; i < H; i++) { // the LSTM
    const gate = (k) => ux(g(`U_${k}`), i) + dot(g(`W_${k}`), i, h) + g(`b_${k}`)[i];
    const ig = sigmoid(gate("i")); // input gate
    const fg = sigmoid(gate("f")); // forget gate
    const og = sigmoid(gate("o")); // output gate
    const cand = Math.tanh(gate("g")); // candidate
    cellState[i] = fg * s[i] + ig * cand; // s = f s(t-1) + i g
    out[i] = og * Math.tanh(cellState[i]); // h = o tanh(s)
  }
  return { h: out, s: cellState };
}

// One step of the whole model: the state after reading the character `id`.
export function step(model, state, id) {
  const next = [];
  let x = id;
  for (let l = 0; l < model.layers; l++) {
    next.push(layerStep(model.cell, model.p, l === 0 ? "" : `.${l}`, x, model.K, state[l]));
    x = next[l].h;
  }
  return next;
}

// o = c + V h, h the top layer's state
export function logits(model, state) {
  const { K, p } = model;
  const h = top(state);
  const o = new Float64Array(K);
  for (let k = 0; k < K; k++) o[k] = dot(p.V, k, h) + p.c[k];
  return o;
}

// softmax(o / temperature), as rnn.sample.next_distribution
export function distribution(o, temperature = 1) {
  const z = Array.from(o, (v) => v / temperature);
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return Float64Array.from(e, (v) => v / s);
}

// Ids of the characters of `text` the model knows; the others are listed.
export function encode(model, text) {
  const ids = [];
  const unknown = new Set();
  for (const ch of text) {
    const id = model.index.get(ch);
    if (id === undefined) unknown.add(ch);
    else ids.push(id);
  }
  return { ids, unknown: [...unknown] };
}

// The id read before an empty text, as rnn.sample does: a newline, or the first character.
export function startId(model) {
  return model.index.has("\n") ? model.index.get("\n") : 0;
}

// Mulberry32: a small 32-bit generator, the same sequence in every browser
// (and reproduced in Python by the test). Returns numbers in [0, 1).
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The index i where the running sum of p first exceeds u.
export function drawIndex(p, u) {
  let acc = 0;
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] > 0) last = i;
    acc += p[i];
    if (u < acc) return i;
  }
  return last; // u beyond the rounded total
}

// `length` characters drawn from the model, starting from `state` with logits o.
export function sample(model, state, o, length, temperature, seed) {
  const next = mulberry32(seed);
  let out = "";
  for (let n = 0; n < length; n++) {
    const id = drawIndex(distribution(o, temperature), next());
    out += model.chars[id];
    state = step(model, state, id);
    o = logits(model, state);
  }
  return out;
}
