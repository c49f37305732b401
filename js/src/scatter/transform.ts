/**
 * Data <-> screen transform of the scatter: `px = x * kx + tx`, `py = y * ky + ty` in CSS pixels
 * from the canvas' top-left corner (`ky < 0`: y grows upwards). Pan and zoom change `k` and `t`;
 * the shader gets the same transform in clip space ({@link ViewTransform.clip}).
 */

export interface Bounds {
  xmin: number;
  xmax: number;
  ymin: number;
  ymax: number;
}

/** Bounds of the finite points (NaN / Inf skipped); a unit box around 0 when there are none. */
export function dataBounds(x: ArrayLike<number>, y: ArrayLike<number>): Bounds {
  let xmin = Infinity;
  let xmax = -Infinity;
  let ymin = Infinity;
  let ymax = -Infinity;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const a = x[i];
    const b = y[i];
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    if (a < xmin) xmin = a;
    if (a > xmax) xmax = a;
    if (b < ymin) ymin = b;
    if (b > ymax) ymax = b;
  }
  if (xmin > xmax) return { xmin: -1, xmax: 1, ymin: -1, ymax: 1 };
  return { xmin, xmax, ymin, ymax };
}

/** CSS pixels kept free on each side of the canvas when fitting. */
export interface Insets {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Zoom limits relative to the fitted scale. */
export const MIN_ZOOM = 0.2;
export const MAX_ZOOM = 20000;

export class ViewTransform {
  /** Canvas size in CSS pixels. */
  width: number;
  height: number;
  kx = 1;
  ky = -1;
  tx = 0;
  ty = 0;
  /** Same scale on both axes (embeddings), or each axis fills the canvas (metrics). */
  equalAspect: boolean;
  private fitK = 1;

  constructor(width: number, height: number, equalAspect = true) {
    this.width = Math.max(1, width);
    this.height = Math.max(1, height);
    this.equalAspect = equalAspect;
  }

  /**
   * Show `b` with `padding` (fraction of the canvas) around it, inside the canvas minus `insets`
   * (CSS pixels kept free on each side, e.g. for a legend).
   */
  fit(b: Bounds, padding = 0.05, insets: Partial<Insets> = {}): void {
    const left = insets.left ?? 0;
    const right = insets.right ?? 0;
    const top = insets.top ?? 0;
    const bottom = insets.bottom ?? 0;
    // insets never take more than half the canvas
    const w = Math.max(this.width / 2, this.width - left - right);
    const h = Math.max(this.height / 2, this.height - top - bottom);
    const ox = Math.min(left, this.width - w);
    const oy = Math.min(top, this.height - h);
    const dx = b.xmax - b.xmin || Math.abs(b.xmax) || 1;
    const dy = b.ymax - b.ymin || Math.abs(b.ymax) || 1;
    const availW = w * (1 - 2 * padding);
    const availH = h * (1 - 2 * padding);
    let kx = availW / dx;
    let ky = availH / dy;
    if (this.equalAspect) kx = ky = Math.min(kx, ky);
    this.kx = kx;
    this.ky = -ky;
    const cx = (b.xmin + b.xmax) / 2;
    const cy = (b.ymin + b.ymax) / 2;
    this.tx = ox + w / 2 - cx * this.kx;
    this.ty = oy + h / 2 - cy * this.ky;
    this.fitK = kx;
  }

  /** Zoom relative to the fitted view (1 = fitted). */
  get zoom(): number {
    return this.kx / this.fitK;
  }

  toPixel(x: number, y: number): [number, number] {
    return [x * this.kx + this.tx, y * this.ky + this.ty];
  }

  toData(px: number, py: number): [number, number] {
    return [(px - this.tx) / this.kx, (py - this.ty) / this.ky];
  }

  /** Zoom by `factor` keeping the data point under (px, py) in place; clamped. */
  zoomAt(px: number, py: number, factor: number): void {
    const z = this.zoom;
    const next = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z * factor));
    const f = next / z;
    if (!Number.isFinite(f) || f === 1) return;
    const [x, y] = this.toData(px, py);
    this.kx *= f;
    this.ky *= f;
    this.tx = px - x * this.kx;
    this.ty = py - y * this.ky;
  }

  /** Move the view by (dx, dy) CSS pixels. */
  panBy(dx: number, dy: number): void {
    this.tx += dx;
    this.ty += dy;
  }

  /** New canvas size: the data point at the centre stays at the centre, the scale is kept. */
  resize(width: number, height: number): void {
    width = Math.max(1, width);
    height = Math.max(1, height);
    const [cx, cy] = this.toData(this.width / 2, this.height / 2);
    this.width = width;
    this.height = height;
    this.tx = width / 2 - cx * this.kx;
    this.ty = height / 2 - cy * this.ky;
  }

  /** The visible data rectangle. */
  visible(): Bounds {
    const [x0, y0] = this.toData(0, this.height);
    const [x1, y1] = this.toData(this.width, 0);
    return { xmin: Math.min(x0, x1), xmax: Math.max(x0, x1), ymin: Math.min(y0, y1), ymax: Math.max(y0, y1) };
  }

  /**
   * Clip-space transform for the shader: `clip = data * scale + offset`. Computed in float64
   * here, so the shader's float32 only sees the final products.
   */
  clip(): { sx: number; sy: number; ox: number; oy: number } {
    const w = this.width;
    const h = this.height;
    return {
      sx: (2 * this.kx) / w,
      sy: (-2 * this.ky) / h,
      ox: (2 * this.tx) / w - 1,
      oy: 1 - (2 * this.ty) / h,
    };
  }

  /** `[kx, ky, tx, ty]` (tests and the DOM's `data-transform`). */
  toArray(): [number, number, number, number] {
    return [this.kx, this.ky, this.tx, this.ty];
  }
}
