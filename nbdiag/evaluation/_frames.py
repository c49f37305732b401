"""Pieces every evaluation shares: a normalised confusion frame and the HTML summary table."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

NORMALIZE = (None, "true", "pred", "all")


def confusion_frame(cm: np.ndarray, class_names: list[str], normalize: Any) -> pd.DataFrame:
    """``cm`` (rows true, columns predicted) as a DataFrame; ``normalize``: ``"true"`` (rows sum
    to 1), ``"pred"`` (columns sum to 1), ``"all"`` or ``None`` (counts)."""
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    if normalize is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            denom = {
                "true": cm.sum(axis=1, keepdims=True),
                "pred": cm.sum(axis=0, keepdims=True),
                "all": cm.sum(),
            }[normalize]
            cm = np.nan_to_num(cm / denom)
    return pd.DataFrame(
        cm,
        index=pd.Index(class_names, name="true"),
        columns=pd.Index(class_names, name="predicted"),
    )


def summary_html(kind: str, run: Any, what: str, summary: dict[str, Any]) -> str:
    """``<b>kind</b> run <code>run</code>, what`` over a table of the summary's float values."""
    rows = "".join(
        f"<tr><th>{k}</th><td>{val:.4f}</td></tr>" if isinstance(val, float) else ""
        for k, val in summary.items()
    )
    return f"<b>{kind}</b> run <code>{html.escape(str(run))}</code>, {what}<table>{rows}</table>"
