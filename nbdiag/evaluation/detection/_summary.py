"""Summary numbers: the COCO run, per-class AP and counts, AP by object size, PR curves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._coco import AREA_LABELS, COCO_STAT_NAMES, IOU_THRESHOLDS, MAX_DETS, CocoResult, Index
from ._common import f1_score, nan_div
from ._core import EvaluationCore
from ._rematch import View


def class_ap(coco: CocoResult, t: int | None = None, area: int = 0) -> np.ndarray:
    """Per-class mean precision (COCO AP) over IoU thresholds (or one), at maxDets=100."""
    p = coco.precision[:, :, :, area, len(MAX_DETS) - 1]
    if t is not None:
        p = p[t : t + 1]
    p = p.reshape(p.shape[0] * p.shape[1], p.shape[2])
    valid = p > -1
    with np.errstate(invalid="ignore"):
        return np.where(
            valid.any(axis=0), np.sum(np.where(valid, p, 0), axis=0) / valid.sum(axis=0), np.nan
        )


def class_counts(
    index: Index, state: View
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per class: true positives, false positives, ground truths that are not ignored (crowd or
    flagged), predictions kept."""
    ix = index
    k = len(ix.problem.class_names)
    tp = np.bincount(ix.d_cls[state["tp"]], minlength=k)
    fp = np.bincount(ix.d_cls[state["fp"]], minlength=k)
    n_gt = np.bincount(ix.g_cls[~ix.g_ignored], minlength=k)
    n_pred = np.bincount(ix.d_cls[state["active"]], minlength=k)
    return tp, fp, n_gt, n_pred


def precision_recall_f1(index: Index, state: View) -> tuple[float, float, float]:
    """Precision, recall and F1 over all classes of one view."""
    tp, fp, n_gt, _ = (c.sum() for c in class_counts(index, state))
    return (
        float(nan_div(tp, tp + fp)),
        float(nan_div(tp, n_gt)),
        float(f1_score(tp, fp, n_gt)),
    )


def per_class_frame(index: Index, coco: CocoResult, state: View) -> pd.DataFrame:
    """The ``per_class`` table: COCO AP columns, then the view's counts and rates."""
    tp, fp, n_gt, n_pred = class_counts(index, state)
    prec = nan_div(tp, tp + fp)
    rec = nan_div(tp, n_gt)
    f1 = f1_score(tp, fp, n_gt)
    t50 = int(np.flatnonzero(IOU_THRESHOLDS == 0.5)[0])
    t75 = int(np.flatnonzero(IOU_THRESHOLDS == 0.75)[0])
    return pd.DataFrame(
        {
            "AP": class_ap(coco),
            "AP50": class_ap(coco, t50),
            "AP75": class_ap(coco, t75),
            "precision": prec,
            "recall": rec,
            "f1": f1,
            "n_gt": n_gt,
            "n_pred": n_pred,
            "tp": tp,
            "fp": fp,
            "fn": n_gt - tp,
        },
        index=pd.Index(index.problem.class_names, name="class"),
    )


def ap_by_size_frame(coco: CocoResult, class_names: list[str]) -> pd.DataFrame:
    """The ``ap_by_size`` table: small / medium / large AP per class plus an all-classes row."""
    cols = {}
    for a, name in enumerate(AREA_LABELS):
        if a:
            cols[name] = class_ap(coco, area=a)
    frame = pd.DataFrame(cols, index=pd.Index(class_names, name="class"))
    overall = np.where(coco.stats[3:6] > -1, coco.stats[3:6], np.nan)
    frame.loc["(all classes)"] = overall
    return frame


def pr_curve_frame(
    index: Index, match: np.ndarray, class_name: str | None, interpolated: bool
) -> pd.DataFrame:
    """Precision-recall curve of one matching, sweeping the score threshold (see ``pr_curve``)."""
    ix = index
    class_names = ix.problem.class_names
    matched = match >= 0
    to_ignored = matched & (ix.g_ignored[np.maximum(match, 0)] if len(ix.g_crowd) else False)
    use = ix.d_keep & ~to_ignored
    n_gt_mask = ~ix.g_ignored
    if class_name is not None:
        if class_name not in class_names:
            raise KeyError(f"unknown class {class_name!r}; classes are {class_names[:20]}")
        k = class_names.index(class_name)
        use &= ix.d_cls == k
        n_gt_mask &= ix.g_cls == k
    det = np.flatnonzero(use)
    order = det[np.lexsort((ix.d_rank[det], ix.d_img[det], -ix.d_score[det]))]
    tp = np.cumsum(matched[order])
    fp = np.cumsum(~matched[order])
    precision = nan_div(tp, tp + fp)
    if interpolated and len(precision):
        precision = np.maximum.accumulate(precision[::-1])[::-1]
    return pd.DataFrame(
        {
            "score": ix.d_score[order],
            "precision": precision,
            "recall": nan_div(tp, int(n_gt_mask.sum())),
            "tp": tp,
            "fp": fp,
        }
    )


class SummaryMixin(EvaluationCore):
    """Summary numbers of :class:`~nbdiag.evaluation.detection.DetectionEvaluation`."""

    @property
    def coco_stats(self) -> np.ndarray:
        """The 12 numbers of ``COCOeval.summarize()`` (AP, AP50, AP75, AP S/M/L, AR1, AR10,
        AR100, AR S/M/L), equal to pycocotools'; -1 where undefined. ``numpy.ndarray`` (12,)."""
        return self._coco.stats.copy()

    @property
    def coco_summary(self) -> pd.Series:
        """``coco_stats`` as a Series labelled ``AP``, ``AP50``, ... ``AR_large``."""
        return pd.Series(self._coco.stats, index=list(COCO_STAT_NAMES), name="value")

    @property
    def coco_precision(self) -> np.ndarray:
        """``COCOeval.eval["precision"]``: ``(T=10, R=101, K, A=4, M=3)``, -1 where undefined."""
        out = self._coco.precision.view()
        out.flags.writeable = False
        return out

    @property
    def coco_recall(self) -> np.ndarray:
        """``COCOeval.eval["recall"]``: ``(T=10, K, A=4, M=3)``, -1 where undefined."""
        out = self._coco.recall.view()
        out.flags.writeable = False
        return out

    @property
    def precision(self) -> float:
        """TP / (TP + FP) over all classes at the chosen thresholds (NaN without predictions)."""
        return precision_recall_f1(self._index, self._state)[0]

    @property
    def recall(self) -> float:
        """TP / number of ground truths (not crowd, not flagged ``ignore``) at the chosen
        thresholds (NaN without GT)."""
        return precision_recall_f1(self._index, self._state)[1]

    @property
    def f1(self) -> float:
        """Harmonic mean of :attr:`precision` and :attr:`recall` (NaN when undefined)."""
        return precision_recall_f1(self._index, self._state)[2]

    @property
    def per_class(self) -> pd.DataFrame:
        """One row per class: COCO ``AP`` (0.50:0.95), ``AP50``, ``AP75`` (NaN when the class has
        no ground truth), then at the chosen thresholds ``precision``, ``recall``, ``f1``,
        ``n_gt`` (not crowd nor flagged ``ignore``), ``n_pred`` (above the score threshold),
        ``tp``, ``fp``, ``fn``."""
        return per_class_frame(self._index, self._coco, self._state)

    @property
    def ap_by_size(self) -> pd.DataFrame:
        """COCO AP (0.50:0.95, maxDets 100) for small / medium / large objects: one row per
        class, plus a last row ``"(all classes)"`` equal to ``coco_stats[3:6]``. NaN (-1 in
        ``coco_stats``) where a class has no ground truth of that size."""
        return ap_by_size_frame(self._coco, list(self._problem.class_names))

    def pr_curve(
        self, class_name: str | None = None, *, interpolated: bool = False
    ) -> pd.DataFrame:
        """Precision-recall curve at the chosen IoU threshold, sweeping the score threshold.

        Parameters
        ----------
        class_name : str, optional
            One class; by default all classes pooled (micro-averaged).
        interpolated : bool, default False
            Replace precision by its monotone envelope (max precision at any higher recall),
            as COCO does before sampling.

        Returns
        -------
        pandas.DataFrame
            One row per evaluated prediction, by descending score: ``score``, ``precision``,
            ``recall``, ``tp``, ``fp`` (cumulative counts). Predictions marked ``"ignored"``
            are left out. The score threshold is not applied (the curve sweeps it).
        """
        match = self._match_at(self._iou_threshold)
        return pr_curve_frame(self._index, match, class_name, interpolated)
