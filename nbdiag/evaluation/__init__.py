"""Model evaluation: classification (scikit-learn-exact) and object detection (COCO-exact)."""

from ._run import evaluate_run
from .classification import ClassificationEvaluation, evaluate_classification
from .detection import DetectionEvaluation, evaluate_detection_run, evaluate_detections

__all__ = [
    "ClassificationEvaluation",
    "DetectionEvaluation",
    "evaluate_classification",
    "evaluate_detection_run",
    "evaluate_detections",
    "evaluate_run",
]
