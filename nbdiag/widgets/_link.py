"""One selection shared by several views: ``nbdiag.link(a, b, ...)``.

:class:`LinkedSelection` is a DOM-less widget model holding a packed bitmask over the samples of a
dataset (its *universe*), plus who made the selection. Each linked view references it through its
``_link`` trait and carries ``_row_keys``: the universe position of each of its rows' samples. In
the browser every view maps its own row selection to samples and back through those keys, so a
lasso in the scatter outlines confusion-matrix cells and fills histogram bars without a kernel
round trip; the kernel receives the committed bitmask, debounced, in one message (125 KB at 1M
samples). See docs/dev/widget-protocol.md, "Linking".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from .. import validation as v
from ._base import PYTHON, SelectionWidget, mask_from, objects_of_rows
from ._codecs import Binary, pack_mask, unpack_mask

if TYPE_CHECKING:
    from ..dataset import Dataset

log = logging.getLogger(__name__)

LinkCallback = Callable[["LinkedSelection"], Any]
#: ``_object_keys`` entry of a row without that object
NO_OBJECT = 0xFFFFFFFF


# Displaying a LinkedSelection shows a live count; it has no other view. (An anywidget model,
# not a bare ipywidgets WidgetModel: the bare model's default serializer JSON-copies values, which
# turns the bitmask's DataView into {}; anywidget's model sends binary buffers as they are.)
_COUNT_ESM = """
function count(bytes) {
  if (!bytes || !bytes.byteLength) return 0;
  const b = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let c = 0;
  for (let i = 0; i < b.length; i++) { let v = b[i]; while (v) { c += v & 1; v >>= 1; } }
  return c;
}
function render({ model, el }) {
  const div = document.createElement("div");
  div.dataset.testid = "nbdiag-linked-selection";
  const show = () => {
    const n = count(model.get("_selection"));
    div.dataset.selectedCount = String(n);
    div.textContent = `${n.toLocaleString("en-US")} of ${model.get("n_samples").toLocaleString("en-US")} samples selected` +
      (n && model.get("_selection_source") ? ` (${model.get("_selection_source")})` : "");
  };
  show();
  model.on("change:_selection", show);
  el.append(div);
  return () => model.off("change:_selection", show);
}
export default { render };
"""


class LinkedSelection(anywidget.AnyWidget):
    """The selection shared by linked views: a set of samples.

    Create it with :func:`link`. Read it like any view: :attr:`selected` (the samples
    DataFrame), :attr:`selection` (sample ids), :attr:`selection_mask`; set it with
    :meth:`select`; react with :meth:`on_select`. :attr:`source_view` is the view the last
    selection was made in (``None`` when made from Python).

    Parameters
    ----------
    samples
        The universe: a :class:`~nbdiag.Dataset` (its ``samples`` table), or a DataFrame indexed
        by sample id.
    views
        Views to link now (more with :meth:`add`).
    """

    _esm = _COUNT_ESM

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

    def __init__(
        self,
        samples: Dataset | pd.DataFrame,
        views: Iterable[SelectionWidget] = (),
        **kwargs: Any,
    ):
        from ..dataset import Dataset

        if isinstance(samples, Dataset):
            self.dataset: Dataset | None = samples
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
        self._views: list[SelectionWidget] = []
        self._callbacks: list[LinkCallback] = []
        super().__init__(n_samples=len(frame), n_objects=len(self._objects_index), **kwargs)
        self._notified: tuple[bytes, bytes] = (b"", b"")
        self.observe(self._changed, names=["_selection", "_object_selection"])
        self.add(*views)

    # ------------------------------------------------------------------ views
    @property
    def views(self) -> tuple[SelectionWidget, ...]:
        """The linked views."""
        return tuple(self._views)

    def add(self, *views: SelectionWidget) -> LinkedSelection:
        """Link more views (a view linked elsewhere leaves its old link). They show the current
        shared selection from now on."""
        for view in views:
            if not isinstance(view, SelectionWidget):
                raise TypeError(
                    f"only nbdiag views can be linked, got {type(view).__name__} "
                    "(expected a Scatter, Histogram, ConfusionMatrix, ImageGrid, ...)"
                )
            if view._link is self:
                continue
            positions = self._positions_of(view)  # raises (outside the universe) before unlinking
            if view._link is not None:
                view._link.remove(view)
            with view.hold_sync():
                self._bind_rows(view, positions)
                view._selection = b""  # the link is the truth now
                view._link = self
            self._views.append(view)
        return self

    def _bind_rows(self, view: SelectionWidget, positions: np.ndarray | None = None) -> None:
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
        self, view: SelectionWidget, sample_positions: np.ndarray
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

    def remove(self, *views: SelectionWidget) -> None:
        """Unlink views; each keeps showing (as its own selection) what was selected."""
        for view in views:
            if view._link is not self:
                continue
            mask = view.selection_mask
            self._views.remove(view)
            view._row_positions = None
            view._object_positions = None
            with view.hold_sync():
                view._link = None
                view._row_keys = b""
                view._object_keys = b""
                view._selection_source = self._selection_source
                view._selection = pack_mask(mask)

    def unlink(self) -> None:
        """Unlink every view."""
        self.remove(*self._views)

    def _positions_of(self, view: SelectionWidget) -> np.ndarray:
        ids = view._row_sample_ids()
        positions = self._index.get_indexer(ids)
        if (positions < 0).any():
            missing = pd.Index(ids)[positions < 0].unique()
            raise ValueError(
                f"cannot link {type(view).__name__}: its rows refer to samples that are not in the "
                f"linked dataset: {v.listed(missing)}"
            )
        return positions.astype(np.int64)

    # ------------------------------------------------------------------ reading
    @property
    def samples(self) -> pd.DataFrame:
        """The universe: every sample a linked view can select."""
        return self._samples_frame

    @property
    def selection_mask(self) -> np.ndarray:
        """Boolean mask over :attr:`samples`."""
        return unpack_mask(self._selection, self.n_samples)

    @property
    def selection(self) -> pd.Index:
        """Ids of the selected samples (in dataset order)."""
        return self._index[self.selection_mask]

    @property
    def selected(self) -> pd.DataFrame:
        """The selected samples as a DataFrame (a copy: safe to modify)."""
        return self._samples_frame[self.selection_mask].copy()

    @property
    def object_mask(self) -> np.ndarray | None:
        """Boolean mask over the dataset's objects when the selection was made over objects
        (a brush over box scores, a lasso over box crops), else None (a selection of samples)."""
        if not self._object_selection or not self.n_objects:
            return None
        return unpack_mask(self._object_selection, self.n_objects)

    @property
    def selected_objects(self) -> pd.DataFrame:
        """The selected objects (boxes): exactly those selected in an object-level view, or
        every object of the selected samples. Needs a link over a Dataset."""
        if self.dataset is None:
            raise ValueError("selected_objects needs a link over a Dataset")
        objects = self.dataset.objects
        in_samples = objects["sample_id"].isin(self.selection)
        mask = self.object_mask
        if mask is not None:  # ids as of the link's creation, still in the selected samples
            return objects[objects.index.isin(self._objects_index[mask]) & in_samples].copy()
        return objects[in_samples].copy()

    @property
    def selection_source(self) -> str:
        """The gesture that made the selection (``"python"``, ``"lasso"``, ``"cell:1:2"``, ...)."""
        return self._selection_source

    @property
    def selection_region(self) -> dict[str, Any]:
        """The source view's description of the selected region (e.g. a lasso polygon in data
        coordinates or a histogram range), or ``{}``."""
        return dict(self._selection_region)

    @property
    def source_view(self) -> SelectionWidget | None:
        """The linked view the selection was made in, or None (Python, or an unlinked view)."""
        for view in self._views:
            if view._view_id and view._view_id == self._selection_view:
                return view
        return None

    # ------------------------------------------------------------------ writing
    def select(self, items: Any) -> None:
        """Select samples: ids, a boolean mask over :attr:`samples` (array or Series), a
        DataFrame (its index; e.g. another view's ``selected``), or ``None`` to clear."""
        self._set_mask(mask_from(items, self._index, "sample"), PYTHON)

    def clear_selection(self) -> None:
        """Select nothing."""
        self.select(None)

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

    # ------------------------------------------------------------------ callbacks
    def on_select(self, callback: LinkCallback, remove: bool = False) -> None:
        """Call ``callback(link)`` whenever the shared selection changes."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def _changed(self, change: dict[str, Any]) -> None:
        # samples and objects arrive together (one message, or one _set_mask): report the pair
        # once; other objects of the same samples (another score range) is a change too
        state = (bytes(self._selection), bytes(self._object_selection))
        if state == self._notified:
            return
        self._notified = state
        for view in list(self._views):
            view._selection_changed(None)  # the views' own on_select callbacks
        for cb in list(self._callbacks):
            try:
                cb(self)
            except Exception:  # a user's callback must not break the widget
                log.exception("nbdiag: on_select callback %r failed", cb)

    def __repr__(self) -> str:
        kinds = ", ".join(type(w).__name__ for w in self._views)
        n = int(self.selection_mask.sum())
        return (
            f"LinkedSelection({n} of {self.n_samples} samples selected; views: {kinds or 'none'})"
        )


def link(*views: SelectionWidget, dataset: Dataset | pd.DataFrame | None = None) -> LinkedSelection:
    """Link views: a selection made in any of them shows in all of them (in the browser, without
    the kernel) and is readable from the returned :class:`LinkedSelection`.

    Views may draw different rows (all samples, the evaluated samples, objects): selections map
    through the sample each row belongs to.

    Parameters
    ----------
    *views
        nbdiag views (``Scatter``, ``Histogram``, ``ConfusionMatrix``, ``ImageGrid``, ...).
    dataset
        The samples the shared selection is over. Defaults to the views' Dataset.

    Examples
    --------
    >>> sc, cm = nbdiag.Scatter(ds), nbdiag.ConfusionMatrix(ds.evaluate("cnn"))  # doctest: +SKIP
    >>> linked = nbdiag.link(sc, cm)                                              # doctest: +SKIP
    >>> linked.selected          # the samples selected in either view           # doctest: +SKIP
    """
    if not views:
        raise ValueError("link() needs at least one view")
    for w in views:
        if not isinstance(w, SelectionWidget):
            raise TypeError(
                f"only nbdiag views can be linked, got {type(w).__name__} "
                "(expected a Scatter, Histogram, ConfusionMatrix, ImageGrid, ...)"
            )
    universe = dataset if dataset is not None else _universe(views)
    existing = {id(w._link): w._link for w in views if w._link is not None}
    linked = LinkedSelection(universe)
    # carry over a selection already made in one of the views (the first non-empty one)
    start: np.ndarray | None = None
    start_objects: np.ndarray | None = None
    for w in views:
        mask = w.selection_mask
        if mask.any():
            positions = linked._positions_of(w)
            start = np.zeros(linked.n_samples, dtype=bool)
            start[positions[mask]] = True
            objects = linked._object_positions_of(w, positions)
            if objects is not None:  # a selection of boxes stays one
                start_objects = objects_of_rows(objects, mask, linked.n_objects)
            break
    linked.add(*views)
    for old in existing.values():
        if old is not None and not old.views:
            old.close()
    if start is not None:
        linked._set_mask(start, PYTHON, objects=start_objects)
    return linked


def _universe(views: Iterable[SelectionWidget]) -> Dataset | pd.DataFrame:
    datasets = [w.dataset for w in views if getattr(w, "dataset", None) is not None]
    if datasets:
        first = datasets[0]
        for other in datasets[1:]:
            if other is not first and not other.samples.index.equals(first.samples.index):
                raise ValueError(
                    "cannot link views of different datasets; pass dataset= to link() to choose "
                    "the samples the shared selection is over"
                )
        return first
    # no Dataset: the union of the views' samples, with the first sample-level view's columns
    frames = [w.rows for w in views if w.level == "samples"]
    ids = pd.Index(np.concatenate([np.asarray(w._row_sample_ids(), dtype=object) for w in views]))
    ids = ids.unique()
    if frames:
        base = frames[0]
        return base.reindex(ids) if not base.index.equals(ids) else base
    return pd.DataFrame(index=ids)
