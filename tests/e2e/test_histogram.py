"""Histogram in real JupyterLab: a mouse brush selects the expected range (checked in the
kernel against the bins and against the values), a click on a category bar selects it, and a
range selected in Python shows as a brush."""

from __future__ import annotations

import json
import time

import numpy as np
from playwright.sync_api import expect

from .views import DATA_CELL, HISTOGRAM, bar_center, console_errors, drag

NOTEBOOK = [
    DATA_CELL,
    'h = Histogram(ds, "brightness", bins=20)\nh',
    'hc = Histogram(ds, "label")\nhc',
]


def test_histogram_brush_click_and_python_range(lab, notebook, page, artifacts):
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    lab.write_notebook("histogram.ipynb", NOTEBOOK)
    nb = notebook.open("histogram.ipynb")
    nb.run_all()
    probe = nb.probe
    hist = page.locator(f'{HISTOGRAM}[data-kind="numeric"][data-ready="1"]')
    cats = page.locator(f'{HISTOGRAM}[data-kind="categorical"][data-ready="1"]')
    expect(hist).to_be_visible(timeout=60_000)
    expect(cats).to_be_visible(timeout=60_000)
    hist.scroll_into_view_if_needed()
    timings["ready"] = round(time.monotonic() - t0, 2)
    # the bars carry the kernel's counts
    counts = probe.eval("h.counts.tolist()")
    shown = [
        int(hist.locator(f'[data-testid="hist-bar-{i}"]').get_attribute("data-count"))
        for i in range(20)
    ]
    assert shown == counts and sum(counts) == 600
    hist.screenshot(path=str(artifacts / "01_rendered.png"))

    # --- brush from bin 4 to bin 9
    drag(page, [bar_center(page, HISTOGRAM, 4), bar_center(page, HISTOGRAM, 9)])
    got = probe.wait_for("sorted(h.selection)", lambda ids: len(ids) > 0)
    timings["brush_to_kernel"] = round(time.monotonic() - t0, 2)
    want = probe.eval("sorted(h.rows.index[(h.bin_index() >= 4) & (h.bin_index() <= 9)])")
    assert got == want
    # independently of the bins: every selected value is inside the brushed edges, every other one outside
    edges = probe.eval("h.edges.tolist()")
    lo, hi = edges[4], edges[10]
    assert probe.eval("list(h.range)") == [lo, hi]
    values = probe.eval("h.values.astype(float).tolist()")
    ids = probe.eval("list(h.rows.index)")
    selected = set(got)
    for i, v in zip(ids, values, strict=True):
        if i in selected:
            assert lo <= v <= hi, (i, v)
        else:
            assert v < lo or v >= hi, (i, v)
    assert probe.eval("h.selection_source") == "range"
    brush = hist.locator('[data-testid="hist-brush"]')
    expect(brush).to_have_attribute("data-b0", "4")
    expect(brush).to_have_attribute("data-b1", "9")
    expect(hist).to_have_attribute("data-selected-count", str(len(want)))
    hist.screenshot(path=str(artifacts / "02_brushed_bins_4_9.png"))

    # --- categorical: click the "dog" bar
    cats.scroll_into_view_if_needed()
    dog = probe.eval("hc.categories.index('dog')")
    page.mouse.click(*bar_center(page, f'{HISTOGRAM}[data-kind="categorical"]', dog))
    want_dog = probe.eval("sorted(ds.samples.index[ds.samples.label == 'dog'])")
    assert probe.wait_for("sorted(hc.selection)", lambda ids: len(ids) > 0) == want_dog
    cats.screenshot(path=str(artifacts / "03_category_clicked.png"))

    # --- a range selected in Python shows as a brush and an overlay
    hist.scroll_into_view_if_needed()
    e = np.array(edges)
    probe.execute(f"h.select_range({e[12]!r}, {e[15]!r})")
    expect(brush).to_have_attribute("data-b0", "12", timeout=15_000)
    expect(brush).to_have_attribute("data-b1", "14")
    n_py = probe.eval("len(h.selection)")
    expect(hist).to_have_attribute("data-selected-count", str(n_py))
    overlay = sum(
        int(hist.locator(f'[data-testid="hist-bar-{i}"]').get_attribute("data-selected-count") or 0)
        for i in range(20)
    )
    assert overlay == n_py
    hist.screenshot(path=str(artifacts / "04_range_from_python.png"))

    # --- the clear button clears in the kernel
    hist.get_by_test_id("hist-clear").click()
    assert probe.wait_for("len(h.selection)", lambda n: n == 0) == 0
    assert not console_errors(page), console_errors(page)
    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2))
