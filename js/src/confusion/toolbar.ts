/**
 * The confusion matrix's toolbar: the title, the normalise toggle (counts / true / pred), clear,
 * and for detection the IoU and score threshold sliders.
 */

import { h } from "../shared/dom";
import { NORMALIZE_MODES, type Normalize } from "./matrix";

/** Detection thresholds shown in the toolbar (null: classification, no sliders). */
export interface Thresholds {
  iou: number;
  score: number;
}

export interface ConfusionToolbarOptions {
  /** A normalise button was clicked. */
  onMode: (mode: Normalize) => void;
  onClear: () => void;
  /** A threshold slider was released. */
  onThresholds: (iou: number, score: number) => void;
}

const MODE_LABEL: Record<Normalize, string> = { none: "counts", true: "true", pred: "pred" };
const MODE_HELP: Record<Normalize, string> = {
  none: "Show counts",
  true: "Normalise over the true class: each row sums to 100% (recall on the diagonal)",
  pred: "Normalise over the predicted class: each column sums to 100% (precision on the diagonal)",
};

export class ConfusionToolbar {
  readonly el: HTMLDivElement;
  private readonly titleEl: HTMLDivElement;
  private readonly modeButtons = {} as Record<Normalize, HTMLButtonElement>;
  private readonly thresholdsEl: HTMLDivElement;
  private readonly iouInput: HTMLInputElement;
  private readonly iouValue: HTMLSpanElement;
  private readonly scoreInput: HTMLInputElement;
  private readonly scoreValue: HTMLSpanElement;

  constructor(opts: ConfusionToolbarOptions) {
    this.titleEl = h("div", { class: "nbd-cm-title" });

    const group = h("div", { class: "nbd-cm-seg", role: "group", "aria-label": "Normalise" });
    for (const mode of NORMALIZE_MODES) {
      const b = h(
        "button",
        { type: "button", class: "nbd-cm-btn", "data-testid": `cm-normalize-${mode}`, "data-mode": mode, title: MODE_HELP[mode], "aria-pressed": "false" },
        MODE_LABEL[mode],
      );
      b.addEventListener("click", () => opts.onMode(mode));
      this.modeButtons[mode] = b;
      group.append(b);
    }
    const clearButton = h("button", { type: "button", class: "nbd-cm-btn nbd-cm-clear", "data-testid": "cm-clear", title: "Clear the selection" }, "clear");
    clearButton.addEventListener("click", () => opts.onClear());

    // detection only: the evaluation's IoU and score thresholds (hidden for classification)
    const slider = (name: string, min: number, step: number, help: string): [HTMLInputElement, HTMLSpanElement, HTMLLabelElement] => {
      const input = h("input", { type: "range", min, max: 1, step, class: "nbd-cm-range", "data-testid": `cm-${name}`, "aria-label": help });
      const value = h("span", { class: "nbd-cm-range-value", "data-testid": `cm-${name}-value` });
      input.addEventListener("input", () => {
        value.textContent = Number(input.value).toFixed(2);
      });
      input.addEventListener("change", () => opts.onThresholds(Number(this.iouInput.value), Number(this.scoreInput.value)));
      return [input, value, h("label", { class: "nbd-cm-tools-label nbd-cm-threshold", title: help }, `${name} ≥`, input, value)];
    };
    const [iouInput, iouValue, iouLabel] = slider("iou", 0.05, 0.05, "IoU threshold: a prediction matches a ground truth with at least this overlap");
    const [scoreInput, scoreValue, scoreLabel] = slider("score", 0, 0.01, "Score threshold: predictions below it are ignored");
    this.iouInput = iouInput;
    this.iouValue = iouValue;
    this.scoreInput = scoreInput;
    this.scoreValue = scoreValue;
    this.thresholdsEl = h("div", { class: "nbd-cm-tools nbd-cm-thresholds", "data-testid": "cm-thresholds", hidden: true }, iouLabel, scoreLabel);

    this.el = h(
      "div",
      { class: "nbd-cm-toolbar" },
      this.thresholdsEl,
      this.titleEl,
      h("div", { class: "nbd-cm-tools" }, h("span", { class: "nbd-cm-tools-label" }, "normalise"), group, clearButton),
    );
  }

  setTitle(title: string): void {
    this.titleEl.textContent = title;
    this.titleEl.title = title;
    this.titleEl.hidden = title === "";
  }

  /** Show `mode` as the pressed button. */
  setMode(mode: Normalize): void {
    for (const m of NORMALIZE_MODES) {
      const b = this.modeButtons[m];
      const on = m === mode;
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.classList.toggle("is-active", on);
    }
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
}
