"""Benchmark: the data model at scale (issue 14), in one process, against pandas' own lookup.

Run from the repository root::

    python -m benchmarks.bench_scale                 # 1M samples, integer and text ids
    python -m benchmarks.bench_scale --sizes 10000 100000 1000000 --ids int
    python -m benchmarks.bench_scale --boxes 100000 1000000  # detection: 10 boxes an image + a run

For each size, a seeded dataset is built the way a new user would: a DataFrame with a ``path``
column (files absent, as on a remote mount that is not there), 10 classes, default arguments;
then 20 float metric columns, a 10-class classification run (float32 probabilities) and a 2-D
embedding are added and 3 tags of 100k ids (10% of the samples when fewer) are set. Sample ids
are integers (as COCO's) or text (as ``from_folder``'s relative paths). Measured:

- **ingest**: ``Dataset.from_dataframe`` with the default probing (``"auto"``: existence of
  every file from one directory listing per folder beyond 20k files) and with
  ``probe_images=False``;
- **RSS above the import baseline** once everything is added (target: <= 400 MB at 1M);
- **tag / untag / tagged / select -> .selected** of the ids without a store, next to
  ``pd.Index.get_indexer`` on the same ids (target: within 3x), and with the dataset saved to a
  store, where every tag is committed before it returns (target: each <= 0.3 s);
- **scatter payload** bytes per point (target: <= 9);
- with ``--boxes N``: N images x 10 ground-truth boxes plus a detection run of as many boxes,
  RSS above the import baseline (target at 1M images, 20M boxes in all: <= 3 GB), build and
  ``add_run`` times, ``tag`` of 100k object ids.

Results: ``benchmarks/results/bench_scale.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _timed(fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _frame(n: int, ids: str, rng: np.random.Generator) -> pd.DataFrame:
    index = (
        np.arange(n)
        if ids == "int"
        else pd.Index([f"train/c{i % 10}/img_{i:07d}.jpg" for i in range(n)], dtype=object)
    )
    return pd.DataFrame(
        {
            "id": index,
            "path": [f"/nonexistent/nbdiag-bench/img_{i:07d}.jpg" for i in range(n)],
            "label": rng.integers(0, 10, n),
            "width": 640,
            "height": 480,
        }
    )


def run(n: int, ids: str = "int", seed: int = 0) -> dict[str, float | str]:
    import tempfile

    import nbdiag
    from nbdiag.widgets import Scatter

    gc.collect()
    base = _rss_mb()
    rng = np.random.default_rng(seed)
    names = [f"c{i}" for i in range(10)]
    frame = _frame(n, ids, rng)
    out: dict[str, float | str] = {"samples": n, "ids": ids}
    out["ingest_default_s"], ds = _timed(
        lambda: nbdiag.Dataset.from_dataframe(frame, class_names=names, progress=False)
    )
    out["missing_flagged"] = int((ds.samples["issues"] == "missing_file").sum())
    frame = None  # let it go before memory is measured
    for k in range(20):
        ds.samples[f"m{k}"] = rng.random(n)
    probs = rng.random((n, 10)).astype(np.float32)
    probs /= probs.sum(1, keepdims=True)
    out["add_run_s"], _ = _timed(lambda: ds.add_run("model", probs))
    probs = None
    emb = rng.random((n, 2)).astype(np.float32)
    out["set_embeddings_s"], _ = _timed(lambda: ds.set_embeddings(emb))
    emb = None
    k = min(100_000, n // 10)
    chosen = ds.samples.index[rng.choice(n, k, replace=False)]
    tag_ids = chosen.to_numpy() if ids == "int" else chosen.tolist()  # as users hold them
    ds.samples.index.get_indexer(tag_ids[:10])  # pandas builds its hash table once
    out["get_indexer_s"], _ = _timed(lambda: ds.samples.index.get_indexer(tag_ids))
    for tag in ("a", "b", "c"):
        out[f"tag_{tag}_s"], _ = _timed(lambda tag=tag: ds.tag(tag_ids, tag))
    out["tagged_s"], _ = _timed(lambda: ds.tagged("a"))
    out["untag_s"], _ = _timed(lambda: ds.untag(tag_ids, "c"))
    out["tag_vs_get_indexer"] = float(out["tag_a_s"]) / float(out["get_indexer_s"])
    gc.collect()
    out["rss_above_import_mb"] = _rss_mb() - base
    ds.samples["embedding_x"] = ds.samples["m0"]
    ds.samples["embedding_y"] = ds.samples["m1"]
    scatter = Scatter(ds, color="label")
    out["scatter_bytes_per_point"] = scatter.payload_bytes() / n

    def select() -> int:
        scatter.select(tag_ids)
        return len(scatter.selected)

    out["select_selected_s"], _ = _timed(select)
    with tempfile.TemporaryDirectory() as tmp:  # durable: the tags committed to a store
        out["save_s"], _ = _timed(lambda: ds.save(Path(tmp) / "project"))
        out["stored_tag_s"], _ = _timed(lambda: ds.tag(tag_ids, "d"))
        out["stored_tagged_s"], _ = _timed(lambda: ds.tagged("d"))
        out["stored_untag_s"], _ = _timed(lambda: ds.untag(tag_ids, "d"))
        out["stored_select_selected_s"], _ = _timed(select)
        out["open_s"], again = _timed(lambda: nbdiag.open(Path(tmp) / "project"))
        assert len(again.tagged("a")) == k and len(again.tagged("d")) == 0
    out["ingest_no_probe_s"], _ = _timed(
        lambda: nbdiag.Dataset.from_dataframe(
            _frame(n, ids, rng), class_names=names, probe_images=False
        )
    )
    return out


def run_boxes(n: int, per_image: int = 10, seed: int = 0) -> dict[str, float | str]:
    """Detection at scale: ``n`` images x ``per_image`` ground-truth boxes, plus a run of as
    many predicted boxes; RSS above the import baseline once both are in (the inputs freed)."""
    import nbdiag

    gc.collect()
    base = _rss_mb()
    rng = np.random.default_rng(seed)
    m = n * per_image
    names = [f"c{i}" for i in range(20)]

    def boxes() -> pd.DataFrame:
        return pd.DataFrame(
            {
                "sample_id": np.repeat(np.arange(n), per_image),
                "label": rng.integers(0, 20, m),
                "x": rng.random(m) * 500,
                "y": rng.random(m) * 400,
                "w": rng.random(m) * 130 + 1,
                "h": rng.random(m) * 70 + 1,
            }
        )

    samples = pd.DataFrame({"width": np.full(n, 640), "height": np.full(n, 480)})
    gt = boxes()
    out: dict[str, float | str] = {"images": n, "boxes": m, "run_boxes": m}
    out["build_s"], ds = _timed(
        lambda: nbdiag.Dataset.from_dataframe(samples, gt, class_names=names, probe_images=False)
    )
    gt = samples = None
    pred = boxes().assign(score=rng.random(m))
    out["add_run_s"], _ = _timed(lambda: ds.add_run("det", pred))
    pred = None
    ds.objects.index.get_indexer(ds.objects.index[:10])  # the lookup table users' ids need
    gc.collect()
    from nbdiag.core._memory import release_freed_memory

    release_freed_memory()
    out["rss_above_import_mb"] = _rss_mb() - base
    out["bytes_per_row"] = out["rss_above_import_mb"] * 2**20 / (2 * m)
    out["object_id_dtype"] = str(ds.objects.index.dtype)
    chosen = ds.objects.index[rng.choice(2 * m, min(100_000, m), replace=False)].to_numpy()
    out["tag_100k_objects_s"], _ = _timed(lambda: ds.tag(chosen, "check", level="object"))
    return out


def main(argv: list[str] | None = None) -> None:
    import subprocess
    import sys

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--ids", choices=["int", "str", "both"], default="both")
    parser.add_argument(
        "--boxes",
        type=int,
        nargs="*",
        default=None,
        help="detection instead: these numbers of images, 10 boxes each plus a run as large",
    )
    parser.add_argument("--one", action="store_true", help="one size and id kind, in-process")
    args = parser.parse_args(argv if argv is not None else [])
    if args.one:  # a child: its RSS is its own
        one = run_boxes(args.boxes[0]) if args.boxes else run(args.sizes[0], args.ids)
        print(json.dumps(one))
        return
    if args.boxes is not None:
        rows_b = []
        for n in args.boxes or [1_000_000]:
            cmd = [sys.executable, "-m", "benchmarks.bench_scale", "--one", "--boxes", str(n)]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            rows_b.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows_b[-1]), flush=True)
        results = Path(__file__).resolve().parent / "results"
        results.mkdir(exist_ok=True)
        (results / "bench_scale_boxes.json").write_text(json.dumps(rows_b, indent=2) + "\n")
        return
    kinds = ["int", "str"] if args.ids == "both" else [args.ids]
    rows = []
    for kind in kinds:
        for n in args.sizes:
            cmd = [sys.executable, "-m", "benchmarks.bench_scale", "--one"]
            cmd += ["--sizes", str(n), "--ids", kind]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in rows[-1].items()}
            print(json.dumps(shown), flush=True)
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "bench_scale.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
