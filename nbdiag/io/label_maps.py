"""A semantic-segmentation Dataset: images and one ground-truth label map per image."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core import DatasetCore, new_dataset
from ..core import validation as v
from ..core.label_maps import IGNORE_INDEX, LABEL_MAP, attach, match_files, png_files
from .arrays import from_arrays
from .dataframe import from_dataframe
from .folder import from_folder


def from_label_maps(
    images: str | os.PathLike[str] | Sequence[Any] | np.ndarray,
    label_maps: str | os.PathLike[str] | Sequence[Any] | Mapping[Hashable, Any] | np.ndarray,
    class_names: Sequence[Any],
    *,
    ignore_index: int = IGNORE_INDEX,
    ids: Sequence[Hashable] | None = None,
    name: str | None = None,
    probe_images: bool | str = True,
    progress: bool | None = None,
) -> DatasetCore:
    """Build a semantic-segmentation :class:`~nbdiag.Dataset`: images and their label maps.

    A label map is an H x W array of class indices into ``class_names`` (pixel value ``i`` is
    class ``class_names[i]``), the size of its image; pixels equal to ``ignore_index`` count for
    nothing in evaluation. ``ds.task`` is ``"semantic"``; ``ds.label_map(sample_id)`` returns a
    map, ``ds.add_run(name, predicted_maps)`` adds a model's predictions and
    ``ds.evaluate(name)`` gives a :class:`~nbdiag.SemanticEvaluation`.

    Parameters
    ----------
    images
        A folder of images (read as :meth:`Dataset.from_folder` does, without classes: sample
        ids are paths relative to it, e.g. ``"city/a.jpg"``), a list of image paths (ids: the
        file names, or ``ids``), or images in memory (an ``(N, H, W[, C])`` stack or a list of
        arrays, as :meth:`Dataset.from_arrays`; ids ``0..N-1`` or ``ids``).
    label_maps
        A folder of PNG label maps (palette, 8- or 16-bit grayscale), matched to the images by
        path without extension (``"city/a"``) or else by file name without extension (``"a"``);
        images without a map stay unlabelled. Or a list of PNG paths in image order. Files are
        read only when a map is needed (never all at once): their paths are the ``label_map``
        column of ``samples``. Or maps in memory: a dict sample id -> H x W integer array, an
        ``(N, H, W)`` array or a list of N arrays in image order (numpy or torch).
    class_names
        The classes, in index order.
    ignore_index
        The value of pixels to ignore (default 255); it must not be a class index.
    ids
        Sample ids for a list of paths or in-memory images.
    name
        Display name.
    probe_images, progress
        How image files are checked, and whether a progress bar is shown; see
        :func:`~nbdiag.io.from_dataframe`.

    Raises
    ------
    ValueError
        Naming the sample: a map whose size differs from its image, a class index outside
        ``0..len(class_names)-1`` that is not ``ignore_index``, a colour (RGB) label-map image.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    >>> maps = np.array([np.eye(4, dtype=np.uint8), np.full((4, 4), 255, np.uint8)])
    >>> ds = from_label_maps(images, maps, ["background", "line"])
    >>> ds.task, ds.label_map(0).sum()
    ('semantic', 4)
    """
    names = [str(c) for c in class_names]
    ds = _images_dataset(images, names, ids, name, probe_images, progress)
    arrays: dict[Hashable, Any] | None = None
    samples = ds.samples
    if isinstance(label_maps, (str, os.PathLike)):
        files = match_files(png_files(label_maps, "label_maps"), samples.index, "label_maps")
        if not files:
            first = samples.index[0]
            raise ValueError(
                f"no label map in {os.fspath(label_maps)!r} is named like an image (e.g. "
                f"sample {v.show(first)} -> {str(first).rsplit('.', 1)[0]}.png)"
            )
        samples[LABEL_MAP] = pd.Series(files, dtype=object).reindex(samples.index)
    elif _paths(label_maps):
        v.check_same_length("label_maps", label_maps, "images", samples)
        samples[LABEL_MAP] = [os.path.abspath(os.fspath(p)) for p in label_maps]  # type: ignore[union-attr]
    elif isinstance(label_maps, Mapping):
        arrays = dict(label_maps)
    else:
        if not (hasattr(label_maps, "shape") or isinstance(label_maps, Sequence)):
            raise TypeError(
                "label_maps must be a folder of PNGs, a list of paths, a dict sample id -> "
                f"array, or an (N, H, W) array; got {type(label_maps).__name__}"
            )
        v.check_same_length("label_maps", label_maps, "images", samples)
        arrays = {sid: label_maps[i] for i, sid in enumerate(samples.index)}
    if LABEL_MAP in samples.columns:
        samples[LABEL_MAP] = (
            samples[LABEL_MAP].astype(object).where(samples[LABEL_MAP].notna(), None)
        )
    attach(ds, arrays, ignore_index)
    return ds


def _paths(values: Any) -> bool:
    return (
        isinstance(values, Sequence)
        and not isinstance(values, (str, bytes))
        and len(values) > 0
        and all(isinstance(p, (str, os.PathLike)) for p in values)
    )


def _images_dataset(
    images: Any,
    class_names: list[str],
    ids: Sequence[Hashable] | None,
    name: str | None,
    probe_images: bool | str,
    progress: bool | None,
) -> DatasetCore:
    """A dataset of the images alone, with the classes (no labels)."""
    if isinstance(images, (str, os.PathLike)):
        if ids is not None:
            raise ValueError("ids cannot be given for a folder of images (ids are its paths)")
        base = from_folder(images, labels=False, probe_images=probe_images, progress=progress)
        samples = base.samples.drop(columns=["label"])
        return new_dataset(samples, class_names=class_names, name=name or base.name)
    if _paths(images):
        paths = [os.fspath(p) for p in images]
        if ids is None:
            base_names = [os.path.basename(p) for p in paths]
            ids = base_names if len(set(base_names)) == len(paths) else paths
        v.check_same_length("ids", ids, "images", paths)
        samples = pd.DataFrame({"path": paths}, index=pd.Index(list(ids), name="id"))
        return from_dataframe(
            samples,
            class_names=class_names,
            name=name or "label_maps",
            probe_images=probe_images,
            progress=progress,
        )
    return from_arrays(images, class_names=class_names, ids=ids, name=name or "label_maps")
