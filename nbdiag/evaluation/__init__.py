"""Model evaluation: classification (scikit-learn-exact) and object detection (COCO-exact)."""

from ._run import evaluate_run
from .classification import ClassificationEvaluation, evaluate_classification
from .detection import DetectionEvaluation, evaluate_detection_run, evaluate_detections
from .multilabel import MultiLabelEvaluation, evaluate_multilabel
from .semantic import SemanticEvaluation, evaluate_semantic, evaluate_semantic_run

__all__ = [
    "ClassificationEvaluation",
    "DetectionEvaluation",
    "MultiLabelEvaluation",
    "SemanticEvaluation",
    "evaluate_classification",
    "evaluate_detection_run",
    "evaluate_detections",
    "evaluate_multilabel",
    "evaluate_run",
    "evaluate_semantic",
    "evaluate_semantic_run",
]
