"""Label Studio: read its JSON export, write tasks to import into it.

An export is a list of tasks: ``data`` (the image reference and any keys the import gave),
``annotations`` (each with a ``result`` list, ``completed_by``, ``was_cancelled``,
``ground_truth``, ``created_at``/``updated_at``) and ``predictions`` (``model_version``,
``score``, ``result``). A rectangle result's ``value`` is in percent of the image (``x, y,
width, height`` in 0..100, top-left corner, ``rotation`` in degrees clockwise about that
corner); ``original_width``/``original_height`` give the image's size in pixels, so boxes are
converted to pixels here. The writer produces the same task shape for Label Studio's import,
plus a labelling config (``<stem>_config.xml``) whose control names (``label``, ``image``)
match the results.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from ...core.images import probe_image
from ._labelstudio_results import PERCENT_TOLERANCE, Bad, number, original_size, read_result
from ._parsed import IMAGE_COLUMNS, Parsed, to_dataset, unique_ids
from ._tool_write import write_labelstudio

if TYPE_CHECKING:
    from ...core import DatasetCore

__all__ = ["from_labelstudio", "read_labelstudio", "write_labelstudio", "PERCENT_TOLERANCE"]

#: which of a task's annotations is read (cancelled ones are never read)
ANNOTATION_CHOICES = ("last", "first", "ground_truth")
_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_URL_START = ("http://", "https://", "s3://", "gs://", "azure-blob://", "/data/", "data:image")
#: extra ``data`` keys with these names get a ``data_`` prefix as sample columns
_RESERVED = set(IMAGE_COLUMNS) | {"annotation_problems", "prediction", "confidence", "_id"}


def read_labelstudio(
    source: str | os.PathLike[str] | Sequence[Any],
    *,
    class_names: Sequence[str] | None = None,
    image_root: str | os.PathLike[str] | None = None,
    annotation: str = "last",
) -> Parsed:
    """Parse a Label Studio JSON export (or task import file) into :class:`Parsed`.

    Parameters
    ----------
    source
        The JSON file (a list of tasks; a single task object is read as one task), or the
        already-loaded list.
    class_names
        The classes, in order (default: every class name found, sorted).
    image_root
        Where image references resolve: Label Studio's local-file URLs
        (``/data/local-files/?d=<path>``) to ``image_root/<path>`` (pass the folder
        ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT`` named), uploads (``/data/upload/<p>/<f>``)
        to ``image_root/upload/<p>/<f>`` (pass Label Studio's ``media`` folder). Without it
        those images have no local ``path``. Plain relative paths resolve against it (default:
        the JSON file's folder); ``http(s)://``, ``s3://``, ``gs://`` references have no path.
    annotation
        Which annotation of a task is read when it has several: ``"last"`` (default: latest
        ``updated_at``, else ``created_at``, else the last in the list), ``"first"`` (earliest
        ``created_at``, else the first in the list) or ``"ground_truth"`` (the one marked
        ground truth, latest first; tasks without one fall back to ``"last"``). Cancelled
        (skipped) annotations are never read; a task with only those has no labels.

    What is read: the image reference is ``data.image`` or else the first ``data`` value that
    looks like an image (``file_name`` as written); ``data.nbdiag_id`` becomes ``nbdiag_id``;
    other ``data`` keys become image columns (``data_<key>`` where the name is taken).
    ``completed_by`` becomes ``annotator`` of the image and its boxes (the email when Label
    Studio gives a user object, else ``"user <id>"``). ``rectanglelabels`` results become
    pixel boxes; a rotated rectangle becomes the extent of the rotated box (its angle in a
    ``rotation`` column, NaN for unrotated boxes); ``polygonlabels`` become their extent with
    the polygon, in pixels, in ``segmentation`` (COCO style ``[[x1, y1, x2, y2, ...]]``);
    ``choices`` become the image ``label``. Each box keeps its result id in ``ls_id``;
    ``hint`` is ``meta.nbdiag_id`` (what nbdiag's writer put there) or else the result id.
    Predictions become boxes with a ``score`` (the result's, else the prediction's, else 1.0)
    and their ``model_version``; predicted ``choices`` fill the image columns ``prediction``
    and ``confidence``.

    Problems (recorded per task, never raised): a task without an image reference, a result of
    an unsupported type (``relation`` results are ignored), a ``value`` missing keys or holding
    non-numbers, no ``original_width``/``original_height`` where the local image cannot be read
    either, a rotated image (``image_rotation`` not 0: not supported), percent coordinates
    outside 0..100 by more than :data:`PERCENT_TOLERANCE` (``invalid_box``), several classes
    on one region or several choices, and image classes not in ``class_names``
    (``unknown_class``). Messages name ``"task <id> result <result id>"``; an image's ``what``
    is ``"task <id>"``.

    Raises ``ValueError`` naming the file when it is not JSON or not a list of tasks, and for
    an unknown ``annotation``.
    """
    if annotation not in ANNOTATION_CHOICES:
        raise ValueError(
            f"annotation must be one of {list(ANNOTATION_CHOICES)}, got {annotation!r}"
        )
    tasks, src, folder = _load(source)
    root = None if image_root is None else os.path.abspath(os.path.expanduser(image_root))
    images: list[dict[str, Any]] = []
    boxes: list[dict[str, Any]] = []
    problems: list[tuple[int | None, str, str]] = []
    for pos, task in enumerate(tasks):
        if not isinstance(task, Mapping):
            msg = f"{src} task at position {pos}: a {type(task).__name__}, not an object"
            problems.append((None, "malformed_annotation", msg))
            continue
        reader = _TaskReader(task, pos, src, len(images), root, folder, annotation)
        images.append(reader.image)
        boxes.extend(reader.boxes)
        problems.extend(reader.problems)

    found = {b["label"] for b in boxes}
    found |= {i[c] for i in images for c in ("label", "prediction") if isinstance(i.get(c), str)}
    names = [str(c) for c in class_names] if class_names is not None else sorted(found)
    full = os.path.join(folder, src) if isinstance(source, (str, os.PathLike)) else src
    parsed = Parsed(source=full, class_names=names)
    ids = _distinct_ids([i.pop("_id") for i in images])
    for k, (row, sid) in enumerate(zip(images, ids, strict=True)):
        if row["label"] is not None and row["label"] not in names:
            msg = f"{src} {row['what']}: class {row['label']!r} (choices)"
            problems.append((k, "unknown_class", msg))
            row["label"] = None
        parsed.add_image(id=sid, **row)
    for b in boxes:
        parsed.add_box(**b)
    for image, kind, message in problems:
        parsed.problem(image, kind, message)
    return parsed


def from_labelstudio(
    source: str | os.PathLike[str] | Sequence[Any],
    *,
    class_names: Sequence[str] | None = None,
    image_root: str | os.PathLike[str] | None = None,
    name: str | None = None,
    check_images: bool | str = "auto",
    progress: bool | None = None,
    annotation: str = "last",
) -> DatasetCore:
    """Build a dataset from a Label Studio JSON export.

    Reads what :func:`read_labelstudio` documents (``class_names``, ``image_root`` and
    ``annotation`` are its arguments). Sample ids are the task ids (tasks without one, as in a
    task import file: their ``data.nbdiag_id``, else their position in the list; repeated ids
    get ``#2``, ``#3``); object ids number the boxes ``0, 1, ...`` in reading order (a task's
    annotation, then its predictions; each box's result id is in the ``ls_id`` column).
    Predictions are left out (read them with :func:`read_labelstudio`).
    ``check_images`` and ``progress`` work as in :func:`~nbdiag.io.from_coco` (``"auto"``:
    headers up to :data:`~nbdiag.io.coco.AUTO_HEADER_LIMIT` images, existence beyond); sizes come from the
    results' ``original_width``/``original_height``, from the files when a task has none.
    ``name`` defaults to the file's stem. Problems go to ``samples.issues`` and
    ``samples.annotation_problems``.
    """
    parsed = read_labelstudio(
        source, class_names=class_names, image_root=image_root, annotation=annotation
    )
    if name is None:
        name = (
            Path(os.fspath(source)).stem
            if isinstance(source, (str, os.PathLike))
            else "labelstudio"
        )
    return to_dataset(parsed, name=name, check_images=check_images, progress=progress)


# ---------------------------------------------------------------------- reading
def _load(source: Any) -> tuple[list[Any], str, str]:
    """``(tasks, how messages name the source, folder relative paths resolve against)``."""
    if isinstance(source, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(source))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Label Studio file {path!r} does not exist")
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise ValueError(f"Label Studio file {path!r} is not valid JSON: {exc}") from exc
        src, folder = os.path.basename(path), os.path.dirname(path)
    else:
        data, src, folder = source, "Label Studio tasks", os.getcwd()
    if isinstance(data, Mapping) and "data" in data:
        data = [data]
    if not isinstance(data, list):
        raise ValueError(
            f"{src}: a Label Studio export is a list of tasks, got a {type(data).__name__}"
        )
    return data, src, folder


class _TaskReader:
    """One task: its image row, boxes and problems (image position ``pos_image``)."""

    def __init__(
        self,
        task: Mapping[str, Any],
        pos: int,
        src: str,
        pos_image: int,
        root: str | None,
        folder: str,
        mode: str,
    ):
        self.src, self.at = src, pos_image
        self.boxes: list[dict[str, Any]] = []
        self.problems: list[tuple[int | None, str, str]] = []
        tid = task.get("id")
        tid = tid if _scalar_id(tid) else None
        self.what = f"task {tid}" if tid is not None else f"task at position {pos}"
        data = task.get("data")
        if not isinstance(data, Mapping):
            self._problem("malformed_annotation", "no 'data' object")
            data = {}
        key, ref = _image_ref(data)
        if ref is None:
            self._problem("malformed_annotation", "no image reference in 'data'")
        path = _local_path(ref, root, folder)
        nid = data.get("nbdiag_id")
        nid = nid if _scalar_id(nid) else None
        self.path, self.size, self.size_tried = path, None, False
        self.choices: list[str] = []
        self.prediction: tuple[str, float] | None = None
        ann = self._annotation(task.get("annotations"), mode)
        who = None if ann is None else _annotator(ann.get("completed_by"))
        results = [] if ann is None else self._list(ann.get("result"), "annotation 'result'")
        preds = self._list(task.get("predictions"), "'predictions'")
        every = list(results)
        for p in preds:
            if isinstance(p, Mapping) and isinstance(p.get("result"), list):
                every += p["result"]
        sizes = (original_size(r) for r in every if isinstance(r, Mapping))
        self.size = next((size for size in sizes if size is not None), None)
        for k, res in enumerate(results):
            self._result(res, k, "", who, None)
        for j, p in enumerate(preds):
            if not isinstance(p, Mapping):
                self._problem("malformed_annotation", f"prediction {j} is not an object")
                continue
            version = p.get("model_version")
            pred = (number(p.get("score")), None if version is None else str(version))
            for k, res in enumerate(self._list(p.get("result"), f"prediction {j} 'result'")):
                self._result(res, k, f" prediction {j}", None, pred)
        label = self.choices[0] if self.choices else None
        if len(set(self.choices)) > 1:
            self._problem("malformed_annotation", f"several choices {sorted(set(self.choices))}")
            label = None
        size = self.size or (np.nan, np.nan)
        self.image: dict[str, Any] = {
            "_id": tid if tid is not None else (nid if nid is not None else pos),
            "file_name": ref,
            "path": path,
            "width": size[0],
            "height": size[1],
            "label": label,
            "annotator": who,
            "nbdiag_id": nid,
            "what": self.what,
        }
        if self.prediction is not None:
            self.image["prediction"], self.image["confidence"] = self.prediction
        for k, value in data.items():
            k = str(k)
            if k not in (key, "nbdiag_id"):
                col = f"data_{k}" if k in _RESERVED or k.startswith("data_") else k
                self.image[col] = json.dumps(value) if isinstance(value, (list, dict)) else value

    def _problem(self, kind: str, message: str) -> None:
        self.problems.append((self.at, kind, f"{self.src} {self.what}: {message}"))

    def _list(self, value: Any, what: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self._problem("malformed_annotation", f"{what} is a {type(value).__name__}, not a list")
            return []
        return value

    def _annotation(self, anns: Any, mode: str) -> Mapping[str, Any] | None:
        ok = []
        for k, a in enumerate(self._list(anns, "'annotations'")):
            if not isinstance(a, Mapping):
                self._problem("malformed_annotation", f"annotation {k} is not an object")
            elif not a.get("was_cancelled"):
                ok.append(a)
        if mode == "ground_truth":
            gt = [a for a in ok if a.get("ground_truth") is True]
            ok, mode = (gt or ok), "last"
        if not ok:
            return None
        first = mode == "first"
        keys = ("created_at", "updated_at") if first else ("updated_at", "created_at")
        times = [_time(a.get(keys[0])) or _time(a.get(keys[1])) for a in ok]
        order = list(range(len(ok)))
        if all(t is not None for t in times):
            order.sort(key=lambda k: times[k])  # type: ignore[arg-type, return-value]
        return ok[order[0] if first else order[-1]]

    def _fallback_size(self) -> tuple[float, float] | None:
        """The image size any result gives, else the local file's (read once)."""
        if not self.size_tried:
            self.size_tried = True
            if self.size is None and self.path is not None and os.path.isfile(self.path):
                info = probe_image(self.path, decode=False)
                if np.isfinite(info.width) and np.isfinite(info.height):
                    self.size = (float(info.width), float(info.height))
        return self.size

    def _result(
        self,
        res: Any,
        k: int,
        where: str,
        who: str | None,
        pred: tuple[float | None, str | None] | None,
    ) -> None:
        """Read one result; ``pred``: ``(prediction score, model version)`` for predictions."""
        rid = res.get("id") if isinstance(res, Mapping) else None
        rid = rid if _scalar_id(rid) else None
        name = f"result {rid!r}" if rid is not None else f"result at position {k}"
        what = f"{self.what}{where} {name}"
        try:
            kind, row = read_result(res, self._fallback_size)
        except Bad as bad:
            self.problems.append((self.at, bad.kind, f"{self.src} {what}: {bad}"))
            return
        if kind == "skip":
            return
        own = number(res.get("score"))
        score = None if pred is None else (own if own is not None else pred[0])
        if kind == "choice":
            if pred is None:
                self.choices.append(row)
            elif self.prediction is None:
                self.prediction = (row, np.nan if score is None else score)
            return
        meta = res.get("meta")
        hint = meta.get("nbdiag_id") if isinstance(meta, Mapping) else None
        row.update(
            image=self.at,
            score=np.nan if pred is None else (1.0 if score is None else score),
            annotator=who,
            hint=hint if _scalar_id(hint) else rid,
            what=what,
            ls_id=rid,
        )
        if pred is not None:
            row["model_version"] = pred[1]
        self.boxes.append(row)


def _scalar_id(x: Any) -> bool:
    return isinstance(x, str) or (
        isinstance(x, (int, float)) and not isinstance(x, bool) and number(x) is not None
    )


def _time(x: Any) -> float | None:
    if not isinstance(x, str):
        return None
    try:
        t = datetime.fromisoformat(x.strip().replace("Z", "+00:00"))  # "Z": Python < 3.11
        return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def _annotator(who: Any) -> str | None:
    if isinstance(who, Mapping):
        email = who.get("email")
        if isinstance(email, str) and email:
            return email
        who = who.get("id")
    if isinstance(who, bool) or who is None:
        return None
    if isinstance(who, int):
        return f"user {who}"
    return str(who) if isinstance(who, str) and who else None


def _image_ref(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(key, reference)``: ``data.image``, else the first value that looks like an image."""
    if isinstance(data.get("image"), str) and data["image"]:
        return "image", data["image"]
    for key, value in data.items():
        if isinstance(value, str) and value and key != "nbdiag_id":
            low = value.lower().split("?")[0]
            if value.startswith(_URL_START) or low.endswith(_IMAGE_EXT):
                return key, value
    return None, None


def _local_path(ref: str | None, root: str | None, folder: str) -> str | None:
    """The local file a reference names, or None (remote, or unknown root)."""
    if ref is None:
        return None
    try:
        parts = urlsplit(ref)
    except ValueError:  # e.g. a malformed IPv6 host
        return None
    if parts.path.endswith("/data/local-files/") or parts.path == "/data/local-files":
        d = parse_qs(parts.query).get("d")
        return None if root is None or not d else os.path.join(root, d[0])
    if "/data/upload/" in parts.path:
        rest = unquote(parts.path.split("/data/upload/", 1)[1])
        return None if root is None else os.path.join(root, "upload", rest)
    if parts.scheme and len(parts.scheme) > 1:  # a URL (a Windows drive letter is one letter)
        return None
    return os.path.join(root if root is not None else folder, ref)


def _distinct_ids(ids: list[Any]) -> list[Any]:
    """:func:`unique_ids` until no two are equal (``["a", "a", "a#2"]`` needs two rounds)."""
    while len(set(ids)) < len(ids):
        ids = unique_ids(ids)
    return ids
