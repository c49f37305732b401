"""Benchmark: nbdiag's image metrics and issue flags against cleanvision, on the same folder.

Run from the repository root::

    python -m benchmarks.bench_image_metrics                # 2,000 images (default)
    python -m benchmarks.bench_image_metrics --images 600

A seeded folder of real image files with planted issues (dark, light, blurry, low-information,
grayscale, odd size, odd aspect ratio, exact and near duplicates; see
``benchmarks/planted_images.py``) is written once (reused on later runs), then in one process:

- cleanvision: ``Imagelab(data_path=folder).find_issues()`` with its default issue types,
  parameters and process count;
- nbdiag: ``compute_metrics`` of every built-in image metric plus the flags, on a cold cache
  (``cache_dir=False``) with the default local process pool; then a warm re-run from a fresh
  on-disk cache, to show what the cache buys.

Each is run ``--repeat`` times (alternating; best wall time kept). Wall time and CPU time
(this process plus its worker processes) are both reported: on a shared machine the CPU-time
ratio is the steadier of the two.

Both are scored against the planted truth (precision and recall per issue type; for duplicates
every member of a planted pair is a positive). Results go to
``benchmarks/results/bench_image_metrics.json``. Needs ``cleanvision`` (test extra).
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

import pandas as pd

from .planted_images import ISSUES, generate

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


def _scores(flags: pd.DataFrame, truth: pd.DataFrame) -> dict[str, dict[str, float]]:
    out = {}
    for issue in ISSUES:
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

    ds = nbdiag.Dataset(pd.DataFrame({"path": [str(folder / f) for f in files]}))
    cpu = _cpu()
    start = time.perf_counter()
    errors = compute_metrics(ds, cache_dir=cache_dir, progress=False)
    seconds = time.perf_counter() - start
    cpu = _cpu() - cpu
    if len(errors):
        raise RuntimeError(f"nbdiag reported errors on the planted set:\n{errors}")
    flags = ds.samples[list(ISSUES)].copy()
    flags.index = files
    return seconds, cpu, flags


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2, help="best wall time of N runs each")
    parser.add_argument(
        "--data",
        default=os.environ.get(
            "NBDIAG_BENCH_DATA", os.path.join(tempfile.gettempdir(), "nbdiag-bench")
        ),
        help="where the planted folder is written (reused when it exists)",
    )
    args = parser.parse_args(argv or [])
    root = Path(args.data) / f"planted-{args.images}-{args.seed}"
    t0 = time.perf_counter()
    truth = generate(root, n=args.images, seed=args.seed)
    print(f"planted folder: {root} ({len(truth)} files, {time.perf_counter() - t0:.1f} s)")
    folder, files = root / "images", truth["file"].tolist()

    cv_runs, nb_runs = [], []
    for _ in range(args.repeat):  # alternate, so both see the same machine load
        cv_runs.append(run_cleanvision(folder, files))
        nb_runs.append(run_nbdiag(folder, files))
    cv_seconds, cv_cpu, cv_flags = min(cv_runs, key=lambda r: r[0])
    nb_seconds, nb_cpu, nb_flags = min(nb_runs, key=lambda r: r[0])
    with tempfile.TemporaryDirectory() as cache:
        run_nbdiag(folder, files, cache_dir=cache)  # fill the cache
        warm_seconds = run_nbdiag(folder, files, cache_dir=cache)[0]

    n = len(files)
    result: dict[str, Any] = {
        "benchmark": "image_metrics",
        "images": n,
        "image_size": "mostly 256x256 (see benchmarks/planted_images.py)",
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
            "scores": _scores(cv_flags, truth),
        },
        "nbdiag": {
            "seconds": nb_seconds,
            "cpu_seconds": nb_cpu,
            "images_per_second": n / nb_seconds,
            "cached_rerun_seconds": warm_seconds,
            "scores": _scores(nb_flags, truth),
        },
        "throughput_ratio": cv_seconds / nb_seconds,
        "cpu_ratio": cv_cpu / nb_cpu,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "bench_image_metrics.json"
    out.write_text(json.dumps(result, indent=2, default=float))

    print(
        f"cleanvision {cv_seconds:6.1f} s ({n / cv_seconds:6.1f} img/s, {cv_cpu:5.1f} CPU s)\n"
        f"nbdiag      {nb_seconds:6.1f} s ({n / nb_seconds:6.1f} img/s, {nb_cpu:5.1f} CPU s)\n"
        f"-> {cv_seconds / nb_seconds:.1f}x cleanvision's throughput "
        f"({cv_cpu / nb_cpu:.1f}x less CPU); cached re-run {warm_seconds:.2f} s"
    )
    print(f"{'issue':18s} {'planted':>7s}   {'cleanvision P / R':>18s}   {'nbdiag P / R':>14s}")
    for issue in ISSUES:
        c, b = result["cleanvision"]["scores"][issue], result["nbdiag"]["scores"][issue]
        print(
            f"{issue:18s} {c['planted']:7d}   {c['precision']:8.3f} / {c['recall']:5.3f}   "
            f"{b['precision']:6.3f} / {b['recall']:5.3f}"
        )
    print(f"written: {out}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
