"""Label quality broken down by who made the labels (or by any other grouping): how many labels
each group made, the share flagged as likely label errors (with its confidence interval), how
often the model agrees, and for boxes how well they fit the model's matched predictions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core.runs import ClassificationRun, DetectionRun
from ..evaluation import evaluate_run
from ..issues import find_classification_label_issues, find_detection_label_issues
from ._stats import assign_bins, is_discrete, quantile_edges, wilson_interval

if TYPE_CHECKING:
    from ..core import DatasetCore

#: issue kinds of detection that concern a drawn box (its class, its fit, a duplicate)
BOX_KINDS = ("wrong_class", "bad_localization", "duplicate_box")


def quality_by(
    ds: DatasetCore,
    by: str = "annotator",
    run: str | None = None,
    *,
    bins: int = 5,
    label_issues: pd.DataFrame | None = None,
    confidence: float = 0.95,
    **issue_options: Any,
) -> pd.DataFrame:
    """Label quality per annotator, or per any other grouping of the labels.

    Parameters
    ----------
    ds
        The dataset, with a run of a model (the evidence the labels are checked against).
    by
        A column of ``ds.objects`` (detection: each ground-truth box in its group) or of
        ``ds.samples`` (boxes take their image's value): ``"annotator"``, ``"split"``,
        ``"source"``, a metric. Numeric columns with many values are cut into ``bins``
        quantile bins.
    run
        The run whose predictions are the evidence (default: the only run; classification
        without a run uses :func:`~nbdiag.issues.find_label_issues`'s own out-of-fold model
        when the dataset has embeddings).
    label_issues
        The result of ``ds.find_label_issues(...)`` if already computed (classification: with
        ``include_all=True``); otherwise it is computed here (nothing is written to the tables).
    confidence
        Level of the Wilson intervals.
    **issue_options
        Passed to :func:`~nbdiag.issues.find_label_issues` (``score_threshold``, ``k``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per group (index named ``by``; labels without a value are the group
        ``"(none)"``), most flagged first: ``labels`` (labelled samples, or ground-truth boxes),
        ``flagged`` and ``flagged_share`` (likely label errors; ``flagged_low`` /
        ``flagged_high`` its interval), ``agreement`` (classification: the model predicts the
        given label; detection: a prediction of the same class matches the box at the
        evaluation's IoU threshold) with ``agreement_low`` / ``agreement_high``. Detection
        adds ``mean_iou`` (IoU of matched boxes with their prediction), one count per issue kind
        (``wrong_class``, ``bad_localization``, ``duplicate_box``; ``missing_box`` counted for the
        group of the image when ``by`` is a sample column, or the group that drew most of the
        image's boxes) and ``box_issues`` (badly drawn or duplicate boxes). Classification adds
        ``mean_label_quality``.

    Examples
    --------
    >>> ds.quality_by("annotator", run="detector")            # doctest: +SKIP
    >>> ds.quality_by("split", run="cnn")                      # doctest: +SKIP
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    run_obj = ds._get_run(run) if run is not None or ds.runs else None
    if isinstance(run_obj, DetectionRun) or (run_obj is None and ds.task == "detection"):
        table = _detection(ds, by, run_obj, bins, label_issues, issue_options)
    else:
        assert run_obj is None or isinstance(run_obj, ClassificationRun)
        table = _classification(ds, by, run_obj, bins, label_issues, issue_options)
    return _with_intervals(table, by, confidence)


def _groups(values: pd.Series, by: str, bins: int) -> pd.Series:
    """Group label per row: the value itself, or its quantile bin for many-valued numbers."""
    if is_discrete(values):
        out = values.astype(object).where(values.notna(), "(none)")
        return out.map(lambda x: x if isinstance(x, str) else str(x))
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    edges = quantile_edges(x, bins)
    idx = assign_bins(x, edges)
    names = np.array(
        [f"[{edges[k]:.4g}, {edges[k + 1]:.4g}{']' if k == len(edges) - 2 else ')'}"
         for k in range(len(edges) - 1)] + ["(none)"],
        dtype=object,
    )  # fmt: skip
    return pd.Series(names[idx], index=values.index, name=by)


def _column(ds: DatasetCore, by: str, level: str) -> pd.Series:
    if level == "object" and by in ds.objects.columns:
        return ds.gt_objects[by]
    if by in ds.samples.columns:
        return ds.samples[by]
    where = "ds.objects or ds.samples" if level == "object" else "ds.samples"
    raise KeyError(
        f"no column {by!r} in {where}; set it first (e.g. ds.samples[{by!r}] = ...) or pick one "
        f"of {sorted(set(ds.samples.columns) | set(ds.objects.columns))[:20]}"
    )


def _classification(
    ds: DatasetCore,
    by: str,
    run: ClassificationRun | None,
    bins: int,
    issues: pd.DataFrame | None,
    options: dict[str, Any],
) -> pd.DataFrame:
    group = _groups(_column(ds, by, "sample"), by, bins)
    if issues is None:
        issues = find_classification_label_issues(
            ds, None if run is None else run.name, include_all=True, write=False, **options
        )
    labelled = ds.samples.index[ds.samples["label"].notna().to_numpy()]
    flagged = issues["is_label_issue"].reindex(labelled).fillna(False).astype(bool)
    if run is not None:
        predicted = run.predictions["prediction"].reindex(labelled).astype(object)
    else:
        predicted = issues["model_prediction"].reindex(labelled).astype(object)
    label = ds.samples.loc[labelled, "label"].astype(object)
    frame = pd.DataFrame(
        {
            "group": group.reindex(labelled).to_numpy(),
            "flagged": flagged.to_numpy(),
            "agrees": (predicted.to_numpy() == label.to_numpy()),
            "label_quality": pd.to_numeric(
                issues["label_quality"].reindex(labelled), errors="coerce"
            ).to_numpy(),
        }
    )
    g = frame.groupby("group", sort=False)
    return pd.DataFrame(
        {
            "labels": g.size(),
            "flagged": g["flagged"].sum(),
            "agreeing": g["agrees"].sum(),
            "mean_label_quality": g["label_quality"].mean(),
        }
    )


def _detection(
    ds: DatasetCore,
    by: str,
    run: DetectionRun | None,
    bins: int,
    issues: pd.DataFrame | None,
    options: dict[str, Any],
) -> pd.DataFrame:
    if run is None:
        raise ValueError("label quality of boxes needs a detection run: pass run=")
    gt = ds.gt_objects
    if by in ds.objects.columns:
        group = _groups(gt[by], by, bins)
    else:
        per_sample = _groups(_column(ds, by, "sample"), by, bins)
        group = pd.Series(per_sample.reindex(gt["sample_id"]).to_numpy(), index=gt.index)
    if issues is None:
        issues = find_detection_label_issues(ds, run.name, write=False, **options)
    iou_threshold = options.get("iou_threshold", 0.5)
    truth = evaluate_run(ds, run.name, iou_threshold=iou_threshold).ground_truth
    truth = truth.reindex(gt.index)
    frame = pd.DataFrame(
        {
            "group": group.to_numpy(),
            "matched": truth["matched"].fillna(False).astype(bool).to_numpy(),
            "iou": np.where(
                truth["matched"].fillna(False).to_numpy(bool), truth["iou"].to_numpy(float), np.nan
            ),
            "crowd": gt["iscrowd"].to_numpy(bool),
        },
        index=gt.index,
    )
    frame = frame[~frame["crowd"]]
    on_boxes = issues[issues["issue"].isin(BOX_KINDS) & issues["object_id"].isin(frame.index)]
    kinds = pd.crosstab(on_boxes["object_id"], on_boxes["issue"]).reindex(
        index=frame.index, columns=list(BOX_KINDS), fill_value=0
    )
    frame["flagged"] = (kinds.sum(axis=1) > 0).to_numpy()
    g = frame.groupby("group", sort=False)
    out = pd.DataFrame(
        {
            "labels": g.size(),
            "flagged": g["flagged"].sum(),
            "agreeing": g["matched"].sum(),
            "mean_iou": g["iou"].mean(),
        }
    )
    per_kind = kinds.groupby(frame["group"].to_numpy()).sum()
    for kind in BOX_KINDS:
        out[kind] = per_kind[kind].reindex(out.index, fill_value=0).astype(int)
    missing = issues[issues["issue"] == "missing_box"]
    out["missing_box"] = _missing_by_group(ds, by, bins, missing, frame).reindex(
        out.index, fill_value=0
    )
    out["box_issues"] = out["bad_localization"] + out["duplicate_box"]
    return out


def _missing_by_group(
    ds: DatasetCore, by: str, bins: int, missing: pd.DataFrame, frame: pd.DataFrame
) -> pd.Series:
    """Missing boxes per group: the image's group (a sample column), else the group that drew
    most of that image's boxes (images without boxes: no group can be blamed)."""
    if not len(missing):
        return pd.Series(dtype=int)
    if by in ds.samples.columns and by not in ds.objects.columns:
        image_group = _groups(ds.samples[by], by, bins)
    else:
        gt_sample = ds.gt_objects.loc[frame.index, "sample_id"]
        counts = pd.crosstab(gt_sample.to_numpy(), frame["group"].to_numpy())
        image_group = counts.idxmax(axis=1) if len(counts) else pd.Series(dtype=object)
    blamed = image_group.reindex(missing["sample_id"].to_numpy()).dropna()
    return blamed.value_counts().astype(int)


def _with_intervals(table: pd.DataFrame, by: str, confidence: float) -> pd.DataFrame:
    n = table["labels"].to_numpy(float)
    out = table.copy()
    out["flagged"] = out["flagged"].astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["flagged_share"] = out["flagged"] / n
        out["agreement"] = out["agreeing"] / n
    out["flagged_low"], out["flagged_high"] = wilson_interval(out["flagged"], n, confidence)
    out["agreement_low"], out["agreement_high"] = wilson_interval(out["agreeing"], n, confidence)
    first = [
        "labels", "flagged", "flagged_share", "flagged_low", "flagged_high", "agreement",
        "agreement_low", "agreement_high",
    ]  # fmt: skip
    out = out.drop(columns=["agreeing"])
    out = out[first + [c for c in out.columns if c not in first]]
    out.index.name = by
    return out.sort_values(["flagged_share", "labels"], ascending=[False, False], kind="stable")
