/**
 * Lazy, paged loading of grid items (thumbnail + boxes + caption) through the RPC channel.
 *
 * The view says which rows it needs now (the visible window, most important first) and which it
 * may still need soon (`keep`). The loader asks the kernel for the missing ones in pages of
 * `pageSize` rows, at most `maxInFlight` pages at a time; pages not yet sent are simply replaced
 * by the next call, and in-flight pages none of whose rows are still wanted are cancelled (fast
 * scrolling never queues up work in the kernel). Loaded items live in an LRU cache that revokes
 * their object URLs when evicted. Transport failures (timeout, kernel error) are retried after
 * `retryMs`; a bad image is not a failure: it is an item with an `error`.
 */

import { RpcCancelledError } from "../shared/rpc";
import type { Box } from "./boxes";
import type { MaskGeom } from "./masks";

export interface Caption {
  label: string | null;
  pred: string | null;
  score: number | null;
  /** "right" / "wrong" (classification), "tp" / "fp" / "fn" / "ignored" (objects), or null. */
  status: string | null;
  /** Object rows: "gt" or "pred". */
  kind: string | null;
  /** Sample rows: why the image is flagged ("dark: brightness 0.08 < 0.21 ...; blurry: ..."). */
  reasons?: string | null;
}

export interface ItemData extends Caption {
  row: number;
  id: string;
  /** Object URL of the thumbnail, null when the image could not be read. */
  url: string | null;
  /** Source size (image or crop) the boxes are in. */
  sw: number;
  sh: number;
  boxes: Box[];
  /** Where the boxes' masks sit (null: no masks). */
  masks?: MaskGeom | null;
  /** Short issue name ("corrupt_image", "missing_file", ...) when the image could not be read. */
  error?: string;
  detail?: string;
}

export type FetchPage = (rows: number[], size: number, signal: AbortSignal) => Promise<ItemData[]>;

/** LRU of loaded items keyed by row and thumbnail size. */
export class ItemCache {
  private readonly map = new Map<string, ItemData>();
  readonly capacity: number;
  private readonly revoke: (url: string) => void;

  constructor(capacity = 1500, revoke: (url: string) => void = (u) => URL.revokeObjectURL(u)) {
    this.capacity = capacity;
    this.revoke = revoke;
  }

  static key(row: number, size: number): string {
    return `${row}@${size}`;
  }

  get size(): number {
    return this.map.size;
  }

  get(row: number, size: number): ItemData | undefined {
    const k = ItemCache.key(row, size);
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k); // most recently used last
      this.map.set(k, v);
    }
    return v;
  }

  has(row: number, size: number): boolean {
    return this.map.has(ItemCache.key(row, size));
  }

  set(item: ItemData, size: number): void {
    const k = ItemCache.key(item.row, size);
    const old = this.map.get(k);
    if (old !== undefined) {
      this.map.delete(k);
      if (old.url && old.url !== item.url) this.revoke(old.url);
    }
    this.map.set(k, item);
    while (this.map.size > this.capacity) {
      const first = this.map.keys().next().value as string;
      const gone = this.map.get(first);
      this.map.delete(first);
      if (gone?.url) this.revoke(gone.url);
    }
  }

  clear(): void {
    for (const v of this.map.values()) if (v.url) this.revoke(v.url);
    this.map.clear();
  }
}

export interface LoaderOptions {
  fetch: FetchPage;
  cache: ItemCache;
  pageSize?: number;
  maxInFlight?: number;
  retryMs?: number;
  /** Items arrived (and are cached). */
  onItems?: (items: ItemData[]) => void;
  /** A page failed (timeout, kernel error): its rows, and why. */
  onError?: (rows: number[], err: Error) => void;
  now?: () => number;
}

interface Flight {
  rows: number[];
  size: number;
  ctrl: AbortController;
}

export class PageLoader {
  size = 128;
  private readonly opts: Required<Omit<LoaderOptions, "onItems" | "onError">> & Pick<LoaderOptions, "onItems" | "onError">;
  private queue: number[][] = [];
  private readonly flights = new Set<Flight>();
  private readonly inFlight = new Set<number>();
  private readonly failedAt = new Map<number, number>();
  private keep: (row: number) => boolean = () => true;
  private disposed = false;
  /** Counters for tests and diagnostics. */
  readonly stats = { pages: 0, rows: 0, cancelled: 0, failed: 0 };

  constructor(opts: LoaderOptions) {
    this.opts = {
      pageSize: 24,
      maxInFlight: 2,
      retryMs: 4000,
      now: () => Date.now(),
      ...opts,
    };
  }

  /** Rows being fetched now. */
  get loading(): ReadonlySet<number> {
    return this.inFlight;
  }

  /** Pages in flight. */
  get flightCount(): number {
    return this.flights.size;
  }

  /** Pages waiting to be sent. */
  get queuedPages(): number {
    return this.queue.length;
  }

  /** Whether `row` failed recently (and is waiting for its retry). */
  failed(row: number): boolean {
    const t = this.failedAt.get(row);
    return t !== undefined && this.opts.now() - t < this.opts.retryMs;
  }

  /**
   * The rows needed now, most important first; `keep(row)` says whether a row is still worth
   * loading (in-flight pages with no such row are cancelled).
   */
  update(need: readonly number[], keep?: (row: number) => boolean): void {
    if (this.disposed) return;
    if (keep) this.keep = keep;
    const { cache, pageSize } = this.opts;
    for (const f of [...this.flights]) {
      if (f.size !== this.size || !f.rows.some((r) => this.keep(r))) this.abort(f);
    }
    const missing: number[] = [];
    const seen = new Set<number>();
    for (const r of need) {
      if (seen.has(r)) continue;
      seen.add(r);
      if (this.inFlight.has(r) || cache.has(r, this.size) || this.failed(r)) continue;
      missing.push(r);
    }
    this.queue = [];
    for (let i = 0; i < missing.length; i += pageSize) this.queue.push(missing.slice(i, i + pageSize));
    this.pump();
  }

  /** Cancel everything (in flight and queued). */
  cancelAll(): void {
    this.queue = [];
    for (const f of [...this.flights]) this.abort(f);
  }

  /** Forget failures (retry everything on the next update). */
  clearFailures(): void {
    this.failedAt.clear();
  }

  dispose(): void {
    this.cancelAll();
    this.disposed = true;
  }

  private abort(f: Flight): void {
    if (!this.flights.delete(f)) return;
    for (const r of f.rows) this.inFlight.delete(r);
    this.stats.cancelled++;
    f.ctrl.abort();
  }

  private pump(): void {
    while (!this.disposed && this.flights.size < this.opts.maxInFlight && this.queue.length > 0) {
      const rows = this.queue.shift() as number[];
      this.start(rows);
    }
  }

  private start(rows: number[]): void {
    const f: Flight = { rows, size: this.size, ctrl: new AbortController() };
    this.flights.add(f);
    for (const r of rows) this.inFlight.add(r);
    this.stats.pages++;
    this.stats.rows += rows.length;
    let promise: Promise<ItemData[]>;
    try {
      promise = this.opts.fetch(rows, f.size, f.ctrl.signal);
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (items) => {
        if (!this.flights.delete(f)) return; // cancelled meanwhile: drop
        for (const r of rows) this.inFlight.delete(r);
        for (const it of items) {
          this.failedAt.delete(it.row);
          this.opts.cache.set(it, f.size);
        }
        this.opts.onItems?.(items);
        this.pump();
      },
      (err: unknown) => {
        const mine = this.flights.delete(f);
        for (const r of rows) if (mine) this.inFlight.delete(r);
        if (!mine || err instanceof RpcCancelledError || f.ctrl.signal.aborted) {
          this.pump();
          return;
        }
        this.stats.failed++;
        const t = this.opts.now();
        for (const r of rows) this.failedAt.set(r, t);
        this.opts.onError?.(rows, err instanceof Error ? err : new Error(String(err)));
        this.pump();
      },
    );
  }
}
