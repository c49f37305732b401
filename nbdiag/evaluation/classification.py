"""Classification evaluation: global numbers equal to scikit-learn's, and per-sample columns
(prediction, confidence, margin, entropy, loss, correct) that lead back to the samples."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from ..core import new_dataset
from ..core import validation as v
from ..core.runs import ClassificationRun
from ._frames import confusion_frame, summary_html

if TYPE_CHECKING:
    from ..core import DatasetCore

Normalize = Literal["true", "pred", "all"] | None
_EPS = 1e-15


class ClassificationEvaluation:
    """A classifier's results on the labelled samples of a run.

    Create it with ``ds.evaluate(run)`` or :func:`evaluate_classification`. Samples without a
    ground-truth label are left out.

    Attributes
    ----------
    class_names : list[str]
    per_sample : DataFrame
        Index: sample id. Columns ``label``, ``prediction`` (categoricals), ``correct``,
        ``confidence`` (probability of the predicted class), and when probabilities are known:
        ``margin`` (top-1 minus top-2 probability), ``entropy`` (nats), ``loss`` (cross-entropy
        of the true label, nats), ``p_label`` (probability given to the true label).
    probabilities : DataFrame or None
        Class probabilities of the evaluated samples (one column per class).
    """

    def __init__(
        self,
        y_true: pd.Series,
        y_pred: pd.Series,
        class_names: Sequence[str],
        probabilities: pd.DataFrame | None = None,
        confidence: pd.Series | None = None,
        run: str | None = None,
        dataset: DatasetCore | None = None,
    ):
        self.class_names = list(class_names)
        self.run = run
        self.dataset = dataset
        cats = pd.CategoricalDtype(self.class_names)
        keep = y_true.notna()
        y_true, y_pred = y_true[keep].astype(cats), y_pred.reindex(y_true.index)[keep].astype(cats)
        if y_pred.isna().any():
            raise ValueError(f"no prediction for samples {v.listed(y_pred.index[y_pred.isna()])}")
        frame = pd.DataFrame({"label": y_true, "prediction": y_pred})
        frame["correct"] = y_true.cat.codes.to_numpy() == y_pred.cat.codes.to_numpy()
        self.probabilities = None if probabilities is None else probabilities.loc[frame.index]
        if self.probabilities is not None:
            p = self.probabilities.to_numpy(dtype=np.float64)
            true_codes = y_true.cat.codes.to_numpy()
            pred_codes = y_pred.cat.codes.to_numpy()
            rows = np.arange(len(p))
            top2 = -np.partition(-p, 1, axis=1)[:, :2] if p.shape[1] > 1 else np.c_[p, p * 0]
            frame["confidence"] = p[rows, pred_codes]
            frame["margin"] = top2[:, 0] - top2[:, 1]
            frame["entropy"] = -(p * np.log(np.clip(p, _EPS, 1.0))).sum(axis=1)
            frame["p_label"] = p[rows, true_codes]
            frame["loss"] = -np.log(np.clip(frame["p_label"].to_numpy(), _EPS, 1.0))
        else:
            frame["confidence"] = (
                np.nan if confidence is None else confidence.reindex(frame.index).to_numpy()
            )
        frame.index.name = "id"
        self.per_sample = frame

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dataset(cls, ds: DatasetCore, run: str) -> ClassificationEvaluation:
        """Evaluate the classification run ``run`` of ``ds`` against ``ds.samples.label``."""
        r = ds._get_run(run, ClassificationRun)
        assert isinstance(r, ClassificationRun)
        labels = ds.samples["label"].reindex(r.predictions.index)
        if labels.notna().sum() == 0:
            raise ValueError(f"run {run!r}: none of its samples has a ground-truth label")
        return cls(
            labels,
            r.predictions["prediction"],
            ds.class_names,
            probabilities=r.probabilities,
            confidence=r.predictions["confidence"],
            run=r.name,
            dataset=ds,
        )

    # ------------------------------------------------------------------ arrays for sklearn
    @property
    def y_true(self) -> np.ndarray:
        """True class codes (0..K-1) of the evaluated samples."""
        return self.per_sample["label"].cat.codes.to_numpy()

    @property
    def y_pred(self) -> np.ndarray:
        """Predicted class codes (0..K-1) of the evaluated samples."""
        return self.per_sample["prediction"].cat.codes.to_numpy()

    def _require_probs(self, what: str) -> np.ndarray:
        if self.probabilities is None:
            raise ValueError(
                f"{what} needs class probabilities; this run has predicted labels only"
            )
        return self.probabilities.to_numpy(dtype=np.float64)

    @property
    def _labels(self) -> np.ndarray:
        return np.arange(len(self.class_names))

    # ------------------------------------------------------------------ global numbers
    @cached_property
    def accuracy(self) -> float:
        """Fraction of correct predictions."""
        return float(skm.accuracy_score(self.y_true, self.y_pred))

    @cached_property
    def balanced_accuracy(self) -> float:
        """Mean recall over the classes present in the ground truth."""
        return float(skm.balanced_accuracy_score(self.y_true, self.y_pred))

    @cached_property
    def per_class(self) -> pd.DataFrame:
        """Precision, recall, F1 and support per class (zero where undefined)."""
        p, r, f, s = skm.precision_recall_fscore_support(
            self.y_true, self.y_pred, labels=self._labels, zero_division=0
        )
        out = pd.DataFrame(
            {"precision": p, "recall": r, "f1": f, "support": s},
            index=pd.Index(self.class_names, name="class"),
        )
        out["predicted"] = np.bincount(self.y_pred, minlength=len(self.class_names))
        return out

    def top_k_accuracy(self, k: int = 5) -> float:
        """Fraction of samples whose true class is among the ``k`` most probable."""
        p = self._require_probs("top-k accuracy")
        return float(skm.top_k_accuracy_score(self.y_true, p, k=k, labels=self._labels))

    @cached_property
    def log_loss(self) -> float:
        """Mean cross-entropy of the true labels (nats)."""
        p = self._require_probs("log loss")
        if (self.probabilities.dtypes == np.float32).any():  # type: ignore[union-attr]
            p = p / p.sum(axis=1, keepdims=True)  # float32 rows sum to 1 only to that precision
        return float(skm.log_loss(self.y_true, p, labels=self._labels))

    def confusion_matrix(self, normalize: Normalize = None) -> pd.DataFrame:
        """Rows: true class, columns: predicted class. ``normalize``: ``"true"`` (rows sum to
        1), ``"pred"`` (columns sum to 1), ``"all"`` or ``None`` (counts)."""
        cm = skm.confusion_matrix(self.y_true, self.y_pred, labels=self._labels)
        return confusion_frame(cm, self.class_names, normalize)

    def samples_in_cell(self, true: str | int, pred: str | int) -> pd.DataFrame:
        """Evaluated samples labelled ``true`` and predicted ``pred``, most confident first."""
        t, p = (self._class_index(c) for c in (true, pred))
        mask = (self.y_true == t) & (self.y_pred == p)
        return self.per_sample[mask].sort_values("confidence", ascending=False, kind="stable")

    def _class_index(self, c: str | int) -> int:
        if isinstance(c, str):
            if c not in self.class_names:
                raise ValueError(f"unknown class {c!r}; classes are {self.class_names[:20]}")
            return self.class_names.index(c)
        if not 0 <= int(c) < len(self.class_names):
            raise ValueError(f"class index {c} out of range 0..{len(self.class_names) - 1}")
        return int(c)

    # ------------------------------------------------------------------ calibration & curves
    def reliability(self, n_bins: int = 10) -> pd.DataFrame:
        """Reliability table: equal-width confidence bins with count, mean confidence, accuracy
        and gap. Bins are ``(lo, hi]`` with the first closed at 0."""
        conf = self.per_sample["confidence"].to_numpy(dtype=float)
        if np.isnan(conf).all():
            raise ValueError("calibration needs confidences; this run has predicted labels only")
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
        correct = self.per_sample["correct"].to_numpy(dtype=float)
        count = np.bincount(idx, minlength=n_bins)
        with np.errstate(invalid="ignore"):
            mean_conf = np.bincount(idx, conf, minlength=n_bins) / count
            acc = np.bincount(idx, correct, minlength=n_bins) / count
        return pd.DataFrame(
            {
                "lower": edges[:-1],
                "upper": edges[1:],
                "count": count,
                "confidence": mean_conf,
                "accuracy": acc,
                "gap": acc - mean_conf,
            }
        )

    def expected_calibration_error(self, n_bins: int = 10) -> float:
        """ECE: sum over bins of (bin share) x |accuracy - mean confidence|."""
        t = self.reliability(n_bins)
        nz = t["count"] > 0
        return float((t["count"][nz] / t["count"].sum() * t["gap"][nz].abs()).sum())

    def pr_curve(self, class_name: str | int) -> pd.DataFrame:
        """One-vs-rest precision-recall curve of a class (``precision``, ``recall``,
        ``threshold``), as scikit-learn computes it."""
        k = self._class_index(class_name)
        p = self._require_probs("PR curves")
        prec, rec, thr = skm.precision_recall_curve(self.y_true == k, p[:, k])
        return pd.DataFrame({"precision": prec, "recall": rec, "threshold": np.r_[thr, np.nan]})

    def roc_curve(self, class_name: str | int) -> pd.DataFrame:
        """One-vs-rest ROC curve of a class (``fpr``, ``tpr``, ``threshold``)."""
        k = self._class_index(class_name)
        p = self._require_probs("ROC curves")
        fpr, tpr, thr = skm.roc_curve(self.y_true == k, p[:, k])
        return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thr})

    def to_frame(self) -> pd.DataFrame:
        """The per-sample results (a copy of :attr:`per_sample`), indexed by sample id: what
        views and slices select from, as ``DetectionEvaluation.to_frame`` is for boxes."""
        return self.per_sample.copy()

    def summary(self) -> dict[str, Any]:
        """The headline numbers as a dict."""
        out: dict[str, Any] = {
            "run": self.run,
            "samples": len(self.per_sample),
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "macro_f1": float(self.per_class["f1"].mean()),
        }
        if self.probabilities is not None:
            out["log_loss"] = self.log_loss
            out["ece"] = self.expected_calibration_error()
            if len(self.class_names) > 5:
                out["top5_accuracy"] = self.top_k_accuracy(5)
        return out

    def __repr__(self) -> str:
        return (
            f"ClassificationEvaluation(run={self.run!r}, samples={len(self.per_sample)}, "
            f"accuracy={self.accuracy:.4f})"
        )

    def _repr_html_(self) -> str:
        return summary_html(
            "ClassificationEvaluation", self.run, f"{len(self.per_sample)} samples", self.summary()
        )


def evaluate_classification(
    y_true: Sequence[Any] | np.ndarray,
    y_pred_or_probs: Sequence[Any] | np.ndarray,
    class_names: Sequence[Any] | None = None,
) -> ClassificationEvaluation:
    """Evaluate arrays: true labels, and predicted labels (1-D) or probabilities (N x K).

    Labels may be class indices or names. Without ``class_names``, classes are the sorted union
    of the labels (or ``0..K-1`` with probabilities).

    >>> ev = evaluate_classification([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    >>> round(ev.accuracy, 3)
    0.667
    """
    preds = np.asarray(y_pred_or_probs)
    truth = np.asarray(y_true)
    v.check_same_length("y_true", truth, "predictions", preds)
    if class_names is None and preds.ndim == 2:
        class_names = [str(i) for i in range(preds.shape[1])]
    ds = new_dataset(pd.DataFrame({"label": truth}), class_names=class_names, name="arrays")
    ds.add_run("predictions", preds)
    return ClassificationEvaluation.from_dataset(ds, "predictions")
