"""Object (box) metrics, prediction metrics, and the perceptual hashes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import nbdiag
from nbdiag.metrics import _hashes, compute_metrics, metric, unregister

from ._images import scene


@pytest.fixture
def boxes_ds():
    samples = pd.DataFrame({"width": [100.0, 200.0], "height": [100.0, 100.0]}, index=["a", "b"])
    gt = pd.DataFrame(
        {
            "sample_id": ["a", "a", "a", "b", "b"],
            "label": ["cat", "cat", "dog", "cat", "cat"],
            "x": [0.0, 1.0, 40.0, 50.0, 120.0],
            "y": [0.0, 0.0, 40.0, 25.0, 25.0],
            "w": [10.0, 10.0, 20.0, 50.0, 2.0],
            "h": [10.0, 10.0, 20.0, 50.0, 60.0],
        },
        index=pd.Index(["g1", "g2", "g3", "g4", "g5"], name="object_id"),
    )
    return nbdiag.Dataset(samples, gt)


def test_box_metrics(boxes_ds):
    errors = compute_metrics(boxes_ds, progress=False, cache_dir=False)
    assert errors.empty
    o = boxes_ds.objects
    assert o.box_area.tolist() == [100, 100, 400, 2500, 120]
    assert o.relative_area.tolist() == pytest.approx([0.01, 0.01, 0.04, 0.125, 0.006])
    assert o.box_aspect_ratio["g5"] == pytest.approx(2 / 60)
    assert o.border_closeness["g1"] == 1.0  # touches the corner
    assert o.border_closeness["g3"] == pytest.approx(1 - 2 * 0.4)
    assert o.boxes_per_image.tolist() == [3, 3, 3, 2, 2]
    # g1 and g2 overlap 9x10: IoU 90 / 110, a likely duplicated annotation
    assert o.max_iou["g1"] == pytest.approx(90 / 110) and o.max_iou["g2"] == o.max_iou["g1"]
    assert o.max_iou["g3"] == 0 and o.max_iou["g4"] == 0
    assert o.class_frequency.tolist() == pytest.approx([0.8, 0.8, 0.2, 0.8, 0.8])
    # the thin 2 x 60 cat is the shape outlier among cats
    cats = o[o.label == "cat"].shape_outlier
    assert cats.idxmax() == "g5" and cats["g5"] > 2 * cats.drop("g5").max()


def test_user_object_metric(boxes_ds):
    @metric(scope="object", name="is_tiny")
    def is_tiny(objects, samples):
        return objects.w * objects.h < 150

    try:
        compute_metrics(boxes_ds, ["is_tiny"], progress=False, cache_dir=False)
        assert boxes_ds.objects.is_tiny.tolist() == [1, 1, 0, 0, 1]
    finally:
        unregister("is_tiny")


def test_classification_prediction_metrics():
    labels = ["cat", "dog", "cat", "dog"]
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.4, 0.6], [0.5, 0.5]])
    ds = nbdiag.Dataset(pd.DataFrame({"label": labels}, index=list("abcd")))
    ds.add_run("m", probs)

    @metric(scope="prediction", name="low_confidence")
    def low_confidence(frame):
        return frame.confidence < 0.65

    try:
        errors = compute_metrics(ds, progress=False, cache_dir=False)
    finally:
        unregister("low_confidence")
    assert errors.empty
    s = ds.samples
    assert s["confidence@m"].tolist() == pytest.approx([0.9, 0.7, 0.6, 0.5])
    assert s["margin@m"].tolist() == pytest.approx([0.8, 0.4, 0.2, 0.0])
    assert s["correct@m"].tolist() == [1, 1, 0, 0]
    assert s["loss@m"]["c"] == pytest.approx(-np.log(0.4))
    assert s["prediction_entropy@m"]["d"] == pytest.approx(np.log(2))
    assert s["low_confidence@m"].tolist() == [0, 0, 1, 1]
    assert "iou@m" not in s  # a detection metric does not apply


def test_detection_prediction_metrics(boxes_ds):
    preds = pd.DataFrame(
        {
            "sample_id": ["a", "b", "b"],
            "label": ["dog", "cat", "cat"],
            "x": [40.0, 50.0, 0.0],
            "y": [40.0, 30.0, 0.0],
            "w": [20.0, 50.0, 10.0],
            "h": [20.0, 50.0, 10.0],
            "score": [0.9, 0.8, 0.3],
        }
    )
    boxes_ds.add_run("det", preds)
    compute_metrics(boxes_ds, progress=False, cache_dir=False)
    o = boxes_ds.objects
    run_boxes = o[o.source == "det"]
    assert run_boxes["correct@det"].tolist() == [1, 1, 0]
    assert run_boxes["confidence@det"].tolist() == pytest.approx([0.9, 0.8, 0.3])
    assert run_boxes["iou@det"].iloc[0] == pytest.approx(1.0)
    assert run_boxes["iou@det"].iloc[1] == pytest.approx(2250 / 2750)
    gt = o[o.source == "gt"]
    assert gt["correct@det"].tolist() == [0, 0, 1, 1, 0]  # found or missed
    # box metrics describe predictions too, within their own source
    assert run_boxes.boxes_per_image.tolist() == [1, 2, 2]


def _hash_pair(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    from nbdiag.metrics._image import ImageView

    va, vb = ImageView(a), ImageView(b)
    p = _hashes.phash_bits(va.luma_reduced((32, 32))), _hashes.phash_bits(vb.luma_reduced((32, 32)))
    d = _hashes.dhash_bits(va.luma_reduced((9, 8))), _hashes.dhash_bits(vb.luma_reduced((9, 8)))
    return int(_hashes.hamming(np.uint64(p[0]), np.uint64(p[1]))), int(
        _hashes.hamming(np.uint64(d[0]), np.uint64(d[1]))
    )


def test_perceptual_hashes_survive_edits_and_separate_images():
    a = scene(0, 128, 128)
    img = Image.fromarray(a)
    resized = np.asarray(img.resize((70, 70), Image.Resampling.BILINEAR))
    shifted = np.uint8(np.clip(a.astype(int) - 25, 0, 255))
    for edited in (resized, shifted):
        p, d = _hash_pair(a, edited)
        assert p <= 6 and d <= 6
    for seed in range(1, 6):
        p, d = _hash_pair(a, scene(seed, 128, 128))
        assert p > 11 or d > 11


def test_dct_is_orthonormal():
    d = _hashes._dct_matrix(32)
    assert np.allclose(d @ d.T, np.eye(32))


@pytest.mark.parametrize("radius", [0, 3, 11])
def test_multi_index_search_equals_brute_force(radius):
    rng = np.random.default_rng(radius)
    base = rng.integers(0, 2**63, 300, dtype=np.uint64)
    flips = np.array([1 << int(b) for b in rng.integers(0, 64, 300)], dtype=np.uint64)
    hashes = np.concatenate([base, base ^ flips, base[:50] ^ flips[:50] ^ (flips[:50] >> 1)])
    brute = _hashes._pairs_brute(hashes, radius)
    mih = _hashes.candidate_pairs(hashes, radius, method="mih")
    key = lambda p: set(map(tuple, np.sort(p, axis=1).tolist()))  # noqa: E731
    assert key(brute) == key(mih)
    assert len(brute) >= (300 if radius else 0)


def test_components_number_groups_by_size():
    labels = _hashes.components(6, np.array([[4, 5], [0, 1], [1, 2]]))
    assert labels.tolist() == [0, 0, 0, -1, 1, 1]
