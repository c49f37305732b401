/**
 * The scatter's DOM and gestures: toolbar (pan / lasso / box, reset, clear), the WebGL canvas
 * with an SVG overlay for the lasso or box being drawn, a legend, a hover tooltip (key columns and
 * the thumbnail, fetched on demand) and a status line. Knows nothing about the widget model: it
 * takes data and selections through setters and reports gestures through callbacks (see
 * `widgets/scatter.ts`).
 *
 * Gestures: wheel zooms at the pointer; drag pans (pan mode) or draws a lasso / box (lasso / box
 * mode; shift-drag in pan mode lassos too); shift / ctrl / cmd at the end of a lasso or box adds
 * to the selection; a click selects the point under the pointer (shift toggles it), a click on
 * empty space clears; double-click resets the view; Escape cancels a lasso in progress.
 *
 * DOM hooks (docs/dev/widget-protocol.md, "Scatter"): root `[data-testid=nbdiag-scatter]` with
 * `data-ready`, `data-points`, `data-selected-count`, `data-mode`, `data-performance`,
 * `data-frames` and `data-transform` (`[kx, ky, tx, ty]`: px = x * kx + tx from the canvas'
 * top-left, CSS pixels).
 */

import { h, isAdditive } from "../dom";
import { Bitmask, clickSelection } from "../selection";
import { categoryColors, formatNumber, MISSING_COLOR, niceTicks, rampGradient } from "./colors";
import { GridIndex } from "./grid_index";
import { boxSelect, decimate, extendPath, lassoSelect } from "./lasso";
import { DEFAULT_STYLE, PointRenderer, type ColorSpec, type PointStyle } from "./renderer";
import { dataBounds, ViewTransform, type Bounds } from "./transform";

export type Mode = "pan" | "lasso" | "box";
export const MODES: readonly Mode[] = ["pan", "lasso", "box"];

export interface ScatterData {
  x: Float32Array;
  y: Float32Array;
  color: ColorSpec;
  /** Legend title (the colour column's name), "" for none. */
  colorLabel: string;
  /** Category names (category colouring). */
  categories: readonly string[];
  size: Float32Array | null;
  xLabel: string;
  yLabel: string;
  /** Same scale on both axes. */
  equalAspect: boolean;
}

export interface PointDetails {
  /** The row's id. */
  id: string;
  /** Key columns, in order: [name, formatted value]. */
  values: [string, string][];
  /** The thumbnail, if the row has an image. */
  image: Blob | null;
}

/** What the view needs from a renderer (the WebGL one, or a stub in tests). */
export interface Renderer {
  readonly frames: number;
  setData(data: { x: Float32Array; y: Float32Array; color: ColorSpec; size: Float32Array | null }): void;
  setColor(color: ColorSpec): void;
  setSelection(bits: Uint8Array | null, any: boolean): void;
  setHover(i: number): void;
  setStyle(style: Partial<PointStyle>): void;
  resize(cssWidth: number, cssHeight: number, dpr: number): void;
  draw(t: ViewTransform): void;
  litPixels?(t: ViewTransform): number;
  destroy(): void;
}

export interface ScatterViewOptions {
  /** A gesture changed the selection: `source` is "lasso", "box", "click", "legend" or "clear". */
  onSelect?: (rows: Bitmask, source: string, region: Record<string, unknown>) => void;
  /** Fetch a point's tooltip details (key columns, thumbnail). */
  fetchPoint?: (row: number, signal: AbortSignal) => Promise<PointDetails>;
  /** Create the renderer (default: WebGL2). */
  createRenderer?: (canvas: HTMLCanvasElement) => Renderer;
  /** Height of the plot in CSS pixels. */
  height?: number;
}

const CLICK_SLOP = 4; // px a pointer may move and still click
const HOVER_RADIUS = 8; // px
const TOOLTIP_DELAY_MS = 60;
const LEGEND_MAX = 40;
const MODE_HELP: Record<Mode, string> = {
  pan: "Pan (drag) and zoom (wheel); shift-drag draws a lasso",
  lasso: "Lasso select: drag around points; shift adds",
  box: "Box select: drag a rectangle; shift adds",
};

/** Base point size (CSS px) for a number of points. */
export function autoPointSize(n: number, performance: boolean): number {
  if (performance) return 1;
  if (n <= 2_000) return 7;
  if (n <= 20_000) return 5;
  if (n <= 200_000) return 3;
  if (n <= 1_000_000) return 2;
  return 1.5;
}

export class ScatterView {
  readonly root: HTMLDivElement;
  private readonly opts: ScatterViewOptions;
  private readonly titleEl: HTMLDivElement;
  private readonly modeButtons: Record<Mode, HTMLButtonElement>;
  private readonly stage: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly overlay: SVGSVGElement;
  private readonly lassoPath: SVGPathElement;
  private readonly boxRect: SVGRectElement;
  private readonly legend: HTMLDivElement;
  private readonly tooltip: HTMLDivElement;
  private readonly statusEl: HTMLDivElement;
  private readonly xLabelEl: HTMLDivElement;
  private readonly yLabelEl: HTMLDivElement;
  private renderer: Renderer | null = null;

  private data: ScatterData | null = null;
  private n = 0;
  private bounds: Bounds = { xmin: -1, xmax: 1, ymin: -1, ymax: 1 };
  private readonly t: ViewTransform;
  private sel: Bitmask = Bitmask.empty(0);
  private mode: Mode = "pan";
  private performance = false;
  private pointSize = DEFAULT_STYLE.pointSize;
  private userPointSize: number | null = null;
  private index: GridIndex | null = null;
  private hovered = -1;
  private drawQueued = false;
  /** The user panned or zoomed since the last fit. */
  private userMoved = false;
  private resizeObserver: ResizeObserver | null = null;
  private drag: { kind: "pan" | "lasso" | "box"; x0: number; y0: number; x: number; y: number; path: number[]; id: number; moved: boolean } | null = null;
  private tooltipAbort: AbortController | null = null;
  private tooltipTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly cache = new Map<number, PointDetails>();
  private imageUrls: string[] = [];
  private destroyed = false;

  constructor(host: HTMLElement, opts: ScatterViewOptions = {}) {
    this.opts = opts;
    this.titleEl = h("div", { class: "nbd-title" });
    const group = h("div", { class: "nbd-seg", role: "group", "aria-label": "Pointer mode" });
    this.modeButtons = {} as Record<Mode, HTMLButtonElement>;
    for (const mode of MODES) {
      const b = h("button", { type: "button", class: "nbd-btn", "data-testid": `sc-mode-${mode}`, "data-mode": mode, title: MODE_HELP[mode], "aria-pressed": "false" }, mode);
      b.addEventListener("click", () => this.setMode(mode));
      this.modeButtons[mode] = b;
      group.append(b);
    }
    const reset = h("button", { type: "button", class: "nbd-btn", "data-testid": "sc-reset", title: "Show all points (double-click the plot)" }, "reset");
    reset.addEventListener("click", () => this.resetView());
    const clear = h("button", { type: "button", class: "nbd-btn", "data-testid": "sc-clear", title: "Clear the selection" }, "clear");
    clear.addEventListener("click", () => this.commit(Bitmask.empty(this.n), "clear", {}));
    const toolbar = h("div", { class: "nbd-toolbar" }, this.titleEl, h("div", { class: "nbd-tools" }, group, reset, clear));

    this.canvas = h("canvas", { class: "nbd-sc-canvas", "data-testid": "sc-canvas" });
    const svgNS = "http://www.w3.org/2000/svg";
    this.overlay = document.createElementNS(svgNS, "svg");
    this.overlay.setAttribute("class", "nbd-sc-overlay");
    this.lassoPath = document.createElementNS(svgNS, "path");
    this.lassoPath.setAttribute("class", "nbd-sc-lasso");
    this.lassoPath.setAttribute("data-testid", "sc-lasso");
    this.boxRect = document.createElementNS(svgNS, "rect");
    this.boxRect.setAttribute("class", "nbd-sc-box");
    this.overlay.append(this.lassoPath, this.boxRect);
    this.legend = h("div", { class: "nbd-sc-legend", "data-testid": "sc-legend" });
    this.tooltip = h("div", { class: "nbd-sc-tooltip", "data-testid": "sc-tooltip", role: "tooltip", hidden: true });
    this.xLabelEl = h("div", { class: "nbd-sc-xlabel" });
    this.yLabelEl = h("div", { class: "nbd-sc-ylabel" });
    this.stage = h("div", { class: "nbd-sc-stage", "data-testid": "sc-stage", tabindex: 0 }, this.canvas, this.overlay, this.xLabelEl, this.yLabelEl, this.legend, this.tooltip);
    this.stage.style.height = `${opts.height ?? 480}px`;
    this.statusEl = h("div", { class: "nbd-status", "data-testid": "sc-status", role: "status", "aria-live": "polite" });
    this.root = h("div", { class: "nbd-view nbd-sc", "data-testid": "nbdiag-scatter", "data-selected-count": "0" }, toolbar, this.stage, this.statusEl);
    host.append(this.root);

    const { width, height } = this.stageSize();
    this.t = new ViewTransform(width, height, true);
    try {
      this.renderer = opts.createRenderer ? opts.createRenderer(this.canvas) : new PointRenderer(this.canvas);
      this.renderer.resize(width, height, this.dpr());
    } catch (err) {
      this.showError(`nbdiag: cannot draw the scatter plot: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.bindEvents();
    this.setMode("pan");
    this.exposeTestHooks();
  }

  // ------------------------------------------------------------------ public state

  get rowCount(): number {
    return this.n;
  }

  get selection(): Bitmask {
    return this.sel;
  }

  get transform(): ViewTransform {
    return this.t;
  }

  setTitle(title: string): void {
    this.titleEl.textContent = title;
    this.titleEl.hidden = title === "";
  }

  setHeight(px: number): void {
    this.stage.style.height = `${Math.max(120, px)}px`;
    this.onResize();
  }

  /** Points above the threshold: smaller points, no hover / tooltip / click picking. */
  setPerformance(on: boolean): void {
    this.performance = on;
    this.root.dataset.performance = on ? "1" : "0";
    if (on) {
      this.index = null;
      this.hideTooltip();
    }
    this.applyPointSize();
  }

  /** Base point size in CSS px (null: automatic from the number of points). */
  setPointSize(px: number | null): void {
    this.userPointSize = px !== null && px > 0 ? px : null;
    this.applyPointSize();
  }

  private applyPointSize(): void {
    this.pointSize = this.userPointSize ?? autoPointSize(this.n, this.performance);
    this.renderer?.setStyle({ pointSize: this.pointSize, sizeRange: [Math.max(1, this.pointSize * 0.6), Math.max(4, this.pointSize * 4)] });
    this.requestDraw();
  }

  /** New points: fits the view, drops the hover; keeps the selection when the count is unchanged. */
  setData(data: ScatterData): void {
    const n = Math.min(data.x.length, data.y.length);
    this.data = data;
    this.n = n;
    this.bounds = dataBounds(data.x, data.y);
    this.index = null;
    this.hovered = -1;
    this.cache.clear();
    this.hideTooltip();
    this.t.equalAspect = data.equalAspect;
    this.userMoved = false;
    this.renderLegend();
    this.fitView();
    if (this.sel.n !== n) this.sel = Bitmask.empty(n);
    this.renderer?.setData({ x: data.x, y: data.y, color: data.color, size: data.size });
    this.applyPointSize();
    this.renderer?.setSelection(this.sel.bits, !this.sel.isEmpty());
    this.xLabelEl.textContent = data.xLabel;
    this.yLabelEl.textContent = data.yLabel;
    this.renderStatus();
    this.root.dataset.points = String(n);
    this.root.removeAttribute("data-error");
    this.requestDraw();
  }

  /** New colouring of the same points. */
  setColor(color: ColorSpec, label: string, categories: readonly string[]): void {
    if (!this.data) return;
    this.data = { ...this.data, color, colorLabel: label, categories };
    this.renderer?.setColor(color);
    this.renderLegend();
    if (!this.userMoved) this.fitView();
    this.requestDraw();
  }

  /** A selection made elsewhere (Python, a linked view). Never calls `onSelect`. */
  setSelection(mask: Bitmask): void {
    const next = mask.n === this.n ? mask : Bitmask.fromBytes(mask.bits, this.n);
    if (next.equals(this.sel)) return;
    this.sel = next.clone();
    this.renderer?.setSelection(this.sel.bits, !this.sel.isEmpty());
    this.renderStatus();
    this.requestDraw();
  }

  setMode(mode: Mode): void {
    this.mode = mode;
    for (const m of MODES) {
      const on = m === mode;
      this.modeButtons[m].setAttribute("aria-pressed", on ? "true" : "false");
      this.modeButtons[m].classList.toggle("is-active", on);
    }
    this.root.dataset.mode = mode;
    this.stage.classList.toggle("is-pan", mode === "pan");
  }

  /** Fit every point, keeping clear of the legend (on the right) and the axis labels. */
  private fitView(): void {
    const legend = this.legend.hidden ? 0 : this.legend.offsetWidth;
    const right = legend > 0 ? Math.min(legend + 12, this.t.width * 0.35) : 0;
    this.t.fit(this.bounds, 0.05, { right, bottom: 14, left: 14 });
  }

  resetView(): void {
    this.userMoved = false;
    this.fitView();
    this.requestDraw();
  }

  showError(message: string): void {
    this.renderer = null;
    this.stage.replaceChildren(h("div", { class: "nbd-error", "data-testid": "sc-error", role: "alert" }, message));
    this.root.dataset.error = "1";
    this.root.dataset.ready = "1";
  }

  destroy(): void {
    this.destroyed = true;
    this.resizeObserver?.disconnect();
    this.hideTooltip();
    for (const url of this.imageUrls) URL.revokeObjectURL(url);
    this.renderer?.destroy();
    this.root.remove();
  }

  // ------------------------------------------------------------------ drawing

  private dpr(): number {
    return Math.min(2, (typeof window !== "undefined" && window.devicePixelRatio) || 1);
  }

  private stageSize(): { width: number; height: number } {
    const r = this.stage.getBoundingClientRect();
    const width = r.width || this.stage.clientWidth || 600;
    const height = r.height || parseFloat(this.stage.style.height) || 480;
    return { width, height };
  }

  private onResize(): void {
    const { width, height } = this.stageSize();
    if (Math.abs(width - this.t.width) < 0.5 && Math.abs(height - this.t.height) < 0.5) return;
    this.t.resize(width, height);
    if (!this.userMoved) this.fitView(); // an untouched view keeps showing everything
    this.renderer?.resize(width, height, this.dpr());
    this.requestDraw();
  }

  requestDraw(): void {
    if (this.drawQueued || this.destroyed) return;
    this.drawQueued = true;
    const run = (): void => {
      this.drawQueued = false;
      this.drawNow();
    };
    if (typeof requestAnimationFrame === "function") requestAnimationFrame(run);
    else setTimeout(run, 0);
  }

  private drawNow(): void {
    if (this.destroyed || !this.renderer) return;
    this.renderer.draw(this.t);
    this.root.dataset.frames = String(this.renderer.frames);
    this.root.dataset.transform = JSON.stringify(this.t.toArray());
    if (this.data && this.root.dataset.ready !== "1") {
      this.root.dataset.ready = "1";
      this.root.dataset.firstFrameAt = String(Date.now());
    }
  }

  // ------------------------------------------------------------------ events

  private bindEvents(): void {
    const s = this.stage;
    s.addEventListener("pointerdown", (ev) => this.onDown(ev));
    s.addEventListener("pointermove", (ev) => this.onMove(ev));
    s.addEventListener("pointerup", (ev) => this.onUp(ev));
    s.addEventListener("pointercancel", () => this.cancelDrag());
    s.addEventListener("pointerleave", () => {
      if (!this.drag) this.setHovered(-1);
    });
    s.addEventListener("wheel", (ev) => this.onWheel(ev), { passive: false });
    s.addEventListener("dblclick", (ev) => {
      if ((ev.target as Element | null)?.closest?.(".nbd-sc-legend")) return;
      this.resetView();
    });
    s.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") this.cancelDrag();
    });
    if (typeof ResizeObserver !== "undefined") {
      this.resizeObserver = new ResizeObserver(() => this.onResize());
      this.resizeObserver.observe(this.stage);
    }
  }

  private local(ev: { clientX: number; clientY: number }): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  private onDown(ev: PointerEvent): void {
    if (ev.button !== 0 || !this.data) return;
    if ((ev.target as Element | null)?.closest?.(".nbd-sc-legend, .nbd-sc-tooltip")) return;
    const [x, y] = this.local(ev);
    const kind: "pan" | "lasso" | "box" = this.mode === "pan" ? (ev.shiftKey ? "lasso" : "pan") : this.mode;
    this.drag = { kind, x0: x, y0: y, x, y, path: [x, y], id: ev.pointerId, moved: false };
    try {
      this.stage.setPointerCapture(ev.pointerId);
    } catch {
      // synthetic events (tests) have no capturable pointer
    }
    this.setHovered(-1);
    ev.preventDefault();
  }

  private onMove(ev: PointerEvent): void {
    const [x, y] = this.local(ev);
    const d = this.drag;
    if (!d) {
      this.hoverAt(x, y);
      return;
    }
    if (!d.moved && Math.hypot(x - d.x0, y - d.y0) >= CLICK_SLOP) d.moved = true;
    if (d.kind === "pan") {
      this.userMoved = true;
      this.t.panBy(x - d.x, y - d.y);
      this.requestDraw();
    } else if (d.kind === "lasso") {
      if (extendPath(d.path, x, y)) this.lassoPath.setAttribute("d", pathD(d.path, false));
    } else {
      this.boxRect.setAttribute("x", String(Math.min(d.x0, x)));
      this.boxRect.setAttribute("y", String(Math.min(d.y0, y)));
      this.boxRect.setAttribute("width", String(Math.abs(x - d.x0)));
      this.boxRect.setAttribute("height", String(Math.abs(y - d.y0)));
    }
    d.x = x;
    d.y = y;
  }

  private onUp(ev: PointerEvent): void {
    const d = this.drag;
    if (!d) return;
    this.drag = null;
    try {
      this.stage.releasePointerCapture(d.id);
    } catch {
      // see onDown
    }
    const [x, y] = this.local(ev);
    const additive = isAdditive(ev);
    this.clearOverlay();
    if (!d.moved) {
      this.clickAt(x, y, additive);
      return;
    }
    if (d.kind === "lasso") {
      extendPath(d.path, x, y, 0);
      this.finishLasso(d.path, additive);
    } else if (d.kind === "box") {
      this.finishBox(d.x0, d.y0, x, y, additive);
    }
  }

  private cancelDrag(): void {
    this.drag = null;
    this.clearOverlay();
  }

  private clearOverlay(): void {
    this.lassoPath.setAttribute("d", "");
    for (const a of ["x", "y", "width", "height"]) this.boxRect.setAttribute(a, "0");
  }

  private onWheel(ev: WheelEvent): void {
    if (!this.data) return;
    ev.preventDefault();
    const [x, y] = this.local(ev);
    const delta = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaY;
    this.userMoved = true;
    this.t.zoomAt(x, y, Math.exp(-delta * 0.0015));
    this.setHovered(-1);
    this.requestDraw();
  }

  // ------------------------------------------------------------------ selection gestures

  private commit(next: Bitmask, source: string, region: Record<string, unknown>): void {
    this.sel = next;
    this.renderer?.setSelection(next.bits, !next.isEmpty());
    this.renderStatus();
    this.requestDraw();
    this.opts.onSelect?.(next, next.isEmpty() ? "clear" : source, next.isEmpty() ? {} : region);
  }

  /** Lasso drawn along `path` (canvas pixels). */
  finishLasso(path: number[], additive: boolean): void {
    if (!this.data || path.length < 6) return;
    // the exact polygon used for membership is the one sent as the region (data coordinates)
    const px = decimate(path, 256);
    const poly: number[] = [];
    for (let i = 0; i + 1 < px.length; i += 2) poly.push(...this.t.toData(px[i], px[i + 1]));
    const hit = lassoSelect(this.data.x, this.data.y, poly);
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i + 1 < poly.length; i += 2) {
      xs.push(poly[i]);
      ys.push(poly[i + 1]);
    }
    this.commit(additive ? this.sel.union(hit) : hit, "lasso", { kind: "lasso", x: xs, y: ys });
  }

  /** Box from (x0, y0) to (x1, y1) in canvas pixels. */
  finishBox(x0: number, y0: number, x1: number, y1: number, additive: boolean): void {
    if (!this.data) return;
    const [ax, ay] = this.t.toData(x0, y0);
    const [bx, by] = this.t.toData(x1, y1);
    const hit = boxSelect(this.data.x, this.data.y, ax, ay, bx, by);
    const region = { kind: "box", x0: Math.min(ax, bx), x1: Math.max(ax, bx), y0: Math.min(ay, by), y1: Math.max(ay, by) };
    this.commit(additive ? this.sel.union(hit) : hit, "box", region);
  }

  private clickAt(x: number, y: number, additive: boolean): void {
    if (!this.data) return;
    const i = this.pick(x, y);
    if (i < 0) {
      if (!additive && !this.sel.isEmpty()) this.commit(Bitmask.empty(this.n), "clear", {});
      return;
    }
    const target = Bitmask.fromIndices(this.n, [i]);
    this.commit(clickSelection(this.sel, target, additive), "click", { kind: "point", row: i });
  }

  // ------------------------------------------------------------------ hover and tooltip

  private ensureIndex(): GridIndex | null {
    if (this.performance || !this.data) return null;
    if (this.index === null) this.index = new GridIndex(this.data.x, this.data.y, this.bounds);
    return this.index;
  }

  /** The point under canvas pixel (x, y), or -1. */
  pick(x: number, y: number): number {
    const index = this.ensureIndex();
    if (!index) return -1;
    const [dx, dy] = this.t.toData(x, y);
    const r = Math.max(HOVER_RADIUS, this.pointSize / 2 + 2);
    return index.nearest(dx, dy, r / Math.abs(this.t.kx), r / Math.abs(this.t.ky));
  }

  private hoverAt(x: number, y: number): void {
    if (this.performance) return;
    this.setHovered(this.pick(x, y), x, y);
  }

  private setHovered(i: number, x = 0, y = 0): void {
    if (i === this.hovered) {
      if (i >= 0) this.placeTooltip(x, y);
      return;
    }
    this.hovered = i;
    this.root.dataset.hover = String(i);
    this.renderer?.setHover(i);
    this.requestDraw();
    if (i < 0) {
      this.hideTooltip();
      return;
    }
    this.showTooltip(i, x, y);
  }

  private hideTooltip(): void {
    this.tooltipAbort?.abort();
    this.tooltipAbort = null;
    if (this.tooltipTimer !== null) clearTimeout(this.tooltipTimer);
    this.tooltipTimer = null;
    this.tooltip.hidden = true;
  }

  private showTooltip(i: number, x: number, y: number): void {
    if (!this.data) return;
    this.tooltipAbort?.abort();
    this.tooltipAbort = null;
    if (this.tooltipTimer !== null) clearTimeout(this.tooltipTimer);
    const d = this.data;
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
    this.tooltip.replaceChildren(img, h("div", { class: "nbd-sc-tt-text" }, ...rows));
    this.tooltip.dataset.row = String(i);
    this.tooltip.hidden = false;
    this.placeTooltip(x, y);
    const fill = (p: PointDetails): void => {
      if (this.hovered !== i) return;
      head.textContent = p.id;
      details.replaceChildren(...p.values.map(([k, v]) => line(k, v)));
      if (p.image) {
        const url = URL.createObjectURL(p.image);
        this.imageUrls.push(url);
        if (this.imageUrls.length > 64) URL.revokeObjectURL(this.imageUrls.shift()!);
        img.replaceChildren(h("img", { src: url, alt: p.id }));
        img.classList.add("has-image");
      }
      this.tooltip.dataset.loaded = "1";
      this.placeTooltip(x, y);
    };
    this.tooltip.dataset.loaded = "0";
    if (cached) {
      fill(cached);
      return;
    }
    if (!this.opts.fetchPoint) return;
    // fetch after a short pause, so sweeping across points does not flood the kernel
    this.tooltipTimer = setTimeout(() => {
      this.tooltipTimer = null;
      const ctrl = new AbortController();
      this.tooltipAbort = ctrl;
      this.opts.fetchPoint!(i, ctrl.signal).then(
        (p) => {
          this.cache.set(i, p);
          if (this.cache.size > 256) this.cache.delete(this.cache.keys().next().value as number);
          if (!ctrl.signal.aborted) fill(p);
        },
        () => {
          // cancelled or failed: the local part of the tooltip stays
        },
      );
    }, TOOLTIP_DELAY_MS);
  }

  private placeTooltip(x: number, y: number): void {
    const tip = this.tooltip;
    const w = tip.offsetWidth;
    const hgt = tip.offsetHeight;
    const sw = this.t.width;
    const sh = this.t.height;
    let left = x + 14;
    let top = y + 14;
    if (w > 0 && left + w > sw) left = Math.max(0, x - w - 14);
    if (hgt > 0 && top + hgt > sh) top = Math.max(0, sh - hgt);
    tip.style.left = `${Math.round(left)}px`;
    tip.style.top = `${Math.round(top)}px`;
  }

  // ------------------------------------------------------------------ legend and status

  private renderLegend(): void {
    const d = this.data;
    this.legend.replaceChildren();
    this.legend.hidden = true;
    if (!d) return;
    const title = d.colorLabel ? h("div", { class: "nbd-sc-legend-title" }, d.colorLabel) : null;
    if (d.color.kind === "category") {
      const colors = d.color.colors;
      const counts = new Uint32Array(d.categories.length + 1);
      const codes = d.color.codes;
      for (let i = 0; i < this.n; i++) {
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
        item.addEventListener("click", (ev) => this.selectCategory(c, isAdditive(ev)));
        entries.push(item);
      }
      if (d.categories.length > shown) entries.push(h("div", { class: "nbd-sc-legend-more" }, `+${d.categories.length - shown} more`));
      if (counts[d.categories.length] > 0) {
        entries.push(
          h("div", { class: "nbd-sc-legend-item is-static" }, h("span", { class: "nbd-sc-swatch", style: `background:${d.color.missing}` }), h("span", { class: "nbd-sc-legend-name" }, "missing"), h("span", { class: "nbd-sc-legend-count" }, formatNumber(counts[d.categories.length]))),
        );
      }
      this.legend.append(...(title ? [title] : []), ...entries);
      this.legend.hidden = false;
    } else if (d.color.kind === "value") {
      const [lo, hi] = d.color.range;
      const ticks = niceTicks(lo, hi, 4).filter((v) => v >= lo && v <= hi);
      const bar = h("div", { class: "nbd-sc-ramp", style: `background:${rampGradient()}` });
      const scale = h("div", { class: "nbd-sc-ramp-ticks" });
      for (const v of ticks) {
        const pos = hi > lo ? ((v - lo) / (hi - lo)) * 100 : 50;
        scale.append(h("span", { style: `left:${pos.toFixed(2)}%` }, formatNumber(v)));
      }
      this.legend.append(...(title ? [title] : []), bar, scale);
      this.legend.hidden = false;
    }
  }

  private selectCategory(code: number, additive: boolean): void {
    const d = this.data;
    if (!d || d.color.kind !== "category") return;
    const codes = d.color.codes;
    const target = Bitmask.fromPredicate(this.n, (i) => codes[i] === code);
    this.commit(clickSelection(this.sel, target, additive), "legend", { kind: "category", column: d.colorLabel, value: d.categories[code] });
  }

  private renderStatus(): void {
    const count = this.sel.count();
    const parts: (string | Node)[] = [`${formatNumber(this.n)} points`];
    if (count > 0) parts.push(` · ${formatNumber(count)} selected`);
    else parts.push(h("span", { class: "nbd-hint" }, this.performance ? " · lasso or box to select (performance mode: no hover)" : " · lasso, box or click to select; wheel zooms; double-click resets"));
    this.statusEl.replaceChildren(...parts);
    this.root.dataset.selectedCount = String(count);
  }

  // ------------------------------------------------------------------ test hooks

  private exposeTestHooks(): void {
    // e2e tests and the benchmark read these from the DOM element
    (this.root as unknown as { nbdiag: unknown }).nbdiag = {
      litPixels: (): number => (this.renderer?.litPixels ? this.renderer.litPixels(this.t) : -1),
      toPixel: (x: number, y: number): [number, number] => this.t.toPixel(x, y),
      selectedRows: (): number[] => Array.from(this.sel.indices()),
    };
  }
}

function pathD(path: number[], close: boolean): string {
  if (path.length < 2) return "";
  let d = `M${path[0].toFixed(1)},${path[1].toFixed(1)}`;
  for (let i = 2; i + 1 < path.length; i += 2) d += `L${path[i].toFixed(1)},${path[i + 1].toFixed(1)}`;
  return close ? d + "Z" : d;
}

export { categoryColors };
