/**
 * Lasso and box membership of the scatter's points, in data coordinates. A polygon is a flat
 * array `[x0, y0, x1, y1, ...]`, implicitly closed. Membership uses the even-odd (crossing) rule,
 * so a self-intersecting lasso behaves like SVG's `fill-rule: evenodd`.
 */

import { Bitmask } from "../shared/selection";

export type Polygon = ArrayLike<number>;

/** A spatial index that can list candidate points in a rectangle ({@link GridIndex}). */
export interface RectIndex {
  forEachInRect(xmin: number, xmax: number, ymin: number, ymax: number, fn: (i: number) => void): void;
}

/** Whether (x, y) is inside the polygon (even-odd rule). */
export function pointInPolygon(x: number, y: number, poly: Polygon): boolean {
  const n = poly.length >> 1;
  if (n < 3) return false;
  let inside = false;
  let xj = poly[2 * (n - 1)];
  let yj = poly[2 * (n - 1) + 1];
  for (let i = 0; i < n; i++) {
    const xi = poly[2 * i];
    const yi = poly[2 * i + 1];
    // the edge crosses the horizontal ray from (x, y) to +infinity
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    xj = xi;
    yj = yi;
  }
  return inside;
}

export interface Rect {
  xmin: number;
  xmax: number;
  ymin: number;
  ymax: number;
}

export function polygonBounds(poly: Polygon): Rect {
  let xmin = Infinity;
  let xmax = -Infinity;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (let i = 0; i + 1 < poly.length; i += 2) {
    const x = poly[i];
    const y = poly[i + 1];
    if (x < xmin) xmin = x;
    if (x > xmax) xmax = x;
    if (y < ymin) ymin = y;
    if (y > ymax) ymax = y;
  }
  return { xmin, xmax, ymin, ymax };
}

/**
 * Rows whose point is inside the polygon (points with NaN coordinates never are). With a spatial
 * `index` over the same points, only the points in the cells under the polygon's bounding box
 * are tested (the same test, so the same rows): a small lasso over millions of points costs
 * what it covers, not a scan of every point.
 */
export function lassoSelect(xs: Float32Array, ys: Float32Array, poly: Polygon, index?: RectIndex | null): Bitmask {
  const n = Math.min(xs.length, ys.length);
  const out = new Bitmask(n);
  if ((poly.length >> 1) < 3) return out;
  const b = polygonBounds(poly);
  const bits = out.bits;
  if (index) {
    index.forEachInRect(b.xmin, b.xmax, b.ymin, b.ymax, (i) => {
      if (i >= n) return;
      const x = xs[i];
      const y = ys[i];
      if (!(x >= b.xmin && x <= b.xmax && y >= b.ymin && y <= b.ymax)) return;
      if (pointInPolygon(x, y, poly)) bits[i >> 3] |= 1 << (i & 7);
    });
    return out;
  }
  for (let i = 0; i < n; i++) {
    const x = xs[i];
    const y = ys[i];
    // bounding-box test first: cheap, and false for NaN
    if (!(x >= b.xmin && x <= b.xmax && y >= b.ymin && y <= b.ymax)) continue;
    if (pointInPolygon(x, y, poly)) bits[i >> 3] |= 1 << (i & 7);
  }
  return out;
}

/** Rows whose point is inside the rectangle (edges included; corners in any order); with an
 *  `index`, only the points in the cells under it are tested. */
export function boxSelect(xs: Float32Array, ys: Float32Array, x0: number, y0: number, x1: number, y1: number, index?: RectIndex | null): Bitmask {
  const n = Math.min(xs.length, ys.length);
  const out = new Bitmask(n);
  const xmin = Math.min(x0, x1);
  const xmax = Math.max(x0, x1);
  const ymin = Math.min(y0, y1);
  const ymax = Math.max(y0, y1);
  const bits = out.bits;
  if (index) {
    index.forEachInRect(xmin, xmax, ymin, ymax, (i) => {
      if (i >= n) return;
      const x = xs[i];
      const y = ys[i];
      if (x >= xmin && x <= xmax && y >= ymin && y <= ymax) bits[i >> 3] |= 1 << (i & 7);
    });
    return out;
  }
  for (let i = 0; i < n; i++) {
    const x = xs[i];
    const y = ys[i];
    if (x >= xmin && x <= xmax && y >= ymin && y <= ymax) bits[i >> 3] |= 1 << (i & 7);
  }
  return out;
}

/**
 * Append a pointer position to a lasso path (flat pixel coordinates) unless it is closer than
 * `minDist` to the last vertex: keeps paths small while drawing. Returns whether it was added.
 */
export function extendPath(path: number[], x: number, y: number, minDist = 2): boolean {
  const n = path.length;
  if (n >= 2) {
    const dx = x - path[n - 2];
    const dy = y - path[n - 1];
    if (dx * dx + dy * dy < minDist * minDist) return false;
  }
  path.push(x, y);
  return true;
}

/**
 * Reduce a path to at most `max` vertices by keeping every k-th one (and the last), for sending
 * a lasso's outline to the kernel as its region.
 */
export function decimate(path: ArrayLike<number>, max = 256): number[] {
  const n = path.length >> 1;
  if (n <= max) return Array.from(path);
  const step = n / max;
  const out: number[] = [];
  for (let k = 0; k < max - 1; k++) {
    const i = Math.floor(k * step);
    out.push(path[2 * i], path[2 * i + 1]);
  }
  out.push(path[2 * (n - 1)], path[2 * (n - 1) + 1]);
  return out;
}
