"""Annotation formats other than COCO, CSV and Parquet: each module reads its format into
:class:`Parsed` (the one shape :func:`to_dataset` and :func:`nbdiag.io.relabel.import_labels`
take) and writes a selection of a dataset in that format for :func:`nbdiag.io.export.export`.

========================  =====================  ==========================
format                    read                   write
========================  =====================  ==========================
``"yolo"``                :func:`from_yolo`      :func:`write_yolo`
``"voc"``                 :func:`from_voc`       :func:`write_voc`
``"labelstudio"``         :func:`from_labelstudio` :func:`write_labelstudio`
``"cvat"``                :func:`from_cvat`      :func:`write_cvat`
Hugging Face ``datasets`` :func:`from_hf`        (use ``datasets`` itself)
========================  =====================  ==========================
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._parsed import Parsed, to_dataset
from .cvat import from_cvat, read_cvat, write_cvat
from .hf import from_hf, read_hf
from .labelstudio import from_labelstudio, read_labelstudio, write_labelstudio
from .voc import from_voc, read_voc, write_voc
from .yolo import from_yolo, read_yolo, read_yolo_predictions, write_yolo

#: format name -> the function reading a file or folder of it into :class:`Parsed`
READERS: dict[str, Callable[[Path], Parsed]] = {}
#: format name -> the function writing a selection in it (the signature :func:`write_yolo` has)
WRITERS: dict[str, Callable[..., Path]] = {}
#: formats written into a folder rather than one file
FOLDER_FORMATS = ("yolo", "voc")
#: the extension of the file a one-file format writes
EXTENSIONS = {"labelstudio": ".json", "cvat": ".xml"}


def guess_format(path: Path) -> str:
    """The format of a file or folder of labels, from its extension or, where that is not
    enough (folders, ``.json``), from its content."""
    if path.is_dir():
        if (path / "data.yaml").is_file() or (path / "labels").is_dir():
            return "yolo"
        if (path / "Annotations").is_dir():
            return "voc"
        raise ValueError(
            f"cannot tell the format of the folder {os.fspath(path)!r} (no data.yaml or labels/ "
            "of YOLO, no Annotations/ of Pascal VOC); pass format="
        )
    suffix = path.suffix.lower()
    by_suffix = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xml": "cvat"}
    if suffix in (".yaml", ".yml"):
        return "yolo"
    if suffix in by_suffix:
        return by_suffix[suffix]
    if suffix == ".json":
        return "labelstudio" if path.is_file() and _json_top_is_list(path) else "coco"
    raise ValueError(
        f"cannot tell the format of {os.fspath(path)!r} from its extension; pass format='coco', "
        "'csv', 'parquet', 'yolo', 'voc', 'labelstudio' or 'cvat'"
    )


def _json_top_is_list(path: Path) -> bool:
    """Whether a JSON file holds a list (Label Studio tasks) rather than an object (COCO)."""
    with open(path, encoding="utf-8-sig") as f:
        head = f.read(4096).lstrip()
    if head.startswith("["):
        return True
    if head.startswith("{"):
        return False
    try:
        return isinstance(json.loads(Path(path).read_text(encoding="utf-8-sig")), list)
    except ValueError:
        return False


def _register() -> None:
    """Fill :data:`READERS` and :data:`WRITERS` from the format modules."""
    entries: dict[str, tuple[Any, Any]] = {
        "yolo": (read_yolo, write_yolo),
        "voc": (read_voc, write_voc),
        "labelstudio": (read_labelstudio, write_labelstudio),
        "cvat": (read_cvat, write_cvat),
    }
    READERS.update({k: r for k, (r, _) in entries.items()})
    WRITERS.update({k: w for k, (_, w) in entries.items() if w is not None})


_register()

__all__ = [
    "EXTENSIONS",
    "FOLDER_FORMATS",
    "READERS",
    "WRITERS",
    "Parsed",
    "from_cvat",
    "from_hf",
    "from_labelstudio",
    "from_voc",
    "from_yolo",
    "guess_format",
    "read_cvat",
    "read_hf",
    "read_labelstudio",
    "read_voc",
    "read_yolo",
    "read_yolo_predictions",
    "to_dataset",
    "write_cvat",
    "write_labelstudio",
    "write_voc",
    "write_yolo",
]
