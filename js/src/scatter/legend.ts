/**
 * The scatter's legend: for category colouring, one button per category with its swatch and
 * point count (a click selects the category's points, shift adds), then the missing points; for
 * value colouring, the ramp with round ticks. Hidden when nothing colours the points.
 */

import { h, isAdditive } from "../shared/dom";
import { formatNumber, niceTicks } from "../shared/format";
import { MISSING_COLOR, rampGradient } from "./colors";
import type { ScatterData } from "./data";

/** Categories listed at most (the rest are counted as "+N more"). */
const LEGEND_MAX = 40;

/**
 * Fill `legend` for the first `n` points of `d` (null: empty and hidden). `onCategory` gets the
 * code of a clicked category and whether the click adds to the selection.
 */
export function renderLegend(legend: HTMLElement, d: ScatterData | null, n: number, onCategory: (code: number, additive: boolean) => void): void {
  legend.replaceChildren();
  legend.hidden = true;
  if (!d) return;
  const title = d.colorLabel ? h("div", { class: "nbd-sc-legend-title" }, d.colorLabel) : null;
  if (d.color.kind === "category") {
    const colors = d.color.colors;
    const counts = new Uint32Array(d.categories.length + 1);
    const codes = d.color.codes;
    for (let i = 0; i < n; i++) {
      const c = codes[i];
      counts[c < d.categories.length ? c : d.categories.length]++;
    }
    const entries: HTMLElement[] = [];
    const shown = Math.min(d.categories.length, LEGEND_MAX);
    for (let c = 0; c < shown; c++) {
      const item = h(
        "button",
        { type: "button", class: "nbd-sc-legend-item", "data-testid": `sc-legend-${c}`, "data-code": c, title: `Select every "${d.categories[c]}" point (shift adds)` },
        h("span", { class: "nbd-sc-swatch", style: `background:${colors[c] ?? MISSING_COLOR}` }),
        h("span", { class: "nbd-sc-legend-name" }, d.categories[c]),
        h("span", { class: "nbd-sc-legend-count" }, formatNumber(counts[c])),
      );
      item.addEventListener("click", (ev) => onCategory(c, isAdditive(ev)));
      entries.push(item);
    }
    if (d.categories.length > shown) entries.push(h("div", { class: "nbd-sc-legend-more" }, `+${d.categories.length - shown} more`));
    if (counts[d.categories.length] > 0) {
      entries.push(
        h("div", { class: "nbd-sc-legend-item is-static" }, h("span", { class: "nbd-sc-swatch", style: `background:${d.color.missing}` }), h("span", { class: "nbd-sc-legend-name" }, "missing"), h("span", { class: "nbd-sc-legend-count" }, formatNumber(counts[d.categories.length]))),
      );
    }
    legend.append(...(title ? [title] : []), ...entries);
    legend.hidden = false;
  } else if (d.color.kind === "value") {
    const [lo, hi] = d.color.range;
    const ticks = niceTicks(lo, hi, 4).filter((v) => v >= lo && v <= hi);
    const bar = h("div", { class: "nbd-sc-ramp", style: `background:${rampGradient()}` });
    const scale = h("div", { class: "nbd-sc-ramp-ticks" });
    for (const v of ticks) {
      const pos = hi > lo ? ((v - lo) / (hi - lo)) * 100 : 50;
      scale.append(h("span", { style: `left:${pos.toFixed(2)}%` }, formatNumber(v)));
    }
    legend.append(...(title ? [title] : []), bar, scale);
    legend.hidden = false;
  }
}
