"""A self-contained HTML report for teammates without a notebook.

>>> ds.report("report.html", run="resnet")          # doctest: +SKIP

One file: bokeh's JavaScript is inlined and thumbnails are data URIs, so the report opens
offline and makes no network request.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._optional import require
from .._version import __version__
from ..store._atomic import atomic_write_text
from . import _sections as sec
from ._annotators import annotators
from ._html import CSS, esc, note

if TYPE_CHECKING:
    from ..core import DatasetCore

__all__ = ["SECTIONS", "write_report"]

#: (id, heading, builder) in report order
SECTIONS = (
    ("overview", "Dataset overview", sec.overview),
    ("metrics", "Metric distributions", sec.metric_distributions),
    ("evaluation", "Evaluation", sec.evaluation),
    ("performance", "Performance by the metrics that matter most", sec.performance),
    ("worst_slices", "Worst slices", sec.worst),
    ("label_errors", "Likely label errors", sec.label_errors),
    ("annotators", "Labels by annotator", annotators),
    ("comparison", "Run comparison", sec.comparison),
    ("records", "Project records", sec.records),
)


def write_report(
    ds: DatasetCore,
    path: str | os.PathLike[str] = "report.html",
    run: str | None = None,
    *,
    compare_with: str | None = None,
    title: str | None = None,
    sections: list[str] | None = None,
    max_classes: int = 30,
    max_metrics: int = 12,
    max_label_issues: int = 24,
    thumbnail_size: int = 128,
) -> Path:
    """Write a self-contained HTML report of ``ds``.

    Sections: dataset overview, metric distributions, evaluation summary and confusion
    matrix, performance by the most important metrics, worst slices, likely label errors with
    thumbnails, run comparison (when there are several runs of the same kind) and the project
    records (run history, slices, notes, label changes). A section whose inputs are missing
    (no run, no metrics computed, an optional module unavailable) shows a note instead.

    Parameters
    ----------
    ds
        The dataset.
    path
        The HTML file to write (atomically).
    run
        The run to report on (default: the last run added).
    compare_with
        The baseline run for the comparison section (default: the run of the same kind added
        before ``run``; none when there is only one).
    title
        Page title (default ``"nbdiag report: <dataset name>"``).
    sections
        Ids of the sections to include (default all; see :data:`SECTIONS`).
    max_classes, max_metrics, max_label_issues, thumbnail_size
        Size limits of the tables, histograms and thumbnail gallery.

    Returns
    -------
    pathlib.Path

    Raises ``ImportError`` naming the ``report`` extra when bokeh is missing, and
    ``KeyError`` / ``ValueError`` for unknown runs or section ids.
    """
    require("bokeh", "HTML reports")
    from bokeh.embed import file_html
    from bokeh.layouts import column
    from bokeh.models import Div, InlineStyleSheet
    from bokeh.resources import INLINE

    if run is None and ds.runs:
        run = list(ds.runs)[-1]
    if run is not None:
        ds._get_run(run)
    if compare_with is None and run is not None:
        same = [n for n, r in ds.runs.items() if r.kind == ds.runs[run].kind]
        before = same[: same.index(run)]
        compare_with = before[-1] if before else None
    elif compare_with is not None:
        ds._get_run(compare_with)
    known = [s[0] for s in SECTIONS]
    chosen = known if sections is None else list(sections)
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise ValueError(f"unknown report sections {unknown}; sections are {known}")
    ctx = sec.Context(
        ds,
        run,
        compare_with,
        max_classes=max_classes,
        max_metrics=max_metrics,
        max_label_issues=max_label_issues,
        thumbnail_size=thumbnail_size,
    )
    title = title or f"nbdiag report: {ds.name}"
    sheet = InlineStyleSheet(css=CSS)

    def div(text: str) -> Any:
        return Div(text=text, stylesheets=[sheet], sizing_mode="stretch_width")

    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC")

    models: list[Any] = [
        div(
            f"<h1>{esc(title)}</h1><p class='muted'>dataset <b>{esc(ds.name)}</b> · "
            f"generated {stamp} by nbdiag {esc(__version__)}"
            + (f" · run <b>{esc(run)}</b>" if run else "")
            + "</p>"
        )
    ]
    for key, heading, build in SECTIONS:
        if key not in chosen:
            continue
        try:
            parts = build(ctx)
        except Exception as exc:  # a broken section must not cost the whole report
            warnings.warn(f"report section {key!r} failed: {exc}", stacklevel=2)
            parts = [note(f"This section could not be built: {type(exc).__name__}: {exc}")]
        if not parts:
            continue
        html_buf = f"<h2>{esc(heading)}</h2>"
        for part in parts:
            if isinstance(part, str):
                html_buf += part
            else:
                models.append(div(html_buf))
                html_buf = ""
                models.append(part)
        if html_buf:
            models.append(div(html_buf))
    if ctx.notes:
        models.append(
            div("<p class='muted'>Notes: " + "; ".join(esc(n) for n in ctx.notes) + "</p>")
        )
    layout = column(
        *models, sizing_mode="stretch_width", styles={"max-width": "1100px", "margin": "0 auto"}
    )
    page = file_html(layout, resources=INLINE, title=title)
    # no favicon request from the browser: the page names an empty inline icon
    page = page.replace("<head>", '<head>\n    <link rel="icon" href="data:,">', 1)
    out = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
    atomic_write_text(out, page)
    return out
