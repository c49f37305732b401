"""Semantic segmentation evaluation: a class x class pixel confusion matrix, per-class IoU, mIoU,
pixel and mean class accuracy, and per-image numbers that lead back to the samples.

Conventions (those of mmsegmentation's ``IoUMetric``): pixels whose ground truth is
``ignore_index`` are left out everywhere. For class ``c``, ``intersection`` is the pixels
labelled and predicted ``c``, ``label`` the pixels labelled ``c``, ``predicted`` the pixels
predicted ``c``; ``IoU = intersection / (label + predicted - intersection)`` and ``accuracy =
intersection / label``. A class in neither the ground truth nor the predictions has IoU NaN and
is left out of the mean: mIoU is the NaN-ignoring mean over the classes present in the ground
truth or the predictions (mean class accuracy: over classes present in the ground truth). Pixel
accuracy is all correct pixels over all labelled pixels. A predicted pixel equal to
``ignore_index`` (no prediction) counts as a miss of its true class and as no class's
prediction.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..core import validation as v
from ..core.label_maps import (
    IGNORE_INDEX,
    SemanticRun,
    as_map,
    check_ignore_index,
    gt_map,
    has_gt,
    run_map,
)
from ._frames import confusion_frame, summary_html

if TYPE_CHECKING:
    from ..core import DatasetCore

Normalize = Literal["true", "pred", "all"] | None
#: show a progress bar from this many images on
PROGRESS_MIN_IMAGES = 50


class SemanticEvaluation:
    """A segmentation model's results, pixel by pixel and image by image.

    Create it with ``ds.evaluate(run)`` or :func:`evaluate_semantic`. Images without a
    ground-truth map or without a prediction are left out. The conventions (mmseg's) are in
    :mod:`nbdiag.evaluation.semantic`.

    Attributes
    ----------
    class_names : list[str]
    ignore_index : int
    per_image : DataFrame
        Index: sample id. ``miou`` (over the classes present in that image's ground truth or
        prediction), ``pixel_accuracy``, ``pixels`` (labelled pixels), ``ignored`` (pixels
        equal to ``ignore_index``), ``classes`` (classes present), and ``iou_<class>`` per class
        (NaN where the class is in neither map).
    cells : DataFrame
        One row per (image, true class, predicted class) with ``pixels`` > 0: ``sample_id``,
        ``true``, ``pred`` (categoricals), ``pixels``. What the confusion matrix widget draws.
    """

    def __init__(
        self,
        pairs: Iterable[tuple[Hashable, np.ndarray, np.ndarray]],
        class_names: Sequence[str],
        ignore_index: int = IGNORE_INDEX,
        *,
        run: str | None = None,
        dataset: DatasetCore | None = None,
        total: int | None = None,
        progress: bool = True,
    ):
        self.class_names = [str(c) for c in class_names]
        self.ignore_index = check_ignore_index(ignore_index, len(self.class_names))
        self.run = run
        self.dataset = dataset
        self._accumulate(pairs, total, progress)

    # ------------------------------------------------------------------ computing
    def _accumulate(
        self,
        pairs: Iterable[tuple[Hashable, np.ndarray, np.ndarray]],
        total: int | None,
        show: bool,
    ) -> None:
        from tqdm.auto import tqdm

        k = len(self.class_names)
        ids: list[Hashable] = []
        inter, label, pred, ignored = [], [], [], []
        cells: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        matrix = np.zeros((k, k + 1), dtype=np.int64)  # last column: predicted ignore_index
        show = show and (total is None or total >= PROGRESS_MIN_IMAGES)
        with tqdm(total=total, desc="evaluating", unit="img", disable=not show, leave=False) as bar:
            for sid, gt, pr in pairs:
                counts, n_ignored = self._image_counts(gt, pr, k)
                matrix += counts
                ids.append(sid)
                inter.append(np.diagonal(counts[:, :k]))
                label.append(counts.sum(axis=1))
                pred.append(counts[:, :k].sum(axis=0))
                ignored.append(n_ignored)
                t, p = np.nonzero(counts[:, :k])
                cells.append((np.full(len(t), len(ids) - 1), t, p, counts[t, p]))  # type: ignore[arg-type]
                bar.update(1)
        if not ids:
            raise ValueError(
                "nothing to evaluate: no image has both a ground truth and a prediction"
            )
        v.check_unique_ids(pd.Index(ids), "sample")
        self._matrix = matrix
        self._inter = np.array(inter, dtype=np.int64)
        self._label = np.array(label, dtype=np.int64)
        self._pred = np.array(pred, dtype=np.int64)
        index = pd.Index(ids, name="id")
        self.per_image = self._per_image_frame(index, np.array(ignored, dtype=np.int64))
        rows, t, p, n = (np.concatenate(x) for x in zip(*cells, strict=True))
        cats = pd.CategoricalDtype(self.class_names)
        self.cells = pd.DataFrame(
            {
                "sample_id": pd.Index(ids, dtype=object)[rows.astype(np.int64)],
                "true": pd.Categorical.from_codes(t, dtype=cats),
                "pred": pd.Categorical.from_codes(p, dtype=cats),
                "pixels": n.astype(np.int64),
            }
        )

    def _image_counts(self, gt: np.ndarray, pr: np.ndarray, k: int) -> tuple[np.ndarray, int]:
        """(K, K+1) pixel counts of one image (column K: predicted ignore), ignored pixels."""
        if gt.shape != pr.shape:
            raise ValueError(f"ground truth of shape {gt.shape} and prediction of {pr.shape}")
        g = gt.ravel()
        valid = g != self.ignore_index
        g = g[valid].astype(np.int64)
        p = pr.ravel()[valid].astype(np.int64)
        p[p == self.ignore_index] = k
        counts = np.bincount(g * (k + 1) + p, minlength=k * (k + 1)).reshape(k, k + 1)
        return counts, int(valid.size - int(valid.sum()))

    def _per_image_frame(self, index: pd.Index, ignored: np.ndarray) -> pd.DataFrame:
        inter, label, pred = self._inter, self._label, self._pred
        union = label + pred - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, inter / union, np.nan)
            pixels = label.sum(axis=1)
            acc = np.where(pixels > 0, inter.sum(axis=1) / pixels, np.nan)
        present = union > 0
        miou = np.full(len(index), np.nan)
        has = present.any(axis=1)
        miou[has] = np.nansum(iou[has], axis=1) / present[has].sum(axis=1)
        frame = pd.DataFrame(
            {
                "miou": miou,
                "pixel_accuracy": acc,
                "pixels": pixels,
                "ignored": ignored,
                "classes": present.sum(axis=1),
            },
            index=index,
        )
        per_class = pd.DataFrame(iou, index=index, columns=[f"iou_{c}" for c in self.class_names])
        return pd.concat([frame, per_class], axis=1)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dataset(
        cls, ds: DatasetCore, run: str, *, progress: bool = True
    ) -> SemanticEvaluation:
        """Evaluate the semantic run ``run`` of ``ds`` against its ground-truth label maps."""
        r = ds._get_run(run, SemanticRun)
        assert isinstance(r, SemanticRun)
        ids = [sid for sid in ds.samples.index if sid in r.maps and has_gt(ds, sid)]
        if not ids:
            raise ValueError(f"run {run!r}: none of its images has a ground-truth label map")

        def pairs() -> Iterator[tuple[Hashable, np.ndarray, np.ndarray]]:
            for sid in ids:  # one image in memory at a time
                yield sid, gt_map(ds, sid), run_map(ds, r, sid)

        return cls(
            pairs(),
            ds.class_names,
            ds.ignore_index,
            run=r.name,
            dataset=ds,
            total=len(ids),
            progress=progress,
        )

    # ------------------------------------------------------------------ global numbers
    @cached_property
    def per_class(self) -> pd.DataFrame:
        """Per class: ``iou``, ``accuracy`` (recall), ``intersection``, ``label`` (pixels
        labelled), ``predicted`` (pixels predicted), ``images`` (images labelling the class)."""
        inter = self._inter.sum(axis=0)
        label = self._label.sum(axis=0)
        pred = self._pred.sum(axis=0)
        union = label + pred - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, inter / union, np.nan)
            acc = np.where(label > 0, inter / label, np.nan)
        return pd.DataFrame(
            {
                "iou": iou,
                "accuracy": acc,
                "intersection": inter,
                "label": label,
                "predicted": pred,
                "images": (self._label > 0).sum(axis=0),
            },
            index=pd.Index(self.class_names, name="class"),
        )

    @property
    def iou(self) -> pd.Series:
        """IoU per class (NaN for a class in neither the ground truth nor the predictions)."""
        return self.per_class["iou"]

    @property
    def miou(self) -> float:
        """Mean IoU over the classes present in the ground truth or the predictions."""
        return _nanmean(self.per_class["iou"].to_numpy())

    @property
    def pixel_accuracy(self) -> float:
        """Correctly predicted pixels over labelled (not ignored) pixels."""
        pc = self.per_class
        total = pc["label"].sum()
        return float(pc["intersection"].sum() / total) if total else float("nan")

    @property
    def mean_class_accuracy(self) -> float:
        """Mean per-class accuracy (recall) over the classes present in the ground truth."""
        return _nanmean(self.per_class["accuracy"].to_numpy())

    def confusion_matrix(self, normalize: Normalize = None) -> pd.DataFrame:
        """Pixels per (true, predicted) class: rows true, columns predicted. ``normalize``:
        ``"true"`` (rows sum to 1), ``"pred"`` (columns sum to 1), ``"all"`` or ``None``
        (pixel counts). Pixels predicted ``ignore_index`` are in no column."""
        return confusion_frame(self._matrix[:, :-1], self.class_names, normalize)

    @property
    def unpredicted(self) -> pd.Series:
        """Labelled pixels per true class that were predicted ``ignore_index``."""
        return pd.Series(
            self._matrix[:, -1], index=pd.Index(self.class_names, name="true"), name="pixels"
        )

    def samples_in_cell(self, true: str | int, pred: str | int) -> pd.DataFrame:
        """Images where class ``true`` was predicted as ``pred``: ``pixels`` of that confusion,
        ``share`` of the image's labelled pixels, and the image's ``miou`` and
        ``pixel_accuracy``; most pixels first."""
        t, p = (self._class_index(c) for c in (true, pred))
        cells = self.cells
        hit = cells[(cells["true"].cat.codes == t) & (cells["pred"].cat.codes == p)]
        px = pd.Series(hit["pixels"].to_numpy(), index=pd.Index(hit["sample_id"], name="id"))
        out = pd.DataFrame({"pixels": px})
        info = self.per_image.loc[out.index]
        with np.errstate(invalid="ignore", divide="ignore"):
            out["share"] = px.to_numpy() / info["pixels"].to_numpy()
        out["miou"] = info["miou"].to_numpy()
        out["pixel_accuracy"] = info["pixel_accuracy"].to_numpy()
        return out.sort_values("pixels", ascending=False, kind="stable")

    def _class_index(self, c: str | int) -> int:
        if isinstance(c, str):
            if c not in self.class_names:
                raise ValueError(f"unknown class {c!r}; classes are {self.class_names[:20]}")
            return self.class_names.index(c)
        if not 0 <= int(c) < len(self.class_names):
            raise ValueError(f"class index {c} out of range 0..{len(self.class_names) - 1}")
        return int(c)

    def to_frame(self) -> pd.DataFrame:
        """The per-image results (a copy of :attr:`per_image`), indexed by sample id."""
        return self.per_image.copy()

    def summary(self) -> dict[str, Any]:
        """The headline numbers as a dict."""
        return {
            "run": self.run,
            "images": len(self.per_image),
            "miou": self.miou,
            "pixel_accuracy": self.pixel_accuracy,
            "mean_class_accuracy": self.mean_class_accuracy,
        }

    def __repr__(self) -> str:
        return (
            f"SemanticEvaluation(run={self.run!r}, images={len(self.per_image)}, "
            f"miou={self.miou:.4f}, pixel_accuracy={self.pixel_accuracy:.4f})"
        )

    def _repr_html_(self) -> str:
        return summary_html(
            "SemanticEvaluation", self.run, f"{len(self.per_image)} images", self.summary()
        )


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def evaluate_semantic_run(
    ds: DatasetCore, run: str, *, progress: bool = True
) -> SemanticEvaluation:
    """Evaluate a semantic run and write each image's mIoU and pixel accuracy to
    ``ds.samples`` as ``miou@<run>`` and ``pixel_accuracy@<run>`` (NaN where not evaluated),
    to sort and filter images by."""
    ev = SemanticEvaluation.from_dataset(ds, run, progress=progress)
    for col in ("miou", "pixel_accuracy"):
        ds.samples[f"{col}@{ev.run}"] = ev.per_image[col].reindex(ds.samples.index).to_numpy()
    return ev


def evaluate_semantic(
    gt_maps: Mapping[Hashable, Any] | Sequence[Any] | np.ndarray,
    pred_maps: Mapping[Hashable, Any] | Sequence[Any] | np.ndarray,
    class_names: Sequence[Any],
    ignore_index: int = IGNORE_INDEX,
    *,
    progress: bool = True,
) -> SemanticEvaluation:
    """Evaluate predicted label maps against ground-truth ones, without a dataset.

    Parameters
    ----------
    gt_maps
        H x W integer maps: a dict id -> map, an (N, H, W) array or a list of N maps.
    pred_maps
        The predictions, in the same form (and for a dict, the same ids): H x W class indices,
        or C x H x W class scores (logits or probabilities; their arg-max is taken).
    class_names
        The classes, in index order.
    ignore_index
        Ground-truth value of pixels to leave out (default 255).

    >>> import numpy as np
    >>> gt = np.array([[[0, 0], [1, 255]]])
    >>> ev = evaluate_semantic(gt, np.array([[[0, 1], [1, 0]]]), ["a", "b"])
    >>> round(ev.miou, 3), round(ev.pixel_accuracy, 3)
    (0.5, 0.667)
    """
    names = [str(c) for c in class_names]
    k, ignore = len(names), check_ignore_index(ignore_index, len(names))
    gts, preds = _by_id(gt_maps, "gt_maps"), _by_id(pred_maps, "pred_maps")
    missing = [i for i in gts if i not in preds]
    if missing:
        raise ValueError(f"pred_maps has no map for {v.listed(missing)}")

    def pairs() -> Iterator[tuple[Hashable, np.ndarray, np.ndarray]]:
        for i, g in gts.items():
            gt = as_map(g, f"ground truth {v.show(i)}", k, ignore, logits=False)
            pr = as_map(preds[i], f"prediction {v.show(i)}", k, ignore)
            if gt.shape != pr.shape:
                raise ValueError(
                    f"{v.show(i)}: the predicted map is {pr.shape[1]}x{pr.shape[0]} (WxH) but "
                    f"the ground truth is {gt.shape[1]}x{gt.shape[0]}"
                )
            yield i, gt, pr

    return SemanticEvaluation(pairs(), names, ignore, total=len(gts), progress=progress)


def _by_id(maps: Any, what: str) -> dict[Hashable, Any]:
    if isinstance(maps, Mapping):
        return dict(maps)
    if hasattr(maps, "shape") or isinstance(maps, Sequence):
        return {i: maps[i] for i in range(len(maps))}
    raise TypeError(f"{what} must be a dict, an array or a list of maps, got {type(maps).__name__}")
