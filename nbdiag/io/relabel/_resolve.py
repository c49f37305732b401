"""Which sample of the dataset an image named in a corrected file is: by the ``nbdiag_id`` an
export wrote, by its path, by an integer id, then by its file name (when that is unambiguous)."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from ._values import _AMBIGUOUS, _blank, _IdMap

if TYPE_CHECKING:
    from ...core import DatasetCore


class _ImageResolver:
    """An image of a file -> sample id: ``nbdiag_id``, then integer sample ids, then the file name."""

    def __init__(self, ds: DatasetCore, json_dir: Path, root: str | None = None):
        self.ids = _IdMap(ds.samples.index, "sample")
        self.int_ids = pd.api.types.is_integer_dtype(ds.samples.index.dtype)
        self.roots = [Path(root)] if root else []
        self.roots.append(json_dir)
        paths = ds.samples["path"].dropna()
        self.by_path = {os.path.normcase(os.path.abspath(p)): i for i, p in paths.items()}
        self._paths = paths
        self._by_real: dict[str, Any] | None = None
        by_name: dict[str, Any] = {}
        for i, p in paths.items():
            name = os.path.basename(p)
            by_name[name] = _AMBIGUOUS if name in by_name else i
        self.by_name = by_name

    def resolve(self, img: Mapping[str, Any]) -> Hashable | None:
        """``img``: a COCO image dict, or a row of :meth:`Parsed.images` (``nbdiag_id``,
        ``path``, ``file_name``, ``id``)."""
        if not _blank(img.get("nbdiag_id")):
            sid = self.ids.get(img["nbdiag_id"])
            if sid is not None:
                return sid
        path = img.get("path")
        if not _blank(path):
            path = os.fspath(path)
            found = self.by_path.get(os.path.normcase(os.path.abspath(path)))
            if found is None:  # a link in an export (YOLO, VOC): where it leads
                found = self._real().get(os.path.normcase(os.path.realpath(path)))
            if found is not None:
                return found
        file = img.get("file_name")
        file = None if _blank(file) else _file_part(str(file))
        if file:
            for root in self.roots:
                full = os.path.normcase(os.path.abspath(os.path.join(root, file)))
                if full in self.by_path:
                    return self.by_path[full]
        if self.int_ids and not isinstance(img.get("id"), bool) and not _blank(img.get("id")):
            sid = self.ids.get(img["id"])
            if sid is not None:
                return sid
        if file:
            found = self.by_name.get(os.path.basename(file))
            if found is not None and found is not _AMBIGUOUS:
                return found
        return None

    def _real(self) -> dict[str, Any]:
        """Sample id by the real path of its image (links resolved), built on first need."""
        if self._by_real is None:
            self._by_real = {}
            for i, p in self._paths.items():
                self._by_real.setdefault(os.path.normcase(os.path.realpath(p)), i)
        return self._by_real


def _file_part(name: str) -> str:
    """The file a reference names: Label Studio's ``/data/local-files/?d=imgs/a.png`` is
    ``imgs/a.png``; a plain path stays as it is."""
    if "?" in name:
        query = parse_qs(urlsplit(name).query)
        if query.get("d"):
            return query["d"][0]
    return name
