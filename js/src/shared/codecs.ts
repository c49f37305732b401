/**
 * Binary column codecs (see docs/dev/widget-protocol.md, "Binary columns").
 *
 * A `traitlets.Bytes` trait reaches the browser as a `DataView`. Columns are little-endian typed
 * arrays; these helpers wrap them zero-copy when the view's byte offset is aligned to the element
 * size, and copy only when it is not (or when the host is big-endian, which no browser is today).
 */

/** uint16 category code meaning "missing". */
export const MISSING_CODE = 0xffff;

/** What a binary trait may hold: anywidget gives a DataView; tests and callers may pass others. */
export type BinaryLike = DataView | ArrayBufferView | ArrayBuffer | null | undefined;

/** True on little-endian hosts (every browser engine in practice). */
export const IS_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

interface ByteRange {
  buffer: ArrayBufferLike;
  byteOffset: number;
  byteLength: number;
}

function byteRange(data: BinaryLike): ByteRange | null {
  if (data == null) return null;
  if (data instanceof ArrayBuffer) return { buffer: data, byteOffset: 0, byteLength: data.byteLength };
  if (ArrayBuffer.isView(data)) {
    return { buffer: data.buffer, byteOffset: data.byteOffset, byteLength: data.byteLength };
  }
  const kind = Object.prototype.toString.call(data);
  const keys = typeof data === "object" ? Object.keys(data as object).slice(0, 5).join(",") : "";
  throw new TypeError(`expected a DataView, typed array or ArrayBuffer, got ${kind}${keys ? ` {${keys}}` : ""}`);
}

/** Number of bytes in `data` (0 for null / undefined). */
export function byteLengthOf(data: BinaryLike): number {
  return byteRange(data)?.byteLength ?? 0;
}

type TypedCtor<T> = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  new (length: number): T;
  readonly BYTES_PER_ELEMENT: number;
};

function wrap<T extends ArrayLike<number>>(
  data: BinaryLike,
  Ctor: TypedCtor<T>,
  name: string,
  readLE: (dv: DataView, offset: number) => number,
): T {
  const r = byteRange(data);
  if (r === null || r.byteLength === 0) return new Ctor(0);
  const size = Ctor.BYTES_PER_ELEMENT;
  if (r.byteLength % size !== 0) {
    throw new RangeError(`${name} column: ${r.byteLength} bytes is not a multiple of ${size}`);
  }
  const length = r.byteLength / size;
  if (size === 1 || (IS_LITTLE_ENDIAN && r.byteOffset % size === 0)) {
    return new Ctor(r.buffer, r.byteOffset, length); // zero-copy
  }
  // misaligned (or big-endian host): copy element by element through a DataView
  const out = new Ctor(length) as T & { [i: number]: number };
  const dv = new DataView(r.buffer, r.byteOffset, r.byteLength);
  for (let i = 0; i < length; i++) out[i] = readLE(dv, i * size);
  return out;
}

/** float32 column (little-endian) -> Float32Array; empty for null / empty input. */
export function asFloat32(data: BinaryLike): Float32Array {
  return wrap(data, Float32Array, "float32", (dv, o) => dv.getFloat32(o, true));
}

/** uint16 code column (little-endian) -> Uint16Array; empty for null / empty input. */
export function asUint16(data: BinaryLike): Uint16Array {
  return wrap(data, Uint16Array, "uint16", (dv, o) => dv.getUint16(o, true));
}

/** uint32 column (little-endian) -> Uint32Array; empty for null / empty input. */
export function asUint32(data: BinaryLike): Uint32Array {
  return wrap(data, Uint32Array, "uint32", (dv, o) => dv.getUint32(o, true));
}

/** Raw bytes -> Uint8Array (always zero-copy); empty for null / empty input. */
export function asUint8(data: BinaryLike): Uint8Array {
  return wrap(data, Uint8Array, "uint8", (dv, o) => dv.getUint8(o));
}

/**
 * A `DataView` over a fresh, exactly-sized copy of `bytes`, suitable for `model.set` on a Bytes
 * trait. (ipywidgets sends a view's whole underlying `.buffer`, so a view into a larger buffer
 * would ship the extra bytes; this never does.)
 */
export function toDataView(bytes: Uint8Array): DataView {
  const buf = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buf).set(bytes);
  return new DataView(buf);
}
