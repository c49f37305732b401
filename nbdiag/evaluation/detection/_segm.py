"""Masks in a detection evaluation (``iou_type="segm"``): reading them, their areas, their IoU.

A mask evaluation is the box evaluation with two things swapped, exactly as pycocotools'
``COCOeval(iouType="segm")`` swaps them: the IoU of a (prediction, ground truth) pair is the
IoU of their masks (``maskApi.c: rleIou``; a crowd region's is the intersection over the
prediction's mask area), and the areas that decide the small / medium / large ranges are the
ground truth's ``area`` (the annotation's field when given, else its mask area) and the
prediction's mask area. Everything else (grouping, greedy matching, accumulation, per-object
tables, re-matching, confusion, error attribution) runs unchanged on the IoU this module
computes: the switch is :meth:`~._coco.Index.pair_ious`.

Masks are COCO compressed RLE ``counts`` strings over their image (``nbdiag.core.masks``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from ...core import masks as m
from ...core.masks import counts_ok

#: the supported ``iou_type`` values (pycocotools' names)
IOU_TYPES = ("bbox", "segm")
MASK = m.MASK


def check_iou_type(iou_type: Any) -> str:
    """``iou_type`` if it is ``"bbox"`` or ``"segm"``, else a ValueError."""
    if iou_type not in IOU_TYPES:
        raise ValueError(
            f"iou_type must be 'bbox' (box IoU) or 'segm' (mask IoU), got {iou_type!r}"
        )
    return str(iou_type)


def _listed(items: Sequence[Any], n: int = 5) -> str:
    items = list(items)
    more = f" (and {len(items) - n} more)" if len(items) > n else ""
    return ", ".join(repr(i) for i in items[:n]) + more


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA


def _size(sizes: np.ndarray, img: int) -> tuple[float, float]:
    h, w = sizes[img]
    return float(h), float(w)


def masks_of_frame(
    frame: pd.DataFrame,
    img: np.ndarray,
    sizes: np.ndarray,
    what: str,
    *,
    check: bool = True,
) -> np.ndarray:
    """The ``mask`` column of a boxes frame as counts strings (object array), or a ValueError
    naming the objects without a mask.

    ``img`` is each row's image position, ``sizes`` the ``(n_images, 2)`` height and width.
    With ``check`` (user frames) every mask goes through :func:`nbdiag.core.masks.to_rle`
    (polygons, RLE dicts, arrays are converted, counts strings validated); without it (a
    dataset's ``objects``, validated when the masks were added) counts strings are taken as is.
    """
    ids = np.asarray(frame.index, dtype=object)
    if MASK not in frame.columns:
        if not len(frame):
            return np.empty(0, dtype=object)
        raise ValueError(
            f"iou_type='segm' compares masks, but the {what} have no 'mask' column "
            f"(objects {_listed(ids)}); add masks or evaluate with iou_type='bbox'"
        )
    values = frame[MASK].to_numpy(dtype=object)
    absent = np.array([_missing(x) for x in values], dtype=bool)
    if absent.any():
        raise ValueError(
            f"iou_type='segm' needs a mask for every object; {int(absent.sum())} {what} have "
            f"none: {_listed(ids[absent])}"
        )
    out = np.empty(len(values), dtype=object)
    for k, (oid, seg) in enumerate(zip(ids, values, strict=True)):
        if not check and isinstance(seg, str):
            out[k] = seg
            continue
        h, w = _size(sizes, int(img[k]))
        out[k] = m.to_rle(seg, h, w, f"object {oid!r} ({what})")
    return out


def masks_of_coco(
    items: Sequence[Mapping[str, Any]], img: np.ndarray, sizes: np.ndarray, where: str
) -> np.ndarray:
    """``segmentation`` of COCO annotations / results as counts strings (what pycocotools'
    ``annToRLE`` makes of polygons, uncompressed and compressed RLE); a ValueError naming the
    item (``where[i]``) that has none or a bad one.

    Compressed RLE (what results hold) is checked for all items at once (:func:`counts_ok`);
    everything else, and every item that fails, goes through :func:`nbdiag.core.masks.to_rle`
    (whose error names the item)."""
    out = np.empty(len(items), dtype=object)
    fast: list[int] = []
    polys: list[int] = []
    known = np.where(np.isfinite(sizes), sizes, -1).astype(np.int64).tolist()
    for i, a in enumerate(items):
        seg = a.get("segmentation")
        if seg is None or (isinstance(seg, list) and not seg):
            raise ValueError(
                f"iou_type='segm' needs a 'segmentation' for every item; {where}[{i}] has none"
            )
        if _one_polygon(seg):
            polys.append(i)
            continue
        if isinstance(seg, Mapping) and isinstance(seg.get("counts"), (str, bytes)):
            cnt = seg["counts"]
            out[i] = cnt.decode("ascii", "replace") if isinstance(cnt, bytes) else cnt
            try:
                size = [int(v) for v in seg.get("size", ())]
            except (TypeError, ValueError):
                size = []
            if size == known[img[i]]:
                fast.append(i)
                continue
        h, w = _size(sizes, int(img[i]))
        out[i] = m.to_rle(seg, h, w, f"{where}[{i}]")
    if polys:
        _rasterise(items, np.asarray(polys), img, sizes, out, where)
    if fast:
        idx = np.asarray(fast)
        hw = sizes[img[idx]]
        good = counts_ok(list(out[idx]), hw[:, 0] * hw[:, 1])
        for i in idx[~good]:  # the first bad one raises, naming the item
            h, w = _size(sizes, int(img[i]))
            m.to_rle(items[i]["segmentation"], h, w, f"{where}[{i}]")
    return out


def _one_polygon(seg: Any) -> bool:
    """A single-part COCO polygon (its numbers are checked by :func:`_rasterise`, all at once):
    rasterised in batches, no merge needed."""
    if not (type(seg) is list and len(seg) == 1 and type(seg[0]) is list):
        return False
    n = len(seg[0])
    return n >= 6 and n % 2 == 0


def _rasterise(
    items: Sequence[Mapping[str, Any]],
    idx: np.ndarray,
    img: np.ndarray,
    sizes: np.ndarray,
    out: np.ndarray,
    where: str,
) -> None:
    """Single-part polygons to counts strings, one pycocotools call per image size (what
    ``annToRLE`` gives: ``merge`` of one RLE is that RLE)."""
    api = m.mask_api()
    hw = sizes[img[idx]]
    if not np.isfinite(hw).all() or (hw <= 0).any():
        k = int(idx[np.flatnonzero(~(np.isfinite(hw).all(axis=1) & (hw > 0).all(axis=1)))[0]])
        m.to_rle(items[k]["segmentation"], np.nan, np.nan, f"{where}[{k}]")  # raises
    polys = [items[i]["segmentation"][0] for i in idx]
    try:
        finite = np.isfinite(np.fromiter(chain.from_iterable(polys), dtype=np.float64))
    except (TypeError, ValueError):
        finite = np.zeros(1, dtype=bool)
    if not finite.all():  # find the offender one by one: to_rle's error names it
        for i in idx:
            h, w = _size(sizes, int(img[i]))
            try:
                m.to_rle(items[i]["segmentation"], h, w, f"{where}[{i}]")
            except (TypeError, ValueError) as exc:
                if f"{where}[{i}]" in str(exc):
                    raise
                raise ValueError(f"{where}[{i}]: bad polygon ({exc})") from exc
    keys, inv = np.unique(hw, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    for k, (h, w) in enumerate(keys):
        sel = np.flatnonzero(inv == k)
        rles = api.frPyObjects([polys[j] for j in sel], int(h), int(w))
        out[idx[sel]] = [r["counts"].decode("ascii") for r in rles]


def areas(
    masks: np.ndarray, img: np.ndarray, sizes: np.ndarray, rles: list | None = None
) -> np.ndarray:
    """Pixel area of every mask (pycocotools' ``area``)."""
    rles = rle_dicts(masks, img, sizes) if rles is None else rles
    api = m.mask_api()
    out = np.zeros(len(rles))
    for c in range(0, len(rles), m.AREA_CHUNK):  # pycocotools' area fails on >= 256 masks
        out[c : c + m.AREA_CHUNK] = api.area(rles[c : c + m.AREA_CHUNK])
    return out


def bboxes(
    masks: np.ndarray, img: np.ndarray, sizes: np.ndarray, rles: list | None = None
) -> np.ndarray:
    """``(n, 4)`` boxes around masks (pycocotools' ``toBbox``)."""
    rles = rle_dicts(masks, img, sizes) if rles is None else rles
    if not rles:
        return np.zeros((0, 4))
    return np.asarray(m.mask_api().toBbox(rles), dtype=np.float64).reshape(len(rles), 4)


def result_geometry(
    dt: Sequence[Mapping[str, Any]],
    img: np.ndarray,
    sizes: np.ndarray,
    given_bbox: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(xywh, area, masks)`` of COCO results evaluated by mask, as ``COCO.loadRes`` sets them.

    ``loadRes`` looks at the first result: when it has a non-empty ``bbox``, every result's
    ``area`` is its box's ``w * h`` (even in a mask evaluation); otherwise ``area`` is the mask
    area and a missing ``bbox`` is the mask's ``toBbox``. ``given_bbox`` reads the boxes
    (a callable, called only when every result must have one).
    """
    masks = masks_of_coco(dt, img, sizes, "results")
    if len(dt) and "bbox" in dt[0] and list(dt[0]["bbox"]) != []:
        xywh = given_bbox()
        return xywh, xywh[:, 2] * xywh[:, 3], masks
    rles = rle_dicts(masks, img, sizes)
    xywh = bboxes(masks, img, sizes, rles)
    for i, r in enumerate(dt):
        b = r.get("bbox")
        if b is not None and len(b) == 4:
            xywh[i] = np.asarray(b, dtype=np.float64)
    return xywh, areas(masks, img, sizes, rles), masks


def frame_sizes(image_sizes: Any, images: np.ndarray) -> np.ndarray:
    """``(n_images, 2)`` height and width of the evaluated images, from a frame indexed by image
    id with ``height`` and ``width`` columns (a ValueError naming images it lacks)."""
    if image_sizes is None:
        raise ValueError(
            "iou_type='segm' needs the images' sizes: pass image_sizes= a DataFrame indexed by "
            "image id with 'height' and 'width' columns"
        )
    if not isinstance(image_sizes, pd.DataFrame) or not {"height", "width"} <= set(
        image_sizes.columns
    ):
        raise ValueError("image_sizes must be a DataFrame with 'height' and 'width' columns")
    idx = pd.Index(list(image_sizes.index), dtype=object).get_indexer(
        pd.Index(list(images), dtype=object)
    )
    if (idx < 0).any():
        raise ValueError(f"image_sizes lacks images {_listed(images[idx < 0])}")
    return image_sizes[["height", "width"]].to_numpy(dtype=float)[idx]


def coco_sizes(images: Sequence[Mapping[str, Any]], image_ids: np.ndarray) -> np.ndarray:
    """``(n_images, 2)`` height and width of the COCO images, in ``image_ids`` order (NaN when
    an image does not say; a mask on it is then refused, naming the annotation)."""
    by_id = {im["id"]: im for im in images}
    return np.array(
        [[by_id[i].get("height", np.nan), by_id[i].get("width", np.nan)] for i in image_ids],
        dtype=float,
    ).reshape(len(image_ids), 2)


class MaskIoU:
    """Mask IoU of (prediction, ground truth) pairs of the same image, pycocotools-exact (its
    own ``iou``, crowd regions as intersection over the prediction's area).

    Built once per evaluation over the sorted predictions and ground truth (both ordered by
    image). An image's IoU block (all its predictions × all its ground truths; pycocotools'
    box pre-check skips the pairs that cannot overlap) is computed on first need and cached, so
    the same-class pairs of the COCO matching and the cross-class pairs of the confusion matrix
    and error attribution share one computation.
    """

    def __init__(
        self,
        d_mask: np.ndarray,
        g_mask: np.ndarray,
        d_img: np.ndarray,
        g_img: np.ndarray,
        sizes: np.ndarray,
        g_crowd: np.ndarray,
    ):
        n_img = len(sizes)
        self._rd = rle_dicts(d_mask, d_img, sizes)
        self._rg = rle_dicts(g_mask, g_img, sizes)
        self._d_start = np.searchsorted(d_img, np.arange(n_img + 1))
        self._g_start = np.searchsorted(g_img, np.arange(n_img + 1))
        self._g_img = g_img
        self._crowd = np.asarray(g_crowd, dtype=bool)
        self._blocks: dict[int, np.ndarray] = {}

    def _block(self, i: int) -> np.ndarray:
        if i not in self._blocks:
            d0, d1 = int(self._d_start[i]), int(self._d_start[i + 1])
            g0, g1 = int(self._g_start[i]), int(self._g_start[i + 1])
            flags = self._crowd[g0:g1].astype(np.uint8).tolist()
            block = m.mask_api().iou(self._rd[d0:d1], self._rg[g0:g1], flags)
            self._blocks[i] = np.asarray(block, dtype=np.float64).reshape(d1 - d0, g1 - g0)
        return self._blocks[i]

    def __call__(
        self, pair_dt: np.ndarray, pair_gt: np.ndarray, crowd: np.ndarray | None
    ) -> np.ndarray:
        """IoU of ``pair_dt[k]`` with ``pair_gt[k]``; ``crowd`` None: crowd ground truth taken
        as regular regions (ordinary IoU), else the crowd flags of every ground truth."""
        out = np.zeros(len(pair_dt))
        if not len(pair_dt):
            return out
        img = self._g_img[pair_gt]
        order = np.argsort(img, kind="stable")
        im = img[order]
        cuts = np.flatnonzero(im[1:] != im[:-1]) + 1
        for s, e in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(im)].tolist(), strict=True):
            i = int(im[s])
            sel = order[s:e]
            block = self._block(i)
            out[sel] = block[pair_dt[sel] - self._d_start[i], pair_gt[sel] - self._g_start[i]]
        if crowd is None or not np.array_equal(crowd, self._crowd):
            flags = np.zeros(len(self._crowd), dtype=bool) if crowd is None else crowd
            redo = np.flatnonzero(self._crowd[pair_gt] != flags[pair_gt])
            api = m.mask_api()
            for k in redo.tolist():  # rare: crowd regions asked for with other flags
                d, g = int(pair_dt[k]), int(pair_gt[k])
                out[k] = api.iou([self._rd[d]], [self._rg[g]], [int(flags[g])])[0][0]
        return out


def rle_dicts(masks: np.ndarray, img: np.ndarray, sizes: np.ndarray) -> list[dict[str, Any]]:
    """pycocotools RLE dicts of counts strings on their images (built once, reused by every
    ``pycocotools.mask`` call)."""
    hw = sizes.astype(np.int64)[img].tolist() if len(img) else []
    return [{"size": s, "counts": c.encode("ascii")} for c, s in zip(masks, hw, strict=True)]
