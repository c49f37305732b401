/**
 * The grid's detail view: one image at up to ~1024 px (fetched through the RPC channel), every
 * box with its label, and the row's columns. Opens over the grid (double-click or the
 * magnifier); Escape closes, arrow keys step through the grid's order.
 */

import { h, svgEl } from "../shared/dom";
import { countBoxes, maskedBoxes, outlinedBoxes, shownBoxes, type Box, type BoxFilter } from "./boxes";
import { drawBoxes } from "./draw";
import { fitContain } from "./layout";
import type { Caption } from "./loader";
import { drawMasks, maskAt, type MaskGeom, type MaskHits } from "./masks";
import type { ColorBy } from "./palette";

export interface DetailData extends Caption {
  row: number;
  id: string;
  url: string | null;
  sw: number;
  sh: number;
  boxes: Box[];
  /** Where the boxes' masks sit (null: no masks). */
  masks?: MaskGeom | null;
  /** The row's columns as [name, text]. */
  info: [string, string][];
  error?: string;
  detail?: string;
}

export type FetchDetail = (row: number, signal: AbortSignal) => Promise<DetailData>;

export interface DetailOptions {
  fetch: FetchDetail;
  onNavigate?: (delta: number) => void;
  onClose?: () => void;
  /** A click inside the mask of the object shown as grid row `row` (object-level grids). */
  onPick?: (row: number, mods: { shift: boolean; toggle: boolean }) => void;
  createUrl?: (blob: Blob) => string;
  revokeUrl?: (url: string) => void;
}

interface DrawSettings {
  filter: BoxFilter;
  classNames: string[];
  colorBy: ColorBy;
  maskOpacity?: number;
}

export class DetailView {
  readonly el: HTMLDivElement;
  /** Display position of the open item (-1 when closed). */
  position = -1;
  private row = -1;
  private data: DetailData | null = null;
  private ctrl: AbortController | null = null;
  private settings: DrawSettings = {
    filter: { threshold: 0, showGt: true, showPred: true, hidden: new Set() },
    classNames: [],
    colorBy: "class",
  };
  private readonly opts: DetailOptions;
  private readonly titleEl: HTMLSpanElement;
  private readonly captionEl: HTMLSpanElement;
  private readonly counter: HTMLSpanElement;
  private readonly prev: HTMLButtonElement;
  private readonly next: HTMLButtonElement;
  private readonly stage: HTMLDivElement;
  private readonly img: HTMLImageElement;
  private readonly svg: SVGSVGElement;
  private readonly canvas: HTMLCanvasElement;
  private hits: MaskHits | null = null;
  private readonly statusEl: HTMLDivElement;
  private readonly info: HTMLTableElement;

  constructor(root: HTMLElement, opts: DetailOptions) {
    this.opts = opts;
    this.titleEl = h("span", { class: "nbd-grid-detail-title", "data-testid": "grid-detail-title" });
    this.captionEl = h("span", { class: "nbd-grid-detail-caption", "data-testid": "grid-detail-caption" });
    this.counter = h("span", { class: "nbd-grid-hint", "data-testid": "grid-detail-counter" });
    this.prev = h("button", { type: "button", class: "nbd-grid-btn", "data-testid": "grid-detail-prev", title: "Previous (←)" }, "‹");
    this.next = h("button", { type: "button", class: "nbd-grid-btn", "data-testid": "grid-detail-next", title: "Next (→)" }, "›");
    const close = h("button", { type: "button", class: "nbd-grid-btn", "data-testid": "grid-detail-close", title: "Close (Esc)" }, "✕");
    this.prev.addEventListener("click", () => opts.onNavigate?.(-1));
    this.next.addEventListener("click", () => opts.onNavigate?.(1));
    close.addEventListener("click", () => this.close());
    this.img = h("img", { class: "nbd-grid-detail-img", "data-testid": "grid-detail-img", alt: "", draggable: "false" });
    this.img.hidden = true;
    this.svg = svgEl("svg", { class: "nbd-grid-detail-svg", "data-testid": "grid-detail-boxes" });
    this.canvas = h("canvas", { class: "nbd-grid-detail-masks", "data-testid": "grid-detail-masks" });
    this.canvas.hidden = true;
    this.statusEl = h("div", { class: "nbd-grid-detail-status", "data-testid": "grid-detail-status" });
    this.stage = h("div", { class: "nbd-grid-detail-stage", "data-testid": "grid-detail-stage" }, this.img, this.canvas, this.svg, this.statusEl);
    this.stage.addEventListener("click", (ev) => {
      const r = this.stage.getBoundingClientRect();
      const box = maskAt(this.hits, ev.clientX - r.left, ev.clientY - r.top);
      if (box !== null && box.objRow >= 0) opts.onPick?.(box.objRow, { shift: ev.shiftKey, toggle: ev.ctrlKey || ev.metaKey });
    });
    this.info = h("table", { class: "nbd-grid-detail-info", "data-testid": "grid-detail-info" });
    this.el = h(
      "div",
      { class: "nbd-grid-detail", "data-testid": "grid-detail", role: "dialog", "aria-modal": "true", tabindex: -1, hidden: true },
      h("div", { class: "nbd-grid-detail-head" }, this.titleEl, this.captionEl, h("span", { class: "nbd-grid-detail-nav" }, this.counter, this.prev, this.next, close)),
      h("div", { class: "nbd-grid-detail-body" }, this.stage, h("div", { class: "nbd-grid-detail-side" }, this.info)),
    );
    this.el.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") {
        ev.preventDefault();
        ev.stopPropagation();
        this.close();
      } else if (ev.key === "ArrowLeft") {
        ev.preventDefault();
        opts.onNavigate?.(-1);
      } else if (ev.key === "ArrowRight") {
        ev.preventDefault();
        opts.onNavigate?.(1);
      }
    });
    root.append(this.el);
  }

  get isOpen(): boolean {
    return !this.el.hidden;
  }

  /** Open (or move to) `row`, shown at display position `pos` of `total`. */
  open(row: number, pos: number, total: number): void {
    this.position = pos;
    this.el.hidden = false;
    this.prev.disabled = pos <= 0;
    this.next.disabled = pos >= total - 1;
    this.counter.textContent = total > 0 ? `${pos + 1} / ${total}` : "";
    this.el.focus({ preventScroll: true });
    if (row === this.row && this.data !== null) return;
    this.row = row;
    this.load();
  }

  close(): void {
    if (this.el.hidden) return;
    this.el.hidden = true;
    this.ctrl?.abort();
    this.ctrl = null;
    this.drop();
    this.row = -1;
    this.position = -1;
    this.opts.onClose?.();
  }

  /** The kernel's data changed: reload the open item. */
  reload(): void {
    if (!this.isOpen) return;
    this.drop();
    this.load();
  }

  setSettings(s: DrawSettings): void {
    this.settings = s;
    this.draw();
  }

  relayout(): void {
    if (this.isOpen) this.draw();
  }

  destroy(): void {
    this.ctrl?.abort();
    this.drop();
    this.el.remove();
  }

  private drop(): void {
    if (this.data?.url) (this.opts.revokeUrl ?? ((u: string) => URL.revokeObjectURL(u)))(this.data.url);
    this.data = null;
  }

  private load(): void {
    this.ctrl?.abort();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    const row = this.row;
    this.drop();
    this.el.dataset.state = "loading";
    this.img.hidden = true;
    this.svg.replaceChildren();
    this.canvas.hidden = true;
    this.hits = null;
    this.statusEl.hidden = false;
    this.statusEl.className = "nbd-grid-detail-status is-loading";
    this.statusEl.textContent = "loading…";
    this.titleEl.textContent = "";
    this.captionEl.textContent = "";
    this.info.replaceChildren();
    this.opts.fetch(row, ctrl.signal).then(
      (data) => {
        if (ctrl.signal.aborted || row !== this.row) {
          if (data.url) (this.opts.revokeUrl ?? ((u: string) => URL.revokeObjectURL(u)))(data.url);
          return;
        }
        this.data = data;
        this.show();
      },
      (err: unknown) => {
        if (ctrl.signal.aborted || row !== this.row) return;
        this.el.dataset.state = "failed";
        this.statusEl.className = "nbd-grid-detail-status is-error";
        this.statusEl.textContent = `Could not load the image: ${err instanceof Error ? err.message : String(err)}`;
      },
    );
  }

  private show(): void {
    const d = this.data;
    if (!d) return;
    this.titleEl.textContent = d.id;
    const cap: string[] = [];
    if (d.label) cap.push(`label ${d.label}`);
    if (d.pred) cap.push(`predicted ${d.pred}${d.score !== null ? ` (${d.score.toFixed(3)})` : ""}`);
    if (d.status) cap.push(d.status.toUpperCase());
    this.captionEl.textContent = cap.join(" · ");
    this.info.replaceChildren(...d.info.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", { title: v }, v))));
    if (d.error || !d.url) {
      this.el.dataset.state = "error";
      this.img.hidden = true;
      this.statusEl.hidden = false;
      this.statusEl.className = "nbd-grid-detail-status is-error";
      this.statusEl.textContent = `⚠ ${d.error ?? "no image"}${d.detail ? `: ${d.detail}` : ""}`;
      return;
    }
    this.statusEl.hidden = true;
    // small images (digits, icons) stay crisp when enlarged; photos are smoothed as usual
    this.img.style.imageRendering = Math.max(d.sw, d.sh) < 256 ? "pixelated" : "";
    this.img.src = d.url;
    this.img.hidden = false;
    this.el.dataset.state = "ready";
    this.draw();
  }

  private draw(): void {
    const d = this.data;
    if (!d || !d.url || !this.isOpen) return;
    const W = this.stage.clientWidth || 640;
    const H = this.stage.clientHeight || 480;
    const fit = fitContain(d.sw, d.sh, W, H);
    this.img.style.left = `${fit.dx}px`;
    this.img.style.top = `${fit.dy}px`;
    this.img.style.width = `${fit.width}px`;
    this.img.style.height = `${fit.height}px`;
    const shown = shownBoxes(d.boxes, this.settings.filter);
    const f = this.settings.filter;
    this.hits = drawMasks(this.canvas, maskedBoxes(shown, f), d.masks ?? null, fit, W, H, { colorBy: this.settings.colorBy, opacity: this.settings.maskOpacity ?? 0.45 });
    this.el.dataset.masks = String(this.hits.layers.length);
    const outlined = outlinedBoxes(shown, f);
    drawBoxes(this.svg, outlined, fit, W, H, {
      classNames: this.settings.classNames,
      colorBy: this.settings.colorBy,
      labels: "all",
      fontSize: 12,
      stroke: 2,
    });
    const c = countBoxes(d.boxes, this.settings.filter.threshold, this.settings.filter.hidden);
    this.el.dataset.boxes = String(outlined.length);
    this.el.dataset.counts = JSON.stringify(c);
  }
}
