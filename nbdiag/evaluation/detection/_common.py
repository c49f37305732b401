"""Small numeric and table helpers shared by the evaluation's tables and summary numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

#: how many matchings / error breakdowns an evaluation keeps cached (oldest dropped first)
CACHE_SIZE = 16


def nan_div(a: np.ndarray | float, b: np.ndarray | float) -> Any:
    """``a / b`` without warnings: NaN for 0 / 0, inf for x / 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.true_divide(a, b)


def categorical(codes: np.ndarray, categories: Sequence[str]) -> pd.Categorical:
    """Categorical from integer codes (-1 = missing)."""
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=list(categories))


def f1_score(tp: Any, fp: Any, n_gt: Any) -> Any:
    """2 TP / (2 TP + FP + FN); NaN when there is neither a prediction nor a ground truth."""
    den = 2 * np.asarray(tp) + fp + (np.asarray(n_gt) - tp)
    return np.where(den > 0, nan_div(2 * np.asarray(tp), np.maximum(den, 1)), np.nan)


def put_bounded(cache: dict[Any, Any], key: Any, value: Any, size: int = CACHE_SIZE) -> Any:
    """Store ``cache[key] = value``, first dropping the oldest entry when ``size`` are held."""
    if len(cache) >= size:
        cache.pop(next(iter(cache)))
    cache[key] = value
    return value
