"""2-D projections of embeddings for the scatter: PCA, t-SNE, UMAP (extra ``nbdiag[umap]``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._optional import require
from ._store import get_embeddings, table_of

if TYPE_CHECKING:
    from ..core import DatasetCore

METHODS = ("pca", "tsne", "umap")
#: reduce to this many dimensions with PCA before t-SNE / UMAP (as is customary)
PCA_BEFORE = 50


def _pca(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    n = min(n, x.shape[1], len(x))
    return PCA(n_components=n, svd_solver="full", random_state=seed).fit_transform(x)


def project_array(
    x: np.ndarray,
    method: str = "pca",
    *,
    seed: int = 0,
    **kwargs: Any,
) -> np.ndarray:
    """``(n, 2)`` projection of the rows of ``x``; see :func:`project`."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    x = np.asarray(x, dtype=np.float32)
    if len(x) < 2:
        raise ValueError(f"a projection needs at least 2 rows, got {len(x)}")
    if method == "pca":
        out = _pca(x, 2, seed)
        if out.shape[1] < 2:
            out = np.c_[out, np.zeros(len(out))]
        return out
    pre = kwargs.pop("pca_components", PCA_BEFORE)
    if pre and x.shape[1] > pre and len(x) > pre:
        x = _pca(x, pre, seed).astype(np.float32)
    if method == "umap":
        umap = require("umap", "UMAP projections")
        # a seed makes umap-learn single-threaded anyway; saying so silences its warning
        params = {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean", "n_jobs": 1}
        params.update(kwargs)
        reducer = umap.UMAP(n_components=2, random_state=seed, **params)
        return np.asarray(reducer.fit_transform(x), dtype=np.float64)
    # t-SNE: scikit-learn's Barnes-Hut
    from sklearn.manifold import TSNE

    params = {"perplexity": min(30.0, (len(x) - 1) / 3.0), "init": "pca"}
    params.update(kwargs)
    return TSNE(n_components=2, random_state=seed, **params).fit_transform(x)


def project(
    ds: DatasetCore,
    method: str = "pca",
    *,
    name: str | None = None,
    level: str = "sample",
    seed: int = 0,
    columns: tuple[str, str] = ("embedding_x", "embedding_y"),
    **kwargs: Any,
) -> pd.DataFrame:
    """Project the embeddings to 2-D and write the coordinates as columns for the scatter.

    Parameters
    ----------
    ds : nbdiag.Dataset
    method : {"pca", "tsne", "umap"}
        - ``"pca"``: scikit-learn PCA (full SVD; deterministic).
        - ``"tsne"``: scikit-learn's Barnes-Hut t-SNE (perplexity 30, PCA initialisation),
          after PCA to 50 dimensions.
        - ``"umap"``: umap-learn (install ``nbdiag[umap]``), after PCA to 50 dimensions.
    name, level : which embeddings (default: the active sample embeddings)
    seed : int, default 0
        Same seed, same embeddings -> same coordinates.
    columns : (str, str)
        Columns written to ``ds.samples`` (``ds.objects`` at object level); rows without an
        embedding get NaN.
    **kwargs
        Passed to the method (e.g. ``perplexity``, ``n_neighbors``, ``min_dist``,
        ``pca_components`` — 0 disables the PCA pre-reduction).

    Returns
    -------
    pandas.DataFrame
        Indexed by id, the two coordinate columns. ``.attrs["seconds"]`` is the time taken.
    """
    emb = get_embeddings(ds, name, level)
    table = table_of(ds, level)
    if len(columns) != 2 or not all(isinstance(c, str) for c in columns):
        raise ValueError(f"columns must be two column names, got {columns!r}")
    start = time.perf_counter()
    xy = project_array(emb.vectors, method, seed=seed, **kwargs)
    seconds = time.perf_counter() - start
    out = pd.DataFrame(xy[:, :2], index=emb.ids, columns=list(columns))
    out.index.name = table.index.name
    for j, col in enumerate(columns):
        values = pd.Series(np.nan, index=table.index, dtype=float)
        values[emb.ids] = xy[:, j]
        table[col] = values
    emb.meta.setdefault("projections", {})[method] = {"seed": seed, "seconds": seconds}
    out.attrs["seconds"] = seconds
    out.attrs["method"] = method
    return out
