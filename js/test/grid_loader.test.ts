import { describe, expect, it } from "vitest";
import { ItemCache, PageLoader, type ItemData } from "../src/grid/loader";
import { RpcCancelledError, RpcTimeoutError } from "../src/shared/rpc";

const item = (row: number, url: string | null = `blob:${row}`): ItemData => ({
  row,
  id: `s${row}`,
  url,
  sw: 10,
  sh: 10,
  boxes: [],
  label: null,
  pred: null,
  score: null,
  status: null,
  kind: null,
});

/** A fake kernel: records page requests; the test resolves or rejects them. */
class FakeFetch {
  calls: { rows: number[]; size: number; signal: AbortSignal; resolve: (items: ItemData[]) => void; reject: (e: unknown) => void }[] = [];
  fetch = (rows: number[], size: number, signal: AbortSignal): Promise<ItemData[]> =>
    new Promise((resolve, reject) => {
      this.calls.push({ rows, size, signal, resolve, reject });
    });
  answer(i: number): void {
    this.calls[i].resolve(this.calls[i].rows.map((r) => item(r)));
  }
}

const tick = async () => {
  for (let i = 0; i < 4; i++) await Promise.resolve();
};
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

describe("ItemCache", () => {
  it("is an LRU keyed by row and size that revokes evicted object URLs", () => {
    const revoked: string[] = [];
    const c = new ItemCache(2, (u) => revoked.push(u));
    c.set(item(1), 128);
    c.set(item(2), 128);
    expect(c.get(1, 128)?.id).toBe("s1"); // 1 is now most recent
    c.set(item(3), 128);
    expect(c.has(2, 128)).toBe(false);
    expect(revoked).toEqual(["blob:2"]);
    expect(c.has(1, 256)).toBe(false); // another size is another entry
    c.set(item(1, "blob:new"), 128); // replacing revokes the old URL
    expect(revoked).toEqual(["blob:2", "blob:1"]);
    c.clear();
    expect(revoked.sort()).toEqual(["blob:1", "blob:2", "blob:3", "blob:new"]);
    expect(c.size).toBe(0);
  });

  it("items without an image (errors) are cached too", () => {
    const c = new ItemCache(5, () => {});
    c.set({ ...item(4, null), error: "corrupt_image" }, 128);
    expect(c.get(4, 128)?.error).toBe("corrupt_image");
  });
});

describe("PageLoader", () => {
  function setup(opts: Partial<ConstructorParameters<typeof PageLoader>[0]> = {}) {
    const k = new FakeFetch();
    const cache = new ItemCache(1000, () => {});
    const got: number[] = [];
    const errors: [number[], Error][] = [];
    let now = 0;
    const loader = new PageLoader({
      fetch: k.fetch,
      cache,
      pageSize: 4,
      maxInFlight: 2,
      retryMs: 1000,
      onItems: (items) => got.push(...items.map((i) => i.row)),
      onError: (rows, e) => errors.push([rows, e]),
      now: () => now,
      ...opts,
    });
    return { k, cache, loader, got, errors, setNow: (t: number) => (now = t) };
  }

  it("asks for missing rows in pages, at most maxInFlight at a time, most important first", async () => {
    const { k, loader, got } = setup();
    loader.update(range(0, 10));
    expect(k.calls.map((c) => c.rows)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
    expect(loader.queuedPages).toBe(1);
    k.answer(0);
    await tick();
    expect(got).toEqual([0, 1, 2, 3]);
    expect(k.calls[2].rows).toEqual([8, 9]); // the queue moves on
    expect(loader.loading.has(8)).toBe(true);
  });

  it("never re-asks for cached or in-flight rows", async () => {
    const { k, loader } = setup();
    loader.update(range(0, 4));
    loader.update(range(0, 6)); // 0-3 in flight
    expect(k.calls.map((c) => c.rows)).toEqual([[0, 1, 2, 3], [4, 5]]);
    k.answer(0);
    k.answer(1);
    await tick();
    loader.update(range(0, 6));
    expect(k.calls).toHaveLength(2);
  });

  it("fast scroll: pages no longer wanted are cancelled, pages never sent are dropped", async () => {
    const { k, loader, got } = setup();
    loader.update(range(0, 12), (r) => r < 12); // pages [0-3], [4-7] sent, [8-11] queued
    // the user scrolled far away: rows 100.. wanted, nothing near 0 kept
    loader.update(range(100, 104), (r) => r >= 100);
    expect(k.calls[0].signal.aborted).toBe(true);
    expect(k.calls[1].signal.aborted).toBe(true);
    expect(k.calls.map((c) => c.rows)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [100, 101, 102, 103],
    ]);
    expect(loader.stats.cancelled).toBe(2);
    // a late answer of a cancelled page is ignored
    k.answer(0);
    k.calls[1].reject(new RpcCancelledError("page"));
    await tick();
    expect(got).toEqual([]);
    expect(loader.loading.has(0)).toBe(false);
  });

  it("keeps an in-flight page that still has a wanted row", () => {
    const { k, loader } = setup();
    loader.update(range(0, 4));
    loader.update(range(3, 7), (r) => r >= 3);
    expect(k.calls[0].signal.aborted).toBe(false);
    expect(k.calls[1].rows).toEqual([4, 5, 6]);
  });

  it("a changed thumbnail size cancels pages of the old size", () => {
    const { k, loader } = setup();
    loader.update(range(0, 4));
    loader.size = 256;
    loader.update(range(0, 4));
    expect(k.calls[0].signal.aborted).toBe(true);
    expect(k.calls[1].size).toBe(256);
  });

  it("transport failures are reported and retried after retryMs, not before", async () => {
    const { k, loader, errors, setNow } = setup();
    loader.update(range(0, 2));
    k.calls[0].reject(new RpcTimeoutError("page", 30_000));
    await tick();
    expect(errors).toHaveLength(1);
    expect(errors[0][0]).toEqual([0, 1]);
    expect(loader.failed(0)).toBe(true);
    loader.update(range(0, 2));
    expect(k.calls).toHaveLength(1);
    setNow(1000);
    expect(loader.failed(0)).toBe(false);
    loader.update(range(0, 2));
    expect(k.calls).toHaveLength(2);
  });

  it("cancelAll / dispose", () => {
    const { k, loader } = setup();
    loader.update(range(0, 12));
    loader.cancelAll();
    expect(k.calls.every((c) => c.signal.aborted)).toBe(true);
    expect(loader.queuedPages).toBe(0);
    loader.dispose();
    loader.update(range(20, 24));
    expect(k.calls).toHaveLength(2);
  });
});
