import { describe, expect, it } from "vitest";
import { categoryColors, CATEGORY_PALETTE, parseColor, rampColor, valueRange } from "../src/scatter/colors";
import { GridIndex } from "../src/scatter/grid_index";
import { boxSelect, decimate, extendPath, lassoSelect, pointInPolygon, polygonBounds } from "../src/scatter/lasso";
import { dataBounds, MAX_ZOOM, ViewTransform } from "../src/scatter/transform";
import { boxHit, lassoHit } from "../src/scatter/regions";
import { selectionGraceMs } from "../src/scatter/pacing";
import { selectionArrays } from "../src/scatter/selection_arrays";
import { Bitmask } from "../src/shared/selection";

const idx = (m: { indices(): Uint32Array }): number[] => Array.from(m.indices());

/** A seeded PRNG (mulberry32): tests are deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("pointInPolygon (even-odd)", () => {
  const square = [0, 0, 10, 0, 10, 10, 0, 10];
  it("inside, outside, and a concave polygon's notch", () => {
    expect(pointInPolygon(5, 5, square)).toBe(true);
    expect(pointInPolygon(-1, 5, square)).toBe(false);
    expect(pointInPolygon(5, 11, square)).toBe(false);
    // a U shape: the notch between the arms is outside
    const u = [0, 0, 9, 0, 9, 9, 6, 9, 6, 3, 3, 3, 3, 9, 0, 9];
    expect(pointInPolygon(1.5, 6, u)).toBe(true);
    expect(pointInPolygon(4.5, 6, u)).toBe(false);
    expect(pointInPolygon(7.5, 6, u)).toBe(true);
    expect(pointInPolygon(4.5, 1.5, u)).toBe(true);
  });

  it("a self-intersecting (figure-eight) lasso: each lobe is inside, the crossing region follows even-odd", () => {
    const bowtie = [0, 0, 10, 10, 10, 0, 0, 10];
    expect(pointInPolygon(2, 5, bowtie)).toBe(true);
    expect(pointInPolygon(8, 5, bowtie)).toBe(true);
    expect(pointInPolygon(5, 2, bowtie)).toBe(false);
  });

  it("degenerate polygons contain nothing", () => {
    expect(pointInPolygon(0, 0, [])).toBe(false);
    expect(pointInPolygon(0.5, 0.5, [0, 0, 1, 1])).toBe(false);
  });

  it("agrees with a brute-force winding-angle oracle on random polygons", () => {
    const r = rng(7);
    const windingInside = (x: number, y: number, p: number[]): boolean => {
      // for a simple (non-self-intersecting) star-shaped polygon, |winding| = 1 inside
      let angle = 0;
      const n = p.length / 2;
      for (let i = 0; i < n; i++) {
        const ax = p[2 * i] - x;
        const ay = p[2 * i + 1] - y;
        const bx = p[2 * ((i + 1) % n)] - x;
        const by = p[2 * ((i + 1) % n) + 1] - y;
        angle += Math.atan2(ax * by - ay * bx, ax * bx + ay * by);
      }
      return Math.abs(angle) > Math.PI;
    };
    for (let trial = 0; trial < 20; trial++) {
      // a random star-shaped polygon around (0.5, 0.5)
      const k = 5 + Math.floor(r() * 20);
      const poly: number[] = [];
      for (let i = 0; i < k; i++) {
        const a = (2 * Math.PI * i) / k;
        const rad = 0.1 + 0.4 * r();
        poly.push(0.5 + rad * Math.cos(a), 0.5 + rad * Math.sin(a));
      }
      for (let s = 0; s < 200; s++) {
        const x = r();
        const y = r();
        expect(pointInPolygon(x, y, poly)).toBe(windingInside(x, y, poly));
      }
    }
  });
});

describe("lassoSelect / boxSelect", () => {
  it("selects exactly the points inside; NaN points never", () => {
    // the triangle below the diagonal y = x
    const xs = new Float32Array([2, 5, 9, 5, NaN, 11]);
    const ys = new Float32Array([1, 4, 8, 6, 5, 5]);
    const tri = [0, 0, 10, 0, 10, 10];
    expect(idx(lassoSelect(xs, ys, tri))).toEqual([0, 1, 2]);
    expect(lassoSelect(xs, ys, [0, 0, 1, 1]).isEmpty()).toBe(true); // not a polygon
  });

  it("matches a per-point loop on 100k random points", () => {
    const r = rng(1);
    const n = 100_000;
    const xs = new Float32Array(n);
    const ys = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      xs[i] = r() * 100;
      ys[i] = r() * 100;
    }
    const poly = [10, 10, 80, 20, 60, 90, 30, 50, 15, 70];
    const got = lassoSelect(xs, ys, poly);
    let expected = 0;
    for (let i = 0; i < n; i++) {
      const inside = pointInPolygon(xs[i], ys[i], poly);
      if (inside) expected++;
      if (got.get(i) !== inside) throw new Error(`row ${i} differs`);
    }
    expect(got.count()).toBe(expected);
    expect(expected).toBeGreaterThan(1000);
  });

  it("box selection includes its edges and takes corners in any order", () => {
    const xs = new Float32Array([0, 1, 2, 3, NaN]);
    const ys = new Float32Array([0, 1, 2, 3, 1]);
    expect(idx(boxSelect(xs, ys, 1, 1, 2, 2))).toEqual([1, 2]);
    expect(idx(boxSelect(xs, ys, 2, 2, 1, 1))).toEqual([1, 2]);
    expect(idx(boxSelect(xs, ys, 5, 5, 6, 6))).toEqual([]);
  });

  it("polygon bounds, path extension and decimation", () => {
    expect(polygonBounds([1, 2, -3, 4, 5, -6])).toEqual({ xmin: -3, xmax: 5, ymin: -6, ymax: 4 });
    const path: number[] = [];
    expect(extendPath(path, 0, 0)).toBe(true);
    expect(extendPath(path, 1, 0, 2)).toBe(false); // too close
    expect(extendPath(path, 3, 0, 2)).toBe(true);
    expect(path).toEqual([0, 0, 3, 0]);
    const long = Array.from({ length: 2000 }, (_, i) => i);
    const d = decimate(long, 100);
    expect(d.length).toBe(200);
    expect(d.slice(-2)).toEqual([1998, 1999]); // the last vertex is kept
    expect(decimate([1, 2, 3, 4], 100)).toEqual([1, 2, 3, 4]);
  });
});

describe("ViewTransform", () => {
  it("fits the data with padding; y grows upwards", () => {
    const t = new ViewTransform(200, 100, false);
    t.fit({ xmin: 0, xmax: 10, ymin: 0, ymax: 5 }, 0);
    expect(t.toPixel(0, 0)).toEqual([0, 100]);
    expect(t.toPixel(10, 5)).toEqual([200, 0]);
    const [x, y] = t.toData(100, 50);
    expect(x).toBeCloseTo(5);
    expect(y).toBeCloseTo(2.5);
  });

  it("equal aspect uses one scale and centres the data", () => {
    const t = new ViewTransform(200, 100, true);
    t.fit({ xmin: 0, xmax: 10, ymin: 0, ymax: 10 }, 0);
    expect(t.kx).toBeCloseTo(10);
    expect(-t.ky).toBeCloseTo(10);
    expect(t.toPixel(5, 5)).toEqual([100, 50]);
  });

  it("zoom keeps the point under the cursor still, and is clamped", () => {
    const t = new ViewTransform(400, 300, true);
    t.fit({ xmin: -1, xmax: 1, ymin: -1, ymax: 1 });
    const before = t.toData(123, 77);
    t.zoomAt(123, 77, 3);
    const after = t.toData(123, 77);
    expect(after[0]).toBeCloseTo(before[0], 10);
    expect(after[1]).toBeCloseTo(before[1], 10);
    expect(t.zoom).toBeCloseTo(3);
    t.zoomAt(0, 0, 1e9);
    expect(t.zoom).toBeCloseTo(MAX_ZOOM);
  });

  it("pan, resize and the clip-space transform agree with toPixel", () => {
    const t = new ViewTransform(300, 200, false);
    t.fit({ xmin: 0, xmax: 3, ymin: 0, ymax: 2 });
    t.panBy(10, -5);
    const [px, py] = t.toPixel(1.2, 0.7);
    const c = t.clip();
    const cx = 1.2 * c.sx + c.ox;
    const cy = 0.7 * c.sy + c.oy;
    expect(((cx + 1) / 2) * 300).toBeCloseTo(px, 9);
    expect(((1 - cy) / 2) * 200).toBeCloseTo(py, 9);
    const centre = t.toData(150, 100);
    t.resize(600, 400);
    const after = t.toData(300, 200);
    expect(after[0]).toBeCloseTo(centre[0], 10);
    expect(after[1]).toBeCloseTo(centre[1], 10);
    const v = t.visible();
    expect(v.xmin).toBeLessThan(v.xmax);
  });

  it("data bounds skip NaN and default to a unit box", () => {
    expect(dataBounds(new Float32Array([1, NaN, 3]), new Float32Array([2, 5, NaN]))).toEqual({ xmin: 1, xmax: 1, ymin: 2, ymax: 2 });
    expect(dataBounds(new Float32Array([NaN]), new Float32Array([NaN]))).toEqual({ xmin: -1, xmax: 1, ymin: -1, ymax: 1 });
  });
});

describe("lasso and box through the spatial index", () => {
  it("select exactly the rows a full scan selects, on clustered points with NaN and outliers", () => {
    const r = rng(11);
    const n = 60_000;
    const xs = new Float32Array(n);
    const ys = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % 7;
      xs[i] = c * 3 + r() * 2;
      ys[i] = (c % 3) * 4 + r() * 2;
    }
    xs[17] = NaN;
    ys[99] = NaN;
    xs[5] = 1e6; // an outlier stretches the index bounds
    const index = new GridIndex(xs, ys, dataBounds(xs, ys));
    for (let q = 0; q < 40; q++) {
      const cx = r() * 20;
      const cy = r() * 10;
      const rad = 0.2 + r() * 6;
      const poly: number[] = [];
      for (let k = 0; k < 12; k++) poly.push(cx + rad * Math.cos((k * Math.PI) / 6), cy + rad * Math.sin((k * Math.PI) / 6));
      expect(lassoSelect(xs, ys, poly, index).equals(lassoSelect(xs, ys, poly))).toBe(true);
      const [x0, y0, x1, y1] = [cx - rad, cy - rad * 0.5, cx + rad, cy + rad];
      expect(boxSelect(xs, ys, x1, y0, x0, y1, index).equals(boxSelect(xs, ys, x1, y0, x0, y1))).toBe(true);
    }
    // the outlier itself, and a rectangle off the data
    expect(idx(boxSelect(xs, ys, 1e6 - 1, -1, 1e6 + 1, 100, index))).toEqual([5]);
    expect(boxSelect(xs, ys, -50, -50, -40, -40, index).isEmpty()).toBe(true);
  });

  it("forEachInRect visits every point of the rectangle once", () => {
    const xs = new Float32Array([0, 1, 2, 3, 4, 5, NaN]);
    const ys = new Float32Array([0, 1, 2, 3, 4, 5, 1]);
    const g = new GridIndex(xs, ys, dataBounds(xs, ys), 1);
    const seen: number[] = [];
    g.forEachInRect(0.5, 3.5, 0.5, 3.5, (i) => seen.push(i));
    expect(new Set(seen).size).toBe(seen.length);
    expect([1, 2, 3].every((i) => seen.includes(i))).toBe(true);
    expect(seen.includes(6)).toBe(false);
    expect(g.size).toBe(6);
    const none: number[] = [];
    g.forEachInRect(3, 1, 0, 5, (i) => none.push(i)); // an empty rectangle
    expect(none).toEqual([]);
  });
});

describe("the frame after a selection waits for its message", () => {
  it("no wait below 200k points; 40 ms a million, at least 100 ms, at most 400 ms", () => {
    expect(selectionGraceMs(199_999)).toBe(0);
    expect(selectionGraceMs(200_000)).toBe(100);
    expect(selectionGraceMs(1_000_000)).toBe(100);
    expect(selectionGraceMs(5_000_000)).toBe(200);
    expect(selectionGraceMs(10_000_000)).toBe(400);
    expect(selectionGraceMs(50_000_000)).toBe(400);
  });

  it("waits one frame's time when frames are slower than that (a software renderer), at most 1 s", () => {
    expect(selectionGraceMs(1_000_000, 16)).toBe(100);
    expect(selectionGraceMs(1_000_000, 900)).toBe(900);
    expect(selectionGraceMs(10_000_000, 5_000)).toBe(1000);
    expect(selectionGraceMs(100_000, 900)).toBe(0);
  });
});

describe("GridIndex picking", () => {
  it("finds the nearest point within the radius, or nothing", () => {
    const xs = new Float32Array([0, 1, 2, 3, NaN]);
    const ys = new Float32Array([0, 0, 0, 0, 0]);
    const g = new GridIndex(xs, ys, dataBounds(xs, ys), 1);
    expect(g.nearest(1.1, 0, 0.5, 0.5)).toBe(1);
    expect(g.nearest(2.6, 0.1, 0.5, 0.5)).toBe(3);
    expect(g.nearest(10, 10, 0.5, 0.5)).toBe(-1);
    expect(g.nearest(1.1, 0, 0.5, 0.5, (i) => i !== 1)).toBe(-1);
  });

  it("matches a brute-force search on random points", () => {
    const r = rng(3);
    const n = 20_000;
    const xs = new Float32Array(n);
    const ys = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      xs[i] = r() * 50;
      ys[i] = r() * 10;
    }
    const g = new GridIndex(xs, ys, dataBounds(xs, ys));
    for (let q = 0; q < 200; q++) {
      const x = r() * 50;
      const y = r() * 10;
      const rx = 0.3;
      const ry = 0.1;
      let best = -1;
      let bestD = 1;
      for (let i = 0; i < n; i++) {
        const d = ((xs[i] - x) / rx) ** 2 + ((ys[i] - y) / ry) ** 2;
        if (d <= bestD) {
          bestD = d;
          best = i;
        }
      }
      expect(g.nearest(x, y, rx, ry)).toBe(best);
    }
  });
});

describe("colours", () => {
  it("parses hex colours", () => {
    expect(parseColor("#ff8000")).toEqual([255, 128, 0, 255]);
    expect(parseColor("#f80")).toEqual([255, 136, 0, 255]);
    expect(parseColor("#00000080")).toEqual([0, 0, 0, 128]);
    expect(parseColor("bogus")).toEqual([158, 158, 158, 255]);
  });

  it("category colours start with the palette and stay distinct beyond it", () => {
    const c = categoryColors(30);
    expect(c.slice(0, 10)).toEqual(CATEGORY_PALETTE);
    expect(new Set(c).size).toBe(30);
    expect(categoryColors(2, ["#111111"])).toEqual(["#111111", expect.stringMatching(/^#[0-9a-f]{6}$/)]);
  });

  it("the ramp runs from dark purple to yellow and clamps", () => {
    expect(rampColor(0).slice(0, 3)).toEqual([0x44, 0x01, 0x54]);
    expect(rampColor(1).slice(0, 3)).toEqual([0xfd, 0xe7, 0x25]);
    expect(rampColor(2)).toEqual(rampColor(1));
    expect(valueRange(new Float32Array([NaN, 3, -1]))).toEqual([-1, 3]);
  });
});

describe("lasso / box regions", () => {
  // canvas pixel (px, py) -> data (px / 10, 10 - py / 10): y grows upwards
  const t = { toData: (px: number, py: number): [number, number] => [px / 10, 10 - py / 10] };
  const xs = new Float32Array([1, 5, 9, 5]);
  const ys = new Float32Array([9, 5, 1, -10]);

  it("a lasso in pixels selects in data coordinates and reports that exact polygon", () => {
    const { rows, region } = lassoHit(xs, ys, [0, 0, 100, 0, 100, 100, 0, 100], t);
    expect(idx(rows)).toEqual([0, 1, 2]);
    expect(region).toEqual({ kind: "lasso", x: [0, 10, 10, 0], y: [10, 10, 0, 0] });
    expect(idx(lassoSelect(xs, ys, [0, 10, 10, 10, 10, 0, 0, 0]))).toEqual(idx(rows));
  });

  it("a box in pixels reports its data bounds, whichever corner it started from", () => {
    const a = boxHit(xs, ys, 0, 0, 60, 60, t);
    const b = boxHit(xs, ys, 60, 60, 0, 0, t);
    expect(idx(a.rows)).toEqual([0, 1]);
    expect(idx(b.rows)).toEqual([0, 1]);
    expect(a.region).toEqual({ kind: "box", x0: 0, x1: 6, y0: 4, y1: 10 });
    expect(b.region).toEqual(a.region);
  });
});

describe("the renderer's selection buffers", () => {
  it("a byte per point and the selected rows, from the packed bitmask; null when nothing", () => {
    const bits = Bitmask.fromIndices(20, [0, 3, 8, 19]).bits;
    const { flags, rows } = selectionArrays(bits, 20);
    expect(Array.from(rows)).toEqual([0, 3, 8, 19]);
    expect(flags !== null && Array.from(flags).flatMap((f, i) => (f ? [i] : []))).toEqual([0, 3, 8, 19]);
    // bits past n are ignored; an empty mask or null gives no flags
    expect(Array.from(selectionArrays(bits, 10).rows)).toEqual([0, 3, 8]);
    expect(selectionArrays(new Uint8Array(3), 20).flags).toBe(null);
    expect(selectionArrays(null, 20).rows.length).toBe(0);
    // agrees with Bitmask.indices on a random mask
    const r = rng(5);
    const m = Bitmask.fromPredicate(100_003, () => r() < 0.3);
    expect(Array.from(selectionArrays(m.bits, m.n).rows)).toEqual(Array.from(m.indices()));
  });
});
