/**
 * A uniform-grid spatial index over the points (data coordinates) for hover and click picking:
 * points are counting-sorted by cell once (O(n), two Uint32Arrays), and a query visits only the
 * cells around the pointer.
 */

import type { Bounds } from "./transform";

export class GridIndex {
  readonly cols: number;
  readonly rows: number;
  private readonly b: Bounds;
  private readonly cw: number;
  private readonly ch: number;
  /** Point indices sorted by cell. */
  private readonly order: Uint32Array;
  /** Start of each cell's run in `order` (cols * rows + 1 entries). */
  private readonly starts: Uint32Array;
  private readonly xs: Float32Array;
  private readonly ys: Float32Array;

  constructor(xs: Float32Array, ys: Float32Array, bounds: Bounds, pointsPerCell = 8) {
    this.xs = xs;
    this.ys = ys;
    this.b = bounds;
    const n = Math.min(xs.length, ys.length);
    const cells = Math.max(1, Math.min(4_000_000, Math.ceil(n / pointsPerCell)));
    const w = bounds.xmax - bounds.xmin || 1;
    const h = bounds.ymax - bounds.ymin || 1;
    const aspect = w / h;
    this.cols = Math.max(1, Math.round(Math.sqrt(cells * aspect)));
    this.rows = Math.max(1, Math.ceil(cells / this.cols));
    this.cw = w / this.cols;
    this.ch = h / this.rows;
    const ncell = this.cols * this.rows;
    const cellOf = new Uint32Array(n);
    const counts = new Uint32Array(ncell + 1);
    const NONE = 0xffffffff;
    for (let i = 0; i < n; i++) {
      const c = this.cell(xs[i], ys[i]);
      cellOf[i] = c < 0 ? NONE : c;
      if (c >= 0) counts[c + 1]++;
    }
    for (let c = 0; c < ncell; c++) counts[c + 1] += counts[c];
    this.starts = counts.slice();
    const fill = counts; // reuse as write cursors
    this.order = new Uint32Array(this.starts[ncell]);
    for (let i = 0; i < n; i++) {
      const c = cellOf[i];
      if (c !== NONE) this.order[fill[c]++] = i;
    }
  }

  private cell(x: number, y: number): number {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return -1;
    const b = this.b;
    if (x < b.xmin || x > b.xmax || y < b.ymin || y > b.ymax) return -1;
    const cx = Math.min(this.cols - 1, Math.floor((x - b.xmin) / this.cw));
    const cy = Math.min(this.rows - 1, Math.floor((y - b.ymin) / this.ch));
    return cy * this.cols + cx;
  }

  /**
   * Call `fn(i)` for every indexed point in the cells overlapping the rectangle (data
   * coordinates): a superset of the points inside it, each once, in no particular order. Points
   * with NaN coordinates are never indexed, so never visited.
   */
  forEachInRect(xmin: number, xmax: number, ymin: number, ymax: number, fn: (i: number) => void): void {
    const b = this.b;
    if (!(xmin <= xmax && ymin <= ymax) || xmax < b.xmin || xmin > b.xmax || ymax < b.ymin || ymin > b.ymax) return;
    const c0 = Math.max(0, Math.floor((xmin - b.xmin) / this.cw));
    const c1 = Math.min(this.cols - 1, Math.floor((xmax - b.xmin) / this.cw));
    const r0 = Math.max(0, Math.floor((ymin - b.ymin) / this.ch));
    const r1 = Math.min(this.rows - 1, Math.floor((ymax - b.ymin) / this.ch));
    const order = this.order;
    const starts = this.starts;
    for (let r = r0; r <= r1; r++) {
      // the cells of one row of the grid are contiguous in `order`
      const end = starts[r * this.cols + c1 + 1];
      for (let k = starts[r * this.cols + c0]; k < end; k++) fn(order[k]);
    }
  }

  /** Number of points in the index (those with finite coordinates inside its bounds). */
  get size(): number {
    return this.order.length;
  }

  /**
   * The point nearest to (x, y) within `rx` / `ry` data units (an ellipse: a pixel radius divided
   * by each axis' scale), or -1. `accept(i)` may skip points (e.g. hidden ones).
   */
  nearest(x: number, y: number, rx: number, ry: number, accept?: (i: number) => boolean): number {
    const b = this.b;
    if (!(rx > 0) || !(ry > 0)) return -1;
    const c0 = Math.max(0, Math.floor((x - rx - b.xmin) / this.cw));
    const c1 = Math.min(this.cols - 1, Math.floor((x + rx - b.xmin) / this.cw));
    const r0 = Math.max(0, Math.floor((y - ry - b.ymin) / this.ch));
    const r1 = Math.min(this.rows - 1, Math.floor((y + ry - b.ymin) / this.ch));
    let best = -1;
    let bestD = 1; // normalised squared distance: inside the ellipse is < 1
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const cell = r * this.cols + c;
        for (let k = this.starts[cell]; k < this.starts[cell + 1]; k++) {
          const i = this.order[k];
          const dx = (this.xs[i] - x) / rx;
          const dy = (this.ys[i] - y) / ry;
          const d = dx * dx + dy * dy;
          // ties: the later point wins, as it is drawn on top
          if (d <= bestD && (accept === undefined || accept(i))) {
            bestD = d;
            best = i;
          }
        }
      }
    }
    return best;
  }
}
