"""Worst slices: small conjunctions of metric ranges and classes where errors concentrate.

Scoring follows SliceLine (Sagadeeva & Boehm, SIGMOD 2021): with ``n`` items, overall error
rate ``e``, and a slice of ``s`` items with error rate ``e_s``,

    score = alpha * (e_s / e - 1) - (1 - alpha) * (n / s - 1)

which rewards slices that are both much worse than average and large (``alpha`` trades the
two; 0.95 as in the paper). Predicates are one-hot: each metric is cut into ``bins`` quantile
ranges (booleans by value), plus one predicate per class (multi-label: "the sample is labelled
with the class"). Slices of one predicate and pairs of
predicates on different columns are scored exhaustively with two matrix products; with
``max_order=3`` the best pairs are extended by a third predicate. Slices below ``min_support``
items are dropped, and so is a slice that is no worse than one of its parents (that parent
already explains it).

Multi-label runs are scored per sample (error: the predicted set is not exactly the true set);
semantic segmentation runs per image with the error ``1 - mIoU`` of the image, a number rather
than a flag, which SliceLine's score takes as it is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._items import evaluated_items
from ._stats import assign_bins, is_discrete, mean_interval, quantile_edges, wilson_interval

if TYPE_CHECKING:
    from ..core import DatasetCore


@dataclass(frozen=True)
class Predicate:
    column: str
    lower: float | None = None  # inclusive; None = open
    upper: float | None = None  # exclusive (inclusive when ``closed``); None = open
    value: Any = None  # for discrete columns
    closed: bool = False
    contains: bool = False  # multi-label: ``value`` is one of the column's classes

    def describe(self) -> str:
        c = self.column
        if self.contains:
            return f"{self.value!r} in {c}"
        if self.value is not None:
            return f"{c} == {self.value!r}"
        if self.lower is None:
            return f"{c} < {self.upper:.4g}"
        if self.upper is None:
            return f"{c} >= {self.lower:.4g}"
        op = "<=" if self.closed else "<"
        return f"{self.lower:.4g} <= {c} {op} {self.upper:.4g}"

    def query(self) -> str:
        c = f"`{self.column}`"
        if self.contains:  # tuples of class names: joined, then matched between separators
            sep = "|" if "|" not in str(self.value) else "\x1f"
            esc = re.escape(sep)
            pattern = f"(?:^|{esc}){re.escape(str(self.value))}(?:{esc}|$)"
            return f"{c}.str.join({sep!r}).str.contains({pattern!r}, na=False)"
        if self.value is not None:
            return f"{c} == {self.value!r}"
        parts = []
        if self.lower is not None:
            parts.append(f"{c} >= {self.lower!r}")
        if self.upper is not None:
            parts.append(f"{c} {'<=' if self.closed else '<'} {self.upper!r}")
        return " and ".join(parts)


def _predicates(
    frame: pd.DataFrame, columns: list[str], bins: int, class_names: list[str] | None = None
) -> tuple[np.ndarray, list[Predicate], np.ndarray]:
    """One-hot predicate matrix (n x p, bool), the predicates, and the column index of each."""
    class_order = {c: i for i, c in enumerate(class_names or [])}
    blocks: list[np.ndarray] = []
    preds: list[Predicate] = []
    owner: list[int] = []
    for j, col in enumerate(columns):
        values = frame[col]
        if col == "labels":  # multi-label: one predicate per class present
            cells = values.to_numpy(dtype=object)
            for level in sorted({c for cell in cells for c in cell}, key=class_order.get):
                blocks.append(np.fromiter((level in x for x in cells), bool, count=len(cells)))
                preds.append(Predicate(col, value=level, contains=True))
                owner.append(j)
            continue
        if col == "label" or is_discrete(values):
            v = values.astype(object).to_numpy()
            levels = [x for x in pd.unique(values.dropna().astype(object))]
            for level in levels:
                mask = v == level
                if isinstance(level, (bool, np.bool_)):
                    level = bool(level)
                elif isinstance(level, (np.integer, np.floating)):
                    level = level.item()
                    if isinstance(level, float) and level.is_integer() and col != "label":
                        level = float(level)
                blocks.append(mask)
                preds.append(Predicate(col, value=level))
                owner.append(j)
            continue
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        edges = quantile_edges(x, bins)
        if len(edges) < 3:
            continue  # a constant column splits nothing
        codes = assign_bins(x, edges)
        k = len(edges) - 1
        for b in range(k):
            lower = None if b == 0 else float(edges[b])
            upper = None if b == k - 1 else float(edges[b + 1])
            blocks.append(codes == b)
            preds.append(Predicate(col, lower, upper))
            owner.append(j)
    if not blocks:
        return np.zeros((len(frame), 0), dtype=bool), [], np.zeros(0, dtype=int)
    return np.column_stack(blocks), preds, np.asarray(owner)


def _score(size: np.ndarray, errors: np.ndarray, n: int, e_bar: float, alpha: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = alpha * ((errors / size) / e_bar - 1.0) - (1.0 - alpha) * (n / size - 1.0)
    return np.where(size > 0, sc, -np.inf)


def worst_slices(
    ds: DatasetCore,
    run: Any = None,
    metrics: Iterable[str] | None = None,
    *,
    bins: int = 4,
    max_order: int = 2,
    min_support: int | float | None = None,
    top: int = 10,
    alpha: float = 0.95,
    include_classes: bool = True,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The slices (conjunctions of metric ranges and classes) where the run errs most.

    Parameters
    ----------
    run
        Run name (the only run when omitted) or an evaluation from ``ds.evaluate``.
    metrics
        Metric columns to slice by (default: every computed metric and issue flag).
    bins
        Quantile ranges per metric (4: quartiles).
    max_order
        Largest number of predicates in a slice (1, 2 or 3).
    min_support
        Smallest slice: a count, or a fraction of the items (default ``max(10, 1%)``).
    top
        How many slices to return.
    alpha
        SliceLine's weight of error rate versus size (see the module docstring).
    include_classes
        Add one predicate per class (``label == c``; multi-label: ``c in labels``).
    confidence
        Level of the Wilson interval of each slice's error rate.

    Returns
    -------
    DataFrame
        Best first: ``slice`` (readable), ``size``, ``support`` (share of items), ``errors``,
        ``error_rate`` (+ ``_low`` / ``_high``), ``lift`` (error rate / overall error rate),
        ``score``, ``order``, ``query`` (a ``DataFrame.query`` string; for classification it
        selects the slice from ``ds.samples``), ``conditions`` (the predicates), and for
        detection ``target``: ``"fn"`` slices of ground-truth boxes (error: missed), ``"fp"``
        slices of predicted boxes (error: false positive). Multi-label: errors are samples
        whose predicted set is not exactly right, plus ``jaccard`` and ``hamming`` (their means
        in the slice); the query selects from ``ds.samples``. Semantic segmentation: the error
        of an image is ``1 - mIoU``, so ``errors`` is their sum, ``error_rate`` their mean
        (interval: normal approximation) and the slice's mean ``miou`` is added.
    """
    if max_order not in (1, 2, 3):
        raise ValueError(f"max_order must be 1, 2 or 3, got {max_order!r}")
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    items = evaluated_items(ds, run, metrics)
    frame = items.frame
    klass = {"classification": ["label"], "detection": ["label"], "multilabel": ["labels"]}
    columns = list(items.metrics) + (klass.get(items.task, []) if include_classes else [])
    extra = {"multilabel": ["jaccard", "hamming"], "semantic": ["miou"]}.get(items.task, [])
    if items.per_sample:
        groups = [(None, frame)]
    else:
        groups = [
            ("fn", frame[frame["kind"] == "ground_truth"]),
            ("fp", frame[frame["kind"] == "prediction"]),
        ]
    results = []
    for target, part in groups:
        found = _find(
            part, columns, bins, max_order, min_support, alpha, confidence, ds.class_names, extra
        )
        if items.task == "detection":
            found.insert(0, "target", target)
        results.append(found)
    out = pd.concat(results, ignore_index=True) if results else pd.DataFrame()
    if len(out):
        out = out.sort_values("score", ascending=False, kind="stable").head(top)
        out = out.reset_index(drop=True)
    out.attrs.update({"run": items.run, "task": items.task})
    return out


def _support(min_support: int | float | None, n: int) -> int:
    if min_support is None:
        return max(10, math.ceil(0.01 * n))
    if isinstance(min_support, float) and 0 < min_support < 1:
        return max(1, math.ceil(min_support * n))
    if min_support < 1:
        raise ValueError(f"min_support must be >= 1 or a fraction in (0, 1), got {min_support}")
    return int(min_support)


_COLUMNS = [
    "slice",
    "size",
    "support",
    "errors",
    "error_rate",
    "error_rate_low",
    "error_rate_high",
    "lift",
    "score",
    "order",
    "query",
    "conditions",
]


def _find(
    frame: pd.DataFrame,
    columns: list[str],
    bins: int,
    max_order: int,
    min_support: int | float | None,
    alpha: float,
    confidence: float,
    class_names: list[str] | None = None,
    extra: list[str] | None = None,
) -> pd.DataFrame:
    n = len(frame)
    binary = pd.api.types.is_bool_dtype(frame["error"])
    err = frame["error"].to_numpy(dtype=float)
    if n == 0 or not (err > 0).any():
        return pd.DataFrame(columns=_COLUMNS)
    sigma = _support(min_support, n)
    e_bar = float(err.mean())
    X, preds, owner = _predicates(frame, columns, bins, class_names)
    if not preds:
        return pd.DataFrame(columns=_COLUMNS)
    Xf = X.astype(np.float32)
    ef = err.astype(np.float32)
    size1 = X.sum(axis=0).astype(float)
    err1 = (ef @ Xf).astype(float)
    rate1 = np.where(size1 > 0, err1 / np.maximum(size1, 1), 0.0)
    found: list[tuple[tuple[int, ...], float, float]] = []  # (predicates, size, errors)
    ok1 = size1 >= sigma
    for i in np.flatnonzero(ok1):
        found.append(((int(i),), size1[i], err1[i]))
    if max_order >= 2 and len(preds) > 1:
        size2 = (Xf.T @ Xf).astype(float)
        err2 = ((Xf * ef[:, None]).T @ Xf).astype(float)
        iu, ju = np.triu_indices(len(preds), k=1)
        keep = (owner[iu] != owner[ju]) & (size2[iu, ju] >= sigma)
        iu, ju = iu[keep], ju[keep]
        s2, e2 = size2[iu, ju], err2[iu, ju]
        rate2 = e2 / s2
        better = (rate2 > rate1[iu]) & (rate2 > rate1[ju])
        iu, ju, s2, e2 = iu[better], ju[better], s2[better], e2[better]
        pair_scores = _score(s2, e2, n, e_bar, alpha)
        for a, b, s, e in zip(iu, ju, s2, e2, strict=True):
            found.append(((int(a), int(b)), s, e))
        if max_order >= 3 and len(iu):
            best = np.argsort(-pair_scores)[:200]
            masks = (X[:, iu[best]] & X[:, ju[best]]).astype(np.float32)  # n x m
            size3 = masks.T @ Xf  # m x p
            err3 = (masks * ef[:, None]).T @ Xf
            for r, pair in enumerate(best):
                a, b = int(iu[pair]), int(ju[pair])
                parent_rate = e2[pair] / s2[pair]
                for c in np.flatnonzero(size3[r] >= sigma):
                    if owner[c] in (owner[a], owner[b]):
                        continue
                    s, e = float(size3[r, c]), float(err3[r, c])
                    if e / s > parent_rate and e / s > rate1[c]:
                        found.append((tuple(sorted((a, b, int(c)))), s, e))
    if not found:
        return pd.DataFrame(columns=_COLUMNS)
    uniq: dict[tuple[int, ...], tuple[float, float]] = {}
    for key, s, e in found:
        uniq[key] = (s, e)
    keys = list(uniq)
    sizes = np.array([uniq[k][0] for k in keys])
    errors = np.array([uniq[k][1] for k in keys])
    scores = _score(sizes, errors, n, e_bar, alpha)
    lo, hi = wilson_interval(errors, sizes, confidence)
    rows = []
    for k, s, e, sc, lw, hg in zip(keys, sizes, errors, scores, lo, hi, strict=True):
        conds = [preds[i] for i in k]
        rows.append(
            {
                "slice": " & ".join(p.describe() for p in conds),
                "size": int(s),
                "support": s / n,
                "errors": int(round(e)) if binary else float(e),
                "error_rate": e / s,
                "error_rate_low": lw,
                "error_rate_high": hg,
                "lift": (e / s) / e_bar,
                "score": float(sc),
                "order": len(k),
                "query": " and ".join(p.query() for p in conds),
                "conditions": conds,
                "_key": k,
            }
        )
    out = pd.DataFrame(rows, columns=[*_COLUMNS, "_key"])
    out = out[out["score"] > 0].sort_values(["score", "order"], ascending=[False, True])
    out = _drop_same_members(out.head(500), X, frame, extra or [])
    if not binary and len(out):  # mean error: a normal interval instead of Wilson's
        masks = [X[:, list(k)].all(axis=1) for k in out["_key"]]
        sq = err * err
        lo, hi = mean_interval(
            out["errors"].to_numpy(float),
            np.array([sq[m].sum() for m in masks]),
            out["size"].to_numpy(float),
            confidence,
        )
        out["error_rate_low"], out["error_rate_high"] = lo, hi
    return out.drop(columns="_key")


def _drop_same_members(
    out: pd.DataFrame, X: np.ndarray, frame: pd.DataFrame, extra: list[str]
) -> pd.DataFrame:
    """Keep the best of slices that select exactly the same items (correlated metrics such
    as ``brightness`` and ``mean_red`` often cut out the same dark images), and add the mean
    of each ``extra`` column of ``frame`` in each slice."""
    seen: set[bytes] = set()
    keep = []
    means: dict[str, list[float]] = {c: [] for c in extra}
    values = {c: frame[c].to_numpy(dtype=float) for c in extra}
    for key in out["_key"]:
        mask = X[:, list(key)].all(axis=1)
        packed = np.packbits(mask).tobytes()
        keep.append(packed not in seen)
        seen.add(packed)
        for c in extra:
            means[c].append(float(values[c][mask].mean()))
    for c in extra:
        out[c] = means[c]
    return out[np.asarray(keep, dtype=bool)] if len(out) else out
