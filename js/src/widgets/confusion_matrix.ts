/**
 * anywidget entry of `nbdiag.ConfusionMatrix` (bundled to `nbdiag/static/confusion_matrix.js`).
 *
 * Wires the model's traits (docs/dev/widget-protocol.md) to {@link ConfusionMatrixView}: reads the
 * code columns, class names, mode, title and selection; writes `_selection` + `_selection_source`
 * (debounced, in one `save_changes()`) and `normalize`.
 */

import "../confusion/confusion_matrix.css";

import type { RenderProps } from "@anywidget/types";

import { asUint16 } from "../codecs";
import { ConfusionMatrixView } from "../confusion/view";
import { parseNormalize } from "../confusion/matrix";
import { debounce } from "../debounce";
import { Bitmask } from "../selection";

/** The synced traits, as the front end sees them. */
export interface ConfusionMatrixTraits {
  n_rows: number;
  _selection: DataView | null;
  _selection_source: string;
  class_names: string[];
  _y_true: DataView | null;
  _y_pred: DataView | null;
  normalize: string;
  title: string;
}

/** Browser -> kernel selection writes are coalesced over this many ms. */
export const SELECTION_DEBOUNCE_MS = 150;

const DATA_EVENTS = ["change:_y_true", "change:_y_pred", "change:class_names"] as const;

function render({ model, el }: Pick<RenderProps<ConfusionMatrixTraits>, "model" | "el">): () => void {
  let writing = false; // true while this view sets traits: its own change events are not news
  let lastWritten: Bitmask | null = null;

  const write = debounce((mask: Bitmask, source: string) => {
    writing = true;
    try {
      model.set("_selection", mask.toBytes());
      model.set("_selection_source", source);
      model.save_changes();
      lastWritten = mask;
    } finally {
      writing = false;
    }
  }, SELECTION_DEBOUNCE_MS);

  const view = new ConfusionMatrixView(el, {
    onSelect: (mask, source) => write(mask, source),
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

  const modelSelection = (): Bitmask => Bitmask.fromBytes(model.get("_selection"), view.rowCount);

  const onData = (): void => {
    const before = view.rowCount;
    try {
      view.setData({
        yTrue: asUint16(model.get("_y_true")),
        yPred: asUint16(model.get("_y_pred")),
        classNames: model.get("class_names") ?? [],
      });
    } catch (err) {
      view.showError(`nbdiag: cannot draw the confusion matrix: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    // a local click not yet sent wins over the model's (older) value, while the rows are the same
    if (write.pending() && view.rowCount === before) return;
    write.cancel();
    view.setSelection(modelSelection());
  };

  const onSelection = (): void => {
    if (writing) return; // our own write
    const incoming = modelSelection();
    if (write.pending()) {
      // the echo of an earlier write of ours must not undo a newer click that is still pending
      if (lastWritten !== null && incoming.equals(lastWritten)) return;
      write.cancel(); // a genuinely new selection from Python wins
    }
    view.setSelection(incoming); // display only: never written back
  };

  const onNormalize = (): void => {
    if (!writing) view.setNormalize(parseNormalize(model.get("normalize")));
  };

  const onTitle = (): void => view.setTitle(model.get("title") ?? "");

  view.setTitle(model.get("title") ?? "");
  view.setNormalize(parseNormalize(model.get("normalize")));
  onData();

  for (const ev of DATA_EVENTS) model.on(ev, onData);
  model.on("change:_selection", onSelection);
  model.on("change:normalize", onNormalize);
  model.on("change:title", onTitle);

  return () => {
    for (const ev of DATA_EVENTS) model.off(ev, onData);
    model.off("change:_selection", onSelection);
    model.off("change:normalize", onNormalize);
    model.off("change:title", onTitle);
    try {
      write.flush(); // do not lose a click made just before the view went away
    } catch {
      // the model may already be closed
    }
    view.destroy();
  };
}

export default { render };
