"""A Dataset from in-memory image arrays (scikit-learn digits, MNIST-style stacks, ...)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core import DatasetCore, new_dataset
from ..core import validation as v
from ..core.images import array_to_uint8
from ..core.multilabel import LABELS, is_label_set_input, label_sets, missing_cell

_CHANNELS = (1, 3, 4)


def from_arrays(
    images: np.ndarray | Sequence[np.ndarray],
    labels: Sequence[Any] | np.ndarray | None = None,
    probs: np.ndarray | None = None,
    class_names: Sequence[Any] | None = None,
    *,
    name: str = "arrays",
    ids: Sequence[Hashable] | None = None,
    split: str | Sequence[Any] | None = None,
    run_name: str = "model",
    multilabel: bool = False,
) -> DatasetCore:
    """Build a :class:`~nbdiag.Dataset` from images held in memory.

    Parameters
    ----------
    images
        A stack ``(N, H, W)`` (grayscale) or ``(N, H, W, C)`` with C = 1, 3 or 4, or a list of
        such images of different sizes. Channels-first stacks ``(N, C, H, W)`` with C = 1 or 3
        are transposed. Non-uint8 pixels are scaled to 0..255 over the whole set (floats in
        [0, 1] by 255; any other range, e.g. digits' 0..16, linearly from [0, max]), so
        brightness differences between images are preserved.
    labels
        Ground-truth class per image: names, or integer indices into ``class_names``.
        With ``multilabel=True`` (several classes per image, ``ds.task == "multilabel"``):
        one list of class names or indices per image (``[]`` for none, ``None`` for
        unlabelled), or an ``(N, n_classes)`` 0/1 indicator matrix (numpy array, or a
        DataFrame with one column per class); they become the ``labels`` column. See
        ``docs/multilabel.md``.
    probs
        Class probabilities ``(N, n_classes)`` of a model; added as the run ``run_name``.
        Multi-label: independent per-class probabilities (sigmoid outputs).
    class_names
        The classes in order. Without it: ``"0", "1", ...`` for integer labels (as many as
        ``probs`` has columns), or the sorted label names for string labels (the order of
        scikit-learn's ``classes_``, hence of its ``predict_proba`` columns).
    name
        Display name.
    ids
        Sample ids (default ``0 .. N-1``).
    split
        One split name for all images, or one per image.
    run_name
        Name of the run created from ``probs``.
    multilabel
        Read ``labels`` as several classes per image (and ``probs`` as independent per-class
        probabilities).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> digits = load_digits()
    >>> ds = from_arrays(digits.images, digits.target)
    >>> len(ds), ds.class_names[:3], ds.samples[["width", "height"]].iloc[0].tolist()
    (1797, ['0', '1', '2'], [8.0, 8.0])
    """
    arrays = _uint8_images(images)
    n = len(arrays)
    index = pd.RangeIndex(n) if ids is None else pd.Index(list(ids))
    if ids is not None:
        v.check_same_length("ids", index, "images", arrays)
    columns: dict[str, Any] = {}
    if multilabel and labels is not None:  # label collections or an indicator matrix
        sets, class_names = label_sets(labels, class_names, index)
        v.check_same_length("labels", sets, "images", arrays)
        columns[LABELS] = pd.Series(sets, index=index, dtype=object)
        labels = np.asarray([c for s in sets if not missing_cell(s) for c in s], dtype=object)
    elif labels is not None:
        given = labels
        labels = np.asarray(labels, dtype=object) if not isinstance(labels, np.ndarray) else labels
        if labels.ndim != 1 or is_label_set_input(given):
            raise ValueError(
                f"labels must be 1-D (one class per image), got {labels.ndim}-D or lists of "
                "classes; for several classes per image pass multilabel=True (one-hot single "
                "labels: pass labels.argmax(axis=1))"
            )
        v.check_same_length("labels", labels, "images", arrays)
        columns["label"] = labels
    if split is not None:
        if not isinstance(split, str):
            v.check_same_length("split", split, "images", arrays)
        columns["split"] = split if isinstance(split, str) else list(split)
    if probs is not None:
        probs = np.asarray(probs)
        if probs.ndim != 2:
            raise ValueError(f"probs must be 2-D (images x classes), got shape {probs.shape}")
        v.check_same_length("probs", probs, "images", arrays)
        if class_names is None:
            class_names = _default_class_names(labels, probs.shape[1])
    samples = pd.DataFrame(columns, index=index)
    ds = new_dataset(
        samples,
        class_names=class_names,
        images=dict(zip(index, arrays, strict=True)),
        name=name,
    )
    if probs is not None:
        ds.add_run(run_name, probs)
    return ds


def _default_class_names(labels: np.ndarray | None, n_classes: int) -> list[str]:
    if labels is None:
        return [str(i) for i in range(n_classes)]
    present = pd.Series(labels).dropna().infer_objects()
    if len(present) == 0 or pd.api.types.is_numeric_dtype(present):
        return [str(i) for i in range(n_classes)]
    names = sorted({str(x) for x in present})
    if len(names) != n_classes:
        raise ValueError(
            f"probs have {n_classes} columns but the labels name {len(names)} classes "
            f"{names[:10]}; pass class_names= in the order of the probability columns"
        )
    return names


def _uint8_images(images: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """One uint8 (H, W) or (H, W, C) array per image, scaled over the whole set."""
    if isinstance(images, np.ndarray) and images.dtype != object:
        stack = _channels_last(images)
        return list(array_to_uint8(stack))
    items = [np.asarray(im) for im in images]
    if not items:
        raise ValueError("images is empty")
    for i, im in enumerate(items):
        if im.ndim not in (2, 3) or (im.ndim == 3 and im.shape[2] not in _CHANNELS):
            raise ValueError(f"image {i} has shape {im.shape}; expected (H, W) or (H, W, C)")
    if len({im.shape for im in items}) == 1:
        return list(array_to_uint8(np.stack(items)))
    # ragged sizes: scale all pixels together, then cut the flat result back into images
    flat = array_to_uint8(np.concatenate([im.ravel() for im in items])[None])[0]
    bounds = np.cumsum([0] + [im.size for im in items])
    return [
        flat[a:b].reshape(im.shape) for a, b, im in zip(bounds[:-1], bounds[1:], items, strict=True)
    ]


def _channels_last(stack: np.ndarray) -> np.ndarray:
    if stack.ndim == 3:
        return stack
    if stack.ndim == 4:
        if stack.shape[3] in _CHANNELS:
            return stack
        if stack.shape[1] in (1, 3):
            return np.moveaxis(stack, 1, 3)
    raise ValueError(
        f"images must be a stack (N, H, W) or (N, H, W, C) with C in {_CHANNELS}, "
        f"got shape {stack.shape}"
    )
