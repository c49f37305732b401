"""The selection model, below every widget: masks over rows, samples and objects, who made a
selection and where, and the state a linked selection keeps.

:class:`SharedSelection` is that state: a packed bitmask over the samples of a dataset (its
*universe*), one over its objects when the selection was made over objects, the gesture that
made it, the view it was made in and the region it covers; plus the keys mapping a view's rows to
the universe. It knows views only as :class:`LinkableView`: the views (``_base.py``) are built on
it, and :class:`~nbdiag.widgets.LinkedSelection` (``_link.py``) adds the linked views, the
callbacks and the public API on top of both."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Protocol

import anywidget
import numpy as np
import pandas as pd
import traitlets

from ..core import validation as v
from ._codecs import Binary, pack_mask, unpack_mask

if TYPE_CHECKING:
    from ..core import DatasetCore

log = logging.getLogger(__name__)

#: the source of a selection made from Python
PYTHON = "python"
#: ``_object_keys`` entry of a row without that object
NO_OBJECT = 0xFFFFFFFF


def mask_from(items: Any, index: pd.Index, what: str = "row") -> np.ndarray:
    """Boolean mask over ``index`` from ids (list / Index / single id), a boolean mask (array, or
    Series aligned on the ids), a DataFrame (its index), or ``None`` (nothing)."""
    n = len(index)
    if items is None:
        return np.zeros(n, dtype=bool)
    if isinstance(items, pd.DataFrame):
        items = items.index
    if isinstance(items, pd.Series) and items.dtype == bool:
        aligned = items.reindex(index, fill_value=False)
        return aligned.to_numpy(dtype=bool)
    if isinstance(items, np.ndarray) and items.dtype == bool:
        if items.shape != (n,):
            raise ValueError(
                f"a boolean mask must have one entry per {what} ({n}), got {items.shape}"
            )
        return items.copy()
    if isinstance(items, Hashable) and not isinstance(items, tuple):
        items = [items]
    values = items if isinstance(items, (pd.Index, np.ndarray)) else list(items)
    # the ids in the rows' own dtype: one hash lookup, no conversion of a million row ids
    ids = pd.Index(values, dtype=object) if index.dtype == object else pd.Index(values)
    if not index.is_unique:  # rows of a user's frame may repeat ids
        v.check_known_ids(ids, index, what)
        return index.isin(ids)
    mask = np.zeros(n, dtype=bool)
    mask[v.positions_of(ids, index, what)] = True
    return mask


def objects_of_rows(positions: np.ndarray, rows: np.ndarray, n_objects: int) -> np.ndarray:
    """Mask over the objects held by the selected rows (``positions``: (rows, k), -1 none)."""
    out = np.zeros(n_objects, dtype=bool)
    picked = positions[rows].reshape(-1)
    out[picked[picked >= 0]] = True
    return out


def rows_of_objects(positions: np.ndarray, objects: np.ndarray) -> np.ndarray:
    """Mask over the rows holding any selected object."""
    hit = np.zeros(positions.shape, dtype=bool)
    valid = positions >= 0
    hit[valid] = objects[positions[valid]]
    return hit.any(axis=1)


class LinkableView(Protocol):
    """What a shared selection needs of a view to key its rows (``SelectionWidget`` has it)."""

    _row_positions: np.ndarray | None
    _object_positions: np.ndarray | None
    _row_keys: bytes
    _object_keys: bytes

    @property
    def rows(self) -> pd.DataFrame: ...

    def _row_sample_ids(self) -> pd.Index: ...

    def _row_object_ids(self, link: Any) -> list[pd.Index] | None: ...


class SharedSelection(anywidget.AnyWidget):
    """The state of a selection shared by views: a set of samples of a universe (and of its
    objects, when made over objects), who made it and where, and how each view's rows map to it.

    Views read and write it through the private members here; the public API, the views and the
    callbacks are :class:`~nbdiag.widgets.LinkedSelection`'s.

    Parameters
    ----------
    samples
        The universe: a :class:`~nbdiag.Dataset` (its ``samples`` table), or a DataFrame indexed
        by sample id.
    """

    n_samples = traitlets.Int(0).tag(sync=True)
    _selection = Binary(b"").tag(sync=True)
    #: the dataset's objects (boxes) a selection can be refined to
    n_objects = traitlets.Int(0).tag(sync=True)
    #: packed bitmask over the objects, when the selection was made over objects; b"" = the
    #: selection is of whole samples (object views show every object of the selected samples)
    _object_selection = Binary(b"").tag(sync=True)
    _selection_source = traitlets.Unicode("").tag(sync=True)
    _selection_view = traitlets.Unicode("").tag(sync=True)
    _selection_region = traitlets.Dict().tag(sync=True)

    def __init__(self, samples: DatasetCore | pd.DataFrame, **kwargs: Any):
        from ..core import DatasetCore

        if isinstance(samples, DatasetCore):
            self.dataset: DatasetCore | None = samples
            frame = samples.samples
        elif isinstance(samples, pd.DataFrame):
            self.dataset = None
            frame = samples
        else:
            raise TypeError(
                f"LinkedSelection needs a Dataset or a samples DataFrame, got {type(samples).__name__}"
            )
        v.check_unique_ids(frame.index, "sample")
        self._samples_frame = frame
        self._index = frame.index
        #: the objects universe (fixed at creation: later views over new objects link by sample)
        objects = self.dataset.objects if self.dataset is not None else None
        self._objects_frame = objects if objects is not None else pd.DataFrame()
        self._objects_index = self._objects_frame.index
        # each object's sample position, computed once (re-keying a view then costs a lookup)
        self._object_sample_pos = (
            self._index.get_indexer(pd.Index(objects["sample_id"]))
            if objects is not None
            else np.zeros(0, dtype=np.int64)
        )
        super().__init__(n_samples=len(frame), n_objects=len(self._objects_index), **kwargs)

    # ------------------------------------------------------------------ keys
    def _bind_rows(self, view: LinkableView, positions: np.ndarray | None = None) -> None:
        """Set a view's row -> sample keys (and row -> object keys, for object rows)."""
        if positions is None:
            positions = self._positions_of(view)
        identity = len(positions) == self.n_samples and bool(
            (positions == np.arange(len(positions))).all()
        )
        view._row_positions = positions
        view._row_keys = b"" if identity else positions.astype("<u4").tobytes()
        objects = self._object_positions_of(view, positions)
        view._object_positions = objects
        view._object_keys = (
            b""
            if objects is None
            else np.where(objects < 0, NO_OBJECT, objects).astype("<u4").tobytes()
        )

    def _object_positions_of(
        self, view: LinkableView, sample_positions: np.ndarray
    ) -> np.ndarray | None:
        """Each row's positions among the universe's objects, ``(rows, k)`` with -1 for a key
        the row has not (a pair without a prediction), when every object named is one of them
        in the row's sample and every row names one; else None (the view links by sample)."""
        keys = view._row_object_ids(self)
        if keys is None or not len(self._objects_index) or not self._objects_index.is_unique:
            return None
        columns = []
        for ids in keys:
            ids = pd.Index(ids)
            present = ~pd.isna(ids)
            positions = np.full(len(ids), -1, dtype=np.int64)
            found = self._objects_index.get_indexer(ids[present])
            if (found < 0).any() or not np.array_equal(
                self._object_sample_pos[found], sample_positions[present]
            ):
                log.info(
                    "nbdiag: %s links by sample: its rows are not the dataset's boxes",
                    type(view).__name__,
                )
                return None
            positions[present] = found
            columns.append(positions)
        if len(keys) == 1 and not self._same_boxes(view.rows, columns[0]):
            log.info(
                "nbdiag: %s links by sample: its rows' ids name other boxes", type(view).__name__
            )
            return None
        out = np.stack(columns, axis=1)
        if len(out) and (out < 0).all(axis=1).any():
            return None
        return out

    def _same_boxes(self, rows: pd.DataFrame, positions: np.ndarray) -> bool:
        """Whether rows keyed one object each describe those objects: the columns both have of
        label, score and box agree (a prediction numbered 2 in a COCO results file is not the
        dataset's annotation 2 of the same image)."""
        objects = self._objects_frame
        numeric = [c for c in ("score", "x", "y", "w", "h") if c in rows and c in objects]
        label = ["label"] if "label" in rows and "label" in objects else []
        for col in numeric or label:  # numbers suffice when there are some (and are cheap)
            a, b = rows[col], objects[col].iloc[positions]
            if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
                x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
                if not np.allclose(x, y, rtol=0, atol=1e-9, equal_nan=True):
                    return False
            elif not np.array_equal(
                a.astype(object).where(a.notna(), None).astype(str).to_numpy(),
                b.astype(object).where(b.notna(), None).astype(str).to_numpy(),
            ):
                return False
        return True

    def _positions_of(self, view: LinkableView) -> np.ndarray:
        ids = view._row_sample_ids()
        positions = self._index.get_indexer(ids)
        if (positions < 0).any():
            missing = pd.Index(ids)[positions < 0].unique()
            raise ValueError(
                f"cannot link {type(view).__name__}: its rows refer to samples that are not in the "
                f"linked dataset: {v.listed(missing)}"
            )
        return positions.astype(np.int64)

    # ------------------------------------------------------------------ state
    def _sample_mask(self) -> np.ndarray:
        """Boolean mask over the universe's samples."""
        return unpack_mask(self._selection, self.n_samples)

    def _object_mask(self) -> np.ndarray | None:
        """Boolean mask over the universe's objects, or None (a selection of samples)."""
        if not self._object_selection or not self.n_objects:
            return None
        return unpack_mask(self._object_selection, self.n_objects)

    def _set_mask(
        self,
        mask: np.ndarray,
        source: str,
        *,
        view: str = "",
        region: dict[str, Any] | None = None,
        objects: np.ndarray | None = None,
    ) -> None:
        with self.hold_sync(), self.hold_trait_notifications():
            self._selection_source = source
            self._selection_view = view
            self._selection_region = region or {}
            self._object_selection = b"" if objects is None else pack_mask(objects)
            self._selection = pack_mask(mask)
