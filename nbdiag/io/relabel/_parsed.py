"""The changes a file of another format asks for: a :class:`~nbdiag.io.formats.Parsed` (YOLO,
VOC, Label Studio, CVAT) matched against the dataset, then compared as COCO files are."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...core import validation as v
from ..formats import Parsed
from ._boxes import _box_changes
from ._resolve import _ImageResolver
from ._samples import _sample_changes
from ._values import _blank, _check_class

if TYPE_CHECKING:
    from ...core import DatasetCore


def _parsed_changes(
    ds: DatasetCore,
    parsed: Parsed,
    folder: Path,
    accept_prelabels: bool,
    allow_unlabelled: bool,
    match_iou: float,
    box_tolerance: float,
    source: str,
) -> tuple[pd.DataFrame, Any]:
    """Boxes (detection datasets, or files with boxes) or labels (classification)."""
    if parsed.problems:
        shown = "; ".join(m for _, _, m in parsed.problems[:5])
        more = len(parsed.problems) - 5
        raise ValueError(
            f"{source} has {len(parsed.problems)} problem(s), nothing was imported: {shown}"
            + (f" (and {more} more)" if more > 0 else "")
        )
    images = parsed.images()
    resolver = _ImageResolver(ds, folder)
    sample_of: list[Hashable] = []
    unresolved = []
    for row in images.to_dict("records"):
        sid = resolver.resolve(row)
        if sid is None:
            unresolved.append(f"{row['what'] or row['file_name'] or row['id']!s}")
        sample_of.append(sid)
    if unresolved:
        raise ValueError(
            f"images in {source} that match no sample of the dataset (by nbdiag_id, path or "
            f"file name): {', '.join(unresolved[:5])}"
            + (f" (and {len(unresolved) - 5} more)" if len(unresolved) > 5 else "")
        )
    dup = pd.Index(sample_of)[pd.Index(sample_of).duplicated()].unique()
    if len(dup):
        raise ValueError(f"several images of {source} are the same sample: {v.listed(dup)}")
    boxes = parsed.boxes()
    if ds.task == "detection" or len(boxes):
        return _box_changes(
            ds,
            sample_of,
            _boxes_frame(ds, boxes, sample_of, accept_prelabels),
            match_iou,
            box_tolerance,
            source,
        )
    table = pd.DataFrame(
        {"id": pd.Series(sample_of, dtype=object), "label": images["label"].to_numpy(object)}
    )
    return _sample_changes(ds, table, allow_unlabelled, source)


def _boxes_frame(
    ds: DatasetCore, boxes: pd.DataFrame, sample_of: list[Hashable], accept_prelabels: bool
) -> pd.DataFrame:
    """The normalised boxes frame :func:`_box_changes` compares with the dataset."""
    if not accept_prelabels:
        boxes = boxes[boxes["score"].isna().to_numpy()]
    what = boxes["what"].fillna("box").astype(str).to_numpy()
    labels = [
        _check_class(label, ds, str(w)) if not _blank(label) else _no_label(str(w))
        for label, w in zip(boxes["label"], what, strict=True)
    ]
    ids = np.asarray(sample_of, dtype=object)[boxes["image"].to_numpy()] if len(boxes) else []
    hints = boxes["hint"].where(boxes["hint"].notna(), boxes["object_id"])
    index = pd.RangeIndex(len(boxes))
    return pd.DataFrame(
        {
            "sample_id": pd.Series(list(ids), index=index, dtype=object),
            "label": labels,
            "x": boxes["x"].to_numpy(float),
            "y": boxes["y"].to_numpy(float),
            "w": boxes["w"].to_numpy(float),
            "h": boxes["h"].to_numpy(float),
            "iscrowd": boxes["iscrowd"].to_numpy(bool),
            "area": np.nan,
            "hint": pd.Series(list(hints), index=index, dtype=object),
            "what": list(what),
        },
        index=index,
    )


def _no_label(what: str) -> str:
    raise ValueError(f"{what} has a box but no class")
