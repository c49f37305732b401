"""Built-in object (box / label) metrics, vectorised over the whole ``objects`` table.

Boxes are ``x, y, w, h`` in pixels (top-left origin); ``W``, ``H`` are the size of the box's
image from ``samples``. Every metric is computed for ground-truth and predicted boxes alike;
"same image" comparisons stay within one ``source`` (ground truth with ground truth, a run's
boxes with that run's boxes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._registry import builtin


def _image_size(objects: pd.DataFrame, samples: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    w = pd.to_numeric(samples["width"], errors="coerce").reindex(objects["sample_id"]).to_numpy()
    h = pd.to_numeric(samples["height"], errors="coerce").reindex(objects["sample_id"]).to_numpy()
    return w.astype(float), h.astype(float)


@builtin("object", "box_area")
def _box_area(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Series:
    """Box area in pixels, ``w * h``."""
    return objects["w"] * objects["h"]


@builtin("object", "relative_area")
def _relative_area(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Series:
    """Share of the image the box covers, ``(w * h) / (W * H)`` (NaN when the image size is
    unknown)."""
    iw, ih = _image_size(objects, samples)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (objects["w"] * objects["h"]) / (iw * ih)


@builtin("object", "box_aspect_ratio")
def _box_aspect_ratio(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Series:
    """Box aspect ratio ``w / h`` (NaN for a zero-height box)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (objects["w"] / objects["h"]).replace([np.inf, -np.inf], np.nan)


@builtin("object", "border_closeness")
def _border_closeness(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Series:
    """How close the box comes to the image border, in [0, 1]: ``1 - 2 * min(x / W, y / H,
    (W - x - w) / W, (H - y - h) / H)``, clipped; 1 when it touches a border, 0 when it is
    centred in the image with no room left (a box in the middle of a large image is near 1
    only if it reaches an edge)."""
    iw, ih = _image_size(objects, samples)
    x, y, w, h = (objects[c].to_numpy(dtype=float) for c in ("x", "y", "w", "h"))
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.minimum.reduce([x / iw, y / ih, (iw - x - w) / iw, (ih - y - h) / ih])
    return pd.Series(np.clip(1.0 - 2.0 * gap, 0.0, 1.0), index=objects.index)


@builtin("object", "boxes_per_image")
def _boxes_per_image(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Series:
    """Number of boxes of the same source in the box's image."""
    keys = [objects["sample_id"], objects["source"]]
    return objects.groupby(keys, sort=False, observed=True)["w"].transform("size").astype(float)


@builtin("object", "max_iou")
def _max_iou(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Series:
    """Largest IoU (intersection over union) with another box of the same image and source;
    near 1 means a duplicated annotation. 0 for a box alone in its image."""
    if not len(objects):
        return pd.Series(dtype=float)
    o = objects[["sample_id", "source", "x", "y", "w", "h"]].copy()
    o["_row"] = np.arange(len(o))
    o["_g"] = pd.factorize(pd.MultiIndex.from_frame(o[["sample_id", "source"]].astype(str)))[0]
    pairs = o.merge(o, on="_g", suffixes=("", "_b"))
    pairs = pairs[pairs["_row"] != pairs["_row_b"]]
    out = np.zeros(len(o))
    if len(pairs):
        x1 = np.maximum(pairs["x"].to_numpy(), pairs["x_b"].to_numpy())
        y1 = np.maximum(pairs["y"].to_numpy(), pairs["y_b"].to_numpy())
        x2 = np.minimum(
            (pairs["x"] + pairs["w"]).to_numpy(), (pairs["x_b"] + pairs["w_b"]).to_numpy()
        )
        y2 = np.minimum(
            (pairs["y"] + pairs["h"]).to_numpy(), (pairs["y_b"] + pairs["h_b"]).to_numpy()
        )
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        union = (
            (pairs["w"] * pairs["h"]).to_numpy() + (pairs["w_b"] * pairs["h_b"]).to_numpy() - inter
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = np.where(union > 0, inter / union, 0.0)
        np.maximum.at(out, pairs["_row"].to_numpy(), iou)
    return pd.Series(out, index=objects.index)


@builtin("object", "class_frequency")
def _class_frequency(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Series:
    """Share of the boxes of the same source that have this box's class (rare classes are
    near 0)."""
    label = objects["label"].astype(object)
    counts = objects.groupby([objects["source"], label], observed=True, dropna=False)["w"]
    per_class = counts.transform("size").astype(float)
    per_source = objects.groupby("source", observed=True)["w"].transform("size").astype(float)
    return per_class / per_source


@builtin("object", "shape_outlier")
def _shape_outlier(objects: pd.DataFrame, samples: pd.DataFrame) -> pd.Series:
    """How unusual the box's shape is for its class: with ``u = log(w / W)`` and
    ``v = log(h / H)``, the larger of the robust z-scores ``|u - median| / (1.4826 MAD)`` and
    the same for ``v``, medians and MADs taken over the class's boxes of the same source
    (MAD floored at 0.05). Above ~3.5 is an outlier (Iglewicz & Hoaglin)."""
    iw, ih = _image_size(objects, samples)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = pd.Series(np.log(objects["w"].to_numpy(float) / iw), index=objects.index)
        v = pd.Series(np.log(objects["h"].to_numpy(float) / ih), index=objects.index)
    u = u.replace([np.inf, -np.inf], np.nan)
    v = v.replace([np.inf, -np.inf], np.nan)
    keys = [objects["source"], objects["label"].astype(object)]
    out = []
    for s in (u, v):
        g = s.groupby(keys, observed=True, dropna=False)
        med = g.transform("median")
        mad = (s - med).abs().groupby(keys, observed=True, dropna=False).transform("median")
        out.append((s - med).abs() / (1.4826 * mad.clip(lower=0.05)))
    return np.maximum(out[0], out[1])


# mask metrics (mask_area, mask_fill, mask_complexity, ...) register after the box metrics
from . import _builtin_mask  # noqa: E402, F401
