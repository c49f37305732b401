import { describe, expect, it } from "vitest";
import {
  cellPosition,
  clipRect,
  columnsFor,
  displayRows,
  fitContain,
  gridMetrics,
  requestSize,
  scaleBox,
  scrollToReveal,
  visibleWindow,
} from "../src/grid/layout";
import { Bitmask } from "../src/shared/selection";

describe("columns and metrics", () => {
  it("fits as many cells as the width allows, at least one", () => {
    expect(columnsFor(800, 136, 6)).toBe(5); // 5 * 136 + 4 * 6 = 704 <= 800 < 6 * 142 - 6
    expect(columnsFor(136, 136, 6)).toBe(1);
    expect(columnsFor(50, 136, 6)).toBe(1);
    expect(columnsFor(0, 136, 6)).toBe(1);
    expect(columnsFor(142 * 3 - 6, 136, 6)).toBe(3);
    expect(columnsFor(142 * 3 - 7, 136, 6)).toBe(2);
  });

  it("grid rows and scroll height", () => {
    const m = gridMetrics(100_000, 800, 136, 170, 6);
    expect(m.columns).toBe(5);
    expect(m.rows).toBe(20_000);
    expect(m.height).toBe(20_000 * 176 - 6);
    expect(gridMetrics(0, 800, 136, 170, 6)).toMatchObject({ rows: 0, height: 0 });
    expect(gridMetrics(11, 800, 136, 170, 6).rows).toBe(3);
  });
});

describe("virtualisation window", () => {
  const m = gridMetrics(100_000, 800, 136, 170, 6); // 5 columns, pitch 176

  it("at the top: the visible rows plus overscan below", () => {
    const w = visibleWindow(m, 100_000, 0, 520, 1);
    // rows 0..2 intersect [0, 520) (row 2 starts at 352); overscan adds row 3
    expect(w).toEqual({ firstRow: 0, lastRow: 3, start: 0, end: 20 });
  });

  it("in the middle of 100k items, only a few dozen are rendered", () => {
    const top = 10_000 * 176 + 50;
    const w = visibleWindow(m, 100_000, top, 520, 2);
    expect(w.firstRow).toBe(10_000 - 2);
    expect(w.lastRow).toBe(10_003 + 2);
    expect(w.start).toBe(w.firstRow * 5);
    expect(w.end - w.start).toBeLessThanOrEqual(8 * 5);
  });

  it("at the end: clamped to the last (partial) row", () => {
    const mm = gridMetrics(99_998, 800, 136, 170, 6);
    const w = visibleWindow(mm, 99_998, mm.height - 520, 520, 1);
    expect(w.lastRow).toBe(mm.rows - 1);
    expect(w.end).toBe(99_998);
    // scrolled past the end (rubber-banding): still the last rows, never empty
    const past = visibleWindow(mm, 99_998, mm.height + 5_000, 520, 0);
    expect(past.end).toBe(99_998);
    expect(past.start).toBeLessThan(past.end);
  });

  it("without overscan: exactly the rows that intersect the viewport", () => {
    expect(visibleWindow(m, 100_000, 176, 176, 0)).toMatchObject({ firstRow: 1, lastRow: 1 });
    expect(visibleWindow(m, 100_000, 175, 176, 0)).toMatchObject({ firstRow: 0, lastRow: 1 });
  });

  it("nothing to show", () => {
    expect(visibleWindow(gridMetrics(0, 800, 136, 170, 6), 0, 0, 500)).toEqual({ firstRow: 0, lastRow: -1, start: 0, end: 0 });
  });

  it("cell positions and scrolling a cell into view", () => {
    expect(cellPosition(m, 0)).toEqual({ left: 0, top: 0 });
    expect(cellPosition(m, 7)).toEqual({ left: 2 * 142, top: 176 });
    expect(scrollToReveal(m, 7, 0, 520)).toBe(0); // visible already
    expect(scrollToReveal(m, 500, 0, 520)).toBe(100 * 176 + 170 - 520); // below: bottom-aligned
    expect(scrollToReveal(m, 5, 1000, 520)).toBe(176); // above: top-aligned
  });
});

describe("image fit and box scaling", () => {
  it("contains and centres a landscape image", () => {
    expect(fitContain(160, 120, 128, 128)).toEqual({ scale: 0.8, dx: 0, dy: 16, width: 128, height: 96 });
  });

  it("contains and centres a portrait image; enlarges small ones", () => {
    const f = fitContain(8, 16, 128, 128);
    expect(f).toEqual({ scale: 8, dx: 32, dy: 0, width: 64, height: 128 });
  });

  it("degenerate sizes give an empty fit", () => {
    expect(fitContain(0, 10, 128, 128).scale).toBe(0);
    expect(fitContain(Number.NaN, 10, 128, 128).scale).toBe(0);
  });

  it("scales boxes from source pixels to cell pixels", () => {
    const f = fitContain(160, 120, 128, 128);
    expect(scaleBox({ x: 10, y: 20, w: 32, h: 32 }, f)).toEqual({ x: 8, y: 32, w: 25.6, h: 25.6 });
    // the image's corners map to the fitted rectangle's corners
    expect(scaleBox({ x: 0, y: 0, w: 160, h: 120 }, f)).toEqual({ x: 0, y: 16, w: 128, h: 96 });
  });

  it("clips boxes to the frame", () => {
    expect(clipRect({ x: -5, y: 10, w: 20, h: 200 }, 128, 128)).toEqual({ x: 0, y: 10, w: 15, h: 118 });
    expect(clipRect({ x: 130, y: 10, w: 20, h: 20 }, 128, 128)).toBeNull();
  });

  it("requests device-pixel thumbnails in a few cached sizes", () => {
    expect(requestSize(128, 1)).toBe(128);
    expect(requestSize(128, 2)).toBe(256);
    expect(requestSize(100, 1)).toBe(128);
    expect(requestSize(256, 3)).toBe(512);
    expect(requestSize(10, 1)).toBe(32);
  });
});

describe("display rows", () => {
  it("identity, sorted, and filtered orders", () => {
    expect([...displayRows(4, null)]).toEqual([0, 1, 2, 3]);
    const order = new Uint32Array([3, 1, 0, 2]);
    expect([...displayRows(4, order)]).toEqual([3, 1, 0, 2]);
    const keep = Bitmask.fromIndices(4, [0, 3]);
    expect([...displayRows(4, order, keep)]).toEqual([3, 0]);
    expect([...displayRows(4, null, keep, null)]).toEqual([0, 3]);
    expect([...displayRows(4, order, keep, Bitmask.fromIndices(4, [0]))]).toEqual([0]);
  });

  it("drops out-of-range rows (stale order)", () => {
    expect([...displayRows(3, new Uint32Array([5, 2, 0]))]).toEqual([2, 0]);
  });

  it("one mask in dataset order: the same rows as the row-by-row filter", () => {
    const n = 10_003;
    const rowByRow = { get: (i: number) => i % 7 === 0 || i === n - 1 }; // not a Bitmask
    const mask = Bitmask.fromPredicate(n, rowByRow.get);
    expect([...displayRows(n, null, mask)]).toEqual([...displayRows(n, null, rowByRow)]);
    // a mask longer than the rows (rows shrank before the filter did): extra rows dropped
    const longer = Bitmask.fromIndices(20, [1, 9, 15, 19]);
    expect([...displayRows(10, null, longer)]).toEqual([1, 9]);
    expect([...displayRows(10, null, Bitmask.empty(10))]).toEqual([]);
  });
});
