"""Seeded generator of small, nasty COCO *mask* cases (ground truth + results), and the oracle.

Each case mixes: polygon objects (convex and star-shaped), multi-part polygons, rings made of
four parts around a hole, touching objects (sharing an edge), ground truth as compressed RLE,
crowd regions as uncompressed RLE (how COCO stores ``iscrowd=1``), images without ground truth,
images without predictions, GT ``area`` differing from the mask area, jittered true positives,
duplicates, class swaps, background false positives, tied scores, and sometimes more than 100
detections on one image and class (maxDets). Results carry compressed RLE ``segmentation`` and
(by default) no ``bbox``, so pycocotools' ``loadRes`` gives them their mask area and box.

The oracle is pycocotools' ``COCOeval(iouType="segm")`` (silenced: it prints).
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def polygon(rng: np.random.Generator, cx: float, cy: float, r: float, n: int = 0) -> list[float]:
    """A star-shaped polygon around (cx, cy): flat [x0, y0, x1, y1, ...]."""
    n = n or int(rng.integers(3, 9))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * rng.uniform(0.5, 1.0, n)
    xs, ys = cx + rad * np.cos(ang), cy + rad * np.sin(ang)
    return [float(v) for p in zip(xs, ys, strict=True) for v in p]


def rect(x: float, y: float, w: float, h: float) -> list[float]:
    return [x, y, x + w, y, x + w, y + h, x, y + h]


def uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO's uncompressed RLE (column-major runs, starting with zeros) of a boolean mask."""
    flat = mask.astype(np.uint8).ravel(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.r_[0, change, len(flat)]
    runs = np.diff(bounds).tolist()
    if flat[0] == 1:
        runs = [0, *runs]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(r) for r in runs]}


def compressed(segm: Any, h: int, w: int) -> dict[str, Any]:
    if isinstance(segm, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
    else:
        rle = mask_utils.frPyObjects(segm, h, w)
    return {"size": [h, w], "counts": rle["counts"].decode("ascii")}


def _shape(rng: np.random.Generator, w: int, h: int) -> tuple[list[list[float]], float, float]:
    """A ground-truth segmentation (list of polygon parts) and its centre."""
    cx, cy = rng.uniform(0.1 * w, 0.9 * w), rng.uniform(0.1 * h, 0.9 * h)
    r = float(np.exp(rng.uniform(np.log(2), np.log(min(w, h) / 2))))
    kind = rng.random()
    if kind < 0.15:  # multi-part: two blobs
        return [polygon(rng, cx, cy, r), polygon(rng, cx + r, cy + r / 2, r / 2)], cx, cy
    if kind < 0.25:  # a ring: four rectangles around a hole
        t = max(r / 3, 1.0)
        x0, y0 = cx - r, cy - r
        parts = [rect(x0, y0, 2 * r, t), rect(x0, y0 + 2 * r - t, 2 * r, t),
                 rect(x0, y0, t, 2 * r), rect(x0 + 2 * r - t, y0, t, 2 * r)]  # fmt: skip
        return parts, cx, cy
    return [polygon(rng, cx, cy, r)], cx, cy


def _moved(rng: np.random.Generator, parts: list[list[float]], scale: float) -> list[list[float]]:
    """The parts shifted and scaled a little (a prediction of the object)."""
    pts = np.concatenate([np.asarray(p).reshape(-1, 2) for p in parts])
    c = pts.mean(axis=0)
    size = max(float(np.ptp(pts[:, 0])), float(np.ptp(pts[:, 1])), 1.0)
    shift = rng.normal(0, scale * size, 2)
    zoom = float(np.exp(rng.normal(0, scale)))
    out = []
    for p in parts:
        q = (np.asarray(p).reshape(-1, 2) - c) * zoom + c + shift
        out.append([float(v) for v in q.ravel()])
    return out


def make_segm_case(
    seed: int, n_images: int | None = None, with_bbox: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A random COCO ``(gt_dict, results_list)`` pair with masks, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    n_images = int(rng.integers(5, 14)) if n_images is None else n_images
    n_classes = int(rng.integers(2, 5))
    cat_ids = sorted(int(c) for c in rng.choice(np.arange(1, 60), n_classes, replace=False))
    categories = [{"id": c, "name": f"class{c}"} for c in cat_ids]
    image_ids = sorted(int(i) for i in rng.choice(np.arange(1, 5000), n_images, replace=False))
    images, anns, dets = [], [], []
    no_dt_image = image_ids[1]
    empty_image = image_ids[2]
    many_image = image_ids[0] if rng.random() < 0.5 else None

    def score() -> float:
        return float(np.round(rng.uniform(0.05, 1.0), 2))  # two decimals: ties

    def det(img: int, cat: int, parts: list[list[float]], h: int, w: int) -> None:
        dets.append({"image_id": img, "category_id": cat, "score": score(),
                     "segmentation": compressed(parts, h, w)})  # fmt: skip

    for img in image_ids:
        w, h = int(rng.integers(30, 120)), int(rng.integers(30, 100))
        images.append({"id": img, "width": w, "height": h, "file_name": f"{img}.png"})
        n_gt = 0 if img == empty_image else int(rng.poisson(4))
        objs = []
        for _ in range(n_gt):
            parts, cx, cy = _shape(rng, w, h)
            objs.append((int(rng.choice(cat_ids)), parts))
        if n_gt and rng.random() < 0.5:  # two touching rectangles of one class
            x, y = rng.uniform(0, w / 2), rng.uniform(0, h / 2)
            c = int(rng.choice(cat_ids))
            objs.append((c, [rect(x, y, 6.0, 8.0)]))
            objs.append((c, [rect(x + 6.0, y, 5.0, 8.0)]))
        for cat, parts in objs:
            rle = compressed(parts, h, w)
            area = float(mask_utils.area({"size": [h, w], "counts": rle["counts"].encode()}))
            if area == 0:
                continue
            seg: Any = parts
            if rng.random() < 0.2:  # stored as compressed RLE
                seg = rle
            if rng.random() < 0.15:
                area = float(area * rng.uniform(0.5, 1.5))  # area field != mask area
            anns.append({"image_id": img, "category_id": cat, "segmentation": seg,
                         "area": area, "iscrowd": 0,
                         "bbox": [float(v) for v in mask_utils.toBbox(
                             {"size": [h, w], "counts": rle["counts"].encode()})]})  # fmt: skip
            if img == no_dt_image:
                continue
            if rng.random() < 0.8:  # found
                det(img, cat, _moved(rng, parts, 0.08), h, w)
                if rng.random() < 0.2:  # duplicate
                    det(img, cat, _moved(rng, parts, 0.15), h, w)
            if rng.random() < 0.1:  # class swap
                det(img, int(rng.choice(cat_ids)), _moved(rng, parts, 0.05), h, w)
        if n_gt and rng.random() < 0.4:  # a crowd region, uncompressed RLE
            m = np.zeros((h, w), dtype=bool)
            x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
            m[
                y0 : y0 + int(rng.integers(5, h // 2 + 6)),
                x0 : x0 + int(rng.integers(5, w // 2 + 6)),
            ] = True
            m &= rng.random((h, w)) < 0.9
            rle_c = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            cat = int(rng.choice(cat_ids))
            anns.append({"image_id": img, "category_id": cat, "iscrowd": 1,
                         "segmentation": uncompressed_rle(m),
                         "area": float(mask_utils.area(rle_c)),
                         "bbox": [float(v) for v in mask_utils.toBbox(rle_c)]})  # fmt: skip
            if img != no_dt_image:
                for _ in range(int(rng.integers(1, 4))):  # detections inside the crowd
                    sub = m & (rng.random((h, w)) < 0.5)
                    dets.append({"image_id": img, "category_id": cat, "score": score(),
                                 "segmentation": compressed(uncompressed_rle(sub), h, w)})  # fmt: skip
        if img == no_dt_image:
            continue
        for _ in range(int(rng.poisson(2))):  # background false positives
            parts, _, _ = _shape(rng, w, h)
            det(img, int(rng.choice(cat_ids)), parts, h, w)
        if img == many_image:  # > 100 detections of one class: maxDets truncation
            for _ in range(int(rng.integers(101, 130))):
                parts, _, _ = _shape(rng, w, h)
                det(img, cat_ids[0], parts, h, w)
    for i, a in enumerate(anns):
        a["id"] = i + 1
    dets = [dets[i] for i in rng.permutation(len(dets))]
    if with_bbox:
        for d in dets:
            rle = {
                "size": d["segmentation"]["size"],
                "counts": d["segmentation"]["counts"].encode(),
            }
            d["bbox"] = [float(v) for v in mask_utils.toBbox(rle)]
    gt = {"images": images, "annotations": anns, "categories": categories}
    return gt, dets


def pycocotools_segm(gt: dict[str, Any], dt: list[dict[str, Any]]) -> COCOeval:
    """``COCOeval(segm)`` evaluated, accumulated and summarised on copies of the inputs."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(dt))
        ev = COCOeval(coco_gt, coco_dt, "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev
