"""The entry point, :func:`import_labels`: the file's format, its reader, the changes it asks
for (boxes or labels), applied as one history batch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..formats import READERS, guess_format
from ._boxes import _box_changes
from ._coco import _read_coco
from ._history import _apply
from ._parsed import _parsed_changes
from ._samples import _sample_changes
from ._tables import _boxes_from_table, _frame_of, _read_table

if TYPE_CHECKING:
    from ...core import DatasetCore

FORMATS = ("coco", "csv", "parquet", *READERS)


def import_labels(
    ds: DatasetCore,
    path: str | os.PathLike[str] | pd.DataFrame | pd.Series,
    format: str | None = None,
    *,
    prelabels: str = "ignore",
    allow_unlabelled: bool = False,
    match_iou: float = 0.5,
    box_tolerance: float = 0.5,
    dry_run: bool = False,
) -> pd.DataFrame:
    """Replace the labels of the samples in a corrected file and report what changed.

    Parameters
    ----------
    ds
        The dataset the file was exported from (or whose ids / image files it names).
    path
        A COCO instances JSON, a CSV or a Parquet file, a YOLO dataset (folder or
        ``data.yaml``), a Pascal VOC folder, a Label Studio JSON export or a CVAT for images 1.1
        XML (``docs/formats.md`` says what maps to what); or the labels in memory: a Series of
        labels indexed by sample id (e.g. answers from an annotator, or a model's
        ``suggested_label``), or a DataFrame shaped like a CSV export (``id`` and ``label``
        columns; boxes: ``sample_id``, ``label``, ``x``, ``y``, ``w``, ``h``, ...). An
        in-memory box frame changes the boxes it names by ``object_id`` (a column, or the
        index as in ``ds.objects`` rows) and adds those without one; the images' other boxes
        stay (removing boxes takes a file). Recorded in the history with the source
        ``"<Series>"`` / ``"<DataFrame>"``.
    format
        ``"coco"``, ``"csv"``, ``"parquet"``, ``"yolo"``, ``"voc"``, ``"labelstudio"`` or
        ``"cvat"`` (default: from the file's extension or, for a folder or a JSON file, its
        content; ignored for a Series or a DataFrame).
    prelabels
        ``"ignore"`` (default): skip pre-labels that still carry the export's marks
        (``nbdiag_prelabel`` in COCO, a ``source`` other than ``"gt"`` in CSV/Parquet, a score
        in the other formats: Label Studio predictions, CVAT and VOC boxes with a score);
        ``"accept"``: take them as labels.
    allow_unlabelled
        Classification: an empty label removes the sample's label (otherwise an error).
    match_iou
        Boxes that came back without their id are matched to the sample's old boxes with at
        least this IoU (greedy, highest first); unmatched ones are added / removed.
    box_tolerance
        Coordinates differing by at most this many pixels count as unchanged (annotation tools
        round coordinates).
    dry_run
        Only report the changes; change nothing.

    Returns
    -------
    DataFrame
        One row per change: ``level`` (sample/object), ``id``, ``sample_id``, ``change``
        (``relabelled``, ``labelled``, ``unlabelled`` for samples; ``relabelled``, ``moved``,
        ``relabelled+moved``, ``added``, ``removed`` for boxes), ``old_label``, ``new_label``,
        ``old_box``, ``new_box``. ``attrs``: ``batch`` (history batch, None on a dry run),
        ``samples`` (samples covered by the file), ``unchanged`` (items left as they were).

    Raises ``ValueError`` naming the offending row, id or label for unknown ids, unknown class
    names, duplicate ids, malformed boxes and files of an unrecognised shape; nothing is changed
    then.

    Examples
    --------
    >>> ds.export(ds.tagged("label_error"), format="csv", path="fix.csv")  # doctest: +SKIP
    >>> changes = ds.import_labels("fix.csv")       # after editing        # doctest: +SKIP
    >>> ds.label_history                                                   # doctest: +SKIP
    >>> ds.import_labels(pd.Series({17: "cat", 42: "dog"}))                # doctest: +SKIP
    """
    if prelabels not in ("ignore", "accept"):
        raise ValueError(f"prelabels must be 'ignore' or 'accept', got {prelabels!r}")
    if isinstance(path, pd.Series | pd.DataFrame):
        source = f"<{type(path).__name__}>"
        table = _frame_of(path, ds)
        result = _table_changes(
            ds, table, prelabels == "accept", allow_unlabelled, match_iou, box_tolerance, source
        )
        return _apply(ds, result, source, dry_run)
    path = Path(os.path.expanduser(os.fspath(path)))
    if format is None:
        format = guess_format(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {os.fspath(path)!r}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got {format!r}")
    source = os.fspath(path.resolve())
    if format in READERS:
        parsed = READERS[format](path)
        folder = path if path.is_dir() else path.parent
        result = _parsed_changes(
            ds,
            parsed,
            folder,
            prelabels == "accept",
            allow_unlabelled,
            match_iou,
            box_tolerance,
            source,
        )
    elif not path.is_file():
        raise ValueError(f"a {format} file is expected, but {os.fspath(path)!r} is a folder")
    elif format == "coco":
        covered, boxes = _read_coco(ds, path, prelabels == "accept")
        result = _box_changes(ds, covered, boxes, match_iou, box_tolerance, source)
    else:
        table = _read_table(path, format)
        result = _table_changes(
            ds, table, prelabels == "accept", allow_unlabelled, match_iou, box_tolerance, source
        )
    return _apply(ds, result, source, dry_run)


def _table_changes(
    ds: DatasetCore,
    table: pd.DataFrame,
    accept_prelabels: bool,
    allow_unlabelled: bool,
    match_iou: float,
    box_tolerance: float,
    source: str,
) -> tuple[pd.DataFrame, Any]:
    """The changes a CSV-shaped table asks for: boxes when it has box columns, else labels."""
    if {"x", "y", "w", "h"} <= set(table.columns):
        covered, boxes = _boxes_from_table(ds, table, accept_prelabels, source)
        return _box_changes(ds, covered, boxes, match_iou, box_tolerance, source)
    return _sample_changes(ds, table, allow_unlabelled, source)
