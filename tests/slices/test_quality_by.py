"""quality_by: label quality per annotator (or any grouping), with a planted noisy annotator
who must come out first, for classification (cleanlab) and detection."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

import nbdiag
from nbdiag.slices import quality_by, wilson_interval

ANNOTATORS = ["ana", "ben", "cho", "dev"]


@pytest.fixture(scope="module")
def digits_ds():
    """Digits labelled by four annotators; 'cho' flips 25 % of her labels, the others 2 %."""
    rng = np.random.default_rng(7)
    x, y = load_digits(return_X_y=True)
    x, y = x[:1200], y[:1200]
    who = rng.choice(ANNOTATORS, len(y))
    noisy = y.copy()
    rate = np.where(who == "cho", 0.25, 0.02)
    flip = rng.random(len(y)) < rate
    noisy[flip] = (y[flip] + rng.integers(1, 10, flip.sum())) % 10
    probs = cross_val_predict(
        LogisticRegression(max_iter=2000), x / 16, noisy, cv=5, method="predict_proba"
    )
    samples = pd.DataFrame({"label": noisy, "annotator": who, "split": np.where(
        np.arange(len(y)) % 3 == 0, "val", "train")})  # fmt: skip
    ds = nbdiag.Dataset(samples, class_names=list(range(10)))
    ds.add_run("lr", probs)
    return ds, flip


def test_noisy_annotator_comes_first_classification(digits_ds):
    ds, flip = digits_ds
    table = ds.quality_by("annotator", run="lr")
    assert list(table.index)[0] == "cho"
    assert table.index.name == "annotator"
    assert set(table.index) == set(ANNOTATORS)
    # counts equal a direct count; shares and intervals follow from them
    who = ds.samples["annotator"]
    for a in ANNOTATORS:
        assert table.at[a, "labels"] == (who == a).sum()
    lo, hi = wilson_interval(table["flagged"].to_numpy(), table["labels"].to_numpy())
    np.testing.assert_allclose(table["flagged_low"], lo)
    np.testing.assert_allclose(table["flagged_high"], hi)
    np.testing.assert_allclose(table["flagged_share"], table["flagged"] / table["labels"])
    # agreement: the run predicts the given label
    pred = ds.runs["lr"].predictions["prediction"].astype(str)
    agrees = (pred == ds.samples["label"].astype(str)).groupby(who).mean()
    np.testing.assert_allclose(table["agreement"], agrees.reindex(table.index))
    # the noisy annotator's interval lies above every careful one's
    careful = table.drop(index="cho")
    assert table.at["cho", "flagged_low"] > careful["flagged_high"].max()
    assert table.at["cho", "agreement"] < careful["agreement"].min()
    # nothing was written to the tables
    assert "label_issue" not in ds.samples.columns


def test_other_groupings_and_precomputed_issues(digits_ds):
    ds, _ = digits_ds
    by_split = ds.quality_by("split", run="lr")
    assert set(by_split.index) == {"train", "val"}
    assert by_split["labels"].sum() == len(ds)
    issues = nbdiag.issues.find_label_issues(ds, "lr", include_all=True, write=False)
    again = quality_by(ds, "annotator", "lr", label_issues=issues)
    pd.testing.assert_frame_equal(again, ds.quality_by("annotator", run="lr"))
    ds.samples["brightness_like"] = np.linspace(0, 1, len(ds))
    binned = ds.quality_by("brightness_like", run="lr", bins=4)
    assert len(binned) == 4 and binned["labels"].sum() == len(ds)
    assert all(str(i).startswith("[") for i in binned.index)
    with pytest.raises(KeyError, match="no column 'nobody'"):
        ds.quality_by("nobody", run="lr")


def _detection_ds(seed: int = 3):
    """Scenes of boxes; 'eve' mislabels 30 % of her boxes and misses some, 'fay' draws loose
    boxes, the rest are clean; the model predicts the true boxes."""
    rng = np.random.default_rng(seed)
    n = 240
    who = rng.choice(["dan", "eve", "fay", "gus"], n)
    samples = pd.DataFrame({"width": 200.0, "height": 200.0}, index=range(n))
    gt, pred = [], []
    for i in range(n):
        for _ in range(3):
            x, y = rng.uniform(0, 120, 2)
            w, h = rng.uniform(25, 60, 2)
            c = rng.choice(["car", "cat"])
            pred.append(dict(sample_id=i, label=c, x=x, y=y, w=w, h=h, score=0.95))
            label, bx, by_, bw, bh = c, x, y, w, h
            if who[i] == "eve":
                if rng.random() < 0.15:
                    continue  # missed box
                if rng.random() < 0.3:
                    label = "cat" if c == "car" else "car"
            if who[i] == "fay" and rng.random() < 0.3:
                bw, bh = w * 2.2, h * 2.2
                bw, bh = min(bw, 200 - bx), min(bh, 200 - by_)
            gt.append(dict(sample_id=i, label=label, x=bx, y=by_, w=bw, h=bh, annotator=who[i]))
    objects = pd.DataFrame(gt)
    objects.index.name = "object_id"
    ds = nbdiag.Dataset(samples, objects, class_names=["car", "cat"])
    ds.add_run("det", pd.DataFrame(pred))
    return ds


def test_noisy_annotator_comes_first_detection():
    ds = _detection_ds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = ds.quality_by("annotator", run="det", cleanlab_scores=False)
    assert list(table.index)[:2] == ["eve", "fay"] or list(table.index)[:2] == ["fay", "eve"]
    assert table.at["eve", "wrong_class"] > 0 and table.at["eve", "missing_box"] > 0
    assert table.at["fay", "bad_localization"] > 0
    for clean in ("dan", "gus"):
        assert table.at[clean, "flagged"] == 0
        assert table.at[clean, "mean_iou"] == pytest.approx(1.0)
        assert table.at[clean, "missing_box"] == 0
    assert table.at["fay", "mean_iou"] < table.at["dan", "mean_iou"]
    # labels = the annotator's ground-truth boxes; flagged = boxes with a box issue
    gt = ds.gt_objects
    for a in table.index:
        assert table.at[a, "labels"] == (gt["annotator"] == a).sum()
    issues = nbdiag.issues.find_detection_label_issues(
        ds, "det", cleanlab_scores=False, write=False
    )
    on_box = issues[issues["issue"] != "missing_box"]
    flagged = gt.loc[on_box["object_id"].unique(), "annotator"].value_counts()
    np.testing.assert_array_equal(table["flagged"], flagged.reindex(table.index, fill_value=0))


def test_detection_sample_level_grouping_and_bad_input():
    ds = _detection_ds(seed=4)
    ds.samples["site"] = np.where(ds.samples.index % 2 == 0, "north", "south")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = ds.quality_by("site", run="det", cleanlab_scores=False)
    assert set(table.index) == {"north", "south"}
    assert table["labels"].sum() == len(ds.gt_objects)
    with pytest.raises(ValueError, match="confidence"):
        ds.quality_by("annotator", run="det", confidence=1.5)
    with pytest.raises(KeyError, match="unknown run"):
        ds.quality_by("annotator", run="nope")


def test_report_and_explore_show_annotators(tmp_path):
    ds = _detection_ds(seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = ds.report(tmp_path / "r.html", run="det")
        ex = nbdiag.explore(ds, "det", image_grid=False)
    html = path.read_text()
    assert "Labels by annotator" in html and "eve" in html
    bar = ex.views["histogram:annotator"]
    assert bar.level == "objects"
    # clicking the 'eve' bar selects her boxes
    bar.select(ds.gt_objects.index[ds.gt_objects["annotator"] == "eve"])
    chosen = bar.selected
    assert len(chosen) and set(ds.objects.loc[chosen.index, "annotator"]) == {"eve"}
