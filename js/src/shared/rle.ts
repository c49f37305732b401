/**
 * COCO run-length masks in the browser (docs/dev/widget-protocol.md, "ImageGrid", masks).
 *
 * A mask travels as the `counts` string of a COCO *compressed* RLE over its image (h x w): run
 * lengths of alternating 0 / 1 pixels (starting with 0) in **column-major** order, each written
 * as a LEB128-like sequence of 6-bit characters (`'0' + c`, 5 data bits, bit 0x20 = more), the
 * sign taken from bit 0x10 of the last one, and every run after the second stored as the
 * difference to the run two before (pycocotools' `rleFrString`). Pure functions, unit-tested
 * against pycocotools.
 */

/** Run lengths of a compressed counts string. Throws on a malformed string. */
export function rleRuns(counts: string): Float64Array {
  const out: number[] = [];
  const n = counts.length;
  let p = 0;
  while (p < n) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= n) throw new Error("RLE counts string ends inside a number");
      const c = counts.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new Error(`RLE counts string has a bad character at ${p}`);
      x += (c & 0x1f) * 2 ** (5 * k); // arithmetic, not bit shifts: runs may exceed 2^31
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && (c & 0x10) !== 0) x -= 2 ** (5 * k);
    }
    if (out.length > 2) x += out[out.length - 2];
    if (x < 0) throw new Error("RLE counts string decodes to a negative run");
    out.push(x);
  }
  return Float64Array.from(out);
}

/** The compressed counts string of run lengths (pycocotools' `rleToString`). */
export function encodeRuns(runs: ArrayLike<number>): string {
  let out = "";
  for (let i = 0; i < runs.length; i++) {
    let x = runs[i];
    if (i > 2) x -= runs[i - 2];
    let more = true;
    while (more) {
      let c = ((x % 32) + 32) % 32; // arithmetic, not bit shifts: runs may exceed 2^31
      x = Math.floor(x / 32);
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      out += String.fromCharCode(c + 48);
    }
  }
  return out;
}

/** The counts string of a row-major 0 / 1 mask of `h` x `w`. */
export function encodeMask(bits: ArrayLike<number>, h: number, w: number): string {
  const runs: number[] = [];
  let cur = 0;
  let len = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = bits[y * w + x] ? 1 : 0;
      if (v === cur) len++;
      else {
        runs.push(len);
        cur = v;
        len = 1;
      }
    }
  }
  runs.push(len);
  return encodeRuns(runs);
}

/** Start of each run (length `runs.length + 1`; the last is the total pixel count). */
export function runStarts(runs: ArrayLike<number>): Float64Array {
  const s = new Float64Array(runs.length + 1);
  for (let i = 0; i < runs.length; i++) s[i + 1] = s[i] + runs[i];
  return s;
}

/** The full-resolution mask, row-major (`out[y * w + x]` is 0 or 1). */
export function decodeMask(counts: string, h: number, w: number): Uint8Array {
  const runs = rleRuns(counts);
  const out = new Uint8Array(h * w);
  let pos = 0;
  for (let i = 0; i < runs.length; i++) {
    const end = Math.min(pos + runs[i], h * w);
    if (i & 1) {
      for (let j = pos; j < end; j++) {
        const x = Math.floor(j / h);
        out[(j - x * h) * w + x] = 1;
      }
    }
    pos = end;
  }
  return out;
}

/** Where an output bitmap samples its mask: output pixel (tx, ty) shows mask pixel
 *  (floor(x0 + (tx + 0.5) / scale), floor(y0 + (ty + 0.5) / scale)); nothing outside the mask. */
export interface RasterView {
  x0: number;
  y0: number;
  /** Output pixels per mask pixel. */
  scale: number;
  outW: number;
  outH: number;
}

/** First index of sorted `a` whose value is >= `v`. */
function lowerBound(a: ArrayLike<number>, v: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Rasterise a mask (its run `starts`, over h x w) straight into an `outW x outH` bitmap
 * (row-major, 0 / 1), nearest-neighbour, without decoding it at full resolution: each output
 * column walks only the runs of its mask column. Cost: O(outW · (runs per column) + outW · outH).
 */
export function rasterize(starts: Float64Array, h: number, w: number, v: RasterView): Uint8Array {
  const { outW, outH, scale } = v;
  const out = new Uint8Array(Math.max(0, outW * outH));
  if (!(scale > 0) || outW <= 0 || outH <= 0 || h <= 0 || w <= 0) return out;
  // mask row of each output row (non-decreasing): output rows showing mask rows [a, b) are a
  // contiguous range found by binary search
  const rowOf = new Float64Array(outH);
  for (let ty = 0; ty < outH; ty++) rowOf[ty] = Math.floor(v.y0 + (ty + 0.5) / scale);
  const nRuns = starts.length - 1;
  let lastCol = -1;
  let tyRanges: number[] = [];
  for (let tx = 0; tx < outW; tx++) {
    const mx = Math.floor(v.x0 + (tx + 0.5) / scale);
    if (mx < 0 || mx >= w) continue;
    if (mx !== lastCol) {
      lastCol = mx;
      tyRanges = [];
      const c0 = mx * h;
      const c1 = c0 + h;
      let i = Math.max(0, lowerBound(starts, c0 + 1) - 1); // the run holding pixel c0
      for (; i < nRuns && starts[i] < c1; i++) {
        if ((i & 1) === 0) continue; // background
        const a = Math.max(starts[i], c0) - c0;
        const b = Math.min(starts[i + 1], c1) - c0;
        if (b <= a) continue;
        const lo = lowerBound(rowOf, a);
        const hi = lowerBound(rowOf, b, lo);
        if (hi > lo) tyRanges.push(lo, hi);
      }
    }
    for (let r = 0; r < tyRanges.length; r += 2) {
      for (let ty = tyRanges[r]; ty < tyRanges[r + 1]; ty++) out[ty * outW + tx] = 1;
    }
  }
  return out;
}

/** The outline of a bitmap: its pixels with a 4-neighbour outside it (or on its border). */
export function outline(bits: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(bits.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!bits[i]) continue;
      if (x === 0 || y === 0 || x === w - 1 || y === h - 1 || !bits[i - 1] || !bits[i + 1] || !bits[i - w] || !bits[i + w]) out[i] = 1;
    }
  }
  return out;
}

/** Number of set pixels. */
export function countSet(bits: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) n += bits[i];
  return n;
}
