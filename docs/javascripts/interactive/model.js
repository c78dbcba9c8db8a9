// A character model in the browser: the export format of rnn.export, the
// forward pass of the vanilla RNN and the GRU (the equations of
// src/rnn/rnn_cell.py and src/rnn/gru.py, one unit at a time), the
// distribution at a temperature (rnn.sample.next_distribution), and a seeded
// sampler. Arithmetic is float64 on the file's float32 weights.
// tests/test_site_interactive.py checks every number against the package.

export const FORMAT_VERSION = 1;
const MAGIC = "RNNM";
const PRELUDE = 16; // magic, version, header length, header CRC-32

// The cells this page runs, and the arrays of a one-layer model of each
// (rnn.model.param_shapes): name -> shape as a function of K and H.
const LAYOUTS = {
  rnn: { U: "HK", W: "HH", b: "H", V: "KH", c: "K" },
  gru: {
    U_r: "HK", W_r: "HH", b_r: "H", U_z: "HK", W_z: "HH", b_z: "H",
    U_n: "HK", W_n: "HH", b_n: "H", bh_n: "H", V: "KH", c: "K",
  },
};
export const CELL_NAMES = { rnn: "vanilla RNN", gru: "GRU", lstm: "LSTM" };

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
  if (!LAYOUTS[cell]) {
    throw new ModelError(`the file holds a ${CELL_NAMES[cell] || JSON.stringify(cell)} model; this page runs ${Object.keys(LAYOUTS).map((c) => CELL_NAMES[c]).join(" and ")} models`);
  }
  if (layers !== 1) throw new ModelError(`the file holds a ${layers}-layer model; this page runs one-layer models`);
  if (!isCount(K) || !isCount(H)) throw new ModelError(`the header's K and H must be positive integers, got ${K} and ${H}`);
  if (!Array.isArray(vocab) || vocab.length !== K || !vocab.every((c) => Number.isInteger(c) && c >= 0 && c <= 0x10ffff)) {
    throw new ModelError(`the header's vocabulary must be ${K} code points`);
  }
  const chars = vocab.map((c) => String.fromCodePoint(c));
  const index = new Map(chars.map((ch, i) => [ch, i]));
  if (index.size !== K) throw new ModelError("the header's vocabulary repeats a character");
  const layout = LAYOUTS[cell];
  const dims = { H, K };
  const listed = Array.isArray(header.params) ? header.params : [];
  const want = Object.keys(layout);
  const shapeOk = (name, shape) =>
    layout[name] && Array.isArray(shape) && shape.length === layout[name].length &&
    shape.every((s, i) => s === dims[layout[name][i]]);
  if (listed.length !== want.length || !listed.every((e) => Array.isArray(e) && shapeOk(e[0], e[1])) ||
      new Set(listed.map((e) => e[0])).size !== want.length) {
    throw new ModelError(`the header's arrays are not those of a one-layer ${CELL_NAMES[cell]} with K = ${K}, H = ${H}`);
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
  return { cell, K, H, chars, index, p, meta: header.meta || {}, bytes: bytes.length };
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

export function zeroState(model) {
  return new Float64Array(model.H);
}

// W[i, :] . h for a row-major (H, H) matrix
function dot(W, i, h) {
  const H = h.length;
  let s = 0;
  for (let j = 0, o = i * H; j < H; j++) s += W[o + j] * h[j];
  return s;
}

export function sigmoid(a) {
  // as rnn._gates.sigmoid: no overflow for large |a|
  if (a >= 0) return 1 / (1 + Math.exp(-a));
  const e = Math.exp(a);
  return e / (1 + e);
}

// One step: the state after reading the character with id `id` (one-hot x,
// so U x is column `id` of U).
export function step(model, h, id) {
  const { H, K, p } = model;
  const out = new Float64Array(H);
  if (model.cell === "rnn") {
    for (let i = 0; i < H; i++) out[i] = Math.tanh(p.U[i * K + id] + dot(p.W, i, h) + p.b[i]); // h = tanh(Ux + Wh + b)
    return out;
  }
  for (let i = 0; i < H; i++) {
    const r = sigmoid(p.U_r[i * K + id] + dot(p.W_r, i, h) + p.b_r[i]); // reset gate
    const z = sigmoid(p.U_z[i * K + id] + dot(p.W_z, i, h) + p.b_z[i]); // update gate
    const n = Math.tanh(p.U_n[i * K + id] + p.b_n[i] + r * (dot(p.W_n, i, h) + p.bh_n[i])); // candidate
    out[i] = (1 - z) * n + z * h[i];
  }
  return out;
}

// o = c + V h
export function logits(model, h) {
  const { K, p } = model;
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

// `length` characters drawn from the model, starting from state h with logits o.
export function sample(model, h, o, length, temperature, seed) {
  const next = mulberry32(seed);
  let out = "";
  for (let n = 0; n < length; n++) {
    const id = drawIndex(distribution(o, temperature), next());
    out += model.chars[id];
    h = step(model, h, id);
    o = logits(model, h);
  }
  return out;
}
