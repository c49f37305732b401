"""Thumbnails of image files: decoded at reduced scale, cached on disk, made in parallel.

``thumbnail_file(path, size, fmt)`` decodes only as much of the image as the thumbnail needs (a
JPEG through libjpeg's DCT scaling to at least twice the target size, any other format reduced
by box-averaging to at least twice the target size) and then resizes it exactly as
:func:`~nbdiag.core.images.encode_thumbnail` always did (Lanczos down, nearest-neighbour up).

Encoded thumbnails are kept on disk under ``$NBDIAG_CACHE_DIR/thumbnails`` (default
``~/.cache/nbdiag/thumbnails``), one file per (absolute path, file size, modification time,
thumbnail size, format, quality, :data:`VERSION`): a changed file gets a new key, and the old
thumbnail ages out. Writes are atomic (a temporary file renamed into place), so concurrent
processes and Dask workers may share the directory. The directory is bounded: when it grows
past ``max_bytes`` (default 1 GiB) the least recently written thumbnails are deleted down to
90% of it. ``NBDIAG_THUMBNAIL_CACHE=0`` or :func:`configure_thumbnail_cache` ``(False)``
disables it. In-memory images (arrays) are not cached on disk: they are cheap to thumbnail.

:func:`make_thumbnails` fills the disk cache for many samples at once, in local worker
processes or on a Dask cluster, and returns the problems as rows instead of raising.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import tempfile
import threading
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image, ImageOps

from .cache_dir import default_cache_dir
from .images import (
    _EXIF_ORIENTATION_TAG,
    _SWAPPING_ORIENTATIONS,
    ImageLoadError,
    _normalise_mode,
    decoding,
    encode_thumbnail,
)

#: part of every cache key: bump when the thumbnail pipeline's output changes
VERSION = 1
DEFAULT_MAX_BYTES = 1 << 30
ISSUE_COLUMNS = ["id", "issue", "detail"]


# ---------------------------------------------------------------------- decoding
def decode_thumbnail_source(
    path: str | os.PathLike[str], size: int
) -> tuple[Image.Image, tuple[int, int]]:
    """The image reduced to no less than ``2 * size`` on its longer side (when it is larger),
    EXIF orientation applied, RGB or L; and the full size ``(w, h)`` after orientation.

    Raises :class:`~nbdiag.ImageLoadError` like :func:`~nbdiag.core.images.load_image`.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageLoadError(path, "missing_file")
    target = 2 * max(1, int(size))
    with decoding(path), Image.open(path) as img:
        w, h = img.size
        orientation = img.getexif().get(_EXIF_ORIENTATION_TAG, 1)
        if img.format == "JPEG" and max(w, h) >= 2 * target:
            scale = target / max(w, h)
            img.draft("RGB", (math.ceil(w * scale), math.ceil(h * scale)))
        img.load()
        if orientation in (2, 3, 4, 5, 6, 7, 8):  # (exif_transpose copies otherwise)
            img = ImageOps.exif_transpose(img)
        img = _normalise_mode(img)
    if orientation in _SWAPPING_ORIENTATIONS:
        w, h = h, w
    factor = max(img.size) // target
    if factor >= 2:
        img = img.reduce(factor)
    return img, (w, h)


def render_thumbnail(
    path: str | os.PathLike[str], size: int = 128, fmt: str = "WEBP", quality: int = 80
) -> bytes:
    """Encode the thumbnail of an image file (no cache), decoding it at reduced scale."""
    img, full = decode_thumbnail_source(path, size)
    return encode_thumbnail(img, size=size, fmt=fmt, quality=quality, full_size=full)


# ---------------------------------------------------------------------- the disk cache
class ThumbnailStore:
    """Encoded thumbnails on disk, one file each; ``ThumbnailStore(None)`` stores nothing."""

    def __init__(
        self, directory: str | os.PathLike[str] | None, max_bytes: int = DEFAULT_MAX_BYTES
    ):
        self.directory = None if directory is None else Path(directory).expanduser()
        self.max_bytes = int(max_bytes)
        self._written = 0
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[type, tuple[Any, int]]:
        return (type(self), (self.directory, self.max_bytes))

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    @staticmethod
    def key(path: str | os.PathLike[str], size: int, fmt: str, quality: int = 80) -> str | None:
        """The cache key of a file's thumbnail, or None when the file cannot be stat'ed."""
        path = os.path.abspath(os.fspath(path))
        try:
            st = os.stat(path)
        except OSError:
            return None
        text = f"{path}|{st.st_size}|{st.st_mtime_ns}|{size}|{fmt.upper()}|{quality}|{VERSION}"
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:40]

    def _file(self, key: str, fmt: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}.{fmt.lower()}"

    def get(self, key: str, fmt: str) -> bytes | None:
        if self.directory is None:
            return None
        try:
            return self._file(key, fmt).read_bytes()
        except OSError:
            return None

    def put(self, key: str, fmt: str, data: bytes) -> None:
        """Write atomically (never fails the caller: a read-only cache only loses speed)."""
        if self.directory is None:
            return
        target = self._file(key, fmt)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            return
        with self._lock:
            self._written += len(data)
            due = self._written > self.max_bytes // 10
            if due:
                self._written = 0
        if due:
            self.prune()

    def files(self) -> list[Path]:
        if self.directory is None or not self.directory.exists():
            return []
        return [p for p in self.directory.glob("??/*") if not p.name.startswith(".tmp-")]

    def nbytes(self) -> int:
        return sum(_size(p) for p in self.files())

    def prune(self, max_bytes: int | None = None) -> int:
        """Delete the least recently written thumbnails until the directory holds at most 90%
        of ``max_bytes`` (default: this store's bound); returns how many were deleted."""
        limit = self.max_bytes if max_bytes is None else int(max_bytes)
        entries = []
        for p in self.files():
            with contextlib.suppress(OSError):
                st = p.stat()
                entries.append((st.st_mtime_ns, st.st_size, p))
        total = sum(e[1] for e in entries)
        if total <= limit:
            return 0
        deleted = 0
        for _, nbytes, p in sorted(entries, key=lambda e: e[0]):
            if total <= 0.9 * limit:
                break
            with contextlib.suppress(OSError):
                p.unlink()
                total -= nbytes
                deleted += 1
        return deleted

    def clear(self) -> None:
        for p in self.files():
            with contextlib.suppress(OSError):
                p.unlink()


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0


_configured: ThumbnailStore | None = None
_by_dir: dict[Path | None, ThumbnailStore] = {}
_store_lock = threading.Lock()


def thumbnail_store() -> ThumbnailStore:
    """The disk cache in use: the one set by :func:`configure_thumbnail_cache`, else the
    default directory as the environment says now (``NBDIAG_CACHE_DIR``, and
    ``NBDIAG_THUMBNAIL_CACHE=0`` to disable)."""
    with _store_lock:
        if _configured is not None:
            return _configured
        off = os.environ.get("NBDIAG_THUMBNAIL_CACHE", "").strip().lower()
        directory = (
            None if off in ("0", "false", "off", "no") else default_cache_dir() / "thumbnails"
        )
        store = _by_dir.get(directory)
        if store is None:
            store = _by_dir[directory] = ThumbnailStore(directory)
        return store


def configure_thumbnail_cache(
    directory: str | os.PathLike[str] | bool | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ThumbnailStore:
    """Where thumbnails are cached on disk, for this process: a directory, ``False`` to
    disable, ``True`` for the default (``$NBDIAG_CACHE_DIR/thumbnails``) and ``None`` to go
    back to following the environment; ``max_bytes`` bounds the directory."""
    global _configured
    if directory is False:
        store: ThumbnailStore | None = ThumbnailStore(None, max_bytes)
    elif directory is True:
        store = ThumbnailStore(default_cache_dir() / "thumbnails", max_bytes)
    elif directory is None:
        store = None
    else:
        store = ThumbnailStore(directory, max_bytes)
    with _store_lock:
        _configured = store
    return thumbnail_store()


def thumbnail_file(
    path: str | os.PathLike[str],
    size: int = 128,
    fmt: str = "WEBP",
    quality: int = 80,
    store: ThumbnailStore | None = None,
) -> bytes:
    """The thumbnail of an image file: from the disk cache, else decoded at reduced scale,
    encoded and stored. Raises :class:`~nbdiag.ImageLoadError` for a bad file."""
    store = thumbnail_store() if store is None else store
    key = store.key(path, size, fmt, quality) if store.enabled else None
    if key is not None:
        data = store.get(key, fmt)
        if data is not None:
            return data
    data = render_thumbnail(path, size, fmt, quality)
    if key is not None:
        store.put(key, fmt, data)
    return data


def _image_path(ds: Any, sample_id: Hashable) -> str | None:
    """The sample's file path, or None for in-memory images, unknown ids and samples without a
    file (``ds.image`` then raises or encodes as before)."""
    if sample_id in ds._images or sample_id not in ds.samples.index:
        return None
    path = ds.samples.at[sample_id, "path"]
    return os.fspath(path) if isinstance(path, (str, os.PathLike)) and str(path) else None


def thumbnail_of(ds: Any, sample_id: Hashable, size: int = 128, fmt: str = "WEBP") -> bytes:
    """The encoded thumbnail of a sample of a :class:`~nbdiag.core.DatasetCore` ``ds`` (its
    file through :func:`thumbnail_file`; an in-memory image encoded directly)."""
    path = _image_path(ds, sample_id)
    if path is None:
        return encode_thumbnail(ds.image(sample_id), size=size, fmt=fmt)
    return thumbnail_file(path, size, fmt)


# ---------------------------------------------------------------------- many at once
#: (sample id, path)
_Item = tuple[Hashable, str]
#: (sample id, "cached" | "made" | "failed", issue, detail)
_Outcome = tuple[Hashable, str, str, str]


def _thumbnail_chunk(
    items: Sequence[_Item], size: int, fmt: str, quality: int, store: ThumbnailStore
) -> list[_Outcome]:
    """Fill the disk cache for ``items``; never raises for one image."""
    out: list[_Outcome] = []
    for sid, path in items:
        key = store.key(path, size, fmt, quality)
        if key is not None and os.path.exists(store._file(key, fmt)):
            out.append((sid, "cached", "", ""))
            continue
        try:
            data = render_thumbnail(path, size, fmt, quality)
        except ImageLoadError as exc:
            out.append((sid, "failed", exc.reason, exc.detail or str(exc)))
            continue
        except Exception as exc:  # a decoder bug must not stop the others
            out.append((sid, "failed", "unreadable_image", f"{type(exc).__name__}: {exc}"))
            continue
        if key is not None:
            store.put(key, fmt, data)
        out.append((sid, "made", "", ""))
    return out


def _chunks(items: list[_Item], workers: int) -> list[list[_Item]]:
    n = len(items)
    step = max(4, min(64, n // max(1, workers * 6)))
    return [items[i : i + step] for i in range(0, n, step)]


def make_thumbnails(
    ds: Any,
    ids: Iterable[Hashable] | None = None,
    size: int = 128,
    fmt: str = "WEBP",
    *,
    client: Any = None,
    workers: int | None = None,
    progress: bool = True,
    quality: int = 80,
) -> pd.DataFrame:
    """Pre-generate the thumbnails of many samples into the disk cache, in parallel.

    ``ds`` is a :class:`~nbdiag.core.DatasetCore`; ``ids`` the samples (default: all with an
    image file; in-memory images are skipped, they are not cached on disk). ``client``: a
    ``dask.distributed.Client`` (the files must be readable by its workers, and the cache
    directory writable by them); otherwise ``workers`` local processes (default: the usable
    cores; ``1``: this process). Thumbnails already cached are not re-made.

    Returns one row per image that could not be thumbnailed (``id``, ``issue`` such as
    ``corrupt_image``, ``truncated_image``, ``missing_file`` or ``worker_failed``,
    ``detail``); nothing is raised for a bad image. ``frame.attrs["thumbnails"]`` counts
    ``{"images", "cached", "made", "failed", "in_memory"}``.
    """
    store = thumbnail_store()
    if not store.enabled:
        raise ValueError(
            "make_thumbnails fills the on-disk thumbnail cache, which is disabled "
            "(configure_thumbnail_cache / NBDIAG_THUMBNAIL_CACHE)"
        )
    wanted = list(ds.samples.index) if ids is None else list(ids)
    unknown = [i for i in wanted if i not in ds.samples.index]
    if unknown:
        raise KeyError(f"unknown sample ids: {unknown[:5]}")
    items: list[_Item] = []
    in_memory = 0
    for sid in wanted:
        path = _image_path(ds, sid)
        if path is None:
            in_memory += 1
        else:
            items.append((sid, path))
    outcomes = _run(items, size, fmt, quality, store, client, workers, progress)
    counts = {"images": len(items), "cached": 0, "made": 0, "failed": 0, "in_memory": in_memory}
    rows = []
    for sid, status, issue, detail in outcomes:
        counts[status] += 1
        if status == "failed":
            rows.append({"id": sid, "issue": issue, "detail": detail})
    frame = pd.DataFrame(rows, columns=ISSUE_COLUMNS)
    frame.attrs["thumbnails"] = counts
    return frame


def _run(
    items: list[_Item],
    size: int,
    fmt: str,
    quality: int,
    store: ThumbnailStore,
    client: Any,
    workers: int | None,
    progress: bool,
) -> list[_Outcome]:
    from functools import partial

    from tqdm.auto import tqdm

    fn = partial(_thumbnail_chunk, size=size, fmt=fmt, quality=quality, store=store)
    out: list[_Outcome] = []
    bar = tqdm(total=len(items), desc="thumbnails", unit="img", disable=not progress or not items)

    def collect(chunk: list[_Item], fut: Any) -> None:
        try:
            res = fut.result()
        except Exception as exc:  # the worker died (decoder crash, killed for memory, ...)
            detail = f"{type(exc).__name__}: {exc}"
            res = [(sid, "failed", "worker_failed", detail) for sid, _ in chunk]
        out.extend(res)
        bar.update(len(chunk))

    try:
        if not items:
            return out
        if client is not None:
            from .._optional import require

            distributed = require("dask.distributed", "making thumbnails on a Dask cluster")

            n = max(1, len(client.scheduler_info().get("workers", {})))
            chunks = _chunks(items, n * 2)
            futures = client.map(fn, chunks, pure=False)
            chunk_of = {f.key: c for f, c in zip(futures, chunks, strict=True)}
            for fut in distributed.as_completed(futures):
                collect(chunk_of[fut.key], fut)
            return out
        n = _default_workers() if workers is None else int(workers)
        if n < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        if n == 1 or len(items) < 32:
            for chunk in _chunks(items, 1):
                out.extend(fn(chunk))
                bar.update(len(chunk))
            return out
        _run_pool(items, fn, n, collect)
        return out
    finally:
        bar.close()


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _run_pool(items: list[_Item], fn: Any, n: int, collect: Any) -> None:
    import multiprocessing
    import warnings
    from concurrent.futures import ProcessPoolExecutor, as_completed

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
            futures = {pool.submit(fn, chunk): chunk for chunk in _chunks(items, n)}
            for fut in as_completed(futures):
                collect(futures[fut], fut)
