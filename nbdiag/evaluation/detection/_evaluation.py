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
from ._errors import (
    BACKGROUND_IOU,
    ERROR_TYPES,
    SPECIAL_ERRORS,
    Attribution,
    Overlaps,
    attribute,
    fixed_precision,
    mean_ap,
    overlaps,
)

if TYPE_CHECKING:
    from ...dataset import Dataset

BACKGROUND = "background"
#: categories of the ``match`` columns (predictions: tp/fp/ignored; ground truth: tp/fn/ignored)
MATCH_KINDS = ("tp", "fp", "fn", "ignored")
#: categories of ``confusion_pairs.kind``
PAIR_KINDS = ("tp", "confusion", "fp", "fn")
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

    **Errors** (``error_type`` columns, :meth:`error_breakdown`): every false positive and false
    negative is attributed to one of TIDE's six error types (Bolya et al., 2020) at the chosen
    IoU threshold, and ``error_breakdown`` gives the AP each type costs (TIDE's oracle fixes,
    with the same AP code as the COCO numbers).

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
        self._overlaps: Overlaps | None = None
        self._breakdowns: dict[tuple[tuple[float, ...], float], pd.DataFrame] = {}
        self._iou_threshold = iou_threshold
        self._score_threshold = score_threshold
        self._state: dict[str, Any] = {}
        #: the Dataset evaluated (``from_dataset``; None for COCO files) and its run's name
        self.dataset: Dataset | None = None
        self.run: str | None = None
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
            With ``dataset`` set to ``ds`` (its object ids are ``ds.objects``').
        """
        ev = cls.from_frames(
            ds.gt_objects, ds.run_boxes(run), ds.samples.index, ds.class_names, **kwargs
        )
        ev.dataset = ds
        ev.run = run
        return ev

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

    def _view(self, match: np.ndarray, score: float) -> dict[str, Any]:
        """Per-object status of every (sorted) prediction and ground truth for one matching."""
        ix = self._index
        active = ix.d_score >= score  # kept in the per-object view
        matched = match >= 0
        to_crowd = matched & ix.g_crowd[np.maximum(match, 0)] if len(ix.g_crowd) else matched
        ignored = ~ix.d_keep | to_crowd
        tp = active & matched & ~to_crowd
        fp = active & ~matched & ix.d_keep
        gt_match = np.full(len(ix.g_crowd), -1, dtype=np.int64)
        det = np.flatnonzero(tp)
        gt_match[match[det]] = det
        # what COCO's accumulate evaluates (area "all", maxDets 100): not ignored
        area_out = ix.area_ignore(ix.d_area)[0]
        evaluated = active & ix.d_keep & ~to_crowd & ~(~matched & area_out)
        return {
            "match": match,
            "active": active,
            "tp": tp,
            "fp": fp,
            "ignored": active & ignored,
            "gt_match": gt_match,
            "evaluated": evaluated,
        }

    def _rematch(self) -> None:
        self._state = self._view(self._match_at(self._iou_threshold), self._score_threshold)

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

    def _get_overlaps(self) -> Overlaps:
        if self._overlaps is None:
            self._overlaps = overlaps(self._index, self._cross_pairs())
        return self._overlaps

    def _attribution(
        self, state: dict[str, Any] | None = None, iou: float | None = None
    ) -> Attribution:
        """TIDE attribution of a view (default: the current one, at the current IoU threshold)."""
        if state is None:
            if "attribution" not in self._state:
                self._state["attribution"] = self._attribution(self._state, self._iou_threshold)
            return self._state["attribution"]
        return attribute(
            self._get_overlaps(),
            state["fp"],
            state["gt_match"],
            self._index.g_crowd,
            self._iou_threshold if iou is None else iou,
            BACKGROUND_IOU,
        )

    @property
    def predictions(self) -> pd.DataFrame:
        """One row per prediction with ``score >= score_threshold``, indexed by its object id.

        Columns: ``sample_id``, ``label`` (categorical), ``score``, ``match`` (categorical:
        ``"tp"``, ``"fp"`` or ``"ignored"``: matched to a crowd region, or beyond the top 100 of
        its image and class), ``iou`` (with its match; for a false positive, its best IoU with a
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
        att = self._attribution()
        error_gt = np.full(n, None, dtype=object)
        has = att.target >= 0
        error_gt[has] = p.gt.ids[ix.gt_order[att.target[has]]]
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
                "error_type": _cat(att.kind[rows], ERROR_TYPES),
                "error_gt": error_gt[rows],
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
        and ``error_pred`` (for false negatives, else missing / None).

        ``error_type`` follows TIDE (see :attr:`predictions`): a false negative is
        ``"classification"`` or ``"localization"`` when a false positive of that type points at
        it (it was found, with the wrong class or a poor box; ``error_pred`` = that prediction,
        the highest-scoring one if several), else ``"missed"``.
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
        att = self._attribution()
        error_pred = np.full(n, None, dtype=object)
        by = att.gt_by >= 0
        error_pred[by] = p.dt.ids[ix.dt_order[att.gt_by[by]]]
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
                "error_type": _cat(att.gt_kind[inv], ERROR_TYPES),
                "error_pred": error_pred[inv],
            },
            index=pd.Index(p.gt.ids, name="object_id"),
        )
        st["ground_truth"] = frame
        return frame

    def to_frame(self) -> pd.DataFrame:
        """Per-object results of predictions and ground truth in one table indexed by object id
        (joinable to ``Dataset.objects``): ``role`` (``"pred"``/``"gt"``), ``sample_id``,
        ``label``, ``score``, ``match``, ``iou``, ``matched_id``, ``error_type``, ``error_id``
        (``error_gt`` of a prediction, ``error_pred`` of a ground truth)."""
        pred = self.predictions.rename(
            columns={"matched_gt": "matched_id", "error_gt": "error_id"}
        ).assign(role="pred")
        gt = self.ground_truth.rename(
            columns={"matched_pred": "matched_id", "error_pred": "error_id"}
        ).assign(role="gt", score=np.nan)
        cols = [
            "role", "sample_id", "label", "score", "match", "iou", "matched_id", "error_type",
            "error_id",
        ]  # fmt: skip
        return pd.concat([pred[cols], gt[cols]])

    # ------------------------------------------------------------------ error attribution
    def _fixed_precision(
        self, t: float, fixes: Sequence[str | None]
    ) -> tuple[list[np.ndarray], Attribution]:
        """``(R, K)`` COCO precision at IoU ``t`` (as ``t_f``) after each oracle fix."""
        if t == self._iou_threshold:
            st, att = self._state, self._attribution()
        else:
            st = self._view(self._match_at(t), self._score_threshold)
            att = self._attribution(st, t)
        ov = self._get_overlaps()
        out = [
            fixed_precision(self._index, ov, att, st["evaluated"], st["tp"], fix) for fix in fixes
        ]
        return out, att

    def error_breakdown(
        self, iou: float | str | None = None, *, by: str | None = None
    ) -> pd.DataFrame:
        """The AP each TIDE error type costs (Bolya et al., 2020): ``dAP`` = AP after an oracle
        fixes every error of that type, minus AP.

        Errors are those of the per-object ``error_type`` columns (see :attr:`predictions`,
        :attr:`ground_truth`): TIDE's definitions with ``t_f`` = the IoU threshold and
        ``t_b`` = 0.1. The oracle fixes are TIDE's: a classification / localization false
        positive becomes the true positive of the (unmatched) ground truth it points at, the
        highest-scoring one when several point at the same one, the others are removed; both,
        duplicate and background false positives are removed; missed ground truths are removed.
        Two "special" rows fix every false positive, or every false negative. Each fix is
        applied alone, to the original predictions. AP is COCO's (101-point interpolated
        precision, area "all", 100 detections per image and class, mean over the classes with
        ground truth; a class whose ground truth the fix removes entirely drops out), computed
        by the same code as :attr:`coco_stats`, over the predictions scoring at least the score
        threshold: with the default score threshold, ``AP`` equals ``coco_stats`` (``AP50`` at
        IoU 0.5, ``AP`` with ``iou="coco"``).

        Parameters
        ----------
        iou : float or "coco", optional
            ``t_f`` and the IoU threshold of the AP; default the current :attr:`iou_threshold`
            (0.5 unless changed: AP50, as TIDE reports). ``"coco"``: every COCO threshold
            0.50:0.95 in turn (errors attributed at each), AP averaged as COCO's AP.
        by : "class", optional
            ``"class"``: one row per (class, error type), indexed by both, with the class's
            own AP before and after each fix (a class's AP changes when errors of other classes
            are fixed too: a classification error fixed becomes a true positive of the ground
            truth's class and stops being a false positive of the predicted one). ``count``
            counts false positives by their predicted class and missed ground truths by theirs.
            ``.unstack()`` gives a class x error type table. Classes without ground truth have
            NaN AP.

        Returns
        -------
        pandas.DataFrame
            Indexed by error type (``classification``, ``localization``, ``both``,
            ``duplicate``, ``background``, ``missed``, then ``false_positives``,
            ``false_negatives``). Columns: ``group`` (``"main"`` / ``"special"``), ``count``
            (the errors of that type: false positives, or false negatives for ``missed`` and
            ``false_negatives``; with ``"coco"`` the mean over the ten thresholds), ``AP``
            (before any fix), ``AP_fixed``, ``dAP`` (NaN where no class has ground truth).
            ``attrs`` hold ``metric``, ``iou``, ``background_iou`` and ``score_threshold``.
        """
        if isinstance(iou, str):
            if iou != "coco":
                raise ValueError(f"iou must be a number in (0, 1], 'coco' or None, got {iou!r}")
            thresholds = [float(t) for t in IOU_THRESHOLDS]
            metric = "AP"
        else:
            t = self._iou_threshold if iou is None else _check_iou_threshold(iou)
            thresholds = [t]
            metric = "AP50" if t == 0.5 else ("AP75" if t == 0.75 else f"AP@{t:g}")
        if by not in (None, "class"):
            raise ValueError(f"by must be None or 'class', got {by!r}")
        key = (tuple(thresholds), self._score_threshold)
        if key not in self._breakdowns:
            if len(self._breakdowns) >= _MATCH_CACHE_SIZE:
                self._breakdowns.pop(next(iter(self._breakdowns)))
            self._breakdowns[key] = self._breakdown_arrays(thresholds)
        per_fix, counts = self._breakdowns[key]  # (fixes, T, R, K) precision; (K, types) counts
        names = [*ERROR_TYPES, *SPECIAL_ERRORS]
        groups = ["main"] * len(ERROR_TYPES) + ["special"] * len(SPECIAL_ERRORS)
        if len(thresholds) > 1:
            counts = counts / len(thresholds)
        if by is None:
            aps = [mean_ap(p) for p in per_fix]
            total = counts.sum(axis=0)
            frame = pd.DataFrame(
                {
                    "group": groups,
                    "count": total if len(thresholds) > 1 else total.astype(int),
                    "AP": aps[0],
                    "AP_fixed": aps[1:],
                    "dAP": np.asarray(aps[1:]) - aps[0],
                },
                index=pd.Index(names, name="error_type"),
            )
        else:
            classes = list(self._problem.class_names)
            k = len(classes)
            ap = np.array([[mean_ap(p[..., c]) for c in range(k)] for p in per_fix])  # (fix, K)
            frame = pd.DataFrame(
                {
                    "group": np.tile(groups, k),
                    "count": counts.reshape(-1)
                    if len(thresholds) > 1
                    else counts.reshape(-1).astype(int),
                    "AP": np.repeat(ap[0], len(names)),
                    "AP_fixed": ap[1:].T.reshape(-1),
                    "dAP": (ap[1:] - ap[0]).T.reshape(-1),
                },
                index=pd.MultiIndex.from_product(
                    [  # categorical levels: .unstack() keeps the classes' and types' order
                        pd.CategoricalIndex(classes, categories=classes, ordered=True),
                        pd.CategoricalIndex(names, categories=names, ordered=True),
                    ],
                    names=["class", "error_type"],
                ),
            )
        frame.attrs = {
            "metric": metric,
            "iou": "0.50:0.95" if len(thresholds) > 1 else thresholds[0],
            "background_iou": BACKGROUND_IOU,
            "score_threshold": self._score_threshold,
        }
        return frame

    def _breakdown_arrays(self, thresholds: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """Precision ``(fixes, T, R, K)`` after each oracle fix (the first: none) at each
        threshold, and the error counts ``(K, error types + special)`` summed over thresholds:
        false positives by predicted class, false negatives by ground-truth class."""
        fixes: list[str | None] = [None, *ERROR_TYPES, *SPECIAL_ERRORS]
        ix = self._index
        k = len(self._problem.class_names)
        n_types = len(ERROR_TYPES)
        per_fix: list[list[np.ndarray]] = [[] for _ in fixes]
        counts = np.zeros((k, n_types + len(SPECIAL_ERRORS)))
        for t in thresholds:
            precs, att = self._fixed_precision(t, fixes)
            for i, prec in enumerate(precs):
                per_fix[i].append(prec)
            fp = att.kind >= 0
            pair = ix.d_cls[fp].astype(np.int64) * n_types + att.kind[fp]
            by_type = np.bincount(pair, minlength=k * n_types).reshape(k, n_types)
            counts[:, :n_types] += by_type  # no prediction is "missed": that column stays 0
            missed = att.gt_kind == ERROR_TYPES.index("missed")
            counts[:, ERROR_TYPES.index("missed")] += np.bincount(ix.g_cls[missed], minlength=k)
            counts[:, n_types] += np.bincount(ix.d_cls[fp], minlength=k)
            counts[:, n_types + 1] += np.bincount(ix.g_cls[att.fn], minlength=k)
        return np.stack([np.stack(p) for p in per_fix]), counts

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
        errors = self.error_breakdown()
        metric = html.escape(str(errors.attrs["metric"]))
        err_rows = "".join(
            f"<tr><th>{html.escape(str(name))}</th><td>{int(row['count'])}</td>"
            f"<td>{row['dAP']:+.3f}</td></tr>"
            for name, row in errors.iterrows()
        )
        return (
            "<div class='nbdiag-detection-evaluation'><b>nbdiag.DetectionEvaluation</b> "
            f"{s['images']} images, {s['gt_boxes']} ground-truth boxes, {s['pred_boxes']} predictions"
            "<div style='display:flex;gap:2em;align-items:flex-start'>"
            f"<table><tr><th colspan=2>COCO (pycocotools-exact)</th></tr>{coco}</table>"
            f"<table><tr><th colspan=2>at IoU {s['iou_threshold']:g}, score &ge; {s['score_threshold']:g}</th></tr>"
            f"<tr><th>precision</th><td>{s['precision']:.3f}</td></tr>"
            f"<tr><th>recall</th><td>{s['recall']:.3f}</td></tr>"
            f"<tr><th>F1</th><td>{s['f1']:.3f}</td></tr></table>"
            f"<table><tr><th colspan=3>errors (TIDE): {metric} gained by fixing</th></tr>"
            f"<tr><th></th><th>count</th><th>d{metric}</th></tr>{err_rows}</table>"
            "</div></div>"
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
