"""COCO evaluation (pycocotools ``COCOeval``) on flat arrays: grouping, IoU, accumulate.

Mirrors ``COCOeval.evaluate / accumulate / summarize`` for ``iouType="bbox"`` and ``"segm"``
with the default parameters, to the bit: same IoU arithmetic, same stable sorts, same greedy
tie-breaking, same precision interpolation and recall sampling, same means. The two IoU types
differ only in :meth:`Index.pair_ious` (box or mask IoU) and in the areas the problem carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._data import Problem
from ._iou import iou_indexed
from ._match import greedy_match
from ._segm import MaskIoU

#: COCOeval.Params for bbox (``setDetParams``)
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETS = (1, 10, 100)
AREA_RANGES = np.array([[0**2, 1e5**2], [0**2, 32**2], [32**2, 96**2], [96**2, 1e5**2]])
AREA_LABELS = ("all", "small", "medium", "large")
#: names of the 12 numbers of ``COCOeval.summarize()``, in order
COCO_STAT_NAMES = (
    "AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
    "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large",
)  # fmt: skip


class Index:
    """Predictions and ground truth grouped by (image, class), with their cached IoU blocks.

    Ground truth is ordered by group, keeping input order inside a group. Predictions are
    ordered by group, then by descending score (stable). ``rank`` is a prediction's position in
    its group; only the first ``max_dets`` of a group take part (pycocotools' ``maxDets[-1]``).
    The IoU of every (prediction, ground truth) pair of the same image and class is computed once
    here and reused by every matching (COCO thresholds, live thresholds).
    """

    def __init__(self, problem: Problem, max_dets: int = MAX_DETS[-1]):
        self.problem = problem
        self.max_dets = max_dets
        n_cls = max(len(problem.class_names), 1)
        gt, dt = problem.gt, problem.dt
        gkey = gt.image * n_cls + gt.label
        dkey = dt.image * n_cls + dt.label
        self.gt_order = np.argsort(gkey, kind="stable")
        self.dt_order = np.lexsort((-dt.score, dkey)) if len(dt) else np.zeros(0, np.int64)
        # sorted views
        self.g_img = gt.image[self.gt_order]
        self.g_cls = gt.label[self.gt_order]
        self.g_xywh = gt.xywh[self.gt_order]
        self.g_area = gt.area[self.gt_order]
        self.g_crowd = gt.crowd[self.gt_order]
        # flagged "ignore" (e.g. difficult); with crowd regions: ground truth that is never a
        # false negative and whose matches are neither TP nor FP (pycocotools' gtIgnore)
        flag = gt.ignore if gt.ignore is not None else np.zeros(len(gt), dtype=bool)
        self.g_flag = flag[self.gt_order]
        self.g_ignored = self.g_crowd | self.g_flag
        self.d_img = dt.image[self.dt_order]
        self.d_cls = dt.label[self.dt_order]
        self.d_xywh = dt.xywh[self.dt_order]
        self.d_area = dt.area[self.dt_order]
        self.d_score = dt.score[self.dt_order]
        gkey, dkey = gkey[self.gt_order], dkey[self.dt_order]
        self._mask_iou = None
        if problem.iou_type == "segm":
            assert gt.mask is not None and dt.mask is not None and problem.image_sizes is not None
            self._mask_iou = MaskIoU(
                dt.mask[self.dt_order], gt.mask[self.gt_order], self.d_img, self.g_img,
                problem.image_sizes, self.g_crowd,
            )  # fmt: skip

        g_groups, g_start, g_count = np.unique(gkey, return_index=True, return_counts=True)
        d_groups, d_start, d_count = np.unique(dkey, return_index=True, return_counts=True)
        self.d_rank = np.arange(len(dt)) - np.repeat(d_start, d_count)
        self.d_keep = self.d_rank < max_dets

        _, gi, di = np.intersect1d(g_groups, d_groups, assume_unique=True, return_indices=True)
        self.n_dt = np.minimum(d_count[di], max_dets).astype(np.int64)
        self.n_gt = g_count[gi].astype(np.int64)
        self.dt_first = d_start[di].astype(np.int64)
        self.gt_first = g_start[gi].astype(np.int64)
        sizes = self.n_dt * self.n_gt
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        # flat (prediction, ground truth) pairs, row-major per group
        grp = np.repeat(np.arange(len(sizes)), sizes)
        local = np.arange(int(sizes.sum())) - self.offsets[grp]
        self.pair_dt = self.dt_first[grp] + local // self.n_gt[grp]
        self.pair_gt = self.gt_first[grp] + local % self.n_gt[grp]
        self.iou = self.pair_ious(self.pair_dt, self.pair_gt, self.g_crowd)
        # each matched-group prediction's IoU row: d_row[d] .. d_row[d] + n_gt of its group
        rep = np.repeat(np.arange(len(sizes)), self.n_dt)
        k = np.arange(len(rep)) - np.repeat(np.cumsum(self.n_dt) - self.n_dt, self.n_dt)
        det = self.dt_first[rep] + k
        self.d_grp = np.full(len(dt), -1, dtype=np.int64)
        self.d_grp[det] = rep
        self.d_row = np.full(len(dt), -1, dtype=np.int64)
        self.d_row[det] = self.offsets[rep] + k * self.n_gt[rep]
        # best IoU of each prediction with a same-class, non-crowd ground truth (0 if none)
        self.d_best_iou = np.zeros(len(dt))
        if len(det):
            vals = np.where(self.g_crowd[self.pair_gt], -np.inf, self.iou)
            rows = np.sort(det)
            best = np.maximum.reduceat(vals, self.d_row[rows])
            self.d_best_iou[rows] = np.where(np.isfinite(best), best, 0.0)

    def pair_ious(
        self, pair_dt: np.ndarray, pair_gt: np.ndarray, crowd: np.ndarray | None
    ) -> np.ndarray:
        """IoU of (sorted) predictions ``pair_dt[i]`` with (sorted) ground truths ``pair_gt[i]``
        of the same image, by the problem's ``iou_type``: boxes (``crowd``: crowd flags of all
        ground truths, or None) or masks. The one place the two evaluations differ."""
        if self._mask_iou is not None:
            return self._mask_iou(pair_dt, pair_gt, crowd)
        return iou_indexed(self.d_xywh, self.g_xywh, crowd, pair_dt, pair_gt)

    def pair_iou(self, det: np.ndarray, gt: np.ndarray) -> np.ndarray:
        """Cached IoU of (sorted) predictions with (sorted) ground truths of their own group."""
        grp = self.d_grp[det]
        return self.iou[self.d_row[det] + gt - self.gt_first[grp]]

    def match(
        self, thresholds: np.ndarray, gt_ignore: np.ndarray, progress: Any = None
    ) -> np.ndarray:
        """Greedy COCO matching; returns ``(A, T, n_dt)`` matched GT (sorted index) or -1."""
        return greedy_match(
            self.iou, self.pair_dt, self.pair_gt, self.dt_first, self.n_dt,
            gt_ignore, self.g_crowd, thresholds, len(self.d_score), progress,
        )  # fmt: skip

    def area_ignore(self, area: np.ndarray, ranges: np.ndarray = AREA_RANGES) -> np.ndarray:
        """``(A, n)``: outside each area range (pycocotools: ``area < lo or area > hi``)."""
        return (area[None, :] < ranges[:, :1]) | (area[None, :] > ranges[:, 1:])

    def gt_ignore(self, ranges: np.ndarray = AREA_RANGES) -> np.ndarray:
        """``(A, n_gt)``: ground truth ignored per area range (crowd, flagged ``ignore``, or
        area outside the range: pycocotools' ``gt["ignore"] or area outside``)."""
        return self.area_ignore(self.g_area, ranges) | self.g_ignored[None, :]


@dataclass
class CocoResult:
    """``COCOeval.eval``-like arrays plus the matching they came from."""

    precision: np.ndarray  # (T, R, K, A, M), -1 where a class has no GT in the area range
    recall: np.ndarray  # (T, K, A, M)
    stats: np.ndarray  # (12,)
    match: np.ndarray  # (A, T, n_dt) sorted GT index or -1 (maxDets = 100)


def evaluate(index: Index, progress: Any = None) -> CocoResult:
    """``COCOeval.evaluate(); accumulate(); summarize()`` for bbox with default parameters."""
    gt_ignore = index.gt_ignore()
    match = index.match(IOU_THRESHOLDS, gt_ignore, progress)
    precision, recall = accumulate(index, match, gt_ignore)
    return CocoResult(precision, recall, summarize(precision, recall), match)


def recall_cuts(npig: np.ndarray) -> np.ndarray:
    """``cut[..., r]``: the smallest TP count ``c`` with ``fl(c / npig) >= recThrs[r]``.

    pycocotools samples the precision at ``searchsorted(tp / npig, recThrs, "left")``; the
    number of elements with ``fl(tp / npig) < r`` is the number with ``tp < cut[r]``, found from
    the very same float divisions. ``npig`` is an integer array of any shape (0: no cut, zeros).
    """
    npig = np.asarray(npig, dtype=np.int64)
    cut = np.zeros((*npig.shape, len(RECALL_THRESHOLDS)), dtype=np.int64)
    cache: dict[int, np.ndarray] = {}
    for pos in zip(*np.nonzero(npig), strict=True):
        n = int(npig[pos])
        if n not in cache:
            cache[n] = np.searchsorted(np.arange(n + 1) / n, RECALL_THRESHOLDS, side="left")
        cut[pos] = cache[n]
    return cut


def precision_recall(
    tp: np.ndarray, fp: np.ndarray, bounds: np.ndarray, npig: np.ndarray, cut: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One (area range, maxDets) cell of ``COCOeval.accumulate``, for ``T`` rows at once.

    Parameters
    ----------
    tp, fp : numpy.ndarray of bool
        ``(T, n)``: true / false positive flags (both false: ignored) of the evaluated
        predictions, ordered by class, then as pycocotools orders a class's detections
        (descending score, ties by image then rank).
    bounds : numpy.ndarray
        ``(K + 1,)``: the predictions of class ``k`` are ``bounds[k]:bounds[k + 1]``.
    npig : numpy.ndarray
        ``(K,)`` number of non-ignored ground truths per class.
    cut : numpy.ndarray
        ``(K, R)``: :func:`recall_cuts` of ``npig``.

    Returns
    -------
    precision, recall : numpy.ndarray
        ``(T, R, K)`` interpolated precision sampled at the recall thresholds and ``(T, K)``
        final recall, ``-1`` for classes without ground truth (pycocotools' conventions).

    Notes
    -----
    pycocotools computes ``pr = tp / (fp + tp + eps)`` at every position of a class's list,
    takes its suffix maximum (the envelope) and reads it where the recall first reaches each
    threshold. Only true positives matter: the recall first reaches a level at a true positive
    (or at the first position, for level 0), and past a true positive the precision only drops
    (false positives) or stays (ignored detections) until the next one. So the envelope at a
    true positive is the maximum over the true positives from there on, and only their
    precision is computed, from exact integer counts: the same floats as pycocotools'.
    """
    n_thr, n = tp.shape
    n_cls = len(npig)
    has_gt = npig > 0
    recall = np.zeros((n_thr, n_cls))
    seg = np.repeat(np.arange(n_cls), np.diff(bounds))  # class of each prediction
    # the evaluated (not ignored) predictions, row-major: blocks of (row, class), by position
    counted = np.flatnonzero(tp | fp)
    in_counted = np.flatnonzero(tp.ravel()[counted])  # each true positive's index in counted
    flat = counted[in_counted]
    row, pos = np.divmod(flat, max(n, 1))
    cls = seg[pos]
    block = row * n_cls + cls
    n_blocks = n_thr * n_cls
    block_start = np.searchsorted(block, np.arange(n_blocks + 1))
    total = np.diff(block_start).reshape(n_thr, n_cls)  # true positives per (row, class)
    tp_count = np.arange(1, len(flat) + 1) - block_start[block]
    # false positives so far = evaluated predictions so far - true positives so far
    first = (np.arange(n_thr)[:, None] * n + bounds[None, :-1]).ravel()
    counted_start = np.searchsorted(counted, first)  # per (row, class)
    fp_count = in_counted - counted_start[block] + 1 - tp_count
    tpf = tp_count.astype(np.float64)
    pr = tpf / (fp_count.astype(np.float64) + tpf + np.spacing(1))
    with np.errstate(divide="ignore", invalid="ignore"):
        recall[:] = total / np.where(has_gt, npig, 1)
    recall = np.where(has_gt, recall, -1.0)
    # sample: the true positive whose count first reaches cut (level 0: the first one); the
    # envelope is the suffix maximum, from the block maxima between consecutive samples
    need = np.maximum(cut, 1)[None, :, :]  # (1, K, R)
    inside = need <= total[:, :, None]  # (T, K, R)
    starts = block_start[:-1].reshape(n_thr, n_cls, 1)
    ends = block_start[1:].reshape(n_thr, n_cls, 1)
    sample = np.minimum(starts + need - 1, ends)
    values = np.concatenate([pr, [0.0]])
    block_max = np.maximum.reduceat(values, sample.ravel()).reshape(sample.shape)
    block_max[~inside] = 0.0
    q = np.maximum.accumulate(block_max[:, :, ::-1], axis=2)[:, :, ::-1]
    q[~inside] = 0.0
    precision = np.where(has_gt[None, :, None], q, -1.0).transpose(0, 2, 1)
    return precision, recall


def accumulate(
    index: Index, match: np.ndarray, gt_ignore: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``COCOeval.accumulate``: interpolated precision at 101 recall points, and max recall.

    Vectorised over classes: one stable sort of all kept predictions by (class, -score, image,
    rank) reproduces pycocotools' per-class concatenation in image order followed by a
    mergesort on -score. Cumulative TP/FP counts are integers (exact); recall sampling uses
    ``searchsorted`` on those integers with per-class cut-offs derived from the very same float
    divisions pycocotools performs, so the sampled indices are identical
    (:func:`precision_recall`).
    """
    n_thr, n_rec = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS)
    n_cls, n_areas, n_max = len(index.problem.class_names), len(AREA_RANGES), len(MAX_DETS)
    precision = -np.ones((n_thr, n_rec, n_cls, n_areas, n_max))
    recall = -np.ones((n_thr, n_cls, n_areas, n_max))
    if n_cls == 0:
        return precision, recall

    # number of non-ignored GT per (area range, class)
    npig = np.stack([np.bincount(index.g_cls[~ig], minlength=n_cls) for ig in gt_ignore])
    cut = recall_cuts(npig)

    keep = np.flatnonzero(index.d_keep)
    cls, img, rank = index.d_cls[keep], index.d_img[keep], index.d_rank[keep]
    order = np.lexsort((rank, img, -index.d_score[keep], cls))
    area_out = index.area_ignore(index.d_area[keep][order])
    mo_all = match[:, :, keep[order]]  # (A, T, n)
    ranks = rank[order]
    subsets = []  # per maxDets: columns of ``order`` taking part, and class bounds
    for max_det in MAX_DETS:
        cols = None if max_det >= index.max_dets else np.flatnonzero(ranks < max_det)
        c = cls[order] if cols is None else cls[order][cols]
        subsets.append((cols, np.searchsorted(c, np.arange(n_cls + 1))))
    for a in range(n_areas):
        if not (npig[a] > 0).any():
            continue
        mo = mo_all[a]
        matched = mo >= 0
        ig = np.where(matched, gt_ignore[a][np.maximum(mo, 0)], area_out[a][None, :])
        tp_a = matched & ~ig
        fp_a = ~matched & ~ig
        for m, (cols, bounds) in enumerate(subsets):
            tp = tp_a if cols is None else tp_a[:, cols]
            fp = fp_a if cols is None else fp_a[:, cols]
            p, r = precision_recall(tp, fp, bounds, npig[a], cut[a])
            precision[:, :, :, a, m] = p
            recall[:, :, a, m] = r
    return precision, recall


def summarize(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """The 12 numbers of ``COCOeval.summarize()`` (mean over entries > -1; -1 if none)."""

    def one(
        ap: bool, iou_thr: float | None = None, area: str = "all", max_dets: int = 100
    ) -> float:
        aind = [i for i, lbl in enumerate(AREA_LABELS) if lbl == area]
        mind = [i for i, md in enumerate(MAX_DETS) if md == max_dets]
        s = precision if ap else recall
        if iou_thr is not None:
            s = s[np.where(iou_thr == IOU_THRESHOLDS)[0]]
        s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
        return -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    return np.array(
        [
            one(True),
            one(True, iou_thr=0.5),
            one(True, iou_thr=0.75),
            one(True, area="small"),
            one(True, area="medium"),
            one(True, area="large"),
            one(False, max_dets=1),
            one(False, max_dets=10),
            one(False),
            one(False, area="small"),
            one(False, area="medium"),
            one(False, area="large"),
        ]
    )
