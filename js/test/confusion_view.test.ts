// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MISSING_CODE } from "../src/shared/codecs";
import { Bitmask } from "../src/shared/selection";
import widget, { SELECTION_DEBOUNCE_MS, type ConfusionMatrixTraits } from "../src/widgets/confusion_matrix";
import { FakeModel } from "./fake_model";

const M = MISSING_CODE;
// row:            0  1  2  3  4  5  6  7  8  9 10 11 12
const Y_TRUE = [0, 0, 0, 1, 1, 2, 2, 2, 2, M, 1, 0, 0];
const Y_PRED = [0, 1, 0, 1, 2, 2, 0, 2, M, 1, 1, 2, 0];
// counts: cat [3,1,1]  dog [0,2,1]  bird [1,0,2]; rows 8 and 9 are not counted
const N = Y_TRUE.length;

const u16 = (codes: number[]): DataView => new DataView(new Uint16Array(codes).buffer);
const bytesOf = (v: unknown): number[] => {
  const dv = v as DataView;
  return Array.from(new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength));
};
/** rows of a `_selection` value the view wrote */
const rowsOf = (v: unknown, n = N): number[] => Array.from(Bitmask.fromBytes(v as DataView, n).indices());

function setup(extra: Partial<ConfusionMatrixTraits> = {}) {
  const model = new FakeModel({
    n_rows: N,
    _selection: new DataView(new ArrayBuffer(0)),
    _selection_source: "",
    class_names: ["cat", "dog", "bird"],
    _y_true: u16(Y_TRUE),
    _y_pred: u16(Y_PRED),
    normalize: "none",
    title: "cnn · accuracy 53.8%",
    ...extra,
  });
  const el = document.createElement("div");
  document.body.append(el);
  const cleanup = widget.render({ model: model as any, el });
  const q = (testid: string): HTMLElement => {
    const found = el.querySelector<HTMLElement>(`[data-testid="${testid}"]`);
    if (!found) throw new Error(`no [data-testid=${testid}]`);
    return found;
  };
  const click = (testid: string, mods: MouseEventInit = {}): void => {
    q(testid).dispatchEvent(new MouseEvent("click", { bubbles: true, ...mods }));
  };
  const selectedCells = (): string[] =>
    Array.from(el.querySelectorAll<HTMLElement>("td.is-selected")).map((td) => td.dataset.testid!);
  return { model, el, cleanup, q, click, selectedCells };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  document.body.replaceChildren();
});

describe("ConfusionMatrix rendering", () => {
  it("says there is nothing to show for classes without rows, and does not fail", () => {
    const { el } = setup({ n_rows: 0, _y_true: u16([]), _y_pred: u16([]) });
    expect(el.querySelector(".nbd-cm-empty")?.textContent).toBe("No samples to show.");
    expect(el.querySelectorAll("td").length).toBe(0);
    expect(el.textContent).not.toMatch(/cannot draw/i);
  });

  it("draws the protocol's DOM with counts", () => {
    const { el, q } = setup();
    const root = q("nbdiag-confusion-matrix");
    expect(root.dataset.ready).toBe("1");
    expect(el.querySelectorAll("td[data-testid^=cm-cell-]").length).toBe(9);
    const counts = [0, 1, 2].map((t) => [0, 1, 2].map((p) => q(`cm-cell-${t}-${p}`).dataset.count));
    expect(counts).toEqual([
      ["3", "1", "1"],
      ["0", "2", "1"],
      ["1", "0", "2"],
    ]);
    expect(q("cm-cell-0-0").textContent).toBe("3");
    expect(q("cm-row-1").textContent).toBe("dog");
    expect(q("cm-row-1").title).toBe("dog");
    expect(q("cm-col-2").textContent).toBe("bird");
    expect(q("cm-col-2").title).toBe("bird");
    expect(q("cm-status").dataset.selectedCount).toBe("0");
    expect(q("cm-status").textContent).toContain("0 of 13 selected");
    expect(q("cm-status").textContent).toContain("2 without a label or prediction");
    expect(q("cm-normalize-none").getAttribute("aria-pressed")).toBe("true");
    expect(q("cm-normalize-true").getAttribute("aria-pressed")).toBe("false");
    expect(q("cm-clear").tagName).toBe("BUTTON");
    expect(el.textContent).toContain("cnn · accuracy 53.8%");
    expect(el.textContent).toContain("true label");
    expect(el.textContent).toContain("predicted");
  });

  it("colours the diagonal blue and errors orange, empty cells unfilled", () => {
    const { q } = setup();
    const rgb = (s: string): number[] => (s.match(/\d+/g) ?? []).map(Number);
    const [r0, , b0] = rgb(q("cm-cell-0-0").style.backgroundColor);
    expect(b0).toBeGreaterThan(r0);
    const [r1, , b1] = rgb(q("cm-cell-1-2").style.backgroundColor);
    expect(r1).toBeGreaterThan(b1);
    expect(q("cm-cell-1-0").style.backgroundColor).toBe("");
    expect(q("cm-cell-1-0").classList.contains("is-zero")).toBe(true);
  });

  it("updates the title", () => {
    const { model, el } = setup();
    model.fromKernel({ title: "resnet" });
    expect(el.querySelector(".nbd-cm-title")!.textContent).toBe("resnet");
  });

  it("shrinks and scrolls for many classes, headers keep their full name", () => {
    const k = 60;
    const names = Array.from({ length: k }, (_, i) => `a rather long class name number ${i}`);
    const codes = Array.from({ length: 600 }, (_, i) => i % k);
    const { el, q } = setup({ class_names: names, _y_true: u16(codes), _y_pred: u16(codes.map((c) => (c * 7) % k)), n_rows: 600 });
    expect(q("nbdiag-confusion-matrix").classList.contains("nbd-cm--s")).toBe(true);
    expect(el.querySelectorAll("td[data-testid^=cm-cell-]").length).toBe(k * k);
    expect(q("cm-col-59").title).toBe("a rather long class name number 59");
    expect(el.querySelector(".nbd-cm-scroll table")).not.toBeNull();
  });

  it("shows an error for undecodable columns", () => {
    const { q } = setup({ _y_true: new DataView(new ArrayBuffer(3)) });
    expect(q("cm-error").textContent).toMatch(/not a multiple of 2/);
    expect(q("nbdiag-confusion-matrix").dataset.ready).toBe("1");
  });
});

describe("ConfusionMatrix clicks -> _selection", () => {
  it("a cell click writes that cell's rows, debounced, in one save", () => {
    const { model, click, q, selectedCells } = setup();
    click("cm-cell-0-0");
    expect(selectedCells()).toEqual(["cm-cell-0-0"]); // local highlight is immediate
    expect(q("cm-status").textContent).toContain("3 of 13 selected — true cat, predicted cat");
    expect(q("cm-status").dataset.selectedCount).toBe("3");
    expect(model.sets).toEqual([]); // not yet sent
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS - 1);
    expect(model.sets).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(model.saves.length).toBe(1);
    expect(Object.keys(model.saves[0])).toEqual(["_selection", "_selection_source"]);
    expect(model.state._selection).toBeInstanceOf(DataView);
    expect(bytesOf(model.state._selection)).toEqual([0x05, 0x10]); // rows 0, 2, 12
    expect(rowsOf(model.state._selection)).toEqual([0, 2, 12]);
    expect(model.state._selection_source).toBe("cell:0:0");
  });

  it("the written DataView owns exactly ceil(n / 8) bytes", () => {
    const { model, click } = setup();
    click("cm-cell-2-2");
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    const dv = model.state._selection as DataView;
    expect(dv.byteOffset).toBe(0);
    expect(dv.buffer.byteLength).toBe(2);
  });

  it("shift-click adds; a burst sends one message with the union", () => {
    const { model, click, selectedCells, q } = setup();
    click("cm-cell-0-0");
    vi.advanceTimersByTime(50);
    click("cm-cell-2-0", { shiftKey: true });
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    expect(model.saves.length).toBe(1);
    expect(rowsOf(model.state._selection)).toEqual([0, 2, 6, 12]);
    expect(model.state._selection_source).toBe("cell:2:0");
    expect(selectedCells()).toEqual(["cm-cell-0-0", "cm-cell-2-0"]);
    expect(q("cm-status").textContent).toContain("4 of 13 selected — predicted cat");
  });

  it("ctrl- and cmd-click add too", () => {
    const { model, click } = setup();
    click("cm-cell-0-1");
    click("cm-cell-1-1", { ctrlKey: true });
    click("cm-cell-2-2", { metaKey: true });
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    expect(rowsOf(model.state._selection)).toEqual([1, 3, 5, 7, 10]);
  });

  it("clicking the only selected cell again clears", () => {
    const { model, click, selectedCells, q } = setup();
    click("cm-cell-0-0");
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    click("cm-cell-0-0");
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    expect(model.saves.length).toBe(2);
    expect((model.state._selection as DataView).byteLength).toBe(0);
    expect(model.state._selection_source).toBe("clear");
    expect(selectedCells()).toEqual([]);
    expect(q("cm-status").dataset.selectedCount).toBe("0");
  });

  it("a plain click on another cell replaces the selection", () => {
    const { model, click } = setup();
    click("cm-cell-0-0");
    click("cm-cell-1-2");
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    expect(rowsOf(model.state._selection)).toEqual([4]);
    expect(model.state._selection_source).toBe("cell:1:2");
  });

  it("a modifier click on a selected cell removes it", () => {
    const { model, click, selectedCells } = setup();
    click("cm-cell-0-0");
    click("cm-cell-2-0", { shiftKey: true });
    click("cm-cell-0-0", { shiftKey: true });
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    expect(rowsOf(model.state._selection)).toEqual([6]);
    expect(selectedCells()).toEqual(["cm-cell-2-0"]);
  });

  it("a row header selects the true class, a column header the predicted class", () => {
    const { model, click, selectedCells, q } = setup();
    click("cm-row-2");
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    expect(rowsOf(model.state._selection)).toEqual([5, 6, 7]); // not row 8 (no prediction)
    expect(model.state._selection_source).toBe("row:2");
    expect(selectedCells()).toEqual(["cm-cell-2-0", "cm-cell-2-2"]);
    expect(q("cm-row-2").classList.contains("is-selected")).toBe(true);
    expect(q("cm-status").textContent).toContain("3 of 13 selected — true bird");

    click("cm-col-1");
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    expect(rowsOf(model.state._selection)).toEqual([1, 3, 10]); // not row 9 (no label)
    expect(model.state._selection_source).toBe("col:1");
    expect(q("cm-row-2").classList.contains("is-selected")).toBe(false);
    expect(q("cm-col-1").classList.contains("is-selected")).toBe(true);

    click("cm-row-1", { shiftKey: true });
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    expect(rowsOf(model.state._selection)).toEqual([1, 3, 4, 10]);
  });

  it("clicking inside a header's label still hits the header", () => {
    const { model, q } = setup();
    q("cm-col-0").querySelector("span")!.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    expect(model.state._selection_source).toBe("col:0");
    expect(rowsOf(model.state._selection)).toEqual([0, 2, 6, 12]);
  });

  it("Enter on a focused cell selects it", () => {
    const { model, q } = setup();
    q("cm-cell-1-1").dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    expect(rowsOf(model.state._selection)).toEqual([3, 10]);
  });

  it("the clear button clears", () => {
    const { model, click, selectedCells } = setup();
    click("cm-row-0");
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    click("cm-clear");
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    expect((model.state._selection as DataView).byteLength).toBe(0);
    expect(model.state._selection_source).toBe("clear");
    expect(selectedCells()).toEqual([]);
  });
});

describe("ConfusionMatrix normalise toggle", () => {
  it("sets the trait, saves, and relabels", () => {
    const { model, click, q } = setup();
    click("cm-normalize-true");
    expect(model.state.normalize).toBe("true");
    expect(model.saves).toEqual([{ normalize: "true" }]);
    expect(q("cm-normalize-true").getAttribute("aria-pressed")).toBe("true");
    expect(q("cm-normalize-none").getAttribute("aria-pressed")).toBe("false");
    expect(q("cm-cell-0-0").textContent).toBe("60.0%"); // 3 of 5 cats
    expect(q("cm-cell-0-0").dataset.count).toBe("3"); // data-count stays the count
    expect(q("cm-cell-1-0").textContent).toBe("0.0%");

    click("cm-normalize-true"); // already active: nothing to send
    expect(model.saves.length).toBe(1);
  });

  it("follows the trait when Python changes it", () => {
    const { model, q } = setup();
    model.fromKernel({ normalize: "pred" });
    expect(q("cm-normalize-pred").getAttribute("aria-pressed")).toBe("true");
    expect(q("cm-normalize-none").getAttribute("aria-pressed")).toBe("false");
    expect(q("cm-cell-0-0").textContent).toBe("75.0%"); // 3 of the 4 predicted cat
    expect(q("cm-cell-0-1").textContent).toBe("33.3%");
    expect(model.sets).toEqual([]);
    model.fromKernel({ normalize: "bogus" });
    expect(q("cm-normalize-none").getAttribute("aria-pressed")).toBe("true");
    expect(q("cm-cell-0-0").textContent).toBe("3");
  });

  it("starts in the model's mode", () => {
    const { q } = setup({ normalize: "true" });
    expect(q("cm-normalize-true").getAttribute("aria-pressed")).toBe("true");
    expect(q("cm-cell-2-2").textContent).toBe("66.7%");
  });
});

describe("ConfusionMatrix selection from Python", () => {
  it("outlines every cell holding a selected row and never echoes", () => {
    const { model, selectedCells, q } = setup();
    model.fromKernel({ _selection: Bitmask.fromIndices(N, [4, 6, 8]).toBytes(), _selection_source: "python" });
    expect(selectedCells()).toEqual(["cm-cell-1-2", "cm-cell-2-0"]);
    expect(q("cm-cell-1-2").dataset.selected).toBe("full");
    expect(q("cm-cell-0-0").dataset.selected).toBeUndefined();
    expect(q("cm-status").dataset.selectedCount).toBe("3");
    expect(q("cm-status").textContent).toContain("3 of 13 selected — 2 cells");
    vi.advanceTimersByTime(1000);
    expect(model.sets).toEqual([]);
    expect(model.saves).toEqual([]);
  });

  it("marks a partly selected cell as partial", () => {
    const { model, q, selectedCells } = setup();
    model.fromKernel({ _selection: Bitmask.fromIndices(N, [2]).toBytes(), _selection_source: "python" });
    expect(selectedCells()).toEqual(["cm-cell-0-0"]);
    expect(q("cm-cell-0-0").dataset.selected).toBe("partial");
    expect(q("cm-status").textContent).toContain("1 of 13 selected — true cat, predicted cat");
  });

  it("reads the initial selection", () => {
    const { selectedCells } = setup({ _selection: Bitmask.fromIndices(N, [3, 10]).toBytes() });
    expect(selectedCells()).toEqual(["cm-cell-1-1"]);
  });

  it("clears when Python sends b''", () => {
    const { model, click, selectedCells } = setup();
    click("cm-cell-0-0");
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    model.fromKernel({ _selection: new DataView(new ArrayBuffer(0)), _selection_source: "python" });
    expect(selectedCells()).toEqual([]);
    expect(model.saves.length).toBe(1);
  });

  it("a shift-click adds to a selection made in Python", () => {
    const { model, click } = setup();
    model.fromKernel({ _selection: Bitmask.fromIndices(N, [4]).toBytes(), _selection_source: "python" });
    click("cm-cell-2-0", { shiftKey: true });
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    expect(rowsOf(model.state._selection)).toEqual([4, 6]);
  });

  it("a new Python selection wins over a pending click", () => {
    const { model, click, selectedCells } = setup();
    click("cm-cell-0-0");
    model.fromKernel({ _selection: Bitmask.fromIndices(N, [5]).toBytes(), _selection_source: "python" });
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS * 2);
    expect(model.sets).toEqual([]);
    expect(selectedCells()).toEqual(["cm-cell-2-2"]);
  });

  it("the echo of an earlier write does not undo a newer pending click", () => {
    const { model, click, selectedCells } = setup();
    click("cm-cell-0-0");
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    const first = model.state._selection as DataView;
    click("cm-cell-1-1");
    model.fromKernel({ _selection: new DataView(first.buffer.slice(0)) }); // kernel echo of write 1
    expect(selectedCells()).toEqual(["cm-cell-1-1"]);
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    expect(rowsOf(model.state._selection)).toEqual([3, 10]);
  });
});

describe("ConfusionMatrix tooltip", () => {
  it("shows classes, count and both rates", () => {
    const { q } = setup();
    q("cm-cell-0-1").dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    const tip = q("cm-tooltip");
    expect(tip.hidden).toBe(false);
    const rows = Array.from(tip.querySelectorAll(".nbd-cm-tt-row")).map((r) =>
      Array.from(r.children).map((c) => c.textContent),
    );
    expect(rows).toEqual([
      ["true", "cat"],
      ["predicted", "dog"],
      ["count", "1"],
      ["of true cat", "20.0%"], // 1 of 5 cats
      ["of predicted dog", "33.3%"], // 1 of 3 predicted dog
    ]);
    expect(q("cm-row-0").classList.contains("is-hover")).toBe(true);
    expect(q("cm-col-1").classList.contains("is-hover")).toBe(true);
    q("cm-row-0").dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(tip.hidden).toBe(true);
    expect(q("cm-col-1").classList.contains("is-hover")).toBe(false);
  });

  it("tells how many of the cell's rows are selected", () => {
    const { model, q } = setup();
    model.fromKernel({ _selection: Bitmask.fromIndices(N, [0, 12]).toBytes(), _selection_source: "python" });
    q("cm-cell-0-0").dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(q("cm-tooltip").textContent).toContain("selected2");
  });
});

describe("ConfusionMatrix data changes and cleanup", () => {
  it("rebuilds on new data and drops a selection over the old rows", () => {
    const { model, click, q, el, selectedCells } = setup();
    click("cm-cell-0-0");
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    model.fromKernel({
      class_names: ["a", "b"],
      _y_true: u16([0, 1, 1, 1]),
      _y_pred: u16([0, 1, 0, 1]),
      _selection: new DataView(new ArrayBuffer(0)),
      n_rows: 4,
    });
    expect(el.querySelectorAll("td[data-testid^=cm-cell-]").length).toBe(4);
    expect(q("cm-cell-1-1").dataset.count).toBe("2");
    expect(q("cm-row-0").textContent).toBe("a");
    expect(selectedCells()).toEqual([]);
    expect(q("cm-status").textContent).toContain("0 of 4 selected");
    click("cm-cell-1-0");
    vi.advanceTimersByTime(SELECTION_DEBOUNCE_MS);
    expect(rowsOf(model.state._selection, 4)).toEqual([2]);
  });

  it("cleanup removes listeners and the DOM, and flushes a pending click", () => {
    const { model, click, cleanup, el } = setup();
    expect(model.listenerCount()).toBe(10); // 4 data (codes, _weights, class names) + normalize + title + the selection binding's _selection, _link, _row_keys, _object_keys
    click("cm-cell-2-2");
    (cleanup as () => void)();
    expect(model.listenerCount()).toBe(0);
    expect(el.children.length).toBe(0);
    expect(rowsOf(model.state._selection)).toEqual([5, 7]);
    expect(model.saves.length).toBe(1);
  });
});
