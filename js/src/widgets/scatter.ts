/**
 * anywidget entry of `nbdiag.Scatter` (bundled to `nbdiag/static/scatter.js`).
 *
 * Wires the model's traits (docs/dev/widget-protocol.md, "Scatter") to {@link ScatterView}:
 * float32 coordinates, uint8/uint16 category codes or float32 values for colour, float32 sizes,
 * all wrapped zero-copy. Selections go through a {@link SelectionBinding} (own `_selection`, or
 * the shared selection when linked); tooltips ask the kernel for a point's key columns and
 * thumbnail through the RPC channel (`point` method, own timeout).
 */

import "../shared/theme.css";
import "../shared/view.css";
import "../scatter/scatter.css";

import type { RenderProps } from "@anywidget/types";

import { asFloat32, asUint16, asUint8 } from "../shared/codecs";
import { SelectionBinding, type SelectionTraits } from "../shared/link/binding";
import { RpcClient } from "../shared/rpc";
import { categoryColors, MISSING_COLOR, DEFAULT_COLOR, valueRange } from "../scatter/colors";
import type { PointDetails, ScatterData } from "../scatter/data";
import type { ColorSpec } from "../scatter/renderer";
import { ScatterView } from "../scatter/view";

export interface ScatterTraits extends SelectionTraits {
  _x: DataView | null;
  _y: DataView | null;
  color_kind: string;
  _color_codes: DataView | null;
  _color_code_width: number;
  _color_values: DataView | null;
  color_range: number[];
  color_categories: string[];
  color_palette: string[];
  color_column: string;
  _size: DataView | null;
  point_size: number;
  performance: boolean;
  equal_aspect: boolean;
  x_label: string;
  y_label: string;
  title: string;
  height: number;
  hover_tooltip: boolean;
}

/** Browser -> kernel selection writes are coalesced over this many ms. */
export const SELECTION_DEBOUNCE_MS = 150;
/** Tooltip requests give up after this long (anywidget's own default would be 3 s). */
export const TOOLTIP_TIMEOUT_MS = 15_000;

const DATA_EVENTS = ["_x", "_y", "_size", "equal_aspect", "x_label", "y_label"].map((k) => `change:${k}`);
const COLOR_EVENTS = ["color_kind", "_color_codes", "_color_code_width", "_color_values", "color_range", "color_categories", "color_palette", "color_column"].map((k) => `change:${k}`);

type Model = RenderProps<ScatterTraits>["model"];

/** The colour spec of the model's traits. */
export function colorSpec(model: Pick<Model, "get">): { spec: ColorSpec; label: string; categories: string[] } {
  const kind = model.get("color_kind");
  const label = model.get("color_column") ?? "";
  if (kind === "category") {
    const width = model.get("_color_code_width");
    const codes = width === 1 ? asUint8(model.get("_color_codes")) : asUint16(model.get("_color_codes"));
    const categories = model.get("color_categories") ?? [];
    const colors = categoryColors(categories.length, model.get("color_palette") ?? []);
    return { spec: { kind: "category", codes, colors, missing: MISSING_COLOR }, label, categories };
  }
  if (kind === "value") {
    const values = asFloat32(model.get("_color_values"));
    const r = model.get("color_range") ?? [];
    const range: [number, number] = r.length === 2 && Number.isFinite(r[0]) && Number.isFinite(r[1]) ? [r[0], r[1]] : valueRange(values);
    return { spec: { kind: "value", values, range, missing: MISSING_COLOR }, label, categories: [] };
  }
  return { spec: { kind: "none", color: DEFAULT_COLOR }, label: "", categories: [] };
}

function readData(model: Model): ScatterData {
  const { spec, label, categories } = colorSpec(model);
  const size = asFloat32(model.get("_size"));
  return {
    x: asFloat32(model.get("_x")),
    y: asFloat32(model.get("_y")),
    color: spec,
    colorLabel: label,
    categories,
    size: size.length > 0 ? size : null,
    xLabel: model.get("x_label") ?? "",
    yLabel: model.get("y_label") ?? "",
    equalAspect: model.get("equal_aspect") ?? true,
  };
}

function render({ model, el }: Pick<RenderProps<ScatterTraits>, "model" | "el">): () => void {
  let binding: SelectionBinding | null = null;
  const rpc = new RpcClient(model, { timeoutMs: TOOLTIP_TIMEOUT_MS });

  const fetchPoint = async (row: number, signal: AbortSignal): Promise<PointDetails> => {
    const { result, buffers } = await rpc.request<{ id: string; values: [string, string][]; image: number | null; mime?: string }>("point", { row }, { signal });
    let image: Blob | null = null;
    if (typeof result.image === "number" && buffers[result.image]) {
      const dv = buffers[result.image];
      image = new Blob([new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength).slice()], { type: result.mime ?? "image/webp" });
    }
    return { id: String(result.id), values: result.values ?? [], image };
  };

  const view = new ScatterView(el, {
    // a lasso or a box is one gesture: the kernel gets it at once; clicks are debounced
    onSelect: (rows, source, region) => binding?.commit(rows, source, { region, immediate: source === "lasso" || source === "box" }),
    fetchPoint: (row, signal) => (model.get("hover_tooltip") ? fetchPoint(row, signal) : Promise.reject(new Error("no tooltips"))),
    height: model.get("height") || 480,
  });

  const onData = (): void => {
    const before = view.rowCount;
    try {
      view.setPerformance(Boolean(model.get("performance")));
      view.setPointSize(model.get("point_size") || null);
      view.setData(readData(model));
    } catch (err) {
      view.showError(`nbdiag: cannot draw the scatter plot: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    binding?.refresh(view.rowCount === before);
  };
  const onColor = (): void => {
    try {
      const { spec, label, categories } = colorSpec(model);
      view.setColor(spec, label, categories);
    } catch (err) {
      view.showError(`nbdiag: cannot colour the scatter plot: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const onTitle = (): void => view.setTitle(model.get("title") ?? "");
  const onHeight = (): void => view.setHeight(model.get("height") || 480);
  const onStyle = (): void => {
    view.setPerformance(Boolean(model.get("performance")));
    view.setPointSize(model.get("point_size") || null);
  };

  onTitle();
  onData();
  binding = new SelectionBinding(model, { rowCount: () => view.rowCount, setSelection: (rows) => view.setSelection(rows) }, { debounceMs: SELECTION_DEBOUNCE_MS });

  for (const ev of DATA_EVENTS) model.on(ev, onData);
  for (const ev of COLOR_EVENTS) model.on(ev, onColor);
  model.on("change:title", onTitle);
  model.on("change:height", onHeight);
  model.on("change:performance", onStyle);
  model.on("change:point_size", onStyle);

  return () => {
    for (const ev of DATA_EVENTS) model.off(ev, onData);
    for (const ev of COLOR_EVENTS) model.off(ev, onColor);
    model.off("change:title", onTitle);
    model.off("change:height", onHeight);
    model.off("change:performance", onStyle);
    model.off("change:point_size", onStyle);
    binding?.destroy();
    rpc.dispose();
    view.destroy();
  };
}

export default { render };
