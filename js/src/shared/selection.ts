/**
 * The row selection as a packed bitmask (see docs/dev/widget-protocol.md, "Rows and the
 * selection"): row `i` is bit `i & 7` of byte `i >> 3`, i.e. numpy
 * `packbits(mask, bitorder="little")`, `ceil(n / 8)` bytes; no bytes at all means "nothing".
 */

import { asUint8, toDataView, type BinaryLike } from "./codecs";

/** popcount of every byte value */
const POPCOUNT = /* @__PURE__ */ (() => {
  const t = new Uint8Array(256);
  for (let i = 1; i < 256; i++) t[i] = (i & 1) + t[i >> 1];
  return t;
})();

/** Mask of the valid bits in the last byte of an n-row bitmask (0xff when n is a multiple of 8). */
function tailMask(n: number): number {
  const r = n & 7;
  return r === 0 ? 0xff : (1 << r) - 1;
}

export class Bitmask {
  /** Number of rows. */
  readonly n: number;
  /** The packed bits, `ceil(n / 8)` bytes; bits past `n` are always 0. */
  readonly bits: Uint8Array;

  constructor(n: number, bits?: Uint8Array) {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`row count must be a natural number, got ${n}`);
    this.n = n;
    const nbytes = (n + 7) >> 3;
    if (bits === undefined) {
      this.bits = new Uint8Array(nbytes);
    } else {
      if (bits.length !== nbytes) throw new RangeError(`expected ${nbytes} bytes for ${n} rows, got ${bits.length}`);
      this.bits = bits;
    }
  }

  /** No row selected. */
  static empty(n: number): Bitmask {
    return new Bitmask(n);
  }

  /**
   * Decode a packed bitmask (a Bytes trait's DataView). Null or empty -> nothing selected; short
   * input is padded with zeros, extra bytes and bits past `n` are ignored, so a stale message can
   * never throw. Always copies: the result never aliases the model's buffer.
   */
  static fromBytes(data: BinaryLike, n: number): Bitmask {
    const m = new Bitmask(n);
    const src = asUint8(data);
    const len = Math.min(src.length, m.bits.length);
    if (len > 0) {
      m.bits.set(len === src.length ? src : src.subarray(0, len));
      if (len === m.bits.length) m.bits[len - 1] &= tailMask(n);
    }
    return m;
  }

  /** Rows `i` for which `fn(i)` is true. */
  static fromPredicate(n: number, fn: (i: number) => boolean): Bitmask {
    const m = new Bitmask(n);
    const bits = m.bits;
    for (let i = 0; i < n; i++) if (fn(i)) bits[i >> 3] |= 1 << (i & 7);
    return m;
  }

  /** The given row positions (out-of-range positions are ignored). */
  static fromIndices(n: number, indices: Iterable<number>): Bitmask {
    const m = new Bitmask(n);
    for (const i of indices) if (i >= 0 && i < n) m.bits[i >> 3] |= 1 << (i & 7);
    return m;
  }

  /**
   * Encode for `model.set` of a Bytes trait: a DataView over its own exactly-sized ArrayBuffer,
   * `ceil(n / 8)` bytes, or zero bytes when nothing is selected (the protocol's `b""`).
   */
  toBytes(): DataView {
    return toDataView(this.isEmpty() ? new Uint8Array(0) : this.bits);
  }

  get(i: number): boolean {
    if (i < 0 || i >= this.n) return false;
    return (this.bits[i >> 3] & (1 << (i & 7))) !== 0;
  }

  /** Set (or clear, with `value = false`) row `i`; returns this. */
  set(i: number, value = true): this {
    if (i < 0 || i >= this.n || !Number.isInteger(i)) throw new RangeError(`row ${i} out of range [0, ${this.n})`);
    if (value) this.bits[i >> 3] |= 1 << (i & 7);
    else this.bits[i >> 3] &= ~(1 << (i & 7));
    return this;
  }

  /** Number of selected rows. */
  count(): number {
    const b = this.bits;
    let c = 0;
    for (let k = 0; k < b.length; k++) c += POPCOUNT[b[k]];
    return c;
  }

  isEmpty(): boolean {
    const b = this.bits;
    for (let k = 0; k < b.length; k++) if (b[k] !== 0) return false;
    return true;
  }

  clone(): Bitmask {
    return new Bitmask(this.n, this.bits.slice());
  }

  private check(other: Bitmask): void {
    if (other.n !== this.n) throw new RangeError(`bitmasks over ${this.n} and ${other.n} rows`);
  }

  /** New mask: rows in this or other. */
  union(other: Bitmask): Bitmask {
    this.check(other);
    const out = this.clone();
    const a = out.bits;
    const b = other.bits;
    for (let k = 0; k < a.length; k++) a[k] |= b[k];
    return out;
  }

  /** New mask: rows in both. */
  intersect(other: Bitmask): Bitmask {
    this.check(other);
    const out = this.clone();
    const a = out.bits;
    const b = other.bits;
    for (let k = 0; k < a.length; k++) a[k] &= b[k];
    return out;
  }

  /** New mask: rows in this but not in other. */
  difference(other: Bitmask): Bitmask {
    this.check(other);
    const out = this.clone();
    const a = out.bits;
    const b = other.bits;
    for (let k = 0; k < a.length; k++) a[k] &= ~b[k];
    return out;
  }

  /** Every row of this is in other. */
  isSubsetOf(other: Bitmask): boolean {
    this.check(other);
    const a = this.bits;
    const b = other.bits;
    for (let k = 0; k < a.length; k++) if ((a[k] & ~b[k]) !== 0) return false;
    return true;
  }

  equals(other: Bitmask): boolean {
    if (other.n !== this.n) return false;
    const a = this.bits;
    const b = other.bits;
    for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
    return true;
  }

  /** Selected row positions, ascending. */
  indices(): Uint32Array {
    const out = new Uint32Array(this.count());
    const b = this.bits;
    let w = 0;
    for (let k = 0; k < b.length; k++) {
      let byte = b[k];
      while (byte !== 0) {
        const low = byte & -byte; // lowest set bit
        out[w++] = (k << 3) + (31 - Math.clz32(low));
        byte ^= low;
      }
    }
    return out;
  }

  /** Call `fn(i)` for every selected row, ascending (skips empty bytes: fast when sparse). */
  forEach(fn: (i: number) => void): void {
    const b = this.bits;
    for (let k = 0; k < b.length; k++) {
      let byte = b[k];
      while (byte !== 0) {
        const low = byte & -byte;
        fn((k << 3) + (31 - Math.clz32(low)));
        byte ^= low;
      }
    }
  }
}

/**
 * The selection after clicking an item (a cell, a bar, a header) whose rows are `target`.
 *
 * - plain click: select exactly `target`; if that is already exactly the selection, clear it;
 * - additive click (shift / ctrl / cmd): if every row of a non-empty `target` is already selected,
 *   remove them; otherwise add them (union).
 */
export function clickSelection(current: Bitmask, target: Bitmask, additive: boolean): Bitmask {
  if (!additive) {
    return current.equals(target) ? Bitmask.empty(current.n) : target.clone();
  }
  if (!target.isEmpty() && target.isSubsetOf(current)) return current.difference(target);
  return current.union(target);
}
