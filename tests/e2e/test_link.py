"""Linked views in real JupyterLab: a confusion-matrix click highlights in the scatter and the
histogram without the kernel; a lasso outlines the matching confusion cells; the kernel gets the
shared selection once; a selection made in Python shows everywhere; and explore() lays it out."""

from __future__ import annotations

import json
import time

from playwright.sync_api import expect

from .views import (
    CONFUSION,
    DATA_CELL,
    HISTOGRAM,
    SCATTER,
    circle,
    console_errors,
    lasso_data,
)

NOTEBOOK = [
    DATA_CELL,
    """import ipywidgets as W
sc = Scatter(ds, color="cluster", height=400, layout=W.Layout(width="55%"))
cm = ConfusionMatrix(ds.evaluate("m"))
h = Histogram(ds, "brightness", bins=10)
L = link(sc, cm, h)
W.HBox([sc, W.VBox([cm, h], layout=W.Layout(width="45%"))], layout=W.Layout(width="100%"))""",
]

CELL_STATES_JS = """
() => Object.fromEntries([...document.querySelectorAll('[data-testid^="cm-cell-"]')].map(
  td => [td.dataset.testid.slice(8), td.dataset.selected || null]))
"""


def hist_overlay(page) -> int:
    return page.locator(HISTOGRAM).first.evaluate(
        "el => [...el.querySelectorAll('[data-testid^=hist-bar-]')]"
        ".reduce((s, b) => s + Number(b.dataset.selectedCount || 0), 0)"
    )


def test_linked_views_highlight_each_other(lab, notebook, page, artifacts):
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    lab.write_notebook("link.ipynb", NOTEBOOK)
    nb = notebook.open("link.ipynb")
    nb.run_all()
    timings["notebook_ran_s"] = round(time.monotonic() - t0, 2)
    probe = nb.probe
    sc = page.locator(f'{SCATTER}[data-ready="1"]')
    cm = page.locator(f'{CONFUSION}[data-ready="1"]')
    hist = page.locator(f'{HISTOGRAM}[data-ready="1"]')
    for el in (sc, cm, hist):
        expect(el).to_be_visible(timeout=60_000)
    sc.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    output = page.locator(".jp-OutputArea-output", has=page.locator(SCATTER)).first
    output.screenshot(path=str(artifacts / "01_linked_views.png"))

    # --- click the (true dog, predicted bird) cell
    want = probe.eval(
        "sorted(cm.rows.index[(cm.rows.label == 'dog') & (cm.rows.prediction == 'bird')])"
    )
    assert want
    t_click = time.monotonic()
    page.get_by_test_id("cm-cell-1-2").click()
    # the other views follow in the browser (no kernel round trip needed)
    expect(sc).to_have_attribute("data-selected-count", str(len(want)), timeout=10_000)
    assert hist_overlay(page) == len(want)
    timings["click_to_linked_dom_s"] = round(time.monotonic() - t_click, 3)
    # the kernel gets the shared selection
    assert probe.wait_for("sorted(L.selection)", lambda ids: len(ids) > 0) == want
    assert probe.eval("sorted(sc.selection)") == want == probe.eval("sorted(h.selection)")
    assert probe.eval("L.selection_source") == "cell:1:2"
    assert probe.eval("L.source_view is cm")
    page.mouse.move(5, 5)  # no tooltip in the picture
    output.screenshot(path=str(artifacts / "02_cell_click_highlights_scatter_and_histogram.png"))

    # --- lasso cluster B in the scatter: the confusion matrix outlines the cells of its samples
    page.get_by_test_id("sc-mode-lasso").click()
    lasso_data(page, circle(6, 6, 2.2))
    want_b = probe.eval("sorted(ds.samples.index[ds.samples.cluster == 'B'])")
    assert probe.wait_for("sorted(L.selection)", lambda ids: ids != want) == want_b
    cells = probe.eval(
        "sorted({f'{cm.class_names.index(t)}-{cm.class_names.index(p)}' for t, p in "
        "zip(cm.rows.loc[L.selection, 'label'], cm.rows.loc[L.selection, 'prediction'])})"
    )
    states = page.evaluate(CELL_STATES_JS)
    assert sorted(k for k, v in states.items() if v) == cells
    expect(page.get_by_test_id("cm-status")).to_have_attribute(
        "data-selected-count", str(len(want_b))
    )
    assert hist_overlay(page) == len(want_b)
    assert probe.eval("sorted(cm.selection)") == want_b
    output.screenshot(path=str(artifacts / "03_lasso_outlines_confusion_cells.png"))

    # --- brush the histogram: scatter and matrix follow
    box4 = hist.locator('[data-testid="hist-bar-0"]').bounding_box()
    box6 = hist.locator('[data-testid="hist-bar-2"]').bounding_box()
    plot = hist.locator('[data-testid="hist-plot"]').bounding_box()
    ymid = plot["y"] + plot["height"] * 0.45
    page.mouse.move(box4["x"] + box4["width"] / 2, ymid)
    page.mouse.down()
    page.mouse.move(box6["x"] + box6["width"] / 2, ymid, steps=5)
    page.mouse.up()
    want_h = probe.eval("sorted(h.rows.index[(h.bin_index() >= 0) & (h.bin_index() <= 2)])")
    assert probe.wait_for("sorted(L.selection)", lambda ids: ids == want_h, timeout=20) == want_h
    expect(sc).to_have_attribute("data-selected-count", str(len(want_h)))

    # --- Python selects on the link: every view shows it
    probe.execute("L.select(ds.samples.index[:25])")
    expect(sc).to_have_attribute("data-selected-count", "25", timeout=15_000)
    expect(hist).to_have_attribute("data-selected-count", "25")
    n_cm = probe.eval("len(cm.selection)")
    expect(page.get_by_test_id("cm-status")).to_have_attribute("data-selected-count", str(n_cm))
    output.screenshot(path=str(artifacts / "04_selected_from_python.png"))
    assert not console_errors(page), console_errors(page)
    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2))


def test_explore_lays_out_linked_views(lab, notebook, page, artifacts):
    lab.write_notebook(
        "explore.ipynb",
        [
            DATA_CELL,
            'from nbdiag.widgets import explore\nex = explore(ds, run="m", height=360)\nex',
        ],
    )
    page.set_viewport_size({"width": 1400, "height": 1500})  # the whole explorer in view
    nb = notebook.open("explore.ipynb")
    nb.run_all()
    probe = nb.probe
    sc = page.locator(f'{SCATTER}[data-ready="1"]')
    expect(sc).to_be_visible(timeout=60_000)
    expect(page.locator(f'{CONFUSION}[data-ready="1"]')).to_be_visible()
    expect(page.locator(f'{HISTOGRAM}[data-ready="1"]')).to_have_count(
        probe.eval("len(ex.histograms)")
    )
    views = probe.eval("list(ex.views)")
    assert views[:2] == ["scatter", "confusion_matrix"]
    sc.scroll_into_view_if_needed()
    page.get_by_test_id("sc-mode-lasso").click()
    lasso_data(page, circle(-6, -6, 2.2))
    want = probe.eval("sorted(ds.samples.index[ds.samples.cluster == 'C'])")
    assert probe.wait_for("sorted(ex.selected.index)", lambda ids: len(ids) > 0) == want
    status = page.locator("[data-testid=explorer-status]")
    expect(status).to_have_attribute("data-selected-count", str(len(want)), timeout=15_000)
    page.mouse.move(5, 5)
    page.wait_for_timeout(300)
    out = page.locator(".jp-OutputArea-output", has=page.locator(SCATTER)).first
    out.screenshot(path=str(artifacts / "explorer.png"))
    assert not console_errors(page), console_errors(page)
