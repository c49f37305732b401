/**
 * The histogram's bar tooltip (`hist-tooltip`): the bin's range or the category, its rows and how
 * many of them are selected. It sits right of the hovered bar, or left of it near the edge.
 */

import { h } from "../shared/dom";
import { formatNumber } from "../shared/format";
import type { Binned } from "./bins";
import type { Layout } from "./chart";

/** The title of bar `i`: a bin's `[lo, hi)` (the last bin is closed), or the category's name. */
export function barTitle(i: number, binned: Binned | null, categories: readonly string[] | null): string {
  if (binned) return `[${formatNumber(binned.edges[i])}, ${formatNumber(binned.edges[i + 1])}${i === binned.counts.length - 1 ? "]" : ")"}`;
  return categories ? categories[i] : "";
}

export class BarTooltip {
  readonly el: HTMLDivElement;

  constructor() {
    this.el = h("div", { class: "nbd-hist-tooltip", "data-testid": "hist-tooltip", role: "tooltip", hidden: true });
  }

  /** Show bar `i` of `nBars` (`count` rows, `selected` of them selected). */
  show(i: number, nBars: number, title: string, count: number, selected: number, layout: Layout, plotW: number): void {
    const tip = this.el;
    tip.replaceChildren(
      h("div", { class: "nbd-hist-tt-title" }, title),
      h("div", {}, `${formatNumber(count)} rows`),
      ...(selected > 0 ? [h("div", { class: "nbd-hist-tt-sel" }, `${formatNumber(selected)} selected`)] : []),
    );
    tip.hidden = false;
    const barW = plotW / nBars;
    let left = layout.left + (i + 1) * barW + 6;
    const tw = tip.offsetWidth;
    if (tw > 0 && left + tw > layout.width) left = Math.max(0, layout.left + i * barW - tw - 6);
    tip.style.left = `${Math.round(left)}px`;
    tip.style.top = `${layout.top}px`;
  }

  hide(): void {
    this.el.hidden = true;
  }
}
