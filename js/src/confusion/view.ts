/**
 * The confusion matrix's DOM: toolbar (title, normalise toggle, clear), a K x K table with class
 * headers and axis captions, a status line and a hover tooltip. Knows nothing about the widget
 * model: it takes data / mode / selection through setters and reports gestures through callbacks
 * (see `widgets/confusion_matrix.ts` for the wiring).
 *
 * DOM hooks are the protocol's (docs/dev/widget-protocol.md, "ConfusionMatrix").
 */

import { h, isAdditive } from "../dom";
import { Bitmask, clickSelection } from "../selection";
import {
  cellFill,
  cellMask,
  colRate,
  confusionCounts,
  formatInt,
  formatPercent,
  formatValue,
  normalized,
  NORMALIZE_MODES,
  predMask,
  rowCount,
  rowRate,
  scaleMaxima,
  selectedPerCell,
  summarizeSelection,
  textColorOn,
  trueMask,
  type Confusion,
  type Normalize,
} from "./matrix";
import { MISSING_CODE } from "../codecs";

export interface ConfusionData {
  /** uint16 true-class code per row. */
  yTrue: Uint16Array;
  /** uint16 predicted-class code per row. */
  yPred: Uint16Array;
  /** The K class names, in code order. */
  classNames: readonly string[];
}

export interface ConfusionViewOptions {
  /** A click changed the selection (`source`: "cell:t:p", "row:t", "col:p" or "clear"). */
  onSelect?: (mask: Bitmask, source: string) => void;
  /** The normalise toggle was clicked. */
  onNormalize?: (mode: Normalize) => void;
  /** Detection: an IoU / score threshold slider was released. */
  onThresholds?: (iou: number, score: number) => void;
}

/** Detection thresholds shown in the toolbar (null: classification, no sliders). */
export interface Thresholds {
  iou: number;
  score: number;
}

const MODE_LABEL: Record<Normalize, string> = { none: "counts", true: "true", pred: "pred" };
const MODE_HELP: Record<Normalize, string> = {
  none: "Show counts",
  true: "Normalise over the true class: each row sums to 100% (recall on the diagonal)",
  pred: "Normalise over the predicted class: each column sums to 100% (precision on the diagonal)",
};

/** Matrices up to this size get focusable (keyboard-clickable) cells. */
const FOCUSABLE_CELLS_MAX_K = 20;

function sizeClass(k: number): string {
  if (k <= 12) return "nbd-cm--l";
  if (k <= 30) return "nbd-cm--m";
  return "nbd-cm--s";
}

/** K when no class names came: the largest valid code + 1. */
function inferK(yTrue: Uint16Array, yPred: Uint16Array, n: number): number {
  let max = -1;
  for (let r = 0; r < n; r++) {
    if (yTrue[r] !== MISSING_CODE && yTrue[r] > max) max = yTrue[r];
    if (yPred[r] !== MISSING_CODE && yPred[r] > max) max = yPred[r];
  }
  return max + 1;
}

export class ConfusionMatrixView {
  /** `[data-testid=nbdiag-confusion-matrix]` */
  readonly root: HTMLDivElement;

  private readonly opts: ConfusionViewOptions;
  private readonly titleEl: HTMLDivElement;
  private readonly modeButtons: Record<Normalize, HTMLButtonElement>;
  private readonly clearButton: HTMLButtonElement;
  private readonly scroll: HTMLDivElement;
  private readonly statusEl: HTMLDivElement;
  private readonly tooltip: HTMLDivElement;
  private readonly thresholdsEl: HTMLDivElement;
  private readonly iouInput: HTMLInputElement;
  private readonly iouValue: HTMLSpanElement;
  private readonly scoreInput: HTMLInputElement;
  private readonly scoreValue: HTMLSpanElement;

  private yTrue: Uint16Array = new Uint16Array(0);
  private yPred: Uint16Array = new Uint16Array(0);
  private names: string[] = [];
  private k = 0;
  private n = 0;
  private confusion: Confusion = confusionCounts(this.yTrue, this.yPred, 0);
  private values: Float64Array = new Float64Array(0);
  private mode: Normalize = "none";
  private sel: Bitmask = Bitmask.empty(0);
  private perCell: Uint32Array = new Uint32Array(0);
  private warning = "";

  private cells: HTMLTableCellElement[] = [];
  private rowHeads: HTMLTableCellElement[] = [];
  private colHeads: HTMLTableCellElement[] = [];
  private hovered = -1;

  constructor(host: HTMLElement, opts: ConfusionViewOptions = {}) {
    this.opts = opts;
    this.titleEl = h("div", { class: "nbd-cm-title" });

    const group = h("div", { class: "nbd-cm-seg", role: "group", "aria-label": "Normalise" });
    this.modeButtons = {} as Record<Normalize, HTMLButtonElement>;
    for (const mode of NORMALIZE_MODES) {
      const b = h(
        "button",
        { type: "button", class: "nbd-cm-btn", "data-testid": `cm-normalize-${mode}`, "data-mode": mode, title: MODE_HELP[mode], "aria-pressed": "false" },
        MODE_LABEL[mode],
      );
      b.addEventListener("click", () => this.onModeClick(mode));
      this.modeButtons[mode] = b;
      group.append(b);
    }
    this.clearButton = h("button", { type: "button", class: "nbd-cm-btn nbd-cm-clear", "data-testid": "cm-clear", title: "Clear the selection" }, "clear");
    this.clearButton.addEventListener("click", () => this.onClearClick());

    // detection only: the evaluation's IoU and score thresholds (hidden for classification)
    const slider = (name: string, min: number, step: number, help: string): [HTMLInputElement, HTMLSpanElement, HTMLLabelElement] => {
      const input = h("input", { type: "range", min, max: 1, step, class: "nbd-cm-range", "data-testid": `cm-${name}`, "aria-label": help });
      const value = h("span", { class: "nbd-cm-range-value", "data-testid": `cm-${name}-value` });
      input.addEventListener("input", () => {
        value.textContent = Number(input.value).toFixed(2);
      });
      input.addEventListener("change", () => this.opts.onThresholds?.(Number(this.iouInput.value), Number(this.scoreInput.value)));
      return [input, value, h("label", { class: "nbd-cm-tools-label nbd-cm-threshold", title: help }, `${name} ≥`, input, value)];
    };
    const [iouInput, iouValue, iouLabel] = slider("iou", 0.05, 0.05, "IoU threshold: a prediction matches a ground truth with at least this overlap");
    const [scoreInput, scoreValue, scoreLabel] = slider("score", 0, 0.01, "Score threshold: predictions below it are ignored");
    this.iouInput = iouInput;
    this.iouValue = iouValue;
    this.scoreInput = scoreInput;
    this.scoreValue = scoreValue;
    this.thresholdsEl = h("div", { class: "nbd-cm-tools nbd-cm-thresholds", "data-testid": "cm-thresholds", hidden: true }, iouLabel, scoreLabel);

    const toolbar = h(
      "div",
      { class: "nbd-cm-toolbar" },
      this.thresholdsEl,
      this.titleEl,
      h("div", { class: "nbd-cm-tools" }, h("span", { class: "nbd-cm-tools-label" }, "normalise"), group, this.clearButton),
    );

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
    this.tooltip = h("div", { class: "nbd-cm-tooltip", "data-testid": "cm-tooltip", role: "tooltip", hidden: true });

    this.root = h("div", { class: "nbd-cm", "data-testid": "nbdiag-confusion-matrix" }, toolbar, body, this.statusEl, this.tooltip);
    host.append(this.root);
    this.renderMode();
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
    this.titleEl.textContent = title;
    this.titleEl.title = title;
    this.titleEl.hidden = title === "";
  }

  /**
   * New rows / classes: rebuilds the table. The selection is kept when the row count is the
   * same, cleared otherwise.
   */
  setData(data: ConfusionData): void {
    this.yTrue = data.yTrue;
    this.yPred = data.yPred;
    this.n = rowCount(data.yTrue, data.yPred);
    this.k = data.classNames.length > 0 ? data.classNames.length : inferK(data.yTrue, data.yPred, this.n);
    this.names = Array.from({ length: this.k }, (_, i) => data.classNames[i] ?? String(i));
    this.warning =
      data.yTrue.length !== data.yPred.length
        ? `true labels (${formatInt(data.yTrue.length)}) and predictions (${formatInt(data.yPred.length)}) differ in length`
        : "";
    this.confusion = confusionCounts(this.yTrue, this.yPred, this.k);
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
    this.renderMode();
    this.renderValues();
    if (this.hovered >= 0) this.showTooltip(this.cells[this.hovered]);
  }

  /** Detection thresholds to show (null hides the sliders). Never calls `onThresholds`. */
  setThresholds(t: Thresholds | null): void {
    this.thresholdsEl.hidden = t === null;
    if (t === null) return;
    this.iouInput.value = String(t.iou);
    this.iouValue.textContent = t.iou.toFixed(2);
    this.scoreInput.value = String(t.score);
    this.scoreValue.textContent = t.score.toFixed(2);
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
    this.cells = [];
    this.rowHeads = [];
    this.colHeads = [];
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

  private onClearClick(): void {
    this.commit(Bitmask.empty(this.n), "clear");
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

  private renderMode(): void {
    for (const mode of NORMALIZE_MODES) {
      const b = this.modeButtons[mode];
      const on = mode === this.mode;
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.classList.toggle("is-active", on);
    }
  }

  private buildTable(): void {
    const { k, names } = this;
    this.cells = new Array(k * k);
    this.rowHeads = new Array(k);
    this.colHeads = new Array(k);
    this.hovered = -1;
    this.hideTooltip();
    this.root.classList.remove("nbd-cm--l", "nbd-cm--m", "nbd-cm--s");
    this.root.classList.add(sizeClass(k));

    if (k === 0 || this.n === 0) {
      this.scroll.replaceChildren(h("div", { class: "nbd-cm-empty" }, "No samples to show."));
      return;
    }
    const focusable = k <= FOCUSABLE_CELLS_MAX_K;
    const headRow = h("tr", {}, h("th", { class: "nbd-cm-corner", scope: "col" }));
    for (let p = 0; p < k; p++) {
      const th = h(
        "th",
        { class: "nbd-cm-colhead", scope: "col", "data-testid": `cm-col-${p}`, "data-kind": "col", "data-p": p, title: names[p], tabindex: 0 },
        h("span", { class: "nbd-cm-label" }, names[p]),
      );
      this.colHeads[p] = th;
      headRow.append(th);
    }
    const tbody = h("tbody");
    for (let t = 0; t < k; t++) {
      const th = h(
        "th",
        { class: "nbd-cm-rowhead", scope: "row", "data-testid": `cm-row-${t}`, "data-kind": "row", "data-t": t, title: names[t], tabindex: 0 },
        h("span", { class: "nbd-cm-label" }, names[t]),
      );
      this.rowHeads[t] = th;
      const tr = h("tr", {}, th);
      for (let p = 0; p < k; p++) {
        const td = h("td", {
          class: t === p ? "nbd-cm-cell is-diag" : "nbd-cm-cell",
          "data-testid": `cm-cell-${t}-${p}`,
          "data-kind": "cell",
          "data-t": t,
          "data-p": p,
          tabindex: focusable ? 0 : null,
        });
        this.cells[t * k + p] = td;
        tr.append(td);
      }
      tbody.append(tr);
    }
    const table = h(
      "table",
      { class: "nbd-cm-table", "aria-label": "Confusion matrix: rows are true labels, columns are predictions" },
      h("thead", {}, headRow),
      tbody,
    );
    this.scroll.replaceChildren(table);
  }

  private renderValues(): void {
    const { k, cells, mode } = this;
    if (cells.length === 0) return;
    const counts = this.confusion.counts;
    this.values = normalized(this.confusion, mode);
    const max = scaleMaxima(this.values, k);
    for (let t = 0; t < k; t++) {
      for (let p = 0; p < k; p++) {
        const idx = t * k + p;
        const td = cells[idx];
        const v = this.values[idx];
        const fill = cellFill(v, t === p ? max.diagonal : max.offDiagonal, t === p);
        td.textContent = formatValue(v, mode);
        td.dataset.count = String(counts[idx]);
        td.dataset.value = String(v);
        td.style.backgroundColor = fill ?? "";
        td.style.color = fill ? textColorOn(fill) : "";
        td.classList.toggle("is-zero", counts[idx] === 0);
      }
    }
  }

  private renderSelection(): void {
    const { k, cells, sel } = this;
    const counts = this.confusion.counts;
    this.perCell = selectedPerCell(this.yTrue, this.yPred, k, sel);
    const any = !sel.isEmpty();
    this.root.classList.toggle("nbd-has-selection", any);
    if (cells.length > 0) {
      const rowSel = new Uint32Array(k);
      const colSel = new Uint32Array(k);
      for (let t = 0; t < k; t++) {
        for (let p = 0; p < k; p++) {
          const idx = t * k + p;
          const s = this.perCell[idx];
          rowSel[t] += s;
          colSel[p] += s;
          const state = s === 0 ? null : s === counts[idx] ? "full" : "partial";
          const td = cells[idx];
          if ((td.dataset.selected ?? null) !== state) {
            if (state === null) td.removeAttribute("data-selected");
            else td.dataset.selected = state;
            td.classList.toggle("is-selected", state !== null);
            td.setAttribute("aria-selected", state !== null ? "true" : "false");
          }
        }
      }
      for (let i = 0; i < k; i++) {
        const rowFull = rowSel[i] > 0 && rowSel[i] === this.confusion.rowTotals[i];
        const colFull = colSel[i] > 0 && colSel[i] === this.confusion.colTotals[i];
        this.rowHeads[i].classList.toggle("is-selected", rowFull);
        this.colHeads[i].classList.toggle("is-selected", colFull);
      }
    }
    this.renderStatus();
    if (this.hovered >= 0) this.showTooltip(cells[this.hovered]);
  }

  private renderStatus(): void {
    const count = this.sel.count();
    const parts: (string | Node)[] = [`${formatInt(count)} of ${formatInt(this.n)} selected`];
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

  // ------------------------------------------------------------------ tooltip

  private onHover(ev: Event): void {
    const el = this.targetOf(ev);
    if (!el || el.dataset.kind !== "cell") {
      this.hideTooltip();
      return;
    }
    this.showTooltip(el as HTMLTableCellElement);
  }

  private showTooltip(td: HTMLTableCellElement | undefined): void {
    if (!td) return;
    const t = Number(td.dataset.t);
    const p = Number(td.dataset.p);
    const { k, names, confusion: c } = this;
    const idx = t * k + p;
    if (this.hovered !== idx) {
      this.clearHoverMarks();
      this.hovered = idx;
      this.rowHeads[t]?.classList.add("is-hover");
      this.colHeads[p]?.classList.add("is-hover");
    }
    const selected = this.perCell[idx] ?? 0;
    const line = (label: string, value: string): HTMLDivElement =>
      h("div", { class: "nbd-cm-tt-row" }, h("span", { class: "nbd-cm-tt-key" }, label), h("span", { class: "nbd-cm-tt-val" }, value));
    const rows: HTMLElement[] = [
      line("true", names[t]),
      line("predicted", names[p]),
      line("count", formatInt(c.counts[idx])),
      line(`of true ${names[t]}`, formatPercent(rowRate(c, t, p))),
      line(`of predicted ${names[p]}`, formatPercent(colRate(c, t, p))),
    ];
    if (selected > 0) rows.push(line("selected", formatInt(selected)));
    this.tooltip.replaceChildren(...rows);
    this.tooltip.classList.toggle("is-error", t !== p);
    this.tooltip.hidden = false;

    // place it beside the cell, inside the root, flipping left when it would overflow
    const rr = this.root.getBoundingClientRect();
    const cr = td.getBoundingClientRect();
    const tw = this.tooltip.offsetWidth;
    let left = cr.right - rr.left + 6;
    if (tw > 0 && left + tw > rr.width) left = Math.max(0, cr.left - rr.left - tw - 6);
    this.tooltip.style.left = `${Math.round(left)}px`;
    // keep it inside the root vertically too: output areas clip what overflows them
    const th = this.tooltip.offsetHeight;
    let top = cr.top - rr.top;
    if (th > 0 && top + th > rr.height) top = Math.max(0, rr.height - th);
    this.tooltip.style.top = `${Math.round(top)}px`;
  }

  private clearHoverMarks(): void {
    for (const th of this.rowHeads) th?.classList.remove("is-hover");
    for (const th of this.colHeads) th?.classList.remove("is-hover");
  }

  private hideTooltip(): void {
    if (this.hovered >= 0) this.clearHoverMarks();
    this.hovered = -1;
    this.tooltip.hidden = true;
  }
}
