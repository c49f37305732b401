"""The two tables' shape: default columns, dtypes, and the checks every row must pass.

Plain functions over DataFrames, used by :class:`~nbdiag.core.DatasetCore` when it is built
and when a run's boxes are added.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from . import validation as v

#: columns every ``samples`` table has (more may be added by analyses and users)
SAMPLE_COLUMNS = ("path", "width", "height", "label", "split", "issues")
#: columns every ``objects`` table has
OBJECT_COLUMNS = ("sample_id", "label", "x", "y", "w", "h", "source", "score", "iscrowd")
#: the ``source`` of ground-truth boxes (predicted boxes carry their run's name)
GT = "gt"


def as_class_names(values: Iterable[Any]) -> list[str]:
    return [str(c) for c in values]


def missing(value: Any) -> bool:
    """None or a scalar NaN (how a missing path or label arrives from pandas)."""
    return value is None or (
        not isinstance(value, (str, bytes, os.PathLike)) and bool(pd.isna(value))
    )


#: the dtype of ``samples.path`` (and of a text ``split``): Arrow-backed strings (about half
#: the memory of Python strings at 1M rows), NaN where a sample has no file
try:
    PATH_DTYPE: Any = pd.StringDtype("pyarrow", na_value=np.nan)
except TypeError:  # pandas < 2.3 has no NaN-valued string dtype: Python strings, NaN for none
    PATH_DTYPE = np.dtype(object)
#: whether :data:`PATH_DTYPE` is Arrow-backed (pandas >= 2.3)
ARROW_PATHS = PATH_DTYPE != np.dtype(object)


def as_paths(values: pd.Series) -> pd.Series:
    """``values`` (str, ``os.PathLike``, None/NaN) as a :data:`PATH_DTYPE` column."""
    if ARROW_PATHS and values.dtype == PATH_DTYPE:
        return values
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        values = pd.Series(
            [None if missing(p) else os.fspath(p) for p in values.to_numpy(dtype=object)],
            index=values.index,
            dtype=object,
        )
    out = values.astype(PATH_DTYPE)
    return out if ARROW_PATHS else out.where(out.notna(), np.nan)


def path_list(samples: pd.DataFrame) -> list[str | None]:
    """``samples.path`` as Python values, ``None`` where a sample has no file."""
    if "path" not in samples.columns:
        return [None] * len(samples)
    col = samples["path"]
    return col.astype(object).where(col.notna(), None).tolist()


def add_issues(samples: pd.DataFrame, ids: Iterable[Hashable], texts: Iterable[str]) -> None:
    """Append each ``text`` to the ``issues`` entry of its sample (comma-separated, once):
    how a pass that decodes images (metrics, thumbnails, embeddings) records what it found."""
    pairs = [(i, str(x)) for i, x in zip(ids, texts, strict=True) if x]
    if not pairs or "issues" not in samples.columns:
        return
    pos = v.positions_of(pd.Index([i for i, _ in pairs], dtype=object), samples.index)
    values = samples["issues"].to_numpy(dtype=object, na_value="").copy()
    for p, (_, text) in zip(pos, pairs, strict=True):
        parts = [x for x in str(values[p] or "").split(",") if x]
        if text not in parts:
            values[p] = ",".join([*parts, text])
    samples["issues"] = pd.Series(values, index=samples.index).astype(str)


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort "2" before "10" while keeping plain names alphabetical."""
    return (0, int(name), "") if name.lstrip("-").isdigit() else (1, 0, name)


def empty_objects() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample_id": pd.Series(dtype=object),
            "label": pd.Series(dtype=object),
            "x": pd.Series(dtype=float),
            "y": pd.Series(dtype=float),
            "w": pd.Series(dtype=float),
            "h": pd.Series(dtype=float),
        }
    )


#: predicted boxes given without ``object_id`` are numbered in a block of their own that starts at
#: a multiple of this (or of the power of ten that holds the run, if larger)
RUN_ID_BLOCK = 1_000_000


def run_box_ids(n: int, others: pd.Index, previous: pd.Index | None = None) -> pd.Index:
    """Integer ids ``base .. base + n - 1`` for ``n`` predicted boxes of one run, clear of
    every id in ``others`` (the ground truth's and the other runs' boxes).

    A replaced run keeps the start of its ``previous`` ids when the new block fits there (so
    the same run added again gets the same ids, and tags on its boxes come back). Otherwise
    the block starts at the next multiple of the block size above the largest number among
    ``others``: with COCO annotation ids below a million, a first run is numbered from
    1,000,000, a second from 2,000,000. Integer ids cost 8 bytes a box in an integer index,
    where a ``"run:17"`` string costs about 60."""
    step = max(RUN_ID_BLOCK, 10 ** len(str(max(n - 1, 0))))
    num = _numeric(others)
    if previous is not None and len(previous):
        prev = _numeric(previous)
        if len(prev) == len(previous):  # every previous id is a number: reuse its start
            base = int(prev.min())
            if base >= 0 and not ((num >= base) & (num < base + n)).any():
                return pd.Index(np.arange(base, base + n, dtype=np.int64), name="object_id")
    top = int(num.max()) if len(num) else -1
    base = step * (max(top, 0) // step + 1)
    return pd.Index(np.arange(base, base + n, dtype=np.int64), name="object_id")


def _numeric(ids: pd.Index) -> np.ndarray:
    """The ids that are numbers, as float64 (text ids that read as numbers count too: the
    block only needs to stay clear of them, which is the safe side)."""
    if pd.api.types.is_numeric_dtype(ids.dtype) and not pd.api.types.is_bool_dtype(ids.dtype):
        values = ids.to_numpy(dtype=np.float64)
    else:
        values = pd.to_numeric(pd.Series(ids, dtype=object), errors="coerce").to_numpy(
            dtype=np.float64
        )
    return values[np.isfinite(values)]


def categorical(values: pd.Series, class_names: list[str]) -> pd.Series:
    return pd.Series(
        pd.Categorical(values, categories=class_names), index=values.index, name=values.name
    )


def normalise_samples(s: pd.DataFrame, class_names: list[str]) -> pd.DataFrame:
    """``s`` (changed in place) with every default column, in the documented dtypes."""
    defaults: dict[str, Any] = {
        "path": None,
        "width": np.nan,
        "height": np.nan,
        "label": np.nan,
        "split": None,
        "issues": "",
    }
    for col, default in defaults.items():
        if col not in s.columns:
            s[col] = default
    if s["label"].notna().any():
        v.check_labels(s["label"], class_names, "samples.label")
    s["label"] = categorical(s["label"], class_names)
    s["path"] = as_paths(s["path"])
    if s["split"].dtype == object and pd.api.types.infer_dtype(s["split"]) in ("string", "empty"):
        s["split"] = s["split"].astype(PATH_DTYPE)  # 5 MB at 1M rows, not 24 (users can set it)
    s["width"] = pd.to_numeric(s["width"], errors="raise").astype(float)
    s["height"] = pd.to_numeric(s["height"], errors="raise").astype(float)
    s["issues"] = s["issues"].fillna("").astype(str)
    first = list(SAMPLE_COLUMNS)
    return s[first + [c for c in s.columns if c not in first]]


def normalise_objects(o: pd.DataFrame, class_names: list[str]) -> pd.DataFrame:
    """``o`` (changed in place) with every default column, in the documented dtypes."""
    if "label" not in o.columns:
        o["label"] = np.nan
    if "source" not in o.columns:
        o["source"] = GT
    o["source"] = o["source"].fillna(GT).astype(str)
    if "score" not in o.columns:
        o["score"] = np.nan
    if "iscrowd" not in o.columns:
        o["iscrowd"] = False
    o["iscrowd"] = o["iscrowd"].fillna(False).astype(bool)
    for col in ("x", "y", "w", "h", "score"):
        o[col] = pd.to_numeric(o[col], errors="raise").astype(float)
    if o["label"].notna().any():
        v.check_labels(o["label"], class_names, "objects.label")
    o["label"] = categorical(o["label"], class_names)
    first = list(OBJECT_COLUMNS)
    return o[first + [c for c in o.columns if c not in first]]


def check_objects(o: pd.DataFrame, samples: pd.DataFrame) -> None:
    """Boxes name known samples, lie inside their images, and predictions carry scores."""
    if not len(o):
        return
    v.check_known_ids(o["sample_id"], samples.index, "sample (in objects.sample_id)")
    sizes = samples[["width", "height"]]
    is_gt = (o["source"] == GT).to_numpy()
    if is_gt.any():
        v.check_boxes(o[is_gt], sizes)
    if not is_gt.all():
        preds = o[~is_gt]
        v.check_boxes(preds, sizes, what="predicted box")
        v.check_scores(preds["score"], "predicted box")


def positions_from(
    items: Any, level: str | None, samples: pd.DataFrame, objects: pd.DataFrame
) -> tuple[np.ndarray, str]:
    """Row positions and level ("sample" / "object") of ids, a boolean mask, or a DataFrame.

    One vectorised lookup: an id that is in neither table raises
    :class:`~nbdiag.core.validation.UnknownIdError` naming up to five of them.
    """
    if level not in (None, "sample", "object"):
        raise ValueError(f"level must be 'sample' or 'object', got {level!r}")
    ids: Any
    if isinstance(items, (pd.DataFrame, pd.Series)):
        if level is None and items.index.name == "object_id":
            level = "object"
        if isinstance(items, pd.Series) and pd.api.types.is_bool_dtype(items.dtype):
            ids = items.index[items.to_numpy(dtype=bool)]
        elif isinstance(items, pd.DataFrame):
            ids = items.index
        else:
            ids = pd.Index(items.to_numpy())
    elif isinstance(items, np.ndarray) and items.dtype == bool:
        table = objects if level == "object" else samples
        level = level or "sample"
        v.check_same_length("the boolean mask", items, f"{level}s", table)
        return np.flatnonzero(items), level
    elif isinstance(items, (str, bytes)) or (
        isinstance(items, Hashable) and not isinstance(items, (tuple, pd.Index))
    ):
        ids = pd.Index([items], dtype=object)
    elif isinstance(items, (pd.Index, np.ndarray)):
        ids = pd.Index(items)
    else:  # a list or other iterable: built in the table's index dtype (one lookup, no casts)
        like = objects.index if level == "object" else samples.index
        values = items if isinstance(items, list) else list(items)
        ids = pd.Index(values, dtype=object) if like.dtype == object else pd.Index(values)
    if level is None:
        pos = samples.index.get_indexer(ids)
        if len(ids) == 0 or (pos >= 0).all():
            return pos, "sample"
        obj_pos = objects.index.get_indexer(ids)
        in_objects = obj_pos >= 0
        if in_objects.all():
            return obj_pos, "object"
        unknown = ids[(pos < 0) & ~in_objects]
        if len(unknown):
            what = "sample or object" if len(objects) else "sample"
            raise v.UnknownIdError(
                f"unknown {what} ids (not in the dataset): {v.listed(unknown.unique())}"
            )
        raise ValueError(
            "the ids mix samples and objects; pass level='sample' or level='object' and ids "
            "of that level only"
        )
    table = samples if level == "sample" else objects
    return v.positions_of(ids, table.index, level), level


def ids_from(
    items: Any, level: str | None, samples: pd.DataFrame, objects: pd.DataFrame
) -> tuple[list[Any], str]:
    """Ids and level ("sample" / "object") from ids, a boolean mask, or a DataFrame."""
    pos, level = positions_from(items, level, samples, objects)
    table = samples if level == "sample" else objects
    return list(table.index[pos]), level
