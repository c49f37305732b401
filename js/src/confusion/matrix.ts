/**
 * Confusion-matrix logic, free of the DOM: counts from code columns, normalisation, row masks for
 * cells / rows / columns, where a selection falls, colours and labels.
 *
 * Layout: K x K, row-major, `[t * k + p]` for true class `t` and predicted class `p`.
 */

import { MISSING_CODE } from "../shared/codecs";
import { Bitmask } from "../shared/selection";

export type Normalize = "none" | "true" | "pred";
export const NORMALIZE_MODES: readonly Normalize[] = ["none", "true", "pred"];

/** A trait value -> a valid mode ("none" for anything unknown). */
export function parseNormalize(value: unknown): Normalize {
  return value === "true" || value === "pred" ? value : "none";
}

export interface Confusion {
  /** Number of classes. */
  k: number;
  /** K x K counts (rows, or their weights: pixels), row-major (true, predicted). */
  counts: Float64Array;
  /** Count per true class (row sums). */
  rowTotals: Float64Array;
  /** Count per predicted class (column sums). */
  colTotals: Float64Array;
  /** Total counted (rows, or weights, with both codes valid). */
  total: number;
  /** Rows (or weights) left out: a missing (0xFFFF) or out-of-range code on either side. */
  skipped: number;
}

/**
 * Whether `weights` applies to `n` rows: one weight per row (e.g. a semantic confusion's pixel
 * count of an (image, true, predicted) row). Absent, empty or too short: every row counts 1.
 */
export function hasWeights(weights: ArrayLike<number> | undefined, n: number): weights is ArrayLike<number> {
  return weights !== undefined && weights.length > 0 && weights.length >= n;
}

/** Number of rows two code columns describe together (the shorter one wins). */
export function rowCount(yTrue: Uint16Array, yPred: Uint16Array): number {
  return Math.min(yTrue.length, yPred.length);
}

/** K when no class names came: the largest valid code in the first `n` rows + 1. */
export function inferK(yTrue: Uint16Array, yPred: Uint16Array, n: number): number {
  let max = -1;
  for (let r = 0; r < n; r++) {
    if (yTrue[r] !== MISSING_CODE && yTrue[r] > max) max = yTrue[r];
    if (yPred[r] !== MISSING_CODE && yPred[r] > max) max = yPred[r];
  }
  return max + 1;
}

function validCode(code: number, k: number): boolean {
  return code !== MISSING_CODE && code < k;
}

/**
 * Count (true, predicted) pairs; rows with a missing or out-of-range code are skipped. With
 * `weights` (one per row) each row counts its weight instead of 1.
 */
export function confusionCounts(yTrue: Uint16Array, yPred: Uint16Array, k: number, weights?: ArrayLike<number>): Confusion {
  const n = rowCount(yTrue, yPred);
  const w = hasWeights(weights, n) ? weights : undefined;
  const counts = new Float64Array(k * k);
  let skipped = 0;
  for (let r = 0; r < n; r++) {
    const t = yTrue[r];
    const p = yPred[r];
    const x = w === undefined ? 1 : w[r];
    if (t < k && p < k) counts[t * k + p] += x;
    else skipped += x; // MISSING_CODE (0xFFFF) is always >= k since k <= 0xFFFF
  }
  const rowTotals = new Float64Array(k);
  const colTotals = new Float64Array(k);
  let total = 0;
  for (let t = 0; t < k; t++) {
    for (let p = 0; p < k; p++) {
      const c = counts[t * k + p];
      rowTotals[t] += c;
      colTotals[p] += c;
      total += c;
    }
  }
  return { k, counts, rowTotals, colTotals, total, skipped };
}

/** Share of the true class `t` predicted as `p` (0 when the class is empty). */
export function rowRate(c: Confusion, t: number, p: number): number {
  const d = c.rowTotals[t];
  return d === 0 ? 0 : c.counts[t * c.k + p] / d;
}

/** Share of the predictions `p` whose true class is `t` (0 when nothing was predicted `p`). */
export function colRate(c: Confusion, t: number, p: number): number {
  const d = c.colTotals[p];
  return d === 0 ? 0 : c.counts[t * c.k + p] / d;
}

/** The matrix as displayed: counts ("none"), row rates ("true") or column rates ("pred"); 0/0 -> 0. */
export function normalized(c: Confusion, mode: Normalize): Float64Array {
  const { k, counts } = c;
  const out = new Float64Array(k * k);
  for (let t = 0; t < k; t++) {
    for (let p = 0; p < k; p++) {
      const x = counts[t * k + p];
      if (mode === "none") out[t * k + p] = x;
      else if (mode === "true") out[t * k + p] = c.rowTotals[t] === 0 ? 0 : x / c.rowTotals[t];
      else out[t * k + p] = c.colTotals[p] === 0 ? 0 : x / c.colTotals[p];
    }
  }
  return out;
}

// ------------------------------------------------------------------------------ masks

/** Rows labelled `t` and predicted `p`. */
export function cellMask(yTrue: Uint16Array, yPred: Uint16Array, t: number, p: number): Bitmask {
  const n = rowCount(yTrue, yPred);
  const m = new Bitmask(n);
  const bits = m.bits;
  for (let r = 0; r < n; r++) if (yTrue[r] === t && yPred[r] === p) bits[r >> 3] |= 1 << (r & 7);
  return m;
}

function codeMask(codes: Uint16Array, n: number, code: number, other: Uint16Array, k: number): Bitmask {
  const m = new Bitmask(n);
  const bits = m.bits;
  // only rows the matrix counts (the other side's code valid too), so a row click selects what the
  // row's cells hold
  for (let r = 0; r < n; r++) {
    if (codes[r] === code && validCode(other[r], k)) bits[r >> 3] |= 1 << (r & 7);
  }
  return m;
}

/** Rows of true class `t` (a row header), among rows the matrix counts. */
export function trueMask(yTrue: Uint16Array, yPred: Uint16Array, t: number, k: number): Bitmask {
  return codeMask(yTrue, rowCount(yTrue, yPred), t, yPred, k);
}

/** Rows predicted `p` (a column header), among rows the matrix counts. */
export function predMask(yTrue: Uint16Array, yPred: Uint16Array, p: number, k: number): Bitmask {
  return codeMask(yPred, rowCount(yTrue, yPred), p, yTrue, k);
}

/**
 * Selected rows (or their weights) per cell (K x K, row-major), e.g. to outline the cells holding
 * a selection made elsewhere. Visits only the selected rows.
 */
export function selectedPerCell(yTrue: Uint16Array, yPred: Uint16Array, k: number, sel: Bitmask, weights?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(k * k);
  const n = rowCount(yTrue, yPred);
  const w = hasWeights(weights, n) ? weights : undefined;
  sel.forEach((r) => {
    if (r >= n) return;
    const t = yTrue[r];
    const p = yPred[r];
    if (t < k && p < k) out[t * k + p] += w === undefined ? 1 : w[r];
  });
  return out;
}

/** Total weight (rows, without weights) of the selected rows. */
export function selectedWeight(sel: Bitmask, weights: ArrayLike<number> | undefined, n: number): number {
  if (!hasWeights(weights, n)) return sel.count();
  let total = 0;
  sel.forEach((r) => {
    if (r < n) total += weights[r];
  });
  return total;
}

export interface SelectionSummary {
  /** Cells holding at least one selected row. */
  cells: number;
  /** The one true class every selected (counted) row has, or null. */
  trueClass: number | null;
  /** The one predicted class every selected (counted) row has, or null. */
  predClass: number | null;
}

/** Where a selection falls, from {@link selectedPerCell}. */
export function summarizeSelection(perCell: ArrayLike<number>, k: number): SelectionSummary {
  let cells = 0;
  let trueClass: number | null = null;
  let predClass: number | null = null;
  let mixedTrue = false;
  let mixedPred = false;
  for (let t = 0; t < k; t++) {
    for (let p = 0; p < k; p++) {
      if (perCell[t * k + p] === 0) continue;
      cells++;
      if (trueClass === null) trueClass = t;
      else if (trueClass !== t) mixedTrue = true;
      if (predClass === null) predClass = p;
      else if (predClass !== p) mixedPred = true;
    }
  }
  return { cells, trueClass: mixedTrue ? null : trueClass, predClass: mixedPred ? null : predClass };
}

// ------------------------------------------------------------------------------ colours

type RGB = [number, number, number];

function hexToRgb(hex: string): RGB {
  const h = hex.replace("#", "");
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

function rgbToHex([r, g, b]: RGB): string {
  const c = (x: number): string => Math.round(Math.min(255, Math.max(0, x))).toString(16).padStart(2, "0");
  return `#${c(r)}${c(g)}${c(b)}`;
}

/** Correct predictions: light to deep blue. */
const DIAGONAL_RAMP: RGB[] = ["#e6f0fa", "#a9cbea", "#5b9bd0", "#2468a8", "#0c3a6e"].map(hexToRgb);
/** Errors: light peach to deep red-orange, so they stand out against the blue diagonal. */
const ERROR_RAMP: RGB[] = ["#fdebdc", "#f9bb8c", "#ef7d45", "#cc4a1c", "#8a220b"].map(hexToRgb);

/** Lowest position on a ramp for a non-zero value, so the smallest count is still visible. */
const MIN_TINT = 0.08;

/**
 * Colour of `t` in [0, 1] on the diagonal (blue) or off-diagonal (orange-red) ramp, as `#rrggbb`.
 * A square-root response keeps small error counts visible next to large ones.
 */
export function rampColor(t: number, diagonal: boolean): string {
  const ramp = diagonal ? DIAGONAL_RAMP : ERROR_RAMP;
  const x = Math.min(1, Math.max(0, t));
  const pos = x * (ramp.length - 1);
  const i = Math.min(ramp.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = ramp[i];
  const b = ramp[i + 1];
  return rgbToHex([a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f]);
}

/** Fill of a cell showing `value` where the largest value of its kind is `max`; null when 0. */
export function cellFill(value: number, max: number, diagonal: boolean): string | null {
  if (!(value > 0) || !(max > 0)) return null;
  const t = MIN_TINT + (1 - MIN_TINT) * Math.sqrt(Math.min(1, value / max));
  return rampColor(t, diagonal);
}

/** Largest value on the diagonal and off it, to scale the two ramps separately. */
export function scaleMaxima(values: Float64Array, k: number): { diagonal: number; offDiagonal: number } {
  let diagonal = 0;
  let offDiagonal = 0;
  for (let t = 0; t < k; t++) {
    for (let p = 0; p < k; p++) {
      const v = values[t * k + p];
      if (t === p) diagonal = Math.max(diagonal, v);
      else offDiagonal = Math.max(offDiagonal, v);
    }
  }
  return { diagonal, offDiagonal };
}

function luminance(hex: string): number {
  const lin = (c: number): number => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const [r, g, b] = hexToRgb(hex);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

export const DARK_TEXT = "#000000";
export const LIGHT_TEXT = "#ffffff";

/** WCAG contrast ratio of two `#rrggbb` colours. */
export function contrastRatio(a: string, b: string): number {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** The more readable of dark and white text on `fill` (`#rrggbb`). */
export function textColorOn(fill: string): string {
  return contrastRatio(fill, DARK_TEXT) >= contrastRatio(fill, LIGHT_TEXT) ? DARK_TEXT : LIGHT_TEXT;
}

// ------------------------------------------------------------------------------ labels

/** Integer with thousands separators: 1234567 -> "1,234,567". */
export function formatInt(n: number): string {
  const s = String(Math.round(Math.abs(n)));
  const grouped = s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return n < 0 ? `-${grouped}` : grouped;
}

/** A rate in [0, 1] as a percentage with one decimal: 0.1234 -> "12.3%". */
export function formatPercent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

/** A cell's label: counts as integers, rates as percentages. */
export function formatValue(value: number, mode: Normalize): string {
  return mode === "none" ? String(Math.round(value)) : formatPercent(value);
}
