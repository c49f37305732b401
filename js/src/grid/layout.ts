/**
 * Grid geometry, pure functions (unit-tested without a DOM): how many columns fit, which items
 * are in (or near) the viewport, where each cell goes, and how an image and its boxes scale into
 * a cell.
 */

import { Bitmask } from "../shared/selection";

export interface GridMetrics {
  /** Cell width (px), thumbnail plus padding. */
  cellWidth: number;
  /** Cell height (px), thumbnail plus caption plus padding. */
  cellHeight: number;
  /** Gap between cells (px). */
  gap: number;
  /** Number of columns. */
  columns: number;
  /** Number of grid rows. */
  rows: number;
  /** Total scrollable height (px). */
  height: number;
}

/** Columns that fit in `width` (at least 1). */
export function columnsFor(width: number, cellWidth: number, gap: number): number {
  if (!(width > 0) || !(cellWidth > 0)) return 1;
  return Math.max(1, Math.floor((width + gap) / (cellWidth + gap)));
}

export function gridMetrics(count: number, width: number, cellWidth: number, cellHeight: number, gap: number): GridMetrics {
  const columns = columnsFor(width, cellWidth, gap);
  const rows = count > 0 ? Math.ceil(count / columns) : 0;
  const height = rows > 0 ? rows * (cellHeight + gap) - gap : 0;
  return { cellWidth, cellHeight, gap, columns, rows, height };
}

export interface VisibleWindow {
  /** First grid row rendered (inclusive). */
  firstRow: number;
  /** Last grid row rendered (inclusive); -1 when nothing. */
  lastRow: number;
  /** First item (display position) rendered, inclusive. */
  start: number;
  /** One past the last item rendered. */
  end: number;
}

/**
 * The items to render: those intersecting `[scrollTop, scrollTop + viewportHeight)` plus
 * `overscan` grid rows above and below.
 */
export function visibleWindow(
  m: GridMetrics,
  count: number,
  scrollTop: number,
  viewportHeight: number,
  overscan = 1,
): VisibleWindow {
  if (count <= 0 || m.rows === 0) return { firstRow: 0, lastRow: -1, start: 0, end: 0 };
  const pitch = m.cellHeight + m.gap;
  const top = Math.max(0, scrollTop);
  const bottom = top + Math.max(0, viewportHeight);
  const first = Math.min(m.rows - 1, Math.floor(top / pitch));
  // a row is visible if its top is above the bottom edge
  const last = Math.min(m.rows - 1, Math.max(first, Math.ceil(bottom / pitch) - 1));
  const firstRow = Math.max(0, first - overscan);
  const lastRow = Math.min(m.rows - 1, last + overscan);
  return {
    firstRow,
    lastRow,
    start: firstRow * m.columns,
    end: Math.min(count, (lastRow + 1) * m.columns),
  };
}

/** Top-left corner (px) of the cell of display position `pos`. */
export function cellPosition(m: GridMetrics, pos: number): { left: number; top: number } {
  const col = pos % m.columns;
  const row = Math.floor(pos / m.columns);
  return { left: col * (m.cellWidth + m.gap), top: row * (m.cellHeight + m.gap) };
}

/** The scrollTop that brings display position `pos` into view (unchanged when it is). */
export function scrollToReveal(m: GridMetrics, pos: number, scrollTop: number, viewportHeight: number): number {
  const { top } = cellPosition(m, pos);
  const bottom = top + m.cellHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewportHeight) return Math.max(0, bottom - viewportHeight);
  return scrollTop;
}

/** How an image of `srcW x srcH` sits inside a `boxW x boxH` frame ("contain", centred). */
export interface Fit {
  scale: number;
  dx: number;
  dy: number;
  width: number;
  height: number;
}

export function fitContain(srcW: number, srcH: number, boxW: number, boxH: number): Fit {
  if (!(srcW > 0) || !(srcH > 0) || !(boxW > 0) || !(boxH > 0)) {
    return { scale: 0, dx: 0, dy: 0, width: 0, height: 0 };
  }
  const scale = Math.min(boxW / srcW, boxH / srcH);
  const width = srcW * scale;
  const height = srcH * scale;
  return { scale, dx: (boxW - width) / 2, dy: (boxH - height) / 2, width, height };
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A box in source pixels -> frame pixels under `fit`. */
export function scaleBox(box: Rect, fit: Fit): Rect {
  return {
    x: fit.dx + box.x * fit.scale,
    y: fit.dy + box.y * fit.scale,
    w: box.w * fit.scale,
    h: box.h * fit.scale,
  };
}

/** Clip a rectangle to `[0, W] x [0, H]`; null when nothing is left. */
export function clipRect(r: Rect, W: number, H: number): Rect | null {
  const x0 = Math.max(0, r.x);
  const y0 = Math.max(0, r.y);
  const x1 = Math.min(W, r.x + r.w);
  const y1 = Math.min(H, r.y + r.h);
  if (x1 <= x0 || y1 <= y0) return null;
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** Thumbnail size to request for a cell of `cssSize` px: device pixels, rounded up to a multiple
 * of 32 (so a few sizes are cached), within [32, 512]. */
export function requestSize(cssSize: number, devicePixelRatio = 1): number {
  const px = Math.ceil((cssSize * Math.max(1, devicePixelRatio || 1)) / 32) * 32;
  return Math.min(512, Math.max(32, px));
}

/** Something with a `get(row)`: a Bitmask. */
export interface RowSet {
  get(row: number): boolean;
}

/**
 * Rows in display order: `order` (display position -> row; null or empty = dataset order) keeping
 * only rows in every given set (null sets keep everything). Rows >= nRows are dropped.
 */
export function displayRows(nRows: number, order: Uint32Array | null, ...keep: (RowSet | null)[]): Uint32Array {
  const sets = keep.filter((s): s is RowSet => s !== null);
  const src = order !== null && order.length > 0 ? order : null;
  const len = src ? src.length : nRows;
  if (src === null && sets.length === 1 && sets[0] instanceof Bitmask) {
    // dataset order through one mask (a linked selection): its set bits, skipping empty bytes
    const rows = sets[0].indices();
    let end = rows.length;
    while (end > 0 && rows[end - 1] >= nRows) end--;
    return end === rows.length ? rows : rows.subarray(0, end);
  }
  if (sets.length === 0) {
    if (src === null) {
      const out = new Uint32Array(nRows);
      for (let i = 0; i < nRows; i++) out[i] = i;
      return out;
    }
    let ok = true;
    for (let i = 0; i < len && ok; i++) if (src[i] >= nRows) ok = false;
    if (ok) return src;
  }
  const out = new Uint32Array(len);
  let w = 0;
  outer: for (let i = 0; i < len; i++) {
    const r = src ? src[i] : i;
    if (r >= nRows) continue;
    for (const s of sets) if (!s.get(r)) continue outer;
    out[w++] = r;
  }
  return out.subarray(0, w);
}
