"""The image column of a Hugging Face dataset, read in place.

An ``Image`` feature stores ``{"bytes", "path"}`` per row. Rows whose image is a local file
(``bytes`` null) become that file's ``path``; rows whose image is embedded in the Arrow data
stay there: :class:`HFImages` serves them to the dataset lazily, decoding one row's bytes when
``ds.image(id)`` asks for it, and :func:`read_image_column` reads each one's header once (its
size) without decoding the rest. Nothing is written to disk.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from PIL import Image, ImageOps, UnidentifiedImageError

from ...core.images import decoding
from .._probe import AUTO_HEADER_LIMIT, PROGRESS_MIN_FILES, probe_files, progress_bar

#: rows read from the Arrow data at a time
BATCH_ROWS = 1024
_EXIF_ORIENTATION = 0x0112
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}


@dataclass
class ImageColumn:
    """What the image column says, per row: ``path`` (the stored path, or None), ``embedded``
    (bytes in the data), ``missing`` (no image at all), and for embedded images the size
    (EXIF-rotated; NaN when unreadable) and issue (``"corrupt_image"``, ...; ``""``)."""

    path: list[str | None]
    embedded: np.ndarray
    missing: np.ndarray
    width: np.ndarray
    height: np.ndarray
    issues: np.ndarray


def read_image_column(part: Any, column: str, *, decode: bool, bar: Any) -> ImageColumn:
    """The image column of one ``datasets.Dataset`` (``Image`` feature or a string column of
    paths), in batches of :data:`BATCH_ROWS` rows; embedded images' headers are read (fully
    decoded when ``decode``). ``bar`` is a tqdm bar ticked per row."""
    table = part.select_columns([column]).with_format("arrow")
    n = len(part)
    out = ImageColumn(
        path=[],
        embedded=np.zeros(n, bool),
        missing=np.zeros(n, bool),
        width=np.full(n, np.nan),
        height=np.full(n, np.nan),
        issues=np.full(n, "", dtype=object),
    )
    for start in range(0, n, BATCH_ROWS):
        batch = table[start : start + BATCH_ROWS].column(0).combine_chunks()
        stop = start + len(batch)
        out.missing[start:stop] = batch.is_null().to_numpy(zero_copy_only=False)
        if pa.types.is_string(batch.type) or pa.types.is_large_string(batch.type):
            out.path.extend(batch.to_pylist())
            bar.update(len(batch))
            continue
        if not pa.types.is_struct(batch.type) or {f.name for f in batch.type} < {"bytes", "path"}:
            raise ValueError(
                f"image column {column!r} holds {batch.type}; expected an Image feature "
                "({'bytes', 'path'}) or file paths"
            )
        children = dict(zip([f.name for f in batch.type], batch.flatten(), strict=True))
        blobs = children["bytes"]
        out.path.extend(children["path"].to_pylist())
        has = blobs.is_valid().to_numpy(zero_copy_only=False)
        out.embedded[start:stop] = has
        for k in np.flatnonzero(has):
            w, h, issue = probe_bytes(blobs[int(k)].as_buffer(), decode)
            out.width[start + k], out.height[start + k], out.issues[start + k] = w, h, issue
            bar.update(1)
        bar.update(len(batch) - int(has.sum()))
    return out


def probe_bytes(data: Any, decode: bool = False) -> tuple[float, float, str]:
    """Display size (EXIF-rotated) and issue of an encoded image (bytes or a buffer); the
    header only unless ``decode``. Never raises for bad data."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
            if decode:
                img.load()
            # a PNG's EXIF may follow the pixels: reading it would decode them; only the EXIF
            # the header holds is looked at
            header_exif = img.format != "PNG" or "exif" in img.info or decode
            orientation = img.getexif().get(_EXIF_ORIENTATION, 1) if header_exif else 1
    except UnidentifiedImageError:
        return np.nan, np.nan, "corrupt_image"
    except Image.DecompressionBombError:
        return np.nan, np.nan, "too_large_image"
    except (OSError, SyntaxError, ValueError) as exc:
        return np.nan, np.nan, "truncated_image" if "truncated" in str(exc) else "corrupt_image"
    if orientation in _SWAPPING_ORIENTATIONS:
        w, h = h, w
    return float(w), float(h), ""


def decode_array(data: Any, what: str) -> np.ndarray:
    """An encoded image as a uint8 array, EXIF orientation applied: (H, W) for grayscale,
    (H, W, 3) otherwise (transparency over white, 16-bit and float scaled to 0..255).
    Raises :class:`~nbdiag.ImageLoadError` naming ``what``."""
    with decoding(what), Image.open(io.BytesIO(data)) as img:
        img.load()
        img = ImageOps.exif_transpose(img)
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        return scaled.astype(np.uint8)
    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba).convert("RGB")
    elif img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8)


def read_images(
    parts: Sequence[Any],
    column: str,
    frame: pd.DataFrame,
    mode: str | None,
    need_sizes: bool,
    row_name: Callable[[int], str],
    problems: list[tuple[int | None, str, str]],
    progress: bool | None,
) -> HFImages:
    """Fill ``path``, ``file_name``, ``width``/``height`` (given ones kept; ``size_mismatch``
    where the image differs) and ``issues`` of ``frame`` (one row per row of ``parts``) from
    the image column ``column``; return the embedded images as an :class:`HFImages`.

    Image files are checked with ``mode`` (None: ``"auto"``; ``need_sizes`` reads headers at
    least); rows without an image, or with one that is not a local file, get a
    ``missing_file`` problem."""
    total = len(frame)
    stored: list[str | None] = []
    embedded = np.zeros(total, bool)
    missing = np.zeros(total, bool)
    width, height = np.full(total, np.nan), np.full(total, np.nan)
    issues = np.full(total, "", dtype=object)
    where: dict[Hashable, tuple[int, int]] = {}
    ids = frame["id"].to_numpy(dtype=object)
    at = 0
    with header_bar(total, progress) as bar:
        for k, (_, part) in enumerate(parts):
            col = read_image_column(part, column, decode=mode == "decode", bar=bar)
            n = len(part)
            stored += col.path
            embedded[at : at + n], missing[at : at + n] = col.embedded, col.missing
            width[at : at + n], height[at : at + n] = col.width, col.height
            issues[at : at + n] = col.issues
            where.update({ids[at + r]: (k, int(r)) for r in np.flatnonzero(col.embedded)})
            at += n
    paths: list[str | None] = [None] * total
    for r in np.flatnonzero(~embedded):
        path = local_path(stored[r])
        if path is not None:
            paths[r] = path
        elif stored[r] is None or missing[r]:
            problems.append((int(r), "missing_file", f"{row_name(int(r))}: no image"))
        else:
            problems.append(
                (
                    int(r),
                    "missing_file",
                    f"{row_name(int(r))}: image {stored[r]!r} is not a local file (nbdiag reads "
                    "local files and images stored in the dataset)",
                )
            )
    files = np.array([p is not None for p in paths], dtype=bool)
    file_mode = mode or ("header" if files.sum() <= AUTO_HEADER_LIMIT else "exists")
    if need_sizes and file_mode in ("exists", "none"):
        file_mode = "header"  # normalised boxes need the sizes
    at = np.flatnonzero(files)
    pw, ph, pissues = probe_files(
        [paths[r] for r in at], file_mode, progress, "checking Hugging Face images"
    )
    width[at], height[at], issues[at] = pw, ph, pissues
    given_w, given_h = frame["width"].to_numpy(float), frame["height"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        mismatch = (np.isfinite(given_w) & np.isfinite(width) & (given_w != width)) | (
            np.isfinite(given_h) & np.isfinite(height) & (given_h != height)
        )
    frame["issues"] = np.where(mismatch & (issues == ""), "size_mismatch", issues)
    frame["width"] = np.where(np.isfinite(given_w), given_w, width)
    frame["height"] = np.where(np.isfinite(given_h), given_h, height)
    frame["path"] = pd.Series(paths, dtype=object)
    frame["file_name"] = pd.Series(stored, dtype=object)
    prefixes = ["row" if s is None else f"{s} row" for s, _ in parts]
    return HFImages([p for _, p in parts], column, where, prefixes)


class HFImages(Mapping[Hashable, np.ndarray]):
    """Images embedded in Hugging Face datasets, by sample id, decoded one at a time.

    Keeps the datasets (Arrow data, memory-mapped when loaded from disk) and, per sample id,
    which part and row holds its bytes; ``images[sample_id]`` decodes that row (a uint8 array,
    EXIF orientation applied). Membership and ``len`` never decode.
    """

    def __init__(
        self,
        parts: Sequence[Any],
        column: str,
        where: Mapping[Hashable, tuple[int, int]],
        names: Sequence[str],
    ):
        self._parts = [p.select_columns([column]).with_format("arrow") for p in parts]
        self._column = column
        self._where = dict(where)
        self._names = list(names)  # how messages name each part's rows ("row", "train row")

    def encoded(self, sample_id: Hashable) -> bytes:
        """The stored (encoded) bytes of a sample's image."""
        part, row = self._where[sample_id]
        value = self._parts[part][row].column(0)[0]
        return value["bytes"].as_py()

    def __getitem__(self, sample_id: Hashable) -> np.ndarray:
        part, row = self._where[sample_id]  # KeyError for an id without an embedded image
        what = f"{self._names[part]} {row} of the Hugging Face dataset ({self._column!r})"
        return decode_array(self.encoded(sample_id), what)

    def __contains__(self, sample_id: object) -> bool:
        try:
            return sample_id in self._where
        except TypeError:  # unhashable
            return False

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def __repr__(self) -> str:
        return f"HFImages({len(self)} embedded images in column {self._column!r})"


def header_bar(total: int, progress: bool | None) -> Any:
    """A progress bar over ``total`` rows of image column (shown from
    :data:`~nbdiag.io._probe.PROGRESS_MIN_FILES` rows on unless ``progress`` says)."""
    show = total >= PROGRESS_MIN_FILES if progress is None else bool(progress)
    return progress_bar(total, "reading Hugging Face images", show and total > 0, "img")


def local_path(path: str | None) -> str | None:
    """``path`` as an absolute local path, or None for no path or a URL (``hf://``, ``http``)."""
    if not path or "://" in path:
        return None
    return os.path.abspath(os.path.expanduser(path))
