"""The store's data files: a dataset's tables (Parquet), images and embeddings (NumPy) under
``data/``, the *manifest* naming them, reading them back, and removing files no manifest names.

Table files carry a fresh token in their name at every save, and array files are named by the
digest of their content, so a save never writes over a file the committed manifest names: the
new version becomes current only when its manifest is committed (see
:meth:`~nbdiag.store.Store.save`).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core import new_dataset
from ._atomic import STALE_TMP_SECONDS, TMP_SUFFIX
from ._codec import (
    ids_array,
    ids_from_array,
    iso,
    mmap_npz_member,
    now,
    read_arrays_by_id,
    read_table,
    to_jsonable,
    write_arrays_by_id,
    write_arrays_once,
    write_table,
)
from ._db import FORMAT_VERSION, StoreError
from ._label_maps import (
    label_map_files,
    read_label_maps,
    read_semantic_run,
    write_label_maps,
    write_semantic_run,
)

if TYPE_CHECKING:
    from ..core import DatasetCore

DATA_DIR = "data"


def _safe(name: str) -> str:
    """A run name as a file-name fragment (the manifest keeps the real name)."""
    kept = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40]
    return kept or "run"


# ---------------------------------------------------------------------- writing
def write_files(data: Path, ds: DatasetCore, created: list[Path]) -> dict[str, Any]:
    """Write ``ds``'s tables and arrays into ``data``; returns the manifest naming them. Every
    file this call creates is appended to ``created`` as soon as it is complete, so a caller
    can remove them when the save fails."""
    from ..core.multilabel import MultiLabelRun
    from ..core.runs import ClassificationRun, SemanticRun

    data.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]

    def table(frame: pd.DataFrame, stem: str) -> dict[str, Any]:
        entry = write_table(frame, data / f"{stem}-{token}")
        created.append(data / entry["file"])
        return entry

    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "name": ds.name,
        "class_names": ds.class_names,
        "coco_categories": [[int(k), str(val)] for k, val in ds.coco_categories.items()],
        "saved": now().isoformat(),
        "tables": {
            "samples": table(ds.samples, "samples"),
            "objects": table(ds.objects, "objects"),
        },
        "runs": {},
        "images": None,
        "embeddings": [],
    }
    for i, (name, run) in enumerate(ds.runs.items()):
        entry: dict[str, Any] = {"kind": run.kind, "created": iso(run.created), "size": len(run)}
        if isinstance(run, ClassificationRun):
            stem = f"run{i}-{_safe(name)}"
            entry["predictions"] = table(run.predictions, f"{stem}-predictions")
            if run.probabilities is not None:
                entry["probabilities"] = table(run.probabilities, f"{stem}-probabilities")
        elif isinstance(run, MultiLabelRun):
            entry["scores"] = table(run.scores, f"run{i}-{_safe(name)}-scores")
        elif isinstance(run, SemanticRun):
            entry.update(write_semantic_run(data, run, created, table, f"run{i}-{_safe(name)}"))
        manifest["runs"][name] = entry
    manifest["label_maps"] = write_label_maps(data, ds, created)
    images = getattr(ds, "_images", None) or {}
    if images:
        manifest["images"] = write_arrays_by_id(data, images, created, "images")
    manifest["embeddings"], manifest["active_embeddings"] = _write_embeddings(data, ds, created)
    return manifest


def _write_embeddings(
    data: Path, ds: DatasetCore, created: list[Path]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    store = getattr(ds, "_embeddings", None)
    items = getattr(store, "_items", None)
    if not items:
        return [], {}
    out = []
    for (level, name), emb in items.items():
        vectors = np.ascontiguousarray(emb.vectors)
        id_arr = ids_array(emb.ids)
        h = hashlib.blake2b(digest_size=16)
        h.update(id_arr.tobytes())
        h.update(f"{vectors.dtype.str}{vectors.shape}".encode())
        h.update(memoryview(vectors).cast("B"))
        file = f"embedding-{h.hexdigest()}.npz"
        write_arrays_once(data, file, {"ids": id_arr, "vectors": vectors}, created)
        out.append({"level": level, "name": name, "meta": to_jsonable(emb.meta), "file": file})
    return out, dict(getattr(store, "_active", {}))


# ---------------------------------------------------------------------- clean-up
def manifest_files(m: dict[str, Any]) -> list[str]:
    """The names of the data files a manifest names."""
    files = [t["file"] for t in m["tables"].values()]
    for entry in m["runs"].values():
        for key in ("predictions", "probabilities", "scores"):
            if entry.get(key):
                files.append(entry[key]["file"])
    if m.get("images"):
        files.append(m["images"])
    files.extend(e["file"] for e in m.get("embeddings") or [])
    files.extend(label_map_files(m))
    return files


def collect_garbage(data: Path, keep: set[str]) -> None:
    """Remove files in ``data`` not in ``keep`` (older versions), and temporary files old
    enough to be a killed writer's debris."""
    current = time.time()
    for path in data.iterdir():
        if path.name in keep:
            continue
        try:
            if path.name.endswith(TMP_SUFFIX):
                if current - path.stat().st_mtime < STALE_TMP_SECONDS:
                    continue
            path.unlink()
        except OSError:
            pass


def discard(paths: list[Path], keep: set[str]) -> None:
    """Remove the files a failed save wrote (those in ``keep`` are committed: they stay)."""
    for path in paths:
        if path.name not in keep:
            with contextlib.suppress(OSError):
                path.unlink()


# ---------------------------------------------------------------------- reading
def read_dataset(data: Path, m: dict[str, Any]) -> DatasetCore:
    """The dataset a manifest names (not bound to a store yet; no tags)."""
    from ..core.multilabel import MultiLabelRun
    from ..core.runs import ClassificationRun, DetectionRun

    try:
        samples = read_table(data, m["tables"]["samples"])
        objects = read_table(data, m["tables"]["objects"])
        images = read_arrays_by_id(data, m["images"]) if m.get("images") else None
    except (OSError, ValueError) as exc:
        raise StoreError(
            f"cannot read the data of the store at {str(data.parent)!r}: {exc}"
        ) from exc
    # labels as names: the constructor turns them back into categoricals over class_names
    for frame in (samples, objects):
        if "label" in frame.columns:
            frame["label"] = frame["label"].astype(object)
    ds = _new_dataset(samples, objects, m["class_names"], images=images, name=m["name"])
    ds.coco_categories = {int(k): str(val) for k, val in m.get("coco_categories", [])}
    read_label_maps(data, ds, m.get("label_maps"))
    runs: dict[str, Any] = {}
    for name, entry in m["runs"].items():
        created = pd.Timestamp(entry["created"])
        if entry["kind"] == "classification":
            pred = read_table(data, entry["predictions"])
            probs = read_table(data, entry["probabilities"]) if entry.get("probabilities") else None
            runs[name] = ClassificationRun(name, pred, probs, created=created)
        elif entry["kind"] == "multilabel":
            scores = read_table(data, entry["scores"])
            runs[name] = MultiLabelRun(name, scores, created=created)
        elif entry["kind"] == "semantic":
            runs[name] = read_semantic_run(data, name, entry, created)
        else:
            runs[name] = DetectionRun(name, int(entry["size"]), created=created)
    ds.runs = runs
    _read_embeddings(data, ds, m.get("embeddings") or [], m.get("active_embeddings") or {})
    return ds


def _new_dataset(
    samples: pd.DataFrame,
    objects: pd.DataFrame,
    class_names: list[Any],
    *,
    images: dict[Any, np.ndarray] | None,
    name: str | None,
) -> DatasetCore:
    """The one place the store builds a dataset (the user-facing class, via the core)."""
    return new_dataset(samples, objects, class_names, images=images, name=name)


def _read_embeddings(
    data: Path, ds: DatasetCore, entries: list[dict[str, Any]], active: dict[str, str]
) -> None:
    if not entries:
        return
    try:
        from ..embeddings._store import Embeddings, store_of
    except ImportError as exc:  # the embeddings package is optional at this level
        warnings.warn(f"embeddings in the store were not loaded: {exc}", stacklevel=4)
        return
    store = store_of(ds)
    for e in entries:
        with np.load(data / e["file"], allow_pickle=False) as z:
            ids = pd.Index(ids_from_array(z["ids"]))
        vectors = mmap_npz_member(data / e["file"], "vectors")  # paged in as used
        store.put(
            Embeddings(ids, vectors, level=e["level"], name=e["name"], meta=e["meta"]),
            activate=active.get(e["level"]) == e["name"],
        )
