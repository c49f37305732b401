/**
 * The grid's toolbar (title, sort, confidence slider, GT / prediction / class toggles, colour
 * mode, thumbnail size, "selected only", clear) and its TP / FP / FN legend. Shows settings it
 * is given; reports what the user changes (DOM hooks: docs/dev/widget-protocol.md, "ImageGrid").
 */

import { h } from "../shared/dom";
import { classColor, STATE_COLORS, type ColorBy } from "./palette";
import { DEFAULT_SETTINGS, type GridSettings } from "./settings";

export interface ToolbarCallbacks {
  /** The user changed settings; `commit` is false while a slider is being dragged (show it, do
   *  not tell the kernel yet). */
  onChange(patch: Partial<GridSettings>, commit: boolean): void;
  /** The "clear" button. */
  onClear(): void;
}

export const THUMB_SIZES: [string, number][] = [
  ["S", 80],
  ["M", 128],
  ["L", 192],
  ["XL", 256],
];

export class GridToolbar {
  readonly el: HTMLDivElement;
  readonly legend: HTMLDivElement;
  private readonly cb: ToolbarCallbacks;
  private s: GridSettings = DEFAULT_SETTINGS;
  private hidden: ReadonlySet<number> = new Set();
  private readonly titleEl: HTMLDivElement;
  private readonly sortSelect: HTMLSelectElement;
  private readonly sortDir: HTMLButtonElement;
  private readonly thresholdBox: HTMLLabelElement;
  private readonly threshold: HTMLInputElement;
  private readonly thresholdValue: HTMLSpanElement;
  private readonly toggleBox: HTMLSpanElement;
  private readonly showGt: HTMLInputElement;
  private readonly showPred: HTMLInputElement;
  private readonly showPredLabel: HTMLLabelElement;
  private readonly maskBox: HTMLSpanElement;
  private readonly showMasks: HTMLInputElement;
  private readonly showBoxes: HTMLInputElement;
  private readonly opacity: HTMLInputElement;
  private readonly classesButton: HTMLButtonElement;
  private readonly classesMenu: HTMLDivElement;
  private readonly colorBy: HTMLSelectElement;
  private readonly colorByLabel: HTMLLabelElement;
  private readonly sizeSelect: HTMLSelectElement;
  private readonly onlyButton: HTMLButtonElement;
  private readonly clearButton: HTMLButtonElement;

  constructor(cb: ToolbarCallbacks) {
    this.cb = cb;
    this.titleEl = h("div", { class: "nbd-grid-title" });
    this.sortSelect = h("select", { class: "nbd-grid-select", "data-testid": "grid-sort", title: "Sort by a column" });
    this.sortSelect.addEventListener("change", () => this.cb.onChange({ sortBy: this.sortSelect.value || null }, true));
    this.sortDir = h("button", { type: "button", class: "nbd-grid-btn", "data-testid": "grid-sort-dir", title: "Ascending / descending" });
    this.sortDir.addEventListener("click", () => this.cb.onChange({ ascending: !this.s.ascending }, true));

    this.threshold = h("input", { type: "range", min: 0, max: 1, step: 0.01, value: 0, class: "nbd-grid-range", "data-testid": "grid-threshold", "aria-label": "Confidence threshold" });
    this.thresholdValue = h("span", { class: "nbd-grid-value", "data-testid": "grid-threshold-value" }, "0.00");
    this.threshold.addEventListener("input", () => this.cb.onChange({ threshold: Number(this.threshold.value) }, false));
    this.threshold.addEventListener("change", () => this.cb.onChange({ threshold: Number(this.threshold.value) }, true));
    this.thresholdBox = h("label", { class: "nbd-grid-field", title: "Hide predictions scoring below this confidence" }, "score ≥", this.threshold, this.thresholdValue);

    this.showGt = h("input", { type: "checkbox", "data-testid": "grid-show-gt", checked: true });
    this.showPred = h("input", { type: "checkbox", "data-testid": "grid-show-pred", checked: true });
    this.showGt.addEventListener("change", () => this.cb.onChange({ showGt: this.showGt.checked }, true));
    this.showPred.addEventListener("change", () => this.cb.onChange({ showPred: this.showPred.checked }, true));
    this.showPredLabel = h("label", { class: "nbd-grid-check", title: "Show predicted boxes (dashed)" }, this.showPred, "pred");
    this.toggleBox = h(
      "span",
      { class: "nbd-grid-field" },
      h("label", { class: "nbd-grid-check", title: "Show ground-truth boxes" }, this.showGt, "GT"),
      this.showPredLabel,
    );

    // masks: draw masks / boxes, and the masks' fill opacity (live while dragging)
    this.showMasks = h("input", { type: "checkbox", "data-testid": "grid-show-masks", checked: true });
    this.showBoxes = h("input", { type: "checkbox", "data-testid": "grid-show-boxes", checked: true });
    this.showMasks.addEventListener("change", () => this.cb.onChange({ showMasks: this.showMasks.checked }, true));
    this.showBoxes.addEventListener("change", () => this.cb.onChange({ showBoxes: this.showBoxes.checked }, true));
    this.opacity = h("input", { type: "range", min: 0, max: 1, step: 0.05, value: 0.45, class: "nbd-grid-range nbd-grid-range--short", "data-testid": "grid-mask-opacity", "aria-label": "Mask opacity" });
    this.opacity.addEventListener("input", () => this.cb.onChange({ maskOpacity: Number(this.opacity.value) }, false));
    this.opacity.addEventListener("change", () => this.cb.onChange({ maskOpacity: Number(this.opacity.value) }, true));
    this.maskBox = h(
      "span",
      { class: "nbd-grid-field", "data-testid": "grid-mask-tools" },
      h("label", { class: "nbd-grid-check", title: "Draw masks (GT and predictions follow the GT / pred toggles)" }, this.showMasks, "masks"),
      h("label", { class: "nbd-grid-check", title: "Draw boxes" }, this.showBoxes, "boxes"),
      h("label", { class: "nbd-grid-check", title: "Mask fill opacity" }, "opacity", this.opacity),
    );

    this.classesMenu = h("div", { class: "nbd-grid-menu", "data-testid": "grid-classes-menu", hidden: true, role: "menu" });
    this.classesButton = h("button", { type: "button", class: "nbd-grid-btn", "data-testid": "grid-classes", "aria-haspopup": "true", title: "Show / hide classes" }, "classes ▾");
    this.classesButton.addEventListener("click", (ev) => {
      ev.stopPropagation();
      this.classesMenu.hidden = !this.classesMenu.hidden;
    });
    this.classesMenu.addEventListener("change", (ev) => this.onClassToggle(ev));
    this.classesMenu.addEventListener("click", (ev) => ev.stopPropagation());

    this.colorBy = h("select", { class: "nbd-grid-select", "data-testid": "grid-color-by" });
    for (const [v, label] of [
      ["match", "TP / FP / FN"],
      ["class", "class"],
    ]) this.colorBy.append(h("option", { value: v }, label));
    this.colorBy.addEventListener("change", () => this.cb.onChange({ colorBy: this.colorBy.value as ColorBy }, true));
    this.colorByLabel = h("label", { class: "nbd-grid-field", title: "Colour boxes by class or by match status" }, "colour", this.colorBy);

    this.sizeSelect = h("select", { class: "nbd-grid-select", "data-testid": "grid-size", title: "Thumbnail size" });
    for (const [label, px] of THUMB_SIZES) this.sizeSelect.append(h("option", { value: px }, label));
    this.sizeSelect.addEventListener("change", () => this.cb.onChange({ thumbSize: Number(this.sizeSelect.value) }, true));

    this.onlyButton = h("button", { type: "button", class: "nbd-grid-btn", "data-testid": "grid-selected-only", "aria-pressed": "false", title: "Show only the selection (made here or in a linked view)" }, "selected only");
    this.onlyButton.addEventListener("click", () => this.cb.onChange({ selectedOnly: !this.s.selectedOnly }, true));
    this.clearButton = h("button", { type: "button", class: "nbd-grid-btn", "data-testid": "grid-clear", title: "Clear the selection" }, "clear");
    this.clearButton.addEventListener("click", () => this.cb.onClear());

    const tools = h(
      "div",
      { class: "nbd-grid-tools" },
      h("label", { class: "nbd-grid-field" }, "sort", this.sortSelect, this.sortDir),
      this.thresholdBox,
      this.toggleBox,
      this.maskBox,
      h("span", { class: "nbd-grid-popover" }, this.classesButton, this.classesMenu),
      this.colorByLabel,
      h("label", { class: "nbd-grid-field" }, "size", this.sizeSelect),
      this.onlyButton,
      this.clearButton,
    );
    this.legend = h("div", { class: "nbd-grid-legend", "data-testid": "grid-legend" });
    this.el = h("div", { class: "nbd-grid-toolbar" }, this.titleEl, tools);
    document.addEventListener("click", this.onDocClick);
  }

  /** Show `s` (`hidden`: the codes of the hidden classes). Never calls back. */
  render(s: GridSettings, hidden: ReadonlySet<number>): void {
    this.s = s;
    this.hidden = hidden;
    this.titleEl.textContent = s.title;
    this.titleEl.title = s.title;
    this.titleEl.hidden = s.title === "";
    // sort
    const want = ["", ...s.sortOptions];
    const have = [...this.sortSelect.options].map((o) => o.value);
    if (want.join("\u0000") !== have.join("\u0000")) {
      this.sortSelect.replaceChildren(...want.map((v) => h("option", { value: v }, v === "" ? "dataset order" : v)));
    }
    this.sortSelect.value = s.sortBy ?? "";
    this.sortDir.textContent = s.ascending ? "↑" : "↓";
    this.sortDir.setAttribute("aria-label", s.ascending ? "ascending" : "descending");
    this.sortDir.dataset.ascending = s.ascending ? "1" : "0";
    // boxes
    this.thresholdBox.hidden = !s.hasPredictions || s.task === "semantic";
    if (Number(this.threshold.value) !== s.threshold) this.threshold.value = String(s.threshold);
    this.thresholdValue.textContent = s.threshold.toFixed(2);
    this.toggleBox.hidden = !s.hasBoxes && !s.hasMasks;
    this.showPredLabel.hidden = !s.hasPredictions;
    this.showGt.checked = s.showGt;
    this.showPred.checked = s.showPred;
    this.maskBox.hidden = !s.hasMasks;
    this.showMasks.checked = s.showMasks;
    this.showBoxes.checked = s.showBoxes;
    if (Number(this.opacity.value) !== s.maskOpacity) this.opacity.value = String(s.maskOpacity);
    this.classesButton.parentElement!.hidden = !s.hasBoxes || s.classNames.length === 0;
    this.renderClassesMenu();
    this.colorByLabel.hidden = !s.hasEvaluation;
    this.colorBy.value = s.colorBy;
    // size
    const sizeValues = THUMB_SIZES.map(([, px]) => px);
    if (!sizeValues.includes(s.thumbSize)) {
      if (![...this.sizeSelect.options].some((o) => Number(o.value) === s.thumbSize)) this.sizeSelect.append(h("option", { value: s.thumbSize }, `${s.thumbSize}px`));
    }
    this.sizeSelect.value = String(s.thumbSize);
    this.onlyButton.setAttribute("aria-pressed", s.selectedOnly ? "true" : "false");
    this.onlyButton.classList.toggle("is-active", s.selectedOnly);
    this.renderLegend();
  }

  private renderClassesMenu(): void {
    const s = this.s;
    const items = this.classesMenu.querySelectorAll("input");
    if (items.length !== s.classNames.length || [...items].some((el, i) => el.dataset.name !== s.classNames[i])) {
      const all = h("button", { type: "button", class: "nbd-grid-btn nbd-grid-menu-all", "data-testid": "grid-classes-all" }, "all");
      all.addEventListener("click", () => this.cb.onChange({ hiddenClasses: [] }, true));
      const none = h("button", { type: "button", class: "nbd-grid-btn nbd-grid-menu-all", "data-testid": "grid-classes-none" }, "none");
      none.addEventListener("click", () => this.cb.onChange({ hiddenClasses: [...this.s.classNames] }, true));
      this.classesMenu.replaceChildren(
        h("div", { class: "nbd-grid-menu-head" }, all, none),
        ...s.classNames.map((name, i) => {
          const box = h("input", { type: "checkbox", "data-testid": `grid-class-${i}`, "data-name": name });
          const swatch = h("span", { class: "nbd-grid-swatch" });
          swatch.style.background = classColor(i);
          return h("label", { class: "nbd-grid-menu-item", title: name }, box, swatch, name);
        }),
      );
    }
    this.classesMenu.querySelectorAll("input").forEach((el, i) => {
      el.checked = !this.hidden.has(i);
    });
    const nHidden = this.hidden.size;
    this.classesButton.textContent = nHidden ? `classes (${s.classNames.length - nHidden}/${s.classNames.length}) ▾` : "classes ▾";
  }

  private renderLegend(): void {
    const s = this.s;
    const show = s.hasEvaluation && s.colorBy === "match";
    this.legend.hidden = !show;
    if (!show) return;
    const sw = (color: string, label: string, dashed: boolean): HTMLSpanElement => {
      const b = h("span", { class: dashed ? "nbd-grid-swatch is-dashed" : "nbd-grid-swatch" });
      b.style.borderColor = color;
      return h("span", { class: "nbd-grid-legend-item" }, b, label);
    };
    this.legend.replaceChildren(
      sw(STATE_COLORS.tp, "TP", false),
      sw(STATE_COLORS.fp, "FP (prediction)", true),
      sw(STATE_COLORS.fn, "FN (missed GT)", false),
      h("span", { class: "nbd-grid-hint" }, "ground truth solid, predictions dashed"),
    );
  }

  private onClassToggle(ev: Event): void {
    const input = ev.target as HTMLInputElement;
    const name = input.dataset.name;
    if (name === undefined) return;
    const hidden = new Set(this.s.hiddenClasses);
    if (input.checked) hidden.delete(name);
    else hidden.add(name);
    this.cb.onChange({ hiddenClasses: this.s.classNames.filter((c) => hidden.has(c)) }, true);
  }

  private readonly onDocClick = (ev: MouseEvent): void => {
    if (!this.classesMenu.hidden && !this.classesMenu.contains(ev.target as Node)) this.classesMenu.hidden = true;
  };

  destroy(): void {
    document.removeEventListener("click", this.onDocClick);
    this.el.remove();
    this.legend.remove();
  }
}
