"""Writing a selection of a dataset for the annotation tools: Label Studio tasks (JSON, with a
labelling config) and CVAT for images 1.1 XML (with a labels spec). Current labels go as the
tools' annotations, a run's predictions as pre-labels that carry their score; sample and
object ids go where the tool keeps them, so corrected files re-import by id."""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd

from ...core import validation as v
from ...core.images import probe_image
from ...core.runs import ClassificationRun, DetectionRun
from ...store._atomic import atomic_write_text
from ...store._codec import native

if TYPE_CHECKING:
    from ...core import DatasetCore

#: the Label Studio config's control and image names, written into every result
FROM_NAME, TO_NAME = "label", "image"
#: the image URL prefix Label Studio serves local files under
LOCAL_FILES_URL = "/data/local-files/?d="
#: CVAT label attributes nbdiag writes: the object id, and a pre-label's score
CVAT_ATTRIBUTES = ("nbdiag_id", "score")

Box = tuple[Any, str, float, float, float, float, float]  # id, label, x, y, w, h, score


class _Selection:
    """What both writers need: image names under the images' common folder, boxes by sample,
    classification labels and predictions."""

    def __init__(
        self,
        ds: DatasetCore,
        sample_ids: list[Hashable],
        files: dict[Hashable, str | None],
        run: Any,
        min_score: float,
        include_labels: bool,
        tool: str,
    ):
        missing = [s for s in sample_ids if not files.get(s)]
        if missing:
            raise ValueError(
                f"{tool} needs an image file per sample; samples without one: {v.listed(missing)}"
            )
        paths = {s: os.path.abspath(os.fspath(files[s] or "")) for s in sample_ids}
        dirs = [os.path.dirname(p) for p in paths.values()]
        self.root = os.path.commonpath(dirs) if dirs else os.getcwd()
        self.paths = paths
        self.names = {
            s: os.path.relpath(p, self.root).replace(os.sep, "/") for s, p in paths.items()
        }
        self.ds, self.run, self.min_score = ds, run, min_score
        self.detection = ds.task == "detection" or isinstance(run, DetectionRun)
        self.gt: dict[Hashable, list[Box]] = {}
        self.preds: dict[Hashable, list[Box]] = {}
        if include_labels and self.detection:
            self.gt = _by_sample(ds.gt_objects, sample_ids)
        if isinstance(run, DetectionRun):
            b = ds.run_boxes(run.name)
            self.preds = _by_sample(b[(b["score"] >= min_score).to_numpy()], sample_ids)
        labels = ds.samples.loc[sample_ids, "label"].astype(object)
        self.labels = {s: str(x) for s, x in labels.items() if include_labels and not pd.isna(x)}

    def class_prediction(self, sid: Hashable) -> tuple[str, float] | None:
        """A classification run's ``(class, confidence)`` for the sample, when written: its
        confidence reaches ``min_score`` (a NaN confidence only when ``min_score <= 0``)."""
        run = self.run
        if not isinstance(run, ClassificationRun) or sid not in run.predictions.index:
            return None
        label = run.predictions.at[sid, "prediction"]
        conf = float(run.predictions.at[sid, "confidence"])
        keep = conf >= self.min_score if np.isfinite(conf) else self.min_score <= 0
        return (str(label), conf) if keep and not pd.isna(label) else None

    def sizes(self, ids: list[Hashable], required: str | None) -> dict[Hashable, tuple[int, int]]:
        """Whole-pixel image sizes: the dataset's, else the file header's; samples whose size
        stays unknown raise (``required`` says why) or are left out (``required=None``)."""
        table = self.ds.samples.loc[ids, ["width", "height"]].to_numpy(float)
        out, unknown = {}, []
        for sid, (w, h) in zip(ids, table, strict=True):
            if not (np.isfinite(w) and np.isfinite(h) and w > 0 and h > 0):
                info = probe_image(self.paths[sid], decode=False)
                w, h = info.width, info.height
            if np.isfinite(w) and np.isfinite(h) and w > 0 and h > 0:
                out[sid] = (int(round(w)), int(round(h)))
            else:
                unknown.append(sid)
        if unknown and required:
            raise ValueError(
                f"samples whose image size is unknown (their files cannot be "
                f"read): {v.listed(unknown)}; {required}"
            )
        return out


def _by_sample(frame: pd.DataFrame, ids: list[Hashable]) -> dict[Hashable, list[Box]]:
    """``sample id -> [(object id, label, x, y, w, h, score), ...]`` in the frame's order."""
    frame = frame[frame["sample_id"].isin(ids)]
    cols = [frame[c].to_numpy(float) for c in ("x", "y", "w", "h", "score")]
    rows = zip(frame.index, frame["sample_id"], frame["label"].astype(object), *cols, strict=True)
    out: dict[Hashable, list[Box]] = {}
    for oid, sid, label, x, y, w, h, score in rows:
        out.setdefault(sid, []).append((oid, str(label), x, y, w, h, float(score)))
    return out


def json_id(x: Any) -> Any:
    """An id as a JSON value that reads back as the same id."""
    x = native(x)
    if isinstance(x, (str, int)) and not isinstance(x, bool):
        return x
    return x if isinstance(x, float) and math.isfinite(x) else str(x)


# ---------------------------------------------------------------------- Label Studio
def write_labelstudio(
    ds: DatasetCore,
    sample_ids: list[Hashable],
    files: dict[Hashable, str | None],
    run: Any,
    min_score: float,
    include_labels: bool,
    path: str | os.PathLike[str],
) -> Path:
    """Write tasks to import into Label Studio, and the labelling config next to them.

    Each task's ``data`` holds ``image`` (``/data/local-files/?d=<path>``, the path relative to
    the images' common folder, URL-quoted) and ``nbdiag_id`` (the sample id; Label Studio
    keeps extra ``data`` keys in its exports, so corrected tasks re-import by id). Current
    labels (``include_labels``) become one annotation per task: rectangles carrying each box's
    object id as the result ``id`` (as text) and in ``meta.nbdiag_id``, or one ``choices``
    result (classification); a detection sample without boxes gets an empty annotation ("no
    objects"). A run's boxes scoring at least ``min_score`` become a prediction
    (``model_version`` = run name, ``score`` per result, their mean per prediction); a
    classification run's prediction becomes a ``choices`` prediction (one without a confidence
    only when ``min_score <= 0``). Imported annotations count as completed in Label Studio:
    open the tasks from the Data Manager to review them.

    The config (``<stem>_config.xml``: ``RectangleLabels`` or ``Choices`` named ``label`` over
    an ``Image`` named ``image``, with the dataset's classes) is what to paste when creating
    the project. For Label Studio to show the images, start it with
    ``LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true`` and
    ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=<the common folder>`` (written at the top of the
    config), and add a Local Files storage for that folder to the project (without syncing).

    Raises ``ValueError`` naming the samples that have no image file, or (detection, boxes to
    write) no known size: Label Studio stores boxes in percent of the image.
    """
    path = Path(path)
    sel = _Selection(ds, sample_ids, files, run, min_score, include_labels, "Label Studio")
    boxed = [s for s in sample_ids if s in sel.gt or s in sel.preds]
    sizes = sel.sizes(boxed, "Label Studio stores boxes in percent of the image")
    tasks = []
    for sid in sample_ids:
        image = LOCAL_FILES_URL + quote(sel.names[sid], safe="/")
        task: dict[str, Any] = {"data": {"image": image, "nbdiag_id": json_id(sid)}}
        done = {"was_cancelled": False, "ground_truth": False}
        if sel.detection:
            size = sizes.get(sid, (1, 1))  # known wherever there are boxes to write
            if include_labels:
                result = [_ls_rectangle(b, size, None) for b in sel.gt.get(sid, [])]
                task["annotations"] = [{"result": result, **done}]
            if sid in sel.preds:
                result = [_ls_rectangle(b, size, b[-1]) for b in sel.preds[sid]]
                mean = float(np.mean([b[-1] for b in sel.preds[sid]]))
                task["predictions"] = [{"model_version": run.name, "score": mean, "result": result}]
        else:
            if sid in sel.labels:
                task["annotations"] = [{"result": [_ls_choice(sel.labels[sid], "label")], **done}]
            pred = sel.class_prediction(sid)
            if pred is not None:
                score = pred[1] if np.isfinite(pred[1]) else None
                entry = {"model_version": run.name, "result": [_ls_choice(pred[0], "pred", score)]}
                task["predictions"] = [entry if score is None else {**entry, "score": score}]
        tasks.append(task)
    atomic_write_text(path, json.dumps(tasks, indent=1, allow_nan=False))
    config = _ls_config(list(ds.class_names), sel.detection, sel.root)
    atomic_write_text(path.with_name(f"{path.stem}_config.xml"), config)
    return path


def _ls_rectangle(box: Box, size: tuple[int, int], score: float | None) -> dict[str, Any]:
    oid, label, x, y, w, h = box[:6]
    width, height = size
    result: dict[str, Any] = {
        "id": str(native(oid)),
        "type": "rectanglelabels",
        "from_name": FROM_NAME,
        "to_name": TO_NAME,
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
        "value": {
            "x": x / width * 100,
            "y": y / height * 100,
            "width": w / width * 100,
            "height": h / height * 100,
            "rotation": 0,
            "rectanglelabels": [label],
        },
        "meta": {"nbdiag_id": json_id(oid)},
    }
    if score is not None:
        result["score"] = score
    return result


def _ls_choice(label: str, rid: str, score: float | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": rid,
        "type": "choices",
        "from_name": FROM_NAME,
        "to_name": TO_NAME,
        "value": {"choices": [label]},
    }
    return result if score is None else {**result, "score": score}


def _ls_config(class_names: list[str], detection: bool, root: str) -> str:
    """A labelling config whose names match the written results."""
    tag, item = ("RectangleLabels", "Label") if detection else ("Choices", "Choice")
    extra = "" if detection else ' choice="single" showInline="true"'
    lines = [
        "<!-- Written by nbdiag. Serve the images with",
        "     LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true",
        f"     LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={root.replace('--', '- -')}",
        "     and add a Local Files storage for that folder to the project. -->",
        "<View>",
        f'  <Image name="{TO_NAME}" value="$image"/>',
        f'  <{tag} name="{FROM_NAME}" toName="{TO_NAME}"{extra}>',
        *[f"    <{item} value={quoteattr(c)}/>" for c in class_names],
        f"  </{tag}>",
        "</View>",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------- CVAT
def write_cvat(
    ds: DatasetCore,
    sample_ids: list[Hashable],
    files: dict[Hashable, str | None],
    run: Any,
    min_score: float,
    include_labels: bool,
    path: str | os.PathLike[str],
) -> Path:
    """Write a CVAT for images 1.1 annotations XML, and the labels spec next to it.

    ``<meta><task>`` names the dataset and lists its classes as labels, each with two text
    attributes, ``nbdiag_id`` and ``score``. Each sample is an ``<image>`` named by its path
    relative to the images' common folder (CVAT matches annotations to a task's images by
    name: create the task from that folder, keeping its sub-folders), with ``width`` /
    ``height`` when known and the sample id in an ``nbdiag_id`` attribute (CVAT does not keep
    unknown image attributes: files exported from CVAT match by name). Current labels
    (``include_labels``) are ``<box source="manual">`` elements (pixel corners, full
    precision) with the object id in ``<attribute name="nbdiag_id">``, or a ``<tag>``
    (classification). A run's predictions scoring at least ``min_score`` are pre-labels:
    ``<box source="auto">`` (or ``<tag source="auto">``) with ``<attribute name="score">``;
    :func:`~nbdiag.io.formats.cvat.read_cvat` reads such a box back as a box with a score.

    CVAT keeps shape attributes only when the task's labels declare them: create the task's
    labels from ``<stem>_labels.json`` (paste it into the label constructor's "Raw" tab) so
    object ids and scores survive the round trip through CVAT (without them corrected boxes
    are matched to the old ones by overlap). CVAT marks a pre-label it was asked to move as
    ``semi-auto``, which reads back as a label.

    Raises ``ValueError`` naming the samples that have no image file.
    """
    path = Path(path)
    sel = _Selection(ds, sample_ids, files, run, min_score, include_labels, "CVAT")
    sizes = sel.sizes(list(sample_ids), None)
    top = ET.Element("annotations")
    ET.SubElement(top, "version").text = "1.1"
    meta = ET.SubElement(top, "meta")
    task = ET.SubElement(meta, "task")
    for key, text in (("name", ds.name), ("size", str(len(sample_ids))), ("mode", "annotation")):
        ET.SubElement(task, key).text = text
    labels = ET.SubElement(task, "labels")
    for name in ds.class_names:
        label = ET.SubElement(labels, "label")
        ET.SubElement(label, "name").text = str(name)
        attrs = ET.SubElement(label, "attributes")
        for attr in CVAT_ATTRIBUTES:
            spec = ET.SubElement(attrs, "attribute")
            for key, text in (
                ("name", attr),
                ("mutable", "False"),
                ("input_type", "text"),
                ("default_value", ""),
                ("values", ""),
            ):
                ET.SubElement(spec, key).text = text
    ET.SubElement(meta, "dumped").text = pd.Timestamp.now(tz="UTC").isoformat()
    for k, sid in enumerate(sample_ids):
        attrs = {"id": str(k), "name": sel.names[sid]}
        if sid in sizes:
            attrs.update(width=str(sizes[sid][0]), height=str(sizes[sid][1]))
        image = ET.SubElement(top, "image", {**attrs, "nbdiag_id": str(native(sid))})
        for box in sel.gt.get(sid, []):
            _cvat_box(image, box, None)
        for box in sel.preds.get(sid, []):
            _cvat_box(image, box, box[-1])
        if sid in sel.labels:
            ET.SubElement(image, "tag", {"label": sel.labels[sid], "source": "manual"})
        pred = sel.class_prediction(sid)
        if pred is not None:
            tag = ET.SubElement(image, "tag", {"label": pred[0], "source": "auto"})
            score = repr(pred[1]) if np.isfinite(pred[1]) else "nan"  # no confidence
            ET.SubElement(tag, "attribute", {"name": "score"}).text = score
    ET.indent(top)
    text = ET.tostring(top, encoding="unicode")
    atomic_write_text(path, f'<?xml version="1.0" encoding="utf-8"?>\n{text}\n')
    spec = [
        {
            "name": str(name),
            "attributes": [
                {
                    "name": a,
                    "mutable": False,
                    "input_type": "text",
                    "default_value": "",
                    "values": [""],
                }
                for a in CVAT_ATTRIBUTES
            ],
        }
        for name in ds.class_names
    ]
    atomic_write_text(path.with_name(f"{path.stem}_labels.json"), json.dumps(spec, indent=1))
    return path


def _cvat_box(image: ET.Element, box: Box, score: float | None) -> None:
    oid, label, x, y, w, h = box[:6]
    attrs = {
        "label": label,
        "source": "manual" if score is None else "auto",
        "occluded": "0",
        "xtl": repr(float(x)),
        "ytl": repr(float(y)),
        "xbr": repr(float(x + w)),
        "ybr": repr(float(y + h)),
        "z_order": "0",
    }
    element = ET.SubElement(image, "box", attrs)
    if score is not None:
        ET.SubElement(element, "attribute", {"name": "score"}).text = repr(float(score))
    ET.SubElement(element, "attribute", {"name": "nbdiag_id"}).text = str(native(oid))
