"""Histogram: the distribution of a metric; brush a range (or click bars) to select rows, and see
the selected subset overlaid on the whole."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import traitlets

from ._base import SelectionWidget
from ._codecs import Binary, encode_float32
from ._columns import (
    category_codes,
    column,
    encode_category,
    float_values,
    is_categorical,
    resolve_rows,
)
from ._selection_model import PYTHON
from ._static import bundle


def bin_edges(lo: float, hi: float, bins: int) -> np.ndarray:
    """Edges of ``bins`` equal bins over [lo, hi], computed exactly as the browser does
    (``js/src/histogram/bins.ts``): edge i is ``lo + (hi - lo) * i / bins``, the last is ``hi``."""
    edges = np.array([lo + (hi - lo) * i / bins for i in range(bins + 1)], dtype=np.float64)
    edges[-1] = hi
    return edges


def bin_index(values: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    """The bin of each value as the browser computes it (-1: NaN or outside [lo, hi])."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        inside = (v >= lo) & (v <= hi)
        b = np.floor((v - lo) / (hi - lo) * bins)
    b = np.clip(np.nan_to_num(b, nan=0.0), 0, bins - 1).astype(np.int64)
    return np.where(inside, b, -1)


def safe_range(lo: float, hi: float) -> tuple[float, float]:
    """A range with hi > lo (one value v becomes [v - 0.5, v + 0.5]), as the browser does."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return 0.0, 1.0
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


class Histogram(SelectionWidget):
    """The distribution of one column, with the current selection overlaid.

    Numeric columns are binned: drag across the plot to select a range of bins (linked views
    follow while you drag), click a bar for one bin, shift adds. Categorical columns (and
    integers with few values) are bar charts: click a bar to select that category.

    Parameters
    ----------
    source
        A :class:`~nbdiag.Dataset` (its samples, or its objects with ``level="objects"``), a
        classification evaluation (``ds.evaluate(run)``: confidence, loss, margin, ... of the
        evaluated samples), or a DataFrame.
    column
        The column to show: a name, a Series aligned on the ids, or one value per row.
    bins
        Number of bins (numeric columns).
    level
        ``"samples"`` or ``"objects"`` (rows are boxes; selections link through their sample).
    run
        With a Dataset: add that classification run's per-sample columns (``confidence``,
        ``loss``, ``margin``, ...), so ``column`` may be one of them; rows stay all samples.
    range
        (low, high) of the bins (default: the column's min and max); values outside are counted
        apart.
    title, height
        Caption, and plot height in CSS pixels.

    Examples
    --------
    >>> h = nbdiag.Histogram(ds.evaluate("cnn"), "confidence")   # doctest: +SKIP
    >>> h.select_range(0.0, 0.4)                                  # doctest: +SKIP
    >>> h.selected             # the least confident predictions  # doctest: +SKIP
    """

    _esm = bundle("histogram")
    _css = bundle("histogram", ".css")

    column = traitlets.Unicode("").tag(sync=True)
    #: "numeric" or "categorical"
    kind = traitlets.Unicode("numeric").tag(sync=True)
    _values = Binary(b"").tag(sync=True)
    _codes = Binary(b"").tag(sync=True)
    _code_width = traitlets.Int(1).tag(sync=True)
    categories = traitlets.List(traitlets.Unicode()).tag(sync=True)
    bins = traitlets.Int(30).tag(sync=True)
    value_range = traitlets.List(traitlets.Float()).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    height = traitlets.Int(160).tag(sync=True)

    def __init__(
        self,
        source: Any,
        column: Any,
        bins: int = 30,
        *,
        level: str = "samples",
        run: str | None = None,
        range: tuple[float, float] | None = None,
        title: str | None = None,
        height: int = 160,
        **kwargs: Any,
    ):
        rows, ds = resolve_rows(source, level, run=run)
        self.dataset = ds
        self.level = level
        if not isinstance(bins, int | np.integer) or bins < 1:
            raise ValueError(f"bins must be a positive integer, got {bins!r}")
        name, values = _column(rows, column)
        traits: dict[str, Any] = {"column": name, "bins": int(bins), "height": int(height)}
        if is_categorical(values):
            codes, names = category_codes(values)
            data, width = encode_category(codes, len(names))
            traits.update(kind="categorical", _codes=data, _code_width=width, categories=names)
            self._numbers: np.ndarray | None = None
            self._exact: np.ndarray | None = None
            self._codes_array = codes
        else:
            exact = float_values(values, "column")
            numbers = exact.astype(np.float32)  # what the browser draws and brushes
            if range is not None:
                lo, hi = (float(v) for v in range)
            else:
                finite = numbers[np.isfinite(numbers)]
                lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
            lo, hi = safe_range(lo, hi)
            traits.update(kind="numeric", _values=encode_float32(numbers), value_range=[lo, hi])
            self._numbers = numbers
            self._exact = np.asarray(exact, dtype=np.float64)  # what select_range compares
            self._codes_array = None
        if title is None:
            title = name
        traits["title"] = title
        super().__init__(rows, **traits, **kwargs)

    # ------------------------------------------------------------------ numbers
    @property
    def values(self) -> pd.Series:
        """The column as drawn (float32 numbers, or the category names)."""
        if self._numbers is not None:
            return pd.Series(self._numbers, index=self._rows.index, name=self.column)
        names = np.array([*self.categories, None], dtype=object)
        return pd.Series(names[self._codes_array], index=self._rows.index, name=self.column)

    @property
    def edges(self) -> np.ndarray:
        """Bin edges (numeric columns), as the browser computes them."""
        self._need_numeric("edges")
        lo, hi = self.value_range
        return bin_edges(lo, hi, self.bins)

    def bin_index(self) -> np.ndarray:
        """Each row's bin (-1: missing or out of range), as the browser computes it."""
        self._need_numeric("bin_index")
        lo, hi = self.value_range
        return bin_index(self._numbers, lo, hi, self.bins)

    @property
    def counts(self) -> pd.Series:
        """Rows per bar (numeric: indexed by the bins' left edges; categorical: by category)."""
        if self._numbers is not None:
            idx = self.bin_index()
            counts = np.bincount(idx[idx >= 0], minlength=self.bins)
            return pd.Series(counts, index=pd.Index(self.edges[:-1], name="left edge"))
        c = self._codes_array
        counts = np.bincount(c[c >= 0], minlength=len(self.categories))
        return pd.Series(counts, index=pd.Index(self.categories, name=self.column))

    @property
    def range(self) -> tuple[float, float] | None:
        """The brushed (low, high), when the current selection is a range of this histogram."""
        region = self.selection_region
        if region.get("kind") == "range" and region.get("column", self.column) == self.column:
            return float(region["lo"]), float(region["hi"])
        return None

    def _need_numeric(self, what: str) -> None:
        if self._numbers is None:
            raise TypeError(f"{what} is for numeric columns; {self.column!r} is categorical")

    # ------------------------------------------------------------------ selecting
    def select_range(self, lo: float, hi: float) -> None:
        """Select the rows with ``lo <= value <= hi`` (as a brush; the range shows in the plot).
        A row is in when its value is, as stored or as drawn (float32): bounds taken from the
        data (``df[col].max()``) or from :attr:`values` include the rows that hold them."""
        self._need_numeric("select_range")
        if hi < lo:
            lo, hi = hi, lo
        with np.errstate(invalid="ignore"):
            mask = ((self._exact >= lo) & (self._exact <= hi)) | (
                (self._numbers >= np.float32(lo)) & (self._numbers <= np.float32(hi))
            )
        region = {"kind": "range", "column": self.column, "lo": float(lo), "hi": float(hi)}
        self._set_mask(mask, PYTHON, region)

    def select_bins(self, first: int, last: int | None = None) -> None:
        """Select the rows in bins ``first`` to ``last`` (inclusive), as a brush over them would."""
        self._need_numeric("select_bins")
        last = first if last is None else last
        b0, b1 = sorted((int(first), int(last)))
        if b0 < 0 or b1 >= self.bins:
            raise ValueError(f"bins are numbered 0 to {self.bins - 1}, got {first}..{last}")
        idx = self.bin_index()
        e = self.edges
        region = {
            "kind": "range",
            "column": self.column,
            "lo": float(e[b0]),
            "hi": float(e[b1 + 1]),
            "bins": [b0, b1],
        }
        self._set_mask((idx >= b0) & (idx <= b1), PYTHON, region)

    def select_categories(self, *names: str) -> None:
        """Select the rows of these categories (categorical columns)."""
        if self._codes_array is None:
            raise TypeError(f"{self.column!r} is numeric: use select_range")
        unknown = [n for n in names if n not in self.categories]
        if unknown:
            raise KeyError(f"unknown categories {unknown}; they are {self.categories}")
        wanted = [self.categories.index(n) for n in names]
        self._set_mask(np.isin(self._codes_array, wanted), PYTHON, {})

    def __repr__(self) -> str:
        return (
            f"Histogram({self.column!r}, {len(self._rows):,} rows, "
            f"{int(self.selection_mask.sum()):,} selected)"
        )


def _column(rows: pd.DataFrame, spec: Any) -> tuple[str, pd.Series]:
    return column(rows, spec, "column")
