"""Semantic evaluation numbers against independent oracles: scikit-learn's confusion_matrix on
the flattened labelled pixels, and IoU / accuracy computed directly with numpy (the mmseg
definitions: classes in neither map are NaN and left out of the mean)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion

import nbdiag

CLASSES = ["road", "car", "sky", "tree"]
K = len(CLASSES)


def _maps(seed: int = 0, n: int = 6, h: int = 12, w: int = 9) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, K, (n, h, w)).astype(np.uint8)
    gt[rng.random((n, h, w)) < 0.15] = 255  # ignored pixels
    gt[gt == 3] = 0  # "tree" never in the ground truth ...
    pred = np.where(rng.random((n, h, w)) < 0.6, gt, rng.integers(0, K, (n, h, w))).astype(np.uint8)
    pred[pred == 255] = 2
    return gt, pred


def _oracle(gt: np.ndarray, pred: np.ndarray, ignore: int = 255) -> dict:
    valid = gt != ignore
    g, p = gt[valid].astype(int), pred[valid].astype(int)
    predicted = p != ignore
    cm = sk_confusion(g[predicted], p[predicted], labels=list(range(K)))
    inter = np.array([np.sum((g == c) & (p == c)) for c in range(K)])
    label = np.array([np.sum(g == c) for c in range(K)])
    pred_area = np.array([np.sum(p == c) for c in range(K)])
    union = label + pred_area - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, np.nan)
        acc = np.where(label > 0, inter / label, np.nan)
    return {
        "cm": cm,
        "iou": iou,
        "miou": np.nanmean(iou) if (~np.isnan(iou)).any() else np.nan,
        "pixel_accuracy": inter.sum() / label.sum(),
        "mean_class_accuracy": np.nanmean(acc),
    }


def test_numbers_equal_sklearn_and_numpy_with_ignored_pixels() -> None:
    gt, pred = _maps()
    ev = nbdiag.evaluate_semantic(gt, pred, CLASSES, progress=False)
    o = _oracle(gt, pred)
    np.testing.assert_array_equal(ev.confusion_matrix().to_numpy(), o["cm"])
    np.testing.assert_allclose(ev.iou.to_numpy(), o["iou"], equal_nan=True)
    assert ev.miou == pytest.approx(o["miou"])
    assert ev.pixel_accuracy == pytest.approx(o["pixel_accuracy"])
    assert ev.mean_class_accuracy == pytest.approx(o["mean_class_accuracy"])
    # normalised matrices equal sklearn's normalisations
    valid = gt != 255
    for mode in ("true", "pred", "all"):
        want = sk_confusion(gt[valid], pred[valid], labels=list(range(K)), normalize=mode)
        np.testing.assert_allclose(ev.confusion_matrix(mode).to_numpy(), np.nan_to_num(want))


def test_class_absent_from_gt_but_predicted_counts_zero_iou() -> None:
    gt, pred = _maps(1)
    assert not (gt == 3).any() and (pred == 3).any()
    ev = nbdiag.evaluate_semantic(gt, pred, CLASSES, progress=False)
    assert ev.iou["tree"] == 0.0
    assert np.isnan(ev.per_class.loc["tree", "accuracy"])  # not in the ground truth
    # a class in neither map is NaN and left out of the mean
    pred2 = pred.copy()
    pred2[pred2 == 3] = 0
    ev2 = nbdiag.evaluate_semantic(gt, pred2, CLASSES, progress=False)
    assert np.isnan(ev2.iou["tree"])
    assert ev2.miou == pytest.approx(np.mean(ev2.iou.to_numpy()[:3]))
    assert ev2.miou == pytest.approx(_oracle(gt, pred2)["miou"])


def test_per_image_numbers_equal_a_direct_computation() -> None:
    gt, pred = _maps(2)
    ev = nbdiag.evaluate_semantic(
        {f"im{i}": g for i, g in enumerate(gt)},
        {f"im{i}": p for i, p in enumerate(pred)},
        CLASSES,
        progress=False,
    )
    assert list(ev.per_image.index) == [f"im{i}" for i in range(len(gt))]
    for i in range(len(gt)):
        o = _oracle(gt[i : i + 1], pred[i : i + 1])
        row = ev.per_image.loc[f"im{i}"]
        assert row["miou"] == pytest.approx(o["miou"])
        assert row["pixel_accuracy"] == pytest.approx(o["pixel_accuracy"])
        assert row["pixels"] == (gt[i] != 255).sum()
        assert row["ignored"] == (gt[i] == 255).sum()
        got = row[[f"iou_{c}" for c in CLASSES]].to_numpy(dtype=float)
        np.testing.assert_allclose(got, o["iou"], equal_nan=True)
    # cells: one row per (image, true, pred) with pixels, summing to the matrix
    cm = ev.cells.groupby(["true", "pred"], observed=False)["pixels"].sum().unstack()
    np.testing.assert_array_equal(cm.to_numpy(), ev.confusion_matrix().to_numpy())


def test_empty_prediction_counts_every_labelled_pixel_as_missed() -> None:
    gt, _ = _maps(3)
    empty = np.full_like(gt, 255)  # the model predicted nothing anywhere
    ev = nbdiag.evaluate_semantic(gt, empty, CLASSES, progress=False)
    assert ev.confusion_matrix().to_numpy().sum() == 0
    assert ev.pixel_accuracy == 0.0
    present = [c for k, c in enumerate(CLASSES) if (gt == k).any()]
    assert (ev.iou[present] == 0).all() and ev.miou == 0.0
    np.testing.assert_array_equal(ev.unpredicted.to_numpy(), [(gt == k).sum() for k in range(K)])


def test_logits_numpy_and_torch_are_reduced_by_argmax() -> None:
    torch = pytest.importorskip("torch")
    gt, _ = _maps(4)
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(len(gt), K, *gt.shape[1:])).astype(np.float32)
    by_labels = nbdiag.evaluate_semantic(gt, logits.argmax(1), CLASSES, progress=False)
    for scores in (logits, torch.from_numpy(logits)):
        ev = nbdiag.evaluate_semantic(gt, scores, CLASSES, progress=False)
        pd.testing.assert_frame_equal(ev.confusion_matrix(), by_labels.confusion_matrix())


def test_dataset_evaluate_writes_per_image_miou_and_cells_lead_to_images() -> None:
    gt, pred = _maps(5)
    images = np.zeros((*gt.shape, 3), dtype=np.uint8)
    ds = nbdiag.Dataset.from_label_maps(images, gt, CLASSES)
    ds.add_run("seg", {i: pred[i] for i in range(len(pred))})
    ev = ds.evaluate("seg", progress=False)
    assert isinstance(ev, nbdiag.SemanticEvaluation)
    ref = nbdiag.evaluate_semantic(gt, pred, CLASSES, progress=False)
    pd.testing.assert_frame_equal(ev.confusion_matrix(), ref.confusion_matrix())
    np.testing.assert_allclose(ds.samples["miou@seg"], ref.per_image["miou"])
    np.testing.assert_allclose(ds.samples["pixel_accuracy@seg"], ref.per_image["pixel_accuracy"])
    # images where road was predicted as car, most such pixels first
    cell = ev.samples_in_cell("road", "car")
    direct = {i: int(((gt[i] == 0) & (pred[i] == 1)).sum()) for i in range(len(gt))}
    want = sorted((n, i) for i, n in direct.items() if n)
    assert sorted(zip(cell["pixels"], cell.index, strict=True)) == want
    assert list(cell["pixels"]) == sorted(cell["pixels"], reverse=True)
    assert cell["share"].iloc[0] == pytest.approx(
        cell["pixels"].iloc[0] / (gt[cell.index[0]] != 255).sum()
    )
    assert ev.summary()["miou"] == pytest.approx(ref.miou)


def test_missing_prediction_for_an_array_image_is_an_error_naming_it() -> None:
    gt, pred = _maps(6, n=2)
    with pytest.raises(ValueError, match="'b'"):
        nbdiag.evaluate_semantic({"a": gt[0], "b": gt[1]}, {"a": pred[0]}, CLASSES)
