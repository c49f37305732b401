"""Detection: the box changes a file asks for (relabelled, moved, added, removed), as a change
report and the function that applies them; ids and rows for the boxes it adds."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...core import validation as v
from ...store._codec import native
from ._match import _match_boxes
from ._values import REPORT_COLUMNS, _blank

if TYPE_CHECKING:
    from ...core import DatasetCore

CORE_BOX_COLUMNS = ("sample_id", "label", "x", "y", "w", "h", "source", "score", "iscrowd")


def _state(row: Any) -> dict[str, Any]:
    return {
        "label": None if _blank(row["label"]) else str(row["label"]),
        "box": [float(row[c]) for c in ("x", "y", "w", "h")],
        "iscrowd": bool(row["iscrowd"]),
    }


def _box_changes(
    ds: DatasetCore,
    covered: list[Hashable],
    boxes: pd.DataFrame,
    match_iou: float,
    tolerance: float,
    source: str,
) -> tuple[pd.DataFrame, Any]:
    gt = ds.gt_objects
    old = gt[gt["sample_id"].isin(covered)]
    pairs, added, removed = _match_boxes(old, boxes, covered, gt.index, match_iou)

    rows: list[dict[str, Any]] = []
    updates: list[tuple[Hashable, int, str]] = []
    for oid, r in pairs:
        before, after = _state(old.loc[oid]), _state(boxes.loc[r])
        relabelled = before["label"] != after["label"]
        moved = (
            np.max(np.abs(np.subtract(before["box"], after["box"]))) > tolerance
            or before["iscrowd"] != after["iscrowd"]
        )
        if not (relabelled or moved):
            continue
        change = (
            "relabelled+moved" if relabelled and moved else "relabelled" if relabelled else "moved"
        )
        updates.append((oid, r, change))
        rows.append(
            {
                "id": oid,
                "sample_id": old.at[oid, "sample_id"],
                "change": change,
                "old": before,
                "new": after,
            }
        )
    for oid in removed:
        rows.append(
            {
                "id": oid,
                "sample_id": old.at[oid, "sample_id"],
                "change": "removed",
                "old": _state(old.loc[oid]),
                "new": None,
            }
        )
    new_ids = _new_object_ids(ds, boxes, added)
    for r, oid in zip(added, new_ids, strict=True):
        rows.append(
            {
                "id": oid,
                "sample_id": boxes.at[r, "sample_id"],
                "change": "added",
                "old": None,
                "new": _state(boxes.loc[r]),
            }
        )

    report = pd.DataFrame(
        {
            "level": "object",
            "id": pd.Series([r["id"] for r in rows], dtype=object),
            "sample_id": pd.Series([r["sample_id"] for r in rows], dtype=object),
            "change": [r["change"] for r in rows],
            "old_label": [(r["old"] or {}).get("label") for r in rows],
            "new_label": [(r["new"] or {}).get("label") for r in rows],
            "old_box": [None if r["old"] is None else tuple(r["old"]["box"]) for r in rows],
            "new_box": [None if r["new"] is None else tuple(r["new"]["box"]) for r in rows],
        },
        columns=REPORT_COLUMNS,
    )
    report.attrs.update(samples=len(covered), unchanged=len(pairs) - len(updates))

    # validate the new boxes now (sizes, classes), so that a bad file changes nothing
    new_rows = _object_rows(ds, boxes, added, new_ids)
    if len(new_rows):
        ds._check_objects(ds._normalise_objects(new_rows.copy()))
    if updates:
        moved_rows = boxes.loc[[r for _, r, _ in updates], ["sample_id", "x", "y", "w", "h"]]
        moved_rows.index = pd.Index([oid for oid, _, _ in updates], dtype=object)
        v.check_boxes(moved_rows, ds.samples[["width", "height"]], what="imported box")

    def apply() -> list[dict[str, Any]]:
        objects = ds._objects.drop(index=removed) if removed else ds._objects.copy()
        # float columns computed from the old box (metrics) no longer hold; area is recomputed
        extra = [
            c
            for c in objects.columns
            if c not in CORE_BOX_COLUMNS and pd.api.types.is_float_dtype(objects[c].dtype)
        ]
        for oid, r, _change in updates:
            src = boxes.loc[r]
            for col in ("x", "y", "w", "h"):
                objects.at[oid, col] = float(src[col])
            objects.at[oid, "iscrowd"] = bool(src["iscrowd"])
            for col in extra:
                objects.at[oid, col] = np.nan if col != "area" else _area(src)
        if updates:
            labels = objects["label"].astype(object)
            labels.loc[[u[0] for u in updates]] = [str(boxes.at[r, "label"]) for _, r, _ in updates]
            objects["label"] = ds._categorical(labels)
        if len(new_rows):
            norm = ds._normalise_objects(new_rows.copy())
            objects = pd.concat([objects, norm])
            objects["label"] = ds._categorical(objects["label"].astype(object))
        objects.index.name = "object_id"
        ds._objects = objects
        return [{"level": "object", **r} for r in rows]

    return report, apply


def _area(src: pd.Series) -> float:
    return float(src["area"]) if not _blank(src["area"]) else float(src["w"] * src["h"])


def _new_object_ids(ds: DatasetCore, boxes: pd.DataFrame, rows: list[int]) -> list[Hashable]:
    """Ids for added boxes: the file's own id when it is free, else fresh ones of the same
    kind as the dataset's ground-truth ids."""
    used = set(ds.objects.index)
    gt = ds.gt_objects.index
    ints = len(gt) == 0 or all(isinstance(native(x), int) for x in gt)
    next_int = (
        max([int(native(x)) for x in ds.objects.index if isinstance(native(x), int)] or [0]) + 1
    )
    out: list[Hashable] = []
    token = pd.Timestamp.now(tz="UTC").strftime("%Y%m%d%H%M%S")
    for k, r in enumerate(rows):
        hint = native(boxes.at[r, "hint"])
        if ints and isinstance(hint, int) and not isinstance(hint, bool) and hint not in used:
            oid: Hashable = hint
        elif ints:
            while next_int in used:
                next_int += 1
            oid = next_int
        else:
            oid = f"gt:{token}:{k}"
        used.add(oid)
        out.append(oid)
    return out


def _object_rows(
    ds: DatasetCore, boxes: pd.DataFrame, rows: list[int], ids: list[Hashable]
) -> pd.DataFrame:
    part = boxes.loc[rows]
    frame = pd.DataFrame(
        {
            "sample_id": part["sample_id"].to_numpy(dtype=object),
            "label": part["label"].to_numpy(dtype=object),
            "x": part["x"].to_numpy(float),
            "y": part["y"].to_numpy(float),
            "w": part["w"].to_numpy(float),
            "h": part["h"].to_numpy(float),
            "source": "gt",
            "score": np.nan,
            "iscrowd": part["iscrowd"].to_numpy(bool),
        },
        index=pd.Index(ids, dtype=object, name="object_id"),
    )
    if "area" in ds.objects.columns:
        frame["area"] = [_area(part.loc[r]) for r in rows]
    return frame
