import { describe, expect, it } from "vitest";
import { gridClick, inversePositions, selectAllShown } from "../src/grid/select";
import { Bitmask } from "../src/shared/selection";

const rows = (m: Bitmask) => [...m.indices()];
const PLAIN = { shift: false, toggle: false };
const SHIFT = { shift: true, toggle: false };
const CTRL = { shift: false, toggle: true };
const CTRL_SHIFT = { shift: true, toggle: true };

describe("gridClick", () => {
  const n = 10;
  const identity = Uint32Array.from({ length: n }, (_, i) => i);
  // sorted view: display position -> row
  const sorted = new Uint32Array([9, 4, 7, 0, 2, 5, 1, 8, 3, 6]);

  it("plain click selects just the item; clicking the only selected item clears", () => {
    let r = gridClick(Bitmask.fromIndices(n, [1, 2]), identity, null, 4, PLAIN);
    expect(rows(r.selection)).toEqual([4]);
    expect(r.anchor).toBe(4);
    expect(r.source).toBe("click:4");
    r = gridClick(r.selection, identity, 4, 4, PLAIN);
    expect(rows(r.selection)).toEqual([]);
    expect(r.source).toBe("clear");
  });

  it("ctrl / cmd toggles one item and moves the anchor", () => {
    let r = gridClick(Bitmask.fromIndices(n, [1]), identity, 1, 3, CTRL);
    expect(rows(r.selection)).toEqual([1, 3]);
    expect(r.anchor).toBe(3);
    expect(r.source).toBe("toggle:3");
    r = gridClick(r.selection, identity, 3, 1, CTRL);
    expect(rows(r.selection)).toEqual([3]);
    r = gridClick(r.selection, identity, 1, 3, CTRL);
    expect(r.source).toBe("clear");
  });

  it("shift selects the range from the anchor, in display order, replacing the selection", () => {
    const r = gridClick(Bitmask.fromIndices(n, [9]), sorted, 1, 4, SHIFT); // anchor at pos 1 (row 4)
    expect(rows(r.selection)).toEqual([0, 2, 4, 7]); // rows at positions 1..4
    expect(r.anchor).toBe(4); // the anchor stays
    expect(r.source).toBe("range:4-2");
    // backwards
    const back = gridClick(Bitmask.empty(n), sorted, 4, 2, SHIFT);
    expect(rows(back.selection)).toEqual([2, 0, 7].sort((a, b) => a - b));
  });

  it("ctrl+shift adds the range to the selection", () => {
    const r = gridClick(Bitmask.fromIndices(n, [6]), identity, 0, 2, CTRL_SHIFT);
    expect(rows(r.selection)).toEqual([0, 1, 2, 6]);
  });

  it("shift without an anchor (or with the anchor filtered out) selects the one item", () => {
    expect(rows(gridClick(Bitmask.empty(n), identity, null, 5, SHIFT).selection)).toEqual([5]);
    expect(rows(gridClick(Bitmask.empty(n), identity, 42, 5, SHIFT).selection)).toEqual([5]);
  });

  it("a click outside the display is ignored", () => {
    const cur = Bitmask.fromIndices(n, [1]);
    const r = gridClick(cur, identity, null, 50, PLAIN);
    expect(r.selection).toBe(cur);
    expect(r.source).toBe("");
  });

  it("a filtered display: the range covers only the shown rows", () => {
    const shown = new Uint32Array([1, 5, 8]);
    const r = gridClick(Bitmask.empty(n), shown, 0, 2, SHIFT);
    expect(rows(r.selection)).toEqual([1, 5, 8]);
  });
});

describe("helpers", () => {
  it("inverse positions", () => {
    const inv = inversePositions(new Uint32Array([2, 0]), 4);
    expect([...inv]).toEqual([1, -1, 0, -1]);
  });

  it("select all shown, or clear when all are selected", () => {
    const shown = new Uint32Array([1, 3]);
    const r = selectAllShown(Bitmask.fromIndices(5, [0]), shown);
    expect(rows(r.selection)).toEqual([1, 3]);
    expect(r.source).toBe("all");
    expect(selectAllShown(r.selection, shown).source).toBe("clear");
  });
});
