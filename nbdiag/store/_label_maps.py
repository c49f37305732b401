"""Semantic segmentation in the store: ground-truth label maps held in memory and semantic runs
(their maps in memory, or the paths of their PNG files) as content-addressed ``.npz`` files and
a Parquet table of paths. File-backed ground-truth maps need nothing here: their paths are the
``label_map`` column of the samples table."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core.label_maps import LabelMaps, SemanticRun
from ._codec import read_arrays_by_id, read_table, write_arrays_by_id

if TYPE_CHECKING:
    from ..core import DatasetCore

TableWriter = Callable[[pd.DataFrame, str], dict[str, Any]]


def write_label_maps(data: Path, ds: DatasetCore, created: list[Path]) -> dict[str, Any] | None:
    """The manifest entry of ``ds``'s ground-truth label maps (None: not a semantic dataset)."""
    maps: LabelMaps | None = getattr(ds, "_label_maps", None)
    if maps is None:
        return None
    file = write_arrays_by_id(data, maps.arrays, created, "label-maps") if maps.arrays else None
    return {"ignore_index": maps.ignore_index, "arrays": file}


def read_label_maps(data: Path, ds: DatasetCore, entry: dict[str, Any] | None) -> None:
    """Make ``ds`` semantic again, as the manifest entry says."""
    if entry is None:
        return
    arrays = read_arrays_by_id(data, entry["arrays"]) if entry.get("arrays") else {}
    ds._label_maps = LabelMaps(int(entry["ignore_index"]), arrays)


def write_semantic_run(
    data: Path, run: SemanticRun, created: list[Path], table: TableWriter, stem: str
) -> dict[str, Any]:
    """The manifest entry's part for a semantic run's maps."""
    arrays = {i: m for i, m in run.maps.items() if not isinstance(m, str)}
    paths = {i: m for i, m in run.maps.items() if isinstance(m, str)}
    entry: dict[str, Any] = {"arrays": None, "paths": None}
    if arrays:
        entry["arrays"] = write_arrays_by_id(data, arrays, created, "run-maps")
    if paths:
        frame = pd.DataFrame({"path": list(paths.values())}, index=pd.Index(list(paths), name="id"))
        entry["paths"] = table(frame, f"{stem}-paths")
    return entry


def read_semantic_run(
    data: Path, name: str, entry: dict[str, Any], created: pd.Timestamp
) -> SemanticRun:
    maps: dict[Hashable, np.ndarray | str] = {}
    if entry.get("arrays"):
        maps.update(read_arrays_by_id(data, entry["arrays"]))
    if entry.get("paths"):
        frame = read_table(data, entry["paths"])
        maps.update(zip(frame.index, frame["path"].astype(str), strict=True))
    return SemanticRun(name, maps, created=created)


def label_map_files(m: dict[str, Any]) -> list[str]:
    """The data files a manifest names for label maps and semantic runs."""
    files = []
    if (m.get("label_maps") or {}).get("arrays"):
        files.append(m["label_maps"]["arrays"])
    for entry in m["runs"].values():
        if entry.get("kind") == "semantic":
            if entry.get("arrays"):
                files.append(entry["arrays"])
            if entry.get("paths"):
                files.append(entry["paths"]["file"])
    return files
