"""``DetectionEvaluation``: the public class, composed of one mixin per concept.

Each concept lives in its own module, as plain functions over the evaluation's arrays plus a
thin mixin exposing them (all mixins share :class:`~._core.EvaluationCore`, none imports
another):

- :mod:`._core`: inputs, COCO run, thresholds and caches (:mod:`._rematch`: threshold
  re-matching);
- :mod:`._summary`: summary numbers (COCO stats, per-class AP and counts, AP by size, PR);
- :mod:`._tables`: per-box tables (``predictions``, ``ground_truth``, ``to_frame``);
- :mod:`._confusion_matrix`: the detection confusion matrix and its pairs;
- :mod:`._breakdown`: TIDE error attribution and ``error_breakdown``;
- :mod:`._display`: ``repr`` and notebook HTML.

This module adds the constructors, the thresholds and the headline summary.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._breakdown import BreakdownMixin
from ._coco import COCO_STAT_NAMES
from ._confusion_matrix import BACKGROUND, PAIR_KINDS, ConfusionMixin
from ._core import PROGRESS_MIN_IMAGES
from ._data import problem_from_coco, problem_from_frames
from ._display import summary_html, summary_text
from ._rematch import check_iou_threshold, check_score_threshold
from ._summary import SummaryMixin
from ._tables import MATCH_KINDS, TablesMixin

if TYPE_CHECKING:
    from ...core import DatasetCore

__all__ = [
    "BACKGROUND",
    "MATCH_KINDS",
    "PAIR_KINDS",
    "PROGRESS_MIN_IMAGES",
    "DetectionEvaluation",
    "evaluate_detection_run",
    "evaluate_detections",
]


class DetectionEvaluation(SummaryMixin, TablesMixin, ConfusionMixin, BreakdownMixin):
    """Object-detection evaluation: COCO-exact summary numbers plus per-object results.

    Build one with :func:`evaluate_detections` (COCO files), :meth:`from_frames` (boxes tables)
    or :meth:`from_dataset` (``ds.evaluate(run)``).

    **Boxes or masks** (``iou_type``): ``"bbox"`` (default) compares boxes; ``"segm"`` compares
    the objects' masks (the ``mask`` column, COCO ``segmentation``) as
    ``COCOeval(iouType="segm")`` does: mask IoU (a crowd region's: intersection over the
    prediction's mask area) and, for the size ranges, the ground truth's ``area`` (its mask area
    when not given) and the prediction's mask area. Everything below applies to both.

    **COCO numbers** (``coco_stats``, ``per_class`` AP columns, ``ap_by_size``) are
    ``pycocotools.COCOeval`` (bbox or segm) with its default parameters, reproduced exactly: IoU
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

    **Ignored ground truth** (``ignore="difficult"``, the VOC protocol's treatment of its
    "difficult" objects): ground-truth boxes flagged by a boolean column (annotation key for
    COCO files) are ignore regions, exactly as pycocotools treats ground truth outside an area
    range (its ``gtIgnore``), with the ordinary IoU (not crowd IoU): a prediction takes one only
    when no regular ground truth qualifies, each is matched at most once, a prediction matched
    to one is neither a true nor a false positive (``match == "ignored"``), and it is never a
    false negative (its own ``match`` is ``"ignored"``; it is not counted in ``n_gt``). The
    COCO numbers, per-object tables, live thresholds, confusion matrix and error breakdown all
    follow this. Default ``None``: no box is ignored (beyond crowd regions).

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

    The constructors also take ``ignore`` (str, optional): the boolean ground-truth column
    flagging boxes to ignore (see above).

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

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_coco(
        cls,
        gt: dict[str, Any] | str | Any,
        dt: list[dict[str, Any]] | str | Any,
        *,
        ignore: str | None = None,
        iou_type: str = "bbox",
        **kwargs: Any,
    ) -> DetectionEvaluation:
        """Evaluate a COCO results list against a COCO instances dict (or JSON paths of either).

        See :func:`evaluate_detections`.
        """
        return cls(problem_from_coco(gt, dt, ignore, iou_type), **kwargs)

    @classmethod
    def from_frames(
        cls,
        gt_boxes: pd.DataFrame,
        pred_boxes: pd.DataFrame,
        image_ids: Sequence[Hashable] | pd.Index,
        class_names: Sequence[Any],
        *,
        ignore: str | None = None,
        iou_type: str = "bbox",
        image_sizes: pd.DataFrame | None = None,
        check_masks: bool = True,
        **kwargs: Any,
    ) -> DetectionEvaluation:
        """Evaluate boxes (or masks) given as nbdiag objects tables.

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
        ignore : str, optional
            A boolean column of ``gt_boxes`` (e.g. ``"difficult"``; missing values are False)
            whose true boxes are ignore regions (see the class docstring). Default: none.
        iou_type : {"bbox", "segm"}, default "bbox"
            ``"segm"`` compares the ``mask`` columns of both frames (COCO RLE counts strings,
            RLE dicts, polygons or H×W arrays), as ``COCOeval(iouType="segm")``; every object
            needs a mask (a ValueError names those without).
        image_sizes : pandas.DataFrame, optional
            ``height`` and ``width`` by image id: required with ``iou_type="segm"``.
        check_masks : bool, default True
            Validate counts strings (False: trust them, as for a dataset's own masks).
        **kwargs
            ``iou_threshold``, ``score_threshold``, ``progress``.

        Returns
        -------
        DetectionEvaluation
        """
        problem = problem_from_frames(
            gt_boxes, pred_boxes, image_ids, class_names, ignore, iou_type, image_sizes,
            check_masks,
        )  # fmt: skip
        return cls(problem, **kwargs)

    @classmethod
    def from_dataset(cls, ds: DatasetCore, run: str, **kwargs: Any) -> DetectionEvaluation:
        """Evaluate detection run ``run`` of ``ds`` against its ground-truth boxes.

        Every sample of ``ds`` is an evaluated image; ground truth is ``ds.gt_objects``
        (with its ``area`` column when loaded from COCO), predictions ``ds.run_boxes(run)``.

        Parameters
        ----------
        ds : nbdiag.Dataset
        run : str
            Name of a detection run.
        **kwargs
            ``iou_threshold``, ``score_threshold``, ``progress``, ``iou_type`` (``"segm"``:
            compare the objects' masks, ``ds.objects["mask"]``), and ``ignore``: a boolean
            column of ``ds.objects`` (e.g. ``"difficult"``, as the VOC reader fills it) whose
            true ground-truth boxes are ignored as the VOC protocol does (see the class
            docstring).

        Returns
        -------
        DetectionEvaluation
            With ``dataset`` set to ``ds`` (its object ids are ``ds.objects``').
        """
        if kwargs.get("iou_type", "bbox") == "segm":
            kwargs.setdefault("image_sizes", ds.samples[["height", "width"]])
            kwargs.setdefault("check_masks", False)  # validated when they were added
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
    def iou_type(self) -> str:
        """``"bbox"`` (box IoU) or ``"segm"`` (mask IoU and mask areas)."""
        return self._problem.iou_type

    @property
    def ignore(self) -> str | None:
        """The ground-truth column (COCO: annotation key) flagging ignored boxes, or None."""
        return self._problem.ignore

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
            self._iou_threshold = check_iou_threshold(iou)
        if score is not None:
            self._score_threshold = check_score_threshold(score)
        self._rematch()
        return self

    # ------------------------------------------------------------------ display
    def summary(self) -> dict[str, Any]:
        """Headline numbers: the COCO stats by name plus precision/recall/F1 at the thresholds."""
        out: dict[str, Any] = {
            k: float(v) for k, v in zip(COCO_STAT_NAMES, self._coco.stats, strict=True)
        }
        out.update(
            iou_type=self._problem.iou_type,
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
        return summary_text(self.summary())

    def _repr_html_(self) -> str:
        return summary_html(self.summary(), self.error_breakdown())


def evaluate_detections(
    gt: dict[str, Any] | str | Any,
    dt: list[dict[str, Any]] | str | Any,
    *,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.0,
    progress: bool = True,
    ignore: str | None = None,
    iou_type: str = "bbox",
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
    ignore : str, optional
        A boolean annotation key (e.g. ``"difficult"``; absent: False) flagging ground truth
        to ignore: pycocotools with ``gt["ignore"]`` set from it after ``_prepare`` (see
        :class:`DetectionEvaluation`). Default: none.
    iou_type : {"bbox", "segm"}, default "bbox"
        ``"segm"``: ``COCOeval(iouType="segm")``, comparing every annotation's and result's
        ``segmentation`` (polygons, uncompressed or compressed RLE) by mask IoU. Areas are as
        ``COCO.loadRes`` sets them: a result's mask area, except that when the first result
        has a ``bbox`` every result's area is its box's ``w * h`` (pycocotools' rule); results
        without a ``bbox`` get the mask's bounding box.

    Returns
    -------
    DetectionEvaluation

    Raises
    ------
    ValueError
        Naming the offending item, for a detection with an image or category id the ground
        truth lacks, a NaN score, a negative box width/height, duplicate annotation ids, and
        (``"segm"``) an item without a ``segmentation`` or with one that does not fit its image.

    Notes
    -----
    One deliberate difference from pycocotools: a ground-truth annotation with ``id == 0``
    matched by a detection makes pycocotools count that detection as a false positive (it
    stores matches as ids and tests them for truthiness); here it counts as matched.
    """
    return DetectionEvaluation.from_coco(
        gt,
        dt,
        ignore=ignore,
        iou_type=iou_type,
        iou_threshold=iou_threshold,
        score_threshold=score_threshold,
        progress=progress,
    )


def evaluate_detection_run(ds: DatasetCore, run: str, **kwargs: Any) -> DetectionEvaluation:
    """``DetectionEvaluation.from_dataset(ds, run, **kwargs)`` (what ``ds.evaluate(run)`` calls
    for a detection run): ``iou_threshold``, ``score_threshold``, ``progress``, ``ignore``
    (e.g. ``ds.evaluate(run, ignore="difficult")``: VOC's difficult objects ignored),
    ``iou_type`` (``ds.evaluate(run, iou_type="segm")``: masks compared)."""
    return DetectionEvaluation.from_dataset(ds, run, **kwargs)
