"""Benchmark: precision and recall of the image issue flags per planted-issue generator, nbdiag
and cleanvision side by side on the same files.

Run from the repository root::

    python -m benchmarks.bench_image_flags                  # 400 images per generator
    python -m benchmarks.bench_image_flags --images 300 --no-cleanvision

Three generators that differ in *how* each issue is made (see
:mod:`benchmarks.robustness.generators`): ``planted`` (:mod:`benchmarks.planted_images`, the
one the flags' sensitivity ``z`` values were tuned on), ``camera`` and ``levels`` (never
tuned on: the robustness numbers). ``camera`` and ``levels`` draw clean images from synthetic
scenes, crops of scikit-learn's sample photos and upscaled digits. Every flag is scored per
generator (for duplicates every member of a planted pair is a positive) and, for nbdiag, per
image source. Results go to ``benchmarks/results/bench_image_flags.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from .bench_image_metrics import _scores, run_cleanvision
from .robustness import GENERATORS, ISSUES, generate

RESULTS = Path(__file__).parent / "results"
TUNED_ON = "planted"


def _nbdiag_flags(folder: Path, files: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    import nbdiag
    from nbdiag.metrics import compute_metrics, flag_thresholds

    ds = nbdiag.Dataset(pd.DataFrame({"path": [str(folder / f) for f in files]}))
    errors = compute_metrics(ds, cache_dir=False, progress=False)
    if len(errors):
        raise RuntimeError(f"nbdiag reported errors:\n{errors}")
    flags = ds.samples[list(ISSUES)].copy()
    flags.index = files
    return flags, flag_thresholds(ds.samples)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400, help="images per generator")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cleanvision", action="store_true")
    parser.add_argument(
        "--data",
        default=os.environ.get(
            "NBDIAG_BENCH_DATA", os.path.join(tempfile.gettempdir(), "nbdiag-bench")
        ),
    )
    args = parser.parse_args(argv or [])
    result: dict[str, Any] = {
        "benchmark": "image_flags",
        "images_per_generator": args.images,
        "seed": args.seed,
        "tuned_on": TUNED_ON,
        "generators": {},
    }
    print(f"sensitivity tuned on: {TUNED_ON}; the others are never tuned on")
    header = f"{'generator':10s} {'flag':18s} {'planted':>7s}  {'nbdiag P / R':>13s}"
    print(header + ("" if args.no_cleanvision else f"  {'cleanvision P / R':>17s}"))
    for name in GENERATORS:
        t0 = time.perf_counter()
        root = Path(args.data) / f"robust-{name}-{args.images}-{args.seed}"
        truth = generate(name, root, n=args.images, seed=args.seed)
        folder, files = root / "images", truth["file"].tolist()
        nb, table = _nbdiag_flags(folder, files)
        entry: dict[str, Any] = {
            "tuned_on": name == TUNED_ON,
            "nbdiag": _scores(nb, truth),
            "thresholds": json.loads(table.to_json(orient="index")),
        }
        entry["nbdiag_by_source"] = {
            src: _scores(nb[(truth["source"] == src).to_numpy()], truth[truth["source"] == src])
            for src in sorted(truth["source"].unique())
        }
        cv = None
        if not args.no_cleanvision:
            _, _, cv = run_cleanvision(folder, files)
            entry["cleanvision"] = _scores(cv, truth)
        entry["seconds"] = time.perf_counter() - t0
        result["generators"][name] = entry
        for issue in ISSUES:
            b = entry["nbdiag"][issue]
            line = (
                f"{name:10s} {issue:18s} {b['planted']:7d}  "
                f"{b['precision']:5.3f} / {b['recall']:5.3f}"
            )
            if cv is not None:
                c = entry["cleanvision"][issue]
                line += f"  {c['precision']:7.3f} / {c['recall']:5.3f}"
            print(line + ("   (tuned on)" if name == TUNED_ON else ""))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "bench_image_flags.json"
    out.write_text(json.dumps(result, indent=2, default=float))
    print(f"written: {out}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
