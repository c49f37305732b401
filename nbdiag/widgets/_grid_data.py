"""What the ImageGrid shows, computed in the kernel: the pages of thumbnails + boxes the browser
pulls through the RPC channel (``_rpc.py``). They are made of the grid's rows (``_grid_rows.py``:
their table, captions and order), boxes (``_grid_boxes.py``: the box table and its wire format)
and images (``_grid_images.py``: decoded, sized and cropped on demand, cached).

Nothing here knows about widgets: :class:`GridSource` is plain Python over a Dataset, tested on
its own.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core.images import encode_thumbnail
from ..core.runs import ClassificationRun, DetectionRun
from ..evaluation import evaluate_run
from ._grid_boxes import (
    BOX_STRIDE,
    FOCUS,
    GT,
    STYLE_GT,
    STYLE_GT_FN,
    STYLE_GT_IGNORED,
    STYLE_GT_TP,
    STYLE_PRED,
    STYLE_PRED_FP,
    STYLE_PRED_IGNORED,
    STYLE_PRED_TP,
    BoxTable,
    box_table,
    decode_boxes,
)
from ._grid_images import GridImages, image_issue, image_size
from ._grid_masks import SemanticRegions, mask_fields, mask_size
from ._grid_rows import (
    LEVELS,
    SOURCES,
    caption_columns,
    clean,
    fmt,
    object_rows,
    positions,
    sample_rows,
    sort_order,
    sortable_columns,
)
from ._rpc import Call, Reply, RpcError

if TYPE_CHECKING:
    from ..core import DatasetCore

__all__ = [
    "BOX_STRIDE",
    "CROP_CONTEXT",
    "DETAIL_MAX",
    "FOCUS",
    "GT",
    "LEVELS",
    "MAX_PAGE_ROWS",
    "SOURCES",
    "STYLE_GT",
    "STYLE_GT_FN",
    "STYLE_GT_IGNORED",
    "STYLE_GT_TP",
    "STYLE_PRED",
    "STYLE_PRED_FP",
    "STYLE_PRED_IGNORED",
    "STYLE_PRED_TP",
    "THUMB_SIZES",
    "BoxTable",
    "GridSource",
    "decode_boxes",
    "image_size",
    "positions",
]

#: most rows one page request may ask for
MAX_PAGE_ROWS = 256
THUMB_SIZES = (16, 1024)
DETAIL_MAX = 2048
#: context kept around an object's box in its crop, as a fraction of the box's longer side
CROP_CONTEXT = 0.25


class GridSource:
    """Rows, order and pages of an ImageGrid over ``ds``.

    Parameters
    ----------
    ds
        The dataset.
    level
        ``"sample"`` (one row per image) or ``"object"`` (one row per box, shown as a crop).
    run
        A run whose predictions are drawn (detection) or captioned (classification).
    evaluation
        The detection evaluation of ``run`` (computed with ``evaluate_run(ds, run)`` when omitted).
    source
        At object level, which boxes are rows: ``"gt"``, ``"pred"`` (the run's) or ``"both"``.
    """

    def __init__(
        self,
        ds: DatasetCore,
        *,
        level: str = "sample",
        run: str | None = None,
        evaluation: Any = None,
        source: str | None = None,
    ):
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        self.ds = ds
        self.level = level
        self.run = run
        self.class_names = ds.class_names
        self._class_index = {c: i for i, c in enumerate(self.class_names)}
        self.images = GridImages(ds)

        run_obj = ds._get_run(run) if run is not None else None
        self.classification = run_obj if isinstance(run_obj, ClassificationRun) else None
        self.detection = run_obj if isinstance(run_obj, DetectionRun) else None
        if evaluation is not None and self.detection is None:
            raise ValueError("evaluation= needs run= naming the detection run it evaluates")
        self.evaluation = evaluation
        if self.detection is not None and evaluation is None:
            self.evaluation = evaluate_run(ds, run)

        self._boxes = box_table(ds, self.detection, self.evaluation, self.class_names)
        #: a semantic-segmentation dataset: class regions of its label maps, drawn as masks
        self._regions = SemanticRegions(ds, run) if ds.task == "semantic" else None
        if level == "sample":
            if source is not None:
                raise ValueError("source= only applies to level='object'")
            self.source = None
            self.rows = sample_rows(ds, self.classification, self.detection, self.evaluation)
            self._sample_pos = np.arange(len(ds.samples))
            self._object_ids: np.ndarray | None = None
        else:
            if source is None:
                source = "both" if self.detection is not None else "gt"
            if source not in SOURCES:
                raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
            if source != "gt" and self.detection is None:
                raise ValueError(f"source={source!r} needs run= naming a detection run")
            self.source = source
            self.rows = object_rows(ds, self.detection, self.evaluation, source)
            self._sample_pos = ds.samples.index.get_indexer(self.rows["sample_id"])
            self._object_ids = self.rows.index.to_numpy(dtype=object)
        self._captions = caption_columns(self.rows, level, self.classification)

    # ------------------------------------------------------------------ tables
    @property
    def has_boxes(self) -> bool:
        return len(self._boxes) > 0

    @property
    def has_predictions(self) -> bool:
        return self.detection is not None or (self._regions is not None and self.run is not None)

    @property
    def has_masks(self) -> bool:
        """Whether the grid has masks to draw (object masks, or semantic label maps)."""
        return self._regions is not None or self._boxes.masks is not None

    @property
    def task(self) -> str:
        return self.ds.task

    # ------------------------------------------------------------------ order
    def sort_options(self) -> list[str]:
        """Columns the grid can sort by: numeric and boolean ones, then categorical ones."""
        return sortable_columns(self.rows)

    def order(self, sort_by: str | None, ascending: bool = True) -> np.ndarray:
        """Row positions in display order (missing values last either way, stable)."""
        return sort_order(self.rows, sort_by, ascending)

    # ------------------------------------------------------------------ images
    def _region(self, row: int) -> tuple[int, int, int, int]:
        """Crop (x0, y0, x1, y1) of object row ``row``: its box plus context, inside the image."""
        pos = int(self._sample_pos[row])
        sid = self.ds.samples.index[pos]
        W, H = self.images.source_size(pos, sid)
        x, y, w, h = (float(self.rows[c].iat[row]) for c in ("x", "y", "w", "h"))
        pad = max(CROP_CONTEXT * max(w, h), 2.0)
        x0 = int(min(max(math.floor(x - pad), 0), max(W - 1, 0)))
        y0 = int(min(max(math.floor(y - pad), 0), max(H - 1, 0)))
        x1 = int(max(min(math.ceil(x + w + pad), W), x0 + 1))
        y1 = int(max(min(math.ceil(y + h + pad), H), y0 + 1))
        return x0, y0, x1, y1

    def thumbnail(self, row: int, size: int) -> tuple[bytes, tuple[float, float], np.ndarray]:
        """(WEBP bytes, source (w, h), boxes) of ``row``; raises when the image cannot be read."""
        data, sw_sh, boxes, _ = self.thumbnail_overlay(row, size)
        return data, sw_sh, boxes

    def thumbnail_overlay(
        self, row: int, size: int
    ) -> tuple[bytes, tuple[float, float], np.ndarray, dict[str, Any]]:
        """:meth:`thumbnail` plus its masks: ``{"masks": [counts | None per box], "fields":
        {...}, "rows": [grid row of each box's object, -1 when not a row]}`` (empty when the
        image has no mask)."""
        pos = int(self._sample_pos[row])
        sid = self.ds.samples.index[pos]
        if self.level == "sample":
            data = self.ds.thumbnail(sid, size, "WEBP")
            sw, sh = self.images.source_size(pos, sid)
            boxes, overlay = self._overlay(pos, sid, row, (0.0, 0.0), None, None)
            return data, (sw, sh), boxes, overlay
        assert self._object_ids is not None
        oid = self._object_ids[row]
        x0, y0, x1, y1 = self._region(row)
        data = self.images.crop(oid, pos, sid, (x0, y0, x1, y1), size)
        boxes, overlay = self._overlay(pos, sid, row, (x0, y0), (x0, y0, x1, y1), oid)
        return data, (float(x1 - x0), float(y1 - y0)), boxes, overlay

    def _overlay(
        self,
        pos: int,
        sid: Any,
        row: int,
        origin: tuple[float, float],
        region: tuple[float, float, float, float] | None,
        focus: Any,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The boxes of an item and its masks (see :meth:`thumbnail_overlay`)."""
        boxes = self._boxes.rows(pos, row, origin, region, focus=focus)
        if self._regions is not None:  # semantic: one region per class and source
            table, counts, size = self._regions.rows(sid, row)
            if not counts:
                return boxes, {}
            table[:, 1] -= origin[0]
            table[:, 2] -= origin[1]
            n_box = len(boxes)
            rows = [-1] * (n_box + len(counts))
            masks: list[str | None] = [None] * n_box + list(counts)
            fields = mask_fields(size, origin)
            return np.concatenate([boxes, table]), {"masks": masks, "fields": fields, "rows": rows}
        masks = self._boxes.mask_rows(pos, region, focus)
        if not any(m is not None for m in masks):
            return boxes, {}
        ids = self._boxes.object_ids(pos, region, focus)
        if self._object_ids is not None:
            rows = self.rows.index.get_indexer(pd.Index(ids)).tolist()
        else:
            rows = [-1] * len(ids)
        fields = mask_fields(mask_size(self.ds, sid), origin)
        return boxes, {"masks": masks, "fields": fields, "rows": rows}

    def caption(self, row: int) -> dict[str, Any]:
        c = self._captions
        return {
            "label": clean(c["label"][row]),
            "pred": clean(c["pred"][row]),
            "score": clean(c["score"][row]),
            "status": clean(c["status"][row]),
            "kind": clean(c["kind"][row]),
            "reasons": clean(c["reasons"][row]),
        }

    def _check_row(self, row: Any) -> int:
        if isinstance(row, bool) or not isinstance(row, int | float) or int(row) != row:
            raise RpcError(f"row must be an integer, got {row!r}", "BadRequest")
        row = int(row)
        if not 0 <= row < len(self.rows):
            raise RpcError(f"row {row} out of range [0, {len(self.rows)})", "BadRequest")
        return row

    # ------------------------------------------------------------------ RPC methods
    def rpc_page(self, call: Call) -> Reply:
        """``page``: params ``rows`` (row positions), ``size`` (thumbnail px, longer side).

        Result: ``items`` (one per row: ``row``, ``id``, ``buffer`` index of its WEBP and
        ``mime``, source size ``sw``/``sh``, caption fields; or ``error`` + ``detail`` when the
        image cannot be read), ``boxes`` (index of the float32 box table, or -1), ``box_stride``.
        When a shown image has masks: ``masks`` (one COCO counts string or null per box-table
        row), ``mask_rows`` (the grid row of each box's object, -1 when not a row), and on
        each such item ``mh``/``mw`` (the image size the masks are over) and ``ox``/``oy``
        (its crop's origin in that image).
        """
        rows = call.params.get("rows")
        if not isinstance(rows, list):
            raise RpcError("params.rows must be a list of row positions", "BadRequest")
        if len(rows) > MAX_PAGE_ROWS:
            raise RpcError(f"at most {MAX_PAGE_ROWS} rows per page, got {len(rows)}", "BadRequest")
        size = int(np.clip(int(call.params.get("size", 128)), *THUMB_SIZES))
        items: list[dict[str, Any]] = []
        buffers: list[bytes] = []
        boxes: list[np.ndarray] = []
        masks: list[str | None] = []
        mask_rows: list[int] = []
        for raw in rows:
            if call.cancelled:
                raise RpcError("cancelled", "Cancelled")
            row = self._check_row(raw)
            item: dict[str, Any] = {"row": row, "id": str(self.rows.index[row])}
            item.update(self.caption(row))
            try:
                data, (sw, sh), b, overlay = self.thumbnail_overlay(row, size)
            except Exception as exc:  # one bad image: an error entry, the page goes on
                item["error"], item["detail"] = image_issue(exc)
            else:
                item.update(buffer=len(buffers), mime="image/webp", sw=sw, sh=sh)
                buffers.append(data)
                if len(b):
                    boxes.append(b)
                    if overlay and not masks:  # the boxes before this item had no masks
                        n_before = sum(len(t) for t in boxes[:-1])
                        masks, mask_rows = [None] * n_before, [-1] * n_before
                    if overlay:
                        item.update(overlay["fields"])
                        masks += overlay["masks"]
                        mask_rows += overlay["rows"]
                    elif masks:
                        masks += [None] * len(b)
                        mask_rows += [-1] * len(b)
            items.append(item)
        table = np.concatenate(boxes) if boxes else np.zeros((0, BOX_STRIDE), "<f4")
        result = {"items": items, "size": size, "box_stride": BOX_STRIDE, "boxes": -1}
        if len(table):
            result["boxes"] = len(buffers)
            buffers.append(np.ascontiguousarray(table, dtype="<f4").tobytes())
        if masks:  # one entry per box row, in the table's order
            result["masks"], result["mask_rows"] = masks, mask_rows
        return Reply(result, buffers)

    def rpc_image(self, call: Call) -> Reply:
        """``image``: params ``row``, ``max_size`` (px, default 1024). The whole image of the row
        (for an object row: its sample's image, the object's box flagged) at up to ``max_size``,
        all its boxes, its caption and ``info`` (the row's columns as ``[name, text]`` pairs)."""
        row = self._check_row(call.params.get("row"))
        max_size = int(np.clip(int(call.params.get("max_size", 1024)), 64, DETAIL_MAX))
        pos = int(self._sample_pos[row])
        sid = self.ds.samples.index[pos]
        result: dict[str, Any] = {"row": row, "id": str(self.rows.index[row])}
        result.update(self.caption(row))
        result["info"] = [[str(k), fmt(v)] for k, v in list(self.rows.iloc[row].items())[:40]]
        result["info"].insert(0, [str(self.rows.index.name or "id"), str(self.rows.index[row])])
        buffers: list[bytes] = []
        try:
            img = self.images.image(sid)
            sw, sh = self.images.source_size(pos, sid)
        except Exception as exc:
            result["error"], result["detail"] = image_issue(exc)
            result["boxes"] = -1
            return Reply(result, buffers)
        longest = max(img.size)
        target = min(max_size, longest) if longest >= 256 else min(max_size, 512)
        data = encode_thumbnail(img, size=target, fmt="WEBP", quality=90)
        focus = self._object_ids[row] if self._object_ids is not None else None
        boxes, overlay = self._overlay(pos, sid, row, (0.0, 0.0), None, focus)
        if overlay and len(boxes):
            result.update(overlay["fields"], masks=overlay["masks"], mask_rows=overlay["rows"])
        result.update(buffer=0, mime="image/webp", sw=sw, sh=sh, box_stride=BOX_STRIDE)
        buffers.append(data)
        result["boxes"] = -1
        if len(boxes):
            result["boxes"] = 1
            buffers.append(np.ascontiguousarray(boxes, dtype="<f4").tobytes())
        return Reply(result, buffers)

    def methods(self) -> dict[str, Any]:
        return {"page": self.rpc_page, "image": self.rpc_image}
