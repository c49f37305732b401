"""Similarity search, near duplicates, leakage, uniqueness and outliers on CNN embeddings."""

from __future__ import annotations

import nbdiag_tests_digits_model as helper  # registered by conftest.py
import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.embeddings import (
    compute_uniqueness,
    embed,
    find_duplicates,
    find_leakage,
    find_outliers,
    set_embeddings,
    similar,
)

SOURCE = 5  # the sample that gets near copies
COPIES = ["copy-a", "copy-b", "copy-c"]


@pytest.fixture
def planted(digits_model):
    """Digits plus three near copies of sample 5 (one pixel nudged) and one noise image."""
    images, target = helper.digits()
    stack = (images * 15).astype(np.uint8)
    rng = np.random.default_rng(0)
    extra, labels, ids = [], [], []
    for j, name in enumerate(COPIES):
        img = stack[SOURCE].copy()
        img[j, j] = min(255, int(img[j, j]) + 6)
        extra.append(img)
        labels.append(target[SOURCE])
        ids.append(name)
    extra.append(rng.integers(0, 256, (8, 8), dtype=np.uint8))
    labels.append(0)
    ids.append("noise")
    all_images = np.concatenate([stack, np.stack(extra)])
    all_ids = [*range(len(stack)), *ids]
    split = ["train"] * len(stack) + ["test"] * len(ids)
    ds = nbdiag.Dataset.from_arrays(all_images, [*target, *labels], ids=all_ids, split=split)
    embed(ds, digits_model(), layer="embedding", image_size=8, progress=False)
    return ds


def test_similar_returns_the_planted_near_duplicates_first(planted):
    out = similar(planted, SOURCE, k=5)
    assert list(out.index[:3]) == sorted(COPIES, key=lambda c: out.loc[c, "distance"])
    assert set(out.index[:3]) == set(COPIES)
    assert (out["query"] == SOURCE).all() and out["rank"].tolist() == [1, 2, 3, 4, 5]
    assert out["distance"].is_monotonic_increasing
    assert {"label", "split"} <= set(out.columns)
    # several queries: the queries themselves are excluded, nearest query reported
    two = similar(planted, [SOURCE, "copy-a"], k=2)
    assert set(two.index) == {"copy-b", "copy-c"}
    mask = pd.Series(planted.samples.index == SOURCE, index=planted.samples.index)
    assert set(similar(planted, mask, k=3).index) == set(COPIES)


def test_duplicates_group_the_copies(planted):
    dups = find_duplicates(planted)
    group = dups.loc[SOURCE, "duplicate_group"]
    members = set(dups.index[dups["duplicate_group"] == group])
    assert members == {SOURCE, *COPIES}
    assert dups.loc[SOURCE, "keep"] and not dups.loc[COPIES, "keep"].any()
    assert (planted.samples.loc[COPIES, "duplicate_group"] == group).all()
    assert planted.samples.loc["noise", "duplicate_group"] == -1
    assert dups.attrs["threshold"] > 0
    # a zero threshold finds none; a huge one puts everything in one group
    assert len(find_duplicates(planted, threshold=0.0, write=False)) == 0
    everything = find_duplicates(planted, threshold=2.0, write=False)
    assert everything["duplicate_group"].nunique() == 1 and len(everything) == len(planted)
    with pytest.raises(ValueError, match="threshold"):
        find_duplicates(planted, threshold=-1)


def test_leakage_pairs_across_splits(planted):
    leak = find_leakage(planted)
    pairs = {frozenset((a, b)) for a, b in zip(leak["id"], leak["other_id"], strict=True)}
    assert pairs == {frozenset((SOURCE, c)) for c in COPIES}
    assert set(leak["split"]) | set(leak["other_split"]) == {"train", "test"}
    assert planted.samples.loc[[SOURCE, *COPIES], "leakage"].all()
    assert planted.samples["leakage"].sum() == 4


def test_outlier_and_uniqueness_scores(planted):
    scores = compute_uniqueness(planted)
    assert scores["uniqueness"].between(0, 1).all() and scores["uniqueness"].max() == 1.0
    top = find_outliers(planted, top=5)
    assert "noise" in top.index
    # near copies: nearest distance far below the typical one
    typical = scores["nearest_distance"].median()
    assert scores.loc[[SOURCE, *COPIES], "nearest_distance"].max() < 0.05 * typical
    assert planted.samples.loc["copy-a", "nearest_id"] in {SOURCE, "copy-b", "copy-c"}
    assert {"uniqueness", "outlier_score", "nearest_distance"} <= set(planted.samples.columns)


def test_lof_flags_the_isolated_point():
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(size=(200, 3)), [[12.0, 12.0, 12.0]]]
    ds = nbdiag.Dataset(pd.DataFrame(index=range(201)))
    set_embeddings(ds, x)
    out = compute_uniqueness(ds, metric="euclidean")
    assert out["outlier_score"].idxmax() == 200 and out["outlier_score"].max() > 3
    assert np.median(out["outlier_score"]) == pytest.approx(1.0, abs=0.15)


def test_neighbors_need_embeddings():
    ds = nbdiag.Dataset(pd.DataFrame({"label": ["a", "b"]}))
    with pytest.raises(ValueError, match=r"ds.embed\(model\).*ds.set_embeddings"):
        similar(ds, 0)


def test_similar_on_plain_vectors_keeps_its_own_columns():
    ds = nbdiag.Dataset(pd.DataFrame({"rank": [9, 9, 9], "label": ["a", "b", "a"]}))
    set_embeddings(ds, np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1]]))
    out = similar(ds, 0, k=2)
    assert list(out.index) == [2, 1] and out["rank"].tolist() == [1, 2]
    assert out["similarity"].iloc[0] == pytest.approx(0.9 / np.hypot(0.9, 0.1))
    assert list(out["label"]) == ["a", "b"]
