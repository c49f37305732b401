"""Seeded generator of small, nasty COCO detection cases (ground truth + results).

Each case mixes: crowd regions, images without GT, images without detections, a category with
no GT and one with no detections, non-contiguous category ids, shuffled annotation order,
boxes of every COCO size (small / medium / large, and some exactly on the 32**2 and 96**2
boundaries), GT ``area`` differing from ``w * h`` (as for segmentation areas), integer boxes
(exact IoU ties), tied scores, jittered true positives, duplicates, class swaps, background
false positives, and sometimes more than 100 detections in one image and class.

Also the oracles the tests compare against: pycocotools itself (silenced: it prints) and a
plain brute-force per-object matcher.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections import defaultdict
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def _box(rng: np.random.Generator, size: float, img_w: float, img_h: float) -> list[float]:
    aspect = float(np.exp(rng.uniform(-0.7, 0.7)))
    w = max(size * aspect, 1.0)
    h = max(size / aspect, 1.0)
    x = float(rng.uniform(0, max(img_w - w, 1)))
    y = float(rng.uniform(0, max(img_h - h, 1)))
    return [x, y, w, h]


def _jitter(rng: np.random.Generator, b: list[float], scale: float) -> list[float]:
    x, y, w, h = b
    dx, dy = rng.normal(0, scale * w), rng.normal(0, scale * h)
    sw, sh = np.exp(rng.normal(0, scale, size=2))
    return [float(x + dx), float(y + dy), float(w * sw), float(h * sh)]


def make_case(
    seed: int,
    n_images: int | None = None,
    n_classes: int | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A random COCO ``(gt_dict, results_list)`` pair, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    n_images = int(rng.integers(6, 22)) if n_images is None else n_images
    n_classes = int(rng.integers(3, 7)) if n_classes is None else n_classes
    cat_ids = sorted(int(c) for c in rng.choice(np.arange(1, 91), size=n_classes, replace=False))
    categories = [{"id": c, "name": f"class{c}"} for c in cat_ids]
    no_gt_cat = cat_ids[-1]  # only false positives for this one
    no_dt_cat = cat_ids[0] if n_classes > 2 else None  # only misses for this one
    gt_cats = [c for c in cat_ids if c != no_gt_cat]
    image_ids = sorted(
        int(i) for i in rng.choice(np.arange(1, 10_000), size=n_images, replace=False)
    )
    images = [
        {"id": i, "file_name": f"{i:06d}.jpg", "width": 640, "height": 480}
        for i in rng.permutation(image_ids).tolist()
    ]
    integer_boxes = rng.random() < 0.4
    tie_scores = rng.random() < 0.5
    big_image = int(rng.choice(image_ids)) if rng.random() < 0.4 else None

    anns: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []

    def score() -> float:
        s = float(rng.random())
        return round(s, 1) if tie_scores else s

    def maybe_int(b: list[float]) -> list[float]:
        return [float(round(v)) for v in b] if integer_boxes else b

    for img in image_ids:
        kind = rng.random()
        n_gt = 0 if kind < 0.15 else int(rng.integers(1, 9))
        no_dets = 0.15 <= kind < 0.25
        for _ in range(n_gt):
            size = float(np.exp(rng.uniform(np.log(4), np.log(300))))
            if rng.random() < 0.1:  # exactly on a size boundary
                size = float(rng.choice([32.0, 96.0]))
                b = [float(rng.integers(0, 300)), float(rng.integers(0, 200)), size, size]
            else:
                b = maybe_int(_box(rng, size, 640, 480))
            cat = int(rng.choice(gt_cats))
            crowd = int(rng.random() < 0.07)
            area = b[2] * b[3]
            if rng.random() < 0.3:  # a segmentation area, not the box area
                area = float(area * rng.uniform(0.4, 1.0))
            anns.append(
                {"image_id": img, "category_id": cat, "bbox": b, "area": area, "iscrowd": crowd}
            )
            if no_dets:
                continue
            # detections derived from this GT
            r = rng.random()
            if cat != no_dt_cat and r < 0.8:
                dets.append(
                    {
                        "image_id": img,
                        "category_id": cat,
                        "bbox": maybe_int(_jitter(rng, b, rng.choice([0.02, 0.08, 0.2]))),
                        "score": score(),
                    }
                )
                if rng.random() < 0.2:  # duplicate
                    dets.append(
                        {
                            "image_id": img,
                            "category_id": cat,
                            "bbox": maybe_int(_jitter(rng, b, 0.05)),
                            "score": score(),
                        }
                    )
                if rng.random() < 0.1 and crowd:  # several detections inside a crowd region
                    for _ in range(3):
                        dets.append(
                            {
                                "image_id": img,
                                "category_id": cat,
                                "bbox": maybe_int(
                                    _jitter(
                                        rng,
                                        [b[0] + b[2] / 4, b[1] + b[3] / 4, b[2] / 3, b[3] / 3],
                                        0.1,
                                    )
                                ),
                                "score": score(),
                            }
                        )
            elif r < 0.9:  # class swap
                other = int(rng.choice([c for c in cat_ids if c != cat and c != no_dt_cat]))
                dets.append(
                    {
                        "image_id": img,
                        "category_id": other,
                        "bbox": maybe_int(_jitter(rng, b, 0.05)),
                        "score": score(),
                    }
                )
        if no_dets:
            continue
        for _ in range(int(rng.integers(0, 5))):  # background false positives
            size = float(np.exp(rng.uniform(np.log(4), np.log(300))))
            cat = int(rng.choice([c for c in cat_ids if c != no_dt_cat]))
            dets.append(
                {
                    "image_id": img,
                    "category_id": cat,
                    "bbox": maybe_int(_box(rng, size, 640, 480)),
                    "score": score(),
                }
            )
        if img == big_image:  # more than 100 detections of one class in one image
            cat = int(rng.choice([c for c in gt_cats if c != no_dt_cat] or [cat_ids[-1]]))
            base = _box(rng, 60, 640, 480)
            anns.append(
                {
                    "image_id": img,
                    "category_id": cat,
                    "bbox": base,
                    "area": base[2] * base[3],
                    "iscrowd": 0,
                }
            )
            for _ in range(int(rng.integers(101, 160))):
                dets.append(
                    {
                        "image_id": img,
                        "category_id": cat,
                        "bbox": maybe_int(_jitter(rng, base, 0.15)),
                        "score": score(),
                    }
                )

    order = rng.permutation(len(anns))
    anns = [anns[i] for i in order]
    ids = rng.choice(np.arange(1, 10 * len(anns) + 10), size=len(anns), replace=False)
    for a, i in zip(anns, ids, strict=True):
        a["id"] = int(i)
    dets = [dets[i] for i in rng.permutation(len(dets))]
    gt = {"images": images, "annotations": anns, "categories": categories}
    return gt, dets


def pycocotools_eval(gt: dict[str, Any], dt: list[dict[str, Any]]) -> COCOeval:
    """``COCOeval(bbox)`` evaluated, accumulated and summarised on copies of the inputs."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(dt))
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def brute_force_matches(
    gt: dict[str, Any], dt: list[dict[str, Any]], iou_thr: float, score_thr: float
) -> tuple[dict[int, tuple[str, Any]], dict[Any, tuple[str, Any]]]:
    """Per-object COCO greedy matching written out plainly (IoU from pycocotools' C code).

    Returns ``{pred_id: (match, gt_id)}`` for predictions with ``score >= score_thr`` (ids are
    1-based positions in ``dt``) and ``{gt_id: (match, pred_id)}``.
    """
    gts: dict[tuple[Any, Any], list[dict[str, Any]]] = defaultdict(list)
    dts: dict[tuple[Any, Any], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for a in gt["annotations"]:
        gts[a["image_id"], a["category_id"]].append(a)
    for i, d in enumerate(dt):
        if d["score"] >= score_thr:
            dts[d["image_id"], d["category_id"]].append((i + 1, d))
    thr = min(iou_thr, 1 - 1e-10)
    preds: dict[int, tuple[str, Any]] = {}
    truth: dict[Any, tuple[str, Any]] = {}
    for a in gt["annotations"]:
        truth[a["id"]] = ("ignored" if a.get("iscrowd") else "fn", None)
    for key, ds in dts.items():
        ds = sorted(ds, key=lambda p: -p[1]["score"])  # stable: ties keep input order
        for pid, _ in ds[100:]:
            preds[pid] = ("ignored", None)
        ds = ds[:100]
        g = gts.get(key, [])
        if not g:
            for pid, _ in ds:
                preds[pid] = ("fp", None)
            continue
        crowd = [int(bool(x.get("iscrowd", 0))) for x in g]
        ious = np.asarray(mask_utils.iou([d["bbox"] for _, d in ds], [x["bbox"] for x in g], crowd))
        taken = [False] * len(g)
        for di, (pid, _) in enumerate(ds):
            best, m = thr, -1
            for regular in (True, False):  # regular GT first; crowd regions only if none fits
                for gi in range(len(g)):
                    if bool(crowd[gi]) == regular or (taken[gi] and not crowd[gi]):
                        continue
                    if ious[di, gi] >= best:
                        best, m = ious[di, gi], gi
                if m >= 0:
                    break
            if m < 0:
                preds[pid] = ("fp", None)
            elif crowd[m]:
                preds[pid] = ("ignored", g[m]["id"])
            else:
                taken[m] = True
                preds[pid] = ("tp", g[m]["id"])
                truth[g[m]["id"]] = ("tp", pid)
    return preds, truth


TIDE_FP_TYPES = ("localization", "classification", "duplicate", "background", "both")


def brute_force_tide(
    gt: dict[str, Any],
    dt: list[dict[str, Any]],
    iou_thr: float,
    score_thr: float,
    bg_thr: float = 0.1,
) -> tuple[dict[int, tuple[str, Any]], dict[Any, tuple[str, Any]]]:
    """TIDE's error types written out plainly from the definitions, on top of
    :func:`brute_force_matches` (IoU from pycocotools' C code, crowd regions left out).

    Returns ``{pred_id: (error_type, gt_id)}`` for the false positives and
    ``{gt_id: (error_type, pred_id)}`` for the false negatives.
    """
    preds, truth = brute_force_matches(gt, dt, iou_thr, score_thr)
    t_f = min(iou_thr, 1 - 1e-10)
    t_b = min(bg_thr, t_f)
    cat_rank = {c["id"]: i for i, c in enumerate(sorted(gt["categories"], key=lambda c: c["id"]))}
    by_image: dict[Any, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for i, a in enumerate(gt["annotations"]):
        if not a.get("iscrowd"):
            by_image[a["image_id"]].append((i, a))

    def best(d: dict[str, Any], cands: list[dict[str, Any]]) -> tuple[float, Any]:
        if not cands:
            return 0.0, None
        ious = np.asarray(mask_utils.iou([d["bbox"]], [g["bbox"] for g in cands], [0] * len(cands)))
        j = int(np.argmax(ious[0]))  # first maximum
        return (float(ious[0, j]), cands[j]["id"]) if ious[0, j] > 0 else (0.0, None)

    errors: dict[int, tuple[str, Any]] = {}
    for pid, (match, _) in preds.items():
        if match != "fp":
            continue
        d = dt[pid - 1]
        gts = by_image.get(d["image_id"], [])
        same = [a for _, a in gts if a["category_id"] == d["category_id"]]
        other = [
            a for _, a in sorted(
                ((i, a) for i, a in gts if a["category_id"] != d["category_id"]),
                key=lambda ia: (cat_rank[ia[1]["category_id"]], ia[0]),
            )
        ]  # fmt: skip
        s_iou, s_gt = best(d, same)
        c_iou, c_gt = best(d, other)
        if t_b <= s_iou < t_f:
            errors[pid] = ("localization", s_gt)
        elif c_iou >= t_f:
            errors[pid] = ("classification", c_gt)
        elif s_iou >= t_f:
            errors[pid] = ("duplicate", s_gt)
        elif max(s_iou, c_iou) <= t_b:
            errors[pid] = ("background", None)
        else:
            errors[pid] = ("both", c_gt)
    missed: dict[Any, tuple[str, Any]] = {}
    for gid, (match, _) in truth.items():
        if match != "fn":
            continue
        found = [
            (-dt[pid - 1]["score"], pid, kind)
            for pid, (kind, target) in errors.items()
            if target == gid and kind in ("localization", "classification")
        ]
        if found:
            _, pid, kind = min(found)
            missed[gid] = (kind, pid)
        else:
            missed[gid] = ("missed", None)
    return errors, missed
