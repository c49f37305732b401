// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HistogramView } from "../src/histogram/view";
import { Bitmask } from "../src/shared/selection";
import type { Renderer } from "../src/scatter/renderer";
import { ScatterView } from "../src/scatter/view";
import confusionWidget from "../src/widgets/confusion_matrix";
import histogramWidget from "../src/widgets/histogram";
import scatterWidget from "../src/widgets/scatter";
import { FakeManager, FakeModel, settle } from "./fake_model";

const idx = (m: Bitmask): number[] => Array.from(m.indices());
const PointerEv: typeof MouseEvent = (globalThis as any).PointerEvent ?? MouseEvent;

function pointer(el: Element, type: string, x: number, y: number, init: MouseEventInit = {}): void {
  el.dispatchEvent(new PointerEv(type, { bubbles: true, cancelable: true, clientX: x, clientY: y, button: 0, ...init }));
}

/** A renderer that draws nothing and records what it was given. */
class StubRenderer implements Renderer {
  frames = 0;
  selected: Uint8Array | null = null;
  hover = -1;
  setData(): void {}
  setColor(): void {}
  setSelection(bits: Uint8Array | null, any: boolean): void {
    this.selected = any ? bits : null;
  }
  setHover(i: number): void {
    this.hover = i;
  }
  setStyle(): void {}
  resize(): void {}
  draw(): void {
    this.frames++;
  }
  destroy(): void {}
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  document.body.replaceChildren();
});

/** Four clusters of 25 points around (±5, ±5). */
function clusters() {
  const x = new Float32Array(100);
  const y = new Float32Array(100);
  const label = new Uint8Array(100);
  for (let i = 0; i < 100; i++) {
    const c = Math.floor(i / 25);
    const a = (i % 25) * 0.25;
    x[i] = (c % 2 === 0 ? -5 : 5) + Math.cos(a) * 0.5;
    y[i] = (c < 2 ? -5 : 5) + Math.sin(a) * 0.5;
    label[i] = c;
  }
  return { x, y, label };
}

function scatterView() {
  const host = document.createElement("div");
  document.body.append(host);
  const selections: { rows: number[]; source: string; region: Record<string, unknown> }[] = [];
  const renderer = new StubRenderer();
  const view = new ScatterView(host, {
    onSelect: (rows, source, region) => selections.push({ rows: idx(rows), source, region }),
    createRenderer: () => renderer,
    height: 400,
  });
  const { x, y, label } = clusters();
  view.setData({
    x,
    y,
    color: { kind: "category", codes: label, colors: ["#111111", "#222222", "#333333", "#444444"], missing: "#999999" },
    colorLabel: "cluster",
    categories: ["a", "b", "c", "d"],
    size: null,
    xLabel: "x",
    yLabel: "y",
    equalAspect: true,
  });
  const stage = view.root.querySelector('[data-testid="sc-stage"]')!;
  return { view, stage, selections, renderer };
}

describe("ScatterView gestures", () => {
  it("a lasso around one cluster selects exactly it, and reports the polygon in data coordinates", () => {
    const { view, stage, selections, renderer } = scatterView();
    view.setMode("lasso");
    const t = view.transform;
    // a circle of radius 1.5 around the cluster at (5, 5), in pixels
    const pts: [number, number][] = [];
    for (let k = 0; k <= 24; k++) {
      const a = (2 * Math.PI * k) / 24;
      pts.push(t.toPixel(5 + 1.5 * Math.cos(a), 5 + 1.5 * Math.sin(a)));
    }
    pointer(stage, "pointerdown", ...pts[0]);
    for (const p of pts.slice(1)) pointer(stage, "pointermove", ...p);
    pointer(stage, "pointerup", ...pts[pts.length - 1]);
    expect(selections.length).toBe(1);
    expect(selections[0].source).toBe("lasso");
    expect(selections[0].rows).toEqual(Array.from({ length: 25 }, (_, i) => 75 + i));
    const region = selections[0].region as { kind: string; x: number[]; y: number[] };
    expect(region.kind).toBe("lasso");
    expect(region.x.length).toBeGreaterThan(10);
    expect(Math.max(...region.x)).toBeCloseTo(6.5, 0);
    expect(view.root.dataset.selectedCount).toBe("25");
    expect(renderer.selected).not.toBe(null);
  });

  it("no point frame while a lasso is drawn (the overlay shows it); one frame after it", () => {
    const { view, stage, renderer, selections } = scatterView();
    const wait = (ms: number): void => void vi.advanceTimersByTime(ms);
    view.setMode("lasso");
    wait(60);
    const before = renderer.frames;
    pointer(stage, "pointerdown", 10, 10);
    view.requestDraw(); // e.g. a linked view's selection arrives meanwhile
    for (const [x, y] of [[300, 10], [300, 300], [10, 300]]) pointer(stage, "pointermove", x, y);
    wait(60);
    expect(renderer.frames).toBe(before);
    pointer(stage, "pointerup", 10, 300);
    expect(selections.length).toBe(1);
    wait(60);
    expect(renderer.frames).toBe(before + 1);
  });

  it("shift-lasso adds; shift-drag in pan mode lassos too", () => {
    const { view, stage, selections } = scatterView();
    const t = view.transform;
    const around = (cx: number, cy: number): [number, number][] =>
      Array.from({ length: 13 }, (_, k) => t.toPixel(cx + 1.5 * Math.cos((2 * Math.PI * k) / 12), cy + 1.5 * Math.sin((2 * Math.PI * k) / 12)));
    const lasso = (pts: [number, number][], shift: boolean): void => {
      pointer(stage, "pointerdown", ...pts[0], { shiftKey: shift });
      for (const p of pts.slice(1)) pointer(stage, "pointermove", ...p, { shiftKey: shift });
      pointer(stage, "pointerup", ...pts[pts.length - 1], { shiftKey: shift });
    };
    lasso(around(-5, -5), true); // pan mode + shift: a lasso
    expect(selections[0].rows.length).toBe(25);
    lasso(around(5, -5), true); // shift at the end: adds
    expect(selections[1].rows.length).toBe(50);
  });

  it("a drag in pan mode pans, the wheel zooms, double-click resets", () => {
    const { view, stage, selections } = scatterView();
    const before = view.transform.toArray();
    pointer(stage, "pointerdown", 100, 100);
    pointer(stage, "pointermove", 150, 120);
    pointer(stage, "pointerup", 150, 120);
    expect(selections).toEqual([]);
    const after = view.transform.toArray();
    expect(after[2] - before[2]).toBeCloseTo(50);
    expect(after[3] - before[3]).toBeCloseTo(20);
    stage.dispatchEvent(new WheelEvent("wheel", { deltaY: -200, clientX: 300, clientY: 200, bubbles: true, cancelable: true }));
    expect(view.transform.zoom).toBeGreaterThan(1.2);
    stage.dispatchEvent(new MouseEvent("dblclick", { bubbles: true }));
    expect(view.transform.toArray()).toEqual(before);
  });

  it("box select, click a point, click empty space clears", () => {
    const { view, stage, selections } = scatterView();
    view.setMode("box");
    const t = view.transform;
    const [x0, y0] = t.toPixel(-7, 7);
    const [x1, y1] = t.toPixel(-3, 3);
    pointer(stage, "pointerdown", x0, y0);
    pointer(stage, "pointermove", x1, y1);
    pointer(stage, "pointerup", x1, y1);
    expect(selections[0].source).toBe("box");
    expect(selections[0].rows).toEqual(Array.from({ length: 25 }, (_, i) => 50 + i));
    // click exactly on point 3
    const { x, y } = clusters();
    const [px, py] = t.toPixel(x[3], y[3]);
    pointer(stage, "pointerdown", px, py);
    pointer(stage, "pointerup", px, py);
    expect(selections[1]).toMatchObject({ source: "click", rows: [3] });
    const [ex, ey] = t.toPixel(0, 0); // nothing there
    pointer(stage, "pointerdown", ex, ey);
    pointer(stage, "pointerup", ex, ey);
    expect(selections[2]).toMatchObject({ source: "clear", rows: [] });
  });

  it("hovering a point highlights it; the legend selects a category", () => {
    const { view, stage, selections, renderer } = scatterView();
    const { x, y } = clusters();
    const [px, py] = view.transform.toPixel(x[60], y[60]);
    pointer(stage, "pointermove", px, py);
    expect(renderer.hover).toBe(60);
    expect(view.root.querySelector<HTMLElement>('[data-testid="sc-tooltip"]')!.hidden).toBe(false);
    view.root.querySelector<HTMLElement>('[data-testid="sc-legend-2"]')!.click();
    expect(selections[0]).toMatchObject({ source: "legend" });
    expect(selections[0].rows).toEqual(Array.from({ length: 25 }, (_, i) => 50 + i));
  });

  it("performance mode: no hover picking", () => {
    const { view, stage, renderer } = scatterView();
    view.setPerformance(true);
    const { x, y } = clusters();
    pointer(stage, "pointermove", ...view.transform.toPixel(x[10], y[10]));
    expect(renderer.hover).toBe(-1);
    expect(view.root.dataset.performance).toBe("1");
  });
});

function histogramView(values: number[], bins = 10) {
  const host = document.createElement("div");
  document.body.append(host);
  const selections: { rows: number[]; source: string; region: Record<string, unknown>; live: boolean }[] = [];
  const view = new HistogramView(host, { onSelect: (rows, source, region, live) => selections.push({ rows: idx(rows), source, region, live }) });
  view.setData({ kind: "numeric", values: new Float32Array(values), bins, range: null, column: "v" });
  const plot = view.root.querySelector('[data-testid="hist-plot"]')!;
  // jsdom has no layout: the plot is 400 px wide with a 44 px left margin -> 356 px of bars
  const binX = (b: number): number => 44 + ((b + 0.5) * 356) / bins;
  return { view, plot, selections, binX };
}

describe("HistogramView", () => {
  const values = Array.from({ length: 100 }, (_, i) => i / 10); // 0 .. 9.9, 10 per bin

  it("draws a bar per bin with its count", () => {
    const { view } = histogramView(values);
    const bars = view.root.querySelectorAll('[data-testid^="hist-bar-"]');
    expect(bars.length).toBe(10);
    expect(Array.from(bars).map((b) => b.getAttribute("data-count"))).toEqual(Array(10).fill("10"));
    expect(view.root.dataset.kind).toBe("numeric");
  });

  it("a brush selects the rows of the brushed bins, live while dragging, final on release", () => {
    const { view, plot, selections, binX } = histogramView(values);
    pointer(plot, "pointerdown", binX(2), 50);
    pointer(plot, "pointermove", binX(4), 50);
    vi.advanceTimersByTime(20); // the live frame
    expect(selections[selections.length - 1]?.live).toBe(true);
    pointer(plot, "pointerup", binX(4), 50);
    const last = selections[selections.length - 1]!;
    expect(last.live).toBe(false);
    expect(last.source).toBe("range");
    expect(last.rows).toEqual(Array.from({ length: 30 }, (_, i) => 20 + i));
    expect(last.region).toMatchObject({ kind: "range", column: "v", bins: [2, 4] });
    const brush = view.root.querySelector('[data-testid="hist-brush"]')!;
    expect(brush.getAttribute("data-b0")).toBe("2");
    expect(brush.getAttribute("data-b1")).toBe("4");
    expect(view.root.querySelector('[data-testid="hist-bar-3"]')!.getAttribute("data-selected")).toBe("full");
  });

  it("click a bar, click it again to clear; shift adds", () => {
    const { plot, selections, binX } = histogramView(values);
    pointer(plot, "pointerdown", binX(7), 50);
    pointer(plot, "pointerup", binX(7), 50);
    expect(selections[0].rows).toEqual(Array.from({ length: 10 }, (_, i) => 70 + i));
    pointer(plot, "pointerdown", binX(1), 50, { shiftKey: true });
    pointer(plot, "pointerup", binX(1), 50, { shiftKey: true });
    expect(selections[1].rows.length).toBe(20);
    pointer(plot, "pointerdown", binX(1), 50);
    pointer(plot, "pointerup", binX(1), 50);
    pointer(plot, "pointerdown", binX(1), 50);
    pointer(plot, "pointerup", binX(1), 50);
    expect(selections[selections.length - 1]).toMatchObject({ source: "clear", rows: [] });
  });

  it("shows a selection from elsewhere as an overlay, and its own range as a brush", () => {
    const { view } = histogramView(values);
    view.setSelection(Bitmask.fromIndices(100, [0, 1, 55]));
    expect(view.root.querySelector('[data-testid="hist-bar-0"]')!.getAttribute("data-selected")).toBe("partial");
    expect(view.root.querySelector('[data-testid="hist-brush"]')!.getAttribute("visibility")).toBe("hidden");
    const e = view.binning!.edges; // 0, 0.99, 1.98, ... (the max is 9.9)
    view.setSelection(Bitmask.fromPredicate(100, (i) => i >= 30 && i < 50), { lo: e[3], hi: e[5] });
    expect(view.root.querySelector('[data-testid="hist-brush"]')!.getAttribute("data-b0")).toBe("3");
    expect(view.root.querySelector('[data-testid="hist-brush"]')!.getAttribute("data-b1")).toBe("4");
  });

  it("the status names the range asked for, the brush the bins it touches", () => {
    const { view, plot, binX } = histogramView(values);
    view.setSelection(Bitmask.fromPredicate(100, (i) => i >= 25 && i <= 45), { lo: 2.5, hi: 4.5 });
    const status = () => view.root.querySelector('[data-testid="hist-status"]')!.textContent;
    expect(status()).toContain("v in [2.5, 4.5]");
    expect(view.root.querySelector('[data-testid="hist-brush"]')!.getAttribute("data-b0")).toBe("2");
    // a brush drawn by hand: its bins' edges
    pointer(plot, "pointerdown", binX(6), 50);
    pointer(plot, "pointermove", binX(7), 50);
    pointer(plot, "pointerup", binX(7), 50);
    expect(status()).toMatch(/v in \[5\.9\d*, 7\.9\d*\]/);
  });

  it("categorical columns: click a bar", () => {
    const host = document.createElement("div");
    document.body.append(host);
    const got: number[][] = [];
    const view = new HistogramView(host, { onSelect: (rows) => got.push(idx(rows)) });
    view.setData({ kind: "categorical", codes: new Uint8Array([0, 1, 1, 2, 255]), categories: ["a", "b", "c"], column: "k" });
    expect(view.root.querySelector('[data-testid="hist-bar-1"]')!.getAttribute("data-count")).toBe("2");
    const plot = view.root.querySelector('[data-testid="hist-plot"]')!;
    const x = 44 + (1.5 * 356) / 3;
    pointer(plot, "pointerdown", x, 40);
    pointer(plot, "pointerup", x, 40);
    expect(got).toEqual([[1, 2]]);
  });
});

// ---------------------------------------------------------------- the entries, linked

const f32 = (a: number[]): DataView => new DataView(new Float32Array(a).buffer);
const u16 = (a: number[]): DataView => new DataView(new Uint16Array(a).buffer);
const u32 = (a: number[]): DataView => new DataView(new Uint32Array(a).buffer);
const empty = (): DataView => new DataView(new ArrayBuffer(0));

function selectionTraits(n: number, extra: Record<string, unknown>) {
  return { n_rows: n, _selection: empty(), _selection_source: "", _selection_region: {}, _row_keys: empty(), _link: null, ...extra };
}

describe("linked widgets (scatter, histogram, confusion matrix entries)", () => {
  it("a confusion-matrix click highlights in the scatter and the histogram; a brush outlines cells", async () => {
    const manager = new FakeManager();
    const N = 8;
    const shared = new FakeModel({ n_samples: N, _selection: empty(), _selection_source: "", _selection_view: "", _selection_region: {} });
    manager.models.set("L", shared);
    const xs = [0, 1, 2, 3, 4, 5, 6, 7];
    const scatterModel = new FakeModel(
      selectionTraits(N, {
        _view_id: "sc",
        _link: "IPY_MODEL_L",
        _x: f32(xs),
        _y: f32(xs),
        color_kind: "none",
        _color_codes: empty(),
        _color_code_width: 1,
        _color_values: empty(),
        color_range: [],
        color_categories: [],
        color_palette: [],
        color_column: "",
        _size: empty(),
        point_size: 0,
        performance: false,
        equal_aspect: true,
        x_label: "x",
        y_label: "y",
        title: "",
        height: 300,
        hover_tooltip: true,
      }),
      manager,
    );
    const histModel = new FakeModel(
      selectionTraits(N, { _view_id: "h", _link: "IPY_MODEL_L", column: "v", kind: "numeric", _values: f32(xs), _codes: empty(), _code_width: 1, categories: [], bins: 8, value_range: [0, 7], title: "v", height: 120 }),
      manager,
    );
    // the confusion matrix has samples 1, 2, 5, 6 only: true/pred codes per row
    const cmModel = new FakeModel(
      selectionTraits(4, { _view_id: "cm", _link: "IPY_MODEL_L", _row_keys: u32([1, 2, 5, 6]), class_names: ["a", "b"], _y_true: u16([0, 0, 1, 1]), _y_pred: u16([0, 1, 1, 1]), normalize: "none", title: "" }),
      manager,
    );
    const mount = (): HTMLElement => {
      const el = document.createElement("div");
      document.body.append(el);
      return el;
    };
    const scEl = mount();
    const hEl = mount();
    const cmEl = mount();
    const cleanups = [
      scatterWidget.render({ model: scatterModel as any, el: scEl }),
      histogramWidget.render({ model: histModel as any, el: hEl }),
      confusionWidget.render({ model: cmModel as any, el: cmEl }),
    ];
    await settle();
    // click the (b, b) cell: rows 2, 3 of the matrix = samples 5, 6
    cmEl.querySelector<HTMLElement>('[data-testid="cm-cell-1-1"]')!.click();
    const scRoot = scEl.querySelector<HTMLElement>('[data-testid="nbdiag-scatter"]')!;
    expect(scRoot.dataset.selectedCount).toBe("2");
    expect(hEl.querySelector('[data-testid="hist-bar-5"]')!.getAttribute("data-selected")).toBe("full");
    expect(hEl.querySelector('[data-testid="hist-bar-6"]')!.getAttribute("data-selected")).toBe("full");
    expect(hEl.querySelector('[data-testid="hist-bar-4"]')!.hasAttribute("data-selected")).toBe(false);
    // the kernel hears it once, on the shared model
    vi.advanceTimersByTime(200);
    expect(shared.saves.length).toBe(1);
    expect(idx(Bitmask.fromBytes(shared.state._selection as DataView, N))).toEqual([5, 6]);
    expect(shared.state._selection_view).toBe("cm");
    expect(cmModel.saves).toEqual([]);
    // a brush over bins 0..2 (samples 0, 1, 2) outlines the cells of samples 1 and 2
    const plot = hEl.querySelector('[data-testid="hist-plot"]')!;
    const binX = (b: number): number => 44 + ((b + 0.5) * 356) / 8;
    pointer(plot, "pointerdown", binX(0), 40);
    pointer(plot, "pointermove", binX(2), 40);
    pointer(plot, "pointerup", binX(2), 40);
    expect(scRoot.dataset.selectedCount).toBe("3");
    expect(cmEl.querySelector('[data-testid="cm-cell-0-0"]')!.getAttribute("data-selected")).toBe("full");
    expect(cmEl.querySelector('[data-testid="cm-cell-0-1"]')!.getAttribute("data-selected")).toBe("full");
    expect(cmEl.querySelector('[data-testid="cm-cell-1-1"]')!.hasAttribute("data-selected")).toBe(false);
    // Python selects: every view follows
    shared.fromKernel({ _selection_source: "python", _selection_view: "", _selection: Bitmask.fromIndices(N, [7]).toBytes() });
    expect(scRoot.dataset.selectedCount).toBe("1");
    expect(hEl.querySelector('[data-testid="hist-bar-7"]')!.getAttribute("data-selected")).toBe("full");
    expect(cmEl.querySelector('[data-testid="cm-status"]')!.getAttribute("data-selected-count")).toBe("0");
    for (const c of cleanups) (c as () => void)();
    expect(shared.listenerCount()).toBe(0);
  });

  it("the scatter asks the kernel for a tooltip through the RPC channel", async () => {
    const model = new FakeModel(
      selectionTraits(2, {
        _view_id: "sc",
        _x: f32([0, 1]),
        _y: f32([0, 1]),
        color_kind: "none",
        _color_codes: empty(),
        _color_code_width: 1,
        _color_values: empty(),
        color_range: [],
        color_categories: [],
        color_palette: [],
        color_column: "",
        _size: empty(),
        point_size: 0,
        performance: false,
        equal_aspect: true,
        x_label: "",
        y_label: "",
        title: "",
        height: 300,
        hover_tooltip: true,
      }),
    );
    const el = document.createElement("div");
    document.body.append(el);
    const cleanup = scatterWidget.render({ model: model as any, el });
    // no WebGL in jsdom: the view shows why, and still works without drawing
    expect(el.querySelector('[data-testid="sc-error"]')).not.toBe(null);
    (cleanup as () => void)();
    expect(model.listenerCount()).toBe(0);
  });
});
