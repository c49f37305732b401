/**
 * COCO compressed RLE decoding in the browser against pycocotools: the fixture
 * (fixtures/rle_masks.json, written by fixtures/make_rle_fixture.py) holds masks encoded and
 * decoded by pycocotools (holes, several parts, empty, full, noise, a polygon, a large one, runs
 * beyond 2^31) and nearest-neighbour rescalings computed with numpy.
 */
import { describe, expect, it } from "vitest";
import { countSet, decodeMask, encodeMask, encodeRuns, outline, rasterize, rleRuns, runStarts } from "../src/shared/rle";

interface Fixture {
  name: string;
  h: number;
  w: number;
  counts: string;
  runs: number[];
  area: number;
  bits: string | null;
  views: { x0: number; y0: number; scale: number; outW: number; outH: number; bits: string }[];
}

// node's fs, imported by a computed name: the project's tsconfig has no node types
const NODE_FS = "node:fs";
const fs = (await import(/* @vite-ignore */ NODE_FS)) as { readFileSync(path: URL, encoding: string): string };
const FIXTURES: Fixture[] = JSON.parse(fs.readFileSync(new URL("./fixtures/rle_masks.json", import.meta.url), "utf8"));
const bitsOf = (a: Uint8Array): string => Array.from(a).join("");

describe("rleRuns", () => {
  it("has every kind of mask in the fixture", () => {
    expect(FIXTURES.map((f) => f.name)).toEqual(["hole", "multi_part", "empty", "full", "first_pixel", "noise", "big", "polygon", "huge"]);
  });
  for (const f of FIXTURES) {
    it(`decodes the runs of '${f.name}' as pycocotools encoded them`, () => {
      const runs = Array.from(rleRuns(f.counts));
      expect(runs).toEqual(f.runs);
      expect(runs.reduce((a, b) => a + b, 0)).toBe(f.h * f.w);
      const area = runs.reduce((a, r, i) => a + (i & 1 ? r : 0), 0);
      expect(area).toBe(f.area);
    });
  }
  it("refuses malformed strings", () => {
    expect(() => rleRuns("0p")).toThrow(/bad character/);
    expect(() => rleRuns("0P")).toThrow(/ends inside/); // 'P' - 48 = 32: a continuation bit
    expect(() => rleRuns("")).not.toThrow();
  });
});

describe("encodeRuns / encodeMask", () => {
  for (const f of FIXTURES) {
    it(`'${f.name}' encodes to pycocotools' string`, () => {
      expect(encodeRuns(f.runs)).toBe(f.counts);
      if (f.bits !== null) expect(encodeMask(decodeMask(f.counts, f.h, f.w), f.h, f.w)).toBe(f.counts);
    });
  }
});

describe("decodeMask", () => {
  for (const f of FIXTURES.filter((x) => x.bits !== null)) {
    it(`'${f.name}' equals pycocotools' decoding pixel for pixel`, () => {
      expect(bitsOf(decodeMask(f.counts, f.h, f.w))).toBe(f.bits);
    });
  }
});

describe("rasterize", () => {
  for (const f of FIXTURES) {
    f.views.forEach((v, k) => {
      it(`'${f.name}' view ${k} (scale ${v.scale.toFixed(3)}) equals numpy's nearest-neighbour sampling`, () => {
        const got = rasterize(runStarts(rleRuns(f.counts)), f.h, f.w, v);
        expect(got.length).toBe(v.outW * v.outH);
        expect(bitsOf(got)).toBe(v.bits);
      });
    });
  }
  it("is empty for a degenerate view", () => {
    const f = FIXTURES[0];
    expect(rasterize(runStarts(rleRuns(f.counts)), f.h, f.w, { x0: 0, y0: 0, scale: 0, outW: 4, outH: 4 })).toEqual(new Uint8Array(16));
  });
  it("rasterises a 4000x3000 mask into a thumbnail fast, without a full-size decode", () => {
    // a 3000x4000 image with a large ellipse-like shape: column runs built directly
    const h = 3000;
    const w = 4000;
    const runs: number[] = [];
    let bg = 0;
    for (let x = 0; x < w; x++) {
      const half = Math.max(0, Math.floor(1400 * Math.sqrt(Math.max(0, 1 - ((x - 2000) / 1900) ** 2))));
      if (half === 0) {
        bg += h;
        continue;
      }
      runs.push(bg + 1500 - half, 2 * half);
      bg = h - 1500 - half;
    }
    runs.push(bg);
    const starts = runStarts(runs);
    const t0 = performance.now();
    const out = rasterize(starts, h, w, { x0: 0, y0: 0, scale: 128 / 4000, outW: 128, outH: 96 });
    const ms = performance.now() - t0;
    expect(countSet(out)).toBeGreaterThan(0.5 * Math.PI * 60 * 45); // about π·a·b, a=61, b=45
    expect(ms).toBeLessThan(50);
  });
});

describe("outline", () => {
  it("keeps the border pixels of a filled square and the rim of its hole", () => {
    const w = 7;
    const bits = new Uint8Array(49);
    for (let y = 1; y < 6; y++) for (let x = 1; x < 6; x++) bits[y * w + x] = 1;
    bits[3 * w + 3] = 0; // a hole
    const o = outline(bits, w, 7);
    expect(countSet(o)).toBe(16 + 4); // the square's border + the 4 pixels around the hole
    expect(o[2 * w + 2]).toBe(0); // inside, not next to the hole (diagonal only)
    expect(o[2 * w + 3]).toBe(1);
  });
});
