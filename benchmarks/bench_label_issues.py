"""Benchmark: ``find_label_issues`` against cleanlab's filters, neighbour disagreement and the
old fixed combination, with and without embeddings.

Run from the repository root::

    python -m benchmarks.bench_label_issues            # 3 datasets x 4 noise settings x 3 seeds
    python -m benchmarks.bench_label_issues --seeds 1 --datasets digits

Datasets (nothing is downloaded):

- ``digits``: scikit-learn's digits (1,797 images, 10 classes), features = the 64 pixels. The
  method's choices were compared on this dataset (and on ``synth8``).
- ``synth8``: ``make_classification`` (2,000 rows, 30 features, 8 classes, one cluster each).
- ``synth6``: ``make_classification`` (1,500 rows, 24 features, 6 classes, two clusters each),
  added after the method was fixed and not used for any choice.

Seeded label noise:

- ``uniform``: a fraction of all samples gets a different class, uniformly at random;
- ``pair``: look-alike noise: that fraction of each of six classes gets its partner's label
  (digits: 1<->7, 3<->8, 4<->9; synthetic sets: the three pairs of classes with the nearest
  centroids, greedily).

Every method sees the same out-of-fold probabilities (5-fold logistic regression on the
features, ``nbdiag.issues.out_of_fold_probabilities``). Compared, per run:

- ``nbdiag`` (embeddings = the features) and ``nbdiag_no_emb`` (same probabilities, no
  embeddings): ``find_label_issues`` with its defaults (``filter_by="auto"``);
- ``cleanlab:<filter>``: ``cleanlab.filter.find_label_issues(labels, oof, filter_by=...)`` for
  every filter;
- ``neighbors<0.3``: flag when fewer than 30 % of the 10 nearest neighbours share the label;
- ``combination``: nbdiag's previous default, cleanlab's ``prune_by_noise_rate`` on
  ``0.5 * model + 0.5 * neighbour`` probabilities.

Precision, recall and F1 against the truly flipped samples. Target per setting (mean F1 over the
seeds): with embeddings, nbdiag >= every peer and component; without, nbdiag_no_emb >= every
cleanlab filter. Results: ``benchmarks/results/bench_label_issues.json``.
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
DIGIT_PAIRS = {1: 7, 7: 1, 3: 8, 8: 3, 4: 9, 9: 4}
SETTINGS = [("uniform", 0.1), ("uniform", 0.2), ("pair", 0.1), ("pair", 0.2)]
DATASETS = ("digits", "synth8", "synth6")
FILTERS = [
    "prune_by_class",
    "prune_by_noise_rate",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
]

#: column heads of the printed table, in ``FILTERS`` order
SHORT = ["by_class", "by_noise", "both", "conf_lrn", "pred_neq", "low_marg", "low_conf"]


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and clean labels of a benchmark dataset."""
    from sklearn.datasets import load_digits, make_classification

    if name == "digits":
        d = load_digits()
        return d.data.astype(np.float64), d.target
    if name == "synth8":
        return make_classification(
            n_samples=2000,
            n_features=30,
            n_informative=15,
            n_redundant=5,
            n_classes=8,
            n_clusters_per_class=1,
            class_sep=1.5,
            random_state=7,
        )
    if name == "synth6":
        return make_classification(
            n_samples=1500,
            n_features=24,
            n_informative=12,
            n_redundant=4,
            n_classes=6,
            n_clusters_per_class=2,
            class_sep=2.0,
            random_state=11,
        )
    raise ValueError(name)


def look_alike_pairs(x: np.ndarray, y: np.ndarray, n_pairs: int = 3) -> dict[int, int]:
    """The ``n_pairs`` pairs of classes with the nearest centroids, chosen greedily."""
    classes = np.unique(y)
    centroids = np.array([x[y == c].mean(axis=0) for c in classes])
    dist = ((centroids[:, None] - centroids[None]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    pairs: dict[int, int] = {}
    for _ in range(n_pairs):
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        pairs[int(classes[i])], pairs[int(classes[j])] = int(classes[j]), int(classes[i])
        dist[[i, j], :] = np.inf
        dist[:, [i, j]] = np.inf
    return pairs


def add_noise(
    y: np.ndarray, kind: str, rate: float, seed: int, pairs: dict[int, int] | None = None
) -> np.ndarray:
    """Seeded label noise (see the module docstring)."""
    rng = np.random.default_rng(seed)
    noisy = y.copy()
    n_classes = int(y.max()) + 1
    if kind == "uniform":
        idx = rng.choice(len(y), int(round(rate * len(y))), replace=False)
        noisy[idx] = (y[idx] + rng.integers(1, n_classes, len(idx))) % n_classes
    elif kind == "pair":
        for c, partner in (pairs or DIGIT_PAIRS).items():
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


def run_setting(dataset: str, kind: str, rate: float, seed: int) -> dict[str, Any]:
    from cleanlab.filter import find_label_issues as cl_find

    import nbdiag
    from nbdiag.embeddings import neighbor_graph, set_embeddings
    from nbdiag.issues import find_label_issues, out_of_fold_probabilities

    x, y = load(dataset)
    pairs = DIGIT_PAIRS if dataset == "digits" else look_alike_pairs(x, y)
    noisy = add_noise(y, kind, rate, seed, pairs)
    truth = noisy != y
    images = np.zeros((len(y), 2, 2), dtype=np.uint8)
    ds = nbdiag.Dataset.from_arrays(images, noisy)
    set_embeddings(ds, x)
    t = time.perf_counter()
    oof = out_of_fold_probabilities(ds, seed=seed)
    t_oof = time.perf_counter() - t
    p = oof.reindex(ds.samples.index).to_numpy()
    labels = ds.samples["label"].cat.codes.to_numpy()
    out: dict[str, Any] = {
        "dataset": dataset,
        "kind": kind,
        "rate": rate,
        "seed": seed,
        "n_flipped": int(truth.sum()),
        "true_noise_rate": round(float(truth.mean()), 4),
    }
    methods: dict[str, dict[str, float]] = {}

    def flags(frame: Any) -> np.ndarray:
        return frame["is_label_issue"].reindex(ds.samples.index).to_numpy(dtype=bool)

    t = time.perf_counter()
    issues = find_label_issues(ds, probabilities=oof, write=False, include_all=True)
    t_ours = time.perf_counter() - t
    methods["nbdiag"] = prf(flags(issues), truth)
    out["estimated_noise_rate"] = round(issues.attrs["noise_rate"], 4)
    out["neighbor_weight"] = issues.attrs["neighbor_weight"]
    bare = nbdiag.Dataset.from_arrays(images, noisy)
    plain = find_label_issues(bare, probabilities=p, write=False, include_all=True)
    methods["nbdiag_no_emb"] = prf(
        plain["is_label_issue"].reindex(bare.samples.index).to_numpy(dtype=bool), truth
    )
    out["estimated_noise_rate_no_emb"] = round(plain.attrs["noise_rate"], 4)
    old = find_label_issues(
        ds,
        probabilities=oof,
        neighbor_weight=0.5,
        filter_by="prune_by_noise_rate",
        write=False,
        include_all=True,
    )
    methods["combination"] = prf(flags(old), truth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fb in FILTERS:
            methods[f"cleanlab:{fb}"] = prf(cl_find(labels, p, filter_by=fb), truth)
    _, _, nbrs = neighbor_graph(ds, 10)
    agree = (labels[nbrs] == labels[:, None]).mean(axis=1)
    methods["neighbors<0.3"] = prf(agree < 0.3, truth)
    out["methods"] = methods
    out["seconds"] = {"out_of_fold": round(t_oof, 3), "find_label_issues": round(t_ours, 3)}
    return out


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean F1 per (dataset, noise kind, rate) and whether the targets are met."""
    summary = []
    keys = sorted({(r["dataset"], r["kind"], r["rate"]) for r in runs}, key=str)
    for dataset, kind, rate in keys:
        mine = [r for r in runs if (r["dataset"], r["kind"], r["rate"]) == (dataset, kind, rate)]
        names = list(mine[0]["methods"])
        mean = {m: float(np.mean([r["methods"][m]["f1"] for r in mine])) for m in names}
        cleanlab = [m for m in names if m.startswith("cleanlab:")]
        best_cl = max(cleanlab, key=mean.__getitem__)
        best_peer = max([*cleanlab, "neighbors<0.3", "combination"], key=mean.__getitem__)
        summary.append(
            {
                "dataset": dataset,
                "setting": f"{kind} {rate:.0%}",
                "seeds": len(mine),
                "nbdiag_f1": round(mean["nbdiag"], 4),
                "best_peer": best_peer,
                "best_peer_f1": round(mean[best_peer], 4),
                "best_cleanlab_filter": best_cl.split(":", 1)[1],
                "best_cleanlab_f1": round(mean[best_cl], 4),
                "gain_over_best_cleanlab": round(mean["nbdiag"] - mean[best_cl], 4),
                "meets_with_embeddings": mean["nbdiag"] >= mean[best_peer],
                "nbdiag_no_emb_f1": round(mean["nbdiag_no_emb"], 4),
                "meets_without_embeddings": mean["nbdiag_no_emb"] >= mean[best_cl],
                "true_noise_rate": round(float(np.mean([r["true_noise_rate"] for r in mine])), 4),
                "estimated_noise_rate": round(
                    float(np.mean([r["estimated_noise_rate"] for r in mine])), 4
                ),
                "mean_f1": {m: round(v, 4) for m, v in mean.items()},
            }
        )
    return summary


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    args = parser.parse_args(argv if argv is not None else [])
    t0 = time.perf_counter()
    runs = [
        run_setting(d, k, r, s)
        for d in args.datasets
        for k, r in SETTINGS
        for s in range(args.seeds)
    ]
    summary = summarise(runs)
    short = dict(zip([f"cleanlab:{f}" for f in FILTERS], SHORT, strict=True))
    cols = ["nbdiag", "nbdiag_no_emb", *short, "neighbors<0.3", "combination"]
    heads = ["nbdiag", "no_emb", *short.values(), "nbr<0.3", "combo"]
    print(f"mean F1 over {args.seeds} seeds; filters are cleanlab's, on the same probabilities")
    print(f"{'dataset':<7} {'setting':<13}" + "".join(f"{h:>10}" for h in heads) + "  met(emb/no)")
    for row in summary:
        f1s = "".join(f"{row['mean_f1'][c]:>10.3f}" for c in cols)
        met = f"{'yes' if row['meets_with_embeddings'] else 'NO'}/"
        met += "yes" if row["meets_without_embeddings"] else "NO"
        print(f"{row['dataset']:<7} {row['setting']:<13}{f1s}  {met}")
    gain = float(np.mean([r["gain_over_best_cleanlab"] for r in summary]))
    gain_no = float(np.mean([r["nbdiag_no_emb_f1"] - r["best_cleanlab_f1"] for r in summary]))
    result = {
        "benchmark": "label_issues",
        "data": "digits (pixels), synth8 and synth6 (make_classification); 5-fold logistic "
        "regression (C=0.1) for the out-of-fold probabilities; embeddings = the features",
        "seeds": args.seeds,
        "summary": summary,
        "target_met_with_embeddings": all(r["meets_with_embeddings"] for r in summary),
        "target_met_without_embeddings": all(r["meets_without_embeddings"] for r in summary),
        "mean_gain_over_best_cleanlab_with_embeddings": round(gain, 4),
        "mean_gain_over_best_cleanlab_without_embeddings": round(gain_no, 4),
        "seconds": round(time.perf_counter() - t0, 1),
        "runs": runs,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_label_issues.json").write_text(json.dumps(result, indent=2))
    print(
        "nbdiag >= every peer and component in every setting (with embeddings): "
        f"{result['target_met_with_embeddings']}; "
        f">= every cleanlab filter without embeddings: {result['target_met_without_embeddings']}"
    )
    print(
        f"mean F1 gain over cleanlab's best filter per setting: {gain:+.3f} with embeddings "
        f"(target +0.05), {gain_no:+.3f} without; {result['seconds']:.0f} s"
    )
    return result


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
