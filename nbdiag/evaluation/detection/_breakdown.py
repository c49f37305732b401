"""Error attribution of a view and the ``error_breakdown`` table (the AP each error type costs).

The definitions (TIDE's error types and oracle fixes) live in :mod:`._errors`; this module
applies them to an evaluation's views and assembles the counts and APs into tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ._coco import IOU_THRESHOLDS, Index
from ._common import put_bounded
from ._core import EvaluationCore
from ._errors import (
    BACKGROUND_IOU,
    ERROR_TYPES,
    SPECIAL_ERRORS,
    Attribution,
    Overlaps,
    fixed_precision,
    mean_ap,
)
from ._rematch import View, check_iou_threshold

#: the fixes of a breakdown, in its rows' order after the first (``None``: no fix)
FIXES: tuple[str | None, ...] = (None, *ERROR_TYPES, *SPECIAL_ERRORS)


def fixed_precisions(
    index: Index, ov: Overlaps, att: Attribution, state: View, fixes: Sequence[str | None]
) -> list[np.ndarray]:
    """``(R, K)`` COCO precision of a view after each oracle fix in ``fixes``."""
    return [fixed_precision(index, ov, att, state["evaluated"], state["tp"], f) for f in fixes]


def breakdown_thresholds(
    iou: float | str | None, current: float, by: str | None
) -> tuple[list[float], str]:
    """Validate ``error_breakdown``'s arguments; return its IoU thresholds and metric name."""
    if isinstance(iou, str):
        if iou != "coco":
            raise ValueError(f"iou must be a number in (0, 1], 'coco' or None, got {iou!r}")
        thresholds = [float(t) for t in IOU_THRESHOLDS]
        metric = "AP"
    else:
        t = current if iou is None else check_iou_threshold(iou)
        thresholds = [t]
        metric = "AP50" if t == 0.5 else ("AP75" if t == 0.75 else f"AP@{t:g}")
    if by not in (None, "class"):
        raise ValueError(f"by must be None or 'class', got {by!r}")
    return thresholds, metric


def error_counts(index: Index, att: Attribution) -> np.ndarray:
    """``(K, error types + special)`` counts of one attribution: false positives by predicted
    class, false negatives by ground-truth class."""
    ix = index
    k = len(ix.problem.class_names)
    n_types = len(ERROR_TYPES)
    counts = np.zeros((k, n_types + len(SPECIAL_ERRORS)))
    fp = att.kind >= 0
    pair = ix.d_cls[fp].astype(np.int64) * n_types + att.kind[fp]
    by_type = np.bincount(pair, minlength=k * n_types).reshape(k, n_types)
    counts[:, :n_types] += by_type  # no prediction is "missed": that column stays 0
    missed = att.gt_kind == ERROR_TYPES.index("missed")
    counts[:, ERROR_TYPES.index("missed")] += np.bincount(ix.g_cls[missed], minlength=k)
    counts[:, n_types] += np.bincount(ix.d_cls[fp], minlength=k)
    counts[:, n_types + 1] += np.bincount(ix.g_cls[att.fn], minlength=k)
    return counts


def breakdown_arrays(
    index: Index, per_threshold: Iterable[tuple[list[np.ndarray], Attribution]]
) -> tuple[np.ndarray, np.ndarray]:
    """Stack, over thresholds, each threshold's precisions after the :data:`FIXES` and its
    attribution into precision ``(fixes, T, R, K)`` and error counts ``(K, error types +
    special)`` summed over the thresholds."""
    per_fix: list[list[np.ndarray]] = [[] for _ in FIXES]
    counts = np.zeros((len(index.problem.class_names), len(ERROR_TYPES) + len(SPECIAL_ERRORS)))
    for precs, att in per_threshold:
        for i, prec in enumerate(precs):
            per_fix[i].append(prec)
        counts += error_counts(index, att)
    return np.stack([np.stack(p) for p in per_fix]), counts


def breakdown_frame(
    per_fix: np.ndarray,
    counts: np.ndarray,
    thresholds: list[float],
    metric: str,
    class_names: list[str],
    score_threshold: float,
    by: str | None = None,
) -> pd.DataFrame:
    """The ``error_breakdown`` table from :func:`breakdown_arrays`' output."""
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
        classes = list(class_names)
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
        "score_threshold": score_threshold,
    }
    return frame


class BreakdownMixin(EvaluationCore):
    """TIDE error breakdown of :class:`~nbdiag.evaluation.detection.DetectionEvaluation`."""

    def _fixed_precision(
        self, t: float, fixes: Sequence[str | None]
    ) -> tuple[list[np.ndarray], Attribution]:
        """``(R, K)`` COCO precision at IoU ``t`` (as ``t_f``) after each oracle fix."""
        if t == self._iou_threshold:
            st, att = self._state, self._attribution()
        else:
            st = self._view(self._match_at(t), self._score_threshold)
            att = self._attribution(st, t)
        return fixed_precisions(self._index, self._get_overlaps(), att, st, fixes), att

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
        thresholds, metric = breakdown_thresholds(iou, self._iou_threshold, by)
        key = (tuple(thresholds), self._score_threshold)
        if key not in self._breakdowns:
            put_bounded(self._breakdowns, key, self._breakdown_arrays(thresholds))
        per_fix, counts = self._breakdowns[key]  # (fixes, T, R, K) precision; (K, types) counts
        classes = list(self._problem.class_names)
        return breakdown_frame(
            per_fix, counts, thresholds, metric, classes, self._score_threshold, by
        )

    def _breakdown_arrays(self, thresholds: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """Precision ``(fixes, T, R, K)`` after each oracle fix (the first: none) at each
        threshold, and the error counts ``(K, error types + special)`` summed over thresholds:
        false positives by predicted class, false negatives by ground-truth class."""
        return breakdown_arrays(self._index, (self._fixed_precision(t, FIXES) for t in thresholds))
