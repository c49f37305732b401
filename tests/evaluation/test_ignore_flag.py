"""Ground truth flagged "ignore" (VOC's difficult objects): ``ignore="difficult"``.

Oracles: pycocotools itself, with ``gt["ignore"]`` set from the flag after its ``_prepare``
(so its ``gtIgnore`` machinery, the one area ranges use, does the work) for the 12 COCO numbers,
the accumulated arrays and the per-object matches (``evalImgs``) at any IoU threshold; and a
VOC-style AP@0.5 computed by hand on a tiny case.
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from nbdiag.evaluation.detection import DetectionEvaluation, evaluate_detections

from .coco_cases import _jitter, make_case, pycocotools_eval

SEEDS = range(24)


# ---------------------------------------------------------------- generated cases
def difficult_case(seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """:func:`make_case` with about a third of the annotations flagged ``difficult`` (as True,
    1, False, 0 or absent), detections on the difficult boxes (duplicates, tied scores), and
    regular boxes on top of some difficult ones (jittered or exact copies: IoU ties)."""
    gt, dt = make_case(seed)
    rng = np.random.default_rng(10_000 + seed)
    anns = gt["annotations"]
    next_id = max([a["id"] for a in anns], default=0) + 1
    extra_gt: list[dict[str, Any]] = []
    extra_dt: list[dict[str, Any]] = []
    integer = all(float(v).is_integer() for a in anns for v in a["bbox"])
    for a in anns:
        r = rng.random()
        if r < 0.35:
            a["difficult"] = True if rng.random() < 0.7 else 1
            for _ in range(int(rng.integers(0, 4))):  # detections on the difficult box
                b = _jitter(rng, a["bbox"], float(rng.choice([0.0, 0.03, 0.1])))
                extra_dt.append(
                    {
                        "image_id": a["image_id"],
                        "category_id": a["category_id"],
                        "bbox": [float(round(v)) for v in b] if integer else b,
                        "score": float(rng.choice([0.5, 0.7, 0.9])),  # ties
                    }
                )
            if rng.random() < 0.35:  # a regular box on top of it: the regular one must win
                b = list(a["bbox"]) if rng.random() < 0.5 else _jitter(rng, a["bbox"], 0.04)
                extra_gt.append(
                    {
                        "id": next_id,
                        "image_id": a["image_id"],
                        "category_id": a["category_id"],
                        "bbox": b,
                        "area": b[2] * b[3],
                        "iscrowd": 0,
                        "difficult": False,
                    }
                )
                next_id += 1
        elif r < 0.6:
            a["difficult"] = False
        elif r < 0.7:
            a["difficult"] = 0
        # else: no key (read as False)
    gt["annotations"] = anns + extra_gt
    order = rng.permutation(len(dt) + len(extra_dt))
    both = dt + extra_dt
    return gt, [both[i] for i in order]


class _IgnoringCOCOeval(COCOeval):
    """pycocotools with per-annotation ignore flags: ``_prepare`` sets ``gt["ignore"]`` from
    ``iscrowd``; we add the flag on top, after it (evaluateImg then treats those as it treats
    ground truth outside the area range)."""

    flag = "difficult"

    def _prepare(self) -> None:
        super()._prepare()
        for gts in self._gts.values():
            for g in gts:
                if g.get(self.flag):
                    g["ignore"] = 1


def _oracle(gt: dict[str, Any], dt: list[dict[str, Any]], **params: Any) -> _IgnoringCOCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(dt))
        ev = _IgnoringCOCOeval(coco_gt, coco_dt, "bbox")
        for k, v in params.items():
            setattr(ev.params, k, v)
        ev.evaluate()
        if not params:
            ev.accumulate()
            ev.summarize()
    return ev


def oracle_objects(
    gt: dict[str, Any], dt: list[dict[str, Any]], iou: float, score: float = 0.0
) -> tuple[dict[int, tuple[str, Any]], dict[Any, tuple[str, Any]]]:
    """Per-object matches from pycocotools' ``evalImgs`` (area "all", maxDets 100) at one IoU
    threshold, over the detections scoring ``>= score``: ``{pred_id: (match, gt_id)}`` and
    ``{gt_id: (match, pred_id)}``; prediction ids are 1-based positions in ``dt``."""
    kept = [i for i, d in enumerate(dt) if d["score"] >= score]
    ev = _oracle(
        gt,
        [dt[i] for i in kept],
        iouThrs=np.array([iou]),
        areaRng=[[0.0, 1e10]],
        areaRngLbl=["all"],
        maxDets=[100],
    )
    pid = {k + 1: i + 1 for k, i in enumerate(kept)}  # oracle's result id -> position in dt
    preds: dict[int, tuple[str, Any]] = {pid[k]: ("ignored", None) for k in pid}  # beyond 100
    truth: dict[Any, tuple[str, Any]] = {}
    for e in ev.evalImgs:
        if e is None:
            continue
        for j, d in enumerate(e["dtIds"]):
            m = int(e["dtMatches"][0, j])
            status = "ignored" if e["dtIgnore"][0, j] else ("tp" if m else "fp")
            preds[pid[d]] = (status, m or None)
        for j, g in enumerate(e["gtIds"]):
            m = int(e["gtMatches"][0, j])
            if e["gtIgnore"][j]:
                truth[g] = ("ignored", None)
            else:
                truth[g] = ("tp", pid[m]) if m else ("fn", None)
    return preds, truth


def _got_objects(ev: DetectionEvaluation) -> tuple[dict, dict]:
    p, g = ev.predictions, ev.ground_truth
    preds = dict(zip(p.index, zip(p["match"], p["matched_gt"], strict=True), strict=True))
    truth = dict(zip(g.index, zip(g["match"], g["matched_pred"], strict=True), strict=True))
    return preds, truth


def _flags(gt: dict[str, Any]) -> dict[Any, bool]:
    return {a["id"]: bool(a.get("difficult", False)) for a in gt["annotations"]}


# ---------------------------------------------------------------- COCO numbers
@pytest.mark.parametrize("seed", SEEDS)
def test_coco_numbers_equal_pycocotools_with_ignore(seed: int) -> None:
    gt, dt = difficult_case(seed)
    ev = evaluate_detections(gt, dt, ignore="difficult", progress=False)
    oracle = _oracle(gt, dt)
    np.testing.assert_allclose(ev.coco_stats, oracle.stats, rtol=0, atol=1e-12)
    assert np.array_equal(ev.coco_precision, oracle.eval["precision"])
    assert np.array_equal(ev.coco_recall, oracle.eval["recall"])
    assert ev.ignore == "difficult"


def test_generated_cases_exercise_the_flag() -> None:
    """The cases hold what the claim is about: flagged boxes matched, flagged boxes that decide
    a match (a detection that would be a TP or FP without the flag), regular-vs-flagged ties."""
    seen = set()
    for seed in SEEDS:
        gt, dt = difficult_case(seed)
        with_flag = evaluate_detections(gt, dt, ignore="difficult", progress=False)
        plain = evaluate_detections(gt, dt, progress=False)
        flags = _flags(gt)
        p = with_flag.predictions
        on_flag = pd.Series([flags.get(g, False) for g in p["matched_gt"]], index=p.index)
        if (on_flag & (p["match"] == "ignored")).any():
            seen.add("detection on a difficult box")
        changed = plain.predictions["match"] != p["match"]
        if changed.any():
            seen.add("a match decided by the flag")
        if not np.array_equal(with_flag.coco_stats, plain.coco_stats):
            seen.add("different COCO numbers")
        if len(set(d["score"] for d in dt)) < len(dt):
            seen.add("score ties")
        if len(gt["images"]) > 10:
            seen.add("many images")
    assert len(seen) == 5, seen


def test_larger_case_with_ignore() -> None:
    gt, dt = make_case(777, n_images=200, n_classes=12)
    rng = np.random.default_rng(5)
    for a in gt["annotations"]:
        a["difficult"] = bool(rng.random() < 0.3)
    ev = evaluate_detections(gt, dt, ignore="difficult", progress=False)
    np.testing.assert_allclose(ev.coco_stats, _oracle(gt, dt).stats, rtol=0, atol=1e-12)


def test_no_flag_and_all_false_change_nothing() -> None:
    gt, dt = difficult_case(3)
    baseline = pycocotools_eval(gt, dt)  # "difficult" keys present but not used
    default = evaluate_detections(gt, dt, progress=False)
    assert default.ignore is None
    np.testing.assert_allclose(default.coco_stats, baseline.stats, rtol=0, atol=1e-12)
    for a in gt["annotations"]:
        a["difficult"] = False
    off = evaluate_detections(gt, dt, ignore="difficult", progress=False)
    np.testing.assert_array_equal(off.coco_stats, default.coco_stats)
    pd.testing.assert_frame_equal(off.predictions, default.predictions)
    pd.testing.assert_frame_equal(off.ground_truth, default.ground_truth)


# ---------------------------------------------------------------- per-object results
@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize(("iou", "score"), [(0.5, 0.0), (0.75, 0.0), (0.3, 0.0), (0.6, 0.55)])
def test_per_object_matches_equal_pycocotools(seed: int, iou: float, score: float) -> None:
    gt, dt = difficult_case(seed)
    ev = evaluate_detections(
        gt, dt, ignore="difficult", iou_threshold=iou, score_threshold=score, progress=False
    )
    preds, truth = oracle_objects(gt, dt, iou, score)
    got_p, got_t = _got_objects(ev)
    assert got_p == preds
    assert got_t == truth


@pytest.mark.parametrize("seed", range(4))
def test_live_thresholds_with_ignore(seed: int) -> None:
    gt, dt = difficult_case(seed)
    ev = evaluate_detections(gt, dt, ignore="difficult", progress=False)
    for iou, score in ((0.65, 0.0), (0.5, 0.3), (0.42, 0.8)):
        ev.set_thresholds(iou=iou, score=score)
        assert _got_objects(ev) == oracle_objects(gt, dt, iou, score)
        fresh = evaluate_detections(
            gt, dt, ignore="difficult", iou_threshold=iou, score_threshold=score, progress=False
        )
        pd.testing.assert_frame_equal(ev.per_class, fresh.per_class)
        pd.testing.assert_frame_equal(ev.confusion_pairs, fresh.confusion_pairs)


@pytest.mark.parametrize("seed", range(8))
def test_downstream_tables_are_consistent(seed: int) -> None:
    gt, dt = difficult_case(seed)
    flags = _flags(gt)
    crowd = {a["id"]: bool(a["iscrowd"]) for a in gt["annotations"]}
    ev = evaluate_detections(gt, dt, ignore="difficult", progress=False)
    g, p = ev.ground_truth, ev.predictions
    ignored = pd.Series({i: flags[i] or crowd[i] for i in g.index})
    # flagged ground truth: ignored, never missed, no error type
    assert (g.loc[ignored[ignored].index, "match"] == "ignored").all()
    assert (g.loc[ignored[~ignored].index, "match"] != "ignored").all()
    assert g.loc[ignored[ignored].index, "error_type"].isna().all()
    # counts: n_gt leaves flagged boxes out; recall and AP agree with the COCO recall
    names = {c["id"]: c["name"] for c in gt["categories"]}
    label = {a["id"]: names[a["category_id"]] for a in gt["annotations"]}
    n_gt = pd.Series([label[i] for i in ignored[~ignored].index]).value_counts()
    pc = ev.per_class
    assert (pc["n_gt"] == n_gt.reindex(pc.index, fill_value=0)).all()
    assert pc["tp"].sum() == (p["match"] == "tp").sum() == (g["match"] == "tp").sum()
    assert pc["fp"].sum() == (p["match"] == "fp").sum()
    assert pc["fn"].sum() == (g["match"] == "fn").sum()
    with_gt = ev.coco_recall[0, :, 0, 2] > -1
    assert np.allclose(pc["recall"].to_numpy()[with_gt], ev.coco_recall[0, with_gt, 0, 2])
    # confusion matrix: every non-ignored ground truth counted once, flagged ones never
    pairs = ev.confusion_pairs
    gt_ids = set(pairs["gt_id"].dropna())
    assert gt_ids == set(ignored[~ignored].index)
    cm = ev.confusion_matrix()
    assert cm.drop(index="background").to_numpy().sum() == int((~ignored).sum())
    # every false positive has an error type; the unfixed AP of the breakdown is COCO's AP50
    assert p.loc[p["match"] == "fp", "error_type"].notna().all()
    eb = ev.error_breakdown()
    assert eb["AP"].iloc[0] == pytest.approx(ev.coco_stats[1], abs=1e-12)
    assert eb.loc["missed", "count"] == (g["error_type"] == "missed").sum()
    assert eb.loc["false_negatives", "count"] == (g["match"] == "fn").sum()
    all_fixed = ev.error_breakdown(iou="coco")
    assert all_fixed["AP"].iloc[0] == pytest.approx(ev.coco_stats[0], abs=1e-12)
    # the PR curve leaves ignored predictions out and ends at the recall
    curve = ev.pr_curve()
    assert len(curve) == (p["match"] != "ignored").sum()
    if len(curve):
        assert curve["recall"].iloc[-1] == pytest.approx(ev.recall)


@pytest.mark.parametrize("seed", range(3))
def test_dataset_path_equals_pycocotools(seed: int) -> None:
    """``ds.evaluate(run, ignore="difficult")`` on a Dataset whose objects carry the column."""
    from nbdiag.dataset import Dataset

    gt, dt = difficult_case(seed)
    names = {c["id"]: c["name"] for c in gt["categories"]}
    anns = gt["annotations"]
    g = pd.DataFrame(
        {
            "sample_id": [a["image_id"] for a in anns],
            "label": [names[a["category_id"]] for a in anns],
            "x": [a["bbox"][0] for a in anns],
            "y": [a["bbox"][1] for a in anns],
            "w": [a["bbox"][2] for a in anns],
            "h": [a["bbox"][3] for a in anns],
            "area": [a["area"] for a in anns],
            "iscrowd": [bool(a["iscrowd"]) for a in anns],
            "difficult": [bool(a.get("difficult", False)) for a in anns],
        },
        index=pd.Index([a["id"] for a in anns], name="object_id"),
    )
    p = pd.DataFrame(
        {
            "object_id": [f"p{i + 1}" for i in range(len(dt))],
            "sample_id": [d["image_id"] for d in dt],
            "label": [names[d["category_id"]] for d in dt],
            "x": [d["bbox"][0] for d in dt],
            "y": [d["bbox"][1] for d in dt],
            "w": [d["bbox"][2] for d in dt],
            "h": [d["bbox"][3] for d in dt],
            "score": [d["score"] for d in dt],
        }
    )
    images = [i["id"] for i in gt["images"]]
    classes = [names[c] for c in sorted(names)]
    ds = Dataset(pd.DataFrame(index=pd.Index(images, name="id")), g, class_names=classes)
    ds.add_run("model", p)
    ev = ds.evaluate("model", ignore="difficult", progress=False)
    assert isinstance(ev, DetectionEvaluation) and ev.ignore == "difficult"
    np.testing.assert_allclose(ev.coco_stats, _oracle(gt, dt).stats, rtol=0, atol=1e-12)
    preds, truth = oracle_objects(gt, dt, 0.5)
    got_p, got_t = _got_objects(ev)
    assert {int(k[1:]): (m, None if pd.isna(g) else g) for k, (m, g) in got_p.items()} == preds
    assert {k: (m, None if pd.isna(d) else int(d[1:])) for k, (m, d) in got_t.items()} == truth
    # default: unchanged behaviour (the column is just a column)
    plain = ds.evaluate("model", progress=False)
    np.testing.assert_allclose(plain.coco_stats, pycocotools_eval(gt, dt).stats, atol=1e-12)


# ---------------------------------------------------------------- VOC-style hand computation
def test_voc_style_ap50_by_hand() -> None:
    """One image, one class: GT A, C regular, B difficult, D regular on top of difficult E.

    Detections by score: d1 on A (TP), d2 on B (ignored), d3 background (FP), d4 on C (TP),
    d5 on D/E (exact copy of both: the regular D wins: TP), d6 on D/E again (E is flagged and
    free: ignored), d7 on B again (B taken: FP, a duplicate).
    VOC counts, ignoring d2 and d6: TP FP TP TP FP over 3 positives (A, C, D).
    """
    boxes = {
        "A": [0, 0, 10, 10],
        "B": [20, 0, 10, 10],
        "C": [40, 0, 10, 10],
        "D": [60, 0, 10, 10],
        "E": [60, 0, 10, 10],
    }
    ids = {"A": 1, "B": 2, "C": 3, "D": 4, "E": 5}
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [
            {
                "id": ids[k],
                "image_id": 1,
                "category_id": 1,
                "bbox": b,
                "area": 100,
                "iscrowd": 0,
                "difficult": k in ("B", "E"),
            }
            for k, b in boxes.items()
        ],
    }
    dets = [
        ([0, 0, 10, 10], 0.9),
        ([20, 0, 10, 10], 0.8),
        ([80, 40, 10, 10], 0.7),
        ([41, 0, 10, 10], 0.6),
        ([60, 0, 10, 10], 0.5),
        ([60, 0, 10, 10], 0.4),
        ([21, 0, 10, 10], 0.3),
    ]
    dt = [{"image_id": 1, "category_id": 1, "bbox": b, "score": s} for b, s in dets]
    ev = evaluate_detections(gt, dt, ignore="difficult", progress=False)
    p, g = ev.predictions, ev.ground_truth
    assert p["match"].tolist() == ["tp", "ignored", "fp", "tp", "tp", "ignored", "fp"]
    assert p["matched_gt"].tolist() == [1, 2, None, 3, 4, 5, None]
    assert p.loc[7, "error_type"] == "duplicate" and p.loc[7, "error_gt"] == 2
    assert p.loc[3, "error_type"] == "background"
    assert g["match"].tolist() == ["tp", "ignored", "tp", "tp", "ignored"]
    # VOC (2010+) all-point AP from the sequence TP FP TP TP FP over 3 positives
    tp = np.array([1, 0, 1, 1, 0])
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    rec, prec = ctp / 3, ctp / (ctp + cfp)  # 1/3 1/3 2/3 1 1; 1 1/2 2/3 3/4 3/5
    env = np.maximum.accumulate(prec[::-1])[::-1]  # 1 3/4 3/4 3/4 3/5
    voc_ap = float(np.sum(np.diff(np.r_[0, rec]) * env))
    assert voc_ap == pytest.approx((1 + 0.75 + 0.75) / 3, abs=1e-12)
    curve = ev.pr_curve(interpolated=True)
    assert curve["tp"].tolist() == ctp.tolist() and curve["fp"].tolist() == cfp.tolist()
    got = float(np.sum(np.diff(np.r_[0, curve["recall"]]) * curve["precision"]))
    assert got == pytest.approx(voc_ap, abs=1e-12)
    # COCO's AP50 samples the same envelope at 101 recall points: 0..0.33 at 1, 0.34..1 at 3/4
    assert ev.coco_stats[1] == pytest.approx((34 * 1.0 + 67 * 0.75) / 101, abs=1e-12)
    assert ev.coco_stats[1] == pytest.approx(_oracle(gt, dt).stats[1], abs=1e-12)
    assert ev.per_class.loc["cat", ["n_gt", "tp", "fp", "fn"]].tolist() == [3, 3, 2, 0]
    # without the flag every box counts: d2 and d6 become true positives, B and E count
    plain = evaluate_detections(gt, dt, progress=False)
    assert plain.predictions["match"].tolist() == ["tp", "tp", "fp", "tp", "tp", "tp", "fp"]
    assert plain.per_class.loc["cat", "n_gt"] == 5


# ---------------------------------------------------------------- argument errors
def test_ignore_argument_errors() -> None:
    gt, dt = difficult_case(1)
    with pytest.raises(TypeError, match="ignore must be the name"):
        evaluate_detections(gt, dt, ignore=True, progress=False)  # type: ignore[arg-type]
    gt["annotations"][0]["difficult"] = "yes"
    with pytest.raises(ValueError, match="'difficult'.*non-boolean.*'yes'"):
        evaluate_detections(gt, dt, ignore="difficult", progress=False)
    g = pd.DataFrame(
        {"sample_id": [1], "label": ["a"], "x": [0.0], "y": [0.0], "w": [1.0], "h": [1.0]}
    )
    pred = g.assign(score=[0.5])
    with pytest.raises(ValueError, match="no such column.*'label'"):
        DetectionEvaluation.from_frames(g, pred, [1], ["a"], ignore="difficult", progress=False)
    g["difficult"] = [2]
    with pytest.raises(ValueError, match="non-boolean.*2"):
        DetectionEvaluation.from_frames(g, pred, [1], ["a"], ignore="difficult", progress=False)
    # missing values and 0/1 are fine
    g["difficult"] = pd.array([pd.NA], dtype="boolean")
    ev = DetectionEvaluation.from_frames(g, pred, [1], ["a"], ignore="difficult", progress=False)
    assert ev.predictions["match"].tolist() == ["tp"]
    g["difficult"] = [1]
    ev = DetectionEvaluation.from_frames(g, pred, [1], ["a"], ignore="difficult", progress=False)
    assert ev.predictions["match"].tolist() == ["ignored"]
    assert ev.ground_truth["match"].tolist() == ["ignored"]
    assert ev.coco_stats[0] == -1  # no ground truth left to evaluate


def test_classification_run_refuses_ignore() -> None:
    from nbdiag.dataset import Dataset

    ds = Dataset(
        pd.DataFrame({"label": ["a", "b"]}, index=pd.Index([1, 2], name="id")),
        class_names=["a", "b"],
    )
    ds.add_run("clf", np.array([[0.9, 0.1], [0.2, 0.8]]))
    with pytest.raises(TypeError, match="ignore"):
        ds.evaluate("clf", ignore="difficult")
