"""Applying the changes: one label-history batch, undone if the history cannot be written."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from ...core import DatasetCore


def _apply(
    ds: DatasetCore, result: tuple[pd.DataFrame, Any], source: str, dry_run: bool
) -> pd.DataFrame:
    """Apply the changes (unless ``dry_run``) and record them as one history batch."""
    report, apply = result
    report.attrs["batch"] = None
    if not dry_run and len(report):
        from ...store._project import commit_label_changes, next_batch, refuse_if_stale

        refuse_if_stale(ds, "import_labels")  # no change without its history

        batch = next_batch(ds)
        created = pd.Timestamp.now(tz="UTC")
        before = ds._samples["label"].copy(), ds._objects.copy()
        try:
            records = apply()
            for r in records:
                r.update(batch=batch, created=created, source=source)
            commit_label_changes(ds, records)
        except BaseException:
            ds._samples["label"], ds._objects = before  # the history could not be written: undo
            raise
        report.attrs["batch"] = batch
    return report
