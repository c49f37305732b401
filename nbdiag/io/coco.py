"""COCO instances JSON (ground truth) and COCO result lists (predictions)."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core import masks as m
from ..core import new_dataset
from ..core import validation as v
from ._coco_masks import mask_geometry, result_masks, want_masks, with_masks
from ._probe import AUTO_HEADER_LIMIT, probe_mode, probe_samples

if TYPE_CHECKING:
    from ..core import DatasetCore

__all__ = ["AUTO_HEADER_LIMIT", "coco_results_to_frame", "from_coco"]
_IMAGE_KEYS_READ = ("id", "file_name", "width", "height")
_RESULT_KEYS = ("image_id", "category_id", "bbox", "score")


def from_coco(
    gt: str | os.PathLike[str] | Mapping[str, Any],
    images: str | os.PathLike[str] | None = None,
    predictions: Any = None,
    *,
    name: str | None = None,
    check_images: bool | str = "auto",
    progress: bool | None = None,
    masks: bool | None = None,
) -> DatasetCore:
    """Build a :class:`~nbdiag.Dataset` from a COCO instances (detection) annotation file.

    Parameters
    ----------
    gt
        Path to the JSON file, or the already-loaded dict.
    images
        Folder that the images' ``file_name`` are relative to (default: the JSON file's folder;
        the working directory when ``gt`` is a dict). Images without a ``file_name`` have no
        ``path`` (boxes and evaluation work; pictures do not).
    predictions
        Detections to attach as runs: a COCO results file (path; the run is named after the
        file's stem), a list of result dicts (run ``"predictions"``), or ``{run_name: path or
        list}`` for several models.
    name
        Display name (default: the JSON file's stem, or ``"coco"``).
    check_images
        How the image files are checked: ``"header"`` reads each file's header (size,
        readability; well under a millisecond per file), ``"decode"`` decodes every image (also
        catches truncated files, slow for large sets), ``"exists"`` only checks that files
        exist, ``False`` does not look at the files. ``"auto"`` (default) reads headers up to
        :data:`AUTO_HEADER_LIMIT` images and only checks existence beyond. Problems go to
        ``samples.issues`` (``missing_file``, ``corrupt_image``, ``truncated_image``, and
        ``size_mismatch`` when a file's displayed size differs from the JSON's width/height).
        Width and height come from the JSON; from the file only when the JSON lacks them.
    progress
        Show a progress bar while checking files (default: from 200 files on).
    masks
        Read each annotation's ``segmentation`` (polygons with one or more parts, uncompressed
        RLE as crowd regions use, compressed RLE) into ``objects["mask"]`` (COCO compressed RLE
        counts strings; see :mod:`nbdiag.core.masks`). ``None`` (default): when pycocotools
        (the ``masks`` extra) is installed, else with one warning that they were skipped;
        ``True``: required (ImportError naming the extra without it); ``False``: never. An
        annotation whose segmentation cannot be read (a degenerate polygon, an RLE whose size
        is not its image's) keeps its box without a mask, and its image gets the
        ``invalid_mask`` issue (``samples.issues``) with the reason in
        ``samples.annotation_problems``. An annotation without ``area`` gets its mask's area.

    Sample ids are the COCO image ids and object ids the annotation ids; ``bbox`` becomes
    ``x, y, w, h``; an annotation's ``annotator`` (or ``attributes.annotator``) becomes the
    object's ``annotator`` column, an image's extra keys (``annotator`` too) sample columns; ``iscrowd`` and ``area`` are kept (COCO evaluation uses the annotation's
    ``area``, not the box's, for its small/medium/large ranges). :attr:`Dataset.class_names` are
    the category names in category-id order and ``ds.coco_categories`` maps id to name.

    Raises ``ValueError`` naming the offending item for duplicate ids, annotations of unknown
    images or categories, boxes with a negative size or outside their image, and results with a
    missing score or unknown image or category.
    """
    data, source = _load_json(gt, "gt")
    if not isinstance(data, Mapping):
        raise ValueError(
            f"a COCO annotation file must hold a JSON object, got {type(data).__name__}"
        )
    for key in ("images", "categories"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"COCO annotations need an {key!r} list (in {source})")
    if images is not None:
        folder = Path(os.path.expanduser(os.fspath(images)))
    elif isinstance(gt, (str, os.PathLike)):
        folder = Path(os.fspath(gt)).parent
    else:
        folder = Path.cwd()
    folder = Path(os.path.abspath(folder))

    categories = _categories(data["categories"])
    samples = _images_frame(data["images"], folder)
    objects = _annotations_frame(data.get("annotations") or [], samples, categories)
    if len(objects):  # against the JSON's sizes, before the (slower) look at the files
        v.check_boxes(objects, samples[["width", "height"]], what="annotation")

    mode = probe_mode(check_images, len(samples))
    samples = probe_samples(samples, mode, progress, desc="checking COCO images")
    has_file = samples["path"].notna().to_numpy()
    if mode != "none" and has_file.any() and (samples["issues"][has_file] == "missing_file").all():
        warnings.warn(
            f"none of the {int(has_file.sum())} COCO images were found under "
            f"{os.fspath(folder)!r}; "
            "they are marked 'missing_file' in samples.issues (pass images= the image folder)",
            stacklevel=2,
        )
    if name is None:
        name = Path(os.fspath(gt)).stem if isinstance(gt, (str, os.PathLike)) else "coco"
    if want_masks(data.get("annotations") or [], masks):
        objects = with_masks(data.get("annotations") or [], objects, samples)
    ds = new_dataset(samples, objects, class_names=list(categories.values()), name=name)
    ds.coco_categories = dict(categories)
    for run_name, results in _prediction_sets(predictions).items():
        ds.add_run(run_name, coco_results_to_frame(results, ds))
    return ds


def coco_results_to_frame(
    results: Sequence[Mapping[str, Any]] | str | os.PathLike[str], ds: DatasetCore
) -> pd.DataFrame:
    """COCO detection results (``image_id``, ``category_id``, ``bbox``, ``score`` dicts, or a
    path to such a JSON list) as a boxes frame for :meth:`Dataset.add_run`: columns
    ``sample_id, label, x, y, w, h, score, area`` (``area = w * h``), one row per result in
    order.

    Results with a ``segmentation`` (instance segmentation: compressed RLE, as Mask R-CNN
    results are written, or polygons) add a ``mask`` column; their ``area`` is the mask area and
    a result without ``bbox`` gets the mask's bounding box (as pycocotools' ``loadRes``).

    The dataset must come from COCO (its ``coco_categories`` map category ids to classes).
    """
    results, source = _load_json(results, "predictions")
    if not isinstance(results, list):
        raise ValueError(
            f"COCO results must be a list of dicts with {list(_RESULT_KEYS)}, "
            f"got {type(results).__name__} (in {source})"
        )
    if not ds.coco_categories:
        raise ValueError(
            "this dataset was not loaded from COCO, so COCO category ids cannot be mapped to "
            "classes; set ds.coco_categories = {category_id: class_name} first"
        )
    for i, r in enumerate(results):
        if not isinstance(r, Mapping):
            raise ValueError(f"COCO result {i} is a {type(r).__name__}, not a dict (in {source})")
        missing = [
            k for k in _RESULT_KEYS if k not in r and not (k == "bbox" and "segmentation" in r)
        ]
        if missing:
            raise ValueError(f"COCO result {i} has no {missing} (in {source})")
    n = len(results)
    pos = pd.RangeIndex(n)
    image_id = pd.Series([r["image_id"] for r in results], index=pos, dtype=object)
    category_id = pd.Series([r["category_id"] for r in results], index=pos, dtype=object)
    segs = result_masks(results, image_id, ds, source)
    boxes = _bbox_array(
        [r["bbox"] if "bbox" in r else [0.0, 0.0, 0.0, 0.0] for r in results],
        "COCO result",
        pos,
        source,
    )
    score = pd.to_numeric(pd.Series([r["score"] for r in results], index=pos), errors="coerce")

    bad = ~np.isfinite(score.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"COCO results with a NaN, infinite or non-numeric score: {v.listed(pos[bad])} "
            f"(e.g. result {i} for image_id {v.show(image_id[i])} has score "
            f"{results[i]['score']!r})"
        )
    _check_refs(image_id, ds.samples.index, "COCO result", "image id", source)
    cats = pd.Index(list(ds.coco_categories))
    _check_refs(category_id, cats, "COCO result", "category id", source)
    neg = (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
    if neg.any():
        raise ValueError(
            f"negative width or height in the bbox of COCO results {v.listed(pos[neg])}"
        )
    labels = category_id.map(ds.coco_categories)
    area = boxes[:, 2] * boxes[:, 3]
    if segs is not None:  # mask area, and the mask's box where the result has none
        no_box = np.array(["bbox" not in r for r in results], dtype=bool)
        mask_geometry(segs, image_id, ds.samples, area, boxes, no_box)
    frame = pd.DataFrame(
        {
            "sample_id": image_id.to_numpy(),
            "label": labels.to_numpy(),
            "x": boxes[:, 0],
            "y": boxes[:, 1],
            "w": boxes[:, 2],
            "h": boxes[:, 3],
            "score": score.to_numpy(dtype=float),
            "area": area,
        }
    )
    if segs is not None:
        frame[m.MASK] = segs.to_numpy(dtype=object)
    return frame


# ---------------------------------------------------------------------- helpers
def _load_json(obj: Any, what: str) -> tuple[Any, str]:
    """``(data, description of where it came from)`` from a path or already-loaded data."""
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{what} file {path!r} does not exist")
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f), repr(path)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{what} file {path!r} is not valid JSON: {exc}") from exc
    return obj, f"the given {what}"


def _categories(cats: list[Any]) -> dict[int, str]:
    for i, c in enumerate(cats):
        if not isinstance(c, Mapping) or "id" not in c or "name" not in c:
            raise ValueError(f"COCO category {i} needs an 'id' and a 'name', got {c!r}")
    ids = [c["id"] for c in cats]
    v.check_unique_ids(ids, "COCO category")
    names = pd.Index([str(c["name"]) for c in cats])
    if names.duplicated().any():
        dup = names[names.duplicated()].unique().tolist()
        raise ValueError(f"COCO categories with the same name: {dup}")
    return {c["id"]: str(c["name"]) for c in sorted(cats, key=lambda c: c["id"])}


def _images_frame(images: list[Any], folder: Path) -> pd.DataFrame:
    for i, im in enumerate(images):
        if not isinstance(im, Mapping) or "id" not in im:
            raise ValueError(f"COCO image {i} needs an 'id', got {im!r}")
    ids = [im["id"] for im in images]
    v.check_unique_ids(ids, "COCO image")
    root = os.fspath(folder)
    frame = pd.DataFrame(
        {
            "path": [_join(root, im.get("file_name")) for im in images],
            "file_name": [im.get("file_name") for im in images],
            "width": [im.get("width", np.nan) for im in images],
            "height": [im.get("height", np.nan) for im in images],
        },
        index=pd.Index(ids, name="id"),
    )
    extra = sorted({k for im in images for k in im} - set(_IMAGE_KEYS_READ) - set(frame))
    for key in extra:
        frame[key] = [_scalar(im.get(key)) for im in images]
    for col in ("width", "height"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


def _join(root: str, file_name: Any) -> str | None:
    return None if file_name is None else os.path.join(root, os.fspath(file_name))


def _scalar(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _annotations_frame(
    anns: list[Any], samples: pd.DataFrame, categories: dict[int, str]
) -> pd.DataFrame:
    for i, a in enumerate(anns):
        if not isinstance(a, Mapping):
            raise ValueError(f"COCO annotation {i} is a {type(a).__name__}, not a dict")
        missing = [k for k in ("image_id", "category_id", "bbox") if k not in a]
        if missing:
            raise ValueError(f"COCO annotation {a.get('id', f'at position {i}')} has no {missing}")
    with_id = sum("id" in a for a in anns)
    if with_id == 0:
        ids: list[Any] = list(range(1, len(anns) + 1))  # what pycocotools' loadRes assigns
    elif with_id < len(anns):
        i = next(i for i, a in enumerate(anns) if "id" not in a)
        raise ValueError(f"COCO annotation at position {i} has no 'id' (others do)")
    else:
        ids = [a["id"] for a in anns]
    v.check_unique_ids(ids, "COCO annotation")
    index = pd.Index(ids, name="object_id")
    image_id = pd.Series([a["image_id"] for a in anns], index=index, dtype=object)
    category_id = pd.Series([a["category_id"] for a in anns], index=index, dtype=object)
    _check_refs(image_id, samples.index, "COCO annotation", "image id")
    _check_refs(category_id, pd.Index(list(categories)), "COCO annotation", "category id")
    boxes = _bbox_array([a["bbox"] for a in anns], "COCO annotation", index)
    area = [a.get("area", np.nan) for a in anns]
    frame = pd.DataFrame(
        {
            "sample_id": image_id.to_numpy(),
            "label": category_id.map(categories).to_numpy(),
            "x": boxes[:, 0],
            "y": boxes[:, 1],
            "w": boxes[:, 2],
            "h": boxes[:, 3],
            "iscrowd": [bool(a.get("iscrowd", 0)) for a in anns],
            "area": pd.to_numeric(pd.Series(area), errors="coerce").to_numpy(dtype=float),
        },
        index=index,
    )
    no_area = ~np.isfinite(frame["area"].to_numpy())
    frame.loc[no_area, "area"] = boxes[no_area, 2] * boxes[no_area, 3]
    annotators = [_annotator(a) for a in anns]
    if any(x is not None for x in annotators):
        frame["annotator"] = pd.Series(annotators, index=index, dtype=object)
    return frame


def _annotator(ann: Mapping[str, Any]) -> str | None:
    """Who drew an annotation: its ``annotator`` key, or ``attributes.annotator`` (where CVAT's
    and other tools' COCO exports keep per-object attributes)."""
    value = ann.get("annotator")
    attrs = ann.get("attributes")
    if value is None and isinstance(attrs, Mapping):
        value = attrs.get("annotator")
    return None if value is None or value == "" else str(value)


def _bbox_array(
    bboxes: list[Any], what: str, index: pd.Index, source: str | None = None
) -> np.ndarray:
    """An (n, 4) float array of ``[x, y, w, h]``, or an error naming the first malformed bbox."""
    where = f" (in {source})" if source else ""
    try:
        arr = np.array(bboxes, dtype=float)
        ok = len(bboxes) == 0 or (arr.ndim == 2 and arr.shape[1] == 4)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        for i, b in enumerate(bboxes):
            try:
                good = len(b) == 4 and np.isfinite(np.asarray(b, dtype=float)).all()
            except (TypeError, ValueError):
                good = False
            if not good:
                raise ValueError(
                    f"{what} {v.show(index[i])} has a malformed bbox {b!r}; "
                    f"expected [x, y, w, h]{where}"
                )
        raise ValueError(f"malformed bboxes in {what}s{where}")
    arr = arr.reshape(-1, 4)
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise ValueError(f"non-finite bbox coordinates for {what}s {v.listed(index[bad])}{where}")
    neg = (arr[:, 2] < 0) | (arr[:, 3] < 0)
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise ValueError(
            f"negative width or height for {what}s {v.listed(index[neg])}{where}; e.g. "
            f"{what} {v.show(index[i])} has bbox {bboxes[i]!r} "
            "(COCO boxes are [x, y, width, height])"
        )
    return arr


def _check_refs(
    values: pd.Series, known: pd.Index, what: str, ref: str, source: str | None = None
) -> None:
    """Every value must be in ``known``; name the items that refer to unknown ones."""
    bad = ~pd.Index(values.to_numpy()).isin(known)
    if bad.any():
        offenders = values[bad]
        examples = ", ".join(
            f"{what} {v.show(i)} -> {ref} {v.show(val)}" for i, val in offenders.head(5).items()
        )
        more = f" (and {len(offenders) - 5} more)" if len(offenders) > 5 else ""
        where = f" (in {source})" if source else ""
        raise ValueError(f"unknown {ref}s: {examples}{more}{where}")


def _prediction_sets(predictions: Any) -> dict[str, Any]:
    """``{run_name: path or list of results}`` from the forms ``from_coco`` accepts."""
    if predictions is None:
        return {}
    if isinstance(predictions, (str, os.PathLike)):
        return {Path(os.fspath(predictions)).stem: predictions}
    if isinstance(predictions, list):
        return {"predictions": predictions}
    if isinstance(predictions, Mapping):
        if "image_id" in predictions:
            raise ValueError("predictions look like one COCO result; pass a list of them")
        for run_name, value in predictions.items():
            if not isinstance(value, (str, os.PathLike, list)):
                raise ValueError(
                    f"predictions[{run_name!r}] must be a COCO results path or list, "
                    f"got {type(value).__name__}"
                )
        return {str(k): val for k, val in predictions.items()}
    raise TypeError(
        "predictions must be a COCO results path, a list of result dicts, or "
        f"{{run_name: path or list}}; got {type(predictions).__name__}"
    )
