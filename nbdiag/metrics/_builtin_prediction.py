"""Built-in prediction metrics, read from each run's evaluation, and how they are applied.

A prediction metric is called with a run's per-item evaluation table and returns one value per
row; the values go to the column ``"{name}@{run}"``:

- classification runs: the table is ``ds.evaluate(run).per_sample`` (``label``,
  ``prediction``, ``correct``, ``confidence`` and, with probabilities, ``margin``,
  ``entropy``, ``loss``, ``p_label``); the column is added to ``ds.samples``;
- detection runs: it is called twice, with ``ev.predictions`` (``match`` is ``tp`` / ``fp`` /
  ``ignored``) and with ``ev.ground_truth`` (``match`` is ``tp`` / ``fn`` / ``ignored``), and
  the column is added to ``ds.objects`` (the run's boxes and the ground-truth boxes).

A built-in returns ``None`` where it does not apply (e.g. ``margin`` of a run without
probabilities), and then no column is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..evaluation import evaluate_run
from ._registry import Metric, align_output, builtin

if TYPE_CHECKING:
    from ..core import DatasetCore


def _column(frame: pd.DataFrame, name: str) -> pd.Series | None:
    if name not in frame.columns:
        return None
    col = pd.to_numeric(frame[name], errors="coerce").astype(float)
    return None if col.isna().all() else col


def _is_detection(frame: pd.DataFrame) -> bool:
    return "match" in frame.columns


@builtin("prediction", "confidence")
def _confidence(frame: pd.DataFrame) -> pd.Series | None:
    """Classification: probability of the predicted class. Detection: the box's score
    (predicted boxes; NaN for ground truth)."""
    if _is_detection(frame):
        return _column(frame, "score") if "score" in frame.columns else None
    return _column(frame, "confidence")


@builtin("prediction", "margin")
def _margin(frame: pd.DataFrame) -> pd.Series | None:
    """Classification: top-1 minus top-2 class probability (small = the model hesitates
    between two classes)."""
    return None if _is_detection(frame) else _column(frame, "margin")


@builtin("prediction", "prediction_entropy")
def _prediction_entropy(frame: pd.DataFrame) -> pd.Series | None:
    """Classification: Shannon entropy of the predicted class distribution,
    ``-sum(p log p)`` in nats."""
    return None if _is_detection(frame) else _column(frame, "entropy")


@builtin("prediction", "loss")
def _loss(frame: pd.DataFrame) -> pd.Series | None:
    """Classification: cross-entropy of the true label, ``-log p(label)`` in nats."""
    return None if _is_detection(frame) else _column(frame, "loss")


@builtin("prediction", "correct")
def _correct(frame: pd.DataFrame) -> pd.Series | None:
    """1 when right, 0 when wrong. Classification: prediction equals the label. Detection:
    a predicted box is 1 when a true positive, 0 when a false positive; a ground-truth box is 1
    when found, 0 when missed; ignored (crowd / beyond maxDets) rows are NaN."""
    if _is_detection(frame):
        m = frame["match"].astype(object)
        return pd.Series(
            np.where(m == "tp", 1.0, np.where(m.isin(["fp", "fn"]), 0.0, np.nan)),
            index=frame.index,
        )
    if "correct" not in frame.columns:
        return None
    return frame["correct"].astype(float)


@builtin("prediction", "iou")
def _iou(frame: pd.DataFrame) -> pd.Series | None:
    """Detection: IoU of the box with its match (for an unmatched box, its best IoU with a
    same-class box of the other side, 0 if none)."""
    return _column(frame, "iou") if _is_detection(frame) else None


def _frames(ds: DatasetCore, run: str) -> list[tuple[str, pd.DataFrame]]:
    """(table, evaluation frame) pairs of a run."""
    from ..core.runs import ClassificationRun

    r = ds.runs[run]
    if isinstance(r, ClassificationRun):
        if ds.samples["label"].reindex(r.predictions.index).notna().sum() == 0:
            return [("samples", r.predictions.assign(correct=np.nan))]
        return [("samples", evaluate_run(ds, run).per_sample)]
    ev = evaluate_run(ds, run, progress=False)
    return [("objects", ev.predictions), ("objects", ev.ground_truth)]


def prediction_metrics(ds: DatasetCore, metrics: list[Metric]) -> list[dict[str, Any]]:
    """Apply prediction metrics to every run; return error records."""

    errors: list[dict[str, Any]] = []
    for run in list(ds.runs):
        try:
            frames = _frames(ds, run)
        except Exception as exc:
            errors.append(
                {
                    "id": None,
                    "scope": "prediction",
                    "metric": None,
                    "error": "evaluation_failed",
                    "detail": f"run {run!r}: {type(exc).__name__}: {exc}",
                }
            )
            continue
        for m in metrics:
            parts: list[tuple[str, pd.Series]] = []
            try:
                for table, frame in frames:
                    raw = m.func(frame)
                    if raw is not None:
                        parts.append((table, align_output(raw, frame.index, m)))
            except Exception as exc:
                errors.append(
                    {
                        "id": None,
                        "scope": "prediction",
                        "metric": m.name,
                        "error": "metric_failed",
                        "detail": f"run {run!r}: {type(exc).__name__}: {exc}",
                    }
                )
                continue
            if not parts:
                continue
            col = f"{m.name}@{run}"
            table = ds.samples if parts[0][0] == "samples" else ds.objects
            values = pd.concat([p for _, p in parts])
            values = values[~values.index.duplicated(keep="first")]
            table[col] = values.reindex(table.index)
    return errors
