"""Columns for the views: where rows come from, how a column argument is resolved, and how a
column is encoded for the browser (categories as uint8/uint16 codes, values as float32)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..evaluation import evaluate_run
from ._codecs import encode_float32

if TYPE_CHECKING:
    from ..core import DatasetCore

#: integer columns with at most this many distinct values are drawn as categories
MAX_INT_CATEGORIES = 16
#: uint8 code meaning "missing" (category columns with <= 255 categories)
MISSING_U8 = 0xFF
#: uint16 code meaning "missing"
MISSING_U16 = 0xFFFF


def resolve_rows(
    source: Any, level: str = "samples", run: str | None = None
) -> tuple[pd.DataFrame, DatasetCore | None]:
    """The rows a view draws and the Dataset they belong to (when known).

    ``source``: a Dataset (its ``samples`` or ``objects`` table; with a classification ``run``,
    the samples get that run's per-sample columns: prediction, confidence, correct, loss, ...,
    missing for samples it did not evaluate), a ClassificationEvaluation (its per-sample columns
    joined with the dataset's sample columns), or a DataFrame (indexed by sample id, or with a
    ``sample_id`` column for object rows)."""
    from ..core import DatasetCore
    from ..evaluation.classification import ClassificationEvaluation

    if level not in ("samples", "objects"):
        raise ValueError(f"level must be 'samples' or 'objects', got {level!r}")
    if isinstance(source, DatasetCore):
        if level == "objects":
            return source.objects, source
        if run is None:
            return source.samples, source
        ev = evaluate_run(source, run)
        if not isinstance(ev, ClassificationEvaluation):
            raise ValueError(
                f"run {run!r} is not a classification run: it has no per-sample columns"
            )
        rows = source.samples
        extra = ev.per_sample.drop(columns=["label"]).reindex(rows.index)
        return rows.join(extra[[c for c in extra.columns if c not in rows.columns]]), source
    if run is not None:
        raise ValueError("run= applies to a Dataset source only")
    if isinstance(source, ClassificationEvaluation):
        if level != "samples":
            raise ValueError("a classification evaluation has sample rows only (level='samples')")
        rows = source.per_sample
        ds = source.dataset
        if ds is not None:
            extra = ds.samples.reindex(rows.index)
            rows = rows.join(extra[[c for c in extra.columns if c not in rows.columns]])
        return rows, ds
    if isinstance(source, pd.DataFrame):
        if level == "objects" and "sample_id" not in source.columns:
            raise ValueError("object rows need a sample_id column")
        return source, None
    raise TypeError(
        "expected a Dataset, a ClassificationEvaluation (evaluate_run(ds, run)) or a DataFrame, "
        f"got {type(source).__name__}"
    )


def column(rows: pd.DataFrame, spec: Any, argument: str) -> tuple[str, pd.Series]:
    """Resolve a column argument: a column name of ``rows``, a Series (aligned on the row ids),
    or an array with one value per row. Returns (display name, Series over the rows)."""
    if isinstance(spec, str):
        if spec not in rows.columns:
            shown = ", ".join(map(repr, list(rows.columns)[:30]))
            more = "" if len(rows.columns) <= 30 else f", ... ({len(rows.columns)} columns)"
            raise KeyError(f"{argument}={spec!r} is not a column; the columns are: {shown}{more}")
        return spec, rows[spec]
    if isinstance(spec, pd.Series):
        if spec.index.equals(rows.index):
            return str(spec.name or argument), spec
        if not spec.index.is_unique:
            raise ValueError(f"{argument}: the Series' index has duplicate ids")
        return str(spec.name or argument), spec.reindex(rows.index)
    if isinstance(spec, pd.Categorical | pd.Index | pd.api.extensions.ExtensionArray):
        if len(spec) != len(rows):
            raise ValueError(
                f"{argument} must be a column name, a Series, or one value per row "
                f"({len(rows)}), got {len(spec)} values"
            )
        # keeps a categorical's category order (and so the colours of its legend)
        return argument, pd.Series(spec, index=rows.index)
    values = np.asarray(spec)
    if values.ndim != 1 or len(values) != len(rows):
        raise ValueError(
            f"{argument} must be a column name, a Series, or one value per row ({len(rows)}), "
            f"got shape {values.shape}"
        )
    return argument, pd.Series(values, index=rows.index)


def is_categorical(values: pd.Series) -> bool:
    """Drawn as categories: categorical / string / bool columns, and integers with few values."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return True
    if pd.api.types.is_integer_dtype(dtype):
        return values.nunique(dropna=True) <= MAX_INT_CATEGORIES
    return not pd.api.types.is_numeric_dtype(dtype)


def float_values(values: pd.Series, argument: str) -> np.ndarray:
    """Numeric values as float64 (booleans as 0/1); a clear error for text."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(float).to_numpy()
    try:
        return pd.to_numeric(values, errors="raise").astype(float).to_numpy()
    except (TypeError, ValueError):
        raise TypeError(
            f"{argument}: column {values.name!r} is not numeric (dtype {values.dtype})"
        ) from None


def category_codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(int64 codes with -1 for missing, category names)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cat = values.cat
        return cat.codes.to_numpy().astype(np.int64), [str(c) for c in cat.categories]
    present = values.dropna()
    uniques = pd.unique(present)
    try:
        uniques = sorted(uniques)
    except TypeError:  # mixed types: keep first-seen order
        uniques = list(uniques)
    codes = pd.Categorical(values, categories=uniques).codes.astype(np.int64)
    return codes, [str(u) for u in uniques]


def encode_category(codes: np.ndarray, n_categories: int) -> tuple[bytes, int]:
    """Codes as uint8 (255 = missing) when there are at most 255 categories, else uint16
    (65535 = missing). Returns (bytes, bytes per code)."""
    if n_categories >= MISSING_U16:
        raise ValueError(f"too many categories to colour by ({n_categories})")
    if n_categories < MISSING_U8:
        return np.where(codes < 0, MISSING_U8, codes).astype("u1").tobytes(), 1
    return np.where(codes < 0, MISSING_U16, codes).astype("<u2").tobytes(), 2


def normalized_float32(values: np.ndarray) -> bytes:
    """Values scaled to [0, 1] by their finite min / max (NaN stays NaN), as float32."""
    finite = np.isfinite(values)
    out = np.full(len(values), np.nan, dtype=np.float64)
    if finite.any():
        lo, hi = values[finite].min(), values[finite].max()
        out[finite] = (values[finite] - lo) / (hi - lo) if hi > lo else 0.5
    return encode_float32(out)


def format_value(value: Any) -> str:
    """A short display string for a tooltip cell."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
            return f"{v:.3g}"
        return f"{v:.4g}"
    if isinstance(value, str | os.PathLike):
        text = os.fspath(value)
        return text if len(text) <= 60 else "…" + text[-59:]
    text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"
