"""``DetectionEvaluation``: COCO numbers, per-object results, live thresholds, confusions."""

from __future__ import annotations

import html
import math
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._coco import (
    AREA_LABELS,
    COCO_STAT_NAMES,
    IOU_THRESHOLDS,
    MAX_DETS,
    Index,
    evaluate,
)
from ._confusion import CrossPairs, cross_class_pairs, second_pass
from ._data import Problem, problem_from_coco, problem_from_frames

if TYPE_CHECKING:
    from ...dataset import Dataset

BACKGROUND = "background"
#: categories of the ``match`` columns (predictions: tp/fp/ignored; ground truth: tp/fn/ignored)
MATCH_KINDS = ("tp", "fp", "fn", "ignored")
#: categories of the ``error_type`` columns (TIDE-style hints; "missed" is for ground truth)
ERROR_TYPES = ("localization", "classification", "duplicate", "background", "both", "missed")
#: categories of ``confusion_pairs.kind``
PAIR_KINDS = ("tp", "confusion", "fp", "fn")
#: distance below which a prediction overlaps nothing (TIDE's background threshold)
BACKGROUND_IOU = 0.1
#: show a progress bar from this many images on
PROGRESS_MIN_IMAGES = 1000
_MATCH_CACHE_SIZE = 16


def _nan_div(a: np.ndarray | float, b: np.ndarray | float) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.true_divide(a, b)


def _cat(codes: np.ndarray, categories: Sequence[str]) -> pd.Categorical:
    """Categorical from integer codes (-1 = missing)."""
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=list(categories))


def _f1(tp: Any, fp: Any, n_gt: Any) -> Any:
    """2 TP / (2 TP + FP + FN); NaN when there is neither a prediction nor a ground truth."""
    den = 2 * np.asarray(tp) + fp + (np.asarray(n_gt) - tp)
    return np.where(den > 0, _nan_div(2 * np.asarray(tp), np.maximum(den, 1)), np.nan)


def _progress_bar(enabled: bool, total: int, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="det", leave=False)


def _check_iou_threshold(iou: float) -> float:
    iou = float(iou)
    if not 0.0 < iou <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou!r}")
    return iou


def _check_score_threshold(score: float) -> float:
    score = float(score)
    if math.isnan(score):
        raise ValueError("score_threshold must be a number, got NaN")
    return score


class DetectionEvaluation:
    """Object-detection evaluation: COCO-exact summary numbers plus per-object results.

    Build one with :func:`evaluate_detections` (COCO files), :meth:`from_frames` (boxes tables)
    or :meth:`from_dataset` (``ds.evaluate(run)``).

    **COCO numbers** (``coco_stats``, ``per_class`` AP columns, ``ap_by_size``) are
    ``pycocotools.COCOeval`` (bbox) with its default parameters, reproduced exactly: IoU
    thresholds 0.50:0.05:0.95, 101 recall points, area ranges all/small/medium/large, maxDets
    1/10/100, crowd regions, images and categories taken from the ground truth. They do not
    depend on the thresholds below.

    **Per-object results** (``predictions``, ``ground_truth``, ``precision``, ``recall``,
    ``f1``, ``per_class`` counts, ``confusion_matrix``) are computed at one IoU threshold and
    one score threshold, changeable with :meth:`set_thresholds`:

    - predictions with ``score < score_threshold`` are dropped;
    - in each (image, class), the remaining predictions are matched to ground truth with COCO's
      greedy rule (descending score, ties in input order; each takes the still-free GT with the
      highest IoU >= threshold, a crowd region only when no regular GT qualifies), with COCO's
      ``maxDets = 100``: predictions ranked beyond the top 100 of their image and class are
      not evaluated (``match == "ignored"``), and so are predictions matched to a crowd region.
      Crowd ground truth is ``"ignored"`` too and never counts as missed;
    - a prediction is ``"tp"`` when matched, else ``"fp"``; a ground truth ``"tp"`` when matched,
      else ``"fn"``.

    Changing the IoU threshold re-runs only the greedy matching over the IoU matrices cached at
    construction (IoU is never recomputed); changing the score threshold needs no re-matching at
    all, because greedy matching by descending score makes the matches of the predictions above
    a score threshold independent of those below it.

    Parameters
    ----------
    problem : Problem
        Validated inputs (internal; use the constructors above).
    iou_threshold : float, default 0.5
        IoU threshold of the per-object results, in (0, 1].
    score_threshold : float, default 0.0
        Predictions scoring below it are dropped from the per-object results.
    progress : bool, default True
        Show a tqdm progress bar (for 1,000 images or more).

    Examples
    --------
    >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "cat"}],
    ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
    ...                        "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0}]}
    >>> dt = [{"image_id": 1, "category_id": 1, "bbox": [1, 0, 10, 10], "score": 0.9}]
    >>> ev = evaluate_detections(gt, dt)
    >>> ev.predictions["match"].tolist()
    ['tp']
    """

    def __init__(
        self,
        problem: Problem,
        *,
        iou_threshold: float = 0.5,
        score_threshold: float = 0.0,
        progress: bool = True,
    ):
        iou_threshold = _check_iou_threshold(iou_threshold)
        score_threshold = _check_score_threshold(score_threshold)
        self._problem = problem
        self._progress = bool(progress)
        self._index = ix = Index(problem)
        bar = _progress_bar(
            self._progress and len(problem.image_ids) >= PROGRESS_MIN_IMAGES,
            int(ix.n_dt.sum()),
            "nbdiag: COCO matching",
        )
        try:
            self._coco = evaluate(ix, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        self._matches: dict[float, np.ndarray] = {}
        self._cross: CrossPairs | None = None
        self._iou_threshold = iou_threshold
        self._score_threshold = score_threshold
        self._state: dict[str, Any] = {}
        self.set_thresholds(iou=iou_threshold, score=score_threshold)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_coco(
        cls,
        gt: dict[str, Any] | str | Any,
        dt: list[dict[str, Any]] | str | Any,
        **kwargs: Any,
    ) -> DetectionEvaluation:
        """Evaluate a COCO results list against a COCO instances dict (or JSON paths of either).

        See :func:`evaluate_detections`.
        """
        return cls(problem_from_coco(gt, dt), **kwargs)

    @classmethod
    def from_frames(
        cls,
        gt_boxes: pd.DataFrame,
        pred_boxes: pd.DataFrame,
        image_ids: Sequence[Hashable] | pd.Index,
        class_names: Sequence[Any],
        **kwargs: Any,
    ) -> DetectionEvaluation:
        """Evaluate boxes given as nbdiag objects tables.

        Parameters
        ----------
        gt_boxes : pandas.DataFrame
            Ground truth indexed by object id with ``sample_id``, ``label``, ``x``, ``y``, ``w``,
            ``h`` (pixels, top-left origin), optionally ``iscrowd`` and ``area`` (used for the
            COCO size ranges when present, as pycocotools uses the annotation's area; else
            ``w * h``).
        pred_boxes : pandas.DataFrame
            Predictions indexed by object id with the same box columns plus ``score``.
        image_ids : sequence
            The evaluated images (images without boxes count: they can hold false positives).
        class_names : sequence
            The classes; ``label`` values must be among them.
        **kwargs
            ``iou_threshold``, ``score_threshold``, ``progress``.

        Returns
        -------
        DetectionEvaluation
        """
        return cls(problem_from_frames(gt_boxes, pred_boxes, image_ids, class_names), **kwargs)

    @classmethod
    def from_dataset(cls, ds: Dataset, run: str, **kwargs: Any) -> DetectionEvaluation:
        """Evaluate detection run ``run`` of ``ds`` against its ground-truth boxes.

        Every sample of ``ds`` is an evaluated image; ground truth is ``ds.gt_objects``
        (with its ``area`` column when loaded from COCO), predictions ``ds.run_boxes(run)``.

        Parameters
        ----------
        ds : nbdiag.Dataset
        run : str
            Name of a detection run.
        **kwargs
            ``iou_threshold``, ``score_threshold``, ``progress``.

        Returns
        -------
        DetectionEvaluation
        """
        return cls.from_frames(
            ds.gt_objects, ds.run_boxes(run), ds.samples.index, ds.class_names, **kwargs
        )

    # ------------------------------------------------------------------ thresholds
    @property
    def iou_threshold(self) -> float:
        """IoU threshold of the per-object results."""
        return self._iou_threshold

    @property
    def score_threshold(self) -> float:
        """Score threshold of the per-object results."""
        return self._score_threshold

    @property
    def class_names(self) -> list[str]:
        """The evaluated classes, in order."""
        return list(self._problem.class_names)

    def set_thresholds(
        self, iou: float | None = None, score: float | None = None
    ) -> DetectionEvaluation:
        """Change the IoU and/or score threshold of the per-object results, in place.

        Re-matches from the cached IoU matrices (no IoU is recomputed); a score change alone
        re-uses the current matching. This is what a threshold slider calls.

        Parameters
        ----------
        iou : float, optional
            New IoU threshold in (0, 1].
        score : float, optional
            New score threshold.

        Returns
        -------
        DetectionEvaluation
            ``self``, for chaining.
        """
        if iou is not None:
            self._iou_threshold = _check_iou_threshold(iou)
        if score is not None:
            self._score_threshold = _check_score_threshold(score)
        self._rematch()
        return self

    def _match_at(self, iou: float) -> np.ndarray:
        """Sorted-GT index matched by each sorted prediction at IoU ``iou`` (area "all")."""
        if iou in self._matches:
            return self._matches[iou]
        ix = self._index
        hit = np.flatnonzero(IOU_THRESHOLDS == iou)
        coco_all = ix.gt_ignore()[0]
        if len(hit) and np.array_equal(coco_all, ix.g_crowd):
            match = self._coco.match[0, hit[0]]
        else:
            match = ix.match(np.array([iou]), ix.g_crowd[None, :])[0, 0]
        if len(self._matches) >= _MATCH_CACHE_SIZE:
            self._matches.pop(next(iter(self._matches)))
        self._matches[iou] = match
        return match

    def _rematch(self) -> None:
        ix = self._index
        match = self._match_at(self._iou_threshold)
        active = ix.d_score >= self._score_threshold  # kept in the per-object view
        matched = match >= 0
        to_crowd = matched & ix.g_crowd[np.maximum(match, 0)] if len(ix.g_crowd) else matched
        ignored = ~ix.d_keep | to_crowd
        tp = active & matched & ~to_crowd
        fp = active & ~matched & ix.d_keep
        gt_match = np.full(len(ix.g_crowd), -1, dtype=np.int64)
        det = np.flatnonzero(tp)
        gt_match[match[det]] = det
        self._state = {
            "match": match,
            "active": active,
            "tp": tp,
            "fp": fp,
            "ignored": active & ignored,
            "gt_match": gt_match,
        }

    # ------------------------------------------------------------------ COCO numbers
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

    def _ap(self, t: int | None = None, area: int = 0) -> np.ndarray:
        """Per-class mean precision (COCO AP) over IoU thresholds (or one), at maxDets=100."""
        p = self._coco.precision[:, :, :, area, len(MAX_DETS) - 1]
        if t is not None:
            p = p[t : t + 1]
        p = p.reshape(p.shape[0] * p.shape[1], p.shape[2])
        valid = p > -1
        with np.errstate(invalid="ignore"):
            return np.where(
                valid.any(axis=0), np.sum(np.where(valid, p, 0), axis=0) / valid.sum(axis=0), np.nan
            )

    # ------------------------------------------------------------------ per-object tables
    def _cross_pairs(self) -> CrossPairs:
        if self._cross is None:
            self._cross = cross_class_pairs(self._index)
        return self._cross

    def _gt_best_iou(self) -> np.ndarray:
        """Per sorted GT: best IoU with a same-class prediction in the current view (0 if none)."""
        ix, st = self._index, self._state
        best = np.zeros(len(ix.g_crowd))
        use = st["active"][ix.pair_dt] & ix.d_keep[ix.pair_dt]
        if use.any():
            g, v = ix.pair_gt[use], ix.iou[use]
            order = np.argsort(g, kind="stable")
            g, v = g[order], v[order]
            starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
            best[g[starts]] = np.maximum.reduceat(v, starts)
        return best

    def _error_types(self) -> np.ndarray:
        """TIDE-style hint per sorted prediction: codes into ERROR_TYPES, -1 for non-FP."""
        ix, st = self._index, self._state
        cross = self._cross_pairs().best
        same = ix.d_best_iou
        thr = self._iou_threshold
        fp = st["fp"]
        kinds = np.select(
            [
                (same >= BACKGROUND_IOU) & (same < thr),
                cross >= thr,
                same >= thr,
                np.maximum(same, cross) < BACKGROUND_IOU,
            ],
            [0, 1, 2, 3],
            default=4,
        )
        kinds[~fp] = -1
        return kinds

    @property
    def predictions(self) -> pd.DataFrame:
        """One row per prediction with ``score >= score_threshold``, indexed by its object id.

        Columns: ``sample_id``, ``label`` (categorical), ``score``, ``match`` (categorical:
        ``"tp"``, ``"fp"`` or ``"ignored"``: matched to a crowd region, or beyond the top 100 of
        its image and class), ``iou`` (with its match; for a false positive, its best IoU with a
        same-class, non-crowd ground truth, 0 if none), ``matched_gt`` (object id or None), and
        ``error_type`` (categorical, missing except for false positives) — a TIDE-style hint
        (Bolya et al., 2020), tested in this order:
        ``"localization"`` (same-class IoU in [0.1, t)), ``"classification"`` (IoU >= t with a GT
        of another class), ``"duplicate"`` (IoU >= t with a same-class GT already matched by a
        higher-scoring prediction), ``"background"`` (IoU < 0.1 with every GT), else ``"both"``
        (wrong class and poorly localised).
        """
        if "predictions" in self._state:
            return self._state["predictions"]
        p, ix, st = self._problem, self._index, self._state
        match = st["match"]
        n = len(ix.d_score)
        status = np.where(st["tp"], 0, np.where(st["ignored"], 3, 1))
        matched = (match >= 0) & ix.d_keep
        iou = ix.d_best_iou.copy()
        det = np.flatnonzero(matched)
        iou[det] = ix.pair_iou(det, match[det])
        matched_gt = np.full(n, None, dtype=object)
        matched_gt[det] = p.gt.ids[ix.gt_order[match[det]]]
        error = self._error_types()
        # back to input order, keeping the active predictions
        inv = np.empty(n, dtype=np.int64)
        inv[ix.dt_order] = np.arange(n)
        rows = inv[st["active"][inv]]
        frame = pd.DataFrame(
            {
                "sample_id": p.image_ids[ix.d_img[rows]],
                "label": pd.Categorical.from_codes(ix.d_cls[rows], categories=p.class_names),
                "score": ix.d_score[rows],
                "match": _cat(status[rows], MATCH_KINDS),
                "iou": iou[rows],
                "matched_gt": matched_gt[rows],
                "error_type": _cat(error[rows], ERROR_TYPES),
            },
            index=pd.Index(p.dt.ids[ix.dt_order[rows]], name="object_id"),
        )
        st["predictions"] = frame
        return frame

    @property
    def ground_truth(self) -> pd.DataFrame:
        """One row per ground-truth box, indexed by its object id.

        Columns: ``sample_id``, ``label`` (categorical), ``iscrowd``, ``match`` (categorical:
        ``"tp"``, ``"fn"``, or ``"ignored"`` for crowd regions), ``matched`` (bool),
        ``matched_pred`` (object id or None), ``iou`` (with its match; for a missed box, its best
        IoU with a same-class prediction above the score threshold, 0 if none), ``error_type``
        (categorical: ``"missed"`` for false negatives, else missing).
        """
        if "ground_truth" in self._state:
            return self._state["ground_truth"]
        p, ix, st = self._problem, self._index, self._state
        n = len(ix.g_crowd)
        gm = st["gt_match"]
        hit = gm >= 0
        status = np.where(ix.g_crowd, 3, np.where(hit, 0, 2))
        iou = self._gt_best_iou()
        g = np.flatnonzero(hit)
        iou[g] = ix.pair_iou(gm[g], g)
        matched_pred = np.full(n, None, dtype=object)
        matched_pred[g] = p.dt.ids[ix.dt_order[gm[g]]]
        error = np.where(status == 2, 5, -1)
        inv = np.empty(n, dtype=np.int64)
        inv[ix.gt_order] = np.arange(n)
        frame = pd.DataFrame(
            {
                "sample_id": p.image_ids[ix.g_img[inv]],
                "label": pd.Categorical.from_codes(ix.g_cls[inv], categories=p.class_names),
                "iscrowd": ix.g_crowd[inv],
                "match": _cat(status[inv], MATCH_KINDS),
                "matched": hit[inv],
                "matched_pred": matched_pred[inv],
                "iou": iou[inv],
                "error_type": _cat(error[inv], ERROR_TYPES),
            },
            index=pd.Index(p.gt.ids, name="object_id"),
        )
        st["ground_truth"] = frame
        return frame

    def to_frame(self) -> pd.DataFrame:
        """Per-object results of predictions and ground truth in one table indexed by object id
        (joinable to ``Dataset.objects``): ``role`` (``"pred"``/``"gt"``), ``sample_id``,
        ``label``, ``score``, ``match``, ``iou``, ``matched_id``, ``error_type``."""
        pred = self.predictions.rename(columns={"matched_gt": "matched_id"}).assign(role="pred")
        gt = self.ground_truth.rename(columns={"matched_pred": "matched_id"}).assign(
            role="gt", score=np.nan
        )
        cols = ["role", "sample_id", "label", "score", "match", "iou", "matched_id", "error_type"]
        return pd.concat([pred[cols], gt[cols]])

    # ------------------------------------------------------------------ summary numbers
    def _counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        ix, st = self._index, self._state
        k = len(self._problem.class_names)
        tp = np.bincount(ix.d_cls[st["tp"]], minlength=k)
        fp = np.bincount(ix.d_cls[st["fp"]], minlength=k)
        n_gt = np.bincount(ix.g_cls[~ix.g_crowd], minlength=k)
        n_pred = np.bincount(ix.d_cls[st["active"]], minlength=k)
        return tp, fp, n_gt, n_pred

    @property
    def precision(self) -> float:
        """TP / (TP + FP) over all classes at the chosen thresholds (NaN without predictions)."""
        tp, fp, _, _ = self._counts()
        return float(_nan_div(tp.sum(), tp.sum() + fp.sum()))

    @property
    def recall(self) -> float:
        """TP / number of (non-crowd) ground truths at the chosen thresholds (NaN without GT)."""
        tp, _, n_gt, _ = self._counts()
        return float(_nan_div(tp.sum(), n_gt.sum()))

    @property
    def f1(self) -> float:
        """Harmonic mean of :attr:`precision` and :attr:`recall` (NaN when undefined)."""
        tp, fp, n_gt, _ = (c.sum() for c in self._counts())
        return float(_f1(tp, fp, n_gt))

    @property
    def per_class(self) -> pd.DataFrame:
        """One row per class: COCO ``AP`` (0.50:0.95), ``AP50``, ``AP75`` (NaN when the class has
        no ground truth), then at the chosen thresholds ``precision``, ``recall``, ``f1``,
        ``n_gt`` (non-crowd), ``n_pred`` (above the score threshold), ``tp``, ``fp``, ``fn``."""
        tp, fp, n_gt, n_pred = self._counts()
        prec = _nan_div(tp, tp + fp)
        rec = _nan_div(tp, n_gt)
        f1 = _f1(tp, fp, n_gt)
        t50 = int(np.flatnonzero(IOU_THRESHOLDS == 0.5)[0])
        t75 = int(np.flatnonzero(IOU_THRESHOLDS == 0.75)[0])
        return pd.DataFrame(
            {
                "AP": self._ap(),
                "AP50": self._ap(t50),
                "AP75": self._ap(t75),
                "precision": prec,
                "recall": rec,
                "f1": f1,
                "n_gt": n_gt,
                "n_pred": n_pred,
                "tp": tp,
                "fp": fp,
                "fn": n_gt - tp,
            },
            index=pd.Index(self._problem.class_names, name="class"),
        )

    @property
    def ap_by_size(self) -> pd.DataFrame:
        """COCO AP (0.50:0.95, maxDets 100) for small / medium / large objects: one row per
        class, plus a last row ``"(all classes)"`` equal to ``coco_stats[3:6]``. NaN (-1 in
        ``coco_stats``) where a class has no ground truth of that size."""
        cols = {}
        for a, name in enumerate(AREA_LABELS):
            if a:
                cols[name] = self._ap(area=a)
        frame = pd.DataFrame(cols, index=pd.Index(self._problem.class_names, name="class"))
        overall = np.where(self._coco.stats[3:6] > -1, self._coco.stats[3:6], np.nan)
        frame.loc["(all classes)"] = overall
        return frame

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
        ix = self._index
        match = self._match_at(self._iou_threshold)
        matched = match >= 0
        to_crowd = matched & (ix.g_crowd[np.maximum(match, 0)] if len(ix.g_crowd) else False)
        use = ix.d_keep & ~to_crowd
        n_gt_mask = ~ix.g_crowd
        if class_name is not None:
            if class_name not in self._problem.class_names:
                raise KeyError(
                    f"unknown class {class_name!r}; classes are {self._problem.class_names[:20]}"
                )
            k = self._problem.class_names.index(class_name)
            use &= ix.d_cls == k
            n_gt_mask &= ix.g_cls == k
        det = np.flatnonzero(use)
        order = det[np.lexsort((ix.d_rank[det], ix.d_img[det], -ix.d_score[det]))]
        tp = np.cumsum(matched[order])
        fp = np.cumsum(~matched[order])
        precision = _nan_div(tp, tp + fp)
        if interpolated and len(precision):
            precision = np.maximum.accumulate(precision[::-1])[::-1]
        return pd.DataFrame(
            {
                "score": ix.d_score[order],
                "precision": precision,
                "recall": _nan_div(tp, int(n_gt_mask.sum())),
                "tp": tp,
                "fp": fp,
            }
        )

    # ------------------------------------------------------------------ confusions
    @property
    def confusion_pairs(self) -> pd.DataFrame:
        """Every cell member of :meth:`confusion_matrix`, one row each (what a widget selects).

        Columns: ``sample_id``, ``pred_id`` / ``gt_id`` (object ids or None), ``true_class``
        and ``pred_class`` (categoricals over the class names plus ``"background"``), ``iou``,
        ``score``, ``kind`` (``"tp"``, ``"confusion"``, ``"fp"``, ``"fn"``). See
        :meth:`confusion_matrix` for the rule.
        """
        if "confusion_pairs" in self._state:
            return self._state["confusion_pairs"]
        p, ix, st = self._problem, self._index, self._state
        gm = st["gt_match"]
        g_tp = np.flatnonzero(gm >= 0)
        d_tp = gm[g_tp]
        dt_free = st["fp"].copy()
        gt_free = (gm < 0) & ~ix.g_crowd
        d_cf, g_cf, iou_cf = second_pass(
            ix, self._cross_pairs(), dt_free, gt_free, self._iou_threshold
        )
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
        kind = _cat(
            np.repeat(np.arange(4), [len(d_tp), len(d_cf), len(d_fp), len(g_fn)]), PAIR_KINDS
        )
        frame = pd.DataFrame(
            {
                "sample_id": p.image_ids[img] if len(img) else np.zeros(0, dtype=object),
                "pred_id": pred_id,
                "gt_id": gt_id,
                "true_class": pd.Categorical.from_codes(
                    true_code.astype(np.int64), categories=names
                ),
                "pred_class": pd.Categorical.from_codes(
                    pred_code.astype(np.int64), categories=names
                ),
                "iou": iou,
                "score": score,
                "kind": kind,
            }
        )
        frame.index.name = "pair"
        st["confusion_pairs"] = frame
        return frame

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

        Crowd regions, and predictions matched to them or beyond the top 100 of their image and
        class, are left out. Every (non-crowd) ground truth is counted once, so the matrix sums
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
        if normalize not in (None, "true", "pred", "all"):
            raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
        pairs = self.confusion_pairs
        k = len(self._problem.class_names) + 1
        cm = np.zeros((k, k), dtype=np.int64)
        np.add.at(
            cm,
            (pairs["true_class"].cat.codes.to_numpy(), pairs["pred_class"].cat.codes.to_numpy()),
            1,
        )
        names = [*self._problem.class_names, BACKGROUND]
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

    # ------------------------------------------------------------------ display
    def summary(self) -> dict[str, Any]:
        """Headline numbers: the COCO stats by name plus precision/recall/F1 at the thresholds."""
        out: dict[str, Any] = {
            k: float(v) for k, v in zip(COCO_STAT_NAMES, self._coco.stats, strict=True)
        }
        out.update(
            iou_threshold=self._iou_threshold,
            score_threshold=self._score_threshold,
            precision=self.precision,
            recall=self.recall,
            f1=self.f1,
            images=len(self._problem.image_ids),
            gt_boxes=len(self._problem.gt),
            pred_boxes=len(self._problem.dt),
        )
        return out

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"DetectionEvaluation({s['images']} images, {s['gt_boxes']} GT, {s['pred_boxes']} "
            f"predictions: AP={s['AP']:.3f} AP50={s['AP50']:.3f}; at IoU {s['iou_threshold']:g}, "
            f"score >= {s['score_threshold']:g}: P={s['precision']:.3f} R={s['recall']:.3f})"
        )

    def _repr_html_(self) -> str:
        s = self.summary()
        coco = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{s[k]:.3f}</td></tr>" for k in COCO_STAT_NAMES
        )
        return (
            "<div class='nbdiag-detection-evaluation'><b>nbdiag.DetectionEvaluation</b> "
            f"{s['images']} images, {s['gt_boxes']} ground-truth boxes, {s['pred_boxes']} predictions"
            f"<table><tr><th colspan=2>COCO (pycocotools-exact)</th></tr>{coco}"
            f"<tr><th colspan=2>at IoU {s['iou_threshold']:g}, score &ge; {s['score_threshold']:g}</th></tr>"
            f"<tr><th>precision</th><td>{s['precision']:.3f}</td></tr>"
            f"<tr><th>recall</th><td>{s['recall']:.3f}</td></tr>"
            f"<tr><th>F1</th><td>{s['f1']:.3f}</td></tr></table></div>"
        )


def evaluate_detections(
    gt: dict[str, Any] | str | Any,
    dt: list[dict[str, Any]] | str | Any,
    *,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.0,
    progress: bool = True,
) -> DetectionEvaluation:
    """Evaluate COCO detection results against COCO ground truth, pycocotools-exact.

    Parameters
    ----------
    gt : dict or path
        A COCO instances dict (``images``, ``annotations``, ``categories``) or its JSON path.
        Annotations without ``iscrowd`` count as not crowd; without ``area`` their box area is
        used.
    dt : list or path
        A COCO results list (``image_id``, ``category_id``, ``bbox``, ``score``) or its JSON
        path. Prediction object ids are their 1-based positions in the list (as
        ``COCO.loadRes`` assigns them).
    iou_threshold : float, default 0.5
        IoU threshold of the per-object results (the COCO numbers use 0.50:0.95 regardless).
    score_threshold : float, default 0.0
        Predictions scoring below it are dropped from the per-object results.
    progress : bool, default True
        Show a progress bar for large evaluations.

    Returns
    -------
    DetectionEvaluation

    Raises
    ------
    ValueError
        Naming the offending item, for a detection with an image or category id the ground
        truth lacks, a NaN score, a negative box width/height, duplicate annotation ids.

    Notes
    -----
    One deliberate difference from pycocotools: a ground-truth annotation with ``id == 0``
    matched by a detection makes pycocotools count that detection as a false positive (it
    stores matches as ids and tests them for truthiness); here it counts as matched.
    """
    return DetectionEvaluation.from_coco(
        gt, dt, iou_threshold=iou_threshold, score_threshold=score_threshold, progress=progress
    )


def evaluate_detection_run(ds: Dataset, run: str, **kwargs: Any) -> DetectionEvaluation:
    """``DetectionEvaluation.from_dataset(ds, run, **kwargs)`` (what ``ds.evaluate(run)`` calls
    for a detection run)."""
    return DetectionEvaluation.from_dataset(ds, run, **kwargs)
