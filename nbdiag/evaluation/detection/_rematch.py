"""Threshold re-matching: the per-object view of an evaluation at one IoU and score threshold.

Changing the IoU threshold re-runs only COCO's greedy matching over the IoU matrices the
:class:`~._coco.Index` cached (IoU is never recomputed; at a COCO threshold the COCO run's own
matching is reused). Changing the score threshold needs no re-matching: greedy matching by
descending score makes the matches of the predictions above a score threshold independent of
those below it, so :func:`view` only masks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._coco import IOU_THRESHOLDS, CocoResult, Index
from ._common import put_bounded

#: a view: per-object masks of one matching at one score threshold, keyed ``match``,
#: ``active``, ``tp``, ``fp``, ``ignored``, ``gt_match``, ``evaluated`` (see :func:`view`);
#: the evaluation also caches the tables it derives from it there
View = dict[str, Any]


def check_iou_threshold(iou: float) -> float:
    """``iou`` as a float, or ValueError unless it is in (0, 1]."""
    iou = float(iou)
    if not 0.0 < iou <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou!r}")
    return iou


def check_score_threshold(score: float) -> float:
    """``score`` as a float, or ValueError for NaN."""
    score = float(score)
    if math.isnan(score):
        raise ValueError("score_threshold must be a number, got NaN")
    return score


def match_at(
    index: Index, coco: CocoResult, iou: float, cache: dict[float, np.ndarray]
) -> np.ndarray:
    """Sorted-GT index matched by each sorted prediction at IoU ``iou`` (area "all").

    Cached in ``cache`` (bounded); COCO's own matching is reused at its thresholds.
    """
    if iou in cache:
        return cache[iou]
    hit = np.flatnonzero(IOU_THRESHOLDS == iou)
    coco_all = index.gt_ignore()[0]
    if len(hit) and np.array_equal(coco_all, index.g_ignored):
        match = coco.match[0, hit[0]]
    else:
        match = index.match(np.array([iou]), index.g_ignored[None, :])[0, 0]
    return put_bounded(cache, iou, match)


def view(index: Index, match: np.ndarray, score: float) -> View:
    """Per-object status of every (sorted) prediction and ground truth for one matching."""
    ix = index
    active = ix.d_score >= score  # kept in the per-object view
    matched = match >= 0
    # matched to a crowd region or to ground truth flagged ignore: neither TP nor FP
    to_ignored = matched & ix.g_ignored[np.maximum(match, 0)] if len(ix.g_crowd) else matched
    ignored = ~ix.d_keep | to_ignored
    tp = active & matched & ~to_ignored
    fp = active & ~matched & ix.d_keep
    gt_match = np.full(len(ix.g_crowd), -1, dtype=np.int64)
    det = np.flatnonzero(tp)
    gt_match[match[det]] = det
    # what COCO's accumulate evaluates (area "all", maxDets 100): not ignored
    area_out = ix.area_ignore(ix.d_area)[0]
    evaluated = active & ix.d_keep & ~to_ignored & ~(~matched & area_out)
    return {
        "match": match,
        "active": active,
        "tp": tp,
        "fp": fp,
        "ignored": active & ignored,
        "gt_match": gt_match,
        "evaluated": evaluated,
    }
