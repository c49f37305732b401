"""Image access: lazy loading with EXIF orientation, problems recorded (not raised) where asked,
and a small LRU cache of encoded thumbnails for the widgets."""

from __future__ import annotations

import io
import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from threading import Lock

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: EXIF orientations that swap width and height (rotations by 90 / 270 degrees)
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION_TAG = 0x0112


class ImageLoadError(OSError):
    """An image could not be read; ``reason`` is a short machine-readable issue name."""

    def __init__(self, path: str, reason: str, detail: str = ""):
        self.path = path
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {path}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class ImageInfo:
    """What probing an image file found: display size (after EXIF rotation) or the issue."""

    width: float
    height: float
    issue: str  # "" when the image is fine, else e.g. "missing_file", "corrupt_image"


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open an image file fully decoded, EXIF orientation applied, as RGB (or L for grayscale).

    Raises :class:`ImageLoadError` naming the file for missing, unreadable, corrupt or
    truncated images.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageLoadError(path, "missing_file")
    with decoding(path), Image.open(path) as img:
        img.load()
        img = ImageOps.exif_transpose(img)
        return _normalise_mode(img)


@contextmanager
def decoding(path: str) -> Iterator[None]:
    """Pillow's errors while reading ``path`` (a file, or a name for bytes) as an
    :class:`ImageLoadError` with its issue name: the one mapping every decoder here uses."""
    try:
        yield
    except ImageLoadError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageLoadError(path, "corrupt_image", "not a readable image") from exc
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(path, "too_large_image", str(exc)) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(path, _issue_from_error(exc), str(exc)) from exc


def probe_image(path: str | os.PathLike[str], decode: bool = True) -> ImageInfo:
    """Size of an image as displayed (EXIF-rotated) and any problem with the file.

    With ``decode=True`` the pixels are decoded too, which catches truncated and corrupt image
    data (a few milliseconds per photo); with ``decode=False`` only the header is read, which
    catches missing and unreadable files (well under a millisecond).

    Never raises for a bad file: the problem is returned as ``issue`` (``"missing_file"``,
    ``"corrupt_image"``, ``"truncated_image"`` or ``"too_large_image"``).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        return ImageInfo(np.nan, np.nan, "missing_file")
    try:
        with Image.open(path) as img:
            w, h = img.size
            orientation = img.getexif().get(_EXIF_ORIENTATION_TAG, 1)
            if decode:
                img.load()
    except UnidentifiedImageError:
        return ImageInfo(np.nan, np.nan, "corrupt_image")
    except Image.DecompressionBombError:
        return ImageInfo(np.nan, np.nan, "too_large_image")
    except (OSError, SyntaxError, ValueError) as exc:
        return ImageInfo(np.nan, np.nan, _issue_from_error(exc))
    if orientation in _SWAPPING_ORIENTATIONS:
        w, h = h, w
    return ImageInfo(float(w), float(h), "")


def _issue_from_error(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "missing_file"
    if isinstance(exc, (IsADirectoryError, PermissionError)):
        return "unreadable_file"
    return "truncated_image" if "truncated" in str(exc) else "corrupt_image"


def _normalise_mode(img: Image.Image) -> Image.Image:
    if img.mode in ("RGB", "L"):
        return img
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(scaled.astype(np.uint8))  # 2-D uint8 -> mode "L"
    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def array_to_uint8(images: np.ndarray) -> np.ndarray:
    """Convert a stack of images (N,H,W) or (N,H,W,C) to uint8 for display.

    uint8 stays as is; float arrays in [0, 1] are scaled by 255; any other numeric range (e.g.
    scikit-learn's digits, 0..16) is scaled linearly from [0, max] to [0, 255] over the whole
    stack so relative brightness between images is preserved.
    """
    arr = np.asarray(images)
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"images must be numeric arrays, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.flatnonzero(~finite.reshape(len(arr), -1).all(axis=1))
        raise ValueError(f"images contain NaN or infinite pixels at positions {bad[:5].tolist()}")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0:
        arr = arr - lo
        hi = hi - lo
    scale = 255.0 if hi <= 1.0 else 255.0 / hi if hi > 0 else 1.0
    return np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)


def array_to_image(arr: np.ndarray) -> Image.Image:
    """One uint8 image array (H,W), (H,W,1), (H,W,3) or (H,W,4) as a PIL image."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(arr))  # 2-D uint8 -> mode "L"
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        return _normalise_mode(Image.fromarray(arr))
    raise ValueError(f"unsupported image array shape {arr.shape}")


def encode_thumbnail(
    img: Image.Image,
    size: int = 128,
    fmt: str = "WEBP",
    quality: int = 80,
    full_size: tuple[int, int] | None = None,
) -> bytes:
    """Encode ``img`` so that its longer side is ``size`` pixels.

    Small images (e.g. 8x8 digits) are enlarged with nearest-neighbour so pixels stay crisp;
    large ones are reduced with a high-quality filter. ``full_size`` is the original ``(w, h)``
    when ``img`` was decoded at reduced scale: the thumbnail's size is computed from it, so it
    is the same as from the full image.
    """
    w, h = full_size if full_size is not None else img.size
    scale = size / max(w, h)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    resample = Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS
    thumb = img.resize(new, resample) if new != img.size else img
    buf = io.BytesIO()
    thumb.save(buf, format=fmt, quality=quality)
    return buf.getvalue()


class ThumbnailCache:
    """A thread-safe LRU cache of encoded thumbnails, bounded by total bytes."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024):
        self.max_bytes = max_bytes
        self._items: OrderedDict[object, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = Lock()
        self.hits = 0
        self.misses = 0

    def __reduce__(self) -> tuple[type, tuple[int]]:
        # a copy (pickle, deepcopy, a worker process) starts empty: thumbnails are re-made
        return (type(self), (self.max_bytes,))

    def get(self, key: object) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: object, value: bytes) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._items[key] = value
            self._bytes += len(value)
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes
