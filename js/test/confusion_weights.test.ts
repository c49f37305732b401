// @vitest-environment jsdom
// Weighted rows (semantic segmentation): each row is an (image, true, predicted) triple counting
// its pixels. Expected numbers are recomputed here from the rows, independently of matrix.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MISSING_CODE } from "../src/shared/codecs";
import { Bitmask } from "../src/shared/selection";
import { confusionCounts, hasWeights, normalized, selectedPerCell, selectedWeight } from "../src/confusion/matrix";
import widget, { SELECTION_DEBOUNCE_MS, type ConfusionMatrixTraits } from "../src/widgets/confusion_matrix";
import { FakeModel } from "./fake_model";

const M = MISSING_CODE;
const K = 3;
// row:        0    1   2     3   4    5   6      7
const T = [0, 0, 1, 1, 2, 0, 2, M];
const P = [0, 1, 1, 2, 2, 1, 0, 1];
const W = [1200, 30, 500, 7, 900, 45, 3, 99];
const yTrue = new Uint16Array(T);
const yPred = new Uint16Array(P);
const weights = new Uint32Array(W);

/** K x K sums of `W` over rows with valid codes, the obvious way. */
function expectedCounts(rows: number[] = T.map((_, r) => r)): number[] {
  const out = new Array(K * K).fill(0);
  for (const r of rows) if (T[r] < K && P[r] < K) out[T[r] * K + P[r]] += W[r];
  return out;
}

describe("confusionCounts with weights", () => {
  const c = confusionCounts(yTrue, yPred, K, weights);

  it("sums each row's weight into its cell", () => {
    expect(Array.from(c.counts)).toEqual(expectedCounts());
  });

  it("totals and skipped are weights too", () => {
    const e = expectedCounts();
    expect(c.total).toBe(e.reduce((a, b) => a + b, 0));
    expect(c.skipped).toBe(99);
    expect(Array.from(c.rowTotals)).toEqual([0, 1, 2].map((t) => e[t * K] + e[t * K + 1] + e[t * K + 2]));
    expect(Array.from(c.colTotals)).toEqual([0, 1, 2].map((p) => e[p] + e[K + p] + e[2 * K + p]));
  });

  it("normalises by weighted row sums", () => {
    const rates = normalized(c, "true");
    expect(rates[0 * K + 1]).toBeCloseTo(75 / 1275, 12);
  });

  it("counts beyond 2^32 stay exact", () => {
    const big = confusionCounts(new Uint16Array([0, 0]), new Uint16Array([1, 1]), 2, new Float64Array([2 ** 32, 5]));
    expect(big.counts[1]).toBe(2 ** 32 + 5);
  });

  it("absent, empty or too-short weights count rows (unchanged behaviour)", () => {
    const rows = confusionCounts(yTrue, yPred, K);
    for (const w of [undefined, new Uint32Array(0), new Uint32Array(3)]) {
      expect(Array.from(confusionCounts(yTrue, yPred, K, w).counts)).toEqual(Array.from(rows.counts));
      expect(hasWeights(w, T.length)).toBe(false);
    }
    expect(rows.counts[0]).toBe(1);
  });
});

describe("selected weight per cell", () => {
  it("sums the weights of selected rows", () => {
    const sel = Bitmask.fromIndices(T.length, [0, 1, 5, 7]);
    expect(Array.from(selectedPerCell(yTrue, yPred, K, sel, weights))).toEqual(expectedCounts([0, 1, 5, 7]));
    expect(selectedWeight(sel, weights, T.length)).toBe(1200 + 30 + 45 + 99);
    expect(selectedWeight(sel, undefined, T.length)).toBe(4);
  });
});

// ------------------------------------------------------------------------------ the widget
const u16 = (codes: number[]): DataView => new DataView(new Uint16Array(codes).buffer);
const u32 = (xs: number[]): DataView => new DataView(new Uint32Array(xs).buffer);

function setup(extra: Partial<ConfusionMatrixTraits> = {}) {
  const model = new FakeModel({
    n_rows: T.length,
    _selection: new DataView(new ArrayBuffer(0)),
    _selection_source: "",
    class_names: ["road", "car", "sky"],
    _y_true: u16(T),
    _y_pred: u16(P),
    _weights: u32(W),
    normalize: "none",
    title: "seg",
    ...extra,
  });
  const el = document.createElement("div");
  document.body.append(el);
  widget.render({ model: model as any, el });
  const q = (id: string): HTMLElement => el.querySelector<HTMLElement>(`[data-testid="${id}"]`)!;
  return { model, el, q };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  vi.useRealTimers();
  document.body.replaceChildren();
});

describe("ConfusionMatrix with weights", () => {
  it("cells show pixel sums", () => {
    const { q } = setup();
    const e = expectedCounts();
    for (let t = 0; t < K; t++) for (let p = 0; p < K; p++) expect(Number(q(`cm-cell-${t}-${p}`).dataset.count)).toBe(e[t * K + p]);
  });

  it("a cell click selects that cell's rows (every image with that confusion) and reports pixels", () => {
    const { model, q } = setup();
    q("cm-cell-0-1").dispatchEvent(new MouseEvent("click", { bubbles: true }));
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS + 1);
    const sel = model.get("_selection") as DataView;
    expect(Array.from(Bitmask.fromBytes(sel, T.length).indices())).toEqual([1, 5]);
    expect(q("cm-status").dataset.selectedCount).toBe("2");
    expect(q("cm-status").textContent).toContain("75 of 2,784 pixels selected");
    expect(q("cm-cell-0-1").dataset.selected).toBe("full");
  });

  it("new weights redraw the counts", () => {
    const { model, q } = setup();
    model.set("_weights", u32(W.map((x) => x * 2)));
    expect(Number(q("cm-cell-0-0").dataset.count)).toBe(2400);
  });
});
