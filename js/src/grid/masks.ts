/**
 * Drawing masks (object masks and semantic class regions) into a canvas under the box overlay,
 * shared by grid cells and the detail view: each shown mask is rasterised from its COCO runs
 * straight at the frame's resolution (`shared/rle.ts`), filled translucent in its colour
 * (class, or match status) with an opaque outline (dashed for predictions), composited in draw
 * order. What is drawn is kept as hit bitmaps, so a click inside a mask can select its object.
 */

import { rasterize, rleRuns, runStarts, outline } from "../shared/rle";
import { isPrediction, type Box, type ShownBox } from "./boxes";
import type { Fit } from "./layout";
import { boxColor, type ColorBy } from "./palette";

/** Where an item's masks sit: their image's size and the item's crop origin in that image. */
export interface MaskGeom {
  h: number;
  w: number;
  ox: number;
  oy: number;
}

export interface MaskLayer {
  box: Box;
  /** 0 / 1 per frame pixel, row-major. */
  bits: Uint8Array;
  color: [number, number, number];
  dashed: boolean;
}

export interface MaskHits {
  width: number;
  height: number;
  /** Topmost last. */
  layers: MaskLayer[];
}

export interface MaskDrawOptions {
  colorBy: ColorBy;
  /** Fill opacity in [0, 1]; outlines are opaque. */
  opacity: number;
}

const runsCache = new WeakMap<Box, Float64Array | null>();
const rasterCache = new WeakMap<Box, { key: string; bits: Uint8Array }>();

function startsOf(box: Box): Float64Array | null {
  let s = runsCache.get(box);
  if (s === undefined) {
    try {
      s = box.mask === null ? null : runStarts(rleRuns(box.mask));
    } catch {
      s = null; // a corrupt mask is not drawn (the kernel validates them; never crash the view)
    }
    runsCache.set(box, s);
  }
  return s;
}

export function hexRgb(hex: string): [number, number, number] {
  const v = parseInt(hex.replace("#", "").slice(0, 6), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** The frame bitmap of one box's mask (cached per box and geometry), or null. */
export function maskBits(box: Box, g: MaskGeom, fit: Fit, frameW: number, frameH: number): Uint8Array | null {
  const starts = startsOf(box);
  if (starts === null || !(fit.scale > 0) || starts[starts.length - 1] !== g.h * g.w) return null;
  const W = Math.max(0, Math.round(frameW));
  const H = Math.max(0, Math.round(frameH));
  // frame pixel (fx, fy) shows source pixel ((fx - dx) / scale) of the crop, i.e. mask pixel + origin
  const view = { x0: g.ox - fit.dx / fit.scale, y0: g.oy - fit.dy / fit.scale, scale: fit.scale, outW: W, outH: H };
  const key = `${view.x0},${view.y0},${view.scale},${W},${H}`;
  const hit = rasterCache.get(box);
  if (hit && hit.key === key) return hit.bits;
  const bits = rasterize(starts, g.h, g.w, view);
  rasterCache.set(box, { key, bits });
  return bits;
}

/** The layers to draw for `shown` (those with a mask), bottom first. */
export function maskLayers(shown: readonly ShownBox[], g: MaskGeom, fit: Fit, frameW: number, frameH: number, colorBy: ColorBy): MaskLayer[] {
  const out: MaskLayer[] = [];
  for (const { box, state } of shown) {
    if (box.mask === null) continue;
    const bits = maskBits(box, g, fit, frameW, frameH);
    if (bits === null) continue;
    out.push({ box, bits, color: hexRgb(boxColor(box.cls, state, colorBy)), dashed: isPrediction(box) });
  }
  return out;
}

/**
 * RGBA pixels (non-premultiplied, as `ImageData` wants) of `layers` composited "over" in order:
 * each mask filled at `opacity`, its outline opaque (predictions: dashed, every other pair of
 * pixels along the diagonal).
 */
export function composite(layers: readonly MaskLayer[], W: number, H: number, opacity: number): Uint8ClampedArray {
  const rgba = new Uint8ClampedArray(W * H * 4);
  const fillA = Math.min(1, Math.max(0, opacity));
  // float accumulators for exact "over"
  const acc = new Float32Array(W * H * 4);
  for (const layer of layers) {
    const edge = outline(layer.bits, W, H);
    const [r, g, b] = layer.color;
    for (let i = 0; i < layer.bits.length; i++) {
      if (!layer.bits[i]) continue;
      let a = fillA;
      if (edge[i]) {
        const x = i % W;
        const y = (i - x) / W;
        if (!layer.dashed || ((x + y) & 3) < 2) a = 1;
      }
      if (a <= 0) continue;
      const o = i * 4;
      const da = acc[o + 3];
      const na = a + da * (1 - a);
      const k = da * (1 - a);
      acc[o] = (r * a + acc[o] * k) / na;
      acc[o + 1] = (g * a + acc[o + 1] * k) / na;
      acc[o + 2] = (b * a + acc[o + 2] * k) / na;
      acc[o + 3] = na;
    }
  }
  for (let i = 0; i < acc.length; i += 4) {
    rgba[i] = Math.round(acc[i]);
    rgba[i + 1] = Math.round(acc[i + 1]);
    rgba[i + 2] = Math.round(acc[i + 2]);
    rgba[i + 3] = Math.round(acc[i + 3] * 255);
  }
  return rgba;
}

/** Draw `shown`'s masks into `canvas` (sized `frameW x frameH`); returns what was drawn. */
export function drawMasks(
  canvas: HTMLCanvasElement,
  shown: readonly ShownBox[],
  g: MaskGeom | null,
  fit: Fit,
  frameW: number,
  frameH: number,
  o: MaskDrawOptions,
): MaskHits {
  const W = Math.max(0, Math.round(frameW));
  const H = Math.max(0, Math.round(frameH));
  const layers = g === null ? [] : maskLayers(shown, g, fit, W, H, o.colorBy);
  canvas.hidden = layers.length === 0;
  canvas.dataset.masks = String(layers.length);
  if (canvas.width !== W) canvas.width = W;
  if (canvas.height !== H) canvas.height = H;
  canvas.style.width = `${W}px`;
  canvas.style.height = `${H}px`;
  if (layers.length === 0 || W === 0 || H === 0) return { width: W, height: H, layers }; // hidden
  let ctx: CanvasRenderingContext2D | null = null;
  try {
    ctx = canvas.getContext("2d");
  } catch {
    ctx = null; // no canvas support: the layers are still known (clicks inside masks work)
  }
  if (ctx) {
    const img = ctx.createImageData(W, H);
    img.data.set(composite(layers, W, H, o.opacity));
    ctx.putImageData(img, 0, 0); // replaces every pixel: no clear needed
  }
  return { width: W, height: H, layers };
}

/** The topmost drawn mask covering frame point (x, y), or null. */
export function maskAt(hits: MaskHits | null, x: number, y: number): Box | null {
  if (hits === null) return null;
  const px = Math.floor(x);
  const py = Math.floor(y);
  if (px < 0 || py < 0 || px >= hits.width || py >= hits.height) return null;
  for (let i = hits.layers.length - 1; i >= 0; i--) {
    if (hits.layers[i].bits[py * hits.width + px]) return hits.layers[i].box;
  }
  return null;
}
