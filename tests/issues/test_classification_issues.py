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
        ds,
        probabilities=probs,
        neighbor_weight=0.0,
        filter_by="prune_by_noise_rate",
        write=False,
        include_all=True,
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


def _noisy_digits(kind, rate, seed):
    """Digits with seeded noise: uniform over the other classes, or look-alike pairs."""
    d = load_digits()
    rng = np.random.default_rng(seed)
    y = d.target.copy()
    if kind == "uniform":
        idx = rng.choice(len(y), int(round(rate * len(y))), replace=False)
        y[idx] = (y[idx] + rng.integers(1, 10, len(idx))) % 10
    else:
        for c, partner in {1: 7, 7: 1, 3: 8, 8: 3, 4: 9, 9: 4}.items():
            members = np.flatnonzero(d.target == c)
            idx = rng.choice(members, int(round(rate * len(members))), replace=False)
            y[idx] = partner
    ds = nbdiag.Dataset.from_arrays(d.images, y)
    set_embeddings(ds, d.data)
    return ds, d, y != d.target


def _f1(flagged, truth):
    tp = (flagged & truth).sum()
    return 0.0 if tp == 0 else 2 * tp / (flagged.sum() + truth.sum())


@pytest.mark.parametrize(("kind", "rate"), [("pair", 0.1), ("uniform", 0.2)])
def test_default_at_least_as_good_as_every_peer(kind, rate):
    ds, _, truth = _noisy_digits(kind, rate, 0)
    probs = out_of_fold_probabilities(ds)
    p = probs.reindex(ds.samples.index).to_numpy()
    labels = ds.samples["label"].cat.codes.to_numpy()
    ours = find_label_issues(ds, probabilities=probs, write=False, include_all=True)
    flagged = ours["is_label_issue"].reindex(ds.samples.index).to_numpy(dtype=bool)
    assert ours.attrs["filter_by"] == "auto" and "noise-aware posterior" in ours.attrs["method"]
    peers = {
        fb: _f1(cleanlab_filter.find_label_issues(labels, p, filter_by=fb), truth)
        for fb in ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning")
        + ("predicted_neq_given", "low_normalized_margin", "low_self_confidence")
    }
    from nbdiag.embeddings import neighbor_graph

    _, _, nbrs = neighbor_graph(ds, 10)
    peers["neighbors"] = _f1((labels[nbrs] == labels[:, None]).mean(axis=1) < 0.3, truth)
    old = find_label_issues(
        ds,
        probabilities=probs,
        neighbor_weight=0.5,
        filter_by="prune_by_noise_rate",
        write=False,
        include_all=True,
    )
    peers["combination"] = _f1(
        old["is_label_issue"].reindex(ds.samples.index).to_numpy(dtype=bool), truth
    )
    mine = _f1(flagged, truth)
    assert mine >= max(peers.values()), (mine, peers)
    # without embeddings: at least cleanlab's best filter on the same probabilities
    bare = nbdiag.Dataset.from_arrays(load_digits().images, ds.samples["label"].cat.codes)
    plain = find_label_issues(bare, probabilities=p, write=False, include_all=True)
    assert "no embeddings" in plain.attrs["method"] and plain.attrs["neighbor_weight"] == 0.0
    mine_plain = _f1(plain["is_label_issue"].reindex(bare.samples.index).to_numpy(bool), truth)
    cl_best = max(v for k, v in peers.items() if k not in ("neighbors", "combination"))
    assert mine_plain >= cl_best, (mine_plain, peers)


def test_noise_rate_estimate_and_count():
    ds, _, truth = _noisy_digits("uniform", 0.1, 1)
    issues = find_label_issues(ds, write=False, include_all=True)
    rate = issues.attrs["noise_rate"]
    assert abs(rate - truth.mean()) < 0.03, (rate, truth.mean())
    # exactly round(rate * n) flagged, ranked by the posterior chance the label is right
    assert issues["is_label_issue"].sum() == round(rate * len(ds))
    assert 0.0 <= issues.attrs["neighbor_weight"] <= 1.0
    flagged = issues[issues["is_label_issue"]]
    assert (
        flagged["label_quality"].max()
        <= issues.loc[~issues["is_label_issue"], "label_quality"].min()
    )
    assert flagged["reason"].str.contains("chance the label is wrong").all()
    # clean labels: few flagged
    clean = nbdiag.Dataset.from_arrays(load_digits().images, load_digits().target)
    set_embeddings(clean, load_digits().data)
    none = find_label_issues(clean, write=False, include_all=True)
    assert none.attrs["noise_rate"] < 0.03
    assert none["is_label_issue"].mean() < 0.03


def test_score_helpers():
    from types import SimpleNamespace

    from nbdiag.issues._classification_score import (
        auto_flags,
        choose_neighbor_weight,
        estimate_noise,
        noise_posterior,
    )

    rng = np.random.default_rng(0)
    codes = np.repeat([0, 1, 2], 20)
    p = np.full((60, 3), 0.1)
    p[np.arange(60), codes] = 0.8
    perfect = np.eye(3)[codes] * 0.98 + 0.01
    noise = rng.dirichlet(np.ones(3), 60)
    assert choose_neighbor_weight(p, perfect, codes)[0] == 1.0
    assert choose_neighbor_weight(p, noise, codes)[0] == 0.0
    # the per-weight scores are the Brier scores of the mixes
    onehot = np.eye(3)[codes]
    _, scores = choose_neighbor_weight(p, noise, codes)
    for w, got in zip(np.linspace(0, 1, 11), scores, strict=True):
        want = (((1 - w) * p + w * noise - onehot) ** 2).sum(axis=1).mean()
        assert got == pytest.approx(want)
    # a flat channel keeps the order of p's probability of the given label
    flat = np.full((3, 3), 0.02)
    np.fill_diagonal(flat, 0.3)
    post = noise_posterior(noise, codes, flat)
    np.testing.assert_allclose(post.sum(axis=1), 1.0)
    rows = np.arange(60)
    assert (np.argsort(post[rows, codes]) == np.argsort(noise[rows, codes])).all()
    # a channel that often turns 0 into 1 raises the chance a "1" is really a 0
    skew = np.diag([0.3, 0.3, 0.3]) + np.array([[0, 0, 0], [0.1, 0, 0], [0, 0, 0]])
    row = np.array([[0.4, 0.3, 0.3]])
    assert (
        noise_posterior(row, np.array([1]), skew)[0, 0]
        > noise_posterior(row, np.array([1]), flat)[0, 0]
    )
    # a class without labels gets zero rows/columns in the joint, not an error
    cc = pytest.importorskip("cleanlab.count")
    four = np.hstack([p * 0.9, np.full((60, 1), 0.1)])
    joint, rate = estimate_noise(codes, four, cc)
    assert joint.shape == (4, 4) and joint[3].sum() == 0 and joint[:, 3].sum() == 0
    assert 0.0 <= rate < 0.1
    flagged, correct, _, rate2 = auto_flags(
        p, codes, SimpleNamespace(estimate_joint=cc.estimate_joint)
    )
    assert flagged.sum() == round(rate2 * 60) and ((correct >= 0) & (correct <= 1)).all()


def test_bad_input_gives_clear_errors():
    ds = nbdiag.Dataset(pd.DataFrame({"label": ["a", "b", "a", "b"]}))
    nan = np.full((4, 2), 0.5)
    nan[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        find_label_issues(ds, probabilities=nan)
    with pytest.raises(ValueError, match="lack columns"):
        find_label_issues(ds, probabilities=pd.DataFrame({"a": [0.5] * 4, "z": [0.5] * 4}))
    with pytest.raises(ValueError, match="filter_by"):
        find_label_issues(ds, probabilities=np.full((4, 2), 0.5), filter_by="magic")
    with pytest.raises(ValueError, match="neighbor_weight"):
        find_label_issues(ds, probabilities=np.full((4, 2), 0.5), neighbor_weight="most")
    one = nbdiag.Dataset(pd.DataFrame({"label": ["a", "a", "a"]}))
    with pytest.raises(ValueError, match="two classes"):
        find_label_issues(one, probabilities=np.ones((3, 1)))
    empty = nbdiag.Dataset(
        pd.DataFrame({"label": pd.Categorical([None, None], categories=["a", "b"])})
    )
    with pytest.raises(ValueError, match="two labelled samples"):
        find_label_issues(empty, probabilities=np.full((2, 2), 0.5))
