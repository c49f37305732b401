/**
 * Request/response over a widget's custom messages (the browser side of
 * `nbdiag/widgets/_rpc.py`; docs/dev/widget-protocol.md, "RPC").
 *
 * `client.request(method, params, { signal, timeoutMs })` sends
 * `{ nbdiag_rpc: "request", id, method, params }` and resolves with the matching
 * `{ nbdiag_rpc: "response", id, ok, result | error }` and its binary buffers. Every request has
 * its own timeout (default 30 s: far above anywidget's 3 s `invoke` default, because a busy
 * kernel answers comm messages only between cell executions). Aborting a request (its signal, or
 * `cancel(id)`) or timing out forgets it at once: a late response is dropped, and the kernel is
 * told (batched, one message per tick) so it skips the work if still queued. Ids carry a random
 * per-client prefix, so two views of one model never take each other's responses.
 */

/** The message key marking our custom messages. */
export const RPC_KEY = "nbdiag_rpc";

/** Default per-request timeout (ms). */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** The part of an anywidget model the client uses. */
export interface RpcTransport {
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
  on(event: "msg:custom", cb: (msg: any, buffers: DataView[]) => void): void;
  off(event: "msg:custom", cb: (msg: any, buffers: DataView[]) => void): void;
}

export interface RpcResponse<T> {
  result: T;
  buffers: DataView[];
}

export interface RequestOptions {
  /** Abort the request (the kernel is told, a late response is dropped). */
  signal?: AbortSignal;
  /** This request's timeout (ms); `0` or less: none. */
  timeoutMs?: number;
  /** Binary buffers sent with the request. */
  buffers?: ArrayBuffer[] | ArrayBufferView[];
}

/** The kernel answered with an error (`type` is its exception name, e.g. "KeyError"). */
export class RpcError extends Error {
  readonly type: string;
  constructor(type: string, message: string) {
    super(message);
    this.name = "RpcError";
    this.type = type;
  }
}

/** No answer within the timeout. */
export class RpcTimeoutError extends RpcError {
  constructor(method: string, ms: number) {
    super("Timeout", `no answer to ${method} within ${Math.round(ms / 100) / 10} s (is the kernel busy?)`);
    this.name = "RpcTimeoutError";
  }
}

/** The request was cancelled (signal aborted, `cancel`, or the client disposed). */
export class RpcCancelledError extends RpcError {
  constructor(method: string) {
    super("Cancelled", `${method} was cancelled`);
    this.name = "RpcCancelledError";
  }
}

interface Pending {
  method: string;
  resolve: (r: RpcResponse<any>) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout> | null;
  cleanup: () => void;
}

export interface RpcClientOptions {
  /** Default per-request timeout (ms). */
  timeoutMs?: number;
  /** Id prefix (random by default). */
  clientId?: string;
}

export interface RpcStats {
  sent: number;
  answered: number;
  failed: number;
  cancelled: number;
  timedOut: number;
  /** Responses that arrived for no pending request (cancelled, timed out, or another client's). */
  dropped: number;
}

function randomId(): string {
  return Math.random().toString(36).slice(2, 8) + Date.now().toString(36).slice(-3);
}

export class RpcClient {
  readonly clientId: string;
  readonly stats: RpcStats = { sent: 0, answered: 0, failed: 0, cancelled: 0, timedOut: 0, dropped: 0 };

  private readonly transport: RpcTransport;
  private readonly timeoutMs: number;
  private readonly pendingById = new Map<string, Pending>();
  private seq = 0;
  private cancelQueue: string[] = [];
  private cancelScheduled = false;
  private disposed = false;
  private readonly onMessage = (msg: any, buffers: DataView[]): void => this.receive(msg, buffers);

  constructor(transport: RpcTransport, opts: RpcClientOptions = {}) {
    this.transport = transport;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.clientId = opts.clientId ?? randomId();
    transport.on("msg:custom", this.onMessage);
  }

  /** Requests waiting for an answer. */
  get pending(): number {
    return this.pendingById.size;
  }

  /** Ids of the requests waiting for an answer (oldest first). */
  pendingIds(): string[] {
    return [...this.pendingById.keys()];
  }

  /** Call `method(params)` in the kernel. */
  request<T = unknown>(method: string, params: Record<string, unknown> = {}, opts: RequestOptions = {}): Promise<RpcResponse<T>> {
    if (this.disposed) return Promise.reject(new RpcCancelledError(method));
    const signal = opts.signal;
    if (signal?.aborted) {
      this.stats.cancelled++;
      return Promise.reject(new RpcCancelledError(method));
    }
    const id = `${this.clientId}:${++this.seq}`;
    return new Promise<RpcResponse<T>>((resolve, reject) => {
      const onAbort = (): void => {
        this.cancel(id);
      };
      const entry: Pending = {
        method,
        resolve,
        reject,
        timer: null,
        cleanup: () => {
          if (entry.timer !== null) clearTimeout(entry.timer);
          entry.timer = null;
          signal?.removeEventListener("abort", onAbort);
        },
      };
      const ms = opts.timeoutMs ?? this.timeoutMs;
      if (ms > 0) {
        entry.timer = setTimeout(() => {
          if (!this.settle(id)) return;
          this.stats.timedOut++;
          this.queueCancel(id); // the kernel may skip it if still queued
          reject(new RpcTimeoutError(method, ms));
        }, ms);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pendingById.set(id, entry);
      this.stats.sent++;
      try {
        this.transport.send({ [RPC_KEY]: "request", id, method, params }, undefined, opts.buffers);
      } catch (err) {
        this.settle(id);
        this.stats.failed++;
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Give up on request `id`: it rejects with {@link RpcCancelledError}; returns false if it was
   *  not pending. */
  cancel(id: string): boolean {
    const entry = this.pendingById.get(id);
    if (!entry || !this.settle(id)) return false;
    this.stats.cancelled++;
    this.queueCancel(id);
    entry.reject(new RpcCancelledError(entry.method));
    return true;
  }

  /** Cancel everything pending and stop listening. */
  dispose(): void {
    if (this.disposed) return;
    for (const id of [...this.pendingById.keys()]) this.cancel(id);
    this.flushCancels();
    this.disposed = true;
    this.transport.off("msg:custom", this.onMessage);
  }

  /** Remove a pending entry (and its timer / abort listener); false if it was not pending. */
  private settle(id: string): boolean {
    const entry = this.pendingById.get(id);
    if (!entry) return false;
    this.pendingById.delete(id);
    entry.cleanup();
    return true;
  }

  private queueCancel(id: string): void {
    if (this.disposed) return;
    this.cancelQueue.push(id);
    if (this.cancelScheduled) return;
    this.cancelScheduled = true;
    queueMicrotask(() => this.flushCancels());
  }

  private flushCancels(): void {
    this.cancelScheduled = false;
    if (this.cancelQueue.length === 0 || this.disposed) {
      this.cancelQueue = [];
      return;
    }
    const ids = this.cancelQueue;
    this.cancelQueue = [];
    try {
      this.transport.send({ [RPC_KEY]: "cancel", ids });
    } catch {
      // the model may be closed: nothing to tell
    }
  }

  private receive(msg: any, buffers: DataView[]): void {
    if (msg === null || typeof msg !== "object" || msg[RPC_KEY] !== "response") return;
    const id = String(msg.id);
    const entry = this.pendingById.get(id);
    if (!entry) {
      this.stats.dropped++;
      return;
    }
    this.settle(id);
    if (msg.ok) {
      this.stats.answered++;
      entry.resolve({ result: msg.result ?? {}, buffers: buffers ?? [] });
    } else {
      this.stats.failed++;
      const err = msg.error ?? {};
      entry.reject(new RpcError(String(err.type ?? "Error"), String(err.message ?? "the kernel answered with an error")));
    }
  }
}
