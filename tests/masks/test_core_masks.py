"""Masks in the data model: every form a user has becomes one compressed-RLE string per object,
equal to what pycocotools makes of it; bad masks are refused naming the object."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pycocotools.mask as cm
import pytest

import nbdiag
from nbdiag.core import masks as M

H, W = 40, 60


def _ds(masks):
    samples = pd.DataFrame({"id": ["a"], "width": [W], "height": [H]})
    objects = pd.DataFrame(
        {
            "sample_id": ["a"] * len(masks),
            "label": ["c"] * len(masks),
            "x": 0.0,
            "y": 0.0,
            "w": 1.0,
            "h": 1.0,
            "mask": masks,
        }
    )
    return nbdiag.Dataset(samples, objects)


def _blob(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = np.zeros((H, W), bool)
    y, x = rng.integers(0, H - 10), rng.integers(0, W - 10)
    m[y : y + 8, x : x + 9] = True
    m[y + 3, x + 4] = False  # a hole
    return m


def test_every_form_equals_pycocotools():
    poly = [[5, 5, 30, 5, 30, 20, 5, 20], [40, 25, 55, 25, 48, 38]]  # two parts
    blob = _blob()
    fortran = np.asfortranarray(blob.astype(np.uint8))
    uncompressed = {"size": [H, W], "counts": [int(c) for c in _runs(blob)]}
    compressed = cm.encode(fortran)
    probs = np.where(blob, 0.9, 0.1)
    ds = _ds([poly, blob, uncompressed, compressed, compressed["counts"].decode(), probs, None])
    got = list(ds.objects["mask"])
    want_poly = cm.merge(cm.frPyObjects(poly, H, W))["counts"].decode()
    assert got[0] == want_poly
    assert got[1:6] == [compressed["counts"].decode()] * 5
    assert got[6] is None
    assert np.array_equal(M.decode(got[1], H, W), blob)
    assert M.area(got[:2], H, W).tolist() == [
        float(cm.area(cm.merge(cm.frPyObjects(poly, H, W)))),
        float(blob.sum()),
    ]


def _runs(mask: np.ndarray) -> list[int]:
    flat = mask.T.ravel().astype(np.int8)  # column-major, as COCO
    change = np.flatnonzero(np.diff(np.r_[0, flat, 1 - flat[-1]]))
    runs = np.diff(np.r_[0, change])
    return runs.tolist() if flat[0] == 0 else [0, *runs.tolist()]


def test_torch_tensor_masks_threshold_at_half():
    torch = pytest.importorskip("torch")
    probs = torch.zeros(1, H, W)
    probs[0, 2:6, 3:9] = 0.7
    probs[0, 10, 10] = 0.49
    (counts,) = _ds([probs]).objects["mask"]
    assert M.decode(counts, H, W).sum() == 4 * 6


def test_iou_matches_pycocotools_with_crowd():
    a, b = _blob(1), _blob(2)
    ra, rb = M.encode(a), M.encode(b)
    rle = [cm.encode(np.asfortranarray(x.astype(np.uint8))) for x in (a, b)]
    want = cm.iou(rle, rle, [0, 1])
    assert np.array_equal(M.iou([ra, rb], [ra, rb], H, W, [False, True]), want)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.zeros((5, 5)), "object 0: mask is 5×5 but its image is 40×60"),
        ("abc", "object 0: RLE counts do not cover"),
        ({"size": [10, 10], "counts": "abc"}, "disagrees with its image"),
        ({"size": [H, W], "counts": [5, 5]}, "do not sum"),
        ([[1, 2, 3, 4]], "at least 3 (x, y) points"),
        ([[1, 2, np.nan, 4, 5, 6]], "NaN"),
        (np.full((H, W), 2.0), "probabilities in [0, 1]"),
        (np.full((H, W), np.nan), "NaN"),
        (object(), "unsupported mask"),
    ],
)
def test_bad_masks_name_the_object(mask, message):
    with pytest.raises((ValueError, TypeError)) as err:
        _ds([mask])
    assert message in str(err.value)


def test_mask_needs_a_known_image_size():
    samples = pd.DataFrame({"id": ["a"]})
    objects = pd.DataFrame(
        {"sample_id": ["a"], "label": ["c"], "x": [0], "y": [0], "w": [1], "h": [1]}
    ).assign(mask=[_blob()])
    with pytest.raises(ValueError, match="object 0: a mask needs its image's width and height"):
        nbdiag.Dataset(samples, objects)


def test_run_masks_are_checked_and_saved(tmp_path):
    ds = _ds([_blob(0)])
    pred = pd.DataFrame(
        {"sample_id": ["a"], "label": ["c"], "x": [0.0], "y": [0.0], "w": [1.0], "h": [1.0]}
    )
    with pytest.raises(ValueError, match=r"object \(in run 'm'\) 1000000: mask is 3×3"):
        ds.add_run("m", pred.assign(score=[0.9], mask=[np.ones((3, 3))]))
    ds.add_run("m", pred.assign(score=[0.9], mask=[_blob(1)]))
    ds.save(tmp_path / "p")
    back = nbdiag.open(tmp_path / "p")
    assert back.objects["mask"].to_dict() == ds.objects["mask"].to_dict()


def test_an_empty_ground_truth_mask_is_a_data_issue_of_its_image():
    samples = pd.DataFrame({"id": ["a", "b"], "width": [W, W], "height": [H, H]})
    objects = pd.DataFrame(
        {
            "sample_id": ["a", "b", "b"],
            "label": ["c"] * 3,
            "x": 0.0,
            "y": 0.0,
            "w": 1.0,
            "h": 1.0,
            "mask": [_blob(0), np.zeros((H, W), bool), None],
        }
    )
    ds = nbdiag.Dataset(samples, objects)
    assert ds.samples["issues"].tolist() == ["", "empty_mask"]
    assert list(M.empty_masks(ds.objects, ds.samples)) == [1]
    # a run's empty predicted mask is no issue of the image
    pred = objects.iloc[:1].assign(score=0.9, mask=[np.zeros((H, W), bool)], sample_id="a")
    ds.add_run("m", pred.drop(columns=[]).reset_index(drop=True))
    assert ds.samples.loc["a", "issues"] == ""
