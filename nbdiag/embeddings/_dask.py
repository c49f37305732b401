"""Running the heavy embedding stages on a ``dask.distributed`` cluster: the client check
shared by :func:`~nbdiag.embeddings.embed` and the neighbour analyses, and the all-rows kNN
search split into partitions, each searched on a worker against one shipped index.

The index is built (and, for the approximate backends, trained) once in the calling process
and broadcast to every worker; each task searches one part of the rows with the same code the
local search runs (:meth:`KNNIndex.self_knn_part`), so the merged graph equals the local one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._optional import require
from ._knn import KNNIndex

#: parts of the all-rows search per worker (load balance; each part is whole query blocks)
PARTS_PER_WORKER = 4


def check_client(client: Any, feature: str) -> Any:
    """``dask.distributed`` when ``client`` is a ``dask.distributed.Client``.

    Raises
    ------
    ImportError
        Naming the ``dask`` extra when ``distributed`` is not installed.
    TypeError
        When ``client`` is anything else than a ``Client``.
    """
    distributed = require("dask.distributed", feature)
    if not isinstance(client, distributed.Client):
        raise TypeError(
            f"client must be a dask.distributed.Client (e.g. Client('tcp://scheduler:8786') or "
            f"Client(LocalCluster())), got {type(client).__name__}"
        )
    return distributed


def n_workers(client: Any) -> int:
    """Workers the scheduler knows of (at least 1)."""
    return max(1, len(client.scheduler_info().get("workers", {})))


def gather_as_completed(
    client: Any,
    distributed: Any,
    futures: Sequence[Any],
    on_result: Callable[[int, Any], bool],
) -> None:
    """Hand each future's ``(position, result)`` to ``on_result`` as they complete (it
    returns False to stop: the futures not yet finished are cancelled); a task's exception
    propagates. Every future is released afterwards."""
    pos = {f.key: n for n, f in enumerate(futures)}
    try:
        for fut in distributed.as_completed(futures):
            if not on_result(pos[fut.key], fut.result()):
                break
    finally:
        client.cancel(list(futures))


def _search_part(index: KNNIndex, part: tuple[str, int, int], k: int) -> Any:
    return index.self_knn_part(part, k)


def self_knn(index: KNNIndex, k: int, client: Any) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`KNNIndex.self_knn` on a Dask cluster: the index is broadcast to the workers once
    and each of about ``PARTS_PER_WORKER`` parts per worker is searched on one of them.

    Parameters
    ----------
    index : KNNIndex
        Built (and trained) in the calling process.
    k : int
        Neighbours per row (the row itself excluded).
    client : dask.distributed.Client

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``(n, k)`` distances (float32) and indices (int64), equal to ``index.self_knn(k)``.
    """
    distributed = check_client(client, "nearest neighbours on a Dask cluster")
    if index.n < 2:
        return index.self_knn(k)
    k = index._check_k(k, index.n - 1)
    parts = index.self_knn_parts(n_workers(client) * PARTS_PER_WORKER)
    remote = client.scatter(index, broadcast=True, hash=False)
    results: list[Any] = [None] * len(parts)

    def keep(n: int, result: Any) -> bool:
        results[n] = result
        return True

    try:
        futures = [client.submit(_search_part, remote, p, k, pure=False) for p in parts]
        gather_as_completed(client, distributed, futures, keep)
    finally:
        client.cancel([remote])
    return index.merge_parts(results, k)
