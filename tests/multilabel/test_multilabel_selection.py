"""Active learning on multi-label runs: each class a binary decision."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy as scipy_entropy

import nbdiag
from nbdiag.selection import (
    multilabel_entropy,
    multilabel_least_confidence,
    multilabel_margin,
)

from .conftest import CLASSES


def test_uncertainties_equal_their_definitions():
    rng = np.random.default_rng(0)
    p = rng.random((40, 4))
    p[0] = [0.0, 1.0, 1.0, 0.0]  # certain
    # least confidence: 1 - the probability of the most likely label set, by enumeration
    sets = np.array(list(itertools.product([0, 1], repeat=4)))
    joint = np.prod(np.where(sets[None] == 1, p[:, None], 1 - p[:, None]), axis=2)
    np.testing.assert_allclose(multilabel_least_confidence(p), 1 - joint.max(axis=1), atol=1e-12)
    # entropy: the mean over classes of each class's binary entropy (scipy, nats)
    ent = np.array([[scipy_entropy([q, 1 - q]) for q in row] for row in p]).mean(axis=1)
    np.testing.assert_allclose(multilabel_entropy(p), ent, atol=1e-9)
    # margin: the class closest to 0.5
    np.testing.assert_allclose(multilabel_margin(p), 1 - np.abs(p - 0.5).min(axis=1) * 2)
    assert multilabel_least_confidence(p)[0] == pytest.approx(0)
    assert multilabel_margin(p)[0] == pytest.approx(0)


@pytest.fixture
def pool_ds(arrays):
    """The first 200 samples labelled, the other 100 not."""
    y, s = arrays
    labels = [[CLASSES[k] for k in np.flatnonzero(r)] for r in y]
    labels[200:] = [None] * 100
    d = nbdiag.Dataset(pd.DataFrame({"labels": labels}), class_names=CLASSES)
    d.add_run("m", s)
    return d


@pytest.mark.parametrize(
    "strategy, fn",
    [
        ("entropy", multilabel_entropy),
        ("margin", multilabel_margin),
        ("least_confidence", multilabel_least_confidence),
    ],
)
def test_uncertainty_strategies_pick_the_most_uncertain_unlabelled(pool_ds, arrays, strategy, fn):
    _, s = arrays
    out = pool_ds.select_for_labeling(10, strategy, run="m")
    unc = fn(s[200:])
    expected = 200 + np.argsort(-unc, kind="stable")[:10]
    assert list(out.index) == list(expected)  # default pool: the unlabelled samples
    np.testing.assert_allclose(out["score"], unc[expected - 200])


def test_class_balanced_round_robins_over_the_most_probable_class(pool_ds, arrays):
    _, s = arrays
    out = pool_ds.select_for_labeling(10, "class_balanced", uncertainty="entropy")
    top = s[out.index].argmax(axis=1)
    assert list(out["predicted_class"]) == [CLASSES[k] for k in top]
    assert len(set(out["predicted_class"][:5])) == 5  # one of each class first


def test_hybrid_uses_multilabel_uncertainty_and_labelled_samples_as_centres(pool_ds, arrays):
    _, s = arrays
    rng = np.random.default_rng(1)
    pool_ds.set_embeddings(rng.normal(size=(len(s), 8)))
    out = pool_ds.select_for_labeling(8, "hybrid", uncertainty="entropy", pool_factor=3)
    unc = multilabel_entropy(s[200:])
    shortlist = set(200 + np.argsort(-unc, kind="stable")[:24])
    assert set(out.index) <= shortlist
    np.testing.assert_allclose(out["uncertainty"], multilabel_entropy(s[out.index]))


def test_probabilities_argument_on_a_multilabel_dataset(pool_ds, arrays):
    _, s = arrays
    pool_ds.remove_run("m")
    out = pool_ds.select_for_labeling(5, "margin", probabilities=s)
    unc = multilabel_margin(s[200:])
    assert list(out.index) == list(200 + np.argsort(-unc, kind="stable")[:5])
    with pytest.raises(ValueError, match="outside \\[0, 1\\] for samples 3"):
        bad = s.copy()
        bad[3, 0] = 1.5
        pool_ds.select_for_labeling(5, "margin", probabilities=bad)
