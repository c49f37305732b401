"""The Dataset: one samples table, one objects table, named prediction runs, and image access.

Every analysis in nbdiag reads these tables and adds columns to them or returns frames indexed
by their ids; every widget draws them.
"""

from __future__ import annotations

import html
import os
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from PIL import Image

from . import validation as v
from .images import ThumbnailCache, array_to_image, encode_thumbnail, load_image
from .runs import ClassificationRun, DetectionRun, Run, confidence_from_probabilities

if TYPE_CHECKING:
    from .evaluation.classification import ClassificationEvaluation

#: columns every ``samples`` table has (more may be added by analyses and users)
SAMPLE_COLUMNS = ("path", "width", "height", "label", "split", "issues")
#: columns every ``objects`` table has
OBJECT_COLUMNS = ("sample_id", "label", "x", "y", "w", "h", "source", "score", "iscrowd")
GT = "gt"


def _as_class_names(values: Iterable[Any]) -> list[str]:
    return [str(c) for c in values]


def _labels_to_names(values: pd.Series, class_names: Sequence[str] | None, where: str) -> pd.Series:
    """Map integer class indices to names when class names are known and the values are ints."""
    non_null = values.dropna()
    if (
        class_names is not None
        and len(non_null)
        and pd.api.types.is_integer_dtype(non_null.infer_objects())
        and not non_null.astype(str).isin(list(class_names)).all()
    ):
        codes = non_null.astype(np.int64)
        bad = codes[(codes < 0) | (codes >= len(class_names))]
        if len(bad):
            rows = ", ".join(f"{i!r} ({c})" for i, c in list(bad.items())[:5])
            raise ValueError(
                f"unknown class index in {where}: {rows}; there are {len(class_names)} classes"
            )
        out = pd.Series(np.nan, index=values.index, dtype=object)
        out[codes.index] = np.asarray(class_names, dtype=object)[codes.to_numpy()]
        return out
    return values.map(lambda x: x if pd.isna(x) else str(x))


class Dataset:
    """Images (samples), their boxes (objects), and model predictions (runs).

    Parameters
    ----------
    samples
        One row per image. The index is the sample id (or an ``id`` column becomes it).
        Recognised columns: ``path`` (image file), ``width``, ``height``, ``label`` (class of a
        classification sample), ``split``; any other column is kept.
    objects
        One row per box: ``sample_id``, ``label``, ``x``, ``y``, ``w``, ``h`` in pixels
        (top-left origin), ``source`` (``"gt"`` or a run name), ``score`` (predictions),
        ``iscrowd``. The index is the object id.
    class_names
        The classes, in order. Inferred (sorted) from the labels when omitted.
    images
        In-memory images by sample id (uint8 arrays), for samples without a file.
    name
        A display name.

    Most users start from a constructor: :meth:`from_dataframe`, :meth:`from_folder`,
    :meth:`from_coco`, :meth:`from_arrays` or :meth:`from_torch`.

    Examples
    --------
    >>> import pandas as pd, nbdiag
    >>> ds = nbdiag.Dataset(pd.DataFrame({"label": ["cat", "dog"]}, index=["a", "b"]))
    >>> ds.class_names
    ['cat', 'dog']
    """

    def __init__(
        self,
        samples: pd.DataFrame,
        objects: pd.DataFrame | None = None,
        class_names: Sequence[Any] | None = None,
        *,
        images: Mapping[Hashable, np.ndarray] | None = None,
        name: str = "dataset",
    ):
        if not isinstance(samples, pd.DataFrame):
            raise TypeError(f"samples must be a pandas DataFrame, got {type(samples).__name__}")
        samples = samples.copy()
        if "id" in samples.columns and isinstance(samples.index, pd.RangeIndex):
            samples = samples.set_index("id")
        samples.index.name = "id"
        v.check_unique_ids(samples.index, "sample")

        objects = self._empty_objects() if objects is None else objects.copy()
        missing = {"sample_id", "x", "y", "w", "h"} - set(objects.columns)
        if missing:
            raise ValueError(f"objects table is missing columns: {sorted(missing)}")
        if "object_id" in objects.columns and isinstance(objects.index, pd.RangeIndex):
            objects = objects.set_index("object_id")
        objects.index.name = "object_id"
        v.check_unique_ids(objects.index, "object")

        names = None if class_names is None else _as_class_names(class_names)
        if names is not None and len(set(names)) != len(names):
            dup = pd.Index(names)[pd.Index(names).duplicated()].tolist()
            raise ValueError(f"duplicate class names: {dup}")

        if "label" in samples.columns:
            samples["label"] = _labels_to_names(samples["label"], names, "samples.label")
        if "label" in objects.columns:
            objects["label"] = _labels_to_names(objects["label"], names, "objects.label")
        if names is None:
            found: set[str] = set()
            for table in (samples, objects):
                if "label" in table.columns:
                    found.update(table["label"].dropna().unique())
            names = sorted(found, key=_natural_key)
        self._class_names: list[str] = names

        self._samples = self._normalise_samples(samples)
        self._objects = self._normalise_objects(objects)
        self._check_objects(self._objects)

        self._images: dict[Hashable, np.ndarray] = dict(images or {})
        if self._images:
            v.check_known_ids(self._images.keys(), self._samples.index, "sample (in images)")
            self._fill_sizes_from_arrays()
        self.name = name
        self.runs: dict[str, Run] = {}
        for source in self._objects["source"].unique():
            if source != GT:
                n = int((self._objects["source"] == source).sum())
                self.runs[source] = DetectionRun(source, n)
        self._tags = pd.DataFrame(
            {
                "id": pd.Series(dtype=object),
                "tag": pd.Series(dtype=str),
                "level": pd.Series(dtype=str),
                "created": pd.Series(dtype="datetime64[ns, UTC]"),
            }
        )
        self._thumbs = ThumbnailCache()
        #: COCO category id -> class name, when loaded from COCO (used to read result files)
        self.coco_categories: dict[int, str] = {}

    # ------------------------------------------------------------------ tables
    @property
    def samples(self) -> pd.DataFrame:
        """One row per image, indexed by sample id. Analyses add columns here."""
        return self._samples

    @property
    def objects(self) -> pd.DataFrame:
        """One row per box (ground truth and predictions), indexed by object id."""
        return self._objects

    @property
    def class_names(self) -> list[str]:
        """The classes, in order; ``label`` columns are categoricals over them."""
        return list(self._class_names)

    @property
    def gt_objects(self) -> pd.DataFrame:
        """Ground-truth boxes only."""
        return self._objects[self._objects["source"] == GT]

    @property
    def task(self) -> str:
        """``"detection"`` when there are boxes, ``"classification"`` when samples have labels,
        else ``"unlabelled"``."""
        if len(self._objects):
            return "detection"
        if self._samples["label"].notna().any():
            return "classification"
        return "unlabelled"

    def __len__(self) -> int:
        return len(self._samples)

    def _empty_objects(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "sample_id": pd.Series(dtype=object),
                "label": pd.Series(dtype=object),
                "x": pd.Series(dtype=float),
                "y": pd.Series(dtype=float),
                "w": pd.Series(dtype=float),
                "h": pd.Series(dtype=float),
            }
        )

    def _categorical(self, values: pd.Series) -> pd.Series:
        return pd.Series(
            pd.Categorical(values, categories=self._class_names), index=values.index, name=values.name
        )

    def _normalise_samples(self, s: pd.DataFrame) -> pd.DataFrame:
        defaults: dict[str, Any] = {
            "path": None,
            "width": np.nan,
            "height": np.nan,
            "label": np.nan,
            "split": None,
            "issues": "",
        }
        for col, default in defaults.items():
            if col not in s.columns:
                s[col] = default
        if s["label"].notna().any():
            v.check_labels(s["label"], self._class_names, "samples.label")
        s["label"] = self._categorical(s["label"])
        s["path"] = s["path"].map(lambda p: None if p is None or pd.isna(p) else os.fspath(p))
        s["width"] = pd.to_numeric(s["width"], errors="raise").astype(float)
        s["height"] = pd.to_numeric(s["height"], errors="raise").astype(float)
        s["issues"] = s["issues"].fillna("").astype(str)
        first = list(SAMPLE_COLUMNS)
        return s[first + [c for c in s.columns if c not in first]]

    def _normalise_objects(self, o: pd.DataFrame) -> pd.DataFrame:
        if "label" not in o.columns:
            o["label"] = np.nan
        if "source" not in o.columns:
            o["source"] = GT
        o["source"] = o["source"].fillna(GT).astype(str)
        if "score" not in o.columns:
            o["score"] = np.nan
        if "iscrowd" not in o.columns:
            o["iscrowd"] = False
        o["iscrowd"] = o["iscrowd"].fillna(False).astype(bool)
        for col in ("x", "y", "w", "h", "score"):
            o[col] = pd.to_numeric(o[col], errors="raise").astype(float)
        if o["label"].notna().any():
            v.check_labels(o["label"], self._class_names, "objects.label")
        o["label"] = self._categorical(o["label"])
        first = list(OBJECT_COLUMNS)
        return o[first + [c for c in o.columns if c not in first]]

    def _check_objects(self, o: pd.DataFrame) -> None:
        if not len(o):
            return
        v.check_known_ids(o["sample_id"], self._samples.index, "sample (in objects.sample_id)")
        v.check_boxes(o, self._samples[["width", "height"]])
        preds = o[o["source"] != GT]
        if len(preds):
            v.check_scores(preds["score"], "predicted box")

    def _fill_sizes_from_arrays(self) -> None:
        ids = list(self._images)
        for i in ids:
            arr = self._images[i]
            if arr.dtype != np.uint8:
                raise ValueError(f"in-memory image {i!r} must be uint8, got {arr.dtype}")
        hw = np.array([self._images[i].shape[:2] for i in ids], dtype=float)
        self._samples.loc[ids, "height"] = hw[:, 0]
        self._samples.loc[ids, "width"] = hw[:, 1]

    # ------------------------------------------------------------------ images
    def image(self, sample_id: Hashable) -> Image.Image:
        """The sample's image, fully decoded with EXIF orientation applied.

        Raises ``KeyError`` for an unknown id and :class:`nbdiag.ImageLoadError` naming the file
        when it is missing or cannot be decoded.
        """
        if sample_id in self._images:
            return array_to_image(self._images[sample_id])
        if sample_id not in self._samples.index:
            raise KeyError(f"unknown sample id {sample_id!r}")
        path = self._samples.at[sample_id, "path"]
        if path is None:
            raise ValueError(f"sample {sample_id!r} has neither an image file nor an in-memory image")
        return load_image(path)

    def thumbnail(self, sample_id: Hashable, size: int = 128, fmt: str = "WEBP") -> bytes:
        """Encoded thumbnail (longer side ``size`` px), cached in memory."""
        key = (sample_id, size, fmt)
        cached = self._thumbs.get(key)
        if cached is None:
            cached = encode_thumbnail(self.image(sample_id), size=size, fmt=fmt)
            self._thumbs.put(key, cached)
        return cached

    # ------------------------------------------------------------------ runs
    def add_run(
        self,
        name: str,
        predictions: pd.DataFrame | np.ndarray | Sequence[Any],
        *,
        replace: bool = False,
    ) -> Run:
        """Attach a model's predictions as a named run.

        Classification, any of:

        - a 2-D array of class probabilities, one row per sample in ``samples`` order;
        - a 1-D array / list of predicted classes (names or indices) in ``samples`` order;
        - a DataFrame indexed by sample id with one probability column per class name, or a
          ``prediction`` column (and optionally ``confidence``).

        Detection: a DataFrame of boxes with ``sample_id``, ``label``, ``x``, ``y``, ``w``,
        ``h``, ``score`` (pixels, top-left origin), or a list of COCO result dicts when the
        dataset was loaded from COCO.
        """
        if not isinstance(name, str) or not name or name == GT:
            raise ValueError(f"run name must be a non-empty string other than {GT!r}, got {name!r}")
        if name in self.runs and not replace:
            raise ValueError(f"a run named {name!r} exists already; pass replace=True to overwrite")
        if name in self.runs:
            self.remove_run(name)
        if isinstance(predictions, list) and predictions and isinstance(predictions[0], Mapping):
            from .io.coco import coco_results_to_frame

            predictions = coco_results_to_frame(predictions, self)
        if isinstance(predictions, pd.DataFrame) and {"x", "y", "w", "h"} <= set(predictions.columns):
            return self._add_detection_run(name, predictions)
        run = self._classification_run(name, predictions)
        self.runs[name] = run
        return run

    def remove_run(self, name: str) -> None:
        """Forget a run (and its boxes)."""
        run = self.runs.pop(name)
        if isinstance(run, DetectionRun):
            self._objects = self._objects[self._objects["source"] != name]

    def run_boxes(self, name: str) -> pd.DataFrame:
        """Predicted boxes of a detection run."""
        self._get_run(name, DetectionRun)
        return self._objects[self._objects["source"] == name]

    def _get_run(self, name: str | None, kind: type | None = None) -> Run:
        if name is None:
            candidates = [r for r in self.runs.values() if kind is None or isinstance(r, kind)]
            if len(candidates) != 1:
                raise ValueError(
                    f"pass a run name; this dataset has runs {list(self.runs)}"
                    if candidates
                    else "this dataset has no runs yet; add one with ds.add_run(name, predictions)"
                )
            return candidates[0]
        if name not in self.runs:
            raise KeyError(f"unknown run {name!r}; runs are {list(self.runs)}")
        run = self.runs[name]
        if kind is not None and not isinstance(run, kind):
            raise TypeError(f"run {name!r} is a {run.kind} run")
        return run

    def _classification_run(self, name: str, predictions: Any) -> ClassificationRun:
        ids = self._samples.index
        probs: pd.DataFrame | None = None
        if isinstance(predictions, pd.DataFrame):
            frame = predictions
            v.check_unique_ids(frame.index, "sample (in predictions)")
            v.check_known_ids(frame.index, ids, "sample (in predictions)")
            class_cols = [c for c in frame.columns if str(c) in self._class_names]
            if "prediction" in frame.columns:
                labels = _labels_to_names(frame["prediction"], self._class_names, f"run {name!r}")
                confidence = frame.get("confidence", pd.Series(np.nan, index=frame.index))
                if len(class_cols) == len(self._class_names):
                    probs = frame[class_cols].rename(columns=str)[self._class_names]
            elif len(class_cols) == len(self._class_names):
                probs = frame[class_cols].rename(columns=str)[self._class_names]
                labels = confidence = None
            else:
                raise ValueError(
                    f"run {name!r}: a predictions DataFrame needs a 'prediction' column or one "
                    f"probability column per class {self._class_names[:10]}; got columns "
                    f"{list(frame.columns)[:10]}"
                )
            index = frame.index
        else:
            arr = np.asarray(predictions)
            v.check_same_length(f"predictions of run {name!r}", arr, "samples", ids)
            index = ids
            if arr.ndim == 2:
                if arr.shape[1] != len(self._class_names):
                    raise ValueError(
                        f"run {name!r}: probabilities have {arr.shape[1]} columns but the dataset "
                        f"has {len(self._class_names)} classes"
                    )
                probs = pd.DataFrame(arr, index=ids, columns=self._class_names)
                labels = confidence = None
            elif arr.ndim == 1:
                labels = _labels_to_names(pd.Series(arr, index=ids), self._class_names, f"run {name!r}")
                confidence = pd.Series(np.nan, index=ids)
            else:
                raise ValueError(f"run {name!r}: predictions must be 1-D or 2-D, got shape {arr.shape}")
        if probs is not None:
            p = v.check_probabilities(probs.to_numpy(), pd.Index(index))
            probs = pd.DataFrame(p, index=index, columns=self._class_names)
            pred_idx, conf = confidence_from_probabilities(p)
            if labels is None:
                labels = pd.Series(np.asarray(self._class_names, dtype=object)[pred_idx], index=index)
            confidence = pd.Series(conf, index=index)
        assert labels is not None and confidence is not None
        v.check_labels(labels, self._class_names, f"run {name!r}")
        missing = labels[labels.isna()]
        if len(missing):
            raise ValueError(f"run {name!r}: no prediction for samples {v._listed(missing.index)}")
        confidence = pd.to_numeric(confidence, errors="raise").astype(float)
        if probs is None and confidence.notna().any():
            v.check_scores(confidence.dropna(), "prediction")
        pred = pd.DataFrame(
            {"prediction": self._categorical(labels), "confidence": confidence.to_numpy()},
            index=pd.Index(index, name="id"),
        )
        if probs is not None:
            probs.index.name = "id"
        return ClassificationRun(name, pred, probs)

    def _add_detection_run(self, name: str, boxes: pd.DataFrame) -> DetectionRun:
        boxes = boxes.copy()
        if "score" not in boxes.columns:
            raise ValueError(f"run {name!r}: predicted boxes need a 'score' column")
        boxes["source"] = name
        if "object_id" in boxes.columns:
            boxes = boxes.set_index("object_id")
        else:
            boxes.index = pd.Index([f"{name}:{i}" for i in range(len(boxes))])
        boxes.index.name = "object_id"
        if "label" in boxes.columns:
            boxes["label"] = _labels_to_names(boxes["label"], self._class_names, f"run {name!r}")
            missing = boxes[boxes["label"].isna()]
            if len(missing):
                raise ValueError(f"run {name!r}: boxes without a class: {v._listed(missing.index)}")
        boxes = self._normalise_objects(boxes)
        clash = boxes.index[boxes.index.isin(self._objects.index)]
        if len(clash):
            raise ValueError(f"run {name!r}: object ids already used: {v._listed(clash)}")
        self._check_objects(boxes)
        self._objects = pd.concat([self._objects, boxes]) if len(self._objects) else boxes
        run = DetectionRun(name, len(boxes))
        self.runs[name] = run
        return run

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, run: str | None = None, **kwargs: Any) -> ClassificationEvaluation:
        """Evaluate a run against the ground truth (the only run when ``run`` is omitted)."""
        r = self._get_run(run)
        if isinstance(r, ClassificationRun):
            from .evaluation.classification import ClassificationEvaluation

            return ClassificationEvaluation.from_dataset(self, r.name, **kwargs)
        from .evaluation import evaluate_detection_run

        return evaluate_detection_run(self, r.name, **kwargs)

    # ------------------------------------------------------------------ tags
    @property
    def tags(self) -> pd.DataFrame:
        """One row per tagged item: ``id``, ``tag``, ``level`` (sample/object), ``created``."""
        return self._tags.copy()

    def _ids_from(self, items: Any, level: str | None) -> tuple[list[Hashable], str]:
        if isinstance(items, pd.DataFrame):
            if level is None:
                level = "object" if items.index.name == "object_id" else "sample"
            ids = list(items.index)
        elif isinstance(items, pd.Series) and items.dtype == bool:
            ids = list(items.index[items.to_numpy()])
        elif isinstance(items, Hashable) and not isinstance(items, tuple):
            ids = [items]
        else:
            ids = list(items)
        if level is None:
            in_samples = pd.Index(ids).isin(self._samples.index)
            level = "sample" if in_samples.all() else "object"
        table = self._samples if level == "sample" else self._objects
        v.check_known_ids(ids, table.index, level)
        return ids, level

    def tag(self, items: Any, tag: str, *, level: str | None = None) -> int:
        """Tag samples (or objects): ids, a boolean mask Series, or a DataFrame such as a widget's
        ``selected``. Returns how many new tags were added."""
        if not isinstance(tag, str) or not tag:
            raise ValueError("tag must be a non-empty string")
        ids, level = self._ids_from(items, level)
        existing = self._tags[(self._tags["tag"] == tag) & (self._tags["level"] == level)]["id"]
        new = [i for i in dict.fromkeys(ids) if i not in set(existing)]
        if new:
            rows = pd.DataFrame(
                {"id": new, "tag": tag, "level": level, "created": pd.Timestamp.now(tz="UTC")}
            )
            self._tags = pd.concat([self._tags, rows], ignore_index=True) if len(self._tags) else rows
        return len(new)

    def untag(self, items: Any, tag: str, *, level: str | None = None) -> int:
        """Remove ``tag`` from the given items; returns how many tags were removed."""
        ids, level = self._ids_from(items, level)
        drop = (self._tags["tag"] == tag) & (self._tags["level"] == level) & self._tags["id"].isin(ids)
        self._tags = self._tags[~drop].reset_index(drop=True)
        return int(drop.sum())

    def tagged(self, tag: str, level: str = "sample") -> pd.DataFrame:
        """Rows of ``samples`` (or ``objects``) carrying ``tag``."""
        ids = self._tags[(self._tags["tag"] == tag) & (self._tags["level"] == level)]["id"]
        table = self._samples if level == "sample" else self._objects
        return table.loc[table.index.isin(ids)]

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dataframe(cls, samples: pd.DataFrame, objects: pd.DataFrame | None = None, **kwargs: Any) -> Dataset:
        """From tables you already have; see :class:`Dataset` for the columns. Images listed in
        ``path`` are probed for size and problems (recorded in ``issues``)."""
        from .io.dataframe import from_dataframe

        return from_dataframe(samples, objects, **kwargs)

    @classmethod
    def from_folder(cls, root: str | os.PathLike[str], **kwargs: Any) -> Dataset:
        """From a folder: one sub-folder per class, or a flat folder of unlabelled images."""
        from .io.folder import from_folder

        return from_folder(root, **kwargs)

    @classmethod
    def from_coco(cls, gt: Any, images: str | os.PathLike[str] | None = None, predictions: Any = None, **kwargs: Any) -> Dataset:
        """From a COCO instances JSON (path or dict); ``predictions`` a COCO results JSON (path
        or list) or ``{run_name: results}``."""
        from .io.coco import from_coco

        return from_coco(gt, images=images, predictions=predictions, **kwargs)

    @classmethod
    def from_arrays(cls, images: np.ndarray, labels: Sequence[Any] | None = None, probs: np.ndarray | None = None, class_names: Sequence[Any] | None = None, **kwargs: Any) -> Dataset:
        """From a numpy image stack (N,H,W) or (N,H,W,C) such as scikit-learn's digits."""
        from .io.arrays import from_arrays

        return from_arrays(images, labels, probs=probs, class_names=class_names, **kwargs)

    @classmethod
    def from_torch(cls, dataset: Any, **kwargs: Any) -> Dataset:
        """From a ``torch.utils.data.Dataset`` yielding ``(image, label)`` pairs."""
        from .io.torch import from_torch

        return from_torch(dataset, **kwargs)

    # ------------------------------------------------------------------ display
    def summary(self) -> dict[str, Any]:
        """Counts shown by the notebook display."""
        gt = self.gt_objects
        return {
            "name": self.name,
            "samples": len(self._samples),
            "labelled": int(self._samples["label"].notna().sum()),
            "gt_objects": len(gt),
            "classes": len(self._class_names),
            "runs": {n: (r.kind, len(r)) for n, r in self.runs.items()},
            "image_issues": int((self._samples["issues"] != "").sum()),
            "tags": int(self._tags["tag"].nunique()),
        }

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"Dataset({s['name']!r}: {s['samples']} samples, {s['gt_objects']} objects, "
            f"{s['classes']} classes, runs={list(s['runs'])})"
        )

    def _repr_html_(self) -> str:
        s = self.summary()
        esc = html.escape
        if len(self._objects):
            counts = self.gt_objects["label"].value_counts()
        else:
            counts = self._samples["label"].value_counts()
        classes = ", ".join(f"{esc(str(c))} ({n})" for c, n in counts.head(20).items())
        if len(counts) > 20:
            classes += f", … {len(counts) - 20} more"
        runs = "".join(
            f"<li><code>{esc(n)}</code>: {kind}, {size} {'boxes' if kind == 'detection' else 'samples'}</li>"
            for n, (kind, size) in s["runs"].items()
        ) or "<li>none yet</li>"
        issues = (
            f"<tr><th>image issues</th><td>{s['image_issues']} (see <code>samples.issues</code>)</td></tr>"
            if s["image_issues"]
            else ""
        )
        return (
            f"<div class='nbdiag-dataset'><b>nbdiag.Dataset</b> <code>{esc(self.name)}</code>"
            f"<table><tr><th>samples</th><td>{s['samples']} ({s['labelled']} labelled)</td></tr>"
            f"<tr><th>objects (ground truth)</th><td>{s['gt_objects']}</td></tr>"
            f"<tr><th>classes</th><td>{s['classes']}: {classes}</td></tr>{issues}"
            f"<tr><th>runs</th><td><ul>{runs}</ul></td></tr></table></div>"
        )


def _natural_key(name: str) -> tuple[Any, ...]:
    """Sort "2" before "10" while keeping plain names alphabetical."""
    return (0, int(name), "") if name.lstrip("-").isdigit() else (1, 0, name)
