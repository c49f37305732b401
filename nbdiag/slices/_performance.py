"""Performance broken down by one metric: quantile bins with Wilson intervals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._items import evaluated_items
from ._stats import assign_bins, is_discrete, mean_interval, quantile_edges, wilson_interval

if TYPE_CHECKING:
    from ..core import DatasetCore


def performance_by(
    ds: DatasetCore,
    metric: str,
    run: Any = None,
    bins: int | Sequence[float] = 10,
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Model performance in bins of one metric.

    Parameters
    ----------
    ds
        The dataset, with the metric computed (``ds.compute_metrics()``).
    metric
        A column of ``ds.samples`` (or, for detection, of ``ds.objects``): an image metric
        such as ``"brightness"``, an issue flag such as ``"dark"``, an object metric such as
        ``"box_area"``, a prediction metric (``"confidence"`` means ``"confidence@{run}"``), or
        ``"label"``.
    run
        Run name (the only run when omitted) or an evaluation object from ``ds.evaluate``.
    bins
        Number of quantile bins (equal counts; tied edges merged), or explicit edges. Booleans,
        categories and integer metrics with at most 12 values are grouped by value instead.
    confidence
        Level of the Wilson score intervals (semantic: of the normal interval of the mean).

    Returns
    -------
    DataFrame
        One row per bin (``bin``, ``lower``, ``upper``; bins are ``[lower, upper)``, the last
        closed; a final ``missing`` row for items without a value). Classification:
        ``count``, ``correct``, ``accuracy``, ``accuracy_low``, ``accuracy_high``,
        ``error_rate``. Detection (predicted and ground-truth boxes binned by the same edges):
        ``predictions``, ``tp``, ``fp``, ``precision`` (+ ``_low`` / ``_high``), ``fp_rate``
        (+ interval), ``ground_truth``, ``found``, ``fn``, ``recall`` = TP rate (+ interval),
        ``fn_rate`` (+ interval). Multi-label (one item per sample): ``count``, ``exact``
        (samples whose predicted set is exactly right), ``jaccard`` and ``hamming`` (means of
        the per-sample values), ``tp``, ``fp``, ``fn`` (class decisions), ``subset_accuracy``
        (+ interval), ``error_rate``, ``micro_f1`` (from the bin's pooled ``tp``/``fp``/``fn``).
        Semantic segmentation (one item per image): ``count``, ``miou`` (mean of the images'
        mIoU, + ``_low`` / ``_high``), ``pixel_accuracy`` (mean).

    Examples
    --------
    >>> ds.compute_metrics()                                  # doctest: +SKIP
    >>> ds.performance_by("brightness", run="resnet", bins=5)  # doctest: +SKIP
    """
    if metric in ("label", "labels"):
        items = evaluated_items(ds, run, metrics=[])
        if items.task == "semantic":
            raise ValueError("a semantic run has no class per image to group by")
        values = items.frame["labels" if items.task == "multilabel" else "label"]
        values = values.astype(object)
    else:
        items = evaluated_items(ds, run, metrics=[metric])
        values = items.frame[items.metrics[0]]
    if items.task == "multilabel" and metric in ("label", "labels"):
        rows, masks = _class_groups(values, ds.class_names)
    else:
        rows, codes = _bins(values, bins)
        masks = [codes == g for g in range(len(rows))]
        if (codes < 0).any():
            rows.append({"bin": "missing", "lower": np.nan, "upper": np.nan})
            masks.append(codes < 0)
    stats = [_counts(items, m) for m in masks]
    out = pd.DataFrame([{**r, **s} for r, s in zip(rows, stats, strict=True)])
    out = _add_rates(out, items.task, confidence)
    out.attrs.update({"metric": metric, "run": items.run, "task": items.task})
    return out


def _bins(
    values: pd.Series, bins: int | Sequence[float]
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Rows (``bin``, ``lower``, ``upper``) and the bin code of each item (-1: no value)."""
    if is_discrete(values):
        keys = values.astype(object).where(values.notna(), None)
        labels = pd.Series(keys.to_numpy(dtype=object), index=values.index)
        level_values = [k for k in pd.unique(labels.dropna())]
        try:
            level_values = sorted(level_values)
        except TypeError:
            pass
        codes = np.full(len(labels), -1)
        for i, k in enumerate(level_values):
            codes[(labels == k).to_numpy()] = i
        return [{"bin": _level_name(k), "lower": k, "upper": k} for k in level_values], codes
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    edges = quantile_edges(x, bins)
    codes = assign_bins(x, edges)
    n_bins = len(edges) - 1
    rows = []
    for i in range(n_bins):
        close = "]" if i == n_bins - 1 else ")"
        rows.append(
            {
                "bin": f"[{edges[i]:.4g}, {edges[i + 1]:.4g}{close}",
                "lower": float(edges[i]),
                "upper": float(edges[i + 1]),
            }
        )
    return rows, codes


def _class_groups(
    labels: pd.Series, class_names: list[str]
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """Multi-label: one (overlapping) group per class, the samples labelled with it."""
    cells = labels.to_numpy(dtype=object)
    rows, masks = [], []
    for c in class_names:
        rows.append({"bin": c, "lower": c, "upper": c})
        masks.append(np.fromiter((c in cell for cell in cells), dtype=bool, count=len(cells)))
    return rows, masks


def _counts(items: Any, mask: np.ndarray) -> dict[str, float]:
    frame = items.frame
    if items.task == "classification":
        return _classification_counts(items.error[mask])
    if items.task == "detection":
        return _detection_counts(items.error[mask], frame["kind"].to_numpy(dtype=object)[mask])
    part = frame[mask]
    if items.task == "semantic":
        miou = part["miou"].to_numpy(dtype=float)
        return {
            "count": len(part),
            "_sum": float(miou.sum()),
            "_sum_sq": float((miou * miou).sum()),
            "pixel_accuracy": float(part["pixel_accuracy"].mean()) if len(part) else np.nan,
        }
    tp, fp, fn = (int(part[c].sum()) for c in ("_tp", "_fp", "_fn"))
    return {
        "count": len(part),
        "exact": int((~part["error"].to_numpy(dtype=bool)).sum()),
        "jaccard": float(part["jaccard"].mean()) if len(part) else np.nan,
        "hamming": float(part["hamming"].mean()) if len(part) else np.nan,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def _classification_counts(err: np.ndarray) -> dict[str, int]:
    return {"count": len(err), "correct": int((~err).sum())}


def _detection_counts(err: np.ndarray, kind: np.ndarray) -> dict[str, int]:
    pred, gt = kind == "prediction", kind == "ground_truth"
    return {
        "predictions": int(pred.sum()),
        "tp": int((pred & ~err).sum()),
        "fp": int((pred & err).sum()),
        "ground_truth": int(gt.sum()),
        "found": int((gt & ~err).sum()),
        "fn": int((gt & err).sum()),
    }


def _rate(out: pd.DataFrame, name: str, k: str, n: str, confidence: float) -> None:
    kk, nn = out[k].to_numpy(float), out[n].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[name] = np.where(nn > 0, kk / nn, np.nan)
    lo, hi = wilson_interval(kk, nn, confidence)
    out[f"{name}_low"], out[f"{name}_high"] = lo, hi


def _add_rates(out: pd.DataFrame, task: str, confidence: float) -> pd.DataFrame:
    if task == "classification":
        _rate(out, "accuracy", "correct", "count", confidence)
        out["error_rate"] = 1.0 - out["accuracy"]
        return out
    if task == "multilabel":
        _rate(out, "subset_accuracy", "exact", "count", confidence)
        out["error_rate"] = 1.0 - out["subset_accuracy"]
        tp, fp, fn = (out[c].to_numpy(float) for c in ("tp", "fp", "fn"))
        den = 2 * tp + fp + fn
        with np.errstate(divide="ignore", invalid="ignore"):
            out["micro_f1"] = np.where(den > 0, 2 * tp / den, 0.0)  # scikit-learn's zero_division=0
        return out
    if task == "semantic":
        n = out["count"].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["miou"] = np.where(n > 0, out["_sum"].to_numpy(float) / n, np.nan)
        out["miou_low"], out["miou_high"] = mean_interval(
            out["_sum"], out["_sum_sq"], n, confidence
        )
        pixel = out.pop("pixel_accuracy")
        out = out.drop(columns=["_sum", "_sum_sq"])
        out["pixel_accuracy"] = pixel
        return out
    _rate(out, "precision", "tp", "predictions", confidence)
    _rate(out, "fp_rate", "fp", "predictions", confidence)
    _rate(out, "recall", "found", "ground_truth", confidence)
    _rate(out, "fn_rate", "fn", "ground_truth", confidence)
    return out


def _level_name(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and not isinstance(value, bool):
        return f"{float(value):g}"
    return str(value)
