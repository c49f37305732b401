"""Text and HTML renderings of an evaluation's headline numbers (``summary()``)."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from ._coco import COCO_STAT_NAMES


def summary_text(s: dict[str, Any]) -> str:
    """One-line ``repr`` of a ``DetectionEvaluation.summary()``."""
    return (
        f"DetectionEvaluation({s['iou_type']}: {s['images']} images, {s['gt_boxes']} GT, {s['pred_boxes']} "
        f"predictions: AP={s['AP']:.3f} AP50={s['AP50']:.3f}; at IoU {s['iou_threshold']:g}, "
        f"score >= {s['score_threshold']:g}: P={s['precision']:.3f} R={s['recall']:.3f})"
    )


def summary_html(s: dict[str, Any], errors: pd.DataFrame) -> str:
    """Notebook HTML of a ``summary()`` and an ``error_breakdown()`` table."""
    coco = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{s[k]:.3f}</td></tr>" for k in COCO_STAT_NAMES
    )
    metric = html.escape(str(errors.attrs["metric"]))
    err_rows = "".join(
        f"<tr><th>{html.escape(str(name))}</th><td>{int(row['count'])}</td>"
        f"<td>{row['dAP']:+.3f}</td></tr>"
        for name, row in errors.iterrows()
    )
    return (
        "<div class='nbdiag-detection-evaluation'><b>nbdiag.DetectionEvaluation</b> "
        f"({html.escape(str(s['iou_type']))}) "
        f"{s['images']} images, {s['gt_boxes']} ground-truth boxes, {s['pred_boxes']} predictions"
        "<div style='display:flex;gap:2em;align-items:flex-start'>"
        f"<table><tr><th colspan=2>COCO (pycocotools-exact)</th></tr>{coco}</table>"
        f"<table><tr><th colspan=2>at IoU {s['iou_threshold']:g}, score &ge; {s['score_threshold']:g}</th></tr>"
        f"<tr><th>precision</th><td>{s['precision']:.3f}</td></tr>"
        f"<tr><th>recall</th><td>{s['recall']:.3f}</td></tr>"
        f"<tr><th>F1</th><td>{s['f1']:.3f}</td></tr></table>"
        f"<table><tr><th colspan=3>errors (TIDE): {metric} gained by fixing</th></tr>"
        f"<tr><th></th><th>count</th><th>d{metric}</th></tr>{err_rows}</table>"
        "</div></div>"
    )
