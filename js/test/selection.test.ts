import { describe, expect, it } from "vitest";
import { Bitmask, clickSelection } from "../src/shared/selection";

const bytesOf = (dv: DataView): number[] => Array.from(new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength));

describe("Bitmask byte layout (numpy packbits, bitorder='little')", () => {
  // expected bytes computed with numpy:
  //   m = np.zeros(11, bool); m[[0, 3, 8, 10]] = True; np.packbits(m, bitorder="little")
  it("rows [0, 3, 8, 10] of 11 -> [0x09, 0x05]", () => {
    const m = Bitmask.fromIndices(11, [0, 3, 8, 10]);
    expect(Array.from(m.bits)).toEqual([0x09, 0x05]);
    expect(bytesOf(m.toBytes())).toEqual([0x09, 0x05]);
  });

  it("rows [1, 2, 7, 9, 15, 16, 19] of 20 -> [134, 130, 9]", () => {
    const m = Bitmask.fromIndices(20, [1, 2, 7, 9, 15, 16, 19]);
    expect(bytesOf(m.toBytes())).toEqual([134, 130, 9]);
  });

  it("all 13 rows -> [255, 31]", () => {
    const m = Bitmask.fromPredicate(13, () => true);
    expect(bytesOf(m.toBytes())).toEqual([255, 31]);
  });

  it("decodes numpy bytes back to the same rows", () => {
    const m = Bitmask.fromBytes(new DataView(new Uint8Array([134, 130, 9]).buffer), 20);
    expect(Array.from(m.indices())).toEqual([1, 2, 7, 9, 15, 16, 19]);
    expect(m.count()).toBe(7);
  });
});

describe("Bitmask.fromBytes", () => {
  it("treats null, undefined and zero bytes as nothing selected", () => {
    for (const src of [null, undefined, new DataView(new ArrayBuffer(0))]) {
      const m = Bitmask.fromBytes(src, 10);
      expect(m.n).toBe(10);
      expect(m.bits.length).toBe(2);
      expect(m.isEmpty()).toBe(true);
    }
  });

  it("pads short input and ignores bytes and bits past n", () => {
    expect(Array.from(Bitmask.fromBytes(new Uint8Array([0x81]), 20).indices())).toEqual([0, 7]);
    const m = Bitmask.fromBytes(new Uint8Array([0xff, 0xff, 0xff]), 11);
    expect(m.count()).toBe(11);
    expect(Array.from(m.bits)).toEqual([0xff, 0x07]);
  });

  it("copies: later writes to the source do not leak in", () => {
    const src = new Uint8Array([1]);
    const m = Bitmask.fromBytes(src, 8);
    src[0] = 0xff;
    expect(m.count()).toBe(1);
  });

  it("reads a DataView at an offset", () => {
    const buf = new Uint8Array([0xaa, 0x09, 0x05, 0xbb]).buffer;
    expect(Array.from(Bitmask.fromBytes(new DataView(buf, 1, 2), 11).indices())).toEqual([0, 3, 8, 10]);
  });
});

describe("Bitmask.toBytes", () => {
  it("is a DataView over its own exactly-sized buffer", () => {
    const m = Bitmask.fromIndices(1000, [999]);
    const dv = m.toBytes();
    expect(dv).toBeInstanceOf(DataView);
    expect(dv.byteOffset).toBe(0);
    expect(dv.byteLength).toBe(125);
    expect(dv.buffer.byteLength).toBe(125);
    expect(dv.getUint8(124)).toBe(0x80);
    m.set(0); // no aliasing
    expect(dv.getUint8(0)).toBe(0);
  });

  it("is zero bytes when nothing is selected (the protocol's b'')", () => {
    const dv = Bitmask.empty(100).toBytes();
    expect(dv.byteLength).toBe(0);
    expect(dv.buffer.byteLength).toBe(0);
  });

  it("round-trips", () => {
    const m = Bitmask.fromPredicate(77, (i) => i % 3 === 0 || i === 76);
    expect(Bitmask.fromBytes(m.toBytes(), 77).equals(m)).toBe(true);
  });
});

describe("Bitmask operations", () => {
  const a = Bitmask.fromIndices(12, [0, 1, 5, 11]);
  const b = Bitmask.fromIndices(12, [1, 2, 11]);

  it("get / set", () => {
    const m = Bitmask.empty(10);
    m.set(9).set(3);
    expect(m.get(9)).toBe(true);
    expect(m.get(3)).toBe(true);
    expect(m.get(4)).toBe(false);
    expect(m.get(10)).toBe(false);
    expect(m.get(-1)).toBe(false);
    m.set(9, false);
    expect(Array.from(m.indices())).toEqual([3]);
    expect(() => m.set(10)).toThrow(RangeError);
  });

  it("union, intersect, difference leave their inputs alone", () => {
    expect(Array.from(a.union(b).indices())).toEqual([0, 1, 2, 5, 11]);
    expect(Array.from(a.intersect(b).indices())).toEqual([1, 11]);
    expect(Array.from(a.difference(b).indices())).toEqual([0, 5]);
    expect(Array.from(a.indices())).toEqual([0, 1, 5, 11]);
    expect(Array.from(b.indices())).toEqual([1, 2, 11]);
  });

  it("refuses masks of different sizes", () => {
    expect(() => a.union(Bitmask.empty(13))).toThrow(RangeError);
  });

  it("equals, isEmpty, isSubsetOf, count", () => {
    expect(a.equals(Bitmask.fromIndices(12, [11, 5, 1, 0]))).toBe(true);
    expect(a.equals(b)).toBe(false);
    expect(a.equals(Bitmask.fromIndices(13, [0, 1, 5, 11]))).toBe(false);
    expect(Bitmask.empty(12).isEmpty()).toBe(true);
    expect(a.isEmpty()).toBe(false);
    expect(Bitmask.fromIndices(12, [1, 11]).isSubsetOf(a)).toBe(true);
    expect(b.isSubsetOf(a)).toBe(false);
    expect(a.count()).toBe(4);
    expect(Bitmask.empty(0).count()).toBe(0);
  });

  it("fromPredicate and forEach agree with indices", () => {
    const m = Bitmask.fromPredicate(50, (i) => i % 7 === 2);
    expect(Array.from(m.indices())).toEqual([2, 9, 16, 23, 30, 37, 44]);
    const seen: number[] = [];
    m.forEach((i) => seen.push(i));
    expect(seen).toEqual([2, 9, 16, 23, 30, 37, 44]);
  });

  it("rejects a bad row count", () => {
    expect(() => new Bitmask(-1)).toThrow(RangeError);
    expect(() => new Bitmask(10, new Uint8Array(3))).toThrow(RangeError);
  });

  it("is fast enough at 1M rows", () => {
    const n = 1_000_000;
    const t0 = performance.now();
    const m = Bitmask.fromPredicate(n, (i) => i % 3 === 0);
    const other = Bitmask.fromPredicate(n, (i) => i % 2 === 0);
    const u = m.union(other);
    const count = u.count();
    const bytes = u.toBytes();
    const back = Bitmask.fromBytes(bytes, n);
    const ms = performance.now() - t0;
    expect(count).toBe(666_667); // |multiples of 2 or 3 below 1e6|
    expect(bytes.byteLength).toBe(125_000);
    expect(back.equals(u)).toBe(true);
    expect(back.indices().length).toBe(count);
    expect(ms).toBeLessThan(1000);
  });
});

describe("clickSelection", () => {
  const n = 16;
  const cell = Bitmask.fromIndices(n, [1, 2]);
  const other = Bitmask.fromIndices(n, [8]);
  const none = Bitmask.empty(n);

  it("plain click selects the target", () => {
    expect(Array.from(clickSelection(other, cell, false).indices())).toEqual([1, 2]);
  });

  it("plain click on the only selected item clears", () => {
    expect(clickSelection(cell, cell, false).isEmpty()).toBe(true);
  });

  it("additive click adds", () => {
    expect(Array.from(clickSelection(other, cell, true).indices())).toEqual([1, 2, 8]);
  });

  it("additive click on a selected item removes it", () => {
    const both = cell.union(other);
    expect(Array.from(clickSelection(both, cell, true).indices())).toEqual([8]);
  });

  it("additive click on a partly selected item adds the rest", () => {
    const part = Bitmask.fromIndices(n, [1]);
    expect(Array.from(clickSelection(part, cell, true).indices())).toEqual([1, 2]);
  });

  it("an empty target changes nothing additively", () => {
    expect(clickSelection(other, none, true).equals(other)).toBe(true);
  });
});
