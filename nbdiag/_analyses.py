"""Dataset methods that run an analysis module and write its results into the tables.

Each method is a thin, documented entry point; the work lives in ``nbdiag.metrics``,
``nbdiag.slices`` (and further analysis packages). Kept apart from ``dataset.py`` so the data
model stays small."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pandas as pd

from .core._tables import add_issues
from .core.thumbnails import make_thumbnails
from .embeddings import (
    compute_uniqueness,
    embed,
    find_duplicates,
    find_leakage,
    find_outliers,
    get_embeddings,
    project,
    set_embeddings,
    similar,
)
from .issues import find_label_issues, out_of_fold_probabilities
from .metrics import apply_flags, compute_metrics
from .selection import apply_labeling_functions, select_for_labeling
from .slices import metric_importance, performance_by, quality_by, worst_slices

if TYPE_CHECKING:
    from .core import DatasetCore


class AnalysesMixin:
    """Quality metrics and performance breakdowns (mixed into :class:`~nbdiag.Dataset`)."""

    # ------------------------------------------------------------------ quality metrics
    def compute_metrics(
        self: DatasetCore,
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

        Returns a DataFrame of per-item errors (empty when every image was readable);
        its ``attrs["images"]`` says how many images came from the cache and how many were
        computed. See :func:`nbdiag.metrics.compute_metrics`.
        """
        return compute_metrics(
            self,
            names,
            client=client,
            workers=workers,
            cache_dir=cache_dir,
            progress=progress,
            thresholds=thresholds,
        )

    def flag_issues(self: DatasetCore, thresholds: dict[str, float] | None = None) -> pd.DataFrame:
        """Re-derive the boolean issue flags (and ``flag_reasons``) from computed metrics with
        new ``thresholds``: a sensitivity knob per calibrated flag (``{"dark_z": 3}``: lower
        flags more) or a fixed threshold (``{"dark": 0.15}``); see
        :func:`nbdiag.metrics.flag_thresholds` and :data:`nbdiag.metrics.DEFAULT_THRESHOLDS`.
        Returns the flag columns; ``.attrs["thresholds"]`` has each flag's threshold."""
        return apply_flags(self, thresholds)

    def make_thumbnails(
        self: DatasetCore,
        ids: Any = None,
        size: int = 128,
        fmt: str = "WEBP",
        *,
        client: Any = None,
        workers: int | None = None,
        progress: bool = True,
    ) -> pd.DataFrame:
        """Make the thumbnails of many samples (all, or ``ids``) ahead of the views, into the
        on-disk thumbnail cache: in local worker processes, or on a Dask ``client``'s cluster
        (workers must see the image files). Files that cannot be decoded are returned (``id``,
        ``issue``, ``detail``) and recorded in ``samples.issues``, never raised;
        ``attrs["thumbnails"]`` counts cached / made / failed. See
        :func:`nbdiag.core.thumbnails.make_thumbnails`."""
        problems = make_thumbnails(
            self, ids, size, fmt, client=client, workers=workers, progress=progress
        )
        add_issues(self.samples, problems["id"], problems["issue"])
        return problems

    # ------------------------------------------------------------------ breakdowns
    def performance_by(
        self: DatasetCore,
        metric: str,
        run: Any = None,
        bins: int = 10,
        *,
        confidence: float = 0.95,
    ) -> pd.DataFrame:
        """Performance of ``run`` in quantile bins of ``metric``, with Wilson intervals
        (multi-label: subset accuracy, mean Jaccard / hamming and micro F1 per bin; semantic
        segmentation: mean per-image mIoU). See :func:`nbdiag.slices.performance_by`."""
        return performance_by(self, metric, run, bins, confidence=confidence)

    def quality_by(
        self: DatasetCore,
        by: str = "annotator",
        run: str | None = None,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """Label quality per annotator (or per any column: ``"split"``, a metric): labels made,
        share flagged as likely errors with its interval, agreement with the model, box fit.
        See :func:`nbdiag.slices.quality_by`."""
        return quality_by(self, by, run, **kwargs)

    def metric_importance(
        self: DatasetCore,
        run: Any = None,
        metrics: list[str] | None = None,
        *,
        include_predictions: bool = False,
        random_state: int = 0,
    ) -> pd.DataFrame:
        """Rank metrics by how strongly they relate to the run's errors (mutual information and
        rank correlation). See :func:`nbdiag.slices.metric_importance`."""
        return metric_importance(
            self, run, metrics, include_predictions=include_predictions, random_state=random_state
        )

    def worst_slices(
        self: DatasetCore,
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
        error rate and lift (multi-label: samples not exactly right, classes as ``'c' in
        labels``; semantic: ``1 - mIoU`` per image). See :func:`nbdiag.slices.worst_slices`."""
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


class EmbeddingAnalysesMixin:
    """Embeddings, neighbours, label issues and active learning (mixed into
    :class:`~nbdiag.Dataset`). Each method passes its arguments to the function of the same
    name in ``nbdiag.embeddings``, ``nbdiag.issues`` or ``nbdiag.selection``; see those for
    every parameter."""

    def embed(self: DatasetCore, model: Any, layer: str | None = None, **kwargs: Any) -> Any:
        """Embeddings of every image (or box crop, ``level="object"``) from any
        ``torch.nn.Module``: its output, or a named layer via a forward hook; batched, eval mode,
        no grad, float32, cached on disk by model weights and data.
        See :func:`nbdiag.embeddings.embed`."""
        return embed(self, model, layer, **kwargs)

    def set_embeddings(self: DatasetCore, embeddings: Any, **kwargs: Any) -> Any:
        """Bring your own embeddings (one row per sample, or ``ids=``)."""
        return set_embeddings(self, embeddings, **kwargs)

    def embeddings(self: DatasetCore, name: str | None = None, level: str = "sample") -> Any:
        """The stored embeddings (the last computed ones by default)."""
        return get_embeddings(self, name, level)

    def project(self: DatasetCore, method: str = "pca", **kwargs: Any) -> pd.DataFrame:
        """2-D projection (``"pca"``, ``"tsne"``, ``"umap"`` with the ``umap`` extra) written to
        ``samples.embedding_x`` / ``embedding_y``; seeded and reproducible."""
        return project(self, method, **kwargs)

    def similar(self: DatasetCore, ids: Any, k: int = 10, **kwargs: Any) -> pd.DataFrame:
        """The ``k`` nearest neighbours of ``ids`` in embedding space ("find more like these")."""
        return similar(self, ids, k, **kwargs)

    def find_duplicates(
        self: DatasetCore, threshold: float | None = None, **kwargs: Any
    ) -> pd.DataFrame:
        """Near-duplicate groups by embedding distance (``samples.duplicate_group``)."""
        return find_duplicates(self, threshold, **kwargs)

    def find_leakage(
        self: DatasetCore, threshold: float | None = None, **kwargs: Any
    ) -> pd.DataFrame:
        """Near duplicates across splits (train vs test leakage)."""
        return find_leakage(self, threshold, **kwargs)

    def compute_uniqueness(self: DatasetCore, k: int = 10, **kwargs: Any) -> pd.DataFrame:
        """Uniqueness and outlier scores as columns of ``samples``."""
        return compute_uniqueness(self, k, **kwargs)

    def find_outliers(
        self: DatasetCore, top: int | None = None, k: int = 10, **kwargs: Any
    ) -> pd.DataFrame:
        """The most isolated samples in embedding space."""
        return find_outliers(self, top, k, **kwargs)

    def find_label_issues(self: DatasetCore, run: str | None = None, **kwargs: Any) -> pd.DataFrame:
        """Likely label errors, ranked, with a suggested label and the reason: confident learning
        (cleanlab) plus neighbour disagreement for classification; missing, wrong-class,
        badly-localised and duplicate boxes for detection; cleanlab's multi-label mode (which
        classes look missing or extra) for multi-label datasets. ``iou_type="segm"``: missing,
        wrong-class, poorly drawn and duplicate object masks, matched on mask IoU (see
        :func:`nbdiag.issues.find_mask_label_issues`)."""
        return find_label_issues(self, run, **kwargs)

    def out_of_fold_probabilities(self: DatasetCore, **kwargs: Any) -> pd.DataFrame:
        """Out-of-fold class probabilities from the embeddings (cross-validated logistic
        regression), for label-issue detection when you have no model probabilities."""
        return out_of_fold_probabilities(self, **kwargs)

    def select_for_labeling(
        self: DatasetCore, budget: int, strategy: str = "hybrid", **kwargs: Any
    ) -> pd.DataFrame:
        """What to label next: ``least_confidence``, ``margin``, ``entropy``, ``k_center``,
        ``class_balanced``, ``hybrid`` (uncertainty + diversity) or ``random``; returns the
        chosen ids with the score that chose them. Multi-label runs: each class a binary
        decision (see :func:`nbdiag.selection.select_for_labeling`)."""
        return select_for_labeling(self, budget, strategy, **kwargs)

    def apply_labeling_functions(self: DatasetCore, functions: Any, **kwargs: Any) -> pd.DataFrame:
        """Apply user rules (a function of a row -> tag or None) and record the tags."""
        return apply_labeling_functions(self, functions, **kwargs)
