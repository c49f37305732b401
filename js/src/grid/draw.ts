/** Drawing boxes into an SVG overlay (shared by grid cells and the detail view). */

import { svgEl } from "../shared/dom";
import { boxLabel, isPrediction, type ShownBox } from "./boxes";
import { clipRect, scaleBox, type Fit } from "./layout";
import { boxColor, type ColorBy } from "./palette";

export interface DrawOptions {
  classNames: readonly string[];
  colorBy: ColorBy;
  /** Which boxes get a text label: predictions only (grid cells) or all (detail view). */
  labels: "none" | "pred" | "all";
  /** Label font size (px). */
  fontSize: number;
  /** Stroke width (px) of ground truth; predictions are a bit thinner. */
  stroke: number;
}

const round = (v: number): number => Math.round(v * 10) / 10;

/** Replace the content of `svg` (sized `frameW x frameH`) with `shown` boxes scaled by `fit`. */
export function drawBoxes(svg: SVGSVGElement, shown: readonly ShownBox[], fit: Fit, frameW: number, frameH: number, o: DrawOptions): void {
  svg.setAttribute("width", String(frameW));
  svg.setAttribute("height", String(frameH));
  svg.setAttribute("viewBox", `0 0 ${frameW} ${frameH}`);
  const frag = document.createDocumentFragment();
  const labels: SVGGElement[] = [];
  for (const { box, state } of shown) {
    const r = clipRect(scaleBox(box, fit), frameW, frameH);
    if (r === null) continue;
    const pred = isPrediction(box);
    const color = boxColor(box.cls, state, o.colorBy);
    const width = box.focus ? o.stroke + 1 : pred ? Math.max(1, o.stroke - 0.5) : o.stroke;
    const rect = svgEl("rect", {
      x: round(r.x),
      y: round(r.y),
      width: round(r.w),
      height: round(r.h),
      fill: "none",
      stroke: color,
      "stroke-width": width,
      class: `nbd-box nbd-box--${pred ? "pred" : "gt"} nbd-box--${state}${box.focus ? " is-focus" : ""}`,
      "data-testid": "grid-box",
      "data-kind": pred ? "pred" : "gt",
      "data-state": state,
      "data-cls": box.cls,
      "vector-effect": "non-scaling-stroke",
    });
    if (pred) rect.setAttribute("stroke-dasharray", state === "ignored" ? "1 3" : "5 3");
    else if (state === "fn") rect.setAttribute("stroke-dasharray", "2 2");
    else if (state === "ignored") rect.setAttribute("stroke-dasharray", "1 3");
    if (Number.isFinite(box.score)) rect.setAttribute("data-score", String(round(box.score * 1000) / 1000));
    if (box.focus) rect.setAttribute("data-focus", "1");
    const title = svgEl("title");
    const name = boxLabel(box, o.classNames);
    title.textContent = `${pred ? "prediction" : "ground truth"}: ${name}${state !== "gt" && state !== "pred" ? ` (${state.toUpperCase()})` : ""}`;
    rect.append(title);
    frag.append(rect);

    const wantLabel = o.labels === "all" || (o.labels === "pred" && pred) || (o.labels === "pred" && box.focus);
    if (wantLabel && o.fontSize > 0) {
      const text = state === "fp" || state === "fn" ? `${name} ${state.toUpperCase()}` : name;
      const fs = o.fontSize;
      const tw = Math.ceil(text.length * fs * 0.6) + 4;
      const th = fs + 3;
      // predictions: above the box (inside its top edge when there is no room); ground truth:
      // below it (inside its bottom edge), so the two labels of a match never overlap
      let ly: number;
      if (pred) {
        ly = r.y - th;
        if (ly < 0) ly = r.y;
      } else {
        ly = r.y + r.h;
        if (ly + th > frameH) ly = r.y + r.h - th;
      }
      let lx = r.x;
      if (lx + tw > frameW) lx = Math.max(0, frameW - tw);
      const g = svgEl("g", { class: "nbd-box-label", "data-testid": "grid-box-label" });
      g.append(svgEl("rect", { x: round(lx), y: round(ly), width: tw, height: th, fill: color, rx: 2 }));
      const t = svgEl("text", { x: round(lx + 2), y: round(ly + fs), "font-size": fs, fill: "#ffffff" });
      t.textContent = text;
      g.append(t);
      labels.push(g);
    }
  }
  for (const g of labels) frag.append(g); // labels on top of every outline
  svg.replaceChildren(frag);
}
