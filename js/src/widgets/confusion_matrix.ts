/**
 * anywidget entry of `nbdiag.ConfusionMatrix` (bundled to `nbdiag/static/confusion_matrix.js`).
 *
 * Wires the model's traits (docs/dev/widget-protocol.md) to {@link ConfusionMatrixView}: reads the
 * code columns, class names, mode and title; writes `normalize`. The selection goes through a
 * {@link SelectionBinding}: the own `_selection` + `_selection_source` (debounced, in one
 * `save_changes()`), or the shared selection when the matrix is linked to other views.
 */

import "../shared/theme.css";
import "../confusion/confusion_matrix.css";

import type { RenderProps } from "@anywidget/types";

import { asUint16, asUint32 } from "../shared/codecs";
import { ConfusionMatrixView } from "../confusion/view";
import { parseNormalize } from "../confusion/matrix";
import { SelectionBinding, type SelectionTraits } from "../shared/link/binding";

/** The synced traits, as the front end sees them. */
export interface ConfusionMatrixTraits extends SelectionTraits {
  n_rows: number;
  _selection: DataView | null;
  _selection_source: string;
  class_names: string[];
  _y_true: DataView | null;
  _y_pred: DataView | null;
  /** uint32 weight of each row (semantic: the pixels of an (image, true, predicted) row); empty: 1 */
  _weights?: DataView | null;
  normalize: string;
  title: string;
  /** detection: rows are box pairs; the evaluation's thresholds are live */
  _detection?: boolean;
  iou_threshold?: number;
  score_threshold?: number;
}

/** Browser -> kernel selection writes are coalesced over this many ms. */
export const SELECTION_DEBOUNCE_MS = 150;

const DATA_EVENTS = ["change:_y_true", "change:_y_pred", "change:_weights", "change:class_names"] as const;

function render({ model, el }: Pick<RenderProps<ConfusionMatrixTraits>, "model" | "el">): () => void {
  let writing = false; // true while this view sets `normalize`: its own change event is not news
  let binding: SelectionBinding | null = null;

  // clicks go to the view's own `_selection`, or to the shared selection when linked
  const view = new ConfusionMatrixView(el, {
    onSelect: (mask, source) => binding?.commit(mask, source),
    onThresholds: (iou, score) => {
      writing = true;
      try {
        model.set("iou_threshold", iou);
        model.set("score_threshold", score);
        model.save_changes();
      } finally {
        writing = false;
      }
    },
    onNormalize: (mode) => {
      writing = true;
      try {
        model.set("normalize", mode);
        model.save_changes();
      } finally {
        writing = false;
      }
    },
  });

  const onData = (): void => {
    const before = view.rowCount;
    try {
      view.setData({
        yTrue: asUint16(model.get("_y_true")),
        yPred: asUint16(model.get("_y_pred")),
        classNames: model.get("class_names") ?? [],
        weights: asUint32(model.get("_weights")),
      });
    } catch (err) {
      view.showError(`nbdiag: cannot draw the confusion matrix: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    // a local click not yet sent wins over the model's (older) value, while the rows are the same
    binding?.refresh(view.rowCount === before);
  };

  const onNormalize = (): void => {
    if (!writing) view.setNormalize(parseNormalize(model.get("normalize")));
  };

  const onTitle = (): void => view.setTitle(model.get("title") ?? "");
  const onThresholds = (): void => {
    if (writing) return;
    view.setThresholds(
      model.get("_detection") ? { iou: Number(model.get("iou_threshold") ?? 0.5), score: Number(model.get("score_threshold") ?? 0) } : null,
    );
  };
  // `_detection` is fixed for a widget's life: classification matrices listen to nothing more
  const THRESHOLD_EVENTS = model.get("_detection") ? ["change:iou_threshold", "change:score_threshold"] : [];
  onThresholds();

  view.setTitle(model.get("title") ?? "");
  view.setNormalize(parseNormalize(model.get("normalize")));
  onData();
  binding = new SelectionBinding(model, {
    rowCount: () => view.rowCount,
    setSelection: (mask) => view.setSelection(mask), // display only: never written back
  }, { debounceMs: SELECTION_DEBOUNCE_MS });

  for (const ev of DATA_EVENTS) model.on(ev, onData);
  model.on("change:normalize", onNormalize);
  model.on("change:title", onTitle);
  for (const ev of THRESHOLD_EVENTS) model.on(ev, onThresholds);

  return () => {
    for (const ev of DATA_EVENTS) model.off(ev, onData);
    model.off("change:normalize", onNormalize);
    model.off("change:title", onTitle);
    for (const ev of THRESHOLD_EVENTS) model.off(ev as "change:title", onThresholds);
    binding?.destroy(); // flushes a click made just before the view went away
    view.destroy();
  };
}

export default { render };
