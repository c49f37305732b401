/** Just enough of an anywidget / ipywidgets model for unit tests: get / set / save_changes / on /
 *  off with change events, a kernel-side update, and a widget manager resolving other models. */

type Handler = (...args: any[]) => void;

export class FakeModel {
  state: Record<string, unknown>;
  handlers = new Map<string, Set<Handler>>();
  /** every model.set from the front end, in order */
  sets: [string, unknown][] = [];
  /** a snapshot of the traits set since the previous save, per save_changes() */
  saves: Record<string, unknown>[] = [];
  /** custom messages sent with model.send */
  sent: { content: any; buffers?: unknown[] }[] = [];
  widget_manager: FakeManager;
  private dirty: Record<string, unknown> = {};

  constructor(state: Record<string, unknown> = {}, manager?: FakeManager) {
    this.state = { ...state };
    this.widget_manager = manager ?? new FakeManager();
  }
  get(key: string): any {
    return this.state[key];
  }
  set(key: string, value: unknown): void {
    this.state[key] = value;
    this.sets.push([key, value]);
    this.dirty[key] = value;
    this.emit(`change:${key}`);
  }
  save_changes(): void {
    this.saves.push(this.dirty);
    this.dirty = {};
  }
  send(content: any, _callbacks?: unknown, buffers?: unknown[]): void {
    this.sent.push({ content, buffers });
  }
  on(event: string, cb: Handler): void {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)!.add(cb);
  }
  off(event?: string | null, cb?: Handler | null): void {
    if (!event) {
      this.handlers.clear();
      return;
    }
    if (!cb) this.handlers.delete(event);
    else this.handlers.get(event)?.delete(cb);
  }
  listenerCount(event?: string): number {
    if (event) return this.handlers.get(event)?.size ?? 0;
    let n = 0;
    for (const s of this.handlers.values()) n += s.size;
    return n;
  }
  /** A state update from the kernel: set everything first, then fire the change events. */
  fromKernel(patch: Record<string, unknown>): void {
    Object.assign(this.state, patch);
    for (const key of Object.keys(patch)) this.emit(`change:${key}`);
  }
  /** A custom message from the kernel. */
  message(content: unknown, buffers: DataView[] = []): void {
    this.emit("msg:custom", content, buffers);
  }
  emit(event: string, ...args: unknown[]): void {
    for (const cb of [...(this.handlers.get(event) ?? [])]) cb(...args);
  }
}

export class FakeManager {
  models = new Map<string, FakeModel>();
  get_model(id: string): Promise<FakeModel> {
    const m = this.models.get(id);
    return m ? Promise.resolve(m) : Promise.reject(new Error(`no model ${id}`));
  }
}

/** Let pending promise callbacks (e.g. get_model) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}
