"""Comparing two runs of a dataset: what a new model fixed, what it broke, where it changed.

>>> cmp = ds.compare("resnet_v1", "resnet_v2")          # doctest: +SKIP
>>> cmp.counts                   # fixed / broken / still_wrong / both_right   # doctest: +SKIP
>>> cmp.items[cmp.items.change == "broken"]            # doctest: +SKIP
>>> cmp.confusion_delta          # counts of run_b minus run_a                # doctest: +SKIP
>>> cmp.most_disagreeing(20)                           # doctest: +SKIP
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from .core.runs import ClassificationRun, DetectionRun
from .evaluation import evaluate_run

if TYPE_CHECKING:
    from .core import DatasetCore

#: per-item change categories, in display order
CHANGES = ("fixed", "broken", "still_wrong", "both_right")
#: columns that describe where an item is or what it is, not a quality metric
_NOT_METRICS = {"x", "y", "score", "iscrowd", "label", "source", "sample_id"}


def _change(ok_a: np.ndarray, ok_b: np.ndarray) -> pd.Categorical:
    codes = np.where(ok_b, np.where(ok_a, 3, 0), np.where(ok_a, 1, 2))
    return pd.Categorical.from_codes(codes, categories=list(CHANGES))


class RunComparison:
    """Two runs of one dataset compared item by item (create with ``ds.compare(a, b)``).

    Items are the evaluated samples for classification (labelled, predicted by both runs) and
    the non-crowd ground-truth boxes for detection (at one IoU and score threshold). An item is
    ``fixed`` (wrong in ``run_a``, right in ``run_b``), ``broken`` (right, then wrong),
    ``still_wrong`` or ``both_right``; for detection "right" means the box is found.

    Attributes
    ----------
    run_a, run_b : str
    kind : {"classification", "detection"}
    items : DataFrame
        One row per item: ``ok_a``, ``ok_b``, ``change`` and the details (classification:
        ``label``, ``prediction_a/_b``, ``confidence_a/_b``, ``p_label_a/_b``,
        ``disagreement``; detection: ``sample_id``, ``label``, ``iou_a/_b``, ``matched_a/_b``).
    per_sample : DataFrame
        One row per sample. Classification: the same as ``items``. Detection: ``n_gt``,
        ``tp_a/_b``, ``fp_a/_b``, ``fn_a/_b``, ``errors_a/_b`` (FP + FN), ``errors_delta``,
        ``fixed``, ``broken`` (boxes), ``change`` (of the sample: fixed = had errors, has none)
        and ``disagreement``.
    counts : Series
        Items per change category.
    summary : DataFrame
        Headline metrics (rows) for ``a``, ``b`` and ``delta`` (= b - a).
    per_class : DataFrame
        Per-class metrics of both runs and their deltas, plus fixed/broken counts.
    confusion_delta : DataFrame
        Confusion matrix of ``run_b`` minus that of ``run_a`` (counts; rows true class).
    by_metric : DataFrame
        Per-metric-bin rates of both runs (accuracy for classification, recall for detection)
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
) -> RunComparison:
    """Compare ``run_b`` against ``run_a`` (the baseline) on the same ground truth.

    Parameters
    ----------
    ds
        The dataset holding both runs.
    run_a, run_b
        Run names: the baseline and the new run. Both classification or both detection.
    metrics
        Columns to break the comparison down by (default: every numeric or boolean column of
        ``ds.samples`` — and for detection of ``ds.objects`` — except positions, scores and
        per-run prediction columns such as ``"confidence@run"``).
    bins
        Quantile bins per metric (columns with at most ``bins`` values are grouped by value).
    iou_threshold, score_threshold
        Detection only: when a ground-truth box counts as found.

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
    assert isinstance(ra, DetectionRun)
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
