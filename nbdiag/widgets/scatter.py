"""Scatter: a WebGL2 scatter plot of the samples (1M points and more); lasso, box or click to
select, get the selection back as a DataFrame."""

from __future__ import annotations

import re
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
    format_value,
    is_categorical,
    normalized_float32,
    resolve_rows,
)
from ._rpc import Call, Reply, RpcError, RpcServer
from ._static import bundle

#: above this many points the scatter switches to performance mode (small points, no hover):
#: 5M points keep hover (the spatial index is built in idle time after the first frame)
PERFORMANCE_THRESHOLD = 8_000_000
_EMBEDDING_RE = re.compile(r"^(.*(?:embedding|umap|tsne|t_sne|pca).*)_x$", re.IGNORECASE)
_TOOLTIP_DEFAULTS = (
    "label",
    "prediction",
    "confidence",
    "correct",
    "loss",
    "split",
    "issues",
    "path",
)


def embedding_columns(columns: Any) -> tuple[str, str] | None:
    """The 2-D embedding columns: ``embedding_x`` / ``embedding_y`` (what ``ds.project`` writes),
    else the first ``<name>_x`` / ``<name>_y`` pair whose name mentions an embedding or a
    projection (umap, tsne, pca)."""
    cols = list(columns)
    if "embedding_x" in cols and "embedding_y" in cols:
        return "embedding_x", "embedding_y"
    for c in cols:
        m = _EMBEDDING_RE.match(str(c))
        if m and f"{m.group(1)}_y" in cols:
            return str(c), f"{m.group(1)}_y"
    return None


class Scatter(SelectionWidget):
    """A scatter plot of the samples, drawn with WebGL2 (a million points stay interactive).

    Wheel zooms, drag pans; the lasso and box modes (toolbar, or shift-drag) select points,
    shift adds; a click selects one point; hovering shows the point's key columns and its
    thumbnail, fetched on demand. The selected points are highlighted, the rest dimmed. Above
    ``performance_threshold`` points the plot switches to performance mode (smaller points, no
    hover).

    Parameters
    ----------
    source
        A :class:`~nbdiag.Dataset` (one point per sample), a classification evaluation
        (``ds.evaluate(run)``: its evaluated samples, with prediction columns), or a DataFrame.
    x, y
        Columns for the axes (names, Series aligned on the ids, or arrays). Default: the 2-D
        embedding written by ``ds.project`` (``embedding_x`` / ``embedding_y``).
    color
        A column to colour by: categories (categorical, text, bool, or integers with few values)
        get a palette and a clickable legend; numbers a colour ramp.
    size
        A numeric column for the point sizes.
    run
        With a Dataset: add that classification run's per-sample columns (``prediction``,
        ``confidence``, ``correct``, ``loss``, ...) to the rows, for colour, size and tooltips.
    tooltip
        Columns shown when hovering a point (default: label, prediction, confidence, split, ...
        whichever exist, plus the colour and size columns). ``False`` disables the tooltip.
    palette
        Category colours (CSS hex strings), used in order.
    color_range
        (low, high) of the colour ramp (default: the column's min and max).
    point_size
        Point diameter in CSS pixels (default: from the number of points).
    performance
        Force performance mode on or off (default: on above ``performance_threshold`` points).
    equal_aspect
        Same scale on both axes (default: for an embedding).
    title, height
        Caption, and plot height in CSS pixels.

    Examples
    --------
    >>> nbdiag.embeddings.project(ds, "tsne")          # doctest: +SKIP
    >>> sc = nbdiag.Scatter(ds, color="label")         # doctest: +SKIP
    >>> sc                                             # lasso a cluster ...  # doctest: +SKIP
    >>> sc.selected                                    # ... and get its samples  # doctest: +SKIP
    """

    _esm = bundle("scatter")
    _css = bundle("scatter", ".css")

    _x = Binary(b"").tag(sync=True)
    _y = Binary(b"").tag(sync=True)
    x_label = traitlets.Unicode("").tag(sync=True)
    y_label = traitlets.Unicode("").tag(sync=True)
    #: "none", "category" or "value"
    color_kind = traitlets.Unicode("none").tag(sync=True)
    color_column = traitlets.Unicode("").tag(sync=True)
    _color_codes = Binary(b"").tag(sync=True)
    _color_code_width = traitlets.Int(1).tag(sync=True)
    color_categories = traitlets.List(traitlets.Unicode()).tag(sync=True)
    color_palette = traitlets.List(traitlets.Unicode()).tag(sync=True)
    _color_values = Binary(b"").tag(sync=True)
    color_range = traitlets.List(traitlets.Float()).tag(sync=True)
    _size = Binary(b"").tag(sync=True)
    size_column = traitlets.Unicode("").tag(sync=True)
    point_size = traitlets.Float(0.0).tag(sync=True)
    performance = traitlets.Bool(False).tag(sync=True)
    equal_aspect = traitlets.Bool(True).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    height = traitlets.Int(480).tag(sync=True)
    #: the kernel answers the browser's "point" requests (hover tooltips)
    hover_tooltip = traitlets.Bool(True).tag(sync=True)

    def __init__(
        self,
        source: Any,
        x: Any = None,
        y: Any = None,
        color: Any = None,
        size: Any = None,
        *,
        run: str | None = None,
        tooltip: list[str] | bool | None = None,
        palette: list[str] | None = None,
        color_range: tuple[float, float] | None = None,
        point_size: float | None = None,
        performance: bool | None = None,
        performance_threshold: int = PERFORMANCE_THRESHOLD,
        equal_aspect: bool | None = None,
        title: str | None = None,
        height: int = 480,
        **kwargs: Any,
    ):
        rows, ds = resolve_rows(source, run=run)
        self.dataset = ds
        if (x is None) != (y is None):
            raise ValueError("pass both x and y, or neither (to use the 2-D embedding)")
        if x is None:
            pair = embedding_columns(rows.columns)
            if pair is None:
                raise ValueError(
                    "no 2-D embedding columns (embedding_x / embedding_y) in the rows: compute "
                    "them with nbdiag.embeddings.project(ds, ...), or pass x= and y= columns"
                )
            x, y = pair
            if equal_aspect is None:
                equal_aspect = True
        x_name, xs = column(rows, x, "x")
        y_name, ys = column(rows, y, "y")
        n = len(rows)
        traits: dict[str, Any] = {
            "_x": encode_float32(float_values(xs, "x")),
            "_y": encode_float32(float_values(ys, "y")),
            "x_label": x_name,
            "y_label": y_name,
            "equal_aspect": bool(equal_aspect) if equal_aspect is not None else False,
            "performance": bool(performance)
            if performance is not None
            else n > performance_threshold,
            "point_size": float(point_size or 0.0),
            "height": int(height),
            "title": title if title is not None else "",
        }
        self._color_name: str | None = None
        self._size_name: str | None = None
        if color is not None:
            name, values = column(rows, color, "color")
            traits.update(_color_traits(values, palette, color_range))
            traits["color_column"] = name
            self._color_name = name if isinstance(color, str) else None
        if size is not None:
            name, values = column(rows, size, "size")
            traits["_size"] = normalized_float32(float_values(values, "size"))
            traits["size_column"] = name
            self._size_name = name if isinstance(size, str) else None
        self._tooltip_columns = self._pick_tooltip(rows, tooltip, x_name, y_name)
        traits["hover_tooltip"] = tooltip is not False
        self._threaded_rpc = kwargs.pop("_threaded_rpc", True)
        super().__init__(rows, **traits, **kwargs)
        self._rpc = RpcServer(
            {"point": self._rpc_point},
            self._send_rpc,
            threaded=self._threaded_rpc,
            name="nbdiag-scatter-rpc",
        )
        self.on_msg(self._on_custom_msg)

    # ------------------------------------------------------------------ colour
    def color_by(
        self,
        color: Any,
        *,
        palette: list[str] | None = None,
        color_range: tuple[float, float] | None = None,
    ) -> None:
        """Colour the points by another column (``None``: one colour)."""
        traits: dict[str, Any] = {
            "color_kind": "none",
            "color_column": "",
            "_color_codes": b"",
            "_color_values": b"",
            "color_categories": [],
            "color_range": [],
        }
        if color is not None:
            name, values = column(self._rows, color, "color")
            traits.update(_color_traits(values, palette, color_range))
            traits["color_column"] = name
        with self.hold_sync():
            for k, val in traits.items():
                setattr(self, k, val)

    # ------------------------------------------------------------------ tooltip
    def _pick_tooltip(
        self, rows: pd.DataFrame, tooltip: Any, x_name: str, y_name: str
    ) -> list[str]:
        if tooltip is False:
            return []
        if tooltip is not None and tooltip is not True:
            cols = [tooltip] if isinstance(tooltip, str) else list(tooltip)
            missing = [c for c in cols if c not in rows.columns]
            if missing:
                raise KeyError(f"tooltip columns not in the rows: {missing}")
            return cols
        cols = [c for c in _TOOLTIP_DEFAULTS if c in rows.columns and rows[c].notna().any()]
        if self._color_name in cols:
            cols.remove(self._color_name)
            cols.insert(0, self._color_name)
        if "issues" in cols and not (rows["issues"].astype(str) != "").any():
            cols.remove("issues")
        for extra in (self._color_name, self._size_name, x_name, y_name):
            if extra and extra in rows.columns and extra not in cols:
                cols.append(extra)
        return cols

    def _on_custom_msg(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        self._rpc.handle(content, buffers)

    def _send_rpc(self, content: dict[str, Any], buffers: list[Any]) -> None:
        self.send(content, buffers)

    def _rpc_point(self, call: Call) -> Reply:
        row = call.params.get("row")
        if not isinstance(row, int) or isinstance(row, bool) or not 0 <= row < len(self._rows):
            raise RpcError(f"row must be an integer in [0, {len(self._rows)}), got {row!r}")
        return self.point_details(row)

    def point_details(self, row: int) -> Reply:
        """What the tooltip of point ``row`` shows: its id, key columns and thumbnail."""
        rid = self._rows.index[row]
        record = self._rows.iloc[row]
        values = [[c, format_value(record[c])] for c in self._tooltip_columns]
        result: dict[str, Any] = {"id": str(rid), "values": values, "image": None}
        buffers: list[bytes] = []
        ds = self.dataset
        if ds is not None and rid in ds.samples.index:
            try:
                buffers.append(ds.thumbnail(rid, size=128, fmt="WEBP"))
                result.update(image=0, mime="image/webp")
            except Exception as e:  # no image, or a broken one: the tooltip shows why
                result["values"].append(["image", f"unavailable ({type(e).__name__})"])
        return Reply(result, buffers)

    # ------------------------------------------------------------------ reading
    @property
    def xy(self) -> np.ndarray:
        """The plotted coordinates (float32, shape (n, 2))."""
        return np.stack(
            [np.frombuffer(self._x, dtype="<f4"), np.frombuffer(self._y, dtype="<f4")], axis=1
        )

    def payload_bytes(self) -> int:
        """Bytes of the binary columns sent to the browser."""
        return sum(
            len(b) for b in (self._x, self._y, self._color_codes, self._color_values, self._size)
        ) + len(self._row_keys)

    def __repr__(self) -> str:
        return f"Scatter({len(self._rows):,} points, {int(self.selection_mask.sum()):,} selected)"


def _color_traits(
    values: pd.Series, palette: list[str] | None, color_range: tuple[float, float] | None
) -> dict[str, Any]:
    if is_categorical(values):
        codes, names = category_codes(values)
        data, width = encode_category(codes, len(names))
        return {
            "color_kind": "category",
            "_color_codes": data,
            "_color_code_width": width,
            "color_categories": names,
            "color_palette": list(palette or []),
            "_color_values": b"",
            "color_range": [],
        }
    numbers = float_values(values, "color")
    if color_range is not None:
        lo, hi = (float(v) for v in color_range)
    else:
        finite = numbers[np.isfinite(numbers)]
        lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    return {
        "color_kind": "value",
        "_color_values": encode_float32(numbers),
        "color_range": [lo, hi],
        "_color_codes": b"",
        "color_categories": [],
    }
