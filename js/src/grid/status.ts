/**
 * The grid's status line: "N of M selected · a–b of K shown", what is loading and a hint. Its
 * `data-selected-count`, `data-shown`, `data-first`, `data-last`, `data-loading` and `data-cells`
 * are DOM hooks (docs/dev/widget-protocol.md, "ImageGrid").
 */

import { h } from "../shared/dom";

const fmt = new Intl.NumberFormat("en-US");

export interface GridStatus {
  /** Selected rows. */
  selected: number;
  /** All rows. */
  rows: number;
  /** Rows displayed (after filters). */
  shown: number;
  /** Display positions [first, last) on screen. */
  first: number;
  last: number;
  /** Rows being fetched. */
  loading: number;
  /** Live cells. */
  cells: number;
}

export function renderStatus(el: HTMLElement, st: GridStatus): void {
  const { selected: count, shown, first: start, last: end, loading } = st;
  const parts: (Node | string)[] = [`${fmt.format(count)} of ${fmt.format(st.rows)} selected`];
  if (shown > 0) parts.push(` · ${fmt.format(start + 1)}–${fmt.format(end)} of ${fmt.format(shown)} shown`);
  if (shown !== st.rows) parts.push(h("span", { class: "nbd-grid-hint" }, " (filtered)"));
  if (loading > 0) parts.push(h("span", { class: "nbd-grid-hint" }, ` · loading ${fmt.format(loading)}…`));
  if (count === 0 && shown > 0) parts.push(h("span", { class: "nbd-grid-hint" }, " · click, shift-click a range, ctrl-click to toggle; double-click opens"));
  el.replaceChildren(...parts);
  const d = el.dataset;
  d.selectedCount = String(count);
  d.shown = String(shown);
  d.first = String(start);
  d.last = String(end);
  d.loading = String(loading);
  d.cells = String(st.cells);
}
