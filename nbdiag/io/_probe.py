"""Probe many image files for their size and problems, in parallel, with a progress bar."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd

from ..core.images import ImageInfo, probe_image

T = TypeVar("T")

#: how thoroughly files are checked: full decode, header only, existence only, or not at all
ProbeMode = Literal["decode", "header", "exists", "none"]

#: below this many files no progress bar is shown (unless asked for)
PROGRESS_MIN_FILES = 200
#: below this many files probing runs in the calling thread
PARALLEL_MIN_FILES = 32


def probe_mode(value: bool | str | None) -> ProbeMode:
    """Normalise a user's ``probe_images`` / ``check_images`` argument."""
    if value is True:
        return "decode"
    if value is False or value is None:
        return "none"
    if value in ("decode", "header", "exists", "none"):
        return value  # type: ignore[return-value]
    raise ValueError(
        f"image checking must be True, False, 'decode', 'header', 'exists' or 'none'; got {value!r}"
    )


def _probe_one(path: str | None, mode: ProbeMode) -> ImageInfo:
    if path is None:
        return ImageInfo(np.nan, np.nan, "")
    if mode == "exists":
        return ImageInfo(np.nan, np.nan, "" if os.path.isfile(path) else "missing_file")
    return probe_image(path, decode=mode == "decode")


def probe_files(
    paths: Sequence[str | None],
    mode: ProbeMode = "decode",
    progress: bool | None = None,
    desc: str = "checking images",
    max_workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Width, height (EXIF-rotated; NaN when unknown) and issue ("" when fine) per path.

    ``None`` paths give NaN sizes and no issue. Decoding releases the GIL, so a thread pool
    speeds up large folders several-fold. ``progress=None`` shows a bar from
    :data:`PROGRESS_MIN_FILES` files on.
    """
    n = len(paths)
    width = np.full(n, np.nan)
    height = np.full(n, np.nan)
    issues = np.full(n, "", dtype=object)
    if mode == "none" or n == 0:
        return width, height, issues
    show = n >= PROGRESS_MIN_FILES if progress is None else bool(progress)
    fn = partial(_probe_one, mode=mode)
    with progress_bar(n, desc, show, unit="img") as bar:
        if n < PARALLEL_MIN_FILES:
            infos = list(_tick(map(fn, paths), bar))
        else:
            workers = max_workers or min(16, (os.cpu_count() or 1) + 4)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                infos = list(_tick(pool.map(fn, paths), bar))
    for i, info in enumerate(infos):
        width[i], height[i], issues[i] = info.width, info.height, info.issue
    return width, height, issues


def _tick(items: Iterable[T], bar: Any) -> Iterator[T]:
    for item in items:
        bar.update(1)
        yield item


def progress_bar(total: int | None, desc: str, show: bool, unit: str = "it") -> Any:
    """A tqdm bar (the notebook widget in Jupyter, text elsewhere), disabled when not ``show``."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not show, leave=False)


def probe_samples(
    samples: pd.DataFrame,
    mode: ProbeMode,
    progress: bool | None = None,
    desc: str = "checking images",
) -> pd.DataFrame:
    """Check the files in ``samples["path"]``; fill missing ``width``/``height``; record issues.

    Sizes already in the table are kept (boxes are drawn in their coordinates); where the file's
    displayed size differs from them the sample gets a ``size_mismatch`` issue. Problems are
    appended to the ``issues`` column, comma-separated. Returns a new frame.
    """
    out = samples.copy()
    for col in ("width", "height"):
        out[col] = pd.to_numeric(out[col], errors="raise").astype(float) if col in out else np.nan
    old = out["issues"].fillna("").astype(str).to_numpy(dtype=object) if "issues" in out else None
    if "path" not in out or mode == "none":
        return out
    paths = [
        None if p is None or (isinstance(p, float) and np.isnan(p)) else os.fspath(p)
        for p in out["path"].astype(object)
    ]
    w, h, issues = probe_files(paths, mode, progress, desc)
    given_w, given_h = out["width"].to_numpy(), out["height"].to_numpy()
    with np.errstate(invalid="ignore"):
        mismatch = (np.isfinite(given_w) & np.isfinite(w) & (given_w != w)) | (
            np.isfinite(given_h) & np.isfinite(h) & (given_h != h)
        )
    issues = np.where(mismatch & (issues == ""), "size_mismatch", issues)
    out["width"] = np.where(np.isfinite(given_w), given_w, w)
    out["height"] = np.where(np.isfinite(given_h), given_h, h)
    if old is not None:
        both = (old != "") & (issues != "")
        issues = np.where(both, old + "," + issues, np.where(old != "", old, issues))
    out["issues"] = issues
    return out
