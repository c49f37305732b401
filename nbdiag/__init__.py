"""nbdiag: data-centric model diagnostics for computer vision, in the Jupyter notebook.

Compute quality metrics, evaluations and embeddings in the kernel; explore them in linked
widgets; get every selection back as a pandas DataFrame.

>>> import nbdiag
>>> ds = nbdiag.Dataset.from_arrays(images, labels, probs=probs)   # doctest: +SKIP
>>> cm = nbdiag.ConfusionMatrix(ds.evaluate("model"))              # doctest: +SKIP
>>> cm.selected                                                    # doctest: +SKIP
"""

from . import embeddings, issues, metrics, selection, slices, store
from ._version import __version__
from .compare import RunComparison, compare_runs
from .core import ClassificationRun, DetectionRun, ImageLoadError, MultiLabelRun, SemanticRun
from .dataset import Dataset
from .evaluation import (
    ClassificationEvaluation,
    DetectionEvaluation,
    evaluate_classification,
    evaluate_detections,
)
from .evaluation.multilabel import MultiLabelEvaluation, evaluate_multilabel
from .evaluation.semantic import SemanticEvaluation, evaluate_semantic
from .metrics import metric
from .store import StoreError
from .store import open_dataset as open
from .widgets import (
    ConfusionMatrix,
    Explorer,
    Histogram,
    ImageGrid,
    LinkedSelection,
    Scatter,
    SelectionWidget,
    explore,
    link,
)

__all__ = [
    "ClassificationEvaluation",
    "ClassificationRun",
    "ConfusionMatrix",
    "Dataset",
    "DetectionEvaluation",
    "DetectionRun",
    "Explorer",
    "Histogram",
    "ImageGrid",
    "LinkedSelection",
    "ImageLoadError",
    "MultiLabelEvaluation",
    "MultiLabelRun",
    "RunComparison",
    "Scatter",
    "SelectionWidget",
    "SemanticEvaluation",
    "SemanticRun",
    "StoreError",
    "__version__",
    "compare_runs",
    "evaluate_classification",
    "embeddings",
    "evaluate_detections",
    "evaluate_multilabel",
    "evaluate_semantic",
    "explore",
    "issues",
    "link",
    "metric",
    "metrics",
    "open",
    "selection",
    "slices",
    "store",
]
