import { describe, expect, it } from "vitest";
import {
  binEdges,
  binOf,
  binRangeMask,
  binValues,
  categoryCounts,
  categoryMask,
  categorySelectedCounts,
  finiteRange,
  pixelToBin,
  rangeToBins,
  safeRange,
  selectedCounts,
} from "../src/histogram/bins";
import { barTitle } from "../src/histogram/tooltip";
import { Bitmask } from "../src/shared/selection";

const idx = (m: Bitmask): number[] => Array.from(m.indices());

describe("binning", () => {
  it("edges and the bin of a value (max in the last bin, NaN and outside in none)", () => {
    expect(Array.from(binEdges(0, 1, 4))).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect([0, 0.2499, 0.25, 0.99, 1, NaN, -0.1, 1.1].map((v) => binOf(v, 0, 1, 4))).toEqual([0, 0, 1, 3, 3, -1, -1, -1]);
  });

  it("counts every finite row once", () => {
    const v = new Float32Array([1, 2, 2, 3, 10, NaN]);
    const b = binValues(v, 3, null);
    expect([b.lo, b.hi]).toEqual([1, 10]);
    expect(Array.from(b.counts)).toEqual([4, 0, 1]);
    expect(b.outside).toBe(1);
    expect(Array.from(b.rowBin)).toEqual([0, 0, 0, 0, 2, -1]);
  });

  it("an explicit range leaves values outside it out", () => {
    const b = binValues(new Float32Array([0, 5, 9, 20]), 2, [0, 10]);
    expect(Array.from(b.counts)).toEqual([1, 2]);
    expect(b.outside).toBe(1);
  });

  it("degenerate ranges", () => {
    expect(safeRange(2, 2)).toEqual([1.5, 2.5]);
    expect(safeRange(NaN, 1)).toEqual([0, 1]);
    expect(finiteRange(new Float32Array([NaN]))).toBe(null);
    const b = binValues(new Float32Array([2, 2]), 4, null);
    expect(b.counts.reduce((a, c) => a + c, 0)).toBe(2);
  });

  it("selected counts are the overlay of the selection on the bins", () => {
    const b = binValues(new Float32Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 5, null);
    const sel = Bitmask.fromIndices(10, [0, 1, 9]);
    expect(Array.from(selectedCounts(b.rowBin, 5, sel))).toEqual([2, 0, 0, 0, 1]);
    expect(Array.from(selectedCounts(b.rowBin, 5, Bitmask.empty(10)))).toEqual([0, 0, 0, 0, 0]);
  });
});

describe("brush mapping", () => {
  it("pixels to bins, clamped", () => {
    expect(pixelToBin(0, 300, 30)).toBe(0);
    expect(pixelToBin(9.99, 300, 30)).toBe(0);
    expect(pixelToBin(10, 300, 30)).toBe(1);
    expect(pixelToBin(299.9, 300, 30)).toBe(29);
    expect(pixelToBin(500, 300, 30)).toBe(29);
    expect(pixelToBin(-5, 300, 30)).toBe(0);
  });

  it("a brush over bins selects exactly the rows of those bins, in either direction", () => {
    const v = new Float32Array(Array.from({ length: 100 }, (_, i) => i / 10)); // 0 .. 9.9
    const b = binValues(v, 10, null);
    const m = binRangeMask(b.rowBin, 5, 3);
    const want = Array.from(v.keys()).filter((i) => b.rowBin[i] >= 3 && b.rowBin[i] <= 5);
    expect(idx(m)).toEqual(want);
    // and the selected values lie within the brushed edges
    for (const i of idx(m)) {
      expect(v[i]).toBeGreaterThanOrEqual(b.edges[3]);
      expect(v[i]).toBeLessThanOrEqual(b.edges[6]);
    }
  });

  it("a value range back to bins (restoring a brush)", () => {
    const b = binValues(new Float32Array([0, 10]), 10, null);
    expect(rangeToBins(b.edges[2], b.edges[5], b)).toEqual([2, 4]);
    expect(rangeToBins(0, 10, b)).toEqual([0, 9]);
    expect(rangeToBins(2.5, 2.6, b)).toEqual([2, 2]);
    expect(rangeToBins(20, 30, b)).toBe(null);
    expect(rangeToBins(5, 1, b)).toBe(null);
  });
});

describe("categories", () => {
  it("counts, overlay and click masks", () => {
    const codes = new Uint8Array([0, 1, 1, 2, 255, 1]);
    const c = categoryCounts(codes, 3);
    expect(Array.from(c.counts)).toEqual([1, 3, 1]);
    expect(c.missing).toBe(1);
    expect(idx(categoryMask(codes, 1))).toEqual([1, 2, 5]);
    expect(Array.from(categorySelectedCounts(codes, 3, Bitmask.fromIndices(6, [2, 3, 4])))).toEqual([0, 1, 1]);
  });
});

describe("bar titles", () => {
  it("a bin is half-open except the last; a category is its name", () => {
    const b = binValues(new Float32Array([0, 1, 2, 3, 4]), 4, null);
    expect(barTitle(0, b, null)).toBe("[0, 1)");
    expect(barTitle(3, b, null)).toBe("[3, 4]");
    expect(barTitle(1, null, ["a", "b"])).toBe("b");
    expect(barTitle(0, null, null)).toBe("");
  });
});
