import { describe, expect, it } from "vitest";
import { BOX_STRIDE, boxLabel, boxState, countBoxes, decodeBoxes, FOCUS, focusBox, shownBoxes, STYLE, type Box } from "../src/grid/boxes";
import { boxColor, classColor, STATE_COLORS } from "../src/grid/palette";

/** One float32 table as the kernel sends it (row, x, y, w, h, score, class, style). */
function table(rows: number[][]): DataView {
  const f = new Float32Array(rows.flat());
  return new DataView(f.buffer);
}

const box = (style: number, score = Number.NaN, cls = 0, focus = false): Box => ({ row: 0, x: 0, y: 0, w: 1, h: 1, score, cls, style, focus, region: false, mask: null, objRow: -1 });
const all = { threshold: 0, showGt: true, showPred: true, hidden: new Set<number>() };

describe("decodeBoxes", () => {
  it("groups a page's table by row, with styles and the focus flag", () => {
    const t = table([
      [3, 10, 20, 30, 40, Number.NaN, 1, STYLE.GT],
      [3, 11, 21, 30, 40, 0.75, 1, STYLE.PRED_TP],
      [7, 0, 0, 5, 5, 0.5, 2, STYLE.PRED + FOCUS],
    ]);
    const m = decodeBoxes(t);
    expect([...m.keys()]).toEqual([3, 7]);
    expect(m.get(3)).toHaveLength(2);
    expect(m.get(3)![1]).toMatchObject({ x: 11, y: 21, w: 30, h: 40, score: 0.75, cls: 1, style: STYLE.PRED_TP, focus: false });
    expect(m.get(7)![0]).toMatchObject({ style: STYLE.PRED, focus: true });
    expect(BOX_STRIDE).toBe(8);
  });

  it("empty and null tables", () => {
    expect(decodeBoxes(null).size).toBe(0);
    expect(decodeBoxes(new DataView(new ArrayBuffer(0))).size).toBe(0);
  });

  it("a longer stride (a future column) still decodes the first eight", () => {
    const f = new Float32Array([1, 2, 3, 4, 5, 0.5, 6, STYLE.PRED, 99, 1, 2, 3, 4, 5, 0.5, 6, STYLE.GT, 99]);
    const m = decodeBoxes(f, 9);
    expect(m.get(1)).toHaveLength(2);
    expect(m.get(1)![1].style).toBe(STYLE.GT);
  });
});

describe("boxState at a confidence threshold", () => {
  it("predictions below the threshold are hidden; NaN scores always show", () => {
    expect(boxState(box(STYLE.PRED, 0.4), 0.5)).toBeNull();
    expect(boxState(box(STYLE.PRED, 0.5), 0.5)).toBe("pred");
    expect(boxState(box(STYLE.PRED_TP, 0.9), 0.5)).toBe("tp");
    expect(boxState(box(STYLE.PRED_FP, 0.9), 0.5)).toBe("fp");
    expect(boxState(box(STYLE.PRED_FP, 0.3), 0.5)).toBeNull();
    expect(boxState(box(STYLE.PRED_IGNORED, 0.9), 0.5)).toBe("ignored");
    expect(boxState(box(STYLE.PRED), 0.99)).toBe("pred");
  });

  it("a matched ground truth becomes a miss once its prediction is filtered out", () => {
    const gt = box(STYLE.GT_TP, 0.7); // matched by a 0.7 prediction
    expect(boxState(gt, 0)).toBe("tp");
    expect(boxState(gt, 0.7)).toBe("tp");
    expect(boxState(gt, 0.71)).toBe("fn");
    expect(boxState(box(STYLE.GT_FN), 0)).toBe("fn");
    expect(boxState(box(STYLE.GT), 0.99)).toBe("gt");
    expect(boxState(box(STYLE.GT_IGNORED), 0.5)).toBe("ignored");
  });
});

describe("shownBoxes", () => {
  const boxes = [box(STYLE.PRED_TP, 0.9, 1), box(STYLE.GT_TP, 0.9, 1), box(STYLE.PRED_FP, 0.2, 2), box(STYLE.GT_FN, Number.NaN, 2), box(STYLE.PRED_TP, 0.6, 1)];

  it("ground truth first, then predictions by ascending score", () => {
    const s = shownBoxes(boxes, all);
    expect(s.map((b) => b.state)).toEqual(["tp", "fn", "fp", "tp", "tp"]);
    expect(s.slice(2).map((b) => b.box.score)).toEqual([0.2, 0.6, 0.9]);
  });

  it("threshold, GT / prediction toggles, hidden classes", () => {
    expect(shownBoxes(boxes, { ...all, threshold: 0.5 })).toHaveLength(4);
    expect(shownBoxes(boxes, { ...all, showGt: false }).every((b) => b.box.style >= 4)).toBe(true);
    expect(shownBoxes(boxes, { ...all, showPred: false })).toHaveLength(2);
    expect(shownBoxes(boxes, { ...all, hidden: new Set([1]) }).map((b) => b.box.cls)).toEqual([2, 2]);
    expect(shownBoxes(undefined, all)).toEqual([]);
  });

  it("an object row's own box stays visible whatever the toggles and threshold", () => {
    const own = box(STYLE.PRED_FP, 0.1, 3, true);
    const s = shownBoxes([own, box(STYLE.PRED, 0.1, 3)], { ...all, threshold: 0.5, showPred: false });
    expect(s).toHaveLength(1);
    expect(s[0].box.focus).toBe(true);
    expect(focusBox([box(STYLE.GT), own])).toBe(own);
    // ... unless its class is hidden
    expect(shownBoxes([own], { ...all, hidden: new Set([3]) })).toHaveLength(0);
  });
});

describe("counts, labels, colours", () => {
  it("counts an image's boxes at the threshold", () => {
    const boxes = [box(STYLE.GT_TP, 0.8), box(STYLE.GT_TP, 0.3), box(STYLE.GT_FN), box(STYLE.PRED_TP, 0.8), box(STYLE.PRED_TP, 0.3), box(STYLE.PRED_FP, 0.6), box(STYLE.GT_IGNORED)];
    expect(countBoxes(boxes, 0, new Set())).toEqual({ gt: 3, pred: 3, tp: 2, fp: 1, fn: 1 });
    expect(countBoxes(boxes, 0.5, new Set())).toEqual({ gt: 3, pred: 2, tp: 1, fp: 1, fn: 2 });
  });

  it("labels: class name, plus the score of predictions", () => {
    expect(boxLabel(box(STYLE.PRED, 0.876, 1), ["cat", "dog"])).toBe("dog 0.88");
    expect(boxLabel(box(STYLE.GT, Number.NaN, 0), ["cat", "dog"])).toBe("cat");
    expect(boxLabel(box(STYLE.GT, Number.NaN, 5), ["cat"])).toBe("5");
    expect(boxLabel(box(STYLE.GT, Number.NaN, -1), ["cat"])).toBe("?");
  });

  it("colours by class, or by match status", () => {
    expect(classColor(0)).not.toBe(classColor(1));
    expect(classColor(20)).toBe(classColor(0));
    expect(boxColor(3, "fp", "match")).toBe(STATE_COLORS.fp);
    expect(boxColor(3, "fp", "class")).toBe(classColor(3));
    expect(boxColor(3, "gt", "match")).toBe(classColor(3));
    expect(boxColor(3, "ignored", "class")).toBe(STATE_COLORS.ignored);
  });
});
