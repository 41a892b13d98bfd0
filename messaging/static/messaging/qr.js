// A QR Code encoder (ISO/IEC 18004) in plain JavaScript, for the safety-number page (spec e2ee.md
// §4.3: the code carries `ure2e:v1:<user_id>:<b64u(msk_pub)>`). No library: byte mode only (with
// a UTF-8 ECI header when the text is not ASCII), versions 1-10 (up to 271 bytes at level L, 213
// at M), the four error-correction levels,
// Reed-Solomon over GF(256), and the mask with the lowest penalty (or a forced one, for tests).
// Rendering is an SVG path of whole modules with a 4-module quiet zone: crisp at any size, prints.
//
//   const qr = encode("ure2e:v1:…", { ecl: "M" });   // {version, size, ecl, mask, modules}
//   container.append(toSvg(qr, { title: "…" }));     // an <svg> element, built with DOM calls
//
// Tests (tests/browser/test_verify_pages.py) render codes in Chromium and read them back with
// zbarimg, an independent decoder, for every level, every mask and versions 1 to 10.

const LEVELS = { L: 1, M: 0, Q: 3, H: 2 }; // format-information bits of each level
const LEVEL_INDEX = { L: 0, M: 1, Q: 2, H: 3 };

// Per version (1-10) and level (L, M, Q, H): [EC codewords per block, blocks in group 1, data
// codewords per block in group 1, blocks in group 2 (one more data codeword each)].
const BLOCKS = [
  null,
  [[7, 1, 19, 0], [10, 1, 16, 0], [13, 1, 13, 0], [17, 1, 9, 0]],
  [[10, 1, 34, 0], [16, 1, 28, 0], [22, 1, 22, 0], [28, 1, 16, 0]],
  [[15, 1, 55, 0], [26, 1, 44, 0], [18, 2, 17, 0], [22, 2, 13, 0]],
  [[20, 1, 80, 0], [18, 2, 32, 0], [26, 2, 24, 0], [16, 4, 9, 0]],
  [[26, 1, 108, 0], [24, 2, 43, 0], [18, 2, 15, 2], [22, 2, 11, 2]],
  [[18, 2, 68, 0], [16, 4, 27, 0], [24, 4, 19, 0], [28, 4, 15, 0]],
  [[20, 2, 78, 0], [18, 4, 31, 0], [18, 2, 14, 4], [26, 4, 13, 1]],
  [[24, 2, 97, 0], [22, 2, 38, 2], [22, 4, 18, 2], [26, 4, 14, 2]],
  [[30, 2, 116, 0], [22, 3, 36, 2], [20, 4, 16, 4], [24, 4, 12, 4]],
  [[18, 2, 68, 2], [26, 4, 43, 1], [24, 6, 19, 2], [28, 6, 15, 2]],
];
const ALIGNMENT = [null, [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42], [6, 26, 46],
  [6, 28, 50]];
export const MAX_VERSION = 10;

export class QrError extends Error {
  constructor(message) {
    super(message);
    this.name = "QrError";
  }
}

// --- GF(256) and Reed-Solomon (primitive polynomial x^8 + x^4 + x^3 + x^2 + 1) ------------------

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
for (let i = 0, x = 1; i < 255; i++) {
  EXP[i] = x;
  LOG[x] = i;
  x <<= 1;
  if (x & 0x100) x ^= 0x11d;
}
for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255];

function gfMul(a, b) {
  return a && b ? EXP[LOG[a] + LOG[b]] : 0;
}

// The generator polynomial (x - α^0)(x - α^1)…(x - α^(n-1)), highest coefficient (1) dropped.
function generator(n) {
  let poly = [1];
  for (let i = 0; i < n; i++) {
    const next = new Array(poly.length + 1).fill(0);
    for (let j = 0; j < poly.length; j++) {
      next[j] ^= poly[j];
      next[j + 1] ^= gfMul(poly[j], EXP[i]);
    }
    poly = next;
  }
  return poly.slice(1);
}

// The remainder of data·x^n divided by the generator: the block's n error-correction codewords.
export function reedSolomon(data, n) {
  const gen = generator(n);
  const rem = new Array(n).fill(0);
  for (const byte of data) {
    const factor = byte ^ rem.shift();
    rem.push(0);
    for (let i = 0; i < n; i++) rem[i] ^= gfMul(gen[i], factor);
  }
  return rem;
}

// --- capacity and codewords -------------------------------------------------------------------------

function blocksOf(version, ecl) {
  const [ec, g1, d1, g2] = BLOCKS[version][LEVEL_INDEX[ecl]];
  return { ec, sizes: [...Array(g1).fill(d1), ...Array(g2).fill(d1 + 1)] };
}

function dataCapacity(version, ecl) {
  return blocksOf(version, ecl).sizes.reduce((a, b) => a + b, 0);
}

// Text beyond ASCII is announced as UTF-8 by an ECI header (mode 0111, designator 26): without
// it, readers guess (ISO 8859-1 by the standard, Shift JIS by some). Tessera's payloads are ASCII.
const ECI_UTF8_BITS = 12;

// How many bytes byte mode holds at this version and level (4-bit mode, 8- or 16-bit count).
export function byteCapacity(version, ecl, { eci = false } = {}) {
  const countBits = version < 10 ? 8 : 16;
  return Math.floor((dataCapacity(version, ecl) * 8 - (eci ? ECI_UTF8_BITS : 0) - 4 - countBits) / 8);
}

// Modules left for codewords once the function patterns are placed (ISO 18004 table 1): the whole
// square less finders and separators (3 x 64), timing, format, alignment and version areas.
function rawModules(version) {
  let n = (16 * version + 128) * version + 64;
  if (version >= 2) {
    const k = Math.floor(version / 7) + 2; // alignment centres per row
    n -= (25 * k - 10) * k - 55;
    if (version >= 7) n -= 36;
  }
  return n;
}

function codewords(bytes, version, ecl, eci) {
  const countBits = version < 10 ? 8 : 16;
  const bits = [];
  const push = (value, length) => {
    for (let i = length - 1; i >= 0; i--) bits.push((value >>> i) & 1);
  };
  if (eci) {
    push(0b0111, 4);
    push(26, 8);
  }
  push(0b0100, 4);
  push(bytes.length, countBits);
  for (const b of bytes) push(b, 8);
  const capacity = dataCapacity(version, ecl) * 8;
  push(0, Math.min(4, capacity - bits.length)); // terminator
  while (bits.length % 8) bits.push(0);
  const data = [];
  for (let i = 0; i < bits.length; i += 8) data.push(bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0));
  for (let pad = 0xec; data.length < capacity / 8; pad ^= 0xec ^ 0x11) data.push(pad);

  const { ec, sizes } = blocksOf(version, ecl);
  const blocks = [];
  let at = 0;
  for (const size of sizes) {
    const block = data.slice(at, at + size);
    at += size;
    blocks.push({ data: block, ec: reedSolomon(block, ec) });
  }
  const out = [];
  for (let i = 0; i < Math.max(...sizes); i++) for (const b of blocks) if (i < b.data.length) out.push(b.data[i]);
  for (let i = 0; i < ec; i++) for (const b of blocks) out.push(b.ec[i]);
  if (out.length !== Math.floor(rawModules(version) / 8)) throw new QrError("internal: codeword count");
  return out;
}

// --- the matrix ---------------------------------------------------------------------------------------

class Matrix {
  constructor(version) {
    this.version = version;
    this.size = 17 + 4 * version;
    this.dark = Array.from({ length: this.size }, () => new Uint8Array(this.size));
    this.fixed = Array.from({ length: this.size }, () => new Uint8Array(this.size));
  }

  set(x, y, dark) {
    this.dark[y][x] = dark ? 1 : 0;
    this.fixed[y][x] = 1;
  }

  functionPatterns() {
    const { size, version } = this;
    for (let i = 0; i < size; i++) {
      this.set(6, i, i % 2 === 0);
      this.set(i, 6, i % 2 === 0);
    }
    for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]]) {
      for (let dy = -4; dy <= 4; dy++) {
        for (let dx = -4; dx <= 4; dx++) {
          const x = cx + dx;
          const y = cy + dy;
          const d = Math.max(Math.abs(dx), Math.abs(dy));
          if (x >= 0 && x < size && y >= 0 && y < size) this.set(x, y, d !== 2 && d !== 4);
        }
      }
    }
    const centres = ALIGNMENT[version];
    const last = centres.length - 1;
    centres.forEach((cx, i) => centres.forEach((cy, j) => {
      if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) return; // finders
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) this.set(cx + dx, cy + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
      }
    }));
    this.format(0, "M"); // reserve the format areas; drawn for real once the mask is known
    if (version >= 7) {
      let rem = version;
      for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
      const bits = (version << 12) | rem;
      for (let i = 0; i < 18; i++) {
        const bit = (bits >>> i) & 1;
        const a = size - 11 + (i % 3);
        const b = Math.floor(i / 3);
        this.set(a, b, bit);
        this.set(b, a, bit);
      }
    }
  }

  format(mask, ecl) {
    const data = (LEVELS[ecl] << 3) | mask;
    let rem = data;
    for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
    const bits = ((data << 10) | rem) ^ 0x5412;
    const bit = (i) => (bits >>> i) & 1;
    const { size } = this;
    for (let i = 0; i <= 5; i++) this.set(8, i, bit(i));
    this.set(8, 7, bit(6));
    this.set(8, 8, bit(7));
    this.set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) this.set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) this.set(size - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) this.set(8, size - 15 + i, bit(i));
    this.set(8, size - 8, 1); // the dark module
  }

  place(words) {
    const { size } = this;
    let i = 0;
    for (let right = size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5; // skip the vertical timing pattern
      const upward = ((right + 1) & 2) === 0;
      for (let vert = 0; vert < size; vert++) {
        const y = upward ? size - 1 - vert : vert;
        for (let j = 0; j < 2; j++) {
          const x = right - j;
          if (this.fixed[y][x]) continue;
          this.dark[y][x] = i < words.length * 8 ? (words[i >>> 3] >>> (7 - (i & 7))) & 1 : 0;
          i++;
        }
      }
    }
  }

  applyMask(mask) {
    const test = MASKS[mask];
    for (let y = 0; y < this.size; y++) {
      for (let x = 0; x < this.size; x++) if (!this.fixed[y][x] && test(x, y)) this.dark[y][x] ^= 1;
    }
  }
}

const MASKS = [
  (x, y) => (x + y) % 2 === 0,
  (x, y) => y % 2 === 0,
  (x) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

// The four penalty rules of ISO 18004 §7.8.3: runs, 2x2 blocks, finder look-alikes, balance.
export function penalty(dark) {
  const size = dark.length;
  let score = 0;
  const finderA = [1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0];
  const finderB = [0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1];
  const line = (get) => {
    let run = 1;
    for (let i = 1; i <= size; i++) {
      if (i < size && get(i) === get(i - 1)) {
        run++;
      } else {
        if (run >= 5) score += run - 2;
        run = 1;
      }
    }
    for (let i = 0; i + 11 <= size; i++) {
      if (finderA.every((v, k) => get(i + k) === v) || finderB.every((v, k) => get(i + k) === v)) score += 40;
    }
  };
  for (let y = 0; y < size; y++) line((x) => dark[y][x]);
  for (let x = 0; x < size; x++) line((y) => dark[y][x]);
  let total = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      total += dark[y][x];
      if (x + 1 < size && y + 1 < size) {
        const v = dark[y][x];
        if (dark[y][x + 1] === v && dark[y + 1][x] === v && dark[y + 1][x + 1] === v) score += 3;
      }
    }
  }
  const cells = size * size;
  score += 10 * Math.floor(Math.abs(total * 20 - cells * 10) / cells);
  return score;
}

// Encode text (UTF-8, byte mode) in the smallest version that holds it at level `ecl`.
// `mask` (0-7) forces a mask, for tests; by default the lowest-penalty one is chosen.
export function encode(text, { ecl = "M", mask = null, minVersion = 1 } = {}) {
  if (!(ecl in LEVELS)) throw new QrError("unknown error-correction level");
  if (mask !== null && !(Number.isInteger(mask) && mask >= 0 && mask < 8)) throw new QrError("mask must be 0 to 7");
  const bytes = new TextEncoder().encode(String(text));
  let version = Math.max(1, minVersion);
  const eci = bytes.some((b) => b > 0x7f);
  while (version <= MAX_VERSION && byteCapacity(version, ecl, { eci }) < bytes.length) version++;
  if (version > MAX_VERSION) throw new QrError("too long for a QR code of version 10");
  const words = codewords(bytes, version, ecl, eci);
  const build = (m) => {
    const matrix = new Matrix(version);
    matrix.functionPatterns();
    matrix.place(words);
    matrix.applyMask(m);
    matrix.format(m, ecl);
    return matrix;
  };
  let best = null;
  for (const m of mask === null ? [0, 1, 2, 3, 4, 5, 6, 7] : [mask]) {
    const matrix = build(m);
    const score = mask === null ? penalty(matrix.dark) : 0;
    if (!best || score < best.score) best = { matrix, score, mask: m };
  }
  return { version, size: best.matrix.size, ecl, mask: best.mask, modules: best.matrix.dark };
}

// The dark modules as one SVG path, one unit per module, offset by the quiet zone.
export function svgPath(qr, quiet = 4) {
  const parts = [];
  qr.modules.forEach((row, y) => {
    let x = 0;
    while (x < qr.size) {
      if (!row[x]) {
        x++;
        continue;
      }
      const start = x;
      while (x < qr.size && row[x]) x++;
      parts.push(`M${start + quiet} ${y + quiet}h${x - start}v1h${start - x}z`);
    }
  });
  return parts.join("");
}

// An <svg> element (role img, with a <title> for screen readers); size it with CSS.
export function toSvg(qr, { title = "", quiet = 4, doc = document } = {}) {
  const NS = "http://www.w3.org/2000/svg";
  const full = qr.size + 2 * quiet;
  const svg = doc.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${full} ${full}`);
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.setAttribute("role", "img");
  svg.setAttribute("class", "qr");
  if (title) {
    const t = doc.createElementNS(NS, "title");
    t.textContent = title;
    svg.append(t);
  }
  const background = doc.createElementNS(NS, "rect");
  background.setAttribute("width", String(full));
  background.setAttribute("height", String(full));
  background.setAttribute("fill", "#fff");
  const path = doc.createElementNS(NS, "path");
  path.setAttribute("d", svgPath(qr, quiet));
  path.setAttribute("fill", "#000");
  svg.append(background, path);
  return svg;
}
