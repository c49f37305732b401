"""Benchmark: nbdiag's image metrics and issue flags against cleanvision, on the same folder.

Run from the repository root::

    python -m benchmarks.bench_image_metrics                # 2,000 images (default)
    python -m benchmarks.bench_image_metrics --images 600
    python -m benchmarks.bench_image_metrics --set photos   # 2,000 photo-sized JPEGs
    python -m benchmarks.bench_image_metrics --set photos --only-thumbnails

Two seeded folders of real image files, each written once (reused on later runs):
``--set planted`` (default), mostly 256 px JPEGs and PNGs with every planted issue (dark, light,
blurry, low-information, grayscale, odd size, odd aspect ratio, exact and near duplicates; see
``benchmarks/planted_images.py``); ``--set photos``, JPEGs of 640-1280 px a side (the same
synthetic scenes drawn at that size), 6% each dark, light, blurry, low-information and
grayscale (:func:`generate_photos`). Then in one process:

- cleanvision: ``Imagelab(data_path=folder).find_issues()`` with its default issue types,
  parameters and process count;
- nbdiag: ``compute_metrics`` of every built-in image metric plus the flags, on a cold cache
  (``cache_dir=False``) with the default local process pool; then a warm re-run from a fresh
  on-disk cache, to show what the cache buys.

Each is run ``--repeat`` times (alternating; best wall time kept). Wall time and CPU time
(this process plus its worker processes) are both reported: on a shared machine the CPU-time
ratio is the steadier of the two.

Both are scored against the planted truth (precision and recall per issue type; for duplicates
every member of a planted pair is a positive). The nbdiag timing includes building the dataset
(ingest), as cleanvision's includes its ``Imagelab``. Also measured: the CPU milliseconds per
image of each step in one process (:func:`breakdown`: read, decode, each metric) and thumbnails
(:func:`bench_thumbnails`: full decode vs reduced-scale cold, disk-cached, memory-cached, and
``make_thumbnails``). Results go to ``benchmarks/results/bench_image_metrics.json`` (photos:
``bench_image_metrics_photos.json``). Needs ``cleanvision`` (test extra).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from .planted_images import ISSUES, generate, scene

RESULTS = Path(__file__).parent / "results"

#: cleanvision's issue names for ours
CLEANVISION_NAMES = {
    "dark": "dark",
    "light": "light",
    "blurry": "blurry",
    "low_information": "low_information",
    "grayscale": "grayscale",
    "odd_size": "odd_size",
    "odd_aspect_ratio": "odd_aspect_ratio",
    "exact_duplicate": "exact_duplicates",
    "near_duplicate": "near_duplicates",
}


PHOTO_VERSION = 1
#: photo set: share of each planted issue (the rest are clean)
PHOTO_ISSUES = ("dark", "light", "blurry", "low_information", "grayscale")


def _photo(args: tuple[Path, int, int, str]) -> str:
    """One photo-sized JPEG (long side 640-1280 px, 4:3 / 3:2 / 16:9 / 1:1, quality 85-95)."""
    images, i, seed, kind = args
    rng = np.random.default_rng([seed, i])
    long_side = int(rng.integers(640, 1281))
    ratio = float(rng.choice([4 / 3, 3 / 2, 16 / 9, 1.0]))
    w, h = long_side, max(8, round(long_side / ratio))
    if rng.random() < 0.25:
        w, h = h, w
    arr = scene(rng, w, h)
    if kind == "dark":
        arr = np.uint8(arr.astype(np.float32) * rng.uniform(0.08, 0.30))
    elif kind == "light":
        f = rng.uniform(0.08, 0.30)
        arr = np.uint8(np.clip(255 - (255 - arr.astype(np.float32)) * f, 0, 255))
    elif kind == "blurry":  # the planted set's 2-5 px of a 256 px image, at this size
        from PIL import ImageFilter

        r = float(rng.uniform(2.0, 5.0)) * max(w, h) / 256
        arr = np.asarray(Image.fromarray(arr).filter(ImageFilter.GaussianBlur(r)))
    elif kind == "low_information":
        colour = rng.uniform(40, 255, 3)
        colour[rng.integers(0, 3)] *= rng.uniform(0.2, 0.6)
        hsp = np.sqrt((np.array([0.241, 0.691, 0.068]) * colour**2).sum()) / 255
        colour = np.clip(colour * rng.uniform(0.35, 0.65) / hsp, 10, 245)
        flat = np.broadcast_to(colour, (h, w, 3)).astype(np.float32)
        arr = np.uint8(np.clip(flat + rng.normal(0, rng.uniform(1, 4), (h, w, 3)), 0, 255))
    elif kind == "grayscale":
        arr = np.asarray(Image.fromarray(arr).convert("L"))
    name = f"photo_{i:05d}.jpg"
    Image.fromarray(arr).save(images / name, quality=int(rng.integers(85, 96)))
    return name


def generate_photos(root: Path, n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """``n`` photo-sized JPEGs (640-1280 px a side) under ``root/images``, 6% each dark, light,
    blurry, low-information and grayscale (the planted set's recipes at photo size), the rest
    clean; reused when it exists. Returns the truth table (``file`` + one column per issue)."""
    from concurrent.futures import ProcessPoolExecutor

    manifest = {"n": n, "seed": seed, "version": PHOTO_VERSION}
    truth_file, manifest_file = root / "truth.csv", root / "manifest.json"
    if manifest_file.exists() and truth_file.exists():
        if json.loads(manifest_file.read_text()) == manifest:
            return pd.read_csv(truth_file, dtype={"file": str})
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    k = round(n * 0.06)
    kinds = [kind for kind in PHOTO_ISSUES for _ in range(k)]
    kinds = ["clean"] * (n - len(kinds)) + kinds
    with ProcessPoolExecutor() as pool:
        files = list(pool.map(_photo, [(images, i, seed, kd) for i, kd in enumerate(kinds)]))
    truth = pd.DataFrame({"file": files, **{i: [kd == i for kd in kinds] for i in ISSUES}})
    truth.to_csv(truth_file, index=False)
    manifest_file.write_text(json.dumps(manifest))
    return truth


def _scores(
    flags: pd.DataFrame, truth: pd.DataFrame, issues: tuple[str, ...] = ISSUES
) -> dict[str, dict[str, float]]:
    out = {}
    for issue in issues:
        pred = flags[issue].to_numpy(dtype=bool)
        true = truth[issue].to_numpy(dtype=bool)
        tp = int((pred & true).sum())
        out[issue] = {
            "flagged": int(pred.sum()),
            "planted": int(true.sum()),
            "precision": tp / pred.sum() if pred.sum() else float("nan"),
            "recall": tp / true.sum() if true.sum() else float("nan"),
        }
    return out


def _cpu() -> float:
    """CPU seconds of this process and its finished child processes (the worker pools)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_cleanvision(folder: Path, files: list[str]) -> tuple[float, float, pd.DataFrame]:
    from cleanvision import Imagelab

    cpu = _cpu()
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        lab = Imagelab(data_path=str(folder))
        lab.find_issues(verbose=False)
    seconds = time.perf_counter() - start
    cpu = _cpu() - cpu
    issues = lab.issues.copy()
    issues.index = [os.path.basename(p) for p in issues.index]
    issues = issues.reindex(files)
    flags = pd.DataFrame(
        {
            ours: issues[f"is_{theirs}_issue"].fillna(False).astype(bool).to_numpy()
            for ours, theirs in CLEANVISION_NAMES.items()
        },
        index=files,
    )
    return seconds, cpu, flags


def run_nbdiag(
    folder: Path, files: list[str], cache_dir: Any = False
) -> tuple[float, pd.DataFrame]:
    import nbdiag
    from nbdiag.metrics import compute_metrics

    cpu = _cpu()
    start = time.perf_counter()
    # ingest included, as cleanvision's Imagelab(data_path=...) is
    ds = nbdiag.Dataset(pd.DataFrame({"path": [str(folder / f) for f in files]}))
    errors = compute_metrics(ds, cache_dir=cache_dir, progress=False)
    seconds = time.perf_counter() - start
    cpu = _cpu() - cpu
    if len(errors):
        raise RuntimeError(f"nbdiag reported errors on the planted set:\n{errors}")
    flags = ds.samples[list(ISSUES)].copy()
    flags.index = files
    return seconds, cpu, flags


def breakdown(paths: list[Path], repeat: int = 1) -> dict[str, float]:
    """CPU milliseconds per image of each step, in this process (no pool): reading the file and
    hashing its bytes, decoding it, and each built-in image metric in registry order (a metric
    is charged for the shared intermediates it is the first to need, e.g. ``brightness`` for
    the perceived-brightness array that ``dark_score`` and ``light_score`` then reuse)."""
    from nbdiag.metrics import list_metrics
    from nbdiag.metrics._image import read_source, view_of
    from nbdiag.metrics._registry import get_metric

    names = list(list_metrics("image").index)
    total: dict[str, float] = {"read+hash": 0.0, "decode": 0.0, **dict.fromkeys(names, 0.0)}
    n = 0
    for _ in range(repeat):
        for p in paths:
            t0 = time.process_time()
            payload, _ = read_source(p)
            t1 = time.process_time()
            view = view_of(payload, str(p))
            t2 = time.process_time()
            total["read+hash"] += t1 - t0
            total["decode"] += t2 - t1
            for name in names:
                t = time.process_time()
                get_metric(name).func(view)
                total[name] += time.process_time() - t
            n += 1
    return {k: 1000 * v / n for k, v in total.items()}


def bench_thumbnails(paths: list[Path], size: int = 128) -> dict[str, float]:
    """Milliseconds per thumbnail (WEBP, longer side ``size``): the old path (full decode,
    then resize), cold (reduced-scale decode + encode + atomic write to the disk cache), from
    the disk cache (a fresh dataset: empty in-memory LRU) and from the in-memory LRU; and
    ``make_thumbnails`` (default local workers) in images per second, cold."""
    import nbdiag
    from nbdiag.core.images import encode_thumbnail, load_image
    from nbdiag.core.thumbnails import configure_thumbnail_cache, make_thumbnails

    frame = pd.DataFrame({"path": [str(p) for p in paths]})

    out: dict[str, float] = {"images": len(paths), "size": size}

    def per_image(name: str, fn: Any) -> None:
        """``{name}_ms`` (wall) and ``{name}_cpu_ms`` (this process's CPU) per image."""
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(len(paths)):
            fn(i)
        out[f"{name}_ms"] = 1000 * (time.perf_counter() - start) / len(paths)
        out[f"{name}_cpu_ms"] = 1000 * (time.process_time() - cpu) / len(paths)

    with tempfile.TemporaryDirectory() as cache:
        try:
            configure_thumbnail_cache(Path(cache) / "a")
            per_image("full_decode", lambda i: encode_thumbnail(load_image(paths[i]), size=size))
            ds = nbdiag.Dataset(frame)
            per_image("cold", lambda i: ds.thumbnail(i, size))
            per_image("memory_cached", lambda i: ds.thumbnail(i, size))
            fresh = nbdiag.Dataset(frame)
            per_image("disk_cached", lambda i: fresh.thumbnail(i, size))
            configure_thumbnail_cache(Path(cache) / "b")
            start = time.perf_counter()
            problems = make_thumbnails(nbdiag.Dataset(frame), size=size, progress=False)
            seconds = time.perf_counter() - start
            if len(problems):
                raise RuntimeError(f"make_thumbnails failed on the bench set:\n{problems}")
            out["make_thumbnails_images_per_second"] = len(paths) / seconds
        finally:
            configure_thumbnail_cache(None)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2, help="best wall time of N runs each")
    parser.add_argument(
        "--set",
        choices=("planted", "photos"),
        default="planted",
        help="planted: mostly 256 px JPEG/PNG with every planted issue; photos: 640-1280 px "
        "JPEGs (dark, light, blurry, low-information, grayscale planted)",
    )
    parser.add_argument(
        "--breakdown", type=int, default=100, help="time each step on N images (0: skip)"
    )
    parser.add_argument(
        "--thumbnails", type=int, default=300, help="time thumbnails of N images (0: skip)"
    )
    parser.add_argument(
        "--only-thumbnails", action="store_true", help="skip the metrics and cleanvision"
    )
    parser.add_argument(
        "--data",
        default=os.environ.get(
            "NBDIAG_BENCH_DATA", os.path.join(tempfile.gettempdir(), "nbdiag-bench")
        ),
        help="where the image folders are written (reused when they exist)",
    )
    args = parser.parse_args(argv or [])
    t0 = time.perf_counter()
    if args.set == "photos":
        root = Path(args.data) / f"photos-{args.images}-{args.seed}"
        truth = generate_photos(root, n=args.images, seed=args.seed)
        image_size, issues = "JPEG, longer side 640-1280 px", ("odd_size",) + PHOTO_ISSUES
    else:
        root = Path(args.data) / f"planted-{args.images}-{args.seed}"
        truth = generate(root, n=args.images, seed=args.seed)
        image_size, issues = "mostly 256x256 (see benchmarks/planted_images.py)", ISSUES
    print(f"{args.set} folder: {root} ({len(truth)} files, {time.perf_counter() - t0:.1f} s)")
    folder, files = root / "images", truth["file"].tolist()
    thumbs = (
        bench_thumbnails([folder / f for f in files[: args.thumbnails]]) if args.thumbnails else {}
    )
    if thumbs:
        print("thumbnails: " + ", ".join(f"{k} {v:.2f}" for k, v in thumbs.items()))
    if args.only_thumbnails:
        return {"thumbnails": thumbs}

    cv_runs, nb_runs = [], []
    for _ in range(args.repeat):  # alternate, so both see the same machine load
        cv_runs.append(run_cleanvision(folder, files))
        nb_runs.append(run_nbdiag(folder, files))
    cv_seconds, cv_cpu, cv_flags = min(cv_runs, key=lambda r: r[0])
    nb_seconds, nb_cpu, nb_flags = min(nb_runs, key=lambda r: r[0])
    with tempfile.TemporaryDirectory() as cache:
        run_nbdiag(folder, files, cache_dir=cache)  # fill the cache
        warm_seconds = run_nbdiag(folder, files, cache_dir=cache)[0]
    steps = breakdown([folder / f for f in files[: args.breakdown]]) if args.breakdown else {}

    n = len(files)
    result: dict[str, Any] = {
        "benchmark": "image_metrics",
        "set": args.set,
        "images": n,
        "image_size": image_size,
        "seed": args.seed,
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        "repeat": args.repeat,
        "cleanvision": {
            "seconds": cv_seconds,
            "cpu_seconds": cv_cpu,
            "images_per_second": n / cv_seconds,
            "scores": _scores(cv_flags, truth, issues),
        },
        "nbdiag": {
            "seconds": nb_seconds,
            "cpu_seconds": nb_cpu,
            "images_per_second": n / nb_seconds,
            "cached_rerun_seconds": warm_seconds,
            "scores": _scores(nb_flags, truth, issues),
            "ms_per_image_one_process": steps,
        },
        "thumbnails": thumbs,
        "throughput_ratio": cv_seconds / nb_seconds,
        "cpu_ratio": cv_cpu / nb_cpu,
    }
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if args.set == "planted" else f"_{args.set}"
    out = RESULTS / f"bench_image_metrics{suffix}.json"
    out.write_text(json.dumps(result, indent=2, default=float))

    print(
        f"cleanvision {cv_seconds:6.1f} s ({n / cv_seconds:6.1f} img/s, {cv_cpu:5.1f} CPU s)\n"
        f"nbdiag      {nb_seconds:6.1f} s ({n / nb_seconds:6.1f} img/s, {nb_cpu:5.1f} CPU s)\n"
        f"-> {cv_seconds / nb_seconds:.1f}x cleanvision's throughput "
        f"({cv_cpu / nb_cpu:.1f}x less CPU); cached re-run {warm_seconds:.2f} s"
    )
    print(f"{'issue':18s} {'planted':>7s}   {'cleanvision P / R':>18s}   {'nbdiag P / R':>14s}")
    for issue in issues:
        c, b = result["cleanvision"]["scores"][issue], result["nbdiag"]["scores"][issue]
        print(
            f"{issue:18s} {c['planted']:7d}   {c['precision']:8.3f} / {c['recall']:5.3f}   "
            f"{b['precision']:6.3f} / {b['recall']:5.3f}"
        )
    if steps:
        print("ms per image in one process: " + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()))
        print(f"  total {sum(steps.values()):.2f} ms")
    print(f"written: {out}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
