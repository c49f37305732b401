"""The harness itself, with a tiny inline anywidget (no nbdiag): when this passes and a widget
test fails, the problem is in the widget, not in JupyterLab, Chromium or the kernel plumbing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .harness import NotebookError

WIDGET = '''
import anywidget, traitlets

class Clicker(anywidget.AnyWidget):
    _esm = """
    export default { render({ model, el }) {
      const b = document.createElement("button");
      b.dataset.testid = "clicker";
      b.textContent = "clicks: " + model.get("clicks");
      b.onclick = () => { model.set("clicks", model.get("clicks") + 1); model.save_changes(); };
      model.on("change:clicks", () => { b.textContent = "clicks: " + model.get("clicks"); });
      el.append(b);
    } };
    """
    clicks = traitlets.Int(0).tag(sync=True)
    payload = traitlets.Bytes(b"").tag(sync=True)

w = Clicker(payload=bytes(range(256)) * 16)
'''


def test_anywidget_click_reaches_kernel(lab, notebook, page, artifacts):
    lab.write_notebook("harness.ipynb", [WIDGET, "w"])
    nb = notebook.open("harness.ipynb")
    nb.run_all()
    button = page.get_by_test_id("clicker")
    expect(button).to_have_text("clicks: 0")
    button.click()
    button.click()
    assert nb.probe.wait_for("w.clicks", lambda v: v == 2) == 2
    # and back: Python -> browser
    nb.probe.execute("w.clicks = 10")
    expect(button).to_have_text("clicks: 10")
    page.screenshot(path=str(artifacts / "clicker.png"))


def test_failing_cell_is_reported(lab, notebook):
    lab.write_notebook("failing.ipynb", ["x = 1", "raise ValueError('boom from cell 2')", "y = 2"])
    nb = notebook.open("failing.ipynb")
    with pytest.raises(NotebookError, match=r"code cell 2 failed:(.|\n)*boom from cell 2"):
        nb.run_all(timeout=60)
