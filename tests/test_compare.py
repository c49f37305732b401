"""ds.compare(run_a, run_b): planted fixes and regressions are found exactly; deltas agree with
scikit-learn and with per-run evaluations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix, f1_score

import nbdiag
from nbdiag.compare import CHANGES, RunComparison, compare_runs

CLASSES = ["cat", "dog", "bird"]


def _probs(y: np.ndarray, pred: np.ndarray, conf: float = 0.8) -> np.ndarray:
    p = np.full((len(y), 3), (1 - conf) / 2)
    p[np.arange(len(y)), pred] = conf
    return p


@pytest.fixture
def planted():
    rng = np.random.default_rng(0)
    n = 300
    y = rng.integers(0, 3, n)
    brightness = rng.random(n)
    wrong_a = np.zeros(n, bool)
    wrong_b = np.zeros(n, bool)
    dark = np.flatnonzero(brightness < 0.15)
    fixed = dark[:20]  # v2 fixes dark images
    broken = np.flatnonzero(brightness > 0.85)[:7]  # and breaks a few bright ones
    still = np.flatnonzero((brightness >= 0.25) & (brightness <= 0.75))[:5]
    wrong_a[fixed] = wrong_a[still] = True
    wrong_b[broken] = wrong_b[still] = True
    pred_a = np.where(wrong_a, (y + 1) % 3, y)
    pred_b = np.where(wrong_b, (y + 1) % 3, y)
    pred_b[still[:2]] = (y[still[:2]] + 2) % 3  # still wrong, with another wrong class
    probs_a, probs_b = _probs(y, pred_a), _probs(y, pred_b)
    probs_b[broken[0]] = [1 / 3, 1 / 3, 1 / 3]
    probs_b[broken[0], (y[broken[0]] + 1) % 3] += 1e-3  # argmax: the wrong class
    probs_b[broken[0]] /= probs_b[broken[0]].sum()
    ds = nbdiag.Dataset(
        pd.DataFrame({"label": y, "brightness": brightness}, index=[f"s{i}" for i in range(n)]),
        class_names=CLASSES,
    )
    ds.add_run("v1", probs_a)
    ds.add_run("v2", probs_b)
    ids = ds.samples.index
    return {
        "ds": ds,
        "y": y,
        "pred_a": pred_a,
        "pred_b": pred_b,
        "fixed": set(ids[fixed]),
        "broken": set(ids[broken]),
        "still": set(ids[still]),
        "still_switched": set(ids[still[:2]]),
        "uncertain": ids[broken[0]],
    }


def test_finds_exactly_the_planted_changes(planted):
    ds = planted["ds"]
    cmp = ds.compare("v1", "v2")
    assert isinstance(cmp, RunComparison) and cmp.kind == "classification"
    assert set(cmp.ids("fixed")) == planted["fixed"]
    assert set(cmp.ids("broken")) == planted["broken"]
    assert set(cmp.ids("still_wrong")) == planted["still"]
    assert cmp.counts.to_dict() == {
        "fixed": 20,
        "broken": 7,
        "still_wrong": 5,
        "both_right": len(ds) - 32,
    }
    assert list(cmp.counts.index) == list(CHANGES)
    assert set(cmp.fixed.index) == planted["fixed"]
    assert set(cmp.broken.index) == planted["broken"]
    assert "20 fixed, 7 broken" in repr(cmp)
    assert "RunComparison" in cmp._repr_html_()


def test_deltas_agree_with_sklearn_and_the_evaluations(planted):
    ds, y = planted["ds"], planted["y"]
    cmp = compare_runs(ds, "v1", "v2")
    expected = confusion_matrix(y, planted["pred_b"], labels=[0, 1, 2]) - confusion_matrix(
        y, planted["pred_a"], labels=[0, 1, 2]
    )
    np.testing.assert_array_equal(cmp.confusion_delta.to_numpy(), expected)
    assert list(cmp.confusion_delta.index) == CLASSES
    ev_a, ev_b = ds.evaluate("v1"), ds.evaluate("v2")
    assert cmp.summary.loc["accuracy", "a"] == pytest.approx(ev_a.accuracy)
    assert cmp.summary.loc["accuracy", "b"] == pytest.approx(ev_b.accuracy)
    assert cmp.summary.loc["accuracy", "delta"] == pytest.approx(ev_b.accuracy - ev_a.accuracy)
    assert cmp.summary.loc["log_loss", "delta"] == pytest.approx(ev_b.log_loss - ev_a.log_loss)
    f1_a = f1_score(y, planted["pred_a"], average=None, labels=[0, 1, 2])
    f1_b = f1_score(y, planted["pred_b"], average=None, labels=[0, 1, 2])
    np.testing.assert_allclose(cmp.per_class["f1_delta"], f1_b - f1_a)
    # fixed / broken per class add up to the counts
    assert cmp.per_class["fixed"].sum() == 20 and cmp.per_class["broken"].sum() == 7


def test_per_metric_bins_locate_the_changes(planted):
    cmp = planted["ds"].compare("v1", "v2", bins=4)
    bm = cmp.by_metric
    assert set(bm["metric"]) == {"brightness"}  # label/path/width... are not metrics
    assert list(bm.columns) == [
        "metric", "bin", "lower", "upper", "count", "accuracy_a", "accuracy_b", "delta",
        "fixed", "broken",
    ]  # fmt: skip
    assert bm["count"].sum() == len(planted["ds"])
    darkest, brightest = bm.iloc[0], bm.iloc[-1]
    assert darkest["fixed"] == 20 and darkest["delta"] > 0.2
    assert brightest["broken"] == 7 and brightest["delta"] < 0
    np.testing.assert_allclose(bm["delta"], bm["accuracy_b"] - bm["accuracy_a"])


def test_most_disagreeing_ranks_by_probability_distance(planted):
    cmp = planted["ds"].compare("v1", "v2")
    top = cmp.most_disagreeing(5)
    # predictions that changed: fixed, broken, and still wrong but with another class
    changed = planted["fixed"] | planted["broken"] | planted["still_switched"]
    assert set(top.index) <= changed
    assert top["disagreement"].is_monotonic_decreasing
    assert top["disagreement"].iloc[0] == pytest.approx(0.7)  # 0.5 * (0.7 + 0.7)
    # the sample made uncertain (probabilities near 1/3) moved less than the confident flips
    uncertain = cmp.items.loc[planted["uncertain"], "disagreement"]
    assert 0 < uncertain < 0.6
    assert set(cmp.most_disagreeing(10_000).index) == changed  # only samples that changed
    assert "tiebreak" not in top.columns


def test_label_only_runs_and_explicit_metrics():
    ds = nbdiag.Dataset(
        pd.DataFrame({"label": ["a", "b", "a", "b"], "m": [1.0, 2.0, 3.0, 4.0]}),
        class_names=["a", "b"],
    )
    ds.add_run("x", ["a", "a", "a", "b"])
    ds.add_run("y", ["a", "b", "b", "b"])
    cmp = ds.compare("x", "y", metrics=["m"], bins=2)
    assert cmp.counts.to_dict() == {"fixed": 1, "broken": 1, "still_wrong": 0, "both_right": 2}
    assert cmp.most_disagreeing().index.tolist() == [1, 2]
    assert "log_loss" not in cmp.summary.index
    assert cmp.by_metric["count"].tolist() == [2, 2]


def test_compare_errors(planted):
    ds = planted["ds"]
    with pytest.raises(ValueError, match="two different runs"):
        ds.compare("v1", "v1")
    with pytest.raises(KeyError, match="unknown run 'v3'"):
        ds.compare("v1", "v3")
    with pytest.raises(ValueError, match=r"unknown metric columns \['nope'\]"):
        ds.compare("v1", "v2", metrics=["nope"])


# ---------------------------------------------------------------------- detection
@pytest.fixture
def det():
    """Ten images with two GT boxes each; run a misses boxes A, run b misses boxes B."""
    n = 10
    samples = pd.DataFrame({"width": 100.0, "height": 100.0}, index=range(1, n + 1))
    gt = []
    for s in range(1, n + 1):
        gt.append({"sample_id": s, "label": "car", "x": 5, "y": 5, "w": 30, "h": 30})
        gt.append({"sample_id": s, "label": "person", "x": 50, "y": 50, "w": 20 + s, "h": 40})
    objects = pd.DataFrame(gt, index=pd.Index(range(1, 2 * n + 1)))
    ds = nbdiag.Dataset(samples, objects)
    missed_a = {1, 2, 3, 8}
    missed_b = {3, 4, 5, 8}

    def run(missed: set[int], extra_fp: int) -> pd.DataFrame:
        rows = [
            {**{k: o[k] for k in ("sample_id", "label", "x", "y", "w", "h")}, "score": 0.9}
            for oid, o in objects.iterrows()
            if oid not in missed
        ]
        for k in range(extra_fp):  # background false positives in image 10
            rows.append({"sample_id": 10, "label": "car", "x": 80 - k, "y": 0, "w": 10,
                         "h": 10, "score": 0.3})  # fmt: skip
        return pd.DataFrame(rows)

    ds.add_run("a", run(missed_a, 0))
    ds.add_run("b", run(missed_b, 2))
    return ds, missed_a, missed_b


def test_detection_changes_are_ground_truth_boxes(det):
    ds, missed_a, missed_b = det
    cmp = ds.compare("a", "b")
    assert cmp.kind == "detection"
    assert set(cmp.ids("fixed")) == missed_a - missed_b
    assert set(cmp.ids("broken")) == missed_b - missed_a
    assert set(cmp.ids("still_wrong")) == missed_a & missed_b
    assert cmp.counts["both_right"] == 20 - len(missed_a | missed_b)
    ps = cmp.per_sample
    assert ps.loc[10, "fp_b"] == 2 and ps.loc[10, "fp_a"] == 0
    assert ps.loc[10, "change"] == "broken"  # no error before, two false positives now
    assert ps["fixed"].sum() == 2 and ps["broken"].sum() == 2
    ev_a, ev_b = ds.evaluate("a", progress=False), ds.evaluate("b", progress=False)
    assert cmp.summary.loc["recall", "a"] == pytest.approx(ev_a.recall)
    assert cmp.summary.loc["AP", "delta"] == pytest.approx(
        ev_b.summary()["AP"] - ev_a.summary()["AP"]
    )
    delta = ev_b.confusion_matrix() - ev_a.confusion_matrix()
    pd.testing.assert_frame_equal(cmp.confusion_delta, delta)
    assert "background" in cmp.confusion_delta.index
    assert set(cmp.most_disagreeing(3).index) <= {1, 2, 4, 5, 10}
    bm = cmp.by_metric
    assert set(bm["metric"]) == {"w", "h"}  # constant image sizes are left out
    by_h = bm[bm["metric"] == "h"].set_index("bin")
    assert by_h.loc["30", "recall_a"] == pytest.approx(1 - len(missed_a & {1, 3, 5, 7, 9, 11,
                                                       13, 15, 17, 19}) / 10)  # fmt: skip
    assert by_h["count"].sum() == 20


def test_cannot_compare_runs_of_different_kinds(det):
    ds, *_ = det
    ds2 = nbdiag.Dataset(ds.samples.assign(label="car"), class_names=ds.class_names)
    ds2.add_run("cls", ["car"] * len(ds2))
    ds2.add_run(
        "boxes",
        pd.DataFrame({"sample_id": [1], "label": ["car"], "x": [1], "y": [1], "w": [5],
                      "h": [5], "score": [0.5]}),
    )  # fmt: skip
    with pytest.raises(TypeError, match="cannot compare run 'cls' .classification."):
        ds2.compare("cls", "boxes")
