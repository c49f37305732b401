"""Built-in mask metrics: size, fill, boundary complexity and parts of every object's mask.

They are computed for each row of ``objects`` that has a mask (the ``mask`` column, a COCO
compressed RLE over the object's image; see :mod:`nbdiag.core.masks`) -- ground truth and
predictions alike -- and are NaN for the others. On a dataset without a ``mask`` column they
do not apply and add no column.

Definitions (``A`` = the mask's pixel count, ``W`` × ``H`` its image):

- ``mask_area = A``; ``mask_relative_area = A / (W * H)``.
- ``mask_fill = A / (w_m * h_m)`` with ``w_m × h_m`` the mask's own tight bounding box
  (pycocotools' ``toBbox``): 1 for a filled rectangle, π/4 for a disc, low for thin diagonal
  or hollow shapes.
- ``mask_complexity = P² / (4π A)``, the isoperimetric ratio, with ``P`` the length of the
  mask's boundary traced by marching squares at level 0.5 (each 2×2 window of the zero-padded
  mask contributes ``√2/2`` when 1 or 3 of its pixels are set, 1 when 2 side-by-side pixels
  are, ``√2`` when 2 diagonal pixels are): about 1 for a disc, 4/π for a square, large for
  ragged, thin or holed masks (holes add their boundary).
- ``mask_parts``: connected components of the mask (8-connectivity: pixels touching at a
  corner are one part); 0 for an empty mask.
- ``mask_box_iou``: IoU of the mask's tight bounding box with the object's box
  (``x, y, w, h``); low when box and mask disagree.

An empty mask has area 0, ``mask_parts`` 0 and NaN fill, complexity and box IoU.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd

from ._registry import builtin

#: fields of :func:`mask_stats`
STATS = ("area", "image_area", "box_x", "box_y", "box_w", "box_h", "perimeter", "parts")
_EIGHT = np.ones((3, 3), dtype=bool)
_HALF_DIAG = np.sqrt(2.0) / 2.0
#: progress bar from this many masks on
_PROGRESS_FROM = 2000

_memo: dict[str, Any] = {}
_memo_lock = threading.Lock()


def boundary_length(mask: np.ndarray) -> float:
    """Length of the marching-squares contour (level 0.5) around a boolean mask, holes
    included; the mask is zero-padded so a mask touching the image border is closed there."""
    p = np.pad(np.asarray(mask, dtype=bool), 1)
    a, b = p[:-1, :-1], p[:-1, 1:]
    c, d = p[1:, :-1], p[1:, 1:]
    n = a.astype(np.int8) + b + c + d
    odd = int(np.count_nonzero((n == 1) | (n == 3)))
    two = n == 2
    diagonal = int(np.count_nonzero(two & (a == d)))  # a&d or b&c set
    straight = int(np.count_nonzero(two)) - diagonal
    return odd * _HALF_DIAG + straight + diagonal * np.sqrt(2.0)


def _digest(objects: pd.DataFrame, samples: pd.DataFrame) -> str:
    h = hashlib.blake2b(digest_size=16)
    frame = objects[["sample_id", "mask"]].astype(object)
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    sizes = samples[["height", "width"]].apply(pd.to_numeric, errors="coerce")
    h.update(pd.util.hash_pandas_object(sizes, index=True).to_numpy().tobytes())
    return h.hexdigest()


def mask_stats(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame | None:
    """Per-object mask measurements (``area``, ``image_area``, ``box_x``, ``box_y``,
    ``box_w``, ``box_h`` of the tight box, ``perimeter``, ``parts``), NaN for objects without a mask; ``None`` when the
    objects have no ``mask`` column. The last result is memoised (every mask metric reads it)."""
    if "mask" not in objects.columns:
        return None
    key = _digest(objects, samples)
    with _memo_lock:
        if _memo.get("key") == key:
            return _memo["frame"]
    frame = _compute(objects, samples)
    with _memo_lock:
        _memo.update(key=key, frame=frame)
    return frame


def _compute(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    from scipy import ndimage
    from tqdm.auto import tqdm

    from ..core import masks as M

    n = len(objects)
    out = {f: np.full(n, np.nan) for f in STATS}
    has = objects["mask"].notna().to_numpy()
    if not has.any():
        return pd.DataFrame(out, index=objects.index)
    sizes = samples[["height", "width"]].apply(pd.to_numeric, errors="coerce")
    hw = sizes.reindex(objects["sample_id"]).to_numpy(dtype=float)
    known = has & np.isfinite(hw).all(axis=1) & (hw > 0).all(axis=1)
    pos = np.flatnonzero(known)
    bar = tqdm(
        total=len(pos),
        desc="mask metrics",
        unit="mask",
        leave=False,
        disable=len(pos) < _PROGRESS_FROM,
    )
    try:
        groups = pd.Series(pos).groupby([hw[pos, 0], hw[pos, 1]], sort=False)
        for (h, w), rows in groups:
            rows = rows.to_numpy()
            h, w = int(h), int(w)
            counts = [_as_counts(objects.index[i], objects["mask"].iat[i], h, w) for i in rows]
            area = M.area(counts, h, w)
            box = M.bbox(counts, h, w)
            out["area"][rows] = area
            out["image_area"][rows] = float(h * w)
            out["box_x"][rows] = box[:, 0]
            out["box_y"][rows] = box[:, 1]
            out["box_w"][rows] = box[:, 2]
            out["box_h"][rows] = box[:, 3]
            for j, i in enumerate(rows):
                if area[j] == 0:
                    out["parts"][i] = 0.0
                    continue
                x0, y0, bw, bh = (int(round(v)) for v in box[j])
                crop = M.decode(counts[j], h, w)[y0 : y0 + bh, x0 : x0 + bw]
                out["perimeter"][i] = boundary_length(crop)
                out["parts"][i] = float(ndimage.label(crop, structure=_EIGHT)[1])
            bar.update(len(rows))
    finally:
        bar.close()
    return pd.DataFrame(out, index=objects.index)


def _as_counts(oid: Hashable, value: Any, h: int, w: int) -> str:
    if isinstance(value, str):
        return value
    from ..core import masks as M

    counts = M.to_rle(value, h, w, f"object {oid!r}")
    if counts is None:  # pragma: no cover - notna() rows only
        raise ValueError(f"object {oid!r}: empty mask value")
    return counts


def _column(objects: pd.DataFrame, values: Any) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=objects.index)


@builtin("object", "mask_area")
def _mask_area(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Series | None:
    """Mask area in pixels (NaN for an object without a mask)."""
    s = mask_stats(objects, samples)
    return None if s is None else _column(objects, s["area"])


@builtin("object", "mask_relative_area")
def _mask_relative_area(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Series | None:
    """Share of the image the mask covers, ``mask pixels / (W * H)``."""
    s = mask_stats(objects, samples)
    return None if s is None else _column(objects, s["area"] / s["image_area"])


@builtin("object", "mask_fill")
def _mask_fill(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Series | None:
    """Share of the mask's tight bounding box the mask fills, ``A / (w_m * h_m)``: 1 for a
    rectangle, π/4 for a disc (NaN for an empty mask)."""
    s = mask_stats(objects, samples)
    if s is None:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        box = (s["box_w"] * s["box_h"]).to_numpy()
        return _column(objects, np.where(box > 0, s["area"].to_numpy() / box, np.nan))


@builtin("object", "mask_complexity")
def _mask_complexity(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Series | None:
    """Boundary complexity ``P² / (4π A)`` with ``P`` the marching-squares boundary length
    (holes included): about 1 for a disc, 4/π for a square, large for ragged or holed masks."""
    s = mask_stats(objects, samples)
    if s is None:
        return None
    a = s["area"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = s["perimeter"].to_numpy() ** 2 / (4 * np.pi * a)
    return _column(objects, np.where(a > 0, ratio, np.nan))


@builtin("object", "mask_parts")
def _mask_parts(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Series | None:
    """Number of connected parts of the mask (8-connectivity; 0 for an empty mask)."""
    s = mask_stats(objects, samples)
    return None if s is None else _column(objects, s["parts"])


@builtin("object", "mask_box_iou")
def _mask_box_iou(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Series | None:
    """IoU of the mask's tight bounding box with the object's box: low when the box and the
    mask disagree (NaN for an empty mask)."""
    s = mask_stats(objects, samples)
    if s is None:
        return None
    mx, my, mw, mh = (s[c].to_numpy() for c in ("box_x", "box_y", "box_w", "box_h"))
    x, y, w, h = (objects[c].to_numpy(dtype=float) for c in ("x", "y", "w", "h"))
    iw = np.clip(np.minimum(x + w, mx + mw) - np.maximum(x, mx), 0.0, None)
    ih = np.clip(np.minimum(y + h, my + mh) - np.maximum(y, my), 0.0, None)
    inter = iw * ih
    union = w * h + mw * mh - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where((union > 0) & (s["area"].to_numpy() > 0), inter / union, np.nan)
    return _column(objects, iou)
