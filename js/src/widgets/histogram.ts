/**
 * anywidget entry of `nbdiag.Histogram` (bundled to `nbdiag/static/histogram.js`).
 *
 * Wires the model's traits (docs/dev/widget-protocol.md, "Histogram") to {@link HistogramView}:
 * float32 values (numeric) or uint8/uint16 codes (categorical). Selections go through a
 * {@link SelectionBinding}: the view's own `_selection` (+ `_selection_region` with the brushed
 * range), or the shared selection when linked, where other views follow the brush while it moves.
 */

import "../shared/theme.css";
import "../shared/view.css";
import "../histogram/histogram.css";

import type { RenderProps } from "@anywidget/types";

import { asFloat32, asUint16, asUint8 } from "../shared/codecs";
import { HistogramView, type HistogramData } from "../histogram/view";
import { SelectionBinding, type SelectionInfo, type SelectionTraits } from "../shared/link/binding";

export interface HistogramTraits extends SelectionTraits {
  column: string;
  kind: string;
  _values: DataView | null;
  _codes: DataView | null;
  _code_width: number;
  categories: string[];
  bins: number;
  value_range: number[];
  title: string;
  height: number;
}

/** Browser -> kernel selection writes are coalesced over this many ms. */
export const SELECTION_DEBOUNCE_MS = 150;

const DATA_EVENTS = ["column", "kind", "_values", "_codes", "_code_width", "categories", "bins", "value_range"].map((k) => `change:${k}`);

export function readHistogramData(model: { get(key: string): any }): HistogramData {
  const column = model.get("column") ?? "";
  if (model.get("kind") === "categorical") {
    const codes = model.get("_code_width") === 1 ? asUint8(model.get("_codes")) : asUint16(model.get("_codes"));
    return { kind: "categorical", codes, categories: model.get("categories") ?? [], column };
  }
  const r = model.get("value_range") ?? [];
  const range: [number, number] | null = r.length === 2 && Number.isFinite(r[0]) && Number.isFinite(r[1]) ? [r[0], r[1]] : null;
  return { kind: "numeric", values: asFloat32(model.get("_values")), bins: model.get("bins") || 30, range, column };
}

/** The brushed range to show, when the selection is this view's range. */
function ownRange(info: SelectionInfo, column: string): { lo: number; hi: number } | null {
  const r = info.region as { kind?: string; lo?: number; hi?: number; column?: string };
  if (!info.own || r.kind !== "range" || typeof r.lo !== "number" || typeof r.hi !== "number") return null;
  if (r.column !== undefined && r.column !== column) return null;
  return { lo: r.lo, hi: r.hi };
}

function render({ model, el }: Pick<RenderProps<HistogramTraits>, "model" | "el">): () => void {
  let binding: SelectionBinding | null = null;
  const view = new HistogramView(el, {
    onSelect: (rows, source, region, live) => binding?.commit(rows, source, { region, live }),
    height: model.get("height") || 160,
  });

  const onData = (): void => {
    const before = view.rowCount;
    try {
      view.setData(readHistogramData(model));
    } catch (err) {
      view.showError(`nbdiag: cannot draw the histogram: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    binding?.refresh(view.rowCount === before);
  };
  const onTitle = (): void => view.setTitle(model.get("title") ?? "");
  const onHeight = (): void => view.setHeight(model.get("height") || 160);

  onTitle();
  onData();
  binding = new SelectionBinding(
    model,
    { rowCount: () => view.rowCount, setSelection: (rows, info) => view.setSelection(rows, ownRange(info, model.get("column") ?? "")) },
    { debounceMs: SELECTION_DEBOUNCE_MS },
  );

  for (const ev of DATA_EVENTS) model.on(ev, onData);
  model.on("change:title", onTitle);
  model.on("change:height", onHeight);

  return () => {
    for (const ev of DATA_EVENTS) model.off(ev, onData);
    model.off("change:title", onTitle);
    model.off("change:height", onHeight);
    binding?.destroy();
    view.destroy();
  };
}

export default { render };
