"""Performance broken down by one metric: quantile bins with Wilson intervals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._items import evaluated_items
from ._stats import assign_bins, is_discrete, quantile_edges, wilson_interval

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
        Level of the Wilson score intervals.

    Returns
    -------
    DataFrame
        One row per bin (``bin``, ``lower``, ``upper``; bins are ``[lower, upper)``, the last
        closed; a final ``missing`` row for items without a value). Classification:
        ``count``, ``correct``, ``accuracy``, ``accuracy_low``, ``accuracy_high``,
        ``error_rate``. Detection (predicted and ground-truth boxes binned by the same edges):
        ``predictions``, ``tp``, ``fp``, ``precision`` (+ ``_low`` / ``_high``), ``fp_rate``
        (+ interval), ``ground_truth``, ``found``, ``fn``, ``recall`` = TP rate (+ interval),
        ``fn_rate`` (+ interval).

    Examples
    --------
    >>> ds.compute_metrics()                                  # doctest: +SKIP
    >>> ds.performance_by("brightness", run="resnet", bins=5)  # doctest: +SKIP
    """
    if metric == "label":
        items = evaluated_items(ds, run, metrics=[])
        values = items.frame["label"].astype(object)
    else:
        items = evaluated_items(ds, run, metrics=[metric])
        values = items.frame[items.metrics[0]]
    err = items.error
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
        rows = [{"bin": _level_name(k), "lower": k, "upper": k} for k in level_values]
    else:
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
    groups = list(range(len(rows)))
    if (codes < 0).any():
        rows.append({"bin": "missing", "lower": np.nan, "upper": np.nan})
        groups.append(-1)
    if items.task == "classification":
        stats = [_classification_counts(err[codes == g]) for g in groups]
    else:
        kind = items.frame["kind"].to_numpy(dtype=object)
        stats = [_detection_counts(err[codes == g], kind[codes == g]) for g in groups]
    out = pd.DataFrame([{**r, **s} for r, s in zip(rows, stats, strict=True)])
    out = _add_rates(out, items.task, confidence)
    out.attrs.update({"metric": metric, "run": items.run, "task": items.task})
    return out


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
    _rate(out, "precision", "tp", "predictions", confidence)
    _rate(out, "fp_rate", "fp", "predictions", confidence)
    _rate(out, "recall", "found", "ground_truth", confidence)
    _rate(out, "fn_rate", "fn", "ground_truth", confidence)
    return out


def _level_name(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and not isinstance(value, bool):
        return f"{float(value):g}"
    return str(value)
