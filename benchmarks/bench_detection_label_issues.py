"""Benchmark: detection label issues, nbdiag against ``cleanlab.object_detection``.

Run from the repository root::

    python -m benchmarks.bench_detection_label_issues            # seeds 0-3
    python -m benchmarks.bench_detection_label_issues --seeds 0 1 --train 800 --epochs 6

Data (:mod:`benchmarks._scenes`): generated 64 x 64 scenes of four shape classes on textured
backgrounds. A tiny CenterNet-style detector is trained on the spot (CPU, one thread) on
``--train`` scenes with clean labels, then predicts, out of sample, on ``--images`` held-out
scenes per seed. Into the held-out ground truth, each seed plants one error in ``--rate`` of
the images (the other images stay clean), the four kinds in equal shares:

- ``missing_box``: one annotated object is dropped;
- ``wrong_class``: one box gets another class;
- ``bad_localization``: one box is shifted by 30-60 % of its size, or enlarged by 35-100 %
  per side (IoU with the true box 0.15-0.6);
- ``duplicate_box``: one box is annotated a second time, jittered (IoU 0.7-1 with it).

Both tools get the same predictions and the same noisy labels:

- **nbdiag**: ``find_label_issues(ds, run)`` with its defaults (score threshold 0.5), and
  ``nbdiag auto``: with ``score_threshold="auto"`` (adapted to the detector's calibration);
- **cleanlab**: ``cleanlab.object_detection.filter.find_label_issues(labels, predictions)``
  (its defaults), which flags images. Its flags per box and type (overlooked / swap /
  badloc) are recomputed with cleanlab's own per-box functions and per-class thresholds, as
  ``find_label_issues`` does internally; the benchmark checks that they reproduce its image
  flags exactly;
- **cleanlab sharpened**: the same on the scores raised to a power ``gamma`` < 1. cleanlab's
  overlooked and swap checks only consider predictions scoring above 0.95, which few of this
  detector's do (its correct detections have a median score of about 0.7), so its scores are
  sharpened for it: for each type and level, the ``gamma`` of :data:`GAMMAS` giving cleanlab
  its best F1 on the tuning seed is used on the other seeds.

nbdiag is also run on the same detections with the scores cubed and cube-rooted (the same
ranking, other calibrations): the fixed threshold suffers, ``"auto"`` gives identical results.

Scoring (documented in ``docs/detection-label-issues.md``):

- **box level, per type**: a flag of type T is a hit when it points at a planted error of type
  T: the same ground-truth box (for a duplicate, either box of the pair), or, for a missing box,
  a flagged prediction with IoU >= 0.5 with the dropped box. Precision = hits / flags of type
  T; recall = planted errors of type T with a hit / planted errors of type T. cleanlab's
  types map overlooked -> missing_box, swap -> wrong_class, badloc -> bad_localization; it has
  no duplicate type.
- **image level, per type** (both tools as image flaggers: an image is flagged when the tool
  flags anything in it): over the clean images plus the images with a planted error of type T,
  precision = flagged images with a type-T error / flagged images, recall = flagged images with
  a type-T error / images with one. This is the comparison cleanlab's output is made for.
- **kind accuracy** (nbdiag): of nbdiag's flags that point at a planted error (any type), the
  share that names the right type.

The target: nbdiag's F1 (fixed and auto threshold) >= both cleanlab variants' for every
type, at both levels, averaged over the reported seeds. Seed 0 was used to tune (nbdiag's
duplicate rule and ``auto`` quantile, cleanlab's ``gamma``) and is not in the averages; seeds
1-3 are reported (seed 3 with denser scenes, up to 6 objects, than the detector trained on).
Results: ``benchmarks/results/bench_detection_label_issues.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULTS = Path(__file__).parent / "results"
KINDS = ("missing_box", "wrong_class", "bad_localization", "duplicate_box")
CLEANLAB_KINDS = {"overlooked": "missing_box", "swap": "wrong_class", "badloc": "bad_localization"}
TUNED_SEEDS = (0,)
DENSE_SEEDS = (3,)  # scenes with up to 6 objects (the detector trained on up to 4)
HIT_IOU = 0.5
#: score sharpenings tried for cleanlab on the tuning seed (score ** gamma)
GAMMAS = (1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02)
#: the calibration check: nbdiag on the same detections with scores ** power
CALIBRATION_POWERS = (3.0, 1 / 3)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def plant_errors(
    boxes: pd.DataFrame, sample_ids: list[str], seed: int, rate: float, size: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Plant one error in ``rate`` of the images (see the module docstring).

    Returns the noisy boxes and the planted errors (``sample_id``, ``kind``, ``object_ids``
    -- the noisy boxes concerned, a tuple --, ``x``/``y``/``w``/``h`` -- the true box).
    """
    from ._scenes import CLASSES

    rng = np.random.default_rng(10_000 + seed)
    noisy = boxes.copy()
    with_boxes = [s for s in sample_ids if (boxes["sample_id"] == s).any()]
    chosen = rng.choice(with_boxes, int(round(rate * len(sample_ids))), replace=False)
    kinds = np.resize(np.array(KINDS), len(chosen))
    rng.shuffle(kinds)
    planted: list[dict[str, Any]] = []
    added: list[pd.DataFrame] = []
    for sid, kind in zip(chosen, kinds, strict=True):
        ids = boxes.index[boxes["sample_id"] == sid]
        oid = ids[int(rng.integers(len(ids)))]
        true = boxes.loc[oid, ["x", "y", "w", "h"]].to_numpy(dtype=float)
        row = dict(sample_id=sid, kind=str(kind), object_ids=(oid,), x=true[0], y=true[1])
        row.update(w=true[2], h=true[3])
        if kind == "missing_box":
            noisy = noisy.drop(index=oid)
            row["object_ids"] = ()
        elif kind == "wrong_class":
            old = boxes.at[oid, "label"]
            noisy.at[oid, "label"] = rng.choice([c for c in CLASSES if c != old])
        elif kind == "bad_localization":
            for _ in range(100):
                x, y, w, h = true
                if rng.random() < 0.5:  # shifted
                    f = rng.uniform(0.3, 0.6)
                    ang = rng.uniform(0, 2 * np.pi)
                    x, y = x + f * w * np.cos(ang), y + f * h * np.sin(ang)
                else:  # loose
                    e = rng.uniform(0.35, 1.0)
                    x, y, w, h = x - e * w / 2, y - e * h / 2, w * (1 + e), h * (1 + e)
                x0, y0 = max(x, 0.0), max(y, 0.0)
                x1, y1 = min(x + w, size), min(y + h, size)
                bad = np.array([x0, y0, x1 - x0, y1 - y0])
                if bad[2] > 2 and bad[3] > 2 and 0.15 <= _iou(bad, true) <= 0.6:
                    break
            noisy.loc[oid, ["x", "y", "w", "h"]] = bad
        else:  # duplicate
            for _ in range(100):
                j = rng.normal(0, 0.06, 4) * np.r_[true[2:], true[2:]]
                dup = true + j
                if dup[2] > 2 and dup[3] > 2 and _iou(dup, true) >= 0.7:
                    break
            did = f"{oid}_dup"
            added.append(
                pd.DataFrame(
                    [
                        dict(
                            sample_id=sid,
                            label=boxes.at[oid, "label"],
                            x=dup[0],
                            y=dup[1],
                            w=dup[2],
                            h=dup[3],
                        )
                    ],
                    index=pd.Index([did], name="object_id"),
                )  # fmt: skip
            )
            row["object_ids"] = (oid, did)
        planted.append(row)
    if added:
        noisy = pd.concat([noisy, *added])
    return noisy, pd.DataFrame(planted)


def _hits(flags: pd.DataFrame, planted: pd.DataFrame) -> np.ndarray:
    """For each flag (``issue``, ``object_id``, ``sample_id``, box): the index of the planted
    error it points at, -1 if none. A flag on a ground-truth box points at the error planted on
    that box; a flag on a prediction (missing box) at a dropped box it overlaps (IoU >= 0.5)."""
    by_obj = {o: i for i, ids in enumerate(planted["object_ids"]) for o in ids}
    missing = planted[planted["kind"] == "missing_box"]
    miss_by_sample = {s: g for s, g in missing.groupby("sample_id")}
    out = np.full(len(flags), -1, dtype=np.int64)
    for n, f in enumerate(flags.itertuples(index=False)):
        if f.object_id in by_obj:
            out[n] = by_obj[f.object_id]
        elif f.issue == "missing_box" and f.sample_id in miss_by_sample:
            g = miss_by_sample[f.sample_id]
            box = np.array([f.x, f.y, f.w, f.h], dtype=float)
            ious = [_iou(box, np.array(r, dtype=float)) for r in g[["x", "y", "w", "h"]].values]
            if max(ious) >= HIT_IOU:
                out[n] = g.index[int(np.argmax(ious))]
    return out


def _prf(tp_flags: int, n_flags: int, tp_truth: int, n_truth: int) -> dict[str, float]:
    p = tp_flags / n_flags if n_flags else 0.0
    r = tp_truth / n_truth if n_truth else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
            "flagged": n_flags, "planted": n_truth}  # fmt: skip


def box_level(flags: pd.DataFrame, planted: pd.DataFrame) -> dict[str, Any]:
    """Per-type box-level P/R/F1 of typed flags, and the kind accuracy."""
    hit = _hits(flags, planted)
    kinds = flags["issue"].astype(str).to_numpy()
    pk = planted["kind"].to_numpy()
    out: dict[str, Any] = {}
    for k in KINDS:
        mine = kinds == k
        good = mine & (hit >= 0) & (pk[np.maximum(hit, 0)] == k)
        found = set(hit[good])
        out[k] = _prf(int(good.sum()), int(mine.sum()), len(found), int((pk == k).sum()))
    on_error = hit >= 0
    right = kinds[on_error] == pk[hit[on_error]]
    out["kind_accuracy"] = round(float(right.mean()), 4) if on_error.any() else None
    out["flags_on_planted"] = int(on_error.sum())
    return out


def image_level(flagged: set[Any], planted: pd.DataFrame, sample_ids: list[str]) -> dict:
    """Per-type image-level P/R/F1 (see the module docstring) and over all types."""
    kind_of = dict(zip(planted["sample_id"], planted["kind"], strict=True))
    out: dict[str, Any] = {}
    for k in (*KINDS, "any"):
        pool = [s for s in sample_ids if kind_of.get(s) in (None, k) or k == "any"]
        pos = {s for s in pool if s in kind_of}
        fl = {s for s in pool if s in flagged}
        out[k] = _prf(len(fl & pos), len(fl), len(fl & pos), len(pos))
    return out


def cleanlab_box_flags(
    ds: Any, run: str, gamma: float = 1.0
) -> tuple[pd.DataFrame, np.ndarray, float]:
    """cleanlab's per-box, per-type flags (the decisions inside its ``find_label_issues``),
    its image flags, and its runtime in seconds; scores raised to the power ``gamma`` first
    (a monotone sharpening: ``gamma < 1`` pushes confident detections towards 1)."""
    from cleanlab.internal import constants as C
    from cleanlab.object_detection import filter as F
    from cleanlab.object_detection import rank as R

    from nbdiag.issues._detection import cleanlab_inputs

    labels, preds, label_ids, pred_ids = cleanlab_inputs(ds, run)
    for p in preds:
        for arr in p:
            arr[:, 4] = arr[:, 4] ** gamma
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        image_flags = F.find_label_issues(labels, preds)
        seconds = time.perf_counter() - t
        aux = R._get_valid_inputs_for_compute_scores(C.ALPHA, labels, preds)
        ap = F._get_per_class_ap(labels, preds)
        lab_thr = F._process_class_list([lab["labels"] for lab in labels], ap)
        pred_thr = F._process_class_list([R._separate_prediction(p)[1] for p in preds], ap)
        scores = {
            "overlooked": R.compute_overlooked_box_scores(
                alpha=C.ALPHA, high_probability_threshold=C.HIGH_PROBABILITY_THRESHOLD,
                auxiliary_inputs=aux,
            ),
            "badloc": R.compute_badloc_box_scores(
                alpha=C.ALPHA, low_probability_threshold=C.LOW_PROBABILITY_THRESHOLD,
                auxiliary_inputs=aux,
            ),
            "swap": R.compute_swap_box_scores(
                alpha=C.ALPHA, high_probability_threshold=C.HIGH_PROBABILITY_THRESHOLD,
                overlapping_label_check=True, auxiliary_inputs=aux,
            ),
        }  # fmt: skip
        factor = {
            "overlooked": C.OVERLOOKED_THRESHOLD_FACTOR,
            "badloc": C.BADLOC_THRESHOLD_FACTOR,
            "swap": C.SWAP_THRESHOLD_FACTOR,
        }
    objects = ds.objects
    rows = []
    per_image = np.zeros(len(labels), dtype=bool)
    for name, per_box in scores.items():
        thr = pred_thr if name == "overlooked" else lab_thr
        ids = pred_ids if name == "overlooked" else label_ids
        for i, s in enumerate(per_box):
            s = np.where(np.isnan(s), 1.0, s)
            flagged = s <= np.asarray(thr[i], dtype=float) * factor[name]
            per_image[i] |= bool(flagged.any())
            for oid in ids[i][flagged]:
                o = objects.loc[oid]
                rows.append(dict(issue=CLEANLAB_KINDS[name], object_id=oid,
                                 sample_id=o["sample_id"], x=o["x"], y=o["y"], w=o["w"],
                                 h=o["h"]))  # fmt: skip
    if not np.array_equal(per_image, np.asarray(image_flags, dtype=bool)):
        raise AssertionError("cleanlab's per-box flags do not reproduce its image flags")
    flags = pd.DataFrame(rows, columns=["issue", "object_id", "sample_id", "x", "y", "w", "h"])
    return flags, np.asarray(image_flags, dtype=bool), seconds


def run_seed(
    model: Any, seed: int, n_images: int, rate: float, gammas: Sequence[float] = ()
) -> dict[str, Any]:
    """One seed: scenes, predictions, planted errors, both tools, scores; cleanlab also on
    its scores raised to each power in ``gammas`` (``cleanlab_by_gamma``)."""
    import nbdiag
    from nbdiag.issues import find_label_issues

    from ._scenes import CLASSES, make_scenes, predict

    dense = seed in DENSE_SEEDS
    images, boxes = make_scenes(n_images, seed, max_objects=6 if dense else 4, prefix=f"s{seed}_")
    ids = [f"s{seed}_{i}" for i in range(n_images)]
    size = images.shape[1]
    preds = predict(model, images, ids)
    noisy, planted = plant_errors(boxes, ids, seed, rate, size)
    samples = pd.DataFrame({"width": float(size), "height": float(size)}, index=ids)
    ds = nbdiag.Dataset(samples, noisy, class_names=list(CLASSES))
    ds.add_run("detector", preds)
    clean = nbdiag.Dataset(samples, boxes, class_names=list(CLASSES))
    clean.add_run("detector", preds)
    ev = clean.evaluate("detector")
    stats = ev.coco_stats

    t = time.perf_counter()
    ours = find_label_issues(ds, "detector", write=False, score_threshold=0.5)
    t_ours = time.perf_counter() - t
    auto = find_label_issues(ds, "detector", write=False, score_threshold="auto")
    # the same detector, scores rescaled monotonically (less / more confident)
    calibration: dict[str, Any] = {}
    for power in CALIBRATION_POWERS:
        rescaled = preds.assign(score=preds["score"] ** power)
        d2 = nbdiag.Dataset(samples, noisy, class_names=list(CLASSES))
        d2.add_run("detector", rescaled)
        calibration[f"score**{power:g}"] = {
            name: {k: box_level(found, planted)[k]["f1"] for k in KINDS}
            for name, found in (
                ("nbdiag", find_label_issues(d2, "detector", write=False,
                                             score_threshold=0.5)),
                ("nbdiag_auto", find_label_issues(d2, "detector", write=False,
                                                  score_threshold="auto")),
            )
        }  # fmt: skip
    cl_flags, cl_images, t_cl = cleanlab_box_flags(ds, "detector")
    by_gamma = {}
    for g in gammas:
        g_flags, g_images, _ = cleanlab_box_flags(ds, "detector", g)
        by_gamma[g] = {
            "box_level": box_level(g_flags, planted),
            "image_level": image_level(
                {s for s, f in zip(ids, g_images, strict=True) if f}, planted, ids
            ),
        }
    out: dict[str, Any] = {
        "seed": seed,
        "tuned_on": seed in TUNED_SEEDS,
        "scenes": "up to 6 objects" if dense else "up to 4 objects (as trained)",
        "images": n_images,
        "gt_boxes": len(boxes),
        "planted": planted["kind"].value_counts().to_dict(),
        "detector": {
            "mAP": round(float(stats[0]), 4),
            "AP50": round(float(stats[1]), 4),
            "AP75": round(float(stats[2]), 4),
        },  # fmt: skip
        "box_level": {
            "nbdiag": box_level(ours, planted),
            "nbdiag_auto": box_level(auto, planted),
            "cleanlab": box_level(cl_flags, planted),
        },
        "image_level": {
            "nbdiag": image_level(set(ours["sample_id"]), planted, ids),
            "nbdiag_auto": image_level(set(auto["sample_id"]), planted, ids),
            "cleanlab": image_level(
                {s for s, f in zip(ids, cl_images, strict=True) if f}, planted, ids
            ),
        },
        "cleanlab_by_gamma": by_gamma,
        "nbdiag_auto_score_threshold": round(float(auto.attrs["score_threshold"]), 4),
        "calibration_box_f1": calibration,
        "seconds": {"nbdiag": round(t_ours, 3), "cleanlab": round(t_cl, 3)},
    }
    return out


def pick_gammas(run: dict[str, Any]) -> dict[tuple[str, str], float]:
    """Per (level, type): the score power giving cleanlab its best F1 on this (tuning) run."""
    by = run["cleanlab_by_gamma"]
    return {
        (level, k): max(by, key=lambda g: (by[g][level][k]["f1"], g))
        for level in ("box_level", "image_level")
        for k in (*KINDS, "any")
        if k in by[next(iter(by))][level]
    }


def _mean(runs: list[dict[str, Any]], level: str, tool: str, kind: str, m: str) -> float:
    return round(float(np.mean([r[level][tool][kind][m] for r in runs])), 4)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--train", type=int, default=1200)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0.4)
    args = parser.parse_args(argv if argv is not None else [])
    from ._scenes import make_scenes, train_detector

    t0 = time.perf_counter()
    train_images, train_boxes = make_scenes(args.train, 1000, prefix="train")
    train_ids = [f"train{i}" for i in range(args.train)]
    model = train_detector(train_images, train_boxes, train_ids, epochs=args.epochs)
    t_train = time.perf_counter() - t0
    print(f"detector trained in {t_train:.0f} s", flush=True)
    tuned = [s for s in args.seeds if s in TUNED_SEEDS] or args.seeds[:1]
    runs = [run_seed(model, s, args.images, args.rate, GAMMAS) for s in tuned]
    gamma = pick_gammas(runs[0]) if runs else {}
    rest = [s for s in args.seeds if s not in tuned]
    runs += [run_seed(model, s, args.images, args.rate, sorted(set(gamma.values()))) for s in rest]
    for r in runs:
        for (level, kind), g in gamma.items():
            r[level].setdefault("cleanlab_sharpened", {})[kind] = r["cleanlab_by_gamma"][g][level][
                kind
            ]
        r["cleanlab_by_gamma"] = {str(g): v for g, v in r["cleanlab_by_gamma"].items()}
    reported = [r for r in runs if not r["tuned_on"]] or runs
    tools = ("nbdiag", "nbdiag_auto", "cleanlab", "cleanlab_sharpened")
    summary: dict[str, Any] = {}
    print(
        f"mean over seeds {[r['seed'] for r in reported]}; cleanlab sharpened: score ** gamma, "
        f"the best gamma per type and level on seed(s) {list(TUNED_SEEDS)}"
    )
    print(f"{'':<18} {'box-level F1':^43} {'image-level F1':^43}")
    head = f"{'nbdiag':>10} {'auto':>10} {'cleanlab':>10} {'sharpened':>10}"
    print(f"{'type':<18} {head} {head}")
    target = True
    for k in (*KINDS, "any"):
        row = {
            f"{level}_{tool}_{m}": _mean(reported, level, tool, k, m)
            for level in ("box_level", "image_level")
            for tool in tools
            for m in ("precision", "recall", "f1")
            if k in reported[0][level][tool]
        }
        summary[k] = row
        cells = []
        for level in ("box_level", "image_level"):
            f1 = [row.get(f"{level}_{t}_f1") for t in tools]
            if f1[0] is not None and k != "any":
                target &= min(f1[:2]) >= max(f1[2:])
            cells += ["" if v is None else f"{v:.3f}" for v in f1]
        print(f"{k:<18} " + " ".join(f"{c:>10}" for c in cells))
    for name in reported[0]["calibration_box_f1"]:
        cal = {
            tool: np.mean(
                [[r["calibration_box_f1"][name][tool][k] for k in KINDS] for r in reported], axis=0
            )
            for tool in ("nbdiag", "nbdiag_auto")
        }
        summary[f"calibration {name}"] = {
            t: [round(float(v), 4) for v in f] for t, f in cal.items()
        }
        print(
            f"scores {name}: box-level F1 per type, nbdiag "
            + " ".join(f"{v:.3f}" for v in cal["nbdiag"])
            + ", auto "
            + " ".join(f"{v:.3f}" for v in cal["nbdiag_auto"])
        )
    kind_acc = float(np.mean([r["box_level"]["nbdiag"]["kind_accuracy"] for r in reported]))
    print(
        f"nbdiag kind accuracy {kind_acc:.3f}; detector mAP / AP50 "
        + ", ".join(
            f"seed {r['seed']}: {r['detector']['mAP']:.3f} / {r['detector']['AP50']:.3f}"
            for r in runs
        )
    )
    result = {
        "benchmark": "detection_label_issues",
        "data": (
            f"generated 64x64 scenes, 4 shape classes; detector TinyCenterNet trained on "
            f"{args.train} clean scenes for {args.epochs} epochs ({t_train:.0f} s); "
            f"{args.images} held-out scenes per seed, one planted error in {args.rate:.0%} of them"
        ),
        "seeds": args.seeds,
        "tuned_on_seeds": list(TUNED_SEEDS),
        "reported_seeds": [r["seed"] for r in reported],
        "summary": summary,
        "nbdiag_kind_accuracy": round(kind_acc, 4),
        "cleanlab_sharpened_gamma": {f"{lv}/{k}": g for (lv, k), g in gamma.items()},
        "target_met": bool(target),
        "runs": runs,
        "seconds_total": round(time.perf_counter() - t0, 1),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_detection_label_issues.json").write_text(json.dumps(result, indent=2))
    print(
        "target (nbdiag F1, fixed and auto threshold, >= both cleanlab variants' per type, "
        f"box and image level): {target}"
    )
    return result


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
