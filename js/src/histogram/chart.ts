/**
 * The histogram's SVG: a y grid with round count ticks, one bar per bin or category
 * (`hist-bar-{i}`) with the selected rows overlaid (`hist-sel-{i}`), the x axis (round value
 * ticks, or the category names slanted), the brush (`hist-brush`) and a transparent hit area over
 * the whole plot, so brushing starts anywhere.
 */

import { svgEl } from "../shared/dom";
import { formatNumber, niceTicks } from "../shared/format";
import type { Binned } from "./bins";

/** The SVG's size and the plot's margins inside it (px). */
export interface Layout {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const MARGIN = { left: 44, right: 12, top: 8, bottom: 30 };

export function plotWidth(l: Layout): number {
  return Math.max(1, l.width - l.left - l.right);
}

export function plotHeight(l: Layout): number {
  return Math.max(1, l.height - l.top - l.bottom);
}

/** Bottom margin for slanted category names (the longest name, up to 12 characters, counts). */
export function categoryLabelSpace(categories: readonly string[]): number {
  const longest = categories.reduce((m, c) => Math.max(m, c.length), 0);
  return Math.min(70, 16 + Math.min(longest, 12) * 4);
}

export interface Chart {
  svg: SVGSVGElement;
  bars: SVGRectElement[];
  overlays: SVGRectElement[];
  brush: SVGRectElement;
}

/**
 * Draw `counts` (one bar each): numeric bins when `binned` is given (bars carry `data-lo` /
 * `data-hi`), else the `categories` (bars carry `data-category`).
 */
export function drawChart(layout: Layout, counts: Uint32Array, binned: Binned | null, categories: readonly string[] | null): Chart {
  const { width, height, left, top } = layout;
  const plot = svgEl("svg", { class: "nbd-hist-svg", width, height, viewBox: `0 0 ${width} ${height}` });
  const g = svgEl("g", { transform: `translate(${left},${top})` });
  const k = counts.length;
  const pw = plotWidth(layout);
  const ph = plotHeight(layout);
  let max = 0;
  for (let i = 0; i < k; i++) max = Math.max(max, counts[i]);
  const yTicks = niceTicks(0, Math.max(1, max), 3).filter((v) => v <= Math.max(1, max));
  const yScale = (v: number): number => ph - (max > 0 ? (v / max) * ph : 0);
  const grid = svgEl("g", { class: "nbd-hist-grid" });
  for (const v of yTicks) {
    const y = yScale(v);
    grid.append(svgEl("line", { x1: 0, x2: pw, y1: y, y2: y }));
    const t = svgEl("text", { x: -6, y: y + 3, "text-anchor": "end", class: "nbd-hist-tick" });
    t.textContent = formatNumber(v);
    grid.append(t);
  }
  g.append(grid);
  const barW = pw / Math.max(1, k);
  const gap = k > 60 ? 0 : Math.min(2, barW * 0.1);
  const bars: SVGRectElement[] = [];
  const overlays: SVGRectElement[] = [];
  const barsG = svgEl("g", { class: "nbd-hist-bars" });
  for (let i = 0; i < k; i++) {
    const c = counts[i];
    const y = yScale(c);
    const attrs: Record<string, string | number> = {
      x: i * barW + gap / 2,
      y,
      width: Math.max(0.5, barW - gap),
      height: Math.max(0, ph - y),
      class: "nbd-hist-bar",
      "data-testid": `hist-bar-${i}`,
      "data-index": i,
      "data-count": c,
    };
    if (binned) {
      attrs["data-lo"] = binned.edges[i];
      attrs["data-hi"] = binned.edges[i + 1];
    } else if (categories) {
      attrs["data-category"] = categories[i];
    }
    const bar = svgEl("rect", attrs);
    const over = svgEl("rect", { x: i * barW + gap / 2, y: ph, width: Math.max(0.5, barW - gap), height: 0, class: "nbd-hist-sel", "data-testid": `hist-sel-${i}` });
    bars.push(bar);
    overlays.push(over);
    barsG.append(bar, over);
  }
  g.append(barsG);
  // x axis
  const axis = svgEl("g", { class: "nbd-hist-axis", transform: `translate(0,${ph})` });
  axis.append(svgEl("line", { x1: 0, x2: pw, y1: 0, y2: 0 }));
  if (binned) {
    const { lo, hi } = binned;
    for (const v of niceTicks(lo, hi, Math.max(2, Math.floor(pw / 70)))) {
      if (v < lo || v > hi) continue;
      const x = ((v - lo) / (hi - lo)) * pw;
      axis.append(svgEl("line", { x1: x, x2: x, y1: 0, y2: 4 }));
      const t = svgEl("text", { x, y: 15, "text-anchor": "middle", class: "nbd-hist-tick" });
      t.textContent = formatNumber(v);
      axis.append(t);
    }
  } else if (categories) {
    const every = Math.max(1, Math.ceil(12 / Math.max(1, barW)));
    for (let i = 0; i < k; i += every) {
      const x = i * barW + barW / 2;
      const t = svgEl("text", { x, y: 10, "text-anchor": "end", class: "nbd-hist-tick", transform: `rotate(-40 ${x} 10)` });
      const name = categories[i];
      t.textContent = name.length > 14 ? name.slice(0, 13) + "…" : name;
      axis.append(t);
    }
  }
  g.append(axis);
  const brush = svgEl("rect", { class: "nbd-hist-brush", "data-testid": "hist-brush", x: 0, y: 0, width: 0, height: ph, visibility: "hidden" });
  g.append(brush);
  // the hit area covers the whole plot: brushing starts anywhere
  g.append(svgEl("rect", { class: "nbd-hist-hit", x: 0, y: 0, width: pw, height: ph, fill: "transparent" }));
  plot.append(g);
  return { svg: plot, bars, overlays, brush };
}

/**
 * Overlay the selected rows on the bars (`selected[i]` of `counts[i]`): each bar gets
 * `data-selected` ("full" / "partial") and `data-selected-count`.
 */
export function paintSelection(bars: readonly SVGRectElement[], overlays: readonly SVGRectElement[], counts: Uint32Array, selected: Uint32Array, plotH: number): void {
  const k = counts.length;
  let max = 0;
  for (let i = 0; i < k; i++) max = Math.max(max, counts[i]);
  for (let i = 0; i < k && i < overlays.length; i++) {
    const s = selected[i];
    const hgt = max > 0 ? (s / max) * plotH : 0;
    const over = overlays[i];
    over.setAttribute("y", String(plotH - hgt));
    over.setAttribute("height", String(hgt));
    const bar = bars[i];
    const state = s === 0 ? "" : s === counts[i] ? "full" : "partial";
    if (state) bar.setAttribute("data-selected", state);
    else bar.removeAttribute("data-selected");
    bar.setAttribute("data-selected-count", String(s));
  }
}

/** Show the brush over bins [b[0], b[1]] (either order) of `binned`; hide it for null. */
export function placeBrush(el: SVGRectElement, b: readonly [number, number] | null, binned: Binned | null, plotW: number): void {
  if (!b || !binned) {
    el.setAttribute("visibility", "hidden");
    for (const a of ["data-b0", "data-b1", "data-lo", "data-hi"]) el.removeAttribute(a);
    return;
  }
  const [b0, b1] = [Math.min(b[0], b[1]), Math.max(b[0], b[1])];
  const barW = plotW / binned.counts.length;
  el.setAttribute("x", String(b0 * barW));
  el.setAttribute("width", String((b1 - b0 + 1) * barW));
  el.setAttribute("visibility", "visible");
  el.setAttribute("data-b0", String(b0));
  el.setAttribute("data-b1", String(b1));
  el.setAttribute("data-lo", String(binned.edges[b0]));
  el.setAttribute("data-hi", String(binned.edges[b1 + 1]));
}
