"""ConfusionMatrix: click a cell, a row or a column; get those samples (or, for detection, those
matched / unmatched boxes) back as a DataFrame."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import traitlets

from ..core import DatasetCore
from ..evaluation import evaluate_run
from ..evaluation.classification import ClassificationEvaluation
from ..evaluation.detection import BACKGROUND, DetectionEvaluation
from ..evaluation.semantic import SemanticEvaluation
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
        A :class:`~nbdiag.evaluation.ClassificationEvaluation` or a
        :class:`~nbdiag.evaluation.detection.DetectionEvaluation` (``evaluate_run(ds, run)``), or a
        :class:`~nbdiag.Dataset` together with ``run``.
    run
        The run to evaluate when ``source`` is a Dataset (optional if it has one run).
    normalize
        ``"none"`` (counts), ``"true"`` (each true class's row sums to 1) or ``"pred"``.
    title
        Caption above the matrix; defaults to the run name and accuracy (precision / recall for
        detection).
    iou_threshold, score_threshold
        Detection only: the evaluation's thresholds (default: its current ones). Changing them,
        here or with the sliders in the toolbar, calls ``evaluation.set_thresholds`` and redraws
        the matrix live.

    Detection
    ---------
    With a :class:`~nbdiag.evaluation.detection.DetectionEvaluation` the rows are the
    evaluation's ``confusion_pairs`` (one per matched pair, class confusion, false positive or
    missed ground truth), with a ``"background"`` class: predictions matching nothing are in the
    background row, missed ground truth in the background column. ``selected`` is those pairs
    (``sample_id``, ``pred_id``, ``gt_id``, classes, ``iou``, ``score``, ``kind``), highest score
    first; ``selected_objects`` the boxes themselves.

    Semantic segmentation
    ---------------------
    With a :class:`~nbdiag.SemanticEvaluation` the counts are pixels: each row is one (image,
    true class, predicted class) with its pixel count (the evaluation's ``cells``), sent as the
    rows' weights. Clicking a cell selects the images where that confusion occurs; ``selected``
    is those images' rows of ``samples`` (of ``per_image`` without a dataset) with ``pixels``
    (the selected confusions' pixels in each image), most pixels first; ``selection`` their ids.

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
    #: uint32 per row: what the row counts for (semantic: its pixels); b"" = 1 per row
    _weights = Binary(b"").tag(sync=True)
    normalize = traitlets.Unicode("none").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    #: detection: the evaluation's IoU / score thresholds (live), and whether they apply
    iou_threshold = traitlets.Float(0.5).tag(sync=True)
    score_threshold = traitlets.Float(0.0).tag(sync=True)
    _detection = traitlets.Bool(False).tag(sync=True)

    def __init__(
        self,
        source: ClassificationEvaluation | DatasetCore,
        run: str | None = None,
        *,
        normalize: str = "none",
        title: str | None = None,
        iou_threshold: float | None = None,
        score_threshold: float | None = None,
        **kwargs: Any,
    ):
        dataset = None
        if isinstance(source, DatasetCore):
            dataset = source
            if run is None and len(source.runs) == 1:
                run = next(iter(source.runs))
            source = evaluate_run(source, run)
        if isinstance(source, DetectionEvaluation):
            self._init_detection(
                source, dataset, run, normalize, title, iou_threshold, score_threshold, kwargs
            )
            return
        if iou_threshold is not None or score_threshold is not None:
            raise ValueError("iou_threshold / score_threshold apply to detection evaluations only")
        if isinstance(source, SemanticEvaluation):
            self._init_semantic(source, dataset, normalize, title, kwargs)
            return
        if not isinstance(source, ClassificationEvaluation):
            raise TypeError(
                "ConfusionMatrix needs a ClassificationEvaluation or a DetectionEvaluation "
                f"(evaluate_run(ds, run)), or a Dataset and a run name, got {type(source).__name__}"
            )
        self.evaluation = source
        self.dataset = source.dataset  # linking maps rows to these samples
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

    @property
    def is_detection(self) -> bool:
        """Whether this is a detection confusion matrix (rows are box pairs)."""
        return self._detection

    @property
    def is_semantic(self) -> bool:
        """Whether this is a semantic segmentation confusion matrix (counts are pixels)."""
        return isinstance(self.evaluation, SemanticEvaluation)

    def _row_object_ids(self, link: Any) -> list[pd.Index] | None:
        if self.is_semantic:  # rows are (image, class, class) cells: linked by sample only
            return None
        # pairs name the evaluation's boxes: the link's only when it evaluated that dataset
        # (an evaluation of COCO files numbers its predictions 1..n, like the annotations)
        if self.level != "objects" or self.dataset is None or self.dataset is not link.dataset:
            return None
        # a detection pair holds a prediction, a ground truth, or both: a cell selects exactly
        # those boxes in linked box views, and a box selected there selects its pairs
        pairs = self._rows
        return [pd.Index(pairs["pred_id"]), pd.Index(pairs["gt_id"])]

    def _order_selected(self, frame: pd.DataFrame) -> pd.DataFrame:
        # most confident first: "predicted dog, labelled cat" with the strongest errors on top
        key = "score" if self._detection else "confidence"
        return frame.sort_values(key, ascending=False, kind="stable", na_position="last")

    def select_cell(self, true: str | int, pred: str | int, add: bool = False) -> None:
        """Select the samples labelled ``true`` and predicted ``pred`` (as a click would); for
        detection, the pairs of that cell (``"background"`` is a class here)."""
        if self._detection:
            t, p = (self._detection_class(c) for c in (true, pred))
            rows = self._rows
            mask = (rows["true_class"].cat.codes.to_numpy() == t) & (
                rows["pred_class"].cat.codes.to_numpy() == p
            )
        elif self.is_semantic:
            t, p = self.evaluation._class_index(true), self.evaluation._class_index(pred)
            mask = self._gesture_mask(f"cell:{t}:{p}")
            if not add:  # as a click: a linked matrix then knows which cell its images came from
                self._set_mask(mask, f"cell:{t}:{p}", {})
                return
        else:
            ev = self.evaluation
            t, p = ev._class_index(true), ev._class_index(pred)
            mask = (ev.y_true == t) & (ev.y_pred == p)
        if add:
            mask = mask | self.selection_mask
        self.select(np.asarray(mask, dtype=bool))

    @property
    def selected_objects(self) -> pd.DataFrame:
        """Detection: the boxes of the selected pairs (predictions and ground truth), as rows of
        the dataset's ``objects`` table when the dataset is known, else of the evaluation's
        ``to_frame()``."""
        if not self._detection:
            raise AttributeError("selected_objects applies to detection confusion matrices")
        sel = self.selected
        ids = pd.Index(pd.concat([sel["pred_id"], sel["gt_id"]]).dropna().unique())
        table = self.dataset.objects if self.dataset is not None else self.evaluation.to_frame()
        return table.loc[table.index.intersection(ids)]

    def set_thresholds(self, iou: float | None = None, score: float | None = None) -> None:
        """Detection: re-match at new IoU / score thresholds and redraw (what the sliders do)."""
        if not self._detection:
            raise ValueError("set_thresholds applies to detection confusion matrices")
        with self.hold_trait_notifications():
            if iou is not None:
                self.iou_threshold = iou
            if score is not None:
                self.score_threshold = score

    # ------------------------------------------------------------------ detection
    def _init_detection(
        self,
        ev: DetectionEvaluation,
        dataset: DatasetCore | None,
        run: str | None,
        normalize: str,
        title: str | None,
        iou: float | None,
        score: float | None,
        kwargs: dict[str, Any],
    ) -> None:
        if iou is not None or score is not None:
            ev.set_thresholds(iou=iou, score=score)
        self.evaluation = ev
        self.dataset = dataset if dataset is not None else getattr(ev, "dataset", None)
        self._run_name = run or getattr(ev, "run", None)
        self._auto_title = title is None
        self.level = "objects"  # rows are box pairs; linking maps them through sample_id
        rows = ev.confusion_pairs
        super().__init__(
            rows,
            class_names=[*ev.class_names, BACKGROUND],
            _y_true=encode_codes(rows["true_class"]),
            _y_pred=encode_codes(rows["pred_class"]),
            normalize=normalize,
            title=self._detection_title() if title is None else title,
            iou_threshold=ev.iou_threshold,
            score_threshold=ev.score_threshold,
            _detection=True,
            **kwargs,
        )
        self.observe(self._on_thresholds, names=["iou_threshold", "score_threshold"])

    def _detection_class(self, c: str | int) -> int:
        names = self.class_names
        if isinstance(c, str):
            if c not in names:
                raise KeyError(f"unknown class {c!r}; classes are {names[:20]}")
            return names.index(c)
        if not 0 <= int(c) < len(names):
            raise KeyError(f"class index {c} out of range [0, {len(names)})")
        return int(c)

    def _detection_title(self) -> str:
        ev = self.evaluation
        return (
            f"{self._run_name or 'detections'} · precision {ev.precision:.1%} · recall "
            f"{ev.recall:.1%} at IoU {ev.iou_threshold:g}, score ≥ {ev.score_threshold:g}"
        )

    @traitlets.validate("iou_threshold")
    def _check_iou(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not 0 < value <= 1:
            raise traitlets.TraitError(f"iou_threshold must be in (0, 1], got {value}")
        return value

    @traitlets.validate("score_threshold")
    def _check_score(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not np.isfinite(value):
            raise traitlets.TraitError(f"score_threshold must be a finite number, got {value}")
        return value

    def _on_thresholds(self, change: dict[str, Any]) -> None:
        ev = self.evaluation
        if (ev.iou_threshold, ev.score_threshold) == (self.iou_threshold, self.score_threshold):
            return
        ev.set_thresholds(iou=self.iou_threshold, score=self.score_threshold)
        rows = ev.confusion_pairs
        with self.hold_sync():
            # new rows: fresh link keys, and the selection (over the old rows) no longer applies
            self._replace_rows(rows, "thresholds")  # first: raises before anything changed
            self._y_true = encode_codes(rows["true_class"])
            self._y_pred = encode_codes(rows["pred_class"])
            if self._auto_title:
                self.title = self._detection_title()

    # ------------------------------------------------------------------ semantic segmentation
    def _init_semantic(
        self,
        ev: SemanticEvaluation,
        dataset: DatasetCore | None,
        normalize: str,
        title: str | None,
        kwargs: dict[str, Any],
    ) -> None:
        self.evaluation = ev
        self.dataset = dataset if dataset is not None else ev.dataset
        self.level = "objects"  # rows are (image, true, predicted) cells, linked by sample_id
        rows = ev.cells
        if title is None:
            title = (
                f"{ev.run or 'predictions'} · mIoU {ev.miou:.1%} · pixel accuracy "
                f"{ev.pixel_accuracy:.1%} · {len(ev.per_image)} images"
            )
        super().__init__(
            rows,
            class_names=ev.class_names,
            _y_true=encode_codes(rows["true"]),
            _y_pred=encode_codes(rows["pred"]),
            _weights=np.asarray(rows["pixels"], dtype="<u4").tobytes(),
            normalize=normalize,
            title=title,
            **kwargs,
        )

    @property
    def selected(self) -> pd.DataFrame:
        """The selected rows as a DataFrame (a copy). Semantic segmentation: the images holding
        the selected confusions, with their ``pixels``, most pixels first."""
        if not self.is_semantic:
            return super().selected
        mask = self.selection_mask
        link = self._link
        if link is not None and link._selection_view == self._view_id:
            # a link shares images, so every cell of a selected image comes back: keep the cell
            # (row, column) clicked here
            gesture = self._gesture_mask(link._selection_source)
            if gesture is not None:
                mask = mask & gesture
        cells = self._rows[mask]
        pixels = cells.groupby("sample_id", sort=False)["pixels"].sum()
        pixels = pixels.sort_values(ascending=False, kind="stable")
        table = self.dataset.samples if self.dataset is not None else self.evaluation.per_image
        out = table.loc[pixels.index].copy()
        out.index.name = "id"
        out.insert(0, "pixels", pixels.to_numpy())
        return out

    @property
    def selection(self) -> pd.Index:
        """Ids of the selected rows; semantic segmentation: of the selected images."""
        if not self.is_semantic:
            return super().selection
        return self.selected.index

    def _gesture_mask(self, source: str) -> np.ndarray | None:
        """Semantic: the rows of a click's cell / row / column (``"cell:t:p"``, ``"row:t"``,
        ``"col:p"``), None for other sources."""
        kind, _, where = source.partition(":")
        t_codes = self._rows["true"].cat.codes.to_numpy()
        p_codes = self._rows["pred"].cat.codes.to_numpy()
        try:
            if kind == "cell":
                t, p = (int(x) for x in where.split(":"))
                return (t_codes == t) & (p_codes == p)
            if kind == "row":
                return t_codes == int(where)
            if kind == "col":
                return p_codes == int(where)
        except ValueError:
            return None
        return None

    def _mask_from(self, items: Any) -> np.ndarray:
        # semantic: sample ids (or a samples DataFrame) select every cell of those images
        if not self.is_semantic or items is None:
            return super()._mask_from(items)
        if isinstance(items, (np.ndarray, pd.Series)) and items.dtype == bool:
            return super()._mask_from(items)
        ids = items.index if isinstance(items, pd.DataFrame) else items
        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
            ids = [ids]
        ids = list(ids)
        known = set(self._rows["sample_id"])
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise KeyError(f"unknown sample ids (not evaluated): {unknown[:10]}")
        return self._rows["sample_id"].isin(ids).to_numpy()
