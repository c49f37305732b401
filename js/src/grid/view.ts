/**
 * The ImageGrid's DOM: toolbar, a virtualised scrolling grid (only the cells near the viewport
 * exist), a status line and the detail view. Knows nothing about the widget model: data and
 * settings come in through setters, gestures go out through callbacks (see
 * `widgets/image_grid.ts` for the wiring). DOM hooks are the protocol's
 * (docs/dev/widget-protocol.md, "ImageGrid").
 */

import { h } from "../dom";
import { Bitmask } from "../selection";
import { shownBoxes, type BoxFilter } from "./boxes";
import { caption } from "./caption";
import { DetailView, type FetchDetail } from "./detail";
import { drawBoxes, svgEl } from "./draw";
import {
  cellPosition,
  displayRows,
  fitContain,
  gridMetrics,
  requestSize,
  scrollToReveal,
  visibleWindow,
  type GridMetrics,
  type VisibleWindow,
} from "./layout";
import { ItemCache, PageLoader, type FetchPage, type ItemData } from "./loader";
import type { ColorBy } from "./palette";
import { gridClick, inversePositions, selectAllShown } from "./select";
import { DEFAULT_SETTINGS, type GridSettings } from "./settings";
import { GridToolbar } from "./toolbar";


export interface GridViewOptions {
  fetchPage: FetchPage;
  fetchDetail: FetchDetail;
  /** A click changed the selection. */
  onSelect?: (mask: Bitmask, source: string) => void;
  /** The user changed a setting in the toolbar. */
  onSettings?: (patch: Partial<GridSettings>) => void;
  pageSize?: number;
  maxInFlight?: number;
  /** Debounce of page requests while scrolling (ms). */
  fetchDelayMs?: number;
  /** Object URLs for thumbnails (tests replace it). */
  createUrl?: (blob: Blob) => string;
  revokeUrl?: (url: string) => void;
}

const CAPTION_H = 34;
const PAD = 4;
const GAP = 6;
const OVERSCAN = 2;
/** A page the kernel did not answer is asked for again after this long (ms). */
const RETRY_MS = 4000;

const fmt = new Intl.NumberFormat("en-US");

interface Cell {
  el: HTMLDivElement;
  frame: HTMLDivElement;
  img: HTMLImageElement;
  svg: SVGSVGElement;
  ph: HTMLDivElement;
  caption: HTMLDivElement;
  pos: number;
  row: number;
  /** What is drawn: "<row>@<size>#<version>" once loaded, "" while loading. */
  drawn: string;
}

export class ImageGridView {
  readonly root: HTMLDivElement;
  readonly loader: PageLoader;
  readonly cache: ItemCache;

  private readonly opts: GridViewOptions;
  private s: GridSettings = { ...DEFAULT_SETTINGS };
  private hidden = new Set<number>();

  // rows
  private nRows = 0;
  private order: Uint32Array | null = null;
  private filter: Bitmask | null = null;
  private sel: Bitmask = Bitmask.empty(0);
  /** Rows shown by "selected only": the last selection made outside this grid. */
  private onlyMask: Bitmask | null = null;
  private display: Uint32Array = new Uint32Array(0);
  private inverse: Int32Array = new Int32Array(0);
  private anchorRow = -1;

  // layout
  private metrics: GridMetrics = gridMetrics(0, 0, 1, 1, GAP);
  private win: VisibleWindow = { firstRow: 0, lastRow: -1, start: 0, end: 0 };
  private readonly cells = new Map<number, Cell>();
  private version = 0;
  private raf = 0;
  private fetchTimer: ReturnType<typeof setTimeout> | null = null;
  private resizeObs: ResizeObserver | null = null;
  private lastWidth = -1;
  private transportError = "";
  private pendingFetchNow = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  // DOM
  private readonly toolbar: GridToolbar;
  private readonly scroll: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private readonly empty: HTMLDivElement;
  private readonly statusEl: HTMLDivElement;
  private readonly detail: DetailView;

  constructor(host: HTMLElement, opts: GridViewOptions) {
    this.opts = opts;
    this.cache = new ItemCache(1500, opts.revokeUrl);
    this.loader = new PageLoader({
      fetch: opts.fetchPage,
      cache: this.cache,
      pageSize: opts.pageSize ?? 24,
      maxInFlight: opts.maxInFlight ?? 2,
      retryMs: RETRY_MS,
      onItems: (items) => this.onItems(items),
      onError: (rows, err) => this.onLoadError(rows, err),
    });

    this.toolbar = new GridToolbar({
      onChange: (patch, commit) => this.emit(patch, commit),
      onClear: () => this.commit(Bitmask.empty(this.nRows), "clear"),
    });

    // ---- grid
    this.spacer = h("div", { class: "nbd-grid-spacer", "data-testid": "grid-spacer" });
    this.empty = h("div", { class: "nbd-grid-empty", hidden: true }, "Nothing to show.");
    this.scroll = h("div", { class: "nbd-grid-scroll", "data-testid": "grid-scroll", tabindex: 0, role: "grid", "aria-multiselectable": "true" }, this.spacer, this.empty);
    this.scroll.addEventListener("scroll", () => this.schedule(), { passive: true });
    this.scroll.addEventListener("click", (ev) => this.onClick(ev));
    this.scroll.addEventListener("dblclick", (ev) => this.onDoubleClick(ev));
    this.scroll.addEventListener("keydown", (ev) => this.onKey(ev));

    this.statusEl = h("div", { class: "nbd-grid-status", "data-testid": "grid-status", role: "status", "aria-live": "polite", "data-selected-count": "0" });

    this.root = h("div", { class: "nbd-grid", "data-testid": "nbdiag-image-grid" }, this.toolbar.el, this.toolbar.legend, this.scroll, this.statusEl);
    this.detail = new DetailView(this.root, {
      fetch: opts.fetchDetail,
      createUrl: opts.createUrl,
      revokeUrl: opts.revokeUrl,
      onNavigate: (delta) => this.navigateDetail(delta),
      onClose: () => this.scroll.focus({ preventScroll: true }),
    });
    host.append(this.root);
    if (typeof ResizeObserver !== "undefined") {
      this.resizeObs = new ResizeObserver(() => {
        if (this.scroll.clientWidth !== this.lastWidth) this.schedule();
        this.detail.relayout();
      });
      this.resizeObs.observe(this.scroll);
    }
    this.renderToolbar();
  }

  private renderToolbar(): void {
    this.toolbar.render(this.s, this.hidden);
    this.scroll.style.height = `${this.s.height}px`;
  }

  // ------------------------------------------------------------------ public state

  get settings(): Readonly<GridSettings> {
    return this.s;
  }

  /** Number of rows. */
  rowCount(): number {
    return this.nRows;
  }

  get selection(): Bitmask {
    return this.sel;
  }

  /** Rows in display order (after sort and filters). */
  get displayed(): Uint32Array {
    return this.display;
  }

  /** The rendered window (display positions). */
  get window(): VisibleWindow {
    return this.win;
  }

  /** New row set: count, display order (null: dataset order), filter (null: none). */
  setRows(nRows: number, order: Uint32Array | null, filter: Bitmask | null): void {
    const changedCount = nRows !== this.nRows;
    this.nRows = nRows;
    this.order = order;
    this.filter = filter;
    if (this.sel.n !== nRows) this.sel = Bitmask.empty(nRows);
    if (changedCount) {
      this.onlyMask = null;
      this.anchorRow = -1;
      this.cache.clear();
    }
    this.recomputeDisplay();
  }

  /** New sort order only (scrolls back to the top). */
  setOrder(order: Uint32Array | null): void {
    this.order = order;
    this.recomputeDisplay();
    this.scroll.scrollTop = 0;
    this.schedule(true);
  }

  setFilter(filter: Bitmask | null): void {
    this.filter = filter;
    this.recomputeDisplay();
    this.scroll.scrollTop = 0;
    this.schedule(true);
  }

  /**
   * A selection made elsewhere (`external`: Python or a linked view), or another render of this
   * widget. Display only: never calls `onSelect`.
   */
  setSelection(mask: Bitmask, external: boolean): void {
    const next = mask.n === this.nRows ? mask.clone() : Bitmask.fromBytes(mask.bits, this.nRows);
    const changed = !next.equals(this.sel);
    this.sel = next;
    if (external && this.s.selectedOnly) {
      const only = next.isEmpty() ? null : next.clone();
      const same = only === null ? this.onlyMask === null : this.onlyMask !== null && this.onlyMask.equals(only);
      if (!same) {
        this.onlyMask = only;
        this.recomputeDisplay();
        this.scroll.scrollTop = 0;
        this.schedule(true);
      }
    }
    if (changed) this.renderSelection();
  }

  setSettings(patch: Partial<GridSettings>): void {
    const before = this.s;
    this.s = { ...this.s, ...patch };
    const s = this.s;
    if (patch.classNames !== undefined || patch.hiddenClasses !== undefined) {
      this.hidden = new Set(s.hiddenClasses.map((c) => s.classNames.indexOf(c)).filter((i) => i >= 0));
    }
    if (patch.selectedOnly !== undefined && patch.selectedOnly !== before.selectedOnly) {
      this.onlyMask = s.selectedOnly && !this.sel.isEmpty() ? this.sel.clone() : null;
      this.recomputeDisplay();
      this.scroll.scrollTop = 0;
    }
    if (patch.thumbSize !== undefined && patch.thumbSize !== before.thumbSize) {
      this.clearCells();
    }
    this.renderToolbar();
    this.schedule(true);
    this.redrawBoxes();
    this.detail.setSettings(this.drawSettings());
  }

  /** The kernel's data changed (`_data_version`): forget every loaded item and reload. */
  invalidate(): void {
    this.version++;
    this.loader.cancelAll();
    this.loader.clearFailures();
    this.cache.clear();
    this.clearCells();
    this.schedule(true);
    this.detail.reload();
  }

  /** Show a problem instead of the grid (e.g. undecodable traits). */
  showError(message: string): void {
    this.root.dataset.error = "1";
    this.empty.hidden = false;
    this.empty.textContent = message;
    this.empty.classList.add("is-error");
    this.empty.setAttribute("data-testid", "grid-error");
  }

  /** Open the detail view of display position `pos`. */
  openDetail(pos: number): void {
    if (pos < 0 || pos >= this.display.length) return;
    this.detail.open(this.display[pos], pos, this.display.length);
  }

  closeDetail(): void {
    this.detail.close();
  }

  /** Render now (tests; normally on the next animation frame). */
  renderNow(): void {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
    this.render(true);
  }

  destroy(): void {
    if (this.raf) cancelAnimationFrame(this.raf);
    if (this.fetchTimer !== null) clearTimeout(this.fetchTimer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.resizeObs?.disconnect();
    this.toolbar.destroy();
    this.loader.dispose();
    this.detail.destroy();
    this.cache.clear();
    this.root.remove();
  }

  // ------------------------------------------------------------------ rows

  private recomputeDisplay(): void {
    const only = this.s.selectedOnly ? this.onlyMask : null;
    this.display = displayRows(this.nRows, this.order, this.filter, only);
    this.inverse = inversePositions(this.display, this.nRows);
    this.clearCells();
    this.schedule(true);
  }

  private clearCells(): void {
    for (const c of this.cells.values()) c.el.remove();
    this.cells.clear();
  }

  // ------------------------------------------------------------------ rendering

  private schedule(fetchNow = false): void {
    if (fetchNow) this.pendingFetchNow = true;
    if (this.raf) return;
    if (typeof requestAnimationFrame === "undefined") {
      this.render(this.pendingFetchNow);
      return;
    }
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.render(this.pendingFetchNow);
    });
  }

  private cellSize(): { w: number; h: number } {
    const t = this.s.thumbSize;
    return { w: t + 2 * PAD, h: t + 2 * PAD + CAPTION_H };
  }

  private render(fetchNow: boolean): void {
    this.pendingFetchNow = false;
    const width = this.scroll.clientWidth || this.root.clientWidth || 800;
    this.lastWidth = this.scroll.clientWidth;
    const { w, h: ch } = this.cellSize();
    const count = this.display.length;
    const m = gridMetrics(count, width - 2 * GAP, w, ch, GAP);
    const moved = m.columns !== this.metrics.columns || m.cellWidth !== this.metrics.cellWidth || m.cellHeight !== this.metrics.cellHeight;
    this.metrics = m;
    this.spacer.style.height = `${m.height}px`;
    if (this.root.dataset.error !== "1") {
      this.empty.hidden = count > 0;
      if (count === 0) this.empty.textContent = this.s.selectedOnly ? "Nothing selected." : "Nothing to show.";
    }
    const viewport = this.scroll.clientHeight || this.s.height;
    this.win = visibleWindow(m, count, this.scroll.scrollTop, viewport, OVERSCAN);
    const { start, end } = this.win;

    for (const [pos, cell] of this.cells) {
      if (pos < start || pos >= end || cell.row !== this.display[pos]) {
        cell.el.remove();
        this.cells.delete(pos);
      }
    }
    for (let pos = start; pos < end; pos++) {
      let cell = this.cells.get(pos);
      if (!cell) {
        cell = this.makeCell(pos, this.display[pos]);
        this.cells.set(pos, cell);
        this.spacer.append(cell.el);
        this.placeCell(cell);
      } else if (moved) {
        this.placeCell(cell);
      }
      this.fillCell(cell);
    }
    this.renderStatus();
    this.root.dataset.ready = "1";
    this.requestVisible(fetchNow);
  }

  private requestVisible(now: boolean): void {
    const run = (): void => {
      this.fetchTimer = null;
      const m = this.metrics;
      const count = this.display.length;
      // what is on screen first, then the overscan rows
      const exact = visibleWindow(m, count, this.scroll.scrollTop, this.scroll.clientHeight || this.s.height, 0);
      const need: number[] = [];
      for (let p = exact.start; p < exact.end; p++) need.push(this.display[p]);
      for (let p = this.win.start; p < this.win.end; p++) need.push(this.display[p]);
      const margin = visibleWindow(m, count, this.scroll.scrollTop, this.scroll.clientHeight || this.s.height, OVERSCAN + 4);
      const lo = margin.start;
      const hi = margin.end;
      this.loader.size = requestSize(this.s.thumbSize, globalThis.devicePixelRatio ?? 1);
      this.loader.update(need, (row) => {
        const p = this.inverse[row];
        return p >= lo && p < hi;
      });
      this.renderStatus();
    };
    if (this.fetchTimer !== null) clearTimeout(this.fetchTimer);
    this.fetchTimer = null;
    const delay = this.opts.fetchDelayMs ?? 60;
    if (now || delay <= 0) run();
    else this.fetchTimer = setTimeout(run, delay);
  }

  private makeCell(pos: number, row: number): Cell {
    const t = this.s.thumbSize;
    const img = h("img", { class: "nbd-grid-img", "data-testid": "grid-img", alt: "", draggable: "false", decoding: "async" });
    img.hidden = true;
    const svg = svgEl("svg", { class: "nbd-grid-svg", "data-testid": "grid-boxes", width: t, height: t });
    const ph = h("div", { class: "nbd-grid-ph", "data-testid": "grid-placeholder" });
    const zoom = h("button", { type: "button", class: "nbd-grid-zoom", "data-testid": "grid-zoom", title: "Open the full image (or double-click)", "aria-label": "Open the full image", tabindex: -1 });
    zoom.innerHTML =
      '<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><circle cx="6.5" cy="6.5" r="4.5" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M10 10l4.5 4.5" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>';
    const frame = h("div", { class: "nbd-grid-frame" }, img, svg, ph, zoom);
    frame.style.width = `${t}px`;
    frame.style.height = `${t}px`;
    const caption = h("div", { class: "nbd-grid-caption", "data-testid": "grid-caption" });
    const el = h("div", { class: "nbd-grid-cell", "data-testid": "grid-cell", role: "gridcell", "data-pos": pos, "data-row": row }, frame, caption);
    return { el, frame, img, svg, ph, caption, pos, row, drawn: "" };
  }

  private placeCell(cell: Cell): void {
    const { left, top } = cellPosition(this.metrics, cell.pos);
    cell.el.style.transform = `translate(${left + GAP}px, ${top}px)`;
    cell.el.style.width = `${this.metrics.cellWidth}px`;
    cell.el.style.height = `${this.metrics.cellHeight}px`;
  }

  private fillCell(cell: Cell): void {
    const selected = this.sel.get(cell.row);
    cell.el.classList.toggle("is-selected", selected);
    cell.el.setAttribute("aria-selected", selected ? "true" : "false");
    if (selected) cell.el.dataset.selected = "1";
    else delete cell.el.dataset.selected;

    const size = this.loader.size;
    const item = this.cache.get(cell.row, size);
    if (!item) {
      const failed = this.loader.failed(cell.row);
      cell.el.dataset.state = failed ? "failed" : "loading";
      cell.img.hidden = true;
      cell.ph.hidden = false;
      cell.ph.className = failed ? "nbd-grid-ph is-failed" : "nbd-grid-ph is-loading";
      cell.ph.textContent = failed ? this.transportError || "kernel did not answer" : "";
      cell.ph.title = failed ? "The kernel did not answer (busy running a cell?): scroll to retry" : "";
      cell.svg.replaceChildren();
      cell.drawn = "";
      cell.caption.textContent = "";
      return;
    }
    const key = `${cell.row}@${size}#${this.version}`;
    if (cell.drawn === key) return;
    cell.drawn = key;
    cell.el.dataset.id = item.id;
    cell.el.title = item.id;
    if (item.error || !item.url) {
      cell.el.dataset.state = "error";
      cell.img.hidden = true;
      cell.img.removeAttribute("src");
      cell.ph.hidden = false;
      cell.ph.className = "nbd-grid-ph is-error";
      cell.ph.replaceChildren(h("span", { class: "nbd-grid-ph-icon", "aria-hidden": "true" }, "⚠"), h("span", { class: "nbd-grid-ph-text" }, item.error ?? "no image"));
      cell.ph.title = item.detail ?? item.error ?? "";
      cell.ph.dataset.issue = item.error ?? "no_image";
      cell.svg.replaceChildren();
    } else {
      cell.el.dataset.state = "ready";
      cell.ph.hidden = true;
      const t = this.s.thumbSize;
      const fit = fitContain(item.sw, item.sh, t, t);
      const img = cell.img;
      img.style.left = `${fit.dx}px`;
      img.style.top = `${fit.dy}px`;
      img.style.width = `${fit.width}px`;
      img.style.height = `${fit.height}px`;
      if (img.getAttribute("src") !== item.url) img.src = item.url;
      img.hidden = false;
      this.drawCellBoxes(cell, item);
    }
    const cap = caption(item, this.s, this.boxFilter());
    cell.caption.replaceChildren(...cap.parts);
    cell.caption.title = cap.title;
    if (cap.status) cell.el.dataset.status = cap.status;
    else delete cell.el.dataset.status;
  }

  private boxFilter(): BoxFilter {
    const s = this.s;
    return { threshold: s.threshold, showGt: s.showGt, showPred: s.showPred, hidden: this.hidden };
  }

  private drawSettings(): { filter: BoxFilter; classNames: string[]; colorBy: ColorBy } {
    return { filter: this.boxFilter(), classNames: this.s.classNames, colorBy: this.s.colorBy };
  }

  private drawCellBoxes(cell: Cell, item: ItemData): void {
    const t = this.s.thumbSize;
    const fit = fitContain(item.sw, item.sh, t, t);
    const shown = shownBoxes(item.boxes, this.boxFilter());
    drawBoxes(cell.svg, shown, fit, t, t, {
      classNames: this.s.classNames,
      colorBy: this.s.colorBy,
      labels: t >= 100 ? "pred" : "none",
      fontSize: t >= 180 ? 11 : 9,
      stroke: 2,
    });
    cell.el.dataset.boxes = String(shown.length);
  }

  /** Threshold, toggles, classes or colours changed: redraw the boxes of the cells on screen. */
  private redrawBoxes(): void {
    for (const cell of this.cells.values()) {
      cell.drawn = "";
      this.fillCell(cell);
    }
  }

  private renderSelection(): void {
    for (const cell of this.cells.values()) {
      const selected = this.sel.get(cell.row);
      cell.el.classList.toggle("is-selected", selected);
      cell.el.setAttribute("aria-selected", selected ? "true" : "false");
      if (selected) cell.el.dataset.selected = "1";
      else delete cell.el.dataset.selected;
    }
    this.renderStatus();
  }

  private renderStatus(): void {
    const count = this.sel.count();
    const shown = this.display.length;
    const { start, end } = visibleWindow(this.metrics, shown, this.scroll.scrollTop, this.scroll.clientHeight || this.s.height, 0);
    const parts: (Node | string)[] = [`${fmt.format(count)} of ${fmt.format(this.nRows)} selected`];
    if (shown > 0) parts.push(` · ${fmt.format(start + 1)}–${fmt.format(end)} of ${fmt.format(shown)} shown`);
    if (shown !== this.nRows) parts.push(h("span", { class: "nbd-grid-hint" }, " (filtered)"));
    const loading = this.loader.loading.size;
    if (loading > 0) parts.push(h("span", { class: "nbd-grid-hint" }, ` · loading ${fmt.format(loading)}…`));
    if (count === 0 && shown > 0) parts.push(h("span", { class: "nbd-grid-hint" }, " · click, shift-click a range, ctrl-click to toggle; double-click opens"));
    this.statusEl.replaceChildren(...parts);
    const d = this.statusEl.dataset;
    d.selectedCount = String(count);
    d.shown = String(shown);
    d.first = String(start);
    d.last = String(end);
    d.loading = String(loading);
    d.cells = String(this.cells.size);
  }

  // ------------------------------------------------------------------ loading

  private onItems(items: ItemData[]): void {
    this.transportError = "";
    for (const it of items) {
      const p = this.inverse[it.row];
      const cell = p >= 0 ? this.cells.get(p) : undefined;
      if (cell && cell.row === it.row) {
        cell.drawn = "";
        this.fillCell(cell);
      }
    }
    this.renderStatus();
  }

  private onLoadError(rows: number[], err: Error): void {
    this.transportError = err.name === "RpcTimeoutError" ? "kernel busy: no answer" : `error: ${err.message}`.slice(0, 80);
    // try again once the retry delay has passed, even if nobody scrolls
    if (this.retryTimer === null) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.schedule(true);
      }, RETRY_MS + 50);
    }
    for (const r of rows) {
      const p = this.inverse[r];
      const cell = p >= 0 ? this.cells.get(p) : undefined;
      if (cell) this.fillCell(cell);
    }
    this.renderStatus();
  }

  // ------------------------------------------------------------------ gestures

  private emit(patch: Partial<GridSettings>, notify = true): void {
    this.setSettings(patch);
    if (notify) this.opts.onSettings?.(patch);
  }

  private cellOf(ev: Event): Cell | null {
    const el = (ev.target as Element | null)?.closest?.(".nbd-grid-cell");
    if (!(el instanceof HTMLElement)) return null;
    const pos = Number(el.dataset.pos);
    const cell = this.cells.get(pos);
    return cell && cell.el === el ? cell : null;
  }

  private onClick(ev: MouseEvent): void {
    const cell = this.cellOf(ev);
    if (!cell) return;
    if ((ev.target as Element).closest(".nbd-grid-zoom")) {
      this.openDetail(cell.pos);
      return;
    }
    if (ev.detail > 1) return; // the second click of a double-click opens, it does not toggle
    this.clickAt(cell.pos, { shift: ev.shiftKey, toggle: ev.ctrlKey || ev.metaKey });
  }

  /** A click on display position `pos` (what a mouse click does). */
  clickAt(pos: number, mods: { shift: boolean; toggle: boolean }): void {
    const anchorPos = this.anchorRow >= 0 && this.anchorRow < this.nRows ? this.inverse[this.anchorRow] : -1;
    const r = gridClick(this.sel, this.display, anchorPos >= 0 ? anchorPos : null, pos, mods);
    if (r.source === "") return;
    this.anchorRow = r.anchor;
    this.commit(r.selection, r.source);
  }

  private onDoubleClick(ev: MouseEvent): void {
    const cell = this.cellOf(ev);
    if (!cell || (ev.target as Element).closest(".nbd-grid-zoom")) return;
    this.openDetail(cell.pos);
  }

  private onKey(ev: KeyboardEvent): void {
    if ((ev.key === "a" || ev.key === "A") && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      const r = selectAllShown(this.sel, this.display);
      this.commit(r.selection, r.source);
    } else if (ev.key === "Escape" && !this.sel.isEmpty()) {
      this.commit(Bitmask.empty(this.nRows), "clear");
    }
  }

  private navigateDetail(delta: number): void {
    const pos = this.detail.position + delta;
    if (pos < 0 || pos >= this.display.length) return;
    this.scroll.scrollTop = scrollToReveal(this.metrics, pos, this.scroll.scrollTop, this.scroll.clientHeight || this.s.height);
    this.detail.open(this.display[pos], pos, this.display.length);
  }

  private commit(next: Bitmask, source: string): void {
    this.sel = next;
    this.renderSelection();
    this.opts.onSelect?.(next, source);
  }
}
