"""``compute_metrics``: every registered (or named) metric of a Dataset, as table columns."""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core._tables import add_issues
from ..core.cache_dir import default_cache_dir
from ._cache import MetricCache, file_stat
from ._executor import Result, Task, _from_cache, run
from ._flags import FLAG_INPUTS, compute_flags
from ._image import array_digest
from ._registry import Metric, align_output, resolve

if TYPE_CHECKING:
    from ..core import DatasetCore

ERROR_COLUMNS = ["id", "scope", "metric", "error", "detail"]
#: columns the loaders may already have filled; a failed decode keeps their values
_KEEP_KNOWN = ("width", "height")


def compute_metrics(
    ds: DatasetCore,
    names: str | Iterable[str] | None = None,
    *,
    client: Any = None,
    workers: int | None = None,
    cache_dir: str | os.PathLike[str] | None | bool = None,
    progress: bool = True,
    thresholds: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Compute quality metrics and add them as columns of ``ds.samples`` / ``ds.objects``.

    Parameters
    ----------
    ds
        The dataset.
    names
        Metric names (see :func:`list_metrics`); all registered metrics when omitted. Image
        metrics go to ``ds.samples``; object metrics to ``ds.objects``; prediction metrics of
        every run to ``"{name}@{run}"`` columns (``ds.samples`` for classification runs).
    client
        A ``dask.distributed.Client``: image metrics then run on its cluster (the image files
        must be readable by the workers; in-memory images are shipped to them).
    workers
        Local worker processes (default: the usable cores; ``1`` computes in this process).
    cache_dir
        Where values are cached, keyed by image content + metric name + version (default
        ``$NBDIAG_CACHE_DIR`` or ``~/.cache/nbdiag``); ``False`` disables the cache.
    progress
        Show a tqdm progress bar for the images that need computing.
    thresholds
        Overrides of the issue-flag thresholds (see :data:`DEFAULT_THRESHOLDS`).

    Returns
    -------
    DataFrame
        One row per problem (``id``, ``scope``, ``metric``, ``error``, ``detail``): images
        that could not be decoded (all their image metrics NaN, e.g. ``corrupt_image``) and
        metrics that raised (that value NaN, ``metric_failed``). Each problem is also added to
        the item's ``issues`` entry. Nothing is raised for a single bad image.
        ``frame.attrs["images"]`` counts the images with image metrics: ``{"images": n,
        "from_cache": n_cached, "computed": n_computed}`` (an image counts as computed when at
        least one of its requested values was not in the cache).

    After image metrics that flags depend on, the issue flags (``dark``, ``light``, ``blurry``, ``low_information``,
    ``grayscale``, ``odd_aspect_ratio``, ``odd_size``, ``exact_duplicate``,
    ``near_duplicate``) and ``duplicate_group`` are (re)computed from the metric columns.
    """
    metrics = resolve(names)
    explicit = names is not None
    errors: list[dict[str, Any]] = []
    image_ms = [m for m in metrics if m.scope == "image"]
    object_ms = [m for m in metrics if m.scope == "object"]
    pred_ms = [m for m in metrics if m.scope == "prediction"]
    image_stats = {"images": 0, "from_cache": 0, "computed": 0}

    if image_ms:
        image_errors, image_stats = _image_metrics(
            ds,
            image_ms,
            client=client,
            workers=workers,
            cache_dir=cache_dir,
            progress=progress,
            explicit=explicit,
        )
        errors += image_errors
        # the flags depend on a few built-in columns only: a user metric alone leaves them be
        if thresholds is not None or FLAG_INPUTS & {m.name for m in image_ms}:
            apply_flags(ds, thresholds)
    if object_ms and len(ds.objects):
        errors += _object_metrics(ds, object_ms)
    if pred_ms and ds.runs:
        from ._builtin_prediction import prediction_metrics

        errors += prediction_metrics(ds, pred_ms)
    frame = pd.DataFrame(errors, columns=ERROR_COLUMNS)
    _record_issues(ds, frame)
    frame.attrs["images"] = image_stats
    return frame


def apply_flags(ds: DatasetCore, thresholds: Mapping[str, float] | None = None) -> pd.DataFrame:
    """(Re)compute the issue flags of ``ds.samples`` from its metric columns (after
    :func:`compute_metrics`), e.g. with other thresholds: ``apply_flags(ds, {"dark": 0.3,
    "near_duplicate_radius": 6})``. Returns the flag columns."""
    flags = compute_flags(ds.samples, thresholds)
    for col in flags.columns:
        ds.samples[col] = flags[col]
    return flags


# ---------------------------------------------------------------------- images
def _sources(ds: DatasetCore) -> list[tuple[int, Hashable, Any]]:
    """(position, sample id, path or array) of the samples that have an image."""
    images = getattr(ds, "_images", {}) or {}
    paths = ds.samples["path"].to_numpy(dtype=object)
    out = []
    for pos, sid in enumerate(ds.samples.index):
        if sid in images:
            out.append((pos, sid, images[sid]))
        elif isinstance(paths[pos], (str, os.PathLike)) and str(paths[pos]):
            out.append((pos, sid, os.fspath(paths[pos])))
    return out


def _open_cache(cache_dir: str | os.PathLike[str] | None | bool) -> MetricCache:
    if cache_dir is False:
        return MetricCache(None)
    if cache_dir is None or cache_dir is True:
        return MetricCache(default_cache_dir() / "metrics")
    return MetricCache(cache_dir)


def _image_metrics(
    ds: DatasetCore,
    metrics: list[Metric],
    *,
    client: Any,
    workers: int | None,
    cache_dir: str | os.PathLike[str] | None | bool,
    progress: bool,
    explicit: bool,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The errors, and how many images came from the cache or were computed."""
    sources = _sources(ds)
    n = len(ds.samples)
    if not sources:
        if explicit and n:
            raise ValueError(
                "image metrics need images: this dataset's samples have neither a 'path' nor "
                "an in-memory image"
            )
        return [], {"images": 0, "from_cache": 0, "computed": 0}
    by_name = {m.name: m for m in metrics}
    values: dict[str, np.ndarray] = {
        m.name: np.full(n, np.nan) if m.dtype == "float" else np.full(n, None, dtype=object)
        for m in metrics
    }
    errors: list[dict[str, Any]] = []
    ids = ds.samples.index

    with _open_cache(cache_dir) as cache:
        # 1. content hashes we already know: arrays are hashed here, files by (size, mtime)
        digest: dict[int, str] = {}
        stats: dict[int, tuple[str, int, int]] = {}
        path_items = [(pos, src) for pos, _, src in sources if isinstance(src, str)]
        known = cache.known_files([p for _, p in path_items]) if cache.enabled else {}
        for pos, _, src in sources:
            if isinstance(src, np.ndarray):
                digest[pos] = array_digest(src)
        for pos, path in path_items:
            st = file_stat(path)
            if st is None:
                continue
            stats[pos] = (path, *st)
            hit = known.get(path)
            if hit is not None and hit[:2] == st:
                digest[pos] = hit[2]
        # 2. cached values
        keys = [(m.name, m.cache_key) for m in metrics]
        cached = cache.get_many(sorted(set(digest.values())), keys) if cache.enabled else {}
        tasks: list[Task] = []
        for pos, _, src in sources:
            h = digest.get(pos)
            missing = []
            for m in metrics:
                hit = cached.get((m.name, m.cache_key), {}) if h is not None else {}
                if h is not None and h in hit:
                    values[m.name][pos] = _from_cache(hit[h], m.dtype)
                else:
                    missing.append(m.name)
            if missing:
                tasks.append((pos, src, tuple(missing)))

        # 3. compute what is missing
        from tqdm.auto import tqdm

        bar = tqdm(
            total=len(tasks),
            desc="image metrics",
            unit="img",
            disable=not progress or not tasks,
            leave=False,
        )
        new_rows: list[tuple[str, str, str, Any]] = []
        new_files: list[tuple[str, int, int, str]] = []

        def collect(results: list[Result]) -> None:
            for pos, h, vals, errs, from_cache in results:
                for name, val in vals.items():
                    values[name][pos] = val
                    if h is not None and name not in from_cache:
                        new_rows.append((h, name, by_name[name].cache_key, val))
                if h is not None and pos in stats:
                    new_files.append((*stats[pos], h))
                for metric_name, reason, detail in errs:
                    errors.append(
                        {
                            "_pos": pos,
                            "id": ids[pos],
                            "scope": "image",
                            "metric": metric_name or None,
                            "error": reason,
                            "detail": detail,
                        }
                    )
            bar.update(len(results))

        try:
            cache_path = str(cache.path) if cache.enabled and client is None else None
            run(
                tasks,
                by_name,
                client=client,
                workers=workers,
                on_result=collect,
                cache_path=cache_path,
            )
        finally:
            bar.close()
            cache.put(new_rows)
            cache.remember_files(new_files)

    for m in metrics:
        col = values[m.name]
        if m.dtype == "float":
            series = pd.Series(col, index=ids, dtype=float)
        else:
            series = pd.Series(col, index=ids, dtype=object)
        if m.name in _KEEP_KNOWN and m.name in ds.samples.columns:
            series = series.fillna(pd.to_numeric(ds.samples[m.name], errors="coerce"))
        ds.samples[m.name] = series
    errors.sort(key=lambda e: e.pop("_pos"))  # completion order varies with the pool
    stats = {
        "images": len(sources),
        "from_cache": len(sources) - len(tasks),
        "computed": len(tasks),
    }
    return errors, stats


# ---------------------------------------------------------------------- objects
def _object_metrics(ds: DatasetCore, metrics: list[Metric]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    objects, samples = ds.objects, ds.samples
    for m in metrics:
        try:
            raw = m.func(objects, samples)
            if raw is None:  # a built-in that does not apply to this dataset
                continue
            col = align_output(raw, objects.index, m)
        except Exception as exc:
            errors.append(
                {
                    "id": None,
                    "scope": "object",
                    "metric": m.name,
                    "error": "metric_failed",
                    "detail": f"{type(exc).__name__}: {exc}",
                }
            )
            continue
        ds.objects[m.name] = col
    return errors


# ---------------------------------------------------------------------- issues
def _record_issues(ds: DatasetCore, errors: pd.DataFrame) -> None:
    """Append each problem to the ``issues`` entry of its sample (comma-separated)."""
    rows = errors[(errors["scope"] == "image") & errors["id"].notna()]
    if not len(rows) or "issues" not in ds.samples.columns:
        return
    label = np.where(
        rows["metric"].isna(), rows["error"], rows["error"] + ":" + rows["metric"].fillna("")
    )
    add_issues(ds.samples, rows["id"], label)
