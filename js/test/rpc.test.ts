import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_TIMEOUT_MS, RPC_KEY, RpcCancelledError, RpcClient, RpcError, RpcTimeoutError } from "../src/shared/rpc";
import { FakeModel } from "./fake_model";

const requests = (m: FakeModel) => m.sent.filter((s) => s.content[RPC_KEY] === "request").map((s) => s.content);
const cancels = (m: FakeModel) => m.sent.filter((s) => s.content[RPC_KEY] === "cancel").map((s) => s.content.ids as string[]);
const respond = (m: FakeModel, id: string, result: unknown, buffers: DataView[] = []) =>
  m.message({ [RPC_KEY]: "response", id, ok: true, result }, buffers);
const flushMicrotasks = async () => {
  for (let i = 0; i < 3; i++) await Promise.resolve();
};

describe("RpcClient", () => {
  let model: FakeModel;
  let rpc: RpcClient;

  beforeEach(() => {
    vi.useFakeTimers();
    model = new FakeModel();
    rpc = new RpcClient(model, { clientId: "c1" });
  });
  afterEach(() => {
    rpc.dispose();
    vi.useRealTimers();
  });

  it("sends a request with a prefixed id and resolves with the matching response and its buffers", async () => {
    const p = rpc.request("page", { rows: [1, 2], size: 128 });
    const [req] = requests(model);
    expect(req).toEqual({ [RPC_KEY]: "request", id: "c1:1", method: "page", params: { rows: [1, 2], size: 128 } });
    const buf = new DataView(new Uint8Array([1, 2, 3]).buffer);
    respond(model, "c1:1", { items: [] }, [buf]);
    const r = await p;
    expect(r.result).toEqual({ items: [] });
    expect(r.buffers).toEqual([buf]);
    expect(rpc.pending).toBe(0);
    expect(rpc.stats.answered).toBe(1);
  });

  it("matches responses by id, in any order", async () => {
    const a = rpc.request("m", { i: 1 });
    const b = rpc.request("m", { i: 2 });
    respond(model, "c1:2", "second");
    respond(model, "c1:1", "first");
    expect((await a).result).toBe("first");
    expect((await b).result).toBe("second");
  });

  it("rejects with the kernel's error type and message", async () => {
    const p = rpc.request("image", { row: 5 });
    model.message({ [RPC_KEY]: "response", id: "c1:1", ok: false, error: { type: "KeyError", message: "no row 5" } });
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err.type).toBe("KeyError");
    expect(err.message).toBe("no row 5");
    expect(rpc.stats.failed).toBe(1);
  });

  it("ignores other custom messages and drops responses nobody waits for", () => {
    model.message({ something: "else" });
    model.message(null);
    respond(model, "c1:99", {});
    respond(model, "other:1", {});
    expect(rpc.stats.dropped).toBe(2);
  });

  it("two clients on one model (two views) never take each other's responses", async () => {
    const other = new RpcClient(model, { clientId: "c2" });
    const mine = rpc.request("m");
    const theirs = other.request("m");
    respond(model, "c2:1", "for c2");
    respond(model, "c1:1", "for c1");
    expect((await mine).result).toBe("for c1");
    expect((await theirs).result).toBe("for c2");
    expect(rpc.stats.dropped).toBe(1); // c2's response, seen and ignored by c1
    other.dispose();
  });

  it("times out after its own timeout (default well above anywidget's 3 s), tells the kernel, drops the late answer", async () => {
    expect(DEFAULT_TIMEOUT_MS).toBeGreaterThanOrEqual(10_000);
    const p = rpc.request("page", {});
    const caught = p.catch((e) => e);
    vi.advanceTimersByTime(3_000);
    expect(rpc.pending).toBe(1); // still waiting where invoke() would have given up
    vi.advanceTimersByTime(DEFAULT_TIMEOUT_MS - 3_000);
    const err = await caught;
    expect(err).toBeInstanceOf(RpcTimeoutError);
    expect(err.type).toBe("Timeout");
    await flushMicrotasks();
    expect(cancels(model)).toEqual([["c1:1"]]);
    respond(model, "c1:1", "too late");
    expect(rpc.stats).toMatchObject({ timedOut: 1, dropped: 1, answered: 0 });
  });

  it("honours a per-request timeout", async () => {
    const p = rpc.request("m", {}, { timeoutMs: 500 }).catch((e) => e);
    vi.advanceTimersByTime(499);
    expect(rpc.pending).toBe(1);
    vi.advanceTimersByTime(1);
    expect(await p).toBeInstanceOf(RpcTimeoutError);
  });

  it("an aborted signal cancels: rejects at once, one batched cancel message, late response dropped", async () => {
    const c1 = new AbortController();
    const c2 = new AbortController();
    const a = rpc.request("page", {}, { signal: c1.signal }).catch((e) => e);
    const b = rpc.request("page", {}, { signal: c2.signal }).catch((e) => e);
    const c = rpc.request("page", {});
    c1.abort();
    c2.abort();
    expect(await a).toBeInstanceOf(RpcCancelledError);
    expect(await b).toBeInstanceOf(RpcCancelledError);
    await flushMicrotasks();
    expect(cancels(model)).toEqual([["c1:1", "c1:2"]]); // one message for the burst
    respond(model, "c1:1", "stale");
    respond(model, "c1:3", "fresh");
    expect((await c).result).toBe("fresh");
    expect(rpc.stats).toMatchObject({ cancelled: 2, dropped: 1, answered: 1 });
    // no timer left behind for the cancelled ones
    vi.advanceTimersByTime(DEFAULT_TIMEOUT_MS * 2);
    expect(rpc.stats.timedOut).toBe(0);
  });

  it("a signal aborted before the call sends nothing", async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    const err = await rpc.request("m", {}, { signal: ctrl.signal }).catch((e) => e);
    expect(err).toBeInstanceOf(RpcCancelledError);
    expect(model.sent).toHaveLength(0);
  });

  it("cancel(id) by id; unknown or settled ids are a no-op", async () => {
    const p = rpc.request("m").catch((e) => e);
    expect(rpc.pendingIds()).toEqual(["c1:1"]);
    expect(rpc.cancel("c1:1")).toBe(true);
    expect(rpc.cancel("c1:1")).toBe(false);
    expect(rpc.cancel("nope")).toBe(false);
    expect(await p).toBeInstanceOf(RpcCancelledError);
  });

  it("dispose cancels everything pending and stops listening", async () => {
    const p = rpc.request("m").catch((e) => e);
    rpc.dispose();
    expect(await p).toBeInstanceOf(RpcCancelledError);
    expect(cancels(model)).toEqual([["c1:1"]]);
    expect(model.listenerCount("msg:custom")).toBe(0);
    expect(await rpc.request("m").catch((e) => e)).toBeInstanceOf(RpcCancelledError);
  });

  it("a transport that throws rejects the request instead of leaving it pending", async () => {
    const broken = { send: () => { throw new Error("comm closed"); }, on: () => {}, off: () => {} };
    const c = new RpcClient(broken, { clientId: "b" });
    const err = await c.request("m").catch((e) => e);
    expect(err.message).toBe("comm closed");
    expect(c.pending).toBe(0);
  });
});
