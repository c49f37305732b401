"""The views in Jupyter Notebook 7 (``jupyter notebook``), not only in JupyterLab: a Scatter of
scikit-learn's digits draws with WebGL2 and a lasso reaches the kernel; an ImageGrid loads
thumbnails and draws boxes where the placements say; a ConfusionMatrix cell click and a Histogram
bar click filter a linked ImageGrid and change the selection in the kernel.

Notebook 7 is its own server app (``/notebooks/<path>``, one document per tab) built from
JupyterLab's components, so the harness drives it as it drives JupyterLab (same notebook panel,
execution indicator and Run menu); the checks reuse the JupyterLab tests' helpers and oracles.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from playwright.sync_api import expect

from . import grid_digits
from .harness import wait_until
from .test_image_grid import THUMB, assert_boxes_match, cells, expected_boxes
from .views import (
    CONFUSION,
    HISTOGRAM,
    SCATTER,
    bar_center,
    circle,
    console_errors,
    lasso_data,
    lit_pixels,
    points_in_polygon,
)

GRID = '[data-testid="nbdiag-image-grid"]'

#: the documented path (docs/widgets/explorer.md): digits -> Dataset -> 2-D PCA projection
DIGITS_SCATTER = """import nbdiag
from sklearn.datasets import load_digits

digits = load_digits()
ds = nbdiag.Dataset.from_arrays(digits.images, digits.target)
ds.set_embeddings(digits.data)
ds.project("pca")
sc = nbdiag.widgets.Scatter(ds, color="label", height=420, title="digits (PCA)")"""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> grid_digits.GridData:
    """40 detection images (digits pasted on canvases), one of them corrupt."""
    return grid_digits.build(tmp_path_factory.mktemp("nb7grid") / "digits", n=40)


#: Notebook 7.6's own keyboard-shortcuts plugin throws this once while any notebook opens, with
#: or without widgets (gone when @jupyterlab/shortcuts-extension is disabled; JupyterLab 4.6 does
#: not throw it). Tolerated only with that message and a stack in Notebook's core bundle.
NB7_OWN_ERRORS = ("Cannot read properties of undefined (reading 'schema')",)


def track_errors(page) -> list[tuple[str, str]]:
    """(message, stack) of every uncaught page error from now on."""
    seen: list[tuple[str, str]] = []
    page.on("pageerror", lambda e: seen.append((e.message, e.stack or "")))
    return seen


def widget_errors(page, seen: list[tuple[str, str]]) -> list[str]:
    """The page's console errors, less Notebook 7's own known one (see ``NB7_OWN_ERRORS``)."""
    own = {
        f"pageerror: {msg}"
        for msg, stack in seen
        if msg in NB7_OWN_ERRORS
        and "/static/notebook/notebook_core." in (stack.splitlines()[1:2] or [""])[0]
    }
    return [m for m in console_errors(page) if m not in own]


def _timings(artifacts, timings: dict[str, float]) -> None:
    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2))


def test_nb7_scatter_of_digits_draws_webgl_and_lasso_reaches_kernel(
    notebook7, nb7_notebook, nb7_page, artifacts
):
    page = nb7_page
    seen = track_errors(page)
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    notebook7.write_notebook("nb7_scatter.ipynb", [DIGITS_SCATTER, "sc"])
    nb = nb7_notebook.open("nb7_scatter.ipynb")
    timings["notebook_open_s"] = round(nb.open_s, 2)
    assert page.url.startswith(f"{notebook7.base}/notebooks/nb7_scatter.ipynb")
    nb.run_all()
    probe = nb.probe
    root = page.locator(f'{SCATTER}[data-ready="1"]')
    expect(root).to_be_visible(timeout=60_000)
    root.scroll_into_view_if_needed()
    expect(root).to_have_attribute("data-points", "1797")
    expect(root).not_to_have_attribute("data-error", "1")
    timings["ready_s"] = round(time.monotonic() - t0, 2)

    # a WebGL canvas (a canvas holding a WebGL context has no 2-D one) that really drew:
    # litPixels reads the drawing buffer back with gl.readPixels
    canvas = root.locator('[data-testid="sc-canvas"]')
    kind = canvas.evaluate("c => [c.tagName, c.width, c.height, c.getContext('2d') === null]")
    assert kind[0] == "CANVAS" and kind[1] > 100 and kind[2] > 100 and kind[3], kind
    lit = lit_pixels(page)
    assert lit > 3000, f"only {lit} lit pixels for 1797 points"
    page.wait_for_timeout(300)
    root.screenshot(path=str(artifacts / "01_digits_scatter.png"))

    # --- lasso around the zeros (a well separated cluster of the PCA): browser -> kernel
    xy = np.array(probe.eval("sc.xy.astype(float).tolist()"))
    labels = probe.eval("[str(v) for v in sc.rows.label]")
    zeros = np.array([lab == "0" for lab in labels])
    cx, cy = np.median(xy[zeros], axis=0)
    r = 0.12 * float(np.mean(xy.max(axis=0) - xy.min(axis=0)))
    page.get_by_test_id("sc-mode-lasso").click()
    lasso_data(page, circle(float(cx), float(cy), r))
    selected = "sorted(sc.selected.index.tolist())"
    got = probe.wait_for(selected, lambda ids: len(ids) > 0, timeout=20)
    timings["lasso_to_kernel_s"] = round(time.monotonic() - t0, 2)
    assert probe.eval("sc.selection_source") == "lasso"
    # the exact polygon drawn: a Python point-in-polygon over it gives the same samples
    region = probe.eval("sc.selection_region")
    assert region["kind"] == "lasso" and len(region["x"]) >= 10
    inside = points_in_polygon(xy[:, 0], xy[:, 1], region["x"], region["y"])
    row_ids = probe.eval("sc.rows.index.tolist()")
    assert got == sorted(row_ids[i] for i in np.flatnonzero(inside))
    # and it is the cluster aimed at: ~130 points, almost all zeros
    assert 80 <= len(got) <= 200, len(got)
    assert np.mean(zeros[inside]) > 0.9
    expect(root).to_have_attribute("data-selected-count", str(len(got)))
    root.screenshot(path=str(artifacts / "02_lasso_zeros.png"))

    # --- Python -> browser: select the sevens from the kernel, the view shows them
    n7 = labels.count("7")
    probe.execute("sc.select(ds.samples.index[ds.samples.label == '7'])")
    expect(root).to_have_attribute("data-selected-count", str(n7), timeout=15_000)
    assert probe.eval("sc.selection_source") == "python"
    page.mouse.move(5, 5)
    page.wait_for_timeout(300)
    root.screenshot(path=str(artifacts / "03_sevens_from_python.png"))
    assert not widget_errors(page, seen), widget_errors(page, seen)
    timings["done_s"] = round(time.monotonic() - t0, 2)
    _timings(artifacts, timings)


def test_nb7_image_grid_loads_thumbnails_and_draws_boxes(
    notebook7, nb7_notebook, nb7_page, artifacts, data
):
    page = nb7_page
    seen = track_errors(page)
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    notebook7.write_notebook("nb7_grid.ipynb", [data.notebook_code(), "grid"])
    nb = nb7_notebook.open("nb7_grid.ipynb")
    nb.run_all()
    probe = nb.probe
    ids = list(data.samples["id"])
    root = page.locator(f'{GRID}[data-ready="1"]')
    expect(root).to_be_visible(timeout=60_000)
    root.scroll_into_view_if_needed()

    def first_screen():
        vis = [c for c in cells(page) if c["visible"]]
        done = [
            c for c in vis if (c["state"] == "ready" and c["natural"] > 0) or c["state"] == "error"
        ]
        return vis if vis and len(done) == len(vis) else None

    vis = wait_until(first_screen, timeout=60, interval=0.25, what="visible thumbnails loaded")
    timings["first_screen_s"] = round(time.monotonic() - t0, 2)
    assert len(vis) >= 8, f"expected a screenful of cells, got {len(vis)}"
    n_boxes = n_images = 0
    for c in vis:
        sid = ids[c["row"]]
        assert c["id"] == sid
        if sid == data.corrupt:
            assert c["state"] == "error" and c["issue"] == "corrupt_image" and c["img"] is None
            continue
        # the thumbnail decoded (a 128 px WEBP of a 160x120 image) and is laid out
        assert c["natural"] == THUMB and c["img"]["w"] > 0 and c["img"]["h"] > 0, c
        want = expected_boxes(data, sid, 0.0)
        assert_boxes_match(c, want)
        n_boxes += len(want)
        n_images += 1
    assert n_images >= 7 and n_boxes >= 10, (n_images, n_boxes)
    assert {"tp", "fn", "fp"} <= {b["state"] for c in vis for b in c["boxes"]}
    # the <img> elements themselves: loaded, natural size > 0
    natural = root.locator("img[data-testid=grid-img]:not([hidden])").evaluate_all(
        "imgs => imgs.filter(i => i.complete).map(i => [i.naturalWidth, i.naturalHeight])"
    )
    assert len(natural) >= n_images and all(w > 0 and h > 0 for w, h in natural), natural
    root.screenshot(path=str(artifacts / "01_grid.png"))

    # --- a click and a shift-click reach the kernel
    page.locator('[data-testid=grid-cell][data-pos="0"]').click()
    assert probe.wait_for("list(grid.selected.index)", lambda v: v == ids[:1], timeout=20)
    page.locator('[data-testid=grid-cell][data-pos="4"]').click(modifiers=["Shift"])
    got = probe.wait_for("list(grid.selected.index)", lambda v: len(v) == 5, timeout=20)
    assert got == ids[:5]
    expect(page.get_by_test_id("grid-status")).to_have_attribute("data-selected-count", "5")
    assert not widget_errors(page, seen), widget_errors(page, seen)
    timings["done_s"] = round(time.monotonic() - t0, 2)
    _timings(artifacts, timings)


def test_nb7_confusion_cell_and_histogram_bar_filter_the_linked_grid(
    notebook7, nb7_notebook, nb7_page, artifacts, data
):
    page = nb7_page
    seen = track_errors(page)
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    code = data.notebook_code('run="det", selected_only=True, height=420')
    code += """
cm = nbdiag.ConfusionMatrix(ds, run="det")
h = nbdiag.Histogram(ds.evaluate("det").predictions, "score", level="objects", bins=10)
L = nbdiag.link(cm, h, grid, dataset=ds)"""
    notebook7.write_notebook("nb7_link.ipynb", [code, "cm", "h", "grid"])
    nb = nb7_notebook.open("nb7_link.ipynb")
    nb.run_all()
    probe = nb.probe
    cm = page.locator(f'{CONFUSION}[data-ready="1"]')
    hist = page.locator(f'{HISTOGRAM}[data-ready="1"]')
    grid = page.locator(f'{GRID}[data-ready="1"]')
    for el in (cm, hist, grid):
        expect(el).to_be_visible(timeout=60_000)
    timings["ready_s"] = round(time.monotonic() - t0, 2)
    assert probe.eval("len(L.selection)") == 0
    obj_sample = data.preds.set_index("object_id")["sample_id"]

    def grid_shows(want: list[str]):
        def check():
            shown = sorted(c["id"] for c in cells(page) if c["state"] in ("ready", "error"))
            return shown if shown == want else None

        return wait_until(check, timeout=30, interval=0.2, what=f"the grid filtered to {want}")

    # --- click the false-positive cell (background row) holding the most boxes
    names = probe.eval("cm.class_names")
    bg = len(names) - 1
    assert names[bg] == "background"
    matrix = probe.eval("cm.matrix.to_numpy().astype(int).tolist()")
    p = max(range(bg), key=lambda j: matrix[bg][j])
    fps = data.preds[(data.preds["kind"] == "fp") & (data.preds["label"] == names[p])]
    assert len(fps) == matrix[bg][p] >= 2
    want_fp = sorted(set(fps["sample_id"]))
    t_click = time.monotonic()
    page.get_by_test_id(f"cm-cell-{bg}-{p}").click()
    grid.scroll_into_view_if_needed()
    grid_shows(want_fp)
    timings["cell_click_to_filtered_grid_s"] = round(time.monotonic() - t_click, 3)
    got = probe.wait_for("sorted(grid.selected.index)", lambda v: len(v) > 0, timeout=20)
    assert got == want_fp
    assert probe.eval("sorted(L.selection)") == want_fp
    assert probe.eval("L.selection_source") == f"cell:{bg}:{p}"
    page.screenshot(path=str(artifacts / "01_fp_cell_filters_grid.png"), full_page=True)

    # --- click one bar of the score histogram: the grid shows that bin's images instead
    edges = probe.eval("h.edges.tolist()")
    oids = probe.eval("h.rows.index.tolist()")
    scores = data.preds.set_index("object_id").loc[oids, "score"].to_numpy()
    bins = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, len(edges) - 2)

    def samples_of_bin(i: int) -> list[str]:
        return sorted(set(obj_sample[[o for o, b in zip(oids, bins, strict=True) if b == i]]))

    # a bin with a handful of images, other than the ones shown now
    i = next(
        k
        for k in range(len(edges) - 1)
        if 3 <= len(samples_of_bin(k)) <= 10 and samples_of_bin(k) != want_fp
    )
    want_bin = samples_of_bin(i)
    hist.scroll_into_view_if_needed()
    page.mouse.click(*bar_center(page, HISTOGRAM, i))
    grid.scroll_into_view_if_needed()
    grid_shows(want_bin)
    got = probe.wait_for("sorted(grid.selected.index)", lambda v: v != want_fp, timeout=20)
    assert got == want_bin
    # the histogram selected exactly the objects of that bin (by the independent scores)
    objs = probe.eval("sorted(h.selection.tolist())")
    assert objs == sorted(o for o, b in zip(oids, bins, strict=True) if b == i)
    assert all(
        edges[i] <= s <= edges[i + 1] for s in data.preds.set_index("object_id").loc[objs, "score"]
    )
    assert probe.eval("L.source_view is h")
    page.screenshot(path=str(artifacts / "02_histogram_bar_filters_grid.png"), full_page=True)
    assert not widget_errors(page, seen), widget_errors(page, seen)
    timings["done_s"] = round(time.monotonic() - t0, 2)
    _timings(artifacts, timings)
