"""``nbdiag.explore(ds, run=...)``: the linked views of a dataset in one layout."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets
import pandas as pd

from ..core import DatasetCore
from ..core.runs import ClassificationRun, DetectionRun
from ..evaluation import evaluate_run
from ._base import SelectionWidget
from ._link import LinkedSelection, link
from .confusion import ConfusionMatrix
from .histogram import Histogram
from .scatter import Scatter, embedding_columns

log = logging.getLogger(__name__)

#: per-sample columns of a classification run, in the order histograms prefer them
_RUN_COLUMNS = ("confidence", "loss", "margin", "entropy")
#: sample columns never offered as metric histograms
#: the column naming who made a label (samples, or ground-truth boxes)
ANNOTATOR = "annotator"
_NOT_METRICS = {"width", "height", "embedding_x", "embedding_y", "p_label"}


class Explorer(ipywidgets.GridBox):
    """Linked views of a dataset: a scatter of the embedding, the confusion matrix of a run,
    metric histograms and the image grid, sharing one selection.

    Create it with :func:`explore`. Select in any view (lasso, cell, brush, click) and the others
    highlight it; read it with :attr:`selected` (the samples DataFrame).

    Attributes
    ----------
    link : LinkedSelection
        The shared selection.
    views : dict[str, SelectionWidget]
        The views by name: ``"scatter"``, ``"confusion_matrix"``, ``"histogram:<column>"``,
        ``"image_grid"`` (whichever exist).
    """

    def __init__(
        self,
        ds: DatasetCore,
        views: dict[str, SelectionWidget],
        linked: LinkedSelection,
        **kwargs: Any,
    ):
        self.dataset = ds
        self.link = linked
        self.views = views
        self._callbacks: dict[Any, Callable[[LinkedSelection], Any]] = {}
        self.status = ipywidgets.HTML(layout=ipywidgets.Layout(grid_area="status"))
        children, areas, columns = _layout(views, self.status)
        super().__init__(
            children=children,
            layout=ipywidgets.Layout(
                width="100%",
                grid_template_columns=columns,
                grid_template_areas=areas,
                grid_gap="8px",
                align_items="flex-start",
            ),
            **kwargs,
        )
        self._update_status()
        linked.on_select(lambda _link: self._update_status())

    # ------------------------------------------------------------------ views
    @property
    def scatter(self) -> Scatter | None:
        return self.views.get("scatter")  # type: ignore[return-value]

    @property
    def confusion_matrix(self) -> ConfusionMatrix | None:
        return self.views.get("confusion_matrix")  # type: ignore[return-value]

    @property
    def histograms(self) -> list[Histogram]:
        return [v for k, v in self.views.items() if k.startswith("histogram:")]  # type: ignore[misc]

    @property
    def image_grid(self) -> SelectionWidget | None:
        return self.views.get("image_grid")

    # ------------------------------------------------------------------ the selection
    @property
    def selected(self) -> pd.DataFrame:
        """The selected samples (a copy)."""
        return self.link.selected

    @property
    def selection(self) -> pd.Index:
        """Ids of the selected samples."""
        return self.link.selection

    @property
    def selected_objects(self) -> pd.DataFrame:
        """The selected boxes: exactly those picked in an object view (a box-score histogram,
        the grid at object level), else every box of the selected samples."""
        return self.link.selected_objects

    def select(self, items: Any) -> None:
        """Select samples (ids, a boolean mask, a DataFrame, or None to clear) in every view."""
        self.link.select(items)

    def clear_selection(self) -> None:
        self.link.clear_selection()

    def on_select(self, callback: Callable[[Explorer], Any], remove: bool = False) -> None:
        """Call ``callback(explorer)`` whenever the shared selection changes."""
        if remove:
            self.link.on_select(self._callbacks.pop(callback), remove=True)
            return
        wrapped = self._callbacks.setdefault(callback, lambda _link: callback(self))
        self.link.on_select(wrapped)

    def _update_status(self) -> None:
        n = int(self.link.selection_mask.sum())
        total = self.link.n_samples
        source = self.link.selection_source
        text = f"<b>{n:,}</b> of {total:,} samples selected"
        if n and source:
            text += f" <span style='opacity:.6'>({source})</span>"
        if not n:
            text += (
                " <span style='opacity:.6'>· select in any view (lasso, box, cell, brush, click);"
                " <code>explorer.selected</code> returns the samples</span>"
            )
        self.status.value = (
            f"<div data-testid='explorer-status' data-selected-count='{n}'>{text}</div>"
        )

    def __repr__(self) -> str:
        return f"Explorer({', '.join(self.views)}; {self.link!r})"


def explore(
    ds: DatasetCore,
    run: str | None = None,
    *,
    histograms: Sequence[str] | None = None,
    max_histograms: int = 3,
    color: str | None = None,
    scatter: bool = True,
    image_grid: bool = True,
    height: int = 440,
) -> Explorer:
    """Open a dataset in linked views: select anywhere, see it everywhere, get it as a DataFrame.

    Shows whichever apply: a :class:`Scatter` of the 2-D embedding (``embedding_x`` /
    ``embedding_y``, from ``nbdiag.embeddings.project``), the :class:`ConfusionMatrix` of a
    classification run, :class:`Histogram` s of a few metrics (the run's confidence / loss /
    margin, the dataset's metric columns; a detection run's prediction scores and IoUs), a bar
    chart of who labelled what when the boxes or samples have an ``annotator`` column (click an
    annotator: their labels everywhere), and the :class:`ImageGrid`.

    Parameters
    ----------
    ds
        The dataset.
    run
        The run to show (default: the dataset's only run, if it has exactly one).
    histograms
        Columns to draw as histograms (default: up to ``max_histograms`` picked automatically).
    color
        Column colouring the scatter (default: the labels).
    scatter, image_grid
        Set to False to leave these views out.
    height
        Height of the scatter (CSS pixels).

    Examples
    --------
    >>> ex = nbdiag.explore(ds, run="cnn")     # doctest: +SKIP
    >>> ex                                     # doctest: +SKIP
    >>> ex.selected                            # doctest: +SKIP
    """
    if not isinstance(ds, DatasetCore):
        raise TypeError(f"explore needs an nbdiag.Dataset, got {type(ds).__name__}")
    if run is None and len(ds.runs) == 1:
        run = next(iter(ds.runs))
    run_obj = ds.runs.get(run) if run is not None else None
    if run is not None and run_obj is None:
        raise KeyError(f"unknown run {run!r}; the dataset has {sorted(ds.runs)}")
    classification = isinstance(run_obj, ClassificationRun)
    sample_run = run if classification else None

    views: dict[str, SelectionWidget] = {}
    if scatter and embedding_columns(ds.samples.columns) is not None:
        if color is None and ds.samples["label"].notna().any():
            color = "label"
        views["scatter"] = Scatter(
            ds, color=color, run=sample_run, height=height, title="embedding"
        )
    if classification:
        views["confusion_matrix"] = ConfusionMatrix(evaluate_run(ds, run))
    elif isinstance(run_obj, DetectionRun):
        try:  # boxes: a background row and column; rows are box pairs, linked through sample_id
            views["confusion_matrix"] = ConfusionMatrix(ds, run=run)
        except Exception as e:  # e.g. no ground truth to match against
            warnings.warn(f"explore: no confusion matrix of {run!r}: {e}", stacklevel=2)
    for spec in _histogram_specs(ds, run, run_obj, histograms, max_histograms):
        name, source, column, level = spec
        try:
            views[f"histogram:{name}"] = Histogram(
                source, column, level=level, run=sample_run if source is ds else None, height=130
            )
        except (KeyError, TypeError, ValueError) as e:
            warnings.warn(f"explore: no histogram of {name!r}: {e}", stacklevel=2)
    if image_grid:
        grid = _image_grid(ds, run)
        if grid is not None:
            views["image_grid"] = grid
    if not views:
        raise ValueError(
            "nothing to explore: the dataset has no 2-D embedding (nbdiag.embeddings.project), "
            "no run, no numeric metric column and no images"
        )
    linked = link(*views.values(), dataset=ds)
    return Explorer(ds, views, linked)


def _histogram_specs(
    ds: DatasetCore,
    run: str | None,
    run_obj: Any,
    wanted: Sequence[str] | None,
    limit: int,
) -> list[tuple[str, Any, str, str]]:
    """(name, source, column, level) of the histograms to draw."""
    samples = ds.samples
    run_cols: list[str] = []
    if isinstance(run_obj, ClassificationRun):
        per_sample = evaluate_run(ds, run).per_sample
        run_cols = [c for c in _RUN_COLUMNS if c in per_sample and per_sample[c].notna().any()]
    det_preds = None
    if isinstance(run_obj, DetectionRun):
        try:
            det_preds = evaluate_run(ds, run).predictions
        except Exception as e:  # evaluation needs ground truth; histograms are a nicety
            log.info("explore: no detection evaluation of %r: %s", run, e)
    if wanted is not None:
        out = []
        for col in wanted:
            if det_preds is not None and col in det_preds.columns and col not in samples.columns:
                out.append((col, det_preds, col, "objects"))
            else:
                out.append((col, ds, col, "samples"))
        return out
    out: list[tuple[str, Any, str, str]] = [(c, ds, c, "samples") for c in run_cols]
    if det_preds is not None:
        for c in ("score", "iou"):
            if c in det_preds.columns and det_preds[c].notna().any():
                out.append((f"prediction {c}", det_preds, c, "objects"))
    for c in samples.columns:
        if len(out) >= limit:
            break
        if c in _NOT_METRICS or c in run_cols or c.startswith("embedding"):
            continue
        col = samples[c]
        if pd.api.types.is_float_dtype(col.dtype) and col.notna().any() and col.nunique() > 1:
            out.append((c, ds, c, "samples"))
    return _annotator_spec(ds) + out[:limit]


def _annotator_spec(ds: DatasetCore) -> list[tuple[str, Any, str, str]]:
    """A bar chart of who made the labels (click a bar: that annotator's labels), when the
    ground-truth boxes or the samples name their annotator."""
    gt = ds.gt_objects
    if ANNOTATOR in gt.columns and gt[ANNOTATOR].notna().any():
        return [(ANNOTATOR, gt[["sample_id", ANNOTATOR]], ANNOTATOR, "objects")]
    if ANNOTATOR in ds.samples.columns and ds.samples[ANNOTATOR].notna().any():
        return [(ANNOTATOR, ds, ANNOTATOR, "samples")]
    return []


def _image_grid(ds: DatasetCore, run: str | None) -> SelectionWidget | None:
    """The ImageGrid, when that widget is available and the dataset has images."""
    try:
        from .image_grid import ImageGrid
    except ImportError:
        return None
    has_images = bool(getattr(ds, "_images", None)) or ds.samples["path"].notna().any()
    if not has_images:
        return None
    try:
        return ImageGrid(ds, run=run, height=420)
    except Exception as e:  # a view failing must not take the explorer down
        warnings.warn(f"explore: no image grid: {e}", stacklevel=3)
        return None


def _layout(
    views: dict[str, SelectionWidget], status: ipywidgets.HTML
) -> tuple[list[ipywidgets.Widget], str, str]:
    """Children, ``grid-template-areas`` and columns of the explorer's grid:

    status line; scatter | confusion matrix; a row of histograms; the image grid."""
    sc = views.get("scatter")
    cm = views.get("confusion_matrix")
    grid = views.get("image_grid")
    hists = [v for k, v in views.items() if k.startswith("histogram:")]
    children: list[ipywidgets.Widget] = [status]
    rows = ['"status status"']
    columns = "minmax(0, 3fr) minmax(0, 2fr)"
    top = [w for w in (sc, cm) if w is not None]
    if len(top) == 2:
        sc.layout.grid_area, cm.layout.grid_area = "main", "side"
        rows.append('"main side"')
    elif top:
        top[0].layout.grid_area = "main"
        rows.append('"main main"')
    children += top
    if hists:
        per_row = min(3, len(hists))
        for h in hists:
            h.layout.width = "100%"
        row = ipywidgets.GridBox(
            hists,
            layout=ipywidgets.Layout(
                grid_area="hists",
                width="100%",
                grid_template_columns=f"repeat({per_row}, minmax(0, 1fr))",
                grid_gap="8px",
            ),
        )
        children.append(row)
        rows.append('"hists hists"')
    if grid is not None:
        grid.layout.grid_area = "grid"
        children.append(grid)
        rows.append('"grid grid"')
    return children, "\n".join(rows), columns
