"""A Dataset from tables you already have."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..core import DatasetCore, new_dataset
from ..core._tables import as_paths, missing
from ._probe import probe_mode, probe_samples


def from_dataframe(
    samples: pd.DataFrame,
    objects: pd.DataFrame | None = None,
    class_names: Sequence[Any] | None = None,
    *,
    name: str = "dataframe",
    probe_images: bool | str = "auto",
    root: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> DatasetCore:
    """Build a :class:`~nbdiag.Dataset` from a samples table (and optionally an objects table).

    Parameters
    ----------
    samples
        One row per image, indexed by sample id (or with an ``id`` column). A ``path`` column
        names each image file; ``width``, ``height``, ``label``, ``split`` are optional and any
        other column is kept.
    objects
        One row per box: ``sample_id``, ``label``, ``x``, ``y``, ``w``, ``h`` (pixels, top-left
        origin), optionally ``source``/``score``/``iscrowd``.
    class_names
        The classes in order; integer labels are read as indices into it.
    probe_images
        How the files in ``path`` are checked: ``"auto"`` (default) reads image headers (size,
        EXIF orientation) of up to :data:`~nbdiag.io._probe.AUTO_HEADER_LIMIT` files and only
        checks existence beyond (one directory listing per folder, so a million absent or
        remote files take seconds); ``"header"`` always reads headers (in worker processes for
        large tables), ``True``/``"decode"`` decodes every image (catches truncated files up
        front; slow), ``"exists"`` only checks that files exist, ``False`` skips checking.
        Truncated or corrupt image data that a header does not show is recorded by the first
        pass that decodes the images (metrics, embeddings, thumbnails).
        Width and height missing from the table are filled from the files (as displayed, i.e.
        after EXIF rotation). Problems (``missing_file``, ``corrupt_image``,
        ``truncated_image``, ``size_mismatch``) are recorded in ``samples.issues``; they never
        stop the dataset from being built.
    root
        Folder that relative paths are relative to (default: the working directory). Paths are
        stored absolute, so the dataset keeps working after ``os.chdir``.
    progress
        Show a progress bar while checking files (default: from 200 files on).

    Examples
    --------
    >>> import pandas as pd
    >>> ds = from_dataframe(pd.DataFrame({"label": ["cat", "dog"]}, index=["a", "b"]))
    >>> len(ds), ds.class_names
    (2, ['cat', 'dog'])
    """
    if not isinstance(samples, pd.DataFrame):
        raise TypeError(f"samples must be a pandas DataFrame, got {type(samples).__name__}")
    mode = probe_mode(probe_images, len(samples))
    samples = samples.copy()
    if "path" in samples.columns:
        base = os.fspath(root) if root is not None else os.getcwd()
        samples["path"] = absolute_paths(samples["path"], base)
        samples = probe_samples(samples, mode, progress)
    return new_dataset(samples, objects, class_names, name=name)


#: a path component ``.`` or ``..``, a doubled or a trailing separator: what ``abspath`` changes
_NOT_NORMAL = r"(?:^|/)\.\.?(?:/|$)|//|/$"


def absolute_paths(values: pd.Series, base: str) -> pd.Series:
    """``values`` as absolute, normalised paths (relative ones relative to ``base``), as
    Arrow-backed strings; vectorised, so that a million rows take well under a second. Only
    paths that need it (``~``, ``..``, doubled separators) go through ``os.path``."""
    col = as_paths(values)
    if os.sep != "/" or os.altsep:  # Windows: drive letters and two separators
        return as_paths(col.map(lambda p: p if missing(p) else _absolute(p, base)))
    present = col.notna()
    relative = present & ~col.str.startswith("/") & ~col.str.startswith("~")
    if relative.any():
        col = col.copy()
        col[relative] = os.path.abspath(base).rstrip("/") + "/" + col[relative]
    slow = present & (col.str.startswith("~") | col.str.contains(_NOT_NORMAL, regex=True))
    if slow.any():
        col = col.copy()
        col[slow] = [_absolute(p, base) for p in col[slow]]
    return col


def _absolute(path: Any, base: str) -> str:
    return os.path.abspath(os.path.join(base, os.path.expanduser(os.fspath(path))))
