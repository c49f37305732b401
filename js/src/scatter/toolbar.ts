/** The scatter's toolbar: the title, the pointer mode (pan / lasso / box), reset and clear. */

import { h } from "../shared/dom";
import { MODES, type Mode } from "./gestures";

const MODE_HELP: Record<Mode, string> = {
  pan: "Pan (drag) and zoom (wheel); shift-drag draws a lasso",
  lasso: "Lasso select: drag around points; shift adds",
  box: "Box select: drag a rectangle; shift adds",
};

export interface ScatterToolbarOptions {
  onMode: (mode: Mode) => void;
  onReset: () => void;
  onClear: () => void;
}

export class ScatterToolbar {
  readonly el: HTMLDivElement;
  private readonly titleEl: HTMLDivElement;
  private readonly modeButtons = {} as Record<Mode, HTMLButtonElement>;

  constructor(opts: ScatterToolbarOptions) {
    this.titleEl = h("div", { class: "nbd-title" });
    const group = h("div", { class: "nbd-seg", role: "group", "aria-label": "Pointer mode" });
    for (const mode of MODES) {
      const b = h("button", { type: "button", class: "nbd-btn", "data-testid": `sc-mode-${mode}`, "data-mode": mode, title: MODE_HELP[mode], "aria-pressed": "false" }, mode);
      b.addEventListener("click", () => opts.onMode(mode));
      this.modeButtons[mode] = b;
      group.append(b);
    }
    const reset = h("button", { type: "button", class: "nbd-btn", "data-testid": "sc-reset", title: "Show all points (double-click the plot)" }, "reset");
    reset.addEventListener("click", () => opts.onReset());
    const clear = h("button", { type: "button", class: "nbd-btn", "data-testid": "sc-clear", title: "Clear the selection" }, "clear");
    clear.addEventListener("click", () => opts.onClear());
    this.el = h("div", { class: "nbd-toolbar" }, this.titleEl, h("div", { class: "nbd-tools" }, group, reset, clear));
  }

  setTitle(title: string): void {
    this.titleEl.textContent = title;
    this.titleEl.hidden = title === "";
  }

  /** Show `mode` as the pressed one. */
  setMode(mode: Mode): void {
    for (const m of MODES) {
      const on = m === mode;
      this.modeButtons[m].setAttribute("aria-pressed", on ? "true" : "false");
      this.modeButtons[m].classList.toggle("is-active", on);
    }
  }
}
