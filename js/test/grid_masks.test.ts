// @vitest-environment jsdom
/**
 * Masks in the ImageGrid: where a mask lands in a frame (against a full decode mapped pixel by
 * pixel), compositing (fill opacity, opaque outline, dashed predictions, draw order), and the
 * widget under jsdom with a fake kernel: masks drawn per cell, toggles and opacity, semantic
 * regions drawn without boxes, and a click inside a neighbour's mask selecting that object.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { decodeBoxes, maskedBoxes, outlinedBoxes, REGION, shownBoxes, STYLE, type Box } from "../src/grid/boxes";
import { fitContain } from "../src/grid/layout";
import { composite, hexRgb, maskAt, maskLayers, type MaskGeom } from "../src/grid/masks";
import { classColor } from "../src/grid/palette";
import { decodeMask, encodeMask } from "../src/shared/rle";
import { RPC_KEY } from "../src/shared/rpc";
import { Bitmask } from "../src/shared/selection";
import widget from "../src/widgets/image_grid";
import { FakeModel } from "./fake_model";

/** A row-major rectangle mask [x0, x1) x [y0, y1) on an h x w image, as counts. */
function rect(h: number, w: number, x0: number, y0: number, x1: number, y1: number): string {
  const bits = new Uint8Array(h * w);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) bits[y * w + x] = 1;
  return encodeMask(bits, h, w);
}

const box = (style: number, mask: string | null, cls = 0, objRow = -1): Box => ({ row: 0, x: 0, y: 0, w: 1, h: 1, score: 0.9, cls, style: style & 7, focus: false, region: (style & REGION) !== 0, mask, objRow });

describe("mask placement and compositing", () => {
  it("a crop's mask lands where its pixels are, at the frame's scale", () => {
    // image 100x80; the crop starts at (20, 10) and is 60x40; frame 90x90 -> scale 1.5
    const H = 80;
    const W = 100;
    const ring = new Uint8Array(H * W);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const d = ((x - 45) / 20) ** 2 + ((y - 30) / 14) ** 2;
      if (d <= 1 && d > 0.2) ring[y * W + x] = 1;
    }
    const counts = encodeMask(ring, H, W);
    const g: MaskGeom = { h: H, w: W, ox: 20, oy: 10 };
    const fit = fitContain(60, 40, 90, 90);
    const [layer] = maskLayers([{ box: box(STYLE.GT, counts), state: "gt" }], g, fit, 90, 90, "class");
    const full = decodeMask(counts, H, W);
    let checked = 0;
    for (let fy = 0; fy < 90; fy++) for (let fx = 0; fx < 90; fx++) {
      const mx = Math.floor(g.ox + (fx + 0.5 - fit.dx) / fit.scale);
      const my = Math.floor(g.oy + (fy + 0.5 - fit.dy) / fit.scale);
      const want = mx >= 0 && my >= 0 && mx < W && my < H ? full[my * W + mx] : 0;
      expect(layer.bits[fy * 90 + fx]).toBe(want);
      checked += want;
    }
    expect(checked).toBeGreaterThan(500);
  });

  it("fills at the opacity, outlines opaque, predictions dashed, later layers on top", () => {
    const H = 10;
    const W = 10;
    const g: MaskGeom = { h: H, w: W, ox: 0, oy: 0 };
    const fit = fitContain(W, H, W, H);
    const a = box(STYLE.GT, rect(H, W, 0, 0, 8, 8), 0);
    const b = box(STYLE.PRED, rect(H, W, 4, 4, 10, 10), 1);
    const layers = maskLayers([{ box: a, state: "gt" }, { box: b, state: "pred" }], g, fit, W, H, "class");
    const px = composite(layers, W, H, 0.5);
    const at = (x: number, y: number) => Array.from(px.slice((y * W + x) * 4, (y * W + x) * 4 + 4));
    const [r0, g0, b0] = hexRgb(classColor(0));
    expect(at(2, 2)).toEqual([r0, g0, b0, 128]); // inside a only: fill at 0.5
    expect(at(0, 3)).toEqual([r0, g0, b0, 255]); // a's outline: opaque
    expect(at(9, 9)).toEqual([...hexRgb(classColor(1)), 128]); // a gap of b's dashed outline ((9 + 9) & 3 = 2): fill only
    expect(at(9, 8)).toEqual([...hexRgb(classColor(1)), 255]); // b's outline, a dash
    // inside both: b over a, 0.5 over 0.5 -> alpha 0.75, colour weighted 2:1 towards b
    const [r1] = hexRgb(classColor(1));
    const both = at(6, 6);
    expect(both[3]).toBe(191);
    expect(both[0]).toBe(Math.round((r1 * 0.5 + r0 * 0.25) / 0.75));
    expect(at(9, 0)[3]).toBe(0); // in neither
    // the topmost mask under a point
    const hits = { width: W, height: H, layers };
    expect(maskAt(hits, 6.5, 6.5)).toBe(b);
    expect(maskAt(hits, 1, 1)).toBe(a);
    expect(maskAt(hits, 9, 1)).toBeNull();
  });

  it("regions are masks only; toggles drop boxes or masks", () => {
    const t = decodeBoxes(new Float32Array([0, 1, 1, 2, 2, NaN, 0, STYLE.GT, 0, 0, 0, 5, 5, NaN, 1, STYLE.GT + REGION]), 8, ["5", "7"], [-1, -1]);
    const shown = shownBoxes(t.get(0), { threshold: 0, showGt: true, showPred: true, hidden: new Set() });
    expect(shown).toHaveLength(2);
    expect(outlinedBoxes(shown, { threshold: 0, showGt: true, showPred: true, hidden: new Set() }).map((s) => s.box.cls)).toEqual([0]);
    expect(maskedBoxes(shown, { threshold: 0, showGt: true, showPred: true, hidden: new Set() }).map((s) => s.box.mask)).toEqual(["5", "7"]);
    expect(outlinedBoxes(shown, { threshold: 0, showGt: true, showPred: true, hidden: new Set(), showBoxes: false })).toEqual([]);
    expect(maskedBoxes(shown, { threshold: 0, showGt: true, showPred: true, hidden: new Set(), showMasks: false })).toEqual([]);
  });
});

// ------------------------------------------------------------------ the widget
const N = 40;
const IMG = 100; // every image is 100 x 100; each crop is 60 x 40 at (20, 10)
const FOCUS_MASK = rect(IMG, IMG, 30, 15, 50, 35); // the row's own object
const NEIGHBOUR_MASK = rect(IMG, IMG, 62, 20, 78, 45); // the next row's object, in this crop

type Req = { id: string; method: string; params: any };

function traits(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    n_rows: N, _selection: new DataView(new ArrayBuffer(0)), _selection_source: "", _view_id: "g", _row_keys: null, _link: null,
    _level: "object", task: "detection", title: "", class_names: ["cat", "dog"], sort_by: null, ascending: true, sort_options: [],
    _order: new DataView(new ArrayBuffer(0)), _filter: new DataView(new ArrayBuffer(0)), score_threshold: 0, show_gt: true, show_pred: true,
    hidden_classes: [], color_by: "class", selected_only: false, thumbnail_size: 128, height: 520, has_boxes: true, has_predictions: true,
    has_evaluation: false, has_masks: true, show_masks: true, show_boxes: true, mask_opacity: 0.45, _data_version: 0, ...extra,
  };
}

function answerPages(model: FakeModel, seen: Set<string>): number {
  let n = 0;
  for (const s of model.sent) {
    const r = s.content as Req;
    if (r[RPC_KEY as keyof Req] !== "request" || r.method !== "page" || seen.has(r.id)) continue;
    seen.add(r.id);
    n++;
    const items: any[] = [];
    const boxes: number[] = [];
    const masks: (string | null)[] = [];
    const rows: number[] = [];
    for (const row of r.params.rows as number[]) {
      items.push({ row, id: `o${row}`, buffer: 0, mime: "image/webp", sw: 60, sh: 40, mh: IMG, mw: IMG, ox: 20, oy: 10 });
      boxes.push(row, 10, 5, 20, 20, NaN, 0, STYLE.GT + 8); // its own box (FOCUS), crop coordinates
      masks.push(FOCUS_MASK);
      rows.push(row);
      boxes.push(row, 42, 10, 16, 25, 0.8, 1, STYLE.PRED);
      masks.push(NEIGHBOUR_MASK);
      rows.push(row + 1 < N ? row + 1 : -1);
    }
    const buffers = [new DataView(new Uint8Array([82, 73, 70, 70]).buffer), new DataView(new Float32Array(boxes).buffer)];
    model.message({ [RPC_KEY]: "response", id: r.id, ok: true, result: { items, size: r.params.size, box_stride: 8, boxes: 1, masks, mask_rows: rows } }, buffers);
  }
  return n;
}

describe("ImageGrid masks (jsdom)", () => {
  let el: HTMLDivElement;
  let model: FakeModel;
  let cleanup: () => void;
  let painted: Map<HTMLCanvasElement, Uint8ClampedArray>;

  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal("requestAnimationFrame", undefined);
    URL.createObjectURL = vi.fn(() => "blob:x");
    URL.revokeObjectURL = vi.fn();
    painted = new Map();
    // a 2D context that records the pixels put into each canvas (jsdom has no canvas)
    vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(function (this: HTMLCanvasElement) {
      const canvas = this;
      return {
        createImageData: (w: number, h: number) => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4) }),
        putImageData: (img: { data: Uint8ClampedArray }) => void painted.set(canvas, img.data.slice()),
      } as unknown as CanvasRenderingContext2D;
    } as any);
    el = document.createElement("div");
    document.body.append(el);
  });
  afterEach(() => {
    cleanup?.();
    el.remove();
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  async function mount(extra: Record<string, unknown> = {}): Promise<void> {
    model = new FakeModel(traits(extra));
    cleanup = widget.render({ model: model as any, el }) as () => void;
    const seen = new Set<string>();
    for (let i = 0; i < 20 && answerPages(model, seen) > 0; i++) for (let k = 0; k < 10; k++) await Promise.resolve();
  }
  const cell = (pos: number) => el.querySelector<HTMLElement>(`[data-testid=grid-cell][data-pos="${pos}"]`)!;
  const canvasOf = (pos: number) => cell(pos).querySelector<HTMLCanvasElement>("[data-testid=grid-masks]")!;
  const alphaAt = (pos: number, x: number, y: number) => painted.get(canvasOf(pos))![(y * 128 + x) * 4 + 3];

  it("draws each cell's masks where they are; toggles and opacity redraw them", async () => {
    await mount();
    expect(cell(0).dataset.masks).toBe("2");
    expect(canvasOf(0).hidden).toBe(false);
    // crop 60x40 in 128: scale 128/60, dy = (128 - 85.33) / 2; the focus mask is image
    // [30, 50) x [15, 35) = crop [10, 30) x [5, 25) -> frame x in [21.3, 64), y in [32, 74.7)
    const s = 128 / 60;
    const dy = (128 - 40 * s) / 2;
    const fx = Math.floor(20 * s);
    const fy = Math.floor(dy + 15 * s);
    expect(alphaAt(0, fx, fy)).toBe(Math.round(0.45 * 255)); // inside: translucent fill
    expect(alphaAt(0, 5, 5)).toBe(0); // outside every mask
    expect(alphaAt(0, 110, 120)).toBe(0); // below the neighbour (image y >= 45)
    model.fromKernel({ mask_opacity: 0.8 });
    expect(alphaAt(0, fx, fy)).toBe(Math.round(0.8 * 255));
    model.fromKernel({ show_pred: false });
    expect(cell(0).dataset.masks).toBe("1");
    model.fromKernel({ show_masks: false });
    expect(cell(0).dataset.masks).toBe("0");
    expect(canvasOf(0).hidden).toBe(true);
    expect(cell(0).querySelectorAll("rect[data-testid=grid-box]").length).toBe(1);
    model.fromKernel({ show_boxes: false, show_masks: true });
    expect(cell(0).querySelectorAll("rect[data-testid=grid-box]").length).toBe(0);
    expect(cell(0).dataset.masks).toBe("1");
  });

  it("the toolbar's mask controls write their traits", async () => {
    await mount();
    const masks = el.querySelector<HTMLInputElement>("[data-testid=grid-show-masks]")!;
    expect(el.querySelector<HTMLElement>("[data-testid=grid-mask-tools]")!.hidden).toBe(false);
    masks.checked = false;
    masks.dispatchEvent(new Event("change"));
    expect(model.saves[model.saves.length - 1]).toEqual({ show_masks: false });
    const op = el.querySelector<HTMLInputElement>("[data-testid=grid-mask-opacity]")!;
    op.value = "0.2";
    op.dispatchEvent(new Event("change"));
    expect(model.saves[model.saves.length - 1]).toEqual({ mask_opacity: 0.2 });
  });

  it("a click inside a neighbour's mask selects that object's row; elsewhere the cell's row", async () => {
    await mount();
    const s = 128 / 60;
    const dy = (128 - 40 * s) / 2;
    const click = (pos: number, x: number, y: number) => cell(pos).querySelector(".nbd-grid-frame")!.dispatchEvent(new MouseEvent("click", { bubbles: true, detail: 1, clientX: x, clientY: y }));
    // jsdom lays nothing out: the frame's client rect is at (0, 0)
    click(3, (70 - 20) * s, dy + (30 - 10) * s); // image (70, 30): the neighbour's mask
    vi.advanceTimersByTime(200);
    expect(model.state._selection_source).toBe("click:4");
    expect([...Bitmask.fromBytes(model.state._selection as DataView, N).indices()]).toEqual([4]);
    click(3, 2, 2); // outside every mask: the cell's own row
    vi.advanceTimersByTime(200);
    expect([...Bitmask.fromBytes(model.state._selection as DataView, N).indices()]).toEqual([3]);
  });

  it("without mask support in the page, nothing is drawn and the toolbar hides the controls", async () => {
    await mount({ has_masks: false });
    expect(el.querySelector<HTMLElement>("[data-testid=grid-mask-tools]")!.hidden).toBe(true);
  });
});
