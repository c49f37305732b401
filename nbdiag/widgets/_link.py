"""One selection shared by several views: ``nbdiag.link(a, b, ...)``.

:class:`LinkedSelection` is a DOM-less widget model holding a packed bitmask over the samples of a
dataset (its *universe*), plus who made the selection. Each linked view references it through its
``_link`` trait and carries ``_row_keys``: the universe position of each of its rows' samples. In
the browser every view maps its own row selection to samples and back through those keys, so a
lasso in the scatter outlines confusion-matrix cells and fills histogram bars without a kernel
round trip; the kernel receives the committed bitmask, debounced, in one message (125 KB at 1M
samples). See docs/dev/widget-protocol.md, "Linking".

The state itself (the bitmasks, and the keys of each view's rows) is the selection model's
:class:`~nbdiag.widgets._selection_model.SharedSelection`; this module adds the views, the callbacks
and the public API, above :class:`~nbdiag.widgets.SelectionWidget`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._base import SelectionWidget
from ._codecs import pack_mask
from ._selection_model import PYTHON, SharedSelection, mask_from, objects_of_rows

if TYPE_CHECKING:
    from ..core import DatasetCore

log = logging.getLogger(__name__)

LinkCallback = Callable[["LinkedSelection"], Any]


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


class LinkedSelection(SharedSelection):
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

    def __init__(
        self,
        samples: DatasetCore | pd.DataFrame,
        views: Iterable[SelectionWidget] = (),
        **kwargs: Any,
    ):
        self._views: list[SelectionWidget] = []
        self._callbacks: list[LinkCallback] = []
        super().__init__(samples, **kwargs)
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

    # ------------------------------------------------------------------ reading
    @property
    def samples(self) -> pd.DataFrame:
        """The universe: every sample a linked view can select."""
        return self._samples_frame

    @property
    def selection_mask(self) -> np.ndarray:
        """Boolean mask over :attr:`samples`."""
        return self._sample_mask()

    @property
    def selection(self) -> pd.Index:
        """Ids of the selected samples (in dataset order)."""
        return self._index[self.selection_mask]

    @property
    def selected(self) -> pd.DataFrame:
        """The selected samples as a DataFrame (a copy: safe to modify)."""
        # one take by position: a boolean __getitem__ followed by .copy() copies every column
        # twice (and consolidates the blocks), which at 1M samples is most of a selection's cost
        return self._samples_frame.take(np.flatnonzero(self.selection_mask))

    @property
    def object_mask(self) -> np.ndarray | None:
        """Boolean mask over the dataset's objects when the selection was made over objects
        (a brush over box scores, a lasso over box crops), else None (a selection of samples)."""
        return self._object_mask()

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


def link(
    *views: SelectionWidget, dataset: DatasetCore | pd.DataFrame | None = None
) -> LinkedSelection:
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


def _universe(views: Iterable[SelectionWidget]) -> DatasetCore | pd.DataFrame:
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
