"""nbdiag: data-centric model diagnostics for computer vision, in the Jupyter notebook.

Compute quality metrics, evaluations and embeddings in the kernel; explore them in linked
widgets; get every selection back as a pandas DataFrame.

>>> import nbdiag
>>> ds = nbdiag.Dataset.from_arrays(images, labels, probs=probs)   # doctest: +SKIP
>>> cm = nbdiag.ConfusionMatrix(ds.evaluate("model"))              # doctest: +SKIP
>>> cm.selected                                                    # doctest: +SKIP
"""

from ._version import __version__
from .dataset import Dataset
from .evaluation import (
    ClassificationEvaluation,
    DetectionEvaluation,
    evaluate_classification,
    evaluate_detections,
)
from .images import ImageLoadError
from .runs import ClassificationRun, DetectionRun
from .widgets import ConfusionMatrix, SelectionWidget

__all__ = [
    "ClassificationEvaluation",
    "ClassificationRun",
    "ConfusionMatrix",
    "Dataset",
    "DetectionEvaluation",
    "DetectionRun",
    "ImageLoadError",
    "SelectionWidget",
    "__version__",
    "evaluate_classification",
    "evaluate_detections",
]
