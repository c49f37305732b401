import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { debounce } from "../src/shared/debounce";

describe("debounce", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("calls once, after the quiet period, with the last arguments", () => {
    const fn = vi.fn();
    const d = debounce(fn, 150);
    d(1);
    vi.advanceTimersByTime(100);
    d(2);
    vi.advanceTimersByTime(100);
    d(3);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(149);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(fn).toHaveBeenCalledWith(3);
  });

  it("calls again for a later burst", () => {
    const fn = vi.fn();
    const d = debounce(fn, 50);
    d("a");
    vi.advanceTimersByTime(60);
    d("b");
    vi.advanceTimersByTime(60);
    expect(fn.mock.calls).toEqual([["a"], ["b"]]);
  });

  it("flush runs the pending call now, once", () => {
    const fn = vi.fn();
    const d = debounce(fn, 150);
    d("x", 2);
    expect(d.pending()).toBe(true);
    d.flush();
    expect(fn).toHaveBeenCalledWith("x", 2);
    expect(d.pending()).toBe(false);
    vi.advanceTimersByTime(500);
    expect(fn).toHaveBeenCalledTimes(1);
    d.flush(); // nothing pending: no call
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("cancel drops the pending call", () => {
    const fn = vi.fn();
    const d = debounce(fn, 150);
    d(1);
    d.cancel();
    expect(d.pending()).toBe(false);
    vi.advanceTimersByTime(500);
    expect(fn).not.toHaveBeenCalled();
  });

  it("can be called again from inside the callback", () => {
    const seen: number[] = [];
    const d = debounce((x: number) => {
      seen.push(x);
      if (x < 3) d(x + 1);
    }, 10);
    d(1);
    vi.advanceTimersByTime(100);
    expect(seen).toEqual([1, 2, 3]);
  });
});
