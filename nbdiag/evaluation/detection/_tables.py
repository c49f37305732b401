"""Per-box tables: one row per prediction / ground truth with its match, IoU and error type."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._coco import Index
from ._common import categorical
from ._core import EvaluationCore
from ._errors import ERROR_TYPES, Attribution
from ._rematch import View

#: categories of the ``match`` columns (predictions: tp/fp/ignored; ground truth: tp/fn/ignored)
MATCH_KINDS = ("tp", "fp", "fn", "ignored")


def gt_best_iou(index: Index, state: View) -> np.ndarray:
    """Per sorted GT: best IoU with a same-class prediction in the view (0 if none)."""
    ix = index
    best = np.zeros(len(ix.g_crowd))
    use = state["active"][ix.pair_dt] & ix.d_keep[ix.pair_dt]
    if use.any():
        g, v = ix.pair_gt[use], ix.iou[use]
        order = np.argsort(g, kind="stable")
        g, v = g[order], v[order]
        starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        best[g[starts]] = np.maximum.reduceat(v, starts)
    return best


def predictions_frame(index: Index, state: View, att: Attribution) -> pd.DataFrame:
    """The ``predictions`` table of a view and its attribution (see that property)."""
    ix = index
    p = ix.problem
    match = state["match"]
    n = len(ix.d_score)
    status = np.where(state["tp"], 0, np.where(state["ignored"], 3, 1))
    matched = (match >= 0) & ix.d_keep
    iou = ix.d_best_iou.copy()
    det = np.flatnonzero(matched)
    iou[det] = ix.pair_iou(det, match[det])
    matched_gt = np.full(n, None, dtype=object)
    matched_gt[det] = p.gt.ids[ix.gt_order[match[det]]]
    error_gt = np.full(n, None, dtype=object)
    has = att.target >= 0
    error_gt[has] = p.gt.ids[ix.gt_order[att.target[has]]]
    # back to input order, keeping the active predictions
    inv = np.empty(n, dtype=np.int64)
    inv[ix.dt_order] = np.arange(n)
    rows = inv[state["active"][inv]]
    return pd.DataFrame(
        {
            "sample_id": p.image_ids[ix.d_img[rows]],
            "label": pd.Categorical.from_codes(ix.d_cls[rows], categories=p.class_names),
            "score": ix.d_score[rows],
            "match": categorical(status[rows], MATCH_KINDS),
            "iou": iou[rows],
            "matched_gt": matched_gt[rows],
            "error_type": categorical(att.kind[rows], ERROR_TYPES),
            "error_gt": error_gt[rows],
        },
        index=pd.Index(p.dt.ids[ix.dt_order[rows]], name="object_id"),
    )


def ground_truth_frame(index: Index, state: View, att: Attribution) -> pd.DataFrame:
    """The ``ground_truth`` table of a view and its attribution (see that property)."""
    ix = index
    p = ix.problem
    n = len(ix.g_crowd)
    gm = state["gt_match"]
    hit = gm >= 0
    status = np.where(ix.g_ignored, 3, np.where(hit, 0, 2))
    iou = gt_best_iou(ix, state)
    g = np.flatnonzero(hit)
    iou[g] = ix.pair_iou(gm[g], g)
    matched_pred = np.full(n, None, dtype=object)
    matched_pred[g] = p.dt.ids[ix.dt_order[gm[g]]]
    error_pred = np.full(n, None, dtype=object)
    by = att.gt_by >= 0
    error_pred[by] = p.dt.ids[ix.dt_order[att.gt_by[by]]]
    inv = np.empty(n, dtype=np.int64)
    inv[ix.gt_order] = np.arange(n)
    return pd.DataFrame(
        {
            "sample_id": p.image_ids[ix.g_img[inv]],
            "label": pd.Categorical.from_codes(ix.g_cls[inv], categories=p.class_names),
            "iscrowd": ix.g_crowd[inv],
            "match": categorical(status[inv], MATCH_KINDS),
            "matched": hit[inv],
            "matched_pred": matched_pred[inv],
            "iou": iou[inv],
            "error_type": categorical(att.gt_kind[inv], ERROR_TYPES),
            "error_pred": error_pred[inv],
        },
        index=pd.Index(p.gt.ids, name="object_id"),
    )


def objects_frame(predictions: pd.DataFrame, ground_truth: pd.DataFrame) -> pd.DataFrame:
    """Both per-box tables in one, with a ``role`` column (what ``to_frame`` returns)."""
    pred = predictions.rename(columns={"matched_gt": "matched_id", "error_gt": "error_id"}).assign(
        role="pred"
    )
    gt = ground_truth.rename(
        columns={"matched_pred": "matched_id", "error_pred": "error_id"}
    ).assign(role="gt", score=np.nan)
    cols = [
        "role", "sample_id", "label", "score", "match", "iou", "matched_id", "error_type",
        "error_id",
    ]  # fmt: skip
    return pd.concat([pred[cols], gt[cols]])


class TablesMixin(EvaluationCore):
    """Per-box tables of :class:`~nbdiag.evaluation.detection.DetectionEvaluation`."""

    @property
    def predictions(self) -> pd.DataFrame:
        """One row per prediction with ``score >= score_threshold``, indexed by its object id.

        Columns: ``sample_id``, ``label`` (categorical), ``score``, ``match`` (categorical:
        ``"tp"``, ``"fp"`` or ``"ignored"``: matched to a crowd region or to a box flagged by
        the evaluation's ``ignore`` column, or beyond the top 100 of its image and class), ``iou`` (with its match; for a false positive, its best IoU with a
        same-class, non-crowd ground truth, 0 if none), ``matched_gt`` (object id or None),
        ``error_type`` (categorical, missing except for false positives) and ``error_gt`` (the
        ground truth the error is about, or None).

        ``error_type`` is TIDE's attribution (Bolya et al., 2020) with ``t_f`` = the IoU
        threshold and ``t_b`` = 0.1, tested in this order: ``"localization"`` (best same-class
        IoU in ``[t_b, t_f)``; ``error_gt`` = that GT), ``"classification"`` (IoU >= ``t_f``
        with a GT of another class; ``error_gt`` = that GT), ``"duplicate"`` (IoU >= ``t_f``
        with a same-class GT already matched by a higher-scoring prediction; ``error_gt`` = that
        GT), ``"background"`` (IoU <= ``t_b`` with every GT), else ``"both"`` (wrong class and
        poorly placed; ``error_gt`` = the other-class GT it overlaps most). Overlaps ignore
        crowd regions. :meth:`error_breakdown` gives the AP each type costs.
        """
        st = self._state
        if "predictions" not in st:
            st["predictions"] = predictions_frame(self._index, st, self._attribution())
        return st["predictions"]

    @property
    def ground_truth(self) -> pd.DataFrame:
        """One row per ground-truth box, indexed by its object id.

        Columns: ``sample_id``, ``label`` (categorical), ``iscrowd``, ``match`` (categorical:
        ``"tp"``, ``"fn"``, or ``"ignored"`` for crowd regions and boxes flagged by the
        evaluation's ``ignore`` column), ``matched`` (bool, true positives only),
        ``matched_pred`` (object id or None), ``iou`` (with its match; for a missed box, its best
        IoU with a same-class prediction above the score threshold, 0 if none), ``error_type``
        and ``error_pred`` (for false negatives, else missing / None).

        ``error_type`` follows TIDE (see :attr:`predictions`): a false negative is
        ``"classification"`` or ``"localization"`` when a false positive of that type points at
        it (it was found, with the wrong class or a poor box; ``error_pred`` = that prediction,
        the highest-scoring one if several), else ``"missed"``.
        """
        st = self._state
        if "ground_truth" not in st:
            st["ground_truth"] = ground_truth_frame(self._index, st, self._attribution())
        return st["ground_truth"]

    def to_frame(self) -> pd.DataFrame:
        """Per-object results of predictions and ground truth in one table indexed by object id
        (joinable to ``Dataset.objects``): ``role`` (``"pred"``/``"gt"``), ``sample_id``,
        ``label``, ``score``, ``match``, ``iou``, ``matched_id``, ``error_type``, ``error_id``
        (``error_gt`` of a prediction, ``error_pred`` of a ground truth)."""
        return objects_frame(self.predictions, self.ground_truth)
