/** When the scatter draws and builds its index at scale (pure; unit-tested). */

/**
 * How long the frame after a committed selection waits (ms). The browser writes a websocket
 * message to the network in chunks, each on a turn of the page's main thread; a frame of
 * millions of points (seconds on a software renderer) would hold those turns, and the kernel
 * would get a lasso after the frame instead of at once. Waiting also coalesces frames during a
 * burst of selections: the next lasso or box started within the wait holds the frame until it
 * ends (see `dragging`), so a burst draws once, after its last gesture. None below
 * {@link IDLE_INDEX_MIN} points; 40 ms per million, at least 100 ms, at most 400 ms; or, when
 * frames are slower than that here (`frameMs`, measured: a software renderer), one frame's time,
 * at most a second: a frame that takes a second is not started between two quick gestures.
 */
export function selectionGraceMs(n: number, frameMs = 0): number {
  if (n < IDLE_INDEX_MIN) return 0;
  const base = Math.min(400, Math.max(100, Math.round((n / 1_000_000) * 40)));
  return Math.max(base, Math.min(1000, Math.round(frameMs)));
}

/** From this many points the spatial index is built in idle time after the first frame (lasso,
 *  box and hover then test only the points under them); below, on first use. */
export const IDLE_INDEX_MIN = 200_000;
