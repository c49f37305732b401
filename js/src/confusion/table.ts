/**
 * The confusion matrix's K x K table: class headers (`cm-row-{t}`, `cm-col-{p}`) and cells
 * (`cm-cell-{t}-{p}`), each with `data-kind` / `data-t` / `data-p` for the click and hover
 * handlers; the cells' values and colours; which cells and headers the selection covers.
 */

import { h } from "../shared/dom";
import { cellFill, formatValue, scaleMaxima, textColorOn, type Confusion, type Normalize } from "./matrix";

/** The elements of a built table (cell (t, p) at `t * K + p`). */
export interface TableParts {
  cells: HTMLTableCellElement[];
  rowHeads: HTMLTableCellElement[];
  colHeads: HTMLTableCellElement[];
}

/** Matrices up to this size get focusable (keyboard-clickable) cells. */
const FOCUSABLE_CELLS_MAX_K = 20;

/** The root's size class: larger matrices get smaller cells. */
export function sizeClass(k: number): string {
  if (k <= 12) return "nbd-cm--l";
  if (k <= 30) return "nbd-cm--m";
  return "nbd-cm--s";
}

/** A K x K table for the classes `names` (K >= 1), values left empty. */
export function buildTable(k: number, names: readonly string[]): TableParts & { table: HTMLTableElement } {
  const cells: HTMLTableCellElement[] = new Array(k * k);
  const rowHeads: HTMLTableCellElement[] = new Array(k);
  const colHeads: HTMLTableCellElement[] = new Array(k);
  const focusable = k <= FOCUSABLE_CELLS_MAX_K;
  const headRow = h("tr", {}, h("th", { class: "nbd-cm-corner", scope: "col" }));
  for (let p = 0; p < k; p++) {
    const th = h(
      "th",
      { class: "nbd-cm-colhead", scope: "col", "data-testid": `cm-col-${p}`, "data-kind": "col", "data-p": p, title: names[p], tabindex: 0 },
      h("span", { class: "nbd-cm-label" }, names[p]),
    );
    colHeads[p] = th;
    headRow.append(th);
  }
  const tbody = h("tbody");
  for (let t = 0; t < k; t++) {
    const th = h(
      "th",
      { class: "nbd-cm-rowhead", scope: "row", "data-testid": `cm-row-${t}`, "data-kind": "row", "data-t": t, title: names[t], tabindex: 0 },
      h("span", { class: "nbd-cm-label" }, names[t]),
    );
    rowHeads[t] = th;
    const tr = h("tr", {}, th);
    for (let p = 0; p < k; p++) {
      const td = h("td", {
        class: t === p ? "nbd-cm-cell is-diag" : "nbd-cm-cell",
        "data-testid": `cm-cell-${t}-${p}`,
        "data-kind": "cell",
        "data-t": t,
        "data-p": p,
        tabindex: focusable ? 0 : null,
      });
      cells[t * k + p] = td;
      tr.append(td);
    }
    tbody.append(tr);
  }
  const table = h(
    "table",
    { class: "nbd-cm-table", "aria-label": "Confusion matrix: rows are true labels, columns are predictions" },
    h("thead", {}, headRow),
    tbody,
  );
  return { table, cells, rowHeads, colHeads };
}

/** Write `values` (the confusion normalised by `mode`) into the cells, coloured by magnitude. */
export function paintValues(cells: readonly HTMLTableCellElement[], k: number, c: Confusion, values: Float64Array, mode: Normalize): void {
  const counts = c.counts;
  const max = scaleMaxima(values, k);
  for (let t = 0; t < k; t++) {
    for (let p = 0; p < k; p++) {
      const idx = t * k + p;
      const td = cells[idx];
      const v = values[idx];
      const fill = cellFill(v, t === p ? max.diagonal : max.offDiagonal, t === p);
      td.textContent = formatValue(v, mode);
      td.dataset.count = String(counts[idx]);
      td.dataset.value = String(v);
      td.style.backgroundColor = fill ?? "";
      td.style.color = fill ? textColorOn(fill) : "";
      td.classList.toggle("is-zero", counts[idx] === 0);
    }
  }
}

/**
 * Mark the cells the selection covers (`perCell`: selected rows per cell): `data-selected` is
 * "full" or "partial"; a header is selected when its whole row / column is.
 */
export function paintSelection(parts: TableParts, k: number, c: Confusion, perCell: ArrayLike<number>): void {
  const { cells, rowHeads, colHeads } = parts;
  const counts = c.counts;
  const rowSel = new Float64Array(k);
  const colSel = new Float64Array(k);
  for (let t = 0; t < k; t++) {
    for (let p = 0; p < k; p++) {
      const idx = t * k + p;
      const s = perCell[idx];
      rowSel[t] += s;
      colSel[p] += s;
      const state = s === 0 ? null : s === counts[idx] ? "full" : "partial";
      const td = cells[idx];
      if ((td.dataset.selected ?? null) !== state) {
        if (state === null) td.removeAttribute("data-selected");
        else td.dataset.selected = state;
        td.classList.toggle("is-selected", state !== null);
        td.setAttribute("aria-selected", state !== null ? "true" : "false");
      }
    }
  }
  for (let i = 0; i < k; i++) {
    const rowFull = rowSel[i] > 0 && rowSel[i] === c.rowTotals[i];
    const colFull = colSel[i] > 0 && colSel[i] === c.colTotals[i];
    rowHeads[i].classList.toggle("is-selected", rowFull);
    colHeads[i].classList.toggle("is-selected", colFull);
  }
}
