"""The masks an ImageGrid draws: each visible object's COCO compressed counts (sent next to its
box, decoded in the browser), and, for a semantic-segmentation dataset, the class regions of a
sample's label maps (ground truth and a run's), turned into one mask per class on demand.

Nothing is precomputed for the whole dataset: a page carries the masks of the images it shows,
so the grid opens as fast on a million masks as on none.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core import masks as mk
from ..core import validation as v
from ..core.label_maps import has_gt
from ._grid_boxes import BOX_STRIDE, REGION, STYLE_GT, STYLE_PRED

if TYPE_CHECKING:
    from ..core import DatasetCore

#: label-map value that means "not labelled" (not drawn)
IGNORE = 255
#: samples whose class regions are kept in memory
REGION_CACHE = 256


def label_regions(
    label_map: np.ndarray, n_classes: int, what: str = "label map", ignore: int = IGNORE
) -> list[tuple[int, str]]:
    """``(class code, counts)`` of every class present in an H×W label map (``ignore`` = not
    labelled), in class order. Other values are refused, naming ``what``."""
    arr = np.asarray(label_map)
    if arr.ndim != 2:
        raise ValueError(f"{what}: a label map must be H×W, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{what}: a label map holds integer class indices")
    arr = arr.astype(np.int64, copy=False)
    present = np.unique(arr)
    bad = present[(present != ignore) & ((present < 0) | (present >= n_classes))]
    if len(bad):
        raise ValueError(
            f"{what}: class indices {bad[:10].tolist()} outside [0, {n_classes}) "
            f"({ignore} = ignore)"
        )
    return [(int(c), mk.encode(arr == c)) for c in present if c != ignore]


class SemanticRegions:
    """Per-class masks of the label maps of ``ds`` (``ds.label_map(sample_id, source)``), for the
    ground truth and, when given, the run ``run``; computed per sample on demand, cached."""

    def __init__(self, ds: DatasetCore, run: str | None):
        self.ds = ds
        self.run = run
        self.ignore = IGNORE if ds.ignore_index is None else ds.ignore_index
        self._cache: OrderedDict[Hashable, tuple[np.ndarray, list[str], tuple[int, int]]] = (
            OrderedDict()
        )

    def _of(self, sid: Hashable) -> tuple[np.ndarray, list[str], tuple[int, int]]:
        hit = self._cache.get(sid)
        if hit is not None:
            self._cache.move_to_end(sid)
            return hit
        n = len(self.ds.class_names)
        rows: list[list[float]] = []
        counts: list[str] = []
        size = (0, 0)
        sources: list[tuple[str, int]] = []
        if has_gt(self.ds, sid):  # a sample may have no ground-truth map, a run no prediction
            sources.append(("gt", STYLE_GT))
        if self.run is not None and sid in getattr(self.ds.runs.get(self.run), "maps", {}):
            sources.append((self.run, STYLE_PRED))
        for source, style in sources:
            lm = np.asarray(self.ds.label_map(sid, source=source))  # type: ignore[attr-defined]
            what = f"sample {v.show(sid)}: label map of {source!r}"
            regions = label_regions(lm, n, what, self.ignore)
            h, w = lm.shape
            size = (int(h), int(w))
            if not regions:
                continue
            boxes = mk.bbox([c for _, c in regions], h, w)
            for (cls, c), (x, y, bw, bh) in zip(regions, boxes, strict=True):
                rows.append([0.0, x, y, bw, bh, np.nan, float(cls), float(style + REGION)])
                counts.append(c)
        table = np.asarray(rows, dtype="<f4").reshape(-1, BOX_STRIDE)
        out = (table, counts, size)
        self._cache[sid] = out
        while len(self._cache) > REGION_CACHE:
            self._cache.popitem(last=False)
        return out

    def rows(self, sid: Hashable, row: int) -> tuple[np.ndarray, list[str], tuple[int, int]]:
        """(box rows for grid row ``row``, their counts, the maps' (height, width))."""
        table, counts, size = self._of(sid)
        out = table.copy()
        out[:, 0] = row
        return out, list(counts), size


def mask_size(ds: DatasetCore, sid: Hashable) -> tuple[int, int]:
    """(height, width) the masks of sample ``sid`` are over (its ``samples`` size)."""
    h, w = ds.samples.at[sid, "height"], ds.samples.at[sid, "width"]
    return int(h), int(w)


def mask_fields(size: tuple[int, int], origin: tuple[float, float]) -> dict[str, Any]:
    """The page-item fields that place masks: their image's size and the item's crop origin."""
    return {"mh": size[0], "mw": size[1], "ox": float(origin[0]), "oy": float(origin[1])}
