"""COCO greedy matching, run in lockstep over many (image, class) groups at once.

pycocotools matches one (image, class, area range, IoU threshold) at a time in Python loops.
Here every group advances one detection per step: step ``k`` matches the ``k``-th highest
scoring detection of every group that has one, for all area ranges and IoU thresholds at once.
The result is identical, detection by detection, to ``COCOeval.evaluateImg``:

- detections are visited by descending score (ties: input order, a stable mergesort);
- a detection takes, among the ground truths still available (a crowd region is always
  available) with IoU >= ``min(t, 1 - 1e-10)``, the one with the highest IoU, the *last* one on
  ties (pycocotools' ``iou < best`` test lets later equals win);
- ground truths ignored for the area range (and crowd regions, and ground truth flagged by an
  ``ignore`` column) come last: a detection only takes one of them when no regular ground
  truth qualifies.

Only the *candidates* of a detection matter: ground truths it overlaps with IoU >= the lowest
threshold. They are kept sparse (usually one or two per detection), so the work per step is
proportional to the detections still being matched times their candidates, however many
ground truths an image holds. Groups are bucketed by their padded candidate count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: pycocotools caps every threshold at 1 - 1e-10 so that IoU == 1 can match at t = 1
MAX_IOU_THRESHOLD = 1 - 1e-10


def greedy_match(
    iou: np.ndarray,
    pair_dt: np.ndarray,
    pair_gt: np.ndarray,
    dt_first: np.ndarray,
    n_dt: np.ndarray,
    gt_ignore: np.ndarray,
    gt_crowd: np.ndarray,
    thresholds: np.ndarray,
    n_out: int,
    progress: Any = None,
) -> np.ndarray:
    """Match detections to ground truth in every group, for every area range and threshold.

    Parameters
    ----------
    iou, pair_dt, pair_gt : numpy.ndarray
        The IoU of every (detection, ground truth) pair of a group, sorted by detection then
        ground truth (global indices; a group's ground truths in their input order).
    dt_first, n_dt : numpy.ndarray
        Per group (with detections and ground truths): global index of its first detection
        and number of detections taking part; its detections are contiguous, by descending score.
    gt_ignore : numpy.ndarray of bool
        ``(A, n_gt_total)``: ground truth ignored for area range ``a`` (crowd, flagged
        ``ignore``, or outside it).
    gt_crowd : numpy.ndarray of bool
        ``(n_gt_total,)``: crowd regions (can be matched by many detections).
    thresholds : numpy.ndarray
        ``(T,)`` IoU thresholds.
    n_out : int
        Total number of detections (size of the last output axis).
    progress : tqdm-like, optional
        Updated with the number of detections matched per step.

    Returns
    -------
    numpy.ndarray
        ``(A, T, n_out)`` int32 (int64 past 2**31 GT): global index of the matched ground
        truth, ``-1`` if unmatched.
    """
    n_areas, n_gt_total = gt_ignore.shape
    thr = np.minimum(np.asarray(thresholds, dtype=np.float64), MAX_IOU_THRESHOLD)
    dtype = np.int32 if n_gt_total < 2**31 else np.int64
    out = np.full((n_areas, len(thr), n_out), -1, dtype=dtype)
    if not len(dt_first) or not len(thr):
        if progress is not None:
            progress.update(int(np.sum(n_dt)))
        return out
    # sparse candidates, CSR by detection (pairs are sorted by detection, then ground truth)
    keep = iou >= thr.min()
    cand_gt = pair_gt[keep].astype(dtype)
    cand_iou = iou[keep]
    count = np.bincount(pair_dt[keep], minlength=n_out)
    start = np.cumsum(count) - count
    # per group: most candidates of one detection, and steps needed (last det with candidates)
    rep = np.repeat(np.arange(len(n_dt)), n_dt)
    first = np.cumsum(n_dt) - n_dt
    k = np.arange(len(rep)) - first[rep]
    c = count[dt_first[rep] + k]
    c_max = np.maximum.reduceat(c, first) if len(c) else np.zeros(0, np.int64)
    steps = np.maximum.reduceat(np.where(c > 0, k + 1, 0), first) if len(c) else c_max
    if progress is not None:
        progress.update(int(n_dt.sum() - steps.sum()))
    pad = np.where(
        c_max > 0, np.left_shift(1, np.ceil(np.log2(np.maximum(c_max, 1))).astype(np.int64)), 0
    )
    taken = np.zeros((n_areas, len(thr), n_gt_total), dtype=bool)
    for cp in np.unique(pad[pad > 0]):
        sel = np.flatnonzero(pad == cp)
        sel = sel[np.argsort(-steps[sel], kind="stable")]
        _match_bucket(
            dt_first[sel], steps[sel], start, count, cand_gt, cand_iou,
            gt_ignore, gt_crowd, thr, int(cp), taken, out, progress,
        )  # fmt: skip
    return out


def _match_bucket(
    dt_first: np.ndarray,
    steps: np.ndarray,
    start: np.ndarray,
    count: np.ndarray,
    cand_gt: np.ndarray,
    cand_iou: np.ndarray,
    gt_ignore: np.ndarray,
    gt_crowd: np.ndarray,
    thr: np.ndarray,
    cp: int,
    taken: np.ndarray,
    out: np.ndarray,
    progress: Any,
) -> None:
    """Lockstep matching of groups whose candidate count pads to ``cp`` (sorted by -steps)."""
    col = np.arange(cp)
    neg_steps = -steps
    any_crowd = bool(gt_crowd.any())
    rev = slice(None, None, -1)
    for k in range(int(steps[0])):
        nk = int(np.searchsorted(neg_steps, -k, side="left"))  # groups with more than k steps
        d = dt_first[:nk] + k
        valid = col < count[d][:, None]  # (nk, cp)
        idx = np.where(valid, start[d][:, None] + col, 0)
        g = np.where(valid, cand_gt[idx], 0)
        v = np.where(valid, cand_iou[idx], -1.0)
        ge = v >= thr[:, None, None]  # (T, nk, cp)
        tk = taken[:, :, g]  # (A, T, nk, cp)
        if any_crowd:
            tk &= ~gt_crowd[g]
        ok = ge & ~tk
        reg = ok & ~gt_ignore[:, g][:, None]
        cand = np.where(reg.any(axis=-1, keepdims=True), reg, ok)
        hit = cand.any(axis=-1)  # (A, T, nk)
        if cp == 1:
            j = np.zeros(hit.shape, dtype=np.int64)
        else:
            vals = np.where(cand, v, -2.0)
            j = cp - 1 - np.argmax(vals[..., rev], axis=-1)  # last of the maxima
        ai, ti, ni = np.nonzero(hit)
        gg = g[ni, j[ai, ti, ni]]
        taken[ai, ti, gg] = True
        out[ai, ti, d[ni]] = gg
        if progress is not None:
            progress.update(nk)
