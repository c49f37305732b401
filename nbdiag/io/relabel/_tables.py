"""Reading tables: a CSV or Parquet file, or labels in memory (a Series or a DataFrame), as
the table a CSV export gives; and a table's boxes as the normalised boxes frame that
:func:`~nbdiag.io.relabel._boxes._box_changes` compares with the dataset."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._values import _blank, _check_class, _IdMap

if TYPE_CHECKING:
    from ...core import DatasetCore


def _frame_of(labels: pd.Series | pd.DataFrame, ds: DatasetCore) -> pd.DataFrame:
    """Labels in memory as the table a CSV file would give.

    A box frame names the boxes it changes (``object_id``, as a column or as the index named
    ``object_id`` of ``ds.objects`` rows, e.g. ``link.selected_objects``); the other
    ground-truth boxes of its images are kept as they are
    (a file, in contrast, gives each image exactly its boxes)."""
    if isinstance(labels, pd.Series):
        return pd.DataFrame(
            {"id": labels.index.to_numpy(dtype=object), "label": labels.to_numpy(dtype=object)}
        )
    table = labels.copy()
    table.columns = [str(c).strip() for c in table.columns]
    if not {"x", "y", "w", "h"} <= set(table.columns):
        if not {"id", "sample_id"} & set(table.columns) and "label" in table.columns:
            table = table.reset_index(names="id")  # ids in the index, e.g. a `selected` frame
        return table
    if "object_id" not in table.columns and table.index.name == "object_id":
        table = table.reset_index()  # rows of ds.objects (e.g. `selected_objects`): their ids
    if "sample_id" not in table.columns:
        return table  # the error names the missing column
    gt = ds.gt_objects
    named = table["object_id"].dropna() if "object_id" in table.columns else pd.Series([])
    keep = gt[gt["sample_id"].isin(table["sample_id"]) & ~gt.index.isin(named)]
    if len(keep):
        kept = keep.reset_index(names="object_id")
        kept["label"] = kept["label"].astype(object)
        kept["source"] = "gt"
        columns = [
            c
            for c in ("object_id", "sample_id", "label", "x", "y", "w", "h", "iscrowd", "source")
            if c in kept.columns
        ]
        table = pd.concat([table, kept[columns]], ignore_index=True)
    return table


def _read_table(path: Path, format: str) -> pd.DataFrame:
    if format == "csv":
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        table = table.replace({"": None})
    else:
        table = pd.read_parquet(path)
    table.columns = [str(c).strip() for c in table.columns]
    return table


def _boxes_from_table(
    ds: DatasetCore, table: pd.DataFrame, accept_prelabels: bool, source: str
) -> tuple[list[Hashable], pd.DataFrame]:
    if "sample_id" not in table.columns:
        raise ValueError(
            f"{source}: a boxes file needs a 'sample_id' column (and 'label', 'x', 'y', 'w', "
            f"'h'); found columns {list(table.columns)[:20]}"
        )
    sids = _IdMap(ds.samples.index, "sample")
    resolved = []
    unknown = []
    for k, raw in enumerate(table["sample_id"]):
        sid = None if _blank(raw) else sids.get(raw)
        if sid is None:
            unknown.append(f"row {k + 2}: {raw!r}")
        resolved.append(sid)
    if unknown:
        raise ValueError(
            f"unknown sample ids (not in the dataset) in {source}: {', '.join(unknown[:5])}"
            + (f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else "")
        )
    covered = list(dict.fromkeys(resolved))
    table = table.assign(_sid=resolved, _row=np.arange(len(table)) + 2)
    if "source" in table.columns and not accept_prelabels:
        src = table["source"].map(lambda x: "gt" if _blank(x) else str(x).strip())
        table = table[(src == "gt").to_numpy()]
    coords = table[["x", "y", "w", "h"]]
    blank = coords.map(_blank).all(axis=1).to_numpy().copy()
    if "label" in table.columns:
        blank = blank & table["label"].map(_blank).to_numpy()
    rows = table[~blank]
    labels = []
    for r, raw in zip(
        rows["_row"], rows["label"] if "label" in rows else [None] * len(rows), strict=True
    ):
        if _blank(raw):
            raise ValueError(f"row {r} of {source} has a box but no label")
        labels.append(_check_class(raw, ds, f"row {r}"))
    try:
        box = rows[["x", "y", "w", "h"]].astype(float).to_numpy()
    except (TypeError, ValueError):
        bad = [
            r
            for r, vals in zip(rows["_row"], rows[["x", "y", "w", "h"]].to_numpy(), strict=True)
            if not _numeric(vals)
        ]
        raise ValueError(f"non-numeric box coordinates in {source}, rows {bad[:5]}") from None
    bad = ~np.isfinite(box).all(axis=1) | (box[:, 2] < 0) | (box[:, 3] < 0)
    if bad.any():
        raise ValueError(
            f"missing, non-finite or negative box coordinates in {source}, rows "
            f"{list(rows['_row'].to_numpy()[bad][:5])}"
        )
    iscrowd = (
        rows["iscrowd"].map(lambda x: str(x).strip().lower() in ("1", "true", "yes")).to_numpy()
        if "iscrowd" in rows
        else np.zeros(len(rows), bool)
    )
    hints = rows["object_id"] if "object_id" in rows else pd.Series(None, index=rows.index)
    index = pd.RangeIndex(len(rows))
    boxes = pd.DataFrame(
        {
            "sample_id": pd.Series(list(rows["_sid"]), index=index, dtype=object),
            "label": labels,
            "x": box[:, 0],
            "y": box[:, 1],
            "w": box[:, 2],
            "h": box[:, 3],
            "iscrowd": iscrowd,
            "area": np.nan,
            "hint": pd.Series([None if _blank(h) else h for h in hints], index=index, dtype=object),
            "what": [f"row {r}" for r in rows["_row"]],
        },
        index=index,
    )
    return covered, boxes


def _numeric(values: Any) -> bool:
    try:
        np.asarray(values, dtype=float)
        return True
    except (TypeError, ValueError):
        return False
