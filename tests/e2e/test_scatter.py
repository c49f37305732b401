"""Scatter in real JupyterLab: WebGL2 draws the points; lasso, box, click, zoom and hover work
with a real mouse; every selection is read back from the kernel and checked against oracles
(the clusters the data was generated from, and a Python point-in-polygon of the lasso)."""

from __future__ import annotations

import json
import time

import numpy as np
from playwright.sync_api import expect

from .harness import wait_until
from .views import (
    DATA_CELL,
    SCATTER,
    circle,
    console_errors,
    drag,
    lasso_data,
    lit_pixels,
    points_in_polygon,
    to_page,
)

NOTEBOOK = [DATA_CELL, 'sc = Scatter(ds, color="cluster", title="clusters")\nsc']
SELECTED = "sorted(sc.selection)"


def cluster_ids(probe, *names: str) -> list[str]:
    return probe.eval(f"sorted(ds.samples.index[ds.samples.cluster.isin({list(names)!r})])")


def test_scatter_draws_lasso_box_click_hover_and_python_select(lab, notebook, page, artifacts):
    timings: dict[str, float] = {}
    t0 = time.monotonic()

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - t0, 2)

    lab.write_notebook("scatter.ipynb", NOTEBOOK)
    nb = notebook.open("scatter.ipynb")
    nb.run_all()
    probe = nb.probe
    root = page.locator(f'{SCATTER}[data-ready="1"]')
    expect(root).to_be_visible(timeout=60_000)
    root.scroll_into_view_if_needed()
    expect(root).to_have_attribute("data-points", "600")
    expect(root).not_to_have_attribute("data-error", "1")
    lap("ready")
    # WebGL2 really drew: thousands of lit pixels on the canvas
    assert lit_pixels(page) > 2000
    page.wait_for_timeout(300)
    root.screenshot(path=str(artifacts / "01_rendered.png"))

    # --- lasso around cluster A (data coordinates -> page pixels through the view's transform)
    page.get_by_test_id("sc-mode-lasso").click()
    lasso_data(page, circle(-6, 6, 2.2))
    want_a = cluster_ids(probe, "A")
    got = probe.wait_for(SELECTED, lambda ids: len(ids) > 0)
    lap("lasso_to_kernel")
    assert got == want_a
    assert probe.eval("sc.selection_source") == "lasso"
    # the region is the exact polygon used: a Python point-in-polygon over it agrees
    region = probe.eval("sc.selection_region")
    assert region["kind"] == "lasso" and len(region["x"]) >= 10
    xy = np.array(probe.eval("sc.xy.astype(float).tolist()"))
    inside = points_in_polygon(xy[:, 0], xy[:, 1], region["x"], region["y"])
    assert int(inside.sum()) == len(want_a)
    assert probe.eval("[int(i) for i in sc.selection_mask.nonzero()[0]]") == list(
        np.flatnonzero(inside)
    )
    expect(root).to_have_attribute("data-selected-count", str(len(want_a)))
    root.screenshot(path=str(artifacts / "02_lasso_cluster_A.png"))

    # --- shift + box around cluster D adds it
    page.get_by_test_id("sc-mode-box").click()
    drag(page, [to_page(page, 3, -3), to_page(page, 9, -9)], modifiers=["Shift"])
    want_ad = cluster_ids(probe, "A", "D")
    assert probe.wait_for(SELECTED, lambda ids: len(ids) == len(want_ad)) == want_ad
    assert probe.eval("sc.selection_source") == "box"
    root.screenshot(path=str(artifacts / "03_shift_box_adds_D.png"))

    # --- click one point: exactly that sample
    pan = page.get_by_test_id("sc-mode-pan")
    pan.click()
    x, y = probe.eval("[float(v) for v in sc.xy[42]]")
    page.mouse.click(*to_page(page, x, y))
    assert probe.wait_for(SELECTED, lambda ids: len(ids) == 1) == [probe.eval("sc.rows.index[42]")]

    # --- hover a point: the tooltip shows its id, columns and thumbnail (fetched on demand)
    x, y = probe.eval("[float(v) for v in sc.xy[7]]")
    page.mouse.move(*to_page(page, x, y))
    tip = page.locator('[data-testid="sc-tooltip"][data-loaded="1"]')
    expect(tip).to_be_visible(timeout=15_000)
    expect(tip.locator('[data-testid="sc-tooltip-id"]')).to_have_text(
        probe.eval("sc.rows.index[7]")
    )
    expect(tip.locator("img")).to_be_visible()
    assert tip.locator("img").evaluate("img => img.naturalWidth") > 0
    lap("tooltip_loaded")
    root.screenshot(path=str(artifacts / "04_hover_tooltip.png"))

    # --- click on empty space clears
    page.mouse.click(*to_page(page, 0, 0))
    assert probe.wait_for("len(sc.selection)", lambda n: n == 0) == 0

    # --- wheel zooms at the pointer, double-click resets
    before = json.loads(root.get_attribute("data-transform"))
    page.mouse.move(*to_page(page, 6, 6))
    page.mouse.wheel(0, -400)
    wait_until(
        lambda: json.loads(root.get_attribute("data-transform"))[0] > before[0] * 1.2,
        10,
        what="zoom",
    )
    page.mouse.dblclick(*to_page(page, 0, 0))
    wait_until(lambda: json.loads(root.get_attribute("data-transform")) == before, 10, what="reset")

    # --- a selection made in Python shows: highlighted points, the count in the DOM
    want_c = cluster_ids(probe, "C")
    probe.execute("sc.select(ds.samples.index[ds.samples.cluster == 'C'])")
    expect(root).to_have_attribute("data-selected-count", str(len(want_c)), timeout=15_000)
    assert probe.eval("sc.selection_source") == "python"
    page.mouse.move(10, 10)
    page.wait_for_timeout(300)
    root.screenshot(path=str(artifacts / "05_selected_from_python.png"))

    # --- the legend selects a category
    page.get_by_test_id("sc-legend-1").click()
    assert probe.wait_for(SELECTED, lambda ids: ids != want_c) == cluster_ids(probe, "B")
    lap("done")

    assert not console_errors(page), console_errors(page)
    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2))
