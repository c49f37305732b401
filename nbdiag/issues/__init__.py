"""Likely label errors: confident learning (cleanlab) plus neighbour disagreement for
classification; missing, wrong-class, badly drawn and duplicate boxes for detection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ._classification import find_classification_label_issues, neighbor_label_distribution
from ._detection import cleanlab_image_scores, find_detection_label_issues
from ._masks import find_mask_label_issues
from ._multilabel import find_multilabel_label_issues
from ._oof import out_of_fold_probabilities

if TYPE_CHECKING:
    from ..core import DatasetCore

__all__ = [
    "cleanlab_image_scores",
    "find_classification_label_issues",
    "find_detection_label_issues",
    "find_label_issues",
    "find_mask_label_issues",
    "find_multilabel_label_issues",
    "neighbor_label_distribution",
    "out_of_fold_probabilities",
]


def find_label_issues(
    ds: DatasetCore, run: str | None = None, *, iou_type: str = "bbox", **kwargs: Any
) -> pd.DataFrame:
    """Likely label errors, ranked, with the suggested label and the reason.

    **Classification** (:func:`find_classification_label_issues`): out-of-sample class
    probabilities mixed with the label distribution of each sample's ``k`` nearest neighbours
    in embedding space, ranked by a noise-aware posterior built on cleanlab's confident joint;
    as many samples are flagged as the estimated noise rate implies (``docs/label-issues.md``
    says exactly what is used).

    - Probabilities: ``probabilities=`` (array in ``samples`` order or DataFrame by id), else
      the classification run ``run`` (its probabilities should be out-of-sample, e.g. from
      cross-validation), else out-of-fold probabilities of a logistic regression on the
      embeddings (:func:`out_of_fold_probabilities`), else -- without embeddings -- the only
      classification run.
    - ``neighbor_weight`` (default ``"auto"``): weight of the neighbour label distribution in
      the mix; ``"auto"`` (or ``None``) picks it from 0, 0.1, ..., 1 by the lowest Brier score
      against the given labels (both inputs are held-out predictions); a number in [0, 1]
      fixes it (0 = model probabilities only). Needs embeddings, else 0. ``k`` (default 10)
      neighbours.
    - ``filter_by`` (default ``"auto"``): ``"auto"`` estimates the noise rate and the noise
      channel ``P(given | true)`` with cleanlab's ``estimate_joint`` on the mix, ranks by the
      posterior probability that the given label is right and flags the ``round(rate * n)``
      least likely; or one of cleanlab's filters (``"prune_by_noise_rate"``,
      ``"prune_by_class"``, ``"both"``, ``"confident_learning"``, ``"predicted_neq_given"``),
      run on the mix (``neighbor_weight=0.5, filter_by="prune_by_noise_rate"`` is the
      previous default).
    - Returns the flagged samples (``include_all=True``: every labelled sample), most likely
      errors first: ``label``, ``suggested_label``, ``label_quality`` (``"auto"``: posterior
      probability that the given label is right; a cleanlab filter: the mix's probability of
      the given label; low = suspicious), ``is_label_issue``, ``model_p_label``,
      ``model_prediction``, ``neighbor_agreement`` (share of neighbours with the same label),
      ``confident_learning`` (what cleanlab's ``prune_by_noise_rate``, or the chosen filter,
      flags on the model's probabilities alone), ``reason``. ``attrs``: ``noise_rate``
      (estimated, ``"auto"`` only), ``neighbor_weight`` (used), ``method``, ``filter_by``.
      Writes ``label_issue``, ``label_quality``, ``suggested_label`` columns.

    **Detection** (:func:`find_detection_label_issues`): from the detection run ``run``'s
    predictions above ``score_threshold`` (default ``"auto"``: the 15th percentile of the
    scores of the predictions that match an annotated box, so it follows the detector's
    calibration; 0.5 with fewer than 20 matches) matched at ``iou_threshold`` (0.5):
    ``missing_box``, ``wrong_class``, ``bad_localization`` and ``duplicate_box`` issues, one
    row each; writes ``objects.label_issue``, ``samples.label_issue_count`` and cleanlab's
    per-image ``samples.label_quality``.

    **Masks** (``iou_type="segm"``, :func:`find_mask_label_issues`): a detection dataset whose
    ground truth and run carry masks, matched on mask IoU: ``missing_mask``, ``wrong_class``,
    ``poor_mask`` (a confident same-class prediction agrees with the box, box IoU >=
    ``box_iou`` = 0.5, but no predicted mask reaches mask IoU ``mask_iou``, default
    ``iou_threshold``) and ``duplicate_mask``, ranked by ``confidence``; writes
    ``objects.label_issue`` and ``samples.label_issue_count``.

    **Multi-label** (:func:`find_multilabel_label_issues`): cleanlab's multi-label mode on the
    per-class probabilities of the multi-label run ``run`` (or ``probabilities=``): flagged
    samples with the classes that look ``missing_labels`` / ``extra_labels`` and the
    ``suggested_labels``; writes ``label_issue``, ``label_quality``, ``suggested_labels``.

    Examples
    --------
    >>> ds.set_embeddings(features)            # doctest: +SKIP
    >>> find_label_issues(ds).head()           # doctest: +SKIP
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    if iou_type == "segm":
        if ds.task != "detection":
            raise ValueError(
                "iou_type='segm' finds label issues of object masks (a detection dataset whose "
                f"objects have a 'mask' column); this dataset's task is {ds.task!r}"
            )
        return find_mask_label_issues(ds, run, **kwargs)
    if ds.task == "detection":
        return find_detection_label_issues(ds, run, **kwargs)
    if ds.task == "multilabel":
        return find_multilabel_label_issues(ds, run, **kwargs)
    return find_classification_label_issues(ds, run, **kwargs)
