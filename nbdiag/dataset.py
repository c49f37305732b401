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
from ._analyses import AnalysesMixin, EmbeddingAnalysesMixin
from .images import ThumbnailCache, array_to_image, encode_thumbnail, load_image
from .runs import ClassificationRun, DetectionRun, Run, classification_run

if TYPE_CHECKING:
    from .compare import RunComparison
    from .evaluation.classification import ClassificationEvaluation
    from .evaluation.detection import DetectionEvaluation
    from .store import Store

#: columns every ``samples`` table has (more may be added by analyses and users)
SAMPLE_COLUMNS = ("path", "width", "height", "label", "split", "issues")
#: columns every ``objects`` table has
OBJECT_COLUMNS = ("sample_id", "label", "x", "y", "w", "h", "source", "score", "iscrowd")
GT = "gt"


def _as_class_names(values: Iterable[Any]) -> list[str]:
    return [str(c) for c in values]


class Dataset(AnalysesMixin, EmbeddingAnalysesMixin):
    """Images (samples), their boxes (objects), and model predictions (runs).

    Parameters
    ----------
    samples
        One row per image. The index is the sample id (or an ``id`` column becomes it).
        Recognised columns: ``path`` (image file), ``width``, ``height``, ``label`` (class of a
        classification sample), ``split``, ``issues`` (problems found with the image file,
        comma-separated, ``""`` when none); any other column is kept.
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
            samples["label"] = v.labels_to_names(samples["label"], names, "samples.label")
        if "label" in objects.columns:
            objects["label"] = v.labels_to_names(objects["label"], names, "objects.label")
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
        #: the project store this dataset is bound to (``ds.save(path)`` / ``nbdiag.open``)
        self._store: Store | None = None

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
            pd.Categorical(values, categories=self._class_names),
            index=values.index,
            name=values.name,
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
        # object dtype so that a missing path is None (pandas >= 3 would store NaN in a str column)
        paths = [None if _missing(p) else os.fspath(p) for p in s["path"].to_numpy(dtype=object)]
        s["path"] = pd.Series(paths, index=s.index, dtype=object)
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
        sizes = self._samples[["width", "height"]]
        is_gt = (o["source"] == GT).to_numpy()
        if is_gt.any():
            v.check_boxes(o[is_gt], sizes)
        if not is_gt.all():
            preds = o[~is_gt]
            v.check_boxes(preds, sizes, what="predicted box")
            v.check_scores(preds["score"], "predicted box")

    def _fill_sizes_from_arrays(self) -> None:
        ids = list(self._images)
        for i in ids:
            arr = self._images[i]
            if arr.dtype != np.uint8:
                raise ValueError(f"in-memory image {v.show(i)} must be uint8, got {arr.dtype}")
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
            raise KeyError(f"unknown sample id {v.show(sample_id)}")
        path = self._samples.at[sample_id, "path"]
        if _missing(path):
            raise ValueError(
                f"sample {v.show(sample_id)} has neither an image file nor an in-memory image"
            )
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
        ``h``, ``score`` (pixels, top-left origin; an ``object_id`` column sets the box ids,
        else they are ``"<name>:<i>"``), or COCO results (a list of result dicts or the path
        of a results JSON) when the dataset was loaded from COCO.

        With ``replace=True`` an existing run of that name is replaced, but only once the new
        predictions have passed validation.
        """
        if not isinstance(name, str) or not name or name == GT:
            raise ValueError(f"run name must be a non-empty string other than {GT!r}, got {name!r}")
        if name in self.runs and not replace:
            raise ValueError(f"a run named {name!r} exists already; pass replace=True to overwrite")
        if isinstance(predictions, (str, os.PathLike)) or (
            isinstance(predictions, list) and predictions and isinstance(predictions[0], Mapping)
        ):
            from .io.coco import coco_results_to_frame

            predictions = coco_results_to_frame(predictions, self)
        # the other runs' and the ground truth's boxes: what a replacement is checked against
        from .store._project import refuse_if_stale

        refuse_if_stale(self, f"add_run({name!r})")
        kept = self._objects[self._objects["source"] != name]
        run: Run
        if isinstance(predictions, pd.DataFrame) and {"x", "y", "w", "h"} <= set(
            predictions.columns
        ):
            boxes = self._detection_boxes(name, predictions, kept)
            self._objects = pd.concat([kept, boxes]) if len(kept) else boxes
            run = DetectionRun(name, len(boxes))
        else:
            run = classification_run(name, predictions, self._samples.index, self._class_names)
            self._objects = kept
        self.runs[name] = run
        if getattr(self, "_store", None) is not None:  # bound: save the run, record it
            from .store._project import on_runs_changed

            on_runs_changed(self)
        return run

    def remove_run(self, name: str) -> None:
        """Forget a run (and its boxes)."""
        self._get_run(name)
        from .store._project import refuse_if_stale

        refuse_if_stale(self, f"remove_run({name!r})")
        run = self.runs.pop(name)
        if isinstance(run, DetectionRun):
            self._objects = self._objects[self._objects["source"] != name]
        if getattr(self, "_store", None) is not None:
            from .store._project import on_runs_changed

            on_runs_changed(self)

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

    def _detection_boxes(self, name: str, boxes: pd.DataFrame, kept: pd.DataFrame) -> pd.DataFrame:
        """Validated, normalised predicted boxes of run ``name``; ``kept`` are the other boxes."""
        boxes = boxes.copy()
        if "score" not in boxes.columns:
            raise ValueError(f"run {name!r}: predicted boxes need a 'score' column")
        if "label" not in boxes.columns:
            raise ValueError(f"run {name!r}: predicted boxes need a 'label' column (class)")
        boxes["source"] = name
        if "object_id" in boxes.columns:
            boxes = boxes.set_index("object_id")
            v.check_unique_ids(boxes.index, f"object (in run {name!r})")
        else:
            # object dtype: isin() against integer ids stays a hash lookup
            boxes.index = pd.Index([f"{name}:{i}" for i in range(len(boxes))], dtype=object)
        boxes.index.name = "object_id"
        boxes["label"] = v.labels_to_names(boxes["label"], self._class_names, f"run {name!r}")
        missing = boxes[boxes["label"].isna()]
        if len(missing):
            raise ValueError(f"run {name!r}: boxes without a class: {v.listed(missing.index)}")
        boxes = self._normalise_objects(boxes)
        clash = boxes.index[boxes.index.isin(kept.index)]
        if len(clash):
            raise ValueError(f"run {name!r}: object ids already used: {v.listed(clash)}")
        self._check_objects(boxes)
        return boxes

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self, run: str | None = None, **kwargs: Any
    ) -> ClassificationEvaluation | DetectionEvaluation:
        """Evaluate a run against the ground truth (the only run when ``run`` is omitted).

        Classification runs give a :class:`~nbdiag.ClassificationEvaluation`; detection runs a
        :class:`~nbdiag.DetectionEvaluation` (keyword arguments such as ``iou_threshold`` and
        ``score_threshold`` are passed on). ``progress`` is accepted for every run, so one loop
        can evaluate runs of both kinds (classification is instant and shows none)."""
        r = self._get_run(run)
        if isinstance(r, ClassificationRun):
            from .evaluation.classification import ClassificationEvaluation

            kwargs.pop("progress", None)
            if kwargs:
                raise TypeError(
                    f"run {r.name!r} is a classification run: {sorted(kwargs)} apply to "
                    "detection runs only"
                )
            return ClassificationEvaluation.from_dataset(self, r.name)
        from .evaluation import evaluate_detection_run

        return evaluate_detection_run(self, r.name, **kwargs)

    # ------------------------------------------------------------------ tags
    @property
    def tags(self) -> pd.DataFrame:
        """One row per tagged item: ``id``, ``tag``, ``level`` (sample/object), ``created``."""
        return self._tags.copy()

    def _ids_from(self, items: Any, level: str | None) -> tuple[list[Hashable], str]:
        """Ids and level ("sample" / "object") from ids, a boolean mask, or a DataFrame."""
        if level not in (None, "sample", "object"):
            raise ValueError(f"level must be 'sample' or 'object', got {level!r}")
        if isinstance(items, (pd.DataFrame, pd.Series)):
            if level is None and items.index.name == "object_id":
                level = "object"
            if isinstance(items, pd.Series) and pd.api.types.is_bool_dtype(items.dtype):
                ids = list(items.index[items.to_numpy(dtype=bool)])
            elif isinstance(items, pd.DataFrame):
                ids = list(items.index)
            else:
                ids = list(items)
        elif isinstance(items, np.ndarray) and items.dtype == bool:
            table = self._objects if level == "object" else self._samples
            level = level or "sample"
            v.check_same_length("the boolean mask", items, f"{level}s", table)
            ids = list(table.index[items])
        elif isinstance(items, (str, bytes)) or (
            isinstance(items, Hashable) and not isinstance(items, (tuple, pd.Index))
        ):
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
            if getattr(self, "_store", None) is not None:
                self._store.add_tags(rows)  # committed before it shows in memory
            self._tags = (
                pd.concat([self._tags, rows], ignore_index=True) if len(self._tags) else rows
            )
        return len(new)

    def untag(self, items: Any, tag: str, *, level: str | None = None) -> int:
        """Remove ``tag`` from the given items; returns how many tags were removed."""
        ids, level = self._ids_from(items, level)
        drop = (
            (self._tags["tag"] == tag) & (self._tags["level"] == level) & self._tags["id"].isin(ids)
        )
        if drop.any() and getattr(self, "_store", None) is not None:
            self._store.remove_tags(self._tags[drop])
        self._tags = self._tags[~drop].reset_index(drop=True)
        return int(drop.sum())

    def tagged(self, tag: str, level: str = "sample") -> pd.DataFrame:
        """Rows of ``samples`` (or ``objects``) carrying ``tag``."""
        ids = self._tags[(self._tags["tag"] == tag) & (self._tags["level"] == level)]["id"]
        table = self._samples if level == "sample" else self._objects
        return table.loc[table.index.isin(ids)]

    # ------------------------------------------------------------------ project store
    @property
    def store(self) -> Store | None:
        """The project store this dataset is bound to (``None`` until :meth:`save`)."""
        return getattr(self, "_store", None)

    def save(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        overwrite: bool = False,
        force: bool = False,
    ) -> Store:
        """Save to a project folder and bind to it; without ``path``, save to the bound folder.

        Once bound, tags, saved slices, notes, runs and imported labels are committed as they
        are made; call ``save()`` again after analyses add columns (metrics, issues). Reopen
        with :func:`nbdiag.open`. ``overwrite=True`` replaces another store at ``path``.
        A save refuses (``StoreError``) to overwrite tables another process saved since this
        dataset was loaded or saved; ``force=True`` overwrites them. See ``docs/store.md``.
        """
        from .store._project import save_dataset

        return save_dataset(self, path, overwrite=overwrite, force=force)

    def save_slice(
        self,
        name: str,
        items: Any = None,
        *,
        query: str | None = None,
        level: str | None = None,
        description: str = "",
    ) -> pd.DataFrame:
        """Save a named slice: ids, a boolean mask, a DataFrame (e.g. a widget's ``selected``),
        or a ``DataFrame.query`` string over ``samples`` (``objects`` with ``level="object"``;
        a ``tags`` column is available). A query slice is re-evaluated when read. Returns the
        slice's rows; saving an existing name replaces it.

        >>> ds.save_slice("dark_misses", "brightness < 0.2 and label == 'cat'")  # doctest: +SKIP
        """
        from .store._project import save_slice

        return save_slice(self, name, items, query=query, level=level, description=description)

    @property
    def slices(self) -> pd.DataFrame:
        """Saved slices, indexed by name: ``level``, ``kind``, ``size``, ``query``, ..."""
        from .store._project import slices_frame

        return slices_frame(self)

    def slice(self, name: str) -> pd.DataFrame:
        """Rows of the saved slice ``name``."""
        from .store._project import slice_rows

        return slice_rows(self, name)

    def delete_slice(self, name: str) -> None:
        """Forget a saved slice."""
        from .store._project import delete_slice

        delete_slice(self, name)

    def note(self, text: str, items: Any = None, *, level: str | None = None) -> int:
        """Attach a free-text note to the dataset, or to some samples/objects; returns its id."""
        from .store._project import add_note

        return add_note(self, text, items, level=level)

    @property
    def notes(self) -> pd.DataFrame:
        """Notes, indexed by note id: ``text``, ``level``, ``ids``, ``created``."""
        from .store._project import notes_frame

        return notes_frame(self)

    @property
    def run_history(self) -> pd.DataFrame:
        """Every recorded version of every run, with its evaluation summary and timestamps
        (kept in the store across sessions, also for runs since removed or replaced)."""
        from .store._project import run_history

        return run_history(self)

    @property
    def label_history(self) -> pd.DataFrame:
        """Label changes made by :meth:`import_labels`, with the previous values."""
        from .store._project import label_history

        return label_history(self)

    def compare(self, run_a: str, run_b: str, **kwargs: Any) -> RunComparison:
        """Compare two runs: per-sample fixed/broken/still-wrong, delta confusion matrix,
        per-class and per-metric-bin deltas, most-disagreeing samples. See
        :func:`nbdiag.compare.compare_runs`."""
        from .compare import compare_runs

        return compare_runs(self, run_a, run_b, **kwargs)

    def export(
        self,
        items: Any = None,
        format: str = "coco",
        path: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> os.PathLike[str]:
        """Export samples (all, or ids / mask / DataFrame) with their image paths and current
        labels or boxes for relabelling, as ``"coco"``, ``"csv"`` or ``"parquet"``;
        ``predictions=run`` adds that run's predictions as pre-labels. See
        :func:`nbdiag.io.export.export`."""
        from .io.export import export

        return export(self, items, format=format, path=path, **kwargs)

    def import_labels(
        self,
        path: str | os.PathLike[str] | pd.DataFrame | pd.Series,
        format: str | None = None,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """Read corrected labels (COCO / CSV / Parquet, e.g. an edited :meth:`export`, or in
        memory: a Series of labels by sample id, a DataFrame shaped like the CSV), replace
        the labels of the samples named, keep the old ones in :attr:`label_history`,
        and return what changed. See :func:`nbdiag.io.relabel.import_labels`."""
        from .io.relabel import import_labels

        return import_labels(self, path, format=format, **kwargs)

    def report(
        self, path: str | os.PathLike[str] = "report.html", run: str | None = None, **kwargs: Any
    ) -> os.PathLike[str]:
        """Write a self-contained HTML report (no network needed to view it). See
        :func:`nbdiag.report.write_report`."""
        from .report import write_report

        return write_report(self, path, run=run, **kwargs)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dataframe(
        cls, samples: pd.DataFrame, objects: pd.DataFrame | None = None, **kwargs: Any
    ) -> Dataset:
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
    def from_coco(
        cls,
        gt: Any,
        images: str | os.PathLike[str] | None = None,
        predictions: Any = None,
        **kwargs: Any,
    ) -> Dataset:
        """From a COCO instances JSON (path or dict); ``predictions`` a COCO results JSON (path
        or list) or ``{run_name: results}``."""
        from .io.coco import from_coco

        return from_coco(gt, images=images, predictions=predictions, **kwargs)

    @classmethod
    def from_arrays(
        cls,
        images: np.ndarray,
        labels: Sequence[Any] | None = None,
        probs: np.ndarray | None = None,
        class_names: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> Dataset:
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
        runs = (
            "".join(
                f"<li><code>{esc(n)}</code>: {kind}, {size} "
                f"{'boxes' if kind == 'detection' else 'samples'}</li>"
                for n, (kind, size) in s["runs"].items()
            )
            or "<li>none yet</li>"
        )
        issues = (
            f"<tr><th>image issues</th><td>{s['image_issues']} "
            "(see <code>samples.issues</code>)</td></tr>"
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


def _missing(value: Any) -> bool:
    """None or a scalar NaN (how a missing path or label arrives from pandas)."""
    return value is None or (
        not isinstance(value, (str, bytes, os.PathLike)) and bool(pd.isna(value))
    )


def _natural_key(name: str) -> tuple[Any, ...]:
    """Sort "2" before "10" while keeping plain names alphabetical."""
    return (0, int(name), "") if name.lstrip("-").isdigit() else (1, 0, name)
