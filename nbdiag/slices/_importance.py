"""Which metrics matter: mutual information and rank correlation of each metric with errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._items import evaluated_items

if TYPE_CHECKING:
    from ..core import DatasetCore

#: mutual information is estimated on at most this many items (a seeded random subset)
MI_MAX_ITEMS = 20_000


def metric_importance(
    ds: DatasetCore,
    run: Any = None,
    metrics: Iterable[str] | None = None,
    *,
    include_predictions: bool = False,
    random_state: int = 0,
) -> pd.DataFrame:
    """Rank metrics by how strongly they relate to the model's errors.

    For each metric column, over the run's evaluated items with a value:

    - ``mutual_information``: estimated mutual information (nats) between the metric and the
      error indicator, scikit-learn's ``mutual_info_classif`` (k-nearest-neighbour estimator
      of Kraskov et al. / Ross for continuous metrics, counts for booleans); 0 means no
      relation. It sees non-monotone relations (errors at both ends of a metric) too.
    - ``spearman``: Spearman rank correlation between the metric and the error indicator
      (> 0: more errors at higher values), and its ``p_value``.

    Classification items are the evaluated samples (error: wrong prediction). Detection items
    are scored twice, with ``target`` ``"fp"`` (predicted boxes; error: false positive) and
    ``"fn"`` (ground-truth boxes; error: missed). Multi-label items are the evaluated samples
    (error: the predicted set is not exactly the true set). Semantic segmentation items are
    the evaluated images with the error ``1 - mIoU`` (a number: ``mutual_info_regression``,
    and ``error_rate`` is the mean error).

    Parameters
    ----------
    run
        Run name (the only run when omitted) or an evaluation from ``ds.evaluate``.
    metrics
        Metric columns to rank (default: every computed metric and issue flag).
    include_predictions
        Also rank this run's prediction metrics (``confidence@run``, ...), which describe the
        model rather than the data.
    random_state
        Seed of the MI estimator's jitter and of the subsample above 20,000 items.

    Returns
    -------
    DataFrame
        Sorted by decreasing mutual information: ``metric``, (``target`` for detection),
        ``mutual_information``, ``spearman``, ``p_value``, ``n`` (items with a value),
        ``error_rate`` (among them), ``rank``.
    """
    from scipy.stats import spearmanr
    from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

    items = evaluated_items(ds, run, metrics, include_predictions=include_predictions)
    if not items.metrics:
        raise ValueError("no metric columns to rank; compute them first with ds.compute_metrics()")
    frame = items.frame
    targets = (
        [(None, np.ones(len(frame), dtype=bool))]
        if items.per_sample
        else [
            ("fp", (frame["kind"] == "prediction").to_numpy()),
            ("fn", (frame["kind"] == "ground_truth").to_numpy()),
        ]
    )
    rng = np.random.default_rng(random_state)
    rows = []
    for target, rows_mask in targets:
        err_all = items.error
        for col in items.metrics:
            x = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
            ok = rows_mask & np.isfinite(x)
            n = int(ok.sum())
            row: dict[str, Any] = {"metric": col, "target": target, "n": n}
            y = err_all[ok]
            xv = x[ok]
            row["error_rate"] = float(y.mean()) if n else np.nan
            if n < 3 or np.ptp(y.astype(float)) == 0 or np.ptp(xv) == 0:
                row.update(mutual_information=0.0, spearman=np.nan, p_value=np.nan)
                rows.append(row)
                continue
            if n > MI_MAX_ITEMS:
                pick = rng.choice(n, MI_MAX_ITEMS, replace=False)
                xm, ym = xv[pick], y[pick]
            else:
                xm, ym = xv, y
            discrete = bool(np.isin(np.unique(xm), [0.0, 1.0]).all())
            if items.task == "semantic":
                mi = mutual_info_regression(
                    xm.reshape(-1, 1), ym, discrete_features=[discrete], random_state=random_state
                )[0]
            else:
                mi = mutual_info_classif(
                    xm.reshape(-1, 1),
                    ym.astype(int),
                    discrete_features=[discrete],
                    random_state=random_state,
                )[0]
            rho, p = spearmanr(xv, y.astype(float))
            row.update(mutual_information=float(mi), spearman=float(rho), p_value=float(p))
            rows.append(row)
    out = pd.DataFrame(rows)
    order = ["metric", "target", "mutual_information", "spearman", "p_value", "n", "error_rate"]
    out = out[order]
    if items.per_sample:
        out = out.drop(columns="target")
    out["_abs"] = out["spearman"].abs().fillna(0)
    sort_by = ["mutual_information", "_abs"]
    if not items.per_sample:
        out = out.sort_values(["target", *sort_by], ascending=[True, False, False])
        out["rank"] = out.groupby("target").cumcount() + 1
    else:
        out = out.sort_values(sort_by, ascending=False)
        out["rank"] = np.arange(1, len(out) + 1)
    out = out.drop(columns="_abs").reset_index(drop=True)
    out.attrs.update({"run": items.run, "task": items.task})
    return out
