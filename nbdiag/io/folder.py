"""A Dataset from a folder of images: one sub-folder per class, optionally per split, or flat."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import DatasetCore, new_dataset
from ._probe import probe_mode, probe_samples

#: file name endings read as images (compared case-insensitively)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: top-level folder names that make ``splits=None`` read the folder as ``root/<split>/...``
SPLIT_NAMES = frozenset({"train", "training", "val", "valid", "validation", "test", "testing"})


def from_folder(
    root: str | os.PathLike[str],
    *,
    extensions: Iterable[str] = IMAGE_EXTENSIONS,
    recursive: bool = True,
    labels: bool | None = None,
    splits: bool | None = None,
    split: str | None = None,
    name: str | None = None,
    probe_images: bool | str = "auto",
    progress: bool | None = None,
) -> DatasetCore:
    """Build a :class:`~nbdiag.Dataset` from a folder of images.

    Layouts (detected automatically):

    - ``root/<class>/<image>`` (ImageNet / torchvision ``ImageFolder`` style): the label is the
      class folder's name. Classes are *all* class folders, sorted by name exactly as
      torchvision sorts them, so a model's class indices line up with :attr:`Dataset.class_names`
      (even when a class folder is empty). Images directly in ``root`` are kept, unlabelled.
    - ``root/<image>``: unlabelled images.
    - ``root/<split>/<class>/<image>`` or ``root/<split>/<image>``: when every top-level folder
      is named like a split (train, val, valid, validation, test, ...) the folder name goes to
      the ``split`` column.

    The sample id is the image's path relative to ``root`` with ``/`` separators (e.g.
    ``"train/cat/001.jpg"``); ``path`` holds the absolute path. Files whose name does not end in
    one of ``extensions`` are ignored, as are hidden files and folders. Files that cannot be
    read are recorded in ``samples.issues``, not raised.

    Parameters
    ----------
    root
        The folder.
    extensions
        File name endings read as images, case-insensitive.
    recursive
        Also take images in nested folders (of ``root``, of each class folder).
    labels
        ``None`` detects the layout; ``True`` reads sub-folders as classes; ``False`` reads every
        image (recursively) as unlabelled.
    splits
        ``None`` detects a split layout by the folder names; ``True`` reads the top-level folders
        as splits whatever their names; ``False`` never does.
    split
        A split name for every sample (e.g. ``"val"``), when the folder is not split by folders.
    name
        Display name (default: the folder's name).
    probe_images, progress
        How files are checked and whether a progress bar is shown; see
        :func:`~nbdiag.io.from_dataframe`.
    """
    top = Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
    if not top.exists():
        raise FileNotFoundError(f"folder {os.fspath(root)!r} does not exist")
    if not top.is_dir():
        raise NotADirectoryError(f"{os.fspath(root)!r} is a file, not a folder")
    exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
    if not exts:
        raise ValueError("extensions must name at least one file type, e.g. ('.jpg', '.png')")

    split_dirs = _subdirs(top)
    if splits is None:
        splits = bool(split_dirs) and all(d.name.lower() in SPLIT_NAMES for d in split_dirs)
    if splits and split is not None:
        raise ValueError(
            f"split={split!r} cannot be combined with a folder split by "
            f"{[d.name for d in split_dirs]}"
        )
    parts = [(d.name, d) for d in split_dirs] if splits else [(split, top)]
    if labels is None:
        labels = any(
            _has_images(d, exts, recursive) for _, folder in parts for d in _subdirs(folder)
        )

    rel: list[str] = []
    split_col: list[str | None] = []
    label_col: list[str | None] = []
    class_names: set[str] = set()
    for split_name, folder in parts:
        if labels:
            for f in _images_in(folder, exts, recursive=False):
                rel.append(f.relative_to(top).as_posix())
                split_col.append(split_name)
                label_col.append(None)
            for cls in _subdirs(folder):
                class_names.add(cls.name)
                for f in _images_in(cls, exts, recursive):
                    rel.append(f.relative_to(top).as_posix())
                    split_col.append(split_name)
                    label_col.append(cls.name)
        else:
            for f in _images_in(folder, exts, recursive):
                rel.append(f.relative_to(top).as_posix())
                split_col.append(split_name)
                label_col.append(None)
    if not rel:
        raise ValueError(
            f"no images found in folder {os.fspath(root)!r} (looked for files ending in "
            f"{', '.join(exts)}{', recursively' if recursive else ''})"
        )

    order = np.argsort(np.asarray(rel, dtype=object), kind="stable")
    samples = pd.DataFrame(
        {
            "path": [os.path.join(top, r) for r in rel],
            "label": label_col,
            "split": split_col,
        },
        index=pd.Index(rel, name="id"),
    ).iloc[order]
    samples = probe_samples(samples, probe_mode(probe_images, len(samples)), progress)
    return new_dataset(
        samples,
        class_names=sorted(class_names) if labels else None,
        name=name if name is not None else top.name,
    )


def _visible(p: Path) -> bool:
    return not p.name.startswith((".", "__MACOSX"))


def _subdirs(folder: Path) -> list[Path]:
    return sorted((d for d in folder.iterdir() if d.is_dir() and _visible(d)), key=lambda d: d.name)


def _images_in(folder: Path, exts: Sequence[str], recursive: bool) -> Iterable[Path]:
    """Image files in ``folder`` (and below, when ``recursive``), skipping hidden entries."""
    if not recursive:
        yield from (f for f in folder.iterdir() if f.is_file() and _is_image(f, exts))
        return
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "__MACOSX"))]
        base = Path(dirpath)
        for fn in filenames:
            f = base / fn
            if _is_image(f, exts):
                yield f


def _is_image(f: Path, exts: Sequence[str]) -> bool:
    return _visible(f) and f.name.lower().endswith(tuple(exts))


def _has_images(folder: Path, exts: Sequence[str], recursive: bool) -> bool:
    return next(iter(_images_in(folder, exts, recursive)), None) is not None
