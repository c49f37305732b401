"""The report's "Labels by annotator" section: :func:`nbdiag.slices.quality_by` per annotator
when the samples or the ground-truth boxes say who labelled them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..slices import quality_by
from ._html import esc, note, table

if TYPE_CHECKING:
    from ._sections import Context

ANNOTATOR = "annotator"
_SHOWN = [
    "labels", "flagged", "flagged_share", "flagged_low", "flagged_high", "agreement",
    "mean_iou", "wrong_class", "bad_localization", "duplicate_box", "missing_box",
    "mean_label_quality",
]  # fmt: skip


def has_annotators(ds: Any) -> bool:
    gt = ds.gt_objects
    return bool(
        (ANNOTATOR in gt.columns and gt[ANNOTATOR].notna().any())
        or (ANNOTATOR in ds.samples.columns and ds.samples[ANNOTATOR].notna().any())
    )


def annotators(ctx: Context) -> list[Any]:
    """Who labelled what, and how often their labels look wrong (most flagged first); no
    section when the dataset does not say who labelled."""
    ds = ctx.ds
    if not has_annotators(ds):
        return []
    if ctx.run is None:
        return [note("No run: label quality per annotator needs a model's predictions.")]
    try:
        frame = quality_by(ds, ANNOTATOR, ctx.run)
    except Exception as exc:  # a section must not take the report down
        ctx.notes.append(f"labels by annotator: {type(exc).__name__}: {exc}")
        return [note(f"Label quality per annotator could not be computed: {exc}")]
    shown = frame[[c for c in _SHOWN if c in frame.columns]]
    return [
        "<p class='muted'>"
        + esc(
            "From nbdiag.slices.quality_by: labels made, the share flagged as likely label "
            "errors (with its 95% interval) and agreement with the model, most flagged first."
        )
        + "</p>",
        table(shown),
    ]
