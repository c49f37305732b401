"""``ds.evaluate(run, iou_type="segm")`` on datasets read from COCO or given torchvision Mask
R-CNN outputs, against pycocotools' ``COCOeval(iouType="segm")``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from pycocotools import mask as mask_utils
from segm_cases import make_segm_case, pycocotools_segm

import nbdiag

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools on numpy 2


def _same(ev, oracle) -> None:
    np.testing.assert_allclose(ev.coco_stats, oracle.stats, rtol=0, atol=1e-12)
    assert np.array_equal(ev.coco_precision, oracle.eval["precision"])


@pytest.mark.parametrize("seed", range(5))
def test_dataset_evaluation_equals_pycocotools(seed: int) -> None:
    gt, dt = make_segm_case(seed)
    ds = nbdiag.Dataset.from_coco(gt, check_images=False)
    ds.add_run("model", dt)
    ev = ds.evaluate("model", iou_type="segm", progress=False)
    _same(ev, pycocotools_segm(gt, dt))
    assert ev.iou_type == "segm" and ev.dataset is ds
    assert ds.evaluate("model", progress=False).iou_type == "bbox"  # the default is unchanged


def test_per_object_features_work_on_masks() -> None:
    gt, dt = make_segm_case(6)
    ds = nbdiag.Dataset.from_coco(gt, check_images=False)
    ds.add_run("model", dt)
    ev = ds.evaluate("model", iou_type="segm", progress=False)
    ev.set_thresholds(iou=0.6, score=0.2)
    preds, truth = ev.predictions, ev.ground_truth
    # live thresholds: the same as a fresh evaluation at those thresholds
    fresh = ds.evaluate(
        "model", iou_type="segm", iou_threshold=0.6, score_threshold=0.2, progress=False
    )
    pd.testing.assert_frame_equal(fresh.predictions, preds)
    # a true positive's IoU is its mask IoU with its ground truth (pycocotools' iou)
    tp = preds[preds["match"] == "tp"]
    sizes = ds.samples[["height", "width"]]
    for oid, row in tp.head(15).iterrows():
        h, w = (int(v) for v in sizes.loc[row["sample_id"]])
        rle = [{"size": [h, w], "counts": ds.objects.at[k, "mask"].encode()}
               for k in (oid, row["matched_gt"])]  # fmt: skip
        assert row["iou"] == mask_utils.iou([rle[0]], [rle[1]], [0])[0, 0] >= 0.6
    # TP / FP / FN counts hold together across the tables, confusion and error breakdown
    assert (truth["match"] == "tp").sum() == len(tp)
    cm = ev.confusion_matrix()
    classes = ev.class_names
    assert int(np.trace(cm.loc[classes, classes].to_numpy())) == len(tp)
    fp = (preds["match"] == "fp").sum()
    assert preds.loc[preds["match"] == "fp", "error_type"].notna().sum() == fp
    fn = (truth["match"] == "fn").sum()
    assert truth.loc[truth["match"] == "fn", "error_type"].notna().sum() == fn
    breakdown = ev.error_breakdown()
    assert breakdown.loc["false_positives", "count"] == fp


def test_torchvision_mask_outputs_become_a_run() -> None:
    """Mask R-CNN outputs ((N, 1, H, W) probabilities, xyxy boxes, labels from 1) evaluate to
    pycocotools' numbers for the same masks as COCO results."""
    gt, dt = make_segm_case(7)
    ds = nbdiag.Dataset.from_coco(gt, check_images=False)
    cat_index = {c: i for i, c in enumerate(sorted(ds.coco_categories))}
    rng = np.random.default_rng(0)
    outputs = []
    for sid in ds.samples.index:
        mine = [d for d in dt if d["image_id"] == sid]
        h, w = (int(v) for v in ds.samples.loc[sid, ["height", "width"]])
        masks = np.zeros((len(mine), 1, h, w), dtype=np.float32)
        boxes = np.zeros((len(mine), 4), dtype=np.float32)
        for j, d in enumerate(mine):
            rle = {"size": [h, w], "counts": d["segmentation"]["counts"].encode()}
            m = mask_utils.decode(rle).astype(bool)
            # probabilities: >= 0.5 exactly on the mask
            masks[j, 0] = np.where(m, rng.uniform(0.5, 1.0, m.shape), rng.uniform(0, 0.49, m.shape))
            x, y, bw, bh = mask_utils.toBbox(rle)
            boxes[j] = [x, y, x + bw, y + bh]
        outputs.append({
            "boxes": torch.from_numpy(boxes),
            "labels": torch.tensor([cat_index[d["category_id"]] + 1 for d in mine], dtype=torch.int64),
            "scores": torch.tensor([d["score"] for d in mine], dtype=torch.float64),
            "masks": torch.from_numpy(masks),
        })  # fmt: skip
    ds.add_run("maskrcnn", outputs, label_offset=1)
    run = ds.run_boxes("maskrcnn")
    assert run["mask"].notna().all()
    ordered = [d for sid in ds.samples.index for d in dt if d["image_id"] == sid]
    assert run["mask"].tolist() == [d["segmentation"]["counts"] for d in ordered]
    ev = ds.evaluate("maskrcnn", iou_type="segm", progress=False)
    _same(ev, pycocotools_segm(gt, dt))
    bad = [dict(o) for o in outputs]
    first = next(i for i, o in enumerate(bad) if len(o["scores"]))
    bad[first]["masks"] = bad[first]["masks"][:, :, :-1]  # one row short
    with pytest.raises(ValueError, match=rf"predictions\[{first}\].*mask 0"):
        ds.add_run("bad", bad, label_offset=1)


def test_live_thresholds_never_recompute_mask_iou(monkeypatch: pytest.MonkeyPatch) -> None:
    from nbdiag.evaluation.detection import _coco

    gt, dt = make_segm_case(8)
    ds = nbdiag.Dataset.from_coco(gt, check_images=False)
    ds.add_run("model", dt)
    ev = ds.evaluate("model", iou_type="segm", progress=False)
    _ = ev.confusion_matrix(), ev.error_breakdown("coco")  # cross-class overlaps cached

    def boom(*args, **kwargs):
        raise AssertionError("mask IoU recomputed")

    monkeypatch.setattr(_coco.Index, "pair_ious", boom)
    for iou in (0.3, 0.55, 0.9):
        ev.set_thresholds(iou=iou, score=0.1)
        _ = ev.predictions, ev.ground_truth, ev.confusion_matrix(), ev.per_class
        _ = ev.error_breakdown(), ev.error_breakdown("coco")
