"""Box IoU exactly as pycocotools computes it for ``iouType="bbox"`` (``maskApi.c: bbIou``).

Boxes are ``x, y, w, h`` in pixels, top-left origin. For a crowd ground-truth region the
"IoU" is intersection over the *detection's* area, so a crowd region can absorb any number of
detections lying inside it. The arithmetic is done in the same order as the C code, so results
are bit-identical and threshold comparisons tie-break identically.
"""

from __future__ import annotations

import numpy as np


def iou_pairs(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray | None = None) -> np.ndarray:
    """IoU of paired boxes: ``dt[i]`` with ``gt[i]``.

    Parameters
    ----------
    dt, gt : numpy.ndarray
        ``(n, 4)`` float arrays of ``x, y, w, h`` boxes.
    crowd : numpy.ndarray of bool, optional
        ``(n,)``; where true, the ground-truth box is a crowd region and the result is
        intersection / area of ``dt[i]``.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64 IoU values in ``[0, 1]``.
    """
    dt = np.asarray(dt, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    dx, dy, dw, dh = dt.T
    gx, gy, gw, gh = gt.T
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    inter = w * h
    da = dw * dh
    union = da + gw * gh - inter
    if crowd is not None:
        union = np.where(np.asarray(crowd, dtype=bool), da, union)
    overlap = (w > 0) & (h > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(overlap, inter / np.where(overlap, union, 1.0), 0.0)
    return out


def iou_indexed(
    dt: np.ndarray,
    gt: np.ndarray,
    crowd: np.ndarray | None,
    pair_dt: np.ndarray,
    pair_gt: np.ndarray,
) -> np.ndarray:
    """IoU of the pairs ``(dt[pair_dt[i]], gt[pair_gt[i]])``, bit-identical to :func:`iou_pairs`.

    Per-box terms (right/bottom edges, areas) are computed once per box, with the same
    floating-point operations, then gathered per pair: much less memory traffic when boxes
    take part in many pairs.
    """
    dt = np.asarray(dt, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    dx, dy, dw, dh = (np.ascontiguousarray(c) for c in dt.T)
    gx, gy, gw, gh = (np.ascontiguousarray(c) for c in gt.T)
    dx2, dy2, da = dw + dx, dh + dy, dw * dh
    gx2, gy2, ga = gw + gx, gh + gy, gw * gh
    w = np.minimum(dx2[pair_dt], gx2[pair_gt])
    w -= np.maximum(dx[pair_dt], gx[pair_gt])
    h = np.minimum(dy2[pair_dt], gy2[pair_gt])
    h -= np.maximum(dy[pair_dt], gy[pair_gt])
    inter = w * h
    a = da[pair_dt]
    union = a + ga[pair_gt]
    union -= inter
    if crowd is not None:
        c = np.asarray(crowd, dtype=bool)[pair_gt]
        union[c] = a[c]
    overlap = (w > 0) & (h > 0)
    out = np.zeros(len(inter))
    np.divide(inter, union, out=out, where=overlap)
    return out


def box_iou(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray | None = None) -> np.ndarray:
    """Pairwise IoU matrix between detections and ground-truth boxes (pycocotools-exact).

    Parameters
    ----------
    dt : numpy.ndarray
        ``(D, 4)`` boxes ``x, y, w, h``.
    gt : numpy.ndarray
        ``(G, 4)`` boxes ``x, y, w, h``.
    crowd : numpy.ndarray of bool, optional
        ``(G,)`` crowd flags of the ground-truth boxes.

    Returns
    -------
    numpy.ndarray
        ``(D, G)`` float64 matrix; entry ``[d, g]`` is the IoU of ``dt[d]`` with ``gt[g]``.

    Examples
    --------
    >>> box_iou([[0, 0, 10, 10]], [[5, 0, 10, 10]])
    array([[0.33333333]])
    """
    dt = np.asarray(dt, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    n_dt, n_gt = len(dt), len(gt)
    d = np.repeat(np.arange(n_dt), n_gt)
    g = np.tile(np.arange(n_gt), n_dt)
    c = None if crowd is None else np.asarray(crowd, dtype=bool)[g]
    return iou_pairs(dt[d], gt[g], c).reshape(n_dt, n_gt)
