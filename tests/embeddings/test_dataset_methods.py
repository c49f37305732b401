"""The Dataset entry points of embeddings, label issues and active learning."""

import numpy as np
from sklearn.datasets import load_digits

import nbdiag


def test_dataset_methods_end_to_end():
    digits = load_digits()
    labels = digits.target.copy()
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(labels), 60, replace=False)
    labels[flipped] = (labels[flipped] + 1 + rng.integers(0, 9, 60)) % 10
    ds = nbdiag.Dataset.from_arrays(digits.images, labels)
    ds.set_embeddings(digits.data.astype(np.float32))
    ds.project("pca")
    assert {"embedding_x", "embedding_y"} <= set(ds.samples.columns)
    ds.out_of_fold_probabilities(add_run="oof")
    issues = ds.find_label_issues("oof")
    top = set(issues.index[:60])
    assert len(top & set(flipped)) >= 40  # most of the planted flips rank first
    picks = ds.select_for_labeling(20, "margin", run="oof")
    assert len(picks) == 20 and picks.index.isin(ds.samples.index).all()
    near = ds.similar([0], k=5)
    assert len(near) == 5 and 0 not in near.index
