"""The rows an ImageGrid shows: one per image (with its prediction, or its box counts) or one per
box (with its match), the caption fields of each, and their sort order."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._grid_boxes import GT

if TYPE_CHECKING:
    from ..core import DatasetCore
    from ..core.runs import ClassificationRun, DetectionRun

LEVELS = ("sample", "object")
#: the column of ``ds.samples`` saying why an image is flagged (see ``nbdiag.metrics``)
FLAG_REASONS = "flag_reasons"
SOURCES = ("gt", "pred", "both")


def clean(value: Any) -> Any:
    """A JSON-safe scalar (NaN / None -> None)."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def fmt(value: Any) -> str:
    """A value as shown in the detail panel (``—`` when missing)."""
    value = clean(value)
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def sample_rows(
    ds: DatasetCore,
    classification: ClassificationRun | None,
    detection: DetectionRun | None,
    evaluation: Any,
) -> pd.DataFrame:
    """One row per sample: its columns, plus the run's prediction (classification) or the
    counts of its boxes, matches and best score (detection)."""
    rows = ds.samples.copy()
    if classification is not None:
        pred = classification.predictions.reindex(rows.index)
        rows["prediction"] = pred["prediction"]
        rows["confidence"] = pred["confidence"]
        both = rows["label"].notna() & rows["prediction"].notna()
        correct = rows["label"].astype(object) == rows["prediction"].astype(object)
        rows["correct"] = pd.array(np.where(both, correct, pd.NA), dtype="boolean")
    elif ds.task == "detection" or detection is not None:
        gt = ds.gt_objects
        rows["n_gt"] = gt["sample_id"].value_counts().reindex(rows.index, fill_value=0)
        ev = evaluation
        if ev is not None:
            preds, truth = ev.predictions, ev.ground_truth
            rows["n_pred"] = preds["sample_id"].value_counts().reindex(rows.index, fill_value=0)
            for name, frame, kind in (
                ("tp", preds, "tp"),
                ("fp", preds, "fp"),
                ("fn", truth, "fn"),
            ):
                ids = frame.loc[frame["match"] == kind, "sample_id"]
                rows[name] = ids.value_counts().reindex(rows.index, fill_value=0)
            best = preds.groupby("sample_id", observed=True)["score"].max()
            rows["max_score"] = best.reindex(rows.index)
    return rows


def object_rows(
    ds: DatasetCore, detection: DetectionRun | None, evaluation: Any, source: str
) -> pd.DataFrame:
    """One row per box of ``source`` (``"gt"``, ``"pred"``: the run's, or ``"both"``): its
    columns, its area, and its match when evaluated."""
    objects = ds.objects
    is_gt = objects["source"] == GT
    run = detection.name if detection is not None else None
    keep = {
        "gt": is_gt,
        "pred": objects["source"] == run,
        "both": is_gt | (objects["source"] == run),
    }[source]
    if not len(objects):
        raise ValueError(
            "level='object' needs boxes: this dataset has no objects (a classification "
            "dataset? use level='sample')"
        )
    rows = objects[keep.to_numpy()]
    rows = rows.assign(area=rows["w"].to_numpy() * rows["h"].to_numpy())
    ev = evaluation
    if ev is not None:
        res = ev.to_frame().reindex(rows.index)
        for col in ("match", "iou", "matched_id", "error_type"):
            rows[col] = res[col]
    return rows


def _names(values: pd.Series) -> np.ndarray:
    """Labels as an object array of names (None when missing); categoricals by their codes."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        names = np.append(np.asarray(values.cat.categories, dtype=object), None)
        return names[values.cat.codes.to_numpy()]  # code -1 (missing) takes the last: None
    return values.astype(object).where(values.notna(), None).to_numpy(dtype=object)


def caption_columns(
    rows: pd.DataFrame, level: str, classification: ClassificationRun | None
) -> dict[str, np.ndarray]:
    """The caption fields of every row (``label``, ``pred``, ``score``, ``status``, ``kind``,
    ``reasons``), one array each. ``kind`` is ``"gt"`` or ``"pred"`` on object rows;
    ``reasons`` says why a sample's image is flagged (the ``flag_reasons`` column of
    ``compute_metrics``, None when it is not), for the cell's tooltip."""
    n = len(rows)
    none = np.full(n, None, dtype=object)
    out = {"label": none, "pred": none, "score": np.full(n, np.nan), "status": none}
    out["kind"] = none
    out["reasons"] = none
    if level == "sample":
        if FLAG_REASONS in rows.columns:
            why = rows[FLAG_REASONS].astype(object)
            out["reasons"] = why.where(why.notna() & (why != ""), None).to_numpy(dtype=object)
        if "label" in rows.columns:
            out["label"] = _names(rows["label"])
        if classification is not None:
            pred = rows["prediction"].astype(object)
            out["pred"] = pred.where(pred.notna(), None).to_numpy(dtype=object)
            out["score"] = rows["confidence"].to_numpy(dtype=np.float64)
            correct = rows["correct"]
            out["status"] = np.where(
                correct.isna().to_numpy(),
                None,
                np.where(correct.fillna(False).to_numpy(dtype=bool), "right", "wrong"),
            ).astype(object)
    else:
        is_gt = (rows["source"] == GT).to_numpy()
        label = _names(rows["label"])
        out["label"] = np.where(is_gt, label, None).astype(object)
        out["pred"] = np.where(is_gt, None, label).astype(object)
        out["score"] = np.where(is_gt, np.nan, rows["score"].to_numpy(dtype=np.float64))
        out["kind"] = np.where(is_gt, "gt", "pred").astype(object)
        if "match" in rows.columns:
            m = rows["match"].astype(object)
            out["status"] = m.where(m.notna(), None).to_numpy(dtype=object)
    return out


def sortable_columns(rows: pd.DataFrame) -> list[str]:
    """Columns the grid can sort by: numeric and boolean ones, then categorical ones."""
    numeric, other = [], []
    for col in rows.columns:
        dtype = rows[col].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            numeric.append(str(col))
        elif isinstance(dtype, pd.CategoricalDtype):
            other.append(str(col))
    return numeric + other


def sort_order(rows: pd.DataFrame, sort_by: str | None, ascending: bool = True) -> np.ndarray:
    """Row positions in display order (missing values last either way, stable)."""
    n = len(rows)
    if not sort_by:
        return np.arange(n, dtype=np.uint32)
    if sort_by in rows.columns:
        values = rows[sort_by]
    elif sort_by == rows.index.name:
        values = rows.index.to_series()
    else:
        options = sortable_columns(rows)
        raise ValueError(
            f"cannot sort by {sort_by!r}: no such column; numeric columns are {options[:20]}"
        )
    values = values.reset_index(drop=True)
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.astype(float)
        values = codes.where(codes >= 0, np.nan)
    elif pd.api.types.is_bool_dtype(values.dtype):
        values = values.astype("Float64")
    elif values.dtype == object:
        try:
            values = pd.to_numeric(values)
        except (TypeError, ValueError):
            values = values.where(values.isna(), values.astype(str))
    out = values.sort_values(ascending=ascending, kind="stable", na_position="last")
    return out.index.to_numpy(dtype=np.uint32)


def positions(index: pd.Index, ids: Sequence[Hashable]) -> np.ndarray:
    """Row positions of ``ids`` in ``index`` (-1 where unknown)."""
    return index.get_indexer(pd.Index(list(ids)))
