"""Multi-label classification in the data model: a ``labels`` sample column holding the tuple of
class names of each sample, and :class:`MultiLabelRun`, per-class independent probabilities.

A dataset is multi-label when its ``samples`` table has a ``labels`` column. A sample's cell is
a tuple of class names in ``class_names`` order (``()`` when none of the classes is present,
``None`` when the sample is not labelled). They are given as lists (or tuples, sets, arrays) of
class names or class indices, or as an N x C 0/1 indicator matrix (:func:`label_sets`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import validation as v
from ._tables import missing, natural_key

#: the samples column of a multi-label dataset
LABELS = "labels"
#: default decision threshold of a class probability
THRESHOLD = 0.5
_COLLECTIONS = (list, tuple, set, frozenset, np.ndarray, pd.Series, pd.Index)


def is_multilabel(samples: pd.DataFrame) -> bool:
    """Whether a samples table is multi-label (has a ``labels`` column)."""
    return LABELS in samples.columns


def labelled(samples: pd.DataFrame) -> pd.Series:
    """Boolean mask of the samples with ground truth (``label``, or ``labels`` when
    multi-label)."""
    if is_multilabel(samples):
        return samples[LABELS].notna()
    return samples["label"].notna()


def is_label_set_input(labels: Any) -> bool:
    """Whether ``labels`` (as given to a constructor) are multi-label: a 2-D array or DataFrame
    (indicator matrix), or a sequence whose items are collections of classes."""
    if isinstance(labels, pd.DataFrame):
        return True
    if isinstance(labels, np.ndarray) and labels.dtype != object:
        return labels.ndim == 2
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence | np.ndarray):
        return False
    first = next((x for x in labels if not missing_cell(x)), None)
    return isinstance(first, _COLLECTIONS)


def missing_cell(value: Any) -> bool:
    """None or NaN (an unlabelled sample); a collection is never missing, even when empty."""
    return not isinstance(value, _COLLECTIONS) and missing(value)


def label_sets(
    labels: Any, class_names: Sequence[str] | None, ids: Sequence[Hashable] | None = None
) -> tuple[list[Any], list[str] | None]:
    """Per-sample label collections from what users pass, and the class names.

    ``labels`` is an N x C 0/1 indicator matrix (numpy array: classes ``class_names`` or
    ``"0" .. "C-1"``; DataFrame: one column per class, named), or a sequence of per-sample
    collections of class names or indices (left for :func:`labels_column` to check).
    """
    if isinstance(labels, pd.DataFrame):
        cols = [str(c) for c in labels.columns]
        if class_names is not None:
            names = [str(c) for c in class_names]
            if sorted(cols) != sorted(names):
                raise ValueError(
                    f"indicator columns {cols[:10]} are not the classes {names[:10]}; name one "
                    "column per class"
                )
            matrix = labels.rename(columns=str)[names].to_numpy()
        else:
            names, matrix = cols, labels.to_numpy()
        return _from_indicator(matrix, names, ids), names
    if isinstance(labels, np.ndarray) and labels.dtype != object and labels.ndim == 2:
        if class_names is None:
            names = [str(i) for i in range(labels.shape[1])]
        else:
            names = [str(c) for c in class_names]
            if len(names) != labels.shape[1]:
                raise ValueError(
                    f"the indicator matrix has {labels.shape[1]} columns but there are "
                    f"{len(names)} class names"
                )
        return _from_indicator(labels, names, ids), names
    return list(labels), None if class_names is None else [str(c) for c in class_names]


def _from_indicator(matrix: Any, names: list[str], ids: Sequence[Hashable] | None) -> list[Any]:
    m = np.asarray(matrix, dtype=float)
    index = pd.Index(range(len(m)) if ids is None else list(ids))
    bad = ~np.isin(m, (0.0, 1.0)).all(axis=1)
    if bad.any():
        raise ValueError(
            f"an indicator matrix holds only 0 and 1; samples {v.listed(index[bad])} hold "
            "other values (NaN or probabilities?)"
        )
    cls = np.asarray(names, dtype=object)
    return [tuple(cls[row > 0.5]) for row in m]


def labels_column(
    values: pd.Series, class_names: Sequence[str] | None
) -> tuple[pd.Series, list[str]]:
    """``values`` (one collection of class names or indices per sample, or None) as tuples of
    class names in class order, and the class names (inferred, sorted, when not given).

    Raises naming the sample for a string cell, a class listed twice, or an unknown class.
    """
    rep: list[Hashable] = []
    flat: list[Any] = []
    cells: list[bool] = []  # whether the sample is labelled
    for sid, cell in values.items():
        if missing_cell(cell):
            cells.append(False)
            continue
        if isinstance(cell, (str, bytes)) or not isinstance(cell, _COLLECTIONS):
            raise ValueError(
                f"samples.labels of sample {v.show(sid)} is {cell!r}: give a list of class "
                "names or indices per sample (split delimited strings first)"
            )
        items = list(cell.ravel()) if isinstance(cell, np.ndarray) else list(cell)
        cells.append(True)
        rep.extend([sid] * len(items))
        flat.extend(items)
    names_in = _names(flat, rep, class_names)
    if class_names is None:
        class_names = sorted(set(names_in), key=natural_key)
    names = [str(c) for c in class_names]
    order = {c: i for i, c in enumerate(names)}
    codes = names_in.map(order).to_numpy(dtype=np.int64) if len(names_in) else np.zeros(0, int)
    frame = pd.DataFrame({"id": rep, "code": codes})
    dup = frame.duplicated()
    if dup.any():
        sid, code = frame.loc[dup.to_numpy()].iloc[0]
        raise ValueError(
            f"samples.labels of sample {v.show(sid)} lists class {names[code]!r} twice "
            f"(samples {v.listed(frame.loc[dup.to_numpy(), 'id'].unique())}); for 0/1 "
            "indicator rows pass a 2-D numpy array or DataFrame"
        )
    by_id: dict[Hashable, list[int]] = {}
    for sid, code in zip(rep, codes.tolist(), strict=True):
        by_id.setdefault(sid, []).append(code)
    cls = np.asarray(names, dtype=object)
    out = [
        tuple(cls[sorted(by_id.get(sid, []))]) if has else None
        for sid, has in zip(values.index, cells, strict=True)
    ]
    return pd.Series(out, index=values.index, name=LABELS, dtype=object), names


def _names(flat: list[Any], rep: list[Hashable], class_names: Sequence[str] | None) -> pd.Series:
    """Class names of the listed classes (``rep``: each one's sample id). As for single labels,
    integers are indices into ``class_names`` unless every one of them is also a class name."""
    s = pd.Series(flat, dtype=object)
    gone = s.map(missing).to_numpy(dtype=bool)
    if gone.any():
        bad = pd.Index(rep)[gone].unique()
        raise ValueError(
            f"a missing class (None/NaN) inside samples.labels of samples {v.listed(bad)}"
        )
    is_int = s.map(_whole_number).to_numpy(dtype=bool)
    text = s.map(lambda x: str(int(x)) if _whole_number(x) else str(x)).astype(object)
    if class_names is None:
        return text
    names = [str(c) for c in class_names]
    if is_int.any() and not (is_int.all() and text.isin(names).all()):
        codes = np.array([int(x) for x in s[is_int]], dtype=np.int64)
        out_of_range = (codes < 0) | (codes >= len(names))
        if out_of_range.any():
            pos = np.flatnonzero(is_int)[out_of_range]
            rows = ", ".join(f"{v.show(rep[i])} ({s[i]})" for i in pos[: v.MAX_LISTED])
            raise ValueError(
                f"unknown class index in samples.labels: sample {rows}; there are "
                f"{len(names)} classes"
            )
        text[is_int] = np.asarray(names, dtype=object)[codes]
    unknown = ~text.isin(names).to_numpy()
    if unknown.any():
        pos = np.flatnonzero(unknown)
        rows = ", ".join(f"{v.show(rep[i])} ({s[i]!r})" for i in pos[: v.MAX_LISTED])
        raise ValueError(
            f"unknown class in samples.labels: sample {rows}; known classes are {names[:20]}"
        )
    return text


def _whole_number(x: Any) -> bool:
    return (
        isinstance(x, (int, float, np.integer, np.floating))
        and not isinstance(x, (bool, np.bool_))
        and float(x).is_integer()
    )


def with_labels(
    samples: pd.DataFrame, class_names: list[str] | None
) -> tuple[pd.DataFrame, list[str]]:
    """``samples`` with its ``labels`` column checked and normalised, and the class names."""
    if "label" in samples.columns and samples["label"].notna().any():
        raise ValueError(
            "samples have both a 'label' column (one class per sample) and a 'labels' column "
            "(multi-label); keep one"
        )
    samples[LABELS], names = labels_column(samples[LABELS], class_names)
    return samples, names


def indicator(labels: pd.Series, class_names: Sequence[str]) -> np.ndarray:
    """N x C uint8 indicator matrix of label tuples (every sample must be labelled)."""
    order = {c: i for i, c in enumerate(class_names)}
    out = np.zeros((len(labels), len(class_names)), dtype=np.uint8)
    for r, cell in enumerate(labels.to_numpy(dtype=object)):
        if missing_cell(cell):
            raise ValueError(f"sample {v.show(labels.index[r])} has no labels")
        out[r, [order[c] for c in cell]] = 1
    return out


def sets_from_indicator(
    matrix: np.ndarray, class_names: Sequence[str], index: pd.Index
) -> pd.Series:
    """Label tuples (class order) from an N x C boolean matrix."""
    cls = np.asarray(list(class_names), dtype=object)
    return pd.Series(
        [tuple(cls[row]) for row in np.asarray(matrix, dtype=bool)], index=index, dtype=object
    )


def thresholds(threshold: Any, class_names: Sequence[str]) -> np.ndarray:
    """Per-class decision thresholds from one number, a sequence (one per class) or a mapping
    class name -> threshold (unnamed classes keep 0.5)."""
    names = list(class_names)
    if isinstance(threshold, Mapping):
        unknown = [k for k in threshold if str(k) not in names]
        if unknown:
            raise ValueError(
                f"thresholds for unknown classes {unknown[:10]}; classes are {names[:20]}"
            )
        out = np.full(len(names), THRESHOLD)
        for k, t in threshold.items():
            out[names.index(str(k))] = float(t)
    elif np.ndim(threshold) == 0:
        out = np.full(len(names), float(threshold))
    else:
        out = np.asarray(threshold, dtype=float).ravel()
        if len(out) != len(names):
            raise ValueError(f"{len(out)} thresholds given for {len(names)} classes")
    bad = ~((out >= 0) & (out <= 1))
    if bad.any():
        raise ValueError(
            f"thresholds must be in [0, 1]; got {out[bad][0]} for class {names[int(np.flatnonzero(bad)[0])]!r}"
        )
    return out


@dataclass
class MultiLabelRun:
    """Per-sample, per-class independent probabilities of a multi-label classifier (sigmoid
    outputs: a row need not sum to 1).

    ``scores`` is indexed by sample id with one column per class, values in [0, 1]. A class is
    predicted when its score is at least the threshold (:meth:`predicted_labels`).
    """

    name: str
    scores: pd.DataFrame
    created: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz="UTC"))
    kind: str = "multilabel"

    def __len__(self) -> int:
        return len(self.scores)

    def __repr__(self) -> str:
        return f"MultiLabelRun({self.name!r}, {len(self)} samples, {self.scores.shape[1]} classes)"

    def predicted_labels(self, threshold: Any = THRESHOLD) -> pd.Series:
        """Predicted label tuples: the classes whose score is at least ``threshold`` (one
        number, one per class, or a mapping class -> threshold)."""
        t = thresholds(threshold, list(self.scores.columns))
        return sets_from_indicator(
            self.scores.to_numpy() >= t, list(self.scores.columns), self.scores.index
        )


def multilabel_run(
    name: str, predictions: Any, sample_ids: pd.Index, class_names: Sequence[str]
) -> MultiLabelRun:
    """Validate a multi-label model's per-class probabilities and wrap them as a run.

    ``predictions``: an N x C array in samples order, or a DataFrame indexed by sample id with
    one column per class (any subset of the samples).
    """
    names = list(class_names)
    if isinstance(predictions, pd.DataFrame):
        frame = predictions.rename(columns=str)
        v.check_unique_ids(frame.index, "sample (in predictions)")
        v.check_known_ids(frame.index, sample_ids, "sample (in predictions)")
        lacking = [c for c in names if c not in frame.columns]
        if lacking:
            raise ValueError(
                f"run {name!r}: a multi-label predictions DataFrame needs one probability "
                f"column per class; missing {lacking[:10]}"
            )
        index = frame.index
        arr = frame[names].to_numpy(dtype=float, na_value=np.nan)
    else:
        arr = np.asarray(predictions, dtype=float) if not isinstance(predictions, str) else None
        if arr is None or arr.ndim != 2:
            raise ValueError(
                f"run {name!r}: a multi-label dataset needs per-class probabilities, an "
                f"(samples x classes) array or a DataFrame by sample id; got "
                f"{'shape ' + str(arr.shape) if arr is not None else repr(predictions)}"
            )
        v.check_same_length(f"predictions of run {name!r}", arr, "samples", sample_ids)
        if arr.shape[1] != len(names):
            raise ValueError(
                f"run {name!r}: probabilities have {arr.shape[1]} columns but the dataset has "
                f"{len(names)} classes"
            )
        index = sample_ids
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise ValueError(
            f"run {name!r}: NaN or infinite probabilities for samples {v.listed(index[bad])}"
        )
    out = ((arr < 0) | (arr > 1)).any(axis=1)
    if out.any():
        raise ValueError(
            f"run {name!r}: probabilities outside [0, 1] for samples {v.listed(index[out])} "
            "(pass sigmoid outputs, not logits)"
        )
    scores = pd.DataFrame(arr, index=pd.Index(index, name="id"), columns=names)
    return MultiLabelRun(name, scores)
