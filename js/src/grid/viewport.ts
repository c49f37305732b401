/**
 * The image grid's virtualised scroll area (`grid-scroll` holding `grid-spacer`). The display
 * rows are laid out as equal cells, as many per line as fit; only the cells near the viewport
 * exist (made and dropped as it scrolls, re-laid out on the next animation frame), and the rows on
 * screen are asked of the page loader, the exact viewport first, then the overscan, debounced
 * while scrolling. What a cell shows is the view's business ({@link GridViewportOptions.fill}).
 */

import { h } from "../shared/dom";
import { createCell, type Cell } from "./cell";
import { cellPosition, gridMetrics, requestSize, scrollToReveal, visibleWindow, type GridMetrics, type VisibleWindow } from "./layout";
import type { PageLoader } from "./loader";
import type { GridSettings } from "./settings";

const CAPTION_H = 34;
const PAD = 4;
const GAP = 6;
const OVERSCAN = 2;

export interface GridViewportOptions {
  loader: PageLoader;
  /** The view's settings (thumbnail size, height), read at every render. */
  settings: () => Readonly<GridSettings>;
  /** The rows in display order. */
  display: () => Uint32Array;
  /** Width to lay out for while the scroll area has none. */
  outerWidth: () => number;
  /** Debounce of page requests while scrolling (ms). */
  fetchDelayMs: number;
  /** Bring a cell up to date (selection, loaded item). */
  fill: (cell: Cell) => void;
  /** A render laid out `count` rows (before it places the cells). */
  laidOut: (count: number) => void;
  /** A render placed and filled the cells on screen. */
  rendered: () => void;
  /** The rows on screen were asked of the loader. */
  requested: () => void;
}

export class GridViewport {
  /** The scrolling element. */
  readonly el: HTMLDivElement;
  /** The "nothing to show" / error message inside it. */
  readonly empty: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private readonly o: GridViewportOptions;
  private readonly cells = new Map<number, Cell>();
  private metrics: GridMetrics = gridMetrics(0, 0, 1, 1, GAP);
  private win: VisibleWindow = { firstRow: 0, lastRow: -1, start: 0, end: 0 };
  private raf = 0;
  private fetchTimer: ReturnType<typeof setTimeout> | null = null;
  private lastWidth = -1;
  private pendingFetchNow = false;

  constructor(opts: GridViewportOptions) {
    this.o = opts;
    this.spacer = h("div", { class: "nbd-grid-spacer", "data-testid": "grid-spacer" });
    this.empty = h("div", { class: "nbd-grid-empty", hidden: true }, "Nothing to show.");
    this.el = h("div", { class: "nbd-grid-scroll", "data-testid": "grid-scroll", tabindex: 0, role: "grid", "aria-multiselectable": "true" }, this.spacer, this.empty);
    this.el.addEventListener("scroll", () => this.schedule(), { passive: true });
  }

  /** The rendered window (display positions). */
  get window(): VisibleWindow {
    return this.win;
  }

  /** The live cells (near the viewport). */
  liveCells(): IterableIterator<Cell> {
    return this.cells.values();
  }

  get cellCount(): number {
    return this.cells.size;
  }

  /** The live cell at display position `pos`, if any. */
  cellAt(pos: number): Cell | undefined {
    return this.cells.get(pos);
  }

  /** The live cell an event happened in, if any. */
  cellOf(ev: Event): Cell | null {
    const el = (ev.target as Element | null)?.closest?.(".nbd-grid-cell");
    if (!(el instanceof HTMLElement)) return null;
    const pos = Number(el.dataset.pos);
    const cell = this.cells.get(pos);
    return cell && cell.el === el ? cell : null;
  }

  /** The display positions [start, end) on screen now (no overscan). */
  shownRange(): VisibleWindow {
    return visibleWindow(this.metrics, this.o.display().length, this.el.scrollTop, this.viewportHeight(), 0);
  }

  /** Drop every cell (new rows, new thumbnail size): the next render makes them again. */
  clearCells(): void {
    for (const c of this.cells.values()) c.el.remove();
    this.cells.clear();
  }

  scrollToTop(): void {
    this.el.scrollTop = 0;
  }

  /** Scroll just enough for display position `pos` to be on screen. */
  reveal(pos: number): void {
    this.el.scrollTop = scrollToReveal(this.metrics, pos, this.el.scrollTop, this.viewportHeight());
  }

  /** The element was resized: lay out again when its width changed. */
  resized(): void {
    if (this.el.clientWidth !== this.lastWidth) this.schedule();
  }

  /** Render on the next animation frame (`fetchNow`: ask for its rows without the debounce). */
  schedule(fetchNow = false): void {
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

  /** Render now (tests; normally on the next animation frame). */
  renderNow(): void {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
    this.render(true);
  }

  destroy(): void {
    if (this.raf) cancelAnimationFrame(this.raf);
    if (this.fetchTimer !== null) clearTimeout(this.fetchTimer);
  }

  private viewportHeight(): number {
    return this.el.clientHeight || this.o.settings().height;
  }

  private cellSize(): { w: number; h: number } {
    const t = this.o.settings().thumbSize;
    return { w: t + 2 * PAD, h: t + 2 * PAD + CAPTION_H };
  }

  private render(fetchNow: boolean): void {
    this.pendingFetchNow = false;
    const display = this.o.display();
    const width = this.el.clientWidth || this.o.outerWidth() || 800;
    this.lastWidth = this.el.clientWidth;
    const { w, h: ch } = this.cellSize();
    const count = display.length;
    const m = gridMetrics(count, width - 2 * GAP, w, ch, GAP);
    const moved = m.columns !== this.metrics.columns || m.cellWidth !== this.metrics.cellWidth || m.cellHeight !== this.metrics.cellHeight;
    this.metrics = m;
    this.spacer.style.height = `${m.height}px`;
    this.o.laidOut(count);
    this.win = visibleWindow(m, count, this.el.scrollTop, this.viewportHeight(), OVERSCAN);
    const { start, end } = this.win;

    for (const [pos, cell] of this.cells) {
      if (pos < start || pos >= end || cell.row !== display[pos]) {
        cell.el.remove();
        this.cells.delete(pos);
      }
    }
    for (let pos = start; pos < end; pos++) {
      let cell = this.cells.get(pos);
      if (!cell) {
        cell = createCell(pos, display[pos], this.o.settings().thumbSize);
        this.cells.set(pos, cell);
        this.spacer.append(cell.el);
        this.place(cell);
      } else if (moved) {
        this.place(cell);
      }
      this.o.fill(cell);
    }
    this.o.rendered();
    this.requestVisible(fetchNow);
  }

  private place(cell: Cell): void {
    const { left, top } = cellPosition(this.metrics, cell.pos);
    cell.el.style.transform = `translate(${left + GAP}px, ${top}px)`;
    cell.el.style.width = `${this.metrics.cellWidth}px`;
    cell.el.style.height = `${this.metrics.cellHeight}px`;
  }

  private requestVisible(now: boolean): void {
    const run = (): void => {
      this.fetchTimer = null;
      const m = this.metrics;
      const display = this.o.display();
      const count = display.length;
      // what is on screen first, then the overscan rows
      const exact = visibleWindow(m, count, this.el.scrollTop, this.viewportHeight(), 0);
      const need: number[] = [];
      for (let p = exact.start; p < exact.end; p++) need.push(display[p]);
      for (let p = this.win.start; p < this.win.end; p++) need.push(display[p]);
      const margin = visibleWindow(m, count, this.el.scrollTop, this.viewportHeight(), OVERSCAN + 4);
      const lo = margin.start;
      const hi = margin.end;
      const loader = this.o.loader;
      loader.size = requestSize(this.o.settings().thumbSize, globalThis.devicePixelRatio ?? 1);
      // the rows near the viewport: a few hundred at most, so no row -> position table of all
      const near = new Set(display.subarray(lo, hi));
      loader.update(need, (row) => near.has(row));
      this.o.requested();
    };
    if (this.fetchTimer !== null) clearTimeout(this.fetchTimer);
    this.fetchTimer = null;
    const delay = this.o.fetchDelayMs;
    if (now || delay <= 0) run();
    else this.fetchTimer = setTimeout(run, delay);
  }
}
