"""Object masks, stored as COCO compressed run-length encodings (RLE).

An object's mask lives in the ``mask`` column of ``Dataset.objects`` as the ``counts`` string of
a COCO compressed RLE over its image (height × width from ``samples``), or ``None`` for an object
without a mask. One short ASCII string per object keeps a million masks in a few hundred MB, saves
to Parquet as a plain string column, and is decoded by the browser without a PNG per mask.

Every mask form a user has goes through :func:`to_rle`: COCO polygons (several parts), COCO
uncompressed and compressed RLE, binary arrays and probability maps (thresholded at 0.5, as
torchvision's Mask R-CNN outputs are used). Encoding, decoding, areas, boxes and IoU are
pycocotools' (``pycocotools.mask``, the reference the COCO numbers are defined by), installed by
the ``masks`` extra.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._optional import require
from . import validation as v
from ._rle_check import counts_ok

#: the objects-table column that holds masks
MASK = "mask"
#: masks per ``pycocotools.mask`` area call (its numpy-2 build overflows a uint8 from 256 on)
AREA_CHUNK = 255
#: a probability mask's pixel is inside at >= this value (torchvision's Mask R-CNN convention)
PROBABILITY_THRESHOLD = 0.5


def mask_api() -> Any:
    """``pycocotools.mask``, or an ImportError naming the ``masks`` extra."""
    return require("pycocotools.mask", "object masks (COCO segmentation)")


def _rle(counts: str | bytes, height: int, width: int) -> dict[str, Any]:
    c = counts.encode("ascii") if isinstance(counts, str) else counts
    return {"size": [int(height), int(width)], "counts": c}


def _counts(rle: dict[str, Any]) -> str:
    c = rle["counts"]
    return c.decode("ascii") if isinstance(c, bytes) else str(c)


def _array_rle(arr: np.ndarray, height: int, width: int, what: str) -> dict[str, Any]:
    if arr.ndim == 3 and arr.shape[0] == 1:  # torchvision's (1, H, W)
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"{what}: a mask array must be H×W, got shape {arr.shape}")
    if arr.shape != (height, width):
        raise ValueError(
            f"{what}: mask is {arr.shape[0]}×{arr.shape[1]} but its image is {height}×{width}"
        )
    if arr.dtype != bool:
        arr = arr.astype(float)
        finite = arr[np.isfinite(arr)]
        if finite.size != arr.size:
            raise ValueError(f"{what}: mask has NaN or infinite values")
        if finite.size and (finite.min() < 0 or finite.max() > 1):
            raise ValueError(
                f"{what}: mask values must be 0/1 or probabilities in [0, 1]; found "
                f"[{finite.min():g}, {finite.max():g}]"
            )
        arr = arr >= PROBABILITY_THRESHOLD
    return mask_api().encode(np.asfortranarray(arr.astype(np.uint8)))


def to_rle(segmentation: Any, height: int, width: int, what: str = "mask") -> str | None:
    """The compressed-RLE ``counts`` string of one mask on a ``height`` × ``width`` image.

    ``segmentation`` is a COCO polygon list (``[[x0, y0, x1, y1, ...], ...]``, parts merged),
    a COCO RLE dict (``size`` and ``counts`` as a list — uncompressed — or a string), a
    compressed ``counts`` string, or an H×W array / tensor of 0/1, booleans or probabilities.
    ``None`` (or NaN) means no mask. A polygon reaching past the image's edge is clipped to
    it, as pycocotools rasterises it (COCO's own annotations do this). Errors name ``what``
    (the object).
    """
    if segmentation is None or (isinstance(segmentation, float) and np.isnan(segmentation)):
        return None
    if height is None or width is None or not (height > 0 and width > 0):
        raise ValueError(f"{what}: a mask needs its image's width and height, which are unknown")
    h, w = int(height), int(width)
    api = mask_api()
    if isinstance(segmentation, (str, bytes)):
        rle = _rle(segmentation, h, w)
        _check_counts(rle, what)
        return _counts(rle)
    if isinstance(segmentation, dict):
        if "counts" not in segmentation or "size" not in segmentation:
            raise ValueError(f"{what}: an RLE mask needs 'size' and 'counts'")
        size = [int(s) for s in segmentation["size"]]
        if size != [h, w]:
            raise ValueError(f"{what}: RLE size {size} (h, w) disagrees with its image ({h}, {w})")
        counts = segmentation["counts"]
        if isinstance(counts, (list, tuple, np.ndarray)):
            if sum(int(c) for c in counts) != h * w:
                raise ValueError(f"{what}: uncompressed RLE counts do not sum to {h}×{w} pixels")
            return _counts(api.frPyObjects({"size": size, "counts": list(counts)}, h, w))
        rle = _rle(counts, h, w)
        _check_counts(rle, what)
        return _counts(rle)
    if hasattr(segmentation, "detach"):  # a torch tensor
        segmentation = segmentation.detach().cpu().numpy()
    if isinstance(segmentation, np.ndarray) and segmentation.ndim >= 2:
        return _counts(_array_rle(segmentation, h, w, what))
    if isinstance(segmentation, (list, tuple)):
        parts = [list(p) for p in segmentation if len(p)]
        if not parts or not all(isinstance(p, list) for p in parts):
            raise ValueError(f"{what}: a polygon mask is a list of [x0, y0, x1, y1, ...] parts")
        for p in parts:
            if len(p) < 6 or len(p) % 2:
                raise ValueError(
                    f"{what}: a polygon part needs at least 3 (x, y) points, got {len(p)} numbers"
                )
            xy = np.asarray(p, dtype=float).reshape(-1, 2)
            if not np.all(np.isfinite(xy)):
                raise ValueError(f"{what}: polygon has NaN or infinite coordinates")
        return _counts(api.merge(api.frPyObjects([[float(x) for x in p] for p in parts], h, w)))
    raise TypeError(
        f"{what}: unsupported mask {type(segmentation).__name__}; give a COCO polygon list, "
        "an RLE dict, a counts string or an H×W array"
    )


def _check_counts(rle: dict[str, Any], what: str) -> None:
    """A compressed RLE whose runs do not cover exactly its image is refused (pycocotools would
    decode it into garbage or crash)."""
    h, w = rle["size"]
    if not counts_ok([_counts(rle)], np.array([h * w]))[0]:
        raise ValueError(
            f"{what}: RLE counts do not cover its {h}×{w} image (corrupt or wrong size)"
        )


def decode(counts: str, height: int, width: int) -> np.ndarray:
    """The H×W boolean mask of a counts string."""
    with warnings.catch_warnings():  # pycocotools' own numpy-2 copy= deprecation
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_api().decode(_rle(counts, height, width)).astype(bool)


def encode(mask: np.ndarray) -> str:
    """The counts string of an H×W boolean mask."""
    return _counts(mask_api().encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8))))


def area(counts: Sequence[str], height: int, width: int) -> np.ndarray:
    """Pixel areas of masks on one image."""
    if not len(counts):
        return np.zeros(0)
    api = mask_api()
    rles = [_rle(c, height, width) for c in counts]
    # pycocotools' numpy-2 build overflows a uint8 from 256 masks per call on
    parts = [api.area(rles[i : i + AREA_CHUNK]) for i in range(0, len(rles), AREA_CHUNK)]
    return np.concatenate([np.atleast_1d(np.asarray(p, dtype=float)) for p in parts])


def bbox(counts: Sequence[str], height: int, width: int) -> np.ndarray:
    """``(n, 4)`` x, y, w, h boxes around masks on one image (pycocotools' ``toBbox``)."""
    if not len(counts):
        return np.zeros((0, 4))
    return np.asarray(mask_api().toBbox([_rle(c, height, width) for c in counts]), dtype=float)


def iou(
    dt: Sequence[str], gt: Sequence[str], height: int, width: int, iscrowd: Sequence[bool]
) -> np.ndarray:
    """``(len(dt), len(gt))`` mask IoU on one image, pycocotools-exact (a crowd region's IoU is
    the intersection over the detection's area)."""
    if not len(dt) or not len(gt):
        return np.zeros((len(dt), len(gt)))
    api = mask_api()
    d = [_rle(c, height, width) for c in dt]
    g = [_rle(c, height, width) for c in gt]
    return np.asarray(api.iou(d, g, [int(bool(c)) for c in iscrowd]), dtype=float).reshape(
        len(dt), len(gt)
    )


def masks_column(objects: pd.DataFrame, samples: pd.DataFrame, what: str = "object") -> pd.Series:
    """``objects[MASK]`` with every entry as a counts string or ``None``; the image sizes come
    from ``samples``. Errors name the object id."""
    col = objects[MASK]
    if not len(col):
        return pd.Series(pd.array([], dtype=object), index=objects.index, name=MASK)
    sizes = samples.reindex(objects["sample_id"])[["height", "width"]].to_numpy()
    values = col.to_numpy(dtype=object)
    is_str = np.fromiter((isinstance(x, str) for x in values), dtype=bool, count=len(values))
    known = np.isfinite(sizes).all(axis=1) & (sizes > 0).all(axis=1)
    fast = np.flatnonzero(is_str & known)
    if len(fast):  # counts strings, the common case: checked all at once
        pixels = (sizes[fast, 0] * sizes[fast, 1]).astype(np.int64)
        ok = counts_ok([values[i] for i in fast], pixels)
        if not ok.all():
            i = fast[np.flatnonzero(~ok)[0]]
            h, w = (int(x) for x in sizes[i])
            raise ValueError(
                f"{what} {v.show(col.index[i])}: RLE counts do not cover its {h}×{w} image "
                "(corrupt or wrong size)"
            )
    out: list[str | None] = list(values)
    for k in np.flatnonzero(~(is_str & known)):
        oid, seg, (h, w) = col.index[k], values[k], sizes[k]
        size = (int(h), int(w)) if _known_size(h, w) else (None, None)
        out[k] = to_rle(seg, size[0], size[1], f"{what} {v.show(oid)}")
    return pd.Series(out, index=objects.index, name=MASK, dtype=object)


def _known_size(h: Any, w: Any) -> bool:
    return bool(np.isfinite(h) and np.isfinite(w) and h > 0 and w > 0)


def object_masks(
    objects: pd.DataFrame, samples: pd.DataFrame, ids: Sequence[Hashable] | None = None
) -> dict[Hashable, np.ndarray]:
    """Decoded boolean masks of objects (all, or ``ids``) that have one, by object id."""
    o = objects if ids is None else objects.loc[list(ids)]
    if MASK not in o.columns:
        return {}
    o = o[o[MASK].notna()]
    sizes = samples.loc[o["sample_id"], ["height", "width"]].to_numpy()
    return {
        oid: decode(c, int(h), int(w))
        for oid, c, (h, w) in zip(o.index, o[MASK], sizes, strict=True)
    }


#: the ``samples.issues`` entry of an image with an empty ground-truth mask
EMPTY_MASK = "empty_mask"


def empty_masks(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Index:
    """Ids of the objects whose mask covers no pixel (their counts string is one run over the
    whole image); the empty string of each image size is computed once."""
    if MASK not in objects.columns or not len(objects):
        return objects.index[:0]
    o = objects[objects[MASK].notna()]
    if not len(o):
        return objects.index[:0]
    sizes = samples.reindex(o["sample_id"])[["height", "width"]].to_numpy()
    empty = {
        (h, w): encode(np.zeros((int(h), int(w)), dtype=bool))
        for h, w in {(float(h), float(w)) for h, w in sizes}
    }
    want = np.array([empty[(float(h), float(w))] for h, w in sizes], dtype=object)
    return o.index[o[MASK].to_numpy(dtype=object) == want]


def flag_empty_masks(objects: pd.DataFrame, samples: pd.DataFrame) -> None:
    """Add :data:`EMPTY_MASK` to ``samples.issues`` (in place) of every image with a
    ground-truth object whose mask is empty: a data issue, not an error (a predicted mask may
    well be empty)."""
    gt = objects[objects["source"] == "gt"]
    ids = empty_masks(gt, samples)
    if not len(ids):
        return
    for sid in pd.unique(gt.loc[ids, "sample_id"]):
        old = [i for i in str(samples.at[sid, "issues"]).split(",") if i]
        if EMPTY_MASK not in old:
            samples.at[sid, "issues"] = ",".join([*old, EMPTY_MASK])
