/**
 * Mapping selections between a view's rows and the link's samples (docs/dev/widget-protocol.md,
 * "Linking"). A view's `_row_keys` holds, per row, the position of the row's sample in the link's
 * universe (uint32); no keys means the identity (row i is sample i). Several rows may share a
 * sample (object-level views): a sample is selected when any of its rows is, and a row is
 * selected when its sample is.
 */

import { Bitmask } from "../selection";

/** How a view's rows map to the link's samples. */
export class RowKeys {
  /** Number of rows of the view. */
  readonly nRows: number;
  /** Number of samples of the link. */
  readonly nSamples: number;
  /** Sample position of each row, or null for the identity. */
  readonly keys: Uint32Array | null;

  constructor(nRows: number, nSamples: number, keys: Uint32Array | null) {
    if (keys !== null && keys.length === 0 && nRows > 0) keys = null;
    if (keys === null && nRows !== nSamples) {
      throw new RangeError(`identity row keys need as many rows (${nRows}) as samples (${nSamples})`);
    }
    if (keys !== null && keys.length !== nRows) {
      throw new RangeError(`${keys.length} row keys for ${nRows} rows`);
    }
    this.nRows = nRows;
    this.nSamples = nSamples;
    this.keys = keys;
  }

  get isIdentity(): boolean {
    return this.keys === null;
  }

  /** Rows -> samples: the samples of the selected rows. */
  toSamples(rows: Bitmask): Bitmask {
    if (rows.n !== this.nRows) rows = Bitmask.fromBytes(rows.bits, this.nRows);
    if (this.keys === null) return rows.clone();
    const out = new Bitmask(this.nSamples);
    const keys = this.keys;
    const n = this.nSamples;
    const o = out.bits;
    rows.forEach((r) => {
      const s = keys[r];
      if (s < n) o[s >> 3] |= 1 << (s & 7);
    });
    return out;
  }

  /** Samples -> rows: the rows whose sample is selected. */
  toRows(samples: Bitmask): Bitmask {
    if (samples.n !== this.nSamples) samples = Bitmask.fromBytes(samples.bits, this.nSamples);
    if (this.keys === null) return samples.clone();
    const out = new Bitmask(this.nRows);
    if (samples.isEmpty()) return out;
    const keys = this.keys;
    const sb = samples.bits;
    const o = out.bits;
    for (let r = 0; r < keys.length; r++) {
      const s = keys[r];
      if ((sb[s >> 3] & (1 << (s & 7))) !== 0) o[r >> 3] |= 1 << (r & 7);
    }
    return out;
  }
}

/** `_object_keys` entry of a row without that object (a pair without a prediction). */
export const NO_OBJECT = 0xffffffff;

/**
 * How a view's rows map to the dataset's objects: `k` keys per row, row-major (a box: its own
 * position; a detection confusion pair: its prediction's and its ground truth's, `NO_OBJECT`
 * where absent). Rows -> objects: every object of the selected rows; objects -> rows: a row is
 * selected when any of its objects is.
 */
export class ObjectKeys {
  readonly nRows: number;
  readonly nObjects: number;
  /** Keys per row. */
  readonly k: number;
  readonly keys: Uint32Array;

  constructor(nRows: number, nObjects: number, keys: Uint32Array) {
    if (nRows === 0 ? keys.length !== 0 : keys.length === 0 || keys.length % nRows !== 0) {
      throw new RangeError(`${keys.length} object keys for ${nRows} rows`);
    }
    this.nRows = nRows;
    this.nObjects = nObjects;
    this.k = nRows === 0 ? 1 : keys.length / nRows;
    this.keys = keys;
  }

  /** Rows -> objects. */
  toObjects(rows: Bitmask): Bitmask {
    if (rows.n !== this.nRows) rows = Bitmask.fromBytes(rows.bits, this.nRows);
    const out = new Bitmask(this.nObjects);
    const { keys, k, nObjects } = this;
    const o = out.bits;
    rows.forEach((r) => {
      for (let j = r * k; j < r * k + k; j++) {
        const s = keys[j];
        if (s !== NO_OBJECT && s < nObjects) o[s >> 3] |= 1 << (s & 7);
      }
    });
    return out;
  }

  /** Objects -> rows. */
  toRows(objects: Bitmask): Bitmask {
    if (objects.n !== this.nObjects) objects = Bitmask.fromBytes(objects.bits, this.nObjects);
    const out = new Bitmask(this.nRows);
    if (objects.isEmpty()) return out;
    const { keys, k, nRows } = this;
    const sb = objects.bits;
    const o = out.bits;
    for (let r = 0; r < nRows; r++) {
      for (let j = r * k; j < r * k + k; j++) {
        const s = keys[j];
        if (s !== NO_OBJECT && (sb[s >> 3] & (1 << (s & 7))) !== 0) {
          o[r >> 3] |= 1 << (r & 7);
          break;
        }
      }
    }
    return out;
  }
}
