/**
 * The scatter's hover tooltip. It shows at once what the browser knows about the hovered point
 * (its row and colour value); the kernel's answer (the row's id, key columns and thumbnail)
 * replaces that when it comes. Answers are fetched after a short pause, so sweeping across points
 * does not flood the kernel, and cached.
 */

import { h } from "../shared/dom";
import { formatNumber } from "../shared/format";
import type { PointDetails, ScatterData } from "./data";

const TOOLTIP_DELAY_MS = 60;
/** Answers kept (oldest dropped first). */
const CACHE_MAX = 256;
/** Thumbnail object URLs kept alive (oldest revoked first). */
const IMAGE_URLS_MAX = 64;

export interface PointTooltipOptions {
  /** Fetch a point's details (key columns, thumbnail); none: the local part only. */
  fetchPoint?: (row: number, signal: AbortSignal) => Promise<PointDetails>;
  /** Whether point `i` is still the hovered one (an answer for another point is not shown). */
  isHovered: (i: number) => boolean;
  /** The plot's size in CSS pixels: the tooltip stays inside it. */
  bounds: () => { width: number; height: number };
}

export class PointTooltip {
  /** `[data-testid=sc-tooltip]`, with `data-row` and `data-loaded`. */
  readonly el: HTMLDivElement;
  private readonly opts: PointTooltipOptions;
  private abort: AbortController | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly cache = new Map<number, PointDetails>();
  private imageUrls: string[] = [];

  constructor(opts: PointTooltipOptions) {
    this.opts = opts;
    this.el = h("div", { class: "nbd-sc-tooltip", "data-testid": "sc-tooltip", role: "tooltip", hidden: true });
  }

  /** Show point `i` of `d` next to canvas pixel (x, y). */
  show(i: number, x: number, y: number, d: ScatterData): void {
    this.abort?.abort();
    this.abort = null;
    if (this.timer !== null) clearTimeout(this.timer);
    const rows: HTMLElement[] = [];
    const line = (k: string, v: string): HTMLElement => h("div", { class: "nbd-sc-tt-row" }, h("span", { class: "nbd-sc-tt-key" }, k), h("span", { class: "nbd-sc-tt-val" }, v));
    const cached = this.cache.get(i);
    const img = h("div", { class: "nbd-sc-tt-img", "data-testid": "sc-tooltip-image" });
    const head = h("div", { class: "nbd-sc-tt-id", "data-testid": "sc-tooltip-id" }, cached ? cached.id : `row ${i}`);
    rows.push(head);
    // what the browser knows at once (the colour value); the kernel's key columns replace it
    const details = h("div", { class: "nbd-sc-tt-details" });
    if (d.color.kind === "category") {
      const code = d.color.codes[i];
      details.append(line(d.colorLabel || "colour", d.categories[code] ?? "missing"));
    } else if (d.color.kind === "value") {
      details.append(line(d.colorLabel || "value", formatNumber(d.color.values[i])));
    }
    rows.push(details);
    this.el.replaceChildren(img, h("div", { class: "nbd-sc-tt-text" }, ...rows));
    this.el.dataset.row = String(i);
    this.el.hidden = false;
    this.place(x, y);
    const fill = (p: PointDetails): void => {
      if (!this.opts.isHovered(i)) return;
      head.textContent = p.id;
      details.replaceChildren(...p.values.map(([k, v]) => line(k, v)));
      if (p.image) {
        const url = URL.createObjectURL(p.image);
        this.imageUrls.push(url);
        if (this.imageUrls.length > IMAGE_URLS_MAX) URL.revokeObjectURL(this.imageUrls.shift()!);
        img.replaceChildren(h("img", { src: url, alt: p.id }));
        img.classList.add("has-image");
      }
      this.el.dataset.loaded = "1";
      this.place(x, y);
    };
    this.el.dataset.loaded = "0";
    if (cached) {
      fill(cached);
      return;
    }
    const fetchPoint = this.opts.fetchPoint;
    if (!fetchPoint) return;
    // fetch after a short pause, so sweeping across points does not flood the kernel
    this.timer = setTimeout(() => {
      this.timer = null;
      const ctrl = new AbortController();
      this.abort = ctrl;
      fetchPoint(i, ctrl.signal).then(
        (p) => {
          this.cache.set(i, p);
          if (this.cache.size > CACHE_MAX) this.cache.delete(this.cache.keys().next().value as number);
          if (!ctrl.signal.aborted) fill(p);
        },
        () => {
          // cancelled or failed: the local part of the tooltip stays
        },
      );
    }, TOOLTIP_DELAY_MS);
  }

  /** Move the tooltip next to canvas pixel (x, y), flipping to stay inside the plot. */
  place(x: number, y: number): void {
    const tip = this.el;
    const w = tip.offsetWidth;
    const hgt = tip.offsetHeight;
    const { width: sw, height: sh } = this.opts.bounds();
    let left = x + 14;
    let top = y + 14;
    if (w > 0 && left + w > sw) left = Math.max(0, x - w - 14);
    if (hgt > 0 && top + hgt > sh) top = Math.max(0, sh - hgt);
    tip.style.left = `${Math.round(left)}px`;
    tip.style.top = `${Math.round(top)}px`;
  }

  /** Hide it and drop a pending or running fetch. */
  hide(): void {
    this.abort?.abort();
    this.abort = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.el.hidden = true;
  }

  /** Forget the cached answers (the points changed). */
  clearCache(): void {
    this.cache.clear();
  }

  destroy(): void {
    this.hide();
    for (const url of this.imageUrls) URL.revokeObjectURL(url);
  }
}
