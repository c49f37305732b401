"""Benchmark: nbdiag's COCO detection evaluation against pycocotools on the same data.

Run from the repository root::

    python -m benchmarks.bench_detection_eval              # 5,000 images (default)
    python -m benchmarks.bench_detection_eval --images 1000 --repeat 3

A seeded synthetic COCO set (~7 GT and ~20 detections per image, 80 classes, all box sizes,
crowd regions, jittered true positives, duplicates, class swaps, background false positives)
is evaluated in one process by

- pycocotools: ``COCO`` index + ``loadRes`` + ``COCOeval.evaluate/accumulate/summarize``;
- nbdiag: ``evaluate_detections`` (validation, IoU, matching at 10 thresholds x 4 area ranges,
  accumulate, summarize, and the per-object matching at the default thresholds), then the
  per-object tables (``predictions``, ``ground_truth``) it exposes;
- nbdiag live thresholds: ``set_thresholds(iou=...)`` re-matching from the cached IoU matrices,
  with and without rebuilding the per-object tables, and ``set_thresholds(score=...)``.

The 12 stats must agree (max abs difference printed). Timings are the best of ``--repeat``
runs; results are written to ``benchmarks/results/bench_detection_eval_<images>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"


def make_dataset(
    n_images: int = 5000,
    n_classes: int = 80,
    gt_per_image: float = 7.0,
    dets_per_image: float = 20.0,
    seed: int = 0,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Seeded synthetic COCO ground truth and results (vectorised: seconds for 5,000 images)."""
    rng = np.random.default_rng(seed)
    img_w, img_h = 640.0, 480.0
    n_gt_img = rng.poisson(gt_per_image, n_images)
    n_gt = int(n_gt_img.sum())
    g_img = np.repeat(np.arange(1, n_images + 1), n_gt_img)
    g_cls = rng.integers(1, n_classes + 1, n_gt)
    size = np.exp(rng.uniform(np.log(6), np.log(400), n_gt))
    aspect = np.exp(rng.uniform(-0.7, 0.7, n_gt))
    gw, gh = np.maximum(size * aspect, 2), np.maximum(size / aspect, 2)
    gx = rng.uniform(0, 1, n_gt) * np.maximum(img_w - gw, 1)
    gy = rng.uniform(0, 1, n_gt) * np.maximum(img_h - gh, 1)
    crowd = rng.random(n_gt) < 0.01
    area = gw * gh * np.where(rng.random(n_gt) < 0.5, rng.uniform(0.5, 1, n_gt), 1.0)

    # detections: jittered TPs (80%), duplicates, class swaps, then background FPs to ~20/image
    def jitter(idx: np.ndarray, scale: float) -> np.ndarray:
        n = len(idx)
        x = gx[idx] + rng.normal(0, scale, n) * gw[idx]
        y = gy[idx] + rng.normal(0, scale, n) * gh[idx]
        w = gw[idx] * np.exp(rng.normal(0, scale, n))
        h = gh[idx] * np.exp(rng.normal(0, scale, n))
        return np.stack([x, y, w, h], axis=1)

    tp = np.flatnonzero(rng.random(n_gt) < 0.8)
    dup = tp[rng.random(len(tp)) < 0.15]
    swap = np.flatnonzero(rng.random(n_gt) < 0.08)
    parts_img = [g_img[tp], g_img[dup], g_img[swap]]
    parts_cls = [g_cls[tp], g_cls[dup], rng.integers(1, n_classes + 1, len(swap))]
    parts_box = [jitter(tp, 0.08), jitter(dup, 0.15), jitter(swap, 0.05)]
    parts_score = [rng.beta(5, 2, len(tp)), rng.beta(2, 3, len(dup)), rng.beta(3, 3, len(swap))]
    n_bg = np.maximum(rng.poisson(dets_per_image, n_images) - np.bincount(
        np.concatenate(parts_img), minlength=n_images + 1)[1:], 0)  # fmt: skip
    nb = int(n_bg.sum())
    bsize = np.exp(rng.uniform(np.log(6), np.log(300), nb))
    bw, bh = bsize, bsize * np.exp(rng.uniform(-0.5, 0.5, nb))
    parts_img.append(np.repeat(np.arange(1, n_images + 1), n_bg))
    parts_cls.append(rng.integers(1, n_classes + 1, nb))
    parts_box.append(
        np.stack([rng.uniform(0, img_w - 50, nb), rng.uniform(0, img_h - 50, nb), bw, bh], 1)
    )
    parts_score.append(rng.beta(2, 5, nb))
    d_img = np.concatenate(parts_img)
    d_cls = np.concatenate(parts_cls)
    d_box = np.concatenate(parts_box)
    d_box[:, 2:] = np.maximum(d_box[:, 2:], 1.0)
    d_score = np.round(np.concatenate(parts_score), 3)  # some ties
    perm = rng.permutation(len(d_img))

    gt = {
        "images": [{"id": i, "width": 640, "height": 480} for i in range(1, n_images + 1)],
        "categories": [{"id": c, "name": f"class{c}"} for c in range(1, n_classes + 1)],
        "annotations": [
            {"id": i + 1, "image_id": int(g_img[i]), "category_id": int(g_cls[i]),
             "bbox": [float(v) for v in (gx[i], gy[i], gw[i], gh[i])], "area": float(area[i]),
             "iscrowd": int(crowd[i])}
            for i in range(n_gt)
        ],
    }  # fmt: skip
    dt = [
        {"image_id": int(d_img[i]), "category_id": int(d_cls[i]),
         "bbox": [float(v) for v in d_box[i]], "score": float(d_score[i])}
        for i in perm
    ]  # fmt: skip
    return gt, dt


def run_pycocotools(gt: dict[str, Any], dt: list[dict[str, Any]]) -> tuple[np.ndarray, float]:
    """pycocotools from in-memory dicts through ``summarize()``; returns (stats, seconds)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt, dt = copy.deepcopy(gt), copy.deepcopy(dt)  # pycocotools mutates its inputs
    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dt)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        seconds = time.perf_counter() - t0
    return np.asarray(ev.stats), seconds


def _best(fn: Any, repeat: int) -> tuple[Any, float]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print a report, write the JSON; returns the results dict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--classes", type=int, default=80)
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-pycocotools", action="store_true")
    args, _ = parser.parse_known_args(argv)  # tolerate `python -m benchmarks NAME` arguments

    from nbdiag.evaluation.detection import evaluate_detections

    t0 = time.perf_counter()
    gt, dt = make_dataset(args.images, args.classes, seed=args.seed)
    gen_s = time.perf_counter() - t0
    print(
        f"data: {args.images} images, {len(gt['annotations'])} GT, {len(dt)} detections, "
        f"{args.classes} classes (generated in {gen_s:.1f} s)"
    )
    res: dict[str, Any] = {
        "benchmark": "detection_eval",
        "images": args.images,
        "classes": args.classes,
        "gt_boxes": len(gt["annotations"]),
        "detections": len(dt),
        "repeat": args.repeat,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }

    ev, nb_s = _best(lambda: evaluate_detections(gt, dt, progress=False), args.repeat)

    def tables() -> None:
        ev.set_thresholds(iou=0.5, score=0.0)
        ev._state.pop("predictions", None)
        ev._state.pop("ground_truth", None)
        _ = ev.predictions, ev.ground_truth

    _, tables_s = _best(tables, args.repeat)
    res["nbdiag_evaluate_s"] = nb_s
    res["nbdiag_tables_s"] = tables_s
    print(f"nbdiag evaluate_detections: {nb_s:.2f} s (+ per-object tables {tables_s:.2f} s)")

    # live thresholds: a fresh IoU threshold each time, so every call really re-matches
    ious = iter(np.linspace(0.31, 0.89, 59))

    def rematch() -> None:
        ev._matches.clear()
        ev.set_thresholds(iou=float(next(ious)))

    def rematch_tables() -> None:
        rematch()
        _ = ev.predictions, ev.ground_truth

    _, rematch_s = _best(rematch, max(args.repeat, 3))
    _, rematch_tables_s = _best(rematch_tables, max(args.repeat, 3))
    _, score_s = _best(lambda: ev.set_thresholds(score=0.37), max(args.repeat, 3))
    _, cm_s = _best(lambda: (ev._state.pop("confusion_pairs", None), ev.confusion_matrix()), 1)
    res.update(
        rematch_iou_s=rematch_s,
        rematch_iou_with_tables_s=rematch_tables_s,
        rescore_s=score_s,
        confusion_matrix_s=cm_s,
    )
    print(
        f"set_thresholds(iou=...) re-match: {rematch_s * 1000:.0f} ms "
        f"({rematch_tables_s * 1000:.0f} ms with the per-object tables); "
        f"set_thresholds(score=...): {score_s * 1000:.1f} ms; confusion matrix: {cm_s * 1000:.0f} ms"
    )

    if not args.skip_pycocotools:
        stats = ev.coco_stats
        (pc_stats, pc_s), _ = _best(lambda: run_pycocotools(gt, dt), args.repeat)
        diff = float(np.max(np.abs(pc_stats - stats)))
        res.update(
            pycocotools_s=pc_s,
            ratio_vs_pycocotools=pc_s / nb_s,
            ratio_vs_pycocotools_with_tables=pc_s / (nb_s + tables_s),
            max_abs_stat_diff=diff,
            stats_nbdiag=stats.tolist(),
            stats_pycocotools=pc_stats.tolist(),
        )
        print(f"pycocotools: {pc_s:.2f} s")
        print(
            f"ratio pycocotools / nbdiag: {pc_s / nb_s:.1f}x "
            f"({pc_s / (nb_s + tables_s):.1f}x including the per-object tables); "
            f"max |stats difference| = {diff:.1e}"
        )
        if diff > 1e-12:
            print("WARNING: the 12 COCO stats disagree with pycocotools", file=sys.stderr)

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench_detection_eval_{args.images}.json"
    out.write_text(json.dumps(res, indent=2))
    print(f"wrote {out}")
    return res


if __name__ == "__main__":
    main()
