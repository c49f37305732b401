"""ConfusionMatrix: click a cell, a row or a column; get those samples back as a DataFrame."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import traitlets

from ..dataset import Dataset
from ..evaluation.classification import ClassificationEvaluation
from ._base import SelectionWidget
from ._codecs import Binary, encode_codes
from ._static import bundle

_MODES = ("none", "true", "pred")


class ConfusionMatrix(SelectionWidget):
    """An interactive confusion matrix of a classification run.

    Click a cell to select the samples with that (true, predicted) pair, a row header for a true
    class, a column header for a predicted class; shift/ctrl-click adds to the selection. Toggle
    counts / row-normalised / column-normalised in the toolbar or with ``normalize``.

    Parameters
    ----------
    source
        A :class:`~nbdiag.evaluation.ClassificationEvaluation` (``ds.evaluate(run)``), or a
        :class:`~nbdiag.Dataset` together with ``run``.
    run
        The run to evaluate when ``source`` is a Dataset (optional if it has one run).
    normalize
        ``"none"`` (counts), ``"true"`` (each true class's row sums to 1) or ``"pred"``.
    title
        Caption above the matrix; defaults to the run name and accuracy.

    Examples
    --------
    >>> cm = nbdiag.ConfusionMatrix(ds.evaluate("cnn"))   # doctest: +SKIP
    >>> cm                                               # doctest: +SKIP
    >>> cm.selected          # the clicked cell's samples, most confident first  # doctest: +SKIP
    """

    _esm = bundle("confusion_matrix")
    _css = bundle("confusion_matrix", ".css")

    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    _y_true = Binary(b"").tag(sync=True)
    _y_pred = Binary(b"").tag(sync=True)
    normalize = traitlets.Unicode("none").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        source: ClassificationEvaluation | Dataset,
        run: str | None = None,
        *,
        normalize: str = "none",
        title: str | None = None,
        **kwargs: Any,
    ):
        if isinstance(source, Dataset):
            source = source.evaluate(run)
        if not isinstance(source, ClassificationEvaluation):
            raise TypeError(
                "ConfusionMatrix needs a ClassificationEvaluation (ds.evaluate(run)) or a Dataset "
                f"and a run name, got {type(source).__name__}"
            )
        self.evaluation = source
        rows = source.per_sample
        if source.dataset is not None:
            extra = source.dataset.samples.drop(columns=["label"]).reindex(rows.index)
            rows = rows.join(extra[[c for c in extra.columns if c not in rows.columns]])
        if title is None:
            title = f"{source.run or 'predictions'} · accuracy {source.accuracy:.1%} · {len(rows)} samples"
        super().__init__(
            rows,
            class_names=source.class_names,
            _y_true=encode_codes(source.per_sample["label"]),
            _y_pred=encode_codes(source.per_sample["prediction"]),
            normalize=normalize,
            title=title,
            **kwargs,
        )

    @traitlets.validate("normalize")
    def _check_normalize(self, proposal: dict[str, Any]) -> str:
        value = "none" if proposal["value"] is None else proposal["value"]
        if value not in _MODES:
            raise traitlets.TraitError(f"normalize must be one of {_MODES}, got {value!r}")
        return value

    @property
    def matrix(self) -> pd.DataFrame:
        """The matrix as shown: counts, or rates when normalised."""
        mode = None if self.normalize == "none" else self.normalize
        return self.evaluation.confusion_matrix(normalize=mode)  # type: ignore[arg-type]

    def _order_selected(self, frame: pd.DataFrame) -> pd.DataFrame:
        # most confident first: "predicted dog, labelled cat" with the strongest errors on top
        return frame.sort_values("confidence", ascending=False, kind="stable", na_position="last")

    def select_cell(self, true: str | int, pred: str | int, add: bool = False) -> None:
        """Select the samples labelled ``true`` and predicted ``pred`` (as a click would)."""
        ev = self.evaluation
        t, p = ev._class_index(true), ev._class_index(pred)
        mask = (ev.y_true == t) & (ev.y_pred == p)
        if add:
            mask = mask | self.selection_mask
        self.select(np.asarray(mask, dtype=bool))
