import { describe, expect, it } from "vitest";
import { asFloat32, asUint16, asUint8, byteLengthOf, MISSING_CODE, toDataView } from "../src/shared/codecs";

// bytes produced by numpy: np.array([1.5, -2.25, 3e-3], dtype="<f4").tobytes()
const F32_BYTES = [0, 0, 192, 63, 0, 0, 16, 192, 166, 155, 68, 59];
// np.array([0, 2, 65535, 513], dtype="<u2").tobytes()
const U16_BYTES = [0, 0, 2, 0, 255, 255, 1, 2];

/** A DataView over `bytes` placed at `offset` inside a larger buffer. */
function viewAt(bytes: number[], offset: number): DataView {
  const buf = new ArrayBuffer(offset + bytes.length + 3);
  new Uint8Array(buf).set(bytes, offset);
  return new DataView(buf, offset, bytes.length);
}

describe("MISSING_CODE", () => {
  it("is 0xFFFF", () => {
    expect(MISSING_CODE).toBe(65535);
  });
});

describe("asUint16", () => {
  it("decodes numpy little-endian uint16 bytes", () => {
    expect(Array.from(asUint16(viewAt(U16_BYTES, 0)))).toEqual([0, 2, MISSING_CODE, 513]);
  });

  it("wraps an aligned view without copying", () => {
    const dv = viewAt(U16_BYTES, 4);
    const arr = asUint16(dv);
    expect(arr.buffer).toBe(dv.buffer);
    expect(arr.byteOffset).toBe(4);
    new Uint8Array(dv.buffer)[4] = 7; // a write to the source shows through
    expect(arr[0]).toBe(7);
  });

  it("copies a misaligned view and still decodes it", () => {
    const dv = viewAt(U16_BYTES, 3);
    const arr = asUint16(dv);
    expect(arr.buffer).not.toBe(dv.buffer);
    expect(Array.from(arr)).toEqual([0, 2, MISSING_CODE, 513]);
  });

  it("accepts ArrayBuffer and Uint8Array inputs", () => {
    const u8 = new Uint8Array(U16_BYTES);
    expect(Array.from(asUint16(u8))).toEqual([0, 2, 65535, 513]);
    expect(Array.from(asUint16(u8.buffer))).toEqual([0, 2, 65535, 513]);
  });

  it("gives an empty array for null, undefined and empty input", () => {
    expect(asUint16(null).length).toBe(0);
    expect(asUint16(undefined).length).toBe(0);
    expect(asUint16(new DataView(new ArrayBuffer(0))).length).toBe(0);
  });

  it("rejects a byte count that is not a multiple of 2", () => {
    expect(() => asUint16(new Uint8Array([1, 2, 3]))).toThrow(/not a multiple of 2/);
  });
});

describe("asFloat32", () => {
  it("decodes numpy little-endian float32 bytes (aligned, zero-copy)", () => {
    const dv = viewAt(F32_BYTES, 8);
    const arr = asFloat32(dv);
    expect(arr.buffer).toBe(dv.buffer);
    expect(arr[0]).toBe(1.5);
    expect(arr[1]).toBe(-2.25);
    expect(arr[2]).toBeCloseTo(3e-3, 7);
  });

  it("decodes a misaligned view by copying", () => {
    for (const offset of [1, 2, 3, 5]) {
      const dv = viewAt(F32_BYTES, offset);
      const arr = asFloat32(dv);
      expect(arr.buffer).not.toBe(dv.buffer);
      expect(Array.from(arr.subarray(0, 2))).toEqual([1.5, -2.25]);
    }
  });

  it("keeps NaN", () => {
    const arr = asFloat32(new Float32Array([NaN, 1]));
    expect(Number.isNaN(arr[0])).toBe(true);
    expect(arr[1]).toBe(1);
  });

  it("rejects a byte count that is not a multiple of 4", () => {
    expect(() => asFloat32(new Uint8Array(6))).toThrow(RangeError);
  });

  it("gives an empty array for null", () => {
    expect(asFloat32(null)).toBeInstanceOf(Float32Array);
    expect(asFloat32(null).length).toBe(0);
  });
});

describe("asUint8", () => {
  it("never copies, whatever the offset", () => {
    const dv = viewAt([9, 5, 1], 3);
    const arr = asUint8(dv);
    expect(arr.buffer).toBe(dv.buffer);
    expect(Array.from(arr)).toEqual([9, 5, 1]);
  });

  it("rejects things that are not binary", () => {
    expect(() => asUint8("abc" as unknown as DataView)).toThrow(TypeError);
  });
});

describe("toDataView / byteLengthOf", () => {
  it("copies into an exactly-sized buffer at offset 0", () => {
    const big = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const dv = toDataView(big.subarray(2, 4));
    expect(dv.byteOffset).toBe(0);
    expect(dv.buffer.byteLength).toBe(2);
    expect(Array.from(new Uint8Array(dv.buffer))).toEqual([3, 4]);
    big[2] = 99;
    expect(dv.getUint8(0)).toBe(3);
  });

  it("measures bytes", () => {
    expect(byteLengthOf(null)).toBe(0);
    expect(byteLengthOf(new Uint16Array(3))).toBe(6);
    expect(byteLengthOf(new ArrayBuffer(5))).toBe(5);
  });
});
