"""Benchmark: ``find_label_issues`` against cleanlab's filters and simple baselines.

Run from the repository root::

    python -m benchmarks.bench_label_issues            # 4 noise settings x 3 seeds
    python -m benchmarks.bench_label_issues --seeds 1

scikit-learn's digits (1,797 images, 10 classes) get seeded label noise:

- ``uniform``: a fraction of all samples gets a different class, uniformly at random;
- ``pair``: class-conditional noise between look-alikes, 1<->7, 3<->8, 4<->9: that fraction of
  each of those six classes gets its partner's label.

Every method sees the same out-of-fold probabilities (5-fold logistic regression on the pixel
features, ``nbdiag.issues.out_of_fold_probabilities``); nbdiag also uses the pixel features as
embeddings for neighbour disagreement. Compared, in one run:

- ``nbdiag``: ``find_label_issues(ds, probabilities=oof)`` (defaults: neighbour weight 0.5,
  k = 10, cleanlab's ``prune_by_noise_rate`` on the mixed probabilities);
- ``cleanlab:<filter>``: ``cleanlab.filter.find_label_issues(labels, oof, filter_by=...)`` for
  every filter;
- ``self_confidence<0.5``: flag when the probability of the given label is below 0.5;
- ``neighbors_disagree``: flag when fewer than 30% of the 10 nearest neighbours share the label.

Precision, recall and F1 against the truly flipped samples; the target is nbdiag's F1 >= the
best cleanlab filter's on every setting. Results: ``benchmarks/results/bench_label_issues.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"
PAIRS = {1: 7, 7: 1, 3: 8, 8: 3, 4: 9, 9: 4}
SETTINGS = [("uniform", 0.1), ("uniform", 0.2), ("pair", 0.1), ("pair", 0.2)]
FILTERS = [
    "prune_by_class",
    "prune_by_noise_rate",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
]


def add_noise(y: np.ndarray, kind: str, rate: float, seed: int) -> np.ndarray:
    """Seeded label noise (see the module docstring)."""
    rng = np.random.default_rng(seed)
    noisy = y.copy()
    if kind == "uniform":
        idx = rng.choice(len(y), int(round(rate * len(y))), replace=False)
        noisy[idx] = (y[idx] + rng.integers(1, 10, len(idx))) % 10
    elif kind == "pair":
        for c, partner in PAIRS.items():
            members = np.flatnonzero(y == c)
            idx = rng.choice(members, int(round(rate * len(members))), replace=False)
            noisy[idx] = partner
    else:
        raise ValueError(kind)
    return noisy


def prf(flagged: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    tp = int((flagged & truth).sum())
    p = tp / max(int(flagged.sum()), 1)
    r = tp / max(int(truth.sum()), 1)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f, 4),
        "flagged": int(flagged.sum()),
    }


def run_setting(kind: str, rate: float, seed: int) -> dict[str, Any]:
    from cleanlab.filter import find_label_issues as cl_find
    from sklearn.datasets import load_digits

    import nbdiag
    from nbdiag.embeddings import neighbor_graph, set_embeddings
    from nbdiag.issues import find_label_issues, out_of_fold_probabilities

    d = load_digits()
    noisy = add_noise(d.target, kind, rate, seed)
    truth = noisy != d.target
    ds = nbdiag.Dataset.from_arrays(d.images, noisy)
    set_embeddings(ds, d.data)
    t = time.perf_counter()
    oof = out_of_fold_probabilities(ds, seed=seed)
    t_oof = time.perf_counter() - t
    p = oof.reindex(ds.samples.index).to_numpy()
    labels = ds.samples["label"].cat.codes.to_numpy()
    out: dict[str, Any] = {"kind": kind, "rate": rate, "seed": seed, "n_flipped": int(truth.sum())}
    methods: dict[str, dict[str, float]] = {}

    t = time.perf_counter()
    issues = find_label_issues(ds, probabilities=oof, write=False, include_all=True)
    t_ours = time.perf_counter() - t
    flagged = issues["is_label_issue"].reindex(ds.samples.index).to_numpy(dtype=bool)
    methods["nbdiag"] = prf(flagged, truth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fb in FILTERS:
            methods[f"cleanlab:{fb}"] = prf(cl_find(labels, p, filter_by=fb), truth)
    methods["self_confidence<0.5"] = prf(p[np.arange(len(p)), labels] < 0.5, truth)
    _, _, nbrs = neighbor_graph(ds, 10)
    agree = (labels[nbrs] == labels[:, None]).mean(axis=1)
    methods["neighbors_disagree"] = prf(agree < 0.3, truth)
    out["methods"] = methods
    out["seconds"] = {"out_of_fold": round(t_oof, 3), "find_label_issues": round(t_ours, 3)}
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv if argv is not None else [])
    runs = [run_setting(k, r, s) for k, r in SETTINGS for s in range(args.seeds)]
    summary = []
    print(
        f"{'setting':<14} {'nbdiag F1':>9} {'best cleanlab F1':>17} {'(filter)':<22} {'self-conf F1':>12}"
    )
    for kind, rate in SETTINGS:
        mine = [r for r in runs if r["kind"] == kind and r["rate"] == rate]
        names = mine[0]["methods"].keys()
        mean = {m: float(np.mean([r["methods"][m]["f1"] for r in mine])) for m in names}
        best_cl = max((m for m in names if m.startswith("cleanlab:")), key=mean.__getitem__)
        row = {
            "setting": f"{kind} {rate:.0%}",
            "nbdiag_f1": round(mean["nbdiag"], 4),
            "best_cleanlab_filter": best_cl.split(":", 1)[1],
            "best_cleanlab_f1": round(mean[best_cl], 4),
            "self_confidence_f1": round(mean["self_confidence<0.5"], 4),
            "neighbors_f1": round(mean["neighbors_disagree"], 4),
            "nbdiag_beats_best_cleanlab_every_seed": all(
                r["methods"]["nbdiag"]["f1"]
                >= max(v["f1"] for m, v in r["methods"].items() if m.startswith("cleanlab:"))
                for r in mine
            ),
            "mean_f1": {m: round(v, 4) for m, v in mean.items()},
        }
        summary.append(row)
        print(
            f"{row['setting']:<14} {row['nbdiag_f1']:>9.3f} {row['best_cleanlab_f1']:>17.3f} "
            f"{'(' + row['best_cleanlab_filter'] + ')':<22} {row['self_confidence_f1']:>12.3f}"
        )
    result = {
        "benchmark": "label_issues",
        "data": "sklearn digits, 1797 images; features = pixels; 5-fold logistic regression (C=0.1)",
        "seeds": args.seeds,
        "summary": summary,
        "target_met": all(r["nbdiag_f1"] >= r["best_cleanlab_f1"] for r in summary),
        "runs": runs,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_label_issues.json").write_text(json.dumps(result, indent=2))
    print(f"target (nbdiag F1 >= best cleanlab filter on every setting): {result['target_met']}")
    return result


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
