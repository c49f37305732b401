"""The images an ImageGrid shows, read on demand from its dataset and cached: decoded images (a
small LRU: the crops of one image's objects share it), each sample's source size, and encoded
object crops; and how an image failure is reported."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..core.images import ImageLoadError, ThumbnailCache, encode_thumbnail

if TYPE_CHECKING:
    from ..core import DatasetCore


class GridImages:
    """Decoded images, source sizes and object crops of ``ds`` (thread-safe: pages are served
    from the RPC thread)."""

    def __init__(self, ds: DatasetCore):
        self.ds = ds
        self._lock = threading.Lock()
        self._images: OrderedDict[Hashable, Image.Image] = OrderedDict()
        self._sizes: dict[int, tuple[float, float]] = {}
        self._crops = ThumbnailCache(max_bytes=32 * 1024 * 1024)

    def source_size(self, pos: int, sid: Hashable) -> tuple[float, float]:
        """(width, height) of sample ``pos``'s coordinate system: the table's size, else the
        decoded image's."""
        with self._lock:
            cached = self._sizes.get(pos)
        if cached is not None:
            return cached
        w = self.ds.samples["width"].iat[pos]
        h = self.ds.samples["height"].iat[pos]
        if not (np.isfinite(w) and np.isfinite(h)) or w <= 0 or h <= 0:
            w, h = self.image(sid).size
        size = (float(w), float(h))
        with self._lock:
            self._sizes[pos] = size
        return size

    def image(self, sid: Hashable) -> Image.Image:
        """Decoded image, from a small LRU (object crops of one image share it)."""
        with self._lock:
            img = self._images.get(sid)
            if img is not None:
                self._images.move_to_end(sid)
                return img
        img = self.ds.image(sid)
        with self._lock:
            self._images[sid] = img
            while len(self._images) > 8:
                self._images.popitem(last=False)
        return img

    def crop(
        self,
        oid: Hashable,
        pos: int,
        sid: Hashable,
        region: tuple[int, int, int, int],
        size: int,
    ) -> bytes:
        """WEBP thumbnail (longer side ``size``) of ``region`` (x0, y0, x1, y1, in the table's
        coordinates) of sample ``pos``'s image: the crop of object ``oid``, cached."""
        key = (oid, size)
        data = self._crops.get(key)
        if data is None:
            img = self.image(sid)
            W, H = self.source_size(pos, sid)
            if img.size != (int(W), int(H)):  # boxes live in the table's coordinates
                img = img.resize((max(1, int(W)), max(1, int(H))))
            data = encode_thumbnail(img.crop(region), size=size, fmt="WEBP")
            self._crops.put(key, data)
        return data


def image_issue(exc: BaseException) -> tuple[str, str]:
    """(short issue name, message) of an image failure."""
    if isinstance(exc, ImageLoadError):
        return exc.reason, str(exc)
    if isinstance(exc, ValueError) and "neither an image file" in str(exc):
        return "no_image", str(exc)
    return "unreadable_image", f"{type(exc).__name__}: {exc}"


def image_size(data: bytes | memoryview) -> tuple[int, int]:
    """(width, height) of encoded image bytes (tests, debugging)."""
    with Image.open(io.BytesIO(bytes(data))) as img:
        return img.size
