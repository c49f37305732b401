/**
 * Mouse and keyboard on the grid's cells: a click selects (shift: a range from the anchor, ctrl /
 * cmd: toggle; see `select.ts`), a double-click or the magnifier opens the detail view, ctrl /
 * cmd-A selects every row shown, Escape clears the selection.
 */

import type { Cell } from "./cell";

export interface GridGestureActions {
  /** The cell an event happened in, if any. */
  cellOf(ev: Event): Cell | null;
  /** Open the detail view of display position `pos`. */
  open(pos: number): void;
  /** A click on display position `pos` (`ev`: where, for a click inside a mask). */
  click(pos: number, mods: { shift: boolean; toggle: boolean }, ev: MouseEvent): void;
  selectAll(): void;
  /** Escape: clear the selection, if any. */
  escape(): void;
}

/** Listen on `scroll` (the element holding the cells). */
export function listenGridGestures(scroll: HTMLElement, a: GridGestureActions): void {
  scroll.addEventListener("click", (ev) => {
    const cell = a.cellOf(ev);
    if (!cell) return;
    if ((ev.target as Element).closest(".nbd-grid-zoom")) {
      a.open(cell.pos);
      return;
    }
    if (ev.detail > 1) return; // the second click of a double-click opens, it does not toggle
    a.click(cell.pos, { shift: ev.shiftKey, toggle: ev.ctrlKey || ev.metaKey }, ev);
  });
  scroll.addEventListener("dblclick", (ev) => {
    const cell = a.cellOf(ev);
    if (!cell || (ev.target as Element).closest(".nbd-grid-zoom")) return;
    a.open(cell.pos);
  });
  scroll.addEventListener("keydown", (ev) => {
    if ((ev.key === "a" || ev.key === "A") && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      a.selectAll();
    } else if (ev.key === "Escape") {
      a.escape();
    }
  });
}
