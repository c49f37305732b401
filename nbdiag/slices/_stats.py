"""Small statistics helpers: Wilson score intervals and quantile binning."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm


def wilson_interval(
    successes: np.ndarray | float, n: np.ndarray | float, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion ``successes / n``.

    With ``p = k / n`` and ``z`` the normal quantile of ``(1 + confidence) / 2``:
    ``(p + z^2 / 2n -+ z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n)``. NaN where
    ``n == 0``. Unlike the normal approximation it stays inside [0, 1] and is sensible for
    small bins and proportions near 0 or 1.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = float(norm.ppf(0.5 + confidence / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    hi = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return lo, hi


def is_discrete(values: pd.Series, max_levels: int = 12) -> bool:
    """Booleans, categoricals, strings, and integers with few levels are grouped by value."""
    if pd.api.types.is_bool_dtype(values) or isinstance(values.dtype, pd.CategoricalDtype):
        return True
    if not pd.api.types.is_numeric_dtype(values):
        return True
    v = values.dropna()
    return bool(len(v) and np.allclose(v, np.round(v)) and v.nunique() <= max_levels)


def quantile_edges(values: np.ndarray, bins: int | Sequence[float]) -> np.ndarray:
    """Bin edges: ``bins`` quantile bins (ties merged), or the given edges (sorted)."""
    v = values[np.isfinite(values)]
    if not isinstance(bins, (int, np.integer)):
        edges = np.unique(np.asarray(bins, dtype=float))
        if len(edges) < 2:
            raise ValueError("bins as edges needs at least two distinct values")
        return edges
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if not len(v):
        return np.array([0.0, 1.0])
    edges = np.unique(np.quantile(v, np.linspace(0, 1, int(bins) + 1)))
    if len(edges) == 1:
        edges = np.array([edges[0], edges[0]])
    return edges


def assign_bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index per value (``-1`` for NaN or outside the edges): bins are ``[lo, hi)`` and
    the last is closed, ``[lo, hi]``."""
    idx = np.searchsorted(edges, values, side="right") - 1
    idx = np.where(values == edges[-1], len(edges) - 2, idx)
    bad = ~np.isfinite(values) | (values < edges[0]) | (values > edges[-1])
    idx = np.where(bad, -1, idx)
    return np.clip(idx, -1, max(len(edges) - 2, 0))


def mean_interval(
    total: np.ndarray | float,
    total_sq: np.ndarray | float,
    n: np.ndarray | float,
    confidence: float = 0.95,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Normal-approximation interval of a mean from the sum, the sum of squares and the count
    of the values: ``mean -+ z s / sqrt(n)`` with ``s`` the sample standard deviation, clipped
    to ``bounds``. NaN where ``n < 2``."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    t, t2 = np.asarray(total, dtype=float), np.asarray(total_sq, dtype=float)
    n = np.asarray(n, dtype=float)
    z = float(norm.ppf(0.5 + confidence / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = t / n
        var = np.maximum(t2 - n * mean * mean, 0.0) / (n - 1)
        half = z * np.sqrt(var / n)
    lo = np.where(n > 1, np.clip(mean - half, *bounds), np.nan)
    hi = np.where(n > 1, np.clip(mean + half, *bounds), np.nan)
    return lo, hi
