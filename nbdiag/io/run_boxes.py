"""Detection predictions in any common box convention -> the boxes frame ``ds.add_run`` takes.

nbdiag keeps boxes as ``x, y, w, h`` in pixels with a top-left origin (COCO's convention).
Models and tools use others; this module converts them:

- :func:`detections_to_frame` — torchvision-style outputs, one dict per image with ``boxes``
  ``(N, 4)``, ``labels`` ``(N,)`` and ``scores`` ``(N,)`` (torch tensors, numpy arrays or lists;
  Hugging Face ``post_process_object_detection`` gives the same keys), and Mask R-CNN's
  ``masks`` ``(N, 1, H, W)`` probabilities;
- :func:`boxes_to_xywh` — a DataFrame with one box per row in a named convention;
- :func:`to_xywh` — the conversion itself, on an ``(N, 4)`` array.

The conventions (:data:`BOX_FORMATS`; aliases in :data:`BOX_FORMAT_ALIASES`):

========== ============================================ =======================================
name       the four numbers                             frame columns (either set)
========== ============================================ =======================================
xywh       left, top, width, height (pixels; COCO)      x,y,w,h / x,y,width,height
xyxy       left, top, right, bottom (pixels; VOC,       x1,y1,x2,y2 / xmin,ymin,xmax,ymax
           torchvision)
cxcywh     centre x, centre y, width, height (pixels)   cx,cy,w,h / x_center,y_center,width,height
xywhn      as xywh, divided by the image width/height   as xywh
xyxyn      as xyxy, divided by the image width/height   as xyxy
cxcywhn    as cxcywh, divided by the image size (YOLO)  as cxcywh
========== ============================================ =======================================

Normalised forms are scaled by each sample's ``width`` / ``height`` from ``ds.samples``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core import masks as m
from ..core import validation as v

if TYPE_CHECKING:
    from ..core import DatasetCore

#: the box conventions, by canonical name
BOX_FORMATS = ("xywh", "xyxy", "cxcywh", "xywhn", "xyxyn", "cxcywhn")
#: other names accepted for them
BOX_FORMAT_ALIASES = {
    "coco": "xywh",
    "xyxy_abs": "xyxy",
    "pascal_voc": "xyxy",
    "voc": "xyxy",
    "yolo": "cxcywhn",
}
#: the frame columns :func:`boxes_to_xywh` accepts per convention (normalised: as unnormalised)
BOX_COLUMNS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "xywh": (("x", "y", "w", "h"), ("x", "y", "width", "height")),
    "xyxy": (("x1", "y1", "x2", "y2"), ("xmin", "ymin", "xmax", "ymax")),
    "cxcywh": (("cx", "cy", "w", "h"), ("x_center", "y_center", "width", "height")),
}


def box_format_name(box_format: str) -> str:
    """The canonical name of ``box_format`` (one of :data:`BOX_FORMATS`) or a ValueError."""
    name = BOX_FORMAT_ALIASES.get(box_format, box_format) if isinstance(box_format, str) else None
    if name not in BOX_FORMATS:
        known = list(BOX_FORMATS) + list(BOX_FORMAT_ALIASES)
        raise ValueError(f"unknown box format {box_format!r}; use one of {known}")
    return name


def is_normalised(box_format: str) -> bool:
    """Whether ``box_format`` gives coordinates divided by the image size."""
    return box_format_name(box_format).endswith("n")


def to_xywh(
    values: np.ndarray,
    box_format: str,
    width: np.ndarray | float | None = None,
    height: np.ndarray | float | None = None,
) -> np.ndarray:
    """Boxes ``(N, 4)`` in ``box_format`` as ``x, y, w, h`` pixels (a new float array).

    Parameters
    ----------
    values
        One box per row, in the order the convention names them.
    box_format
        One of :data:`BOX_FORMATS` or an alias (``"coco"``, ``"pascal_voc"``, ``"yolo"``).
    width, height
        Image size per box (or one for all); needed by the normalised forms only. NaN sizes
        give NaN boxes.
    """
    fmt = box_format_name(box_format)
    b = np.array(values, dtype=float).reshape(-1, 4)
    if fmt.endswith("n"):
        if width is None or height is None:
            raise ValueError(f"box format {box_format!r} is normalised: it needs the image sizes")
        w = np.broadcast_to(np.asarray(width, dtype=float), (len(b),))
        h = np.broadcast_to(np.asarray(height, dtype=float), (len(b),))
        b[:, 0] *= w
        b[:, 2] *= w
        b[:, 1] *= h
        b[:, 3] *= h
        fmt = fmt[:-1]
    with np.errstate(invalid="ignore"):  # inf - inf: a NaN box, which callers report
        if fmt == "xyxy":
            b[:, 2] -= b[:, 0]
            b[:, 3] -= b[:, 1]
        elif fmt == "cxcywh":
            b[:, 0] -= b[:, 2] / 2
            b[:, 1] -= b[:, 3] / 2
    return b


def boxes_to_xywh(frame: pd.DataFrame, ds: DatasetCore, *, box_format: str) -> pd.DataFrame:
    """A frame of boxes in ``box_format`` as the ``x, y, w, h`` pixel frame ``ds.add_run`` takes.

    Parameters
    ----------
    frame
        One box per row: ``sample_id``, ``label`` (class name or index into
        ``ds.class_names``), usually ``score``, and the box columns of the convention (see the
        module docstring: e.g. ``x1, y1, x2, y2`` or ``xmin, ymin, xmax, ymax`` for ``"xyxy"``).
        Other columns are kept.
    ds
        The dataset the boxes belong to (sample ids are checked; normalised forms read each
        sample's ``width`` / ``height``).
    box_format
        The convention of the box columns, one of :data:`BOX_FORMATS` or an alias.

    Returns
    -------
    pandas.DataFrame
        ``frame`` with the box columns replaced by ``x, y, w, h`` (pixels, top-left origin).

    Raises ``ValueError`` naming the missing columns, or the rows (index labels) with an
    unknown sample id, a NaN / non-numeric coordinate or score, an unknown image size
    (normalised forms), or a negative width / height after conversion.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"boxes must be a pandas DataFrame, got {type(frame).__name__}")
    fmt = box_format_name(box_format)
    options = BOX_COLUMNS[fmt[:-1] if fmt.endswith("n") else fmt]
    cols = next((c for c in options if set(c) <= set(frame.columns)), None)
    missing = [c for c in ("sample_id", "label") if c not in frame.columns]
    if cols is None or missing:
        want = " or ".join(", ".join(c) for c in options)
        raise ValueError(
            f"boxes in {box_format!r} need the columns sample_id, label and {want}; "
            f"the frame has {list(frame.columns)}"
        )
    known = frame["sample_id"].isin(ds.samples.index).to_numpy()
    if not known.all():
        rows = frame.index[~known]
        ids = frame["sample_id"][~known].unique()
        raise ValueError(
            f"boxes of unknown samples in rows {v.listed(rows)} (sample ids {v.listed(ids)})"
        )
    values = frame[list(cols)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise ValueError(
            f"NaN, infinite or non-numeric box coordinates ({', '.join(cols)}) in rows "
            f"{v.listed(frame.index[bad])}"
        )
    if "score" in frame.columns:
        score = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(score)
        if bad.any():
            raise ValueError(f"NaN or non-numeric score in rows {v.listed(frame.index[bad])}")
    width = height = None
    if fmt.endswith("n"):
        width, height = _sizes(ds, frame["sample_id"], lambda k: f"row {v.show(frame.index[k])}")
    xywh = to_xywh(values, fmt, width, height)
    _check_sizes(xywh, fmt, lambda k: f"row {v.show(frame.index[k])}")
    out = frame.drop(columns=list(cols))
    at = list(out.columns).index("label") + 1
    for k, col in enumerate(("x", "y", "w", "h")):
        if col in out.columns:
            out = out.drop(columns=[col])
        out.insert(min(at + k, len(out.columns)), col, xywh[:, k])
    return out


def detections_to_frame(
    predictions: Sequence[Mapping[str, Any]] | Mapping[Hashable, Mapping[str, Any]],
    ds: DatasetCore,
    *,
    box_format: str = "xyxy",
    sample_ids: Sequence[Hashable] | None = None,
    label_offset: int = 0,
) -> pd.DataFrame:
    """torchvision-style detections as the boxes frame ``ds.add_run`` takes.

    Parameters
    ----------
    predictions
        One dict per image with ``boxes`` ``(N, 4)``, ``labels`` ``(N,)`` and ``scores``
        ``(N,)`` — torch tensors (converted with ``.detach().cpu().numpy()``; torch itself is
        not imported), numpy arrays or lists — in the order of ``ds.samples`` or of
        ``sample_ids``; or a dict ``{sample_id: detection dict}``. Instance segmentation
        models add ``masks``: ``(N, 1, H, W)`` (torchvision's Mask R-CNN) or ``(N, H, W)``
        probabilities (thresholded at 0.5) or booleans over the image, which become the
        ``mask`` column (COCO compressed RLE; :mod:`nbdiag.core.masks`).
    ds
        The dataset the predictions are for.
    box_format
        The convention of ``boxes`` (:data:`BOX_FORMATS`); torchvision and Hugging Face
        ``post_process_object_detection`` give ``"xyxy"`` pixels (the default).
    sample_ids
        The sample of each item of ``predictions`` (default: every sample, in order).
    label_offset
        Subtracted from integer labels before they index ``ds.class_names``: ``1`` for
        torchvision detection models, whose class 0 is the background. String labels are class
        names.

    Returns
    -------
    pandas.DataFrame
        ``sample_id, label, x, y, w, h, score``: one row per box, pixels, top-left origin;
        and ``mask`` when any item has ``masks``.

    Raises ``ValueError`` naming the list position, sample id and box index for a malformed
    item (not a dict, missing key, wrong shape, lengths that differ, NaN, unknown class), and
    when the list's length is not the number of samples.
    """
    if isinstance(predictions, Mapping):
        if sample_ids is not None:
            raise ValueError("pass sample_ids only with a list of predictions, not a dict")
        sample_ids = list(predictions)
        items = list(predictions.values())
    else:
        items = list(predictions)
    ids = list(ds.samples.index) if sample_ids is None else list(sample_ids)
    if sample_ids is not None:
        v.check_unique_ids(ids, "sample (in sample_ids)")
        v.check_known_ids(ids, ds.samples.index, "sample (in sample_ids)")
    if len(items) != len(ids):
        of = "samples in the dataset" if sample_ids is None else "sample_ids"
        raise ValueError(f"got {len(items)} predictions for {len(ids)} {of}")
    fmt = box_format_name(box_format)
    parts = [_one_detection(item, i, ids[i]) for i, item in enumerate(items)]
    n = np.array([len(p[1]) for p in parts], dtype=np.int64)
    owner = np.repeat(np.arange(len(items)), n)
    index = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)

    def where(k: int) -> str:
        i = int(owner[k])
        return f"predictions[{i}] (sample {v.show(ids[i])}) box {int(index[k])}"

    boxes = np.concatenate([p[0] for p in parts]) if parts else np.empty((0, 4))
    scores = np.concatenate([p[2] for p in parts]) if parts else np.empty(0)
    labels = _labels([p[1] for p in parts], ds.class_names, label_offset, where)
    sample_id = pd.Series(ids, dtype=object).to_numpy()[owner] if len(owner) else []
    width = height = None
    if fmt.endswith("n"):
        width, height = _sizes(ds, pd.Series(sample_id, dtype=object), where)
    xywh = to_xywh(boxes, fmt, width, height)
    _check_sizes(xywh, fmt, where)
    frame = pd.DataFrame(
        {
            "sample_id": pd.Series(sample_id, dtype=object),
            "label": pd.Series(labels, dtype=object),
            "x": xywh[:, 0],
            "y": xywh[:, 1],
            "w": xywh[:, 2],
            "h": xywh[:, 3],
            "score": scores.astype(float),
        }
    )
    if any(isinstance(item, Mapping) and item.get("masks") is not None for item in items):
        masks = [
            _masks(item, len(p[1]), ds, ids[i], f"predictions[{i}] (sample {v.show(ids[i])})")
            for i, (item, p) in enumerate(zip(items, parts, strict=True))
        ]
        frame[m.MASK] = pd.Series([c for one in masks for c in one], dtype=object)
    return frame


def _masks(item: Mapping[str, Any], n: int, ds: DatasetCore, sid: Hashable, where: str) -> list:
    """The ``n`` masks of one item as counts strings (None for all when it has no ``masks``)."""
    if item.get("masks") is None:
        return [None] * n
    arr = as_numpy(item["masks"])
    if arr.ndim == 4 and arr.shape[1] == 1:  # torchvision's (N, 1, H, W)
        arr = arr[:, 0]
    if arr.size == 0 and n == 0:
        return []
    if arr.ndim != 3 or len(arr) != n:
        raise ValueError(
            f"{where}: masks must have shape (N, 1, H, W) or (N, H, W) with N = {n} boxes, "
            f"got {arr.shape}"
        )
    h, w = ds.samples.loc[sid, ["height", "width"]]
    size = (h, w) if np.isfinite(h) and np.isfinite(w) else (None, None)
    return [m.to_rle(arr[j], size[0], size[1], f"{where} mask {j}") for j in range(n)]


# ---------------------------------------------------------------------- helpers
def as_numpy(value: Any) -> np.ndarray:
    """A tensor (torch: ``.detach().cpu().numpy()``; anything with ``.numpy()``), array or list
    as a numpy array, without importing the tensor library."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "cpu"):
        value = value.cpu()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value)


def _one_detection(item: Any, i: int, sid: Hashable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(boxes (N, 4) float, labels (N,), scores (N,) float) of one item, checked."""
    where = f"predictions[{i}] (sample {v.show(sid)})"
    if not isinstance(item, Mapping):
        raise ValueError(
            f"{where} is a {type(item).__name__}, not a dict with boxes, labels and scores"
        )
    missing = [k for k in ("boxes", "labels", "scores") if k not in item]
    if missing:
        raise ValueError(f"{where} has no {missing} (it has {sorted(map(str, item))})")
    try:
        boxes = as_numpy(item["boxes"]).astype(float)
        scores = as_numpy(item["scores"]).astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: boxes and scores must be numbers ({exc})") from exc
    labels = as_numpy(item["labels"])
    if boxes.size == 0 and boxes.ndim <= 2:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{where}: boxes must have shape (N, 4), got {boxes.shape}")
    if labels.ndim != 1 or scores.ndim != 1:
        raise ValueError(
            f"{where}: labels and scores must be 1-D, got shapes {labels.shape} and {scores.shape}"
        )
    if not len(boxes) == len(labels) == len(scores):
        raise ValueError(
            f"{where}: {len(boxes)} boxes, {len(labels)} labels and {len(scores)} scores "
            "(they must match)"
        )
    bad = ~np.isfinite(boxes).all(axis=1)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{where} box {j}: NaN or infinite coordinates {boxes[j].tolist()}")
    bad = ~np.isfinite(scores)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{where} box {j}: NaN or infinite score {scores[j]}")
    return boxes, labels, scores


def _labels(
    per_item: list[np.ndarray], class_names: list[str], offset: int, where: Any
) -> np.ndarray:
    """Class names of every box: integer labels (minus ``offset``) index ``class_names``;
    strings must be class names. Vectorised; ``where(k)`` names box ``k`` in errors."""
    names = np.asarray(class_names, dtype=object)
    kinds = {a.dtype.kind for a in per_item if len(a)}
    if not kinds:
        return np.empty(0, dtype=object)
    if kinds <= {"i", "u", "f"}:
        values = np.concatenate([a.astype(float) for a in per_item])
        return names[_indices(values, len(names), offset, where)]
    flat = np.concatenate([np.asarray(a, dtype=object) for a in per_item])
    out = np.empty(len(flat), dtype=object)
    text = np.array([isinstance(x, (str, np.str_)) for x in flat], dtype=bool)
    number = np.array(
        [
            isinstance(x, (int, float, np.number)) and not isinstance(x, (bool, np.bool_))
            for x in flat
        ],
        dtype=bool,
    )
    if not (text | number).all():
        k = int(np.flatnonzero(~(text | number))[0])
        raise ValueError(f"{where(k)}: label {flat[k]!r} is neither a class name nor an index")
    unknown = text & ~pd.Index(flat.astype(str)).isin(class_names)
    if unknown.any():
        k = int(np.flatnonzero(unknown)[0])
        raise ValueError(f"{where(k)}: unknown class {flat[k]!r}; classes are {class_names}")
    out[text] = flat[text].astype(str)
    at = np.flatnonzero(number)
    out[at] = names[_indices(flat[at].astype(float), len(names), offset, lambda k: where(at[k]))]
    return out


def _indices(values: np.ndarray, n: int, offset: int, where: Any) -> np.ndarray:
    """Integer class labels minus ``offset``, checked to index ``n`` classes."""
    whole = np.isfinite(values) & (values == np.round(values))
    if not whole.all():
        k = int(np.flatnonzero(~whole)[0])
        raise ValueError(f"{where(k)}: label {float(values[k]):g} is not a whole class index")
    index = values.astype(np.int64) - offset
    bad = (index < 0) | (index >= n)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        shift = f" - label_offset {offset} = {index[k]}" if offset else ""
        hint = (
            "; torchvision detection models count the background as 0: pass label_offset=1"
            if offset == 0 and index[k] == n
            else ""
        )
        raise ValueError(
            f"{where(k)}: class index {int(values[k])}{shift} is not in 0..{n - 1} "
            f"({n} classes){hint}"
        )
    return index


def _sizes(ds: DatasetCore, sample_id: pd.Series, where: Any) -> tuple[np.ndarray, np.ndarray]:
    """Width and height of each box's sample; a ValueError naming a box whose size is unknown."""
    sizes = ds.samples[["width", "height"]].reindex(pd.Index(sample_id, dtype=object))
    width = sizes["width"].to_numpy(dtype=float)
    height = sizes["height"].to_numpy(dtype=float)
    bad = ~(np.isfinite(width) & np.isfinite(height))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{where(k)}: normalised boxes need the image size, and sample "
            f"{v.show(sample_id.iloc[k])} has none (width/height NaN in ds.samples)"
        )
    return width, height


def _check_sizes(xywh: np.ndarray, fmt: str, where: Any) -> None:
    bad = (xywh[:, 2] < 0) | (xywh[:, 3] < 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{where(k)}: negative width or height after reading the box as {fmt!r} "
            f"(x={xywh[k, 0]:g} y={xywh[k, 1]:g} w={xywh[k, 2]:g} h={xywh[k, 3]:g}); "
            "is box_format right?"
        )
