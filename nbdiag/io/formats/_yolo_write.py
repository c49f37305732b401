"""Writing a selection of a dataset as an Ultralytics YOLO detection dataset (called by
:func:`nbdiag.io.export.export`; re-exported by :mod:`nbdiag.io.formats.yolo`).

The layout written (a valid Ultralytics dataset)::

    data.yaml                        # splits, names, nbdiag ids of the images
    images/<split>/<file>            # a symlink to the original image (a copy / PNG if not)
    labels/<split>/<stem>.txt        # ground truth: "cls cx cy w h", normalised, %.6f
    predictions/<run>/<split>/<stem>.txt   # pre-labels: "cls cx cy w h conf"
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from ...core import validation as v
from ...core.runs import ClassificationRun, DetectionRun
from ...store._atomic import (
    TMP_SUFFIX,
    atomic_dir,
    atomic_write_text,
    fsync_dir,
    remove_stale_dirs,
)
from ...store._codec import to_jsonable
from .._probe import probe_files
from ._yolo_parse import IMG_SUFFIXES, file_safe, load_yaml

if TYPE_CHECKING:
    from ...core import DatasetCore

#: data.yaml keys that are not splits (a split folder is never given one of these names)
_RESERVED = frozenset(
    {"path", "names", "nc", "nbdiag", "nbdiag_ids", "kpt_shape", "flip_idx", "download"}
    | {"yaml_file", "channels", "images", "labels", "predictions"}
)
_LAYOUT = frozenset({"data.yaml", "images", "labels", "predictions"})

#: samples written per task of the thread pool
_CHUNK = 128

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def is_previous_export(folder: Path) -> bool:
    """Whether ``folder`` holds an nbdiag YOLO export and nothing else."""
    try:
        names = set(os.listdir(folder))
    except OSError:
        return False
    if not names or not names <= _LAYOUT or "data.yaml" not in names:
        return False
    try:
        data = load_yaml(folder / "data.yaml")
    except ValueError:
        return False
    meta = data.get("nbdiag") if isinstance(data, dict) else None
    return isinstance(meta, dict) and meta.get("export") == "yolo"


def write_yolo(
    ds: DatasetCore,
    sample_ids: list[Hashable],
    files: dict[Hashable, str | None],
    run: Any,
    min_score: float,
    include_labels: bool,
    path: str | os.PathLike[str],
) -> Path:
    """Write samples as an Ultralytics YOLO detection dataset in the folder ``path``.

    Parameters
    ----------
    ds
        The dataset (detection, or unlabelled with a detection run).
    sample_ids
        The samples to write, in order.
    files
        Sample id -> absolute image path, or None for an in-memory image (written as PNG).
    run
        A :class:`~nbdiag.core.DetectionRun` whose boxes scoring ``>= min_score`` are written
        as pre-labels under ``predictions/<run>/<split>/<stem>.txt`` (``<run>``: the run's
        name made file-safe, ``model v2`` -> ``model_v2``; with the confidence
        column, so a re-import of ``labels/`` ignores them), or None.
    min_score
        Pre-labels scoring below it are left out.
    include_labels
        False: the label files hold no ground-truth lines (they are written empty).
    path
        The output folder: created; an existing folder must be empty or a previous nbdiag
        YOLO export (which is replaced as a whole once the new one is complete).

    Returns
    -------
    pathlib.Path
        The folder written.

    Each sample goes to ``images/<split>/`` (its ``split``, ``train`` when unset) as a symlink
    to its file (a copy where symlinks fail; a PNG for in-memory images and for files
    Ultralytics cannot read by suffix), under its own file name made unique by stem within
    the split (``a.jpg``, ``a_2.png``). ``data.yaml`` has no ``path`` key (Ultralytics then
    uses the YAML's folder), a key per split (``train`` and ``val``, which Ultralytics
    requires, point at the first split when the export has no such split; ``nbdiag: splits``
    lists the real ones), ``names`` in :attr:`class_names` order and ``nbdiag_ids`` mapping
    ``images/<split>/<file>`` to the sample id. Boxes are clipped to their image and
    written normalised with six decimals. Raises ``ValueError`` for a classification
    dataset (YOLO classification is a folder per class: export with ``format='csv'``), a
    folder in the way, samples without an image, and boxes of images of unknown size.
    """
    if isinstance(run, ClassificationRun) or (
        ds.task == "classification" and not isinstance(run, DetectionRun)
    ):
        raise ValueError(
            "YOLO export writes detection datasets (boxes); YOLO classification datasets are "
            "a folder per class. Export classification labels with format='csv' or "
            "format='parquet'"
        )
    target = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
    previous = _check_target(target)
    samples = ds.samples.loc[sample_ids]
    in_memory = getattr(ds, "_images", {}) or {}
    no_image = [i for i in sample_ids if files.get(i) is None and i not in in_memory]
    if no_image:
        raise ValueError(
            f"samples without an image file or in-memory image: {v.listed(no_image)}; a YOLO "
            "dataset needs an image per label file"
        )
    gt = ds.gt_objects
    gt = gt[gt["sample_id"].isin(sample_ids)] if include_labels else gt.iloc[:0]
    pred = None
    if isinstance(run, DetectionRun):
        b = ds.run_boxes(run.name)
        pred = b[b["sample_id"].isin(sample_ids) & (b["score"] >= min_score)]
    boxed = set(gt["sample_id"]) | (set() if pred is None else set(pred["sample_id"]))
    sizes = _sizes(samples, files, boxed)
    cls = {name: k for k, name in enumerate(ds.class_names)}
    gt_lines = _lines(gt, sizes, cls, with_score=False)
    pred_lines = None if pred is None else _lines(pred, sizes, cls, with_score=True)
    split_of = _split_folders(samples["split"])
    names = _file_names(sample_ids, files, split_of)
    ids: dict[str, Any] = {}
    with _output_dir(target, previous) as out:
        folders = [("images", out / "images"), ("labels", out / "labels")]
        if pred_lines is not None:
            folders.append(("predictions", out / "predictions" / file_safe(run.name)))
        for split in dict.fromkeys(split_of.values()):
            for _, folder in folders:
                (folder / split).mkdir(parents=True)
        pred_dir = os.fspath(folders[2][1]) if pred_lines is not None else None

        def image_of(sid: Hashable) -> str:
            return os.path.join(out, "images", split_of[sid], names[sid])

        def write(chunk: list[Hashable]) -> None:
            for sid in chunk:
                split, name = split_of[sid], names[sid]
                if _linkable(files.get(sid)):
                    _link_image(sid, files[sid], image_of(sid))  # type: ignore[arg-type]
                label = f"{os.path.splitext(name)[0]}.txt"
                _write_lines(os.path.join(out, "labels", split, label), gt_lines.get(sid, []))
                if pred_dir is not None and pred_lines is not None:
                    _write_lines(os.path.join(pred_dir, split, label), pred_lines.get(sid, []))

        chunks = [sample_ids[i : i + _CHUNK] for i in range(0, len(sample_ids), _CHUNK)]
        with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) + 2)) as pool:
            list(pool.map(write, chunks))  # file creation waits on the disk, not on Python
        for sid in sample_ids:  # decoded images: in this thread (image sources may not be
            if not _linkable(files.get(sid)):  # thread-safe)
                _png_image(ds, sid, image_of(sid))
        for sid in sample_ids:
            ids[f"images/{split_of[sid]}/{names[sid]}"] = _id_value(sid)
        atomic_write_text(out / "data.yaml", _data_yaml(ds, split_of, ids, run))
    return target


# ---------------------------------------------------------------------- helpers
def _check_target(target: Path) -> bool:
    """Whether ``target`` is a previous export to replace; ValueError when it is in the way."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        what = "a symlink" if target.is_symlink() else "a file"
        raise ValueError(f"path must be a folder for a YOLO export, but {str(target)!r} is {what}")
    if not target.is_dir() or not any(target.iterdir()):
        return False
    if is_previous_export(target):
        return True
    raise ValueError(
        f"the folder {str(target)!r} is not empty and is not a previous nbdiag YOLO export; "
        "pass a new or empty folder"
    )


@contextlib.contextmanager
def _output_dir(target: Path, previous: bool) -> Iterator[Path]:
    """A staging folder renamed to ``target`` when complete (a previous export is swapped out
    and removed then)."""
    if not previous:  # target is missing or an empty folder, which atomic_dir replaces
        with atomic_dir(target) as tmp:
            yield tmp
        return
    remove_stale_dirs(target)  # debris of a killed writer
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}"
    os.mkdir(tmp)
    try:
        yield tmp
        fsync_dir(tmp)
        old = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}"
        os.rename(target, old)
        try:
            os.rename(tmp, target)
        except BaseException:
            os.rename(old, target)
            raise
        fsync_dir(target.parent)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _sizes(
    samples: pd.DataFrame, files: dict[Hashable, str | None], boxed: set[Hashable]
) -> dict[Hashable, tuple[float, float]]:
    """Image size per sample; read from the file where the dataset lacks it and boxes need it."""
    w = samples["width"].to_numpy(float).copy()
    h = samples["height"].to_numpy(float).copy()
    ids = list(samples.index)
    unknown = [k for k, i in enumerate(ids) if i in boxed and not (w[k] > 0 and h[k] > 0)]
    if unknown:
        fw, fh, _ = probe_files([files.get(ids[k]) for k in unknown], "header", False)
        w[unknown], h[unknown] = fw, fh
        still = [ids[k] for k in unknown if not (w[k] > 0 and h[k] > 0)]
        if still:
            raise ValueError(
                f"samples with boxes but no known image size: {v.listed(still)}; YOLO boxes "
                "are relative to the image size"
            )
    return {i: (w[k], h[k]) for k, i in enumerate(ids)}


def _lines(
    boxes: pd.DataFrame,
    sizes: dict[Hashable, tuple[float, float]],
    cls: dict[str, int],
    with_score: bool,
) -> dict[Hashable, list[str]]:
    """YOLO label lines per sample id (boxes clipped to the image, normalised)."""
    out: dict[Hashable, list[str]] = {}
    if not len(boxes):
        return out
    labels = boxes["label"].astype(object).to_numpy()
    unknown = [o for o, lab in zip(boxes.index, labels, strict=True) if lab not in cls]
    if unknown:
        raise ValueError(f"boxes without a known class cannot be written: {v.listed(unknown)}")
    sids = boxes["sample_id"].to_numpy(dtype=object)
    wh = np.array([sizes[s] for s in sids], dtype=float).reshape(-1, 2)
    x, y, w, h = (boxes[c].to_numpy(float) for c in ("x", "y", "w", "h"))
    x1, x2 = np.clip(x / wh[:, 0], 0, 1), np.clip((x + w) / wh[:, 0], 0, 1)
    y1, y2 = np.clip(y / wh[:, 1], 0, 1), np.clip((y + h) / wh[:, 1], 0, 1)
    cx, cy, bw, bh = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    ids = [cls[lab] for lab in labels]
    score = boxes["score"].to_numpy(float) if with_score else None
    for k, sid in enumerate(sids):
        line = f"{ids[k]} {cx[k]:.6f} {cy[k]:.6f} {bw[k]:.6f} {bh[k]:.6f}"
        if score is not None:
            line += f" {score[k]:.6f}"
        out.setdefault(sid, []).append(line)
    return out


def _split_folders(splits: pd.Series) -> dict[Hashable, str]:
    """Sample id -> split folder name (the ``split`` value made a safe, unique folder name)."""
    folder_of: dict[str, str] = {}
    used: set[str] = set()
    out: dict[Hashable, str] = {}
    for sid, raw in splits.items():
        key = "train" if raw is None or (isinstance(raw, float) and np.isnan(raw)) else str(raw)
        if key not in folder_of:
            name = re.sub(r"[^\w.-]+", "_", key).strip(".") or "split"
            if name.casefold() in _RESERVED:
                name = f"split_{name}"
            base, n = name, 1
            while name.casefold() in used:
                n += 1
                name = f"{base}_{n}"
            used.add(name.casefold())
            folder_of[key] = name
        out[sid] = folder_of[key]
    return out


def _file_names(
    sample_ids: list[Hashable], files: dict[Hashable, str | None], split_of: dict[Hashable, str]
) -> dict[Hashable, str]:
    """Image file name per sample, with stems unique (case-insensitively) within a split."""
    used: dict[str, set[str]] = {}
    out: dict[Hashable, str] = {}
    for sid in sample_ids:
        src = files.get(sid)
        if src is None:
            stem, suffix = file_safe(sid), ".png"
        else:
            stem, suffix = os.path.splitext(os.path.basename(src))
            if suffix[1:].lower() not in IMG_SUFFIXES:
                suffix = ".png"  # converted to PNG (see _place_image)
        stem = stem.strip() or "_"
        taken = used.setdefault(split_of[sid], set())
        name, n = stem, 1
        while name.casefold() in taken:
            n += 1
            name = f"{stem}_{n}"
        taken.add(name.casefold())
        out[sid] = name + suffix
    return out


def _linkable(src: str | None) -> bool:
    """Whether an image is linked (or copied) as it is: a file of a type Ultralytics reads."""
    return src is not None and os.path.splitext(src)[1][1:].lower() in IMG_SUFFIXES


def _link_image(sid: Hashable, src: str, dst: str) -> None:
    """A symlink to ``src``, a copy where symlinks fail."""
    try:
        os.symlink(os.path.abspath(src), dst)
        return
    except (OSError, NotImplementedError):
        pass
    try:
        shutil.copy2(src, dst)
    except OSError as exc:
        raise ValueError(f"sample {v.show(sid)}: cannot copy its image {src!r}: {exc}") from exc


def _png_image(ds: DatasetCore, sid: Hashable, dst: str) -> None:
    """The decoded image as PNG (in-memory images, files of a type Ultralytics does not read)."""
    try:
        image = ds.image(sid)
    except OSError as exc:
        raise ValueError(f"sample {v.show(sid)}: cannot read its image: {exc}") from exc
    image.save(dst, format="PNG")


def _write_lines(path: str, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))


def _id_value(sid: Hashable) -> Any:
    value = to_jsonable(sid)
    return value if isinstance(value, (str, int, float)) and value is not True else str(value)


def _data_yaml(
    ds: DatasetCore, split_of: dict[Hashable, str], ids: dict[str, Any], run: Any
) -> str:
    splits = list(dict.fromkeys(split_of.values()))
    order = {"train": 0, "val": 1, "test": 2}
    splits.sort(key=lambda s: order.get(s, 3))
    data: dict[str, Any] = {s: f"images/{s}" for s in splits}
    for key in ("train", "val"):  # Ultralytics requires both keys
        if key not in data and not (key == "val" and "validation" in data):
            data[key] = f"images/{splits[0]}" if splits else "images/train"
    data["nc"] = len(ds.class_names)
    data["names"] = list(ds.class_names)
    data["nbdiag"] = {
        "export": "yolo",
        "dataset": str(ds.name),
        "prelabels": None if run is None else str(run.name),
        "splits": splits,
    }
    data["nbdiag_ids"] = ids
    head = (
        f"# Ultralytics YOLO dataset written by nbdiag from dataset {ds.name!r}.\n"
        "# No 'path' key: Ultralytics resolves the splits against this file's folder.\n"
        "# nbdiag_ids: the nbdiag sample id of each image (for re-import).\n"
    )
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)
    return head + body
