"""The evaluated items of a run as one table: outcome columns plus every metric column.

Classification: one row per evaluated sample; ``error`` is True where the prediction is wrong.
Multi-label classification: one row per evaluated sample; ``error`` is True where the predicted
set of classes is not exactly the true set, with the sample's ``labels``, ``predicted``,
``jaccard`` and ``hamming`` (and ``_tp`` / ``_fp`` / ``_fn``: its class decisions) alongside.
Semantic segmentation: one row per evaluated image; ``error`` is ``1 - miou`` of the image (a
number in [0, 1], not a flag), with its ``miou`` and ``pixel_accuracy``.
Detection: one row per predicted box (``kind == "prediction"``, ``error`` = false positive) and
one per ground-truth box (``kind == "ground_truth"``, ``error`` = missed); ignored rows (crowd
regions, beyond maxDets) are left out. Sample-level metric columns are copied onto boxes
through ``sample_id``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..evaluation import evaluate_run
from ..metrics._flags import FLAGS
from ..metrics._registry import registered

if TYPE_CHECKING:
    from ..core import DatasetCore

#: columns of the tables that are data, not metrics
_NOT_METRICS = {
    "path",
    "label",
    "split",
    "issues",
    "sample_id",
    "source",
    "score",
    "iscrowd",
    "x",
    "y",
    "w",
    "h",
    "duplicate_group",
    "area",
}


@dataclass
class Items:
    """Evaluated items of one run with their metric values."""

    task: str  # "classification" | "detection" | "multilabel" | "semantic"
    run: str | None
    frame: pd.DataFrame  # outcome columns + metric columns
    metrics: list[str]  # metric columns usable for slicing, in table order

    @property
    def error(self) -> np.ndarray:
        """Per-item error: a flag, or for semantic runs ``1 - miou`` (a float)."""
        if self.task == "semantic":
            return self.frame["error"].to_numpy(dtype=float)
        return self.frame["error"].to_numpy(dtype=bool)

    @property
    def per_sample(self) -> bool:
        """Whether the items are samples (not boxes)."""
        return self.task != "detection"


def _evaluation(ds: DatasetCore, run: Any) -> tuple[Any, str | None]:
    """An evaluation object from a run name (or the evaluation itself)."""
    if isinstance(run, str) or run is None:
        r = ds._get_run(run)
        kwargs = {} if r.kind in ("classification", "multilabel") else {"progress": False}
        return evaluate_run(ds, r.name, **kwargs), r.name
    if any(hasattr(run, a) for a in ("per_sample", "ground_truth", "per_image")):
        return run, getattr(run, "run", None)
    raise TypeError(f"run must be a run name or an evaluation, got {type(run).__name__}")


def _numeric_metric_columns(table: pd.DataFrame, names: set[str], run: str | None) -> list[str]:
    out = []
    for c in table.columns:
        if not isinstance(c, str) or c in _NOT_METRICS:
            continue
        base, at, of_run = c.partition("@")
        known = c in names or c in FLAGS or (at and base in names)
        if not known:
            continue
        if at and of_run != run:
            continue
        col = table[c]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            out.append(c)
    return out


def metric_columns(
    ds: DatasetCore,
    run: str | None,
    task: str,
    include_predictions: bool = False,
) -> tuple[list[str], list[str]]:
    """(sample-level, object-level) metric columns available for a run."""
    names = {m.name for m in registered()}
    sample_cols = _numeric_metric_columns(ds.samples, names, run)
    object_cols = _numeric_metric_columns(ds.objects, names, run) if task == "detection" else []
    if not include_predictions:
        sample_cols = [c for c in sample_cols if "@" not in c]
        object_cols = [c for c in object_cols if "@" not in c]
    return sample_cols, object_cols


def evaluated_items(
    ds: DatasetCore,
    run: Any = None,
    metrics: Iterable[str] | None = None,
    *,
    include_predictions: bool = False,
) -> Items:
    """The run's evaluated items with metric columns (see the module docstring)."""
    ev, run_name = _evaluation(ds, run)
    task = _task(ev)
    sample_cols, object_cols = metric_columns(ds, run_name, task, include_predictions)
    if metrics is not None:
        wanted = [metrics] if isinstance(metrics, str) else list(metrics)
        sample_cols, object_cols = _pick(ds, wanted, run_name, task)
    if task == "classification":
        per = ev.per_sample
        frame = pd.DataFrame(
            {
                "label": per["label"],
                "prediction": per["prediction"],
                "error": ~per["correct"].to_numpy(dtype=bool),
            },
            index=per.index,
        )
        cols = [c for c in sample_cols if c not in frame.columns]
        frame = frame.join(ds.samples[cols], how="left")
        return Items(task, run_name, frame, cols)
    if task in ("multilabel", "semantic"):
        frame = _multilabel_frame(ev) if task == "multilabel" else _semantic_frame(ev)
        cols = [c for c in sample_cols if c not in frame.columns]
        frame = frame.join(ds.samples[cols], how="left")
        return Items(task, run_name, frame, cols)
    parts = []
    for kind, table, bad in (
        ("prediction", ev.predictions, "fp"),
        ("ground_truth", ev.ground_truth, "fn"),
    ):
        match = table["match"].astype(object)
        keep = match != "ignored"
        t = table.loc[keep]
        part = pd.DataFrame(
            {
                "kind": kind,
                "sample_id": t["sample_id"].to_numpy(dtype=object),
                "label": t["label"].astype(object).to_numpy(),
                "error": (match[keep] == bad).to_numpy(dtype=bool),
            },
            index=t.index,
        )
        parts.append(part)
    frame = pd.concat(parts)
    frame.index.name = "object_id"
    obj = [c for c in object_cols if c not in frame.columns]
    if obj:
        frame = frame.join(ds.objects[obj], how="left")
    smp = [c for c in sample_cols if c not in frame.columns and c not in obj]
    if smp:
        values = ds.samples[smp].reindex(frame["sample_id"].to_numpy())
        values.index = frame.index
        frame = pd.concat([frame, values], axis=1)
    return Items(task, run_name, frame, obj + smp)


def _task(ev: Any) -> str:
    if hasattr(ev, "per_image"):
        return "semantic"
    if hasattr(ev, "per_sample"):
        return "multilabel" if hasattr(ev, "hamming_loss") else "classification"
    return "detection"


def _multilabel_frame(ev: Any) -> pd.DataFrame:
    """One row per evaluated sample of a multi-label evaluation (see the module docstring)."""
    per = ev.per_sample
    t, p = ev.y_true.astype(bool), ev.y_pred.astype(bool)
    return pd.DataFrame(
        {
            "labels": per["labels"],
            "predicted": per["predicted"],
            "error": ~per["exact"].to_numpy(dtype=bool),
            "jaccard": per["jaccard"].to_numpy(dtype=float),
            "hamming": per["hamming"].to_numpy(dtype=float),
            "_tp": (t & p).sum(axis=1),
            "_fp": (~t & p).sum(axis=1),
            "_fn": (t & ~p).sum(axis=1),
        },
        index=per.index,
    )


def _semantic_frame(ev: Any) -> pd.DataFrame:
    """One row per evaluated image of a semantic evaluation; ``error`` is ``1 - miou``."""
    per = ev.per_image
    miou = per["miou"].to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "error": 1.0 - miou,
            "miou": miou,
            "pixel_accuracy": per["pixel_accuracy"].to_numpy(dtype=float),
        },
        index=per.index,
    )
    return frame[np.isfinite(miou)]  # an image with no class in either map scores nothing


def _pick(
    ds: DatasetCore, wanted: list[str], run: str | None, task: str
) -> tuple[list[str], list[str]]:
    """Sample- and object-level columns for user-named metrics (``name`` or ``name@run``)."""
    sample_cols: list[str] = []
    object_cols: list[str] = []
    for name in wanted:
        candidates = [name] if "@" in name else [name, f"{name}@{run}"]
        found = False
        for c in candidates:
            if task == "detection" and c in ds.objects.columns:
                object_cols.append(c)
                found = True
                break
            if c in ds.samples.columns:
                sample_cols.append(c)
                found = True
                break
        if not found:
            where = "ds.samples" + (" or ds.objects" if task == "detection" else "")
            raise KeyError(
                f"no column {name!r} in {where}; compute it first with "
                f"ds.compute_metrics() (metric columns: "
                f"{metric_columns(ds, run, task, True)[0][:20]})"
            )
    return sample_cols, object_cols
