"""Dataset methods that run an analysis module and write its results into the tables.

Each method is a thin, documented entry point; the work lives in ``nbdiag.metrics``,
``nbdiag.slices`` (and further analysis packages). Kept apart from ``dataset.py`` so the data
model stays small."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from .dataset import Dataset


class AnalysesMixin:
    """Quality metrics and performance breakdowns (mixed into :class:`~nbdiag.Dataset`)."""

    # ------------------------------------------------------------------ quality metrics
    def compute_metrics(
        self: Dataset,
        names: list[str] | str | None = None,
        *,
        client: Any = None,
        workers: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        progress: bool = True,
        thresholds: dict[str, float] | None = None,
    ) -> pd.DataFrame:
        """Compute quality metrics (all registered ones, or ``names``) and add them as columns of
        ``samples`` / ``objects``, with the issue flags (``dark``, ``blurry``, ``near_duplicate``
        …). Runs in parallel processes (or on a Dask ``client``), cached by image content.

        Returns a DataFrame of per-item errors (empty when every image was readable).
        See :func:`nbdiag.metrics.compute_metrics`.
        """
        from .metrics import compute_metrics

        return compute_metrics(
            self,
            names,
            client=client,
            workers=workers,
            cache_dir=cache_dir,
            progress=progress,
            thresholds=thresholds,
        )

    def flag_issues(self: Dataset, thresholds: dict[str, float] | None = None) -> pd.DataFrame:
        """Re-derive the boolean issue flags from computed metrics with new ``thresholds``."""
        from .metrics import apply_flags

        return apply_flags(self, thresholds)

    # ------------------------------------------------------------------ breakdowns
    def performance_by(
        self: Dataset,
        metric: str,
        run: Any = None,
        bins: int = 10,
        *,
        confidence: float = 0.95,
    ) -> pd.DataFrame:
        """Performance of ``run`` in quantile bins of ``metric``, with Wilson intervals.
        See :func:`nbdiag.slices.performance_by`."""
        from .slices import performance_by

        return performance_by(self, metric, run, bins, confidence=confidence)

    def metric_importance(
        self: Dataset,
        run: Any = None,
        metrics: list[str] | None = None,
        *,
        include_predictions: bool = False,
        random_state: int = 0,
    ) -> pd.DataFrame:
        """Rank metrics by how strongly they relate to the run's errors (mutual information and
        rank correlation). See :func:`nbdiag.slices.metric_importance`."""
        from .slices import metric_importance

        return metric_importance(
            self, run, metrics, include_predictions=include_predictions, random_state=random_state
        )

    def worst_slices(
        self: Dataset,
        run: Any = None,
        metrics: list[str] | None = None,
        *,
        bins: int = 4,
        max_order: int = 2,
        min_support: int | None = None,
        top: int = 10,
        alpha: float = 0.95,
        include_classes: bool = True,
        confidence: float = 0.95,
    ) -> pd.DataFrame:
        """Small conjunctions of metric ranges and classes where the run does worst, with size,
        error rate and lift. See :func:`nbdiag.slices.worst_slices`."""
        from .slices import worst_slices

        return worst_slices(
            self,
            run,
            metrics,
            bins=bins,
            max_order=max_order,
            min_support=min_support,
            top=top,
            alpha=alpha,
            include_classes=include_classes,
            confidence=confidence,
        )
