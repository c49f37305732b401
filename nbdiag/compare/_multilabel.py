"""Comparing two multi-label runs: per sample (exact set or not), per (sample, class) decision,
per class, and by metric bin."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core.multilabel import LABELS
from ..evaluation import evaluate_run
from ..evaluation.multilabel import MultiLabelEvaluation
from ._comparison import RunComparison, _by_metric, _change, _metric_columns, _summary_frame

if TYPE_CHECKING:
    from ..core import DatasetCore

#: the headline numbers compared (keys of ``MultiLabelEvaluation.summary()``)
HEADLINE = ("mAP", "micro_f1", "macro_f1", "samples_f1", "hamming_loss", "subset_accuracy")
#: per-class numbers compared (columns of ``MultiLabelEvaluation.per_class``)
PER_CLASS = ("average_precision", "precision", "recall", "f1")


def compare_multilabel(
    ds: DatasetCore,
    run_a: str,
    run_b: str,
    metrics: Iterable[str] | None,
    bins: int,
    threshold: Any = 0.5,
) -> RunComparison:
    """Compare two multi-label runs on the labelled samples both predict (see
    :func:`nbdiag.compare.compare_runs`)."""
    full_a = evaluate_run(ds, run_a, threshold=threshold)
    full_b = evaluate_run(ds, run_b, threshold=threshold)
    common = full_a.per_sample.index[full_a.per_sample.index.isin(full_b.per_sample.index)]
    if not len(common):
        raise ValueError(f"runs {run_a!r} and {run_b!r} have no evaluated sample in common")
    names = list(full_a.class_names)
    truth = ds.samples.loc[common, LABELS]
    ev_a, ev_b = (
        MultiLabelEvaluation(truth, ev.scores, names, ev.thresholds.to_numpy(), ev.run, ds)
        for ev in (full_a, full_b)
    )
    pa, pb = ev_a.per_sample, ev_b.per_sample
    ok_a, ok_b = pa["exact"].to_numpy(bool), pb["exact"].to_numpy(bool)
    items = pd.DataFrame(
        {
            "labels": pa["labels"],
            "predicted_a": pa["predicted"],
            "predicted_b": pb["predicted"],
            "ok_a": ok_a,
            "ok_b": ok_b,
            "change": _change(ok_a, ok_b),
            "jaccard_a": pa["jaccard"],
            "jaccard_b": pb["jaccard"],
            "hamming_a": pa["hamming"],
            "hamming_b": pb["hamming"],
            # mean over the classes of the distance between the two Bernoulli predictions
            "disagreement": np.abs(ev_a.y_score - ev_b.y_score).mean(axis=1),
        },
        index=pd.Index(common, name="id"),
    )
    per_sample = items.assign(tiebreak=(ev_a.y_pred != ev_b.y_pred).sum(axis=1).astype(float))

    sa, sb = ev_a.summary(), ev_b.summary()
    summary = _summary_frame({k: sa[k] for k in HEADLINE}, {k: sb[k] for k in HEADLINE})

    ca, cb = ev_a.per_class, ev_b.per_class
    per_class: dict[str, Any] = {"support": ca["support"]}
    for metric in PER_CLASS:
        per_class[f"{metric}_a"] = ca[metric]
        per_class[f"{metric}_b"] = cb[metric]
        per_class[f"{metric}_delta"] = cb[metric] - ca[metric]
    right_a = ev_a.y_pred == ev_a.y_true  # per (sample, class) decision
    right_b = ev_b.y_pred == ev_b.y_true
    per_class["fixed"] = (~right_a & right_b).sum(axis=0)
    per_class["broken"] = (right_a & ~right_b).sum(axis=0)
    per_class_frame = pd.DataFrame(per_class, index=ca.index)

    outcomes = ["tp", "fp", "fn", "tn"]
    confusion_delta = (cb[outcomes] - ca[outcomes]).astype(np.int64)
    confusion_delta.columns = pd.Index(outcomes, name="outcome")

    table = ds.samples.loc[common]
    by_metric = _by_metric(
        table, _metric_columns(table, metrics, "ds.samples"), items, bins, "subset_accuracy"
    )
    return RunComparison(
        run_a,
        run_b,
        "multilabel",
        items,
        per_sample,
        summary,
        per_class_frame,
        confusion_delta,
        by_metric,
    )
