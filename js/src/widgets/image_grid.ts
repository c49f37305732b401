/**
 * anywidget entry of `nbdiag.ImageGrid` (bundled to `nbdiag/static/image_grid.js`).
 *
 * Wires the model's traits (docs/dev/widget-protocol.md, "ImageGrid") to {@link ImageGridView}:
 * rows (`n_rows`, `_order`, `_filter`), settings, and the selection (through
 * {@link SelectionBinding}, so linking works like in every other view). Thumbnails, boxes and
 * full-size images are pulled through the RPC channel (`page` and `image` requests).
 */

import "../shared/theme.css";
import "../grid/image_grid.css";

import type { RenderProps } from "@anywidget/types";

import { asUint32, type BinaryLike } from "../shared/codecs";
import { decodeBoxes, type Box } from "../grid/boxes";
import type { DetailData } from "../grid/detail";
import type { MaskGeom } from "../grid/masks";
import type { Caption, ItemData } from "../grid/loader";
import type { GridSettings } from "../grid/settings";
import { ImageGridView } from "../grid/view";
import { SelectionBinding, type SelectionTraits } from "../shared/link/binding";
import { RpcClient } from "../shared/rpc";
import { Bitmask } from "../shared/selection";

export interface ImageGridTraits extends SelectionTraits {
  _level: string;
  task: string;
  title: string;
  class_names: string[];
  sort_by: string | null;
  ascending: boolean;
  sort_options: string[];
  _order: DataView | null;
  _filter: DataView | null;
  score_threshold: number;
  show_gt: boolean;
  show_pred: boolean;
  hidden_classes: string[];
  color_by: string;
  selected_only: boolean;
  thumbnail_size: number;
  height: number;
  has_boxes: boolean;
  has_predictions: boolean;
  has_evaluation: boolean;
  has_masks: boolean;
  show_masks: boolean;
  show_boxes: boolean;
  mask_opacity: number;
  _data_version: number;
}

/** Per-request timeout of thumbnail pages and images (ms): far above anywidget's 3 s. */
export const RPC_TIMEOUT_MS = 30_000;

/** Settings field -> trait. */
const TRAIT_OF: Record<keyof GridSettings, keyof ImageGridTraits> = {
  title: "title",
  level: "_level",
  task: "task",
  classNames: "class_names",
  sortOptions: "sort_options",
  sortBy: "sort_by",
  ascending: "ascending",
  threshold: "score_threshold",
  showGt: "show_gt",
  showPred: "show_pred",
  hiddenClasses: "hidden_classes",
  colorBy: "color_by",
  thumbSize: "thumbnail_size",
  height: "height",
  hasBoxes: "has_boxes",
  hasPredictions: "has_predictions",
  hasEvaluation: "has_evaluation",
  hasMasks: "has_masks",
  showMasks: "show_masks",
  showBoxes: "show_boxes",
  maskOpacity: "mask_opacity",
  selectedOnly: "selected_only",
};

type Model = RenderProps<ImageGridTraits>["model"];

function readSettings(model: Model): GridSettings {
  return {
    title: model.get("title") ?? "",
    level: model.get("_level") === "object" ? "object" : "sample",
    task: model.get("task") ?? "",
    classNames: model.get("class_names") ?? [],
    sortOptions: model.get("sort_options") ?? [],
    sortBy: model.get("sort_by") || null,
    ascending: model.get("ascending") !== false,
    threshold: Number(model.get("score_threshold") ?? 0),
    showGt: model.get("show_gt") !== false,
    showPred: model.get("show_pred") !== false,
    hiddenClasses: model.get("hidden_classes") ?? [],
    colorBy: model.get("color_by") === "match" ? "match" : "class",
    thumbSize: Number(model.get("thumbnail_size") ?? 128),
    height: Number(model.get("height") ?? 520),
    hasBoxes: Boolean(model.get("has_boxes")),
    hasPredictions: Boolean(model.get("has_predictions")),
    hasEvaluation: Boolean(model.get("has_evaluation")),
    hasMasks: Boolean(model.get("has_masks")),
    showMasks: model.get("show_masks") !== false,
    showBoxes: model.get("show_boxes") !== false,
    maskOpacity: Number(model.get("mask_opacity") ?? 0.45),
    selectedOnly: Boolean(model.get("selected_only")),
  };
}

function captionOf(it: any): Caption {
  return {
    label: it.label ?? null,
    pred: it.pred ?? null,
    score: typeof it.score === "number" ? it.score : null,
    status: it.status ?? null,
    kind: it.kind ?? null,
  };
}

function blobUrl(buffers: DataView[], index: unknown, mime: unknown): string | null {
  if (typeof index !== "number" || index < 0 || index >= buffers.length) return null;
  const dv = buffers[index];
  const bytes = new Uint8Array(dv.buffer as ArrayBuffer, dv.byteOffset, dv.byteLength);
  return URL.createObjectURL(new Blob([bytes], { type: typeof mime === "string" ? mime : "image/webp" }));
}

/** The box table of a response, each box with its mask (`result.masks`, one per box row). */
function boxesOf(buffers: DataView[], result: any): Map<number, Box[]> {
  const index = result?.boxes;
  if (typeof index !== "number" || index < 0 || index >= buffers.length) return new Map();
  const stride = typeof result?.box_stride === "number" ? result.box_stride : undefined;
  const masks = Array.isArray(result?.masks) ? result.masks : null;
  const rows = Array.isArray(result?.mask_rows) ? result.mask_rows : null;
  return decodeBoxes(buffers[index], stride, masks, rows);
}

/** Where an item's masks sit (`mh`, `mw`, `ox`, `oy`), or null when it has none. */
export function maskGeom(it: any): MaskGeom | null {
  const h = Number(it?.mh);
  const w = Number(it?.mw);
  if (!(h > 0) || !(w > 0)) return null;
  return { h, w, ox: Number(it.ox ?? 0), oy: Number(it.oy ?? 0) };
}

/** A `page` response -> items (object URLs created here; the cache revokes them). */
export function pageItems(result: any, buffers: DataView[]): ItemData[] {
  const boxes = boxesOf(buffers, result);
  const items: ItemData[] = [];
  for (const it of result?.items ?? []) {
    const row = Number(it.row);
    items.push({
      row,
      id: String(it.id ?? row),
      url: it.error ? null : blobUrl(buffers, it.buffer, it.mime),
      sw: Number(it.sw ?? 0),
      sh: Number(it.sh ?? 0),
      boxes: boxes.get(row) ?? [],
      masks: maskGeom(it),
      error: it.error ?? undefined,
      detail: it.detail ?? undefined,
      ...captionOf(it),
    });
  }
  return items;
}

function render({ model, el }: Pick<RenderProps<ImageGridTraits>, "model" | "el">): () => void {
  const rpc = new RpcClient(model as any, { timeoutMs: RPC_TIMEOUT_MS });
  let binding: SelectionBinding | null = null;
  let writing = false;

  const view = new ImageGridView(el, {
    fetchPage: async (rows, size, signal) => {
      const { result, buffers } = await rpc.request<any>("page", { rows, size }, { signal });
      return pageItems(result, buffers);
    },
    fetchDetail: async (row, signal): Promise<DetailData> => {
      const { result, buffers } = await rpc.request<any>("image", { row, max_size: 1024 }, { signal });
      const boxes = boxesOf(buffers, result);
      return {
        row,
        id: String(result.id ?? row),
        url: result.error ? null : blobUrl(buffers, result.buffer, result.mime),
        sw: Number(result.sw ?? 0),
        sh: Number(result.sh ?? 0),
        boxes: boxes.get(row) ?? [],
        masks: maskGeom(result),
        info: Array.isArray(result.info) ? result.info.map((kv: unknown[]) => [String(kv[0]), String(kv[1])] as [string, string]) : [],
        error: result.error ?? undefined,
        detail: result.detail ?? undefined,
        ...captionOf(result),
      };
    },
    onSelect: (mask, source) => binding?.commit(mask, source),
    onSettings: (patch) => {
      writing = true;
      try {
        for (const [key, value] of Object.entries(patch)) {
          const trait = TRAIT_OF[key as keyof GridSettings];
          if (trait) model.set(trait, value as never);
        }
        model.save_changes();
      } finally {
        writing = false;
      }
    },
  });

  const mask = (data: BinaryLike): Bitmask | null => {
    const n = Number(model.get("n_rows") ?? 0);
    return data && (data as DataView).byteLength > 0 ? Bitmask.fromBytes(data, n) : null;
  };
  const order = (): Uint32Array | null => {
    try {
      const o = asUint32(model.get("_order"));
      return o.length > 0 ? o : null;
    } catch (err) {
      console.error("nbdiag: bad _order", err);
      return null;
    }
  };

  view.setSettings(readSettings(model));
  view.setRows(Number(model.get("n_rows") ?? 0), order(), mask(model.get("_filter")));

  binding = new SelectionBinding(model as any, {
    rowCount: () => view.rowCount(),
    setSelection: (rows, info) => view.setSelection(rows, !info.own || info.source === "python"),
  });

  const onSettings = (): void => {
    if (!writing) view.setSettings(readSettings(model));
  };
  const onRows = (): void => {
    view.setRows(Number(model.get("n_rows") ?? 0), order(), mask(model.get("_filter")));
    binding?.refresh();
  };
  const onOrder = (): void => view.setOrder(order());
  const onFilter = (): void => view.setFilter(mask(model.get("_filter")));
  const onVersion = (): void => view.invalidate();

  const settingEvents = Object.values(TRAIT_OF).map((t) => `change:${String(t)}`);
  for (const ev of settingEvents) model.on(ev, onSettings);
  model.on("change:n_rows", onRows);
  model.on("change:_order", onOrder);
  model.on("change:_filter", onFilter);
  model.on("change:_data_version", onVersion);

  return () => {
    for (const ev of settingEvents) model.off(ev as any, onSettings);
    model.off("change:n_rows", onRows);
    model.off("change:_order", onOrder);
    model.off("change:_filter", onFilter);
    model.off("change:_data_version", onVersion);
    binding?.destroy();
    rpc.dispose();
    view.destroy();
  };
}

export default { render };
