"""Detection label issues on many planted errors at once, the detector's evidence for
duplicates, bad input, and cleanlab's input format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.issues import find_label_issues
from nbdiag.issues._detection import cleanlab_inputs

pytest.importorskip("nbdiag.evaluation.detection")

CLASSES = ["cat", "dog", "cow"]


def _scenes(seed: int = 0, n: int = 60):
    """``n`` 100 x 100 images with three well separated boxes each (a 3 x 1 row), and a
    confident, slightly jittered prediction of every box."""
    rng = np.random.default_rng(seed)
    gt, pred = [], []
    for i in range(n):
        for j in range(3):
            x, y = 5 + 32 * j + rng.uniform(0, 4), rng.uniform(5, 60)
            w, h = rng.uniform(18, 24), rng.uniform(18, 30)
            lab = CLASSES[int(rng.integers(3))]
            gt.append(dict(sample_id=f"s{i}", label=lab, x=x, y=y, w=w, h=h))
            jit = rng.normal(0, 0.5, 4)
            pred.append(
                dict(sample_id=f"s{i}", label=lab, x=x + jit[0], y=y + jit[1], w=w + jit[2],
                     h=h + jit[3], score=rng.uniform(0.7, 0.99))
            )  # fmt: skip
    gt = pd.DataFrame(gt, index=pd.Index([f"g{k}" for k in range(len(gt))], name="object_id"))
    pred = pd.DataFrame(pred)
    pred["object_id"] = [f"p{k}" for k in range(len(pred))]
    samples = pd.DataFrame({"width": 100.0, "height": 100.0}, index=[f"s{i}" for i in range(n)])
    return samples, gt, pred


def test_every_planted_error_is_found_and_named():
    samples, gt, pred = _scenes()
    rng = np.random.default_rng(1)
    ids = rng.permutation(gt.index)
    missing, wrong, loose, shifted, dup = (list(ids[k * 6 : (k + 1) * 6]) for k in range(5))
    noisy = gt.drop(index=missing)
    for g in wrong:
        noisy.at[g, "label"] = CLASSES[(CLASSES.index(gt.at[g, "label"]) + 1) % 3]
    for g in loose:  # 1.8x as wide and tall, same centre: IoU about 0.3
        x, y, w, h = gt.loc[g, ["x", "y", "w", "h"]]
        noisy.loc[g, ["x", "y", "w", "h"]] = [
            max(x - 0.4 * w, 0),
            max(y - 0.4 * h, 0),
            1.8 * w,
            1.8 * h,
        ]
    for g in shifted:  # moved down by 60 % of its height: IoU 0.25
        noisy.loc[g, "y"] = gt.at[g, "y"] + 0.6 * gt.at[g, "h"]
    noisy.loc[:, ["w", "h"]] = noisy[["w", "h"]].clip(upper=100 - noisy[["x", "y"]].to_numpy())
    copies = gt.loc[dup].copy()
    copies["x"] += 0.1 * copies["w"]  # a second, slightly offset box: IoU about 0.8
    copies.index = pd.Index([f"{g}_dup" for g in dup], name="object_id")
    noisy = pd.concat([noisy, copies])
    ds = nbdiag.Dataset(samples, noisy, class_names=CLASSES)
    ds.add_run("det", pred)

    # a fixed threshold: every planted prediction counts (the default "auto" one would ignore
    # the least confident 15 % of them; see test_auto_threshold_follows_the_detectors_...)
    issues = find_label_issues(ds, "det", score_threshold=0.5)
    by_kind = {k: set(g["object_id"]) for k, g in issues.groupby("issue", observed=True)}
    pred_of = {g: f"p{g[1:]}" for g in gt.index}  # prediction k is the jittered box k
    assert by_kind["missing_box"] == {pred_of[g] for g in missing}
    assert by_kind["wrong_class"] == set(wrong)
    assert by_kind["bad_localization"] == set(loose) | set(shifted)
    assert by_kind["duplicate_box"] == set(copies.index)
    assert len(issues) == 30  # nothing else, one row per error
    wrong_rows = issues[issues["issue"] == "wrong_class"].set_index("object_id")
    for g in wrong:
        assert wrong_rows.at[g, "suggested_label"] == gt.at[g, "label"]
    loc = issues[issues["issue"] == "bad_localization"].set_index("object_id")
    for g in loose + shifted:  # the suggested box is the prediction's
        assert loc.at[g, "pred_id"] == pred_of[g]
        assert loc.at[g, "x"] == pytest.approx(ds.objects.at[pred_of[g], "x"])
    assert (issues.loc[issues["issue"] == "duplicate_box", "pred_id"].notna()).all()
    counts = ds.samples["label_issue_count"]
    assert counts.sum() == 30 and set(counts.unique()) <= {0, 1, 2, 3}


def _pair(pred_boxes, dup_dx=3.0):
    samples = pd.DataFrame({"width": 100.0, "height": 100.0}, index=["s0"])
    gt = pd.DataFrame(
        [
            dict(sample_id="s0", label="cat", x=20, y=20, w=30, h=30),
            dict(sample_id="s0", label="cat", x=20 + dup_dx, y=20, w=30, h=30),
        ],
        index=pd.Index(["a", "b"], name="object_id"),
    )
    ds = nbdiag.Dataset(samples, gt, class_names=["cat", "dog"])
    preds = pd.DataFrame(
        [dict(sample_id="s0", label="cat", x=x, y=20, w=30, h=30, score=s) for x, s in pred_boxes]
    )
    ds.add_run("det", preds)
    return ds


def test_duplicate_needs_the_detector_to_see_one_object():
    # IoU 0.82 < duplicate_iou: flagged only because a single prediction covers both boxes
    one = find_label_issues(_pair([(20, 0.9)], dup_dx=3.0), "det", write=False)
    assert one["issue"].astype(str).tolist() == ["duplicate_box"]
    assert one.at[0, "object_id"] == "b" and one.at[0, "pred_id"] is not None
    assert "one object" in one.at[0, "reason"]
    # two confident predictions: two objects, not a duplicate
    two = find_label_issues(_pair([(20, 0.9), (23, 0.8)]), "det", write=False)
    assert two.empty
    # the only prediction is not confident: no evidence either way
    weak = find_label_issues(_pair([(20, 0.3)]), "det", write=False)
    assert weak.empty
    # near-identical boxes are duplicates whatever the detector says
    same = find_label_issues(_pair([(20, 0.9), (21, 0.8)], dup_dx=1.0), "det", write=False)
    assert same["issue"].astype(str).tolist() == ["duplicate_box"]
    assert np.isnan(same.at[0, "score"]) and same.at[0, "pred_id"] is None


@pytest.fixture
def small():
    samples = pd.DataFrame({"width": 100.0, "height": 100.0}, index=["s0", "s1"])
    gt = pd.DataFrame(
        [dict(sample_id="s0", label="cat", x=10, y=10, w=30, h=30)],
        index=pd.Index(["g0"], name="object_id"),
    )
    return nbdiag.Dataset(samples, gt, class_names=["cat", "dog"])


def _pred(**kw):
    row = dict(sample_id="s0", label="dog", x=60, y=60, w=20, h=20, score=0.9)
    return pd.DataFrame([row | kw])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (dict(score=np.nan), "score"),
        (dict(x=90, w=50), "outside"),
        (dict(label="bird"), "unknown class"),
        (dict(w=-3), "negative"),
    ],
)
def test_bad_predictions_are_refused_with_a_clear_error(small, bad, message):
    with pytest.raises(ValueError, match=message):
        small.add_run("det", _pred(**bad))


def test_scores_corrupted_after_adding_the_run_give_a_clear_error(small):
    small.add_run("det", _pred())
    small.objects.loc[small.run_boxes("det").index, "score"] = np.nan
    with pytest.raises(ValueError, match="score"):
        find_label_issues(small, "det")


def test_empty_run_flags_nothing_but_keeps_the_columns(small):
    small.add_run("det", pd.DataFrame(columns=["sample_id", "label", "x", "y", "w", "h", "score"]))
    issues = find_label_issues(small, "det")
    assert issues.empty and {"issue", "object_id", "reason", "x"} <= set(issues.columns)
    assert small.objects.loc["g0", "label_issue"] == ""
    assert small.samples["label_issue_count"].tolist() == [0, 0]


def test_missing_run_and_bad_thresholds(small):
    with pytest.raises(ValueError, match="no runs"):
        find_label_issues(small)
    small.add_run("det", _pred())
    for kw in (dict(duplicate_iou=0.0), dict(duplicate_iou=1.5), dict(iou_threshold=0.0)):
        with pytest.raises(ValueError, match="must be in"):
            find_label_issues(small, "det", **kw)
    with pytest.raises(ValueError, match="score_threshold"):
        find_label_issues(small, "det", score_threshold=np.nan)


def test_cleanlab_inputs_map_boxes_back_to_ids():
    samples, gt, pred = _scenes(n=5)
    ds = nbdiag.Dataset(samples, gt, class_names=CLASSES)
    ds.add_run("det", pred)
    labels, predictions, label_ids, pred_ids = cleanlab_inputs(ds, "det")
    assert len(labels) == len(predictions) == 5
    for i in range(5):
        for box, code, oid in zip(
            labels[i]["bboxes"], labels[i]["labels"], label_ids[i], strict=True
        ):
            x, y, w, h = gt.loc[oid, ["x", "y", "w", "h"]]
            assert np.allclose(box, [x, y, x + w, y + h]) and CLASSES[code] == gt.at[oid, "label"]
        flat = np.concatenate([np.asarray(c, dtype=float).reshape(-1, 5) for c in predictions[i]])
        assert len(flat) == len(pred_ids[i]) == 3
        objects = ds.objects
        for row, oid in zip(flat, pred_ids[i], strict=True):
            assert row[0] == pytest.approx(objects.at[oid, "x"], abs=1e-4)
            assert row[4] == pytest.approx(objects.at[oid, "score"], abs=1e-6)


def test_auto_threshold_follows_the_detectors_calibration():
    samples, gt, pred = _scenes(seed=2)
    noisy = gt.drop(index=gt.index[:8])  # eight unannotated objects

    def found(scores):
        ds = nbdiag.Dataset(samples, noisy, class_names=CLASSES)
        ds.add_run("det", pred.assign(score=scores))
        issues = find_label_issues(ds, "det", write=False, score_threshold="auto")
        return issues, set(zip(issues["issue"].astype(str), issues["object_id"], strict=True))

    raw, got = found(pred["score"])
    assert 0.7 < raw.attrs["score_threshold"] < 0.99
    assert {k for k, _ in got} == {"missing_box"} and 4 <= len(got) <= 8
    # a less confident detector (same ranking): same issues, lower threshold; a fixed 0.5
    # threshold would ignore every prediction
    low, got_low = found(pred["score"] ** 8)
    assert got_low == got and low.attrs["score_threshold"] < 0.5
    ds = nbdiag.Dataset(samples, noisy, class_names=CLASSES)
    ds.add_run("det", pred.assign(score=pred["score"] ** 8 / 10))
    assert find_label_issues(ds, "det", write=False, score_threshold=0.5).empty


def test_auto_threshold_needs_enough_matches(small):
    small.add_run("det", _pred())
    issues = find_label_issues(small, "det", write=False, score_threshold="auto")
    assert issues.attrs["score_threshold"] == 0.5
    with pytest.raises(ValueError, match="'auto'"):
        find_label_issues(small, "det", score_threshold="high")
    with pytest.raises(ValueError, match="auto_quantile"):
        find_label_issues(small, "det", score_threshold="auto", auto_quantile=1.0)


def test_one_row_per_box():
    samples = pd.DataFrame({"width": 100.0, "height": 100.0}, index=["s0"])
    gt = pd.DataFrame(
        [
            dict(sample_id="s0", label="cat", x=10, y=10, w=30, h=30),
            dict(sample_id="s0", label="cat", x=10.5, y=10, w=30, h=30),  # annotated twice
        ],
        index=pd.Index(["g0", "g1"], name="object_id"),
    )
    ds = nbdiag.Dataset(samples, gt, class_names=["cat", "dog"])
    preds = pd.DataFrame(
        [
            dict(sample_id="s0", label="cat", x=10, y=10, w=30, h=30, score=0.9),
            dict(sample_id="s0", label="dog", x=10, y=10, w=30, h=30, score=0.8),
            # one unannotated object, predicted as both classes
            dict(sample_id="s0", label="dog", x=60, y=60, w=25, h=25, score=0.7),
            dict(sample_id="s0", label="cat", x=61, y=60, w=25, h=25, score=0.95),
        ]
    )
    preds["object_id"] = ["p0", "p1", "p_dog", "p_cat"]
    ds.add_run("det", preds)
    issues = find_label_issues(ds, "det", write=False)
    got = sorted(zip(issues["issue"].astype(str), issues["object_id"], strict=True))
    # g1 is unmatched and covered by the dog prediction, but it is a near-identical copy of g0
    assert got == [("duplicate_box", "g1"), ("missing_box", "p_cat")]


def test_auto_threshold_takes_logit_scores():
    samples, gt, pred = _scenes(seed=3)
    noisy = gt.drop(index=gt.index[:5])
    found = []
    for scores in (pred["score"], np.log(pred["score"] / (1 - pred["score"])) - 3):  # logits < 0
        ds = nbdiag.Dataset(samples, noisy, class_names=CLASSES)
        ds.add_run("det", pred.assign(score=scores))
        issues = find_label_issues(ds, "det", write=False, score_threshold="auto")
        found.append(set(issues["object_id"]))
    assert found[0] == found[1] and len(found[0]) >= 2
