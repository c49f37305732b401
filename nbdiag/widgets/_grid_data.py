"""What the ImageGrid shows, computed in the kernel: its rows, their sort order, and the pages
of thumbnails + boxes the browser pulls through the RPC channel (``_rpc.py``).

Nothing here knows about widgets: :class:`GridSource` is plain Python over a Dataset, tested on
its own. Box tables travel as little-endian float32, :data:`BOX_STRIDE` numbers per box::

    row, x, y, w, h, score, class, style

``x, y, w, h`` are pixels of the item's *source* (the image, or the crop of an object row),
``class`` is the code into ``class_names`` (-1 when missing), and ``style`` is one of the
``STYLE_*`` codes below, plus :data:`FOCUS` for the box an object row is about. For a ground
truth matched by a prediction, ``score`` is that prediction's score: the browser turns it into a
miss (FN) when the confidence slider goes above it, with no round trip (greedy matching by
descending score makes matches above a threshold independent of the boxes below it).
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from PIL import Image

from ..images import ImageLoadError, ThumbnailCache, encode_thumbnail
from ..runs import ClassificationRun, DetectionRun
from ._rpc import Call, Reply, RpcError

if TYPE_CHECKING:
    from ..dataset import Dataset

LEVELS = ("sample", "object")
SOURCES = ("gt", "pred", "both")

#: box styles (the low 3 bits); ``style & 4`` is set for predictions
STYLE_GT, STYLE_GT_TP, STYLE_GT_FN, STYLE_GT_IGNORED = 0, 1, 2, 3
STYLE_PRED, STYLE_PRED_TP, STYLE_PRED_FP, STYLE_PRED_IGNORED = 4, 5, 6, 7
#: added to the style of the box an object row is about
FOCUS = 8
BOX_STRIDE = 8

#: most rows one page request may ask for
MAX_PAGE_ROWS = 256
THUMB_SIZES = (16, 1024)
DETAIL_MAX = 2048
#: context kept around an object's box in its crop, as a fraction of the box's longer side
CROP_CONTEXT = 0.25
GT = "gt"


def _clean(value: Any) -> Any:
    """A JSON-safe scalar (NaN / None -> None)."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _fmt(value: Any) -> str:
    value = _clean(value)
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _issue(exc: BaseException) -> tuple[str, str]:
    """(short issue name, message) of an image failure."""
    if isinstance(exc, ImageLoadError):
        return exc.reason, str(exc)
    if isinstance(exc, ValueError) and "neither an image file" in str(exc):
        return "no_image", str(exc)
    return "unreadable_image", f"{type(exc).__name__}: {exc}"


class BoxTable:
    """Every box the grid may draw, grouped by sample position (numpy, vectorised)."""

    def __init__(
        self,
        sample_pos: np.ndarray,
        xywh: np.ndarray,
        score: np.ndarray,
        cls: np.ndarray,
        style: np.ndarray,
        ids: np.ndarray,
        n_samples: int,
    ):
        order = np.argsort(sample_pos, kind="stable")
        self.sample_pos = sample_pos[order]
        self.xywh = xywh[order]
        self.score = score[order]
        self.cls = cls[order]
        self.style = style[order]
        self.ids = ids[order]
        self.starts = np.searchsorted(self.sample_pos, np.arange(n_samples + 1))
        self.id_pos = pd.Index(self.ids)

    def __len__(self) -> int:
        return len(self.sample_pos)

    def of_sample(self, pos: int) -> slice:
        return slice(int(self.starts[pos]), int(self.starts[pos + 1]))

    def rows(
        self,
        pos: int,
        row: int,
        origin: tuple[float, float] = (0.0, 0.0),
        region: tuple[float, float, float, float] | None = None,
        focus: Hashable | None = None,
    ) -> np.ndarray:
        """The boxes of sample ``pos`` as ``(k, BOX_STRIDE)`` float32 rows for grid row ``row``:
        shifted by ``-origin``, kept only if they overlap ``region`` (x0, y0, x1, y1) when
        given, and with :data:`FOCUS` added to the style of box ``focus``."""
        s = self.of_sample(pos)
        xywh = self.xywh[s]
        keep = np.ones(len(xywh), dtype=bool)
        if region is not None:
            x0, y0, x1, y1 = region
            keep = (
                (xywh[:, 0] < x1)
                & (xywh[:, 0] + xywh[:, 2] > x0)
                & (xywh[:, 1] < y1)
                & (xywh[:, 1] + xywh[:, 3] > y0)
            )
        style = self.style[s].astype(np.float32)
        if focus is not None:
            style = np.where(self.ids[s] == focus, style + FOCUS, style)
            keep |= self.ids[s] == focus
        out = np.empty((int(keep.sum()), BOX_STRIDE), dtype="<f4")
        out[:, 0] = row
        out[:, 1] = xywh[keep, 0] - origin[0]
        out[:, 2] = xywh[keep, 1] - origin[1]
        out[:, 3] = xywh[keep, 2]
        out[:, 4] = xywh[keep, 3]
        out[:, 5] = self.score[s][keep]
        out[:, 6] = self.cls[s][keep]
        out[:, 7] = style[keep]
        return out


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
        The detection evaluation of ``run`` (computed with ``ds.evaluate(run)`` when omitted).
    source
        At object level, which boxes are rows: ``"gt"``, ``"pred"`` (the run's) or ``"both"``.
    """

    def __init__(
        self,
        ds: Dataset,
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
        self._lock = threading.Lock()
        self._images: OrderedDict[Hashable, Image.Image] = OrderedDict()
        self._sizes: dict[int, tuple[float, float]] = {}
        self._crops = ThumbnailCache(max_bytes=32 * 1024 * 1024)

        run_obj = ds._get_run(run) if run is not None else None
        self.classification = run_obj if isinstance(run_obj, ClassificationRun) else None
        self.detection = run_obj if isinstance(run_obj, DetectionRun) else None
        if evaluation is not None and self.detection is None:
            raise ValueError("evaluation= needs run= naming the detection run it evaluates")
        self.evaluation = evaluation
        if self.detection is not None and evaluation is None:
            self.evaluation = ds.evaluate(run)

        self._boxes = self._box_table()
        if level == "sample":
            if source is not None:
                raise ValueError("source= only applies to level='object'")
            self.source = None
            self.rows = self._sample_rows()
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
            self.rows = self._object_rows(source)
            self._sample_pos = ds.samples.index.get_indexer(self.rows["sample_id"])
            self._object_ids = self.rows.index.to_numpy(dtype=object)
        self._captions = self._caption_columns()

    # ------------------------------------------------------------------ tables
    @property
    def has_boxes(self) -> bool:
        return len(self._boxes) > 0

    @property
    def has_predictions(self) -> bool:
        return self.detection is not None

    @property
    def task(self) -> str:
        return self.ds.task

    def _codes(self, labels: pd.Series) -> np.ndarray:
        cat = pd.Categorical(labels.astype(object), categories=self.class_names)
        return cat.codes.astype(np.float32)

    def _box_table(self) -> BoxTable:
        ds = self.ds
        gt = ds.gt_objects
        parts = [gt]
        if self.detection is not None:
            parts.append(ds.run_boxes(self.detection.name))
        boxes = pd.concat(parts) if len(parts) > 1 else gt
        n = len(boxes)
        is_pred = (boxes["source"] != GT).to_numpy()
        style = np.where(is_pred, STYLE_PRED, STYLE_GT).astype(np.uint8)
        score = boxes["score"].to_numpy(dtype=np.float64).copy()
        score[~is_pred] = np.nan
        ev = self.evaluation
        if ev is not None and n:
            ids = boxes.index
            preds = ev.predictions
            pm = preds["match"].reindex(ids).astype(object).to_numpy()
            style = np.where(
                is_pred & (pm == "tp"),
                STYLE_PRED_TP,
                np.where(
                    is_pred & (pm == "fp"),
                    STYLE_PRED_FP,
                    np.where(is_pred & (pm == "ignored"), STYLE_PRED_IGNORED, style),
                ),
            ).astype(np.uint8)
            truth = ev.ground_truth
            gm = truth["match"].reindex(ids).astype(object).to_numpy()
            style = np.where(
                ~is_pred & (gm == "tp"),
                STYLE_GT_TP,
                np.where(
                    ~is_pred & (gm == "fn"),
                    STYLE_GT_FN,
                    np.where(~is_pred & (gm == "ignored"), STYLE_GT_IGNORED, style),
                ),
            ).astype(np.uint8)
            # a matched GT carries its prediction's score: below the slider it becomes a miss
            matched = truth["matched_pred"].reindex(ids)
            pred_score = ds.objects["score"]
            ms = pred_score.reindex(matched.to_numpy()).to_numpy(dtype=np.float64)
            score = np.where(~is_pred & (style == STYLE_GT_TP), ms, score)
        return BoxTable(
            ds.samples.index.get_indexer(boxes["sample_id"]).astype(np.int64),
            boxes[["x", "y", "w", "h"]].to_numpy(dtype=np.float64),
            score,
            self._codes(boxes["label"]) if n else np.zeros(0, np.float32),
            style,
            boxes.index.to_numpy(dtype=object),
            len(ds.samples),
        )

    def _sample_rows(self) -> pd.DataFrame:
        ds = self.ds
        rows = ds.samples.copy()
        if self.classification is not None:
            pred = self.classification.predictions.reindex(rows.index)
            rows["prediction"] = pred["prediction"]
            rows["confidence"] = pred["confidence"]
            both = rows["label"].notna() & rows["prediction"].notna()
            correct = rows["label"].astype(object) == rows["prediction"].astype(object)
            rows["correct"] = pd.array(np.where(both, correct, pd.NA), dtype="boolean")
        elif ds.task == "detection" or self.detection is not None:
            gt = ds.gt_objects
            rows["n_gt"] = gt["sample_id"].value_counts().reindex(rows.index, fill_value=0)
            ev = self.evaluation
            if ev is not None:
                preds, truth = ev.predictions, ev.ground_truth
                rows["n_pred"] = preds["sample_id"].value_counts().reindex(rows.index, fill_value=0)
                for name, frame, kind in (
                    ("tp", preds, "tp"),
                    ("fp", preds, "fp"),
                    ("fn", truth, "fn"),
                ):
                    ids = frame.loc[frame["match"] == kind, "sample_id"]
                    rows[name] = ids.value_counts().reindex(rows.index, fill_value=0)
                best = preds.groupby("sample_id", observed=True)["score"].max()
                rows["max_score"] = best.reindex(rows.index)
        return rows

    def _object_rows(self, source: str) -> pd.DataFrame:
        ds = self.ds
        objects = ds.objects
        is_gt = objects["source"] == GT
        run = self.detection.name if self.detection is not None else None
        keep = {
            "gt": is_gt,
            "pred": objects["source"] == run,
            "both": is_gt | (objects["source"] == run),
        }[source]
        rows = objects[keep].copy()
        if not len(rows) and not len(objects):
            raise ValueError(
                "level='object' needs boxes: this dataset has no objects (a classification "
                "dataset? use level='sample')"
            )
        rows["area"] = rows["w"] * rows["h"]
        ev = self.evaluation
        if ev is not None:
            res = ev.to_frame().reindex(rows.index)
            for col in ("match", "iou", "matched_id", "error_type"):
                rows[col] = res[col]
        return rows

    def _caption_columns(self) -> dict[str, np.ndarray]:
        rows = self.rows
        n = len(rows)
        none = np.full(n, None, dtype=object)
        out = {"label": none, "pred": none, "score": np.full(n, np.nan), "status": none}
        out["kind"] = none
        if self.level == "sample":
            if "label" in rows.columns:
                out["label"] = rows["label"].astype(object).where(rows["label"].notna(), None)
                out["label"] = out["label"].to_numpy(dtype=object)
            if self.classification is not None:
                pred = rows["prediction"].astype(object)
                out["pred"] = pred.where(pred.notna(), None).to_numpy(dtype=object)
                out["score"] = rows["confidence"].to_numpy(dtype=np.float64)
                correct = rows["correct"]
                out["status"] = np.where(
                    correct.isna().to_numpy(),
                    None,
                    np.where(correct.fillna(False).to_numpy(dtype=bool), "right", "wrong"),
                ).astype(object)
        else:
            is_gt = (rows["source"] == GT).to_numpy()
            label = rows["label"].astype(object).where(rows["label"].notna(), None)
            label = label.to_numpy(dtype=object)
            out["label"] = np.where(is_gt, label, None).astype(object)
            out["pred"] = np.where(is_gt, None, label).astype(object)
            out["score"] = np.where(is_gt, np.nan, rows["score"].to_numpy(dtype=np.float64))
            out["kind"] = np.where(is_gt, "gt", "pred").astype(object)
            if "match" in rows.columns:
                m = rows["match"].astype(object)
                out["status"] = m.where(m.notna(), None).to_numpy(dtype=object)
        return out

    # ------------------------------------------------------------------ order
    def sort_options(self) -> list[str]:
        """Columns the grid can sort by: numeric and boolean ones, then categorical ones."""
        rows = self.rows
        numeric, other = [], []
        for col in rows.columns:
            dtype = rows[col].dtype
            if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
                numeric.append(str(col))
            elif isinstance(dtype, pd.CategoricalDtype):
                other.append(str(col))
        return numeric + other

    def order(self, sort_by: str | None, ascending: bool = True) -> np.ndarray:
        """Row positions in display order (missing values last either way, stable)."""
        n = len(self.rows)
        if not sort_by:
            return np.arange(n, dtype=np.uint32)
        rows = self.rows
        if sort_by in rows.columns:
            values = rows[sort_by]
        elif sort_by == rows.index.name:
            values = rows.index.to_series()
        else:
            options = self.sort_options()
            raise ValueError(
                f"cannot sort by {sort_by!r}: no such column; numeric columns are {options[:20]}"
            )
        values = values.reset_index(drop=True)
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.codes.astype(float)
            values = codes.where(codes >= 0, np.nan)
        elif pd.api.types.is_bool_dtype(values.dtype):
            values = values.astype("Float64")
        elif values.dtype == object:
            try:
                values = pd.to_numeric(values)
            except (TypeError, ValueError):
                values = values.where(values.isna(), values.astype(str))
        out = values.sort_values(ascending=ascending, kind="stable", na_position="last")
        return out.index.to_numpy(dtype=np.uint32)

    # ------------------------------------------------------------------ images
    def _source_size(self, pos: int, sid: Hashable) -> tuple[float, float]:
        """(width, height) of sample ``pos``'s coordinate system: the table's size, else the
        decoded image's."""
        with self._lock:
            cached = self._sizes.get(pos)
        if cached is not None:
            return cached
        w = self.ds.samples["width"].iat[pos]
        h = self.ds.samples["height"].iat[pos]
        if not (np.isfinite(w) and np.isfinite(h)) or w <= 0 or h <= 0:
            w, h = self._image(sid).size
        size = (float(w), float(h))
        with self._lock:
            self._sizes[pos] = size
        return size

    def _image(self, sid: Hashable) -> Image.Image:
        """Decoded image, from a small LRU (object crops of one image share it)."""
        with self._lock:
            img = self._images.get(sid)
            if img is not None:
                self._images.move_to_end(sid)
                return img
        img = self.ds.image(sid)
        with self._lock:
            self._images[sid] = img
            while len(self._images) > 8:
                self._images.popitem(last=False)
        return img

    def _region(self, row: int) -> tuple[int, int, int, int]:
        """Crop (x0, y0, x1, y1) of object row ``row``: its box plus context, inside the image."""
        pos = int(self._sample_pos[row])
        sid = self.ds.samples.index[pos]
        W, H = self._source_size(pos, sid)
        x, y, w, h = (float(self.rows[c].iat[row]) for c in ("x", "y", "w", "h"))
        pad = max(CROP_CONTEXT * max(w, h), 2.0)
        x0 = int(min(max(math.floor(x - pad), 0), max(W - 1, 0)))
        y0 = int(min(max(math.floor(y - pad), 0), max(H - 1, 0)))
        x1 = int(max(min(math.ceil(x + w + pad), W), x0 + 1))
        y1 = int(max(min(math.ceil(y + h + pad), H), y0 + 1))
        return x0, y0, x1, y1

    def thumbnail(self, row: int, size: int) -> tuple[bytes, tuple[float, float], np.ndarray]:
        """(WEBP bytes, source (w, h), boxes) of ``row``; raises when the image cannot be read."""
        pos = int(self._sample_pos[row])
        sid = self.ds.samples.index[pos]
        if self.level == "sample":
            data = self.ds.thumbnail(sid, size, "WEBP")
            sw, sh = self._source_size(pos, sid)
            return data, (sw, sh), self._boxes.rows(pos, row)
        assert self._object_ids is not None
        oid = self._object_ids[row]
        x0, y0, x1, y1 = self._region(row)
        key = (oid, size)
        data = self._crops.get(key)
        if data is None:
            img = self._image(sid)
            W, H = self._source_size(pos, sid)
            if img.size != (int(W), int(H)):  # boxes live in the table's coordinates
                img = img.resize((max(1, int(W)), max(1, int(H))))
            data = encode_thumbnail(img.crop((x0, y0, x1, y1)), size=size, fmt="WEBP")
            self._crops.put(key, data)
        boxes = self._boxes.rows(pos, row, (x0, y0), (x0, y0, x1, y1), focus=oid)
        return data, (float(x1 - x0), float(y1 - y0)), boxes

    def caption(self, row: int) -> dict[str, Any]:
        c = self._captions
        return {
            "label": _clean(c["label"][row]),
            "pred": _clean(c["pred"][row]),
            "score": _clean(c["score"][row]),
            "status": _clean(c["status"][row]),
            "kind": _clean(c["kind"][row]),
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
        for raw in rows:
            if call.cancelled:
                raise RpcError("cancelled", "Cancelled")
            row = self._check_row(raw)
            item: dict[str, Any] = {"row": row, "id": str(self.rows.index[row])}
            item.update(self.caption(row))
            try:
                data, (sw, sh), b = self.thumbnail(row, size)
            except Exception as exc:  # one bad image: an error entry, the page goes on
                item["error"], item["detail"] = _issue(exc)
            else:
                item.update(buffer=len(buffers), mime="image/webp", sw=sw, sh=sh)
                buffers.append(data)
                if len(b):
                    boxes.append(b)
            items.append(item)
        table = np.concatenate(boxes) if boxes else np.zeros((0, BOX_STRIDE), "<f4")
        result = {"items": items, "size": size, "box_stride": BOX_STRIDE, "boxes": -1}
        if len(table):
            result["boxes"] = len(buffers)
            buffers.append(np.ascontiguousarray(table, dtype="<f4").tobytes())
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
        result["info"] = [[str(k), _fmt(v)] for k, v in list(self.rows.iloc[row].items())[:40]]
        result["info"].insert(0, [str(self.rows.index.name or "id"), str(self.rows.index[row])])
        buffers: list[bytes] = []
        try:
            img = self._image(sid)
            sw, sh = self._source_size(pos, sid)
        except Exception as exc:
            result["error"], result["detail"] = _issue(exc)
            result["boxes"] = -1
            return Reply(result, buffers)
        longest = max(img.size)
        target = min(max_size, longest) if longest >= 256 else min(max_size, 512)
        data = encode_thumbnail(img, size=target, fmt="WEBP", quality=90)
        focus = self._object_ids[row] if self._object_ids is not None else None
        boxes = self._boxes.rows(pos, row, focus=focus)
        result.update(buffer=0, mime="image/webp", sw=sw, sh=sh, box_stride=BOX_STRIDE)
        buffers.append(data)
        result["boxes"] = -1
        if len(boxes):
            result["boxes"] = 1
            buffers.append(np.ascontiguousarray(boxes, dtype="<f4").tobytes())
        return Reply(result, buffers)

    def methods(self) -> dict[str, Any]:
        return {"page": self.rpc_page, "image": self.rpc_image}


def decode_boxes(data: bytes | memoryview) -> np.ndarray:
    """A box table (bytes) back to ``(n, BOX_STRIDE)`` float32 (tests, debugging)."""
    return np.frombuffer(data, dtype="<f4").reshape(-1, BOX_STRIDE)


def image_size(data: bytes | memoryview) -> tuple[int, int]:
    """(width, height) of encoded image bytes (tests, debugging)."""
    with Image.open(io.BytesIO(bytes(data))) as img:
        return img.size


def positions(index: pd.Index, ids: Sequence[Hashable]) -> np.ndarray:
    """Row positions of ``ids`` in ``index`` (-1 where unknown)."""
    return index.get_indexer(pd.Index(list(ids)))
