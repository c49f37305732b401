/**
 * The confusion matrix's cell tooltip (`cm-tooltip`): the cell's true and predicted class, its
 * count, its share of the true class and of the predicted class, and how many of its rows are
 * selected. It sits beside the cell, inside the widget (output areas clip what overflows them).
 */

import { h } from "../shared/dom";
import { colRate, formatInt, formatPercent, rowRate, type Confusion } from "./matrix";

export class CellTooltip {
  readonly el: HTMLDivElement;

  constructor() {
    this.el = h("div", { class: "nbd-cm-tooltip", "data-testid": "cm-tooltip", role: "tooltip", hidden: true });
  }

  /** Show cell (t, p) of `c` (`selected` of its rows selected) next to `td`, inside `root`. */
  show(td: HTMLElement, root: HTMLElement, c: Confusion, names: readonly string[], t: number, p: number, selected: number): void {
    const idx = t * c.k + p;
    const line = (label: string, value: string): HTMLDivElement =>
      h("div", { class: "nbd-cm-tt-row" }, h("span", { class: "nbd-cm-tt-key" }, label), h("span", { class: "nbd-cm-tt-val" }, value));
    const rows: HTMLElement[] = [
      line("true", names[t]),
      line("predicted", names[p]),
      line("count", formatInt(c.counts[idx])),
      line(`of true ${names[t]}`, formatPercent(rowRate(c, t, p))),
      line(`of predicted ${names[p]}`, formatPercent(colRate(c, t, p))),
    ];
    if (selected > 0) rows.push(line("selected", formatInt(selected)));
    this.el.replaceChildren(...rows);
    this.el.classList.toggle("is-error", t !== p);
    this.el.hidden = false;

    // place it beside the cell, inside the root, flipping left when it would overflow
    const rr = root.getBoundingClientRect();
    const cr = td.getBoundingClientRect();
    const tw = this.el.offsetWidth;
    let left = cr.right - rr.left + 6;
    if (tw > 0 && left + tw > rr.width) left = Math.max(0, cr.left - rr.left - tw - 6);
    this.el.style.left = `${Math.round(left)}px`;
    // keep it inside the root vertically too: output areas clip what overflows them
    const th = this.el.offsetHeight;
    let top = cr.top - rr.top;
    if (th > 0 && top + th > rr.height) top = Math.max(0, rr.height - th);
    this.el.style.top = `${Math.round(top)}px`;
  }

  hide(): void {
    this.el.hidden = true;
  }
}
