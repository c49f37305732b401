/**
 * The scatter's DOM: toolbar ({@link ScatterToolbar}), the WebGL canvas with an SVG
 * overlay for the lasso or box being drawn ({@link StageGestures}), a legend ({@link renderLegend}),
 * a hover tooltip ({@link PointTooltip}) and a status line. Knows nothing about the widget model:
 * it takes data and selections through setters and reports gestures through callbacks (see
 * `widgets/scatter.ts`).
 *
 * What gestures do: shift / ctrl / cmd at the end of a lasso or box adds to the selection; a
 * click selects the point under the pointer (shift toggles it), a click on empty space clears; a
 * legend click selects a category.
 *
 * DOM hooks (docs/dev/widget-protocol.md, "Scatter"): root `[data-testid=nbdiag-scatter]` with
 * `data-ready`, `data-points`, `data-selected-count`, `data-mode`, `data-performance`,
 * `data-frames` and `data-transform` (`[kx, ky, tx, ty]`: px = x * kx + tx from the canvas'
 * top-left, CSS pixels).
 */

import { h } from "../shared/dom";
import { formatNumber } from "../shared/format";
import { Bitmask, clickSelection } from "../shared/selection";
import type { PointDetails, ScatterData } from "./data";
import { StageGestures, type Mode } from "./gestures";
import { GridIndex } from "./grid_index";
import { IDLE_INDEX_MIN, selectionGraceMs } from "./pacing";
import { renderLegend } from "./legend";
import { boxHit, lassoHit } from "./regions";
import { DEFAULT_STYLE, PointRenderer, type ColorSpec, type Renderer } from "./renderer";
import { ScatterToolbar } from "./toolbar";
import { PointTooltip } from "./tooltip";
import { dataBounds, ViewTransform, type Bounds } from "./transform";

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

const HOVER_RADIUS = 8; // px

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
  private readonly toolbar: ScatterToolbar;
  private readonly stage: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly gestures: StageGestures;
  private readonly legend: HTMLDivElement;
  private readonly tooltip: PointTooltip;
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
  /** No frame before this time (ms, `Date.now()`): a selection message is leaving. */
  private holdDrawUntil = 0;
  /** How long the last frame took (ms): from its draw to the next animation frame. */
  private frameMs = 0;
  /** A lasso or box is being drawn: point frames wait for its end (the overlay shows it). */
  private holdForDrag = false;
  private drawDeferred = false;
  private idleIndexQueued = false;
  /** The user panned or zoomed since the last fit. */
  private userMoved = false;
  private resizeObserver: ResizeObserver | null = null;
  private destroyed = false;

  constructor(host: HTMLElement, opts: ScatterViewOptions = {}) {
    this.opts = opts;
    this.toolbar = new ScatterToolbar({
      onMode: (mode) => this.setMode(mode),
      onReset: () => this.resetView(),
      onClear: () => this.commit(Bitmask.empty(this.n), "clear", {}),
    });

    this.canvas = h("canvas", { class: "nbd-sc-canvas", "data-testid": "sc-canvas" });
    this.gestures = new StageGestures(this.canvas, {
      mode: () => this.mode,
      hasData: () => this.data !== null,
      panBy: (dx, dy) => {
        this.userMoved = true;
        this.t.panBy(dx, dy);
        this.requestDraw();
      },
      zoomAt: (x, y, factor) => {
        this.userMoved = true;
        this.t.zoomAt(x, y, factor);
        this.setHovered(-1);
        this.requestDraw();
      },
      hoverAt: (x, y) => this.hoverAt(x, y),
      unhover: () => this.setHovered(-1),
      clickAt: (x, y, additive) => this.clickAt(x, y, additive),
      finishLasso: (path, additive) => this.finishLasso(path, additive),
      finishBox: (x0, y0, x1, y1, additive) => this.finishBox(x0, y0, x1, y1, additive),
      resetView: () => this.resetView(),
      dragging: (active, kind) => this.dragging(active, kind),
    });
    this.legend = h("div", { class: "nbd-sc-legend", "data-testid": "sc-legend" });
    this.tooltip = new PointTooltip({
      fetchPoint: opts.fetchPoint,
      isHovered: (i) => this.hovered === i,
      bounds: () => ({ width: this.t.width, height: this.t.height }),
    });
    this.xLabelEl = h("div", { class: "nbd-sc-xlabel" });
    this.yLabelEl = h("div", { class: "nbd-sc-ylabel" });
    this.stage = h("div", { class: "nbd-sc-stage", "data-testid": "sc-stage", tabindex: 0 }, this.canvas, this.gestures.overlay, this.xLabelEl, this.yLabelEl, this.legend, this.tooltip.el);
    this.stage.style.height = `${opts.height ?? 480}px`;
    this.statusEl = h("div", { class: "nbd-status", "data-testid": "sc-status", role: "status", "aria-live": "polite" });
    this.root = h("div", { class: "nbd-view nbd-sc", "data-testid": "nbdiag-scatter", "data-selected-count": "0" }, this.toolbar.el, this.stage, this.statusEl);
    host.append(this.root);

    const { width, height } = this.stageSize();
    this.t = new ViewTransform(width, height, true);
    try {
      this.renderer = opts.createRenderer ? opts.createRenderer(this.canvas) : new PointRenderer(this.canvas);
      this.renderer.resize(width, height, this.dpr());
    } catch (err) {
      this.showError(`nbdiag: cannot draw the scatter plot: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.gestures.listen(this.stage);
    if (typeof ResizeObserver !== "undefined") {
      this.resizeObserver = new ResizeObserver(() => this.onResize());
      this.resizeObserver.observe(this.stage);
    }
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
    this.toolbar.setTitle(title);
  }

  setHeight(px: number): void {
    this.stage.style.height = `${Math.max(120, px)}px`;
    this.onResize();
  }

  /** Points above the threshold: smaller points, no hover / tooltip / click picking. */
  setPerformance(on: boolean): void {
    this.performance = on;
    this.root.dataset.performance = on ? "1" : "0";
    if (on) this.tooltip.hide();
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
    this.tooltip.clearCache();
    this.tooltip.hide();
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
    this.toolbar.setMode(mode);
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
    this.tooltip.destroy();
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

  /** Draw on the next animation frame; with `holdMs`, not before that many ms from now (any
   *  other request meanwhile waits too). */
  requestDraw(holdMs = 0): void {
    if (this.destroyed) return;
    if (holdMs > 0) this.holdDrawUntil = Math.max(this.holdDrawUntil, Date.now() + holdMs);
    if (this.drawQueued) return;
    this.drawQueued = true;
    const frame = (fn: () => void): void => {
      if (typeof requestAnimationFrame === "function") requestAnimationFrame(fn);
      else setTimeout(fn, 0);
    };
    const run = (): void => {
      if (this.holdForDrag) {
        this.drawQueued = false;
        this.drawDeferred = true; // drawn when the drag ends
        return;
      }
      const wait = this.holdDrawUntil - Date.now();
      if (wait > 0 && !this.destroyed) {
        setTimeout(() => frame(run), wait);
        return;
      }
      this.drawQueued = false;
      this.drawNow();
    };
    frame(run);
  }

  /** A drag started or ended: a lasso or box holds the point frames (not a pan, which moves). */
  private dragging(active: boolean, kind: Mode): void {
    if (kind === "pan") return;
    this.holdForDrag = active;
    if (!active && this.drawDeferred) {
      this.drawDeferred = false;
      this.requestDraw();
    }
  }

  private drawNow(): void {
    if (this.destroyed || !this.renderer) return;
    this.renderer.draw(this.t);
    if (typeof requestAnimationFrame === "function" && typeof performance !== "undefined") {
      // the next animation frame comes once this one is done (later when the GPU is slow)
      const t0 = performance.now();
      requestAnimationFrame(() => {
        this.frameMs = performance.now() - t0;
      });
    }
    this.root.dataset.frames = String(this.renderer.frames);
    this.root.dataset.transform = JSON.stringify(this.t.toArray());
    if (this.data && this.root.dataset.ready !== "1") {
      this.root.dataset.ready = "1";
      this.root.dataset.firstFrameAt = String(Date.now());
    }
    if (this.data && this.index === null && this.n >= IDLE_INDEX_MIN) this.buildIndexWhenIdle();
  }

  // ------------------------------------------------------------------ selection gestures

  private commit(next: Bitmask, source: string, region: Record<string, unknown>): void {
    this.sel = next;
    this.renderStatus();
    // the selection goes out first; the frame showing it waits until the message has left
    this.opts.onSelect?.(next, next.isEmpty() ? "clear" : source, next.isEmpty() ? {} : region);
    this.renderer?.setSelection(next.bits, !next.isEmpty());
    this.requestDraw(selectionGraceMs(this.n, this.frameMs));
  }

  /** Lasso drawn along `path` (canvas pixels). */
  finishLasso(path: number[], additive: boolean): void {
    if (!this.data || path.length < 6) return;
    const { rows, region } = lassoHit(this.data.x, this.data.y, path, this.t, this.spatialIndex());
    this.commit(additive ? this.sel.union(rows) : rows, "lasso", region);
  }

  /** Box from (x0, y0) to (x1, y1) in canvas pixels. */
  finishBox(x0: number, y0: number, x1: number, y1: number, additive: boolean): void {
    if (!this.data) return;
    const { rows, region } = boxHit(this.data.x, this.data.y, x0, y0, x1, y1, this.t, this.spatialIndex());
    this.commit(additive ? this.sel.union(rows) : rows, "box", region);
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

  private selectCategory(code: number, additive: boolean): void {
    const d = this.data;
    if (!d || d.color.kind !== "category") return;
    const codes = d.color.codes;
    const target = Bitmask.fromPredicate(this.n, (i) => codes[i] === code);
    this.commit(clickSelection(this.sel, target, additive), "legend", { kind: "category", column: d.colorLabel, value: d.categories[code] });
  }

  // ------------------------------------------------------------------ hover

  /** The spatial index over the points (built on first use). */
  private spatialIndex(): GridIndex | null {
    if (!this.data) return null;
    if (this.index === null) this.index = new GridIndex(this.data.x, this.data.y, this.bounds);
    return this.index;
  }

  /** Build the index once the page is idle (after the first frame), not on the first gesture. */
  private buildIndexWhenIdle(): void {
    if (this.idleIndexQueued) return;
    this.idleIndexQueued = true;
    const data = this.data;
    const build = (): void => {
      this.idleIndexQueued = false;
      if (!this.destroyed && this.data === data && this.index === null) this.spatialIndex();
    };
    const idle = (globalThis as { requestIdleCallback?: (cb: () => void, o?: { timeout: number }) => number }).requestIdleCallback;
    if (typeof idle === "function") idle(build, { timeout: 2000 });
    else setTimeout(build, 50);
  }

  /** The point under canvas pixel (x, y), or -1 (none in performance mode). */
  pick(x: number, y: number): number {
    const index = this.performance ? null : this.spatialIndex();
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
      if (i >= 0) this.tooltip.place(x, y);
      return;
    }
    this.hovered = i;
    this.root.dataset.hover = String(i);
    this.renderer?.setHover(i);
    this.requestDraw();
    if (i < 0) {
      this.tooltip.hide();
      return;
    }
    if (this.data) this.tooltip.show(i, x, y, this.data);
  }

  // ------------------------------------------------------------------ legend and status

  private renderLegend(): void {
    renderLegend(this.legend, this.data, this.n, (code, additive) => this.selectCategory(code, additive));
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
