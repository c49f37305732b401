/**
 * Box tables of the ImageGrid (docs/dev/widget-protocol.md, "ImageGrid"): float32, 8 numbers a
 * box — `row, x, y, w, h, score, class, style` — and what a box looks like at the current
 * confidence threshold and filters. Pure functions, unit-tested.
 */

import { asFloat32, type BinaryLike } from "../shared/codecs";

export const BOX_STRIDE = 8;

/** Style codes (low 3 bits); bit 2 is set for predictions; FOCUS is added for an object row's
 *  own box. */
export const STYLE = {
  GT: 0,
  GT_TP: 1,
  GT_FN: 2,
  GT_IGNORED: 3,
  PRED: 4,
  PRED_TP: 5,
  PRED_FP: 6,
  PRED_IGNORED: 7,
} as const;
export const FOCUS = 8;
/** Added to the style of a semantic class region: a mask with no box to draw. */
export const REGION = 16;

export interface Box {
  row: number;
  x: number;
  y: number;
  w: number;
  h: number;
  /** Prediction: its score. Matched ground truth: its prediction's score. Else NaN. */
  score: number;
  /** Class code (-1: none). */
  cls: number;
  /** Style code without FOCUS. */
  style: number;
  /** The box an object row is about. */
  focus: boolean;
  /** A class region of a semantic label map: only its mask is drawn. */
  region: boolean;
  /** The object's mask: COCO compressed counts over its image, or null. */
  mask: string | null;
  /** Grid row of the box's object (object-level grids), -1 when it is not a row. */
  objRow: number;
}

/** What a box shows as: its role and, with an evaluation, its match status. */
export type BoxState = "gt" | "pred" | "tp" | "fp" | "fn" | "ignored";

export function isPrediction(b: Pick<Box, "style">): boolean {
  return (b.style & 4) !== 0;
}

/** Decode a box table into boxes grouped by row; `masks` / `maskRows` (one entry per box row,
 *  when the page has masks) give each box its mask and its object's grid row. */
export function decodeBoxes(
  data: BinaryLike | Float32Array,
  stride = BOX_STRIDE,
  masks: readonly (string | null)[] | null = null,
  maskRows: readonly number[] | null = null,
): Map<number, Box[]> {
  const t = data instanceof Float32Array ? data : asFloat32(data as BinaryLike);
  const out = new Map<number, Box[]>();
  if (stride < BOX_STRIDE) return out;
  const n = Math.floor(t.length / stride);
  for (let i = 0; i < n; i++) {
    const o = i * stride;
    const code = t[o + 7];
    const box: Box = {
      row: t[o],
      x: t[o + 1],
      y: t[o + 2],
      w: t[o + 3],
      h: t[o + 4],
      score: t[o + 5],
      cls: t[o + 6],
      style: code & 7,
      focus: (code & FOCUS) !== 0,
      region: (code & REGION) !== 0,
      mask: typeof masks?.[i] === "string" ? (masks[i] as string) : null,
      objRow: typeof maskRows?.[i] === "number" ? (maskRows[i] as number) : -1,
    };
    const list = out.get(box.row);
    if (list) list.push(box);
    else out.set(box.row, [box]);
  }
  return out;
}

/**
 * How `b` shows at confidence threshold `threshold`, or null when hidden.
 *
 * A prediction below the threshold is hidden. A ground truth matched by a prediction (style
 * GT_TP, `score` = that prediction's score) is a hit while its prediction is shown and a miss
 * (FN) once the threshold passes it: greedy matching by descending score makes this exact.
 */
export function boxState(b: Box, threshold: number): BoxState | null {
  switch (b.style) {
    case STYLE.GT:
      return "gt";
    case STYLE.GT_TP:
      return b.score >= threshold || Number.isNaN(b.score) ? "tp" : "fn";
    case STYLE.GT_FN:
      return "fn";
    case STYLE.GT_IGNORED:
      return "ignored";
    default: {
      if (b.score < threshold) return null; // NaN scores compare false: always shown
      if (b.style === STYLE.PRED_TP) return "tp";
      if (b.style === STYLE.PRED_FP) return "fp";
      if (b.style === STYLE.PRED_IGNORED) return "ignored";
      return "pred";
    }
  }
}

export interface BoxFilter {
  threshold: number;
  showGt: boolean;
  showPred: boolean;
  /** Class codes not drawn. */
  hidden: ReadonlySet<number>;
  /** Draw boxes (default true) and masks (default true). */
  showBoxes?: boolean;
  showMasks?: boolean;
}

export interface ShownBox {
  box: Box;
  state: BoxState;
}

/** The boxes to draw, in draw order: ground truth first, then predictions by ascending score
 *  (the strongest on top); the focus box is always kept (unless its class is hidden). */
export function shownBoxes(boxes: readonly Box[] | undefined, f: BoxFilter): ShownBox[] {
  if (!boxes || boxes.length === 0) return [];
  const out: ShownBox[] = [];
  for (const box of boxes) {
    if (f.hidden.has(box.cls)) continue;
    const pred = isPrediction(box);
    if (!box.focus && (pred ? !f.showPred : !f.showGt)) continue;
    const state = boxState(box, f.threshold);
    if (state === null && !box.focus) continue;
    out.push({ box, state: state ?? "pred" });
  }
  out.sort((a, b) => {
    const pa = isPrediction(a.box) ? 1 : 0;
    const pb = isPrediction(b.box) ? 1 : 0;
    if (pa !== pb) return pa - pb;
    if (a.box.focus !== b.box.focus) return a.box.focus ? 1 : -1;
    return pa ? (a.box.score || 0) - (b.box.score || 0) : 0;
  });
  return out;
}

export interface BoxCounts {
  gt: number;
  pred: number;
  tp: number;
  fp: number;
  fn: number;
}

/** Counts of one image's boxes at the threshold (hidden classes left out; GT / prediction
 *  toggles ignored: the counts describe the image, not the drawing). */
export function countBoxes(boxes: readonly Box[] | undefined, threshold: number, hidden: ReadonlySet<number>): BoxCounts {
  const c: BoxCounts = { gt: 0, pred: 0, tp: 0, fp: 0, fn: 0 };
  for (const box of boxes ?? []) {
    if (hidden.has(box.cls) || box.region) continue;
    const state = boxState(box, threshold);
    if (state === null) continue;
    if (isPrediction(box)) {
      c.pred++;
      if (state === "fp") c.fp++;
    } else if (state !== "ignored") {
      c.gt++;
      if (state === "tp") c.tp++;
      if (state === "fn") c.fn++;
    }
  }
  return c;
}

/** The label drawn next to a box: class name, and a prediction's score. */
export function boxLabel(box: Box, classNames: readonly string[]): string {
  const name = box.cls >= 0 && box.cls < classNames.length ? classNames[box.cls] : box.cls >= 0 ? String(box.cls) : "?";
  return isPrediction(box) && Number.isFinite(box.score) ? `${name} ${box.score.toFixed(2)}` : name;
}

/** The focus box of an object row (its own box), if any. */
export function focusBox(boxes: readonly Box[] | undefined): Box | undefined {
  return boxes?.find((b) => b.focus);
}

/** Of the shown boxes, those whose box outline is drawn (not semantic regions; none when boxes
 *  are toggled off). */
export function outlinedBoxes(shown: readonly ShownBox[], f: BoxFilter): ShownBox[] {
  if (f.showBoxes === false) return [];
  return shown.filter((s) => !s.box.region);
}

/** Of the shown boxes, those whose mask is drawn (none when masks are toggled off). */
export function maskedBoxes(shown: readonly ShownBox[], f: BoxFilter): ShownBox[] {
  if (f.showMasks === false) return [];
  return shown.filter((s) => s.box.mask !== null);
}
