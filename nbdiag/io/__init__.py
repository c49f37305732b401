"""Readers: build a :class:`~nbdiag.Dataset` from tables, folders, COCO, YOLO, Pascal VOC,
Label Studio and CVAT files, Hugging Face datasets, arrays or torch.

Each reader validates at the boundary (errors name the offending id, row or argument) and
records problems with image files in ``samples.issues`` instead of raising.
"""

from .arrays import from_arrays
from .coco import coco_results_to_frame, from_coco
from .dataframe import from_dataframe
from .export import export
from .folder import IMAGE_EXTENSIONS, from_folder
from .formats import from_cvat, from_hf, from_labelstudio, from_voc, from_yolo
from .relabel import import_labels
from .torch import from_torch

__all__ = [
    "IMAGE_EXTENSIONS",
    "coco_results_to_frame",
    "export",
    "from_arrays",
    "from_coco",
    "from_cvat",
    "from_hf",
    "from_labelstudio",
    "from_voc",
    "from_yolo",
    "from_dataframe",
    "from_folder",
    "from_torch",
    "import_labels",
]
