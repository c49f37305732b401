"""Object-detection and instance-segmentation evaluation (``iou_type="bbox"`` or ``"segm"``):
pycocotools-exact COCO numbers, per-object results (TP/FP/FN,
IoU, matched ids), live IoU/score thresholds, AP by size, a detection confusion matrix and
TIDE-style error attribution with the AP each error type costs (``error_breakdown``).

Public API: :func:`evaluate_detections` (COCO files), :class:`DetectionEvaluation`
(``from_frames``, ``from_dataset``), :func:`evaluate_detection_run` (``ds.evaluate(run)``),
:func:`box_iou`.
"""

from ._coco import (
    AREA_LABELS,
    AREA_RANGES,
    COCO_STAT_NAMES,
    IOU_THRESHOLDS,
    MAX_DETS,
    RECALL_THRESHOLDS,
)
from ._errors import BACKGROUND_IOU, ERROR_TYPES, SPECIAL_ERRORS
from ._evaluation import (
    BACKGROUND,
    DetectionEvaluation,
    evaluate_detection_run,
    evaluate_detections,
)
from ._iou import box_iou

__all__ = [
    "AREA_LABELS",
    "AREA_RANGES",
    "BACKGROUND",
    "BACKGROUND_IOU",
    "ERROR_TYPES",
    "SPECIAL_ERRORS",
    "COCO_STAT_NAMES",
    "IOU_THRESHOLDS",
    "MAX_DETS",
    "RECALL_THRESHOLDS",
    "DetectionEvaluation",
    "box_iou",
    "evaluate_detection_run",
    "evaluate_detections",
]
