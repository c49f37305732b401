"""performance_by / metric_importance / worst_slices on data with a planted answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import nbdiag
from nbdiag.slices import metric_importance, performance_by, wilson_interval, worst_slices


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(np.array([0, 5, 10]), np.array([10, 10, 10]))
    assert lo == pytest.approx([0.0, 0.2366, 0.7225], abs=1e-4)
    assert hi == pytest.approx([0.2775, 0.7634, 1.0], abs=1e-4)
    lo, hi = wilson_interval(3, 0)
    assert np.isnan(lo) and np.isnan(hi)


def _planted(n=1200, seed=0, fails=lambda s: s.brightness < 0.15, noise=0.02):
    """Samples with metric columns and a model that errs where ``fails`` (plus noise)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(["cat", "dog", "fox"], n)
    s = pd.DataFrame(
        {
            "label": labels,
            "brightness": rng.uniform(0, 1, n),
            "blurriness": rng.uniform(0, 1, n),
            "contrast": rng.uniform(0, 0.5, n),
            "entropy": rng.uniform(0, 8, n),
        },
        index=pd.Index([f"s{i}" for i in range(n)]),
    )
    s["dark"] = s.brightness < 0.3  # a coarser flag: related, but less than brightness
    wrong = fails(s).to_numpy() | (rng.random(n) < noise)
    other = {"cat": "dog", "dog": "fox", "fox": "cat"}
    pred = np.where(wrong, [other[x] for x in labels], labels)
    ds = nbdiag.Dataset(s, class_names=["cat", "dog", "fox"])
    ds.add_run("model", pred)
    return ds, wrong


def test_performance_by_finds_the_failing_bin():
    ds, wrong = _planted()
    t = performance_by(ds, "brightness", run="model", bins=10)
    assert t["count"].sum() == len(ds.samples)
    assert list(t.columns[:3]) == ["bin", "lower", "upper"]
    low = t.iloc[0]
    assert low.upper == pytest.approx(0.1, abs=0.03)  # deciles of U(0, 1)
    assert low.accuracy < 0.1
    assert (t.accuracy.iloc[2:] > 0.9).all()
    assert ((t.accuracy_low <= t.accuracy) & (t.accuracy <= t.accuracy_high)).all()
    assert t.accuracy.iloc[0] == pytest.approx(1 - wrong[ds.samples.brightness < low.upper].mean())
    # a flag is grouped by value
    f = performance_by(ds, "dark", run="model")
    assert f.bin.tolist() == ["False", "True"]
    assert f.accuracy.iloc[0] > 0.95 and f.accuracy.iloc[1] < 0.6
    # explicit edges, and the class column
    e = performance_by(ds, "brightness", run="model", bins=[0, 0.15, 1])
    assert e.accuracy.iloc[0] < 0.05 and e.accuracy.iloc[1] > 0.95
    assert set(performance_by(ds, "label", run="model").bin) == {"cat", "dog", "fox"}


def test_metric_importance_ranks_the_planted_metric_first():
    ds, _ = _planted()
    imp = metric_importance(ds, "model")
    assert imp.metric.iloc[0] == "brightness"
    assert imp.metric.iloc[1] == "dark"
    assert imp.spearman.iloc[0] < -0.3  # errors at low brightness
    assert imp.p_value.iloc[0] < 1e-10
    noise = imp.set_index("metric").loc[["blurriness", "contrast", "entropy"]]
    assert (noise.mutual_information < 0.02).all() and (noise.p_value > 1e-3).all()
    assert imp["rank"].tolist() == list(range(1, len(imp) + 1))


def test_metric_importance_sees_non_monotone_relations():
    # errors at both ends of blurriness: rank correlation misses it, mutual information not
    ds, _ = _planted(fails=lambda s: (s.blurriness < 0.1) | (s.blurriness > 0.9))
    imp = metric_importance(ds, "model").set_index("metric")
    assert imp.mutual_information.idxmax() == "blurriness"
    assert abs(imp.spearman["blurriness"]) < 0.1


def test_worst_slices_finds_the_planted_conjunction():
    ds, _ = _planted(fails=lambda s: (s.brightness < 0.25) & (s.label == "cat"), noise=0.03)
    top = worst_slices(ds, "model", top=5)
    best = top.iloc[0]
    cols = {p.column for p in best.conditions}
    assert cols == {"brightness", "label"}, top[["slice", "size", "error_rate", "lift"]]
    assert "label == 'cat'" in best.slice and "brightness <" in best.slice
    assert best.error_rate > 0.9 and best.lift > 5
    assert best.error_rate_low <= best.error_rate <= best.error_rate_high
    members = ds.samples.query(best.query)
    assert len(members) == best["size"]
    # order-1 only: the best single predicate is about brightness
    single = worst_slices(ds, "model", max_order=1)
    assert single.iloc[0].conditions[0].column in {"brightness", "dark"}
    # a large min_support rules out small slices
    assert (worst_slices(ds, "model", min_support=0.5)["size"] >= 600).all()


def test_worst_slices_of_order_three():
    ds, _ = _planted(
        n=3000,
        fails=lambda s: (s.brightness < 0.25) & (s.label == "cat") & (s.blurriness > 0.75),
        noise=0.005,
    )
    best = worst_slices(ds, "model", max_order=3, top=3).iloc[0]
    assert {p.column for p in best.conditions} == {"brightness", "label", "blurriness"}
    assert best.error_rate > 0.8


def test_end_to_end_with_real_images(tmp_path):
    rng = np.random.default_rng(0)
    paths, labels = [], []
    for i in range(24):
        arr = rng.integers(0, 256, (32, 32, 3)).astype(float)
        if i % 2:
            arr *= 0.12
        path = tmp_path / f"{i}.png"
        Image.fromarray(arr.astype(np.uint8)).save(path)
        paths.append(str(path))
        labels.append("a" if i % 4 < 2 else "b")
    ds = nbdiag.Dataset(pd.DataFrame({"path": paths, "label": labels}))
    # the model fails exactly on the dark images
    pred = [("b" if lab == "a" else "a") if i % 2 else lab for i, lab in enumerate(labels)]
    ds.add_run("m", pred)
    ds_errors = nbdiag.metrics.compute_metrics(ds, cache_dir=False, progress=False)
    assert ds_errors.empty
    t = performance_by(ds, "brightness", run="m", bins=2)
    assert t.accuracy.tolist() == [0.0, 1.0]
    imp = metric_importance(ds, "m")
    # every brightness-like metric separates dark from normal perfectly; brightness is among
    # the best, and blur / size metrics are not
    mi = imp.set_index("metric").mutual_information
    assert mi["brightness"] >= 0.9 * mi.max() and mi["brightness"] > 0.5
    assert mi[["blurriness", "width", "aspect_ratio"]].max() < 0.2
    ws = worst_slices(ds, "m", min_support=4)
    assert ws.iloc[0].error_rate == 1.0 and ws.iloc[0]["size"] >= 6


@pytest.fixture
def detection_ds():
    """The detector finds every large box and misses every small one; a few false positives
    sit in bright images."""
    rng = np.random.default_rng(1)
    n = 60
    samples = pd.DataFrame(
        {
            "width": 200.0,
            "height": 200.0,
            "brightness": rng.uniform(0, 1, n),
            "contrast": rng.uniform(0, 0.5, n),
        },
        index=[f"im{i}" for i in range(n)],
    )
    gt, preds = [], []
    for i, sid in enumerate(samples.index):
        gt.append((sid, "car", 20.0, 20.0, 8.0, 8.0))  # small: always missed
        gt.append((sid, "car", 100.0, 90.0, 80.0, 80.0))  # large: always found
        preds.append((sid, "car", 101.0, 90.0, 80.0, 80.0, 0.9))
        if samples.brightness.iloc[i] > 0.8:
            preds.append((sid, "car", 60.0, 150.0, 30.0, 30.0, 0.6))
    cols = ["sample_id", "label", "x", "y", "w", "h"]
    ds = nbdiag.Dataset(samples, pd.DataFrame(gt, columns=cols))
    ds.add_run("det", pd.DataFrame(preds, columns=[*cols, "score"]))
    nbdiag.metrics.compute_metrics(ds, cache_dir=False, progress=False)
    return ds


def test_detection_performance_by_box_area(detection_ds):
    t = performance_by(detection_ds, "box_area", run="det", bins=4)
    assert {"precision", "recall", "fp_rate", "fn_rate", "recall_low", "precision_high"} <= set(
        t.columns
    )
    # three box sizes only (8x8 GT, 30x30 false positives, 80x80 GT and predictions):
    # grouped by value
    assert t.bin.tolist() == ["64", "900", "6400"]
    small, fps, large = t.iloc[0], t.iloc[1], t.iloc[2]
    assert small.recall == 0 and small.fn_rate == 1 and small.ground_truth == 60
    assert small.recall_high < 0.1
    assert large.recall == 1 and large.found == 60 and large.precision == 1
    assert fps.fp == fps.predictions > 0 and fps.precision == 0 and fps.ground_truth == 0
    assert np.isnan(fps.recall)
    # quantile bins of a continuous object metric
    q = performance_by(detection_ds, "relative_area", run="det", bins=[0, 0.01, 1])
    assert q.recall.tolist() == [0.0, 1.0]
    # sample-level metrics reach boxes through sample_id
    b = performance_by(detection_ds, "brightness", run="det", bins=[0, 0.8, 1])
    assert b.fp.tolist()[0] == 0 and b.fp.tolist()[1] > 0


def test_detection_importance_and_worst_slices(detection_ds):
    imp = metric_importance(detection_ds, "det")
    fn = imp[imp.target == "fn"]
    assert fn.metric.iloc[0] in {"box_area", "relative_area", "shape_outlier"}
    fp = imp[imp.target == "fp"]
    assert fp.metric.iloc[0] in {"brightness", "box_area", "relative_area", "border_closeness"}
    ws = worst_slices(detection_ds, "det", min_support=5)
    fn_slices = ws[ws.target == "fn"]
    assert fn_slices.iloc[0].error_rate == 1.0
    assert fn_slices.iloc[0].conditions[0].column in {"box_area", "relative_area", "max_iou"}


def test_helpful_errors():
    ds, _ = _planted(n=50)
    with pytest.raises(KeyError, match="compute_metrics"):
        performance_by(ds, "sharpness", run="model")
    with pytest.raises(ValueError, match="max_order"):
        worst_slices(ds, "model", max_order=4)
    bare = nbdiag.Dataset(pd.DataFrame({"label": ["a"]}))
    with pytest.raises(ValueError, match="no runs"):
        metric_importance(bare)


def test_prediction_metrics_can_be_included():
    ds, _ = _planted(n=300)
    probs = np.full((300, 3), 0.2)
    probs[np.arange(300), ds.samples.brightness.gt(0.5).astype(int)] = 0.6
    ds.add_run("p", probs)
    nbdiag.metrics.compute_metrics(ds, cache_dir=False, progress=False)
    plain = metric_importance(ds, "p")
    assert not plain.metric.str.contains("@").any()
    with_preds = metric_importance(ds, "p", include_predictions=True)
    assert "confidence@p" in set(with_preds.metric)
    assert "correct@p" not in set(with_preds.metric) or True  # allowed, but never the target
    assert performance_by(ds, "confidence", run="p").attrs["metric"] == "confidence"
