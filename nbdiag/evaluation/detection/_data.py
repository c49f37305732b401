"""Inputs of a detection evaluation, validated at the boundary and flattened to numpy arrays.

Two front doors produce the same :class:`Problem`: COCO files (``problem_from_coco``) and
nbdiag objects tables (``problem_from_frames``). Every error names the offending item.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import _segm

MAX_LISTED = 5


def listed(items: Sequence[Any]) -> str:
    items = list(items)
    shown = ", ".join(repr(i) for i in items[:MAX_LISTED])
    more = f" (and {len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
    return shown + more


@dataclass(frozen=True)
class Boxes:
    """Flat arrays describing ground-truth or predicted boxes, in input order."""

    ids: np.ndarray  # object ids (any hashable), as given
    image: np.ndarray  # int64 index into Problem.image_ids
    label: np.ndarray  # int64 index into Problem.class_names
    xywh: np.ndarray  # (n, 4) float64
    area: np.ndarray  # float64: the annotation's "area" (GT) or w * h (predictions)
    crowd: np.ndarray  # bool (always False for predictions)
    score: np.ndarray  # float64 (NaN for ground truth)
    #: bool: ground truth flagged "ignore" (e.g. VOC's difficult objects); None: none is
    ignore: np.ndarray | None = None
    #: COCO compressed-RLE counts strings (``iou_type="segm"``); None for a box evaluation
    mask: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Problem:
    """What is evaluated: images and classes (from the ground truth), GT and predictions."""

    image_ids: np.ndarray  # object array, evaluation order (sorted like pycocotools when possible)
    class_names: list[str]
    gt: Boxes
    dt: Boxes
    category_ids: list[Any] | None = None  # COCO category ids, in class order
    ignore: str | None = None  # the ground truth's column / key flagging ignored boxes
    iou_type: str = "bbox"  # "bbox": box IoU; "segm": mask IoU and mask areas (pycocotools')
    image_sizes: np.ndarray | None = None  # (n_images, 2) height, width ("segm")


# ---------------------------------------------------------------------------- shared checks
def _check_boxes(xywh: np.ndarray, ids: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(xywh).all(axis=1)
    if bad.any():
        raise ValueError(f"non-finite box coordinates for {what} {listed(ids[bad])}")
    neg = (xywh[:, 2] < 0) | (xywh[:, 3] < 0)
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise ValueError(
            f"negative width or height for {what} {listed(ids[neg])}; e.g. {ids[i]!r} has "
            f"w={xywh[i, 2]:g}, h={xywh[i, 3]:g}"
        )


def _check_scores(score: np.ndarray, ids: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(score)
    if bad.any():
        raise ValueError(f"NaN or infinite score for {what} {listed(ids[bad])}")


def ignore_flags(values: Sequence[Any], ids: np.ndarray, what: str) -> np.ndarray:
    """``values`` of an ignore column / key as booleans (missing: False), or ValueError naming
    the objects whose value is not a boolean (True/False, 0/1)."""
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr.reshape(len(ids))
    out = np.zeros(len(ids), dtype=bool)
    bad = []
    for i, x in enumerate(values):
        if x is None or (isinstance(x, float | np.floating) and np.isnan(x)) or x is pd.NA:
            continue
        if isinstance(x, bool | np.bool_) or (
            isinstance(x, int | np.integer | float | np.floating) and x in (0, 1)
        ):
            out[i] = bool(x)
        else:
            bad.append(i)
    if bad:
        raise ValueError(
            f"{what} {listed(ids[bad])} have a non-boolean value: "
            f"{listed([values[i] for i in bad])} (expected True/False or 1/0)"
        )
    return out


def check_ignore_name(ignore: Any) -> None:
    """TypeError unless ``ignore`` is a column / key name (a string)."""
    if not isinstance(ignore, str):
        raise TypeError(
            f"ignore must be the name of a boolean ground-truth column (e.g. 'difficult') or "
            f"None, got {type(ignore).__name__}"
        )


def _sorted_images(image_ids: Sequence[Hashable] | pd.Index) -> np.ndarray:
    """Image ids in evaluation order: sorted (as pycocotools does) when they are comparable."""
    index = pd.Index(image_ids)
    if index.hasnans:
        raise ValueError("image ids must not be missing (NaN/None)")
    dup = index[index.duplicated()].unique()
    if len(dup):
        raise ValueError(f"duplicate image ids: {listed(dup)}")
    try:
        index = index.sort_values()
    except TypeError:
        pass  # mixed, unorderable ids: keep the given order
    return np.asarray(index, dtype=object)


def _indexer(values: Sequence[Any], known: Sequence[Any]) -> np.ndarray:
    return pd.Index(list(known), dtype=object).get_indexer(pd.Index(list(values), dtype=object))


# ---------------------------------------------------------------------------- COCO files
def _read_json(obj: Any, what: str) -> Any:
    if isinstance(obj, str | os.PathLike):
        with open(obj, encoding="utf-8") as f:
            return json.load(f)
    return obj


def _field(
    items: Sequence[Mapping[str, Any]], key: str, where: str, default: Any = KeyError
) -> list[Any]:
    try:
        if default is KeyError:
            return [a[key] for a in items]
        return [a.get(key, default) for a in items]
    except KeyError:
        bad = [i for i, a in enumerate(items) if key not in a]
        raise ValueError(f"{where}[{bad[0]}] has no {key!r} (nor {len(bad) - 1} more)") from None
    except (TypeError, AttributeError):
        bad = [i for i, a in enumerate(items) if not isinstance(a, Mapping)]
        raise ValueError(f"{where}[{bad[0]}] is not an object/dict: {items[bad[0]]!r}") from None


def _bboxes(items: Sequence[Mapping[str, Any]], where: str) -> np.ndarray:
    raw = _field(items, "bbox", where)
    try:
        xywh = np.array(raw, dtype=np.float64).reshape(len(raw), 4) if raw else np.zeros((0, 4))
    except (ValueError, TypeError):
        for i, b in enumerate(raw):
            try:
                ok = len(b) == 4 and np.isfinite(np.asarray(b, dtype=float)).size == 4
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(
                    f"{where}[{i}] has a bbox that is not [x, y, w, h]: {b!r}"
                ) from None
        raise
    return xywh


def problem_from_coco(
    gt: Any, dt: Any, ignore: str | None = None, iou_type: str = "bbox"
) -> Problem:
    """Validate a COCO instances dict (or JSON path) and a COCO results list (or JSON path).

    Images and categories come from the ground truth, as in pycocotools. Prediction ids are the
    1-based positions in the results list (what pycocotools' ``loadRes`` assigns). ``ignore``
    names a boolean annotation key flagging ground truth to ignore (absent: False). With
    ``iou_type="segm"`` every annotation and result needs a ``segmentation`` (see
    :mod:`._segm` for the areas and boxes, as ``loadRes`` sets them).
    """
    iou_type = _segm.check_iou_type(iou_type)
    gt = _read_json(gt, "gt")
    dt = _read_json(dt, "dt")
    if not isinstance(gt, Mapping):
        raise TypeError(
            f"gt must be a COCO instances dict or a path to one, got {type(gt).__name__}"
        )
    if not isinstance(dt, list | tuple):
        raise TypeError(
            f"dt must be a COCO results list (or a path to one), got {type(dt).__name__}"
        )
    images = gt.get("images")
    if images is None:
        raise ValueError("the ground truth has no 'images' list")
    categories = gt.get("categories")
    if categories is None:
        raise ValueError("the ground truth has no 'categories' list")
    anns = gt.get("annotations", [])

    image_ids = _sorted_images(_field(images, "id", "images"))
    cat_ids_given = _field(categories, "id", "categories")
    if len(set(cat_ids_given)) != len(cat_ids_given):
        dup = pd.Index(cat_ids_given)[pd.Index(cat_ids_given).duplicated()].unique()
        raise ValueError(f"duplicate category ids in the ground truth: {listed(dup)}")
    by_id = {c["id"]: c for c in categories}
    cat_ids = sorted(by_id)
    names = [str(by_id[c].get("name", c)) for c in cat_ids]
    if len(set(names)) != len(names):  # keep names unique: they index every table
        counts = pd.Index(names).value_counts()
        names = [f"{n} ({c})" if counts[n] > 1 else n for n, c in zip(names, cat_ids, strict=True)]

    # ground truth
    gt_ids = np.asarray(_field(anns, "id", "annotations") if anns else [], dtype=object)
    dup = pd.Index(gt_ids)[pd.Index(gt_ids).duplicated()].unique()
    if len(dup):
        raise ValueError(f"duplicate annotation ids in the ground truth: {listed(dup)}")
    gt_img = _indexer(_field(anns, "image_id", "annotations"), image_ids)
    gt_cat = _indexer(_field(anns, "category_id", "annotations"), cat_ids)
    for arr, key, known in ((gt_img, "image_id", "images"), (gt_cat, "category_id", "categories")):
        if (arr < 0).any():
            bad = np.flatnonzero(arr < 0)
            raise ValueError(
                f"ground-truth annotations {listed(gt_ids[bad])} have a {key} that is not in the "
                f"ground truth's {known}: {listed([anns[i][key] for i in bad])}"
            )
    gt_xywh = _bboxes(anns, "annotations")
    _check_boxes(gt_xywh, gt_ids, "ground-truth annotations")
    area_raw = _field(anns, "area", "annotations", default=None)
    area = np.array([np.nan if a is None else a for a in area_raw], dtype=np.float64)
    sizes = gt_masks = dt_masks = None
    if iou_type == "segm":
        sizes = _segm.coco_sizes(images, image_ids)
        gt_masks = _segm.masks_of_coco(anns, gt_img, sizes, "annotations")
        area = np.where(np.isnan(area), _segm.areas(gt_masks, gt_img, sizes), area)
    area = np.where(np.isnan(area), gt_xywh[:, 2] * gt_xywh[:, 3], area)
    crowd = np.array(_field(anns, "iscrowd", "annotations", default=0), dtype=bool)
    flags = None
    if ignore is not None:
        check_ignore_name(ignore)
        raw = _field(anns, ignore, "annotations", default=None)
        flags = ignore_flags(raw, gt_ids, f"ground-truth annotations' {ignore!r}:")
    gt_boxes = Boxes(
        gt_ids, gt_img.astype(np.int64), gt_cat.astype(np.int64), gt_xywh, area, crowd,
        np.full(len(gt_ids), np.nan), flags, gt_masks,
    )  # fmt: skip

    # detections
    dt_ids = np.arange(1, len(dt) + 1, dtype=np.int64).astype(object)
    dt_img = _indexer(_field(dt, "image_id", "results"), image_ids)
    dt_cat = _indexer(_field(dt, "category_id", "results"), cat_ids)
    for arr, key, known in ((dt_img, "image_id", "images"), (dt_cat, "category_id", "categories")):
        if (arr < 0).any():
            bad = np.flatnonzero(arr < 0)
            raise ValueError(
                f"detections {listed([f'results[{i}]' for i in bad])} have a {key} that is not in "
                f"the ground truth's {known}: {listed([dt[i][key] for i in bad])}"
            )
    if iou_type == "segm":
        dt_xywh, dt_area, dt_masks = _segm.result_geometry(
            dt, dt_img, sizes, lambda: _bboxes(dt, "results")
        )
    else:
        dt_xywh = _bboxes(dt, "results")
        dt_area = dt_xywh[:, 2] * dt_xywh[:, 3]
    labels = np.array([f"results[{i}]" for i in range(len(dt))], dtype=object)
    _check_boxes(dt_xywh, labels, "detections")
    try:
        score = np.array(_field(dt, "score", "results"), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ValueError) and "has no" in str(exc):
            raise
        bad = [i for i, d in enumerate(dt) if not isinstance(d["score"], int | float)]
        raise ValueError(
            f"results[{bad[0]}] has a non-numeric score: {dt[bad[0]]['score']!r}"
        ) from None
    _check_scores(score, labels, "detections")
    dt_boxes = Boxes(
        dt_ids, dt_img.astype(np.int64), dt_cat.astype(np.int64), dt_xywh, dt_area,
        np.zeros(len(dt), dtype=bool), score, None, dt_masks,
    )  # fmt: skip
    return Problem(image_ids, names, gt_boxes, dt_boxes, list(cat_ids), ignore, iou_type, sizes)


# ---------------------------------------------------------------------------- DataFrames
_BOX_COLUMNS = ("sample_id", "label", "x", "y", "w", "h")


def _frame_boxes(
    frame: pd.DataFrame,
    image_ids: np.ndarray,
    class_values: Sequence[Any],
    what: str,
    *,
    predictions: bool,
    sizes: np.ndarray | None = None,
    check_masks: bool = True,
) -> Boxes:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    need = set(_BOX_COLUMNS) | ({"score"} if predictions else set())
    missing = sorted(need - set(frame.columns))
    if missing:
        raise ValueError(f"{what} table is missing columns: {missing}")
    ids = np.asarray(frame.index, dtype=object)
    dup = frame.index[frame.index.duplicated()].unique()
    if len(dup):
        raise ValueError(f"duplicate object ids in {what}: {listed(dup)}")
    img = _indexer(frame["sample_id"].astype(object), image_ids)
    if (img < 0).any():
        bad = img < 0
        raise ValueError(
            f"{what} {listed(ids[bad])} have a sample_id that is not an evaluated image: "
            f"{listed(frame['sample_id'].to_numpy()[bad])}"
        )
    labels = frame["label"].astype(object)
    cat = _indexer(labels, class_values)
    if (cat < 0).any():
        bad = cat < 0
        raise ValueError(
            f"{what} {listed(ids[bad])} have an unknown class: "
            f"{listed(labels.to_numpy()[bad])}; classes are {list(class_values)[:20]}"
        )
    xywh = frame[["x", "y", "w", "h"]].to_numpy(dtype=np.float64)
    _check_boxes(xywh, ids, what)
    wh = xywh[:, 2] * xywh[:, 3]
    if predictions:
        score = frame["score"].to_numpy(dtype=np.float64, na_value=np.nan)
        _check_scores(score, ids, what)
        area, crowd = wh, np.zeros(len(frame), dtype=bool)
    else:
        score = np.full(len(frame), np.nan)
        area = wh
        if "area" in frame.columns:
            given = frame["area"].to_numpy(dtype=np.float64, na_value=np.nan)
            area = np.where(np.isnan(given), wh, given)
        crowd = (
            frame["iscrowd"].fillna(False).to_numpy(dtype=bool)
            if "iscrowd" in frame.columns
            else np.zeros(len(frame), dtype=bool)
        )
    masks = None
    if sizes is not None:  # a mask evaluation: mask areas (the GT's given area first)
        masks = _segm.masks_of_frame(frame, img, sizes, what, check=check_masks)
        mask_area = _segm.areas(masks, img, sizes)
        given = np.full(len(frame), np.nan)
        if not predictions and "area" in frame.columns:
            given = frame["area"].to_numpy(dtype=np.float64, na_value=np.nan)
        area = np.where(np.isnan(given), mask_area, given)
    return Boxes(
        ids, img.astype(np.int64), cat.astype(np.int64), xywh, area, crowd, score, None, masks
    )


def problem_from_frames(
    gt_boxes: pd.DataFrame,
    pred_boxes: pd.DataFrame,
    image_ids: Sequence[Hashable] | pd.Index,
    class_names: Sequence[Any],
    ignore: str | None = None,
    iou_type: str = "bbox",
    image_sizes: pd.DataFrame | None = None,
    check_masks: bool = True,
) -> Problem:
    """Validate nbdiag objects-table frames (ground truth and one run's predictions).

    ``ignore`` names a boolean column of ``gt_boxes`` flagging ground truth to ignore
    (missing values: False). ``iou_type="segm"`` reads both frames' ``mask`` column, on the
    images of ``image_sizes`` (``height``, ``width`` by image id); ``check_masks=False``
    trusts counts strings (a dataset's, validated when added)."""
    iou_type = _segm.check_iou_type(iou_type)
    images = _sorted_images(image_ids)
    sizes = _segm.frame_sizes(image_sizes, images) if iou_type == "segm" else None
    class_values = list(class_names)
    if len(set(class_values)) != len(class_values):
        raise ValueError(
            f"duplicate class names: {listed(pd.Index(class_values)[pd.Index(class_values).duplicated()])}"
        )
    opts = {"sizes": sizes, "check_masks": check_masks}
    gt = _frame_boxes(
        gt_boxes, images, class_values, "ground-truth boxes", predictions=False, **opts
    )
    dt = _frame_boxes(pred_boxes, images, class_values, "predicted boxes", predictions=True, **opts)
    if ignore is not None:
        check_ignore_name(ignore)
        if ignore not in gt_boxes.columns:
            raise ValueError(
                f"ignore={ignore!r}: the ground-truth boxes have no such column; columns are "
                f"{[str(c) for c in gt_boxes.columns]}"
            )
        what = f"ground-truth boxes' {ignore!r}:"
        flags = ignore_flags(gt_boxes[ignore].to_numpy(), gt.ids, what)
        gt = dataclasses.replace(gt, ignore=flags)
    return Problem(images, [str(c) for c in class_values], gt, dt, None, ignore, iou_type, sizes)
