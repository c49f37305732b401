"""One nearest-neighbour index with interchangeable backends.

- ``"sklearn"``: scikit-learn's brute-force ``NearestNeighbors`` (exact; always available).
- ``"faiss"`` (extra ``nbdiag[faiss]``): exact ``IndexFlat`` up to ``exact_max`` rows, an
  inverted-file index (``IndexIVFFlat``, approximate) above.
- ``"torch"`` (extra ``nbdiag[torch]``): exact blocked matrix products up to ``exact_max`` rows;
  above, a clustered block join (approximate): k-means cells, and each cell's rows compared by
  one matrix product with the rows of its ``nprobe`` nearest cells.
- ``"auto"`` (default): exact scikit-learn up to ``exact_max`` rows; above, the first installed
  of faiss and torch (see ``AUTO_ORDER``), else scikit-learn.

Distances are cosine distances (``1 - cos``, in [0, 2]) for ``metric="cosine"`` and Euclidean
distances for ``metric="euclidean"``.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from typing import Any

import numpy as np

from .._optional import require

METRICS = ("cosine", "euclidean")
BACKENDS = ("auto", "sklearn", "faiss", "torch")
#: approximate backends tried by ``backend="auto"`` above ``exact_max`` rows, in order
AUTO_ORDER = ("torch", "faiss")
#: rows up to which "auto" searches exactly (scikit-learn) and faiss/torch use exact search
EXACT_MAX = 20_000
#: the all-rows search runs in query blocks of this many rows, in-process and on a cluster
#: alike (a cluster partition is whole blocks), so both make the very same BLAS calls and
#: return the very same neighbours
QUERY_BLOCK = 1024
#: scikit-learn's all-rows search fetches this many neighbours more than asked, to order ties
TIE_PAD = 8
_EPS = 1e-12


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, _EPS), dtype=np.float32)


def default_nlist(n: int) -> int:
    """Cells of the approximate backends: about sqrt(n)."""
    return max(1, int(round(math.sqrt(n))))


def default_nprobe(nlist: int) -> int:
    """Cells searched per query: 1/16 of the cells, at least 16 (all of them when fewer)."""
    return min(nlist, max(16, int(math.ceil(nlist / 16))))


class KNNIndex:
    """Nearest neighbours of a fixed set of vectors.

    Parameters
    ----------
    vectors : array-like (n, dim)
        The indexed vectors (converted to float32).
    metric : {"cosine", "euclidean"}, default "cosine"
    backend : {"auto", "sklearn", "faiss", "torch"}, default "auto"
        See the module docstring. A backend whose package is missing raises ImportError naming
        the extra; ``"auto"`` never does.
    exact_max : int, default 20,000
        Above this many rows, ``"auto"``, ``"faiss"`` and ``"torch"`` search approximately.
    nlist, nprobe : int, optional
        Cells and cells searched per query of the approximate search (default about sqrt(n),
        and nlist / 16 but at least 16).
    seed : int, default 0
        Seed of the k-means of the approximate search.

    Examples
    --------
    >>> import numpy as np
    >>> index = KNNIndex(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]), backend="sklearn")
    >>> dist, idx = index.self_knn(1)
    >>> idx[:, 0].tolist()
    [1, 0, 1]
    """

    def __init__(
        self,
        vectors: Any,
        metric: str = "cosine",
        backend: str = "auto",
        *,
        exact_max: int = EXACT_MAX,
        nlist: int | None = None,
        nprobe: int | None = None,
        seed: int = 0,
    ):
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        x = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        if x.ndim != 2 or not len(x):
            raise ValueError(f"vectors must be a non-empty 2-D array, got shape {x.shape}")
        self.metric = metric
        self.n, self.dim = x.shape
        self._x = _normalise(x) if metric == "cosine" else x
        self.seed = seed
        if backend == "auto":
            backend = "sklearn"
            if self.n > exact_max:
                backend = next((b for b in AUTO_ORDER if _installed(b)), "sklearn")
        self.backend = backend
        self.exact = backend == "sklearn" or self.n <= exact_max
        self.nlist = min(self.n, nlist or default_nlist(self.n))
        self.nprobe = min(self.nlist, nprobe or default_nprobe(self.nlist))
        self._impl: Any = {"sklearn": _Sklearn, "faiss": _Faiss, "torch": _Torch}[backend](self)

    def _prepare(self, queries: Any) -> np.ndarray:
        q = np.ascontiguousarray(np.asarray(queries, dtype=np.float32))
        if q.ndim == 1:
            q = q[None]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ValueError(f"queries must have shape (m, {self.dim}), got {q.shape}")
        return _normalise(q) if self.metric == "cosine" else q

    def _check_k(self, k: int, available: int) -> int:
        k = int(k)
        if k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        return min(k, available)

    def query(self, queries: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest indexed rows of each query: ``(distances, indices)``, both
        ``(m, k)``, nearest first."""
        k = self._check_k(k, self.n)
        d, i = self._impl.query(self._prepare(queries), k)
        return self._finish(d, i)

    def self_knn(self, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest other rows of every indexed row (the row itself left out)."""
        k = self._check_k(k, self.n - 1) if self.n > 1 else 0
        if k == 0:
            return np.zeros((self.n, 0), np.float32), np.zeros((self.n, 0), np.int64)
        return self.merge_parts([self.self_knn_part(p, k) for p in self.self_knn_parts(1)], k)

    # -- the all-rows search in parts (what a cluster runs, one part per task)
    def self_knn_parts(self, n_parts: int) -> list[tuple[str, int, int]]:
        """Split the all-rows search into about ``n_parts`` independent parts: row ranges of
        whole :data:`QUERY_BLOCK` blocks (``("rows", start, stop)``), or, for the torch
        clustered join, ranges of cells (``("cells", first, last)``)."""
        n_parts = max(1, int(n_parts))
        if self.backend == "torch" and not self.exact:
            return [("cells", int(a), int(b)) for a, b in self._impl.cell_ranges(n_parts)]
        blocks = math.ceil(self.n / QUERY_BLOCK)
        cuts = np.unique(np.linspace(0, blocks, min(n_parts, blocks) + 1).round().astype(int))
        bounds = np.minimum(cuts * QUERY_BLOCK, self.n)
        return [("rows", int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def self_knn_part(
        self, part: tuple[str, int, int], k: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One part of :meth:`self_knn`: ``(rows, distances, indices)`` of the part's rows."""
        kind, a, b = part
        if kind == "cells":
            return self._impl.self_cells(a, b, k)
        if a % QUERY_BLOCK:
            raise ValueError(f"a row part must start on a multiple of {QUERY_BLOCK}, got {a}")
        ds, ii = [], []
        for s in range(a, b, QUERY_BLOCK):
            d, i = self._impl.self_rows(s, min(s + QUERY_BLOCK, b), k)
            ds.append(d)
            ii.append(i)
        return np.arange(a, b, dtype=np.int64), np.concatenate(ds), np.concatenate(ii)

    def merge_parts(
        self, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``(distances, indices)`` of every row from the results of all the parts."""
        d = np.full((self.n, k), np.inf, dtype=np.float32)
        i = np.full((self.n, k), -1, dtype=np.int64)
        seen = np.zeros(self.n, dtype=bool)
        for rows, pd_, pi in parts:
            d[rows, : pd_.shape[1]], i[rows, : pi.shape[1]] = pd_, pi
            seen[rows] = True
        if not seen.all():
            raise RuntimeError(f"the parts of the all-rows search left {(~seen).sum()} rows out")
        return self._finish(d, i)

    def _finish(self, d: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = np.asarray(d, dtype=np.float32)
        if self.metric == "cosine":
            d = np.clip(d, 0.0, 2.0)
        return d, np.asarray(i, dtype=np.int64)

    def __repr__(self) -> str:
        mode = "exact" if self.exact else f"approximate, nlist={self.nlist}, nprobe={self.nprobe}"
        return f"KNNIndex({self.n} x {self.dim}, {self.metric}, backend={self.backend!r}, {mode})"


def _drop_self(
    d: np.ndarray, i: np.ndarray, k: int, start: Any = 0, absent: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """From k+1 neighbours of rows ``start, start + 1, ...`` (or of the rows in the array
    ``start``), remove the row itself (or, when it is absent, column ``absent``)."""
    n = len(i)
    rows = np.arange(start, start + n) if np.ndim(start) == 0 else np.asarray(start)
    own = i == rows[:, None]
    none = ~own.any(axis=1)
    own[none, absent] = True
    keep = ~own
    # exactly one column dropped per row
    return d[keep].reshape(n, -1)[:, :k], i[keep].reshape(n, -1)[:, :k]


class _Sklearn:
    def __init__(self, index: KNNIndex):
        from sklearn.neighbors import NearestNeighbors

        # vectors are unit-normalised for cosine, so Euclidean order == cosine order
        self.index = index
        self.nn = NearestNeighbors(algorithm="brute", metric="euclidean").fit(index._x)

    def _to_metric(self, d: np.ndarray) -> np.ndarray:
        return d * d / 2.0 if self.index.metric == "cosine" else d

    def query(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        d, i = self.nn.kneighbors(q, n_neighbors=k)
        return self._to_metric(d), i

    def _fetch(self, rows: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``kk`` neighbours of ``rows`` (self dropped), nearest first and ties by row number,
        and whether the row itself was among the ``kk + 1`` found."""
        d, i = self.nn.kneighbors(self.index._x[rows], n_neighbors=kk + 1)
        found = (i == rows[:, None]).any(axis=1)
        d, i = _drop_self(self._to_metric(d), i, kk, rows, absent=0)
        order = np.lexsort((i, d), axis=1)
        return np.take_along_axis(d, order, 1), np.take_along_axis(i, order, 1), found

    def self_rows(self, a: int, b: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        # scikit-learn orders equal distances by how its threads met them: fetch a few more,
        # order ties by row number, and fetch more for rows whose ties may run past the last
        # one fetched (so the same neighbours whatever the thread count, here or on a cluster)
        n = self.index.n
        rows = np.arange(a, b)
        d = np.empty((len(rows), k), np.float32)
        i = np.empty((len(rows), k), np.int64)
        todo = np.arange(len(rows))
        kk = min(n - 1, k + TIE_PAD)
        while len(todo):
            fd, fi, found = self._fetch(rows[todo], kk)
            d[todo], i[todo] = fd[:, :k], fi[:, :k]
            if kk >= n - 1:
                break
            todo = todo[~found | (fd[:, k - 1] == fd[:, -1])]
            kk = min(n - 1, 4 * kk)
        return d, i


class _Faiss:
    def __init__(self, index: KNNIndex):
        faiss = require("faiss", "the faiss nearest-neighbour backend")
        self.index = index
        x, d = index._x, index.dim
        ip = index.metric == "cosine"
        metric = faiss.METRIC_INNER_PRODUCT if ip else faiss.METRIC_L2
        if index.exact:
            self.f = faiss.IndexFlatIP(d) if ip else faiss.IndexFlatL2(d)
        else:
            quantizer = faiss.IndexFlatIP(d) if ip else faiss.IndexFlatL2(d)
            self.f = faiss.IndexIVFFlat(quantizer, d, index.nlist, metric)
            self.f.cp.seed = index.seed
            self.f.cp.niter = 10
            rng = np.random.default_rng(index.seed)
            n_train = min(index.n, 40 * index.nlist)
            train = x[np.sort(rng.choice(index.n, n_train, replace=False))]
            self.f.cp.min_points_per_centroid = 1
            self.f.train(train)
            self.f.nprobe = index.nprobe
            self._quantizer = quantizer  # keep alive
        self.f.add(x)

    def _to_metric(self, d: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.index.metric == "cosine":
            d = 1.0 - d
        else:
            d = np.sqrt(np.maximum(d, 0.0))
        missing = i < 0  # an approximate search can find fewer than k
        if missing.any():
            d = np.where(missing, np.inf, d)
        return d, i

    def query(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        d, i = self.f.search(q, k)
        return self._to_metric(d, i)

    def self_rows(self, a: int, b: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        d, i = self.f.search(self.index._x[a:b], k + 1)
        d, i = self._to_metric(d, i)
        return _drop_self(d, i, k, a)

    def __getstate__(self) -> dict[str, Any]:
        # a faiss index is not picklable: its bytes are (the trained cells travel with it)
        faiss = require("faiss", "the faiss nearest-neighbour backend")
        state = {k: v for k, v in self.__dict__.items() if k not in ("f", "_quantizer")}
        state["f_bytes"] = faiss.serialize_index(self.f)
        state["f_nprobe"] = getattr(self.f, "nprobe", None)  # self.index is not set up yet
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        faiss = require("faiss", "the faiss nearest-neighbour backend")
        state = dict(state)
        self.f = faiss.deserialize_index(state.pop("f_bytes"))
        nprobe = state.pop("f_nprobe")
        if nprobe is not None:
            faiss.extract_index_ivf(self.f).nprobe = nprobe
        self.__dict__.update(state)


class _Torch:
    """Exact blocked search, or a clustered block join above ``exact_max`` rows."""

    BLOCK_ELEMENTS = 1 << 25  # similarity entries per block (128 MiB float32)

    def __init__(self, index: KNNIndex):

        self.torch = torch = require("torch", "the torch nearest-neighbour backend")
        self.index = index
        self.x = torch.from_numpy(index._x)
        self.sq = (self.x * self.x).sum(1) if index.metric == "euclidean" else None
        if not index.exact:
            self._cluster()

    # -- scores: larger is nearer; converted to distances at the end
    def _scores(self, q: Any, cand: Any, cand_sq: Any) -> Any:
        s = q @ cand.T
        if self.index.metric == "euclidean":
            s = 2 * s - cand_sq[None, :]  # -(|q - c|^2) + |q|^2
        return s

    def _to_metric(self, s: Any, q: Any, idx: Any) -> np.ndarray:
        # recompute the chosen distances directly, one row at a time: a matrix product's
        # rounding depends on its shape and thread count, this does not (the same distances
        # in process and on a cluster); for Euclidean the expansion also loses precision near 0
        cand = self.x[idx.clamp(min=0)]
        if self.index.metric == "cosine":
            return (1.0 - (q[:, None, :] * cand).sum(2)).numpy()
        return self.torch.linalg.vector_norm(q[:, None, :] - cand, dim=2).numpy()

    def _exact(self, q: Any, k: int, exclude_self_from: int | None = None) -> tuple[Any, Any]:
        torch = self.torch
        n = self.index.n
        rows = max(1, self.BLOCK_ELEMENTS // n)
        dists, idx = [], []
        for s in range(0, len(q), rows):
            qb = q[s : s + rows]
            sc = self._scores(qb, self.x, self.sq)
            if exclude_self_from is not None:
                r = torch.arange(len(qb))
                sc[r, r + exclude_self_from + s] = -torch.inf
            v, i = sc.topk(k, dim=1)
            dists.append(self._to_metric(v, qb, i))
            idx.append(i.numpy())
        return np.concatenate(dists), np.concatenate(idx)

    def _kmeans(self, x: Any, c: int, iters: int = 10) -> Any:
        torch = self.torch
        g = torch.Generator().manual_seed(self.index.seed)
        cent = x[torch.randperm(len(x), generator=g)[:c]].clone()
        cosine = self.index.metric == "cosine"
        for _ in range(iters):
            a = self._assign(x, cent)
            s = torch.zeros_like(cent).index_add_(0, a, x)
            cnt = torch.bincount(a, minlength=c).to(x.dtype)
            empty = cnt == 0
            if empty.any():
                s[empty] = x[torch.randperm(len(x), generator=g)[: int(empty.sum())]]
                cnt[empty] = 1
            cent = torch.nn.functional.normalize(s, dim=1) if cosine else s / cnt[:, None]
        return cent

    def _assign(self, x: Any, cent: Any) -> Any:
        csq = (cent * cent).sum(1) if self.index.metric == "euclidean" else None
        out = []
        rows = max(1, self.BLOCK_ELEMENTS // max(1, len(cent)))
        for s in range(0, len(x), rows):
            out.append(self._scores(x[s : s + rows], cent, csq).argmax(1))
        return self.torch.cat(out)

    def _cluster(self) -> None:
        torch = self.torch
        ix = self.index
        g = torch.Generator().manual_seed(ix.seed)
        sample = self.x[torch.randperm(ix.n, generator=g)[: min(ix.n, 32 * ix.nlist)]]
        self.cent = self._kmeans(sample, ix.nlist)
        self.assign = assign = self._assign(self.x, self.cent)
        self.order = torch.argsort(assign, stable=True)
        self.starts = torch.searchsorted(assign[self.order], torch.arange(ix.nlist + 1))
        csq = (self.cent * self.cent).sum(1) if ix.metric == "euclidean" else None
        self.probe = self._scores(self.cent, self.cent, csq).topk(ix.nprobe, dim=1).indices

    def _cell(self, c: int) -> Any:
        return self.order[self.starts[c] : self.starts[c + 1]]

    def _join(self, q: Any, q_cells: Any, k: int, self_rows: Any | None) -> tuple[Any, Any]:
        """Every query against the rows of its cell's ``nprobe`` nearest cells."""
        torch = self.torch
        m = len(q)
        dist = np.full((m, k), np.inf, dtype=np.float32)
        idx = np.full((m, k), -1, dtype=np.int64)
        q_order = torch.argsort(q_cells, stable=True)
        q_starts = torch.searchsorted(q_cells[q_order], torch.arange(self.index.nlist + 1))
        for c in range(self.index.nlist):
            members = q_order[q_starts[c] : q_starts[c + 1]]
            if not len(members):
                continue
            cand = torch.cat([self._cell(p) for p in self.probe[c].tolist()])
            if not len(cand):
                continue
            qb = q[members]
            sc = self._scores(qb, self.x[cand], None if self.sq is None else self.sq[cand])
            if self_rows is not None:
                sc[cand[None, :] == self_rows[members][:, None]] = -torch.inf
            kk = min(k, len(cand))
            v, i = sc.topk(kk, dim=1)
            d = self._to_metric(v, qb, cand[i])
            ii = cand[i].numpy()
            bad = ~np.isfinite(v.numpy())
            d[bad], ii[bad] = np.inf, -1
            rows = members.numpy()
            dist[rows, :kk], idx[rows, :kk] = d, ii
        return dist, idx

    def query(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        qt = self.torch.from_numpy(q)
        if self.index.exact:
            return self._exact(qt, k)
        return self._join(qt, self._assign(qt, self.cent), k, None)

    def self_rows(self, a: int, b: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self._exact(self.x[a:b], k, exclude_self_from=a)

    def cell_ranges(self, n_parts: int) -> list[tuple[int, int]]:
        """Consecutive cell ranges holding about equal numbers of rows."""
        sizes = np.diff(self.starts.numpy())
        cum = np.concatenate([[0], np.cumsum(sizes)])
        cuts = np.searchsorted(cum, np.linspace(0, cum[-1], n_parts + 1)[1:-1])
        bounds = np.unique(np.concatenate([[0], cuts, [len(sizes)]]))
        return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))

    def self_cells(self, c0: int, c1: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The clustered join of the rows in cells ``c0 .. c1 - 1`` (the same per-cell products
        as the whole join): ``(rows, distances, indices)``."""
        rows = self.order[self.starts[c0] : self.starts[c1]]
        d, i = self._join(self.x[rows], self.assign[rows], k, rows)
        return rows.numpy().astype(np.int64), d, i

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "torch"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.torch = require("torch", "the torch nearest-neighbour backend")


def warn_if_slow(n: int, backend: str) -> None:
    """A hint when a large all-rows search will be slow with scikit-learn."""
    if backend == "sklearn" and n > 5 * EXACT_MAX:
        warnings.warn(
            f"exact nearest neighbours of {n:,} rows with scikit-learn can take minutes; "
            "install nbdiag[faiss] or nbdiag[torch] for a fast approximate search",
            stacklevel=3,
        )
