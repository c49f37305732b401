/**
 * A view's selection, wherever it lives (docs/dev/widget-protocol.md, "Rows and the selection"
 * and "Linking"). Every widget entry creates one `SelectionBinding` per render:
 *
 * - unlinked (`_link` is null): the view's own `_selection` over its rows, written with
 *   `_selection_source` (and `_selection_region` when the view has regions) in one debounced
 *   `save_changes()`; a selection from Python is shown, never echoed back;
 * - linked (`_link` = "IPY_MODEL_<id>" of a LinkedSelection): selections go through the shared
 *   model's {@link LinkHub}, mapped between rows and samples with `_row_keys`, and, for views
 *   whose rows are the dataset's objects, between rows and objects with `_object_keys` (a
 *   selection made over objects then shows exactly those objects).
 *
 * The view itself only implements {@link SelectionTarget}: it shows what it is given and calls
 * {@link SelectionBinding.commit} after a gesture.
 */

import type { AnyModel } from "@anywidget/types";

import { asUint32 } from "../codecs";
import { debounce } from "../debounce";
import { Bitmask } from "../selection";
import { LinkHub, LINK_DEBOUNCE_MS, type LinkMeta, type LinkSubscriber, type SharedModel } from "./hub";
import { ObjectKeys, RowKeys } from "./mapping";

/** The selection traits every nbdiag view has. */
export interface SelectionTraits {
  n_rows: number;
  _selection: DataView | null;
  _selection_source: string;
  _selection_region?: Record<string, unknown>;
  _view_id?: string;
  _row_keys?: DataView | null;
  _object_keys?: DataView | null;
  _link?: string | null;
  [key: string]: unknown;
}

export interface SelectionInfo extends LinkMeta {
  /** The selection was made in this view (this render or another render of the same widget). */
  own: boolean;
  /** The view is linked to a shared selection. */
  linked: boolean;
}

export interface SelectionTarget {
  /** Number of rows the view draws now. */
  rowCount(): number;
  /** Show a selection made elsewhere (Python, another view, another render). Display only. */
  setSelection(rows: Bitmask, info: SelectionInfo): void;
}

export interface CommitOptions {
  /** A gesture still in progress (a brush being dragged): other linked views follow, the kernel
   *  is not told yet. */
  live?: boolean;
  /** The view's description of the region; `undefined` = the view has none (never written). */
  region?: Record<string, unknown> | null;
  /** Send to the kernel now instead of after the debounce: for gestures that cannot come in
   *  bursts (a lasso, a box), so the kernel has them as soon as possible. */
  immediate?: boolean;
}

export interface BindingOptions {
  /** Debounce of kernel writes (ms). */
  debounceMs?: number;
  /** Called when the view becomes linked / unlinked. */
  onLinkChange?: (linked: boolean) => void;
}

const IPY_MODEL = "IPY_MODEL_";

/** Model id from a `widget_serialization` reference, or null. */
export function parseRef(ref: unknown): string | null {
  if (typeof ref !== "string" || ref === "") return null;
  return ref.startsWith(IPY_MODEL) ? ref.slice(IPY_MODEL.length) : ref;
}

type Model = Pick<AnyModel<SelectionTraits>, "get" | "set" | "save_changes" | "on" | "off"> & {
  widget_manager?: { get_model(id: string): Promise<unknown> };
};

export class SelectionBinding {
  private readonly model: Model;
  private readonly target: SelectionTarget;
  private readonly opts: BindingOptions;

  // ---- own selection
  private writing = false;
  private lastWritten: Bitmask | null = null;
  private readonly write;

  // ---- link
  private linkRef: string | null = null;
  private generation = 0;
  private hub: LinkHub | null = null;
  private unsubscribe: (() => void) | null = null;
  private keys: RowKeys | null = null;
  /** undefined: not computed yet; null: the rows are not the dataset's objects */
  private objectKeysCache: ObjectKeys | null | undefined = undefined;
  private queued: { rows: Bitmask; source: string; opts: CommitOptions } | null = null;
  private readonly subscriber: LinkSubscriber = {
    onChange: (samples, meta, objects) => this.showLinked(samples, meta, objects),
  };
  private destroyed = false;

  private readonly onOwn = (): void => this.fromOwnModel();
  private readonly onLink = (): void => this.connect(false);
  private readonly onKeys = (): void => {
    this.keys = null;
    this.objectKeysCache = undefined;
    if (this.hub) this.showLinked(this.hub.selection, this.hub.meta, this.hub.objectSelection);
  };

  constructor(model: Model, target: SelectionTarget, opts: BindingOptions = {}) {
    this.model = model;
    this.target = target;
    this.opts = opts;
    this.write = debounce((rows: Bitmask, source: string, region: Record<string, unknown> | null | undefined) => {
      this.writing = true;
      try {
        model.set("_selection", rows.toBytes());
        model.set("_selection_source", source);
        if (region !== undefined) model.set("_selection_region", region ?? {});
        model.save_changes();
        this.lastWritten = rows;
      } finally {
        this.writing = false;
      }
    }, opts.debounceMs ?? LINK_DEBOUNCE_MS);
    model.on("change:_selection", this.onOwn);
    model.on("change:_link", this.onLink);
    model.on("change:_row_keys", this.onKeys);
    model.on("change:_object_keys", this.onKeys);
    this.connect(true);
  }

  /** This view's `_view_id`. */
  get viewId(): string {
    return String(this.model.get("_view_id") ?? "");
  }

  /** Whether the view is linked (or being linked). */
  get linked(): boolean {
    return this.linkRef !== null;
  }

  /** A commit waits to be sent to the kernel. */
  pending(): boolean {
    return this.write.pending() || (this.hub?.pending() ?? false) || this.queued !== null;
  }

  /** The view made a selection of its rows. */
  commit(rows: Bitmask, source: string, opts: CommitOptions = {}): void {
    if (this.linkRef !== null) {
      if (this.hub === null) {
        this.queued = { rows, source, opts }; // the link is still resolving
        return;
      }
      const keys = this.rowKeys();
      if (keys === null) return;
      const region = opts.region === undefined || opts.region === null ? {} : opts.region;
      const objectKeys = this.objectKeys();
      this.hub.propose(
        keys.toSamples(rows),
        { source, view: this.viewId, region },
        this.subscriber,
        opts.live ?? false,
        objectKeys === null ? null : objectKeys.toObjects(rows),
        opts.immediate ?? false,
      );
      return;
    }
    if (opts.live) return; // nothing else to tell: the view shows it already
    this.write(rows, source, opts.region);
    if (opts.immediate) this.write.flush();
  }

  /**
   * The view's rows changed (new data): show the current selection again. With `keepLocal`, a
   * local, unsent selection is kept (the rows are the same ones).
   */
  refresh(keepLocal = false): void {
    if (this.linkRef !== null) {
      this.keys = null;
      this.objectKeysCache = undefined;
      if (this.hub) this.showLinked(this.hub.selection, this.hub.meta, this.hub.objectSelection);
      return;
    }
    if (keepLocal && this.write.pending()) return;
    this.write.cancel();
    this.showOwn();
  }

  /** Send anything pending now. */
  flush(): void {
    this.write.flush();
    this.hub?.flush();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.model.off("change:_selection", this.onOwn);
    this.model.off("change:_link", this.onLink);
    this.model.off("change:_row_keys", this.onKeys);
    this.model.off("change:_object_keys", this.onKeys);
    try {
      this.write.flush(); // do not lose a gesture made just before the view went away
      this.hub?.flush();
    } catch {
      // the model may already be closed
    }
    this.disconnect();
  }

  // ------------------------------------------------------------------ own selection

  private ownInfo(): SelectionInfo {
    return {
      source: String(this.model.get("_selection_source") ?? ""),
      view: this.viewId,
      region: (this.model.get("_selection_region") as Record<string, unknown> | undefined) ?? {},
      own: true,
      linked: false,
    };
  }

  private showOwn(): void {
    this.target.setSelection(Bitmask.fromBytes(this.model.get("_selection"), this.target.rowCount()), this.ownInfo());
  }

  private fromOwnModel(): void {
    if (this.writing || this.linkRef !== null) return; // our own write, or the link is the truth
    const incoming = Bitmask.fromBytes(this.model.get("_selection"), this.target.rowCount());
    if (this.write.pending()) {
      // the echo of an earlier write of ours must not undo a newer gesture that is still pending
      if (this.lastWritten !== null && incoming.equals(this.lastWritten)) return;
      this.write.cancel(); // a genuinely new selection from Python wins
    }
    this.target.setSelection(incoming, this.ownInfo());
  }

  // ------------------------------------------------------------------ link

  private rowKeys(): RowKeys | null {
    if (this.hub === null) return null;
    const n = this.target.rowCount();
    if (this.keys !== null && this.keys.nRows === n && this.keys.nSamples === this.hub.nSamples) return this.keys;
    try {
      this.keys = new RowKeys(n, this.hub.nSamples, asUint32(this.model.get("_row_keys")));
    } catch (err) {
      // rows and keys disagree for a moment (data being replaced): show nothing until they agree
      console.warn("nbdiag: row keys do not match the rows yet", err);
      this.keys = null;
    }
    return this.keys;
  }

  /** Row -> object keys, when the rows are the dataset's objects (else null). */
  private objectKeys(): ObjectKeys | null {
    if (this.hub === null || this.hub.nObjects === 0) return null;
    const n = this.target.rowCount();
    const cached = this.objectKeysCache;
    if (cached !== undefined && (cached === null || (cached.nRows === n && cached.nObjects === this.hub.nObjects))) {
      return cached;
    }
    const raw = asUint32(this.model.get("_object_keys"));
    try {
      this.objectKeysCache = raw.length === 0 ? null : new ObjectKeys(n, this.hub.nObjects, raw);
    } catch (err) {
      console.warn("nbdiag: object keys do not match the rows yet", err);
      this.objectKeysCache = null;
    }
    return this.objectKeysCache;
  }

  private showLinked(samples: Bitmask, meta: LinkMeta, objects: Bitmask | null): void {
    const keys = this.rowKeys();
    const objectKeys = objects === null ? null : this.objectKeys();
    const rows =
      objectKeys !== null && objects !== null
        ? objectKeys.toRows(objects)
        : keys === null
          ? Bitmask.empty(this.target.rowCount())
          : keys.toRows(samples);
    this.target.setSelection(rows, { ...meta, own: meta.view !== "" && meta.view === this.viewId, linked: true });
  }

  private connect(initial = false): void {
    const ref = parseRef(this.model.get("_link"));
    if (!initial && ref === this.linkRef) return;
    this.disconnect();
    const gen = ++this.generation;
    this.linkRef = ref;
    if (ref === null) {
      if (!initial) this.opts.onLinkChange?.(false);
      this.showOwn();
      return;
    }
    this.write.cancel(); // Python cleared the own selection when linking
    const manager = this.model.widget_manager;
    if (!manager) {
      console.error("nbdiag: this front end cannot resolve the linked selection model");
      return;
    }
    manager
      .get_model(ref)
      .then((shared) => {
        if (this.destroyed || gen !== this.generation) return;
        this.hub = LinkHub.of(shared as SharedModel);
        this.keys = null;
        this.unsubscribe = this.hub.subscribe(this.subscriber);
        this.opts.onLinkChange?.(true);
        const queued = this.queued;
        this.queued = null;
        if (queued) this.commit(queued.rows, queued.source, queued.opts);
        else this.showLinked(this.hub.selection, this.hub.meta, this.hub.objectSelection);
      })
      .catch((err: unknown) => {
        console.error("nbdiag: cannot resolve the linked selection model", err);
      });
  }

  private disconnect(): void {
    this.queued = null;
    if (this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = null;
    }
    this.hub = null;
    this.keys = null;
    this.objectKeysCache = undefined;
  }
}
