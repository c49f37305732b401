"""The core layer: the data model every other part of nbdiag builds on.

- :class:`DatasetCore` — samples and objects tables, runs, tags, image access
  (:mod:`nbdiag.core.dataset`); :func:`new_dataset` builds the user-facing class;
- :mod:`nbdiag.core.runs` — named prediction sets (classification probabilities, detection
  boxes);
- :mod:`nbdiag.core.images` — image decoding, thumbnails, decode errors;
- :mod:`nbdiag.core.validation` — the checks at the boundary, with messages naming the item.

Nothing here imports from a layer above (readers, analyses, store, widgets, report, the
``Dataset`` façade).
"""

from ._tables import GT, OBJECT_COLUMNS, SAMPLE_COLUMNS
from .dataset import DatasetCore, new_dataset
from .images import ImageLoadError
from .label_maps import IGNORE_INDEX, SemanticRun
from .multilabel import MultiLabelRun
from .runs import ClassificationRun, DetectionRun, Run

__all__ = [
    "GT",
    "IGNORE_INDEX",
    "OBJECT_COLUMNS",
    "SAMPLE_COLUMNS",
    "ClassificationRun",
    "DatasetCore",
    "DetectionRun",
    "ImageLoadError",
    "MultiLabelRun",
    "Run",
    "SemanticRun",
    "new_dataset",
]
