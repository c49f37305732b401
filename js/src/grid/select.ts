/**
 * Click selection in the grid, as in a file manager. Pure: unit-tested.
 *
 * - click: select just that item (clicking the only selected item again clears);
 * - ctrl / cmd-click: toggle that item;
 * - shift-click: select the range from the anchor (the last plainly or ctrl-clicked item) to this
 *   one, in display order, replacing the selection; ctrl+shift adds the range instead.
 *
 * Items are display positions; the selection is over rows (`display[pos]` is the row shown at
 * `pos`), so it survives sorting and filtering.
 */

import { Bitmask } from "../shared/selection";

export interface ClickModifiers {
  shift: boolean;
  /** ctrl or cmd */
  toggle: boolean;
}

export interface ClickResult {
  selection: Bitmask;
  /** Row of the new anchor (for the next shift-click). */
  anchor: number;
  /** `_selection_source`: "click:<row>", "toggle:<row>", "range:<row>-<row>" or "clear". */
  source: string;
}

/** Display position of each row (-1 when not shown). */
export function inversePositions(display: ArrayLike<number>, nRows: number): Int32Array {
  const inv = new Int32Array(nRows).fill(-1);
  for (let p = 0; p < display.length; p++) {
    const r = display[p];
    if (r < nRows) inv[r] = p;
  }
  return inv;
}

export function gridClick(
  current: Bitmask,
  display: ArrayLike<number>,
  anchorPos: number | null,
  pos: number,
  mods: ClickModifiers,
): ClickResult {
  const n = current.n;
  const row = display[pos];
  if (row === undefined || row >= n) return { selection: current, anchor: anchorPos === null ? -1 : display[anchorPos] ?? -1, source: "" };

  if (mods.shift) {
    const from = anchorPos !== null && anchorPos >= 0 && anchorPos < display.length ? anchorPos : pos;
    const lo = Math.min(from, pos);
    const hi = Math.max(from, pos);
    const next = mods.toggle ? current.clone() : Bitmask.empty(n);
    for (let p = lo; p <= hi; p++) {
      const r = display[p];
      if (r < n) next.set(r);
    }
    return { selection: next, anchor: display[from], source: `range:${display[lo]}-${display[hi]}` };
  }

  if (mods.toggle) {
    const next = current.clone().set(row, !current.get(row));
    return { selection: next, anchor: row, source: next.isEmpty() ? "clear" : `toggle:${row}` };
  }

  if (current.get(row) && current.count() === 1) {
    return { selection: Bitmask.empty(n), anchor: row, source: "clear" };
  }
  return { selection: Bitmask.fromIndices(n, [row]), anchor: row, source: `click:${row}` };
}

/** Select every shown item (`display`), or clear when they are all selected already. */
export function selectAllShown(current: Bitmask, display: ArrayLike<number>): { selection: Bitmask; source: string } {
  const n = current.n;
  let all = display.length > 0;
  for (let p = 0; p < display.length && all; p++) if (!current.get(display[p])) all = false;
  if (all) return { selection: Bitmask.empty(n), source: "clear" };
  const next = Bitmask.fromIndices(n, Array.from(display));
  return { selection: next, source: "all" };
}
