"""Semantic segmentation numbers equal to torchmetrics' on the same pixels, where they overlap:
the pixel confusion matrix, per-class IoU (Jaccard) and pixel accuracy, with ignored pixels."""

from __future__ import annotations

import numpy as np
import pytest

import nbdiag

torch = pytest.importorskip("torch")
tmc = pytest.importorskip("torchmetrics.classification")

CLASSES = ["background", "road", "car", "person", "sky"]
K = len(CLASSES)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numbers_equal_torchmetrics(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, K, (8, 24, 32)).astype(np.uint8)
    gt[rng.random(gt.shape) < 0.1] = 255  # ignored pixels
    gt[gt == 4] = 3  # "sky" absent from the ground truth, but predicted
    noise = rng.integers(0, K, gt.shape).astype(np.uint8)
    pred = np.where(rng.random(gt.shape) < 0.7, np.minimum(gt, K - 1), noise).astype(np.uint8)
    ev = nbdiag.evaluate_semantic(gt, pred, CLASSES, progress=False)

    t_gt, t_pred = torch.from_numpy(gt.astype(np.int64)), torch.from_numpy(pred.astype(np.int64))
    cm = tmc.MulticlassConfusionMatrix(K, ignore_index=255)(t_pred, t_gt).numpy()
    np.testing.assert_array_equal(ev.confusion_matrix().to_numpy(), cm)

    iou = tmc.MulticlassJaccardIndex(K, average=None, ignore_index=255)(t_pred, t_gt).numpy()
    # torchmetrics scores a class absent from both maps 0; nbdiag NaN (left out of the mean)
    np.testing.assert_allclose(ev.iou.to_numpy(), iou, rtol=1e-6)
    accuracy = tmc.MulticlassAccuracy(K, average="micro", ignore_index=255)(t_pred, t_gt)
    assert ev.pixel_accuracy == pytest.approx(float(accuracy), rel=1e-6)
    assert ev.miou == pytest.approx(float(iou.mean()), rel=1e-6)
