"""Decoding an image once and sharing its derived arrays between all image metrics.

Built-in image metrics read an :class:`ImageView`: the decoded RGB pixels plus lazily computed,
cached intermediates (a working-resolution copy, luma, perceived brightness, ...), so that
twenty metrics of one image decode it once and convert it once.
"""

from __future__ import annotations

import hashlib
import io
import os
from functools import cached_property

import numpy as np
from PIL import Image, ImageOps

from ..core.images import ImageLoadError, _issue_from_error, _normalise_mode, decoding

#: images whose longer side exceeds this are area-downscaled to it for the structure metrics
#: (sharpness, blurriness, contrast): a fixed analysis resolution, so that these scale-dependent
#: scores describe the image as seen at that size whatever its pixel count, and cost does not
#: grow with megapixels. Width, height and the exact hash use the full image.
WORK_SIDE = 512
#: the tone and colour statistics (brightness and its percentiles, channel means,
#: colourfulness, colour spread, entropy) read the working image area-downscaled further so
#: its longer side is at most this: means are unchanged by area averaging, percentiles and
#: spreads describe the image as seen at this size (pixel noise averaged away), at a quarter
#: of the cost.
STATS_SIDE = 256


_EXIF_ORIENTATION = 0x0112

#: HSP weights divided by 255^2, so that ``sqrt((RGB^2) @ w)`` is in [0, 1]
_HSP_WEIGHTS = np.array([0.241, 0.691, 0.068], dtype=np.float32) / np.float32(255.0**2)


def file_digest(data: bytes) -> str:
    """Content hash of a file's bytes (the cache key of its metric values)."""
    return hashlib.sha256(data).hexdigest()[:32]


def array_digest(arr: np.ndarray) -> str:
    """Content hash of an in-memory image (shape, dtype and pixels)."""
    h = hashlib.sha256(f"{arr.shape}|{arr.dtype}".encode())
    h.update(np.ascontiguousarray(arr).data)
    return h.hexdigest()[:32]


def decode_bytes(
    data: bytes, path: str = "<bytes>", reduce_to: int | None = None
) -> tuple[Image.Image, tuple[int, int], bool]:
    """Decode an encoded image to a PIL RGB image (EXIF orientation applied, alpha composited
    on white, 16-bit and float images rescaled), or raise :class:`~nbdiag.ImageLoadError`.

    Returns ``(image, (width, height), reduced)``: the full size after orientation, and whether
    the image was decoded at reduced scale. With ``reduce_to``, a JPEG at least twice that size
    is decoded with libjpeg's DCT scaling to the smallest power-of-two reduction still at
    least ``reduce_to`` on its longer side (several times faster than a full decode).
    """
    with decoding(path), Image.open(io.BytesIO(data)) as img:
        w, h = img.size
        reduced = False
        if reduce_to and img.format == "JPEG" and max(w, h) >= 2 * reduce_to:
            scale = reduce_to / max(w, h)
            img.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
            reduced = img.size != (w, h)
        orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
        img.load()
        if orientation in (2, 3, 4, 5, 6, 7, 8):  # (exif_transpose would copy otherwise)
            img = ImageOps.exif_transpose(img)
        img = _normalise_mode(img)
        rgb = img if img.mode == "RGB" else img.convert("RGB")
    if orientation in (5, 6, 7, 8):
        w, h = h, w
    return rgb, (w, h), reduced


def read_file(path: str) -> bytes:
    """A file's bytes, or :class:`~nbdiag.ImageLoadError` (``missing_file`` / ...)."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError as exc:
        raise ImageLoadError(path, "missing_file") from exc
    except OSError as exc:
        raise ImageLoadError(path, _issue_from_error(exc), str(exc)) from exc


def as_rgb(arr: np.ndarray) -> np.ndarray:
    """An image array as contiguous RGB ``uint8`` ``(H, W, 3)``."""
    if arr.dtype != np.uint8:
        raise ValueError(f"image arrays must be uint8, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim == 3 and arr.shape[2] == 4:
        rgb = arr[:, :, :3].astype(np.float32)
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        return np.uint8(np.rint(rgb * alpha + 255.0 * (1.0 - alpha)))
    if arr.ndim == 3 and arr.shape[2] == 3:
        return np.ascontiguousarray(arr)
    raise ValueError(f"unsupported image array shape {arr.shape}")


def read_source(source: str | os.PathLike[str] | np.ndarray) -> tuple[bytes | np.ndarray, str]:
    """The encoded bytes (or the array) of an image and its content hash, without decoding."""
    if isinstance(source, np.ndarray):
        return source, array_digest(source)
    data = read_file(os.fspath(source))
    return data, file_digest(data)


def view_of(payload: bytes | np.ndarray, path: str = "<bytes>") -> ImageView:
    """Decode what :func:`read_source` returned (large JPEGs at reduced scale first; the full
    image is decoded only if a metric asks for ``rgb``)."""
    if isinstance(payload, np.ndarray):
        return ImageView(as_rgb(payload))
    pil, size, reduced = decode_bytes(payload, path, reduce_to=WORK_SIDE)
    if reduced:
        return ImageView(reduced=pil, size=size, payload=payload, path=path)
    return ImageView(pil=pil)


def load_source(source: str | os.PathLike[str] | np.ndarray) -> tuple[ImageView, str]:
    """The decoded image (as an :class:`ImageView`) and content hash of a file path or an
    in-memory array."""
    payload, digest = read_source(source)
    path = "<array>" if isinstance(source, np.ndarray) else os.fspath(source)
    return view_of(payload, path), digest


class ImageView:
    """One decoded image and its derived arrays, computed on first use and kept.

    ``rgb`` is the full image (``uint8``, ``(H, W, 3)``); ``luma`` its luma area-reduced so that
    its longer side is at most :data:`WORK_SIDE` (the structure metrics); ``stats`` the RGB image
    area-reduced to at most :data:`STATS_SIDE` (the tone and colour statistics); ``work`` the
    RGB image at :data:`WORK_SIDE` (for user code; no built-in reads it). Float arrays are
    ``float32``. A large JPEG may arrive decoded at reduced scale (``reduced``); ``rgb`` then
    decodes it fully on first use, which the built-in metrics avoid. The built-ins never copy
    the full image into NumPy either: a 1000 px photo costs one decode, one float luma
    conversion and resize, one integer box reduction and one hash of its pixels.
    """

    def __init__(
        self,
        rgb: np.ndarray | None = None,
        pil: Image.Image | None = None,
        *,
        reduced: Image.Image | None = None,
        size: tuple[int, int] | None = None,
        payload: bytes | None = None,
        path: str = "<bytes>",
    ):
        if rgb is not None:
            self.__dict__["rgb"] = rgb
            self.height, self.width = (int(s) for s in rgb.shape[:2])
        if pil is not None:
            self.__dict__["pil"] = pil
            self.width, self.height = pil.size
        self.reduced = reduced
        if reduced is not None:
            assert size is not None and payload is not None
            self.width, self.height = size
        self._payload, self._path = payload, path

    @cached_property
    def pil(self) -> Image.Image:
        """The full image as a PIL RGB image."""
        if "rgb" in self.__dict__:
            return Image.fromarray(self.rgb)
        assert self._payload is not None
        return decode_bytes(self._payload, self._path)[0]

    @cached_property
    def rgb(self) -> np.ndarray:
        """The full image, RGB ``uint8`` ``(H, W, 3)``."""
        return np.asarray(self.pil)

    @cached_property
    def hash_pixels(self) -> np.ndarray:
        """The pixels the exact-duplicate hash reads: the full image, or for a JPEG decoded at
        reduced scale those reduced pixels (as deterministic for a given file, and far
        cheaper)."""
        return np.asarray(self.reduced) if self.reduced is not None else self.rgb

    @cached_property
    def hash_bytes(self) -> tuple[tuple[int, ...], bytes | memoryview]:
        """``(shape, raw bytes)`` of :attr:`hash_pixels` (C order, ``uint8`` RGB), read from the
        decoded image without the extra copy a NumPy view of it costs."""
        if "hash_pixels" in self.__dict__ or "rgb" in self.__dict__ or "pil" not in self.__dict__:
            arr = np.ascontiguousarray(self.hash_pixels)
            return arr.shape, arr.data
        img = self.reduced if self.reduced is not None else self.pil
        w, h = img.size
        return (h, w, 3), img.tobytes()

    @cached_property
    def work_pil(self) -> Image.Image:
        """The working-size image as a PIL RGB image."""
        source = self.reduced if self.reduced is not None else self.pil
        sw, sh = source.size
        side = max(sw, sh)
        if side <= WORK_SIDE:
            return source
        scale = WORK_SIDE / side
        size = (max(1, round(sw * scale)), max(1, round(sh * scale)))
        return source.resize(size, Image.Resampling.BOX)

    @cached_property
    def work(self) -> np.ndarray:
        """The working-size image, ``uint8`` ``(h, w, 3)``."""
        if self.reduced is None and max(self.width, self.height) <= WORK_SIDE:
            return self.rgb
        return np.asarray(self.work_pil)

    @cached_property
    def work_f(self) -> np.ndarray:
        """Working image as float32, 0..255 (for user code; no built-in reads it)."""
        return self.work.astype(np.float32)

    @property
    def _source(self) -> Image.Image:
        """The image at the resolution it was decoded at (reduced for large JPEGs)."""
        return self.reduced if self.reduced is not None else self.pil

    @cached_property
    def stats_pil(self) -> Image.Image:
        """The image area-reduced so its longer side is at most :data:`STATS_SIDE` (and, from
        images over twice that, at least two thirds of it: an integer box reduction, which is
        several times cheaper than a fractional one): what the tone and colour statistics
        read."""
        source = self._source
        sw, sh = source.size
        side = max(sw, sh)
        if side <= STATS_SIDE:
            return source
        if side > 2 * STATS_SIDE:
            return source.reduce(-(-side // STATS_SIDE))
        scale = STATS_SIDE / side
        size = (max(1, round(sw * scale)), max(1, round(sh * scale)))
        return source.resize(size, Image.Resampling.BOX)

    @cached_property
    def stats(self) -> np.ndarray:
        """The statistics image (:attr:`stats_pil`), ``uint8`` ``(h, w, 3)``."""
        if self.stats_pil is self.__dict__.get("pil") and "rgb" in self.__dict__:
            return self.rgb
        return np.asarray(self.stats_pil)

    @cached_property
    def stats_f(self) -> np.ndarray:
        """Statistics image as float32, 0..255."""
        return self.stats.astype(np.float32)

    @cached_property
    def luma_pil(self) -> Image.Image:
        """Luma as a PIL float ("F") image: ``0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601), of
        the image area-reduced so its longer side is at most :data:`WORK_SIDE` (luma is taken
        first, then reduced: one float channel to resample instead of three)."""
        luma = self._source.convert("F")
        sw, sh = luma.size
        side = max(sw, sh)
        if side <= WORK_SIDE:
            return luma
        scale = WORK_SIDE / side
        size = (max(1, round(sw * scale)), max(1, round(sh * scale)))
        return luma.resize(size, Image.Resampling.BOX)

    @cached_property
    def luma(self) -> np.ndarray:
        """ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` (0..255, working size)."""
        return np.asarray(self.luma_pil, dtype=np.float32)

    @cached_property
    def perceived(self) -> np.ndarray:
        """Perceived brightness per pixel, ``sqrt(0.241 R^2 + 0.691 G^2 + 0.068 B^2) / 255``
        in [0, 1] (the HSP colour model, as cleanvision uses); statistics size."""
        f = self.stats_f
        return np.sqrt((f * f) @ _HSP_WEIGHTS)

    @cached_property
    def perceived_quantiles(self) -> np.ndarray:
        """The 5th and 99th percentiles of :attr:`perceived`, read from a 4096-bin histogram
        (to within 1/4096)."""
        n_bins = 4096
        idx = (self.perceived * (n_bins - 1e-3)).astype(np.intp)
        cdf = np.cumsum(np.bincount(idx.reshape(-1), minlength=n_bins))
        pos = np.searchsorted(cdf, np.array([0.05, 0.99]) * cdf[-1], side="left")
        return (pos + 0.5) / n_bins

    @cached_property
    def channel_histograms(self) -> np.ndarray:
        """256-bin histograms of R, G and B, shape (3, 256), of the statistics image."""
        return np.asarray(self.stats_pil.histogram(), dtype=np.int64).reshape(3, 256)

    @cached_property
    def planes(self) -> np.ndarray:
        """The statistics image as contiguous channel planes, ``uint8`` ``(3, h, w)``."""
        return np.ascontiguousarray(self.stats.transpose(2, 0, 1))

    @cached_property
    def chroma(self) -> np.ndarray:
        """``max(R, G, B) - min(R, G, B)`` per pixel (uint8, statistics size)."""
        r, g, b = self.planes
        return np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)

    @cached_property
    def _luma_small(self) -> Image.Image:
        """Luma area-reduced to at most 128 px a side (exact 2x steps of the working luma as
        far as they go): the source of the thumbnails below, so that they cost one reduction
        of the full image instead of one each."""
        img = self.luma_pil
        w, h = img.size
        factor = 1
        while max(w, h) // (factor * 2) >= 128 and min(w, h) // (factor * 2) >= 32:
            factor *= 2
        return img.reduce(factor) if factor > 1 else img

    def luma_reduced(self, size: tuple[int, int], crop: float = 0.0) -> np.ndarray:
        """Luma area-reduced to ``size`` = (w, h), float32 0..255, optionally after cutting
        ``crop`` (a fraction) from each side; used by thumbnails and perceptual hashes."""
        key = ("_reduced", size, crop)
        cached = self.__dict__.get(key)
        if cached is None:
            img = self._luma_small
            if crop:
                w, h = img.size
                dx, dy = round(w * crop), round(h * crop)
                img = img.crop((dx, dy, max(dx + 1, w - dx), max(dy + 1, h - dy)))
            cached = np.asarray(img.resize(size, Image.Resampling.BOX), dtype=np.float32)
            self.__dict__[key] = cached
        return cached
