"""Validation at the boundary: every error names the offending id, row or argument."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

MAX_LISTED = 5


def _listed(items: Iterable[object]) -> str:
    items = list(items)
    shown = ", ".join(repr(i) for i in items[:MAX_LISTED])
    more = f" (and {len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
    return shown + more


def check_unique_ids(ids: pd.Index | Sequence[object], what: str = "sample") -> None:
    index = pd.Index(ids)
    if index.hasnans:
        raise ValueError(f"{what} ids must not be missing (NaN/None)")
    dup = index[index.duplicated()].unique()
    if len(dup):
        raise ValueError(f"duplicate {what} ids: {_listed(dup)}")


def check_same_length(name_a: str, a: object, name_b: str, b: object) -> None:
    la, lb = len(a), len(b)  # type: ignore[arg-type]
    if la != lb:
        raise ValueError(f"length mismatch: {name_a} has {la} items but {name_b} has {lb}")


def check_known_ids(ids: Iterable[object], known: pd.Index, what: str = "sample") -> None:
    ids = pd.Index(list(ids))
    unknown = ids[~ids.isin(known)].unique()
    if len(unknown):
        raise ValueError(f"unknown {what} ids (not in the dataset): {_listed(unknown)}")


def check_labels(values: pd.Series, class_names: Sequence[str], where: str) -> None:
    """Every non-missing value must be one of ``class_names``; name the first offenders."""
    present = values.dropna()
    bad = present[~present.isin(list(class_names))]
    if len(bad):
        rows = ", ".join(f"{idx!r} ({val!r})" for idx, val in list(bad.items())[:MAX_LISTED])
        raise ValueError(
            f"unknown class in {where}: {rows}; known classes are {list(class_names)[:20]}"
        )


def check_probabilities(probs: np.ndarray, ids: pd.Index, atol: float = 1e-3) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"probabilities must be a 2-D array (samples x classes), got {probs.ndim}-D")
    bad_nan = ~np.isfinite(probs).all(axis=1)
    if bad_nan.any():
        raise ValueError(f"NaN or infinite probabilities for samples {_listed(ids[bad_nan])}")
    bad_range = ((probs < -atol) | (probs > 1 + atol)).any(axis=1)
    if bad_range.any():
        raise ValueError(f"probabilities outside [0, 1] for samples {_listed(ids[bad_range])}")
    sums = probs.sum(axis=1)
    bad_sum = np.abs(sums - 1.0) > atol
    if bad_sum.any():
        first = ids[bad_sum][0]
        raise ValueError(
            f"probabilities must sum to 1 per sample; they do not for samples "
            f"{_listed(ids[bad_sum])} (e.g. {first!r} sums to {sums[bad_sum][0]:.4f}). "
            "Pass softmax outputs, not logits."
        )
    return probs


def check_scores(scores: pd.Series, what: str = "prediction") -> None:
    bad = scores[~np.isfinite(scores.to_numpy(dtype=float, na_value=np.nan))]
    if len(bad):
        raise ValueError(f"NaN or infinite score for {what}s {_listed(bad.index)}")


def check_boxes(
    boxes: pd.DataFrame,
    sizes: pd.DataFrame | None = None,
    tolerance: float = 1.0,
    what: str = "box",
) -> None:
    """Boxes are x, y, w, h in pixels (top-left origin).

    Raises for non-finite coordinates, negative sizes, and (when image ``sizes`` with width/height
    indexed by sample id are given) boxes that leave the image by more than ``tolerance`` pixels.
    """
    coords = boxes[["x", "y", "w", "h"]].to_numpy(dtype=float)
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        raise ValueError(f"non-finite coordinates for {what}es {_listed(boxes.index[bad])}")
    neg = (coords[:, 2] < 0) | (coords[:, 3] < 0)
    if neg.any():
        raise ValueError(f"negative width or height for {what}es {_listed(boxes.index[neg])}")
    if sizes is None:
        return
    wh = sizes.reindex(boxes["sample_id"])[["width", "height"]].to_numpy(dtype=float)
    known = np.isfinite(wh).all(axis=1)
    x0, y0 = coords[:, 0], coords[:, 1]
    x1, y1 = x0 + coords[:, 2], y0 + coords[:, 3]
    out = known & (
        (x0 < -tolerance)
        | (y0 < -tolerance)
        | (x1 > wh[:, 0] + tolerance)
        | (y1 > wh[:, 1] + tolerance)
    )
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise ValueError(
            f"{what}es outside their image: {_listed(boxes.index[out])}; e.g. {what} "
            f"{boxes.index[i]!r} of sample {boxes['sample_id'].iloc[i]!r} spans x {x0[i]:g}..{x1[i]:g}, "
            f"y {y0[i]:g}..{y1[i]:g} in a {wh[i, 0]:g}x{wh[i, 1]:g} image"
        )
