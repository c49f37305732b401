"""The HTML report opens in the session's headless Chromium with no console error and no network
request (the report's unit tests live in tests/report/)."""

from __future__ import annotations

from nbdiag.report import write_report
from tests.report.test_report import classification_ds, detection_ds

# canvases bokeh drew, including those inside shadow roots
COUNT_CANVASES = """() => {
  const count = (root) => [...root.querySelectorAll('*')].reduce(
    (n, el) => n + (el.tagName === 'CANVAS' ? 1 : 0) + (el.shadowRoot ? count(el.shadowRoot) : 0), 0);
  return count(document);
}"""


def test_report_opens_in_chromium_without_errors_or_network(tmp_path, browser):
    cls_path = classification_ds().report(tmp_path / "cls.html")
    det_path = write_report(detection_ds(tmp_path), tmp_path / "det.html")
    for path in (cls_path, det_path):
        page = browser.new_page()
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
        page.on("requestfailed", lambda r, e=errors: e.append(f"failed: {r.url}"))
        page.on("request", lambda r, q=requests: q.append(r.url))
        url = path.as_uri()
        page.goto(url, wait_until="load")
        # bokeh has rendered the document: idle, with canvases (inside shadow roots)
        page.wait_for_function(
            "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle",
            timeout=30_000,
        )
        canvases = page.evaluate(COUNT_CANVASES)
        assert canvases >= 4, canvases
        page.wait_for_timeout(500)
        assert errors == [], errors
        others = [u for u in requests if u != url and not u.startswith("data:")]
        assert others == [], others
        assert requests[0] == url
        page.close()
