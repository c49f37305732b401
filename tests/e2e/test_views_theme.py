"""Scatter and Histogram follow JupyterLab's dark theme (CSS variables, no hard-coded colours):
the theme is switched through the settings REST API, the page reloaded, the views' computed
colours checked, screenshots saved; the light theme is restored afterwards."""

from __future__ import annotations

import json
import urllib.request

from playwright.sync_api import expect

from .harness import wait_until
from .views import DATA_CELL, HISTOGRAM, SCATTER, console_errors, lit_pixels

THEMES = "lab/api/settings/@jupyterlab/apputils-extension:themes"


def set_theme(lab, name: str) -> None:
    body = json.dumps({"raw": json.dumps({"theme": name})}).encode()
    req = urllib.request.Request(
        f"{lab.base}/{THEMES}",
        data=body,
        method="PUT",
        headers={"Authorization": f"token {lab.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30):
        pass


def luminance(css: str) -> float:
    """Relative brightness (0..1) of a computed ``rgb(...)`` / ``rgba(...)`` colour."""
    parts = css[css.index("(") + 1 : css.index(")")].split(",")
    r, g, b = (float(p) for p in parts[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


STYLE_JS = "el => ({bg: getComputedStyle(el).backgroundColor, fg: getComputedStyle(el).color})"


def test_scatter_and_histogram_in_the_dark_theme(lab, notebook, page, artifacts):
    lab.write_notebook(
        "theme.ipynb",
        [
            DATA_CELL,
            'sc = Scatter(ds, color="cluster", height=360)\nsc',
            'Histogram(ds, "brightness")',
        ],
    )
    set_theme(lab, "JupyterLab Dark")
    try:
        nb = notebook.open("theme.ipynb")
        wait_until(
            lambda: page.evaluate("document.body.dataset.jpThemeLight") == "false",
            timeout=60,
            what="the dark theme",
        )
        nb.run_all()
        sc = page.locator(f'{SCATTER}[data-ready="1"]')
        hist = page.locator(f'{HISTOGRAM}[data-ready="1"]')
        expect(sc).to_be_visible(timeout=60_000)
        expect(hist).to_be_visible(timeout=60_000)
        for el in (sc, hist):
            style = el.evaluate(STYLE_JS)
            assert luminance(style["bg"]) < 0.3, style  # dark background
            assert luminance(style["fg"]) > 0.6, style  # light text
        assert lit_pixels(page) > 2000
        sc.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        sc.screenshot(path=str(artifacts / "scatter_dark.png"))
        hist.scroll_into_view_if_needed()
        nb.probe.execute("sc.select(ds.samples.index[ds.samples.cluster == 'A'])")
        expect(sc).to_have_attribute("data-selected-count", "150", timeout=15_000)
        sc.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        sc.screenshot(path=str(artifacts / "scatter_dark_selected.png"))
        hist.screenshot(path=str(artifacts / "histogram_dark.png"))
        assert not console_errors(page), console_errors(page)
    finally:
        set_theme(lab, "JupyterLab Light")
