"""What an annotation file says, before it meets a dataset: :class:`Parsed`, the one shape every
format reader (YOLO, VOC, Label Studio, CVAT, Hugging Face) produces, and :func:`to_dataset`,
which turns it into a dataset the way every ``from_*`` reader does.

The same :class:`Parsed` feeds :func:`nbdiag.io.relabel.import_labels` (matched against an
existing dataset instead of building one), so a format is read by one function only.

Problems a reader meets in one line or element (a malformed line, an unknown class id, a box
outside its image) never abort the load: the reader records them with :meth:`Parsed.problem`;
:func:`to_dataset` puts the problem's kind in ``samples.issues`` and its text (file and line)
in ``samples.annotation_problems``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...core import new_dataset
from .._probe import probe_mode, probe_samples

if TYPE_CHECKING:
    from ...core import DatasetCore

#: columns of :attr:`Parsed.images` (a reader may add more; they become sample columns)
IMAGE_COLUMNS = (
    "id",  # the sample id the reader documents (stable for unchanged files)
    "file_name",  # the image as the file names it (relative path, name or URL); None if none
    "path",  # absolute local path of the image file, None when not local / unknown
    "width",  # pixels, NaN when the file does not say
    "height",
    "label",  # image-level class name (classification), None when none
    "split",
    "annotator",  # who labelled the image, None when the format does not say
    "nbdiag_id",  # the sample id an nbdiag export wrote into the file, None when absent
    "what",  # how messages name this image: "Annotations/0001.xml", "task 12", ...
    "issues",  # problems a reader's own look at the file found ("missing_file", ...), or ""
)
#: columns of :attr:`Parsed.boxes` (a reader may add attributes: ``difficult``, ...)
BOX_COLUMNS = (
    "image",  # position (0-based row) of the box's image in :attr:`Parsed.images`
    "object_id",  # the object id the reader documents; None: numbered by to_dataset
    "label",  # class name
    "x",  # pixels, top-left origin (readers convert their format's convention)
    "y",
    "w",
    "h",
    "score",  # NaN for labels; a prediction's confidence (pre-labels, prediction files)
    "iscrowd",
    "annotator",
    "hint",  # an id the file carries for the box (an nbdiag export's object id), or None
    "what",  # how messages name this box: "labels/a.txt line 3", "task 12 result 'abc'"
)
#: kinds of problem recorded in ``samples.issues`` by readers
PROBLEM_KINDS = ("malformed_annotation", "unknown_class", "invalid_box", "missing_file")


@dataclass
class Parsed:
    """The images, boxes and classes one annotation source describes.

    Build it with :meth:`add_image`, :meth:`add_box` and :meth:`problem` (or assign frames
    with the documented columns), then :meth:`frames` returns the two tables.
    """

    source: str
    class_names: list[str] = field(default_factory=list)
    _images: list[dict[str, Any]] = field(default_factory=list)
    _boxes: list[dict[str, Any]] = field(default_factory=list)
    #: (image position or None, kind, message) for every problem found
    problems: list[tuple[int | None, str, str]] = field(default_factory=list)

    @classmethod
    def from_frames(
        cls,
        source: str,
        class_names: Sequence[str],
        images: pd.DataFrame,
        boxes: pd.DataFrame | None = None,
        problems: Sequence[tuple[int | None, str, str]] = (),
    ) -> Parsed:
        """A :class:`Parsed` from whole frames (readers that work column-wise, e.g. on Arrow
        data); the frames' columns are those of :data:`IMAGE_COLUMNS` / :data:`BOX_COLUMNS`."""
        parsed = cls(source, list(class_names))
        parsed._images = images  # type: ignore[assignment]
        if boxes is not None:
            parsed._boxes = boxes  # type: ignore[assignment]
        parsed.problems = list(problems)
        return parsed

    @property
    def n_images(self) -> int:
        return len(self._images)

    def add_image(self, **row: Any) -> int:
        """Record an image (keys from :data:`IMAGE_COLUMNS` and extra columns); its position."""
        self._images.append(row)
        return len(self._images) - 1

    def add_box(self, **row: Any) -> None:
        """Record a box (keys from :data:`BOX_COLUMNS` and extra attributes)."""
        self._boxes.append(row)

    def problem(self, image: int | None, kind: str, message: str) -> None:
        """Record a problem of image ``image`` (position; None: not tied to an image).

        ``message`` names the file and line / element, e.g. ``"labels/a.txt line 3: 5 values,
        expected 5 or 6"``."""
        if kind not in PROBLEM_KINDS:
            raise ValueError(f"unknown problem kind {kind!r}; use one of {PROBLEM_KINDS}")
        self.problems.append((image, kind, message))

    def images(self) -> pd.DataFrame:
        """One row per image, :data:`IMAGE_COLUMNS` first (missing ones filled)."""
        frame = pd.DataFrame(self._images)
        defaults: dict[str, Any] = {
            "id": None,
            "file_name": None,
            "path": None,
            "width": np.nan,
            "height": np.nan,
            "label": None,
            "split": None,
            "annotator": None,
            "nbdiag_id": None,
            "what": None,
            "issues": "",
        }
        for col, default in defaults.items():
            if col not in frame.columns:
                frame[col] = pd.Series([default] * len(frame), dtype=object)
        frame["issues"] = frame["issues"].fillna("").astype(str)
        if len(frame) and frame["id"].isna().any():
            frame["id"] = frame["id"].where(frame["id"].notna(), pd.Series(range(len(frame))))
        for col in ("width", "height"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
        first = list(IMAGE_COLUMNS)
        return frame[first + [c for c in frame.columns if c not in first]]

    def boxes(self) -> pd.DataFrame:
        """One row per box, :data:`BOX_COLUMNS` first (missing ones filled)."""
        frame = pd.DataFrame(self._boxes)
        defaults: dict[str, Any] = {
            "image": 0,
            "object_id": None,
            "label": None,
            "x": np.nan,
            "y": np.nan,
            "w": np.nan,
            "h": np.nan,
            "score": np.nan,
            "iscrowd": False,
            "annotator": None,
            "hint": None,
            "what": None,
        }
        for col, default in defaults.items():
            if col not in frame.columns:
                frame[col] = pd.Series([default] * len(frame), dtype=object)
        frame["image"] = frame["image"].astype(np.int64)
        for col in ("x", "y", "w", "h", "score"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
        frame["iscrowd"] = frame["iscrowd"].fillna(False).astype(bool)
        first = list(BOX_COLUMNS)
        return frame[first + [c for c in frame.columns if c not in first]]


def box_is_invalid(boxes: pd.DataFrame, width: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Boxes that cannot be placed: non-finite, negative size, or outside their image by more
    than half a pixel (``width``/``height`` per box, NaN when unknown: then only the box's own
    numbers are checked)."""
    x, y, w, h = (boxes[c].to_numpy(float) for c in ("x", "y", "w", "h"))
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(x) & np.isfinite(y) & np.isfinite(w) & np.isfinite(h))
        bad |= (w < 0) | (h < 0) | (x < -0.5) | (y < -0.5)
        known_w, known_h = np.isfinite(width), np.isfinite(height)
        bad |= known_w & (x + w > width + 0.5)
        bad |= known_h & (y + h > height + 0.5)
    return bad


def to_dataset(
    parsed: Parsed,
    *,
    name: str,
    check_images: bool | str = "header",
    progress: bool | None = None,
    keep_predictions_as: str | None = None,
    images: Mapping[Hashable, np.ndarray] | None = None,
) -> DatasetCore:
    """A dataset from what a reader parsed.

        Sample ids are ``images.id``; object ids ``boxes.object_id`` (numbered ``0, 1, ...`` in
        reading order where the reader leaves them empty). Image files are checked with
        ``check_images`` (as :func:`~nbdiag.io.from_coco`'s argument); sizes the file gives fill
        what the annotation lacks. Boxes that cannot be placed (non-finite, negative, outside the
        image) are dropped and recorded as ``invalid_box``; ``images.issues`` (a reader that looked
    at the files itself, e.g. to read sizes, passes ``check_images=False``) are kept; every problem's text goes to
        ``samples.annotation_problems`` and a warning summarises them. Boxes with a score are a
        run named ``keep_predictions_as`` (dropped when None). ``annotator`` becomes a sample /
        object column when the source names any. ``images``: in-memory images (or a lazy image
    source) by sample id, as :class:`~nbdiag.Dataset` takes them.
    """
    table = parsed.images()
    boxes = parsed.boxes()
    problems = list(parsed.problems)

    samples = table.drop(columns=["file_name", "nbdiag_id", "what"]).set_index("id")
    samples.index.name = "id"
    mode = probe_mode(check_images, len(samples))
    samples = probe_samples(samples, mode, progress, desc=f"checking {name} images")

    width = samples["width"].to_numpy(float)[boxes["image"].to_numpy()] if len(boxes) else []
    height = samples["height"].to_numpy(float)[boxes["image"].to_numpy()] if len(boxes) else []
    bad = box_is_invalid(boxes, np.asarray(width), np.asarray(height)) if len(boxes) else []
    for k in np.flatnonzero(bad):
        b = boxes.iloc[k]
        problems.append(
            (
                int(b["image"]),
                "invalid_box",
                f"{b['what'] or 'box'}: box x={b['x']:g} y={b['y']:g} w={b['w']:g} "
                f"h={b['h']:g} does not fit the {_size_text(width[k], height[k])} image",
            )
        )
    if len(boxes):
        boxes = boxes[~np.asarray(bad, dtype=bool)]
    known = set(parsed.class_names)
    unknown = boxes["label"].isna() | ~boxes["label"].isin(known)
    for k in np.flatnonzero(unknown.to_numpy()):
        b = boxes.iloc[k]
        problems.append(
            (int(b["image"]), "unknown_class", f"{b['what'] or 'box'}: class {b['label']!r}")
        )
    boxes = boxes[~unknown.to_numpy()]
    _record_problems(samples, problems)

    ids = samples.index.to_numpy(dtype=object)
    objects = boxes.drop(columns=["hint", "what"]).copy()
    objects.insert(0, "sample_id", pd.Series(ids[boxes["image"].to_numpy()], dtype=object).values)
    objects = objects.drop(columns=["image"])
    preds = objects["score"].notna().to_numpy()
    objects["source"] = "gt"
    if keep_predictions_as is not None:
        objects.loc[preds, "source"] = keep_predictions_as
    else:
        objects = objects[~preds].copy()
    if objects["object_id"].isna().all():
        objects["object_id"] = np.arange(len(objects))
    elif objects["object_id"].isna().any():
        raise ValueError(f"{parsed.source}: some boxes have object ids and some do not")
    if objects["annotator"].isna().all():
        objects = objects.drop(columns=["annotator"])
    if samples["annotator"].isna().all():
        samples = samples.drop(columns=["annotator"])
    objects = objects.set_index("object_id")
    ds = new_dataset(samples, objects, class_names=parsed.class_names, images=images, name=name)
    return ds


def _size_text(w: float, h: float) -> str:
    return f"{w:g}x{h:g}" if np.isfinite(w) and np.isfinite(h) else "unknown-size"


def _record_problems(
    samples: pd.DataFrame, problems: Sequence[tuple[int | None, str, str]]
) -> None:
    """Problems into ``issues`` (kinds, comma-separated, each once) and
    ``annotation_problems`` (texts, "; "-separated); a warning naming the first few."""
    if not problems:
        return
    kinds: dict[int, list[str]] = {}
    texts: dict[int, list[str]] = {}
    loose = []
    for image, kind, message in problems:
        if image is None:
            loose.append(message)
            continue
        kinds.setdefault(image, [])
        if kind not in kinds[image]:
            kinds[image].append(kind)
        texts.setdefault(image, []).append(message)
    issues = samples["issues"].to_numpy(dtype=object).copy()
    detail = np.full(len(samples), "", dtype=object)
    for image, found in kinds.items():
        old = [i for i in str(issues[image]).split(",") if i]
        issues[image] = ",".join(old + [k for k in found if k not in old])
        detail[image] = "; ".join(texts[image])
    samples["issues"] = issues
    samples["annotation_problems"] = detail
    shown = [m for _, _, m in problems[:3]]
    warnings.warn(
        f"{len(problems)} annotation problem(s) in {len(kinds)} image(s)"
        + (f" and {len(loose)} outside any image" if loose else "")
        + f"; first: {' | '.join(shown)} (see samples.issues and samples.annotation_problems)",
        stacklevel=3,
    )


def relative_file_name(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    """``path`` relative to ``root`` with forward slashes (how sample ids name images)."""
    return os.path.relpath(os.fspath(path), os.fspath(root)).replace(os.sep, "/")


def unique_ids(ids: Sequence[Hashable]) -> list[Hashable]:
    """``ids`` made distinct: a repeated id gets the first free suffix ``#2``, ``#3``, ...
    (two files with one stem; never an id that also occurs as it is)."""
    taken = set(ids)
    seen: set[Hashable] = set()
    out: list[Hashable] = []
    for i in ids:
        if i not in seen:
            seen.add(i)
            out.append(i)
            continue
        n = 2
        while f"{i}#{n}" in taken or f"{i}#{n}" in seen:
            n += 1
        new = f"{i}#{n}"
        seen.add(new)
        out.append(new)
    return out
