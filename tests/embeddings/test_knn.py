"""The kNN index: every backend agrees with scikit-learn's exact search; fallbacks are clean."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from nbdiag.embeddings import KNNIndex, _knn


def _data(n=600, d=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(12, d))
    return (centers[rng.integers(0, 12, n)] + 0.3 * rng.normal(size=(n, d))).astype(np.float32)


def _exact(x, metric, k):
    nn = NearestNeighbors(n_neighbors=k + 1, metric=metric, algorithm="brute").fit(x)
    d, i = nn.kneighbors(x)
    return d[:, 1:], i[:, 1:]


BACKENDS = [
    "sklearn",
    "torch",
    pytest.param(
        "faiss",
        marks=pytest.mark.skipif(not _knn._installed("faiss"), reason="faiss not installed"),
    ),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_exact_backends_agree_with_sklearn(backend, metric):
    pytest.importorskip("torch") if backend == "torch" else None
    x = _data()
    index = KNNIndex(x, metric=metric, backend=backend)
    assert index.exact
    d, i = index.self_knn(5)
    want_d, want_i = _exact(x, metric, 5)
    np.testing.assert_allclose(d, want_d, atol=2e-4)
    assert (i == want_i).mean() > 0.99  # float ties aside
    assert not (i == np.arange(len(x))[:, None]).any()
    qd, qi = index.query(x[:7], 3)
    assert qi[:, 0].tolist() == list(range(7))
    np.testing.assert_allclose(qd[:, 0], 0.0, atol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_approximate_search_has_high_recall(backend):
    pytest.importorskip("torch") if backend == "torch" else None
    x = _data(n=3000, d=24, seed=2)
    index = KNNIndex(x, backend=backend, exact_max=500)
    assert not index.exact and "approximate" in repr(index)
    _, i = index.self_knn(5)
    _, want = _exact(x, "cosine", 5)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(i, want, strict=True)])
    assert recall > 0.95
    assert not (i == np.arange(len(x))[:, None]).any()
    _, qi = index.query(x[:50], 1)
    assert (qi[:, 0] == np.arange(50)).mean() > 0.95


def test_auto_is_exact_sklearn_when_small_and_falls_back(monkeypatch):
    x = _data(n=300)
    assert KNNIndex(x).backend == "sklearn"
    monkeypatch.setattr(_knn, "_installed", lambda module: False)
    big = KNNIndex(x, exact_max=100)
    assert big.backend == "sklearn" and big.exact
    monkeypatch.setattr(_knn, "_installed", lambda module: module == "faiss")
    if _knn._installed("faiss"):
        assert KNNIndex(x, exact_max=100).backend == "faiss"


def test_missing_faiss_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match=r"nbdiag\[faiss\]"):
        KNNIndex(_data(n=50), backend="faiss")


def test_validation():
    x = _data(n=20)
    with pytest.raises(ValueError, match="metric"):
        KNNIndex(x, metric="manhattan")
    with pytest.raises(ValueError, match="backend"):
        KNNIndex(x, backend="annoy")
    index = KNNIndex(x)
    with pytest.raises(ValueError, match=r"shape \(m, 16\)"):
        index.query(np.zeros((2, 3)), 1)
    with pytest.raises(ValueError, match="k must be"):
        index.self_knn(0)
    assert index.self_knn(100)[1].shape == (20, 19)
