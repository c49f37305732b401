"""Probe many image files for their size and problems, in parallel, with a progress bar."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..core._tables import as_paths
from ..core.images import ImageInfo, probe_image

T = TypeVar("T")

#: how thoroughly files are checked: full decode, header only, existence only, or not at all
ProbeMode = Literal["decode", "header", "exists", "none"]

#: below this many files no progress bar is shown (unless asked for)
PROGRESS_MIN_FILES = 200
#: below this many files probing runs in the calling thread
PARALLEL_MIN_FILES = 32
#: from this many files headers are read in worker processes (header parsing holds the GIL)
PROCESS_MIN_FILES = 4_000
#: files per task sent to a worker process
CHUNK_FILES = 1_000
#: with ``"auto"`` checking, image headers are read up to this many images; beyond it only
#: existence is checked (one directory listing per folder), and the first pass that decodes the
#: images (metrics, embeddings, thumbnails) records what cannot be read
AUTO_HEADER_LIMIT = 20_000


def probe_mode(value: bool | str | None, n: int | None = None) -> ProbeMode:
    """Normalise a user's ``probe_images`` / ``check_images`` argument; ``"auto"`` (given the
    number of files ``n``) reads headers up to :data:`AUTO_HEADER_LIMIT` files, else checks
    existence only."""
    if value is True:
        return "decode"
    if value is False or value is None:
        return "none"
    if value == "auto":
        return "header" if n is None or n <= AUTO_HEADER_LIMIT else "exists"
    if value in ("decode", "header", "exists", "none"):
        return value  # type: ignore[return-value]
    raise ValueError(
        "image checking must be 'auto', True, False, 'decode', 'header', 'exists' or 'none'; "
        f"got {value!r}"
    )


def existing_files(paths: Sequence[str | None] | pd.Series) -> np.ndarray:
    """Which paths name an existing file, by one directory listing per parent folder (not one
    ``stat`` per file: a million absent or remote files take about a second, not minutes)."""
    n = len(paths)
    out = np.zeros(n, dtype=bool)
    if n == 0:
        return out
    col = _as_text(paths)
    if os.sep != "/" or os.altsep:  # Windows: two separators, drive letters
        return np.array([isinstance(p, str) and os.path.isfile(p) for p in col], dtype=bool)
    if hasattr(col.array, "__arrow_array__"):  # the column's own Arrow buffers, not copied
        text = pa.array(col.array)
    else:  # pandas < 2.3: Python strings
        text = pa.array(col.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    if text.null_count == len(text):
        return out
    # the parent folder of each path, by one vectorised regex ("." for a bare name)
    parents = pc.replace_substring_regex(text, pattern="/[^/]*$", replacement="")
    bare = pc.invert(pc.match_substring(text, "/"))
    parents = pc.if_else(bare, pa.scalar("."), parents)
    parents = pc.if_else(pc.equal(parents, ""), pa.scalar("/"), parents)  # "/x.jpg"
    listed: list[str] = []
    for parent in pc.drop_null(pc.unique(parents)).to_pylist():
        listed.extend(_files_in(parent))
    found = pc.is_in(text, value_set=pa.array(listed, type=text.type))
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False).astype(bool)


def _as_text(paths: Sequence[str | None] | pd.Series) -> pd.Series:
    """Paths as an Arrow-backed text column (NaN for none), positionally indexed."""
    if isinstance(paths, pd.Series):
        return as_paths(paths).reset_index(drop=True)
    return as_paths(pd.Series(list(paths), dtype=object))


def _files_in(folder: str) -> list[str]:
    """Paths (as ``folder + "/" + name``) of the files in ``folder``; none if it is absent."""
    prefix = "" if folder == "." else ("/" if folder == "/" else folder + "/")
    try:
        with os.scandir(folder) as entries:
            return [prefix + e.name for e in entries if e.is_file()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError:  # e.g. permission denied: listing is not allowed but files may be readable
        return []


def probe_files(
    paths: Sequence[str | None] | pd.Series,
    mode: ProbeMode = "decode",
    progress: bool | None = None,
    desc: str = "checking images",
    max_workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Width, height (EXIF-rotated; NaN when unknown) and issue ("" when fine) per path.

    ``None`` paths give NaN sizes and no issue. Existence is checked first, by listing each
    folder once (absent files are ``missing_file`` without being opened); then the files that
    exist are opened: headers only (``"header"``) or fully decoded (``"decode"``), in worker
    processes from :data:`PROCESS_MIN_FILES` files on (threads below). ``progress=None`` shows a
    bar from :data:`PROGRESS_MIN_FILES` files on.
    """
    n = len(paths)
    width = np.full(n, np.nan)
    height = np.full(n, np.nan)
    issues = np.full(n, "", dtype=object)
    if mode == "none" or n == 0:
        return width, height, issues
    col = _as_text(paths)
    exists = existing_files(col)
    has_path = col.notna().to_numpy()
    # a file the listing did not show may still open (e.g. a folder that cannot be listed)
    unlisted = np.flatnonzero(has_path & ~exists)
    if len(unlisted) and len(unlisted) <= 64:
        exists[unlisted] = [os.path.isfile(col.iloc[i]) for i in unlisted]
    issues[has_path & ~exists] = "missing_file"
    if mode == "exists":
        return width, height, issues
    todo = np.flatnonzero(exists)
    show = len(todo) >= PROGRESS_MIN_FILES if progress is None else bool(progress)
    files = col.iloc[todo].tolist()
    fn = partial(_probe_chunk, decode=mode == "decode")
    infos: list[ImageInfo] = []
    with progress_bar(len(files), desc, show, unit="img") as bar:
        if len(files) < PARALLEL_MIN_FILES:
            infos = fn(files)
            bar.update(len(files))
        else:
            chunks = [files[k : k + CHUNK_FILES] for k in range(0, len(files), CHUNK_FILES)]
            if len(files) >= PROCESS_MIN_FILES and (os.cpu_count() or 1) > 1:
                workers = max_workers or min(os.cpu_count() or 1, 8)
                pool: Any = ProcessPoolExecutor(workers, mp_context=_fork_context())
            else:
                pool = ThreadPoolExecutor(max_workers or min(16, (os.cpu_count() or 1) + 4))
                chunks = [files[k : k + 64] for k in range(0, len(files), 64)]
            with pool:
                for part in pool.map(fn, chunks):
                    infos.extend(part)
                    bar.update(len(part))
    for i, info in zip(todo, infos, strict=True):
        width[i], height[i], issues[i] = info.width, info.height, info.issue
    return width, height, issues


def _probe_chunk(paths: Sequence[str], decode: bool) -> list[ImageInfo]:
    return [probe_image(p, decode=decode) for p in paths]


def _fork_context() -> Any:
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


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
    w, h, issues = probe_files(as_paths(out["path"]), mode, progress, desc)
    given_w, given_h = out["width"].to_numpy(), out["height"].to_numpy()
    with np.errstate(invalid="ignore"):
        mismatch = (np.isfinite(given_w) & np.isfinite(w) & (given_w != w)) | (
            np.isfinite(given_h) & np.isfinite(h) & (given_h != h)
        )
    issues = np.where(mismatch & (issues == ""), "size_mismatch", issues)
    out["width"] = np.where(np.isfinite(given_w), given_w, w)
    out["height"] = np.where(np.isfinite(given_h), given_h, h)
    if old is not None:
        had = old != ""
        both = had & (issues != "")
        merged = np.where(had, old, issues)
        merged[both] = old[both] + "," + issues[both]
        issues = merged
    out["issues"] = issues
    return out
