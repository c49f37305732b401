"""Per-object results, live thresholds, confusion matrix, DataFrame inputs and validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbdiag.evaluation.detection import (
    BACKGROUND,
    IOU_THRESHOLDS,
    DetectionEvaluation,
    box_iou,
    evaluate_detections,
)

from .coco_cases import brute_force_matches, make_case, pycocotools_eval

THRESHOLDS = [(0.5, 0.0), (0.3, 0.25), (0.62, 0.5), (0.75, -1.0), (0.9, 0.05), (1.0, 0.0)]


# ---------------------------------------------------------------- per-object results
@pytest.mark.parametrize("seed", range(12))
def test_per_object_matches_brute_force(seed: int) -> None:
    gt, dt = make_case(seed)
    ev = evaluate_detections(gt, dt, progress=False)
    for iou, score in THRESHOLDS:
        ev.set_thresholds(iou=iou, score=score)
        preds, truth = brute_force_matches(gt, dt, iou, score)
        p = ev.predictions
        assert sorted(p.index) == sorted(preds)
        got = {i: (m, g) for i, m, g in zip(p.index, p["match"], p["matched_gt"], strict=True)}
        assert got == preds
        g = ev.ground_truth
        got_gt = {i: (m, d) for i, m, d in zip(g.index, g["match"], g["matched_pred"], strict=True)}
        assert got_gt == truth
        # counts are consistent with the summary numbers
        n_tp = sum(m == "tp" for m, _ in preds.values())
        n_fp = sum(m == "fp" for m, _ in preds.values())
        n_gt = sum(m != "ignored" for m, _ in truth.values())
        pc = ev.per_class
        assert (pc["tp"].sum(), pc["fp"].sum(), pc["n_gt"].sum()) == (n_tp, n_fp, n_gt)
        assert pc["fn"].sum() == sum(m == "fn" for m, _ in truth.values())
        assert ev.recall == pytest.approx(n_tp / n_gt) if n_gt else np.isnan(ev.recall)
        assert ev.precision == pytest.approx(n_tp / (n_tp + n_fp)) if n_tp + n_fp else True


@pytest.mark.parametrize("seed", range(6))
def test_per_object_counts_agree_with_coco_recall(seed: int) -> None:
    """At a COCO IoU threshold with every prediction, per-class recall is COCO's (all, 100)."""
    gt, dt = make_case(seed)
    ev = evaluate_detections(gt, dt, progress=False, score_threshold=-np.inf)
    for t in (0, 5, 9):
        ev.set_thresholds(iou=IOU_THRESHOLDS[t])
        coco = ev.coco_recall[t, :, 0, 2]
        pc = ev.per_class
        has_gt = pc["n_gt"].to_numpy() > 0
        np.testing.assert_allclose(
            pc["recall"].to_numpy()[has_gt], coco[has_gt], rtol=0, atol=1e-15
        )


def test_iou_columns() -> None:
    gt, dt = make_case(7)
    ev = evaluate_detections(gt, dt, progress=False)
    boxes = {a["id"]: a["bbox"] for a in gt["annotations"]}
    p = ev.predictions
    tp = p[p["match"] == "tp"]
    for pid, row in tp.iterrows():
        expected = box_iou([dt[pid - 1]["bbox"]], [boxes[row["matched_gt"]]])[0, 0]
        assert row["iou"] == expected
    g = ev.ground_truth
    matched = g[g["matched"]]
    assert np.array_equal(
        matched["iou"].to_numpy(), p.loc[matched["matched_pred"].tolist(), "iou"].to_numpy()
    )
    fp = p[p["match"] == "fp"]
    # a FP overlapping a same-class GT enough lost it to a higher-scoring prediction, unless it
    # overlaps a GT of another class as well (TIDE tests the class error before the duplicate)
    assert fp.loc[fp["iou"] >= 0.5, "error_type"].isin(["duplicate", "classification"]).all()
    assert (fp["error_type"] == "duplicate").sum() > 0
    assert fp["error_type"].notna().all() and tp["error_type"].isna().all()
    # a missed GT is "missed" unless a classification / localization FP points at it
    fn = g[g["match"] == "fn"]
    assert fn["error_type"].notna().all() and g.loc[g["match"] != "fn", "error_type"].isna().all()
    assert set(fn["error_type"]) == {"missed", "classification", "localization"}
    found = fn[fn["error_type"] != "missed"]
    by = p.loc[found["error_pred"].tolist()]
    assert by["error_type"].tolist() == found["error_type"].tolist()
    assert by["error_gt"].tolist() == found.index.tolist()
    assert fn.loc[fn["error_type"] == "missed", "error_pred"].isna().all()


# ---------------------------------------------------------------- live thresholds
@pytest.mark.parametrize("seed", range(8))
def test_live_thresholds_equal_a_fresh_evaluation(seed: int) -> None:
    gt, dt = make_case(seed)
    live = evaluate_detections(gt, dt, progress=False)
    for iou, score in THRESHOLDS:
        live.set_thresholds(iou=iou, score=score)
        fresh = evaluate_detections(
            gt, dt, iou_threshold=iou, score_threshold=score, progress=False
        )
        pd.testing.assert_frame_equal(live.predictions, fresh.predictions)
        pd.testing.assert_frame_equal(live.ground_truth, fresh.ground_truth)
        pd.testing.assert_frame_equal(live.per_class, fresh.per_class)
        pd.testing.assert_frame_equal(live.confusion_matrix(), fresh.confusion_matrix())
        pd.testing.assert_frame_equal(live.confusion_pairs, fresh.confusion_pairs)
        pd.testing.assert_frame_equal(live.pr_curve(), fresh.pr_curve())
        assert (live.precision, live.recall, live.f1) == pytest.approx(
            (fresh.precision, fresh.recall, fresh.f1), nan_ok=True
        )


def test_set_thresholds_never_recomputes_iou(monkeypatch) -> None:
    from nbdiag.evaluation.detection import _coco

    gt, dt = make_case(2)
    ev = evaluate_detections(gt, dt, progress=False)
    _ = ev.confusion_matrix()  # cross-class overlaps are cached on first use
    _ = ev.error_breakdown("coco")

    def boom(*args, **kwargs):
        raise AssertionError("IoU recomputed")

    monkeypatch.setattr(_coco, "iou_indexed", boom)
    monkeypatch.setattr(_coco.Index, "pair_ious", boom)  # the one IoU switch (box or mask)
    for iou in (0.33, 0.66, 0.99):
        ev.set_thresholds(iou=iou, score=0.2)
        _ = ev.predictions, ev.ground_truth, ev.confusion_matrix(), ev.per_class
        _ = ev.error_breakdown(), ev.error_breakdown("coco")


def test_threshold_validation() -> None:
    gt, dt = make_case(1)
    ev = evaluate_detections(gt, dt, progress=False)
    with pytest.raises(ValueError, match="iou_threshold"):
        ev.set_thresholds(iou=0)
    with pytest.raises(ValueError, match="iou_threshold"):
        evaluate_detections(gt, dt, iou_threshold=1.5)
    with pytest.raises(ValueError, match="score_threshold"):
        ev.set_thresholds(score=float("nan"))


def test_pr_curve() -> None:
    gt, dt = make_case(4)
    ev = evaluate_detections(gt, dt, progress=False, score_threshold=0.5)
    curve = ev.pr_curve()
    assert list(curve.columns) == ["score", "precision", "recall", "tp", "fp"]
    assert (np.diff(curve["score"]) <= 0).all() and (np.diff(curve["recall"]) >= 0).all()
    n_eval = (ev.set_thresholds(score=-np.inf).predictions["match"] != "ignored").sum()
    assert len(curve) == n_eval  # the curve sweeps the score threshold: all predictions
    name = ev.per_class.index[ev.per_class["n_gt"].argmax()]
    one = ev.pr_curve(name, interpolated=True)
    assert (np.diff(one["precision"]) <= 0).all()
    assert one["recall"].iloc[-1] == pytest.approx(ev.per_class.loc[name, "recall"])
    with pytest.raises(KeyError, match="unknown class"):
        ev.pr_curve("no such class")


# ---------------------------------------------------------------- confusion matrix
def _hand_case() -> tuple[dict, list]:
    gt = {
        "images": [{"id": 1}, {"id": 2}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 3, "name": "car"}],
        "annotations": [
            {"id": 11, "image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50], "area": 2500, "iscrowd": 0},
            {"id": 12, "image_id": 1, "category_id": 2, "bbox": [100, 0, 50, 50], "area": 2500, "iscrowd": 0},
            {"id": 13, "image_id": 1, "category_id": 3, "bbox": [200, 0, 50, 50], "area": 2500, "iscrowd": 0},
            {"id": 14, "image_id": 2, "category_id": 2, "bbox": [0, 0, 40, 40], "area": 1600, "iscrowd": 0},
            {"id": 15, "image_id": 2, "category_id": 1, "bbox": [300, 300, 40, 40], "area": 1600, "iscrowd": 1},
        ],
    }  # fmt: skip
    dt = [
        {"image_id": 1, "category_id": 1, "bbox": [1, 1, 50, 50], "score": 0.9},  # 1: cat TP
        {"image_id": 1, "category_id": 1, "bbox": [101, 0, 50, 50], "score": 0.8},  # 2: dog called cat
        {"image_id": 1, "category_id": 2, "bbox": [400, 400, 30, 30], "score": 0.7},  # 3: FP on background
        {"image_id": 2, "category_id": 2, "bbox": [0, 0, 40, 41], "score": 0.95},  # 4: dog TP
        {"image_id": 2, "category_id": 2, "bbox": [0, 1, 40, 40], "score": 0.6},  # 5: duplicate -> background
        {"image_id": 2, "category_id": 1, "bbox": [301, 301, 38, 38], "score": 0.5},  # 6: in a crowd region
        {"image_id": 1, "category_id": 3, "bbox": [0, 0, 50, 50], "score": 0.1},  # 7: below score threshold
    ]  # fmt: skip
    # GT 13 (car) is missed
    return gt, dt


def test_confusion_matrix_hand_built() -> None:
    gt, dt = _hand_case()
    ev = evaluate_detections(gt, dt, score_threshold=0.2, progress=False)
    cm = ev.confusion_matrix()
    names = ["cat", "dog", "car", BACKGROUND]
    assert list(cm.index) == names and list(cm.columns) == names
    assert cm.index.name == "true" and cm.columns.name == "predicted"
    expected = pd.DataFrame(
        [[1, 0, 0, 0],  # cat: TP
         [1, 1, 0, 0],  # dog: one called cat (class confusion), one TP
         [0, 0, 0, 1],  # car: missed
         [0, 2, 0, 0]],  # background: FP dog on nothing, duplicate dog
        index=cm.index, columns=cm.columns,
    )  # fmt: skip
    pd.testing.assert_frame_equal(cm, expected)
    # sums to (non-crowd) GT + predictions left unmatched
    pairs = ev.confusion_pairs
    n_gt = (~ev.ground_truth["iscrowd"]).sum()
    assert cm.to_numpy().sum() == n_gt + (pairs["gt_id"].isna()).sum() == 6
    # cell members, for a widget
    swap = pairs[(pairs["true_class"] == "dog") & (pairs["pred_class"] == "cat")]
    assert swap[["pred_id", "gt_id", "kind"]].values.tolist() == [[2, 12, "confusion"]]
    bg = pairs[pairs["true_class"] == BACKGROUND]
    assert sorted(bg["pred_id"]) == [3, 5] and bg["gt_id"].isna().all()
    missed = pairs[pairs["pred_class"] == BACKGROUND]
    assert missed[["gt_id", "kind"]].values.tolist() == [[13, "fn"]]
    # per-object view agrees: pred 2 is a FP of class "cat" hinted as a classification error
    p = ev.predictions
    assert p.loc[2, "match"] == "fp" and p.loc[2, "error_type"] == "classification"
    assert p.loc[5, "error_type"] == "duplicate" and p.loc[3, "error_type"] == "background"
    assert p.loc[6, "match"] == "ignored" and 7 not in p.index
    # normalisations
    rows = ev.confusion_matrix("true")
    np.testing.assert_allclose(rows.sum(axis=1), [1, 1, 1, 1])
    cols = ev.confusion_matrix("pred")
    np.testing.assert_allclose(cols.sum(axis=0), [1, 1, 0, 1])
    assert ev.confusion_matrix("all").to_numpy().sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="normalize"):
        ev.confusion_matrix("rows")
    # a lower IoU threshold than the swap's overlap keeps it; a higher one sends it to background
    ev.set_thresholds(iou=0.99)
    cm99 = ev.confusion_matrix()
    assert cm99.loc["dog", "cat"] == 0 and cm99.loc[BACKGROUND].sum() == 5


@pytest.mark.parametrize("seed", range(10))
def test_confusion_matrix_invariants(seed: int) -> None:
    gt, dt = make_case(seed)
    ev = evaluate_detections(gt, dt, progress=False, score_threshold=0.3, iou_threshold=0.4)
    cm = ev.confusion_matrix().to_numpy()
    g, p = ev.ground_truth, ev.predictions
    k = len(ev.class_names)
    assert cm[k, k] == 0
    # every non-crowd GT once; diagonal = TP; row sums = GT per class
    assert cm[:k].sum() == (~g["iscrowd"]).sum()
    assert np.trace(cm[:k, :k]) == (p["match"] == "tp").sum()
    np.testing.assert_array_equal(cm[:k].sum(axis=1), ev.per_class["n_gt"].to_numpy())
    # every evaluated prediction once
    assert cm[:, :k].sum() == (p["match"] != "ignored").sum()
    pairs = ev.confusion_pairs
    assert pairs["pred_id"].dropna().is_unique and pairs["gt_id"].dropna().is_unique
    conf = pairs[pairs["kind"] == "confusion"]
    assert (conf["iou"] >= 0.4).all() and (
        conf["true_class"].astype(str) != conf["pred_class"].astype(str)
    ).all()


# ---------------------------------------------------------------- DataFrame / Dataset inputs
def _frames(gt: dict, dt: list) -> tuple[pd.DataFrame, pd.DataFrame, list, list]:
    names = {c["id"]: c["name"] for c in gt["categories"]}
    g = pd.DataFrame(
        {
            "sample_id": [a["image_id"] for a in gt["annotations"]],
            "label": [names[a["category_id"]] for a in gt["annotations"]],
            "x": [a["bbox"][0] for a in gt["annotations"]],
            "y": [a["bbox"][1] for a in gt["annotations"]],
            "w": [a["bbox"][2] for a in gt["annotations"]],
            "h": [a["bbox"][3] for a in gt["annotations"]],
            "area": [a["area"] for a in gt["annotations"]],
            "iscrowd": [bool(a["iscrowd"]) for a in gt["annotations"]],
        },
        index=pd.Index([a["id"] for a in gt["annotations"]], name="object_id"),
    )
    p = pd.DataFrame(
        {
            "sample_id": [d["image_id"] for d in dt],
            "label": [names[d["category_id"]] for d in dt],
            "x": [d["bbox"][0] for d in dt],
            "y": [d["bbox"][1] for d in dt],
            "w": [d["bbox"][2] for d in dt],
            "h": [d["bbox"][3] for d in dt],
            "score": [d["score"] for d in dt],
        },
        index=pd.Index([f"p{i + 1}" for i in range(len(dt))], name="object_id"),
    )
    images = [i["id"] for i in gt["images"]]
    classes = [names[c] for c in sorted(names)]
    return g, p, images, classes


@pytest.mark.parametrize("seed", range(5))
def test_from_frames_equals_coco(seed: int) -> None:
    gt, dt = make_case(seed)
    g, p, images, classes = _frames(gt, dt)
    ev = DetectionEvaluation.from_frames(g, p, images, classes, progress=False)
    np.testing.assert_array_equal(ev.coco_stats, pycocotools_eval(gt, dt).stats)
    coco = evaluate_detections(gt, dt, progress=False)
    a, b = ev.predictions, coco.predictions
    assert list(a.index) == [f"p{i}" for i in b.index]
    assert a["match"].tolist() == b["match"].tolist()
    assert a["matched_gt"].tolist() == b["matched_gt"].tolist()
    pred_ids = ["matched_pred", "error_pred"]  # prediction ids differ: "p1" vs 1
    pd.testing.assert_frame_equal(
        ev.ground_truth.drop(columns=pred_ids), coco.ground_truth.drop(columns=pred_ids)
    )
    assert a["error_type"].tolist() == b["error_type"].tolist()
    assert a["error_gt"].tolist() == b["error_gt"].tolist()
    # without an area column, w * h decides the size ranges
    no_area = DetectionEvaluation.from_frames(
        g.drop(columns="area"), p, images, classes, progress=False
    )
    for a in gt["annotations"]:
        a["area"] = a["bbox"][2] * a["bbox"][3]
    np.testing.assert_array_equal(no_area.coco_stats, pycocotools_eval(gt, dt).stats)


def test_to_frame_joins_objects() -> None:
    gt, dt = make_case(9)
    g, p, images, classes = _frames(gt, dt)
    ev = DetectionEvaluation.from_frames(g, p, images, classes, progress=False, score_threshold=0.4)
    frame = ev.to_frame()
    assert frame.index.is_unique and len(frame) == len(g) + (p["score"] >= 0.4).sum()
    assert set(frame["role"]) == {"pred", "gt"}
    assert frame["match"].dtype == "category" and set(frame["match"].dropna()) <= {
        "tp",
        "fp",
        "fn",
        "ignored",
    }


def test_from_dataset() -> None:
    from nbdiag.dataset import Dataset

    gt, dt = make_case(11)
    g, p, images, classes = _frames(gt, dt)
    ds = Dataset(pd.DataFrame(index=pd.Index(images[::-1], name="id")), g, class_names=classes)
    ds.add_run("model", p.reset_index())
    ev = DetectionEvaluation.from_dataset(ds, "model", progress=False)
    np.testing.assert_array_equal(ev.coco_stats, pycocotools_eval(gt, dt).stats)
    assert set(ev.predictions.index) <= set(ds.run_boxes("model").index)
    assert list(ev.ground_truth.index) == list(ds.gt_objects.index)
    # what ds.evaluate(run) returns for a detection run
    via_ds = ds.evaluate("model", progress=False, iou_threshold=0.6)
    assert isinstance(via_ds, DetectionEvaluation) and via_ds.iou_threshold == 0.6
    np.testing.assert_array_equal(via_ds.coco_stats, ev.coco_stats)


def test_from_coco_loaded_dataset() -> None:
    """A Dataset built by nbdiag.io.coco evaluates to pycocotools' numbers (uses ``area``)."""
    coco_io = pytest.importorskip("nbdiag.io.coco")
    gt, dt = make_case(13)
    for im in gt["images"]:  # generated boxes may leave the image; do not check sizes
        del im["width"], im["height"]
    ds = coco_io.from_coco(gt, predictions={"model": dt}, check_images=False)
    ev = DetectionEvaluation.from_dataset(ds, "model", progress=False)
    np.testing.assert_allclose(ev.coco_stats, pycocotools_eval(gt, dt).stats, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- validation
def _tiny() -> tuple[dict, list]:
    gt = {
        "images": [{"id": 1}, {"id": 2}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [0, 0, 5, 5],
                "area": 25,
                "iscrowd": 0,
            }
        ],
    }
    dt = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5},
          {"image_id": 2, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.4}]  # fmt: skip
    return gt, dt


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda gt, dt: dt[1].update(image_id=99), r"results\[1\].*image_id.*99"),
        (lambda gt, dt: dt[0].update(category_id=7), r"results\[0\].*category_id.*7"),
        (lambda gt, dt: dt[1].update(score=float("nan")), r"NaN or infinite score.*results\[1\]"),
        (
            lambda gt, dt: dt[1].update(bbox=[0, 0, -1, 5]),
            r"negative width or height.*results\[1\]",
        ),
        (lambda gt, dt: dt[0].update(bbox=[0, 0, 5]), r"results\[0\].*bbox"),
        (lambda gt, dt: dt[0].pop("score"), r"results\[0\].*'score'"),
        (
            lambda gt, dt: gt["annotations"][0].update(bbox=[0, 0, 5, -2]),
            r"negative width or height.*1",
        ),
        (
            lambda gt, dt: gt["annotations"].append(dict(gt["annotations"][0])),
            r"duplicate annotation ids.*1",
        ),
        (lambda gt, dt: gt["annotations"][0].update(image_id=5), r"annotations.*image_id.*5"),
    ],
)
def test_coco_errors_name_the_offending_item(mutate, message) -> None:
    gt, dt = _tiny()
    mutate(gt, dt)
    with pytest.raises(ValueError, match=message):
        evaluate_detections(gt, dt, progress=False)


def test_coco_type_errors() -> None:
    gt, dt = _tiny()
    with pytest.raises(TypeError, match="results list"):
        evaluate_detections(gt, {"not": "a list"})
    with pytest.raises(TypeError, match="instances dict"):
        evaluate_detections([1, 2], dt)


@pytest.mark.parametrize(
    ("which", "column", "value", "message"),
    [
        ("pred", "sample_id", "nope", r"'p2'.*sample_id.*'nope'"),
        ("pred", "label", "zebra", r"'p1'.*unknown class.*'zebra'"),
        ("pred", "score", np.nan, r"NaN or infinite score.*'p2'"),
        ("pred", "w", -3.0, r"negative width or height.*'p1'"),
        ("gt", "h", -1.0, r"negative width or height.*'g1'"),
        ("gt", "label", "zebra", r"'g1'.*unknown class"),
    ],
)
def test_frame_errors_name_the_offending_item(which, column, value, message) -> None:
    g = pd.DataFrame(
        {"sample_id": ["i1"], "label": ["a"], "x": [0.0], "y": [0.0], "w": [5.0], "h": [5.0]},
        index=["g1"],
    )
    p = pd.DataFrame(
        {
            "sample_id": ["i1", "i2"],
            "label": ["a", "a"],
            "x": [0.0, 1],
            "y": [0.0, 1],
            "w": [5.0, 5],
            "h": [5.0, 5],
            "score": [0.5, 0.4],
        },
        index=["p1", "p2"],
    )
    frame = p if which == "pred" else g
    frame[column] = frame[column].astype(object)
    frame.loc[
        frame.index[-1] if which == "pred" and column in ("sample_id", "score") else frame.index[0],
        column,
    ] = value
    with pytest.raises(ValueError, match=message):
        DetectionEvaluation.from_frames(g, p, ["i1", "i2"], ["a", "b"], progress=False)


def test_box_iou_matches_pycocotools() -> None:
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(0)
    d = np.round(rng.uniform(0, 50, (30, 4)), 1)
    g = np.round(rng.uniform(0, 50, (20, 4)), 1)
    crowd = rng.random(20) < 0.3
    expected = np.asarray(mask_utils.iou(d.tolist(), g.tolist(), crowd.astype(int).tolist()))
    assert np.array_equal(box_iou(d, g, crowd), expected)
