/** What the scatter view shows: the points with their colouring, and a point's tooltip details. */

import type { ColorSpec } from "./renderer";

export interface ScatterData {
  x: Float32Array;
  y: Float32Array;
  color: ColorSpec;
  /** Legend title (the colour column's name), "" for none. */
  colorLabel: string;
  /** Category names (category colouring). */
  categories: readonly string[];
  size: Float32Array | null;
  xLabel: string;
  yLabel: string;
  /** Same scale on both axes. */
  equalAspect: boolean;
}

export interface PointDetails {
  /** The row's id. */
  id: string;
  /** Key columns, in order: [name, formatted value]. */
  values: [string, string][];
  /** The thumbnail, if the row has an image. */
  image: Blob | null;
}
