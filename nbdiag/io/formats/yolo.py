"""YOLO / Ultralytics detection datasets: a ``data.yaml``, image folders (or lists of image
paths) and one label text file per image; prediction folders (``yolo predict save_txt=True
save_conf=True``); writing a selection back (:func:`write_yolo`).

A label file's lines are ``cls cx cy w h`` (a box, normalised to [0, 1]), ``cls x1 y1 ... xn
yn`` (an odd number of at least 7 values: a segmentation polygon or an oriented box, whose
extent is the box), ``cls cx cy w h conf`` (a prediction) or, for pose datasets (``kpt_shape``
in the YAML), the box followed by the keypoints. The label file of ``.../images/x/a.jpg`` is
``.../labels/x/a.txt`` (the last ``images`` folder of the path replaced by ``labels``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...core import validation as v
from .._probe import probe_files, probe_mode
from . import _yolo_parse as yp
from ._parsed import Parsed, to_dataset, unique_ids
from ._yolo_parse import IMG_SUFFIXES, BadLine, Layout, class_map, parse_line
from ._yolo_write import write_yolo

if TYPE_CHECKING:
    from ...core import DatasetCore

__all__ = ["from_yolo", "read_yolo", "read_yolo_predictions", "write_yolo"]


def read_yolo(
    source: str | os.PathLike[str],
    split: str | Sequence[str] | None = None,
    *,
    names: Sequence[str] | Mapping[int, str] | None = None,
    check_images: bool | str = "auto",
    progress: bool | None = None,
) -> Parsed:
    """Parse a YOLO / Ultralytics detection dataset (see :func:`from_yolo`) into a
    :class:`~nbdiag.io.formats.Parsed`, reading every image's header for its size.

    Each image's ``issues`` holds what reading its header found (``missing_file``,
    ``corrupt_image``, ...); boxes are in pixels; ``what`` is the label file's path
    relative to the dataset root; ``nbdiag_id`` is filled from the ``nbdiag_ids`` of a
    :func:`write_yolo` export. Malformed lines, unknown class ids, coordinates outside [0, 1]
    (beyond :data:`~nbdiag.io.formats._yolo_parse.COORD_TOLERANCE`, which is clipped) and
    boxes of images whose size could not be read are recorded as problems naming the label
    file and line; the rest loads.
    """
    layout = yp.read_layout(source, names)
    parsed = Parsed(source=layout.source, class_names=list(layout.names.values()))
    for message in layout.problems:
        parsed.problem(None, "malformed_annotation", message)
    found = _gather(layout, _chosen(layout, split), parsed)
    if not found:
        raise ValueError(f"{layout.source}: no images found (splits {list(layout.splits)})")
    mode = probe_mode(check_images) if check_images != "auto" else "header"
    mode = "decode" if mode == "decode" else "header"  # sizes are needed: always read headers
    paths = [p for p, _, _ in found]
    width, height, issues = probe_files(paths, mode, progress, desc="reading YOLO image headers")
    rel = [yp.rel(p, layout.root) for p in paths]
    ids = unique_ids(rel)
    labels = [yp.label_path(p) for p in paths]
    orphan_dirs = {
        os.path.dirname(lab) for lab, (_, _, scan) in zip(labels, found, strict=True) if scan
    }
    existing = yp.txt_files({os.path.dirname(lab) for lab in labels} | orphan_dirs)
    texts = yp.read_texts([lab if lab in existing else None for lab in labels], progress)
    extras: set[str] = set()
    for k, (path, split_name, _) in enumerate(found):
        what = yp.rel(labels[k], layout.root)
        pos = parsed.add_image(
            id=ids[k],
            file_name=rel[k],
            path=path,
            width=width[k],
            height=height[k],
            split=split_name,
            nbdiag_id=layout.ids.get(rel[k]),
            what=what,
            issues=issues[k],
        )
        text = texts[k]
        if isinstance(text, OSError):
            parsed.problem(pos, "malformed_annotation", f"{what}: cannot be read ({text})")
        elif text:
            size = (width[k], height[k], issues[k])
            extras |= _add_boxes(parsed, pos, text, what, size, layout)
    claimed = set(labels)
    for lab in sorted(
        f for f in existing if f not in claimed and os.path.dirname(f) in orphan_dirs
    ):
        if os.path.basename(lab) != "classes.txt":
            message = f"{yp.rel(lab, layout.root)}: label file without an image"
            parsed.problem(None, "missing_file", message)
    for box in parsed._boxes if extras else []:  # a None where a box has no polygon
        for col in extras:
            box.setdefault(col, None)
    return parsed


def from_yolo(
    source: str | os.PathLike[str],
    split: str | Sequence[str] | None = None,
    *,
    names: Sequence[str] | Mapping[int, str] | None = None,
    name: str | None = None,
    check_images: bool | str = "auto",
    progress: bool | None = None,
) -> DatasetCore:
    """Build a :class:`~nbdiag.Dataset` from a YOLO / Ultralytics detection dataset.

    Parameters
    ----------
    source
        A ``data.yaml`` (Ultralytics: ``path`` is the root, relative to the YAML's folder;
        ``train`` / ``val`` / ``test`` are each a folder of images, a ``.txt`` list of image
        paths (relative ones are relative to the list's folder), or a list of those; ``names``
        a list or a ``{id: name}`` mapping, or just ``nc``), or a dataset folder holding one
        (``data.yaml``, ``data.yml``, ``dataset.yaml``) or, without one, ``images/`` and
        ``labels/`` (each sub-folder of ``images/`` is a split) with class names from
        ``names=`` or a ``classes.txt`` (one name per line, in class-id order).
    split
        A split name or a list of them (default: every split the YAML names).
    names
        Class names (a list in class-id order, or ``{id: name}``), overriding the YAML's.
    name
        Display name (default: the dataset folder's name).
    check_images
        ``"decode"`` (or True) decodes every image (catching truncated files); anything else
        (``"auto"``, ``"header"``, ``"exists"``, False) reads each image's header, which YOLO
        needs anyway: its boxes are relative to the image size. Problems go to
        ``samples.issues`` (``missing_file``, ``corrupt_image``, ...).
    progress
        Show progress bars while reading (default: from 200 files on).

    Sample ids are the image paths relative to the dataset root, with forward slashes
    (``"images/train/000001.jpg"``; a second listing of the same file gets ``"#2"``), the
    ``split`` column the split's key. Object ids are ``0, 1, ...`` in reading order.
    Polygons are kept in the object column ``segmentation`` (a flat list of pixel
    coordinates ``[x1, y1, x2, y2, ...]``), keypoints of pose datasets in ``keypoints``; lines
    with a confidence (predictions) are left out. An image without a label file has no boxes
    (a background image). Problems in label files (malformed lines, class ids outside
    ``names``, coordinates outside the image, boxes of unreadable images) drop the line and
    are recorded in ``samples.issues`` / ``samples.annotation_problems`` naming the file and
    line. Raises ``ValueError`` naming the file when the source cannot be used (no class
    names, an unreadable YAML, no images).
    """
    parsed = read_yolo(source, split, names=names, check_images=check_images, progress=progress)
    if name is None:
        name = Path(os.fspath(source)).resolve().name
        if Path(os.fspath(source)).is_file():
            name = Path(os.fspath(source)).resolve().parent.name
        name = name or "yolo"
    return to_dataset(parsed, name=name, check_images=False, progress=progress)


def read_yolo_predictions(
    ds: DatasetCore,
    folder: str | os.PathLike[str],
    *,
    names: Sequence[str] | Mapping[int, str] | None = None,
) -> pd.DataFrame:
    """A folder of YOLO prediction files as a boxes frame for :meth:`Dataset.add_run`.

    ``folder`` (searched recursively) holds one ``<image stem>.txt`` per image, as
    ``yolo predict save_txt=True save_conf=True`` writes them: ``cls cx cy w h conf`` lines
    (``cls x1 y1 ... xn yn conf`` for segmentation / oriented boxes: their extent is the box).
    Files are matched to samples by the stem of the sample's image file (samples without a
    file by the name nbdiag's exports give them); class ids are positions in
    ``ds.class_names`` unless ``names`` (a list or ``{id: name}``) is given.

    Returns columns ``sample_id, label, x, y, w, h, score`` in pixels. Raises
    ``ValueError`` naming the file (and line) for files matching no sample or several (up
    to five listed), lines without a confidence, malformed lines, unknown class ids,
    coordinates outside [0, 1], and samples of unknown image size.
    """
    root = os.path.abspath(os.path.expanduser(os.fspath(folder)))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"YOLO predictions folder {root!r} does not exist")
    ids = class_map(names, "names=") if names is not None else dict(enumerate(ds.class_names))
    by_stem: dict[str, list[Hashable]] = {}
    for sid, p in ds.samples["path"].items():
        stem = os.path.splitext(os.path.basename(p))[0] if isinstance(p, str) else yp.file_safe(sid)
        by_stem.setdefault(stem, []).append(sid)
    files, _ = yp.walk(root, {"txt"})
    if "classes" not in by_stem:
        files = [f for f in files if os.path.basename(f) != "classes.txt"]
    stems: dict[str, str] = {}
    for f in files:
        stem = os.path.splitext(os.path.basename(f))[0]
        if stem in stems:
            raise ValueError(f"two prediction files for image stem {stem!r}: {stems[stem]}, {f}")
        stems[stem] = f
    unmatched = [f for s, f in stems.items() if s not in by_stem]
    if unmatched:
        raise ValueError(f"prediction files matching no sample's image: {v.listed(unmatched)}")
    several = [f for s, f in stems.items() if len(by_stem[s]) > 1]
    if several:
        raise ValueError(
            f"prediction files matching several samples' images: {v.listed(several)} "
            f"(e.g. {v.listed(by_stem[os.path.splitext(os.path.basename(several[0]))[0]])})"
        )
    size = ds.samples[["width", "height"]]
    rows: list[tuple[Any, ...]] = []
    for stem, f in stems.items():
        sid = by_stem[stem][0]
        width, height = float(size.at[sid, "width"]), float(size.at[sid, "height"])
        text = yp.read_texts([f], False)[0]
        if isinstance(text, OSError):
            raise ValueError(f"{f}: cannot be read ({text})")
        for n, line in enumerate((text or "").splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            try:
                cid, x1, y1, x2, y2, score, _, _ = parse_line(parts, None, predictions=True)
            except BadLine as exc:
                raise ValueError(f"{f} line {n}: {exc.reason}") from None
            if cid not in ids:
                raise ValueError(f"{f} line {n}: class id {cid} is not in {yp.describe(ids)}")
            if not (width > 0 and height > 0):
                raise ValueError(f"{f}: sample {v.show(sid)} has no known image size")
            w, h = (x2 - x1) * width, (y2 - y1) * height
            rows.append((sid, ids[cid], x1 * width, y1 * height, w, h, score))
    frame = pd.DataFrame(rows, columns=["sample_id", "label", "x", "y", "w", "h", "score"])
    frame["sample_id"] = frame["sample_id"].astype(object)
    for col in ("x", "y", "w", "h", "score"):
        frame[col] = frame[col].astype(float)
    return frame


# ---------------------------------------------------------------------- helpers
def _chosen(layout: Layout, split: str | Sequence[str] | None) -> list[str | None]:
    if split is None:
        return list(layout.splits)
    wanted = [split] if isinstance(split, str) else list(split)
    unknown = [s for s in wanted if s not in layout.splits]
    if unknown:
        known = [s for s in layout.splits if s is not None]
        raise ValueError(f"{layout.source}: no split {v.listed(unknown)}; splits are {known}")
    return list(dict.fromkeys(wanted))


def _gather(
    layout: Layout, splits: list[str | None], parsed: Parsed
) -> list[tuple[str, str | None, bool]]:
    """(image path, split, whether its folder was walked) of every image, in order."""
    found: list[tuple[str, str | None, bool]] = []
    for split in splits:
        for full, recursive, text in layout.splits[split]:
            where = f"{os.path.basename(layout.source)}: {split} {text!r}"
            kind = yp.kind(full)
            if kind == "dir":
                images, errors = yp.walk(full, IMG_SUFFIXES, recursive)
                found += [(p, split, True) for p in images]
                for e in errors:
                    parsed.problem(None, "missing_file", f"{where}: cannot list {e}")
            elif kind == "file" and yp.suffix(full) in IMG_SUFFIXES:
                found.append((full, split, False))
            elif kind == "file":
                found += [(p, split, False) for p in _listed(full, layout.root, parsed)]
            elif split is not None:
                parsed.problem(None, "missing_file", f"{where}: {full} does not exist")
    return found


def _listed(path: str, root: str, parsed: Parsed) -> list[str]:
    """The image paths a ``.txt`` list names (relative ones: to the list's folder)."""
    text = yp.read_texts([path], False)[0]
    name = yp.rel(path, root)
    if isinstance(text, OSError) or text is None:
        parsed.problem(None, "missing_file", f"{name}: cannot be read ({text})")
        return []
    base = os.path.dirname(path)
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if not entry:
            continue
        if yp.suffix(entry) not in IMG_SUFFIXES:
            parsed.problem(None, "malformed_annotation", f"{name} line {n}: not an image file")
            continue
        out.append(os.path.abspath(os.path.join(base, os.path.expanduser(entry))))
    return out


def _add_boxes(
    parsed: Parsed,
    pos: int,
    text: str,
    what: str,
    size: tuple[float, float, str],
    layout: Layout,
) -> set[str]:
    """Add the boxes of one label file; the attribute columns they have (``segmentation``,
    ``keypoints``)."""
    width, height, issue = size
    placeable = math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0
    extras: set[str] = set()
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            cid, x1, y1, x2, y2, score, poly, kpts = parse_line(parts, layout.kpt)
        except BadLine as exc:
            parsed.problem(pos, exc.kind, f"{what} line {n}: {exc.reason}")
            continue
        if cid not in layout.names:
            message = f"{what} line {n}: class id {cid} is not in {yp.describe(layout.names)}"
            parsed.problem(pos, "unknown_class", message)
            continue
        if not placeable:
            message = (
                f"{what} line {n}: the image's size is unknown ({issue or 'unreadable'}), "
                "so the box cannot be placed"
            )
            parsed.problem(pos, "invalid_box", message)
            continue
        box: dict[str, Any] = {
            "image": pos,
            "label": layout.names[cid],
            "x": x1 * width,
            "y": y1 * height,
            "w": (x2 - x1) * width,
            "h": (y2 - y1) * height,
            "score": score,
            "what": f"{what} line {n}",
        }
        if poly is not None:
            box["segmentation"] = [
                c * (width if i % 2 == 0 else height) for i, c in enumerate(poly)
            ]
            extras.add("segmentation")
        if kpts is not None and layout.kpt is not None:
            d = layout.kpt[1]
            scale = (width, height, 1.0)[:d]
            box["keypoints"] = [c * scale[i % d] for i, c in enumerate(kpts)]
            extras.add("keypoints")
        parsed.add_box(**box)
    return extras
