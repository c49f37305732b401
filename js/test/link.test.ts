import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SelectionBinding, parseRef, type SelectionInfo } from "../src/shared/link/binding";
import { LinkHub, LINK_DEBOUNCE_MS } from "../src/shared/link/hub";
import { ObjectKeys, RowKeys } from "../src/shared/link/mapping";
import { Bitmask } from "../src/shared/selection";
import { FakeManager, FakeModel, settle } from "./fake_model";

const u32 = (values: number[]): DataView => new DataView(new Uint32Array(values).buffer);
const idx = (m: Bitmask): number[] => Array.from(m.indices());

describe("RowKeys: rows <-> samples", () => {
  it("identity when there are no keys", () => {
    const k = new RowKeys(10, 10, null);
    expect(k.isIdentity).toBe(true);
    expect(idx(k.toSamples(Bitmask.fromIndices(10, [1, 9])))).toEqual([1, 9]);
    expect(idx(k.toRows(Bitmask.fromIndices(10, [0, 3])))).toEqual([0, 3]);
    // an empty key column is the identity too
    expect(new RowKeys(4, 4, new Uint32Array(0)).isIdentity).toBe(true);
  });

  it("refuses identity keys over a different number of samples, and short keys", () => {
    expect(() => new RowKeys(3, 5, null)).toThrow(/identity/);
    expect(() => new RowKeys(3, 5, new Uint32Array([0, 1]))).toThrow(/2 row keys for 3 rows/);
  });

  it("a subset view (the evaluated samples) maps both ways", () => {
    // confusion-matrix rows = samples 2, 5, 6, 9 of 12
    const k = new RowKeys(4, 12, new Uint32Array([2, 5, 6, 9]));
    expect(idx(k.toSamples(Bitmask.fromIndices(4, [0, 3])))).toEqual([2, 9]);
    // samples outside the view's rows simply do not show
    expect(idx(k.toRows(Bitmask.fromIndices(12, [0, 5, 9, 11])))).toEqual([1, 3]);
    expect(k.toRows(Bitmask.empty(12)).isEmpty()).toBe(true);
  });

  it("object rows: a sample is selected when any of its objects is, an object when its sample is", () => {
    // 5 objects over samples [0, 0, 2, 3, 3]
    const k = new RowKeys(5, 4, new Uint32Array([0, 0, 2, 3, 3]));
    expect(idx(k.toSamples(Bitmask.fromIndices(5, [1, 4])))).toEqual([0, 3]);
    expect(idx(k.toRows(Bitmask.fromIndices(4, [0, 3])))).toEqual([0, 1, 3, 4]);
  });

  it("scatter -> confusion matrix -> histogram: a round trip through samples", () => {
    const nSamples = 1000;
    const cmKeys = Uint32Array.from({ length: 500 }, (_, i) => i * 2); // even samples evaluated
    const cm = new RowKeys(500, nSamples, cmKeys);
    const scatter = new RowKeys(nSamples, nSamples, null);
    const lasso = Bitmask.fromPredicate(nSamples, (i) => i >= 100 && i < 200);
    const samples = scatter.toSamples(lasso);
    const cmRows = cm.toRows(samples);
    expect(cmRows.count()).toBe(50);
    expect(idx(cm.toSamples(cmRows))).toEqual(idx(lasso).filter((i) => i % 2 === 0));
  });

  it("ignores keys beyond the universe", () => {
    const k = new RowKeys(2, 3, new Uint32Array([1, 7]));
    expect(idx(k.toSamples(Bitmask.fromIndices(2, [0, 1])))).toEqual([1]);
    expect(idx(k.toRows(Bitmask.fromIndices(3, [0, 1, 2])))).toEqual([0]);
  });
});

describe("parseRef", () => {
  it("strips widget_serialization's prefix", () => {
    expect(parseRef("IPY_MODEL_abc")).toBe("abc");
    expect(parseRef(null)).toBe(null);
    expect(parseRef("")).toBe(null);
  });
});

function sharedModel(n: number, extra: Record<string, unknown> = {}): FakeModel {
  return new FakeModel({
    n_samples: n,
    _selection: new DataView(new ArrayBuffer(0)),
    _selection_source: "",
    _selection_view: "",
    _selection_region: {},
    ...extra,
  });
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("LinkHub", () => {
  it("one hub per shared model, found by any bundle", () => {
    const m = sharedModel(8);
    expect(LinkHub.of(m)).toBe(LinkHub.of(m));
    expect(LinkHub.of(sharedModel(8))).not.toBe(LinkHub.of(m));
  });

  it("tells the other views at once and the kernel once, debounced", () => {
    const m = sharedModel(16);
    const hub = LinkHub.of(m);
    const a = { got: [] as number[][], onChange: (s: Bitmask) => a.got.push(idx(s)) };
    const b = { got: [] as number[][], onChange: (s: Bitmask) => b.got.push(idx(s)) };
    hub.subscribe(a);
    hub.subscribe(b);
    hub.propose(Bitmask.fromIndices(16, [1, 2]), { source: "lasso", view: "A", region: {} }, a);
    hub.propose(Bitmask.fromIndices(16, [3]), { source: "lasso", view: "A", region: { kind: "lasso" } }, a);
    expect(a.got).toEqual([]); // the proposer is not told
    expect(b.got).toEqual([[1, 2], [3]]);
    expect(m.saves).toEqual([]);
    vi.advanceTimersByTime(LINK_DEBOUNCE_MS);
    expect(m.saves.length).toBe(1);
    expect(Object.keys(m.saves[0]).sort()).toEqual(["_selection", "_selection_region", "_selection_source", "_selection_view"]);
    expect(idx(Bitmask.fromBytes(m.saves[0]._selection as DataView, 16))).toEqual([3]);
    expect(m.saves[0]._selection_view).toBe("A");
    expect(m.saves[0]._selection_region).toEqual({ kind: "lasso" });
  });

  it("a live proposal (brush moving) is not sent; the final one is", () => {
    const m = sharedModel(8);
    const hub = LinkHub.of(m);
    const b = { n: 0, onChange: () => b.n++ };
    hub.subscribe(b);
    hub.propose(Bitmask.fromIndices(8, [1]), { source: "range", view: "H", region: {} }, null, true);
    vi.advanceTimersByTime(1000);
    expect(m.saves).toEqual([]);
    expect(b.n).toBe(1);
    hub.propose(Bitmask.fromIndices(8, [1, 2]), { source: "range", view: "H", region: {} }, null);
    vi.advanceTimersByTime(LINK_DEBOUNCE_MS);
    expect(m.saves.length).toBe(1);
  });

  it("a selection from the kernel reaches every view, with its source", () => {
    const m = sharedModel(8);
    const hub = LinkHub.of(m);
    const seen: [number[], string, string][] = [];
    hub.subscribe({ onChange: (s, meta) => seen.push([idx(s), meta.source, meta.view]) });
    m.fromKernel({ _selection_source: "python", _selection_view: "", _selection: Bitmask.fromIndices(8, [7]).toBytes() });
    expect(seen).toEqual([[[7], "python", ""]]);
    expect(m.saves).toEqual([]); // never echoed back
  });

  it("the kernel's echo of an earlier write does not undo a newer pending selection", () => {
    const m = sharedModel(8);
    const hub = LinkHub.of(m);
    const seen: number[][] = [];
    const view = { onChange: (s: Bitmask) => seen.push(idx(s)) };
    hub.subscribe(view);
    hub.propose(Bitmask.fromIndices(8, [1]), { source: "a", view: "V", region: {} }, null);
    vi.advanceTimersByTime(LINK_DEBOUNCE_MS); // written
    const first = m.state._selection as DataView;
    hub.propose(Bitmask.fromIndices(8, [2]), { source: "b", view: "V", region: {} }, null); // pending
    seen.length = 0;
    m.fromKernel({ _selection: new DataView(first.buffer.slice(0)) }); // echo of write 1
    expect(seen).toEqual([]);
    expect(idx(hub.selection)).toEqual([2]);
    vi.advanceTimersByTime(LINK_DEBOUNCE_MS);
    expect(idx(Bitmask.fromBytes(m.state._selection as DataView, 8))).toEqual([2]);
  });

  it("a new selection from Python wins over a pending local one", () => {
    const m = sharedModel(8);
    const hub = LinkHub.of(m);
    hub.subscribe({ onChange: () => {} });
    hub.propose(Bitmask.fromIndices(8, [1]), { source: "a", view: "V", region: {} }, null);
    m.fromKernel({ _selection: Bitmask.fromIndices(8, [5]).toBytes(), _selection_source: "python" });
    vi.advanceTimersByTime(1000);
    expect(m.saves).toEqual([]);
    expect(idx(hub.selection)).toEqual([5]);
  });

  it("the last view out flushes and detaches", () => {
    const m = sharedModel(8);
    const hub = LinkHub.of(m);
    const off = hub.subscribe({ onChange: () => {} });
    hub.propose(Bitmask.fromIndices(8, [1]), { source: "a", view: "V", region: {} }, null);
    off();
    expect(m.saves.length).toBe(1);
    expect(m.listenerCount()).toBe(0);
    expect(LinkHub.of(m)).not.toBe(hub);
  });
});

/** A view of `n` rows with a binding; records what it was told to show. */
function viewOf(model: FakeModel, n: () => number) {
  const shown: { rows: number[]; info: SelectionInfo }[] = [];
  const binding = new SelectionBinding(model as any, {
    rowCount: n,
    setSelection: (rows, info) => shown.push({ rows: idx(rows), info }),
  });
  return { binding, shown, last: () => shown[shown.length - 1] };
}

function viewModel(n: number, extra: Record<string, unknown> = {}, manager?: FakeManager): FakeModel {
  return new FakeModel(
    {
      n_rows: n,
      _selection: new DataView(new ArrayBuffer(0)),
      _selection_source: "",
      _selection_region: {},
      _view_id: "v" + Math.random().toString(36).slice(2, 8),
      _row_keys: new DataView(new ArrayBuffer(0)),
      _link: null,
      ...extra,
    },
    manager,
  );
}

describe("SelectionBinding unlinked", () => {
  it("writes the own selection with its source, and the region only when the view has one", () => {
    const m = viewModel(10);
    const { binding } = viewOf(m, () => 10);
    binding.commit(Bitmask.fromIndices(10, [2]), "cell:0:1");
    vi.advanceTimersByTime(LINK_DEBOUNCE_MS);
    expect(m.saves).toEqual([{ _selection: expect.any(DataView), _selection_source: "cell:0:1" }]);
    binding.commit(Bitmask.fromIndices(10, [3, 4]), "range", { region: { kind: "range", lo: 1, hi: 2 } });
    vi.advanceTimersByTime(LINK_DEBOUNCE_MS);
    expect(m.saves[1]._selection_region).toEqual({ kind: "range", lo: 1, hi: 2 });
  });

  it("shows the initial selection and Python's, never writing them back", () => {
    const m = viewModel(10, { _selection: Bitmask.fromIndices(10, [1]).toBytes(), _selection_source: "python" });
    const v = viewOf(m, () => 10);
    expect(v.last().rows).toEqual([1]);
    expect(v.last().info).toMatchObject({ own: true, linked: false, source: "python" });
    m.fromKernel({ _selection: Bitmask.fromIndices(10, [4]).toBytes() });
    expect(v.last().rows).toEqual([4]);
    expect(m.saves).toEqual([]);
  });

  it("an immediate commit (a lasso) is written at once", () => {
    const m = viewModel(10);
    const { binding } = viewOf(m, () => 10);
    binding.commit(Bitmask.fromIndices(10, [2]), "lasso", { region: {}, immediate: true });
    expect(m.saves.length).toBe(1);
    expect(binding.pending()).toBe(false);
  });

  it("live commits are not written", () => {
    const m = viewModel(10);
    const { binding } = viewOf(m, () => 10);
    binding.commit(Bitmask.fromIndices(10, [2]), "range", { live: true });
    vi.advanceTimersByTime(1000);
    expect(m.saves).toEqual([]);
  });
});

describe("SelectionBinding linked", () => {
  function world() {
    const manager = new FakeManager();
    const shared = sharedModel(12);
    manager.models.set("L1", shared);
    // scatter: all 12 samples; cm: samples 2, 5, 6, 9
    const scatterModel = viewModel(12, { _link: "IPY_MODEL_L1", _view_id: "scatter" }, manager);
    const cmModel = viewModel(4, { _link: "IPY_MODEL_L1", _view_id: "cm", _row_keys: u32([2, 5, 6, 9]) }, manager);
    const scatter = viewOf(scatterModel, () => 12);
    const cm = viewOf(cmModel, () => 4);
    return { manager, shared, scatterModel, cmModel, scatter, cm };
  }

  it("a selection in one view shows at once in the other, mapped through the samples", async () => {
    const w = world();
    await settle();
    expect(w.scatter.binding.linked).toBe(true);
    w.scatter.binding.commit(Bitmask.fromIndices(12, [0, 5, 6, 7]), "lasso", { region: { kind: "lasso" } });
    expect(w.cm.last().rows).toEqual([1, 2]); // samples 5 and 6
    expect(w.cm.last().info).toMatchObject({ source: "lasso", view: "scatter", own: false, linked: true });
    // one message to the kernel, on the shared model; none on the views' own models
    vi.advanceTimersByTime(LINK_DEBOUNCE_MS);
    expect(w.shared.saves.length).toBe(1);
    expect(idx(Bitmask.fromBytes(w.shared.state._selection as DataView, 12))).toEqual([0, 5, 6, 7]);
    expect(w.scatterModel.saves).toEqual([]);
    expect(w.cmModel.saves).toEqual([]);
    // and back: a confusion-matrix click selects those samples in the scatter
    w.cm.binding.commit(Bitmask.fromIndices(4, [3]), "cell:1:1");
    expect(w.scatter.last().rows).toEqual([9]);
  });

  it("a selection from Python on the shared model shows in every view", async () => {
    const w = world();
    await settle();
    w.shared.fromKernel({ _selection: Bitmask.fromIndices(12, [2, 3]).toBytes(), _selection_source: "python" });
    expect(w.scatter.last().rows).toEqual([2, 3]);
    expect(w.cm.last().rows).toEqual([0]);
  });

  it("an immediate commit reaches the shared model at once", async () => {
    const w = world();
    await settle();
    w.scatter.binding.commit(Bitmask.fromIndices(12, [4]), "lasso", { immediate: true });
    expect(w.shared.saves.length).toBe(1);
  });

  it("an immediate commit is written before the other views are told (they may redraw slowly)", async () => {
    const w = world();
    const savesWhenShown: number[] = [];
    // another render of the confusion matrix notes how many writes went out when it is told
    new SelectionBinding(w.cmModel as any, { rowCount: () => 4, setSelection: () => savesWhenShown.push(w.shared.saves.length) });
    await settle();
    savesWhenShown.length = 0;
    w.scatter.binding.commit(Bitmask.fromIndices(12, [9]), "lasso", { immediate: true });
    expect(savesWhenShown).toEqual([1]);
    expect(w.cm.last().rows).toEqual([3]);
    // 50 rapid lassos: one write each, the last one is what the model holds
    for (let k = 0; k < 50; k++) w.scatter.binding.commit(Bitmask.fromIndices(12, [k % 12]), "lasso", { immediate: true });
    expect(w.shared.saves.length).toBe(51);
    expect(idx(Bitmask.fromBytes(w.shared.get("_selection"), 12))).toEqual([49 % 12]);
  });

  it("a commit made while the link resolves is applied once it has", async () => {
    const w = world();
    w.cm.binding.commit(Bitmask.fromIndices(4, [0]), "cell:0:0");
    await settle();
    expect(w.scatter.last().rows).toEqual([2]);
  });

  it("linking later and unlinking: the view follows", async () => {
    const manager = new FakeManager();
    const shared = sharedModel(6, { _selection: Bitmask.fromIndices(6, [4]).toBytes() });
    manager.models.set("L", shared);
    const m = viewModel(6, {}, manager);
    const v = viewOf(m, () => 6);
    expect(v.last().rows).toEqual([]);
    const changes: boolean[] = [];
    m.fromKernel({ _link: "IPY_MODEL_L" });
    await settle();
    expect(v.last().rows).toEqual([4]);
    // own-selection messages are ignored while linked
    m.fromKernel({ _selection: Bitmask.fromIndices(6, [0]).toBytes() });
    expect(v.last().rows).toEqual([4]);
    m.fromKernel({ _link: null, _selection: Bitmask.fromIndices(6, [4]).toBytes() });
    expect(v.last().rows).toEqual([4]);
    expect(v.last().info.linked).toBe(false);
    expect(shared.listenerCount()).toBe(0); // the hub detached with its last view
    expect(changes).toEqual([]);
  });

  it("new row keys re-map the current selection", async () => {
    const w = world();
    await settle();
    w.shared.fromKernel({ _selection: Bitmask.fromIndices(12, [9]).toBytes() });
    expect(w.cm.last().rows).toEqual([3]);
    w.cmModel.fromKernel({ _row_keys: u32([9, 1, 1, 1]) });
    expect(w.cm.last().rows).toEqual([0]);
  });

  it("destroy flushes a pending gesture and unsubscribes", async () => {
    const w = world();
    await settle();
    w.scatter.binding.commit(Bitmask.fromIndices(12, [1]), "click");
    w.scatter.binding.destroy();
    expect(w.shared.saves.length).toBe(1);
    expect(w.scatterModel.listenerCount()).toBe(0);
    w.cm.binding.destroy();
    expect(w.shared.listenerCount()).toBe(0);
  });
});

describe("object-level selections", () => {
  // samples 0..3; objects 0..5 in samples [0, 0, 1, 2, 2, 2]
  function world() {
    const manager = new FakeManager();
    const shared = sharedModel(4, { n_objects: 6, _object_selection: new DataView(new ArrayBuffer(0)) });
    manager.models.set("L", shared);
    const link = { _link: "IPY_MODEL_L" };
    // a histogram over all six objects, a grid over the big ones (objects 1, 3, 5), a scatter of samples
    const histModel = viewModel(6, { ...link, _view_id: "hist", _row_keys: u32([0, 0, 1, 2, 2, 2]), _object_keys: u32([0, 1, 2, 3, 4, 5]) }, manager);
    const gridModel = viewModel(3, { ...link, _view_id: "grid", _row_keys: u32([0, 2, 2]), _object_keys: u32([1, 3, 5]) }, manager);
    const scatterModel = viewModel(4, { ...link, _view_id: "scatter" }, manager);
    return {
      shared,
      hist: viewOf(histModel, () => 6),
      grid: viewOf(gridModel, () => 3),
      scatter: viewOf(scatterModel, () => 4),
    };
  }

  it("a selection of objects shows exactly those objects in object views, their samples elsewhere", async () => {
    const w = world();
    await settle();
    w.hist.binding.commit(Bitmask.fromIndices(6, [0, 2, 4]), "range"); // the small boxes
    expect(w.grid.last().rows).toEqual([]); // none of the big boxes: not "every box of 0, 1, 2"
    expect(w.scatter.last().rows).toEqual([0, 1, 2]);
    vi.advanceTimersByTime(LINK_DEBOUNCE_MS);
    expect(w.shared.saves.length).toBe(1);
    expect(idx(Bitmask.fromBytes(w.shared.saves[0]._object_selection as DataView, 6))).toEqual([0, 2, 4]);
    expect(idx(Bitmask.fromBytes(w.shared.saves[0]._selection as DataView, 4))).toEqual([0, 1, 2]);
    // a grid click on one big box: the histogram shows that one box
    w.grid.binding.commit(Bitmask.fromIndices(3, [1]), "click");
    expect(w.hist.last().rows).toEqual([3]);
  });

  it("a selection of samples clears the objects: object views show every object of those samples", async () => {
    const w = world();
    await settle();
    w.hist.binding.commit(Bitmask.fromIndices(6, [3]), "range");
    w.scatter.binding.commit(Bitmask.fromIndices(4, [2]), "lasso");
    expect(w.hist.last().rows).toEqual([3, 4, 5]);
    expect(w.grid.last().rows).toEqual([1, 2]);
    vi.advanceTimersByTime(LINK_DEBOUNCE_MS);
    const last = w.shared.saves[w.shared.saves.length - 1];
    expect((last._object_selection as DataView).byteLength).toBe(0);
  });

  it("from the kernel: samples and objects in one message are shown once, exactly", async () => {
    const w = world();
    await settle();
    const before = w.grid.shown.length;
    w.shared.fromKernel({
      _object_selection: Bitmask.fromIndices(6, [5]).toBytes(),
      _selection: Bitmask.fromIndices(4, [2]).toBytes(),
      _selection_source: "python",
    });
    expect(w.grid.shown.length).toBe(before + 1);
    expect(w.grid.last().rows).toEqual([2]);
    expect(w.hist.last().rows).toEqual([5]);
    // other objects of the same sample: the objects alone change, and the views follow
    w.shared.fromKernel({ _object_selection: Bitmask.fromIndices(6, [3]).toBytes() });
    expect(w.grid.last().rows).toEqual([1]);
  });

  it("a view whose rows are not the dataset's objects links by sample", async () => {
    const w = world();
    await settle();
    const manager = (w.shared as any).widget_manager as FakeManager;
    manager.models.set("L", w.shared);
    const pairs = viewOf(viewModel(2, { _link: "IPY_MODEL_L", _view_id: "pairs", _row_keys: u32([2, 3]) }, manager), () => 2);
    await settle();
    w.hist.binding.commit(Bitmask.fromIndices(6, [4]), "range");
    expect(pairs.last().rows).toEqual([0]); // the pair in sample 2
  });
});

describe("LinkHub meta", () => {
  it("the same rows re-selected from another view (from the kernel) reach the views with the new meta", () => {
    const m = sharedModel(8);
    const hub = LinkHub.of(m);
    const seen: string[] = [];
    hub.subscribe({ onChange: (_s: Bitmask, meta) => seen.push(meta.view) });
    m.fromKernel({ _selection: Bitmask.fromIndices(8, [1]).toBytes(), _selection_view: "A", _selection_source: "python" });
    m.fromKernel({ _selection_view: "B" });
    expect(seen).toEqual(["A", "B"]);
    expect(hub.meta.view).toBe("B");
  });
});

describe("ObjectKeys: rows <-> objects", () => {
  const NONE = 0xffffffff;
  it("one key per row, or two (a prediction and a ground truth per confusion pair)", () => {
    const pairs = new ObjectKeys(3, 6, new Uint32Array([4, 0, NONE, 1, 5, NONE])); // (pred, gt)
    expect(pairs.k).toBe(2);
    expect(idx(pairs.toObjects(Bitmask.fromIndices(3, [0, 1])))).toEqual([0, 1, 4]);
    expect(idx(pairs.toRows(Bitmask.fromIndices(6, [1])))).toEqual([1]);
    expect(idx(pairs.toRows(Bitmask.fromIndices(6, [4, 5])))).toEqual([0, 2]);
    expect(idx(new ObjectKeys(2, 6, new Uint32Array([3, 2])).toRows(Bitmask.fromIndices(6, [2])))).toEqual([1]);
    expect(() => new ObjectKeys(3, 6, new Uint32Array([1, 2]))).toThrow(/3 rows/);
  });

  it("a matrix cell over pairs selects exactly its boxes in a linked box view", async () => {
    const manager = new FakeManager();
    const shared = sharedModel(3, { n_objects: 6, _object_selection: new DataView(new ArrayBuffer(0)) });
    manager.models.set("L", shared);
    // objects: 0,1 gt of sample 0; 2 gt of sample 1; 3,4 preds of sample 0; 5 pred of sample 2
    const cm = viewOf(viewModel(3, { _link: "IPY_MODEL_L", _row_keys: u32([0, 0, 2]), _object_keys: u32([3, 0, 4, NONE, 5, NONE]) }, manager), () => 3);
    const gt = viewOf(viewModel(3, { _link: "IPY_MODEL_L", _row_keys: u32([0, 0, 1]), _object_keys: u32([0, 1, 2]) }, manager), () => 3);
    const pred = viewOf(viewModel(3, { _link: "IPY_MODEL_L", _row_keys: u32([0, 0, 2]), _object_keys: u32([3, 4, 5]) }, manager), () => 3);
    await settle();
    cm.binding.commit(Bitmask.fromIndices(3, [0]), "cell:1:1"); // pair (pred 3, gt 0)
    expect(gt.last().rows).toEqual([0]); // not gt 1 of the same image
    expect(pred.last().rows).toEqual([0]);
    pred.binding.commit(Bitmask.fromIndices(3, [1]), "click"); // pred 4: a false positive
    expect(cm.last().rows).toEqual([1]);
    expect(gt.last().rows).toEqual([]);
  });
});
