"""Benchmark: the data model at scale (issue 14), in one process, against pandas' own lookup.

Run from the repository root::

    python -m benchmarks.bench_scale                 # 1M samples
    python -m benchmarks.bench_scale --sizes 10000 100000 1000000

For each size, a seeded dataset is built the way a new user would: a DataFrame with a ``path``
column (files absent, as on a remote mount that is not there), 10 classes, then 20 float metric
columns, a 10-class classification run and a 2-D embedding are added and 3 tags of 100k ids
(10% of the samples when fewer) are set. Measured:

- **ingest**: ``Dataset.from_dataframe`` with ``probe_images=False`` and with the default
  probing (the latter on at most 200k rows and scaled per row: at 1M it takes minutes today);
- **RSS above the import baseline** once everything is added (target: <= 400 MB at 1M);
- **tag / untag / tagged / select -> .selected** of the ids (target: each <= 0.3 s, and within
  3x of ``pd.Index.get_indexer`` on the same ids without a store);
- **scatter payload** bytes per point (target: <= 9).

Results: ``benchmarks/results/bench_scale.json``. No store is attached here; the durable (kill -9
safe) variant is still to be measured.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

PROBE_ROWS_MAX = 200_000


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


def run(n: int, seed: int = 0) -> dict[str, float]:
    import nbdiag
    from nbdiag.widgets import Scatter

    gc.collect()
    base = _rss_mb()
    rng = np.random.default_rng(seed)
    names = [f"c{i}" for i in range(10)]
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "path": [f"/nonexistent/nbdiag-bench/img_{i:07d}.jpg" for i in range(n)],
            "label": rng.integers(0, 10, n),
            "width": 640,
            "height": 480,
        }
    )
    out: dict[str, float] = {"samples": n}
    probe_n = min(n, PROBE_ROWS_MAX)
    t, _ = _timed(lambda: nbdiag.Dataset.from_dataframe(frame.head(probe_n), class_names=names))
    out["ingest_default_s_per_1M"] = t / probe_n * 1_000_000
    t, ds = _timed(
        lambda: nbdiag.Dataset.from_dataframe(frame, class_names=names, probe_images=False)
    )
    out["ingest_no_probe_s"] = t
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
    ids = rng.choice(n, k, replace=False)
    for tag in ("a", "b", "c"):
        out[f"tag_{tag}_s"], _ = _timed(lambda tag=tag: ds.tag(ids, tag))
    out["tagged_s"], _ = _timed(lambda: ds.tagged("a"))
    out["untag_s"], _ = _timed(lambda: ds.untag(ids, "c"))
    out["get_indexer_s"], _ = _timed(lambda: ds.samples.index.get_indexer(ids))
    gc.collect()
    out["rss_above_import_mb"] = _rss_mb() - base
    ds.samples["embedding_x"] = ds.samples["m0"]
    ds.samples["embedding_y"] = ds.samples["m1"]
    scatter = Scatter(ds, color="label")
    out["scatter_bytes_per_point"] = scatter.payload_bytes() / n

    def select() -> int:
        scatter.select(ids)
        return len(scatter.selected)

    out["select_selected_s"], _ = _timed(select)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    args = parser.parse_args(argv if argv is not None else [])
    rows = [run(n) for n in args.sizes]
    for row in rows:
        print(json.dumps({k: round(v, 4) for k, v in row.items()}))
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "bench_scale.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
