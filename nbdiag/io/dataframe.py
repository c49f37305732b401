"""A Dataset from tables you already have."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..core import DatasetCore, new_dataset
from ._probe import probe_mode, probe_samples


def from_dataframe(
    samples: pd.DataFrame,
    objects: pd.DataFrame | None = None,
    class_names: Sequence[Any] | None = None,
    *,
    name: str = "dataframe",
    probe_images: bool | str = True,
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
        How the files in ``path`` are checked: ``True``/``"decode"`` decodes every image
        (catches truncated files), ``"header"`` reads headers only (fast; catches missing and
        unreadable files), ``"exists"`` only checks that files exist, ``False`` skips checking.
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
    mode = probe_mode(probe_images)
    samples = samples.copy()
    if "path" in samples.columns:
        base = os.fspath(root) if root is not None else os.getcwd()
        samples["path"] = [
            None if p is None or (isinstance(p, float) and p != p) else _absolute(p, base)
            for p in samples["path"].astype(object)
        ]
        samples = probe_samples(samples, mode, progress)
    return new_dataset(samples, objects, class_names, name=name)


def _absolute(path: Any, base: str) -> str:
    return os.path.abspath(os.path.join(base, os.path.expanduser(os.fspath(path))))
