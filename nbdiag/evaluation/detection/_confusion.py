"""Cross-class overlaps: the detection confusion matrix's second pass and error-type hints."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._coco import Index
from ._match import MAX_IOU_THRESHOLD


@dataclass
class CrossPairs:
    """IoU of every kept prediction with every non-crowd GT of *another* class, same image.

    Indices are into the :class:`~._coco.Index` sorted arrays. ``best`` is, per prediction, the
    highest such IoU (0 when there is none).
    """

    dt: np.ndarray
    gt: np.ndarray
    iou: np.ndarray
    best: np.ndarray


def cross_class_pairs(index: Index) -> CrossPairs:
    """Compute :class:`CrossPairs` (score- and threshold-independent, so computed once)."""
    n_img = len(index.problem.image_ids)
    kd = np.flatnonzero(index.d_keep)  # sorted by image already
    kg = np.flatnonzero(~index.g_crowd)
    cd = np.bincount(index.d_img[kd], minlength=n_img)
    cg = np.bincount(index.g_img[kg], minlength=n_img)
    sd = np.cumsum(cd) - cd
    sg = np.cumsum(cg) - cg
    sizes = cd * cg
    off = np.cumsum(sizes) - sizes
    img = np.repeat(np.arange(n_img), sizes)
    local = np.arange(int(sizes.sum())) - off[img]
    d = kd[sd[img] + local // np.maximum(cg[img], 1)]
    g = kg[sg[img] + local % np.maximum(cg[img], 1)]
    other = index.d_cls[d] != index.g_cls[g]
    d, g = d[other], g[other]
    iou = index.pair_ious(d, g, None)
    best = np.zeros(len(index.d_score))
    if len(d):
        starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
        best[d[starts]] = np.maximum.reduceat(iou, starts)
    return CrossPairs(d, g, iou, best)


def second_pass(
    index: Index,
    pairs: CrossPairs,
    dt_free: np.ndarray,
    gt_free: np.ndarray,
    iou_threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedily pair unmatched predictions with unmatched GT of another class.

    Per image, predictions by descending score (ties: input order) each take the free GT of
    another class with the highest IoU >= ``iou_threshold`` (ties: first in input order).

    Returns sorted-index arrays ``(dt, gt, iou)`` of the class-confusion pairs.
    """
    thr = min(iou_threshold, MAX_IOU_THRESHOLD)
    ok = dt_free[pairs.dt] & gt_free[pairs.gt] & (pairs.iou >= thr)
    d, g, iou = pairs.dt[ok], pairs.gt[ok], pairs.iou[ok]
    if not len(d):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    orig_d = index.dt_order[d]
    orig_g = index.gt_order[g]
    order = np.lexsort((orig_g, -iou, orig_d, -index.d_score[d], index.d_img[d]))
    used_d: set[int] = set()
    used_g: set[int] = set()
    keep = []
    for i, dd, gg in zip(order.tolist(), d[order].tolist(), g[order].tolist(), strict=True):
        if dd in used_d or gg in used_g:
            continue
        used_d.add(dd)
        used_g.add(gg)
        keep.append(i)
    sel = np.asarray(keep, dtype=np.int64)
    return d[sel], g[sel], iou[sel]
