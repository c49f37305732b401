"""2-D projections: reproducible, written as columns; UMAP behind its extra."""

from __future__ import annotations

import sys

import nbdiag_tests_digits_model as helper  # registered by conftest.py
import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.embeddings import project, set_embeddings


@pytest.fixture
def small():
    images, target = helper.digits()
    n = 300
    ds = nbdiag.Dataset.from_arrays(images[:n], target[:n])
    set_embeddings(ds, images[:n].reshape(n, -1))
    return ds


def test_pca_columns_and_reproducible(small):
    a = project(small, "pca")
    assert list(a.columns) == ["embedding_x", "embedding_y"]
    np.testing.assert_array_equal(
        small.samples["embedding_x"].to_numpy(), a["embedding_x"].to_numpy()
    )
    b = project(small, "pca", columns=("px", "py"))
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


def test_tsne_reproducible_and_separates_classes():
    images, target = helper.digits()
    n = 200
    ds = nbdiag.Dataset.from_arrays(images[:n], target[:n])
    set_embeddings(ds, images[:n].reshape(n, -1))
    a = project(ds, "tsne", seed=3, max_iter=500, perplexity=15)
    b = project(ds, "tsne", seed=3, max_iter=500, perplexity=15)
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert a.attrs["method"] == "tsne" and a.attrs["seconds"] >= 0
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    y = ds.samples["label"].cat.codes.to_numpy()
    assert cross_val_score(KNeighborsClassifier(5), a.to_numpy(), y, cv=3).mean() > 0.85


def test_umap_missing_names_the_extra(small, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)
    with pytest.raises(ImportError, match=r"nbdiag\[umap\]"):
        project(small, "umap")


@pytest.mark.slow
def test_umap_reproducible(small):
    pytest.importorskip("umap")
    a = project(small, "umap", seed=0)
    b = project(small, "umap", seed=0)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy())


def test_bad_method_and_unembedded_rows(small):
    with pytest.raises(ValueError, match="method must be one of"):
        project(small, "mds")
    part = pd.DataFrame(np.eye(5), index=small.samples.index[:5])
    set_embeddings(small, part, name="part")
    project(small, "pca", columns=("qx", "qy"))
    assert small.samples["qx"].notna().sum() == 5
