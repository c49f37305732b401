"""Validation at the boundary: every error names the offending id, row or argument."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

MAX_LISTED = 5


def show(value: object) -> str:
    """``repr`` of an id or value for a message; numpy scalars shown as plain Python values."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def listed(items: Iterable[object]) -> str:
    items = list(items)
    shown = ", ".join(show(i) for i in items[:MAX_LISTED])
    more = f" (and {len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
    return shown + more


def _plural(what: str) -> str:
    return what + ("es" if what.endswith(("s", "x", "ch", "sh")) else "s")


def check_unique_ids(ids: pd.Index | Sequence[object], what: str = "sample") -> None:
    index = pd.Index(ids)
    if index.hasnans:
        raise ValueError(f"{what} ids must not be missing (NaN/None)")
    dup = index[index.duplicated()].unique()
    if len(dup):
        raise ValueError(f"duplicate {what} ids: {listed(dup)}")


def check_same_length(name_a: str, a: object, name_b: str, b: object) -> None:
    la, lb = len(a), len(b)  # type: ignore[arg-type]
    if la != lb:
        raise ValueError(f"length mismatch: {name_a} has {la} items but {name_b} has {lb}")


class UnknownIdError(KeyError, ValueError):
    """Ids that are not in the dataset (a ``KeyError``, and a ``ValueError`` as a bad argument);
    the message names up to :data:`MAX_LISTED` of them and how many more there are."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def _unknown(ids: pd.Index, what: str) -> UnknownIdError:
    return UnknownIdError(f"unknown {what} ids (not in the dataset): {listed(ids.unique())}")


def check_known_ids(ids: Iterable[object], known: pd.Index, what: str = "sample") -> None:
    ids = ids if isinstance(ids, pd.Index) else pd.Index(list(ids))
    unknown = ids[~ids.isin(known)]
    if len(unknown):
        raise _unknown(unknown, what)


def positions_of(ids: object, index: pd.Index, what: str = "sample") -> np.ndarray:
    """Row positions of ``ids`` in ``index`` (unique) by one vectorised lookup; raises
    :class:`UnknownIdError` naming the ids that are not in it."""
    ids = ids if isinstance(ids, pd.Index) else pd.Index(ids)  # type: ignore[arg-type]
    pos = index.get_indexer(ids)
    bad = pos < 0
    if bad.any():
        raise _unknown(ids[bad], what)
    return pos


def check_labels(values: pd.Series, class_names: Sequence[str], where: str) -> None:
    """Every non-missing value must be one of ``class_names``; name the first offenders."""
    present = values.dropna()
    bad = present[~present.isin(list(class_names))]
    if len(bad):
        rows = ", ".join(f"{show(i)} ({show(x)})" for i, x in list(bad.items())[:MAX_LISTED])
        raise ValueError(
            f"unknown class in {where}: {rows}; known classes are {list(class_names)[:20]}"
        )


def check_probabilities(probs: np.ndarray, ids: pd.Index, atol: float = 1e-3) -> np.ndarray:
    """``probs`` checked (finite, in [0, 1], rows summing to 1); float32 stays float32 (half
    the memory of a 1M x C run), anything else becomes float64."""
    probs = np.asarray(probs)
    if probs.dtype != np.float32:
        probs = probs.astype(np.float64, copy=False)
    if probs.ndim != 2:
        raise ValueError(
            f"probabilities must be a 2-D array (samples x classes), got {probs.ndim}-D"
        )
    bad_nan = ~np.isfinite(probs).all(axis=1)
    if bad_nan.any():
        raise ValueError(f"NaN or infinite probabilities for samples {listed(ids[bad_nan])}")
    bad_range = ((probs < -atol) | (probs > 1 + atol)).any(axis=1)
    if bad_range.any():
        raise ValueError(f"probabilities outside [0, 1] for samples {listed(ids[bad_range])}")
    sums = probs.sum(axis=1)
    bad_sum = np.abs(sums - 1.0) > atol
    if bad_sum.any():
        first = show(ids[bad_sum][0])
        raise ValueError(
            f"probabilities must sum to 1 per sample; they do not for samples "
            f"{listed(ids[bad_sum])} (e.g. {first} sums to {sums[bad_sum][0]:.4f}). "
            "Pass softmax outputs, not logits."
        )
    return probs


def check_scores(scores: pd.Series, what: str = "prediction") -> None:
    bad = scores[~np.isfinite(scores.to_numpy(dtype=float, na_value=np.nan))]
    if len(bad):
        raise ValueError(f"NaN or infinite score for {_plural(what)} {listed(bad.index)}")


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
        raise ValueError(f"non-finite coordinates for {_plural(what)} {listed(boxes.index[bad])}")
    neg = (coords[:, 2] < 0) | (coords[:, 3] < 0)
    if neg.any():
        raise ValueError(f"negative width or height for {_plural(what)} {listed(boxes.index[neg])}")
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
            f"{_plural(what)} outside their image: {listed(boxes.index[out])}; e.g. {what} "
            f"{show(boxes.index[i])} of sample {show(boxes['sample_id'].iloc[i])} "
            f"spans x {x0[i]:g}..{x1[i]:g}, "
            f"y {y0[i]:g}..{y1[i]:g} in a {wh[i, 0]:g}x{wh[i, 1]:g} image"
        )


def _check_class_indices(
    codes: np.ndarray, at: np.ndarray, ids: pd.Index, class_names: Sequence[str], where: str
) -> None:
    bad = (codes < 0) | (codes >= len(class_names))
    if bad.any():
        shown = list(zip(ids[at[bad]], codes[bad], strict=True))[:MAX_LISTED]
        rows = ", ".join(f"{show(i)} ({c})" for i, c in shown)
        raise ValueError(
            f"unknown class index in {where}: {rows}; there are {len(class_names)} classes"
        )


def labels_to_names(values: pd.Series, class_names: Sequence[str] | None, where: str) -> pd.Series:
    """Labels as class-name strings (object dtype, NaN for missing).

    When ``class_names`` are known, integers (and whole-number floats, i.e. integer labels with
    missing values) are indices into them, unless every one of them is also a class name (e.g.
    classes ``["0", "1"]``). Other values become ``str(value)``.
    """
    # by position throughout: label-based assignment would hash a million text ids per step
    present = values.notna().to_numpy()
    out = np.full(len(values), np.nan, dtype=object)
    if not present.any():
        return pd.Series(out, index=values.index, dtype=object)
    non_null = values[present].infer_objects()
    if pd.api.types.is_numeric_dtype(non_null) and not pd.api.types.is_bool_dtype(non_null):
        numeric = np.ones(len(non_null), dtype=bool)
    elif pd.api.types.is_string_dtype(non_null):  # infers: only strings, also in object arrays
        return values.astype(object).where(values.notna(), np.nan)  # names already (fast path)
    else:
        numeric = np.fromiter(
            (
                isinstance(x, (int, float, np.integer, np.floating))
                and not isinstance(x, (bool, np.bool_))
                for x in non_null.to_numpy(dtype=object)
            ),
            dtype=bool,
            count=len(non_null),
        )
    codes = pd.to_numeric(non_null[numeric], errors="coerce").to_numpy(dtype=float)
    whole = np.isfinite(codes) & (codes == np.round(codes))
    at = np.flatnonzero(numeric)[whole]  # positions in non_null of whole-number labels
    codes = codes[whole].astype(np.int64)
    if len(at) == len(non_null):  # integer labels throughout: decide on the distinct values
        inverse, uniq = pd.factorize(codes)
        uniq_text = uniq.astype(str).astype(object)  # 1.0 -> "1"
        names_already = class_names is None or pd.Index(uniq_text).isin(list(class_names)).all()
        if names_already:
            as_text = uniq_text[inverse]
        else:
            _check_class_indices(codes, at, non_null.index, class_names, where)
            as_text = np.asarray(class_names, dtype=object)[codes]
    else:
        as_text = non_null.map(str).to_numpy(dtype=object)
        as_text[at] = codes.astype(str).astype(object)
        if class_names is not None and len(codes):
            _check_class_indices(codes, at, non_null.index, class_names, where)
            as_text[at] = np.asarray(class_names, dtype=object)[codes]
    out[present] = as_text
    return pd.Series(out, index=values.index, dtype=object)
