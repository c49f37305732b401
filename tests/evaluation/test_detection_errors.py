"""TIDE-style error attribution and ``error_breakdown`` (the dAP each error type costs).

Oracles: a plain re-implementation of TIDE's definitions (``brute_force_tide``) for the
per-object types, and pycocotools run on COCO files the oracle fixes were applied to, for the
fixed AP; hand-built cases where the answer is known.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nbdiag.evaluation.detection import ERROR_TYPES, evaluate_detections

from .coco_cases import brute_force_tide, make_case, pycocotools_eval

MAIN = list(ERROR_TYPES)
SPECIAL = ["false_positives", "false_negatives"]


def _small_groups(seed: int) -> bool:
    """No (image, class) with close to 100 detections (an oracle fix could push one past it)."""
    _, dt = make_case(seed)
    return max(Counter((d["image_id"], d["category_id"]) for d in dt).values()) <= 90


ORACLE_SEEDS = [s for s in range(24) if _small_groups(s)][:12]


# ---------------------------------------------------------------- per-object attribution
@pytest.mark.parametrize("seed", range(14))
@pytest.mark.parametrize(("iou", "score"), [(0.5, 0.0), (0.3, 0.4), (0.75, 0.0), (0.05, 0.0)])
def test_error_types_match_the_definitions(seed: int, iou: float, score: float) -> None:
    gt, dt = make_case(seed)
    ev = evaluate_detections(gt, dt, iou_threshold=iou, score_threshold=score, progress=False)
    errors, missed = brute_force_tide(gt, dt, iou, score)
    p, g = ev.predictions, ev.ground_truth
    fp = p[p["match"] == "fp"]
    got = {i: (e, t) for i, e, t in zip(fp.index, fp["error_type"], fp["error_gt"], strict=True)}
    assert got == errors
    assert p.loc[p["match"] != "fp", "error_type"].isna().all()
    assert p.loc[p["match"] != "fp", "error_gt"].isna().all()
    fn = g[g["match"] == "fn"]
    got_gt = {
        i: (e, d) for i, e, d in zip(fn.index, fn["error_type"], fn["error_pred"], strict=True)
    }
    assert got_gt == missed
    assert g.loc[g["match"] != "fn", "error_type"].isna().all()


def test_error_columns_in_to_frame() -> None:
    gt, dt = make_case(3)
    ev = evaluate_detections(gt, dt, progress=False)
    frame = ev.to_frame()
    pred = frame[frame["role"] == "pred"]
    truth = frame[frame["role"] == "gt"]
    assert _types(pred) == _types(ev.predictions)
    assert _types(truth) == _types(ev.ground_truth)
    assert pred["error_id"].tolist() == ev.predictions["error_gt"].tolist()
    assert truth["error_id"].tolist() == ev.ground_truth["error_pred"].tolist()
    assert list(frame["error_type"].cat.categories) == MAIN


# ---------------------------------------------------------------- dAP against pycocotools
def _fixed_inputs(
    gt: dict, dt: list, fix: str, errors: dict, missed: dict, preds: dict
) -> tuple[dict, list]:
    """Apply TIDE's oracle fix to COCO inputs (the predictions beyond the top 100 of their image
    and class, never evaluated, are dropped first: removing others must not bring them in)."""
    gt, dt = copy.deepcopy(gt), copy.deepcopy(dt)
    anns = {a["id"]: a for a in gt["annotations"]}
    drop_dt = {pid for pid, (m, on) in preds.items() if m == "ignored" and on is None}
    drop_gt: set[Any] = set()
    if fix == "false_positives":
        drop_dt |= set(errors)
    elif fix == "false_negatives":
        drop_gt |= set(missed)
    elif fix == "missed":
        drop_gt |= {g for g, (kind, _) in missed.items() if kind == "missed"}
    else:
        of_type = {pid: target for pid, (kind, target) in errors.items() if kind == fix}
        drop_dt |= set(of_type)
        if fix in ("classification", "localization"):
            winners: dict[Any, int] = {}
            for pid, target in of_type.items():
                if target in missed:  # unmatched: this error can turn into its true positive
                    best = winners.get(target)
                    key = (-dt[pid - 1]["score"], pid)
                    if best is None or key < (-dt[best - 1]["score"], best):
                        winners[target] = pid
            for target, pid in winners.items():
                drop_dt.discard(pid)
                dt[pid - 1]["category_id"] = anns[target]["category_id"]
                dt[pid - 1]["bbox"] = list(anns[target]["bbox"])
    gt["annotations"] = [a for a in gt["annotations"] if a["id"] not in drop_gt]
    dt = [d for i, d in enumerate(dt) if i + 1 not in drop_dt]
    return gt, dt


@pytest.mark.parametrize("seed", ORACLE_SEEDS)
def test_fixed_ap_equals_pycocotools_on_fixed_files(seed: int) -> None:
    from .coco_cases import brute_force_matches

    gt, dt = make_case(seed)
    ev = evaluate_detections(gt, dt, progress=False)
    table = ev.error_breakdown()
    assert table.attrs["metric"] == "AP50"
    assert table["AP"].iloc[0] == ev.coco_stats[1]
    errors, missed = brute_force_tide(gt, dt, 0.5, 0.0)
    preds, _ = brute_force_matches(gt, dt, 0.5, 0.0)
    for fix in MAIN + SPECIAL:
        fgt, fdt = _fixed_inputs(gt, dt, fix, errors, missed, preds)
        expected = pycocotools_eval(fgt, fdt).stats[1]
        assert table.loc[fix, "AP_fixed"] == pytest.approx(expected, abs=1e-12), fix


@pytest.mark.parametrize("seed", ORACLE_SEEDS[:2])
def test_fixed_coco_ap_equals_pycocotools_on_fixed_files(seed: int) -> None:
    """``iou="coco"``: errors attributed and fixed at each COCO threshold, AP averaged."""
    from nbdiag.evaluation.detection import IOU_THRESHOLDS

    from .coco_cases import brute_force_matches

    gt, dt = make_case(seed)
    table = evaluate_detections(gt, dt, progress=False).error_breakdown("coco")
    attributed = [
        (*brute_force_tide(gt, dt, thr, 0.0), brute_force_matches(gt, dt, thr, 0.0)[0])
        for thr in IOU_THRESHOLDS
    ]
    for fix in MAIN + SPECIAL:
        precision = []
        for t, (errors, missed, preds) in enumerate(attributed):
            fgt, fdt = _fixed_inputs(gt, dt, fix, errors, missed, preds)
            precision.append(pycocotools_eval(fgt, fdt).eval["precision"][t, :, :, 0, 2])
        p = np.stack(precision)
        assert table.loc[fix, "AP_fixed"] == pytest.approx(np.mean(p[p > -1]), abs=1e-12), fix


@pytest.mark.parametrize("seed", range(10))
def test_breakdown_invariants(seed: int) -> None:
    gt, dt = make_case(seed)
    ev = evaluate_detections(gt, dt, progress=False)
    for iou in (None, "coco", 0.3):
        table = ev.error_breakdown(iou)
        assert list(table.index) == MAIN + SPECIAL
        assert list(table.columns) == ["group", "count", "AP", "AP_fixed", "dAP"]
        # every fix only removes false positives, turns them into true positives or removes
        # missed ground truth: AP never drops
        assert (table["dAP"] >= -1e-12).all()
        assert (table["AP_fixed"] <= 1 + 1e-12).all()
        np.testing.assert_allclose(table["dAP"], table["AP_fixed"] - table["AP"], atol=0)
    assert ev.error_breakdown("coco")["AP"].iloc[0] == ev.coco_stats[0]
    assert ev.error_breakdown(0.75)["AP"].iloc[0] == ev.coco_stats[2]
    # counts are the per-object error types
    table = ev.error_breakdown()
    p, g = ev.predictions, ev.ground_truth
    counts = p["error_type"].value_counts()
    for kind in MAIN[:-1]:
        assert table.loc[kind, "count"] == counts.get(kind, 0)
    assert table.loc["missed", "count"] == (g["error_type"] == "missed").sum()
    assert table.loc["false_positives", "count"] == (p["match"] == "fp").sum()
    assert table.loc["false_negatives", "count"] == (g["match"] == "fn").sum()
    # fixing every error type at once: perfect AP
    (prec,), _ = ev._fixed_precision(0.5, ["all"])
    assert prec[prec > -1].min() == pytest.approx(1.0, abs=1e-12)


def test_breakdown_follows_live_thresholds() -> None:
    gt, dt = make_case(5)
    live = evaluate_detections(gt, dt, progress=False)
    first = live.error_breakdown()
    for iou, score in [(0.4, 0.2), (0.75, 0.0), (0.5, 0.0)]:
        live.set_thresholds(iou=iou, score=score)
        fresh = evaluate_detections(
            gt, dt, iou_threshold=iou, score_threshold=score, progress=False
        )
        pd.testing.assert_frame_equal(live.error_breakdown(), fresh.error_breakdown())
        pd.testing.assert_frame_equal(live.error_breakdown("coco"), fresh.error_breakdown("coco"))
        assert live.error_breakdown().attrs["score_threshold"] == score
    pd.testing.assert_frame_equal(live.error_breakdown(), first)
    # the cached result is a copy
    copy_ = live.error_breakdown()
    copy_["dAP"] = 0.0
    pd.testing.assert_frame_equal(live.error_breakdown(), first)


def test_breakdown_validation() -> None:
    gt, dt = make_case(1)
    ev = evaluate_detections(gt, dt, progress=False)
    with pytest.raises(ValueError, match="coco"):
        ev.error_breakdown("all")
    with pytest.raises(ValueError, match="iou_threshold"):
        ev.error_breakdown(0.0)


# ---------------------------------------------------------------- hand-built cases
def _case(dets: list[tuple], gts: list[tuple], cats: tuple[str, ...] = ("cat", "dog")) -> tuple:
    """``gts``: (image, class, x, y, w, h); ``dets``: (image, class, x, y, w, h, score)."""
    gt = {
        "images": [{"id": i} for i in sorted({g[0] for g in gts} | {d[0] for d in dets})],
        "categories": [{"id": i + 1, "name": c} for i, c in enumerate(cats)],
        "annotations": [
            {"id": 100 + i, "image_id": g[0], "category_id": cats.index(g[1]) + 1,
             "bbox": list(g[2:6]), "area": g[4] * g[5], "iscrowd": 0}
            for i, g in enumerate(gts)
        ],
    }  # fmt: skip
    dt = [
        {"image_id": d[0], "category_id": cats.index(d[1]) + 1, "bbox": list(d[2:6]),
         "score": d[6]}
        for d in dets
    ]  # fmt: skip
    return gt, dt


# two images, one cat and one dog each, 100 x 100 at the origin / at x = 200
GTS = [(1, "cat", 0, 0, 100, 100), (1, "dog", 200, 0, 100, 100), (2, "cat", 0, 0, 100, 100)]
HITS = [(1, "cat", 2, 0, 100, 100, 0.9), (1, "dog", 200, 2, 100, 100, 0.8)]  # true positives


def _breakdown(dets: list[tuple], gts: list[tuple] = GTS) -> tuple[Any, pd.DataFrame]:
    ev = evaluate_detections(*_case(dets, gts), progress=False)
    return ev, ev.error_breakdown()


def _types(table: pd.DataFrame) -> list:
    return [None if pd.isna(v) else v for v in table["error_type"].astype(object)]


def _only(table: pd.DataFrame, kind: str) -> None:
    main = table.loc[MAIN, "dAP"]
    assert main[kind] > 0, table
    assert (main.drop(kind) == 0).all(), table


def test_only_localization_errors() -> None:
    # the second cat is found, but the box covers only a third of it (IoU 1/3): a localization
    # error; a low score so that it ranks below the dog, as a plain miss would
    ev, table = _breakdown([*HITS, (2, "cat", 0, 0, 100, 34, 0.3)])
    assert _types(ev.predictions) == [None, None, "localization"]
    p, g = ev.predictions, ev.ground_truth
    assert p["error_type"].iloc[2] == "localization" and p["error_gt"].iloc[2] == 102
    assert g.loc[102, "error_type"] == "localization" and g.loc[102, "error_pred"] == 3
    assert table.loc["localization", "count"] == 1 and table.loc["missed", "count"] == 0
    _only(table, "localization")
    assert table.loc["localization", "AP_fixed"] == pytest.approx(1.0, abs=1e-12)
    assert table.loc["false_negatives", "AP_fixed"] == pytest.approx(
        1.0, abs=1e-12
    )  # special rows: every FN removed


def test_only_classification_errors() -> None:
    # the second cat called a dog, the box right (IoU 1): a classification error
    ev, table = _breakdown([*HITS, (2, "dog", 0, 0, 100, 100, 0.95)])
    assert ev.predictions["error_type"].iloc[2] == "classification"
    assert ev.ground_truth.loc[102, "error_type"] == "classification"
    _only(table, "classification")
    assert table.loc["classification", "AP_fixed"] == pytest.approx(1.0, abs=1e-12)


def test_only_duplicate_errors() -> None:
    dets = [*HITS, (2, "cat", 0, 0, 100, 100, 0.99), (2, "cat", 1, 1, 100, 100, 0.95)]
    ev, table = _breakdown(dets)
    assert _types(ev.predictions) == [None, None, None, "duplicate"]
    _only(table, "duplicate")
    assert table.loc["duplicate", "AP_fixed"] == pytest.approx(1.0, abs=1e-12)


def test_only_background_errors() -> None:
    dets = [*HITS, (2, "cat", 0, 0, 100, 100, 0.5), (2, "dog", 400, 400, 50, 50, 0.95)]
    ev, table = _breakdown(dets)
    assert ev.predictions["error_type"].iloc[3] == "background"
    _only(table, "background")
    assert table.loc["background", "AP_fixed"] == pytest.approx(1.0, abs=1e-12)
    assert table.loc["false_positives", "dAP"] == table.loc["background", "dAP"]


def test_only_both_errors() -> None:
    # a dog box half over the second cat (IoU 1/3 with a GT of another class, nothing of its own)
    dets = [*HITS, (2, "cat", 0, 0, 100, 100, 0.5), (2, "dog", 0, 0, 100, 34, 0.95)]
    ev, table = _breakdown(dets)
    assert ev.predictions["error_type"].iloc[3] == "both"
    assert ev.predictions["error_gt"].iloc[3] == 102
    assert ev.ground_truth["error_type"].isna().all()  # a "both" error finds nothing
    _only(table, "both")


def test_only_missed_errors() -> None:
    ev, table = _breakdown(HITS)
    assert _types(ev.ground_truth) == [None, None, "missed"]
    _only(table, "missed")
    assert table.loc["missed", "AP_fixed"] == pytest.approx(1.0, abs=1e-12)


def test_no_errors_and_no_predictions() -> None:
    _, table = _breakdown([*HITS, (2, "cat", 0, 0, 100, 100, 0.5)])
    assert (table["dAP"] == 0).all() and np.allclose(table["AP"], 1.0, rtol=0, atol=1e-12)
    assert (table["count"] == 0).all()
    ev, table = _breakdown([])
    assert (table["AP"] == 0).all()
    assert table.loc["missed", "AP_fixed"] != table.loc["missed", "AP_fixed"]  # NaN: no GT left
    assert table.loc["false_negatives", "count"] == 3


def test_fix_resolves_conflicts_by_score() -> None:
    # two localization errors point at the second cat: fixing turns the higher-scoring one
    # into its true positive and removes the other
    dets = [*HITS, (2, "cat", 0, 0, 100, 40, 0.3), (2, "cat", 0, 0, 100, 34, 0.6)]
    ev, table = _breakdown(dets)
    g = ev.ground_truth
    assert g.loc[102, "error_type"] == "localization" and g.loc[102, "error_pred"] == 4
    assert table.loc["localization", "count"] == 2
    assert table.loc["localization", "AP_fixed"] == pytest.approx(1.0, abs=1e-12)
    # a localization error on an already matched GT is removed, not turned into a second TP
    dets = [*HITS, (1, "cat", 0, 0, 100, 34, 0.95)]
    ev, table = _breakdown(dets)
    assert ev.predictions["error_type"].iloc[2] == "localization"
    assert ev.ground_truth.loc[102, "error_type"] == "missed"


def test_background_threshold_and_crowd() -> None:
    # IoU exactly 0.1 counts as background (TIDE: IoU <= t_b), just above as localization
    gts = [(1, "cat", 0, 0, 100, 100)]
    ev, _ = _breakdown([(1, "cat", 0, 0, 100, 10, 0.9), (1, "cat", 0, 0, 100, 11, 0.8)], gts)
    assert _types(ev.predictions) == ["localization", "localization"]
    ev, _ = _breakdown([(1, "dog", 0, 0, 100, 10, 0.9), (1, "dog", 0, 0, 100, 11, 0.8)], gts)
    assert _types(ev.predictions) == ["background", "both"]
    # overlaps ignore crowd regions
    gt, dt = _case([(1, "cat", 70, 0, 100, 30, 0.9)], gts)  # 30 % inside: not absorbed
    gt["annotations"][0]["iscrowd"] = 1
    ev = evaluate_detections(gt, dt, progress=False)
    assert ev.predictions["match"].tolist() == ["fp"]
    assert _types(ev.predictions) == ["background"]
    assert ev.error_breakdown().loc["background", "count"] == 1


def test_html_shows_the_breakdown() -> None:
    gt, dt = make_case(2)
    ev = evaluate_detections(gt, dt, progress=False)
    out = ev._repr_html_()
    assert "errors (TIDE)" in out and "dAP50" in out
    for kind in MAIN + SPECIAL:
        assert f"<th>{kind}</th>" in out
    ev.set_thresholds(iou=0.75)
    assert "dAP75" in ev._repr_html_()


@pytest.mark.parametrize("seed", ORACLE_SEEDS[:4])
def test_per_class_fixed_ap_equals_pycocotools_on_fixed_files(seed: int) -> None:
    from .coco_cases import brute_force_matches

    gt, dt = make_case(seed)
    ev = evaluate_detections(gt, dt, progress=False)
    table = ev.error_breakdown(by="class")
    overall = ev.error_breakdown()
    assert table.index.names == ["class", "error_type"]
    # counts split the overall counts by class; a class's AP averages to the overall AP
    by_type = table["count"].groupby(level="error_type").sum()
    pd.testing.assert_series_equal(
        by_type.reindex(overall.index), overall["count"], check_names=False
    )
    class_ap = table["AP"].groupby(level="class", sort=False).first()
    assert np.nanmean(class_ap) == pytest.approx(overall["AP"].iloc[0], abs=1e-12)
    errors, missed = brute_force_tide(gt, dt, 0.5, 0.0)
    preds, _ = brute_force_matches(gt, dt, 0.5, 0.0)
    for fix in MAIN + SPECIAL:
        fgt, fdt = _fixed_inputs(gt, dt, fix, errors, missed, preds)
        coco = pycocotools_eval(fgt, fdt)
        precision = coco.eval["precision"][0, :, :, 0, 2]  # IoU 0.5, area all, 100 dets
        for k, cat_id in enumerate(coco.params.catIds):
            name = coco.cocoGt.cats[cat_id]["name"]
            p = precision[:, k]
            expected = float(np.mean(p[p > -1])) if (p > -1).any() else float("nan")
            got = table.loc[(name, fix), "AP_fixed"]
            assert got == pytest.approx(expected, abs=1e-12, nan_ok=True), (fix, name)


def test_by_must_be_class() -> None:
    gt, dt = make_case(0)
    with pytest.raises(ValueError, match="by must be None or 'class'"):
        evaluate_detections(gt, dt, progress=False).error_breakdown(by="image")
