"""Likely label errors: confident learning (cleanlab) plus neighbour disagreement for
classification; missing, wrong-class, badly drawn and duplicate boxes for detection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ._classification import find_classification_label_issues, neighbor_label_distribution
from ._detection import cleanlab_image_scores, find_detection_label_issues
from ._oof import out_of_fold_probabilities

if TYPE_CHECKING:
    from ..core import DatasetCore

__all__ = [
    "cleanlab_image_scores",
    "find_classification_label_issues",
    "find_detection_label_issues",
    "find_label_issues",
    "neighbor_label_distribution",
    "out_of_fold_probabilities",
]


def find_label_issues(ds: DatasetCore, run: str | None = None, **kwargs: Any) -> pd.DataFrame:
    """Likely label errors, ranked, with the suggested label and the reason.

    **Classification** (:func:`find_classification_label_issues`): confident learning
    (cleanlab's ``find_label_issues``) on out-of-sample class probabilities mixed with the label
    distribution of each sample's ``k`` nearest neighbours in embedding space.

    - Probabilities: ``probabilities=`` (array in ``samples`` order or DataFrame by id), else
      the classification run ``run`` (its probabilities should be out-of-sample, e.g. from
      cross-validation), else out-of-fold probabilities of a logistic regression on the
      embeddings (:func:`out_of_fold_probabilities`), else -- without embeddings -- the only
      classification run.
    - ``neighbor_weight`` (default 0.5): weight of the neighbour label distribution in the mix
      (0 = plain confident learning; needs embeddings). ``k`` (default 10) neighbours.
    - ``filter_by`` (default ``"prune_by_noise_rate"``): cleanlab's filter.
    - Returns the flagged samples (``include_all=True``: every labelled sample), most likely
      errors first: ``label``, ``suggested_label``, ``label_quality`` (mixed probability of the
      given label; low = suspicious), ``is_label_issue``, ``model_p_label``,
      ``model_prediction``, ``neighbor_agreement`` (share of neighbours with the same label),
      ``confident_learning`` (what cleanlab alone flags on the model's probabilities),
      ``reason``. Writes ``label_issue``, ``label_quality``, ``suggested_label`` columns.

    **Detection** (:func:`find_detection_label_issues`): from the detection run ``run``'s
    predictions above ``score_threshold`` (default 0.5) matched at ``iou_threshold`` (0.5):
    ``missing_box``, ``wrong_class``, ``bad_localization`` and ``duplicate_box`` issues, one
    row each; writes ``objects.label_issue``, ``samples.label_issue_count`` and cleanlab's
    per-image ``samples.label_quality``.

    Examples
    --------
    >>> ds.set_embeddings(features)            # doctest: +SKIP
    >>> find_label_issues(ds).head()           # doctest: +SKIP
    """
    if ds.task == "detection":
        return find_detection_label_issues(ds, run, **kwargs)
    return find_classification_label_issues(ds, run, **kwargs)
