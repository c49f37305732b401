import { describe, expect, it } from "vitest";
import { formatNumber, niceTicks } from "../src/shared/format";

describe("format", () => {
  it("nice ticks and number labels", () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 97, 4)).toEqual([0, 20, 40, 60, 80]);
    expect(niceTicks(3, 3)).toEqual([3]);
    expect(formatNumber(1234567)).toBe("1.23e+6");
    expect(formatNumber(12345)).toBe("12,345");
    expect(formatNumber(0.123456)).toBe("0.1235");
  });
});
