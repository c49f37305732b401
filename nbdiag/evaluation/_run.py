"""Evaluate a dataset's run, whatever its kind: what ``ds.evaluate(run)`` calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core import ClassificationRun, MultiLabelRun, SemanticRun
from .classification import ClassificationEvaluation
from .detection import DetectionEvaluation, evaluate_detection_run
from .multilabel import MultiLabelEvaluation
from .semantic import SemanticEvaluation, evaluate_semantic_run

if TYPE_CHECKING:
    from ..core import DatasetCore


def evaluate_run(
    ds: DatasetCore, run: str | None = None, **kwargs: Any
) -> ClassificationEvaluation | DetectionEvaluation | SemanticEvaluation | MultiLabelEvaluation:
    """Evaluate ``run`` of ``ds`` (its only run when omitted) against the ground truth.

    Classification runs give a :class:`~nbdiag.ClassificationEvaluation`; detection runs a
    :class:`~nbdiag.DetectionEvaluation` (keyword arguments such as ``iou_threshold`` and
    ``score_threshold`` are passed on). ``progress`` is accepted for every run, so one loop
    can evaluate runs of both kinds (classification is instant and shows none). Multi-label
    runs give a :class:`~nbdiag.MultiLabelEvaluation` at ``threshold=`` (default 0.5).
    """
    r = ds._get_run(run)
    if isinstance(r, ClassificationRun):
        kwargs.pop("progress", None)
        if kwargs:
            raise TypeError(
                f"run {r.name!r} is a classification run: {sorted(kwargs)} apply to "
                "detection runs only"
            )
        return ClassificationEvaluation.from_dataset(ds, r.name)
    if isinstance(r, MultiLabelRun):  # threshold= (one, per class, or a dict) is passed on
        kwargs.pop("progress", None)
        threshold = kwargs.pop("threshold", 0.5)
        if kwargs:
            raise TypeError(f"run {r.name!r} is a multi-label run: it takes threshold= only")
        return MultiLabelEvaluation.from_dataset(ds, r.name, threshold)
    if isinstance(r, SemanticRun):  # per-image mIoU goes to ds.samples["miou@<run>"]
        return evaluate_semantic_run(ds, r.name, **kwargs)
    return evaluate_detection_run(ds, r.name, **kwargs)
