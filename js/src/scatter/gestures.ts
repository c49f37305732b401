/**
 * The scatter's pointer gestures on the plot stage: wheel zooms at the pointer; drag pans (pan
 * mode) or draws a lasso / box (lasso / box mode; shift-drag in pan mode lassos too); a press
 * that barely moves is a click; double-click resets the view; Escape cancels a lasso in progress.
 * The lasso or box being drawn is shown in an SVG overlay above the canvas.
 *
 * What a gesture means (which points, which selection) is the view's business: this module only
 * turns pointer events into calls on {@link GestureActions}, in canvas pixels.
 */

import { isAdditive, svgEl } from "../shared/dom";
import { extendPath } from "./lasso";

export type Mode = "pan" | "lasso" | "box";
export const MODES: readonly Mode[] = ["pan", "lasso", "box"];

const CLICK_SLOP = 4; // px a pointer may move and still click

/** What the gestures ask of the view (coordinates are canvas CSS pixels). */
export interface GestureActions {
  /** The pointer mode of the toolbar. */
  mode(): Mode;
  /** Whether there are points: no gesture starts without. */
  hasData(): boolean;
  panBy(dx: number, dy: number): void;
  zoomAt(x: number, y: number, factor: number): void;
  /** The pointer moved over the plot with no button down. */
  hoverAt(x: number, y: number): void;
  /** Nothing is hovered any more (the pointer left, or a drag started). */
  unhover(): void;
  clickAt(x: number, y: number, additive: boolean): void;
  finishLasso(path: number[], additive: boolean): void;
  finishBox(x0: number, y0: number, x1: number, y1: number, additive: boolean): void;
  resetView(): void;
  /** A drag started (`true`) or ended (`false`, before its finish call). */
  dragging?(active: boolean, kind: Mode): void;
}

interface Drag {
  kind: Mode;
  x0: number;
  y0: number;
  x: number;
  y: number;
  /** The lasso's points so far, [x0, y0, x1, y1, ...]. */
  path: number[];
  id: number;
  moved: boolean;
}

export class StageGestures {
  /** The lasso / box overlay: the view puts it right above the canvas. */
  readonly overlay: SVGSVGElement;
  private readonly lassoPath: SVGPathElement;
  private readonly boxRect: SVGRectElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly act: GestureActions;
  private stage: HTMLElement | null = null;
  private drag: Drag | null = null;

  constructor(canvas: HTMLCanvasElement, actions: GestureActions) {
    this.canvas = canvas;
    this.act = actions;
    this.overlay = svgEl("svg", { class: "nbd-sc-overlay" });
    this.lassoPath = svgEl("path", { class: "nbd-sc-lasso", "data-testid": "sc-lasso" });
    this.boxRect = svgEl("rect", { class: "nbd-sc-box" });
    this.overlay.append(this.lassoPath, this.boxRect);
  }

  /** Listen to the pointer on `stage` (the element holding the canvas and the overlay). */
  listen(stage: HTMLElement): void {
    this.stage = stage;
    stage.addEventListener("pointerdown", (ev) => this.onDown(ev));
    stage.addEventListener("pointermove", (ev) => this.onMove(ev));
    stage.addEventListener("pointerup", (ev) => this.onUp(ev));
    stage.addEventListener("pointercancel", () => this.cancel());
    stage.addEventListener("pointerleave", () => {
      if (!this.drag) this.act.unhover();
    });
    stage.addEventListener("wheel", (ev) => this.onWheel(ev), { passive: false });
    stage.addEventListener("dblclick", (ev) => {
      if ((ev.target as Element | null)?.closest?.(".nbd-sc-legend")) return;
      this.act.resetView();
    });
    stage.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") this.cancel();
    });
  }

  /** Drop a drag in progress (its lasso or box disappears, nothing is selected). */
  cancel(): void {
    const d = this.drag;
    this.drag = null;
    this.clearOverlay();
    if (d) this.act.dragging?.(false, d.kind);
  }

  private local(ev: { clientX: number; clientY: number }): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  private onDown(ev: PointerEvent): void {
    if (ev.button !== 0 || !this.act.hasData()) return;
    if ((ev.target as Element | null)?.closest?.(".nbd-sc-legend, .nbd-sc-tooltip")) return;
    const [x, y] = this.local(ev);
    const mode = this.act.mode();
    const kind: Mode = mode === "pan" ? (ev.shiftKey ? "lasso" : "pan") : mode;
    if (this.drag) this.act.dragging?.(false, this.drag.kind); // a press without its release
    this.drag = { kind, x0: x, y0: y, x, y, path: [x, y], id: ev.pointerId, moved: false };
    this.act.dragging?.(true, kind);
    try {
      this.stage?.setPointerCapture(ev.pointerId);
    } catch {
      // synthetic events (tests) have no capturable pointer
    }
    this.act.unhover();
    ev.preventDefault();
  }

  private onMove(ev: PointerEvent): void {
    const [x, y] = this.local(ev);
    const d = this.drag;
    if (!d) {
      this.act.hoverAt(x, y);
      return;
    }
    if (!d.moved && Math.hypot(x - d.x0, y - d.y0) >= CLICK_SLOP) d.moved = true;
    if (d.kind === "pan") {
      this.act.panBy(x - d.x, y - d.y);
    } else if (d.kind === "lasso") {
      if (extendPath(d.path, x, y)) this.lassoPath.setAttribute("d", pathD(d.path, false));
    } else {
      this.boxRect.setAttribute("x", String(Math.min(d.x0, x)));
      this.boxRect.setAttribute("y", String(Math.min(d.y0, y)));
      this.boxRect.setAttribute("width", String(Math.abs(x - d.x0)));
      this.boxRect.setAttribute("height", String(Math.abs(y - d.y0)));
    }
    d.x = x;
    d.y = y;
  }

  private onUp(ev: PointerEvent): void {
    const d = this.drag;
    if (!d) return;
    this.drag = null;
    try {
      this.stage?.releasePointerCapture(d.id);
    } catch {
      // see onDown
    }
    const [x, y] = this.local(ev);
    const additive = isAdditive(ev);
    this.clearOverlay();
    this.act.dragging?.(false, d.kind);
    if (!d.moved) {
      this.act.clickAt(x, y, additive);
      return;
    }
    if (d.kind === "lasso") {
      extendPath(d.path, x, y, 0);
      this.act.finishLasso(d.path, additive);
    } else if (d.kind === "box") {
      this.act.finishBox(d.x0, d.y0, x, y, additive);
    }
  }

  private clearOverlay(): void {
    this.lassoPath.setAttribute("d", "");
    for (const a of ["x", "y", "width", "height"]) this.boxRect.setAttribute(a, "0");
  }

  private onWheel(ev: WheelEvent): void {
    if (!this.act.hasData()) return;
    ev.preventDefault();
    const [x, y] = this.local(ev);
    const delta = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaY;
    this.act.zoomAt(x, y, Math.exp(-delta * 0.0015));
  }
}

/** SVG path data of a polyline [x0, y0, x1, y1, ...] (closed with `close`). */
function pathD(path: number[], close: boolean): string {
  if (path.length < 2) return "";
  let d = `M${path[0].toFixed(1)},${path[1].toFixed(1)}`;
  for (let i = 2; i + 1 < path.length; i += 2) d += `L${path[i].toFixed(1)},${path[i + 1].toFixed(1)}`;
  return close ? d + "Z" : d;
}
