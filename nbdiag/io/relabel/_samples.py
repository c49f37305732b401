"""Classification: the label changes a table of sample ids and labels asks for, as a change
report and the function that applies them."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...core import validation as v
from ._values import REPORT_COLUMNS, _blank, _check_class, _IdMap

if TYPE_CHECKING:
    from ...core import DatasetCore


def _sample_changes(
    ds: DatasetCore, table: pd.DataFrame, allow_unlabelled: bool, source: str
) -> tuple[pd.DataFrame, Any]:
    id_col = "id" if "id" in table.columns else "sample_id" if "sample_id" in table else None
    if id_col is None or "label" not in table.columns:
        raise ValueError(
            f"{source}: a label file needs an 'id' (or 'sample_id') column and a 'label' column "
            f"(boxes: 'x', 'y', 'w', 'h' too); found columns {list(table.columns)[:20]}"
        )
    ids = _IdMap(ds.samples.index, "sample")
    resolved: list[Hashable] = []
    unknown = []
    for k, raw in enumerate(table[id_col]):
        sid = None if _blank(raw) else ids.get(raw)
        if sid is None:
            unknown.append(f"row {k + 2}: {raw!r}" if not _blank(raw) else f"row {k + 2}: empty")
        resolved.append(sid)
    if unknown:
        raise ValueError(
            f"unknown sample ids (not in the dataset) in {source}: {', '.join(unknown[:5])}"
            + (f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else "")
        )
    dup = pd.Index(resolved)[pd.Index(resolved).duplicated()].unique()
    if len(dup):
        raise ValueError(f"duplicate sample ids in {source}: {v.listed(dup)}")
    new_labels: list[str | None] = []
    empty = []
    for k, (sid, raw) in enumerate(zip(resolved, table["label"], strict=True)):
        if _blank(raw):
            empty.append(sid)
            new_labels.append(None)
        else:
            new_labels.append(_check_class(raw, ds, f"row {k + 2} (sample {v.show(sid)})"))
    if empty and not allow_unlabelled:
        raise ValueError(
            f"rows with an empty label in {source}, for samples {v.listed(empty)}; pass "
            "allow_unlabelled=True to remove those samples' labels"
        )
    old = ds.samples["label"].reindex(resolved).astype(object)
    rows = []
    for sid, before, after in zip(resolved, old, new_labels, strict=True):
        before = None if _blank(before) else str(before)
        if before == after:
            continue
        change = "labelled" if before is None else "unlabelled" if after is None else "relabelled"
        rows.append((sid, before, after, change))
    report = pd.DataFrame(
        {
            "level": "sample",
            "id": [r[0] for r in rows],
            "sample_id": [r[0] for r in rows],
            "change": [r[3] for r in rows],
            "old_label": [r[1] for r in rows],
            "new_label": [r[2] for r in rows],
            "old_box": None,
            "new_box": None,
        },
        columns=REPORT_COLUMNS,
    )
    report.attrs.update(samples=len(resolved), unchanged=len(resolved) - len(rows))

    def apply() -> list[dict[str, Any]]:
        if rows:
            changed = [r[0] for r in rows]
            labels = ds._samples["label"].astype(object)
            labels.loc[changed] = [r[2] for r in rows]
            ds._samples["label"] = ds._categorical(labels.where(labels.notna(), np.nan))
        return [
            {
                "level": "sample",
                "id": r[0],
                "sample_id": r[0],
                "change": r[3],
                "old": None if r[1] is None else {"label": r[1]},
                "new": None if r[2] is None else {"label": r[2]},
            }
            for r in rows
        ]

    return report, apply
