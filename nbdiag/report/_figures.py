"""Bokeh figures of the report (the data in each is small: bin counts, matrix cells)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._optional import require

BLUE = "#3b6fb6"
ORANGE = "#e07b39"


def _figure(title: str, width: int, height: int, **kwargs: Any) -> Any:
    figure = require("bokeh.plotting", "HTML reports").figure

    fig = figure(
        title=title,
        width=width,
        height=height,
        toolbar_location=None,
        tools="",
        **kwargs,
    )
    fig.title.text_font_size = "12px"
    fig.outline_line_color = None
    return fig


def histogram(values: np.ndarray, title: str, bins: int = 30) -> Any:
    """A histogram of the finite values."""
    models = require("bokeh.models", "HTML reports")
    ColumnDataSource, HoverTool = models.ColumnDataSource, models.HoverTool

    x = values[np.isfinite(values)]
    counts, edges = np.histogram(x, bins=bins if len(np.unique(x)) > 1 else 1)
    src = ColumnDataSource(
        {"left": edges[:-1], "right": edges[1:], "top": counts, "bottom": np.zeros(len(counts))}
    )
    fig = _figure(title, 300, 190)
    fig.quad("left", "right", "top", "bottom", source=src, fill_color=BLUE, line_color="white")
    fig.add_tools(
        HoverTool(tooltips=[("range", "@left{0.[000]} – @right{0.[000]}"), ("count", "@top")])
    )
    fig.y_range.start = 0
    return fig


def bars(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    *,
    signed: bool = False,
    width: int = 620,
    height: int = 220,
) -> Any:
    """Vertical bars over categories (colored by sign when ``signed``)."""
    models = require("bokeh.models", "HTML reports")
    ColumnDataSource, HoverTool = models.ColumnDataSource, models.HoverTool

    labels = [str(s) for s in labels]
    vals = np.asarray(values, dtype=float)
    colors = [BLUE if (not signed or v >= 0) else ORANGE for v in vals]
    src = ColumnDataSource({"label": labels, "value": vals, "color": colors})
    fig = _figure(title, width, height, x_range=labels)
    fig.vbar(x="label", top="value", width=0.8, source=src, fill_color="color", line_color=None)
    fig.add_tools(HoverTool(tooltips=[("", "@label"), ("value", "@value{0.[0000]}")]))
    fig.xaxis.major_label_orientation = 0.9 if len(labels) > 8 else 0
    if not signed:
        fig.y_range.start = 0
    return fig


def heatmap(
    matrix: pd.DataFrame,
    title: str,
    *,
    diverging: bool = False,
    normalize_rows: bool = False,
    size: int = 480,
) -> Any:
    """A confusion-style matrix (rows: true, columns: predicted) with counts on hover."""
    models = require("bokeh.models", "HTML reports")
    ColorBar, ColumnDataSource = models.ColorBar, models.ColumnDataSource
    HoverTool, LinearColorMapper = models.HoverTool, models.LinearColorMapper
    palettes = require("bokeh.palettes", "HTML reports")
    Blues256, RdBu11 = palettes.Blues256, palettes.RdBu11

    rows = [str(r) for r in matrix.index]
    cols = [str(c) for c in matrix.columns]
    counts = matrix.to_numpy(dtype=float)
    if normalize_rows:
        with np.errstate(invalid="ignore", divide="ignore"):
            shown = np.nan_to_num(counts / counts.sum(axis=1, keepdims=True))
    else:
        shown = counts
    ti, pi = np.meshgrid(np.arange(len(rows)), np.arange(len(cols)), indexing="ij")
    src = ColumnDataSource(
        {
            "true": [rows[i] for i in ti.ravel()],
            "pred": [cols[j] for j in pi.ravel()],
            "value": shown.ravel(),
            "count": counts.ravel(),
        }
    )
    if diverging:
        bound = float(np.abs(shown).max()) or 1.0
        # more of a cell in run b: blue; less: red
        mapper = LinearColorMapper(palette=list(RdBu11)[::-1], low=-bound, high=bound)
    else:
        mapper = LinearColorMapper(
            palette=list(Blues256)[::-1], low=0, high=float(shown.max()) or 1.0
        )
    side = max(300, min(size, 22 * len(cols) + 140))
    fig = _figure(
        title,
        side + 80,
        side,
        x_range=cols,
        y_range=list(reversed(rows)),
        x_axis_label="predicted",
        y_axis_label="true",
    )
    fig.rect(
        x="pred",
        y="true",
        width=1,
        height=1,
        source=src,
        fill_color={"field": "value", "transform": mapper},
        line_color=None,
    )
    fig.add_tools(
        HoverTool(
            tooltips=[
                ("true", "@true"),
                ("predicted", "@pred"),
                ("count", "@count{0,0}"),
                ("value", "@value{0.[000]}"),
            ]
        )
    )
    fig.add_layout(ColorBar(color_mapper=mapper, width=10), "right")
    fig.xaxis.major_label_orientation = 0.9
    fig.grid.visible = False
    fig.axis.major_tick_line_color = None
    return fig


def rate_by_bin(frame: pd.DataFrame, rate: str, count: str, title: str) -> Any:
    """A rate per bin with its Wilson interval (``<rate>``, ``<rate>_low``, ``<rate>_high``);
    ``count`` names the column of items per bin."""
    models = require("bokeh.models", "HTML reports")
    ColumnDataSource, HoverTool, Whisker = (
        models.ColumnDataSource,
        models.HoverTool,
        models.Whisker,
    )

    labels = [str(b) for b in frame["bin"]]
    data = {
        "bin": labels,
        "rate": frame[rate].to_numpy(dtype=float),
        "count": frame[count].to_numpy(),
    }
    low, high = f"{rate}_low", f"{rate}_high"
    has_ci = low in frame and high in frame
    if has_ci:
        data["low"] = frame[low].to_numpy(dtype=float)
        data["high"] = frame[high].to_numpy(dtype=float)
    src = ColumnDataSource(data)
    fig = _figure(title, 360, 230, x_range=labels, y_range=(0, 1.05))
    fig.vbar(
        x="bin",
        top="rate",
        width=0.75,
        source=src,
        fill_color=BLUE,
        line_color=None,
        fill_alpha=0.85,
    )
    if has_ci:
        fig.add_layout(
            Whisker(source=src, base="bin", lower="low", upper="high", line_color="#333333")
        )
    fig.add_tools(
        HoverTool(tooltips=[("bin", "@bin"), (rate, "@rate{0.000}"), ("items", "@count")])
    )
    fig.xaxis.major_label_orientation = 0.8
    fig.yaxis.axis_label = rate
    return fig
