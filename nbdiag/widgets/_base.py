"""The selection model every nbdiag widget shares.

A widget draws an ordered set of rows (a DataFrame indexed by id). The selection is a packed
bitmask over those rows, written by the browser (debounced) or by Python, and read back here as
ids or as a DataFrame of the selected rows."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from .. import validation as v
from ._codecs import Binary, pack_mask, unpack_mask

log = logging.getLogger(__name__)

SelectCallback = Callable[["SelectionWidget"], Any]
PYTHON = "python"


class SelectionWidget(anywidget.AnyWidget):
    """Base class: rows, a selection over them, and the Python selection API.

    Subclasses pass their rows (a DataFrame indexed by id) to ``__init__`` and may override
    :meth:`_order_selected` to sort what :attr:`selected` returns.
    """

    n_rows = traitlets.Int(0).tag(sync=True)
    _selection = Binary(b"").tag(sync=True)
    _selection_source = traitlets.Unicode("").tag(sync=True)

    def __init__(self, rows: pd.DataFrame, **kwargs: Any):
        self._rows = rows
        self._callbacks: list[SelectCallback] = []
        super().__init__(n_rows=len(rows), **kwargs)
        self.observe(self._selection_changed, names="_selection")

    # ------------------------------------------------------------------ reading
    @property
    def rows(self) -> pd.DataFrame:
        """All rows the widget draws, in its order."""
        return self._rows

    @property
    def selection_mask(self) -> np.ndarray:
        """Boolean mask over :attr:`rows`."""
        return unpack_mask(self._selection, len(self._rows))

    @property
    def selection(self) -> pd.Index:
        """Ids of the selected rows (in row order)."""
        return self._rows.index[self.selection_mask]

    @property
    def selected(self) -> pd.DataFrame:
        """The selected rows as a DataFrame (a copy: safe to modify)."""
        return self._order_selected(self._rows[self.selection_mask]).copy()

    @property
    def selection_source(self) -> str:
        """Who made the current selection: ``"python"`` or the view's description of the gesture
        (e.g. ``"cell:2:5"``)."""
        return self._selection_source

    def _order_selected(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame

    # ------------------------------------------------------------------ writing
    def select(self, items: Any) -> None:
        """Select rows: ids (list / Index), a boolean mask (array or Series over the rows), a
        DataFrame (its index), a single id, or ``None`` to clear."""
        mask = self._mask_from(items)
        with self.hold_sync():
            self._selection_source = PYTHON
            self._selection = pack_mask(mask)

    def clear_selection(self) -> None:
        """Select nothing."""
        self.select(None)

    def _mask_from(self, items: Any) -> np.ndarray:
        n = len(self._rows)
        if items is None:
            return np.zeros(n, dtype=bool)
        if isinstance(items, pd.DataFrame):
            items = items.index
        if isinstance(items, pd.Series) and items.dtype == bool:
            aligned = items.reindex(self._rows.index, fill_value=False)
            return aligned.to_numpy(dtype=bool)
        if isinstance(items, np.ndarray) and items.dtype == bool:
            if items.shape != (n,):
                raise ValueError(
                    f"a boolean mask must have one entry per row ({n}), got {items.shape}"
                )
            return items.copy()
        if isinstance(items, Hashable) and not isinstance(items, tuple):
            items = [items]
        ids = pd.Index(list(items) if isinstance(items, Iterable) else [items])
        v.check_known_ids(ids, self._rows.index, "row")
        return self._rows.index.isin(ids)

    # ------------------------------------------------------------------ callbacks
    def on_select(self, callback: SelectCallback, remove: bool = False) -> None:
        """Call ``callback(widget)`` whenever the selection changes (from the browser or from
        Python). An exception in a callback is logged, never raised into the widget."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def _selection_changed(self, change: dict[str, Any]) -> None:
        for cb in list(self._callbacks):
            try:
                cb(self)
            except Exception:  # a user's callback must not break the widget
                log.exception("nbdiag: on_select callback %r failed", cb)
