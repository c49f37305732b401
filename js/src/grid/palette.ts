/** Class and match-status colours of the grid's boxes (readable on light and dark themes). */

import type { BoxState } from "./boxes";

/** 20 distinct hues (Tableau-like, saturated enough for 1-2 px outlines on photos). */
export const CLASS_COLORS = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
  "#bcbd22",
  "#7f7f7f",
  "#393b79",
  "#e6550d",
  "#31a354",
  "#ad494a",
  "#756bb1",
  "#c49c94",
  "#f7b6d2",
  "#9edae5",
  "#dbdb8d",
  "#636363",
] as const;

export const STATE_COLORS: Record<"tp" | "fp" | "fn" | "ignored", string> = {
  tp: "#22a447",
  fp: "#e0302e",
  fn: "#f59e0b",
  ignored: "#9e9e9e",
};

export function classColor(code: number): string {
  if (!(code >= 0)) return "#9e9e9e";
  return CLASS_COLORS[code % CLASS_COLORS.length];
}

export type ColorBy = "class" | "match";

/** Stroke colour of a box: its class, or (colouring by match) its TP / FP / FN status. */
export function boxColor(cls: number, state: BoxState, colorBy: ColorBy): string {
  if (state === "ignored") return STATE_COLORS.ignored;
  if (colorBy === "match" && (state === "tp" || state === "fp" || state === "fn")) return STATE_COLORS[state];
  return classColor(cls);
}
