"""Pascal VOC detection datasets: read a VOC folder (:func:`read_voc`, :func:`from_voc`) and
write one (:func:`write_voc`, from :mod:`._voc_write`).

The layout::

    Annotations/<id>.xml            # one XML per image: filename, size, objects
    JPEGImages/<file>               # the images
    ImageSets/Main/<split>.txt      # one image id per line (optional)

**Pixel convention.** VOC corners are 1-based and inclusive (a box covering the first ten
pixel columns has ``xmin = 1, xmax = 10``; the VOC devkit's area is
``(xmax - xmin + 1) * (ymax - ymin + 1)``). nbdiag boxes are ``x, y, w, h`` in pixels from a
0-based top-left origin, so ``x = xmin - 1``, ``y = ymin - 1``, ``w = xmax - xmin + 1``,
``h = ymax - ymin + 1``; writing is the exact inverse (``xmin = x + 1``, ``xmax = x + w``).
Fractional coordinates are allowed; the arithmetic is decimal, so a box nbdiag wrote reads
back bit-identical.
"""

from __future__ import annotations

import json
import math
import os
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, DecimalException
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._probe import PROGRESS_MIN_FILES, probe_mode, progress_bar
from ..coco import AUTO_HEADER_LIMIT
from ._parsed import Parsed, to_dataset
from ._voc_write import DECIMALS, META_FILE, write_voc

if TYPE_CHECKING:
    from ...core import DatasetCore

#: the 20 Pascal VOC classes, in the official order
VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip
#: splits in the order their images are taken (an image listed in several keeps the first)
_SPLIT_ORDER = {"train": 0, "val": 1, "trainval": 2, "test": 3}
_FLAGS = ("difficult", "truncated", "occluded")

__all__ = ["AUTO_HEADER_LIMIT", "VOC_CLASSES", "from_voc", "read_voc", "write_voc"]


def read_voc(
    root: str | os.PathLike[str],
    split: str | Sequence[str] | None = None,
    *,
    class_names: Sequence[str] | None = None,
    check_images: bool | str = "auto",
    progress: bool | None = None,
) -> Parsed:
    """Parse a Pascal VOC folder (see :func:`from_voc` for the rules and ids).

    Returns
    -------
    Parsed
        Images (``id``, ``file_name`` = the XML's ``filename``, ``path``, ``width``,
        ``height``, ``depth``, ``split``, ``nbdiag_id``) and boxes (``difficult``,
        ``truncated``, ``occluded`` booleans, ``pose``; pre-labels carry a ``score``).
        ``check_images=False`` leaves the image files alone (no fallback to ``<id>.jpg``).
    """
    base = Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
    if not base.is_dir():
        raise FileNotFoundError(f"VOC folder {os.fspath(base)!r} does not exist")
    if check_images != "auto":
        probe_mode(check_images)  # validates the value
    look = check_images not in (False, None, "none")
    parsed = Parsed(source=os.fspath(base))
    meta = _read_meta(base, parsed)
    listed = _image_ids(base, split, meta, parsed)
    show = len(listed) >= PROGRESS_MIN_FILES if progress is None else bool(progress)
    records = []
    with progress_bar(len(listed), "reading VOC annotations", show, unit="xml") as bar:
        for image_id, split_value in listed:
            records.append(_parse_image(os.fspath(base), image_id, split_value, look))
            bar.update(1)
    by_nbdiag = _distinct([r.row["nbdiag_id"] for r in records])
    boxes = [b for r in records for b in r.boxes]
    box_ids = _distinct([b["hint"] for b in boxes])
    for r in records:
        if by_nbdiag:
            r.row["id"] = r.row["nbdiag_id"]
        pos = parsed.add_image(**r.row)
        for b in r.boxes:
            parsed.add_box(image=pos, object_id=b["hint"] if box_ids else None, **b)
        for kind, message in r.problems:
            parsed.problem(pos, kind, message)
    found = {b["label"] for b in boxes}
    parsed.class_names = _class_names(class_names, meta, found)
    return parsed


def from_voc(
    root: str | os.PathLike[str],
    split: str | Sequence[str] | None = None,
    *,
    class_names: Sequence[str] | None = None,
    name: str | None = None,
    check_images: bool | str = "auto",
    progress: bool | None = None,
) -> DatasetCore:
    """Build a :class:`~nbdiag.Dataset` from a Pascal VOC detection folder.

    Parameters
    ----------
    root
        The folder holding ``Annotations/``, ``JPEGImages/`` and (optionally)
        ``ImageSets/Main/``.
    split
        A split name (``"val"``: the ids in ``ImageSets/Main/val.txt``) or a list of them.
        Default: every ``ImageSets/Main/<split>.txt`` without an underscore in its name (VOC's
        ``<class>_<split>.txt`` files are left out), or the splits an nbdiag export lists in
        ``nbdiag.json``; without ``ImageSets/Main``, every ``Annotations/*.xml`` (split None).
        An image listed in several splits is loaded once, with the first split in the order
        train, val, trainval, test, then the others by name (the given order for a list).
        A named split without its file raises ``ValueError``.
    class_names
        The classes, in order; objects of other classes are dropped as ``unknown_class``.
        Default: the names of an nbdiag export's ``nbdiag.json`` (new names found appended);
        else, if every name found is a VOC class, the 20 VOC classes in the official order;
        else the names found, sorted.
    name
        Display name (default: the folder's name).
    check_images
        As :func:`~nbdiag.io.from_coco`: ``"auto"`` (default) reads image headers up to
        :data:`~nbdiag.io.coco.AUTO_HEADER_LIMIT` images and only checks existence beyond; ``"header"``,
        ``"decode"``, ``"exists"`` or ``False``.
    progress
        Show progress bars (default: from 200 files on).

    Sample ids are the image ids (the XML file's stem, as ImageSets lists them), or the
    ``<nbdiag_id>`` of every XML when each has a distinct one (a folder nbdiag wrote). Object
    ids are the objects' ``<nbdiag_id>`` when every object has a distinct one; otherwise
    ``0, 1, ...`` in reading order (images in order, objects in file order). The image is
    ``JPEGImages/<filename>``, or ``JPEGImages/<id>.jpg`` when the XML names none (or names a
    file that does not exist while that one does). Boxes follow the module's pixel
    convention; ``difficult``, ``truncated`` and ``occluded`` become boolean object columns
    (False when absent) and ``pose`` a string column (None when absent), so
    ``ds.evaluate(run, ignore="difficult")`` evaluates as the VOC protocol does. Sizes come
    from the XML's ``size`` (from the image file when it lacks one or says 0).

    Problems never stop the load; each is recorded in ``samples.issues`` and, naming the file
    and object, in ``samples.annotation_problems``: ``malformed_annotation`` (an XML that does
    not parse or is not an ``<annotation>``, an id listed in ImageSets without its XML, an
    object without a ``name`` or ``bndbox``, non-numeric coordinates, flags or scores),
    ``invalid_box`` (non-finite corners, boxes outside the image), ``unknown_class``,
    ``missing_file``. Objects with a ``<score>`` are pre-labels and are not loaded.
    """
    base = Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
    parsed = read_voc(
        base, split, class_names=class_names, check_images=check_images, progress=progress
    )
    if check_images == "auto":
        n = len(parsed.images())
        check_images = "header" if n <= AUTO_HEADER_LIMIT else "exists"
    ds = to_dataset(
        parsed, name=name or base.name or "voc", check_images=check_images, progress=progress
    )
    issues = ds.samples["issues"].str.split(",")
    if len(ds) and probe_mode(check_images) != "none" and all("missing_file" in i for i in issues):
        warnings.warn(
            f"none of the {len(ds)} VOC images were found under "
            f"{os.fspath(base / 'JPEGImages')!r}; they are marked 'missing_file' in "
            "samples.issues",
            stacklevel=2,
        )
    return ds


# ---------------------------------------------------------------------- one XML
@dataclass
class _Record:
    row: dict[str, Any]
    boxes: list[dict[str, Any]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)


def _parse_image(base: str, image_id: str, split_value: Any, look: bool) -> _Record:
    rel = f"Annotations/{image_id}.xml"
    row: dict[str, Any] = {
        "id": image_id,
        "split": split_value,
        "what": rel,
        "width": np.nan,
        "height": np.nan,
        "depth": np.nan,
        "nbdiag_id": None,
    }
    rec = _Record(row)
    xml = _load_xml(os.path.join(base, "Annotations", f"{image_id}.xml"), rel, rec)
    top = _children(xml)
    file_name = _text(top, "filename")
    row["file_name"] = file_name or f"{image_id}.jpg"
    row["path"] = _image_path(base, image_id, file_name, look)
    if xml is None:
        return rec
    row["nbdiag_id"] = _typed_id(top.get("nbdiag_id"))
    size = _children(top.get("size"))
    for key in ("width", "height", "depth"):
        text = _text(size, key)
        value = _number(text)
        if text and value is None and key != "depth":
            rec.problems.append(("malformed_annotation", f"{rel}: size/{key} {text!r}"))
        if value is not None and math.isfinite(value) and value > 0:
            row[key] = value
    for k, obj in enumerate(xml.iterfind("object"), start=1):
        box = _parse_object(obj, f"{rel} object {k}", rec)
        if box is not None:
            rec.boxes.append(box)
    return rec


def _load_xml(path: str, rel: str, rec: _Record) -> ET.Element | None:
    try:
        xml = ET.parse(path).getroot()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        what = "not a file" if isinstance(exc, IsADirectoryError) else "no such file"
        message = f"{rel}: {what} (the image id is listed in ImageSets)"
        rec.problems.append(("malformed_annotation", message))
        return None
    except (ET.ParseError, OSError, ValueError, LookupError, RecursionError) as exc:
        rec.problems.append(("malformed_annotation", f"{rel}: not readable XML ({exc})"))
        return None
    if xml.tag != "annotation":
        message = f"{rel}: the root element is <{xml.tag}>, not <annotation>"
        rec.problems.append(("malformed_annotation", message))
        return None
    return xml


def _parse_object(obj: ET.Element, what: str, rec: _Record) -> dict[str, Any] | None:
    fields = _children(obj)
    label = _text(fields, "name")
    if not label:
        rec.problems.append(("malformed_annotation", f"{what}: no <name>"))
        return None
    if "bndbox" not in fields:
        rec.problems.append(("malformed_annotation", f"{what} ({label!r}): no <bndbox>"))
        return None
    bnd = _children(fields["bndbox"])
    corners = {}
    for key in ("xmin", "ymin", "xmax", "ymax"):
        text = _text(bnd, key)
        value = _decimal(text)
        if value is None:
            shown = "missing" if text is None else repr(text)
            message = f"{what} ({label!r}): bndbox/{key} is {shown}, not a number"
            rec.problems.append(("malformed_annotation", message))
            return None
        corners[key] = value
    try:
        x = float(DECIMALS.subtract(corners["xmin"], 1))
        y = float(DECIMALS.subtract(corners["ymin"], 1))
        w = float(DECIMALS.add(DECIMALS.subtract(corners["xmax"], corners["xmin"]), 1))
        h = float(DECIMALS.add(DECIMALS.subtract(corners["ymax"], corners["ymin"]), 1))
    except DecimalException:
        x = y = w = h = math.nan
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(w) and math.isfinite(h)):
        shown = ", ".join(f"{k}={_text(bnd, k)}" for k in corners)
        rec.problems.append(("invalid_box", f"{what} ({label!r}): non-finite corners {shown}"))
        return None
    box: dict[str, Any] = {"label": label, "x": x, "y": y, "w": w, "h": h, "what": what}
    score_text = _text(fields, "score")
    if score_text is not None:
        score = _number(score_text)
        if score is None or not math.isfinite(score):
            message = f"{what} ({label!r}): score {score_text!r} is not a number"
            rec.problems.append(("malformed_annotation", message))
            return None
        box["score"] = score
    for flag in _FLAGS:
        box[flag] = _flag(_text(fields, flag), f"{what} ({label!r}): {flag}", rec)
    box["pose"] = _text(fields, "pose")
    box["hint"] = _typed_id(fields.get("nbdiag_id"))
    return box


# ---------------------------------------------------------------------- values
def _children(el: ET.Element | None) -> dict[str, ET.Element]:
    """An element's children by tag (the first of each, as ``find`` gives)."""
    out: dict[str, ET.Element] = {}
    if el is not None:
        for child in el:
            if isinstance(child.tag, str):
                out.setdefault(child.tag, child)
    return out


def _text(children: dict[str, ET.Element], tag: str) -> str | None:
    """The stripped text of child ``tag`` (None when absent, "" when empty)."""
    el = children.get(tag)
    return None if el is None else (el.text or "").strip()


def _decimal(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        return Decimal(text)
    except (DecimalException, ValueError, TypeError):
        return None


def _number(text: str | None) -> float | None:
    value = _decimal(text)
    if value is None or value.is_snan():
        return None
    return float(value)


def _flag(text: str | None, what: str, rec: _Record) -> bool:
    """VOC's 0/1 flags (also true/false); anything else is a problem and reads False."""
    if not text or text == "0":
        return False
    if text == "1":
        return True
    low = text.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    value = _number(text)
    if value is None or not np.isfinite(value):
        rec.problems.append(("malformed_annotation", f"{what} {text!r} is not 0 or 1"))
        return False
    return value != 0


def _typed_id(el: ET.Element | None) -> Hashable | None:
    """An ``<nbdiag_id>``'s value: ``type="int"`` / ``"float"`` restore numbers."""
    if el is None or not (el.text or "").strip():
        return None
    text = (el.text or "").strip()
    kind = el.get("type")
    try:
        if kind == "int":
            return int(text)
        if kind == "float" and math.isfinite(float(text)):
            return float(text)
    except ValueError:
        pass
    return text


def _distinct(values: list[Any]) -> bool:
    """Whether every value is present and they are all different (1 and "1" differ)."""
    if not values or any(v is None for v in values):
        return False
    return len({(type(v).__name__, v) for v in values}) == len(values)


def _image_path(base: str, image_id: str, file_name: str | None, look: bool) -> str:
    folder = os.path.join(base, "JPEGImages")
    fallback = os.path.join(folder, f"{image_id}.jpg")
    if not file_name:
        return fallback
    name = file_name.replace("\\", "/")
    if name.startswith("/") or ".." in name.split("/") or ":" in name:
        name = name.rsplit("/", 1)[-1]  # an image of the folder, whatever path the XML gives
    path = os.path.join(folder, *[p for p in name.split("/") if p])
    if look and not os.path.isfile(path) and os.path.isfile(fallback):
        return fallback
    return path


# ---------------------------------------------------------------------- folder level
def _read_meta(base: Path, parsed: Parsed) -> dict[str, Any]:
    """``nbdiag.json`` of an nbdiag export ({} when absent or unreadable: a problem)."""
    path = base / META_FILE
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        parsed.problem(None, "malformed_annotation", f"{META_FILE}: not readable JSON ({exc})")
        return {}
    if not isinstance(meta, dict) or meta.get("export") != "voc":
        parsed.problem(None, "malformed_annotation", f"{META_FILE}: not an nbdiag VOC export")
        return {}
    return meta


def _image_ids(
    base: Path, split: str | Sequence[str] | None, meta: dict[str, Any], parsed: Parsed
) -> list[tuple[str, Any]]:
    """``(image id, split value)`` of every image to load, each once."""
    sets = base / "ImageSets" / "Main"
    given = meta.get("splits")
    names = (
        {k: v for k, v in given.items() if isinstance(k, str)} if isinstance(given, dict) else {}
    )
    if split is None:
        chosen = [n for n in names if (sets / f"{n}.txt").is_file()]
        if not chosen and sets.is_dir():
            chosen = [p.stem for p in sets.glob("*.txt") if "_" not in p.stem and p.is_file()]
            chosen.sort(key=lambda s: (_SPLIT_ORDER.get(s, len(_SPLIT_ORDER)), s))
        if not chosen:
            ann = base / "Annotations"
            if not ann.is_dir():
                raise ValueError(
                    f"{os.fspath(base)!r} is not a Pascal VOC folder: it has neither "
                    "Annotations/ nor ImageSets/Main/<split>.txt files"
                )
            stems = [n[:-4] for n in os.listdir(ann) if n.endswith(".xml")]
            return [(stem, None) for stem in sorted(stems)]
    else:
        chosen = [split] if isinstance(split, str) else [str(s) for s in split]
        for s in chosen:
            if not (sets / f"{s}.txt").is_file():
                raise ValueError(f"split {s!r}: {os.fspath(sets / f'{s}.txt')!r} does not exist")
    seen: dict[str, Any] = {}
    for s in chosen:
        rel = f"ImageSets/Main/{s}.txt"
        text = (sets / f"{s}.txt").read_bytes().decode("utf-8-sig", errors="replace")
        for n, line in enumerate(text.splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            image_id = parts[0]
            if "/" in image_id or "\\" in image_id or image_id.startswith("."):
                parsed.problem(
                    None, "malformed_annotation", f"{rel} line {n}: {image_id!r} is not an id"
                )
                continue
            if image_id not in seen:
                seen[image_id] = names.get(s, s)
    return list(seen.items())


def _class_names(given: Sequence[str] | None, meta: dict[str, Any], found: set[str]) -> list[str]:
    if given is not None:
        return [str(c) for c in given]
    listed = meta.get("class_names")
    if isinstance(listed, list) and all(isinstance(c, str) for c in listed):
        return list(listed) + sorted(found - set(listed))
    if found and found <= set(VOC_CLASSES):
        return list(VOC_CLASSES)
    return sorted(found)
