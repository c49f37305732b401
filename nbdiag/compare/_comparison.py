"""What a comparison of two runs holds: :class:`RunComparison`, and the helpers every kind of
run shares (change categories, headline table, per-metric-bin rates)."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

#: per-item change categories, in display order
CHANGES = ("fixed", "broken", "still_wrong", "both_right")
#: columns that describe where an item is or what it is, not a quality metric
_NOT_METRICS = {"x", "y", "score", "iscrowd", "label", "source", "sample_id"}


def _change(ok_a: np.ndarray, ok_b: np.ndarray) -> pd.Categorical:
    codes = np.where(ok_b, np.where(ok_a, 3, 0), np.where(ok_a, 1, 2))
    return pd.Categorical.from_codes(codes, categories=list(CHANGES))


class RunComparison:
    """Two runs of one dataset compared item by item (create with ``ds.compare(a, b)``).

    Items are the evaluated samples for classification and multi-label runs (labelled,
    predicted by both runs) and the non-crowd ground-truth boxes for detection (at one IoU and
    score threshold). An item is ``fixed`` (wrong in ``run_a``, right in ``run_b``), ``broken``
    (right, then wrong), ``still_wrong`` or ``both_right``; for detection "right" means the box
    is found, for multi-label that the predicted set of classes is exactly the true set.

    Attributes
    ----------
    run_a, run_b : str
    kind : {"classification", "detection", "multilabel"}
    items : DataFrame
        One row per item: ``ok_a``, ``ok_b``, ``change`` and the details (classification:
        ``label``, ``prediction_a/_b``, ``confidence_a/_b``, ``p_label_a/_b``,
        ``disagreement``; detection: ``sample_id``, ``label``, ``iou_a/_b``, ``matched_a/_b``;
        multi-label: ``labels``, ``predicted_a/_b``, ``jaccard_a/_b``, ``hamming_a/_b``,
        ``disagreement`` = mean absolute difference of the class probabilities).
    per_sample : DataFrame
        One row per sample. Classification and multi-label: the same as ``items``. Detection: ``n_gt``,
        ``tp_a/_b``, ``fp_a/_b``, ``fn_a/_b``, ``errors_a/_b`` (FP + FN), ``errors_delta``,
        ``fixed``, ``broken`` (boxes), ``change`` (of the sample: fixed = had errors, has none)
        and ``disagreement``.
    counts : Series
        Items per change category.
    summary : DataFrame
        Headline metrics (rows) for ``a``, ``b`` and ``delta`` (= b - a).
    per_class : DataFrame
        Per-class metrics of both runs and their deltas, plus fixed/broken counts
        (multi-label: ``average_precision``, ``precision``, ``recall``, ``f1``; fixed/broken
        count that class's decisions, one per sample).
    confusion_delta : DataFrame
        Confusion matrix of ``run_b`` minus that of ``run_a`` (counts; rows true class).
        Multi-label: per class, the change in ``tp``, ``fp``, ``fn``, ``tn``.
    by_metric : DataFrame
        Per-metric-bin rates of both runs (accuracy for classification, recall for detection,
        subset accuracy for multi-label)
        and their delta, with fixed/broken counts: ``metric``, ``bin``, ``lower``, ``upper``,
        ``count``, ``<rate>_a``, ``<rate>_b``, ``delta``, ``fixed``, ``broken``.
    """

    def __init__(
        self,
        run_a: str,
        run_b: str,
        kind: str,
        items: pd.DataFrame,
        per_sample: pd.DataFrame,
        summary: pd.DataFrame,
        per_class: pd.DataFrame,
        confusion_delta: pd.DataFrame,
        by_metric: pd.DataFrame,
    ):
        self.run_a, self.run_b, self.kind = run_a, run_b, kind
        self.items = items
        self.per_sample = per_sample
        self.summary = summary
        self.per_class = per_class
        self.confusion_delta = confusion_delta
        self.by_metric = by_metric

    @property
    def counts(self) -> pd.Series:
        """Items per change: ``fixed``, ``broken``, ``still_wrong``, ``both_right``."""
        counts = self.items["change"].value_counts().reindex(list(CHANGES), fill_value=0)
        counts.name = "items"
        return counts

    def ids(self, change: str) -> pd.Index:
        """Ids of the items with ``change`` (one of :data:`CHANGES`)."""
        if change not in CHANGES:
            raise ValueError(f"change must be one of {list(CHANGES)}, got {change!r}")
        return self.items.index[(self.items["change"] == change).to_numpy()]

    @property
    def fixed(self) -> pd.DataFrame:
        """Items wrong in ``run_a`` and right in ``run_b``."""
        return self.items.loc[self.ids("fixed")]

    @property
    def broken(self) -> pd.DataFrame:
        """Items right in ``run_a`` and wrong in ``run_b`` (regressions)."""
        return self.items.loc[self.ids("broken")]

    def most_disagreeing(self, n: int = 20) -> pd.DataFrame:
        """The ``n`` samples where the two runs disagree most (classification: total variation
        distance between the class probabilities, or differing predictions without them;
        detection: boxes fixed or broken plus the change in false positives)."""
        frame = self.per_sample
        order = np.lexsort(
            (-frame["tiebreak"].to_numpy(dtype=float), -frame["disagreement"].to_numpy(dtype=float))
        )
        top = frame.iloc[order[: int(n)]]
        return top[top["disagreement"] > 0].drop(columns="tiebreak")

    def __repr__(self) -> str:
        c = self.counts
        return (
            f"RunComparison({self.run_a!r} -> {self.run_b!r}: {c['fixed']} fixed, "
            f"{c['broken']} broken, {c['still_wrong']} still wrong, {c['both_right']} both right)"
        )

    def _repr_html_(self) -> str:
        esc = html.escape
        counts = "".join(f"<tr><th>{k}</th><td>{int(n)}</td></tr>" for k, n in self.counts.items())
        rows = "".join(
            f"<tr><th>{esc(str(m))}</th><td>{r['a']:.4f}</td><td>{r['b']:.4f}</td>"
            f"<td>{r['delta']:+.4f}</td></tr>"
            for m, r in self.summary.iterrows()
        )
        return (
            f"<b>RunComparison</b> <code>{esc(self.run_a)}</code> &rarr; "
            f"<code>{esc(self.run_b)}</code> ({self.kind})"
            f"<table>{counts}</table><table><tr><th></th><th>a</th><th>b</th><th>delta</th></tr>"
            f"{rows}</table>"
        )


# ---------------------------------------------------------------------- shared
def _summary_frame(a: dict[str, float], b: dict[str, float]) -> pd.DataFrame:
    frame = pd.DataFrame({"a": pd.Series(a, dtype=float), "b": pd.Series(b, dtype=float)})
    frame["delta"] = frame["b"] - frame["a"]
    frame.index.name = "metric"
    return frame


def _metric_columns(table: pd.DataFrame, metrics: Iterable[str] | None, where: str) -> list[str]:
    if metrics is not None:
        cols = [metrics] if isinstance(metrics, str) else list(metrics)
        missing = [c for c in cols if c not in table.columns]
        if missing:
            raise ValueError(f"unknown metric columns {missing} (not in {where})")
        return cols
    out = []
    for col in table.columns:
        if not isinstance(col, str) or col in _NOT_METRICS or "@" in col:
            continue
        dtype = table[col].dtype
        if pd.api.types.is_bool_dtype(dtype) or (
            pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
        ):
            out.append(col)
    return out


def _by_metric(
    table: pd.DataFrame, columns: list[str], items: pd.DataFrame, bins: int, rate: str
) -> pd.DataFrame:
    ok_a = items["ok_a"].to_numpy(bool)
    ok_b = items["ok_b"].to_numpy(bool)
    change = items["change"].to_numpy()
    rows: list[dict[str, Any]] = []
    for col in columns:
        values = table[col]
        if pd.api.types.is_bool_dtype(values.dtype) or values.dtype == object:
            groups = [(str(k), k, k, (values == k).to_numpy()) for k in pd.unique(values.dropna())]
        else:
            x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            finite = np.isfinite(x)
            if not finite.any():
                continue
            distinct = np.unique(x[finite])
            if len(distinct) <= bins:
                groups = [(f"{d:g}", d, d, x == d) for d in distinct]
            else:
                edges = np.unique(np.quantile(x[finite], np.linspace(0, 1, bins + 1)))
                idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
                groups = []
                for i in range(len(edges) - 1):
                    lo, hi = edges[i], edges[i + 1]
                    closing = "]" if i == len(edges) - 2 else ")"
                    groups.append((f"[{lo:.4g}, {hi:.4g}{closing}", lo, hi, finite & (idx == i)))
        if len(groups) < 2:
            continue
        for label, lo, hi, mask in groups:
            n = int(mask.sum())
            if not n:
                continue
            ra, rb = float(ok_a[mask].mean()), float(ok_b[mask].mean())
            rows.append(
                {
                    "metric": col,
                    "bin": label,
                    "lower": lo,
                    "upper": hi,
                    "count": n,
                    f"{rate}_a": ra,
                    f"{rate}_b": rb,
                    "delta": rb - ra,
                    "fixed": int((change[mask] == "fixed").sum()),
                    "broken": int((change[mask] == "broken").sum()),
                }
            )
    cols = [
        "metric",
        "bin",
        "lower",
        "upper",
        "count",
        f"{rate}_a",
        f"{rate}_b",
        "delta",
        "fixed",
        "broken",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    frame.attrs["rate"] = rate
    return frame
