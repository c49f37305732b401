"""Writing a selection of a dataset as a Pascal VOC detection folder (:func:`write_voc`), and
what the VOC reader shares with it (the marker file, exact decimal corners).

The layout written (see :mod:`nbdiag.io.formats.voc` for the pixel convention)::

    Annotations/<id>.xml             # one per sample; <nbdiag_id> keeps the true ids
    JPEGImages/<id>.<ext>            # a symlink to the original image (a copy / PNG if not)
    ImageSets/Main/<split>.txt       # the ids of each split (samples.split; "trainval")
    nbdiag.json                      # class names in order, split names, pre-label run
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Hashable, Iterator
from decimal import Context, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...core import validation as v
from ...core.runs import ClassificationRun, DetectionRun
from ...store._atomic import TMP_SUFFIX, atomic_dir, atomic_write_text, fsync_dir
from ...store._codec import native
from .._probe import probe_files

if TYPE_CHECKING:
    from ...core import DatasetCore

#: what an nbdiag export adds at the root: class names (in order), split names, pre-label run
META_FILE = "nbdiag.json"
#: exact decimal arithmetic for corners (enough digits for any sum of two doubles' reprs)
DECIMALS = Context(prec=1000)
_LAYOUT = frozenset({"Annotations", "JPEGImages", "ImageSets", META_FILE})
_FLAGS = ("difficult", "truncated", "occluded")
#: characters XML 1.0 cannot hold
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def write_voc(
    ds: DatasetCore,
    sample_ids: list[Hashable],
    files: dict[Hashable, str | None],
    run: Any,
    min_score: float,
    include_labels: bool,
    path: str | os.PathLike[str],
) -> Path:
    """Write samples as a Pascal VOC detection folder ``path``.

    Parameters
    ----------
    ds
        The dataset (detection, or unlabelled with a detection run).
    sample_ids
        The samples to write, in order.
    files
        Sample id -> absolute image path, or None for an in-memory image (written as PNG).
    run
        A :class:`~nbdiag.core.DetectionRun` whose boxes scoring ``>= min_score`` are written
        as pre-labels: ``<object>`` elements with a ``<score>`` and
        ``<nbdiag_prelabel>run</nbdiag_prelabel>`` (read back as boxes with a score), or None.
    min_score
        Pre-labels scoring below it are left out.
    include_labels
        False: no ground-truth objects are written.
    path
        The output folder: created; an existing folder must be empty or a previous nbdiag VOC
        export (replaced as a whole once the new one is complete).

    Returns
    -------
    pathlib.Path
        The folder written.

    Each sample gets ``Annotations/<stem>.xml`` and ``JPEGImages/<stem><suffix>`` (a symlink
    to its file, a copy where symlinks fail, a PNG for in-memory images), ``<stem>`` being
    its id made file-safe and unique; the XML's ``<nbdiag_id>`` holds the true id
    (``type="int"`` / ``"float"`` for numbers), and each object's ``<nbdiag_id>`` its object
    id, so :func:`~nbdiag.io.formats.voc.from_voc` gives both back. Corners follow the VOC
    convention of :mod:`~nbdiag.io.formats.voc` exactly (not clipped to the image);
    ``difficult`` / ``truncated`` / ``occluded`` / ``pose`` come from the object columns of
    those names (else 0 / ``Unspecified``). ``ImageSets/Main/<split>.txt`` lists each split's
    ids (samples' ``split``; ``trainval`` when unset); ``nbdiag.json`` records the class
    names in order and the split names. Raises ``ValueError`` for a classification dataset
    (export it with ``format='csv'``), a folder in the way, samples without an image, boxes
    without a known class, and text XML cannot hold.
    """
    if isinstance(run, ClassificationRun) or (
        ds.task == "classification" and not isinstance(run, DetectionRun)
    ):
        raise ValueError(
            "VOC export writes detection datasets (boxes); this is a classification dataset. "
            "Export classification labels with format='csv' or format='parquet'"
        )
    target = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
    previous = _check_target(target)
    samples = ds.samples.loc[sample_ids]
    in_memory = getattr(ds, "_images", {}) or {}
    no_image = [i for i in sample_ids if files.get(i) is None and i not in in_memory]
    if no_image:
        raise ValueError(
            f"samples without an image file or in-memory image: {v.listed(no_image)}; a VOC "
            "folder needs an image per annotation"
        )
    gt = ds.gt_objects
    parts = [gt[gt["sample_id"].isin(sample_ids)] if include_labels else gt.iloc[:0]]
    if isinstance(run, DetectionRun):
        b = ds.run_boxes(run.name)
        parts.append(b[b["sample_id"].isin(sample_ids) & (b["score"] >= min_score)])
    objects = _object_elements(ds, parts, run)
    stems = _stems(sample_ids)
    splits, split_of = _splits(samples["split"])
    sizes = _sizes(samples, files)
    with _output_dir(target, previous) as out:
        for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
            (out / sub).mkdir(parents=True)
        for sid in sample_ids:
            src = files.get(sid)
            suffix = ".png" if src is None else os.path.splitext(src)[1]
            image = out / "JPEGImages" / f"{stems[sid]}{suffix}"
            placed = _place_image(ds, sid, src, image)
            size = sizes[sid] if min(sizes[sid][:2]) > 0 else placed
            xml = _annotation(ds, sid, image.name, size, objects.get(sid, []))
            (out / "Annotations" / f"{stems[sid]}.xml").write_bytes(xml)
        for name in splits:
            ids = [stems[sid] for sid in sample_ids if split_of[sid] == name]
            text = "".join(f"{i}\n" for i in ids)
            (out / "ImageSets" / "Main" / f"{name}.txt").write_text(text, encoding="utf-8")
        meta = {
            "export": "voc",
            "dataset": str(ds.name),
            "class_names": [str(c) for c in ds.class_names],
            "splits": splits,
            "prelabels": None if run is None else str(run.name),
        }
        atomic_write_text(out / META_FILE, json.dumps(meta, indent=1))
    return target


# ---------------------------------------------------------------------- corners and text
def corner_texts(x: float, w: float) -> tuple[str, str]:
    """``(min, max)`` VOC corners of a box edge at ``x`` of size ``w``: ``x + 1`` and
    ``x + w`` as exact decimals of the shortest reprs, so the reader (decimal arithmetic) gets
    ``x`` and ``w`` back bit-identical."""
    dx, dw = Decimal(repr(float(x))), Decimal(repr(float(w)))
    return _decimal_text(DECIMALS.add(dx, 1)), _decimal_text(DECIMALS.add(dx, dw))


def _decimal_text(d: Decimal) -> str:
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _xml_text(value: Any, what: str) -> str:
    text = str(native(value))
    if _NOT_XML.search(text):
        raise ValueError(f"{what} {text!r} holds characters an XML file cannot hold")
    return text


def _id_element(parent: ET.Element, value: Hashable, what: str) -> None:
    value = native(value)
    el = ET.SubElement(parent, "nbdiag_id")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        el.set("type", "int" if isinstance(value, int) else "float")
        el.text = repr(value)
    else:
        el.text = _xml_text(value, what)


def _sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = text
    return el


# ---------------------------------------------------------------------- elements
def _object_elements(
    ds: DatasetCore, parts: list[pd.DataFrame], run: Any
) -> dict[Hashable, list[ET.Element]]:
    """``<object>`` elements per sample id: ground truth first, then pre-labels."""
    classes = set(ds.class_names)
    out: dict[Hashable, list[ET.Element]] = {}
    for k, boxes in enumerate(parts):
        if not len(boxes):
            continue
        labels = boxes["label"].astype(object).to_numpy()
        unknown = [o for o, lab in zip(boxes.index, labels, strict=True) if lab not in classes]
        if unknown:
            raise ValueError(f"boxes without a known class cannot be written: {v.listed(unknown)}")
        cols = {c: boxes[c].to_numpy(dtype=object) for c in (*_FLAGS, "pose") if c in boxes}
        x, y, w, h = (boxes[c].to_numpy(float) for c in ("x", "y", "w", "h"))
        score = boxes["score"].to_numpy(float)
        for i, (oid, sid) in enumerate(zip(boxes.index, boxes["sample_id"], strict=True)):
            obj = ET.Element("object")
            _sub(obj, "name", _xml_text(labels[i], "class name"))
            pose = cols["pose"][i] if "pose" in cols else None
            _sub(obj, "pose", "Unspecified" if _na(pose) else _xml_text(pose, "pose"))
            for flag in ("truncated", "occluded", "difficult"):
                value = cols[flag][i] if flag in cols else None
                _sub(obj, flag, "0" if _na(value) or not bool(value) else "1")
            bnd = ET.SubElement(obj, "bndbox")
            xmin, xmax = corner_texts(x[i], w[i])
            ymin, ymax = corner_texts(y[i], h[i])
            for tag, text in (("xmin", xmin), ("ymin", ymin), ("xmax", xmax), ("ymax", ymax)):
                _sub(bnd, tag, text)
            if k > 0:  # a pre-label
                _sub(obj, "score", repr(float(score[i])))
                _sub(obj, "nbdiag_prelabel", _xml_text(run.name, "run name"))
            _id_element(obj, oid, "object id")
            out.setdefault(sid, []).append(obj)
    return out


def _annotation(
    ds: DatasetCore,
    sid: Hashable,
    file_name: str,
    size: tuple[float, float, float],
    objects: list[ET.Element],
) -> bytes:
    root = ET.Element("annotation")
    _sub(root, "folder", "JPEGImages")
    _sub(root, "filename", file_name)
    source = ET.SubElement(root, "source")
    _sub(source, "database", _xml_text(f"nbdiag export of dataset {ds.name}", "dataset name"))
    w, h, depth = size
    if w > 0 and h > 0:
        el = ET.SubElement(root, "size")
        for tag, value in (("width", w), ("height", h), ("depth", depth)):
            _sub(el, tag, str(int(round(value))))
    _sub(root, "segmented", "0")
    _id_element(root, sid, "sample id")
    root.extend(objects)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


# ---------------------------------------------------------------------- files
def is_previous_export(folder: Path) -> bool:
    """Whether ``folder`` holds an nbdiag VOC export and nothing else."""
    try:
        names = set(os.listdir(folder))
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return names <= _LAYOUT and isinstance(meta, dict) and meta.get("export") == "voc"


def _check_target(target: Path) -> bool:
    """Whether ``target`` is a previous export to replace; ValueError when it is in the way."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ValueError(f"path must be a folder for a VOC export, but {str(target)!r} is a file")
    if not target.is_dir() or not any(target.iterdir()):
        return False
    if is_previous_export(target):
        return True
    raise ValueError(
        f"the folder {str(target)!r} is not empty and is not a previous nbdiag VOC export; "
        "pass a new or empty folder"
    )


@contextlib.contextmanager
def _output_dir(target: Path, previous: bool) -> Iterator[Path]:
    """A staging folder renamed to ``target`` when complete (a previous export is swapped out
    and removed then)."""
    if not previous:  # target is missing or an empty folder, which atomic_dir replaces
        with atomic_dir(target) as tmp:
            yield tmp
        return
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}"
    os.mkdir(tmp)
    try:
        yield tmp
        fsync_dir(tmp)
        old = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}"
        os.rename(target, old)
        try:
            os.rename(tmp, target)
        except BaseException:
            os.rename(old, target)
            raise
        fsync_dir(target.parent)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _stems(sample_ids: list[Hashable]) -> dict[Hashable, str]:
    """A file-safe file stem per sample, unique case-insensitively."""
    used: set[str] = set()
    out: dict[Hashable, str] = {}
    for sid in sample_ids:
        stem = re.sub(r"[^A-Za-z0-9.-]+", "_", str(native(sid)))[:64].strip(".") or "_"
        name, n = stem, 1
        while name.casefold() in used:
            n += 1
            name = f"{stem}_{n}"
        used.add(name.casefold())
        out[sid] = name
    return out


def _splits(values: pd.Series) -> tuple[dict[str, Any], dict[Hashable, str]]:
    """``({file name: split value}, {sample id: file name})``: names without an underscore
    (VOC's ``<class>_<split>.txt`` files have one), ``trainval`` for samples without a split."""
    names: dict[Any, str] = {}
    used: set[str] = set()
    split_of: dict[Hashable, str] = {}
    for sid, raw in values.items():
        key = None if _na(raw) else str(raw)
        if key not in names:
            base = "trainval" if key is None else re.sub(r"[^A-Za-z0-9.-]+", "-", key)
            base = base.strip(".") or "split"
            name, n = base, 1
            while name.casefold() in used:
                n += 1
                name = f"{base}-{n}"
            used.add(name.casefold())
            names[key] = name
        split_of[sid] = names[key]
    return {name: key for key, name in names.items()}, split_of


def _sizes(
    samples: pd.DataFrame, files: dict[Hashable, str | None]
) -> dict[Hashable, tuple[float, float, float]]:
    """``(width, height, depth)`` per sample (from the file header where the dataset lacks
    it; 0 when unknown); depth from a ``depth`` column, else 3."""
    w = np.array(samples["width"], dtype=float)
    h = np.array(samples["height"], dtype=float)
    ids = list(samples.index)
    unknown = [k for k, i in enumerate(ids) if not (w[k] > 0 and h[k] > 0) and files.get(i)]
    if unknown:
        fw, fh, _ = probe_files([files.get(ids[k]) for k in unknown], "header", False)
        w[unknown], h[unknown] = fw, fh
    depth = (
        pd.to_numeric(samples["depth"], errors="coerce").to_numpy(float)
        if "depth" in samples
        else np.full(len(ids), 3.0)
    )
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, 3.0)
    w = np.where(np.isfinite(w), w, 0.0)
    h = np.where(np.isfinite(h), h, 0.0)
    return {i: (w[k], h[k], depth[k]) for k, i in enumerate(ids)}


def _place_image(
    ds: DatasetCore, sid: Hashable, src: str | None, dst: Path
) -> tuple[float, float, float]:
    """A symlink to ``src`` (a copy where that fails), or a PNG of an in-memory image; the
    written PNG's size (zeros for files)."""
    if src is not None:
        src = os.path.abspath(src)
        try:
            os.symlink(src, dst)
        except (OSError, NotImplementedError):
            try:
                shutil.copy2(src, dst)
            except OSError as exc:
                raise ValueError(
                    f"sample {v.show(sid)}: cannot copy its image {src!r}: {exc}"
                ) from exc
        return (0.0, 0.0, 3.0)
    image = ds.image(sid)
    image.save(dst, format="PNG")
    return (float(image.width), float(image.height), float(len(image.getbands())))


def _na(x: Any) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x))
