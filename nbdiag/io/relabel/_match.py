"""Matching boxes: a sample's boxes in the file paired with its old ground-truth boxes, by the
object id they came back with, else greedily by IoU."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pandas as pd

from ._values import _blank, _IdMap


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ax0, ay0, ax1, ay1 = a[:, 0], a[:, 1], a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx0, by0, bx1, by1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax1[:, None], bx1) - np.maximum(ax0[:, None], bx0), 0, None)
    ih = np.clip(np.minimum(ay1[:, None], by1) - np.maximum(ay0[:, None], by0), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + b[:, 2] * b[:, 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def _match_boxes(
    old: pd.DataFrame,
    boxes: pd.DataFrame,
    covered: list[Hashable],
    known: pd.Index,
    match_iou: float,
) -> tuple[list[tuple[Hashable, int]], list[int], list[Hashable]]:
    """Pair each covered sample's new boxes (rows of ``boxes``) with its old ground-truth boxes
    (rows of ``old``): first by the object id a box came back with (``hint``, looked up among
    the ``known`` object ids), then the rest greedily by IoU, highest first, down to
    ``match_iou``.

    Returns ``(pairs, added, removed)``: the (old object id, new row) pairs, the new rows left
    without a partner and the old object ids left without one, sample by sample."""
    gt_ids = _IdMap(known, "object")
    old_by_sample = {sid: frame for sid, frame in old.groupby("sample_id", sort=False)}
    new_by_sample = {sid: frame for sid, frame in boxes.groupby("sample_id", sort=False)}
    pairs: list[tuple[Hashable, int]] = []  # (old object id, new row)
    added: list[int] = []
    removed: list[Hashable] = []
    for sid in covered:
        o = old_by_sample.get(sid, old.iloc[:0])
        n = new_by_sample.get(sid, boxes.iloc[:0])
        free_old = list(o.index)
        rest = []
        for r, hint in zip(n.index, n["hint"], strict=True):
            oid = None if _blank(hint) else gt_ids.get(hint)
            if oid is not None and oid in free_old:
                pairs.append((oid, r))
                free_old.remove(oid)
            else:
                rest.append(r)
        if rest and free_old:
            iou = _iou(
                n.loc[rest, ["x", "y", "w", "h"]].to_numpy(float),
                o.loc[free_old, ["x", "y", "w", "h"]].to_numpy(float),
            )
            taken_new, taken_old = set(), set()
            for flat in np.argsort(-iou, axis=None, kind="stable"):
                i, j = divmod(int(flat), iou.shape[1])
                if iou[i, j] < match_iou:
                    break
                if i in taken_new or j in taken_old:
                    continue
                taken_new.add(i)
                taken_old.add(j)
                pairs.append((free_old[j], rest[i]))
            rest = [r for k, r in enumerate(rest) if k not in taken_new]
            free_old = [oid for k, oid in enumerate(free_old) if k not in taken_old]
        added.extend(rest)
        removed.extend(free_old)
    return pairs, added, removed
