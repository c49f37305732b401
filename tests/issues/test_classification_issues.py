"""Planted label flips are found; cleanlab is the oracle for the plain confident-learning path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

import nbdiag
from nbdiag.embeddings import set_embeddings
from nbdiag.issues import find_label_issues, out_of_fold_probabilities

cleanlab_filter = pytest.importorskip("cleanlab.filter")


def _flipped(rate=0.06, seed=0):
    d = load_digits()
    rng = np.random.default_rng(seed)
    y = d.target.copy()
    flip = rng.choice(len(y), int(rate * len(y)), replace=False)
    y[flip] = (y[flip] + rng.integers(1, 10, len(flip))) % 10
    ds = nbdiag.Dataset.from_arrays(d.images, y)
    return ds, d, set(flip.tolist())


@pytest.fixture(scope="module")
def flipped():
    return _flipped()


def test_planted_flips_are_found_from_embeddings(flipped):
    ds, d, flips = flipped
    set_embeddings(ds, d.data)
    issues = find_label_issues(ds)
    found = set(issues.index)
    precision = len(found & flips) / len(found)
    recall = len(found & flips) / len(flips)
    assert precision > 0.85 and recall > 0.85, (precision, recall)
    # the suggested label is mostly the true one
    true = pd.Series(d.target, index=ds.samples.index)
    hits = issues.index[issues.index.isin(list(flips))]
    agree = (issues.loc[hits, "suggested_label"].astype(int) == true[hits]).mean()
    assert agree > 0.9
    assert issues["label_quality"].is_monotonic_increasing
    assert issues["reason"].str.contains("nearest neighbours").all()
    assert issues.attrs["probabilities"] == "out-of-fold logistic regression"
    assert ds.samples["label_issue"].sum() == len(issues)
    assert ds.samples.loc[issues.index, "suggested_label"].notna().all()
    everything = find_label_issues(ds, include_all=True, write=False)
    assert len(everything) == len(ds) and everything["is_label_issue"].sum() == len(issues)


def test_plain_confident_learning_equals_cleanlab(flipped):
    ds, d, _ = flipped
    set_embeddings(ds, d.data)
    probs = out_of_fold_probabilities(ds)
    assert probs.shape == (len(ds), 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    ours = find_label_issues(
        ds, probabilities=probs, neighbor_weight=0.0, write=False, include_all=True
    )
    labels = ds.samples["label"].cat.codes.to_numpy()
    want = cleanlab_filter.find_label_issues(
        labels, probs.to_numpy(), filter_by="prune_by_noise_rate"
    )
    got = ours["is_label_issue"].reindex(ds.samples.index).to_numpy()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ours["confident_learning"].reindex(ds.samples.index), want)


def test_a_run_with_probabilities_and_no_embeddings(flipped):
    _, d, flips = flipped
    ds, _, _ = _flipped()
    # out-of-sample probabilities computed elsewhere, attached as a run
    set_embeddings(ds, d.data, name="tmp")
    probs = out_of_fold_probabilities(ds, add_run="cv")
    fresh = nbdiag.Dataset.from_arrays(d.images, ds.samples["label"].cat.codes.to_numpy())
    fresh.add_run("cv", probs)
    issues = find_label_issues(fresh, "cv")
    assert "no embeddings" in issues.attrs["method"]
    assert len(set(issues.index) & flips) / len(issues) > 0.8
    assert not issues["neighbor_agreement"].notna().any()


def test_errors_name_the_fix():
    ds = nbdiag.Dataset(pd.DataFrame({"label": ["a", "b", "a", "b"]}))
    with pytest.raises(ValueError, match=r"ds.embed\(model\)"):
        find_label_issues(ds)
    ds.add_run("labels_only", ["a", "b", "b", "a"])
    with pytest.raises(ValueError, match="predicted labels only"):
        find_label_issues(ds, "labels_only")
    with pytest.raises(ValueError, match="neighbor_weight"):
        find_label_issues(ds, probabilities=np.full((4, 2), 0.5), neighbor_weight=2)
    with pytest.raises(ValueError, match="shape"):
        find_label_issues(ds, probabilities=np.full((3, 2), 0.5))
