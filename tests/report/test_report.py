"""The HTML report: one self-contained file with every section, thumbnails as data URIs,
graceful notes where inputs are missing; and in headless Chromium no console error and no
network request."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import nbdiag
from nbdiag.report import SECTIONS, write_report


def classification_ds(n: int = 120) -> nbdiag.Dataset:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    images = (rng.random((n, 8, 8)) * 255).astype(np.uint8)
    ds = nbdiag.Dataset.from_arrays(images, y, class_names=["bird", "cat", "dog"], name="pets")
    ds.samples["brightness"] = rng.random(n)
    ds.samples["dark"] = ds.samples["brightness"] < 0.2

    def probs(wrong: np.ndarray) -> np.ndarray:
        pred = np.where(wrong, (y + 1) % 3, y)
        p = np.full((n, 3), 0.1)
        p[np.arange(n), pred] = 0.8
        return p

    ds.add_run("v1", probs(ds.samples["dark"].to_numpy() | (np.arange(n) % 9 == 0)))
    ds.add_run("v2", probs(np.arange(n) % 9 == 0))
    ds.tag([0, 1], "label_error")
    return ds


def detection_ds(tmp_path: Path) -> nbdiag.Dataset:
    rng = np.random.default_rng(1)
    paths, rows, preds = [], [], []
    for i in range(6):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
        rows.append({"sample_id": i, "label": "car", "x": 5, "y": 5, "w": 20, "h": 15})
        rows.append({"sample_id": i, "label": "person", "x": 35, "y": 10, "w": 10, "h": 25})
        preds.append({"sample_id": i, "label": "car", "x": 6, "y": 5, "w": 20, "h": 15,
                      "score": 0.9})  # fmt: skip
        preds.append({"sample_id": i, "label": "car" if i < 2 else "person", "x": 35, "y": 10,
                      "w": 10, "h": 25, "score": 0.8})  # fmt: skip
    ds = nbdiag.Dataset.from_dataframe(
        pd.DataFrame({"path": paths}), pd.DataFrame(rows), name="street"
    )
    ds.add_run("det", pd.DataFrame(preds))
    return ds


def test_classification_report_has_every_section(tmp_path):
    ds = classification_ds()
    ds.save_slice("dark", "dark")
    ds.note("v2 fixes dark images")
    path = ds.report(tmp_path / "r.html")
    assert path == (tmp_path / "r.html").resolve()
    html = path.read_text()
    for key, heading, _ in SECTIONS:
        # who labelled what: a section only for datasets that say (tests/slices/test_quality_by)
        assert (heading in html) == (key != "annotators"), heading
    assert "data:image/png;base64," in html  # thumbnails inline
    assert "v1" in html and "v2" in html and "fixed" in html
    assert "v2 fixes dark images" in html
    # self-contained: no external script, stylesheet or image (bokeh's inlined code mentions a
    # MathJax CDN for math text, which the report never uses; the browser test checks requests)
    assert not re.search(r"<script[^>]+src=", html)
    markup = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    assert not re.search(r"""(src|href)=["']https?:""", markup)
    assert "$$" not in markup


def test_detection_report(tmp_path):
    ds = detection_ds(tmp_path)
    path = write_report(ds, tmp_path / "d.html", run="det")
    html = path.read_text()
    assert "AP50" in html and "background" in html
    assert "data:image/png;base64," in html


def test_dataset_without_runs_gets_notes_not_errors(tmp_path):
    ds = nbdiag.Dataset(pd.DataFrame({"label": ["a", "b", "a"]}))
    html = ds.report(tmp_path / "r.html").read_text()
    assert "No run to evaluate" in html
    assert "No metrics computed yet" in html


def test_a_failing_section_becomes_a_note(tmp_path, monkeypatch):
    import nbdiag.issues
    import nbdiag.report._sections as sec

    def boom(ctx):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(nbdiag.issues, "find_label_issues", boom)
    ds = classification_ds()
    original = SECTIONS
    monkeypatch.setattr(
        "nbdiag.report.SECTIONS",
        tuple((k, h, boom if k == "worst_slices" else f) for k, h, f in original),
    )
    with pytest.warns(UserWarning, match="report section 'worst_slices' failed: kaboom"):
        html = ds.report(tmp_path / "r.html").read_text()
    assert "This section could not be built: RuntimeError: kaboom" in html
    # label issues fall back to a simple ranking, saying why
    assert "nbdiag.issues is unavailable here" in html
    assert sec is not None


def test_bad_arguments(tmp_path):
    ds = classification_ds(30)
    with pytest.raises(KeyError, match="unknown run 'nope'"):
        ds.report(tmp_path / "r.html", run="nope")
    with pytest.raises(ValueError, match=r"unknown report sections \['charts'\]"):
        ds.report(tmp_path / "r.html", sections=["charts"])
    html = ds.report(tmp_path / "r.html", run="v1", sections=["evaluation"]).read_text()
    assert "Evaluation" in html and "Dataset overview" not in html


def test_missing_bokeh_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "bokeh", None)
    with pytest.raises(ImportError, match=r"nbdiag\[report\]"):
        classification_ds(20).report(tmp_path / "r.html")
