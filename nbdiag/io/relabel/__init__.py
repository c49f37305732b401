"""Re-import corrected labels: a COCO JSON, CSV or Parquet file (typically an edited
:func:`~nbdiag.io.export.export`) replaces the labels of the samples it covers; the previous
labels go to the label history, and a change report says what changed.

Semantics: every sample in the file gets exactly the labels the file gives it —

- classification (a CSV/Parquet with ``id`` and ``label``): the sample's label;
- detection (COCO, or CSV/Parquet with boxes): the sample's ground-truth boxes. An image in a
  COCO file with no annotation, or a CSV row with a sample id and no box, means "no boxes".

Boxes keep their object id (and so their tags) when they come back with it (``nbdiag_id`` in
COCO, ``object_id`` in CSV/Parquet, or a COCO annotation id equal to an integer object id);
boxes whose id was lost are matched to the sample's old boxes by IoU. Pre-labels written by
``export(predictions=...)`` are ignored unless ``prelabels="accept"``.

Modules (each imports only modules listed after it):

- ``_import``: :func:`import_labels`, the entry point: format, reader, changes, apply;
- ``_tables`` (CSV, Parquet, a Series or a DataFrame) and ``_coco`` (COCO JSON): reading a
  file into a normalised table of labels or boxes;
- ``_samples`` (labels) and ``_boxes`` (boxes, paired by ``_match``): the changes, as a
  change report and the function that applies them;
- ``_history``: applying the changes as one label-history batch, undone on failure;
- ``_values``: blank cells, id lookup, class names, the change report's columns.
"""

from ._boxes import CORE_BOX_COLUMNS
from ._import import import_labels
from ._values import REPORT_COLUMNS

__all__ = ["CORE_BOX_COLUMNS", "REPORT_COLUMNS", "import_labels"]
