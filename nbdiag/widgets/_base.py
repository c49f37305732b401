"""The base every nbdiag widget shares: its rows and the Python selection API over them.

A widget draws an ordered set of rows (a DataFrame indexed by id). The selection is a packed
bitmask over those rows, written by the browser (debounced) or by Python, and read back here as
ids or as a DataFrame of the selected rows.

Linked views (``nbdiag.link(a, b)``) share one :class:`~nbdiag.widgets.LinkedSelection` instead:
a bitmask over the dataset's samples. Each view then carries ``_row_keys`` (the sample position of
each of its rows) so the browser maps selections between views with different row sets without
the kernel; here, :attr:`SelectionWidget.selection_mask` and :meth:`SelectionWidget.select` go
through the link. The masks, sources and regions themselves, and the state a link shares, are
the selection model (``_selection.py``), below this module."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import pandas as pd
import traitlets
from ipywidgets import widget_serialization

from ._codecs import Binary, pack_mask, unpack_mask
from ._selection_model import PYTHON, SharedSelection, mask_from, objects_of_rows, rows_of_objects

if TYPE_CHECKING:
    from ..core import DatasetCore

log = logging.getLogger(__name__)

SelectCallback = Callable[["SelectionWidget"], Any]


class SelectionWidget(anywidget.AnyWidget):
    """Base class: rows, a selection over them, and the Python selection API.

    Subclasses pass their rows (a DataFrame indexed by id) to ``__init__`` and may override
    :meth:`_order_selected` to sort what :attr:`selected` returns. A view whose rows are objects
    (boxes) sets ``level = "objects"``; its rows then need a ``sample_id`` column, which links
    each row to its sample. A view that knows its :class:`~nbdiag.Dataset` sets ``dataset``.
    """

    n_rows = traitlets.Int(0).tag(sync=True)
    _selection = Binary(b"").tag(sync=True)
    _selection_source = traitlets.Unicode("").tag(sync=True)
    #: view-specific description of the selected region (e.g. a histogram's brushed range)
    _selection_region = traitlets.Dict().tag(sync=True)
    #: stable id of this view: the shared selection records which view made it
    _view_id = traitlets.Unicode("").tag(sync=True)
    #: uint32 position in the link's samples of each row's sample; b"" = identity (row i is sample i)
    _row_keys = Binary(b"").tag(sync=True)
    #: object-level rows: uint32 positions of each row's objects in the link's objects, row-major,
    #: k per row (k = len / 4 / n_rows: 1 for a box, 2 for a prediction / ground-truth pair;
    #: 0xFFFFFFFF = none); b"" = the rows are not the dataset's objects (linked by sample only)
    _object_keys = Binary(b"").tag(sync=True)
    #: the shared selection this view is linked to (None: the view keeps its own ``_selection``)
    _link = traitlets.Instance(SharedSelection, allow_none=True, default_value=None).tag(
        sync=True, **widget_serialization
    )

    #: what a row is: ``"samples"`` (indexed by sample id) or ``"objects"`` (``sample_id`` column)
    level: str = "samples"
    #: the Dataset the rows come from, when known (``link()`` uses its samples as the universe)
    dataset: DatasetCore | None = None

    def __init__(self, rows: pd.DataFrame, **kwargs: Any):
        self._rows = rows
        self._callbacks: list[SelectCallback] = []
        self._row_positions: np.ndarray | None = None  # sample position of each row, when linked
        self._object_positions: np.ndarray | None = None  # (rows, k) object positions, -1: none
        kwargs.setdefault("_view_id", uuid.uuid4().hex[:12])
        super().__init__(n_rows=len(rows), **kwargs)
        self.observe(self._selection_changed, names="_selection")

    # ------------------------------------------------------------------ reading
    @property
    def rows(self) -> pd.DataFrame:
        """All rows the widget draws, in its order."""
        return self._rows

    @property
    def selection_mask(self) -> np.ndarray:
        """Boolean mask over :attr:`rows` (through the shared selection when linked: the exact
        objects when the selection was made over objects and this view's rows are objects)."""
        if self._link is not None and self._row_positions is not None:
            objects = self._link._object_mask()
            if objects is not None and self._object_positions is not None:
                return rows_of_objects(self._object_positions, objects)
            return self._link._sample_mask()[self._row_positions]
        return unpack_mask(self._selection, len(self._rows))

    @property
    def selection(self) -> pd.Index:
        """Ids of the selected rows (in row order)."""
        return self._rows.index[self.selection_mask]

    @property
    def selected(self) -> pd.DataFrame:
        """The selected rows as a DataFrame (a copy: safe to modify)."""
        return self._order_selected(self._rows.take(np.flatnonzero(self.selection_mask)))

    @property
    def selection_source(self) -> str:
        """Who made the current selection: ``"python"`` or the view's description of the gesture
        (e.g. ``"cell:2:5"``; when linked, the gesture of whichever linked view made it)."""
        if self._link is not None:
            return self._link._selection_source
        return self._selection_source

    @property
    def selection_region(self) -> dict[str, Any]:
        """The view's description of the selected region, when it has one (e.g. a histogram's
        ``{"kind": "range", "lo": ..., "hi": ...}``), else ``{}``."""
        if self._link is not None:
            return dict(self._link._selection_region)
        return dict(self._selection_region)

    @property
    def link(self) -> SharedSelection | None:
        """The :class:`~nbdiag.widgets.LinkedSelection` this view shares, or None."""
        return self._link

    def _replace_rows(self, rows: pd.DataFrame, source: str = "rows") -> None:
        """New rows (e.g. a re-matched evaluation): the own selection is cleared, ``n_rows``
        follows, and a linked view gets fresh ``_row_keys`` (its sample positions). Call inside
        ``hold_sync()`` together with the new data traits, so the browser gets one message.
        Raises (changing nothing) when the new rows do not fit the link's samples."""
        old = self._rows, self._row_positions, self._object_positions
        self._rows = rows
        link = self._link
        if link is not None:
            try:
                link._bind_rows(self)
            except Exception:
                self._rows, self._row_positions, self._object_positions = old
                raise
            if link._selection_view == self._view_id:
                # a selection made in this view was of its old rows: it no longer applies
                link._set_mask(np.zeros(link.n_samples, dtype=bool), source, view=self._view_id)
        self._selection = b""
        self._selection_source = source
        self._selection_region = {}
        self.n_rows = len(rows)

    def _row_sample_ids(self) -> pd.Index:
        """The sample id of each row (what linking maps through)."""
        if self.level == "objects":
            if "sample_id" not in self._rows.columns:
                raise ValueError(
                    f"{type(self).__name__} has object rows without a sample_id column"
                )
            return pd.Index(self._rows["sample_id"])
        return self._rows.index

    def _row_object_ids(self, link: SharedSelection) -> list[pd.Index] | None:
        """The dataset object ids of each row, one Index per key (a box: its id; a detection
        confusion pair: its prediction's and its ground truth's, None where absent), or None
        when the rows are not objects."""
        return [self._rows.index] if self.level == "objects" else None

    def _order_selected(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame

    # ------------------------------------------------------------------ writing
    def select(self, items: Any) -> None:
        """Select rows: ids (list / Index), a boolean mask (array or Series over the rows), a
        DataFrame (its index), a single id, or ``None`` to clear."""
        mask = self._mask_from(items)
        self._set_mask(mask, PYTHON, {})

    def _set_mask(self, mask: np.ndarray, source: str, region: dict[str, Any]) -> None:
        """Set the selection to a row mask, as this view (through the link when linked)."""
        if self._link is not None and self._row_positions is not None:
            samples = np.zeros(self._link.n_samples, dtype=bool)
            samples[self._row_positions[mask]] = True
            objects = None
            if self._object_positions is not None:
                objects = objects_of_rows(self._object_positions, mask, self._link.n_objects)
            self._link._set_mask(
                samples, source, view=self._view_id, region=region, objects=objects
            )
            return
        with self.hold_sync():
            self._selection_source = source
            self._selection_region = region
            self._selection = pack_mask(mask)

    def clear_selection(self) -> None:
        """Select nothing."""
        self.select(None)

    def _mask_from(self, items: Any) -> np.ndarray:
        return mask_from(items, self._rows.index, "row")

    # ------------------------------------------------------------------ callbacks
    def on_select(self, callback: SelectCallback, remove: bool = False) -> None:
        """Call ``callback(widget)`` whenever the selection changes (from the browser or from
        Python). An exception in a callback is logged, never raised into the widget."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def _selection_changed(self, change: dict[str, Any] | None = None) -> None:
        if change is not None and self._link is not None:
            return  # a stale own-selection message while linked: the link is the truth
        for cb in list(self._callbacks):
            try:
                cb(self)
            except Exception:  # a user's callback must not break the widget
                log.exception("nbdiag: on_select callback %r failed", cb)
