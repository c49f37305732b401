"""TIDE-style error attribution (Bolya et al., ECCV 2020) and the AP each error type costs.

One definition serves both the per-object ``error_type`` columns and ``error_breakdown()``:
:func:`attribute` labels every false positive and false negative at a foreground IoU threshold
``t_f`` (the matching threshold) and a background threshold ``t_b`` (0.1), and
:func:`fixed_precision` applies TIDE's oracle fixes for a set of error types and recomputes
COCO's interpolated precision with the same code as the COCO numbers
(:func:`~._coco.precision_recall`).

Matching is nbdiag's (COCO's greedy rule per image and class, crowd regions, top 100 per image
and class); a prediction's *same-class* overlap is its best IoU with a non-crowd ground truth
of its class in its image, its *cross-class* overlap the best with one of another class.
A false positive is, testing in this order:

1. ``localization``: same-class overlap in ``[t_b, t_f)`` — right class, box off;
2. ``classification``: cross-class overlap ``>= t_f`` — box right, class wrong;
3. ``duplicate``: same-class overlap ``>= t_f`` — the ground truth was already taken by a
   higher-scoring prediction (COCO's greedy matching leaves no other reason);
4. ``background``: every overlap ``<= t_b``;
5. ``both``: otherwise (cross-class overlap in ``(t_b, t_f)``): wrong class and poorly placed.

A missed ground truth (false negative) is ``classification`` or ``localization`` when a false
positive of that type points at it (its best-overlapping ground truth, still unmatched): the
object was found, with the wrong class or a poor box — TIDE counts that error on the
prediction's side only. Otherwise it is ``missed``.

Ground truth flagged ``ignore`` (e.g. VOC's difficult objects) is a real object: it counts in
the overlaps (a false positive on it is a ``localization`` or ``duplicate`` error about it) but,
like a crowd region, is never a false negative, so no oracle fix turns a prediction into its
true positive.

Oracle fixes (TIDE section 2.3): a ``classification`` / ``localization`` false positive whose
ground truth is unmatched becomes a true positive of that ground truth (taking its class); when
several point at the same ground truth only the highest-scoring one does, the others are
removed; one whose ground truth is already matched is removed. ``both``, ``duplicate`` and
``background`` false positives are removed. ``missed`` ground truths are removed from the
ground truth (so recall can reach 1). Scores never change. The two "special" fixes remove every
false positive (perfect precision) or every false negative (perfect recall).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._coco import Index, precision_recall, recall_cuts
from ._confusion import CrossPairs
from ._match import MAX_IOU_THRESHOLD

#: TIDE's error types, in TIDE's order (codes of the ``error_type`` categoricals)
ERROR_TYPES = ("classification", "localization", "both", "duplicate", "background", "missed")
CLS, LOC, BOTH, DUPE, BKG, MISSED = range(6)
#: TIDE's "special" fixes: every false positive / every false negative
SPECIAL_ERRORS = ("false_positives", "false_negatives")
#: TIDE's background threshold t_b: below it a prediction overlaps nothing
BACKGROUND_IOU = 0.1


@dataclass
class Overlaps:
    """Threshold-independent overlaps of every (sorted) prediction, computed once."""

    same_iou: np.ndarray  # best IoU with a non-crowd GT of its class (0 if none)
    same_gt: np.ndarray  # that GT (sorted index; first on ties), -1 if none
    cross_iou: np.ndarray  # best IoU with a non-crowd GT of another class (0 if none)
    cross_gt: np.ndarray  # that GT, -1 if none
    priority: np.ndarray  # rank by descending score, ties by input order (0 = first)
    position: np.ndarray  # rank by (descending score, image, input order): COCO's order
    order: np.ndarray  # all predictions by (class, position): accumulate's order
    key: np.ndarray  # their sort keys, class * n + position (ascending)


def _first_max(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per row (``rows`` sorted): max of ``vals`` (0 if none) and the first ``col`` reaching it."""
    best = np.zeros(n)
    arg = np.full(n, -1, dtype=np.int64)
    if not len(rows):
        return best, arg
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    m = np.maximum.reduceat(vals, starts)
    counts = np.diff(np.r_[starts, len(rows)])
    first = np.flatnonzero(vals == np.repeat(m, counts))
    r = rows[first]
    first = first[np.r_[True, r[1:] != r[:-1]]]  # the first maximum of each row
    ok = vals[first] > 0
    best[rows[first[ok]]] = vals[first[ok]]
    arg[rows[first[ok]]] = cols[first[ok]]
    return best, arg


def overlaps(index: Index, cross: CrossPairs) -> Overlaps:
    """Compute :class:`Overlaps` from the cached IoU blocks (no IoU is recomputed)."""
    n = len(index.d_score)
    vals = np.where(index.g_crowd[index.pair_gt], -1.0, index.iou)
    same_iou, same_gt = _first_max(index.pair_dt, index.pair_gt, vals, n)
    cross_iou, cross_gt = _first_max(cross.dt, cross.gt, cross.iou, n)
    priority = np.empty(n, dtype=np.int64)
    priority[np.lexsort((index.dt_order, -index.d_score))] = np.arange(n)
    position = np.empty(n, dtype=np.int64)
    # (class, position) is accumulate's order, (class, -score, image, rank): within an image and
    # class, rank follows input order on score ties, so input order can stand in for it, and
    # then also orders a prediction an oracle moves to another class as pycocotools would
    position[np.lexsort((index.dt_order, index.d_img, -index.d_score))] = np.arange(n)
    key = index.d_cls * max(n, 1) + position
    order = np.argsort(key)
    return Overlaps(same_iou, same_gt, cross_iou, cross_gt, priority, position, order, key[order])


@dataclass
class Attribution:
    """Error types of every prediction and ground truth at one foreground threshold."""

    kind: np.ndarray  # (n_dt,) int8 code into ERROR_TYPES, -1 if not a false positive
    target: np.ndarray  # (n_dt,) the GT the error is about (sorted index), -1 for background
    fixable: np.ndarray  # (n_dt,) cls/loc error whose target is unmatched (can become a TP)
    gt_kind: np.ndarray  # (n_gt,) int8: CLS/LOC (found by such an error), MISSED, -1 if not FN
    gt_by: np.ndarray  # (n_gt,) the highest-priority cls/loc error pointing at it, -1 if none
    fn: np.ndarray  # (n_gt,) bool: false negative (not crowd nor flagged ignore, unmatched)


def _winners(
    ov: Overlaps, cand: np.ndarray, target: np.ndarray, n_gt: int
) -> tuple[np.ndarray, np.ndarray]:
    """Among candidate predictions, the highest-priority one per target GT.

    Returns ``(win, by)``: a boolean mask of the winning predictions and, per GT, its winner.
    """
    det = np.flatnonzero(cand)
    by = np.full(n_gt, -1, dtype=np.int64)
    win = np.zeros(len(cand), dtype=bool)
    if len(det):
        det = det[np.lexsort((ov.priority[det], target[det]))]
        t = target[det]
        first = det[np.r_[True, t[1:] != t[:-1]]]
        win[first] = True
        by[target[first]] = first
    return win, by


def attribute(
    ov: Overlaps,
    fp: np.ndarray,
    gt_match: np.ndarray,
    g_ignored: np.ndarray,
    t_f: float,
    t_b: float = BACKGROUND_IOU,
) -> Attribution:
    """TIDE error types of the false positives ``fp`` and of the unmatched ground truth.

    Parameters
    ----------
    ov : Overlaps
    fp : numpy.ndarray of bool
        ``(n_dt,)`` the false positives (sorted predictions) at threshold ``t_f``.
    gt_match : numpy.ndarray
        ``(n_gt,)`` the true positive matched to each (sorted) ground truth, -1 if none.
    g_ignored : numpy.ndarray of bool
        ``(n_gt,)`` crowd regions and ground truth flagged ``ignore`` (never false negatives).
    t_f, t_b : float
        Foreground (matching) and background IoU thresholds.
    """
    thr = min(float(t_f), MAX_IOU_THRESHOLD)  # the matching's own cap
    tb = min(float(t_b), thr)
    same, cross = ov.same_iou, ov.cross_iou
    loc = fp & (same >= tb) & (same < thr)
    cls = fp & ~loc & (cross >= thr)
    dupe = fp & ~loc & ~cls & (same >= thr)
    bkg = fp & ~loc & ~cls & ~dupe & (np.maximum(same, cross) <= tb)
    both = fp & ~loc & ~cls & ~dupe & ~bkg
    kind = np.select([cls, loc, both, dupe, bkg], [CLS, LOC, BOTH, DUPE, BKG], -1).astype(np.int8)
    target = np.where(loc | dupe, ov.same_gt, np.where(cls | both, ov.cross_gt, -1))
    n_gt = len(gt_match)
    fn = (gt_match < 0) & ~g_ignored
    fixable = (loc | cls) & (target >= 0)
    fixable[fixable] = fn[target[fixable]]
    _, by = _winners(ov, fixable, target, n_gt)
    gt_kind = np.where(fn, MISSED, -1).astype(np.int8)
    found = by >= 0
    gt_kind[found] = kind[by[found]]
    return Attribution(kind, target, fixable, gt_kind, by, fn)


def fixed_precision(
    index: Index,
    ov: Overlaps,
    att: Attribution,
    evaluated: np.ndarray,
    tp: np.ndarray,
    fix: str | None,
) -> np.ndarray:
    """COCO's ``(R, K)`` interpolated precision after an oracle fix (``None``: no fix).

    ``fix`` is an error type of :data:`ERROR_TYPES`, ``"all"`` (every main type at once),
    or one of :data:`SPECIAL_ERRORS`. ``evaluated`` marks the predictions COCO evaluates (not
    ignored) and ``tp`` the true positives among them; the area range is ``"all"``.
    """
    n_cls = len(index.problem.class_names)
    n = max(len(index.d_cls), 1)
    keep = evaluated.copy()
    tp = tp & evaluated
    fp = evaluated & ~tp
    npig = np.bincount(index.g_cls[~index.g_ignored], minlength=n_cls)
    moved = np.zeros(0, dtype=np.int64)  # predictions an oracle gives another class
    if fix == "false_positives":
        keep &= ~fp
    elif fix == "false_negatives":
        npig = npig - np.bincount(index.g_cls[att.fn], minlength=n_cls)
    elif fix is not None:
        if fix == "all":
            fixed = fp & (att.kind >= 0)
        else:
            fixed = fp & (att.kind == ERROR_TYPES.index(fix))
        win, _ = _winners(ov, fixed & att.fixable, att.target, len(index.g_cls))
        keep &= ~(fixed & ~win)  # removed: everything fixed that does not become a TP
        tp = tp | win
        moved = np.flatnonzero(win)
        moved = moved[index.g_cls[att.target[moved]] != index.d_cls[moved]]
        if MISSED in ({MISSED} if fix == "all" else {ERROR_TYPES.index(fix)}):
            npig = npig - np.bincount(index.g_cls[att.gt_kind == MISSED], minlength=n_cls)
    # accumulate's order (class, position): filter the precomputed one, insert the moved ones
    stay = keep.copy()
    stay[moved] = False
    in_order = stay[ov.order]
    order, keys = ov.order[in_order], ov.key[in_order]
    cls = index.d_cls
    if len(moved):
        cls = cls.copy()
        cls[moved] = index.g_cls[att.target[moved]]
        mkey = cls[moved] * n + ov.position[moved]
        s = np.argsort(mkey)
        order = np.insert(order, np.searchsorted(keys, mkey[s]), moved[s])
    bounds = np.searchsorted(cls[order], np.arange(n_cls + 1))
    t = tp[order][None, :]
    precision, _ = precision_recall(t, ~t, bounds, npig, recall_cuts(npig))
    return precision[0]


def mean_ap(precision: np.ndarray) -> float:
    """COCO's mean over the defined entries (``> -1``) of a precision array; NaN if none."""
    defined = precision[precision > -1]
    return float(np.mean(defined)) if len(defined) else float("nan")
