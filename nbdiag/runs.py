"""Runs: named sets of model predictions (one per model iteration) attached to a Dataset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

RunKind = Literal["classification", "detection"]


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


Run = ClassificationRun | DetectionRun


def confidence_from_probabilities(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class index (arg-max, first on ties) and its probability, per row."""
    pred = probs.argmax(axis=1)
    return pred, probs[np.arange(len(probs)), pred]
