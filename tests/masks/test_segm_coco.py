"""Mask evaluation (``iou_type="segm"``) against pycocotools' ``COCOeval(iouType="segm")``."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from pycocotools import mask as mask_utils
from segm_cases import make_segm_case, pycocotools_segm

from nbdiag.core._rle_check import _slow_ok, counts_ok
from nbdiag.evaluation.detection import DetectionEvaluation, evaluate_detections

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools on numpy 2


def _same(ev: DetectionEvaluation, oracle) -> None:
    np.testing.assert_allclose(ev.coco_stats, oracle.stats, rtol=0, atol=1e-12)
    assert np.array_equal(ev.coco_precision, oracle.eval["precision"])
    assert np.array_equal(ev.coco_recall, oracle.eval["recall"])


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("with_bbox", [False, True])
def test_twelve_numbers_equal_pycocotools(seed: int, with_bbox: bool) -> None:
    gt, dt = make_segm_case(seed, with_bbox=with_bbox)
    ev = evaluate_detections(gt, dt, iou_type="segm", progress=False)
    _same(ev, pycocotools_segm(gt, dt))
    assert ev.iou_type == "segm" and ev.summary()["iou_type"] == "segm"
    assert "segm" in repr(ev) and "segm" in ev._repr_html_()


def test_cases_exercise_what_they_claim() -> None:
    """The generator really makes crowd regions, empty images, images without predictions,
    > 100 detections on one image and class, tied scores, multi-part and RLE ground truth."""
    crowd = empty = no_dt = many = ties = parts = rle = 0
    for seed in range(12):
        gt, dt = make_segm_case(seed)
        anns = gt["annotations"]
        crowd += sum(a["iscrowd"] for a in anns)
        img_gt = {a["image_id"] for a in anns}
        img_dt = pd.Series([d["image_id"] for d in dt])
        empty += sum(im["id"] not in img_gt for im in gt["images"])
        no_dt += sum(im["id"] not in set(img_dt) for im in gt["images"])
        per = pd.Series([(d["image_id"], d["category_id"]) for d in dt]).value_counts()
        many += int((per > 100).any())
        ties += int(pd.Series([d["score"] for d in dt]).duplicated().any())
        parts += sum(
            isinstance(a["segmentation"], list) and len(a["segmentation"]) > 1 for a in anns
        )
        rle += sum(isinstance(a["segmentation"], dict) for a in anns)
    assert min(crowd, empty, no_dt, many, ties, parts, rle) > 0


def test_masks_not_boxes_are_compared() -> None:
    gt, dt = make_segm_case(4, with_bbox=True)
    segm = evaluate_detections(gt, dt, iou_type="segm", progress=False)
    bbox = evaluate_detections(gt, dt, progress=False)
    assert bbox.iou_type == "bbox"
    assert not np.allclose(segm.coco_stats, bbox.coco_stats)


@pytest.mark.parametrize("seed", range(6))
def test_per_object_results_match_pycocotools_eval_imgs(seed: int) -> None:
    """At IoU 0.5 (and 0.75 after re-matching), area "all", maxDets 100: every prediction's
    TP / FP / ignored status and matched ground truth are pycocotools' ``evalImgs``."""
    gt, dt = make_segm_case(seed)
    oracle = pycocotools_segm(gt, dt)
    ev = evaluate_detections(gt, dt, iou_type="segm", progress=False)
    n_cat = len(oracle.params.catIds)
    n_img = len(oracle.params.imgIds)
    for t_index, thr in ((0, 0.5), (5, 0.75)):
        ev.set_thresholds(iou=thr)
        want: dict[int, tuple[str, object]] = {}
        for k in range(n_cat):
            for i in range(n_img):
                e = oracle.evalImgs[k * 4 * n_img + i]  # area range 0: "all"
                if e is None:
                    continue
                for j, did in enumerate(e["dtIds"]):
                    gid = int(e["dtMatches"][t_index, j])
                    if e["dtIgnore"][t_index, j]:
                        want[did] = ("ignored", None)
                    else:
                        want[did] = ("tp", gid) if gid else ("fp", None)
        preds = ev.predictions
        for did, (kind, gid) in want.items():
            assert preds.at[did, "match"] == kind, (thr, did)
            if kind == "tp":
                assert preds.at[did, "matched_gt"] == gid
        # beyond the top 100 of an (image, class): not evaluated by pycocotools either
        rest = preds.drop(index=list(want))
        assert (rest["match"] == "ignored").all()
        # and the fresh evaluation at that threshold agrees with the re-matched one
        fresh = evaluate_detections(gt, dt, iou_type="segm", iou_threshold=thr, progress=False)
        pd.testing.assert_frame_equal(fresh.predictions, preds)
        pd.testing.assert_frame_equal(fresh.ground_truth, ev.ground_truth)


def test_from_frames_takes_polygons_arrays_and_counts() -> None:
    """Frames with masks in any form give the numbers of the COCO files they came from."""
    gt, dt = make_segm_case(2)
    oracle = pycocotools_segm(gt, dt)
    sizes = pd.DataFrame(
        {
            "height": [im["height"] for im in gt["images"]],
            "width": [im["width"] for im in gt["images"]],
        },
        index=[im["id"] for im in gt["images"]],
    )
    names = {c["id"]: c["name"] for c in gt["categories"]}
    gt_rows = []
    for k, a in enumerate(gt["annotations"]):
        h, w = sizes.loc[a["image_id"]]
        seg = a["segmentation"]
        if k % 3 == 1 and not (isinstance(seg, dict) and isinstance(seg["counts"], str)):
            rle = mask_utils.frPyObjects(seg, h, w)  # as a boolean array
            rle = mask_utils.merge(rle) if isinstance(rle, list) else rle
            seg = mask_utils.decode(rle).astype(bool)
        x, y, bw, bh = a["bbox"]
        gt_rows.append({"id": a["id"], "sample_id": a["image_id"], "label": names[a["category_id"]],
                        "x": x, "y": y, "w": bw, "h": bh, "iscrowd": bool(a["iscrowd"]),
                        "area": a["area"], "mask": seg})  # fmt: skip
    dt_rows = []
    for k, d in enumerate(dt):
        rle = {"size": d["segmentation"]["size"], "counts": d["segmentation"]["counts"].encode()}
        x, y, bw, bh = mask_utils.toBbox(rle)
        mask = d["segmentation"]["counts"] if k % 2 else mask_utils.decode(rle).astype(float) * 0.9
        dt_rows.append({"id": k + 1, "sample_id": d["image_id"], "label": names[d["category_id"]],
                        "x": x, "y": y, "w": bw, "h": bh, "score": d["score"], "mask": mask})  # fmt: skip
    ev = DetectionEvaluation.from_frames(
        pd.DataFrame(gt_rows).set_index("id"),
        pd.DataFrame(dt_rows).set_index("id"),
        sizes.index,
        [c["name"] for c in sorted(gt["categories"], key=lambda c: c["id"])],
        iou_type="segm",
        image_sizes=sizes,
        progress=False,
    )
    _same(ev, oracle)


def test_errors_name_the_objects_without_masks() -> None:
    gt, dt = make_segm_case(1)
    no_seg = copy.deepcopy(dt)
    del no_seg[3]["segmentation"]
    with pytest.raises(ValueError, match=r"results\[3\] has none"):
        evaluate_detections(gt, no_seg, iou_type="segm", progress=False)
    bad_gt = copy.deepcopy(gt)
    bad_gt["annotations"][2]["segmentation"] = {"size": [3, 3], "counts": "0"}
    with pytest.raises(ValueError, match=r"annotations\[2\].*RLE size"):
        evaluate_detections(bad_gt, dt, iou_type="segm", progress=False)
    corrupt = copy.deepcopy(dt)
    corrupt[5]["segmentation"]["counts"] = corrupt[5]["segmentation"]["counts"] + "1"
    with pytest.raises(ValueError, match=r"results\[5\].*do not cover"):
        evaluate_detections(gt, corrupt, iou_type="segm", progress=False)
    with pytest.raises(ValueError, match="iou_type must be"):
        evaluate_detections(gt, dt, iou_type="keypoints", progress=False)
    frame = pd.DataFrame(
        {"sample_id": [1, 1], "label": ["a", "a"], "x": 0.0, "y": 0.0, "w": 2.0, "h": 2.0,
         "mask": [np.ones((4, 4), bool), None]},
        index=["g1", "g2"],
    )  # fmt: skip
    preds = frame.assign(score=0.5).drop(columns=["mask"])
    sizes = pd.DataFrame({"height": [4], "width": [4]}, index=[1])
    with pytest.raises(ValueError, match=r"'g2'"):
        DetectionEvaluation.from_frames(
            frame, preds, [1], ["a"], iou_type="segm", image_sizes=sizes
        )
    with pytest.raises(ValueError, match=r"no 'mask' column"):
        DetectionEvaluation.from_frames(
            frame.iloc[:1], preds, [1], ["a"], iou_type="segm", image_sizes=sizes
        )
    with pytest.raises(ValueError, match="image_sizes"):
        DetectionEvaluation.from_frames(frame, preds, [1], ["a"], iou_type="segm")


def test_vectorised_counts_check_agrees_with_the_reference_decoder() -> None:
    rng = np.random.default_rng(0)
    counts, pixels = [], []
    for _ in range(1500):
        h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        c = mask_utils.encode(
            np.asfortranarray((rng.random((h, w)) < rng.random()).astype(np.uint8))
        )
        s = c["counts"].decode()
        r = rng.random()
        if r < 0.1 and len(s) > 1:
            s = s[:-1]
        elif r < 0.2:
            s += "0"
        elif r < 0.3:
            j = int(rng.integers(len(s)))
            s = s[:j] + chr(int(rng.integers(40, 120))) + s[j + 1 :]
        elif r < 0.35:
            h += 1
        counts.append(s)
        pixels.append(h * w)
    got = counts_ok(counts, np.array(pixels))
    assert np.array_equal(got, _slow_ok(counts, np.array(pixels)))
    assert 0 < got.sum() < len(got)
