/**
 * The histogram's DOM: an SVG of bars (every row in grey, the selected rows overlaid in the
 * accent colour), an x axis with round ticks and a brush (`chart.ts`), a tooltip (`tooltip.ts`)
 * and a status line. This class holds the state and turns pointer gestures into selections.
 * Numeric columns are binned ({@link binValues}); a drag brushes a range of whole bins (linked
 * views follow while dragging; the kernel gets it on release); a click selects one bin (shift
 * adds). Categorical columns are bar charts; a click selects a category (shift adds).
 *
 * DOM hooks (docs/dev/widget-protocol.md, "Histogram"): root `[data-testid=nbdiag-histogram]`
 * with `data-ready`, `data-kind` ("numeric" | "categorical"), `data-selected-count`; bars
 * `[data-testid=hist-bar-{i}]` with `data-count`, `data-selected`, `data-lo` / `data-hi` (numeric)
 * or `data-category`; the plot area `[data-testid=hist-plot]`; the brush `[data-testid=hist-brush]`
 * with `data-b0` / `data-b1` / `data-lo` / `data-hi`; status `[data-testid=hist-status]`.
 */

import { h, isAdditive, svgEl } from "../shared/dom";
import { formatNumber } from "../shared/format";
import { Bitmask, clickSelection } from "../shared/selection";
import {
  binRangeMask,
  binValues,
  categoryCounts,
  categoryMask,
  categorySelectedCounts,
  pixelToBin,
  rangeToBins,
  selectedCounts,
  type Binned,
} from "./bins";
import { categoryLabelSpace, drawChart, MARGIN, paintSelection, placeBrush, plotHeight, plotWidth, type Layout } from "./chart";
import { BarTooltip, barTitle } from "./tooltip";

export type HistogramData =
  | { kind: "numeric"; values: Float32Array; bins: number; range: [number, number] | null; column: string }
  | { kind: "categorical"; codes: Uint8Array | Uint16Array; categories: readonly string[]; column: string };

export interface HistogramViewOptions {
  /** A gesture changed the selection (`live`: a brush still moving). */
  onSelect?: (rows: Bitmask, source: string, region: Record<string, unknown>, live: boolean) => void;
  height?: number;
}

export class HistogramView {
  readonly root: HTMLDivElement;
  private readonly opts: HistogramViewOptions;
  private readonly titleEl: HTMLDivElement;
  private readonly plotHost: HTMLDivElement;
  private readonly statusEl: HTMLDivElement;
  private readonly tooltip: BarTooltip;
  private plot: SVGSVGElement;
  private bars: SVGRectElement[] = [];
  private overlays: SVGRectElement[] = [];
  private brushEl: SVGRectElement | null = null;

  private data: HistogramData | null = null;
  private binned: Binned | null = null;
  private counts: Uint32Array = new Uint32Array(0);
  private missing = 0;
  private selCounts: Uint32Array = new Uint32Array(0);
  private n = 0;
  private sel: Bitmask = Bitmask.empty(0);
  /** Bins of this view's brush, when the selection is this view's range. */
  private brush: [number, number] | null = null;
  /** The exact range of a selection made by value (Python's `select_range`), for the status:
   *  the brush shows the bins it touches, the status what was asked. */
  private exactRange: { lo: number; hi: number } | null = null;
  private dragging: { b0: number; b1: number; id: number; moved: boolean; x0: number } | null = null;
  private heightPx: number;
  private layout: Layout = { width: 400, height: 160, ...MARGIN };
  private resizeObserver: ResizeObserver | null = null;
  private liveFrame = 0;

  constructor(host: HTMLElement, opts: HistogramViewOptions = {}) {
    this.opts = opts;
    this.heightPx = opts.height ?? 160;
    this.titleEl = h("div", { class: "nbd-title" });
    const clear = h("button", { type: "button", class: "nbd-btn", "data-testid": "hist-clear", title: "Clear the selection" }, "clear");
    clear.addEventListener("click", () => this.commit(Bitmask.empty(this.n), "clear", {}, null));
    const toolbar = h("div", { class: "nbd-toolbar" }, this.titleEl, h("div", { class: "nbd-tools" }, clear));
    this.plot = svgEl("svg", { class: "nbd-hist-svg" });
    this.plotHost = h("div", { class: "nbd-hist-plot", "data-testid": "hist-plot" });
    this.plotHost.append(this.plot);
    this.tooltip = new BarTooltip();
    this.plotHost.append(this.tooltip.el);
    this.statusEl = h("div", { class: "nbd-status", "data-testid": "hist-status", role: "status", "aria-live": "polite" });
    this.root = h("div", { class: "nbd-view nbd-hist", "data-testid": "nbdiag-histogram", "data-selected-count": "0" }, toolbar, this.plotHost, this.statusEl);
    host.append(this.root);
    this.plotHost.style.height = `${this.heightPx}px`;
    this.bindEvents();
  }

  // ------------------------------------------------------------------ public state

  get rowCount(): number {
    return this.n;
  }

  get selection(): Bitmask {
    return this.sel;
  }

  /** The numeric binning (null for categorical data). */
  get binning(): Binned | null {
    return this.binned;
  }

  setTitle(title: string): void {
    this.titleEl.textContent = title;
    this.titleEl.hidden = title === "";
  }

  setHeight(px: number): void {
    this.heightPx = Math.max(80, px);
    this.plotHost.style.height = `${this.heightPx}px`;
    this.rebuild();
  }

  setData(data: HistogramData): void {
    this.data = data;
    if (data.kind === "numeric") {
      this.binned = binValues(data.values, data.bins, data.range);
      this.counts = this.binned.counts;
      this.missing = this.binned.outside;
      this.n = data.values.length;
    } else {
      this.binned = null;
      const c = categoryCounts(data.codes, data.categories.length);
      this.counts = c.counts;
      this.missing = c.missing;
      this.n = data.codes.length;
    }
    if (this.sel.n !== this.n) this.sel = Bitmask.empty(this.n);
    this.brush = null;
    this.exactRange = null;
    this.root.dataset.kind = data.kind;
    this.root.removeAttribute("data-error");
    this.rebuild();
    this.root.dataset.ready = "1";
  }

  /** A selection made elsewhere, or this view's own (from Python / another render): `range` is
   *  the region when it is this view's brushed range. Never calls `onSelect`. */
  setSelection(mask: Bitmask, range: { lo: number; hi: number } | null = null): void {
    const next = mask.n === this.n ? mask : Bitmask.fromBytes(mask.bits, this.n);
    this.sel = next.clone();
    this.brush = range && this.binned ? rangeToBins(range.lo, range.hi, this.binned) : null;
    this.exactRange = range;
    if (next.isEmpty()) {
      this.brush = null;
      this.exactRange = null;
    }
    this.renderSelection();
  }

  showError(message: string): void {
    this.plotHost.replaceChildren(h("div", { class: "nbd-error", "data-testid": "hist-error", role: "alert" }, message));
    this.root.dataset.error = "1";
    this.root.dataset.ready = "1";
  }

  destroy(): void {
    this.resizeObserver?.disconnect();
    if (this.liveFrame) cancelAnimationFrame(this.liveFrame);
    this.root.remove();
  }

  // ------------------------------------------------------------------ layout and drawing

  private measure(): Layout {
    const r = this.plotHost.getBoundingClientRect();
    const width = Math.max(120, r.width || this.plotHost.clientWidth || 400);
    const height = this.heightPx;
    const bottom = this.data?.kind === "categorical" ? categoryLabelSpace(this.data.categories) : MARGIN.bottom;
    return { width, height, left: MARGIN.left, right: MARGIN.right, top: MARGIN.top, bottom };
  }

  private get plotW(): number {
    return plotWidth(this.layout);
  }

  private get plotH(): number {
    return plotHeight(this.layout);
  }

  private get nBars(): number {
    return this.counts.length;
  }

  /** Rebuild the SVG (new data or size). */
  private rebuild(): void {
    if (!this.data) return;
    this.layout = this.measure();
    const categories = this.data.kind === "categorical" ? this.data.categories : null;
    const chart = drawChart(this.layout, this.counts, this.binned, categories);
    this.bars = chart.bars;
    this.overlays = chart.overlays;
    this.brushEl = chart.brush;
    this.plot.replaceWith(chart.svg);
    this.plot = chart.svg;
    this.renderSelection();
  }

  private renderSelection(): void {
    if (!this.data) return;
    const k = this.nBars;
    this.selCounts =
      this.data.kind === "numeric" && this.binned
        ? selectedCounts(this.binned.rowBin, this.binned.bins, this.sel)
        : this.data.kind === "categorical"
          ? categorySelectedCounts(this.data.codes, this.data.categories.length, this.sel)
          : new Uint32Array(k);
    const any = !this.sel.isEmpty();
    this.root.classList.toggle("nbd-has-selection", any);
    paintSelection(this.bars, this.overlays, this.counts, this.selCounts, this.plotH);
    this.renderBrush();
    this.renderStatus();
  }

  private renderBrush(): void {
    const b: [number, number] | null = this.dragging ? [this.dragging.b0, this.dragging.b1] : this.brush;
    if (this.brushEl) placeBrush(this.brushEl, b, this.binned, this.plotW);
  }

  private renderStatus(): void {
    const count = this.sel.count();
    const parts: (string | Node)[] = [`${formatNumber(this.n)} rows`];
    if (count > 0) {
      parts.push(` · ${formatNumber(count)} selected`);
      const b = this.brush;
      const r = this.exactRange;
      if (r && b) parts.push(` · ${this.data?.column ?? ""} in [${formatNumber(r.lo)}, ${formatNumber(r.hi)}]`);
      else if (b && this.binned) parts.push(` · ${this.data?.column ?? ""} in [${formatNumber(this.binned.edges[b[0]])}, ${formatNumber(this.binned.edges[b[1] + 1])}]`);
    } else {
      parts.push(h("span", { class: "nbd-hint" }, this.data?.kind === "categorical" ? " · click a bar to select; shift adds" : " · drag to select a range; click a bar; shift adds"));
    }
    if (this.missing > 0) parts.push(h("span", { class: "nbd-hint" }, ` · ${formatNumber(this.missing)} ${this.data?.kind === "categorical" ? "missing" : "missing or out of range"}`));
    this.statusEl.replaceChildren(...parts);
    this.root.dataset.selectedCount = String(count);
  }

  // ------------------------------------------------------------------ gestures

  private bindEvents(): void {
    const host = this.plotHost;
    host.addEventListener("pointerdown", (ev) => this.onDown(ev));
    host.addEventListener("pointermove", (ev) => this.onMove(ev));
    host.addEventListener("pointerup", (ev) => this.onUp(ev));
    host.addEventListener("pointercancel", () => {
      // a brush the browser took away still ends as a committed range (linked views saw it)
      const d = this.dragging;
      this.dragging = null;
      if (d && d.moved && this.binned) {
        const [b0, b1] = [Math.min(d.b0, d.b1), Math.max(d.b0, d.b1)];
        this.commit(binRangeMask(this.binned.rowBin, b0, b1), "range", this.rangeRegion(b0, b1), [b0, b1]);
      } else this.renderBrush();
    });
    host.addEventListener("pointerleave", () => this.tooltip.hide());
    if (typeof ResizeObserver !== "undefined") {
      this.resizeObserver = new ResizeObserver(() => {
        const r = this.plotHost.getBoundingClientRect();
        if (Math.abs(Math.max(120, r.width) - this.layout.width) >= 1) this.rebuild();
      });
      this.resizeObserver.observe(this.plotHost);
    }
  }

  /** Plot-relative x and whether the pointer is over the plot area. */
  private plotX(ev: { clientX: number; clientY: number }): { x: number; y: number; inside: boolean } {
    const r = this.plotHost.getBoundingClientRect();
    const x = ev.clientX - r.left - this.layout.left;
    const y = ev.clientY - r.top - this.layout.top;
    return { x, y, inside: x >= 0 && x <= this.plotW && y >= 0 && y <= this.plotH + 4 };
  }

  private onDown(ev: PointerEvent): void {
    if (ev.button !== 0 || !this.data || this.nBars === 0) return;
    const p = this.plotX(ev);
    if (!p.inside) return;
    const b = pixelToBin(p.x, this.plotW, this.nBars);
    this.dragging = { b0: b, b1: b, id: ev.pointerId, moved: false, x0: p.x };
    try {
      this.plotHost.setPointerCapture(ev.pointerId);
    } catch {
      // synthetic events (tests)
    }
    this.tooltip.hide();
    ev.preventDefault();
  }

  private onMove(ev: PointerEvent): void {
    const p = this.plotX(ev);
    const d = this.dragging;
    if (!d) {
      this.hover(p);
      return;
    }
    if (this.data?.kind !== "numeric") return; // categories: click only
    if (!d.moved && Math.abs(p.x - d.x0) >= 3) d.moved = true;
    const b1 = pixelToBin(p.x, this.plotW, this.nBars);
    if (b1 === d.b1 && d.moved) return;
    d.b1 = b1;
    this.renderBrush();
    if (d.moved) this.scheduleLive();
  }

  /** Linked views follow the brush while it moves, once per animation frame. */
  private scheduleLive(): void {
    if (this.liveFrame) return;
    const run = (): void => {
      this.liveFrame = 0;
      const d = this.dragging;
      if (!d || !this.binned) return;
      const mask = binRangeMask(this.binned.rowBin, d.b0, d.b1);
      this.sel = mask;
      this.renderSelection();
      this.opts.onSelect?.(mask, "range", this.rangeRegion(d.b0, d.b1), true);
    };
    this.liveFrame = typeof requestAnimationFrame === "function" ? requestAnimationFrame(run) : (setTimeout(run, 16) as unknown as number);
  }

  private onUp(ev: PointerEvent): void {
    const d = this.dragging;
    if (!d) return;
    this.dragging = null;
    if (this.liveFrame) {
      cancelAnimationFrame(this.liveFrame);
      this.liveFrame = 0;
    }
    try {
      this.plotHost.releasePointerCapture(d.id);
    } catch {
      // see onDown
    }
    const additive = isAdditive(ev);
    const data = this.data;
    if (!data) return;
    if (data.kind === "categorical") {
      const target = categoryMask(data.codes, d.b0);
      const next = clickSelection(this.sel, target, additive);
      this.commit(next, `category:${data.categories[d.b0]}`, { kind: "category", column: data.column, value: data.categories[d.b0] }, null);
      return;
    }
    if (!this.binned) return;
    const p = this.plotX(ev);
    if (d.moved) d.b1 = pixelToBin(p.x, this.plotW, this.nBars);
    const [b0, b1] = [Math.min(d.b0, d.b1), Math.max(d.b0, d.b1)];
    const target = binRangeMask(this.binned.rowBin, b0, b1);
    if (!d.moved) {
      // a click on a bar: that bin (clicking the only selected bin again clears)
      const next = clickSelection(this.sel, target, additive);
      const own = !additive && !next.isEmpty();
      this.commit(next, "range", own ? this.rangeRegion(b0, b1) : { kind: "bins" }, own ? [b0, b1] : null);
      return;
    }
    const next = additive ? this.sel.union(target) : target;
    this.commit(next, "range", additive ? { kind: "bins" } : this.rangeRegion(b0, b1), additive ? null : [b0, b1]);
  }

  private rangeRegion(b0: number, b1: number): Record<string, unknown> {
    const e = this.binned!.edges;
    const lo = Math.min(b0, b1);
    const hi = Math.max(b0, b1);
    return { kind: "range", column: this.data?.column ?? "", lo: e[lo], hi: e[hi + 1], bins: [lo, hi] };
  }

  private commit(next: Bitmask, source: string, region: Record<string, unknown>, brush: [number, number] | null): void {
    this.sel = next;
    this.brush = next.isEmpty() ? null : brush;
    this.exactRange = null;
    this.renderSelection();
    this.opts.onSelect?.(next, next.isEmpty() ? "clear" : source, next.isEmpty() ? {} : region, false);
  }

  private hover(p: { x: number; y: number; inside: boolean }): void {
    if (!p.inside || !this.data || this.nBars === 0) {
      this.tooltip.hide();
      return;
    }
    const i = pixelToBin(p.x, this.plotW, this.nBars);
    const title = barTitle(i, this.binned, this.data.kind === "categorical" ? this.data.categories : null);
    this.tooltip.show(i, this.nBars, title, this.counts[i], this.selCounts[i] ?? 0, this.layout, this.plotW);
  }
}
