"""Detection confusion: the matrix with a background class and the pairs in its cells."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._coco import Index
from ._common import categorical
from ._confusion import CrossPairs, second_pass
from ._core import EvaluationCore
from ._rematch import View

BACKGROUND = "background"
#: categories of ``confusion_pairs.kind``
PAIR_KINDS = ("tp", "confusion", "fp", "fn")
NORMALIZE = (None, "true", "pred", "all")


def check_normalize(normalize: str | None) -> None:
    """ValueError unless ``normalize`` is one of :data:`NORMALIZE`."""
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")


def confusion_pairs_frame(
    index: Index, cross: CrossPairs, state: View, iou_threshold: float
) -> pd.DataFrame:
    """The ``confusion_pairs`` table of a view (see that property for the rule)."""
    ix = index
    p = ix.problem
    gm = state["gt_match"]
    g_tp = np.flatnonzero(gm >= 0)
    d_tp = gm[g_tp]
    dt_free = state["fp"].copy()
    gt_free = (gm < 0) & ~ix.g_ignored
    d_cf, g_cf, iou_cf = second_pass(ix, cross, dt_free, gt_free, iou_threshold)
    dt_free[d_cf] = False
    gt_free[g_cf] = False
    d_fp = np.flatnonzero(dt_free)
    g_fn = np.flatnonzero(gt_free)
    names = [*p.class_names, BACKGROUND]
    bg = len(p.class_names)

    def ids(table_ids: np.ndarray, order: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return table_ids[order[idx]]

    none_d = np.full(len(g_fn), None, dtype=object)
    none_g = np.full(len(d_fp), None, dtype=object)
    pred_id = np.concatenate(
        [
            ids(p.dt.ids, ix.dt_order, d_tp),
            ids(p.dt.ids, ix.dt_order, d_cf),
            ids(p.dt.ids, ix.dt_order, d_fp),
            none_d,
        ]
    )
    gt_id = np.concatenate(
        [
            ids(p.gt.ids, ix.gt_order, g_tp),
            ids(p.gt.ids, ix.gt_order, g_cf),
            none_g,
            ids(p.gt.ids, ix.gt_order, g_fn),
        ]
    )
    true_code = np.concatenate(
        [ix.g_cls[g_tp], ix.g_cls[g_cf], np.full(len(d_fp), bg), ix.g_cls[g_fn]]
    )
    pred_code = np.concatenate(
        [ix.d_cls[d_tp], ix.d_cls[d_cf], ix.d_cls[d_fp], np.full(len(g_fn), bg)]
    )
    img = np.concatenate([ix.g_img[g_tp], ix.g_img[g_cf], ix.d_img[d_fp], ix.g_img[g_fn]])
    iou = np.concatenate(
        [
            ix.pair_iou(d_tp, g_tp) if len(d_tp) else np.zeros(0),
            iou_cf,
            np.full(len(d_fp), np.nan),
            np.full(len(g_fn), np.nan),
        ]
    )
    score = np.concatenate(
        [ix.d_score[d_tp], ix.d_score[d_cf], ix.d_score[d_fp], np.full(len(g_fn), np.nan)]
    )
    kind = categorical(
        np.repeat(np.arange(4), [len(d_tp), len(d_cf), len(d_fp), len(g_fn)]), PAIR_KINDS
    )
    frame = pd.DataFrame(
        {
            "sample_id": p.image_ids[img] if len(img) else np.zeros(0, dtype=object),
            "pred_id": pred_id,
            "gt_id": gt_id,
            "true_class": pd.Categorical.from_codes(true_code.astype(np.int64), categories=names),
            "pred_class": pd.Categorical.from_codes(pred_code.astype(np.int64), categories=names),
            "iou": iou,
            "score": score,
            "kind": kind,
        }
    )
    frame.index.name = "pair"
    return frame


def confusion_matrix_frame(
    pairs: pd.DataFrame, class_names: list[str], normalize: str | None = None
) -> pd.DataFrame:
    """Count ``confusion_pairs`` into the ``(K + 1) x (K + 1)`` matrix (see ``confusion_matrix``)."""
    check_normalize(normalize)
    k = len(class_names) + 1
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(
        cm,
        (pairs["true_class"].cat.codes.to_numpy(), pairs["pred_class"].cat.codes.to_numpy()),
        1,
    )
    names = [*class_names, BACKGROUND]
    out: np.ndarray = cm
    if normalize is not None:
        if normalize == "true":
            denom = cm.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            denom = cm.sum(axis=0, keepdims=True)
        else:
            denom = np.array(cm.sum())
        out = np.where(denom > 0, cm / np.maximum(denom, 1), 0.0)
    return pd.DataFrame(
        out, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted")
    )


class ConfusionMixin(EvaluationCore):
    """Detection confusion of :class:`~nbdiag.evaluation.detection.DetectionEvaluation`."""

    @property
    def confusion_pairs(self) -> pd.DataFrame:
        """Every cell member of :meth:`confusion_matrix`, one row each (what a widget selects).

        Columns: ``sample_id``, ``pred_id`` / ``gt_id`` (object ids or None), ``true_class``
        and ``pred_class`` (categoricals over the class names plus ``"background"``), ``iou``,
        ``score``, ``kind`` (``"tp"``, ``"confusion"``, ``"fp"``, ``"fn"``). See
        :meth:`confusion_matrix` for the rule.
        """
        st = self._state
        if "confusion_pairs" not in st:
            st["confusion_pairs"] = confusion_pairs_frame(
                self._index, self._cross_pairs(), st, self._iou_threshold
            )
        return st["confusion_pairs"]

    def confusion_matrix(self, normalize: str | None = None) -> pd.DataFrame:
        """Detection confusion matrix with a ``"background"`` row and column.

        Rows are the true class (``"background"`` for predictions that matched no ground
        truth), columns the predicted class (``"background"`` for missed ground truth). At the
        chosen IoU threshold ``t`` and score threshold, per image:

        1. predictions are matched to ground truth of their own class exactly as in
           :attr:`predictions` (COCO greedy, descending score) -> diagonal cells;
        2. the predictions still unmatched, by descending score, each take the still-unmatched
           ground truth of *another* class with the highest IoU >= ``t`` -> off-diagonal cells
           (class confusions);
        3. predictions left over -> row ``"background"``; ground truth left over -> column
           ``"background"``.

        Crowd regions and ground truth flagged by the evaluation's ``ignore`` column, and
        predictions matched to them or beyond the top 100 of their image and class, are left
        out. Every other ground truth is counted once, so the matrix sums
        to the number of ground truths plus the predictions left over in step 3.
        ``confusion_pairs`` lists the members of every cell.

        Parameters
        ----------
        normalize : {None, "true", "pred", "all"}
            ``"true"``: rows sum to 1; ``"pred"``: columns sum to 1; ``"all"``: the whole
            matrix sums to 1. Empty rows/columns stay 0.

        Returns
        -------
        pandas.DataFrame
            ``(K + 1) x (K + 1)``, index ``true``, columns ``predicted``.
        """
        check_normalize(normalize)
        classes = list(self._problem.class_names)
        return confusion_matrix_frame(self.confusion_pairs, classes, normalize)
