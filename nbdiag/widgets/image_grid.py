"""ImageGrid: a virtualised grid of thumbnails with their boxes; select images (or objects) by
clicking and get them back as a DataFrame."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import traitlets

from ..core import DatasetCore
from ._base import SelectionWidget
from ._codecs import Binary, unpack_mask
from ._grid_data import GridSource
from ._rpc import RpcServer
from ._static import bundle

_COLOR_BY = ("class", "match")


class ImageGrid(SelectionWidget):
    """A scrollable grid of a dataset's images (or object crops) with their boxes.

    Thumbnails and boxes are fetched lazily, a page at a time, only for the rows on screen, so
    the grid opens instantly on 100k images. Ground truth is drawn solid and predictions dashed
    with their label and score, in class colours; with a detection run, true positives, false
    positives and misses are styled from the evaluation, and the confidence slider hides
    low-scoring predictions live (misses update too). Click selects, shift-click selects a
    range, ctrl/cmd-click toggles; double-click (or the magnifier) opens the full image.

    Parameters
    ----------
    ds
        The dataset.
    sort_by
        A column of :attr:`rows` to sort by (numeric ones are offered in the toolbar); ``None``
        keeps the dataset's order.
    ascending
        Sort direction (missing values go last either way).
    run
        A run to show: a detection run's boxes (and its evaluation's TP/FP/FN), or a
        classification run's prediction under each image (wrong ones marked).
    level
        ``"sample"``: one cell per image. ``"object"``: one cell per box, showing a crop.
    source
        At object level, which boxes are rows: ``"gt"``, ``"pred"`` (the run's) or ``"both"``
        (the default with a detection run).
    evaluation
        A :class:`~nbdiag.evaluation.detection.DetectionEvaluation` of ``run`` to reuse
        (computed with ``ds.evaluate(run)`` otherwise).
    score_threshold
        Initial confidence threshold: predictions scoring below it are hidden.
    thumbnail_size, height
        Cell size and grid height in CSS pixels.
    title
        Caption in the toolbar.
    show_boxes
        Draw boxes (default: yes, except for a semantic-segmentation dataset, whose class
        regions have no boxes). Masks are drawn when objects have a ``mask`` (or the dataset is
        semantic): toggle them with :attr:`show_masks`, fade them with :attr:`mask_opacity`.

    Examples
    --------
    >>> grid = nbdiag.ImageGrid(ds, run="detr", sort_by="fp", ascending=False)  # doctest: +SKIP
    >>> grid                                                                   # doctest: +SKIP
    >>> grid.selected          # the images you clicked, in grid order        # doctest: +SKIP
    """

    _esm = bundle("image_grid")
    _css = bundle("image_grid", ".css")

    #: "sample" or "object" (the browser's view of :attr:`level`)
    _level = traitlets.Unicode("sample").tag(sync=True)
    task = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sort_by = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    ascending = traitlets.Bool(True).tag(sync=True)
    sort_options = traitlets.List(traitlets.Unicode()).tag(sync=True)
    _order = Binary(b"").tag(sync=True)
    _filter = Binary(b"").tag(sync=True)
    score_threshold = traitlets.Float(0.0).tag(sync=True)
    show_gt = traitlets.Bool(True).tag(sync=True)
    show_pred = traitlets.Bool(True).tag(sync=True)
    hidden_classes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    color_by = traitlets.Unicode("class").tag(sync=True)
    selected_only = traitlets.Bool(False).tag(sync=True)
    thumbnail_size = traitlets.Int(128).tag(sync=True)
    height = traitlets.Int(520).tag(sync=True)
    has_boxes = traitlets.Bool(False).tag(sync=True)
    has_predictions = traitlets.Bool(False).tag(sync=True)
    has_evaluation = traitlets.Bool(False).tag(sync=True)
    has_masks = traitlets.Bool(False).tag(sync=True)
    show_masks = traitlets.Bool(True).tag(sync=True)
    show_boxes = traitlets.Bool(True).tag(sync=True)
    mask_opacity = traitlets.Float(0.45).tag(sync=True)
    _data_version = traitlets.Int(0).tag(sync=True)

    def __init__(
        self,
        ds: DatasetCore,
        sort_by: str | None = None,
        ascending: bool = True,
        run: str | None = None,
        level: str = "sample",
        *,
        source: str | None = None,
        evaluation: Any = None,
        score_threshold: float = 0.0,
        color_by: str | None = None,
        thumbnail_size: int = 128,
        height: int = 520,
        title: str | None = None,
        show_boxes: bool | None = None,
        **kwargs: Any,
    ):
        if not isinstance(ds, DatasetCore):
            raise TypeError(f"ImageGrid needs an nbdiag.Dataset, got {type(ds).__name__}")
        level = {"samples": "sample", "objects": "object"}.get(level, level)
        self.dataset = ds
        self._source = GridSource(ds, level=level, run=run, evaluation=evaluation, source=source)
        src = self._source
        if title is None:
            what = "samples" if level == "sample" else "objects"
            title = f"{ds.name} · {len(src.rows):,} {what}" + (f" · run {run}" if run else "")
        if color_by is None:
            color_by = "match" if src.evaluation is not None else "class"
        self._threaded_rpc = kwargs.pop("_threaded_rpc", True)
        #: what a row is, for linking: "samples" or "objects" (with a ``sample_id`` column)
        self.level = f"{level}s"
        super().__init__(
            src.rows,
            _level=level,
            task=src.task,
            title=title,
            class_names=src.class_names,
            sort_options=src.sort_options(),
            score_threshold=score_threshold,
            color_by=color_by,
            thumbnail_size=thumbnail_size,
            height=height,
            has_boxes=src.has_boxes,
            has_predictions=src.has_predictions,
            has_evaluation=src.evaluation is not None,
            has_masks=src.has_masks,
            show_boxes=show_boxes if show_boxes is not None else src.task != "semantic",
            **kwargs,
        )
        self._rpc = RpcServer(
            src.methods(), self._send_rpc, threaded=self._threaded_rpc, name="nbdiag-grid-rpc"
        )
        self.on_msg(self._on_custom_msg)
        # sort last: the validators above need the rows
        self.ascending = ascending
        self.sort_by = sort_by
        self._update_order()
        self.observe(self._on_sort, names=["sort_by", "ascending"])

    # ------------------------------------------------------------------ state
    @property
    def evaluation(self) -> Any:
        """The detection evaluation behind the TP/FP/FN styling (None without a detection run)."""
        return self._source.evaluation

    @property
    def run(self) -> str | None:
        return self._source.run

    @property
    def selected_objects(self) -> pd.DataFrame:
        """The selected objects as rows of ``ds.objects``: at ``level="object"`` exactly the
        objects selected (clicked crops or masks), at ``level="sample"`` every object of the
        selected images. Through a link, the link's :attr:`selected_objects`."""
        if self._link is not None and getattr(self._link, "dataset", None) is not None:
            return self._link.selected_objects
        objects = self.dataset.objects
        ids = self.selection
        if self.level == "objects":
            return objects.loc[objects.index.intersection(ids)].copy()
        return objects[objects["sample_id"].isin(ids)].copy()

    @property
    def order(self) -> np.ndarray:
        """Row positions in display order."""
        if not self._order:
            return np.arange(len(self._rows), dtype=np.uint32)
        return np.frombuffer(self._order, dtype="<u4")

    @property
    def display_ids(self) -> pd.Index:
        """Ids of the rows as the grid shows them (sorted, filtered)."""
        order = self.order
        if self._filter:
            order = order[self.filter_mask[order]]
        return self._rows.index[order]

    def sort(self, by: str | None = None, ascending: bool = True) -> None:
        """Sort the grid by a column of :attr:`rows` (``None``: the dataset's order)."""
        with self.hold_trait_notifications():
            self.ascending = ascending
            self.sort_by = by

    # ------------------------------------------------------------------ filter
    @property
    def filter_mask(self) -> np.ndarray:
        """Boolean mask over :attr:`rows` of the rows shown (all True without a filter)."""
        if not self._filter:
            return np.ones(len(self._rows), dtype=bool)
        return unpack_mask(self._filter, len(self._rows))

    def filter(self, items: Any) -> None:
        """Show only these rows (ids, a boolean mask, a DataFrame such as another view's
        ``selected``); ``None`` shows every row again. The selection is not changed."""
        if items is None:
            self._filter = b""
            return
        mask = self._mask_from(items)
        # not pack_mask: an empty filter (show nothing) must differ from b"" (no filter)
        self._filter = np.packbits(mask, bitorder="little").tobytes() or b"\x00"

    def clear_filter(self) -> None:
        """Show every row."""
        self._filter = b""

    def refresh(self) -> None:
        """Redraw after the dataset or the evaluation changed: new columns (e.g. metrics computed
        since) become sortable, boxes and their TP/FP/FN styles are recomputed (call it after
        ``grid.evaluation.set_thresholds(...)``), and the browser refetches what it shows. The
        selection is kept while the rows are the same."""
        old = self._source
        src = GridSource(
            self.dataset,
            level=old.level,
            run=old.run,
            evaluation=old.evaluation,
            source=old.source,
        )
        self._source = src
        self._rpc.methods = src.methods()
        same_rows = src.rows.index.equals(self._rows.index)
        with self.hold_sync():
            if not same_rows:  # new rows: fresh link keys, the old selection no longer applies
                self._replace_rows(src.rows, "rows")
                self._filter = b""
            else:
                self._rows = src.rows
                if self._link is not None:  # the same ids may now be other boxes
                    self._link._bind_rows(self)
            self.sort_options = src.sort_options()
            self.has_masks = src.has_masks
            if self.sort_by is not None and self.sort_by not in src.rows.columns:
                self.sort_by = None
            self._update_order()
            self._data_version += 1

    # ------------------------------------------------------------------ validation
    @traitlets.validate("sort_by")
    def _check_sort_by(self, proposal: dict[str, Any]) -> str | None:
        value = proposal["value"]
        if value in (None, ""):
            return None
        rows = self._rows
        if value not in rows.columns and value != rows.index.name:
            raise traitlets.TraitError(
                f"sort_by: no column {value!r}; sortable columns are {self.sort_options[:20]}"
            )
        return value

    @traitlets.validate("color_by")
    def _check_color_by(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in _COLOR_BY:
            raise traitlets.TraitError(f"color_by must be one of {_COLOR_BY}")
        return proposal["value"]

    @traitlets.validate("hidden_classes")
    def _check_hidden(self, proposal: dict[str, Any]) -> list[str]:
        names = set(self.class_names)
        bad = [c for c in proposal["value"] if c not in names]
        if bad:
            raise traitlets.TraitError(f"hidden_classes: unknown classes {bad[:10]}")
        return list(dict.fromkeys(proposal["value"]))

    @traitlets.validate("mask_opacity")
    def _check_opacity(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not np.isfinite(value):
            raise traitlets.TraitError("mask_opacity must be a number in [0, 1]")
        return float(np.clip(value, 0.0, 1.0))

    @traitlets.validate("thumbnail_size")
    def _check_size(self, proposal: dict[str, Any]) -> int:
        return int(np.clip(proposal["value"], 32, 512))

    @traitlets.validate("height")
    def _check_height(self, proposal: dict[str, Any]) -> int:
        return int(np.clip(proposal["value"], 120, 5000))

    @traitlets.validate("score_threshold")
    def _check_threshold(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not np.isfinite(value):
            raise traitlets.TraitError("score_threshold must be a finite number")
        return value

    # ------------------------------------------------------------------ internals
    def _on_sort(self, change: dict[str, Any]) -> None:
        self._update_order()

    def _update_order(self) -> None:
        if not self.sort_by:
            self._order = b""
            return
        order = self._source.order(self.sort_by, self.ascending)
        self._order = np.ascontiguousarray(order, dtype="<u4").tobytes()

    def _order_selected(self, frame: pd.DataFrame) -> pd.DataFrame:
        # grid order: what you see is what you get
        if not self._order or not len(frame):
            return frame
        rank = np.empty(len(self._rows), dtype=np.int64)
        rank[self.order] = np.arange(len(self._rows))
        pos = self._rows.index.get_indexer(frame.index)
        return frame.iloc[np.argsort(rank[pos], kind="stable")]

    def _on_custom_msg(self, widget: Any, content: Any, buffers: list[Any]) -> None:
        self._rpc.handle(content, buffers)

    def _send_rpc(self, content: dict[str, Any], buffers: list[Any]) -> None:
        self.send(content, buffers)

    def close(self) -> None:
        rpc = getattr(self, "_rpc", None)
        if rpc is not None:
            rpc.close()
        super().close()
