"""COCO numbers: nbdiag's detection evaluation against pycocotools (the oracle), exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nbdiag.evaluation.detection import (
    COCO_STAT_NAMES,
    DetectionEvaluation,
    evaluate_detections,
)

from .coco_cases import make_case, pycocotools_eval

SEEDS = range(40)


def assert_same_as_pycocotools(gt: dict, dt: list) -> DetectionEvaluation:
    ev = evaluate_detections(gt, dt, progress=False)
    oracle = pycocotools_eval(gt, dt)
    np.testing.assert_allclose(ev.coco_stats, oracle.stats, rtol=0, atol=1e-12)
    # stronger: the full accumulated arrays are bit-identical
    assert np.array_equal(ev.coco_precision, oracle.eval["precision"])
    assert np.array_equal(ev.coco_recall, oracle.eval["recall"])
    return ev


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_case_matches_pycocotools(seed: int) -> None:
    gt, dt = make_case(seed)
    assert_same_as_pycocotools(gt, dt)


def test_generator_covers_the_edge_cases() -> None:
    """The generated cases together exercise everything the parity claim is about."""
    seen = set()
    for seed in SEEDS:
        gt, dt = make_case(seed)
        anns = gt["annotations"]
        img_with_gt = {a["image_id"] for a in anns}
        img_with_dt = {d["image_id"] for d in dt}
        all_imgs = {i["id"] for i in gt["images"]}
        per_group: dict = {}
        for d in dt:
            per_group[d["image_id"], d["category_id"]] = (
                per_group.get((d["image_id"], d["category_id"]), 0) + 1
            )
        scores = [d["score"] for d in dt]
        areas = [a["area"] for a in anns]
        seen |= {
            "crowd" if any(a["iscrowd"] for a in anns) else "",
            "image without GT" if all_imgs - img_with_gt else "",
            "image without detections" if all_imgs - img_with_dt else "",
            "category without GT"
            if {c["id"] for c in gt["categories"]} - {a["category_id"] for a in anns}
            else "",
            "category without detections"
            if {a["category_id"] for a in anns} - {d["category_id"] for d in dt}
            else "",
            "score ties" if len(set(scores)) < len(scores) else "",
            ">100 detections per image and class" if max(per_group.values()) > 100 else "",
            "small" if min(areas) < 32**2 else "",
            "medium" if any(32**2 <= x <= 96**2 for x in areas) else "",
            "large" if max(areas) > 96**2 else "",
        }
    seen.discard("")
    assert len(seen) == 10, seen


def test_larger_case_matches_pycocotools() -> None:
    gt, dt = make_case(12345, n_images=250, n_classes=15)
    assert_same_as_pycocotools(gt, dt)


# ---------------------------------------------------------------- hand-built edge cases
def _gt(anns: list[dict], n_images: int = 2, cats: tuple[int, ...] = (1, 2)) -> dict:
    for i, a in enumerate(anns):
        a.setdefault("id", i + 1)
        a.setdefault("iscrowd", 0)
        a.setdefault("area", a["bbox"][2] * a["bbox"][3])
    return {
        "images": [{"id": i + 1} for i in range(n_images)],
        "categories": [{"id": c, "name": f"c{c}"} for c in cats],
        "annotations": anns,
    }


def _det(img: int, cat: int, bbox: list[float], score: float) -> dict:
    return {"image_id": img, "category_id": cat, "bbox": bbox, "score": score}


def test_iou_exactly_on_thresholds() -> None:
    # IoU = 0.5 and 0.75 exactly: matched at those thresholds (>=), as in pycocotools
    gt = _gt([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]},
              {"image_id": 2, "category_id": 1, "bbox": [0, 0, 40, 40]}])  # fmt: skip
    dt = [_det(1, 1, [0, 0, 10, 5], 0.9), _det(2, 1, [0, 0, 40, 30], 0.8)]
    ev = assert_same_as_pycocotools(gt, dt)
    assert ev.predictions["iou"].tolist() == [0.5, 0.75]
    assert ev.predictions["match"].tolist() == ["tp", "tp"]
    assert ev.set_thresholds(iou=0.75).predictions["match"].tolist() == ["fp", "tp"]
    assert ev.set_thresholds(iou=0.76).predictions["match"].tolist() == ["fp", "fp"]


def test_crowd_regions() -> None:
    gt = _gt([
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 100], "iscrowd": 1},
        {"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]},
        {"image_id": 2, "category_id": 1, "bbox": [0, 0, 50, 50], "iscrowd": 1},
    ])  # fmt: skip
    dt = [
        _det(1, 1, [10, 10, 20, 20], 0.9),  # the regular GT
        _det(1, 1, [11, 11, 20, 20], 0.8),  # inside the crowd region -> ignored
        _det(1, 1, [50, 50, 10, 10], 0.7),  # inside the crowd region -> ignored
        _det(2, 1, [0, 0, 10, 10], 0.6),  # only a crowd region in this image -> ignored
        _det(2, 1, [200, 200, 10, 10], 0.5),  # outside everything -> fp
    ]
    ev = assert_same_as_pycocotools(gt, dt)
    assert ev.predictions["match"].tolist() == ["tp", "ignored", "ignored", "ignored", "fp"]
    assert ev.predictions["matched_gt"].tolist() == [2, 1, 1, 3, None]
    assert ev.ground_truth["match"].tolist() == ["ignored", "tp", "ignored"]
    assert ev.per_class.loc["c1", ["tp", "fp", "fn", "n_gt"]].tolist() == [1, 1, 0, 1]


def test_ties_between_equal_ious_and_scores() -> None:
    # two identical GT boxes: pycocotools lets the later one win an IoU tie
    gt = _gt([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]},
              {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]},
              {"image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10]}])  # fmt: skip
    dt = [_det(2, 1, [0, 0, 10, 10], 0.5), _det(1, 1, [0, 0, 10, 10], 0.5),
          _det(1, 1, [50, 0, 10, 10], 0.5), _det(2, 1, [0, 0, 10, 9], 0.5)]  # fmt: skip
    ev = assert_same_as_pycocotools(gt, dt)
    assert ev.predictions.loc[2, "matched_gt"] == 2


def test_size_boundaries_and_area_column() -> None:
    # areas exactly 32**2 and 96**2 belong to two ranges; GT "area" (not w*h) decides the range
    gt = _gt([
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 32, 32]},
        {"image_id": 1, "category_id": 1, "bbox": [100, 0, 96, 96]},
        {"image_id": 2, "category_id": 1, "bbox": [0, 0, 50, 50], "area": 500.0},
        {"image_id": 2, "category_id": 2, "bbox": [200, 0, 20, 20], "area": 5000.0},
    ])  # fmt: skip
    dt = [_det(1, 1, [0, 0, 32, 32], 0.9), _det(1, 1, [100, 0, 96, 96], 0.8),
          _det(2, 1, [0, 0, 50, 50], 0.7), _det(2, 2, [200, 0, 20, 20], 0.6),
          _det(2, 2, [300, 0, 10, 10], 0.95), _det(2, 1, [0, 300, 200, 200], 0.99)]  # fmt: skip
    ev = assert_same_as_pycocotools(gt, dt)
    sizes = ev.ap_by_size
    assert list(sizes.columns) == ["small", "medium", "large"]
    assert sizes.index[-1] == "(all classes)"
    np.testing.assert_allclose(sizes.iloc[-1].to_numpy(), ev.coco_stats[3:6])


def test_more_than_100_detections_and_empty_images() -> None:
    gt = _gt([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50]}], n_images=4)
    rng = np.random.default_rng(0)
    dt = [_det(1, 1, [float(x), 0, 50, 50], float(s))
          for x, s in zip(rng.uniform(0, 30, 130), rng.random(130), strict=True)]  # fmt: skip
    dt.append(_det(3, 2, [0, 0, 5, 5], 0.3))  # category 2 has no GT at all
    ev = assert_same_as_pycocotools(gt, dt)
    assert (ev.predictions["match"] == "ignored").sum() == 30
    assert ev.per_class.loc["c2", "fp"] == 1 and np.isnan(ev.per_class.loc["c2", "AP"])


def test_zero_size_detection_and_category_absent_everywhere() -> None:
    gt = _gt([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]}], cats=(1, 2, 3))
    dt = [_det(1, 1, [0, 0, 0, 10], 0.9), _det(1, 1, [0, 0, 10, 10], 0.8)]
    ev = assert_same_as_pycocotools(gt, dt)
    assert ev.predictions["iou"].tolist() == [0.0, 1.0]


def test_no_detections_at_all() -> None:
    # pycocotools cannot load an empty result list; the answer is known: AP 0 where GT exists
    gt = _gt([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]}])
    ev = evaluate_detections(gt, [], progress=False)
    assert ev.coco_stats.tolist() == [0, 0, 0, 0, -1, -1, 0, 0, 0, 0, -1, -1]
    assert ev.ground_truth["match"].tolist() == ["fn"]
    assert len(ev.predictions) == 0 and ev.recall == 0.0 and np.isnan(ev.precision)


def test_no_ground_truth_at_all() -> None:
    gt = _gt([], n_images=2)
    ev = assert_same_as_pycocotools(gt, [_det(1, 1, [0, 0, 10, 10], 0.5)])
    assert (ev.coco_stats == -1).all()
    assert ev.predictions["match"].tolist() == ["fp"]


def test_json_paths_and_summary(tmp_path) -> None:
    gt, dt = make_case(3)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dt))
    ev = evaluate_detections(str(tmp_path / "gt.json"), tmp_path / "dt.json", progress=False)
    np.testing.assert_array_equal(ev.coco_stats, pycocotools_eval(gt, dt).stats)
    assert list(ev.coco_summary.index) == list(COCO_STAT_NAMES)
    assert "AP50" in ev._repr_html_() and "DetectionEvaluation(" in repr(ev)
    per_class = ev.per_class
    assert np.nanmean(per_class["AP"]) == pytest.approx(ev.coco_stats[0], abs=1e-12)
    assert np.nanmean(per_class["AP50"]) == pytest.approx(ev.coco_stats[1], abs=1e-12)


def test_progress_bar_does_not_change_results(capsys) -> None:
    gt, dt = make_case(5, n_images=1000, n_classes=4)
    quiet = evaluate_detections(gt, dt, progress=False)
    loud = evaluate_detections(gt, dt, progress=True)
    np.testing.assert_array_equal(quiet.coco_stats, loud.coco_stats)
    assert "COCO matching" in capsys.readouterr().err
