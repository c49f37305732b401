"""Mask metrics against independent computations: numpy pixel counts and extents, contourpy's
marching-squares contour length, a breadth-first flood fill for the parts; on ground truth and
predicted masks; usable by performance_by and worst_slices like every metric."""

from __future__ import annotations

from collections import deque

import contourpy
import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.core import masks as M

pytest.importorskip("pycocotools")

H, W = 90, 120
MASK_METRICS = [
    "mask_area",
    "mask_relative_area",
    "mask_fill",
    "mask_complexity",
    "mask_parts",
    "mask_box_iou",
]


def _disc(cy, cx, r, h=H, w=W):
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


def _shapes() -> dict[str, np.ndarray | None]:
    ring = _disc(45, 60, 30) & ~_disc(45, 60, 14)
    two = np.zeros((H, W), bool)
    two[5:20, 5:25] = True
    two[60:80, 90:115] = True
    diag = np.zeros((H, W), bool)  # two pixels touching at a corner: one 8-connected part
    diag[40:50, 40:50] = True
    diag[50:60, 50:60] = True
    border = np.zeros((H, W), bool)
    border[0:25, 80:W] = True  # touches the top and right borders
    rng = np.random.default_rng(3)
    ragged = _disc(45, 60, 25) & (rng.random((H, W)) < 0.8)
    return {
        "disc": _disc(45, 60, 30),
        "ring": ring,
        "two": two,
        "diag": diag,
        "border": border,
        "ragged": ragged,
        "empty": np.zeros((H, W), bool),
        "none": None,
    }


def _ds_with(masks: dict[str, np.ndarray | None], boxes=None) -> nbdiag.Dataset:
    names = list(masks)
    samples = pd.DataFrame({"id": ["a", "b"], "width": [W, W], "height": [H, H]})
    boxes = boxes or {n: (10.0, 10.0, 40.0, 30.0) for n in names}
    objects = pd.DataFrame(
        {
            "id": names,
            "sample_id": ["a" if i % 2 else "b" for i in range(len(names))],
            "label": "thing",
            "x": [boxes[n][0] for n in names],
            "y": [boxes[n][1] for n in names],
            "w": [boxes[n][2] for n in names],
            "h": [boxes[n][3] for n in names],
            "mask": [masks[n] for n in names],
        }
    ).set_index("id")
    return nbdiag.Dataset(samples, objects)


def _contour_length(mask: np.ndarray) -> float:
    """Marching-squares length at level 0.5 of the zero-padded mask, by contourpy."""
    z = np.pad(mask.astype(float), 1)
    lines = contourpy.contour_generator(z=z, name="serial", line_type="Separate").lines(0.5)
    return float(sum(np.linalg.norm(np.diff(ln, axis=0), axis=1).sum() for ln in lines))


def _flood_parts(mask: np.ndarray) -> int:
    seen = np.zeros_like(mask, bool)
    parts = 0
    for y, x in zip(*np.nonzero(mask), strict=True):
        if seen[y, x]:
            continue
        parts += 1
        queue = deque([(y, x)])
        seen[y, x] = True
        while queue:
            cy, cx = queue.popleft()
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = cy + dy, cx + dx
                    if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1]:
                        if mask[ny, nx] and not seen[ny, nx]:
                            seen[ny, nx] = True
                            queue.append((ny, nx))
    return parts


def _expected(mask: np.ndarray | None, box) -> dict[str, float]:
    if mask is None:
        return dict.fromkeys(MASK_METRICS, np.nan)
    a = float(mask.sum())
    if a == 0:
        return {
            "mask_area": 0.0,
            "mask_relative_area": 0.0,
            "mask_fill": np.nan,
            "mask_complexity": np.nan,
            "mask_parts": 0.0,
            "mask_box_iou": np.nan,
        }
    ys, xs = np.nonzero(mask)
    mx, my = xs.min(), ys.min()
    mw, mh = xs.max() - mx + 1, ys.max() - my + 1
    x, y, w, h = box
    iw = max(0, min(x + w, mx + mw) - max(x, mx))
    ih = max(0, min(y + h, my + mh) - max(y, my))
    p = _contour_length(mask)
    return {
        "mask_area": a,
        "mask_relative_area": a / (H * W),
        "mask_fill": a / (mw * mh),
        "mask_complexity": p**2 / (4 * np.pi * a),
        "mask_parts": float(_flood_parts(mask)),
        "mask_box_iou": iw * ih / (w * h + mw * mh - iw * ih),
    }


def test_mask_metrics_match_independent_computations():
    shapes = _shapes()
    boxes = {n: (10.0, 10.0, 40.0, 30.0) for n in shapes}
    boxes["border"] = (80.0, 0.0, 40.0, 25.0)  # exactly the mask's box
    ds = _ds_with(shapes, boxes)
    errors = ds.compute_metrics(MASK_METRICS)
    assert errors.empty
    got = ds.objects.loc[list(shapes), MASK_METRICS]
    want = pd.DataFrame([_expected(shapes[n], boxes[n]) for n in shapes], index=got.index)
    pd.testing.assert_frame_equal(got, want[MASK_METRICS], check_names=False, rtol=1e-9)
    assert got.at["border", "mask_box_iou"] == 1.0
    assert got.at["two", "mask_parts"] == 2 and got.at["diag", "mask_parts"] == 1
    # the isoperimetric ratio orders the shapes as it should
    c = got["mask_complexity"]
    assert 1.0 < c["disc"] < 1.2 < c["ring"] and c["ragged"] > 3 * c["disc"]
    assert got.at["disc", "mask_fill"] == pytest.approx(np.pi * 30**2 / 61**2, rel=0.01)


def test_random_blobs_match_oracles():
    rng = np.random.default_rng(11)
    shapes = {}
    for i in range(12):
        m = np.zeros((H, W), bool)
        for _ in range(rng.integers(1, 4)):
            m |= _disc(rng.integers(0, H), rng.integers(0, W), rng.integers(2, 20))
        m &= rng.random((H, W)) < rng.choice([1.0, 0.95])
        shapes[f"blob{i}"] = m
    ds = _ds_with(shapes)
    ds.compute_metrics(MASK_METRICS)
    got = ds.objects.loc[list(shapes), MASK_METRICS]
    want = pd.DataFrame([_expected(shapes[n], (10, 10, 40, 30)) for n in shapes], index=got.index)
    pd.testing.assert_frame_equal(got, want[MASK_METRICS], check_names=False, rtol=1e-9)


def test_predicted_masks_get_metrics_and_slice_performance():
    rng = np.random.default_rng(0)
    samples = pd.DataFrame({"id": [f"s{i}" for i in range(30)], "width": W, "height": H})
    gt, pred = [], []
    for i in range(30):
        r = int(rng.integers(4, 25))
        cy, cx = int(rng.integers(r, H - r)), int(rng.integers(r, W - r))
        m = _disc(cy, cx, r)
        box = (cx - r, cy - r, 2 * r + 1, 2 * r + 1)
        gt.append(
            dict(sample_id=f"s{i}", label="c", x=box[0], y=box[1], w=box[2], h=box[3], mask=m)
        )
        if r > 8:  # the model finds only the large objects
            pm = _disc(cy, cx, r - 1)
            pred.append(
                dict(
                    sample_id=f"s{i}",
                    label="c",
                    x=box[0],
                    y=box[1],
                    w=box[2],
                    h=box[3],
                    score=0.9,
                    mask=pm,
                )
            )
    ds = nbdiag.Dataset(samples, pd.DataFrame(gt))
    ds.add_run("model", pd.DataFrame(pred))
    ds.compute_metrics(MASK_METRICS)
    preds = ds.run_boxes("model")
    assert preds["mask_area"].notna().all()
    for _, p in preds.iterrows():
        m = M.decode(p["mask"], H, W)
        assert p["mask_area"] == m.sum()
    perf = ds.performance_by("mask_area", run="model", bins=[0, 200, 100000])
    small, large = perf.iloc[0], perf.iloc[1]
    assert small["recall"] == 0.0 and large["recall"] == 1.0
    gt_area = ds.gt_objects["mask_area"]
    assert small["ground_truth"] == (gt_area < 200).sum()
    worst = ds.worst_slices(run="model", min_support=3)
    assert any("mask_" in str(d) for d in worst["slice"])


def test_no_mask_column_adds_no_mask_metrics():
    samples = pd.DataFrame({"id": ["a"], "width": [W], "height": [H]})
    objects = pd.DataFrame(
        {"sample_id": ["a"], "label": ["c"], "x": 1.0, "y": 1.0, "w": 5.0, "h": 5.0}
    )
    ds = nbdiag.Dataset(samples, objects)
    errors = ds.compute_metrics(["box_area", *MASK_METRICS])
    assert errors.empty
    assert "box_area" in ds.objects and not any(c in ds.objects for c in MASK_METRICS)


def test_editing_a_mask_recomputes():
    shapes = {"a": _disc(40, 40, 10), "b": _disc(40, 80, 5)}
    ds = _ds_with(shapes)
    ds.compute_metrics(["mask_area"])
    before = ds.objects["mask_area"].copy()
    ds.objects.loc["a", "mask"] = M.encode(_disc(40, 40, 20))
    ds.compute_metrics(["mask_area"])
    assert ds.objects.at["a", "mask_area"] == _disc(40, 40, 20).sum() != before["a"]
    assert ds.objects.at["b", "mask_area"] == before["b"]


def test_mask_metrics_are_listed_with_their_formula():
    table = nbdiag.metrics.list_metrics("object")
    assert set(MASK_METRICS) <= set(table.index)
    assert "4π" in table.at["mask_complexity", "description"]
