"""Hugging Face ``datasets``: image classification (a label column) and detection (a COCO-style
``objects`` column), read in place from the Arrow data.

``datasets`` is an optional dependency (``pip install 'nbdiag[hf]'``); a ``Dataset`` object is
read through its own methods (duck typing), so the package is imported only to load a folder
saved with ``save_to_disk``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..._optional import require
from ...core._tables import natural_key
from .._probe import probe_mode
from ..run_boxes import box_format_name, is_normalised
from ._hf_images import HFImages, read_images
from ._hf_objects import object_fields, parse_objects
from ._parsed import IMAGE_COLUMNS, Parsed, to_dataset

if TYPE_CHECKING:
    from ...core import DatasetCore

#: columns whose values become the sample ids when present and unique
ID_COLUMNS = ("image_id", "id")
#: sample columns a dataset column of that name would clash with (it is renamed ``hf_<name>``)
_RESERVED = set(IMAGE_COLUMNS) | {"annotation_problems", "issues"}


@dataclass
class _Read:
    parsed: Parsed
    images: HFImages | None
    name: str


def from_hf(
    hf_dataset: Any,
    image: str | None = "image",
    label: str | None = None,
    objects: str | None = None,
    *,
    split: str | Sequence[str] | None = None,
    bbox_format: str = "coco",
    class_names: Sequence[str] | None = None,
    name: str | None = None,
    check_images: bool | str = "auto",
    progress: bool | None = None,
) -> DatasetCore:
    """Build a :class:`~nbdiag.Dataset` from a Hugging Face dataset, without copying images.

    Parameters
    ----------
    hf_dataset
        A ``datasets.Dataset``, a ``DatasetDict`` (see ``split``), or the folder of one saved
        with ``save_to_disk``. (For a Hub dataset, call ``datasets.load_dataset`` first.)
    image
        The image column: an ``Image`` feature, or a string column of file paths; ``None`` for
        annotations only. When the default ``"image"`` is absent, the one ``Image`` column is
        used. Images stored as local files (``path`` set, ``bytes`` empty) become the samples'
        ``path``; images embedded in the Arrow data stay there and ``ds.image(id)`` decodes
        them on demand (nothing is written to disk; their headers are read once, for the
        sizes, with a progress bar for large datasets).
    label
        Classification: a ``ClassLabel`` column (class names from the feature), or a column of
        class names or integers (indices into ``class_names`` when given). Default ``"label"``
        when present and there are no objects. ``-1`` and nulls are unlabelled.
    objects
        Detection: a column holding per row a dict of lists (``bbox``, ``category``, and
        optionally ``id``, ``area``, ``iscrowd``, as in ``detection-datasets/coco`` or
        ``cppe-5``) or a list of such dicts. Default ``"objects"`` when present. The class is
        the ``category`` (or ``category_id``, ``label``) field; its ``ClassLabel`` names the
        classes.
    split
        For a ``DatasetDict``: one split name or a list (default: all, in order). For a
        ``Dataset``: the name to record (default: the dataset's own ``split``). Becomes the
        ``split`` column.
    bbox_format
        Convention of ``bbox``: ``"coco"`` (x, y, w, h pixels), ``"xyxy"`` (``"pascal_voc"``),
        ``"cxcywh"``, ``"yolo"`` (cx, cy, w, h divided by the image size), or another name from
        :data:`nbdiag.io.run_boxes.BOX_FORMATS`.
    class_names
        The classes, overriding the features' names (integer classes index them).
    name
        Display name (default: the dataset's name, the folder's name, or ``"hf"``).
    check_images
        How image *files* are checked, as in :func:`~nbdiag.io.from_coco` (``"auto"``:
        headers up to :data:`AUTO_HEADER_LIMIT` files, existence beyond; normalised boxes
        always read headers, for the sizes). Embedded images always have their header read
        (fully decoded with ``"decode"``): ``corrupt_image`` and such go to ``samples.issues``.
    progress
        Show progress bars (default: from 200 images on).

    Sample ids are the ``image_id`` (else ``id``) column when it is present, complete and
    unique; otherwise the row position (``0, 1, ...``; ``"<split>/<position>"`` with several
    splits). Object ids are the objects' ``id`` when every box has one and they are unique,
    else ``0, 1, ...`` in reading order. ``width`` / ``height`` columns give the sizes (a
    differing image gets ``size_mismatch``). Other scalar columns become sample columns
    (``hf_<name>`` where the name is taken). Problems in single rows (no image, a malformed
    object, an unknown class) are recorded in ``samples.issues`` and
    ``samples.annotation_problems``, naming ``row <k>`` (``object <j>``).
    """
    read = _read(
        hf_dataset, image, label, objects, split, bbox_format, class_names, check_images, progress
    )
    images = read.images if read.images is not None and len(read.images) else None
    return to_dataset(
        read.parsed, name=name or read.name, check_images=False, progress=progress, images=images
    )


def read_hf(
    hf_dataset: Any,
    image: str | None = "image",
    label: str | None = None,
    objects: str | None = None,
    *,
    split: str | Sequence[str] | None = None,
    bbox_format: str = "coco",
    class_names: Sequence[str] | None = None,
    check_images: bool | str = "auto",
    progress: bool | None = None,
) -> Parsed:
    """What a Hugging Face dataset says, as :class:`~nbdiag.io.formats.Parsed` (the arguments
    are :func:`from_hf`'s; embedded images are left where they are, so ``images.path`` is
    None for them and ``file_name`` is the path the feature stored)."""
    return _read(
        hf_dataset, image, label, objects, split, bbox_format, class_names, check_images, progress
    ).parsed


# ---------------------------------------------------------------------- reading
def _read(
    hf_dataset: Any,
    image: str | None,
    label: str | None,
    objects: str | None,
    split: str | Sequence[str] | None,
    bbox_format: str,
    class_names: Sequence[str] | None,
    check_images: bool | str,
    progress: bool | None,
) -> _Read:
    fmt = box_format_name(bbox_format)
    mode = None if check_images == "auto" else probe_mode(check_images)
    parts, source, default_name = _parts(hf_dataset, split)
    first = parts[0][1]
    image, label, objects = _columns(first, image, label, objects)
    used = [c for c in (image, label, objects) if c is not None]
    for split_name, part in parts[1:]:
        for col in used:
            if col not in part.column_names or part.features[col] != first.features[col]:
                raise ValueError(
                    f"split {split_name!r}: column {col!r} differs from the first split's"
                )
    prefixes = ["row" if s is None else f"{s} row" for s, _ in parts]
    starts = np.cumsum([0] + [len(p) for _, p in parts])
    total = int(starts[-1])
    pos_part = np.repeat(np.arange(len(parts)), [len(p) for _, p in parts])

    def row_name(r: int) -> str:
        k = int(pos_part[r])
        return f"{prefixes[k]} {r - int(starts[k])}"

    ids, id_column = _sample_ids(parts)
    problems: list[tuple[int | None, str, str]] = []
    frame = pd.DataFrame({"id": pd.Series(ids, dtype=object)})
    frame["split"] = pd.Series(np.repeat([s for s, _ in parts], np.diff(starts)), dtype=object)
    frame["what"] = [row_name(r) for r in range(total)]
    frame["width"] = _numbers(parts, "width")
    frame["height"] = _numbers(parts, "height")
    images = None
    if image is not None:
        need_sizes = objects is not None and is_normalised(fmt)
        images = read_images(parts, image, frame, mode, need_sizes, row_name, problems, progress)
    names: list[str] = list(class_names) if class_names is not None else []
    found: list[str] = []
    if label is not None:
        frame["label"], fixed = _image_labels(parts, label, class_names, row_name, problems)
        names += [n for n in fixed if n not in names]
        found += list(frame["label"].dropna().unique()) if not fixed else []
    boxes = None
    if objects is not None:
        field = object_fields(_type(first, objects), objects)["category"]
        box_names = class_names or _classlabel_names(first.features[objects], field)
        names += [n for n in (box_names or []) if n not in names]
        boxes = _boxes(parts, objects, box_names, fmt, frame, starts, row_name, problems)
        if not box_names:
            found += [x for x in pd.unique(boxes["label"]) if isinstance(x, str)]
    if class_names is None:
        names += sorted({str(x) for x in found} - set(names), key=natural_key)
    taken = {image, label, objects, id_column, "width", "height"}
    for col, values in _extra_columns(parts, taken).items():
        frame[col if col not in _RESERVED else f"hf_{col}"] = values
    if "hf_nbdiag_id" in frame.columns:  # an nbdiag export's sample ids
        frame["nbdiag_id"] = frame.pop("hf_nbdiag_id")
    # from frames: a dict per box is slow for 100k images
    parsed = Parsed.from_frames(source, names, frame, boxes, problems)
    return _Read(parsed, images, default_name)


def _parts(hf_dataset: Any, split: str | Sequence[str] | None) -> tuple[list[Any], str, str]:
    """``[(split name or None, Dataset), ...]``, how messages name the source, default name."""
    name = None
    if isinstance(hf_dataset, (str, os.PathLike)):
        datasets = require("datasets", "reading Hugging Face datasets")
        path = os.fspath(hf_dataset)
        if not os.path.isdir(path):
            raise FileNotFoundError(f"no Hugging Face dataset folder (save_to_disk) at {path!r}")
        hf_dataset = datasets.load_from_disk(path)
        name = Path(path).name
    if isinstance(hf_dataset, Mapping):
        available = list(hf_dataset)
        wanted = available if split is None else [split] if isinstance(split, str) else list(split)
        unknown = [s for s in wanted if s not in hf_dataset]
        if unknown or not wanted:
            raise ValueError(f"unknown split(s) {unknown or wanted}; the dataset has {available}")
        parts = [(str(s), hf_dataset[s]) for s in wanted]
    elif all(
        hasattr(hf_dataset, a) for a in ("features", "column_names", "with_format", "__len__")
    ):
        if split is not None and not isinstance(split, str):
            raise ValueError("a Dataset is one split: pass split= as one name (or a DatasetDict)")
        own = getattr(hf_dataset, "split", None)
        parts = [(split if split is not None else (str(own) if own else None), hf_dataset)]
    else:
        raise TypeError(
            "expected a datasets.Dataset, a DatasetDict or the folder of one saved with "
            f"save_to_disk; got {type(hf_dataset).__name__} (a streaming IterableDataset "
            "cannot be read in place)"
        )
    for split_name, part in parts:
        if not all(hasattr(part, a) for a in ("features", "column_names", "with_format")):
            raise TypeError(f"split {split_name!r} is a {type(part).__name__}, not a Dataset")
    info = getattr(parts[0][1], "info", None)
    own_name = getattr(info, "dataset_name", None) or getattr(info, "builder_name", None)
    return parts, f"Hugging Face dataset {name or own_name or ''}".strip(), name or own_name or "hf"


def _columns(
    first: Any, image: str | None, label: str | None, objects: str | None
) -> tuple[str | None, str | None, str | None]:
    """The image, label and objects columns, defaults resolved."""
    columns = list(first.column_names)
    if image is not None and image not in columns:
        found = [c for c in columns if type(first.features[c]).__name__ == "Image"]
        if image != "image" or len(found) != 1:
            raise ValueError(
                f"no image column {image!r}; the columns are {columns} (pass image=<column>, or "
                "image=None for annotations without images)"
            )
        image = found[0]
    for given, what in ((label, "label"), (objects, "objects")):
        if given is not None and given not in columns:
            raise ValueError(f"no {what} column {given!r}; the columns are {columns}")
    if objects is None and "objects" in columns:
        objects = "objects"
    if label is None and objects is None and "label" in columns:
        label = "label"
    return image, label, objects


def _column(part: Any, column: str) -> pa.Array:
    """One column's Arrow data in row order (the dataset's indices applied)."""
    data = part.with_format("arrow")[column]
    return data.combine_chunks() if isinstance(data, pa.ChunkedArray) else data


def _type(part: Any, column: str) -> pa.DataType:
    """A column's Arrow type (without reading its data)."""
    return part.with_format("arrow")[:0].schema.field(column).type


def _values(parts: Sequence[Any], column: str) -> list[Any]:
    out: list[Any] = []
    for _, part in parts:
        out.extend(_column(part, column).to_pylist())
    return out


def _sample_ids(parts: Sequence[Any]) -> tuple[list[Hashable], str | None]:
    """The first of :data:`ID_COLUMNS` that is complete and unique, else positions."""
    for col in ID_COLUMNS:
        if all(col in p.column_names for _, p in parts):
            values = _values(parts, col)
            scalar = all(isinstance(x, (int, str)) and not isinstance(x, bool) for x in values)
            if scalar and len(set(values)) == len(values):
                return values, col
    if len(parts) == 1:
        return list(range(len(parts[0][1]))), None
    return [f"{s}/{k}" for s, p in parts for k in range(len(p))], None


def _numbers(parts: Sequence[Any], column: str) -> np.ndarray:
    """A numeric column as floats (NaN for nulls), all NaN when absent or not numeric."""
    n = sum(len(p) for _, p in parts)
    first = parts[0][1]
    if column not in first.column_names:
        return np.full(n, np.nan)
    t = _type(first, column)
    if not (pa.types.is_integer(t) or pa.types.is_floating(t)):
        return np.full(n, np.nan)
    return pd.to_numeric(pd.Series(_values(parts, column), dtype=object), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )


def _is_classlabel(feature: Any) -> bool:
    return type(feature).__name__ == "ClassLabel" and hasattr(feature, "names")


def _classlabel_names(feature: Any, field: str | None) -> list[str] | None:
    """The class names of a ClassLabel column, or of field ``field`` of an objects column
    (a dict of ``List(ClassLabel)``, or ``List`` / ``Sequence`` of a dict)."""
    if field is not None:
        fields = feature if isinstance(feature, dict) else getattr(feature, "feature", None)
        feature = fields.get(field) if isinstance(fields, dict) else None
    while feature is not None and not _is_classlabel(feature) and hasattr(feature, "feature"):
        feature = feature.feature
    return [str(n) for n in feature.names] if _is_classlabel(feature) else None


def _image_labels(
    parts: Sequence[Any],
    column: str,
    class_names: Sequence[str] | None,
    row_name: Callable[[int], str],
    problems: list[tuple[int | None, str, str]],
) -> tuple[pd.Series, list[str]]:
    """Image-level class names (None: unlabelled) and the classes the feature fixes."""
    feature = parts[0][1].features[column]
    fixed = list(class_names) if class_names is not None else _classlabel_names(feature, None)
    t = _type(parts[0][1], column)
    if not (pa.types.is_integer(t) or pa.types.is_string(t) or pa.types.is_large_string(t)):
        if not pa.types.is_null(t):
            raise ValueError(
                f"label column {column!r} holds {feature}; expected a ClassLabel, class names "
                "or class indices (one per image)"
            )
    values = _values(parts, column)
    out = np.full(len(values), None, dtype=object)
    for r, x in enumerate(values):  # one scalar per image
        if x is None or (isinstance(x, int) and x == -1 and fixed is not None):
            continue
        if isinstance(x, int) and fixed is not None:
            if 0 <= x < len(fixed):
                out[r] = fixed[x]
                continue
            problems.append(
                (
                    r,
                    "unknown_class",
                    f"{row_name(r)}: label {x} is not a class index "
                    f"(there are {len(fixed)} classes)",
                )
            )
        elif fixed is not None and str(x) not in fixed:
            problems.append((r, "unknown_class", f"{row_name(r)}: unknown class {x!r}"))
        else:
            out[r] = str(x)
    return pd.Series(out, dtype=object), fixed or []


def _boxes(
    parts: Sequence[Any],
    column: str,
    names: Sequence[str] | None,
    fmt: str,
    frame: pd.DataFrame,
    starts: np.ndarray,
    row_name: Callable[[int], str],
    problems: list[tuple[int | None, str, str]],
) -> pd.DataFrame:
    """The boxes of every part as a :data:`BOX_COLUMNS` frame (``image`` = global row)."""
    width, height = frame["width"].to_numpy(float), frame["height"].to_numpy(float)
    rows = frame["what"].to_numpy(dtype=object)  # how messages name each row
    found = []
    for k, (_, part) in enumerate(parts):
        at = int(starts[k])
        got = parse_objects(
            _column(part, column),
            names=names,
            bbox_format=fmt,
            width=width[at : at + len(part)],
            height=height[at : at + len(part)],
            row_name=lambda r, at=at: row_name(at + r),
            column_name=column,
        )
        problems.extend((at + r, kind, text) for r, kind, text in got.problems)
        found.append((at, got))
    row = np.concatenate([at + g.row for at, g in found])
    index = np.concatenate([g.index for _, g in found])
    xywh = np.concatenate([g.xywh for _, g in found])
    ids = np.concatenate([g.object_id for _, g in found])
    usable = len(ids) and all(isinstance(i, (int, str)) and not isinstance(i, bool) for i in ids)
    boxes = pd.DataFrame(
        {
            "image": row,
            "object_id": ids if usable and len(set(ids)) == len(ids) else None,
            "label": np.concatenate([g.label for _, g in found]),
            "x": xywh[:, 0],
            "y": xywh[:, 1],
            "w": xywh[:, 2],
            "h": xywh[:, 3],
            "score": np.nan,
            "iscrowd": np.concatenate([g.iscrowd for _, g in found]),
            "annotator": None,
            "hint": None,
            "what": [f"{w} object {j}" for w, j in zip(rows[row], index.tolist(), strict=True)],
        }
    )
    if any(g.area is not None for _, g in found):
        boxes["area"] = np.concatenate(
            [g.area if g.area is not None else np.full(len(g.row), np.nan) for _, g in found]
        )
    return boxes


def _extra_columns(parts: Sequence[Any], taken: set[str | None]) -> dict[str, Any]:
    """Scalar columns not read otherwise (numbers, text, booleans; ClassLabels as names)."""
    first = parts[0][1]
    out: dict[str, Any] = {}
    for col in first.column_names:
        if col in taken or not all(col in p.column_names for _, p in parts):
            continue
        t = _type(first, col)
        if not (
            pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_boolean(t)
            or pa.types.is_string(t)
            or pa.types.is_large_string(t)
        ):
            continue
        values = pd.Series(_values(parts, col))
        names = _classlabel_names(first.features[col], None)
        if names is not None:
            codes = pd.to_numeric(values, errors="coerce")
            ok = codes.between(0, len(names) - 1)
            values = pd.Series(
                np.where(ok, np.asarray(names, dtype=object)[codes.where(ok, 0).astype(int)], None),
                dtype=object,
            )
        out[col] = values.to_numpy()
    return out
