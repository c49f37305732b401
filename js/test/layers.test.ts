/**
 * The layering of src/ (see src/README.md), checked on every import, type-only ones included:
 *
 *   shared/     imports only shared/
 *   <view>/     imports only itself and shared/ (never another view)
 *   widgets/    imports shared/ and one view, never another widget
 *
 * and no TypeScript file is over 500 lines.
 */
import ts from "typescript";
import { describe, expect, it } from "vitest";

declare global {
  interface ImportMeta {
    glob(pattern: string, options?: { query?: string; import?: string; eager?: boolean }): Record<string, unknown>;
  }
}

const SOURCES = import.meta.glob("../src/**/*.ts", { query: "?raw", import: "default", eager: true }) as Record<string, string>;
const OTHER_FILES = Object.keys(import.meta.glob("../src/**/*.css"));
const MAX_LINES = 500;
/** Packages a source file may import (types only: everything else is bundled from src/). */
const PACKAGES = ["@anywidget/types"];

/** "../src/grid/view.ts" -> "grid/view.ts" */
const files = Object.keys(SOURCES).map((k) => k.replace(/^\.\.\/src\//, ""));
const known = new Set([...files, ...OTHER_FILES.map((k) => k.replace(/^\.\.\/src\//, ""))]);

/** The layer of a path under src/: "shared", "widgets", a view folder, or "" (src/ itself). */
function layerOf(path: string): string {
  const slash = path.indexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}

/** Resolve `spec` imported from `from` (both relative to src/) to a file under src/, or null. */
function resolve(from: string, spec: string): string | null {
  const parts = from.split("/").slice(0, -1);
  for (const seg of spec.split("/")) {
    if (seg === "..") {
      if (parts.length === 0) return null; // leaves src/
      parts.pop();
    } else if (seg !== ".") parts.push(seg);
  }
  const path = parts.join("/");
  for (const candidate of [path, `${path}.ts`, `${path}/index.ts`]) if (known.has(candidate)) return candidate;
  return null;
}

interface Edge {
  from: string;
  spec: string;
  to: string | null;
}

const edges: Edge[] = files.flatMap((from) =>
  ts.preProcessFile(SOURCES[`../src/${from}`], true, true).importedFiles.map(({ fileName: spec }) => ({
    from,
    spec,
    to: spec.startsWith(".") ? resolve(from, spec) : null,
  })),
);

/** Why an import breaks the layering, or null. */
function violation(e: Edge): string | null {
  if (!e.spec.startsWith(".")) return PACKAGES.includes(e.spec) ? null : "imports a package that is not bundled from src/";
  if (e.to === null) return "does not resolve to a file under src/";
  const a = layerOf(e.from);
  const b = layerOf(e.to);
  if (a === "") return "src/ itself holds only ambient declarations";
  if (a === "shared") return b === "shared" ? null : "shared/ imports only shared/";
  if (a === "widgets") return b === "widgets" ? "widgets never import each other" : b === "" ? "widgets import shared/ or a view" : null;
  return b === a || b === "shared" ? null : `views import only their own folder and shared/`;
}

describe("src/ layering", () => {
  it("finds the sources and their imports", () => {
    expect(files).toContain("shared/selection.ts");
    expect(files).toContain("widgets/scatter.ts");
    expect(edges.length).toBeGreaterThan(50);
    // type-only imports are seen too
    expect(edges).toContainEqual({ from: "scatter/data.ts", spec: "./renderer", to: "scatter/renderer.ts" });
  });

  it("shared/ imports only shared/, a view only itself and shared/, a widget shared/ and views", () => {
    const bad = edges.flatMap((e) => {
      const why = violation(e);
      return why ? [`${e.from} -> "${e.spec}": ${why}`] : [];
    });
    expect(bad).toEqual([]);
  });

  it("each widget entry builds on exactly one view", () => {
    for (const f of files.filter((f) => layerOf(f) === "widgets")) {
      const views = new Set(edges.filter((e) => e.from === f && e.to && !["shared", "widgets", ""].includes(layerOf(e.to))).map((e) => layerOf(e.to!)));
      expect([f, views.size]).toEqual([f, 1]);
    }
  });

  it(`no TypeScript file is over ${MAX_LINES} lines`, () => {
    const long = files.filter((f) => SOURCES[`../src/${f}`].split("\n").length - 1 > MAX_LINES);
    expect(long).toEqual([]);
  });

  it("the rules catch what they should", () => {
    expect(violation({ from: "histogram/view.ts", spec: "../scatter/colors", to: "scatter/colors.ts" })).not.toBeNull();
    expect(violation({ from: "shared/dom.ts", spec: "../grid/draw", to: "grid/draw.ts" })).not.toBeNull();
    expect(violation({ from: "widgets/scatter.ts", spec: "./histogram", to: "widgets/histogram.ts" })).not.toBeNull();
    expect(violation({ from: "grid/view.ts", spec: "../shared/dom", to: "shared/dom.ts" })).toBeNull();
    expect(violation({ from: "widgets/scatter.ts", spec: "../scatter/view", to: "scatter/view.ts" })).toBeNull();
  });
});
