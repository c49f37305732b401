"""The data model: one samples table, one objects table, named prediction runs, tags, images.

:class:`DatasetCore` is what every analysis, reader, the store and every widget work with; it
imports nothing above the core. The user-facing :class:`nbdiag.Dataset` subclasses it and adds
the convenience methods (``ds.evaluate``, ``ds.embed``, ``ds.from_coco`` …) on the top floor.
Code below that floor that must build a dataset (readers, ``nbdiag.open``) calls
:func:`new_dataset`, which builds the user-facing class once it has been defined.
"""

from __future__ import annotations

import html
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from . import _tables as t
from . import validation as v
from ._memory import release_freed_memory
from ._tables import GT
from .images import ImageLoadError, ThumbnailCache, array_to_image, load_image
from .label_maps import LabelMaps, semantic_run
from .label_maps import label_map as _label_map
from .masks import MASK, flag_empty_masks, masks_column
from .multilabel import LABELS, labelled, multilabel_run, with_labels
from .runs import DetectionRun, Run, classification_run
from .tags import TagIndex
from .thumbnails import thumbnail_of


class DatasetCore:
    """Images (samples), their boxes (objects), model predictions (runs) and tags.

    The data model under :class:`nbdiag.Dataset`, which is what users construct; see there for
    the parameters. Analyses type against this class.
    """

    #: the class :func:`new_dataset` builds: the last subclass declared with ``facade=True``
    _facade: type[DatasetCore] | None = None

    def __init_subclass__(cls, facade: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if facade:
            DatasetCore._facade = cls

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

        objects = t.empty_objects() if objects is None else objects.copy()
        missing = {"sample_id", "x", "y", "w", "h"} - set(objects.columns)
        if missing:
            raise ValueError(f"objects table is missing columns: {sorted(missing)}")
        if "object_id" in objects.columns and isinstance(objects.index, pd.RangeIndex):
            objects = objects.set_index("object_id")
        objects.index.name = "object_id"
        v.check_unique_ids(objects.index, "object")

        names = None if class_names is None else t.as_class_names(class_names)
        if names is not None and len(set(names)) != len(names):
            dup = pd.Index(names)[pd.Index(names).duplicated()].tolist()
            raise ValueError(f"duplicate class names: {dup}")

        if LABELS in samples.columns:  # multi-label: a tuple of class names per sample
            samples, names = with_labels(samples, names)
        if "label" in samples.columns:
            samples["label"] = v.labels_to_names(samples["label"], names, "samples.label")
        if "label" in objects.columns:
            objects["label"] = v.labels_to_names(objects["label"], names, "objects.label")
        if names is None:
            found: set[str] = set()
            for table in (samples, objects):
                if "label" in table.columns:
                    found.update(table["label"].dropna().unique())
            names = sorted(found, key=t.natural_key)
        self._class_names: list[str] = names

        self._tag_index = TagIndex()
        self._samples = self._normalise_samples(samples)
        self._objects = self._normalise_objects(objects)
        self._check_objects(self._objects)

        # a dict is copied and checked; any other Mapping is an image source read lazily (e.g.
        # images encoded inside a Hugging Face Arrow file), whose reader gave the sizes
        lazy = images is not None and not isinstance(images, dict)
        self._images: Mapping[Hashable, np.ndarray] = images if lazy else dict(images or {})
        if self._images:
            v.check_known_ids(self._images.keys(), self._samples.index, "sample (in images)")
            if not lazy:
                self._fill_sizes_from_arrays()
        if MASK in self._objects.columns:  # after the sizes: a mask is checked against its image
            self._objects[MASK] = masks_column(self._objects, self._samples)
            flag_empty_masks(self._objects, self._samples)
        self.name = name
        #: semantic segmentation: ignore_index and in-memory label maps (None: not semantic)
        self._label_maps: LabelMaps | None = None
        self.runs: dict[str, Run] = {}
        for source in self._objects["source"].unique():
            if source != GT:
                n = int((self._objects["source"] == source).sum())
                self.runs[source] = DetectionRun(source, n)
        self._thumbs = ThumbnailCache()
        #: COCO category id -> class name, when loaded from COCO (used to read result files)
        self.coco_categories: dict[int, str] = {}
        #: the project store this dataset is bound to (``ds.save(path)`` / ``nbdiag.open``);
        #: the core calls its ``check_current``, ``add_tags`` and ``remove_tags``
        self._store: Any = None
        release_freed_memory()  # the input copies made above

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
    def _objects(self) -> pd.DataFrame:
        return self._objects_table

    @_objects.setter
    def _objects(self, table: pd.DataFrame) -> None:
        # object tags are kept as row positions: follow the rows when the table is replaced
        old = self.__dict__.get("_objects_table")
        if old is not None:
            self._tag_index.reindex("object", old.index, table.index)
        self._objects_table = table

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
        """``"semantic"`` with label maps, ``"detection"`` when there are boxes,
        ``"multilabel"`` when samples have a ``labels`` set, ``"classification"`` when samples
        have labels, else ``"unlabelled"``."""
        if self._label_maps is not None:
            return "semantic"
        if len(self._objects):
            return "detection"
        if LABELS in self._samples.columns and self._samples[LABELS].notna().any():
            return "multilabel"
        if self._samples["label"].notna().any():
            return "classification"
        return "unlabelled"

    def __len__(self) -> int:
        return len(self._samples)

    def _empty_objects(self) -> pd.DataFrame:
        return t.empty_objects()

    def _categorical(self, values: pd.Series) -> pd.Series:
        return t.categorical(values, self._class_names)

    def _normalise_samples(self, s: pd.DataFrame) -> pd.DataFrame:
        return t.normalise_samples(s, self._class_names)

    def _normalise_objects(self, o: pd.DataFrame) -> pd.DataFrame:
        return t.normalise_objects(o, self._class_names)

    def _check_objects(self, o: pd.DataFrame) -> None:
        t.check_objects(o, self._samples)

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
        if t.missing(path):
            raise ValueError(
                f"sample {v.show(sample_id)} has neither an image file nor an in-memory image"
            )
        return load_image(path)

    def thumbnail(self, sample_id: Hashable, size: int = 128, fmt: str = "WEBP") -> bytes:
        """Encoded thumbnail (longer side ``size`` px): from an in-memory LRU, else from the
        on-disk cache (:mod:`nbdiag.core.thumbnails`), else decoded at reduced scale. A file
        that cannot be decoded raises :class:`nbdiag.ImageLoadError` and is recorded in
        ``samples.issues`` (the first pass that decodes an image records what is wrong)."""
        key = (sample_id, size, fmt)
        cached = self._thumbs.get(key)
        if cached is None:
            try:
                cached = thumbnail_of(self, sample_id, size, fmt)
            except ImageLoadError as exc:
                t.add_issues(self._samples, [sample_id], [exc.reason])
                raise
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
        """Attach a model's predictions as a named run: class probabilities or predicted
        classes (classification), or a DataFrame of boxes (detection). The forms accepted are
        documented on :meth:`nbdiag.Dataset.add_run`, which also reads COCO result files and
        records the run in a bound store. ``replace=True`` replaces a run of that name once
        the new predictions have passed validation."""
        self._check_run_name(name, replace)
        self._refuse_if_stale(f"add_run({name!r})")
        # the other runs' and the ground truth's boxes: what a replacement is checked against
        # (the whole table, not a copy, unless a detection run of this name has boxes in it)
        had_boxes = isinstance(self.runs.get(name), DetectionRun)
        kept = self._objects[self._objects["source"] != name] if had_boxes else self._objects
        run: Run
        if self._label_maps is not None:  # semantic segmentation: predicted label maps
            run = semantic_run(name, predictions, self)
        elif isinstance(predictions, pd.DataFrame) and {"x", "y", "w", "h"} <= set(
            predictions.columns
        ):
            previous = self._objects.index[self._objects["source"] == name] if had_boxes else None
            boxes = self._detection_boxes(name, predictions, kept, previous)
            self._objects = pd.concat([kept, boxes]) if len(kept) else boxes
            run = DetectionRun(name, len(boxes))
        elif LABELS in self._samples.columns:  # multi-label: per-class probabilities
            run = multilabel_run(name, predictions, self._samples.index, self._class_names)
        else:
            run = classification_run(name, predictions, self._samples.index, self._class_names)
        if had_boxes and not isinstance(run, DetectionRun):
            self._objects = kept
        self.runs[name] = run
        release_freed_memory()
        return run

    def remove_run(self, name: str) -> None:
        """Forget a run (and its boxes)."""
        self._get_run(name)
        self._refuse_if_stale(f"remove_run({name!r})")
        run = self.runs.pop(name)
        if isinstance(run, DetectionRun):
            self._objects = self._objects[self._objects["source"] != name]
            release_freed_memory()

    def label_map(self, sample_id: Hashable, source: str = "gt") -> np.ndarray:
        """Sample ``sample_id``'s H x W label map (class indices, ``ignore_index`` where
        ignored): the ground truth (``source="gt"``) or a semantic run's prediction."""
        return _label_map(self, sample_id, source)

    @property
    def ignore_index(self) -> int | None:
        """Semantic segmentation: the label-map value of ignored pixels (``None`` for any other
        task)."""
        return None if self._label_maps is None else self._label_maps.ignore_index

    def run_boxes(self, name: str) -> pd.DataFrame:
        """Predicted boxes of a detection run."""
        self._get_run(name, DetectionRun)
        return self._objects[self._objects["source"] == name]

    def _check_run_name(self, name: str, replace: bool) -> None:
        if not isinstance(name, str) or not name or name == GT:
            raise ValueError(f"run name must be a non-empty string other than {GT!r}, got {name!r}")
        if name in self.runs and not replace:
            raise ValueError(f"a run named {name!r} exists already; pass replace=True to overwrite")

    def _refuse_if_stale(self, action: str) -> None:
        """A bound dataset whose store another kernel saved since: refuse ``action`` before it
        changes anything."""
        if self._store is not None:
            self._store.check_current(action)

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

    def _detection_boxes(
        self, name: str, boxes: pd.DataFrame, kept: pd.DataFrame, previous: pd.Index | None
    ) -> pd.DataFrame:
        """Validated, normalised predicted boxes of run ``name``; ``kept`` are the other boxes,
        ``previous`` the ids of the boxes the run replaces (None: a new run)."""
        boxes = boxes.copy()
        if "score" not in boxes.columns:
            raise ValueError(f"run {name!r}: predicted boxes need a 'score' column")
        if "label" not in boxes.columns:
            raise ValueError(f"run {name!r}: predicted boxes need a 'label' column (class)")
        boxes["source"] = name
        if "object_id" in boxes.columns:
            boxes = boxes.set_index("object_id")
            v.check_unique_ids(boxes.index, f"object (in run {name!r})")
        else:  # a block of integer ids of the run's own (see t.run_box_ids)
            boxes.index = t.run_box_ids(len(boxes), kept.index, previous)
        boxes.index.name = "object_id"
        boxes["label"] = v.labels_to_names(boxes["label"], self._class_names, f"run {name!r}")
        missing = boxes[boxes["label"].isna()]
        if len(missing):
            raise ValueError(f"run {name!r}: boxes without a class: {v.listed(missing.index)}")
        if MASK in boxes.columns:
            boxes[MASK] = masks_column(boxes, self._samples, f"object (in run {name!r})")
        boxes = self._normalise_objects(boxes)
        clash = boxes.index[boxes.index.isin(kept.index)]
        if len(clash):
            raise ValueError(f"run {name!r}: object ids already used: {v.listed(clash)}")
        try:
            self._check_objects(boxes)
        except ValueError as err:  # name the run: its ids are plain numbers
            raise ValueError(f"run {name!r}: {err}") from None
        return boxes

    # ------------------------------------------------------------------ tags
    @property
    def tags(self) -> pd.DataFrame:
        """One row per tagged item: ``id``, ``tag``, ``level`` (sample/object), ``created``."""
        return self._tags

    @property
    def _tags(self) -> pd.DataFrame:
        return self._tag_index.frame(self._indexes())

    @_tags.setter
    def _tags(self, rows: pd.DataFrame) -> None:  # e.g. the store's committed tags
        self._tag_index.load(rows, self._indexes())

    def _indexes(self) -> dict[str, pd.Index]:
        return {"sample": self._samples.index, "object": self._objects.index}

    def _ids_from(self, items: Any, level: str | None) -> tuple[list[Hashable], str]:
        """Ids and level ("sample" / "object") from ids, a boolean mask, or a DataFrame."""
        return t.ids_from(items, level, self._samples, self._objects)

    def _positions_from(self, items: Any, level: str | None) -> tuple[np.ndarray, str]:
        """Row positions and level of ids, a boolean mask, or a DataFrame (one lookup)."""
        return t.positions_from(items, level, self._samples, self._objects)

    def tag(self, items: Any, tag: str, *, level: str | None = None) -> int:
        """Tag samples (or objects): ids, a boolean mask Series, or a DataFrame such as a widget's
        ``selected``. Returns how many new tags were added. Unknown ids raise a ``KeyError``
        naming them; with a bound store the tags are committed before they show in memory."""
        if not isinstance(tag, str) or not tag:
            raise ValueError("tag must be a non-empty string")
        pos, level = self._positions_from(items, level)
        index = self._indexes()[level]
        if self._store is None:
            return self._tag_index.add(tag, level, pos, len(index))
        fresh = self._tag_index.fresh(tag, level, pos)
        if not len(fresh):
            return 0
        created = pd.Timestamp.now(tz="UTC")
        ids = pd.Index(index[fresh], dtype=object)
        self._store.add_tags(  # committed before it shows in memory
            pd.DataFrame({"id": ids, "tag": tag, "level": level, "created": created})
        )
        return self._tag_index.add(tag, level, fresh, len(index), created)

    def untag(self, items: Any, tag: str, *, level: str | None = None) -> int:
        """Remove ``tag`` from the given items; returns how many tags were removed."""
        pos, level = self._positions_from(items, level)
        if self._store is not None:
            hit = self._tag_index.tagged_among(tag, level, pos)
            if len(hit):
                ids = pd.Index(self._indexes()[level][hit], dtype=object)
                self._store.remove_tags(pd.DataFrame({"id": ids, "tag": tag, "level": level}))
        return self._tag_index.remove(tag, level, pos)

    def tagged(self, tag: str, level: str = "sample") -> pd.DataFrame:
        """Rows of ``samples`` (or ``objects``) carrying ``tag``."""
        if level not in ("sample", "object"):
            raise ValueError(f"level must be 'sample' or 'object', got {level!r}")
        table = self._samples if level == "sample" else self._objects
        return table.iloc[self._tag_index.positions(tag, level)]

    # ------------------------------------------------------------------ display
    def summary(self) -> dict[str, Any]:
        """Counts shown by the notebook display."""
        gt = self.gt_objects
        return {
            "name": self.name,
            "samples": len(self._samples),
            "labelled": int(labelled(self._samples).sum()),
            "gt_objects": len(gt),
            "classes": len(self._class_names),
            "runs": {n: (r.kind, len(r)) for n, r in self.runs.items()},
            "image_issues": int((self._samples["issues"] != "").sum()),
            "tags": len(self._tag_index.names()),
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
            counts = self._samples.get(LABELS, self._samples["label"]).explode().value_counts()
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


def new_dataset(
    samples: pd.DataFrame,
    objects: pd.DataFrame | None = None,
    class_names: Sequence[Any] | None = None,
    **kwargs: Any,
) -> DatasetCore:
    """A dataset of the user-facing class (:class:`nbdiag.Dataset` once ``nbdiag`` is imported,
    which every import of a submodule does first); the arguments are :class:`DatasetCore`'s."""
    cls = DatasetCore._facade or DatasetCore
    return cls(samples, objects, class_names, **kwargs)
