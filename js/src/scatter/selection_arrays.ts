/** The renderer's selection buffers, built from the packed bitmask (pure; unit-tested). */

/**
 * From a packed bitmask over `n` points: a byte per point (1 selected) and the selected rows,
 * ascending; `flags` is null when nothing is selected.
 */
export function selectionArrays(bits: Uint8Array | null, n: number): { flags: Uint8Array | null; rows: Uint32Array } {
  if (bits === null || n === 0) return { flags: null, rows: new Uint32Array(0) };
  const flags = new Uint8Array(n);
  const nbytes = Math.min(bits.length, (n + 7) >> 3);
  let count = 0;
  for (let k = 0; k < nbytes; k++) {
    let b = bits[k];
    while (b !== 0) {
      const low = b & -b;
      const i = (k << 3) + (31 - Math.clz32(low));
      if (i < n) count++;
      b ^= low;
    }
  }
  if (count === 0) return { flags: null, rows: new Uint32Array(0) };
  const rows = new Uint32Array(count);
  let w = 0;
  for (let k = 0; k < nbytes; k++) {
    let b = bits[k];
    while (b !== 0) {
      const low = b & -b;
      const i = (k << 3) + (31 - Math.clz32(low));
      if (i < n) {
        flags[i] = 1;
        rows[w++] = i;
      }
      b ^= low;
    }
  }
  return { flags, rows };
}
