"""Comparing two classification or two detection runs, and the entry point for every kind."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from ..core.runs import ClassificationRun, DetectionRun, MultiLabelRun
from ..evaluation import evaluate_run
from ._comparison import RunComparison, _by_metric, _change, _metric_columns, _summary_frame
from ._multilabel import compare_multilabel

if TYPE_CHECKING:
    from ..core import DatasetCore


# ---------------------------------------------------------------------- entry point
def compare_runs(
    ds: DatasetCore,
    run_a: str,
    run_b: str,
    *,
    metrics: Iterable[str] | None = None,
    bins: int = 4,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.0,
    threshold: Any = 0.5,
) -> RunComparison:
    """Compare ``run_b`` against ``run_a`` (the baseline) on the same ground truth.

    Parameters
    ----------
    ds
        The dataset holding both runs.
    run_a, run_b
        Run names: the baseline and the new run. Both classification, both detection or both
        multi-label (a model before and after a round of labelling, say). Each run is
        evaluated on the samples both predict.
    metrics
        Columns to break the comparison down by (default: every numeric or boolean column of
        ``ds.samples`` — and for detection of ``ds.objects`` — except positions, scores and
        per-run prediction columns such as ``"confidence@run"``).
    bins
        Quantile bins per metric (columns with at most ``bins`` values are grouped by value).
    iou_threshold, score_threshold
        Detection only: when a ground-truth box counts as found.
    threshold
        Multi-label only: the decision threshold of each class (one number, one per class, or
        a dict class -> threshold), the same for both runs.

    Returns
    -------
    RunComparison

    Examples
    --------
    >>> cmp = ds.compare("v1", "v2")          # doctest: +SKIP
    >>> cmp.counts["broken"]                  # doctest: +SKIP
    """
    if run_a == run_b:
        raise ValueError(f"compare two different runs, got {run_a!r} twice")
    ra, rb = ds._get_run(run_a), ds._get_run(run_b)
    if ra.kind != rb.kind:
        raise TypeError(f"cannot compare run {run_a!r} ({ra.kind}) with run {run_b!r} ({rb.kind})")
    if int(bins) < 1:
        raise ValueError(f"bins must be at least 1, got {bins!r}")
    if isinstance(ra, ClassificationRun):
        return _compare_classification(ds, run_a, run_b, metrics, int(bins))
    if isinstance(ra, MultiLabelRun):
        return compare_multilabel(ds, run_a, run_b, metrics, int(bins), threshold)
    if not isinstance(ra, DetectionRun):
        raise TypeError(
            f"runs {run_a!r} and {run_b!r} are {ra.kind} runs; compare classification, "
            "detection or multi-label runs (for two semantic runs compare "
            "ds.evaluate(run).per_image side by side)"
        )
    return _compare_detection(ds, run_a, run_b, metrics, int(bins), iou_threshold, score_threshold)


# ---------------------------------------------------------------------- classification
def _compare_classification(
    ds: DatasetCore, run_a: str, run_b: str, metrics: Iterable[str] | None, bins: int
) -> RunComparison:
    ev_a, ev_b = evaluate_run(ds, run_a), evaluate_run(ds, run_b)
    pa, pb = ev_a.per_sample, ev_b.per_sample
    common = pa.index[pa.index.isin(pb.index)]
    if not len(common):
        raise ValueError(f"runs {run_a!r} and {run_b!r} have no evaluated sample in common")
    pa, pb = pa.loc[common], pb.loc[common]
    names = ds.class_names
    ok_a, ok_b = pa["correct"].to_numpy(bool), pb["correct"].to_numpy(bool)
    items = pd.DataFrame(
        {
            "label": pa["label"],
            "prediction_a": pa["prediction"],
            "prediction_b": pb["prediction"],
            "ok_a": ok_a,
            "ok_b": ok_b,
            "change": _change(ok_a, ok_b),
            "confidence_a": pa["confidence"],
            "confidence_b": pb["confidence"],
        },
        index=common,
    )
    probs_a, probs_b = ev_a.probabilities, ev_b.probabilities
    if "p_label" in pa and "p_label" in pb:
        items["p_label_a"], items["p_label_b"] = pa["p_label"], pb["p_label"]
    differs = pa["prediction"].cat.codes.to_numpy() != pb["prediction"].cat.codes.to_numpy()
    if probs_a is not None and probs_b is not None:
        a = probs_a.loc[common].to_numpy(dtype=float)
        b = probs_b.loc[common].to_numpy(dtype=float)
        items["disagreement"] = 0.5 * np.abs(a - b).sum(axis=1)
        tiebreak = differs.astype(float)
    else:
        items["disagreement"] = differs.astype(float)
        tiebreak = np.abs(
            items["confidence_a"].to_numpy(dtype=float)
            - items["confidence_b"].to_numpy(dtype=float)
        )
    items.index.name = "id"
    per_sample = items.assign(tiebreak=np.nan_to_num(tiebreak))

    y = pa["label"].cat.codes.to_numpy()
    ya, yb = pa["prediction"].cat.codes.to_numpy(), pb["prediction"].cat.codes.to_numpy()
    labels = np.arange(len(names))
    k = len(names)
    cm_a = np.zeros((k, k), dtype=np.int64)
    cm_b = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm_a, (y, ya), 1)
    np.add.at(cm_b, (y, yb), 1)
    confusion_delta = pd.DataFrame(
        cm_b - cm_a,
        index=pd.Index(names, name="true"),
        columns=pd.Index(names, name="predicted"),
    )

    def headline(pred: np.ndarray, probs: pd.DataFrame | None) -> dict[str, float]:
        out = {
            "accuracy": float(skm.accuracy_score(y, pred)),
            "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)),
            "macro_f1": float(
                skm.f1_score(y, pred, labels=labels, average="macro", zero_division=0)
            ),
        }
        if probs_a is not None and probs_b is not None and probs is not None:
            out["log_loss"] = float(
                skm.log_loss(y, probs.loc[common].to_numpy(dtype=float), labels=labels)
            )
        return out

    summary = _summary_frame(headline(ya, probs_a), headline(yb, probs_b))

    per_class: dict[str, Any] = {}
    stats = []
    for pred in (ya, yb):
        p, r, f, s = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
        stats.append((p, r, f, s))
    per_class["support"] = stats[0][3]
    for j, metric in enumerate(("precision", "recall", "f1")):
        per_class[f"{metric}_a"] = stats[0][j]
        per_class[f"{metric}_b"] = stats[1][j]
        per_class[f"{metric}_delta"] = stats[1][j] - stats[0][j]
    per_class["fixed"] = np.bincount(y[items["change"] == "fixed"], minlength=k)
    per_class["broken"] = np.bincount(y[items["change"] == "broken"], minlength=k)
    per_class_frame = pd.DataFrame(per_class, index=pd.Index(names, name="class"))

    table = ds.samples.loc[common]
    by_metric = _by_metric(
        table, _metric_columns(table, metrics, "ds.samples"), items, bins, "accuracy"
    )
    return RunComparison(
        run_a,
        run_b,
        "classification",
        items,
        per_sample,
        summary,
        per_class_frame,
        confusion_delta,
        by_metric,
    )


# ---------------------------------------------------------------------- detection
def _compare_detection(
    ds: DatasetCore,
    run_a: str,
    run_b: str,
    metrics: Iterable[str] | None,
    bins: int,
    iou_threshold: float,
    score_threshold: float,
) -> RunComparison:
    kw = {"iou_threshold": iou_threshold, "score_threshold": score_threshold, "progress": False}
    ev_a, ev_b = evaluate_run(ds, run_a, **kw), evaluate_run(ds, run_b, **kw)
    ga, gb = ev_a.ground_truth, ev_b.ground_truth
    keep = (ga["match"] != "ignored").to_numpy()
    ga, gb = ga[keep], gb.loc[ga.index]
    ok_a, ok_b = ga["matched"].to_numpy(bool), gb["matched"].to_numpy(bool)
    items = pd.DataFrame(
        {
            "sample_id": ga["sample_id"],
            "label": ga["label"],
            "ok_a": ok_a,
            "ok_b": ok_b,
            "change": _change(ok_a, ok_b),
            "iou_a": ga["iou"],
            "iou_b": gb["iou"],
            "matched_a": ga["matched_pred"],
            "matched_b": gb["matched_pred"],
        },
        index=ga.index,
    )
    items.index.name = "object_id"

    sample_ids = ds.samples.index

    def count(frame: pd.DataFrame, mask: Any) -> np.ndarray:
        ids = frame.loc[np.asarray(mask, dtype=bool), "sample_id"]
        return ids.value_counts().reindex(sample_ids, fill_value=0).to_numpy()

    n_gt = count(items, np.ones(len(items), bool))
    tp_a, tp_b = count(items, ok_a), count(items, ok_b)
    fp_a = count(ev_a.predictions, ev_a.predictions["match"] == "fp")
    fp_b = count(ev_b.predictions, ev_b.predictions["match"] == "fp")
    fn_a, fn_b = n_gt - tp_a, n_gt - tp_b
    err_a, err_b = fp_a + fn_a, fp_b + fn_b
    fixed = count(items, items["change"] == "fixed")
    broken = count(items, items["change"] == "broken")
    per_sample = pd.DataFrame(
        {
            "n_gt": n_gt,
            "tp_a": tp_a,
            "tp_b": tp_b,
            "fp_a": fp_a,
            "fp_b": fp_b,
            "fn_a": fn_a,
            "fn_b": fn_b,
            "errors_a": err_a,
            "errors_b": err_b,
            "errors_delta": err_b - err_a,
            "fixed": fixed,
            "broken": broken,
            "change": _change(err_a == 0, err_b == 0),
            "disagreement": (fixed + broken + np.abs(fp_b - fp_a)).astype(float),
            "tiebreak": np.abs(err_b - err_a).astype(float),
        },
        index=sample_ids,
    )

    sa, sb = ev_a.summary(), ev_b.summary()
    keys = ["AP", "AP50", "AP75", "precision", "recall", "f1"]
    summary = _summary_frame({k: sa[k] for k in keys}, {k: sb[k] for k in keys})

    ca, cb = ev_a.per_class, ev_b.per_class
    per_class: dict[str, Any] = {"n_gt": ca["n_gt"]}
    for metric in ("AP", "AP50", "precision", "recall", "f1", "fp"):
        per_class[f"{metric}_a"] = ca[metric]
        per_class[f"{metric}_b"] = cb[metric]
        per_class[f"{metric}_delta"] = cb[metric] - ca[metric]
    codes = items["label"].cat.codes.to_numpy()
    k = len(ds.class_names)
    per_class["fixed"] = np.bincount(codes[items["change"] == "fixed"], minlength=k)
    per_class["broken"] = np.bincount(codes[items["change"] == "broken"], minlength=k)
    per_class_frame = pd.DataFrame(per_class, index=ca.index)

    confusion_delta = ev_b.confusion_matrix() - ev_a.confusion_matrix()

    objects = ds.objects.loc[items.index]
    sample_cols = ds.samples.reindex(items["sample_id"].to_numpy())
    sample_cols.index = items.index
    table = objects.copy()
    for col in sample_cols.columns:
        if col not in table.columns:
            table[col] = sample_cols[col]
    by_metric = _by_metric(
        table, _metric_columns(table, metrics, "ds.objects / ds.samples"), items, bins, "recall"
    )
    return RunComparison(
        run_a,
        run_b,
        "detection",
        items,
        per_sample,
        summary,
        per_class_frame,
        confusion_delta,
        by_metric,
    )
