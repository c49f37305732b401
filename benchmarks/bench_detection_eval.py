"""Benchmark: nbdiag's COCO detection evaluation against pycocotools and faster-coco-eval.

Run from the repository root::

    python -m benchmarks.bench_detection_eval                 # 1,000 and 5,000 images
    python -m benchmarks.bench_detection_eval --images 1000 --repeat 5
    python -m benchmarks.bench_detection_eval --skip-pycocotools   # pycocotools takes ~20 s
    python -m benchmarks.bench_detection_eval --iou-type segm --images 5000   # masks

A seeded synthetic COCO set (20 classes, ~7 GT and ~20 detections per image; see
:func:`make_dataset`) is written to JSON files once per size, and every library evaluates the
same files, each in a fresh interpreter (so that its peak RSS is its own), alternating:

- pycocotools: ``COCO(gt)``, ``loadRes(dt)``, ``COCOeval(bbox).evaluate/accumulate/summarize``;
- faster-coco-eval: the same calls with ``COCOeval_faster`` (its C++ back end);
- nbdiag: ``evaluate_detections(gt, dt)`` (validation, IoU, matching at 10 thresholds x 4
  area ranges, accumulate, summarize, per-object matching at the default thresholds) **and**
  the per-object tables (``predictions`` with the TIDE error types, ``ground_truth``): the
  full evaluation. Then, in the first run, the live-threshold costs (``set_thresholds(iou=...)``
  re-matching from the cached IoU, with and without rebuilding the per-object tables, and a
  score change), the confusion matrix and ``error_breakdown()`` / ``error_breakdown("coco")``.

With ``--iou-type segm`` the same objects carry masks (:func:`make_segm_dataset`: ground
truth as polygons, 1 % crowd regions as uncompressed RLE, results as compressed RLE without a
``bbox``) and every library runs its mask evaluation (``COCOeval(..., "segm")``,
``evaluate_detections(gt, dt, iou_type="segm")``).

Times are wall-clock from the JSON files to the 12 numbers (imports excluded), best of
``--repeat``; CPU times are reported too (steadier on a shared machine). Peak memory is the
child's peak RSS, and its increase over the RSS after the imports. The 12 stats of every
library must agree with pycocotools' (max abs difference printed). Results go to
``benchmarks/results/bench_detection_eval_<images>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"


def make_dataset(
    n_images: int = 5000,
    n_classes: int = 20,
    gt_per_image: float = 7.0,
    dets_per_image: float = 20.0,
    seed: int = 0,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Seeded synthetic COCO ground truth and results (vectorised: seconds for 5,000 images).

    Ground truth: Poisson(``gt_per_image``) boxes per 640 x 480 image, log-uniform sizes from
    6 to 400 px (all three COCO size ranges), varied aspect ratios, 1 % crowd regions, half of
    the ``area`` values shrunk (segmentation-like areas). Detections: 80 % of the objects found
    with a jittered box (the other 20 % missed), 15 % of those found twice (duplicates), 8 % of
    the objects detected with a random class (class confusions), then background false
    positives up to Poisson(``dets_per_image``) per image; scores rounded to 3 decimals (ties).
    """
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


def make_segm_dataset(
    gt: dict[str, Any], dt: list[dict[str, Any]], seed: int = 0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """:func:`make_dataset`'s objects with masks: every box becomes an irregular octagon inside
    it (ground truth: a polygon, ``area`` its mask area; crowd regions: uncompressed RLE;
    results: compressed RLE and no ``bbox``, as pure mask results are written)."""
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed + 1)
    h, w = 480, 640
    ang = np.linspace(0, 2 * np.pi, 8, endpoint=False)

    def octagons(boxes: np.ndarray) -> np.ndarray:
        x, y, bw, bh = (boxes[:, i : i + 1] for i in range(4))
        r = rng.uniform(0.7, 1.0, (len(boxes), 8))
        px = np.clip(x + bw * (0.5 + 0.5 * r * np.cos(ang)), 0, w)
        py = np.clip(y + bh * (0.5 + 0.5 * r * np.sin(ang)), 0, h)
        return np.stack([px, py], axis=2).reshape(len(boxes), 16)

    anns = gt["annotations"]
    g_poly = octagons(np.array([a["bbox"] for a in anns]))
    g_rle = mask_utils.frPyObjects([[float(v) for v in p] for p in g_poly], h, w)
    # pycocotools' area() overflows a uint8 counter from 256 masks on (numpy 2): in chunks
    g_area = np.concatenate(
        [mask_utils.area(g_rle[i : i + 255]) for i in range(0, len(g_rle), 255)]
    )
    for a, poly, rle, area in zip(anns, g_poly, g_rle, g_area, strict=True):
        a["area"] = float(area)
        if not a["iscrowd"]:
            a["segmentation"] = [[float(v) for v in poly]]
            continue
        flat = mask_utils.decode(rle).ravel(order="F")
        bounds = np.r_[0, np.flatnonzero(np.diff(flat)) + 1, len(flat)]
        runs = ([0] if flat[0] else []) + np.diff(bounds).tolist()
        a["segmentation"] = {"size": [h, w], "counts": [int(c) for c in runs]}
    d_poly = octagons(np.array([d["bbox"] for d in dt]))
    d_rle = mask_utils.frPyObjects([[float(v) for v in p] for p in d_poly], h, w)
    for d, rle in zip(dt, d_rle, strict=True):
        del d["bbox"]
        d["segmentation"] = {"size": [h, w], "counts": rle["counts"].decode("ascii")}
    return gt, dt


LIBRARIES = ("nbdiag", "faster-coco-eval", "pycocotools")


# ---------------------------------------------------------------------------- child processes
def _rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (``ru_maxrss`` is KiB on Linux)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _child_peer(lib: str, gt_path: str, dt_path: str, iou_type: str = "bbox") -> dict[str, Any]:
    """pycocotools or faster-coco-eval, from the JSON files through ``summarize()``."""
    if lib == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval as Eval
    else:
        from faster_coco_eval import COCO
        from faster_coco_eval import COCOeval_faster as Eval
    baseline = _rss_mb()
    with contextlib.redirect_stdout(io.StringIO()):
        t0, c0 = time.perf_counter(), time.process_time()
        coco_gt = COCO(gt_path)
        coco_dt = coco_gt.loadRes(dt_path)
        ev = Eval(coco_gt, coco_dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "stats": [float(v) for v in np.asarray(ev.stats)[:12]],
        "peak_rss_mb": _rss_mb(),
        "baseline_rss_mb": baseline,
    }


def _median_ms(fn: Any, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def _child_nbdiag(
    gt_path: str, dt_path: str, extras: bool, iou_type: str = "bbox"
) -> dict[str, Any]:
    """nbdiag's full evaluation from the JSON files: COCO numbers plus per-object tables."""
    from nbdiag.evaluation.detection import evaluate_detections

    baseline = _rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    ev = evaluate_detections(gt_path, dt_path, progress=False, iou_type=iou_type)
    t1 = time.perf_counter()
    _ = ev.predictions, ev.ground_truth
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    out: dict[str, Any] = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "evaluate_s": t1 - t0,
        "tables_s": seconds - (t1 - t0),
        "stats": ev.coco_stats.tolist(),
        "peak_rss_mb": _rss_mb(),
        "baseline_rss_mb": baseline,
        "predictions": len(ev.predictions),
        "ground_truth": len(ev.ground_truth),
    }
    if not extras:
        return out
    # live thresholds: a fresh IoU threshold each time, so every call really re-matches
    ious = iter(np.linspace(0.31, 0.89, 100))

    def rematch() -> None:
        ev._matches.clear()
        ev.set_thresholds(iou=float(next(ious)))

    def rematch_tables() -> None:
        rematch()
        _ = ev.predictions, ev.ground_truth

    scores = iter(np.linspace(0.05, 0.6, 100))
    out["rematch_iou_ms"] = _median_ms(rematch, 9)
    out["rematch_iou_with_tables_ms"] = _median_ms(rematch_tables, 9)
    out["rescore_with_tables_ms"] = _median_ms(
        lambda: (ev.set_thresholds(score=float(next(scores))), ev.predictions, ev.ground_truth), 9
    )
    ev.set_thresholds(iou=0.5, score=0.0)
    t0 = time.perf_counter()
    ev.confusion_matrix()
    out["confusion_matrix_ms"] = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    breakdown = ev.error_breakdown()
    out["error_breakdown_ms"] = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    ev.error_breakdown("coco")
    out["error_breakdown_coco_ms"] = (time.perf_counter() - t0) * 1000
    out["error_breakdown_AP50"] = breakdown[["count", "AP_fixed", "dAP"]].to_dict("index")
    return out


def _run_child(
    lib: str, gt_path: Path, dt_path: Path, extras: bool, iou_type: str = "bbox"
) -> dict[str, Any]:
    """Run one library in a fresh interpreter (a clean peak RSS); returns its result dict."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    try:
        cmd = [sys.executable, "-m", "benchmarks.bench_detection_eval", "--child", lib,
               "--gt", str(gt_path), "--dt", str(dt_path), "--out", str(out),
               "--iou-type", iou_type]  # fmt: skip
        if extras:
            cmd.append("--extras")
        root = Path(__file__).resolve().parent.parent
        subprocess.run(cmd, check=True, cwd=root)
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- one size
def bench_size(
    n_images: int,
    n_classes: int,
    seed: int,
    repeat: int,
    pc_repeat: int,
    libs: list[str],
    iou_type: str = "bbox",
) -> dict[str, Any]:
    t0 = time.perf_counter()
    gt, dt = make_dataset(n_images, n_classes, seed=seed)
    if iou_type == "segm":
        gt, dt = make_segm_dataset(gt, dt, seed=seed)
    gen_s = time.perf_counter() - t0
    res: dict[str, Any] = {
        "benchmark": "detection_eval",
        "iou_type": iou_type,
        "images": n_images,
        "classes": n_classes,
        "gt_boxes": len(gt["annotations"]),
        "crowd_boxes": sum(a["iscrowd"] for a in gt["annotations"]),
        "detections": len(dt),
        "seed": seed,
        "repeat": repeat,
        "pycocotools_repeat": pc_repeat,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    print(
        f"\n== {iou_type}: {n_images} images, {res['gt_boxes']} GT ({res['crowd_boxes']} crowd), {len(dt)} "
        f"detections, {n_classes} classes (generated in {gen_s:.1f} s)",
        flush=True,
    )
    runs: dict[str, list[dict[str, Any]]] = {lib: [] for lib in libs}
    with tempfile.TemporaryDirectory(prefix="nbdiag-bench-") as tmp:
        gt_path, dt_path = Path(tmp) / "gt.json", Path(tmp) / "dt.json"
        gt_path.write_text(json.dumps(gt))
        dt_path.write_text(json.dumps(dt))
        del gt, dt
        for r in range(max(repeat, pc_repeat)):  # alternate the libraries, keep the best
            for lib in libs:
                if r >= (pc_repeat if lib == "pycocotools" else repeat):
                    continue
                extras = lib == "nbdiag" and r == 0
                runs[lib].append(_run_child(lib, gt_path, dt_path, extras, iou_type))
                print(f"  {lib}: {runs[lib][-1]['seconds']:.2f} s", flush=True)

    best = {lib: min(rs, key=lambda x: x["seconds"]) for lib, rs in runs.items()}
    for lib, rs in runs.items():
        key = lib.replace("-", "_")
        res[f"{key}_s"] = best[lib]["seconds"]
        res[f"{key}_cpu_s"] = min(x["cpu_seconds"] for x in rs)
        res[f"{key}_peak_rss_mb"] = min(x["peak_rss_mb"] for x in rs)
        res[f"{key}_added_rss_mb"] = min(x["peak_rss_mb"] - x["baseline_rss_mb"] for x in rs)
        res[f"stats_{key}"] = best[lib]["stats"]
    nb = runs["nbdiag"][0]
    res.update({k: v for k, v in nb.items() if k.endswith("_ms") or k == "error_breakdown_AP50"})
    res["nbdiag_evaluate_s"] = best["nbdiag"]["evaluate_s"]
    res["nbdiag_tables_s"] = best["nbdiag"]["tables_s"]

    # agreement of the 12 stats, and time ratios (peer time / nbdiag time: > 1 = nbdiag faster)
    stats = {lib: np.asarray(best[lib]["stats"]) for lib in libs}
    ref = "pycocotools" if "pycocotools" in libs else "faster-coco-eval"
    for lib in libs:
        if lib != ref:
            res[f"max_abs_stat_diff_{lib.replace('-', '_')}_vs_{ref.replace('-', '_')}"] = float(
                np.max(np.abs(stats[lib] - stats[ref]))
            )
        if lib != "nbdiag":
            key = lib.replace("-", "_")
            res[f"speedup_vs_{key}"] = res[f"{key}_s"] / res["nbdiag_s"]
            res[f"cpu_speedup_vs_{key}"] = res[f"{key}_cpu_s"] / res["nbdiag_cpu_s"]

    print(
        f"  nbdiag full evaluation {res['nbdiag_s']:.2f} s (COCO numbers "
        f"{res['nbdiag_evaluate_s']:.2f} s + per-object tables {res['nbdiag_tables_s']:.2f} s), "
        f"peak RSS {res['nbdiag_peak_rss_mb']:.0f} MiB (+{res['nbdiag_added_rss_mb']:.0f} MiB "
        "over the imports)"
    )
    for lib in libs:
        if lib == "nbdiag":
            continue
        key = lib.replace("-", "_")
        print(
            f"  {lib}: {res[f'{key}_s']:.2f} s, peak RSS {res[f'{key}_peak_rss_mb']:.0f} MiB "
            f"(+{res[f'{key}_added_rss_mb']:.0f} MiB); nbdiag is {res[f'speedup_vs_{key}']:.1f}x "
            f"faster (CPU time {res[f'cpu_speedup_vs_{key}']:.1f}x)"
        )
    for k, v in res.items():
        if k.startswith("max_abs_stat_diff"):
            print(f"  {k}: {v:.1e}")
            if v > 1e-12:
                print(f"WARNING: the 12 COCO stats disagree ({k})", file=sys.stderr)
    print(
        f"  set_thresholds(iou=...) re-match: {res['rematch_iou_ms']:.0f} ms "
        f"({res['rematch_iou_with_tables_ms']:.0f} ms with the per-object tables); "
        f"set_thresholds(score=...) with tables: {res['rescore_with_tables_ms']:.0f} ms; "
        f"confusion matrix: {res['confusion_matrix_ms']:.0f} ms; error_breakdown(): "
        f"{res['error_breakdown_ms']:.0f} ms, error_breakdown('coco'): "
        f"{res['error_breakdown_coco_ms']:.0f} ms"
    )
    RESULTS.mkdir(exist_ok=True)
    tag = "" if iou_type == "bbox" else f"{iou_type}_"
    out = RESULTS / f"bench_detection_eval_{tag}{n_images}.json"
    out.write_text(json.dumps(res, indent=2))
    print(f"  wrote {out}")
    return res


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Run the benchmark, print a report, write the JSON; returns the results dicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument(
        "--repeat", type=int, default=3, help="best of N (nbdiag, faster-coco-eval)"
    )
    parser.add_argument("--pycocotools-repeat", type=int, default=1, help="best of N (pycocotools)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-pycocotools", action="store_true")
    parser.add_argument(
        "--iou-type", choices=("bbox", "segm"), default="bbox", help="boxes or masks"
    )
    # internal: one library in a child process
    parser.add_argument("--child", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--gt", help=argparse.SUPPRESS)
    parser.add_argument("--dt", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--extras", action="store_true", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)  # tolerate `python -m benchmarks NAME` arguments

    if args.child:
        if args.child == "nbdiag":
            result = _child_nbdiag(args.gt, args.dt, args.extras, args.iou_type)
        else:
            result = _child_peer(args.child, args.gt, args.dt, args.iou_type)
        Path(args.out).write_text(json.dumps(result))
        return [result]

    libs = [lib for lib in LIBRARIES if not (lib == "pycocotools" and args.skip_pycocotools)]
    return [
        bench_size(
            n, args.classes, args.seed, args.repeat, args.pycocotools_repeat, libs, args.iou_type
        )
        for n in args.images
    ]


if __name__ == "__main__":
    main()
