/**
 * What a lasso or a box drawn on the scatter selects, and the region sent with the selection
 * (docs/dev/widget-protocol.md, "Scatter"): the gesture is drawn in canvas pixels, membership and
 * the region are in data coordinates, and the region is exactly the shape membership used.
 */

import type { Bitmask } from "../shared/selection";
import { boxSelect, decimate, lassoSelect, type RectIndex } from "./lasso";

/** Canvas pixel -> data coordinates (a {@link ViewTransform}). */
export interface ToData {
  toData(px: number, py: number): [number, number];
}

export interface Hit {
  rows: Bitmask;
  region: Record<string, unknown>;
}

/** The points inside a lasso drawn along `path` (canvas pixels, [x0, y0, x1, y1, ...]). */
export function lassoHit(x: Float32Array, y: Float32Array, path: number[], t: ToData, index?: RectIndex | null): Hit {
  const px = decimate(path, 256);
  const poly: number[] = [];
  for (let i = 0; i + 1 < px.length; i += 2) poly.push(...t.toData(px[i], px[i + 1]));
  const rows = lassoSelect(x, y, poly, index);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i + 1 < poly.length; i += 2) {
    xs.push(poly[i]);
    ys.push(poly[i + 1]);
  }
  return { rows, region: { kind: "lasso", x: xs, y: ys } };
}

/** The points inside the box from (x0, y0) to (x1, y1) in canvas pixels. */
export function boxHit(x: Float32Array, y: Float32Array, x0: number, y0: number, x1: number, y1: number, t: ToData, index?: RectIndex | null): Hit {
  const [ax, ay] = t.toData(x0, y0);
  const [bx, by] = t.toData(x1, y1);
  const rows = boxSelect(x, y, ax, ay, bx, by, index);
  return { rows, region: { kind: "box", x0: Math.min(ax, bx), x1: Math.max(ax, bx), y0: Math.min(ay, by), y1: Math.max(ay, by) } };
}
