"""Model evaluation: classification (scikit-learn-exact) and object detection (COCO-exact)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .classification import ClassificationEvaluation, evaluate_classification

if TYPE_CHECKING:
    from ..dataset import Dataset

__all__ = [
    "ClassificationEvaluation",
    "evaluate_classification",
    "evaluate_detection_run",
]


def evaluate_detection_run(ds: Dataset, run: str, **kwargs: Any) -> Any:
    """Evaluate the detection run ``run`` of ``ds`` against its ground-truth boxes."""
    from .detection import DetectionEvaluation

    return DetectionEvaluation.from_dataset(ds, run, **kwargs)
