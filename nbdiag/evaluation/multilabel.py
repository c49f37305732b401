"""Multi-label classification evaluation: per-class AP and mAP, micro / macro / samples F1,
precision and recall, hamming loss and subset accuracy (each equal to scikit-learn's on the
indicator matrices), per-sample results for slicing, and a binary view of any one class."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from ..core import new_dataset
from ..core import validation as v
from ..core.multilabel import (
    LABELS,
    THRESHOLD,
    MultiLabelRun,
    indicator,
    label_sets,
    missing_cell,
    sets_from_indicator,
    thresholds,
)
from ._frames import summary_html
from .classification import ClassificationEvaluation

if TYPE_CHECKING:
    from ..core import DatasetCore

_EPS = 1e-15
AVERAGES = ("micro", "macro", "samples")


class MultiLabelEvaluation:
    """A multi-label classifier's results on the labelled samples of a run.

    Create it with ``ds.evaluate(run, threshold=0.5)`` or :func:`evaluate_multilabel`. A class
    is predicted when its probability is at least its threshold. Samples without labels are
    left out.

    Attributes
    ----------
    class_names : list[str]
    thresholds : Series
        The decision threshold of each class.
    per_sample : DataFrame
        Index: sample id. ``labels`` (true tuple of classes), ``predicted`` (tuple),
        ``missing`` (true classes not predicted), ``extra`` (predicted classes not true),
        ``n_labels``, ``n_predicted``, ``exact`` (predicted set equals the true set),
        ``hamming`` (share of classes wrong), ``jaccard`` (intersection over union of the two
        sets, 1 when both are empty), ``loss`` (mean binary cross-entropy over classes, nats).
    scores : DataFrame
        The per-class probabilities of the evaluated samples.
    """

    def __init__(
        self,
        y_true: pd.Series,
        scores: pd.DataFrame,
        class_names: Sequence[str],
        threshold: Any = THRESHOLD,
        run: str | None = None,
        dataset: DatasetCore | None = None,
    ):
        self.class_names = [str(c) for c in class_names]
        self.run = run
        self.dataset = dataset
        self.thresholds = pd.Series(
            thresholds(threshold, self.class_names), index=pd.Index(self.class_names, name="class")
        )
        y_true = y_true[y_true.notna()]
        lacking = y_true.index[~y_true.index.isin(scores.index)]
        if len(lacking):
            raise ValueError(f"no prediction for samples {v.listed(lacking)}")
        self.scores = scores.loc[y_true.index, self.class_names]
        self.scores.index.name = "id"
        self.y_true = indicator(y_true, self.class_names)
        self.y_score = self.scores.to_numpy(dtype=np.float64)
        self.y_pred = (self.y_score >= self.thresholds.to_numpy()).astype(np.uint8)
        self.per_sample = self._per_sample(y_true.index)

    def _per_sample(self, ids: pd.Index) -> pd.DataFrame:
        t, p, s = self.y_true.astype(bool), self.y_pred.astype(bool), self.y_score
        names = self.class_names
        inter, union = (t & p).sum(axis=1), (t | p).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            jaccard = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        sc = np.clip(s, _EPS, 1 - _EPS)
        frame = pd.DataFrame(
            {
                "labels": sets_from_indicator(t, names, ids),
                "predicted": sets_from_indicator(p, names, ids),
                "missing": sets_from_indicator(t & ~p, names, ids),
                "extra": sets_from_indicator(p & ~t, names, ids),
                "n_labels": t.sum(axis=1),
                "n_predicted": p.sum(axis=1),
                "exact": (t == p).all(axis=1),
                "hamming": (t != p).mean(axis=1),
                "jaccard": jaccard,
                "loss": -(t * np.log(sc) + (~t) * np.log(1 - sc)).mean(axis=1),
            },
            index=pd.Index(ids, name="id"),
        )
        return frame

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dataset(
        cls, ds: DatasetCore, run: str, threshold: Any = THRESHOLD
    ) -> MultiLabelEvaluation:
        """Evaluate the multi-label run ``run`` of ``ds`` against ``ds.samples.labels``."""
        r = ds._get_run(run, MultiLabelRun)
        assert isinstance(r, MultiLabelRun)
        labels = ds.samples[LABELS].reindex(r.scores.index)
        if labels.notna().sum() == 0:
            raise ValueError(f"run {run!r}: none of its samples has ground-truth labels")
        return cls(labels, r.scores, ds.class_names, threshold, run=r.name, dataset=ds)

    # ------------------------------------------------------------------ global numbers
    def _prfs(self, average: str | None) -> tuple[Any, Any, Any, Any]:
        return skm.precision_recall_fscore_support(
            self.y_true, self.y_pred, average=average, zero_division=0
        )

    def f1(self, average: str = "micro") -> float:
        """F1 over the classes: ``"micro"`` (pooled counts), ``"macro"`` (mean of the classes'
        F1) or ``"samples"`` (mean of the samples' F1); 0 where undefined."""
        return float(self._prfs(_average(average))[2])

    def precision(self, average: str = "micro") -> float:
        """Precision, averaged as :meth:`f1`."""
        return float(self._prfs(_average(average))[0])

    def recall(self, average: str = "micro") -> float:
        """Recall, averaged as :meth:`f1`."""
        return float(self._prfs(_average(average))[1])

    @cached_property
    def hamming_loss(self) -> float:
        """Share of (sample, class) decisions that are wrong."""
        return float(skm.hamming_loss(self.y_true, self.y_pred))

    @cached_property
    def subset_accuracy(self) -> float:
        """Share of samples whose predicted set equals the true set exactly."""
        return float(skm.accuracy_score(self.y_true, self.y_pred))

    @cached_property
    def mean_average_precision(self) -> float:
        """mAP: the mean of the classes' average precision, over classes with at least one
        positive sample (AP is undefined without)."""
        ap = self.per_class["average_precision"]
        return float(ap.mean()) if ap.notna().any() else float("nan")

    @cached_property
    def micro_average_precision(self) -> float:
        """Average precision of all (sample, class) scores pooled."""
        return float(skm.average_precision_score(self.y_true, self.y_score, average="micro"))

    @cached_property
    def per_class(self) -> pd.DataFrame:
        """Per class: ``average_precision`` (NaN without positives), ``precision``,
        ``recall``, ``f1`` (at the threshold; 0 where undefined), ``support`` (true count),
        ``predicted``, ``tp``, ``fp``, ``fn``, ``tn``, ``threshold``."""
        p, r, f, s = self._prfs(None)
        t, pr = self.y_true.astype(bool), self.y_pred.astype(bool)
        ap = np.full(len(self.class_names), np.nan)
        for k in np.flatnonzero(t.any(axis=0)):
            ap[k] = skm.average_precision_score(t[:, k], self.y_score[:, k])
        return pd.DataFrame(
            {
                "average_precision": ap,
                "precision": p,
                "recall": r,
                "f1": f,
                "support": s,
                "predicted": pr.sum(axis=0),
                "tp": (t & pr).sum(axis=0),
                "fp": (~t & pr).sum(axis=0),
                "fn": (t & ~pr).sum(axis=0),
                "tn": (~t & ~pr).sum(axis=0),
                "threshold": self.thresholds.to_numpy(),
            },
            index=pd.Index(self.class_names, name="class"),
        )

    # ------------------------------------------------------------------ one class
    def _class_index(self, c: str | int) -> int:
        if isinstance(c, str):
            if c not in self.class_names:
                raise ValueError(f"unknown class {c!r}; classes are {self.class_names[:20]}")
            return self.class_names.index(c)
        if not 0 <= int(c) < len(self.class_names):
            raise ValueError(f"class index {c} out of range 0..{len(self.class_names) - 1}")
        return int(c)

    def confusion(self, class_name: str | int) -> pd.DataFrame:
        """The class's 2 x 2 confusion matrix: rows true ``["not <c>", "<c>"]``, columns
        predicted (the layout of scikit-learn's ``multilabel_confusion_matrix``)."""
        k = self._class_index(class_name)
        c = self.class_names[k]
        row = self.per_class.iloc[k]
        cm = np.array([[row["tn"], row["fp"]], [row["fn"], row["tp"]]], dtype=np.int64)
        labels = [f"not {c}", c]
        return pd.DataFrame(
            cm,
            index=pd.Index(labels, name="true"),
            columns=pd.Index(labels, name="predicted"),
        )

    def for_class(self, class_name: str | int) -> ClassificationEvaluation:
        """The class as a binary classification (classes ``["not <c>", "<c>"]``, probabilities
        ``[1 - p, p]``, prediction at the class's threshold): accuracy, PR/ROC curves,
        calibration, and ``nbdiag.ConfusionMatrix(ev.for_class(c))`` with sample selection."""
        k = self._class_index(class_name)
        c = self.class_names[k]
        names = np.asarray([f"not {c}", c], dtype=object)
        ids = self.per_sample.index
        s = self.y_score[:, k]
        return ClassificationEvaluation(
            pd.Series(names[self.y_true[:, k]], index=ids),
            pd.Series(names[self.y_pred[:, k]], index=ids),
            list(names),
            probabilities=pd.DataFrame({names[0]: 1.0 - s, names[1]: s}, index=ids),
            run=self.run,
            dataset=self.dataset,
        )

    def pr_curve(self, class_name: str | int) -> pd.DataFrame:
        """The class's precision-recall curve (``precision``, ``recall``, ``threshold``), as
        scikit-learn computes it."""
        k = self._class_index(class_name)
        prec, rec, thr = skm.precision_recall_curve(self.y_true[:, k], self.y_score[:, k])
        return pd.DataFrame({"precision": prec, "recall": rec, "threshold": np.r_[thr, np.nan]})

    def samples_with(self, class_name: str | int, outcome: str = "fn") -> pd.DataFrame:
        """Evaluated samples with ``outcome`` for the class: ``"fn"`` (labelled, missed),
        ``"fp"`` (predicted, not labelled), ``"tp"`` or ``"tn"``; most confident errors first
        (``fn``: lowest probability first, else highest)."""
        k = self._class_index(class_name)
        t, p = self.y_true[:, k].astype(bool), self.y_pred[:, k].astype(bool)
        masks = {"tp": t & p, "fp": ~t & p, "fn": t & ~p, "tn": ~t & ~p}
        if outcome not in masks:
            raise ValueError(f"outcome must be one of {tuple(masks)}, got {outcome!r}")
        out = self.per_sample[masks[outcome]].copy()
        out["score"] = self.y_score[masks[outcome], k]
        return out.sort_values("score", ascending=outcome in ("fn", "tn"), kind="stable")

    # ------------------------------------------------------------------ views
    def to_frame(self) -> pd.DataFrame:
        """The per-sample results (a copy of :attr:`per_sample`), indexed by sample id."""
        return self.per_sample.copy()

    def summary(self) -> dict[str, Any]:
        """The headline numbers as a dict."""
        th = self.thresholds.to_numpy()
        out: dict[str, Any] = {
            "run": self.run,
            "samples": len(self.per_sample),
            "mAP": self.mean_average_precision,
            "micro_f1": self.f1("micro"),
            "macro_f1": self.f1("macro"),
            "samples_f1": self.f1("samples"),
            "hamming_loss": self.hamming_loss,
            "subset_accuracy": self.subset_accuracy,
        }
        if np.all(th == th[0]):
            out["threshold"] = float(th[0])
        return out

    def __repr__(self) -> str:
        return (
            f"MultiLabelEvaluation(run={self.run!r}, samples={len(self.per_sample)}, "
            f"mAP={self.mean_average_precision:.4f}, micro_f1={self.f1('micro'):.4f})"
        )

    def _repr_html_(self) -> str:
        return summary_html(
            "MultiLabelEvaluation", self.run, f"{len(self.per_sample)} samples", self.summary()
        )


def _average(average: str) -> str:
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    return average


def _indicator_like(y_true: Any, shape: tuple[int, ...]) -> bool:
    """A (nested) sequence of 0/1 numbers shaped like the scores."""
    try:
        arr = np.asarray(y_true, dtype=float)
    except (TypeError, ValueError):
        return False
    return arr.shape == shape and bool(np.isin(arr, (0.0, 1.0)).all())


def evaluate_multilabel(
    y_true: Any,
    y_score: Any,
    class_names: Sequence[Any] | None = None,
    threshold: Any = THRESHOLD,
) -> MultiLabelEvaluation:
    """Evaluate arrays: true label sets and per-class probabilities (N x C).

    ``y_true`` is an N x C 0/1 indicator matrix (array, nested list shaped like ``y_score``,
    as scikit-learn takes it, or a DataFrame) or one list of class names / indices per sample; ``threshold`` one number, one per class, or a mapping class ->
    threshold. Without ``class_names`` classes are ``"0" .. "C-1"`` (or the DataFrame's columns).

    >>> ev = evaluate_multilabel([[1, 0], [0, 1], [1, 1]], [[0.9, 0.2], [0.4, 0.7], [0.8, 0.3]])
    >>> round(ev.f1("micro"), 3), ev.subset_accuracy
    (0.857, 0.6666666666666666)
    """
    scores = np.asarray(y_score, dtype=float)
    if scores.ndim != 2:
        raise ValueError(f"y_score must be 2-D (samples x classes), got shape {scores.shape}")
    if not isinstance(y_true, pd.DataFrame) and _indicator_like(y_true, scores.shape):
        y_true = np.asarray(y_true, dtype=float)  # scikit-learn's convention
    indicator_given = isinstance(y_true, pd.DataFrame) or (
        isinstance(y_true, np.ndarray) and y_true.dtype != object and y_true.ndim == 2
    )
    if class_names is None and not indicator_given:
        # class indices: "0" .. "C-1" (C = score columns); class names: sorted
        flat = [c for s in y_true if not missing_cell(s) for c in s]
        if not any(isinstance(c, str) for c in flat):
            class_names = [str(i) for i in range(scores.shape[1])]
    sets, names = label_sets(y_true, class_names)
    v.check_same_length("y_true", sets, "y_score", scores)
    samples = pd.DataFrame({LABELS: pd.Series(sets, dtype=object)})
    ds = new_dataset(samples, class_names=names, name="arrays")
    ds.add_run("predictions", scores)
    return MultiLabelEvaluation.from_dataset(ds, "predictions", threshold)
