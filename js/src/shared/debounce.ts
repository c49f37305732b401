/** Trailing-edge debounce with `flush` (run a pending call now) and `cancel` (drop it). */

export interface Debounced<A extends unknown[]> {
  /** Schedule `fn(...args)` `wait` ms after the last call; a newer call replaces the arguments. */
  (...args: A): void;
  /** Run the pending call now, if any. */
  flush(): void;
  /** Drop the pending call, if any. */
  cancel(): void;
  /** Whether a call is waiting. */
  pending(): boolean;
}

export function debounce<A extends unknown[]>(fn: (...args: A) => void, wait: number): Debounced<A> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let lastArgs: A | null = null;

  const run = (): void => {
    const args = lastArgs;
    timer = null;
    lastArgs = null;
    if (args !== null) fn(...args);
  };

  const debounced = ((...args: A): void => {
    lastArgs = args;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(run, wait);
  }) as Debounced<A>;

  debounced.flush = (): void => {
    if (timer === null) return;
    clearTimeout(timer);
    run();
  };
  debounced.cancel = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    lastArgs = null;
  };
  debounced.pending = (): boolean => timer !== null;
  return debounced;
}
