/**
 * Colours of the scatter: a categorical palette (Python may send its own) and a continuous
 * ramp (viridis-like, perceptually ordered, readable on light and dark backgrounds). Legend ticks
 * and number labels are in `shared/format.ts`.
 */

export type RGBA = [number, number, number, number];

/** Ten distinct hues (Tableau 10 order); more categories continue around the hue circle. */
export const CATEGORY_PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

/** Colour of points with a missing category / NaN value. */
export const MISSING_COLOR = "#9e9e9e";
/** Colour of points when nothing colours them. */
export const DEFAULT_COLOR = "#4e79a7";

/** Anchor colours of the continuous ramp (viridis), evenly spaced from low to high. */
const RAMP_STOPS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];

/** "#rrggbb" / "#rgb" / "#rrggbbaa" -> [r, g, b, a] in 0..255. Unparseable -> missing grey. */
export function parseColor(css: string): RGBA {
  let s = css.trim().toLowerCase();
  if (s.startsWith("#")) s = s.slice(1);
  if (s.length === 3 || s.length === 4) s = [...s].map((c) => c + c).join("");
  if ((s.length === 6 || s.length === 8) && /^[0-9a-f]+$/.test(s)) {
    const v = (i: number): number => parseInt(s.slice(i, i + 2), 16);
    return [v(0), v(2), v(4), s.length === 8 ? v(6) : 255];
  }
  return css === MISSING_COLOR ? [158, 158, 158, 255] : parseColor(MISSING_COLOR);
}

export function toHex([r, g, b]: RGBA | [number, number, number]): string {
  const h = (v: number): string => Math.round(Math.max(0, Math.min(255, v))).toString(16).padStart(2, "0");
  return `#${h(r)}${h(g)}${h(b)}`;
}

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number): number => {
    const k = (n + h / 30) % 12;
    return 255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1)));
  };
  return [f(0), f(8), f(4)];
}

/** `n` category colours: the given palette first, then generated hues (golden-angle steps). */
export function categoryColors(n: number, palette: readonly string[] = CATEGORY_PALETTE): string[] {
  const base = palette.length > 0 ? palette : CATEGORY_PALETTE;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i < base.length) out.push(base[i]);
    else {
      const h = (i * 137.508) % 360;
      const l = 0.45 + 0.15 * ((i >> 1) % 2);
      out.push(toHex(hslToRgb(h, 0.55, l)));
    }
  }
  return out;
}

/** The ramp's colour at t in [0, 1] (clamped). */
export function rampColor(t: number): RGBA {
  const stops = RAMP_STOPS;
  if (!Number.isFinite(t)) return parseColor(MISSING_COLOR);
  const u = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(u));
  const f = u - i;
  const a = parseColor(stops[i]);
  const b = parseColor(stops[i + 1]);
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f, 255];
}

/** The ramp sampled at `n` points, RGBA bytes (a 1-D texture). */
export function rampBytes(n = 256): Uint8Array {
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    const c = rampColor(i / (n - 1));
    out.set([Math.round(c[0]), Math.round(c[1]), Math.round(c[2]), 255], i * 4);
  }
  return out;
}

/** A CSS linear-gradient of the ramp (legend bar), low at the left. */
export function rampGradient(): string {
  return `linear-gradient(to right, ${RAMP_STOPS.join(", ")})`;
}

/** Min / max of the finite values (NaN skipped); [0, 1] when there are none. */
export function valueRange(values: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo > hi ? [0, 1] : [lo, hi];
}
