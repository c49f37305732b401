"""Benchmark: nbdiag's WebGL2 Scatter against jupyter-scatter, in real JupyterLab + headless
Chromium, on the same points in the same session.

Run from the repository root (needs Chromium, see shared notes; ``pip install jupyter-scatter``
for the peer)::

    python -m benchmarks.bench_scatter                      # 100k and 1M points
    python -m benchmarks.bench_scatter --sizes 100000       # one size
    python -m benchmarks.bench_scatter --skip-jscatter      # nbdiag alone
    python -m benchmarks.bench_scatter --sizes 1000000 --from-dataframe   # + Run All from a
                                                            # DataFrame with paths (ingest too)
    python -m benchmarks.bench_scatter --sizes 1000000 5000000 10000000   # at scale (issue 14)

For each size and library, one notebook (same JupyterLab server, same browser) builds the same
seeded points (a mixture of 10 Gaussian blobs, a 10-category label) and shows the scatter
coloured by the label. Measured:

- **payload**: bytes of the widget's state as the kernel sends it (binary buffers + JSON), and
  the websocket bytes the browser received while the cell ran;
- **first frame**: from the start of the cell (kernel clock) to the first WebGL draw call that
  draws at least half of the points (a hook on ``drawArrays`` / ``drawElements`` and their
  instanced forms, identical for both libraries; same machine clock);
- **lasso -> kernel**: from the mouse-up of a lasso (a circle in the middle of the canvas, the
  same pixels for both) to the kernel holding the selection *as a DataFrame* (a callback on the
  selection builds ``df.iloc[...]`` / ``w.selected`` and stamps the time);
- **selection message**: the largest browser -> kernel websocket frame sent after the lasso;
- where a lasso's time goes (nbdiag and the peer alike): the page receiving the mouse-up, the
  page handing the selection to its websocket (``websocket_send_called_ms``), the frame leaving
  the browser (``selection_sent_ms``);
- **zoom**: a wheel step -> the next frame drawing at least half the points;
- **hover** (nbdiag; None in performance mode): the pointer onto a point -> the view reports it
  hovered (its spatial index is built in idle time after the first frame).

A run that fails (a peer that cannot show that many points) is recorded with its error. With
``NBD_SKIP_DRAWS=1`` no draw call reaches WebGL after the lasso: it isolates the renderer's share
of a lasso's time (on SwiftShader a frame of millions of points takes seconds).

Results: ``benchmarks/results/bench_scatter.json``. Targets (issue 6): payload <= 13 MB at 1M,
first frame no slower than jupyter-scatter, lasso of 100k points -> DataFrame <= 300 ms,
selection message <= 200 KB at any selection size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parent.parent

# every draw call of every WebGL context, stamped with the wall clock (ms since the epoch)
DRAW_HOOK = """
(() => {
  window.__nbdDraws = [];
  window.__nbdUps = [];
  window.__nbdUpsDone = [];
  window.__nbdSends = [];
  document.addEventListener("pointerup", () => window.__nbdUps.push(Date.now()), true);
  window.addEventListener("pointerup", () => window.__nbdUpsDone.push(Date.now()), false);
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    const size = typeof data === "string" ? data.length : (data && data.byteLength) || 0;
    window.__nbdSends.push([Date.now(), size]);
    return send.call(this, data);
  };
  const stamp = (count) => { window.__nbdDraws.push([Date.now(), count]); };
  const wrap = (proto, name, countArg) => {
    if (!proto || !proto[name]) return;
    const orig = proto[name];
    proto[name] = function (...args) {
      stamp(args[countArg]);
      if (window.__nbdSkipDraws) return undefined;
      return orig.apply(this, args);
    };
  };
  for (const P of [window.WebGLRenderingContext, window.WebGL2RenderingContext]) {
    if (!P) continue;
    wrap(P.prototype, "drawArrays", 2);
    wrap(P.prototype, "drawElements", 1);
  }
  if (window.WebGL2RenderingContext) {
    wrap(WebGL2RenderingContext.prototype, "drawArraysInstanced", 2);
    wrap(WebGL2RenderingContext.prototype, "drawElementsInstanced", 1);
  }
  const getExt = WebGLRenderingContext.prototype.getExtension;
  WebGLRenderingContext.prototype.getExtension = function (name) {
    const ext = getExt.call(this, name);
    if (ext && name === "ANGLE_instanced_arrays" && !ext.__nbdWrapped) {
      ext.__nbdWrapped = true;
      const a = ext.drawArraysInstancedANGLE.bind(ext);
      const e = ext.drawElementsInstancedANGLE.bind(ext);
      ext.drawArraysInstancedANGLE = (m, f, c, p) => { stamp(c * p); return a(m, f, c, p); };
      ext.drawElementsInstancedANGLE = (m, c, t, o, p) => { stamp(c * p); return e(m, c, t, o, p); };
    }
    return ext;
  };
})();
"""

DATA_CELL = """import time, json
import numpy as np, pandas as pd
from ipywidgets.widgets.widget import _remove_buffers

rng = np.random.default_rng(0)
N = {n}
k = rng.integers(0, 10, N)
centers = rng.normal(scale=4.0, size=(10, 2))
xy = centers[k] + rng.normal(size=(N, 2))
df = pd.DataFrame({{"x": xy[:, 0], "y": xy[:, 1],
                   "label": pd.Categorical(np.array(list("abcdefghij"))[k])}},
                  index=pd.RangeIndex(N, name="id"))
sels = []   # (time, rows) of every selection the kernel received, as a DataFrame
{imports}

def state_bytes(widget):
    state, _, buffers = _remove_buffers(widget.get_state())
    return sum(len(memoryview(b).cast("B")) for b in buffers) + len(json.dumps(state, default=str))
"""

NBDIAG_CELL = """t_cell = time.time()
w = Scatter(df, x="x", y="y", color="label", height=480, tooltip=False)
def _on_select(widget):
    sel = widget.selected                      # the DataFrame a user gets
    sels.append((time.time(), len(sel)))
w.on_select(_on_select)
t_built = time.time()
payload = state_bytes(w)
w"""

#: Run All from a DataFrame with a path per row (files absent), default arguments: ingest + view
DATASET_CELL = """df["path"] = [f"/nonexistent/nbdiag-bench/img_{i:07d}.jpg" for i in range(N)]
t_cell = time.time()
ds = nbdiag.Dataset.from_dataframe(df, class_names=list("abcdefghij"))
w = Scatter(ds, x="x", y="y", color="label", height=480, tooltip=False)
def _on_select(widget):
    sel = widget.selected                      # the DataFrame a user gets
    sels.append((time.time(), len(sel)))
w.on_select(_on_select)
t_built = time.time()
payload = state_bytes(w)
w"""

JSCATTER_CELL = """t_cell = time.time()
js = jscatter.Scatter(data=df, x="x", y="y", color_by="label", height=480)
js.mouse("lasso")
w = js.widget
def _on_select(change):
    idx = change["new"]
    sel = df.iloc[np.asarray(idx, dtype=np.int64)] if idx is not None else df.iloc[[]]
    sels.append((time.time(), len(sel)))
w.observe(_on_select, names="selection")
t_built = time.time()
payload = state_bytes(w)
js.show()"""


def _first_big_draw(page, since_ms: float, n: int) -> float | None:
    draws = page.evaluate("window.__nbdDraws || []")
    for t, count in draws:
        if t >= since_ms and count is not None and count >= n // 2:
            return float(t)
    return None


def _hover_ms(page, probe, canvas) -> float | None:
    """Pan mode, the pointer onto a point: ms until the view reports a hovered point (None in
    performance mode, which has no hover)."""
    from tests.e2e.harness import wait_until

    root = page.locator('[data-testid="nbdiag-scatter"]').first
    if root.get_attribute("data-performance") == "1":
        return None
    page.get_by_test_id("sc-mode-pan").click()
    page.mouse.move(5, 5)
    page.wait_for_timeout(500)
    x, y = probe.eval("[float(df.x.iloc[0]), float(df.y.iloc[0])]")
    px, py = root.evaluate(f"el => el.nbdiag.toPixel({x}, {y})")
    box = canvas.bounding_box()
    t = time.time()
    page.mouse.move(box["x"] + px, box["y"] + py)
    wait_until(
        lambda: root.get_attribute("data-hover") not in (None, "-1"),
        timeout=120,
        interval=0.02,
        what="a hovered point",
    )
    return round((time.time() - t) * 1000, 1)


def run_one(lab, browser_context, lib: str, n: int, workdir: Path) -> dict[str, Any]:
    from tests.e2e.harness import Notebook, wait_until

    page = browser_context.new_page()
    page.set_default_timeout(180_000)
    received: list[tuple[float, int]] = []
    sent: list[tuple[float, int]] = []

    def on_ws(ws):
        def size(payload: Any) -> int:
            return len(payload) if isinstance(payload, bytes | str) else 0

        ws.on("framereceived", lambda p: received.append((time.time(), size(p))))
        ws.on("framesent", lambda p: sent.append((time.time(), size(p))))

    page.on("websocket", on_ws)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    name = f"bench_scatter_{lib}_{n}.ipynb"
    imports = {
        "nbdiag": "from nbdiag.widgets import Scatter",
        "nbdiag-dataset": "import nbdiag\nfrom nbdiag.widgets import Scatter",
    }.get(lib, "import jscatter")
    cells = [
        DATA_CELL.format(n=n, imports=imports),
        {"nbdiag": NBDIAG_CELL, "nbdiag-dataset": DATASET_CELL}.get(lib, JSCATTER_CELL),
    ]
    lab.write_notebook(name, cells)
    result: dict[str, Any] = {"library": lib, "points": n}
    nb = Notebook(lab, page, name)
    try:
        t_open = time.time()
        nb.run_all(timeout=600)
        probe = nb.probe
        t_cell = probe.eval("t_cell")
        result["build_s"] = round(probe.eval("t_built - t_cell"), 3)
        result["payload_state_bytes"] = probe.eval("payload")
        if lib.startswith("nbdiag"):
            result["payload_binary_bytes"] = probe.eval("w.payload_bytes()")
        # first frame
        t_draw = wait_until(
            lambda: _first_big_draw(page, t_cell * 1000, n),
            timeout=300,
            interval=0.1,
            what="first frame",
        )
        result["first_frame_ms"] = round(t_draw - t_cell * 1000, 1)
        result["websocket_bytes_received"] = sum(s for t, s in received if t >= t_open)
        page.wait_for_timeout(1500)  # let the plot settle (jupyter-scatter animates in)

        # the canvas and the lasso: a circle in the middle of the canvas (same pixels for both)
        if lib.startswith("nbdiag"):
            page.get_by_test_id("sc-mode-lasso").click()
            canvas = page.locator('[data-testid="sc-canvas"]').first
        else:
            # jupyter-scatter's plot is its largest canvas
            canvases = page.locator(".jp-OutputArea-output canvas")
            areas = [
                (b["width"] * b["height"] if (b := canvases.nth(i).bounding_box()) else 0)
                for i in range(canvases.count())
            ]
            canvas = canvases.nth(max(range(len(areas)), key=areas.__getitem__))
        # the whole plot in the viewport: the lasso must stay on it
        canvas.evaluate("el => el.scrollIntoView({block: 'center'})")
        page.wait_for_timeout(500)
        box = canvas.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        # about 100k points either way: (almost) everything at 100k, ~10 % at 1M
        r = (0.47 if n <= 150_000 else 0.09) * min(box["width"], box["height"])
        poly = [
            (cx + r * math.cos(2 * math.pi * i / 48), cy + r * math.sin(2 * math.pi * i / 48))
            for i in range(49)
        ]
        page.mouse.move(*poly[0])
        page.mouse.down()
        for x, y in poly[1:]:
            page.mouse.move(x, y, steps=2)
            page.wait_for_timeout(8)
        sent_before = len(sent)
        if os.environ.get("NBD_SKIP_DRAWS"):
            page.evaluate("window.__nbdSkipDraws = true")
        t_up = time.time()
        page.mouse.up()
        # the lasso's selection: the first one of more than one point (a peer may also report
        # the mouse-up as a click on one point, later)
        first = wait_until(
            lambda: next((x for x in probe.eval("sels") if x[1] > 1), None),
            timeout=120,
            interval=0.05,
            what="selection in the kernel",
        )
        page.wait_for_timeout(1000)
        result["lasso_to_kernel_dataframe_ms"] = round((first[0] - t_up) * 1000, 1)
        result["selected_points"] = first[1]
        result["kernel_selections_after_lasso"] = [
            [round((t - t_up) * 1000, 1), k] for t, k in probe.eval("sels")
        ]
        page.wait_for_timeout(300)  # Playwright delivers websocket events during its own calls
        frames = [s for _, s in sent[sent_before:]]
        result["selection_message_bytes"] = max(frames) if frames else None
        # where the time goes: the page handling the mouse-up, the websocket frame leaving
        ups = [u for u in page.evaluate("window.__nbdUps || []") if u >= t_up * 1000 - 50]
        if ups:
            result["mouseup_in_page_ms"] = round(ups[0] - t_up * 1000, 1)
        done = [u for u in page.evaluate("window.__nbdUpsDone || []") if u >= t_up * 1000 - 50]
        if done:
            result["mouseup_handled_ms"] = round(done[0] - t_up * 1000, 1)
        sends = page.evaluate("window.__nbdSends || []")
        big_sends = [t for t, s in sends if t >= t_up * 1000 - 50 and s >= max(64, n // 16)]
        if big_sends:
            result["websocket_send_called_ms"] = round(big_sends[0] - t_up * 1000, 1)
        big = [t for t, s in sent[sent_before:] if s >= max(64, n // 16)]
        if big:
            result["selection_sent_ms"] = round((big[0] - t_up) * 1000, 1)
        # zoom: a wheel step at the centre of the plot -> the next frame drawing the points
        page.mouse.move(cx, cy)
        page.wait_for_timeout(300)
        t_wheel = time.time()
        page.mouse.wheel(0, -240)
        t_zoom = wait_until(
            lambda: _first_big_draw(page, t_wheel * 1000, n),
            timeout=120,
            interval=0.05,
            what="a frame after the zoom",
        )
        result["zoom_frame_ms"] = round(t_zoom - t_wheel * 1000, 1)
        if lib.startswith("nbdiag"):
            result["hover_ms"] = _hover_ms(page, probe, canvas)
        shot = workdir / f"{lib}_{n}.png"
        page.screenshot(path=str(shot))
        result["console_errors"] = errors
    finally:
        nb.close()
        page.close()
    return result


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--skip-jscatter", action="store_true")
    ap.add_argument("--skip-nbdiag", action="store_true", help="the peer alone")
    ap.add_argument(
        "--from-dataframe",
        action="store_true",
        help="also Run All from a DataFrame with paths: Dataset.from_dataframe + Scatter",
    )
    ap.add_argument("--out", default="bench_scatter.json", help="file name in benchmarks/results")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)

    sys.path.insert(0, str(REPO))
    from playwright.sync_api import sync_playwright

    from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, JupyterLab

    libs = [] if args.skip_nbdiag else ["nbdiag"]
    if args.from_dataframe:
        libs.append("nbdiag-dataset")
    jscatter_version = None
    if not args.skip_jscatter:
        try:
            import jscatter

            jscatter_version = getattr(jscatter, "__version__", "?")
            libs.append("jscatter")
        except ImportError:
            print("jupyter-scatter is not installed (pip install jupyter-scatter): nbdiag alone")

    workdir = Path(tempfile.mkdtemp(prefix="nbdiag-bench-scatter-"))
    shots = RESULTS / "bench_scatter_screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    lab = JupyterLab(workdir / "lab")
    rows: list[dict[str, Any]] = []
    try:
        lab.start()
        home = workdir / "home"
        (home / "tmp").mkdir(parents=True)
        env = dict(os.environ, HOME=str(home), TMPDIR=str(home / "tmp"))
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, env=env
            )
            ctx = browser.new_context(viewport={**VIEWPORT, "height": 1200})
            ctx.add_init_script(DRAW_HOOK)
            # warm-up: JupyterLab's own assets are cached, so the first measured run is not penalised
            warm = ctx.new_page()
            warm.goto(lab.url("lab"))
            warm.wait_for_selector(".jp-LabShell", timeout=120_000)
            warm.close()
            for n in args.sizes:
                for lib in libs:
                    print(f"  {lib:9s} {n:>9,} points ...", flush=True)
                    try:
                        r = run_one(lab, ctx, lib, n, shots)
                    except Exception as e:  # a peer that cannot show this many points
                        rows.append({"library": lib, "points": n, "error": f"{e!r}"[:2000]})
                        print(f"    failed: {e!r}"[:400], flush=True)
                        continue
                    r["load_average_after"] = round(os.getloadavg()[0], 2)
                    r["websocket_bytes_per_point"] = round(r["websocket_bytes_received"] / n, 3)
                    rows.append(r)
                    _write(rows, args.sizes, jscatter_version, args.out)
                    print(
                        f"    payload {r['payload_state_bytes'] / 1e6:6.2f} MB · first frame "
                        f"{r['first_frame_ms']:7.0f} ms · lasso -> DataFrame "
                        f"{r['lasso_to_kernel_dataframe_ms']:6.0f} ms ({r['selected_points']:,} points) · "
                        f"selection message {(r['selection_message_bytes'] or 0) / 1e3:6.1f} KB",
                        flush=True,
                    )
            browser.close()
    finally:
        lab.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    return _write(rows, args.sizes, jscatter_version, args.out, final=True)


def _write(
    rows: list[dict[str, Any]],
    sizes: list[int],
    jscatter_version: str | None,
    name: str,
    final: bool = False,
) -> dict[str, Any]:
    """Write the results so far (after every run: a long run interrupted keeps what it measured)."""
    comparison = {}
    for n in sizes:
        a = next((r for r in rows if r["library"] == "nbdiag" and r["points"] == n), None)
        b = next((r for r in rows if r["library"] == "jscatter" and r["points"] == n), None)
        d = next((r for r in rows if r["library"] == "nbdiag-dataset" and r["points"] == n), None)
        if d and b:
            comparison[f"{n}_from_dataframe_first_frame"] = _ratio(
                d.get("first_frame_ms"), b.get("first_frame_ms")
            )
        if a and b:
            comparison[str(n)] = {
                key: _ratio(a.get(key), b.get(key))
                for key in (
                    "payload_state_bytes",
                    "first_frame_ms",
                    "lasso_to_kernel_dataframe_ms",
                    "selection_message_bytes",
                )
            }
    out = {
        "benchmark": "bench_scatter",
        "description": "nbdiag Scatter vs jupyter-scatter in JupyterLab + headless Chromium "
        "(SwiftShader WebGL), same points, same session; ratios are nbdiag / jupyter-scatter "
        "(< 1: nbdiag smaller or faster)",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "jupyter_scatter_version": jscatter_version,
        "results": rows,
        "ratios_nbdiag_over_jscatter": comparison,
        "targets": {
            "payload_at_1M_bytes_max": 13_000_000,
            "lasso_100k_to_dataframe_ms_max": 300,
            "selection_message_bytes_max": 200_000,
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(out, indent=2))
    if final:
        print(f"  ratios nbdiag / jupyter-scatter: {json.dumps(comparison)}")
        print(f"  -> {path.relative_to(REPO)}")
    return out


if __name__ == "__main__":
    main()
