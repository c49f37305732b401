"""Detection label issues: a planted missing box, wrong class, badly drawn box and duplicate
annotation are each flagged, and nothing else."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.issues import find_label_issues

pytest.importorskip("nbdiag.evaluation.detection")


def _box(sample, label, x, y, w, h, score=None):
    row = {"sample_id": sample, "label": label, "x": x, "y": y, "w": w, "h": h}
    if score is not None:
        row["score"] = score
    return row


@pytest.fixture
def planted():
    samples = pd.DataFrame({"width": 100.0, "height": 100.0}, index=["s0", "s1", "s2", "s3"])
    gt = pd.DataFrame(
        [
            _box("s0", "cat", 10, 10, 30, 30),
            _box("s0", "dog", 50, 50, 30, 30),
            _box("s1", "cat", 10, 10, 40, 40),  # really a dog
            _box("s2", "dog", 20, 20, 40, 40),  # drawn in the wrong place
            _box("s3", "cat", 10, 10, 30, 30),
            _box("s3", "cat", 11, 10, 30, 30),  # annotated twice
        ],
        index=pd.Index(["g0", "g1", "g_wrong", "g_loose", "g_first", "g_dup"], name="object_id"),
    )
    ds = nbdiag.Dataset(samples, gt, class_names=["cat", "dog"])
    preds = pd.DataFrame(
        [
            _box("s0", "cat", 10, 10, 30, 30, 0.95),
            _box("s0", "dog", 51, 50, 30, 30, 0.9),
            _box("s0", "dog", 70, 2, 20, 20, 0.93),  # an object nobody annotated
            _box("s0", "cat", 85, 85, 10, 10, 0.2),  # background, but not confident
            _box("s1", "dog", 10, 10, 40, 40, 0.9),
            _box("s2", "dog", 35, 35, 40, 40, 0.85),
            _box("s3", "cat", 10, 10, 30, 30, 0.9),
        ],
    )
    preds["object_id"] = ["p0", "p1", "p_missing", "p_low", "p_wrong", "p_loose", "p3"]
    ds.add_run("detector", preds)
    return ds


def test_each_planted_problem_is_flagged_once(planted):
    issues = find_label_issues(planted, "detector")
    got = {(str(k), o) for k, o in zip(issues["issue"], issues["object_id"], strict=True)}
    assert got == {
        ("missing_box", "p_missing"),
        ("wrong_class", "g_wrong"),
        ("bad_localization", "g_loose"),
        ("duplicate_box", "g_dup"),
    }
    by_kind = issues.set_index("issue")
    missing = by_kind.loc["missing_box"]
    assert missing["suggested_label"] == "dog" and missing["sample_id"] == "s0"
    assert [missing[c] for c in "xywh"] == [70, 2, 20, 20]
    wrong = by_kind.loc["wrong_class"]
    assert (wrong["label"], wrong["suggested_label"], wrong["pred_id"]) == ("cat", "dog", "p_wrong")
    assert wrong["iou"] == pytest.approx(1.0)
    loose = by_kind.loc["bad_localization"]
    assert loose["pred_id"] == "p_loose" and 0.1 < loose["iou"] < 0.5
    assert [loose[c] for c in "xywh"] == [35, 35, 40, 40]  # the suggested box
    assert by_kind.loc["duplicate_box", "iou"] > 0.9
    assert issues["reason"].str.len().gt(20).all()
    assert issues["score"].dropna().is_monotonic_decreasing
    # columns written for the widgets
    objects = planted.objects
    assert objects.loc["g_wrong", "label_issue"] == "wrong_class"
    assert objects.loc["p_missing", "label_issue"] == "missing_box"
    assert objects.loc["g0", "label_issue"] == ""
    assert planted.samples["label_issue_count"].to_dict() == {"s0": 1, "s1": 1, "s2": 1, "s3": 1}


def test_thresholds_control_what_counts_as_confident(planted):
    strict = find_label_issues(planted, "detector", score_threshold=0.94, write=False)
    assert set(strict["issue"].astype(str)) == {"duplicate_box"}
    loose = find_label_issues(planted, "detector", score_threshold=0.1, write=False)
    assert "p_low" in set(loose["object_id"])


def test_cleanlab_image_scores_when_available(planted):
    pytest.importorskip("cleanlab.object_detection")
    from nbdiag.issues import cleanlab_image_scores

    scores = cleanlab_image_scores(planted, "detector")
    if scores is None:
        pytest.skip("this cleanlab version cannot score the toy data")
    assert scores.between(0, 1).all() and list(scores.index) == ["s0", "s1", "s2", "s3"]
    assert np.isfinite(scores).all()
