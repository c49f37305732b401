"""The state a ``DetectionEvaluation`` shares among its concepts: inputs, COCO run, thresholds,
and the caches built from them (matchings, overlaps, the current view and its attribution).

:class:`EvaluationCore` is the base of every concept mixin (summary numbers, per-box tables,
confusion, error breakdown); those import this module, never one another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._coco import CocoResult, Index, evaluate
from ._confusion import CrossPairs, cross_class_pairs
from ._data import Problem
from ._errors import BACKGROUND_IOU, Attribution, Overlaps, attribute, overlaps
from ._rematch import View, check_iou_threshold, check_score_threshold, match_at, view

if TYPE_CHECKING:
    from ...core import DatasetCore

#: show a progress bar from this many images on
PROGRESS_MIN_IMAGES = 1000


def _progress_bar(enabled: bool, total: int, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="det", leave=False)


def run_coco(index: Index, progress: bool) -> CocoResult:
    """COCO's evaluation of ``index``, with a progress bar (if ``progress``) for 1,000 images
    or more."""
    bar = _progress_bar(
        progress and len(index.problem.image_ids) >= PROGRESS_MIN_IMAGES,
        int(index.n_dt.sum()),
        "nbdiag: COCO matching",
    )
    try:
        return evaluate(index, progress=bar)
    finally:
        if bar is not None:
            bar.close()


class EvaluationCore:
    """Inputs, COCO numbers, thresholds and caches of a detection evaluation (internal).

    See :class:`~nbdiag.evaluation.detection.DetectionEvaluation` for the parameters.
    """

    def __init__(
        self,
        problem: Problem,
        *,
        iou_threshold: float = 0.5,
        score_threshold: float = 0.0,
        progress: bool = True,
    ):
        iou_threshold = check_iou_threshold(iou_threshold)
        score_threshold = check_score_threshold(score_threshold)
        self._problem = problem
        self._progress = bool(progress)
        self._index = Index(problem)
        self._coco = run_coco(self._index, self._progress)
        self._matches: dict[float, np.ndarray] = {}
        self._cross: CrossPairs | None = None
        self._overlaps: Overlaps | None = None
        self._breakdowns: dict[tuple[tuple[float, ...], float], tuple[np.ndarray, np.ndarray]] = {}
        self._iou_threshold = iou_threshold
        self._score_threshold = score_threshold
        self._state: View = {}
        #: the Dataset evaluated (``from_dataset``; None for COCO files) and its run's name
        self.dataset: DatasetCore | None = None
        self.run: str | None = None
        self._rematch()

    # ------------------------------------------------------------------ matching
    def _match_at(self, iou: float) -> np.ndarray:
        """Sorted-GT index matched by each sorted prediction at IoU ``iou`` (area "all")."""
        return match_at(self._index, self._coco, iou, self._matches)

    def _view(self, match: np.ndarray, score: float) -> View:
        """Per-object status of every (sorted) prediction and ground truth for one matching."""
        return view(self._index, match, score)

    def _rematch(self) -> None:
        self._state = self._view(self._match_at(self._iou_threshold), self._score_threshold)

    # ------------------------------------------------------------------ overlaps, attribution
    def _cross_pairs(self) -> CrossPairs:
        if self._cross is None:
            self._cross = cross_class_pairs(self._index)
        return self._cross

    def _get_overlaps(self) -> Overlaps:
        if self._overlaps is None:
            self._overlaps = overlaps(self._index, self._cross_pairs())
        return self._overlaps

    def _attribution(self, state: View | None = None, iou: float | None = None) -> Attribution:
        """TIDE attribution of a view (default: the current one, at the current IoU threshold)."""
        if state is None:
            if "attribution" not in self._state:
                self._state["attribution"] = self._attribution(self._state, self._iou_threshold)
            return self._state["attribution"]
        return attribute(
            self._get_overlaps(),
            state["fp"],
            state["gt_match"],
            self._index.g_ignored,
            self._iou_threshold if iou is None else iou,
            BACKGROUND_IOU,
        )
