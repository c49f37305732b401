"""A Dataset from a ``torch.utils.data.Dataset`` yielding ``(image, label)`` pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from .._optional import require
from ..core import DatasetCore, new_dataset
from ..core.images import _normalise_mode, array_to_uint8
from ._probe import PROGRESS_MIN_FILES, progress_bar

_CHANNELS = (1, 3, 4)


def from_torch(
    dataset: Any,
    class_names: Sequence[Any] | None = None,
    *,
    name: str = "torch",
    max_samples: int | None = None,
    progress: bool | None = None,
) -> DatasetCore:
    """Build a :class:`~nbdiag.Dataset` by reading every item of a torch dataset into memory.

    Items are ``(image, label, ...)`` tuples (extra elements are ignored) or bare images
    (unlabelled). An image may be a PIL image, a torch tensor ``(C, H, W)`` / ``(H, W)`` or a
    numpy array ``(H, W)`` / ``(H, W, C)`` / ``(C, H, W)``. Float pixels in [0, 1] (what
    ``ToTensor`` gives) are scaled by 255; floats outside that range (e.g. after
    ``Normalize``) are scaled linearly from the set's minimum and maximum to 0..255. Labels
    may be ints, 0-d tensors, numpy scalars or class names.

    Sample ids are the dataset indices. ``class_names`` defaults to ``dataset.classes`` (set
    by torchvision datasets) when present. For large image folders prefer
    :func:`~nbdiag.io.from_folder`, which loads lazily from the files; or pass
    ``max_samples`` to read only the first items. ``progress=None`` shows a progress bar from
    200 items on.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> data = TensorDataset(torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 1, 0]))
    >>> ds = from_torch(data, class_names=["cat", "dog"], progress=False)
    >>> ds.samples["label"].tolist()
    ['cat', 'dog', 'dog', 'cat']
    """
    torch = require("torch", "reading torch datasets")
    if class_names is None:
        class_names = _classes_of(dataset)
    items = _iterate(dataset, max_samples)
    total = _length(dataset, max_samples)

    images: list[np.ndarray | None] = []
    pending: dict[int, np.ndarray] = {}  # float images outside [0, 1], scaled together at the end
    labels: list[Any] = []
    show = (total is None or total >= PROGRESS_MIN_FILES) if progress is None else progress
    with progress_bar(total, "reading torch dataset", show, unit="img") as bar:
        for i, item in enumerate(items):
            image, label = (
                (item[0], item[1] if len(item) > 1 else None)
                if isinstance(item, (tuple, list))
                else (item, None)
            )
            arr = _to_array(image, torch, i)
            if arr.dtype == np.uint8:
                images.append(arr)
            elif (
                np.issubdtype(arr.dtype, np.floating)
                and arr.size
                and (arr.min() < 0 or arr.max() > 1)
            ):
                pending[i] = arr.astype(np.float32, copy=False)
                images.append(None)
            else:
                images.append(_unit_float_to_uint8(arr, i))
            labels.append(_to_label(label, torch, i))
            bar.update(1)
    if not images:
        raise ValueError("the torch dataset is empty")
    if pending:
        keys = list(pending)
        flat = np.concatenate([pending[k].ravel() for k in keys])
        lo, hi = float(flat.min()), float(flat.max())
        for k in keys:
            scaled = (pending[k] - lo) / (hi - lo) * 255.0 if hi > lo else pending[k] * 0
            images[k] = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    samples = pd.DataFrame(index=pd.RangeIndex(len(images)))
    if any(lab is not None for lab in labels):
        samples["label"] = pd.Series(labels, dtype=object)
    return new_dataset(
        samples,
        class_names=class_names,
        images={i: im for i, im in enumerate(images) if im is not None},
        name=name,
    )


def _classes_of(dataset: Any) -> list[Any] | None:
    """``dataset.classes``, looking through ``Subset`` wrappers."""
    seen = 0
    while dataset is not None and seen < 5:
        classes = getattr(dataset, "classes", None)
        if classes is not None:
            return list(classes)
        dataset = getattr(dataset, "dataset", None)
        seen += 1
    return None


def _length(dataset: Any, max_samples: int | None) -> int | None:
    try:
        n = len(dataset)
    except TypeError:
        return max_samples
    return n if max_samples is None else min(n, max_samples)


def _iterate(dataset: Any, max_samples: int | None) -> Any:
    """Items by index for map-style datasets, by iteration for iterable ones."""
    if max_samples is not None and max_samples < 0:
        raise ValueError(f"max_samples must be >= 0, got {max_samples}")
    try:
        n = len(dataset)
        indexed = hasattr(dataset, "__getitem__")
    except TypeError:
        indexed = False
    if indexed:
        stop = n if max_samples is None else min(n, max_samples)
        return (dataset[i] for i in range(stop))
    it = iter(dataset)
    if max_samples is None:
        return it
    return (item for _, item in zip(range(max_samples), it, strict=False))


def _to_array(image: Any, torch: Any, i: int) -> np.ndarray:
    """A (H, W) or (H, W, C) array from a PIL image, tensor or numpy array."""
    if isinstance(image, Image.Image):
        return np.asarray(_normalise_mode(image))
    is_tensor = isinstance(image, torch.Tensor)
    if is_tensor:
        arr = image.detach().cpu().numpy()
    elif isinstance(image, np.ndarray):
        arr = image
    else:
        raise TypeError(
            f"item {i}: the image is a {type(image).__name__}; expected a PIL image, a torch "
            "tensor or a numpy array"
        )
    if arr.ndim == 3:
        channels_first = arr.shape[0] in _CHANNELS and (is_tensor or arr.shape[2] not in _CHANNELS)
        if channels_first:
            arr = np.moveaxis(arr, 0, 2)
        if arr.shape[2] not in _CHANNELS:
            raise ValueError(f"item {i}: cannot read an image of shape {tuple(image.shape)}")
        if arr.shape[2] == 1:
            arr = arr[:, :, 0]
    elif arr.ndim != 2:
        raise ValueError(f"item {i}: cannot read an image of shape {tuple(image.shape)}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"item {i}: image pixels must be numbers, got dtype {arr.dtype}")
    return arr


def _unit_float_to_uint8(arr: np.ndarray, i: int) -> np.ndarray:
    """Floats in [0, 1] times 255; integers in 0..255 as they are; wider integers (16-bit) scaled
    from [0, max]."""
    if np.issubdtype(arr.dtype, np.integer) and (
        arr.size == 0 or (arr.min() >= 0 and arr.max() <= 255)
    ):
        return arr.astype(np.uint8)
    if not np.isfinite(arr).all():
        raise ValueError(f"item {i}: the image has NaN or infinite pixels")
    return array_to_uint8(arr[None])[0]


def _to_label(label: Any, torch: Any, i: int) -> Any:
    if label is None:
        return None
    if isinstance(label, torch.Tensor):
        if label.numel() != 1:
            raise ValueError(
                f"item {i}: the label is a tensor of shape {tuple(label.shape)}; expected one "
                "class per image (a 0-d or 1-element tensor)"
            )
        return label.item()
    if isinstance(label, np.generic):
        return label.item()
    if isinstance(label, (int, float, str)):
        return label
    raise TypeError(f"item {i}: the label is a {type(label).__name__}; expected an int or a name")
