// @vitest-environment jsdom
/**
 * The ImageGrid widget entry under jsdom, wired to a fake model and a fake kernel answering the
 * RPC requests: virtualisation at 100k rows, paged loading, boxes drawn where they belong,
 * placeholders, selection gestures reaching the model, settings and sort from the kernel.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { STYLE } from "../src/grid/boxes";
import { RPC_KEY } from "../src/shared/rpc";
import { Bitmask } from "../src/shared/selection";
import widget from "../src/widgets/image_grid";
import { FakeModel } from "./fake_model";

const N = 100_000;

function traits(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    n_rows: N,
    _selection: new DataView(new ArrayBuffer(0)),
    _selection_source: "",
    _view_id: "grid1",
    _row_keys: null,
    _link: null,
    _level: "sample",
    task: "detection",
    title: "test grid",
    class_names: ["cat", "dog"],
    sort_by: null,
    ascending: true,
    sort_options: ["score", "n_gt"],
    _order: new DataView(new ArrayBuffer(0)),
    _filter: new DataView(new ArrayBuffer(0)),
    score_threshold: 0,
    show_gt: true,
    show_pred: true,
    hidden_classes: [],
    color_by: "match",
    selected_only: false,
    thumbnail_size: 128,
    height: 520,
    has_boxes: true,
    has_predictions: true,
    has_evaluation: true,
    _data_version: 0,
    ...extra,
  };
}

type Req = { id: string; method: string; params: any };

function requests(model: FakeModel): Req[] {
  return model.sent.filter((s) => s.content[RPC_KEY] === "request").map((s) => s.content as Req);
}

/** Answer a `page` request like the kernel: a 160x120 image per row (row 3 is corrupt), two
 *  boxes each (a GT matched by a prediction of score 0.2 + row / 100000). */
function answerPage(model: FakeModel, req: Req): void {
  const items: any[] = [];
  const buffers: DataView[] = [];
  const boxes: number[] = [];
  for (const row of req.params.rows as number[]) {
    if (row === 3) {
      items.push({ row, id: `s${row}`, error: "corrupt_image", detail: "corrupt_image: /x/s3.png", label: null, pred: null, score: null, status: null, kind: null });
      continue;
    }
    items.push({ row, id: `s${row}`, buffer: buffers.length, mime: "image/webp", sw: 160, sh: 120, label: null, pred: null, score: null, status: null, kind: null });
    buffers.push(new DataView(new Uint8Array([82, 73, 70, 70]).buffer));
    const score = 0.5;
    boxes.push(row, 10, 20, 32, 32, score, 0, STYLE.GT_TP);
    boxes.push(row, 12, 21, 32, 32, score, 0, STYLE.PRED_TP);
  }
  const result: any = { items, size: req.params.size, box_stride: 8, boxes: -1 };
  if (boxes.length) {
    result.boxes = buffers.length;
    buffers.push(new DataView(new Float32Array(boxes).buffer));
  }
  model.message({ [RPC_KEY]: "response", id: req.id, ok: true, result }, buffers);
}

const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** Answer every page request (and the ones they trigger) like the kernel. */
async function answerUntilDone(model: FakeModel): Promise<void> {
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const n = answerAll(model, seen);
    await flush();
    if (n === 0) return;
  }
}

function answerAll(model: FakeModel, seen: Set<string>): number {
  let n = 0;
  for (const r of requests(model)) {
    if (seen.has(r.id) || r.method !== "page") continue;
    seen.add(r.id);
    answerPage(model, r);
    n++;
  }
  return n;
}

const cellsOf = (el: HTMLElement) => [...el.querySelectorAll<HTMLElement>("[data-testid=grid-cell]")];
const cellAt = (el: HTMLElement, pos: number) => el.querySelector<HTMLElement>(`[data-testid=grid-cell][data-pos="${pos}"]`)!;

describe("ImageGrid widget (jsdom)", () => {
  let el: HTMLDivElement;
  let model: FakeModel;
  let cleanup: () => void;
  let urls = 0;
  const revoked: string[] = [];

  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal("requestAnimationFrame", undefined); // render synchronously
    URL.createObjectURL = vi.fn(() => `blob:thumb-${++urls}`);
    URL.revokeObjectURL = vi.fn((u: string) => void revoked.push(u));
    el = document.createElement("div");
    document.body.append(el);
  });
  afterEach(() => {
    cleanup?.();
    el.remove();
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  function mount(extra: Record<string, unknown> = {}): void {
    model = new FakeModel(traits(extra));
    cleanup = widget.render({ model: model as any, el }) as () => void;
  }

  it("renders only a window of cells for 100k rows and asks only for those rows", () => {
    mount();
    const cells = cellsOf(el);
    expect(el.querySelector("[data-testid=nbdiag-image-grid]")!.getAttribute("data-ready")).toBe("1");
    expect(cells.length).toBeGreaterThan(0);
    expect(cells.length).toBeLessThan(60);
    const spacer = el.querySelector<HTMLElement>("[data-testid=grid-spacer]")!;
    expect(parseFloat(spacer.style.height)).toBeGreaterThan(1_000_000); // room for 100k cells
    const reqs = requests(model);
    expect(reqs.length).toBeGreaterThan(0);
    expect(reqs.length).toBeLessThanOrEqual(2); // max in flight
    expect(reqs[0]).toMatchObject({ method: "page", params: { size: 128 } });
    const asked = reqs.flatMap((r) => r.params.rows as number[]);
    expect(Math.max(...asked)).toBeLessThan(cells.length);
    expect(asked.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
    expect(cells.every((c) => c.dataset.state === "loading")).toBe(true);
  });

  it("loaded items show the image at its fitted place and the boxes scaled onto it", async () => {
    mount();
    await answerUntilDone(model);
    const c0 = cellAt(el, 0);
    expect(c0.dataset.state).toBe("ready");
    expect(c0.dataset.id).toBe("s0");
    const img = c0.querySelector<HTMLImageElement>("[data-testid=grid-img]")!;
    expect(img.hidden).toBe(false);
    expect(img.getAttribute("src")).toMatch(/^blob:thumb-/);
    // 160x120 in a 128 px frame: scale 0.8, letterboxed 16 px top and bottom
    expect([img.style.left, img.style.top, img.style.width, img.style.height]).toEqual(["0px", "16px", "128px", "96px"]);
    const rects = [...c0.querySelectorAll("rect[data-testid=grid-box]")];
    expect(rects.map((r) => r.getAttribute("data-kind"))).toEqual(["gt", "pred"]);
    const gt = rects[0];
    expect(["x", "y", "width", "height"].map((a) => Number(gt.getAttribute(a)))).toEqual([8, 32, 25.6, 25.6]);
    expect(gt.getAttribute("data-state")).toBe("tp");
    expect(rects[1].getAttribute("stroke-dasharray")).toBeTruthy(); // predictions dashed
    expect(c0.querySelector("[data-testid=grid-box-label]")!.textContent).toBe("cat 0.50");
  });

  it("a corrupt image shows a placeholder naming the issue; the other cells are fine", async () => {
    mount();
    await answerUntilDone(model);
    const bad = cellAt(el, 3);
    expect(bad.dataset.state).toBe("error");
    const ph = bad.querySelector<HTMLElement>("[data-testid=grid-placeholder]")!;
    expect(ph.hidden).toBe(false);
    expect(ph.dataset.issue).toBe("corrupt_image");
    expect(ph.textContent).toContain("corrupt_image");
    expect(bad.querySelector<HTMLImageElement>("[data-testid=grid-img]")!.hidden).toBe(true);
    expect(cellAt(el, 4).dataset.state).toBe("ready");
  });

  it("the confidence threshold from the kernel hides predictions and turns their GT into misses", async () => {
    mount();
    await answerUntilDone(model);
    model.fromKernel({ score_threshold: 0.6 });
    const rects = [...cellAt(el, 0).querySelectorAll("rect[data-testid=grid-box]")];
    expect(rects.map((r) => [r.getAttribute("data-kind"), r.getAttribute("data-state")])).toEqual([["gt", "fn"]]);
    expect((el.querySelector("[data-testid=grid-threshold]") as HTMLInputElement).value).toBe("0.6");
    model.fromKernel({ show_gt: false });
    expect(cellAt(el, 0).querySelectorAll("rect[data-testid=grid-box]")).toHaveLength(0);
  });

  it("the slider writes score_threshold to the kernel on release", () => {
    mount();
    const slider = el.querySelector<HTMLInputElement>("[data-testid=grid-threshold]")!;
    slider.value = "0.35";
    slider.dispatchEvent(new Event("input"));
    expect(model.saves).toHaveLength(0); // live in the browser while dragging
    slider.dispatchEvent(new Event("change"));
    expect(model.saves[model.saves.length - 1]).toEqual({ score_threshold: 0.35 });
  });

  it("click, shift-click and ctrl-click reach the model as one debounced bitmask write each", () => {
    mount();
    const click = (pos: number, init: MouseEventInit = {}) => cellAt(el, pos).dispatchEvent(new MouseEvent("click", { bubbles: true, detail: 1, ...init }));
    click(2);
    vi.advanceTimersByTime(200);
    expect(model.state._selection_source).toBe("click:2");
    expect([...Bitmask.fromBytes(model.state._selection as DataView, N).indices()]).toEqual([2]);
    click(6, { shiftKey: true });
    vi.advanceTimersByTime(200);
    expect([...Bitmask.fromBytes(model.state._selection as DataView, N).indices()]).toEqual([2, 3, 4, 5, 6]);
    click(4, { ctrlKey: true });
    click(5, { metaKey: true });
    vi.advanceTimersByTime(200);
    expect([...Bitmask.fromBytes(model.state._selection as DataView, N).indices()]).toEqual([2, 3, 6]);
    expect(model.saves.length).toBe(3); // the two toggles were coalesced
    expect(cellsOf(el).filter((c) => c.dataset.selected === "1").map((c) => Number(c.dataset.row))).toEqual([2, 3, 6]);
    expect(el.querySelector<HTMLElement>("[data-testid=grid-status]")!.dataset.selectedCount).toBe("3");
  });

  it("a selection from Python is shown, not echoed back", () => {
    mount();
    model.fromKernel({ _selection: Bitmask.fromIndices(N, [1, 7]).toBytes(), _selection_source: "python" });
    expect(cellsOf(el).filter((c) => c.dataset.selected === "1").map((c) => Number(c.dataset.row))).toEqual([1, 7]);
    vi.advanceTimersByTime(500);
    expect(model.saves).toHaveLength(0);
  });

  it("sorting: the kernel's order is the display order; rows are re-requested in that order", () => {
    mount();
    const order = new Uint32Array(N);
    for (let i = 0; i < N; i++) order[i] = N - 1 - i;
    const before = requests(model).length;
    model.fromKernel({ _order: new DataView(order.buffer) });
    expect(Number(cellAt(el, 0).dataset.row)).toBe(N - 1);
    const fresh = requests(model).slice(before);
    expect(fresh[0].params.rows.slice(0, 3)).toEqual([N - 1, N - 2, N - 3]);
  });

  it("the sort dropdown and direction button write sort_by / ascending", () => {
    mount();
    const select = el.querySelector<HTMLSelectElement>("[data-testid=grid-sort]")!;
    expect([...select.options].map((o) => o.value)).toEqual(["", "score", "n_gt"]);
    select.value = "score";
    select.dispatchEvent(new Event("change"));
    expect(model.saves[model.saves.length - 1]).toEqual({ sort_by: "score" });
    el.querySelector<HTMLButtonElement>("[data-testid=grid-sort-dir]")!.click();
    expect(model.saves[model.saves.length - 1]).toEqual({ ascending: false });
  });

  it("scrolling far away cancels the pages no longer needed and asks for the new ones", async () => {
    mount();
    const first = requests(model).map((r) => r.id);
    expect(first.length).toBeGreaterThan(0);
    const scroll = el.querySelector<HTMLElement>("[data-testid=grid-scroll]")!;
    scroll.scrollTop = (50_000 / 5) * 176; // jump to the middle (5 columns of 176 px rows)
    scroll.dispatchEvent(new Event("scroll"));
    vi.advanceTimersByTime(100); // the scroll-time fetch debounce
    await flush();
    const cancelled = model.sent.filter((s) => s.content[RPC_KEY] === "cancel").flatMap((s) => s.content.ids);
    expect(cancelled.sort()).toEqual(first.sort()); // the kernel may skip them
    const rows = cellsOf(el).map((c) => Number(c.dataset.row));
    expect(Math.min(...rows)).toBeGreaterThan(40_000);
    const fresh = requests(model).filter((r) => !first.includes(r.id));
    expect(fresh.length).toBeGreaterThan(0);
    expect(fresh.flatMap((r) => r.params.rows).every((r: number) => rows.includes(r))).toBe(true);
    // late answers to the cancelled pages are dropped: those rows stay unloaded
    await answerUntilDone(model);
    expect(cellsOf(el).every((c) => c.dataset.state === "ready")).toBe(true);
  });

  it("a filter from the kernel shows only those rows; 'selected only' shows the selection", () => {
    mount();
    model.fromKernel({ _filter: Bitmask.fromIndices(N, [5, 50, 500]).toBytes() });
    expect(cellsOf(el).map((c) => Number(c.dataset.row))).toEqual([5, 50, 500]);
    model.fromKernel({ _filter: new DataView(new ArrayBuffer(0)) });
    model.fromKernel({ _selection: Bitmask.fromIndices(N, [9, 99]).toBytes(), _selection_source: "python" });
    el.querySelector<HTMLButtonElement>("[data-testid=grid-selected-only]")!.click();
    expect(model.saves[model.saves.length - 1]).toEqual({ selected_only: true });
    expect(cellsOf(el).map((c) => Number(c.dataset.row))).toEqual([9, 99]);
    // clicking inside keeps the shown set (it is the outside selection that filters)
    cellAt(el, 0).dispatchEvent(new MouseEvent("click", { bubbles: true, detail: 1 }));
    expect(cellsOf(el).map((c) => Number(c.dataset.row))).toEqual([9, 99]);
  });

  it("double-click opens the detail view, fetched through an `image` request", async () => {
    mount();
    cellAt(el, 1).dispatchEvent(new MouseEvent("dblclick", { bubbles: true }));
    const detail = el.querySelector<HTMLElement>("[data-testid=grid-detail]")!;
    expect(detail.hidden).toBe(false);
    const req = requests(model).find((r) => r.method === "image")!;
    expect(req.params).toEqual({ row: 1, max_size: 1024 });
    const boxes = new Float32Array([1, 10, 20, 32, 32, Number.NaN, 1, STYLE.GT, 1, 11, 20, 32, 32, 0.9, 1, STYLE.PRED_TP]);
    model.message(
      { [RPC_KEY]: "response", id: req.id, ok: true, result: { row: 1, id: "s1", buffer: 0, mime: "image/webp", sw: 160, sh: 120, boxes: 1, box_stride: 8, info: [["id", "s1"], ["width", "160"]], label: null, pred: null, score: null, status: null, kind: null } },
      [new DataView(new Uint8Array([1]).buffer), new DataView(boxes.buffer)],
    );
    await Promise.resolve();
    await Promise.resolve();
    expect(detail.dataset.state).toBe("ready");
    expect(el.querySelector("[data-testid=grid-detail-title]")!.textContent).toBe("s1");
    expect(detail.querySelectorAll("rect[data-testid=grid-box]")).toHaveLength(2);
    expect(detail.querySelectorAll("[data-testid=grid-box-label]")).toHaveLength(2); // every box labelled
    expect(el.querySelector("[data-testid=grid-detail-info]")!.textContent).toContain("width160");
    detail.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape" }));
    expect(detail.hidden).toBe(true);
  });

  it("a kernel error for a page marks its cells as failed (retried later), never breaks the grid", async () => {
    mount();
    const [req] = requests(model);
    model.message({ [RPC_KEY]: "response", id: req.id, ok: false, error: { type: "RuntimeError", message: "boom" } });
    await Promise.resolve();
    await Promise.resolve();
    const c = cellAt(el, req.params.rows[0]);
    expect(c.dataset.state).toBe("failed");
    expect(c.querySelector("[data-testid=grid-placeholder]")!.textContent).toContain("boom");
    // retried by itself after the retry delay, without any scrolling
    const before = requests(model).length;
    vi.advanceTimersByTime(4100);
    const again = requests(model).slice(before).flatMap((r) => r.params.rows);
    expect(again).toContain(req.params.rows[0]);
    await answerUntilDone(model);
    expect(cellAt(el, req.params.rows[0]).dataset.state).toBe("ready");
  });

  it("the classes menu hides a class's boxes and writes hidden_classes", async () => {
    mount();
    await answerUntilDone(model);
    expect(cellAt(el, 0).querySelectorAll("rect[data-testid=grid-box]")).toHaveLength(2);
    const cat = el.querySelector<HTMLInputElement>("[data-testid=grid-class-0]")!;
    expect(cat.checked).toBe(true);
    cat.checked = false;
    cat.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.saves[model.saves.length - 1]).toEqual({ hidden_classes: ["cat"] });
    expect(cellAt(el, 0).querySelectorAll("rect[data-testid=grid-box]")).toHaveLength(0);
    expect(el.querySelector("[data-testid=grid-classes]")!.textContent).toContain("1/2");
    el.querySelector<HTMLButtonElement>("[data-testid=grid-classes-all]")!.click();
    expect(model.saves[model.saves.length - 1]).toEqual({ hidden_classes: [] });
    expect(cellAt(el, 0).querySelectorAll("rect[data-testid=grid-box]")).toHaveLength(2);
  });

  it("classification captions: label, then a tick or the wrong prediction, and the score", async () => {
    mount({ task: "classification", has_boxes: false, has_predictions: false, has_evaluation: false, n_rows: 2 });
    const [req] = requests(model);
    const item = (row: number, pred: string, status: string) => ({ row, id: `s${row}`, buffer: row, mime: "image/webp", sw: 8, sh: 8, label: "cat", pred, score: 0.75, status, kind: null });
    const img = new DataView(new Uint8Array([1]).buffer);
    model.message({ [RPC_KEY]: "response", id: req.id, ok: true, result: { items: [item(0, "cat", "right"), item(1, "dog", "wrong")], boxes: -1, box_stride: 8 } }, [img, img]);
    await flush();
    expect(cellAt(el, 0).dataset.status).toBe("right");
    expect(cellAt(el, 0).querySelector("[data-testid=grid-caption]")!.textContent).toBe("cat ✓ 0.75");
    expect(cellAt(el, 1).dataset.status).toBe("wrong");
    expect(cellAt(el, 1).querySelector("[data-testid=grid-caption]")!.textContent).toBe("cat → dog 0.75");
    expect(el.querySelector<HTMLElement>("[data-testid=grid-threshold]")!.closest("label")!.hidden).toBe(true);
  });

  it("object rows: the chip follows the own box's state at the threshold", async () => {
    mount({ _level: "object", n_rows: 1 });
    const [req] = requests(model);
    const boxes = new Float32Array([0, 4, 4, 24, 24, 0.4, 1, STYLE.GT_TP + 8, 0, 5, 4, 24, 24, 0.4, 1, STYLE.PRED_TP]);
    model.message(
      { [RPC_KEY]: "response", id: req.id, ok: true, result: { items: [{ row: 0, id: "g0", buffer: 0, mime: "image/webp", sw: 34, sh: 34, label: "dog", pred: null, score: null, status: "tp", kind: "gt" }], boxes: 1, box_stride: 8 } },
      [new DataView(new Uint8Array([1]).buffer), new DataView(boxes.buffer)],
    );
    await flush();
    const chip = () => cellAt(el, 0).querySelector("[data-testid=grid-chip]")!.textContent;
    expect(chip()).toBe("TP");
    expect(cellAt(el, 0).querySelector('rect[data-focus="1"]')).not.toBeNull();
    model.fromKernel({ score_threshold: 0.5 }); // its prediction is filtered out: now a miss
    expect(chip()).toBe("FN");
  });

  it("cleanup cancels pending requests and removes the DOM", async () => {
    mount();
    const pending = requests(model).map((r) => r.id);
    cleanup();
    cleanup = () => {};
    await Promise.resolve();
    const cancelled = model.sent.filter((s) => s.content[RPC_KEY] === "cancel").flatMap((s) => s.content.ids);
    expect(cancelled.sort()).toEqual(pending.sort());
    expect(el.querySelector("[data-testid=nbdiag-image-grid]")).toBeNull();
    expect(model.listenerCount("msg:custom")).toBe(0);
  });
});
