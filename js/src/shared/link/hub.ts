/**
 * The browser side of a `LinkedSelection` (docs/dev/widget-protocol.md, "Linking").
 *
 * One hub per shared model, stored on the model object itself under a global symbol, so views
 * bundled separately (scatter.js, histogram.js, confusion_matrix.js, ...) find the same hub. A
 * view proposes a new sample selection; the hub tells every other subscribed view at once (no
 * kernel round trip) and writes the model (`_selection` + source + view + region, one
 * `save_changes()`) debounced, so the kernel receives one message per gesture.
 *
 * A selection made over objects (boxes) carries them too: `_object_selection`, a bitmask over
 * the dataset's objects (`n_objects`), next to the samples that hold them. Views whose rows are
 * the dataset's objects show exactly those; sample views show their samples. A selection of
 * samples has no objects (null): object views then show every object of those samples. A selection coming
 * from the kernel (Python's `select`) reaches every subscriber; the kernel's echo of our own
 * write never undoes a newer local selection.
 */

import { debounce, type Debounced } from "../debounce";
import { Bitmask } from "../selection";

/** Who made a selection, and how. */
export interface LinkMeta {
  /** The gesture ("lasso", "box", "range", "cell:1:2", "python", "clear", ...). */
  source: string;
  /** `_view_id` of the view that made it ("" for Python without a view). */
  view: string;
  /** The view's description of the region (lasso polygon, brushed range, ...), or `{}`. */
  region: Record<string, unknown>;
}

export interface LinkSubscriber {
  /** The shared selection changed (by another view or by the kernel). `objects`: the exact
   *  objects when it was made over objects, else null. */
  onChange(samples: Bitmask, meta: LinkMeta, objects: Bitmask | null): void;
}

/** The part of a widget model the hub uses (anywidget's proxy or the raw Backbone model). */
export interface SharedModel {
  get(key: string): any;
  set(key: string, value: unknown): void;
  save_changes(): void;
  on(event: string, cb: (...args: any[]) => void): void;
  off(event: string, cb?: (...args: any[]) => void): void;
}

/** Browser -> kernel writes of the shared selection are coalesced over this many ms. */
export const LINK_DEBOUNCE_MS = 150;

const HUB = Symbol.for("nbdiag.link-hub/1");
const EMPTY = new DataView(new ArrayBuffer(0));
/** The traits of one selection; a message may change any of them (a re-made selection of the
 *  same rows from another view changes only its view and source). */
const MODEL_KEYS = ["_selection", "_object_selection", "_selection_source", "_selection_view"];

function sameObjects(a: Bitmask | null, b: Bitmask | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}

function sameMeta(a: LinkMeta, b: LinkMeta): boolean {
  return a.source === b.source && a.view === b.view && JSON.stringify(a.region) === JSON.stringify(b.region);
}

type WithHub = SharedModel & { [HUB]?: LinkHub };

export class LinkHub {
  readonly model: SharedModel;
  private n: number;
  private nObj: number;
  private current: Bitmask;
  private currentObjects: Bitmask | null;
  private currentMeta: LinkMeta;
  private readonly subs = new Set<LinkSubscriber>();
  private writing = false;
  private lastWritten: Bitmask | null = null;
  private lastWrittenObjects: Bitmask | null = null;
  private readonly write: Debounced<[]>;
  private readonly onModel = (): void => this.fromModel();
  private readonly onCount = (): void => this.recount();

  /** The hub of a shared model (created on first use). */
  static of(model: SharedModel, debounceMs = LINK_DEBOUNCE_MS): LinkHub {
    const m = model as WithHub;
    let hub = m[HUB];
    if (hub === undefined) {
      hub = new LinkHub(model, debounceMs);
      m[HUB] = hub;
    }
    return hub;
  }

  private constructor(model: SharedModel, debounceMs: number) {
    this.model = model;
    this.n = Number(model.get("n_samples") ?? 0);
    this.nObj = Number(model.get("n_objects") ?? 0);
    this.current = Bitmask.fromBytes(model.get("_selection"), this.n);
    this.currentObjects = this.modelObjects();
    this.currentMeta = this.modelMeta();
    this.write = debounce(() => this.commit(), debounceMs);
    for (const key of MODEL_KEYS) model.on(`change:${key}`, this.onModel);
    model.on("change:n_samples", this.onCount);
    model.on("change:n_objects", this.onCount);
  }

  /** Number of samples in the universe. */
  get nSamples(): number {
    return this.n;
  }

  /** The current shared selection (do not modify). */
  get selection(): Bitmask {
    return this.current;
  }

  /** Number of objects a selection can be refined to. */
  get nObjects(): number {
    return this.nObj;
  }

  /** The selected objects when the selection was made over objects, else null. */
  get objectSelection(): Bitmask | null {
    return this.currentObjects;
  }

  get meta(): LinkMeta {
    return this.currentMeta;
  }

  /** Whether a local selection waits to be sent to the kernel. */
  pending(): boolean {
    return this.write.pending();
  }

  get subscriberCount(): number {
    return this.subs.size;
  }

  /** Subscribe; returns the unsubscribe function (the last one out flushes and detaches). */
  subscribe(sub: LinkSubscriber): () => void {
    this.subs.add(sub);
    return () => {
      if (!this.subs.delete(sub)) return;
      if (this.subs.size === 0) this.dispose();
    };
  }

  /**
   * A view's new selection of samples. Every other subscriber hears it now; unless `live` (a
   * brush still moving), the kernel gets it after the debounce, or, with `immediate`, at once,
   * before the other views redraw (a lasso reaches the kernel without waiting for them).
   */
  propose(
    samples: Bitmask,
    meta: LinkMeta,
    from: LinkSubscriber | null,
    live = false,
    objects: Bitmask | null = null,
    immediate = false,
  ): void {
    const mask = samples.n === this.n ? samples : Bitmask.fromBytes(samples.bits, this.n);
    this.current = mask;
    this.currentObjects =
      objects === null || objects.isEmpty() || this.nObj === 0
        ? null
        : objects.n === this.nObj
          ? objects
          : Bitmask.fromBytes(objects.bits, this.nObj);
    this.currentMeta = { source: meta.source, view: meta.view, region: meta.region ?? {} };
    if (!live && immediate) {
      this.write.cancel();
      this.commit();
    }
    this.notify(from);
    if (!live && !immediate) this.write();
  }

  /** Send a pending selection now. */
  flush(): void {
    this.write.flush();
  }

  private commit(): void {
    this.writing = true;
    try {
      const m = this.model;
      if (this.nObj > 0) {
        m.set("_object_selection", this.currentObjects === null ? EMPTY : this.currentObjects.toBytes());
      }
      m.set("_selection", this.current.toBytes());
      m.set("_selection_source", this.currentMeta.source);
      m.set("_selection_view", this.currentMeta.view);
      m.set("_selection_region", this.currentMeta.region);
      m.save_changes();
      this.lastWritten = this.current;
      this.lastWrittenObjects = this.currentObjects;
    } finally {
      this.writing = false;
    }
  }

  private modelMeta(): LinkMeta {
    const m = this.model;
    return {
      source: String(m.get("_selection_source") ?? ""),
      view: String(m.get("_selection_view") ?? ""),
      region: (m.get("_selection_region") as Record<string, unknown> | null) ?? {},
    };
  }

  private modelObjects(): Bitmask | null {
    if (this.nObj === 0) return null;
    const objects = Bitmask.fromBytes(this.model.get("_object_selection"), this.nObj);
    return objects.isEmpty() ? null : objects;
  }

  /** The model's `_selection` or `_object_selection` changed: the kernel's (Python's)
   *  selection, or an echo. Both arrive in one message; the second event finds nothing new. */
  private fromModel(): void {
    if (this.writing) return; // our own write
    const incoming = Bitmask.fromBytes(this.model.get("_selection"), this.n);
    const objects = this.modelObjects();
    const meta = this.modelMeta();
    if (incoming.equals(this.current) && sameObjects(objects, this.currentObjects) && sameMeta(meta, this.currentMeta)) {
      return; // the second event of one message, or nothing new
    }
    if (this.write.pending()) {
      // the echo of an earlier write must not undo a newer local selection still pending
      if (
        this.lastWritten !== null &&
        incoming.equals(this.lastWritten) &&
        sameObjects(objects, this.lastWrittenObjects)
      ) {
        return;
      }
      this.write.cancel(); // a genuinely new selection from Python wins
    }
    this.current = incoming;
    this.currentObjects = objects;
    this.currentMeta = meta;
    this.notify(null);
  }

  private recount(): void {
    this.write.cancel();
    this.n = Number(this.model.get("n_samples") ?? 0);
    this.nObj = Number(this.model.get("n_objects") ?? 0);
    this.current = Bitmask.fromBytes(this.model.get("_selection"), this.n);
    this.currentObjects = this.modelObjects();
    this.currentMeta = this.modelMeta();
    this.notify(null);
  }

  private notify(except: LinkSubscriber | null): void {
    for (const sub of [...this.subs]) {
      if (sub === except) continue;
      try {
        sub.onChange(this.current, this.currentMeta, this.currentObjects);
      } catch (err) {
        console.error("nbdiag: a linked view failed to show the selection", err);
      }
    }
  }

  private dispose(): void {
    try {
      this.write.flush();
    } catch {
      // the model may be closed already
    }
    for (const key of MODEL_KEYS) this.model.off(`change:${key}`, this.onModel);
    this.model.off("change:n_samples", this.onCount);
    this.model.off("change:n_objects", this.onCount);
    const m = this.model as WithHub;
    if (m[HUB] === this) delete m[HUB];
  }
}
