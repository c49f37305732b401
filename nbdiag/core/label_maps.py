"""Semantic segmentation in the data model: per-pixel label maps and semantic runs.

A semantic dataset has one ground-truth *label map* per sample: an H x W array of class indices
into ``class_names``, where ``ignore_index`` (default 255) marks pixels that count for nothing.
Label maps read from files stay files (the ``label_map`` column of ``samples`` holds their paths,
read when asked for); label maps given as arrays are kept in memory (:class:`LabelMaps`).

A :class:`SemanticRun` holds a model's predicted maps the same way: arrays in memory (logits or
probabilities are reduced to their arg-max class on the way in) or PNG files read when asked for.
Every map is checked against its sample's ground truth: same size, classes in range, with an
error naming the sample otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from . import validation as v

#: a :class:`~nbdiag.core.DatasetCore` (not imported: the dataset module imports this one)
DatasetCore = Any

#: the ``samples`` column holding the path of each ground-truth label map file
LABEL_MAP = "label_map"
#: the default value of pixels that count for nothing (as in mmseg, torchmetrics, Cityscapes)
IGNORE_INDEX = 255
#: PIL modes whose pixel values are class indices (palette, 8-bit, 16/32-bit integers)
_INDEX_MODES = ("P", "L", "I", "I;16", "I;16L", "I;16B", "1")


def map_dtype(n_classes: int, ignore_index: int) -> np.dtype:
    """The smallest integer dtype holding every class index and ``ignore_index``."""
    lo, hi = min(0, ignore_index), max(n_classes - 1, ignore_index)
    for dt in (np.uint8, np.uint16, np.int16, np.int32):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dt)
    return np.dtype(np.int64)


def check_ignore_index(ignore_index: Any, n_classes: int) -> int:
    """``ignore_index`` as an int that is not a class index."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"ignore_index must be an integer, got {ignore_index!r}")
    if 0 <= int(ignore_index) < n_classes:
        raise ValueError(
            f"ignore_index={int(ignore_index)} is the index of class "
            f"{int(ignore_index)} of {n_classes}; choose a value outside 0..{n_classes - 1}"
        )
    return int(ignore_index)


def _to_numpy(value: Any) -> np.ndarray:
    """An array from numpy / torch (any device, no grad) / nested lists."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def as_map(
    value: Any,
    what: str,
    n_classes: int,
    ignore_index: int,
    *,
    logits: bool = True,
) -> np.ndarray:
    """A validated H x W map of class indices (or ``ignore_index``) in :func:`map_dtype`.

    ``value``: an H x W integer array, or (``logits=True``) C x H x W class scores whose
    arg-max over C is taken (C must be the number of classes). ``what`` names the item in
    errors, e.g. ``"sample 'a.png' (run 'model')"``.
    """
    arr = _to_numpy(value)
    if arr.ndim == 3 and logits:
        if arr.shape[0] != n_classes:
            raise ValueError(
                f"{what}: scores of shape {arr.shape} have {arr.shape[0]} channels but the "
                f"dataset has {n_classes} classes"
            )
        if not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"{what}: scores must be numbers, got dtype {arr.dtype}")
        return arr.argmax(axis=0).astype(map_dtype(n_classes, ignore_index))
    if arr.ndim != 2:
        expected = "H x W class indices or C x H x W scores" if logits else "H x W class indices"
        raise ValueError(f"{what}: expected {expected}, got shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.mod(arr, 1) == 0):
            raise TypeError(
                f"{what}: a label map holds integer class indices, got dtype {arr.dtype}"
                + (" (pass class scores as C x H x W)" if logits else "")
            )
    check_values(arr, what, n_classes, ignore_index)
    return arr.astype(map_dtype(n_classes, ignore_index))  # a copy: never the caller's array


def check_values(arr: np.ndarray, what: str, n_classes: int, ignore_index: int) -> None:
    """Every value of ``arr`` a class index (0..K-1) or ``ignore_index``."""
    values = np.unique(arr)
    bad = values[((values < 0) | (values >= n_classes)) & (values != ignore_index)]
    if len(bad):
        shown = ", ".join(str(int(b)) for b in bad[:10])
        raise ValueError(
            f"{what}: class indices {shown} are outside 0..{n_classes - 1} and are not the "
            f"ignore_index {ignore_index}"
        )


def read_png(path: str | os.PathLike[str], what: str) -> np.ndarray:
    """The class indices stored in a label-map image file (palette / grayscale / 16-bit)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what}: label map file {path!r} does not exist")
    try:
        with Image.open(path) as img:
            if img.mode not in _INDEX_MODES:
                raise ValueError(
                    f"{what}: label map {path!r} is a {img.mode} image; label maps are "
                    "single-channel images of class indices (palette, 8- or 16-bit grayscale)"
                )
            return np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"{what}: cannot read label map {path!r}: {exc}") from exc


def png_shape(path: str | os.PathLike[str], what: str) -> tuple[int, int]:
    """(height, width) of a label-map file, from its header."""
    try:
        with Image.open(os.fspath(path)) as img:
            w, h = img.size
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"{what}: cannot read label map {os.fspath(path)!r}: {exc}") from exc
    return h, w


def png_files(folder: str | os.PathLike[str], what: str) -> dict[str, Path]:
    """The label-map files (``.png``) under ``folder``, by path relative to it without the
    extension (``"sub/a"``)."""
    root = Path(os.path.expanduser(os.fspath(folder)))
    if not root.is_dir():
        raise NotADirectoryError(f"{what}: {os.fspath(folder)!r} is not a folder")
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() == ".png" and not p.name.startswith("."):
            out[p.relative_to(root).with_suffix("").as_posix()] = p.resolve()
    if not out:
        raise ValueError(f"{what}: no .png files in folder {os.fspath(folder)!r}")
    return out


def match_files(files: Mapping[str, Path], ids: pd.Index, what: str) -> dict[Hashable, str]:
    """Files matched to sample ids: by relative path without extension, else by file stem
    (a stem shared by several files or ids is an error naming it)."""
    keys = {i: str(i).rsplit(".", 1)[0] if "." in str(i) else str(i) for i in ids}
    by_stem: dict[str, list[Path]] = {}
    for rel, p in files.items():
        by_stem.setdefault(rel.rsplit("/", 1)[-1], []).append(p)
    out: dict[Hashable, str] = {}
    for i, key in keys.items():
        if key in files:
            out[i] = os.fspath(files[key])
            continue
        found = by_stem.get(key.rsplit("/", 1)[-1], [])
        if len(found) > 1:
            raise ValueError(
                f"{what}: sample {v.show(i)} matches several label maps by name: "
                f"{v.listed(os.fspath(f) for f in found)}"
            )
        if found:
            out[i] = os.fspath(found[0])
    return out


# ---------------------------------------------------------------------- the ground truth
@dataclass
class LabelMaps:
    """What makes a dataset semantic: its ``ignore_index`` and the ground-truth label maps held
    in memory (by sample id). Maps read from files are the ``label_map`` column of ``samples``."""

    ignore_index: int = IGNORE_INDEX
    arrays: dict[Hashable, np.ndarray] = field(default_factory=dict)


def attach(
    ds: DatasetCore,
    arrays: Mapping[Hashable, Any] | None,
    ignore_index: int = IGNORE_INDEX,
) -> None:
    """Make ``ds`` a semantic dataset: ``arrays`` (by sample id) are checked and kept; file
    maps are the paths in ``samples.label_map`` (headers checked against the image sizes)."""
    k = len(ds.class_names)
    if k == 0:
        raise ValueError("a semantic dataset needs class_names (one name per class index)")
    ignore = check_ignore_index(ignore_index, k)
    kept: dict[Hashable, np.ndarray] = {}
    for sid, value in (arrays or {}).items():
        if sid not in ds.samples.index:
            raise KeyError(f"label map for unknown sample {v.show(sid)}")
        kept[sid] = as_map(value, f"label map of sample {v.show(sid)}", k, ignore, logits=False)
    if LABEL_MAP in ds.samples.columns:
        for sid, path in ds.samples[LABEL_MAP].items():
            if isinstance(path, (str, os.PathLike)) and sid not in kept:
                _check_size(ds, sid, png_shape(path, f"sample {v.show(sid)}"), "label map")
    for sid, arr in kept.items():
        _check_size(ds, sid, arr.shape, "label map")
    ds._label_maps = LabelMaps(ignore, kept)


def _check_size(ds: DatasetCore, sid: Hashable, shape: tuple[int, ...], what: str) -> None:
    h, w = ds.samples.at[sid, "height"], ds.samples.at[sid, "width"]
    if np.isfinite(h) and np.isfinite(w) and (int(h), int(w)) != tuple(shape[:2]):
        raise ValueError(
            f"sample {v.show(sid)}: the {what} is {shape[1]}x{shape[0]} (WxH) but the image is "
            f"{int(w)}x{int(h)}"
        )


def _require(ds: DatasetCore) -> LabelMaps:
    maps = getattr(ds, "_label_maps", None)
    if maps is None:
        raise ValueError(
            f"dataset {ds.name!r} has no label maps (its task is {ds.task!r}); build one with "
            "Dataset.from_label_maps(images, label_maps, class_names)"
        )
    return maps


def has_gt(ds: DatasetCore, sid: Hashable) -> bool:
    maps = _require(ds)
    if sid in maps.arrays:
        return True
    return LABEL_MAP in ds.samples.columns and isinstance(
        ds.samples.at[sid, LABEL_MAP], (str, os.PathLike)
    )


def gt_map(ds: DatasetCore, sid: Hashable) -> np.ndarray:
    """The ground-truth label map of sample ``sid`` (read from its file when it has one)."""
    maps = _require(ds)
    if sid in maps.arrays:
        return maps.arrays[sid]
    if sid not in ds.samples.index:
        raise KeyError(f"unknown sample id {v.show(sid)}")
    if not has_gt(ds, sid):
        raise ValueError(f"sample {v.show(sid)} has no ground-truth label map")
    what = f"label map of sample {v.show(sid)}"
    arr = read_png(ds.samples.at[sid, LABEL_MAP], what)
    return as_map(arr, what, len(ds.class_names), maps.ignore_index, logits=False)


def gt_shape(ds: DatasetCore, sid: Hashable) -> tuple[int, int]:
    maps = _require(ds)
    if sid in maps.arrays:
        h, w = maps.arrays[sid].shape
        return int(h), int(w)
    return png_shape(ds.samples.at[sid, LABEL_MAP], f"sample {v.show(sid)}")


# ---------------------------------------------------------------------- runs
@dataclass
class SemanticRun:
    """A segmentation model's predicted label maps, by sample id: arrays in memory, or the
    paths of PNG files read when asked for. ``ds.label_map(sample_id, name)`` returns one."""

    name: str
    maps: dict[Hashable, np.ndarray | str]
    created: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz="UTC"))
    kind: str = "semantic"

    def __len__(self) -> int:
        return len(self.maps)

    def __repr__(self) -> str:
        files = sum(isinstance(m, str) for m in self.maps.values())
        where = f"{files} files" if files else "in memory"
        return f"SemanticRun({self.name!r}, {len(self)} maps, {where})"


def run_map(ds: DatasetCore, run: SemanticRun, sid: Hashable) -> np.ndarray:
    """Sample ``sid``'s predicted map of ``run`` (read and checked when it is a file)."""
    if sid not in run.maps:
        raise KeyError(f"run {run.name!r} has no prediction for sample {v.show(sid)}")
    value = run.maps[sid]
    if not isinstance(value, str):
        return value
    what = f"sample {v.show(sid)} (run {run.name!r})"
    arr = as_map(read_png(value, what), what, len(ds.class_names), _require(ds).ignore_index)
    return arr


def label_map(ds: DatasetCore, sid: Hashable, source: str = "gt") -> np.ndarray:
    """Sample ``sid``'s label map: the ground truth (``source="gt"``) or a run's prediction."""
    if source == "gt":
        return gt_map(ds, sid)
    run = ds._get_run(source)
    if not isinstance(run, SemanticRun):
        raise TypeError(f"run {source!r} is a {run.kind} run, not a semantic one")
    return run_map(ds, run, sid)


def semantic_run(name: str, predictions: Any, ds: DatasetCore) -> SemanticRun:
    """Check a model's predicted maps against ``ds``'s ground truth and wrap them as a run.

    ``predictions``: a dict sample id -> H x W class indices or C x H x W scores (numpy or
    torch); an N x H x W / N x C x H x W array or a list of N maps in ``samples`` order; or a
    folder of PNG label maps matched to the samples by file name.
    """
    maps = _require(ds)
    k, ignore, ids = len(ds.class_names), maps.ignore_index, ds.samples.index
    out: dict[Hashable, np.ndarray | str] = {}
    if isinstance(predictions, (str, os.PathLike)):
        files = match_files(png_files(predictions, f"run {name!r}"), ids, f"run {name!r}")
        if not files:
            raise ValueError(
                f"run {name!r}: no file in {os.fspath(predictions)!r} is named like a sample "
                f"(e.g. {v.show(ids[0])} -> {str(ids[0]).rsplit('.', 1)[0]}.png)"
            )
        for sid, path in files.items():
            _check_against_gt(
                ds, sid, png_shape(path, f"sample {v.show(sid)} (run {name!r})"), name
            )
            out[sid] = path
        return SemanticRun(name, out)
    for sid, value in _items(predictions, ids, name):
        what = f"sample {v.show(sid)} (run {name!r})"
        arr = as_map(value, what, k, ignore)
        _check_against_gt(ds, sid, arr.shape, name)
        out[sid] = arr
    if not out:
        raise ValueError(f"run {name!r}: no predicted maps given")
    return SemanticRun(name, out)


def _items(predictions: Any, ids: pd.Index, name: str) -> Iterator[tuple[Hashable, Any]]:
    if isinstance(predictions, Mapping):
        unknown = [i for i in predictions if i not in ids]
        if unknown:
            raise KeyError(f"run {name!r}: predictions for unknown samples {v.listed(unknown)}")
        yield from predictions.items()
        return
    if isinstance(predictions, Sequence) and not isinstance(predictions, (str, bytes)):
        v.check_same_length(f"predictions of run {name!r}", predictions, "samples", ids)
        yield from zip(ids, predictions, strict=True)
        return
    if hasattr(predictions, "shape") and len(predictions.shape) in (3, 4):
        v.check_same_length(f"predictions of run {name!r}", predictions, "samples", ids)
        for i, sid in enumerate(ids):  # one map at a time: a stack of logits is never copied
            yield sid, predictions[i]
        return
    raise TypeError(
        f"run {name!r}: predictions of a semantic dataset are a dict sample id -> map, an "
        "N x H x W (or N x C x H x W) array, a list of maps or a folder of PNG label maps; got "
        f"{type(predictions).__name__}"
        + (f" of shape {tuple(predictions.shape)}" if hasattr(predictions, "shape") else "")
    )


def _check_against_gt(ds: DatasetCore, sid: Hashable, shape: tuple[int, ...], name: str) -> None:
    if not has_gt(ds, sid):  # an unlabelled image: checked against the image size only
        _check_size(ds, sid, shape, f"predicted map of run {name!r}")
        return
    gt = gt_shape(ds, sid)
    if tuple(shape[:2]) != gt:
        raise ValueError(
            f"sample {v.show(sid)} (run {name!r}): the predicted map is {shape[1]}x{shape[0]} "
            f"(WxH) but the ground-truth label map is {gt[1]}x{gt[0]}"
        )
