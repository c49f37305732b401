"""Running image metrics over many images: in the calling process, in a local process pool, or
on a Dask cluster. Workers get file paths or arrays (never the Dataset) and metric names."""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial
from typing import Any

import numpy as np

from ..core.images import ImageLoadError
from ._cache import ReadOnlyCache
from ._image import read_source, view_of
from ._registry import Metric, get_metric

#: (row position, path or array, names of the metrics to compute)
Task = tuple[int, Any, tuple[str, ...]]
#: (row position, content hash or None, {metric: value}, [(metric or "", reason, detail)],
#: names of the values that came from the cache)
Result = tuple[int, "str | None", dict[str, Any], list[tuple[str, str, str]], tuple[str, ...]]

#: fewer images than this are computed in the calling process (a pool costs more than it saves)
PARALLEL_MIN_ITEMS = 48


def _coerce(value: Any, dtype: str) -> Any:
    if dtype == "str":
        return None if value is None else str(value)
    if value is None:
        return float("nan")
    arr = np.asarray(value)
    if arr.ndim != 0:
        raise TypeError(f"an image metric must return one number, got shape {arr.shape}")
    return float(arr)


def compute_chunk(
    tasks: Sequence[Task],
    metrics: dict[str, Metric] | None = None,
    cache_path: str | None = None,
    cache_keys: dict[str, str] | None = None,
) -> list[Result]:
    """Read each image once, take what the cache has, decode and compute the rest.

    Never raises for one image. ``metrics`` maps names to :class:`Metric` objects; when
    omitted (forked local workers) the names are looked up in the registry, which the fork
    copied from the calling process. ``cache_path`` (read-only here) and ``cache_keys``
    (metric name -> cache key) let a worker serve values of images the caller could not
    identify before reading them (new paths, copies under other names).
    """
    from threadpoolctl import threadpool_limits

    cache = ReadOnlyCache(cache_path) if cache_path and cache_keys else None
    out: list[Result] = []
    try:
        # one image is small: BLAS threads would only contend with the other workers
        with threadpool_limits(1):
            for pos, source, names in tasks:
                out.append(_one(pos, source, names, metrics, cache, cache_keys or {}))
    finally:
        if cache is not None:
            cache.close()
    return out


def _one(
    pos: int,
    source: Any,
    names: tuple[str, ...],
    metrics: dict[str, Metric] | None,
    cache: ReadOnlyCache | None,
    cache_keys: dict[str, str],
) -> Result:
    path = "<array>" if isinstance(source, np.ndarray) else os.fspath(source)
    try:
        payload, digest = read_source(source)
    except ImageLoadError as exc:
        return (pos, None, {}, [("", exc.reason, exc.detail or str(exc))], ())
    values: dict[str, Any] = {}
    cached: tuple[str, ...] = ()
    if cache is not None:
        hits = cache.lookup(digest, [(n, cache_keys[n]) for n in names if n in cache_keys])
        if hits:
            for name, val in hits.items():
                dtype = metrics[name].dtype if metrics is not None else get_metric(name).dtype
                values[name] = _from_cache(val, dtype)
            cached = tuple(hits)
            names = tuple(n for n in names if n not in hits)
            if not names:
                return (pos, digest, values, [], cached)
    try:
        view = view_of(payload, path)
    except ImageLoadError as exc:
        return (pos, digest, {}, [("", exc.reason, exc.detail or str(exc))], ())
    except Exception as exc:
        return (pos, digest, {}, [("", "unreadable_image", f"{type(exc).__name__}: {exc}")], ())
    user_image: np.ndarray | None = None
    errors: list[tuple[str, str, str]] = []
    for name in names:
        m = metrics[name] if metrics is not None else get_metric(name)
        try:
            if m.takes_view:
                raw = m.func(view)
            else:
                if user_image is None:
                    user_image = view.rgb.view()
                    user_image.flags.writeable = False
                raw = m.func(user_image)
            values[name] = _coerce(raw, m.dtype)
        except Exception as exc:
            errors.append((name, "metric_failed", f"{type(exc).__name__}: {exc}"))
    return (pos, digest, values, errors, cached)


def _from_cache(value: Any, dtype: str) -> Any:
    if dtype == "str":
        return None if value is None or (isinstance(value, float) and np.isnan(value)) else value
    return float(value)


def chunk_tasks(tasks: Sequence[Task], workers: int) -> list[list[Task]]:
    """Split into chunks: several per worker (for load balance and progress), at most 64."""
    n = len(tasks)
    size = int(np.clip(n // max(1, workers * 6), 4, 64))
    return [list(tasks[i : i + size]) for i in range(0, n, size)]


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run(
    tasks: Sequence[Task],
    metrics: dict[str, Metric],
    *,
    client: Any = None,
    workers: int | None = None,
    on_result: Callable[[list[Result]], None],
    cache_path: str | None = None,
) -> None:
    """Compute ``tasks`` and hand each finished chunk's results to ``on_result``.

    ``client``: a ``dask.distributed.Client`` (tasks and metric functions are shipped with
    cloudpickle; file paths must be readable by the workers). Otherwise a local process pool
    of ``workers`` processes (default: the usable cores), or the calling process for small
    jobs and ``workers=1``.
    """
    if not tasks:
        return
    keys = {name: m.cache_key for name, m in metrics.items()} if cache_path else None
    fn = partial(compute_chunk, cache_path=cache_path, cache_keys=keys)
    if client is not None:
        _run_dask(tasks, partial(fn, metrics=metrics), client, on_result)
        return
    n_workers = default_workers() if workers is None else int(workers)
    if n_workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if n_workers == 1 or len(tasks) < PARALLEL_MIN_ITEMS:
        for chunk in chunk_tasks(tasks, 1):
            on_result(fn(chunk, metrics))
        return
    _run_pool(tasks, metrics, fn, n_workers, on_result)


def _init_worker() -> None:
    """Pool-worker set-up: keep freed memory in the heap (glibc), so the many short-lived
    image-sized arrays are not handed back and re-faulted from the kernel every time (which
    costs more than the arithmetic on them). Only in our own worker processes."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 64 * 1024 * 1024)
        libc.mallopt(m_trim_threshold, 128 * 1024 * 1024)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def _picklable(obj: Any) -> bool:
    import pickle

    try:
        pickle.dumps(obj)
    except Exception:
        return False
    return True


def _pool_context() -> tuple[Any, bool]:
    """A fork context where there is one (workers inherit the registry, so metrics defined
    in a notebook work), else spawn (metrics must then be importable or picklable)."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork"), True
    return multiprocessing.get_context("spawn"), False  # pragma: no cover - not Linux


def _run_pool(
    tasks: Sequence[Task],
    metrics: dict[str, Metric],
    fn: Callable[..., list[Result]],
    n_workers: int,
    on_result: Callable[[list[Result]], None],
) -> None:
    ctx, forked = _pool_context()
    if not forked and not _picklable(metrics):  # pragma: no cover - not Linux
        warnings.warn(
            "metrics defined in a notebook cannot be sent to spawned worker processes on "
            "this platform; computing in this process instead (define them in an importable "
            "module to use the pool)",
            RuntimeWarning,
            stacklevel=4,
        )
        for chunk in chunk_tasks(tasks, 1):
            on_result(fn(chunk, metrics))
        return
    chunks = chunk_tasks(tasks, n_workers)
    fn = fn if forked else partial(fn, metrics=metrics)
    with warnings.catch_warnings():
        # Python >= 3.12 warns about fork in a multi-threaded process (Jupyter kernels are);
        # the workers only decode images and run numpy, which is safe here.
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        with ProcessPoolExecutor(
            max_workers=n_workers, mp_context=ctx, initializer=_init_worker
        ) as pool:
            futures = {pool.submit(fn, chunk): chunk for chunk in chunks}
            for fut in as_completed(futures):
                on_result(_result_or_failure(fut, futures[fut]))


def _run_dask(
    tasks: Sequence[Task],
    fn: Callable[..., list[Result]],
    client: Any,
    on_result: Callable[[list[Result]], None],
) -> None:
    from .._optional import require

    distributed = require("dask.distributed", "computing metrics on a Dask cluster")
    n_workers = max(1, len(client.scheduler_info().get("workers", {})) or 1)
    chunks = chunk_tasks(tasks, n_workers * 2)
    futures = client.map(fn, chunks, pure=False)
    chunk_of = {fut.key: chunk for fut, chunk in zip(futures, chunks, strict=True)}
    for fut in distributed.as_completed(futures):
        on_result(_result_or_failure(fut, chunk_of[fut.key]))


def _result_or_failure(fut: Any, chunk: list[Task]) -> list[Result]:
    """A chunk's results, or, when its worker died (a crash in an image decoder, killed for
    memory, ...), one ``worker_failed`` error per image of the chunk instead of an exception."""
    try:
        return fut.result()
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"
        return [(pos, None, {}, [("", "worker_failed", detail)], ()) for pos, _, _ in chunk]
