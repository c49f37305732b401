"""Classification numbers against scikit-learn and hand computations."""

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

import nbdiag


@pytest.fixture
def case():
    rng = np.random.default_rng(3)
    n, k = 500, 6
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.5
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, p


def test_global_numbers_equal_sklearn(case):
    y, p = case
    ev = nbdiag.evaluate_classification(y, p)
    pred = p.argmax(1)
    assert ev.accuracy == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert ev.balanced_accuracy == pytest.approx(skm.balanced_accuracy_score(y, pred), abs=1e-12)
    assert ev.log_loss == pytest.approx(skm.log_loss(y, p), abs=1e-9)
    assert ev.top_k_accuracy(3) == pytest.approx(skm.top_k_accuracy_score(y, p, k=3), abs=1e-12)
    f1 = skm.f1_score(y, pred, average=None)
    assert np.allclose(ev.per_class["f1"].to_numpy(), f1)
    assert (ev.confusion_matrix().to_numpy() == skm.confusion_matrix(y, pred)).all()
    assert np.allclose(
        ev.confusion_matrix("true").to_numpy(), skm.confusion_matrix(y, pred, normalize="true")
    )
    assert np.allclose(
        ev.confusion_matrix("pred").to_numpy(), skm.confusion_matrix(y, pred, normalize="pred")
    )


def test_per_sample_columns(case):
    y, p = case
    ev = nbdiag.evaluate_classification(y, p)
    ps = ev.per_sample
    srt = np.sort(p, axis=1)
    assert np.allclose(ps["confidence"], srt[:, -1])
    assert np.allclose(ps["margin"], srt[:, -1] - srt[:, -2])
    assert np.allclose(ps["entropy"], -(p * np.log(p)).sum(1))
    assert np.allclose(ps["loss"], -np.log(p[np.arange(len(y)), y]))
    assert (ps["correct"] == (p.argmax(1) == y)).all()


def test_calibration_by_hand():
    # 4 samples, confidences 0.95, 0.95, 0.55, 0.55; the 0.95s: one right; the 0.55s: both right
    p = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.45, 0.55]])
    y = np.array([0, 1, 0, 1])
    ev = nbdiag.evaluate_classification(y, p)
    t = ev.reliability(10)
    assert t["count"].sum() == 4
    b9 = t.iloc[9]
    assert b9["count"] == 2 and b9["accuracy"] == 0.5 and b9["confidence"] == pytest.approx(0.95)
    # ECE = 0.5*|0.5-0.95| + 0.5*|1.0-0.55|
    assert ev.expected_calibration_error(10) == pytest.approx(0.5 * 0.45 + 0.5 * 0.45)


def test_curves_equal_sklearn(case):
    y, p = case
    ev = nbdiag.evaluate_classification(y, p, class_names=list("abcdef"))
    pr = ev.pr_curve("c")
    prec, rec, _ = skm.precision_recall_curve(y == 2, p[:, 2])
    assert np.allclose(pr["precision"], prec) and np.allclose(pr["recall"], rec)
    roc = ev.roc_curve(2)
    fpr, tpr, _ = skm.roc_curve(y == 2, p[:, 2])
    assert np.allclose(roc["fpr"], fpr) and np.allclose(roc["tpr"], tpr)


def test_labels_only_run_and_unlabelled_samples_skipped():
    samples = pd.DataFrame({"label": ["a", "b", None, "a"]}, index=list("wxyz"))
    ds = nbdiag.Dataset(samples)
    ds.add_run("m", ["a", "a", "b", "a"])
    ev = ds.evaluate("m")
    assert list(ev.per_sample.index) == ["w", "x", "z"]
    assert ev.accuracy == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="probabilities"):
        ev.log_loss  # noqa: B018
    cell = ev.samples_in_cell("b", "a")
    assert list(cell.index) == ["x"]


def test_evaluate_without_runs_says_how():
    ds = nbdiag.Dataset(pd.DataFrame({"label": ["a"]}))
    with pytest.raises(ValueError, match="add_run"):
        ds.evaluate()


def test_evaluate_takes_progress_for_every_run_and_names_detection_only_options():
    ds = nbdiag.Dataset(pd.DataFrame({"label": ["a", "b"]}))
    ds.add_run("m", ["a", "a"])
    assert ds.evaluate("m", progress=False).accuracy == 0.5
    with pytest.raises(TypeError, match="'m' is a classification run.*iou_threshold"):
        ds.evaluate("m", iou_threshold=0.7)


def test_to_frame_and_html(case):
    y, p = case
    ev = nbdiag.evaluate_classification(y, p)
    frame = ev.to_frame()
    pd.testing.assert_frame_equal(frame, ev.per_sample)
    frame["correct"] = False  # a copy: the evaluation is untouched
    assert ev.per_sample["correct"].any()
    out = ev._repr_html_()
    assert "ClassificationEvaluation" in out and "accuracy" in out and "<table>" in out
