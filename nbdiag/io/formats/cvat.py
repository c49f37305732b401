"""CVAT for images 1.1 XML: read an ``annotations.xml`` (a task, job or project export) and
write one for CVAT's "Upload annotations" (:func:`write_cvat`).

The file is ``<annotations><version>1.1</version><meta>…</meta><image …>…</image>…``: the
meta names the labels (in order) and, per task or job, its subset, its assignee and its
segments (frame ranges); each ``<image id name width height>`` holds ``<box>`` (pixel corners
``xtl ytl xbr ybr``), ``<polygon points="x1,y1;x2,y2;…">``, ``<ellipse>``, ``<mask>`` and
``<tag>`` elements with ``<attribute name="…">value</attribute>`` children. The file is read
element by element (an image at a time), so large exports stay cheap in memory.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._parsed import Parsed, to_dataset, unique_ids
from ._tool_write import write_cvat

if TYPE_CHECKING:
    from ...core import DatasetCore

__all__ = ["PRELABEL_SOURCES", "from_cvat", "read_cvat", "write_cvat"]

#: a shape whose ``source`` is one of these and whose ``score`` attribute is not empty is a
#: pre-label
PRELABEL_SOURCES = ("auto", "file")
_SHAPES = ("box", "polygon", "ellipse", "mask")
_UNSUPPORTED = ("polyline", "points", "cuboid", "skeleton")
_TRUE = ("1", "true", "True")


class _Bad(Exception):
    """An element that cannot be read: the problem's kind and the reason."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def read_cvat(
    source: str | os.PathLike[str],
    *,
    class_names: Sequence[str] | None = None,
    image_root: str | os.PathLike[str] | None = None,
) -> Parsed:
    """Parse a CVAT for images 1.1 XML file into :class:`Parsed`.

    Parameters
    ----------
    source
        The XML file, or a folder holding ``annotations.xml`` (an unzipped CVAT export).
    class_names
        The classes, in order. Default: the labels ``<meta>`` lists (in order; skeleton
        points, which name a ``<parent>``, left out), else every class found, sorted.
    image_root
        The folder image names are relative to. Default: the XML's folder, or its ``images/``
        sub-folder when there is one (the layout of CVAT's zip exports).

    What is read: ``<image name>`` is the ``file_name`` (and the sample id), ``width`` /
    ``height`` the size, ``id`` the ``cvat_id`` column, ``subset`` (project exports; else the
    task's ``<subset>``) the ``split`` (CVAT's ``"default"`` means none), ``task_id`` the
    ``cvat_task_id`` column, and an ``nbdiag_id`` attribute (written by nbdiag; CVAT drops it,
    so files exported from CVAT match samples by name) the ``nbdiag_id``. A ``<box>`` becomes
    ``x = xtl, y = ytl, w = xbr - xtl, h = ybr - ytl`` (a rotated box, ``rotation`` in
    degrees, the extent of the rotated box, its angle in a ``rotation`` column); a
    ``<polygon>`` its extent with the polygon in ``segmentation`` (COCO style ``[[x1, y1,
    ...]]``); an ``<ellipse>`` its extent; a ``<mask>`` its ``left top width height``. Boxes
    keep ``occluded`` (bool), ``cvat_source`` (``manual``, ``auto``, ``semi-auto``, ...) and
    each ``<attribute>`` as a text column ``attr:<name>``, except ``nbdiag_id`` (the object id
    nbdiag wrote: the box's ``hint``) and, on a shape whose source is in
    :data:`PRELABEL_SOURCES`, a non-empty ``score``: such a shape is a pre-label with that
    score (CVAT writes every attribute a label declares, empty when unset, so an empty score
    means a label). A ``<tag>`` is the image's ``label``; a pre-label tag fills the
    ``prediction`` and ``confidence`` columns (``nan``: no confidence).

    The annotator (``annotator`` of images and their labels) is the assignee CVAT writes in
    the meta: a segment's ``<assignee>`` for the images whose id lies in its ``start..stop``
    (when a version writes one), else the job's (job exports) or the task's (task exports;
    project exports: the task named by the image's ``task_id``); its ``<username>``, else its
    ``<email>``.

    Problems (recorded, never raised) name ``"<file> image '<name>' box <k>"`` (``k`` counts
    that image's ``<box>`` elements from 0; ``polygon <k>``, ``tag <k>`` likewise): shapes
    without a label, missing or non-numeric coordinates, a pre-label whose score is not a
    number, unsupported shapes (polylines, points, cuboids, skeletons), several tags on one
    image, image classes not in ``class_names`` (``unknown_class``), ``<track>`` elements
    (CVAT for video). Raises ``ValueError`` naming the file when it is not well-formed XML, its
    root is not ``<annotations>``, or it holds only video tracks.
    """
    return _parse(source, image_root).finish(class_names)


def from_cvat(
    source: str | os.PathLike[str],
    *,
    class_names: Sequence[str] | None = None,
    image_root: str | os.PathLike[str] | None = None,
    name: str | None = None,
    check_images: bool | str = "auto",
    progress: bool | None = None,
) -> DatasetCore:
    """Build a dataset from a CVAT for images 1.1 XML export.

    Reads what :func:`read_cvat` documents (``class_names`` and ``image_root`` are its
    arguments). Sample ids are the image names (repeated names get ``#2``, ``#3``; an image
    without a name its position); object ids number the shapes ``0, 1, ...`` in reading order
    (pre-labels included). Pre-labels (shapes with a score) are left out (read them with
    :func:`read_cvat`). ``check_images`` and ``progress`` work as in
    :func:`~nbdiag.io.from_coco` (``"auto"``: headers up to :data:`~nbdiag.io.coco.AUTO_HEADER_LIMIT` images,
    existence beyond). ``name`` defaults to the task's name in the meta, else the file's stem.
    Problems go to ``samples.issues`` and ``samples.annotation_problems``.
    """
    reader = _parse(source, image_root)
    parsed = reader.finish(class_names)
    if name is None:
        name = reader.name or Path(reader.path).stem
    return to_dataset(parsed, name=name, check_images=check_images, progress=progress)


def _parse(source: str | os.PathLike[str], image_root: str | os.PathLike[str] | None) -> _Reader:
    path = os.path.abspath(os.path.expanduser(os.fspath(source)))
    if os.path.isdir(path):
        path = os.path.join(path, "annotations.xml")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"CVAT file {path!r} does not exist")
    folder = os.path.dirname(path)
    if image_root is None:
        images = os.path.join(folder, "images")
        root = images if os.path.isdir(images) else folder
    else:
        root = os.path.abspath(os.path.expanduser(image_root))
    reader = _Reader(path, root)
    try:
        for event, elem in ET.iterparse(path, events=("start", "end")):
            reader.feed(event, elem)
    except ET.ParseError as exc:
        raise ValueError(f"{path!r} is not a well-formed XML file: {exc}") from exc
    if reader.tracks and not reader.images:
        raise ValueError(
            f"{path!r} is a CVAT for video export (tracks only); export the task as "
            "'CVAT for images 1.1'"
        )
    return reader


# ---------------------------------------------------------------------- reading
class _Reader:
    """Fed the parser's events; keeps one image element in memory at a time."""

    def __init__(self, path: str, root: str):
        self.path, self.src, self.root = path, os.path.basename(path), root
        self.top: ET.Element | None = None
        self.name: str | None = None
        self.depth = 0
        self.tracks = 0
        self.images: list[dict[str, Any]] = []
        self.boxes: list[dict[str, Any]] = []
        self.problems: list[tuple[int | None, str, str]] = []
        self.labels: list[str] = []
        #: task id (None: the one task or job) -> (assignee, subset, [(start, stop, assignee)])
        self.scopes: dict[str | None, tuple[str | None, str | None, list[Any]]] = {}

    def feed(self, event: str, elem: ET.Element) -> None:
        if event == "start":
            self.depth += 1
            if self.depth == 1:
                if elem.tag != "annotations":
                    raise ValueError(
                        f"{self.path!r}: the root element is <{elem.tag}>, not <annotations> "
                        "(not a CVAT for images 1.1 file)"
                    )
                self.top = elem
            return
        self.depth -= 1
        if self.depth != 1 or self.top is None:
            return
        if elem.tag == "meta":
            self._meta(elem)
        elif elem.tag == "image":
            self._image(elem)
        elif elem.tag == "track":
            self.tracks += 1
            msg = f"{self.src} track {elem.get('id')!r}: CVAT for video tracks are not read"
            self.problems.append((None, "malformed_annotation", msg))
        self.top.remove(elem)

    def _meta(self, meta: ET.Element) -> None:
        scopes = [(None, meta.find(tag)) for tag in ("task", "job")]
        project = meta.find("project")
        if project is not None:
            scopes += [(_text(t, "id"), t) for t in project.findall("tasks/task")]
        owners = [o for o in (project, meta.find("task"), meta.find("job")) if o is not None]
        self.name = self.name or next((_text(o, "name") for o in owners if _text(o, "name")), None)
        for owner in owners[:1] if not self.labels else []:
            for label in owner.findall("labels/label"):
                name = _text(label, "name")
                if name and not _text(label, "parent") and name not in self.labels:
                    self.labels.append(name)
        for tid, el in scopes:
            if el is None:
                continue
            segments = []
            for seg in el.findall("segments/segment"):
                start, stop = _int(_text(seg, "start")), _int(_text(seg, "stop"))
                who = _person(seg.find("assignee"))
                if start is not None and stop is not None and who:
                    segments.append((start, stop, who))
            subset = _text(el, "subset")
            self.scopes[tid] = (_person(el.find("assignee")), subset, segments)

    def _image(self, elem: ET.Element) -> None:
        at = len(self.images)
        name = elem.get("name") or None
        what = f"{self.src} image {name!r}" if name else f"{self.src} image at position {at}"
        sizes = []
        for key in ("width", "height"):
            raw = elem.get(key)
            size = _float(raw)
            if raw is not None and (size is None or size <= 0):
                self._problem(at, "malformed_annotation", f"{what}: {key} {raw!r} is not a size")
            sizes.append(size if size is not None and size > 0 else np.nan)
        path = None if name is None else os.path.join(self.root, name)
        if name is None:
            self._problem(at, "malformed_annotation", f"{what}: no name")
        cvat_id = _int(elem.get("id"))
        row: dict[str, Any] = {
            "_id": name if name else at,
            "file_name": name,
            "path": path,
            "width": sizes[0],
            "height": sizes[1],
            "what": what,
            "nbdiag_id": elem.get("nbdiag_id") or None,
            "cvat_id": elem.get("id") if cvat_id is None else cvat_id,
            "_subset": elem.get("subset"),
            "_task": elem.get("task_id"),
        }
        if elem.get("task_id") is not None:
            row["cvat_task_id"] = _int(elem.get("task_id"))
        tags: list[str] = []
        counts: dict[str, int] = {}
        for child in elem:
            k = counts[child.tag] = counts.get(child.tag, -1) + 1
            cwhat = f"{what} {child.tag} {k}"
            if child.tag in _UNSUPPORTED:
                self._problem(at, "malformed_annotation", f"{cwhat}: {child.tag} not supported")
            elif child.tag in _SHAPES or child.tag == "tag":
                try:
                    self._shape(child, at, cwhat, row, tags)
                except _Bad as bad:
                    self._problem(at, bad.kind, f"{cwhat}: {bad}")
        if len(set(tags)) > 1:
            self._problem(at, "malformed_annotation", f"{what}: several tags {sorted(set(tags))}")
        row["label"] = tags[0] if len(set(tags)) == 1 else None
        self.images.append(row)

    def _shape(
        self, el: ET.Element, at: int, what: str, image: dict[str, Any], tags: list[str]
    ) -> None:
        label = el.get("label")
        if not label:
            raise _Bad("malformed_annotation", "no label")
        source = el.get("source")
        attrs = {a.get("name"): a.text or "" for a in el.findall("attribute") if a.get("name")}
        score = np.nan
        raw = attrs.get("score", "").strip()  # CVAT writes declared attributes empty when unset
        if source in PRELABEL_SOURCES and raw:
            del attrs["score"]
            value = _float(raw)
            if el.tag == "tag":  # a class prediction may come without a confidence ("nan")
                image.setdefault("prediction", label)
                image.setdefault("confidence", np.nan if value is None else value)
                return
            if value is None:
                raise _Bad("malformed_annotation", f"pre-label score {raw!r} is not a number")
            score = value
        if el.tag == "tag":
            tags.append(label)
            return
        hint = attrs.pop("nbdiag_id", "").strip() or None
        row = _geometry(el)
        row.update(
            image=at,
            label=label,
            score=score,
            hint=hint,
            what=what,
            occluded=el.get("occluded") in _TRUE,
            cvat_source=source,
            prelabel=not np.isnan(score),
        )
        row.update({f"attr:{k}": v for k, v in attrs.items()})
        self.boxes.append(row)

    def _problem(self, at: int | None, kind: str, message: str) -> None:
        self.problems.append((at, kind, message))

    def finish(self, class_names: Sequence[str] | None) -> Parsed:
        found = {b["label"] for b in self.boxes}
        found |= {i[c] for i in self.images for c in ("label", "prediction") if i.get(c)}
        if class_names is not None:
            names = [str(c) for c in class_names]
        else:
            names = self.labels or sorted(found)
        parsed = Parsed(source=self.path, class_names=names)
        ids = _distinct_ids([i.pop("_id") for i in self.images])
        who_of = []
        for at, (row, sid) in enumerate(zip(self.images, ids, strict=True)):
            task, subset = row.pop("_task"), row.pop("_subset")
            scope = self.scopes.get(task) or self.scopes.get(None) or (None, None, [])
            who, scope_subset, segments = scope
            frame = row["cvat_id"] if isinstance(row["cvat_id"], int) else None
            for start, stop, person in segments:
                if frame is not None and start <= frame <= stop:
                    who = person
                    break
            split = subset if subset is not None else scope_subset
            row.update(annotator=who, split=None if split in (None, "", "default") else split)
            who_of.append(who)
            if row["label"] is not None and row["label"] not in names:
                self._problem(at, "unknown_class", f"{row['what']}: class {row['label']!r} (tag)")
                row["label"] = None
            parsed.add_image(id=sid, **row)
        for b in self.boxes:
            b["annotator"] = None if b.pop("prelabel") else who_of[b["image"]]
            parsed.add_box(**b)
        for at, kind, message in self.problems:
            parsed.problem(at, kind, message)
        return parsed


def _geometry(el: ET.Element) -> dict[str, Any]:
    """The pixel box (``x, y, w, h``, and ``rotation`` / ``segmentation``) of a shape."""
    if el.tag == "polygon":
        flat = []
        for pair in (el.get("points") or "").split(";"):
            xy = [_float(c) for c in pair.split(",")]
            if len(xy) != 2 or None in xy:
                points = el.get("points")
                raise _Bad("malformed_annotation", f"points {points!r} are not x,y;x,y;…")
            flat += xy
        xs, ys = flat[0::2], flat[1::2]
        return {
            "x": min(xs),
            "y": min(ys),
            "w": max(xs) - min(xs),
            "h": max(ys) - min(ys),
            "segmentation": [flat],
        }
    keys = {
        "box": ("xtl", "ytl", "xbr", "ybr"),
        "ellipse": ("cx", "cy", "rx", "ry"),
        "mask": ("left", "top", "width", "height"),
    }[el.tag]
    a, b, c, d = (_number(el, k) for k in keys)
    if el.tag == "mask":
        return {"x": a, "y": b, "w": c, "h": d}
    rot = _number(el, "rotation") if el.get("rotation") is not None else 0.0
    if el.tag == "box" and not rot % 360:
        return {"x": a, "y": b, "w": c - a, "h": d - b}
    cos, sin = abs(math.cos(math.radians(rot))), abs(math.sin(math.radians(rot)))
    if el.tag == "box":  # rotated about its centre: the rotated rectangle's extent
        hw, hh = (c - a) / 2, (d - b) / 2
        cx, cy, hw, hh = a + hw, b + hh, hw * cos + hh * sin, hw * sin + hh * cos
    else:  # an ellipse's extent
        cx, cy = a, b
        hw, hh = math.hypot(c * cos, d * sin), math.hypot(c * sin, d * cos)
    return {"x": cx - hw, "y": cy - hh, "w": 2 * hw, "h": 2 * hh, "rotation": rot}


def _number(el: ET.Element, key: str) -> float:
    value = _float(el.get(key))
    if value is None:
        raise _Bad("malformed_annotation", f"{key} {el.get(key)!r} is not a number")
    return value


def _float(text: str | None) -> float | None:
    """A finite number from an attribute's text, else None."""
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _int(text: str | None) -> int | None:
    try:
        return int(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _text(el: ET.Element, path: str) -> str | None:
    found = el.find(path)
    text = None if found is None or found.text is None else found.text.strip()
    return text or None


def _person(el: ET.Element | None) -> str | None:
    """A CVAT user element's username, else its email."""
    return None if el is None else (_text(el, "username") or _text(el, "email"))


def _distinct_ids(ids: list[Any]) -> list[Any]:
    """:func:`unique_ids` until no two are equal (``["a", "a", "a#2"]`` needs two rounds)."""
    while len(set(ids)) < len(ids):
        ids = unique_ids(ids)
    return ids
