/**
 * One cell of the image grid: the thumbnail scaled to fit a square frame, its boxes drawn over
 * it, a placeholder while it loads (or when it failed, or has no image), the zoom button and the
 * caption. DOM hooks: `[data-testid=grid-cell]` with `data-pos`, `data-row`, `data-state`
 * ("loading" | "failed" | "error" | "ready"), `data-selected`, `data-id`, `data-boxes`,
 * `data-status` (docs/dev/widget-protocol.md, "ImageGrid").
 */

import { h, svgEl } from "../shared/dom";
import { maskedBoxes, outlinedBoxes, shownBoxes, type BoxFilter } from "./boxes";
import { caption } from "./caption";
import { drawBoxes } from "./draw";
import { fitContain } from "./layout";
import type { ItemData } from "./loader";
import { drawMasks, type MaskHits } from "./masks";
import type { GridSettings } from "./settings";

export interface Cell {
  el: HTMLDivElement;
  frame: HTMLDivElement;
  img: HTMLImageElement;
  svg: SVGSVGElement;
  /** Masks, under the boxes. */
  canvas: HTMLCanvasElement;
  /** The masks drawn (for clicks inside a mask), null when none. */
  hits: MaskHits | null;
  ph: HTMLDivElement;
  caption: HTMLDivElement;
  pos: number;
  row: number;
  /** What is drawn: "<row>@<size>#<version>" once loaded, "" while loading. */
  drawn: string;
}

const ZOOM_ICON =
  '<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><circle cx="6.5" cy="6.5" r="4.5" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M10 10l4.5 4.5" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>';

/** An empty (loading) cell for display position `pos` showing `row`, thumbnails `thumb` px. */
export function createCell(pos: number, row: number, thumb: number): Cell {
  const img = h("img", { class: "nbd-grid-img", "data-testid": "grid-img", alt: "", draggable: "false", decoding: "async" });
  img.hidden = true;
  const svg = svgEl("svg", { class: "nbd-grid-svg", "data-testid": "grid-boxes", width: thumb, height: thumb });
  const canvas = h("canvas", { class: "nbd-grid-masks", "data-testid": "grid-masks", width: thumb, height: thumb });
  canvas.hidden = true;
  const ph = h("div", { class: "nbd-grid-ph", "data-testid": "grid-placeholder" });
  const zoom = h("button", { type: "button", class: "nbd-grid-zoom", "data-testid": "grid-zoom", title: "Open the full image (or double-click)", "aria-label": "Open the full image", tabindex: -1 });
  zoom.innerHTML = ZOOM_ICON;
  const frame = h("div", { class: "nbd-grid-frame" }, img, canvas, svg, ph, zoom);
  frame.style.width = `${thumb}px`;
  frame.style.height = `${thumb}px`;
  const cap = h("div", { class: "nbd-grid-caption", "data-testid": "grid-caption" });
  const el = h("div", { class: "nbd-grid-cell", "data-testid": "grid-cell", role: "gridcell", "data-pos": pos, "data-row": row }, frame, cap);
  return { el, frame, img, svg, canvas, hits: null, ph, caption: cap, pos, row, drawn: "" };
}

export function markSelected(cell: Cell, selected: boolean): void {
  cell.el.classList.toggle("is-selected", selected);
  cell.el.setAttribute("aria-selected", selected ? "true" : "false");
  if (selected) cell.el.dataset.selected = "1";
  else delete cell.el.dataset.selected;
}

/** No item yet: loading, or `failed` (the kernel did not answer; `transportError` says why). */
export function showPending(cell: Cell, failed: boolean, transportError: string): void {
  cell.el.dataset.state = failed ? "failed" : "loading";
  cell.img.hidden = true;
  cell.ph.hidden = false;
  cell.ph.className = failed ? "nbd-grid-ph is-failed" : "nbd-grid-ph is-loading";
  cell.ph.textContent = failed ? transportError || "kernel did not answer" : "";
  cell.ph.title = failed ? "The kernel did not answer (busy running a cell?): scroll to retry" : "";
  cell.svg.replaceChildren();
  clearMasks(cell);
  cell.drawn = "";
  cell.caption.textContent = "";
}

/**
 * Show a loaded item: its thumbnail (or why there is none), boxes and caption. `key` names what
 * is shown (row, size, data version): a cell already showing `key` is left alone.
 */
export function showItem(cell: Cell, item: ItemData, key: string, s: Readonly<GridSettings>, filter: BoxFilter): void {
  if (cell.drawn === key) return;
  cell.drawn = key;
  cell.el.dataset.id = item.id;
  cell.el.title = item.id;
  if (item.error || !item.url) {
    cell.el.dataset.state = "error";
    cell.img.hidden = true;
    cell.img.removeAttribute("src");
    cell.ph.hidden = false;
    cell.ph.className = "nbd-grid-ph is-error";
    cell.ph.replaceChildren(h("span", { class: "nbd-grid-ph-icon", "aria-hidden": "true" }, "⚠"), h("span", { class: "nbd-grid-ph-text" }, item.error ?? "no image"));
    cell.ph.title = item.detail ?? item.error ?? "";
    cell.ph.dataset.issue = item.error ?? "no_image";
    cell.svg.replaceChildren();
    clearMasks(cell);
  } else {
    cell.el.dataset.state = "ready";
    cell.ph.hidden = true;
    const t = s.thumbSize;
    const fit = fitContain(item.sw, item.sh, t, t);
    const img = cell.img;
    img.style.left = `${fit.dx}px`;
    img.style.top = `${fit.dy}px`;
    img.style.width = `${fit.width}px`;
    img.style.height = `${fit.height}px`;
    if (img.getAttribute("src") !== item.url) img.src = item.url;
    img.hidden = false;
    drawCellBoxes(cell, item, s, filter);
  }
  const cap = caption(item, s, filter);
  cell.caption.replaceChildren(...cap.parts);
  cell.caption.title = cap.title;
  if (cap.status) cell.el.dataset.status = cap.status;
  else delete cell.el.dataset.status;
}

function drawCellBoxes(cell: Cell, item: ItemData, s: Readonly<GridSettings>, filter: BoxFilter): void {
  const t = s.thumbSize;
  const fit = fitContain(item.sw, item.sh, t, t);
  const shown = shownBoxes(item.boxes, filter);
  cell.hits = drawMasks(cell.canvas, maskedBoxes(shown, filter), item.masks ?? null, fit, t, t, { colorBy: s.colorBy, opacity: s.maskOpacity });
  cell.el.dataset.masks = String(cell.hits.layers.length);
  const outlined = outlinedBoxes(shown, filter);
  drawBoxes(cell.svg, outlined, fit, t, t, {
    classNames: s.classNames,
    colorBy: s.colorBy,
    labels: t >= 100 ? "pred" : "none",
    fontSize: t >= 180 ? 11 : 9,
    stroke: 2,
  });
  cell.el.dataset.boxes = String(outlined.length);
}

function clearMasks(cell: Cell): void {
  cell.canvas.hidden = true;
  cell.hits = null;
  delete cell.el.dataset.masks;
}
