/**
 * Histogram binning and brush mapping, shared semantics with `nbdiag/widgets/histogram.py`:
 * `bins` equal bins over [lo, hi]; edge i is `lo + (hi - lo) * i / bins` (float64, the same
 * operations in the same order as Python, so both sides agree bit for bit); a value's bin is
 * `floor((v - lo) / (hi - lo) * bins)`, the maximum going into the last bin; NaN and values outside
 * [lo, hi] are in no bin (-1). A brush covers whole bins: it selects the rows whose bin is in
 * [b0, b1].
 */

import { Bitmask } from "../shared/selection";

/** (lo, hi) with hi > lo: a degenerate range (one value) becomes [v - 0.5, v + 0.5]. */
export function safeRange(lo: number, hi: number): [number, number] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi > lo) return [lo, hi];
  return [lo - 0.5, lo + 0.5];
}

/** Finite min / max of the values, or null when there are none. */
export function finiteRange(values: ArrayLike<number>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) lo = v; // NaN compares false both ways
    if (v > hi) hi = v;
  }
  return lo <= hi && Number.isFinite(lo) && Number.isFinite(hi) ? [lo, hi] : null;
}

export function binEdges(lo: number, hi: number, bins: number): Float64Array {
  const e = new Float64Array(bins + 1);
  for (let i = 0; i <= bins; i++) e[i] = lo + ((hi - lo) * i) / bins;
  e[bins] = hi;
  return e;
}

/** The bin of one value, or -1 (NaN, or outside [lo, hi]). */
export function binOf(v: number, lo: number, hi: number, bins: number): number {
  if (!(v >= lo && v <= hi)) return -1;
  const b = Math.floor(((v - lo) / (hi - lo)) * bins);
  return b >= bins ? bins - 1 : b < 0 ? 0 : b;
}

export interface Binned {
  lo: number;
  hi: number;
  bins: number;
  edges: Float64Array;
  /** The bin of each row (-1: none). */
  rowBin: Int32Array;
  /** Rows per bin. */
  counts: Uint32Array;
  /** Rows in no bin (NaN or out of range). */
  outside: number;
}

/** Bin every row once; counts and brushes then never look at the values again. */
export function binValues(values: ArrayLike<number>, bins: number, range: [number, number] | null): Binned {
  bins = Math.max(1, Math.floor(bins));
  const [lo, hi] = safeRange(...(range ?? finiteRange(values) ?? [0, 1]));
  const n = values.length;
  const rowBin = new Int32Array(n);
  const counts = new Uint32Array(bins);
  let outside = 0;
  for (let i = 0; i < n; i++) {
    const b = binOf(values[i], lo, hi, bins);
    rowBin[i] = b;
    if (b < 0) outside++;
    else counts[b]++;
  }
  return { lo, hi, bins, edges: binEdges(lo, hi, bins), rowBin, counts, outside };
}

/** Selected rows per bin (the overlay). */
export function selectedCounts(rowBin: Int32Array, nBins: number, sel: Bitmask): Uint32Array {
  const out = new Uint32Array(nBins);
  if (sel.isEmpty()) return out;
  sel.forEach((i) => {
    const b = rowBin[i];
    if (b >= 0) out[b]++;
  });
  return out;
}

/** Rows whose bin is in [b0, b1] (either order). */
export function binRangeMask(rowBin: Int32Array, b0: number, b1: number): Bitmask {
  const lo = Math.min(b0, b1);
  const hi = Math.max(b0, b1);
  const n = rowBin.length;
  const out = new Bitmask(n);
  const bits = out.bits;
  for (let i = 0; i < n; i++) {
    const b = rowBin[i];
    if (b >= lo && b <= hi) bits[i >> 3] |= 1 << (i & 7);
  }
  return out;
}

/** The bin under x (pixels from the plot's left edge), clamped to [0, bins - 1]. */
export function pixelToBin(x: number, plotWidth: number, bins: number): number {
  if (!(plotWidth > 0)) return 0;
  const b = Math.floor((x / plotWidth) * bins);
  return Math.max(0, Math.min(bins - 1, b));
}

/** The bins [b0, b1] covering a value range (a region sent by Python or a previous brush). */
export function rangeToBins(lo: number, hi: number, binned: Pick<Binned, "lo" | "hi" | "bins" | "edges">): [number, number] | null {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi < lo) return null;
  if (hi < binned.lo || lo > binned.hi) return null;
  const e = binned.edges;
  let b0 = 0;
  while (b0 < binned.bins - 1 && e[b0 + 1] <= lo) b0++;
  let b1 = binned.bins - 1;
  while (b1 > 0 && e[b1] >= hi && e[b1] > lo) b1--;
  return [b0, Math.max(b0, b1)];
}

/** Rows per category code (codes >= k, e.g. the missing code, are counted apart). */
export function categoryCounts(codes: ArrayLike<number>, k: number): { counts: Uint32Array; missing: number } {
  const counts = new Uint32Array(k);
  let missing = 0;
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c < k) counts[c]++;
    else missing++;
  }
  return { counts, missing };
}

export function categorySelectedCounts(codes: ArrayLike<number>, k: number, sel: Bitmask): Uint32Array {
  const out = new Uint32Array(k);
  if (sel.isEmpty()) return out;
  sel.forEach((i) => {
    const c = codes[i];
    if (c < k) out[c]++;
  });
  return out;
}

export function categoryMask(codes: ArrayLike<number>, c: number): Bitmask {
  return Bitmask.fromPredicate(codes.length, (i) => codes[i] === c);
}
