/** The line under each grid cell: what the item is, and whether the model got it right. */

import { h } from "../shared/dom";
import { countBoxes, focusBox, shownBoxes, type BoxFilter } from "./boxes";
import type { ItemData } from "./loader";
import type { GridSettings } from "./settings";

export interface CaptionView {
  /** Nodes of the caption line. */
  parts: (Node | string)[];
  /** Tooltip text. */
  title: string;
  /** The cell's `data-status`: "right" / "wrong" (an image), "tp" / "fp" / "fn" / "ignored" (an
   *  object), or null. */
  status: string | null;
}

/**
 * - object rows: the class (and a prediction's score), and a TP / FP / FN chip from the own
 *   box's state at the current threshold;
 * - classification: the label, then a tick, or an arrow and the wrong prediction in red, and the
 *   confidence;
 * - detection images: the id and the image's FP / FN counts at the threshold (or GT / prediction
 *   counts without an evaluation);
 * - an unreadable image: its id.
 *
 * The tooltip also says why an image is flagged (dark, blurry, near duplicate ...): on sample rows
 * the kernel sends the `flag_reasons` of `compute_metrics` as `reasons` (one line per flag).
 */
export function caption(item: ItemData, s: GridSettings, filter: BoxFilter): CaptionView {
  const parts: (Node | string)[] = [];
  let status: string | null = item.status;
  const main = (text: string): HTMLSpanElement => h("span", { class: "nbd-grid-cap-main" }, text);
  if (s.level === "object") {
    const fb = focusBox(item.boxes);
    const state = fb ? shownBoxes([fb], { ...filter, showGt: true, showPred: true })[0]?.state : undefined;
    if (state === "tp" || state === "fp" || state === "fn" || state === "ignored") status = state;
    parts.push(main((item.kind === "pred" ? item.pred : item.label) ?? "—"));
    if (item.kind === "pred" && item.score !== null) parts.push(h("span", { class: "nbd-grid-cap-score" }, ` ${item.score.toFixed(2)}`));
    if (status && status !== "gt" && status !== "pred") parts.push(h("span", { class: `nbd-grid-chip is-${status}`, "data-testid": "grid-chip" }, status.toUpperCase()));
  } else if (item.error) {
    parts.push(main(item.id), h("span", { class: "nbd-grid-cap-counts" }, " unreadable"));
  } else if (item.pred !== null) {
    const wrong = status === "wrong";
    parts.push(main(item.label ?? "?"), h("span", { class: "nbd-grid-cap-arrow" }, wrong ? " → " : " ✓"));
    if (wrong) parts.push(h("span", { class: "nbd-grid-cap-pred is-wrong" }, item.pred));
    if (item.score !== null) parts.push(h("span", { class: "nbd-grid-cap-score" }, ` ${item.score.toFixed(2)}`));
  } else if (s.hasBoxes) {
    const c = countBoxes(item.boxes, filter.threshold, filter.hidden);
    const counts = s.hasEvaluation
      ? [c.fp ? `${c.fp} FP` : "", c.fn ? `${c.fn} FN` : "", !c.fp && !c.fn ? `${c.tp}/${c.gt} ✓` : ""]
      : [`${c.gt} GT`, s.hasPredictions ? `${c.pred} pred` : ""];
    parts.push(main(item.id), h("span", { class: "nbd-grid-cap-counts" }, " " + counts.filter(Boolean).join(" · ")));
    status = s.hasEvaluation ? (c.fp || c.fn ? "wrong" : "right") : null;
  } else {
    parts.push(main(item.label ?? item.id));
  }
  const title =
    item.id +
    (item.label ? ` · label ${item.label}` : "") +
    (item.pred ? ` · predicted ${item.pred}` : "") +
    (item.score !== null ? ` (${item.score.toFixed(3)})` : "") +
    flagReasons(item, s);
  return { parts, title, status };
}

/** Why a sample's image is flagged, as tooltip lines ("" when it is not, and on object rows). */
export function flagReasons(item: ItemData, s: GridSettings): string {
  if (s.level === "object" || !item.reasons) return "";
  return "\nflagged: " + item.reasons.split("; ").join("\nflagged: ");
}
