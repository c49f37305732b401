"""Multi-label runs in the cross-cutting analyses: performance_by, worst_slices,
metric_importance, compare and the HTML report. Every number is checked against scikit-learn /
scipy / numpy computed on the rows of the bin, slice or comparison directly."""

from __future__ import annotations

import html
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn import metrics as skm

import nbdiag

from .conftest import CLASSES


def _planted(n: int = 600, seed: int = 3):
    """Indicator labels Y, a ``brightness`` column, and scores that are good except on dark
    images (brightness < 0.2), where they are noise."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, len(CLASSES))) < 0.3).astype(int)
    bright = rng.random(n)
    good = np.clip(0.6 * y + 0.2 + rng.normal(0, 0.12, y.shape), 0, 1)
    s = np.where((bright < 0.2)[:, None], rng.random(y.shape), good)
    ids = [f"s{i:03d}" for i in range(n)]
    labels = [[CLASSES[k] for k in np.flatnonzero(row)] for row in y]
    samples = pd.DataFrame({"labels": labels, "brightness": bright}, index=ids)
    ds = nbdiag.Dataset(samples, class_names=CLASSES)
    ds.add_run("m", s)
    return ds, y, s, bright


def _bin_oracle(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        "count": len(y),
        "subset_accuracy": skm.accuracy_score(y, p),
        "hamming": skm.hamming_loss(y, p),
        "jaccard": skm.jaccard_score(y, p, average="samples", zero_division=1),
        "micro_f1": skm.f1_score(y, p, average="micro", zero_division=0),
    }


def test_performance_by_bins_equal_sklearn_on_the_bins_rows() -> None:
    ds, y, s, bright = _planted()
    pred = (s >= 0.5).astype(int)
    edges = [0.0, 0.2, 0.5, 0.8, 1.0]
    t = ds.performance_by("brightness", "m", bins=edges)
    assert t.attrs["task"] == "multilabel"
    assert t["count"].sum() == len(y)
    for i, row in t.iterrows():
        lo, hi = edges[i], edges[i + 1]
        rows = (bright >= lo) & ((bright < hi) if i < len(edges) - 2 else (bright <= hi))
        oracle = _bin_oracle(y[rows], pred[rows])
        for key, value in oracle.items():
            assert row[key] == pytest.approx(value), (i, key)
        assert row["error_rate"] == pytest.approx(1 - oracle["subset_accuracy"])
        assert row["subset_accuracy_low"] <= row["subset_accuracy"] <= row["subset_accuracy_high"]
    # the planted failure: the dark bin is far worse
    assert t["subset_accuracy"].iloc[0] < 0.2 < 0.8 < t["subset_accuracy"].iloc[1:].min()


def test_performance_by_label_gives_one_overlapping_row_per_class() -> None:
    ds, y, s, _ = _planted()
    pred = (s >= 0.5).astype(int)
    t = ds.performance_by("label", "m")
    assert t["bin"].tolist() == CLASSES
    assert t["count"].sum() == y.sum()  # a sample counts once per class it carries
    for k, row in t.iterrows():
        rows = y[:, k] == 1
        oracle = _bin_oracle(y[rows], pred[rows])
        for key, value in oracle.items():
            assert row[key] == pytest.approx(value), (k, key)


def test_worst_slices_find_the_planted_failure_and_queries_select_it() -> None:
    ds, y, s, bright = _planted()
    pred = (s >= 0.5).astype(int)
    wrong = ~(y == pred).all(axis=1)
    out = ds.worst_slices("m", ["brightness"], bins=5, max_order=2)
    assert out.attrs["task"] == "multilabel" and len(out)
    top = out.iloc[0]
    assert "brightness <" in top["slice"]
    assert top["error_rate"] > 0.8 and top["lift"] > 2
    # every slice's numbers, recomputed from the rows its query selects
    pos = {sid: i for i, sid in enumerate(ds.samples.index)}
    for _, row in out.iterrows():
        chosen = np.array([pos[i] for i in ds.samples.query(row["query"]).index])
        assert len(chosen) == row["size"]
        assert wrong[chosen].sum() == row["errors"]
        assert row["error_rate"] == pytest.approx(wrong[chosen].mean())
        assert row["hamming"] == pytest.approx(skm.hamming_loss(y[chosen], pred[chosen]))
        assert row["jaccard"] == pytest.approx(
            skm.jaccard_score(y[chosen], pred[chosen], average="samples", zero_division=1)
        )
    # class predicates: "'c' in labels", and their query selects exactly the samples with c
    classes = ds.worst_slices("m", [], max_order=1, min_support=5, top=20, alpha=0.999)
    assert len(classes), "some class is worse than average"
    for _, row in classes.iterrows():
        (cond,) = row["conditions"]
        assert cond.contains and row["slice"] == f"{cond.value!r} in labels"
        selected = ds.samples.query(row["query"]).index
        expected = ds.samples.index[y[:, CLASSES.index(cond.value)] == 1]
        assert selected.equals(expected)


def test_class_query_does_not_match_a_class_whose_name_contains_another() -> None:
    names = ["cat", "bobcat", "a|b"]
    labels = [["bobcat"], ["cat"], ["a|b", "cat"], [], ["bobcat", "a|b"]] * 6
    rng = np.random.default_rng(0)
    ds = nbdiag.Dataset(pd.DataFrame({"labels": labels}), class_names=names)
    ds.add_run("m", rng.random((len(labels), 3)))
    out = ds.worst_slices("m", [], max_order=1, min_support=1, top=10, alpha=1.0)
    for _, row in out.iterrows():
        (cond,) = row["conditions"]
        got = ds.samples.query(row["query"]).index
        want = ds.samples.index[[cond.value in cell for cell in ds.samples["labels"]]]
        assert got.equals(want), cond.value


def test_metric_importance_spearman_equals_scipy() -> None:
    ds, y, s, bright = _planted()
    wrong = ~(y == (s >= 0.5)).all(axis=1)
    imp = ds.metric_importance("m", ["brightness"])
    rho, p = spearmanr(bright, wrong.astype(float))
    row = imp.iloc[0]
    assert row["spearman"] == pytest.approx(rho) and row["p_value"] == pytest.approx(p)
    assert row["error_rate"] == pytest.approx(wrong.mean())
    assert row["mutual_information"] > 0.05


# ---------------------------------------------------------------------- compare
def _headline(y: np.ndarray, s: np.ndarray, t: float = 0.5) -> dict[str, float]:
    p = (s >= t).astype(int)
    return {
        "mAP": skm.average_precision_score(y, s, average="macro"),
        "micro_f1": skm.f1_score(y, p, average="micro", zero_division=0),
        "macro_f1": skm.f1_score(y, p, average="macro", zero_division=0),
        "samples_f1": skm.f1_score(y, p, average="samples", zero_division=0),
        "hamming_loss": skm.hamming_loss(y, p),
        "subset_accuracy": skm.accuracy_score(y, p),
    }


def test_compare_two_rounds_equals_sklearn_on_the_common_samples() -> None:
    ds, y, s, bright = _planted()
    rng = np.random.default_rng(7)
    s2 = np.clip(
        np.where((bright < 0.2)[:, None], 0.6 * y + 0.2, s) + rng.normal(0, 0.1, y.shape), 0, 1
    )
    # round 2 scores only the samples not used for training: a subset
    keep = rng.random(len(y)) < 0.7
    ids = ds.samples.index[keep]
    ds.add_run("round2", pd.DataFrame(s2[keep], index=ids, columns=CLASSES))
    cmp = ds.compare("m", "round2", threshold=0.4)
    assert cmp.kind == "multilabel"
    assert cmp.items.index.equals(ids)
    ya, sa, sb = y[keep], s[keep], s2[keep]
    oa, ob = _headline(ya, sa, 0.4), _headline(ya, sb, 0.4)
    for key in oa:
        assert cmp.summary.loc[key, "a"] == pytest.approx(oa[key]), key
        assert cmp.summary.loc[key, "b"] == pytest.approx(ob[key]), key
        assert cmp.summary.loc[key, "delta"] == pytest.approx(ob[key] - oa[key]), key
    pa, pb = (sa >= 0.4).astype(int), (sb >= 0.4).astype(int)
    ok_a, ok_b = (pa == ya).all(axis=1), (pb == ya).all(axis=1)
    counts = cmp.counts
    assert counts["fixed"] == (~ok_a & ok_b).sum() > 0
    assert counts["broken"] == (ok_a & ~ok_b).sum()
    assert counts["still_wrong"] == (~ok_a & ~ok_b).sum()
    assert counts["both_right"] == (ok_a & ok_b).sum()
    # per class: AP and F1 of both runs, decisions fixed / broken
    for k, c in enumerate(CLASSES):
        row = cmp.per_class.loc[c]
        assert row["support"] == ya[:, k].sum()
        assert row["average_precision_a"] == pytest.approx(
            skm.average_precision_score(ya[:, k], sa[:, k])
        )
        assert row["f1_b"] == pytest.approx(skm.f1_score(ya[:, k], pb[:, k], zero_division=0))
        right_a, right_b = pa[:, k] == ya[:, k], pb[:, k] == ya[:, k]
        assert row["fixed"] == (~right_a & right_b).sum()
        assert row["broken"] == (right_a & ~right_b).sum()
    # per-class confusion change equals scikit-learn's multilabel confusion matrices
    mca, mcb = skm.multilabel_confusion_matrix(ya, pa), skm.multilabel_confusion_matrix(ya, pb)
    d = mcb - mca  # [[tn, fp], [fn, tp]] per class
    np.testing.assert_array_equal(cmp.confusion_delta["tp"].to_numpy(), d[:, 1, 1])
    np.testing.assert_array_equal(cmp.confusion_delta["fp"].to_numpy(), d[:, 0, 1])
    np.testing.assert_array_equal(cmp.confusion_delta["fn"].to_numpy(), d[:, 1, 0])
    np.testing.assert_array_equal(cmp.confusion_delta["tn"].to_numpy(), d[:, 0, 0])
    # the fix happened on dark images: by_metric shows it in the low brightness bin
    bm = cmp.by_metric[cmp.by_metric["metric"] == "brightness"]
    dark = bm.iloc[0]
    rows = bright[keep] < bm["upper"].iloc[0]  # bins are [lower, upper)
    assert dark["subset_accuracy_a"] == pytest.approx(ok_a[rows].mean())
    assert dark["delta"] > 0.5
    # disagreement: mean absolute probability difference; most_disagreeing sorted by it
    np.testing.assert_allclose(cmp.items["disagreement"], np.abs(sa - sb).mean(axis=1))
    top = cmp.most_disagreeing(5)
    assert top["disagreement"].is_monotonic_decreasing
    assert top["disagreement"].iloc[0] == pytest.approx(np.abs(sa - sb).mean(axis=1).max())


def test_compare_refuses_runs_of_different_kinds_and_no_overlap() -> None:
    ds, y, s, _ = _planted(n=40)
    with pytest.raises(ValueError, match="twice"):
        ds.compare("m", "m")
    ds.add_run("first", pd.DataFrame(s[:10], index=ds.samples.index[:10], columns=CLASSES))
    ds.add_run("second", pd.DataFrame(s[20:], index=ds.samples.index[20:], columns=CLASSES))
    with pytest.raises(ValueError, match="no evaluated sample in common"):
        ds.compare("first", "second")


# ---------------------------------------------------------------------- report
def test_report_has_a_multilabel_evaluation_section_and_no_failed_section(tmp_path) -> None:
    pytest.importorskip("bokeh")
    ds, y, s, bright = _planted(n=200)
    ds.add_run("v2", np.clip(s + 0.05, 0, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a failed section warns
        path = ds.report(tmp_path / "r.html", run="v2")
    text = html.unescape(path.read_text(encoding="utf-8"))
    assert "could not be built" not in text and "could not be computed" not in text
    ev = ds.evaluate("v2")
    p = (np.clip(s + 0.05, 0, 1) >= 0.5).astype(int)
    assert ev.mean_average_precision == pytest.approx(
        skm.average_precision_score(y, np.clip(s + 0.05, 0, 1), average="macro")
    )
    # headline numbers and the per-class table are in the page, as the page formats them
    from nbdiag.report._html import fmt

    assert "(multi-label)" in text
    for value in (
        ev.mean_average_precision,
        skm.f1_score(y, p, average="samples", zero_division=0),
    ):
        assert f">{fmt(float(value))}<" in text
    for c in CLASSES:
        ap = skm.average_precision_score(
            y[:, CLASSES.index(c)], np.clip(s + 0.05, 0, 1)[:, CLASSES.index(c)]
        )
        assert re.search(rf"<th>{c}</th><td[^>]*>{re.escape(fmt(float(ap)))}<", text), c
    # the comparison section compares the multi-label runs
    assert "Change in each class" in text and "subset_accuracy" in text
