"""Export samples for relabelling: COCO, CSV or Parquet, with image paths, current labels or
boxes, tags, and optionally a run's predictions as pre-labels (model-assisted labelling).

The files round-trip: :func:`nbdiag.io.relabel.import_labels` reads them back after an
annotator corrected them. Ids survive as ``nbdiag_id`` fields (COCO) or id columns (CSV,
Parquet); images are also recognised by file name when a labelling tool dropped those fields.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core import validation as v
from ..core._tables import path_list
from ..core.masks import MASK
from ..core.masks import area as mask_area
from ..core.runs import ClassificationRun, DetectionRun
from ..store._atomic import atomic_write_text, atomic_write_with
from ..store._codec import native
from .formats import EXTENSIONS, FOLDER_FORMATS, WRITERS

if TYPE_CHECKING:
    from ..core import DatasetCore

FORMATS = ("coco", "csv", "parquet", *WRITERS)
_EXT = {"coco": ".json", "csv": ".csv", "parquet": ".parquet", **EXTENSIONS}
IMAGE_MODES = ("auto", "reference", "copy")


def export(
    ds: DatasetCore,
    items: Any = None,
    *,
    format: str = "coco",
    path: str | os.PathLike[str] | None = None,
    predictions: str | None = None,
    min_score: float = 0.0,
    include_labels: bool = True,
    images: str = "auto",
) -> Path:
    """Write samples, their image paths and their current labels for an annotation tool.

    Parameters
    ----------
    ds
        The dataset.
    items
        What to export: sample ids, a boolean mask, or a DataFrame of samples (e.g.
        ``ds.tagged("label_error")``, a widget's ``selected``, ``ds.slice(name)``). Objects
        (ids or a frame of ``ds.objects``) export the samples that hold them. Default: all.
    format
        ``"coco"`` (detection: a COCO instances JSON), ``"csv"`` or ``"parquet"`` (one row
        per sample for classification; one row per box for detection, with a box-less row for
        samples without boxes); ``"yolo"`` (an Ultralytics dataset folder), ``"voc"`` (a Pascal
        VOC folder), ``"labelstudio"`` (tasks to import into Label Studio, with a labelling
        config) or ``"cvat"`` (CVAT for images 1.1 XML). ``docs/formats.md`` says what maps to
        what.
    path
        Output file, or folder for ``"yolo"`` and ``"voc"`` (default
        ``<dataset name>_export.<ext>``, or ``<dataset name>_<format>/``, in the working
        directory).
    predictions
        A run whose predictions are added as pre-labels: for COCO, annotations with a
        ``score`` and ``"nbdiag_prelabel": run``; for CSV/Parquet, rows with ``source`` =
        run and a ``score`` (detection) or ``prediction`` / ``confidence`` columns
        (classification). Re-import ignores pre-labels unless told otherwise, so an
        unedited export re-imports without changes.
    min_score
        Pre-labels scoring below it are left out.
    include_labels
        ``False`` exports pre-labels only (labelling new data with a model's help).
    images
        ``"reference"``: point at the images' files; ``"copy"``: copy every image into a
        ``<stem>_images/`` folder next to ``path``; ``"auto"`` (default): reference files and
        write in-memory images (arrays, torch datasets) into that folder as PNG.

    Returns
    -------
    pathlib.Path
        The file written (atomically).

    Raises ``ValueError`` naming the offending ids or arguments (unknown ids, a COCO export of
    a dataset without boxes, samples without an image file with ``images="reference"``).

    Examples
    --------
    >>> ds.export(ds.tagged("label_error"), format="csv", path="to_fix.csv")  # doctest: +SKIP
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got {format!r}")
    if images not in IMAGE_MODES:
        raise ValueError(f"images must be one of {list(IMAGE_MODES)}, got {images!r}")
    sample_ids = _sample_ids(ds, items)
    run = None
    if predictions is not None:
        run = ds._get_run(predictions)
    detection = ds.task == "detection" or isinstance(run, DetectionRun)
    if format == "coco" and not detection:
        raise ValueError(
            "COCO export needs boxes, and this dataset has none (a classification dataset); "
            "export it with format='csv' or format='parquet'"
        )
    if path is None:
        stem = re.sub(r"[^\w.-]+", "_", ds.name).strip("_") or "dataset"
        path = Path(
            f"{stem}_{format}" if format in FOLDER_FORMATS else f"{stem}_export{_EXT[format]}"
        )
    path = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
    if format in FOLDER_FORMATS:  # the writer links or copies the images into its folder
        paths = path_list(ds.samples.loc[sample_ids])
        files = {
            i: None if p is None else os.path.abspath(p)
            for i, p in zip(sample_ids, paths, strict=True)
        }
        return WRITERS[format](ds, sample_ids, files, run, min_score, include_labels, path)
    if path.is_dir():
        raise ValueError(f"path must be a file, but {os.fspath(path)!r} is a folder")
    files = _image_files(ds, sample_ids, path, images)
    if format in WRITERS:
        return WRITERS[format](ds, sample_ids, files, run, min_score, include_labels, path)
    if format == "coco":
        assert run is None or isinstance(run, DetectionRun)
        data = _coco(ds, sample_ids, files, run, min_score, include_labels)
        atomic_write_text(path, json.dumps(data, indent=1))
        return path
    if detection:
        table = _box_rows(ds, sample_ids, files, run, min_score, include_labels)
    else:
        table = _sample_rows(ds, sample_ids, files, run, include_labels)
    if format == "csv":
        atomic_write_with(path, lambda tmp: table.to_csv(tmp, index=False))
    else:
        for col in ("id", "sample_id", "object_id"):
            if col in table and pd.api.types.infer_dtype(table[col], skipna=True) not in (
                "integer",
                "string",
            ):
                table[col] = [None if _na(x) else str(x) for x in table[col]]
        atomic_write_with(path, lambda tmp: table.to_parquet(tmp, index=False))
    return path


# ---------------------------------------------------------------------- helpers
def _file_safe(sample_id: Hashable) -> str:
    """A sample id as a short, portable piece of a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(sample_id))[:64] or "_"


def _pixels(sizes: pd.Series) -> pd.array:
    """Image sizes as whole pixels (``Int64``: an unreadable image's size stays empty)."""
    return pd.array(sizes.round().to_numpy(), dtype="Int64")


def _na(x: Any) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x))


def _sample_ids(ds: DatasetCore, items: Any) -> list[Hashable]:
    if items is None:
        return list(ds.samples.index)
    pos, level = ds._positions_from(items, None)
    if level == "object":
        ids = ds.objects["sample_id"].to_numpy(dtype=object)[pos].tolist()
    else:
        ids = ds.samples.index[pos].tolist()
    out = list(dict.fromkeys(ids))
    if not out:
        raise ValueError("nothing to export: the selection is empty")
    return out


def _image_files(
    ds: DatasetCore, sample_ids: list[Hashable], out: Path, mode: str
) -> dict[Hashable, str | None]:
    """Absolute image path of every exported sample (writing copies where asked)."""
    paths = dict(zip(sample_ids, path_list(ds.samples.loc[sample_ids]), strict=True))
    in_memory = getattr(ds, "_images", {}) or {}
    folder = out.parent / f"{out.stem}_images"
    result: dict[Hashable, str | None] = {}
    no_file = [i for i in sample_ids if paths[i] is None and i not in in_memory]
    if mode == "reference":
        missing = [i for i in sample_ids if paths[i] is None]
        if missing:
            raise ValueError(
                f"samples without an image file: {v.listed(missing)}; pass images='auto' "
                "(or 'copy') to write their in-memory images next to the export"
            )
    for k, i in enumerate(sample_ids):
        src = paths[i]
        copy = mode == "copy" or (mode == "auto" and src is None and i in in_memory)
        if not copy:
            result[i] = None if src is None else os.path.abspath(src)
            continue
        folder.mkdir(parents=True, exist_ok=True)
        if src is not None and i not in in_memory:
            target = folder / f"{k:06d}_{Path(src).name}"
            shutil.copy2(src, target)
        else:
            target = folder / f"{k:06d}_{_file_safe(i)}.png"  # the id, for the annotator
            ds.image(i).save(target, format="PNG")
        result[i] = os.fspath(target)
    if no_file:
        result.update({i: None for i in no_file})
    return result


def _image_root(files: dict[Hashable, str | None]) -> str | None:
    present = [p for p in files.values() if p]
    if not present:
        return None
    return os.path.commonpath([os.path.dirname(p) for p in present])


def _int_ids(index: pd.Index) -> bool:
    """Whether ids can serve as COCO (integer) ids as they are."""
    return len(index) == 0 or (
        pd.api.types.is_integer_dtype(index.dtype)
        or all(isinstance(native(x), int) and not isinstance(x, bool) for x in index)
    )


def _tags_of(ds: DatasetCore, level: str) -> dict[Hashable, list[str]]:
    tags = ds._tags[ds._tags["level"] == level]
    out: dict[Hashable, list[str]] = {}
    for i, t in zip(tags["id"], tags["tag"], strict=True):
        out.setdefault(i, []).append(t)
    return out


def _category_ids(ds: DatasetCore) -> dict[str, int]:
    by_name = {name: cid for cid, name in ds.coco_categories.items()}
    if ds.coco_categories and all(c in by_name for c in ds.class_names):
        return {c: int(by_name[c]) for c in ds.class_names}
    return {c: k + 1 for k, c in enumerate(ds.class_names)}


def _size(x: Any) -> int | None:
    return None if _na(x) else int(round(float(x)))


def _coco(
    ds: DatasetCore,
    sample_ids: list[Hashable],
    files: dict[Hashable, str | None],
    run: DetectionRun | None,
    min_score: float,
    include_labels: bool,
) -> dict[str, Any]:
    samples = ds.samples.loc[sample_ids]
    root = _image_root(files)
    keep_ids = _int_ids(samples.index)
    sample_tags = _tags_of(ds, "sample")
    image_id: dict[Hashable, int] = {}
    images = []
    for k, (sid, row) in enumerate(samples.iterrows()):
        iid = int(native(sid)) if keep_ids else k + 1
        image_id[sid] = iid
        file = files.get(sid)
        entry: dict[str, Any] = {
            "id": iid,
            "file_name": None if file is None else os.path.relpath(file, root),
            "nbdiag_id": native(sid),
        }
        for key in ("width", "height"):
            size = _size(row[key])
            if size is not None:
                entry[key] = size
        if sid in sample_tags:
            entry["nbdiag_tags"] = sample_tags[sid]
        images.append(entry)
    cats = _category_ids(ds)
    categories = [{"id": cid, "name": name, "supercategory": ""} for name, cid in cats.items()]
    annotations: list[dict[str, Any]] = []
    object_tags = _tags_of(ds, "object")
    gt = ds.gt_objects
    gt = gt[gt["sample_id"].isin(sample_ids)] if include_labels else gt.iloc[:0]
    keep_ann = _int_ids(ds.gt_objects.index) and len(gt) > 0
    for k, (oid, row) in enumerate(gt.iterrows()):
        annotations.append(
            _annotation(row, int(native(oid)) if keep_ann else k + 1, oid, image_id, cats, samples)
        )
        if oid in object_tags:
            annotations[-1]["nbdiag_tags"] = object_tags[oid]
    if run is not None:
        boxes = ds.run_boxes(run.name)
        boxes = boxes[boxes["sample_id"].isin(sample_ids) & (boxes["score"] >= min_score)]
        next_id = max((a["id"] for a in annotations), default=0) + 1
        for k, (oid, row) in enumerate(boxes.iterrows()):
            ann = _annotation(row, next_id + k, oid, image_id, cats, samples)
            ann["score"] = float(row["score"])
            ann["nbdiag_prelabel"] = run.name
            annotations.append(ann)
    return {
        "info": {
            "description": f"nbdiag export of dataset {ds.name!r}",
            "date_created": pd.Timestamp.now(tz="UTC").isoformat(),
            "nbdiag": {
                "dataset": ds.name,
                "image_root": root,
                "prelabels": None if run is None else run.name,
            },
        },
        "images": images,
        "categories": categories,
        "annotations": annotations,
    }


def _annotation(
    row: pd.Series,
    ann_id: int,
    oid: Hashable,
    image_id: dict[Hashable, int],
    cats: dict[str, int],
    samples: pd.DataFrame,
) -> dict[str, Any]:
    x, y, w, h = (float(row[c]) for c in ("x", "y", "w", "h"))
    counts = row[MASK] if MASK in row.index and isinstance(row[MASK], str) else None
    segmentation = None
    if counts is not None:  # the object's mask, as COCO compressed RLE
        ih, iw = (int(samples.at[row["sample_id"], c]) for c in ("height", "width"))
        segmentation = {"size": [ih, iw], "counts": counts}
    if "area" in row.index and not _na(row["area"]):
        area = float(row["area"])
    elif counts is not None:
        area = float(mask_area([counts], ih, iw)[0])
    else:
        area = w * h
    ann = {
        "id": ann_id,
        "image_id": image_id[row["sample_id"]],
        "category_id": cats[str(row["label"])],
        "bbox": [x, y, w, h],
        "area": area,
        "iscrowd": int(bool(row["iscrowd"])),
        "nbdiag_id": native(oid),
    }
    if segmentation is not None:
        ann["segmentation"] = segmentation
    return ann


def _joined(tags: dict[Hashable, list[str]], ids: list[Hashable]) -> list[str]:
    return [",".join(sorted(tags.get(i, []))) for i in ids]


def _sample_rows(
    ds: DatasetCore,
    sample_ids: list[Hashable],
    files: dict[Hashable, str | None],
    run: Any,
    include_labels: bool,
) -> pd.DataFrame:
    s = ds.samples.loc[sample_ids]
    table = pd.DataFrame(
        {
            "id": [native(i) for i in sample_ids],
            "path": [files.get(i) for i in sample_ids],
            "width": _pixels(s["width"]),
            "height": _pixels(s["height"]),
            "label": s["label"].astype(object).to_numpy() if include_labels else None,
            "split": s["split"].to_numpy(),
            "tags": _joined(_tags_of(ds, "sample"), sample_ids),
        }
    )
    if isinstance(run, ClassificationRun):
        pred = run.predictions.reindex(sample_ids)
        table["prediction"] = pred["prediction"].astype(object).to_numpy()
        table["confidence"] = pred["confidence"].to_numpy()
    return table


BOX_COLUMNS = [
    "object_id",
    "sample_id",
    "path",
    "width",
    "height",
    "label",
    "x",
    "y",
    "w",
    "h",
    "iscrowd",
    "source",
    "score",
    "tags",
]


def _box_rows(
    ds: DatasetCore,
    sample_ids: list[Hashable],
    files: dict[Hashable, str | None],
    run: DetectionRun | None,
    min_score: float,
    include_labels: bool,
) -> pd.DataFrame:
    o = ds.objects
    parts = []
    if include_labels:
        parts.append(ds.gt_objects[ds.gt_objects["sample_id"].isin(sample_ids)])
    if run is not None:
        b = ds.run_boxes(run.name)
        parts.append(b[b["sample_id"].isin(sample_ids) & (b["score"] >= min_score)])
    boxes = pd.concat(parts) if parts else o.iloc[:0]
    object_tags = _tags_of(ds, "object")
    ids = list(boxes.index)
    table = pd.DataFrame(
        {
            "object_id": [native(i) for i in ids],
            "sample_id": [native(i) for i in boxes["sample_id"]],
            "label": boxes["label"].astype(object).to_numpy(),
            "x": boxes["x"].to_numpy(),
            "y": boxes["y"].to_numpy(),
            "w": boxes["w"].to_numpy(),
            "h": boxes["h"].to_numpy(),
            "iscrowd": boxes["iscrowd"].to_numpy(),
            "source": boxes["source"].to_numpy(),
            "score": boxes["score"].to_numpy(),
            "tags": _joined(object_tags, ids),
        }
    )
    have = set(boxes["sample_id"])
    empty = [i for i in sample_ids if i not in have]
    if empty:  # one box-less row per sample without boxes: "this image has none"
        table = pd.concat(
            [table, pd.DataFrame({"sample_id": [native(i) for i in empty], "source": "gt"})],
            ignore_index=True,
        )
    order = {sid: k for k, sid in enumerate(sample_ids)}
    table["_order"] = [order.get(s, len(order)) for s in table["sample_id"]]
    table = table.sort_values("_order", kind="stable").drop(columns="_order")
    sizes = ds.samples[["width", "height"]].reindex(list(table["sample_id"]))
    table["path"] = [files.get(x) for x in table["sample_id"]]
    table["width"] = _pixels(sizes["width"])
    table["height"] = _pixels(sizes["height"])
    table["iscrowd"] = table["iscrowd"].astype("boolean")
    return table[BOX_COLUMNS].reset_index(drop=True)
