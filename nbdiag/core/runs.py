"""Runs: named sets of model predictions (one per model iteration) attached to a Dataset."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import validation as v
from .label_maps import SemanticRun
from .multilabel import MultiLabelRun

RunKind = Literal["classification", "detection", "semantic", "multilabel"]


@dataclass
class ClassificationRun:
    """Per-sample predictions of a classifier.

    ``predictions`` is indexed by sample id with columns ``prediction`` (categorical class name)
    and ``confidence`` (probability of the predicted class, NaN when only labels were given).
    ``probabilities`` (same index, one column per class) is present when the model's class
    probabilities were given.
    """

    name: str
    predictions: pd.DataFrame
    probabilities: pd.DataFrame | None = None
    created: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz="UTC"))
    kind: RunKind = "classification"

    def __len__(self) -> int:
        return len(self.predictions)

    def __repr__(self) -> str:
        probs = "with probabilities" if self.probabilities is not None else "labels only"
        return f"ClassificationRun({self.name!r}, {len(self)} samples, {probs})"


@dataclass
class DetectionRun:
    """Predicted boxes of a detector. The boxes themselves live in ``Dataset.objects`` with
    ``source == name``; ``Dataset.run_boxes(name)`` returns them."""

    name: str
    n_boxes: int
    created: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz="UTC"))
    kind: RunKind = "detection"

    def __len__(self) -> int:
        return self.n_boxes

    def __repr__(self) -> str:
        return f"DetectionRun({self.name!r}, {self.n_boxes} boxes)"


Run = ClassificationRun | DetectionRun | SemanticRun | MultiLabelRun


def confidence_from_probabilities(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class index (arg-max, first on ties) and its probability, per row."""
    pred = probs.argmax(axis=1)
    return pred, probs[np.arange(len(probs)), pred]


def classification_run(
    name: str, predictions: Any, sample_ids: pd.Index, class_names: Sequence[str]
) -> ClassificationRun:
    """Validate a classifier's predictions for the samples ``sample_ids`` and wrap them as a run.

    ``predictions`` takes the forms :meth:`nbdiag.Dataset.add_run` documents for
    classification: probabilities (2-D), predicted classes (1-D, names or indices), or a
    DataFrame indexed by sample id with one probability column per class or a ``prediction``
    column (and optionally ``confidence``).
    """
    ids = sample_ids
    class_names = list(class_names)
    probs: pd.DataFrame | None = None
    if isinstance(predictions, pd.DataFrame):
        frame = predictions
        v.check_unique_ids(frame.index, "sample (in predictions)")
        v.check_known_ids(frame.index, ids, "sample (in predictions)")
        class_cols = [c for c in frame.columns if str(c) in class_names]
        if "prediction" in frame.columns:
            labels = v.labels_to_names(frame["prediction"], class_names, f"run {name!r}")
            confidence = frame.get("confidence", pd.Series(np.nan, index=frame.index))
            if len(class_cols) == len(class_names):
                probs = frame[class_cols].rename(columns=str)[class_names]
        elif len(class_cols) == len(class_names):
            probs = frame[class_cols].rename(columns=str)[class_names]
            labels = confidence = None
        else:
            raise ValueError(
                f"run {name!r}: a predictions DataFrame needs a 'prediction' column or one "
                f"probability column per class {class_names[:10]}; got columns "
                f"{list(frame.columns)[:10]}"
            )
        index = frame.index
    else:
        arr = np.asarray(predictions)
        if arr.ndim == 0:
            raise TypeError(
                f"run {name!r}: predictions must be an array, a list, a DataFrame or COCO "
                f"results; got {type(predictions).__name__}"
            )
        v.check_same_length(f"predictions of run {name!r}", arr, "samples", ids)
        index = ids
        if arr.ndim == 2:
            if arr.shape[1] != len(class_names):
                raise ValueError(
                    f"run {name!r}: probabilities have {arr.shape[1]} columns but the dataset "
                    f"has {len(class_names)} classes"
                )
            probs = pd.DataFrame(arr, index=ids, columns=class_names)
            labels = confidence = None
        elif arr.ndim == 1:
            labels = v.labels_to_names(pd.Series(arr, index=ids), class_names, f"run {name!r}")
            confidence = pd.Series(np.nan, index=ids)
        else:
            raise ValueError(f"run {name!r}: predictions must be 1-D or 2-D, got shape {arr.shape}")
    if probs is not None:
        p = v.check_probabilities(probs.to_numpy(), pd.Index(index))
        probs = pd.DataFrame(p, index=index, columns=class_names)
        pred_idx, conf = confidence_from_probabilities(p)
        if labels is None:
            labels = pd.Series(np.asarray(class_names, dtype=object)[pred_idx], index=index)
        confidence = pd.Series(conf, index=index)
    assert labels is not None and confidence is not None
    v.check_labels(labels, class_names, f"run {name!r}")
    missing = labels[labels.isna()]
    if len(missing):
        raise ValueError(f"run {name!r}: no prediction for samples {v.listed(missing.index)}")
    confidence = pd.to_numeric(confidence, errors="raise").astype(float)
    if probs is None and confidence.notna().any():
        v.check_scores(confidence.dropna(), "prediction")
    pred = pd.DataFrame(
        {
            "prediction": pd.Categorical(labels, categories=class_names),
            "confidence": confidence.to_numpy(),
        },
        index=pd.Index(index, name="id"),
    )
    if probs is not None:
        probs.index.name = "id"
    return ClassificationRun(name, pred, probs)
