"""Likely label errors of a multi-label dataset: cleanlab's multi-label confident learning,
per sample and per class (which classes look missing from a sample's labels, which extra)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._optional import require
from ..core.multilabel import (
    LABELS,
    THRESHOLD,
    MultiLabelRun,
    indicator,
    multilabel_run,
    sets_from_indicator,
    thresholds,
)
from ._classification import FILTERS

if TYPE_CHECKING:
    from ..core import DatasetCore


def _probabilities(
    ds: DatasetCore, run: str | None, probabilities: Any
) -> tuple[pd.DataFrame, str]:
    """Per-class probabilities to use (checked like a run's) and where they came from."""
    if probabilities is not None:
        checked = multilabel_run("probabilities", probabilities, ds.samples.index, ds.class_names)
        return checked.scores, "given probabilities"
    if run is None and not any(isinstance(r, MultiLabelRun) for r in ds.runs.values()):
        raise ValueError(
            "multi-label label issues need out-of-sample per-class probabilities: pass run= "
            "(a multi-label run, e.g. from cross-validation) or probabilities="
        )
    r = ds._get_run(run, MultiLabelRun)
    assert isinstance(r, MultiLabelRun)
    return r.scores, f"run {r.name!r}"


def find_multilabel_label_issues(
    ds: DatasetCore,
    run: str | None = None,
    *,
    probabilities: Any = None,
    filter_by: str = "prune_by_noise_rate",
    threshold: Any = THRESHOLD,
    include_all: bool = False,
    write: bool = True,
) -> pd.DataFrame:
    """Likely label errors of a multi-label dataset, most likely first.

    cleanlab's multi-label mode (``cleanlab.multilabel_classification``): ``find_label_issues``
    flags the samples, ``find_multilabel_issues_per_class`` the classes of each sample whose
    annotation looks wrong, ``get_label_quality_scores`` scores every sample (low = suspicious).

    Parameters
    ----------
    ds : nbdiag.Dataset
        A multi-label dataset (``ds.task == "multilabel"``).
    run : str, optional
        Multi-label run whose per-class probabilities are used (they should be out-of-sample,
        e.g. from cross-validation); default the only multi-label run.
    probabilities : array or DataFrame, optional
        Per-class probabilities instead: N x C in ``samples`` order, or by sample id.
    filter_by : str, default "prune_by_noise_rate"
        cleanlab's filter.
    threshold : float, sequence or dict, default 0.5
        Decision threshold(s) of ``model_prediction``.
    include_all : bool
        Return every labelled sample (default: the flagged ones).
    write : bool
        Write ``label_issue``, ``label_quality`` and ``suggested_labels`` columns to
        ``ds.samples``.

    Returns
    -------
    pandas.DataFrame
        Indexed by sample id: ``labels``, ``suggested_labels`` (the labels with the flagged
        classes flipped), ``label_quality``, ``is_label_issue``, ``missing_labels`` (classes
        that look missing: not labelled, the model is confident they are present),
        ``extra_labels`` (labelled, but look absent), ``model_prediction`` (classes at
        ``threshold``), ``reason``.
    """
    cl_filter = require("cleanlab.multilabel_classification.filter", "multi-label label issues")
    cl_rank = require("cleanlab.multilabel_classification.rank", "multi-label label issues")
    if filter_by not in FILTERS:
        raise ValueError(f"filter_by must be one of {FILTERS}, got {filter_by!r}")
    probs, source = _probabilities(ds, run, probabilities)
    names = ds.class_names
    labels = ds.samples[LABELS].reindex(probs.index)
    keep = labels.notna().to_numpy()
    ids = probs.index[keep]
    if len(ids) < 2:
        raise ValueError("label issues need at least two labelled samples")
    given = indicator(labels[keep], names).astype(bool)
    p = probs.loc[ids, names].to_numpy(dtype=np.float64)
    lists = [np.flatnonzero(row).tolist() for row in given]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flagged = np.asarray(cl_filter.find_label_issues(lists, p, filter_by=filter_by), bool)
        per_class = np.asarray(
            cl_filter.find_multilabel_issues_per_class(lists, p, filter_by=filter_by), bool
        )
        quality = np.asarray(cl_rank.get_label_quality_scores(lists, p), dtype=float)
    if per_class.shape != given.shape:  # older cleanlab: a list of per-class masks
        per_class = np.column_stack(per_class)
    missing = per_class & ~given
    extra = per_class & given
    predicted = p >= thresholds(threshold, names)
    frame = pd.DataFrame(
        {
            "labels": sets_from_indicator(given, names, ids),
            "suggested_labels": sets_from_indicator(given ^ per_class, names, ids),
            "label_quality": quality,
            "is_label_issue": flagged,
            "missing_labels": sets_from_indicator(missing, names, ids),
            "extra_labels": sets_from_indicator(extra, names, ids),
            "model_prediction": sets_from_indicator(predicted, names, ids),
            "reason": _reasons(p, given, missing, extra, names),
        },
        index=pd.Index(ids, name="id"),
    )
    frame = frame.sort_values(
        ["is_label_issue", "label_quality"], ascending=[False, True], kind="stable"
    )
    frame.attrs.update(probabilities=source, method="cleanlab multi-label", filter_by=filter_by)
    if write:
        samples = ds.samples
        samples["label_issue"] = False
        samples.loc[ids, "label_issue"] = flagged
        samples["label_quality"] = np.nan
        samples.loc[ids, "label_quality"] = quality
        sugg = pd.Series(None, index=samples.index, dtype=object)
        flagged_ids = frame.index[frame["is_label_issue"].to_numpy()]
        sugg[flagged_ids] = frame.loc[flagged_ids, "suggested_labels"]
        samples["suggested_labels"] = sugg
    return frame if include_all else frame[frame["is_label_issue"]]


def _reasons(
    p: np.ndarray, given: np.ndarray, missing: np.ndarray, extra: np.ndarray, names: list[str]
) -> np.ndarray:
    out = np.empty(len(p), dtype=object)
    for r in range(len(p)):
        parts = [
            f"{names[k]!r} looks missing (model p={p[r, k]:.2f})"
            for k in np.flatnonzero(missing[r])
        ]
        parts += [
            f"{names[k]!r} looks extra (model p={p[r, k]:.2f})" for k in np.flatnonzero(extra[r])
        ]
        if not parts:  # no class stands out: name the given class the model doubts most
            agree = np.where(given[r], p[r], 1.0 - p[r])
            k = int(agree.argmin())
            state = "labelled" if given[r, k] else "not labelled"
            parts = [f"weakest: {names[k]!r} {state}, model p={p[r, k]:.2f}"]
        out[r] = "; ".join(parts)
    return out
