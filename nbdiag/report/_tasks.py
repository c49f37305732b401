"""The evaluation section for multi-label and semantic segmentation runs (classification and
detection are in ``_sections``)."""

from __future__ import annotations

from typing import Any

from . import _figures as fig
from ._html import esc, key_values, table

Parts = list[Any]


def multilabel_evaluation(ev: Any, run: str, max_classes: int) -> Parts:
    """Headline numbers (mAP, micro / macro / samples F1, hamming loss, subset accuracy), AP per
    class and the per-class table of a ``MultiLabelEvaluation``."""
    summary = {k: v for k, v in ev.summary().items() if k != "run"}
    per_class = ev.per_class
    keep = list(per_class["support"].sort_values(ascending=False, kind="stable").index)
    keep = keep[:max_classes]
    shown = per_class.loc[keep]
    title = "average precision per class"
    if len(keep) < len(per_class):
        title += f" ({len(keep)} most frequent of {len(per_class)})"
    th = ev.thresholds
    when = (
        f"at threshold {th.iloc[0]:g}"
        if (th == th.iloc[0]).all()
        else "at per-class thresholds (see the table)"
    )
    return [
        f"<p>Run <b>{esc(run)}</b> (multi-label): {len(ev.per_sample)} labelled samples; a "
        f"class is predicted when its probability is at least its threshold ({esc(when)}). "
        "mAP does not depend on the threshold; F1, hamming loss and subset accuracy do.</p>",
        key_values(summary),
        fig.bars(list(shown.index), list(shown["average_precision"].fillna(0)), title),
        "<h3>Per class</h3>",
        table(shown, max_rows=max_classes),
    ]


def semantic_evaluation(ev: Any, run: str, max_classes: int) -> Parts:
    """Headline numbers (mIoU, pixel accuracy), the pixel confusion matrix and the per-class
    table of a ``SemanticEvaluation``."""
    summary = {k: v for k, v in ev.summary().items() if k != "run"}
    per_class = ev.per_class
    keep = list(per_class["label"].sort_values(ascending=False, kind="stable").index)
    keep = keep[:max_classes]
    cm = ev.confusion_matrix().loc[keep, keep]
    title = "pixel confusion matrix (rows normalised)"
    if len(keep) < len(per_class):
        title += f", {len(keep)} largest classes"
    return [
        f"<p>Run <b>{esc(run)}</b> (semantic segmentation), {len(ev.per_image)} images.</p>",
        key_values(summary),
        fig.heatmap(cm, title, normalize_rows=True),
        "<h3>Per class</h3>",
        table(per_class.loc[keep], max_rows=max_classes),
        "<h3>Images with the lowest mIoU</h3>",
        table(
            ev.per_image[["miou", "pixel_accuracy", "pixels", "classes"]]
            .sort_values("miou", kind="stable")
            .head(10)
        ),
    ]
