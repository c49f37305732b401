"""Neighbour analyses on a Dataset's embeddings: similarity search, near duplicates, uniqueness
and outliers, and leakage between splits. All share one kNN index and one cached all-rows graph.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core import validation as v
from . import _dask
from ._knn import KNNIndex, warn_if_slow
from ._store import Embeddings, get_embeddings, table_of

if TYPE_CHECKING:
    from ..core import DatasetCore

#: ``threshold=None``: near duplicates are closer than this fraction of the median distance
#: between a row and its nearest neighbour
AUTO_THRESHOLD_FACTOR = 0.1
#: neighbours computed for the cached all-rows graph (requests for fewer slice it)
GRAPH_K = 10


def _ids_of(items: Any, table: pd.DataFrame) -> list[Hashable]:
    """Ids from an id, a list of ids, a boolean mask (array or Series) or a DataFrame."""
    if isinstance(items, pd.DataFrame):
        return list(items.index)
    if isinstance(items, pd.Series):
        if pd.api.types.is_bool_dtype(items.dtype):
            return list(items.index[items.to_numpy(dtype=bool)])
        return list(items)
    if isinstance(items, np.ndarray) and items.dtype == bool:
        v.check_same_length("the boolean mask", items, "rows", table)
        return list(table.index[items])
    if isinstance(items, (str, bytes)) or not isinstance(items, (Sequence, np.ndarray, pd.Index)):
        return [items]
    return list(items)


def knn_index(
    ds: DatasetCore,
    *,
    name: str | None = None,
    level: str = "sample",
    metric: str = "cosine",
    backend: str = "auto",
    **kwargs: Any,
) -> KNNIndex:
    """The kNN index over the dataset's embeddings (built once per metric and backend, kept
    with the embeddings). ``kwargs`` go to :class:`KNNIndex` (``exact_max``, ``nlist``, ...)."""
    emb = get_embeddings(ds, name, level)
    return _index_of(emb, metric, backend, **kwargs)


def _index_of(emb: Embeddings, metric: str, backend: str, **kwargs: Any) -> KNNIndex:
    key = ("index", metric, backend, tuple(sorted(kwargs.items())))
    index = emb._graphs.get(key)
    if index is None:
        index = emb._graphs[key] = KNNIndex(emb.vectors, metric=metric, backend=backend, **kwargs)
    return index


def neighbor_graph(
    ds: DatasetCore,
    k: int = GRAPH_K,
    *,
    name: str | None = None,
    level: str = "sample",
    metric: str = "cosine",
    backend: str = "auto",
    client: Any = None,
) -> tuple[Embeddings, np.ndarray, np.ndarray]:
    """All-rows kNN graph (self excluded): ``(embeddings, distances, indices)``, each row's
    ``k`` nearest other rows, nearest first. Cached with the embeddings.

    ``client``: a ``dask.distributed.Client``; the index is built here, broadcast to the
    workers, and row partitions are searched on them (the same graph as without it). Every
    analysis on the same embeddings, metric and backend reuses the cached graph.
    """
    emb = get_embeddings(ds, name, level)
    return (emb, *_graph_of(emb, k, metric, backend, client))


def _graph_of(
    emb: Embeddings, k: int, metric: str, backend: str, client: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if client is not None:
        _dask.check_client(client, "nearest neighbours on a Dask cluster")
    key = ("graph", metric, backend)
    cached = emb._graphs.get(key)
    if cached is None or cached[1].shape[1] < min(k, len(emb) - 1):
        index = _index_of(emb, metric, backend)
        if client is None:
            warn_if_slow(len(emb), index.backend)
            d, i = index.self_knn(max(k, GRAPH_K))
        else:
            d, i = _dask.self_knn(index, max(k, GRAPH_K), client)
        emb._graphs[key] = cached = (d, i)
    d, i = cached
    return d[:, :k], i[:, :k]


def similar(
    ds: DatasetCore,
    ids: Any,
    k: int = 10,
    *,
    name: str | None = None,
    level: str = "sample",
    metric: str = "cosine",
    backend: str = "auto",
) -> pd.DataFrame:
    """ "Find more like these": the ``k`` rows nearest to any of ``ids`` (the queries excluded).

    Parameters
    ----------
    ds : nbdiag.Dataset
    ids : id, list of ids, boolean mask or DataFrame (e.g. a widget's ``selected``)
    k : int, default 10
    name, level : which embeddings (default: the active sample embeddings)
    metric : {"cosine", "euclidean"}
    backend : see :class:`KNNIndex`

    Returns
    -------
    pandas.DataFrame
        Indexed by id, nearest first: ``distance`` (to the nearest query), ``similarity``
        (``1 - distance`` for cosine, ``1 / (1 + distance)`` for Euclidean), ``query`` (the
        nearest query id), ``rank`` (1-based), then the table's columns.
    """
    emb = get_embeddings(ds, name, level)
    table = table_of(ds, level)
    query_ids = list(dict.fromkeys(_ids_of(ids, table)))
    if not query_ids:
        raise ValueError("similar() needs at least one query id")
    rows = emb.rows(query_ids)
    index = _index_of(emb, metric, backend)
    kq = min(len(emb), int(k) + len(query_ids))
    d, i = index.query(emb.vectors[rows], kq)
    src = np.repeat(np.arange(len(query_ids)), d.shape[1])
    cand = pd.DataFrame({"row": i.ravel(), "distance": d.ravel(), "q": src})
    cand = cand[(cand["row"] >= 0) & ~cand["row"].isin(rows)]
    cand = cand.sort_values(["distance", "q"], kind="stable").drop_duplicates("row")
    cand = cand.head(int(k))
    dist = cand["distance"].to_numpy(dtype=np.float64)
    out = pd.DataFrame(
        {
            "distance": dist,
            "similarity": 1.0 - dist if metric == "cosine" else 1.0 / (1.0 + dist),
            "query": np.asarray(query_ids, dtype=object)[cand["q"].to_numpy()],
            "rank": np.arange(1, len(cand) + 1),
        },
        index=emb.ids[cand["row"].to_numpy()],
    )
    out.index.name = table.index.name
    return out.join(table.drop(columns=[c for c in out.columns if c in table.columns]))


def _components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def auto_threshold(
    emb: Embeddings, metric: str = "cosine", backend: str = "auto", client: Any = None
) -> float:
    """``AUTO_THRESHOLD_FACTOR`` x the median nearest-neighbour distance: scale-free, so it
    suits raw pixels, CNN features and CLIP vectors alike."""
    d, _ = _graph_of(emb, 1, metric, backend, client)
    finite = d[:, 0][np.isfinite(d[:, 0])]
    return float(AUTO_THRESHOLD_FACTOR * np.median(finite)) if len(finite) else 0.0


def _threshold(
    emb: Embeddings, threshold: float | None, metric: str, backend: str, client: Any = None
) -> float:
    if threshold is None:
        return auto_threshold(emb, metric, backend, client)
    threshold = float(threshold)
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a non-negative number, got {threshold!r}")
    return threshold


def find_duplicates(
    ds: DatasetCore,
    threshold: float | None = None,
    *,
    k: int = GRAPH_K,
    name: str | None = None,
    level: str = "sample",
    metric: str = "cosine",
    backend: str = "auto",
    write: bool = True,
    client: Any = None,
) -> pd.DataFrame:
    """Groups of near duplicates: rows linked by a neighbour distance ``<= threshold``.

    Groups are the connected components of the kNN graph's edges within ``threshold`` (so a
    chain of near-identical frames forms one group). Tune ``threshold`` with a look at
    ``ds.samples["nearest_distance"]`` (from :func:`compute_uniqueness`).

    Parameters
    ----------
    ds : nbdiag.Dataset
    threshold : float, optional
        Largest cosine (or Euclidean) distance between duplicates. Default: a tenth of the
        median nearest-neighbour distance (reported in ``.attrs["threshold"]``).
    k : int, default 10
        Neighbours examined per row.
    write : bool, default True
        Write ``duplicate_group`` (group number, -1 for none) and ``duplicate_group_size``
        columns into ``ds.samples`` (``ds.objects`` at object level).
    client : dask.distributed.Client, optional
        Search the kNN graph on this cluster (see :func:`neighbor_graph`); same result.

    Returns
    -------
    pandas.DataFrame
        One row per member of a group, indexed by id, largest groups first:
        ``duplicate_group``, ``group_size``, ``nearest_id`` (nearest other member),
        ``distance`` (to it), ``keep`` (True for one representative per group: the first in
        table order; the others are candidates to drop).
    """
    emb = get_embeddings(ds, name, level)
    threshold = _threshold(emb, threshold, metric, backend, client) if len(emb) > 1 else 0.0
    n = len(emb)
    table = table_of(ds, level)
    groups = np.full(n, -1, dtype=np.int64)
    if n > 1:
        d, i = _graph_of(emb, k, metric, backend, client)
        close = (d <= threshold) & (i >= 0)
        src = np.repeat(np.arange(n), d.shape[1])[close.ravel()]
        dst = i.ravel()[close.ravel()]
        if len(src):
            comp = _components(n, src, dst)
            sizes = np.bincount(comp)
            # number groups by size (desc), then by first member
            labels, first = np.unique(comp, return_index=True)
            keep = sizes[labels] > 1
            labels, first = labels[keep], first[keep]
            order = np.lexsort((first, -sizes[labels]))
            renum = np.full(len(sizes), -1, dtype=np.int64)
            renum[labels[order]] = np.arange(len(labels))
            groups = renum[comp]
    size = np.bincount(groups[groups >= 0], minlength=max(1, groups.max() + 1))
    group_size = np.where(groups >= 0, size[np.maximum(groups, 0)], 0)
    nearest_id = np.full(n, None, dtype=object)
    nearest_d = np.full(n, np.nan)
    if (groups >= 0).any():
        d, i = _graph_of(emb, k, metric, backend)
        same = (i >= 0) & (groups[np.maximum(i, 0)] == groups[:, None]) & (groups[:, None] >= 0)
        has = same.any(axis=1)
        j = same.argmax(axis=1)
        rows = np.flatnonzero(has)
        nearest_id[rows] = np.asarray(emb.ids, dtype=object)[i[rows, j[rows]]]
        nearest_d[rows] = d[rows, j[rows]]
    pos_in_table = table.index.get_indexer(emb.ids)
    frame = pd.DataFrame(
        {
            "duplicate_group": groups,
            "group_size": group_size,
            "nearest_id": nearest_id,
            "distance": nearest_d,
            "_pos": pos_in_table,
        },
        index=emb.ids,
    )
    frame = frame[frame["duplicate_group"] >= 0].sort_values(
        ["duplicate_group", "_pos"], kind="stable"
    )
    frame["keep"] = ~frame["duplicate_group"].duplicated()
    frame = frame.drop(columns="_pos")
    frame.index.name = table.index.name
    frame.attrs["threshold"] = threshold
    if write:
        col = pd.Series(-1, index=table.index, dtype=np.int64)
        col[emb.ids] = groups
        table["duplicate_group"] = col
        sz = pd.Series(0, index=table.index, dtype=np.int64)
        sz[emb.ids] = group_size
        table["duplicate_group_size"] = sz
    return frame


def compute_uniqueness(
    ds: DatasetCore,
    k: int = GRAPH_K,
    *,
    name: str | None = None,
    level: str = "sample",
    metric: str = "cosine",
    backend: str = "auto",
    write: bool = True,
    client: Any = None,
) -> pd.DataFrame:
    """Uniqueness and outlier scores from the kNN graph, as columns.

    - ``uniqueness``: mean distance to the ``k`` nearest neighbours weighted by 1/rank (the
      nearest counts most), divided by its maximum over the rows (1 = the most isolated row,
      near 0 = a row with near copies);
    - ``outlier_score``: the local outlier factor (Breunig et al., 2000) on the same graph:
      about 1 inside a cluster, well above 1 for rows far from their neighbours relative to
      how far those neighbours are from theirs;
    - ``nearest_id``, ``nearest_distance``: the nearest other row.

    Written into ``ds.samples`` (``ds.objects`` at object level) when ``write``; returned as a
    DataFrame indexed by id in embedding order. ``client``: a ``dask.distributed.Client`` to
    search the kNN graph on (see :func:`neighbor_graph`).
    """
    emb = get_embeddings(ds, name, level)
    table = table_of(ds, level)
    n = len(emb)
    if n < 2:
        raise ValueError("uniqueness needs at least 2 embedded rows")
    d, i = _graph_of(emb, k, metric, backend, client)
    d = np.where(np.isfinite(d), d, np.nan).astype(np.float64)
    w = 1.0 / np.arange(1, d.shape[1] + 1)  # nearer neighbours weigh more
    finite = np.isfinite(d)
    mean_d = (np.where(finite, d, 0.0) * w).sum(1) / np.maximum((finite * w).sum(1), 1e-12)
    top = np.nanmax(mean_d)
    uniq = mean_d / top if top > 0 else np.zeros(n)
    kdist = np.nanmax(d, axis=1)  # distance to the k-th neighbour
    safe_i = np.maximum(i, 0)
    reach = np.maximum(kdist[safe_i], d)  # reachability distance of p from each neighbour o
    reach = np.where(i >= 0, reach, np.nan)
    mean_reach = np.nanmean(reach, axis=1)
    eps = 1e-12
    lrd = 1.0 / np.maximum(mean_reach, eps)
    lof = np.nanmean(np.where(i >= 0, lrd[safe_i], np.nan), axis=1) / lrd
    out = pd.DataFrame(
        {
            "uniqueness": uniq,
            "outlier_score": lof,
            "nearest_id": np.asarray(emb.ids, dtype=object)[safe_i[:, 0]],
            "nearest_distance": d[:, 0],
        },
        index=emb.ids,
    )
    out.index.name = table.index.name
    if write:
        for col in ("uniqueness", "outlier_score", "nearest_distance"):
            table[col] = pd.Series(np.nan, index=table.index)
            table.loc[emb.ids, col] = out[col].to_numpy()
        table["nearest_id"] = pd.Series(None, index=table.index, dtype=object)
        table.loc[emb.ids, "nearest_id"] = out["nearest_id"].to_numpy()
    return out


def find_outliers(
    ds: DatasetCore,
    top: int | None = None,
    k: int = GRAPH_K,
    **kwargs: Any,
) -> pd.DataFrame:
    """Rows by decreasing ``outlier_score`` (see :func:`compute_uniqueness`, which this calls
    and whose columns it writes); the first ``top`` when given."""
    out = compute_uniqueness(ds, k, **kwargs).sort_values(
        "outlier_score", ascending=False, kind="stable"
    )
    return out if top is None else out.head(int(top))


def find_leakage(
    ds: DatasetCore,
    threshold: float | None = None,
    *,
    split_column: str = "split",
    k: int = 5,
    name: str | None = None,
    metric: str = "cosine",
    backend: str = "auto",
    write: bool = True,
    client: Any = None,
) -> pd.DataFrame:
    """Near duplicates across splits (e.g. a test image that is nearly a training image).

    For every split, its rows are searched against an index of the rows of all other splits;
    pairs within ``threshold`` are reported once. ``threshold=None``: as in
    :func:`find_duplicates` (``client``: the kNN graph behind it is searched on that Dask
    cluster; the per-split searches run here).

    Returns
    -------
    pandas.DataFrame
        One row per leaking pair, closest first: ``id``, ``split``, ``other_id``,
        ``other_split``, ``distance``. With ``write``, a boolean ``leakage`` column marks the
        rows involved in ``ds.samples``.
    """
    emb = get_embeddings(ds, name, "sample")
    threshold = _threshold(emb, threshold, metric, backend, client)
    samples = ds.samples
    if split_column not in samples.columns:
        raise ValueError(f"no column {split_column!r} in ds.samples")
    split = samples[split_column].reindex(emb.ids).to_numpy(dtype=object)
    known = pd.notna(split)
    values = pd.unique(split[known])
    rows: list[tuple[Any, Any, Any, Any, float]] = []
    if len(values) < 2:
        raise ValueError(
            f"leakage needs at least two splits in {split_column!r}; found {list(values)}"
        )
    for s in values:
        mine = np.flatnonzero(known & (split == s))
        other = np.flatnonzero(known & (split != s))
        index = KNNIndex(emb.vectors[other], metric=metric, backend=backend)
        d, i = index.query(emb.vectors[mine], min(k, len(other)))
        hit = (d <= threshold) & (i >= 0)
        for r, c in zip(*np.nonzero(hit), strict=True):
            a, b = mine[r], other[i[r, c]]
            rows.append((a, b, float(d[r, c])))  # type: ignore[arg-type]
    frame = pd.DataFrame(rows, columns=["a", "b", "distance"])
    if len(frame):
        lo = np.minimum(frame["a"], frame["b"])
        hi = np.maximum(frame["a"], frame["b"])
        frame = frame.assign(a=lo, b=hi).sort_values("distance", kind="stable")
        frame = frame.drop_duplicates(["a", "b"])
    ids = np.asarray(emb.ids, dtype=object)
    out = pd.DataFrame(
        {
            "id": ids[frame["a"].to_numpy(dtype=np.int64)],
            "split": split[frame["a"].to_numpy(dtype=np.int64)],
            "other_id": ids[frame["b"].to_numpy(dtype=np.int64)],
            "other_split": split[frame["b"].to_numpy(dtype=np.int64)],
            "distance": frame["distance"].to_numpy(dtype=float),
        }
    ).reset_index(drop=True)
    out.attrs["threshold"] = threshold
    if write:
        involved = pd.Index(out["id"]).append(pd.Index(out["other_id"]))
        samples["leakage"] = samples.index.isin(involved)
    return out
