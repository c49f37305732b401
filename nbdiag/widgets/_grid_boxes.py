"""The boxes an ImageGrid draws: every box of the dataset (and of a detection run), styled by its
evaluation, grouped by sample, and sliced into the tables a page or a detail image carries.

Box tables travel as little-endian float32, :data:`BOX_STRIDE` numbers per box::

    row, x, y, w, h, score, class, style

``x, y, w, h`` are pixels of the item's *source* (the image, or the crop of an object row),
``class`` is the code into ``class_names`` (-1 when missing), and ``style`` is one of the
``STYLE_*`` codes below, plus :data:`FOCUS` for the box an object row is about. For a ground
truth matched by a prediction, ``score`` is that prediction's score: the browser turns it into a
miss (FN) when the confidence slider goes above it, with no round trip (greedy matching by
descending score makes matches above a threshold independent of the boxes below it).

Masks travel next to the table, not in it: a page's ``masks`` is a JSON list with one entry per
box row (the object's COCO compressed counts string over its whole image, or ``None``); the
browser decodes them (``js/src/shared/rle.ts``). :data:`REGION` marks a row that is only a mask
(a class region of a semantic label map): it has no box to draw.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core.masks import MASK

if TYPE_CHECKING:
    from ..core import DatasetCore
    from ..core.runs import DetectionRun

#: box styles (the low 3 bits); ``style & 4`` is set for predictions
STYLE_GT, STYLE_GT_TP, STYLE_GT_FN, STYLE_GT_IGNORED = 0, 1, 2, 3
STYLE_PRED, STYLE_PRED_TP, STYLE_PRED_FP, STYLE_PRED_IGNORED = 4, 5, 6, 7
#: added to the style of the box an object row is about
FOCUS = 8
#: added to the style of a semantic region: a mask without a box
REGION = 16
BOX_STRIDE = 8
#: the ``source`` of a ground-truth box
GT = "gt"


class BoxTable:
    """Every box the grid may draw, grouped by sample position (numpy, vectorised)."""

    def __init__(
        self,
        sample_pos: np.ndarray,
        xywh: np.ndarray,
        score: np.ndarray,
        cls: np.ndarray,
        style: np.ndarray,
        ids: np.ndarray,
        n_samples: int,
        masks: np.ndarray | None = None,
    ):
        if len(sample_pos) > 1 and not (sample_pos[1:] >= sample_pos[:-1]).all():
            order = np.argsort(sample_pos, kind="stable")
            masks = None if masks is None else masks[order]
            sample_pos, xywh, score = sample_pos[order], xywh[order], score[order]
            cls, style, ids = cls[order], style[order], ids[order]
        # (boxes usually arrive grouped by image already: then nothing is reordered or copied)
        #: each box's mask (counts string or None), or None when no box has one
        self.masks = masks
        self.sample_pos = sample_pos
        self.xywh = xywh
        self.score = score
        self.cls = cls
        self.style = style
        self.ids = ids
        self.starts = np.searchsorted(self.sample_pos, np.arange(n_samples + 1))
        self.id_pos = pd.Index(self.ids)

    def __len__(self) -> int:
        return len(self.sample_pos)

    def of_sample(self, pos: int) -> slice:
        return slice(int(self.starts[pos]), int(self.starts[pos + 1]))

    def _keep(
        self, pos: int, region: tuple[float, float, float, float] | None, focus: Hashable | None
    ) -> np.ndarray:
        s = self.of_sample(pos)
        xywh = self.xywh[s]
        keep = np.ones(len(xywh), dtype=bool)
        if region is not None:
            x0, y0, x1, y1 = region
            keep = (
                (xywh[:, 0] < x1)
                & (xywh[:, 0] + xywh[:, 2] > x0)
                & (xywh[:, 1] < y1)
                & (xywh[:, 1] + xywh[:, 3] > y0)
            )
        if focus is not None:
            keep |= self.ids[s] == focus
        return keep

    def rows(
        self,
        pos: int,
        row: int,
        origin: tuple[float, float] = (0.0, 0.0),
        region: tuple[float, float, float, float] | None = None,
        focus: Hashable | None = None,
    ) -> np.ndarray:
        """The boxes of sample ``pos`` as ``(k, BOX_STRIDE)`` float32 rows for grid row ``row``:
        shifted by ``-origin``, kept only if they overlap ``region`` (x0, y0, x1, y1) when
        given, and with :data:`FOCUS` added to the style of box ``focus``."""
        s = self.of_sample(pos)
        xywh = self.xywh[s]
        keep = self._keep(pos, region, focus)
        style = self.style[s].astype(np.float32)
        if focus is not None:
            style = np.where(self.ids[s] == focus, style + FOCUS, style)
        out = np.empty((int(keep.sum()), BOX_STRIDE), dtype="<f4")
        out[:, 0] = row
        out[:, 1] = xywh[keep, 0] - origin[0]
        out[:, 2] = xywh[keep, 1] - origin[1]
        out[:, 3] = xywh[keep, 2]
        out[:, 4] = xywh[keep, 3]
        out[:, 5] = self.score[s][keep]
        out[:, 6] = self.cls[s][keep]
        out[:, 7] = style[keep]
        return out

    def mask_rows(
        self,
        pos: int,
        region: tuple[float, float, float, float] | None = None,
        focus: Hashable | None = None,
    ) -> list[str | None]:
        """The masks of the boxes :meth:`rows` returns for the same arguments, in the same order
        (counts strings over the whole image, ``None`` for a box without a mask)."""
        if self.masks is None:
            return []
        keep = self._keep(pos, region, focus)
        return [m if isinstance(m, str) else None for m in self.masks[self.of_sample(pos)][keep]]

    def object_ids(
        self,
        pos: int,
        region: tuple[float, float, float, float] | None = None,
        focus: Hashable | None = None,
    ) -> np.ndarray:
        """The object ids of the boxes :meth:`rows` returns for the same arguments."""
        return self.ids[self.of_sample(pos)][self._keep(pos, region, focus)]


def class_codes(labels: pd.Series, class_names: Sequence[Any]) -> np.ndarray:
    """Each label's code into ``class_names`` (-1 when missing), as float32."""
    if isinstance(labels.dtype, pd.CategoricalDtype):  # the dataset's own labels: no hashing
        cat = labels.cat.set_categories(list(class_names)).cat
        return cat.codes.to_numpy().astype(np.float32)
    cat = pd.Categorical(labels.astype(object), categories=class_names)
    return cat.codes.astype(np.float32)


def box_table(
    ds: DatasetCore, detection: DetectionRun | None, evaluation: Any, class_names: Sequence[Any]
) -> BoxTable:
    """The ground truth of ``ds`` and the boxes of ``detection`` (when given), styled as matched
    (TP), missed (FN), false (FP) or ignored by ``evaluation`` (when given)."""
    gt = ds.gt_objects
    parts = [gt]
    if detection is not None:
        parts.append(ds.run_boxes(detection.name))
    boxes = pd.concat(parts) if len(parts) > 1 else gt
    n = len(boxes)
    is_pred = (boxes["source"] != GT).to_numpy()
    style = np.where(is_pred, STYLE_PRED, STYLE_GT).astype(np.uint8)
    score = boxes["score"].to_numpy(dtype=np.float64).copy()
    score[~is_pred] = np.nan
    ev = evaluation
    if ev is not None and n:
        ids = boxes.index
        preds = ev.predictions
        pm = preds["match"].reindex(ids).astype(object).to_numpy()
        style = np.where(
            is_pred & (pm == "tp"),
            STYLE_PRED_TP,
            np.where(
                is_pred & (pm == "fp"),
                STYLE_PRED_FP,
                np.where(is_pred & (pm == "ignored"), STYLE_PRED_IGNORED, style),
            ),
        ).astype(np.uint8)
        truth = ev.ground_truth
        gm = truth["match"].reindex(ids).astype(object).to_numpy()
        style = np.where(
            ~is_pred & (gm == "tp"),
            STYLE_GT_TP,
            np.where(
                ~is_pred & (gm == "fn"),
                STYLE_GT_FN,
                np.where(~is_pred & (gm == "ignored"), STYLE_GT_IGNORED, style),
            ),
        ).astype(np.uint8)
        # a matched GT carries its prediction's score: below the slider it becomes a miss
        matched = truth["matched_pred"].reindex(ids)
        pred_score = ds.objects["score"]
        ms = pred_score.reindex(matched.to_numpy()).to_numpy(dtype=np.float64)
        score = np.where(~is_pred & (style == STYLE_GT_TP), ms, score)
    masks = None
    if MASK in boxes.columns and n and boxes[MASK].notna().any():
        masks = boxes[MASK].to_numpy(dtype=object)
    return BoxTable(
        ds.samples.index.get_indexer(boxes["sample_id"]).astype(np.int64),
        boxes[["x", "y", "w", "h"]].to_numpy(dtype=np.float64),
        score,
        class_codes(boxes["label"], class_names) if n else np.zeros(0, np.float32),
        style,
        boxes.index.to_numpy(dtype=object),
        len(ds.samples),
        masks,
    )


def decode_boxes(data: bytes | memoryview) -> np.ndarray:
    """A box table (bytes) back to ``(n, BOX_STRIDE)`` float32 (tests, debugging)."""
    return np.frombuffer(data, dtype="<f4").reshape(-1, BOX_STRIDE)
