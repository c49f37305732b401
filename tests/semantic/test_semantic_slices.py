"""Semantic segmentation runs in performance_by, worst_slices, metric_importance and the report:
per-image mIoU recomputed with numpy from the label maps (mmseg's definition: classes in neither
map left out), then averaged over the rows of each bin or slice."""

from __future__ import annotations

import html
import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr

import nbdiag

CLASSES = ["road", "car", "sky"]


def _planted(n: int = 80, h: int = 10, w: int = 8, seed: int = 0):
    """Label maps, and predictions that are mostly noise on dark images (brightness < 0.3)."""
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, 3, (n, h, w)).astype(np.uint8)
    gt[rng.random((n, h, w)) < 0.1] = 255  # ignored pixels
    bright = rng.random(n)
    noise = np.where(bright < 0.3, 0.7, 0.1)
    flip = rng.random((n, h, w)) < noise[:, None, None]
    pred = np.where(flip, rng.integers(0, 3, (n, h, w)), gt).astype(np.uint8)
    pred[pred == 255] = 0
    images = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    ds = nbdiag.Dataset.from_label_maps(images, gt, CLASSES)
    ds.samples["brightness"] = bright
    ds.add_run("seg", list(pred))
    return ds, gt, pred, bright


def _image_miou(gt: np.ndarray, pred: np.ndarray) -> float:
    valid = gt != 255
    g, p = gt[valid], pred[valid]
    ious = []
    for c in range(len(CLASSES)):
        union = np.sum((g == c) | (p == c))
        if union:
            ious.append(np.sum((g == c) & (p == c)) / union)
    return float(np.mean(ious))


def test_performance_by_mean_miou_per_bin_equals_numpy() -> None:
    ds, gt, pred, bright = _planted()
    miou = np.array([_image_miou(g, p) for g, p in zip(gt, pred, strict=True)])
    edges = [0.0, 0.3, 0.6, 1.0]
    t = ds.performance_by("brightness", "seg", bins=edges)
    assert t.attrs["task"] == "semantic"
    for i, row in t.iterrows():
        rows = (bright >= edges[i]) & ((bright < edges[i + 1]) if i < 2 else (bright <= 1))
        assert row["count"] == rows.sum()
        assert row["miou"] == pytest.approx(miou[rows].mean())
        half = 1.959964 * miou[rows].std(ddof=1) / np.sqrt(rows.sum())
        assert row["miou_low"] == pytest.approx(miou[rows].mean() - half, abs=1e-6)
        assert row["miou_high"] == pytest.approx(miou[rows].mean() + half, abs=1e-6)
    assert t["miou"].iloc[0] < t["miou"].iloc[1:].min() - 0.2
    with pytest.raises(ValueError, match="no class per image"):
        ds.performance_by("label", "seg")


def test_worst_slices_score_one_minus_miou_and_queries_select_the_images() -> None:
    ds, gt, pred, bright = _planted()
    miou = np.array([_image_miou(g, p) for g, p in zip(gt, pred, strict=True)])
    out = ds.worst_slices("seg", ["brightness"], bins=5)
    assert len(out) and "brightness <" in out.iloc[0]["slice"]
    pos = {sid: i for i, sid in enumerate(ds.samples.index)}
    for _, row in out.iterrows():
        chosen = np.array([pos[i] for i in ds.samples.query(row["query"]).index])
        assert row["size"] == len(chosen)
        assert row["errors"] == pytest.approx((1 - miou[chosen]).sum())
        assert row["error_rate"] == pytest.approx(1 - miou[chosen].mean())
        assert row["miou"] == pytest.approx(miou[chosen].mean())
        assert row["error_rate_low"] <= row["error_rate"] <= row["error_rate_high"]
    imp = ds.metric_importance("seg", ["brightness"])
    rho, p = spearmanr(bright, 1 - miou)
    assert imp.iloc[0]["spearman"] == pytest.approx(rho)
    assert imp.iloc[0]["p_value"] == pytest.approx(p)


def test_report_has_a_semantic_evaluation_section(tmp_path) -> None:
    pytest.importorskip("bokeh")
    ds, gt, pred, _ = _planted(n=30)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a failed section warns
        path = ds.report(tmp_path / "r.html", run="seg")
    text = html.unescape(path.read_text(encoding="utf-8"))
    assert "could not be built" not in text
    assert "(semantic segmentation), 30 images" in text
    assert "Images with the lowest mIoU" in text
    with pytest.raises(TypeError, match="semantic runs"):
        ds.add_run("seg2", list(pred))
        ds.compare("seg", "seg2")
