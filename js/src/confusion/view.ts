/**
 * The confusion matrix's DOM: toolbar ({@link ConfusionToolbar}), a K x K table with class
 * headers and axis captions (`table.ts`), a status line and a hover tooltip
 * ({@link CellTooltip}). Knows nothing about the widget model: it takes data / mode / selection
 * through setters and reports gestures through callbacks (see `widgets/confusion_matrix.ts` for
 * the wiring).
 *
 * DOM hooks are the protocol's (docs/dev/widget-protocol.md, "ConfusionMatrix").
 */

import { h, isAdditive } from "../shared/dom";
import { Bitmask, clickSelection } from "../shared/selection";
import {
  cellMask,
  confusionCounts,
  formatInt,
  inferK,
  normalized,
  predMask,
  rowCount,
  hasWeights,
  selectedPerCell,
  selectedWeight,
  summarizeSelection,
  trueMask,
  type Confusion,
  type Normalize,
} from "./matrix";
import { buildTable, paintSelection, paintValues, sizeClass, type TableParts } from "./table";
import { ConfusionToolbar, type Thresholds } from "./toolbar";
import { CellTooltip } from "./tooltip";

export interface ConfusionData {
  /** uint16 true-class code per row. */
  yTrue: Uint16Array;
  /** uint16 predicted-class code per row. */
  yPred: Uint16Array;
  /** The K class names, in code order. */
  classNames: readonly string[];
  /** What each row counts for (e.g. its pixels), one per row; absent or empty: 1 per row. */
  weights?: ArrayLike<number>;
  /** The unit of `weights` in the status line (default "pixels"). */
  weightUnit?: string;
}

export interface ConfusionViewOptions {
  /** A click changed the selection (`source`: "cell:t:p", "row:t", "col:p" or "clear"). */
  onSelect?: (mask: Bitmask, source: string) => void;
  /** The normalise toggle was clicked. */
  onNormalize?: (mode: Normalize) => void;
  /** Detection: an IoU / score threshold slider was released. */
  onThresholds?: (iou: number, score: number) => void;
}

export class ConfusionMatrixView {
  /** `[data-testid=nbdiag-confusion-matrix]` */
  readonly root: HTMLDivElement;

  private readonly opts: ConfusionViewOptions;
  private readonly toolbar: ConfusionToolbar;
  private readonly scroll: HTMLDivElement;
  private readonly statusEl: HTMLDivElement;
  private readonly tooltip: CellTooltip;

  private yTrue: Uint16Array = new Uint16Array(0);
  private yPred: Uint16Array = new Uint16Array(0);
  private names: string[] = [];
  private weights: ArrayLike<number> | undefined = undefined;
  private weightUnit = "pixels";
  private k = 0;
  private n = 0;
  private confusion: Confusion = confusionCounts(this.yTrue, this.yPred, 0);
  private values: Float64Array = new Float64Array(0);
  private mode: Normalize = "none";
  private sel: Bitmask = Bitmask.empty(0);
  private perCell: Float64Array = new Float64Array(0);
  private warning = "";

  private table: TableParts = { cells: [], rowHeads: [], colHeads: [] };
  private hovered = -1;

  constructor(host: HTMLElement, opts: ConfusionViewOptions = {}) {
    this.opts = opts;
    this.toolbar = new ConfusionToolbar({
      onMode: (mode) => this.onModeClick(mode),
      onClear: () => this.commit(Bitmask.empty(this.n), "clear"),
      onThresholds: (iou, score) => this.opts.onThresholds?.(iou, score),
    });

    this.scroll = h("div", { class: "nbd-cm-scroll" });
    this.scroll.addEventListener("click", (ev) => this.onTableClick(ev));
    this.scroll.addEventListener("keydown", (ev) => this.onTableKey(ev));
    this.scroll.addEventListener("mouseover", (ev) => this.onHover(ev));
    this.scroll.addEventListener("focusin", (ev) => this.onHover(ev));
    this.scroll.addEventListener("mouseleave", () => this.hideTooltip());
    this.scroll.addEventListener("focusout", () => this.hideTooltip());
    this.scroll.addEventListener("scroll", () => this.hideTooltip(), { passive: true });

    const body = h(
      "div",
      { class: "nbd-cm-body" },
      h("div", { class: "nbd-cm-xcaption", "aria-hidden": "true" }, "predicted"),
      h("div", { class: "nbd-cm-main" }, h("div", { class: "nbd-cm-ycaption", "aria-hidden": "true" }, "true label"), this.scroll),
    );

    this.statusEl = h("div", { class: "nbd-cm-status", "data-testid": "cm-status", "data-selected-count": "0", role: "status", "aria-live": "polite" });
    this.tooltip = new CellTooltip();

    this.root = h("div", { class: "nbd-cm", "data-testid": "nbdiag-confusion-matrix" }, this.toolbar.el, body, this.statusEl, this.tooltip.el);
    host.append(this.root);
    this.toolbar.setMode(this.mode);
  }

  // ------------------------------------------------------------------ public state

  /** The current selection (the view's own copy). */
  get selection(): Bitmask {
    return this.sel;
  }

  /** Number of rows. */
  get rowCount(): number {
    return this.n;
  }

  get normalize(): Normalize {
    return this.mode;
  }

  setTitle(title: string): void {
    this.toolbar.setTitle(title);
  }

  /**
   * New rows / classes: rebuilds the table. The selection is kept when the row count is the
   * same, cleared otherwise.
   */
  setData(data: ConfusionData): void {
    this.yTrue = data.yTrue;
    this.yPred = data.yPred;
    this.n = rowCount(data.yTrue, data.yPred);
    this.weights = hasWeights(data.weights, this.n) ? data.weights : undefined;
    this.weightUnit = data.weightUnit ?? "pixels";
    this.k = data.classNames.length > 0 ? data.classNames.length : inferK(data.yTrue, data.yPred, this.n);
    this.names = Array.from({ length: this.k }, (_, i) => data.classNames[i] ?? String(i));
    this.warning =
      data.yTrue.length !== data.yPred.length
        ? `true labels (${formatInt(data.yTrue.length)}) and predictions (${formatInt(data.yPred.length)}) differ in length`
        : "";
    this.confusion = confusionCounts(this.yTrue, this.yPred, this.k, this.weights);
    if (this.sel.n !== this.n) this.sel = Bitmask.empty(this.n);
    this.buildTable();
    this.renderValues();
    this.renderSelection();
    this.root.removeAttribute("data-error");
    this.root.dataset.ready = "1";
  }

  /** Counts / row rates / column rates. */
  setNormalize(mode: Normalize): void {
    if (mode === this.mode) return;
    this.mode = mode;
    this.toolbar.setMode(mode);
    this.renderValues();
    if (this.hovered >= 0) this.showTooltip(this.table.cells[this.hovered]);
  }

  /** Detection thresholds to show (null hides the sliders). Never calls `onThresholds`. */
  setThresholds(t: Thresholds | null): void {
    this.toolbar.setThresholds(t);
  }

  /** A selection made elsewhere (Python, another view). Never calls `onSelect`. */
  setSelection(mask: Bitmask): void {
    const next = mask.n === this.n ? mask : Bitmask.fromBytes(mask.bits, this.n);
    if (next.equals(this.sel)) return;
    this.sel = next.clone();
    this.renderSelection();
  }

  /** Replace the matrix with an error message (e.g. undecodable data). */
  showError(message: string): void {
    this.table = { cells: [], rowHeads: [], colHeads: [] };
    this.scroll.replaceChildren(h("div", { class: "nbd-cm-error", "data-testid": "cm-error", role: "alert" }, message));
    this.root.dataset.error = "1";
    this.root.dataset.ready = "1";
  }

  destroy(): void {
    this.root.remove();
  }

  // ------------------------------------------------------------------ gestures

  private onModeClick(mode: Normalize): void {
    if (mode === this.mode) return;
    this.setNormalize(mode);
    this.opts.onNormalize?.(mode);
  }

  private targetOf(ev: Event): HTMLElement | null {
    const el = (ev.target as Element | null)?.closest?.("[data-kind]");
    return el instanceof HTMLElement && this.scroll.contains(el) ? el : null;
  }

  private onTableClick(ev: MouseEvent): void {
    const el = this.targetOf(ev);
    if (el) this.activate(el, isAdditive(ev));
  }

  private onTableKey(ev: KeyboardEvent): void {
    if (ev.key !== "Enter" && ev.key !== " ") return;
    const el = this.targetOf(ev);
    if (!el) return;
    ev.preventDefault();
    this.activate(el, isAdditive(ev));
  }

  /** A click on a cell or a header. */
  private activate(el: HTMLElement, additive: boolean): void {
    const t = Number(el.dataset.t);
    const p = Number(el.dataset.p);
    let target: Bitmask;
    let source: string;
    switch (el.dataset.kind) {
      case "cell":
        target = cellMask(this.yTrue, this.yPred, t, p);
        source = `cell:${t}:${p}`;
        break;
      case "row":
        target = trueMask(this.yTrue, this.yPred, t, this.k);
        source = `row:${t}`;
        break;
      case "col":
        target = predMask(this.yTrue, this.yPred, p, this.k);
        source = `col:${p}`;
        break;
      default:
        return;
    }
    const next = clickSelection(this.sel, target, additive);
    this.commit(next, next.isEmpty() ? "clear" : source);
  }

  private commit(next: Bitmask, source: string): void {
    this.sel = next;
    this.renderSelection();
    this.opts.onSelect?.(next, source);
  }

  // ------------------------------------------------------------------ rendering

  private buildTable(): void {
    const { k, names } = this;
    this.table = { cells: new Array(k * k), rowHeads: new Array(k), colHeads: new Array(k) };
    this.hovered = -1;
    this.hideTooltip();
    this.root.classList.remove("nbd-cm--l", "nbd-cm--m", "nbd-cm--s");
    this.root.classList.add(sizeClass(k));

    if (k === 0 || this.n === 0) {
      this.table = { cells: [], rowHeads: [], colHeads: [] }; // nothing to paint or hover
      this.scroll.replaceChildren(h("div", { class: "nbd-cm-empty" }, "No samples to show."));
      return;
    }
    const { table, ...parts } = buildTable(k, names);
    this.table = parts;
    this.scroll.replaceChildren(table);
  }

  private renderValues(): void {
    const { cells } = this.table;
    if (cells.length === 0) return;
    this.values = normalized(this.confusion, this.mode);
    paintValues(cells, this.k, this.confusion, this.values, this.mode);
  }

  private renderSelection(): void {
    const { k, sel } = this;
    this.perCell = selectedPerCell(this.yTrue, this.yPred, k, sel, this.weights);
    const any = !sel.isEmpty();
    this.root.classList.toggle("nbd-has-selection", any);
    if (this.table.cells.length > 0) paintSelection(this.table, k, this.confusion, this.perCell);
    this.renderStatus();
    if (this.hovered >= 0) this.showTooltip(this.table.cells[this.hovered]);
  }

  private renderStatus(): void {
    const count = this.sel.count();
    const parts: (string | Node)[] = [
      this.weights === undefined
        ? `${formatInt(count)} of ${formatInt(this.n)} selected`
        : `${formatInt(selectedWeight(this.sel, this.weights, this.n))} of ${formatInt(this.confusion.total + this.confusion.skipped)} ${this.weightUnit} selected`,
    ];
    if (count > 0) {
      const s = summarizeSelection(this.perCell, this.k);
      let where = "";
      if (s.trueClass !== null && s.predClass !== null) where = `true ${this.names[s.trueClass]}, predicted ${this.names[s.predClass]}`;
      else if (s.trueClass !== null) where = `true ${this.names[s.trueClass]}`;
      else if (s.predClass !== null) where = `predicted ${this.names[s.predClass]}`;
      else if (s.cells > 0) where = `${formatInt(s.cells)} cells`;
      if (where) parts[0] += ` — ${where}`;
    } else if (this.n > 0) {
      parts.push(h("span", { class: "nbd-cm-hint" }, " · click a cell, row or column; shift-click adds"));
    }
    if (this.confusion.skipped > 0) {
      parts.push(h("span", { class: "nbd-cm-hint" }, ` · ${formatInt(this.confusion.skipped)} without a label or prediction`));
    }
    if (this.warning) parts.push(h("span", { class: "nbd-cm-warn" }, ` · ${this.warning}`));
    this.statusEl.replaceChildren(...parts);
    this.statusEl.dataset.selectedCount = String(count);
  }

  // ------------------------------------------------------------------ hover

  private onHover(ev: Event): void {
    const el = this.targetOf(ev);
    if (!el || el.dataset.kind !== "cell") {
      this.hideTooltip();
      return;
    }
    this.showTooltip(el as HTMLTableCellElement);
  }

  /** The tooltip of cell `td`, its row and column headers marked. */
  private showTooltip(td: HTMLTableCellElement | undefined): void {
    if (!td) return;
    const t = Number(td.dataset.t);
    const p = Number(td.dataset.p);
    const idx = t * this.k + p;
    if (this.hovered !== idx) {
      this.clearHoverMarks();
      this.hovered = idx;
      this.table.rowHeads[t]?.classList.add("is-hover");
      this.table.colHeads[p]?.classList.add("is-hover");
    }
    this.tooltip.show(td, this.root, this.confusion, this.names, t, p, this.perCell[idx] ?? 0);
  }

  private clearHoverMarks(): void {
    for (const th of this.table.rowHeads) th?.classList.remove("is-hover");
    for (const th of this.table.colHeads) th?.classList.remove("is-hover");
  }

  private hideTooltip(): void {
    if (this.hovered >= 0) this.clearHoverMarks();
    this.hovered = -1;
    this.tooltip.hide();
  }
}
