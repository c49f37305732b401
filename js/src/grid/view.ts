/**
 * The ImageGrid's DOM: toolbar ({@link GridToolbar}), a virtualised scrolling grid
 * ({@link GridViewport}) of cells (`cell.ts`), a status line (`status.ts`) and the detail view
 * ({@link DetailView}). This class holds the state: which rows are displayed in which order, the
 * selection and the settings; it fills cells from the page cache and turns gestures
 * (`gestures.ts`) into selections. Knows nothing about the widget model: data and settings come in through setters,
 * gestures go out through callbacks (see `widgets/image_grid.ts` for the wiring). DOM hooks are
 * the protocol's (docs/dev/widget-protocol.md, "ImageGrid").
 */

import { h } from "../shared/dom";
import { Bitmask } from "../shared/selection";
import type { BoxFilter } from "./boxes";
import { markSelected, showItem, showPending, type Cell } from "./cell";
import { maskAt } from "./masks";
import { DetailView, type FetchDetail } from "./detail";
import { listenGridGestures } from "./gestures";
import { displayRows, type VisibleWindow } from "./layout";
import { ItemCache, PageLoader, type FetchPage, type ItemData } from "./loader";
import type { ColorBy } from "./palette";
import { gridClick, inversePositions, selectAllShown } from "./select";
import { DEFAULT_SETTINGS, type GridSettings } from "./settings";
import { renderStatus } from "./status";
import { GridToolbar } from "./toolbar";
import { GridViewport } from "./viewport";

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

/** A page the kernel did not answer is asked for again after this long (ms). */
const RETRY_MS = 4000;

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
  /** Display position of each row, made when a gesture needs it (not on every re-filter). */
  private inverseCache: Int32Array | null = null;
  private anchorRow = -1;

  // loading
  private version = 0;
  private transportError = "";
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  // DOM
  private readonly toolbar: GridToolbar;
  private readonly viewport: GridViewport;
  private readonly statusEl: HTMLDivElement;
  private readonly detail: DetailView;
  private resizeObs: ResizeObserver | null = null;

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

    this.viewport = new GridViewport({
      loader: this.loader,
      settings: () => this.s,
      display: () => this.display,
      outerWidth: () => this.root.clientWidth,
      fetchDelayMs: opts.fetchDelayMs ?? 60,
      fill: (cell) => this.fillCell(cell),
      laidOut: (count) => this.renderEmpty(count),
      rendered: () => {
        this.renderStatus();
        this.root.dataset.ready = "1";
      },
      requested: () => this.renderStatus(),
    });
    const scroll = this.viewport.el;
    listenGridGestures(scroll, {
      cellOf: (ev) => this.viewport.cellOf(ev),
      open: (pos) => this.openDetail(pos),
      click: (pos, mods, ev) => this.clickAt(pos, mods, this.maskRowAt(pos, ev)),
      selectAll: () => {
        const r = selectAllShown(this.sel, this.display);
        this.commit(r.selection, r.source);
      },
      escape: () => {
        if (!this.sel.isEmpty()) this.commit(Bitmask.empty(this.nRows), "clear");
      },
    });

    this.statusEl = h("div", { class: "nbd-grid-status", "data-testid": "grid-status", role: "status", "aria-live": "polite", "data-selected-count": "0" });

    this.root = h("div", { class: "nbd-grid", "data-testid": "nbdiag-image-grid" }, this.toolbar.el, this.toolbar.legend, scroll, this.statusEl);
    this.detail = new DetailView(this.root, {
      fetch: opts.fetchDetail,
      createUrl: opts.createUrl,
      revokeUrl: opts.revokeUrl,
      onNavigate: (delta) => this.navigateDetail(delta),
      onPick: (row, mods) => this.pickRow(row, mods),
      onClose: () => scroll.focus({ preventScroll: true }),
    });
    host.append(this.root);
    if (typeof ResizeObserver !== "undefined") {
      this.resizeObs = new ResizeObserver(() => {
        this.viewport.resized();
        this.detail.relayout();
      });
      this.resizeObs.observe(scroll);
    }
    this.renderToolbar();
  }

  private renderToolbar(): void {
    this.toolbar.render(this.s, this.hidden);
    this.viewport.el.style.height = `${this.s.height}px`;
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
    return this.viewport.window;
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
    this.viewport.scrollToTop();
    this.viewport.schedule(true);
  }

  setFilter(filter: Bitmask | null): void {
    this.filter = filter;
    this.recomputeDisplay();
    this.viewport.scrollToTop();
    this.viewport.schedule(true);
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
        this.viewport.scrollToTop();
        this.viewport.schedule(true);
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
      this.viewport.scrollToTop();
    }
    if (patch.thumbSize !== undefined && patch.thumbSize !== before.thumbSize) {
      this.viewport.clearCells();
    }
    this.renderToolbar();
    this.viewport.schedule(true);
    this.redrawBoxes();
    this.detail.setSettings(this.drawSettings());
  }

  /** The kernel's data changed (`_data_version`): forget every loaded item and reload. */
  invalidate(): void {
    this.version++;
    this.loader.cancelAll();
    this.loader.clearFailures();
    this.cache.clear();
    this.viewport.clearCells();
    this.viewport.schedule(true);
    this.detail.reload();
  }

  /** Show a problem instead of the grid (e.g. undecodable traits). */
  showError(message: string): void {
    const empty = this.viewport.empty;
    this.root.dataset.error = "1";
    empty.hidden = false;
    empty.textContent = message;
    empty.classList.add("is-error");
    empty.setAttribute("data-testid", "grid-error");
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
    this.viewport.renderNow();
  }

  destroy(): void {
    this.viewport.destroy();
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
    this.inverseCache = null;
    this.viewport.clearCells();
    this.viewport.schedule(true);
  }

  // ------------------------------------------------------------------ rendering

  private fillCell(cell: Cell): void {
    markSelected(cell, this.sel.get(cell.row));
    const size = this.loader.size;
    const item = this.cache.get(cell.row, size);
    if (!item) {
      showPending(cell, this.loader.failed(cell.row), this.transportError);
      return;
    }
    showItem(cell, item, `${cell.row}@${size}#${this.version}`, this.s, this.boxFilter());
  }

  private boxFilter(): BoxFilter {
    const s = this.s;
    return { threshold: s.threshold, showGt: s.showGt, showPred: s.showPred, hidden: this.hidden, showBoxes: s.showBoxes, showMasks: s.showMasks };
  }

  private drawSettings(): { filter: BoxFilter; classNames: string[]; colorBy: ColorBy; maskOpacity: number } {
    return { filter: this.boxFilter(), classNames: this.s.classNames, colorBy: this.s.colorBy, maskOpacity: this.s.maskOpacity };
  }

  /** Threshold, toggles, classes or colours changed: redraw the boxes of the cells on screen. */
  private redrawBoxes(): void {
    for (const cell of this.viewport.liveCells()) {
      cell.drawn = "";
      this.fillCell(cell);
    }
  }

  private renderSelection(): void {
    for (const cell of this.viewport.liveCells()) markSelected(cell, this.sel.get(cell.row));
    this.renderStatus();
  }

  /** The message instead of cells when no row is displayed (unless an error is shown). */
  private renderEmpty(count: number): void {
    if (this.root.dataset.error === "1") return;
    const empty = this.viewport.empty;
    empty.hidden = count > 0;
    if (count === 0) empty.textContent = this.s.selectedOnly ? "Nothing selected." : "Nothing to show.";
  }

  private renderStatus(): void {
    const { start, end } = this.viewport.shownRange();
    renderStatus(this.statusEl, {
      selected: this.sel.count(),
      rows: this.nRows,
      shown: this.display.length,
      first: start,
      last: end,
      loading: this.loader.loading.size,
      cells: this.viewport.cellCount,
    });
  }

  // ------------------------------------------------------------------ loading

  /** The live cells by row (a page answers for rows; the cells near the viewport are few). */
  private liveByRow(): Map<number, Cell> {
    const out = new Map<number, Cell>();
    for (const cell of this.viewport.liveCells()) out.set(cell.row, cell);
    return out;
  }

  private get inverse(): Int32Array {
    this.inverseCache ??= inversePositions(this.display, this.nRows);
    return this.inverseCache;
  }

  private onItems(items: ItemData[]): void {
    this.transportError = "";
    const live = this.liveByRow();
    for (const it of items) {
      const cell = live.get(it.row);
      if (cell) {
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
        this.viewport.schedule(true);
      }, RETRY_MS + 50);
    }
    const live = this.liveByRow();
    for (const r of rows) {
      const cell = live.get(r);
      if (cell) this.fillCell(cell);
    }
    this.renderStatus();
  }

  // ------------------------------------------------------------------ gestures

  private emit(patch: Partial<GridSettings>, notify = true): void {
    this.setSettings(patch);
    if (notify) this.opts.onSettings?.(patch);
  }

  /**
   * The grid row of the object whose mask is under a click in the cell at `pos` (object-level
   * grids: a crop shows its neighbours' masks too), or -1.
   */
  private maskRowAt(pos: number, ev: MouseEvent): number {
    const cell = this.viewport.cellAt(pos);
    if (!cell || cell.hits === null) return -1;
    const r = cell.frame.getBoundingClientRect();
    const box = maskAt(cell.hits, ev.clientX - r.left, ev.clientY - r.top);
    return box !== null && box.objRow >= 0 && box.objRow < this.nRows ? box.objRow : -1;
  }

  /** Select the object row `row` picked inside a mask (grid cell or detail view). */
  private pickRow(row: number, mods: { shift: boolean; toggle: boolean }): void {
    const pos = row >= 0 && row < this.nRows ? this.inverse[row] : -1;
    if (pos >= 0) {
      this.clickAt(pos, mods);
      return;
    }
    if (row < 0 || row >= this.nRows) return;
    // a row not displayed (filtered out): select it all the same
    const next = mods.toggle ? this.sel.clone().set(row, !this.sel.get(row)) : Bitmask.fromIndices(this.nRows, [row]);
    this.anchorRow = row;
    this.commit(next, next.isEmpty() ? "clear" : `mask:${row}`);
  }

  /** A click on display position `pos` (what a mouse click does); `maskRow` >= 0: the click was
   *  inside the mask of that row's object, which is selected instead of the cell's row. */
  clickAt(pos: number, mods: { shift: boolean; toggle: boolean }, maskRow = -1): void {
    if (maskRow >= 0 && maskRow !== this.display[pos]) {
      this.pickRow(maskRow, mods);
      return;
    }
    const anchorPos = this.anchorRow >= 0 && this.anchorRow < this.nRows ? this.inverse[this.anchorRow] : -1;
    const r = gridClick(this.sel, this.display, anchorPos >= 0 ? anchorPos : null, pos, mods);
    if (r.source === "") return;
    this.anchorRow = r.anchor;
    this.commit(r.selection, r.source);
  }

  private navigateDetail(delta: number): void {
    const pos = this.detail.position + delta;
    if (pos < 0 || pos >= this.display.length) return;
    this.viewport.reveal(pos);
    this.detail.open(this.display[pos], pos, this.display.length);
  }

  private commit(next: Bitmask, source: string): void {
    this.sel = next;
    this.renderSelection();
    this.opts.onSelect?.(next, source);
  }
}
