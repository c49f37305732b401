"""The user-facing :class:`Dataset`: the core data model plus every convenience method.

:class:`~nbdiag.core.DatasetCore` holds the tables, runs, tags and images and imports nothing
above the core. This module is the top floor of the package: it subclasses the core and adds
the verbs users call on a dataset — readers (``Dataset.from_coco`` …), analyses
(``ds.evaluate``, ``ds.embed``, ``ds.find_label_issues`` …), the project store (``ds.save``,
``ds.save_slice`` …), exports and the report — each a thin call into the package that does the
work. Nothing below imports this module; code that must build a dataset calls
:func:`nbdiag.core.new_dataset`, which builds this class.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import compare as _compare
from . import report as _report
from ._analyses import AnalysesMixin, EmbeddingAnalysesMixin
from .compare import RunComparison
from .core import DatasetCore, Run
from .core._tables import GT, OBJECT_COLUMNS, SAMPLE_COLUMNS
from .evaluation import ClassificationEvaluation, DetectionEvaluation, evaluate_run
from .evaluation.multilabel import MultiLabelEvaluation
from .evaluation.semantic import SemanticEvaluation
from .io.arrays import from_arrays
from .io.coco import coco_results_to_frame, from_coco
from .io.dataframe import from_dataframe
from .io.export import export as export_items
from .io.folder import from_folder
from .io.formats.cvat import from_cvat
from .io.formats.hf import from_hf
from .io.formats.labelstudio import from_labelstudio
from .io.formats.voc import from_voc
from .io.formats.yolo import from_yolo, read_yolo_predictions
from .io.label_maps import from_label_maps
from .io.relabel import import_labels
from .io.run_boxes import boxes_to_xywh, detections_to_frame
from .io.torch import from_torch
from .store import Store, _project

__all__ = ["GT", "OBJECT_COLUMNS", "SAMPLE_COLUMNS", "Dataset"]


class Dataset(AnalysesMixin, EmbeddingAnalysesMixin, DatasetCore, facade=True):
    """Images (samples), their boxes (objects), and model predictions (runs).

    Parameters
    ----------
    samples
        One row per image. The index is the sample id (or an ``id`` column becomes it).
        Recognised columns: ``path`` (image file), ``width``, ``height``, ``label`` (class of a
        classification sample), ``labels`` (multi-label: a list of class names or indices per
        sample, ``ds.task == "multilabel"``; see ``docs/multilabel.md``), ``split``, ``issues``
        (problems found with the image file, comma-separated, ``""`` when none); any other
        column is kept.
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
    :meth:`from_coco`, :meth:`from_yolo`, :meth:`from_voc`, :meth:`from_hf`,
    :meth:`from_labelstudio`, :meth:`from_cvat`, :meth:`from_arrays` or :meth:`from_torch`.

    Examples
    --------
    >>> import pandas as pd, nbdiag
    >>> ds = nbdiag.Dataset(pd.DataFrame({"label": ["cat", "dog"]}, index=["a", "b"]))
    >>> ds.class_names
    ['cat', 'dog']
    """

    # ------------------------------------------------------------------ runs
    def add_run(
        self,
        name: str,
        predictions: pd.DataFrame | np.ndarray | Sequence[Any] | str | os.PathLike[str],
        *,
        replace: bool = False,
        format: str | None = None,
        box_format: str | None = None,
        label_offset: int = 0,
    ) -> Run:
        """Attach a model's predictions as a named run.

        Classification, any of:

        - a 2-D array of class probabilities, one row per sample in ``samples`` order;
        - a 1-D array / list of predicted classes (names or indices) in ``samples`` order;
        - a DataFrame indexed by sample id with one probability column per class name, or a
          ``prediction`` column (and optionally ``confidence``).

        Detection, any of:

        - a DataFrame of boxes with ``sample_id``, ``label``, ``x``, ``y``, ``w``, ``h``,
          ``score`` (pixels, top-left origin; an ``object_id`` column sets the box ids, else
          they are integers in a block of the run's own, from 1,000,000 (or the next
          multiple of a million, or of the power of ten that holds the run, above the ids in
          use; a run added again with ``replace=True`` keeps its block, and the tags on its
          boxes); ``source`` names the run); with ``box_format=`` boxes in another convention:
          ``"xyxy"`` (``x1, y1, x2, y2``), ``"cxcywh"``, or normalised to the image size
          ``"xyxyn"``, ``"cxcywhn"`` (YOLO), ``"xywhn"`` (see
          :func:`nbdiag.io.run_boxes.boxes_to_xywh` for the column names read);
        - torchvision-style outputs: a list of ``{"boxes", "labels", "scores"}`` dicts (tensors
          or arrays; one per sample in ``samples`` order, or a dict by sample id), boxes
          ``xyxy`` unless ``box_format=`` says otherwise, labels class indices (``label_offset=1``
          for models whose class 0 is the background) or names;
        - YOLO prediction files (``yolo predict save_txt=True save_conf=True``): their folder,
          with ``format="yolo"``;
        - COCO results (a list of result dicts or the path of a results JSON) when the dataset
          was loaded from COCO.

        Multi-label (a dataset with a ``labels`` column): per-class probabilities (sigmoid
        outputs, in [0, 1]; a row need not sum to 1), an N x C array in ``samples`` order or a
        DataFrame indexed by sample id with one column per class.

        Semantic segmentation (a dataset from :meth:`from_label_maps`), any of: a dict sample
        id -> H x W predicted class indices or C x H x W class scores (logits / probabilities,
        numpy or torch: their arg-max is kept); an N x H x W or N x C x H x W array (or a list)
        in ``samples`` order; a folder of PNG label maps named like the images. Each map must
        have its ground truth's size and hold class indices (or ``ignore_index``).

        With ``replace=True`` an existing run of that name is replaced, but only once the new
        predictions have passed validation. A dataset bound to a store saves the run and
        records it in :attr:`run_history`.
        """
        self._check_run_name(name, replace)
        if format not in (None, "coco", "yolo"):
            raise ValueError(f"format must be None, 'coco' or 'yolo', got {format!r}")
        if self.task == "semantic":
            pass  # predicted label maps: read and checked by the core
        elif format == "yolo":
            predictions = read_yolo_predictions(self, predictions)  # type: ignore[arg-type]
        elif _detection_dicts(predictions):
            predictions = detections_to_frame(
                predictions,  # type: ignore[arg-type]
                self,
                box_format=box_format or "xyxy",
                label_offset=label_offset,
            )
        elif isinstance(predictions, pd.DataFrame) and box_format is not None:
            predictions = boxes_to_xywh(predictions, self, box_format=box_format)
        elif (
            format == "coco"
            or isinstance(predictions, (str, os.PathLike))
            or (
                isinstance(predictions, list)
                and predictions
                and isinstance(predictions[0], Mapping)
            )
        ):
            predictions = coco_results_to_frame(predictions, self)  # type: ignore[arg-type]
        run = super().add_run(name, predictions, replace=replace)
        _project.on_runs_changed(self)
        return run

    def remove_run(self, name: str) -> None:
        """Forget a run (and its boxes); a bound dataset records the change in its store."""
        super().remove_run(name)
        _project.on_runs_changed(self)

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self, run: str | None = None, **kwargs: Any
    ) -> ClassificationEvaluation | DetectionEvaluation | SemanticEvaluation | MultiLabelEvaluation:
        """Evaluate a run against the ground truth (the only run when ``run`` is omitted).

        Classification runs give a :class:`~nbdiag.ClassificationEvaluation`; detection runs a
        :class:`~nbdiag.DetectionEvaluation` (keyword arguments such as ``iou_threshold``,
        ``score_threshold`` and ``iou_type="segm"``, which compares the objects' masks as
        ``COCOeval(iouType="segm")``, are passed on); semantic runs a :class:`~nbdiag.SemanticEvaluation`,
        and each image's mIoU and pixel accuracy become ``samples["miou@<run>"]`` and
        ``samples["pixel_accuracy@<run>"]``. ``progress`` is accepted for every run, so one loop
        can evaluate runs of both kinds (classification is instant and shows none).
        Multi-label runs give a :class:`~nbdiag.MultiLabelEvaluation` at ``threshold=``
        (default 0.5; one per class as a list or a dict class -> threshold)."""
        return evaluate_run(self, run, **kwargs)

    # ------------------------------------------------------------------ project store
    @property
    def store(self) -> Store | None:
        """The project store this dataset is bound to (``None`` until :meth:`save`)."""
        return self._store

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
        return _project.save_dataset(self, path, overwrite=overwrite, force=force)

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
        return _project.save_slice(
            self, name, items, query=query, level=level, description=description
        )

    @property
    def slices(self) -> pd.DataFrame:
        """Saved slices, indexed by name: ``level``, ``kind``, ``size``, ``query``, ..."""
        return _project.slices_frame(self)

    def slice(self, name: str) -> pd.DataFrame:
        """Rows of the saved slice ``name``."""
        return _project.slice_rows(self, name)

    def delete_slice(self, name: str) -> None:
        """Forget a saved slice."""
        _project.delete_slice(self, name)

    def note(self, text: str, items: Any = None, *, level: str | None = None) -> int:
        """Attach a free-text note to the dataset, or to some samples/objects; returns its id."""
        return _project.add_note(self, text, items, level=level)

    @property
    def notes(self) -> pd.DataFrame:
        """Notes, indexed by note id: ``text``, ``level``, ``ids``, ``created``."""
        return _project.notes_frame(self)

    @property
    def run_history(self) -> pd.DataFrame:
        """Every recorded version of every run, with its evaluation summary and timestamps
        (kept in the store across sessions, also for runs since removed or replaced)."""
        return _project.run_history(self)

    @property
    def label_history(self) -> pd.DataFrame:
        """Label changes made by :meth:`import_labels`, with the previous values."""
        return _project.label_history(self)

    def compare(self, run_a: str, run_b: str, **kwargs: Any) -> RunComparison:
        """Compare two runs (classification, detection or multi-label; ``threshold=`` for
        multi-label): per-sample fixed/broken/still-wrong, delta confusion matrix, per-class and
        per-metric-bin deltas, most-disagreeing samples. See
        :func:`nbdiag.compare.compare_runs`."""
        return _compare.compare_runs(self, run_a, run_b, **kwargs)

    def export(
        self,
        items: Any = None,
        format: str = "coco",
        path: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> os.PathLike[str]:
        """Export samples (all, or ids / mask / DataFrame) with their image paths and current
        labels or boxes for relabelling, as ``"coco"``, ``"csv"``, ``"parquet"``, ``"yolo"``,
        ``"voc"``, ``"labelstudio"`` or ``"cvat"``; ``predictions=run`` adds that run's
        predictions as pre-labels. See :func:`nbdiag.io.export.export`."""
        return export_items(self, items, format=format, path=path, **kwargs)

    def import_labels(
        self,
        path: str | os.PathLike[str] | pd.DataFrame | pd.Series,
        format: str | None = None,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """Read corrected labels (COCO, CSV, Parquet, YOLO, VOC, a Label Studio export or CVAT
        XML, e.g. after an :meth:`export`, or in memory: a Series of labels by sample id, a
        DataFrame shaped like the CSV), replace
        the labels of the samples named, keep the old ones in :attr:`label_history`,
        and return what changed. See :func:`nbdiag.io.relabel.import_labels`."""
        return import_labels(self, path, format=format, **kwargs)

    def report(
        self, path: str | os.PathLike[str] = "report.html", run: str | None = None, **kwargs: Any
    ) -> os.PathLike[str]:
        """Write a self-contained HTML report (no network needed to view it). See
        :func:`nbdiag.report.write_report`."""
        return _report.write_report(self, path, run=run, **kwargs)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dataframe(
        cls, samples: pd.DataFrame, objects: pd.DataFrame | None = None, **kwargs: Any
    ) -> Dataset:
        """From tables you already have; see :class:`Dataset` for the columns. Images listed in
        ``path`` are probed for size and problems (recorded in ``issues``)."""
        return from_dataframe(samples, objects, **kwargs)

    @classmethod
    def from_folder(cls, root: str | os.PathLike[str], **kwargs: Any) -> Dataset:
        """From a folder: one sub-folder per class, or a flat folder of unlabelled images."""
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
        """From a numpy image stack (N,H,W) or (N,H,W,C) such as scikit-learn's digits.
        Multi-label with ``multilabel=True``: ``labels`` one list of classes per image, or an
        N x C 0/1 indicator matrix. See :func:`nbdiag.io.arrays.from_arrays`."""
        return from_arrays(images, labels, probs=probs, class_names=class_names, **kwargs)

    @classmethod
    def from_label_maps(
        cls,
        images: Any,
        label_maps: Any,
        class_names: Sequence[Any],
        *,
        ignore_index: int = 255,
        **kwargs: Any,
    ) -> Dataset:
        """Semantic segmentation: images (a folder, paths or arrays) and one H x W label map of
        class indices per image (a folder of PNGs matched by file name, paths, or arrays), with
        ``ignore_index`` marking pixels to ignore. See :func:`nbdiag.io.label_maps.from_label_maps`.
        """
        return from_label_maps(images, label_maps, class_names, ignore_index=ignore_index, **kwargs)

    @classmethod
    def from_torch(cls, dataset: Any, **kwargs: Any) -> Dataset:
        """From a ``torch.utils.data.Dataset`` yielding ``(image, label)`` pairs."""
        return from_torch(dataset, **kwargs)

    @classmethod
    def from_yolo(
        cls, source: str | os.PathLike[str], split: str | Sequence[str] | None = None, **kwargs: Any
    ) -> Dataset:
        """From a YOLO / Ultralytics dataset: its ``data.yaml`` or folder. See
        :func:`nbdiag.io.formats.yolo.from_yolo`."""
        return from_yolo(source, split, **kwargs)

    @classmethod
    def from_voc(
        cls, root: str | os.PathLike[str], split: str | Sequence[str] | None = None, **kwargs: Any
    ) -> Dataset:
        """From a Pascal VOC folder (``Annotations/``, ``JPEGImages/``, ``ImageSets/Main``).
        See :func:`nbdiag.io.formats.voc.from_voc`."""
        return from_voc(root, split, **kwargs)

    @classmethod
    def from_hf(cls, dataset: Any, **kwargs: Any) -> Dataset:
        """From a Hugging Face ``datasets.Dataset`` (images read in place). See
        :func:`nbdiag.io.formats.hf.from_hf`."""
        return from_hf(dataset, **kwargs)

    @classmethod
    def from_labelstudio(cls, source: Any, **kwargs: Any) -> Dataset:
        """From a Label Studio JSON export. See
        :func:`nbdiag.io.formats.labelstudio.from_labelstudio`."""
        return from_labelstudio(source, **kwargs)

    @classmethod
    def from_cvat(cls, source: str | os.PathLike[str], **kwargs: Any) -> Dataset:
        """From a CVAT for images 1.1 XML. See :func:`nbdiag.io.formats.cvat.from_cvat`."""
        return from_cvat(source, **kwargs)


def _detection_dicts(predictions: Any) -> bool:
    """torchvision-style outputs: dicts with ``boxes`` (a list of them, or by sample id)."""
    if isinstance(predictions, Mapping):
        first = next(iter(predictions.values()), None)
        return isinstance(first, Mapping) and "boxes" in first
    if isinstance(predictions, (list, tuple)) and predictions:
        return isinstance(predictions[0], Mapping) and "boxes" in predictions[0]
    return False
