// Why an image is flagged, in the cell's tooltip (caption.ts).
import { describe, expect, it } from "vitest";
import { flagReasons } from "../src/grid/caption";
import type { ItemData } from "../src/grid/loader";
import type { GridSettings } from "../src/grid/settings";

const item = (reasons: string | null, kind: string | null = null): ItemData =>
  ({ row: 0, id: "a", url: null, sw: 1, sh: 1, boxes: [], label: null, pred: null, score: null, status: null, kind, reasons }) as ItemData;
const at = (level: "sample" | "object"): GridSettings => ({ level }) as GridSettings;

describe("flagReasons", () => {
  it("one tooltip line per flag of a sample", () => {
    const why = "dark: brightness 0.081 < 0.214 (calibrated, threshold at p6, image at p1); blurry: blurriness 0.7 > 0.6";
    expect(flagReasons(item(why), at("sample"))).toBe(
      "\nflagged: dark: brightness 0.081 < 0.214 (calibrated, threshold at p6, image at p1)\nflagged: blurry: blurriness 0.7 > 0.6",
    );
  });
  it("nothing for unflagged samples and for object rows", () => {
    expect(flagReasons(item(null), at("sample"))).toBe("");
    expect(flagReasons(item(""), at("sample"))).toBe("");
    expect(flagReasons(item(null, "pred"), at("object"))).toBe("");
    expect(flagReasons(item("dark: x", "gt"), at("object"))).toBe("");
  });
});
