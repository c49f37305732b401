// Bundle every widget entry src/widgets/<name>.ts to ../nbdiag/static/<name>.js (+ <name>.css when
// the entry imports CSS). ESM, minified, es2020, no source maps, nothing loaded from the network.
//
//   node build.mjs            build once
//   node build.mjs --watch    rebuild on change
//
// A new widget is a new file in src/widgets/: nothing to register here.
import { readdirSync, mkdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const widgetsDir = join(here, "src", "widgets");
const outdir = join(here, "..", "nbdiag", "static");
const watch = process.argv.includes("--watch");

const entryPoints = Object.fromEntries(
  readdirSync(widgetsDir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .sort()
    .map((f) => [basename(f, ".ts"), join(widgetsDir, f)]),
);
if (Object.keys(entryPoints).length === 0) {
  console.error(`no widget entries in ${widgetsDir}`);
  process.exit(1);
}

/** @type {import("esbuild").BuildOptions} */
const options = {
  entryPoints,
  outdir,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2020",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
  // everything is bundled; a bare import that cannot be resolved locally is a build error
};

mkdirSync(outdir, { recursive: true });

if (watch) {
  const ctx = await esbuild.context({ ...options, logLevel: "info" });
  await ctx.watch();
  console.log(`watching ${relative(process.cwd(), widgetsDir)} -> ${relative(process.cwd(), outdir)}`);
} else {
  // drop stale outputs of this build (never anything else in static/)
  for (const name of Object.keys(entryPoints)) {
    for (const ext of [".js", ".css", ".js.map", ".css.map"]) rmSync(join(outdir, name + ext), { force: true });
  }
  const t0 = performance.now();
  const result = await esbuild.build(options);
  const ms = Math.round(performance.now() - t0);
  for (const file of Object.keys(result.metafile.outputs).sort()) {
    const size = statSync(file).size;
    console.log(`  ${relative(process.cwd(), file).padEnd(40)} ${(size / 1024).toFixed(1).padStart(7)} KiB`);
  }
  console.log(`built ${Object.keys(entryPoints).length} widget(s) in ${ms} ms`);
}
