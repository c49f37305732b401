"""The ``objects`` column of a Hugging Face detection dataset as boxes, read with Arrow compute
(no Python loop per box except for the malformed ones a message names).

Two layouts are read, as the Hub's COCO-style datasets store them (``detection-datasets/coco``,
``cppe-5``): one struct of lists per row (``{"bbox": [[...], ...], "category": [...], ...}``,
what ``Sequence({...})`` and a dict feature give) and one list of structs per row (``[{"bbox":
[...], "category": ...}, ...]``, a ``List({...})`` feature). Field names: the box is the first
of :data:`BBOX_FIELDS`, the class the first of :data:`CATEGORY_FIELDS`; ``id``, ``area`` and
``iscrowd`` are read when present.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..run_boxes import is_normalised, to_xywh

#: names of the box field, in order of preference
BBOX_FIELDS = ("bbox", "bboxes", "boxes", "box")
#: names of the class field, in order of preference
CATEGORY_FIELDS = ("category", "category_id", "label", "labels", "class", "class_id")
#: names of the object id field
ID_FIELDS = ("id", "object_id", "bbox_id")


@dataclass
class ObjectBoxes:
    """Boxes read from an objects column: per box its row, index in the row, ``x, y, w, h``
    (pixels), label (a class name, or the raw value when it names no class), the source's
    object id (None when absent), area (NaN when absent) and iscrowd; and the problems."""

    row: np.ndarray
    index: np.ndarray
    xywh: np.ndarray
    label: np.ndarray
    object_id: np.ndarray
    area: np.ndarray | None
    iscrowd: np.ndarray
    #: (row, kind, message) for every malformed object
    problems: list[tuple[int, str, str]] = field(default_factory=list)


def object_fields(arrow_type: pa.DataType, column: str) -> dict[str, str | None]:
    """The field names of an objects column's type: ``bbox``, ``category``, ``id``, ``area``,
    ``iscrowd`` (None when absent). Raises ValueError naming the column when it is neither
    layout or has no box or class field."""
    struct = arrow_type
    if _is_list(arrow_type):
        struct = arrow_type.value_type
    if not pa.types.is_struct(struct):
        raise ValueError(
            f"objects column {column!r} has type {arrow_type}; expected a dict of lists "
            "(bbox, category, ...) or a list of dicts per row"
        )
    names = [struct.field(i).name for i in range(struct.num_fields)]

    def first(options: Sequence[str]) -> str | None:
        return next((n for n in options if n in names), None)

    found = {
        "bbox": first(BBOX_FIELDS),
        "category": first(CATEGORY_FIELDS),
        "id": first(ID_FIELDS),
        "area": first(("area",)),
        "iscrowd": first(("iscrowd", "is_crowd")),
    }
    for key, options in (("bbox", BBOX_FIELDS), ("category", CATEGORY_FIELDS)):
        if found[key] is None:
            raise ValueError(
                f"objects column {column!r} has no {key} field (one of {list(options)}); "
                f"its fields are {names}"
            )
    return found


def parse_objects(
    column: pa.Array | pa.ChunkedArray,
    *,
    names: Sequence[str] | None,
    bbox_format: str,
    width: np.ndarray,
    height: np.ndarray,
    row_name: Callable[[int], str] = lambda r: f"row {r}",
    column_name: str = "objects",
) -> ObjectBoxes:
    """Every box of an objects column.

    Parameters
    ----------
    column
        The column's Arrow data, one entry per row (null: no objects).
    names
        Class names integer categories index (a ClassLabel's names); None: an integer
        category ``c`` becomes the name ``str(c)``. Strings are names already.
    bbox_format
        Convention of ``bbox`` (see :mod:`nbdiag.io.run_boxes`); normalised ones are scaled by
        ``width`` / ``height`` (per row).
    row_name
        How messages name row ``r`` (``"row 3"``, ``"train row 3"``).

    Malformed objects are left out and recorded as problems (``malformed_annotation``: a row
    with as many boxes as classes, a box without 4 numbers, an empty object; ``invalid_box``: a
    normalised box of an image of unknown size). Boxes with non-finite or negative numbers are
    kept (the dataset builder drops them, naming them). Raises ``ValueError`` naming the column
    only when its type is unusable.
    """
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    fields = object_fields(arr.type, column_name)
    problems: list[tuple[int, str, str]] = []
    if pa.types.is_struct(arr.type):
        row, index, per_box = _struct_of_lists(arr, fields, row_name, column_name, problems)
    else:
        row, index, per_box = _list_of_structs(arr, fields, row_name, problems)
    bbox = per_box["bbox"]
    if not (_is_list(bbox.type) or pa.types.is_null(bbox.type)):
        raise ValueError(
            f"objects column {column_name!r}: {fields['bbox']!r} holds {bbox.type} per object, "
            "expected a list of 4 numbers"
        )
    size = _lengths(bbox, null=-1) if not pa.types.is_null(bbox.type) else np.full(len(bbox), -1)
    good = size == 4
    for k in np.flatnonzero(~good):
        what = _obj(row_name, row, index, k)
        text = "no bbox" if size[k] < 0 else f"bbox {bbox[k].as_py()!r} has {size[k]} values"
        problems.append((int(row[k]), "malformed_annotation", f"{what}: {text}, expected 4"))
    coords = _floats(
        bbox.filter(pa.array(good)).flatten() if good.any() else pa.array([]), column_name
    )
    coords = coords.reshape(-1, 4)
    keep = np.flatnonzero(good)
    row, index = row[keep], index[keep]
    w, h = np.asarray(width, float)[row], np.asarray(height, float)[row]
    if is_normalised(bbox_format):
        known = np.isfinite(w) & np.isfinite(h)
        for k in np.flatnonzero(~known):
            problems.append(
                (
                    int(row[k]),
                    "invalid_box",
                    f"{_obj(row_name, row, index, k)}: a normalised box ({bbox_format}) needs "
                    "the image size, which is unknown",
                )
            )
        keep = keep[known]
        row, index, coords, w, h = row[known], index[known], coords[known], w[known], h[known]
    xywh = to_xywh(coords, bbox_format, w, h)
    take = pa.array(keep, type=pa.int64())
    label = _labels(per_box["category"].take(take), names)
    object_id = (
        np.array(per_box["id"].take(take).to_pylist(), dtype=object)
        if per_box["id"] is not None
        else np.full(len(keep), None, dtype=object)
    )
    area = _floats(per_box["area"].take(take), column_name) if per_box["area"] is not None else None
    crowd = per_box["iscrowd"]
    iscrowd = _floats(crowd.take(take), column_name) if crowd is not None else np.zeros(len(keep))
    iscrowd = np.nan_to_num(iscrowd, nan=0.0) != 0
    return ObjectBoxes(row, index, xywh, label, object_id, area, iscrowd, problems)


# ---------------------------------------------------------------------- layouts
def _struct_of_lists(
    arr: pa.StructArray,
    fields: dict[str, str | None],
    row_name: Callable[[int], str],
    column: str,
    problems: list[tuple[int, str, str]],
) -> tuple[np.ndarray, np.ndarray, dict[str, pa.Array | None]]:
    """Rows of ``{"bbox": [...], "category": [...], ...}``: per box its row, index and the
    value of each field (rows whose bbox and category lists differ in length are left out)."""
    children = dict(zip([f.name for f in arr.type], arr.flatten(), strict=True))
    lists: dict[str, pa.Array] = {}
    for key, name in fields.items():
        if name is None:
            continue
        child = children[name]
        if _is_list(child.type) or pa.types.is_null(child.type):  # null: every row null
            lists[key] = child
        elif key in ("bbox", "category"):
            raise ValueError(
                f"objects column {column!r}: {name!r} holds {child.type} per row, expected a "
                "list (one entry per object)"
            )
    counts = _lengths(lists["bbox"])
    ncat = _lengths(lists["category"])
    for r in np.flatnonzero(counts != ncat):
        problems.append(
            (
                int(r),
                "malformed_annotation",
                f"{row_name(int(r))}: {counts[r]} boxes but {ncat[r]} categories in "
                f"{column!r}; the row's objects are left out",
            )
        )
    counts = np.where(counts == ncat, counts, 0)
    row, index = _positions(counts)
    per_box: dict[str, pa.Array | None] = dict.fromkeys(fields)
    for key, values in lists.items():
        have = _lengths(values)
        ok = have == counts
        if key not in ("bbox", "category"):
            for r in np.flatnonzero(~ok & (have > 0) & (counts > 0)):
                problems.append(
                    (
                        int(r),
                        "malformed_annotation",
                        f"{row_name(int(r))}: {have[r]} {fields[key]!r} values for {counts[r]} "
                        "boxes; ignored",
                    )
                )
        valid = ok[row]
        if pa.types.is_null(values.type) or not len(values.values):
            per_box[key] = pa.nulls(len(row))
            continue
        at = _offsets(values)[row] + index
        taken = values.values.take(pa.array(np.where(valid, at, 0), type=pa.int64()))
        per_box[key] = pc.if_else(pa.array(valid), taken, pa.nulls(len(row), taken.type))
    return row, index, per_box


def _list_of_structs(
    arr: pa.Array,
    fields: dict[str, str | None],
    row_name: Callable[[int], str],
    problems: list[tuple[int, str, str]],
) -> tuple[np.ndarray, np.ndarray, dict[str, pa.Array | None]]:
    """Rows of ``[{"bbox": [...], "category": ...}, ...]``: per box its row, index and the
    value of each field (null objects are left out)."""
    row, index = _positions(_lengths(arr))
    boxes = arr.values.take(pa.array(_offsets(arr)[row] + index, type=pa.int64()))
    valid = boxes.is_valid().to_numpy(zero_copy_only=False)
    for k in np.flatnonzero(~valid):
        problems.append(
            (int(row[k]), "malformed_annotation", f"{_obj(row_name, row, index, k)}: empty object")
        )
    children = dict(zip([f.name for f in boxes.type], boxes.flatten(), strict=True))
    mask = pa.array(valid)
    per_box = {
        key: (children[name].filter(mask) if name is not None else None)
        for key, name in fields.items()
    }
    return row[valid], index[valid], per_box


# ---------------------------------------------------------------------- helpers
def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def _lengths(arr: pa.Array, null: int = 0) -> np.ndarray:
    """Length of each list entry (``null`` for a null entry)."""
    if pa.types.is_null(arr.type):
        return np.full(len(arr), null, dtype=np.int64)
    lengths = pc.list_value_length(arr).fill_null(null)
    return lengths.to_numpy(zero_copy_only=False).astype(np.int64)


def _offsets(arr: pa.Array) -> np.ndarray:
    """Start of each entry's items in ``arr.values`` (and the end of the last)."""
    if pa.types.is_fixed_size_list(arr.type):
        size = arr.type.list_size
        return (arr.offset + np.arange(len(arr) + 1, dtype=np.int64)) * size
    return arr.offsets.to_numpy().astype(np.int64)


def _positions(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per item of rows holding ``counts`` items each: its row and index in the row."""
    counts = np.asarray(counts, dtype=np.int64)
    row = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    start = np.cumsum(counts) - counts
    return row, np.arange(len(row), dtype=np.int64) - np.repeat(start, counts)


def _floats(values: pa.Array, column: str) -> np.ndarray:
    """Numbers as float64, NaN for nulls; a ValueError naming the column for other types."""
    t = values.type
    if pa.types.is_null(t):
        return np.full(len(values), np.nan)
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
        raise ValueError(f"objects column {column!r} holds {t} where numbers are expected")
    cast = pc.cast(values, pa.float64()).fill_null(np.nan)
    return cast.to_numpy(zero_copy_only=False)


def _labels(values: pa.Array, names: Sequence[str] | None) -> np.ndarray:
    """Class names: integers index ``names`` (kept as the raw integer when out of range; str()
    when there are no names), strings as they are, nulls None."""
    t = values.type
    out = np.full(len(values), None, dtype=object)
    if pa.types.is_dictionary(t):
        values, t = values.cast(t.value_type), t.value_type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        valid = values.is_valid().to_numpy(zero_copy_only=False)
        num = pc.cast(values, pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
        whole = valid & np.isfinite(num) & (num == np.round(num))
        codes = np.where(whole, num, 0).astype(np.int64)
        if names is None:
            out[whole] = [str(c) for c in codes[whole]]
            named = whole
        else:
            named = whole & (codes >= 0) & (codes < len(names))
            out[named] = np.asarray(list(names), dtype=object)[codes[named]]
        rest = np.flatnonzero(valid & ~named)
        if len(rest):  # kept as the raw value: the dataset builder names it as unknown
            raw = values.take(pa.array(rest, type=pa.int64())).to_pylist()
            out[rest] = [
                int(c) if whole[k] else r for k, c, r in zip(rest, codes[rest], raw, strict=True)
            ]
        return out
    if pa.types.is_null(t):
        return out
    raw = values.to_pylist()
    out[:] = [None if x is None else x if isinstance(x, str) else str(x) for x in raw]
    return out


def _obj(row_name: Callable[[int], str], row: np.ndarray, index: np.ndarray, k: int) -> str:
    return f"{row_name(int(row[k]))} object {int(index[k])}"
