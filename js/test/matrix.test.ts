import { describe, expect, it } from "vitest";
import { MISSING_CODE } from "../src/shared/codecs";
import {
  cellFill,
  cellMask,
  colRate,
  confusionCounts,
  contrastRatio,
  DARK_TEXT,
  formatInt,
  formatPercent,
  formatValue,
  inferK,
  LIGHT_TEXT,
  normalized,
  parseNormalize,
  predMask,
  rampColor,
  rowRate,
  scaleMaxima,
  selectedPerCell,
  summarizeSelection,
  textColorOn,
  trueMask,
} from "../src/confusion/matrix";
import { Bitmask } from "../src/shared/selection";

const M = MISSING_CODE;
// row:            0  1  2  3  4  5  6  7  8  9 10 11 12
const Y_TRUE = [0, 0, 0, 1, 1, 2, 2, 2, 2, M, 1, 5, 0];
const Y_PRED = [0, 1, 0, 1, 2, 2, 0, 2, M, 1, 1, 0, 0];
const yTrue = new Uint16Array(Y_TRUE);
const yPred = new Uint16Array(Y_PRED);
const K = 3;

const rounded = (a: ArrayLike<number>): number[] => Array.from(a, (x) => Math.round(x * 1e6) / 1e6);

describe("confusionCounts", () => {
  const c = confusionCounts(yTrue, yPred, K);

  it("counts (true, predicted) pairs row-major", () => {
    expect(Array.from(c.counts)).toEqual([3, 1, 0, 0, 2, 1, 1, 0, 2]);
  });

  it("skips missing and out-of-range codes", () => {
    expect(c.skipped).toBe(3); // rows 8 (pred missing), 9 (true missing), 11 (true = 5 >= K)
    expect(c.total).toBe(10);
  });

  it("has row and column totals", () => {
    expect(Array.from(c.rowTotals)).toEqual([4, 3, 3]);
    expect(Array.from(c.colTotals)).toEqual([4, 3, 3]);
  });

  it("uses the shorter column when lengths differ", () => {
    const short = confusionCounts(yTrue, yPred.subarray(0, 2), K);
    expect(Array.from(short.counts)).toEqual([1, 1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("handles no rows and no classes", () => {
    expect(confusionCounts(new Uint16Array(0), new Uint16Array(0), 2).total).toBe(0);
    expect(confusionCounts(yTrue, yPred, 0).counts.length).toBe(0);
  });
});

describe("normalisation", () => {
  const c = confusionCounts(yTrue, yPred, K);

  it("none keeps counts", () => {
    expect(Array.from(normalized(c, "none"))).toEqual([3, 1, 0, 0, 2, 1, 1, 0, 2]);
  });

  it("true: each row sums to 1", () => {
    expect(rounded(normalized(c, "true"))).toEqual(rounded([0.75, 0.25, 0, 0, 2 / 3, 1 / 3, 1 / 3, 0, 2 / 3]));
  });

  it("pred: each column sums to 1", () => {
    expect(rounded(normalized(c, "pred"))).toEqual(rounded([0.75, 1 / 3, 0, 0, 2 / 3, 1 / 3, 0.25, 0, 2 / 3]));
  });

  it("0/0 is 0 for an empty class", () => {
    const c4 = confusionCounts(yTrue, yPred, 4); // class 3 has no rows at all
    const t = normalized(c4, "true");
    const p = normalized(c4, "pred");
    for (let j = 0; j < 4; j++) {
      expect(t[3 * 4 + j]).toBe(0);
      expect(p[j * 4 + 3]).toBe(0);
    }
    expect(rowRate(c4, 3, 3)).toBe(0);
    expect(colRate(c4, 3, 3)).toBe(0);
  });

  it("row and column rates of one cell", () => {
    expect(rowRate(c, 0, 1)).toBe(0.25);
    expect(colRate(c, 0, 1)).toBeCloseTo(1 / 3, 12);
  });

  it("parseNormalize falls back to none", () => {
    expect(parseNormalize("true")).toBe("true");
    expect(parseNormalize("pred")).toBe("pred");
    expect(parseNormalize("none")).toBe("none");
    expect(parseNormalize("all")).toBe("none");
    expect(parseNormalize(undefined)).toBe("none");
  });
});

describe("masks", () => {
  it("cell mask: rows with that (true, predicted) pair", () => {
    expect(Array.from(cellMask(yTrue, yPred, 0, 0).indices())).toEqual([0, 2, 12]);
    expect(Array.from(cellMask(yTrue, yPred, 2, 0).indices())).toEqual([6]);
    expect(cellMask(yTrue, yPred, 1, 0).isEmpty()).toBe(true);
    expect(cellMask(yTrue, yPred, 0, 0).n).toBe(13);
  });

  it("row mask: the true class, among counted rows", () => {
    expect(Array.from(trueMask(yTrue, yPred, 2, K).indices())).toEqual([5, 6, 7]); // not row 8
  });

  it("column mask: the predicted class, among counted rows", () => {
    expect(Array.from(predMask(yTrue, yPred, 1, K).indices())).toEqual([1, 3, 10]); // not row 9
    expect(Array.from(predMask(yTrue, yPred, 0, K).indices())).toEqual([0, 2, 6, 12]); // not row 11
  });

  it("row mask is the union of its cells", () => {
    const union = cellMask(yTrue, yPred, 1, 0).union(cellMask(yTrue, yPred, 1, 1)).union(cellMask(yTrue, yPred, 1, 2));
    expect(trueMask(yTrue, yPred, 1, K).equals(union)).toBe(true);
  });
});

describe("where a selection falls", () => {
  it("counts selected rows per cell, ignoring uncounted rows", () => {
    const sel = Bitmask.fromIndices(13, [0, 4, 8, 9, 12]);
    expect(Array.from(selectedPerCell(yTrue, yPred, K, sel))).toEqual([2, 0, 0, 0, 0, 1, 0, 0, 0]);
  });

  it("summarises one cell, one row, one column, or several cells", () => {
    const sum = (rows: number[]) => summarizeSelection(selectedPerCell(yTrue, yPred, K, Bitmask.fromIndices(13, rows)), K);
    expect(sum([0, 2])).toEqual({ cells: 1, trueClass: 0, predClass: 0 });
    expect(sum([5, 6])).toEqual({ cells: 2, trueClass: 2, predClass: null });
    expect(sum([1, 3])).toEqual({ cells: 2, trueClass: null, predClass: 1 });
    expect(sum([0, 4])).toEqual({ cells: 2, trueClass: null, predClass: null });
    expect(sum([])).toEqual({ cells: 0, trueClass: null, predClass: null });
  });
});

describe("colours", () => {
  const rgb = (hex: string): number[] => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

  it("ramps end where they should", () => {
    expect(rampColor(0, true)).toBe("#e6f0fa");
    expect(rampColor(1, true)).toBe("#0c3a6e");
    expect(rampColor(0, false)).toBe("#fdebdc");
    expect(rampColor(1, false)).toBe("#8a220b");
    expect(rampColor(2, false)).toBe("#8a220b"); // clamped
  });

  it("diagonal is blue, errors are orange-red", () => {
    for (const v of [1, 5, 10]) {
      const [r, , b] = rgb(cellFill(v, 10, true)!);
      expect(b).toBeGreaterThan(r);
      const [r2, , b2] = rgb(cellFill(v, 10, false)!);
      expect(r2).toBeGreaterThan(b2);
    }
  });

  it("zero has no fill", () => {
    expect(cellFill(0, 10, true)).toBeNull();
    expect(cellFill(3, 0, false)).toBeNull();
  });

  it("larger values are darker", () => {
    const lum = (hex: string): number => rgb(hex).reduce((a, b) => a + b, 0);
    const fills = [1, 2, 4, 8, 16].map((v) => cellFill(v, 16, false)!);
    for (let i = 1; i < fills.length; i++) expect(lum(fills[i])).toBeLessThan(lum(fills[i - 1]));
  });

  it("scale maxima are taken separately on and off the diagonal", () => {
    const c = confusionCounts(yTrue, yPred, K);
    expect(scaleMaxima(normalized(c, "none"), K)).toEqual({ diagonal: 3, offDiagonal: 1 });
  });

  it("text colour is readable on every fill", () => {
    expect(textColorOn("#0c3a6e")).toBe(LIGHT_TEXT);
    expect(textColorOn("#fdebdc")).toBe(DARK_TEXT);
    expect(textColorOn("#ffffff")).toBe(DARK_TEXT);
    expect(textColorOn("#000000")).toBe(LIGHT_TEXT);
    for (const diag of [true, false]) {
      for (let t = 0; t <= 1.0001; t += 0.05) {
        const fill = rampColor(t, diag);
        expect(contrastRatio(fill, textColorOn(fill))).toBeGreaterThanOrEqual(4.5);
      }
    }
  });
});

describe("labels", () => {
  it("counts are integers, rates are percentages with one decimal", () => {
    expect(formatValue(12, "none")).toBe("12");
    expect(formatValue(0, "none")).toBe("0");
    expect(formatValue(0.1234, "true")).toBe("12.3%");
    expect(formatValue(2 / 3, "pred")).toBe("66.7%");
    expect(formatValue(1, "true")).toBe("100.0%");
    expect(formatValue(0, "pred")).toBe("0.0%");
  });

  it("formats integers with thousands separators and percentages", () => {
    expect(formatInt(0)).toBe("0");
    expect(formatInt(999)).toBe("999");
    expect(formatInt(1000)).toBe("1,000");
    expect(formatInt(1234567)).toBe("1,234,567");
    expect(formatPercent(0.5)).toBe("50.0%");
  });
});

describe("inferK", () => {
  it("is the largest valid code of the first n rows + 1 (missing codes skipped)", () => {
    expect(inferK(yTrue, yPred, yTrue.length)).toBe(6);
    expect(inferK(yTrue, yPred, 11)).toBe(3);
    expect(inferK(new Uint16Array([M, M]), new Uint16Array([M, 0]), 2)).toBe(1);
    expect(inferK(new Uint16Array([M]), new Uint16Array([M]), 1)).toBe(0);
    expect(inferK(yTrue, yPred, 0)).toBe(0);
  });
});
