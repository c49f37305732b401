"""The example notebooks run clean (executed like ``make demo ARGS=--headless``) and produce what
their text promises; ``scripts/demo.py --headless`` names the notebook and cell that fail."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "example_notebooks"
DEMO = REPO / "scripts" / "demo.py"


def _load_demo():
    spec = importlib.util.spec_from_file_location("nbdiag_demo_script", DEMO)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


demo = _load_demo()
NOTEBOOKS = demo.find_notebooks(EXAMPLES)


def _stdout(nb, pattern: str) -> re.Match[str]:
    """The first stdout line of the executed notebook matching ``pattern``."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                m = re.search(pattern, out["text"])
                if m:
                    return m
    raise AssertionError(f"no output matches {pattern!r}")


# ------------------------------------------------------------------ committed state (fast)
def test_there_are_example_notebooks():
    assert NOTEBOOKS, f"no notebooks in {EXAMPLES}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path: Path):
    """No outputs or execution counts in git; a kernelspec, so JupyterLab asks nothing."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i + 1} has outputs"
            assert cell.execution_count is None, f"cell {i + 1} has an execution count"


# ------------------------------------------------------------------ executed (slow)
# cells appended to a notebook before it runs; each prints one JSON line ``CHECK {...}``
CHECK_CELLS = {
    "01_quickstart_digits.ipynb": [
        """import json
per = ev.per_sample
cmat = ev.confusion_matrix().to_numpy().copy()
np.fill_diagonal(cmat, 0)
t, p = np.unravel_index(cmat.argmax(), cmat.shape)  # the most frequent confusion
in_cell = per[(per["label"].cat.codes == t) & (per["prediction"].cat.codes == p)].index
cm.select(list(in_cell))
flipped_ids = set(ds.samples.index[flipped])
print("CHECK " + json.dumps({
    "accuracy": ev.accuracy,
    "n_cell": len(in_cell),
    "selected": sorted(map(int, cm.selection)),
    "expected": sorted(map(int, in_cell)),
    "confidence": list(cm.selected["confidence"]),
    "prob_sums": [float(probs.sum(axis=1).min()), float(probs.sum(axis=1).max())],
    "n_mistakes": len(mistakes),
    "n_wrong": int((~per["correct"]).sum()),
    "n_flipped": len(flipped),
    "found_top_k": int(len(flipped_ids & set(ranking.index[:len(flipped)]))),
    "n_flagged": len(issues),
    "flagged_flipped": int(len(flipped_ids & set(issues.index))),
    "suggested_right": float((issues["suggested_label"].astype(int).to_numpy()
                              == true_labels[issues.index.to_numpy()]).mean()),
    "embedding_shape": list(emb.vectors.shape),
    "has_xy": bool(ds.samples[["embedding_x", "embedding_y"]].notna().all().all()),
    "explorer_views": sorted(ex.views),
    "explorer_selected": sorted(map(int, ex.selection)),
    "issue_ids": sorted(map(int, issues.index)),
    "n_exported": len(to_fix),
    "n_changed": len(changes),
    "wrong_left": int((ds.samples["label"].astype(int).to_numpy() != true_labels).sum()),
    "history": len(ds.label_history),
}))""",
    ],
    "02_object_detection.ipynb": [
        """import json
tp_at = {}
for t in (0.5, 0.7):
    ev.set_thresholds(iou=t)
    tp_at[t] = int((ev.predictions["match"] == "tp").sum())
ev.set_thresholds(iou=0.5)
cmat = ev.confusion_matrix()
print("CHECK " + json.dumps({
    "AP": float(ev.coco_stats[0]),
    "AP50": float(ev.coco_stats[1]),
    "missing": bool(((issues["issue"] == "missing_box") & (issues["sample_id"] == planted["missing"])).any()),
    "wrong_class": bool(((issues["issue"] == "wrong_class") & (issues["object_id"] == planted["wrong_class"])).any()),
    "shifted": bool(((issues["issue"] == "bad_localization") & (issues["object_id"] == planted["shifted"])).any()),
    "n_issues": len(issues),
    "background": ["background" in map(str, cmat.index), "background" in map(str, cmat.columns)],
    "tp_at": [tp_at[0.5], tp_at[0.7]],
    "breakdown": list(map(str, ev.error_breakdown().index)),
    "has_metrics": ["box_area" in ds.objects.columns, "brightness" in ds.samples.columns],
    "n_bins": len(by_area),
    "grid_run": grid.run,
    "by_class_rows": len(by_class),
    "by_class_mean_ap": float(by_class["AP"].groupby(level="class", observed=True).first().mean()),
    "low_ids": sorted(map(str, low.index)),
    "low_expected": sorted(map(str, ev.predictions.index[ev.predictions["score"] <= 0.8])),
    "crops_selected": sorted(map(str, crops.selection)),
    "low_samples": sorted(map(str, box_link.selection)),
    "low_expected_samples": sorted(map(str, set(low["sample_id"]))),
}))""",
    ],
    "03_data_quality.ipynb": [
        """import json
s = ds.samples
KINDS = {"_dark": "dark", "_light": "light", "_blurred": "blurry", "_flat": "low_information",
         "_grayscale": "grayscale", "_odd_aspect": "odd_aspect_ratio",
         "_exact_duplicate": "exact_duplicate", "_near_duplicate": "near_duplicate"}
planted = {flag: [i for i in s.index if key in i] for key, flag in KINDS.items()}
has = s[list(KINDS.values())].fillna(False).astype(bool)
missed = {flag: [i for i in ids if not has.at[i, flag]] for flag, ids in planted.items()}
same_group = [i for i in s.index if "_duplicate" in i
              and s.at[i, "duplicate_group"] != s.at[i.split("_")[0] + ".jpg", "duplicate_group"]]
print("CHECK " + json.dumps({
    "n_files": len(s),
    "planted": {k: len(v) for k, v in planted.items()},
    "missed": missed,
    "not_in_original_group": same_group,
    "issues": {i: v for i, v in s["issues"].items() if v},
    "errors": sorted(errors["id"]),
    "linked": sorted(linked.selection),
    "grid": sorted(grid.selection),
    "dark_range": sorted(s.index[s["brightness"] <= 0.15]),
    "custom_nan": sorted(s.index[s["clipped_highlights"].isna()]),
    "custom_max": float(s["clipped_highlights"].max()),
    "custom_argmax": s["clipped_highlights"].idxmax(),
}))""",
    ],
    "04_active_learning.ipynb": [
        """import json
tagged = {(s, r): list(ds.tagged(f"{s}_round_{r}").index) for s in STRATEGIES for r in range(1, ROUNDS + 1)}
repeats, in_test, before = {}, {}, {}
for s in STRATEGIES:
    seen = set(seed_set.index)
    before[s] = 0
    for r in range(1, ROUNDS + 1):
        before[s] += len(seen & set(tagged[s, r]))  # picked although labelled in an earlier round
        seen |= set(tagged[s, r])
    in_test[s] = len(seen & set(test_ids))
    repeats[s] = int(labelled[s].index.duplicated().sum())
run_names = ["round_0", *(f"{s}_round_{r}" for s in STRATEGIES for r in range(1, ROUNDS + 1))]
n_eval = {n: len(ds.evaluate(n).per_sample) for n in run_names}
test_acc = {}  # accuracy recomputed from the held-back labels of the test images
for n in run_names:
    pred = ds.runs[n].predictions.loc[test_ids, "prediction"].cat.codes
    test_acc[n] = float((pred == hidden_labels[test_ids]).mean())
print("CHECK " + json.dumps({
    "accuracy": {s: [accuracy[r][s] for r in range(ROUNDS + 1)] for s in STRATEGIES},
    "test_acc": test_acc,
    "n_eval": n_eval,
    "budget": BUDGET,
    "picks_per_round": {s: [len(tagged[s, r]) for r in range(1, ROUNDS + 1)] for s in STRATEGIES},
    "picked_again": before,
    "picked_from_test": in_test,
    "duplicate_labels": repeats,
    "n_labelled": {s: len(labelled[s]) for s in STRATEGIES},
    "labels_match": all(bool((labelled[s] == hidden_labels[labelled[s].index]).all()) for s in STRATEGIES),
    "preview_is_round_1": sorted(map(int, first.index)) == sorted(map(int, tagged["hybrid", 1])),
    "preview_in_pick_order": list(first["rank"]) == list(range(1, BUDGET + 1)),
    "results_labels": results["labels"].tolist(),
    "needed": int(needed),
    "since_seed": {k: int(v) for k, v in since_seed.counts.items()},
    "final": {k: int(v) for k, v in final.counts.items()},
    "final_runs": [final.run_a, final.run_b],
    "n_fixed_shown": len(fixed),
    "embeddings": sorted(nbdiag.embeddings.store_of(ds).names()),
    "emb_dim": ds.embeddings("hybrid_round_4").dim,
    "projected": bool(ds.samples[["embedding_x", "embedding_y"]].notna().all().all()),
    "scatter_points": len(sc.rows),
    "scatter_categories": list(sc.color_categories),
    "seed_has_2": int((seed_set == 2).sum()),
    "first_batch_2s": int((annotate(first.index) == 2).sum()),
    "round_0_recall_2": float(ev.per_class.loc["2", "recall"]),
    "wrong_picks_vs_rest": [float(wrong[first.index].mean()), float(wrong[rest].mean())],
}))""",
    ],
    "06_segmentation.ipynb": [
        """import json

import pycocotools.mask as mask_api
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

# the pixel confusion, straight from the label maps and the logits' arg-max
truth_px = np.stack([label_maps[s] for s in test_ids]).ravel()
pred_px = logits.argmax(1).numpy().ravel()
direct = np.bincount(truth_px * 4 + pred_px, minlength=16).reshape(4, 4)

# the mask AP, by pycocotools on the same masks
def rle(counts):
    return {"size": [S, S], "counts": counts}

gt_o, dt_o = inst.gt_objects, inst.run_boxes("segmenter")
image_no = {s: k for k, s in enumerate(test_ids)}
coco = COCO()
coco.dataset = {
    "images": [{"id": k, "width": S, "height": S} for k in range(len(test_ids))],
    "categories": [{"id": k, "name": c} for k, c in enumerate(SHAPES)],
    "annotations": [
        {"id": n + 1, "image_id": image_no[r.sample_id], "category_id": SHAPES.index(r.label),
         "segmentation": rle(r.mask), "area": float(mask_api.area(rle(r.mask))),
         "bbox": [r.x, r.y, r.w, r.h], "iscrowd": 0}
        for n, r in enumerate(gt_o.itertuples())
    ],
}
coco.createIndex()
results = coco.loadRes([
    {"image_id": image_no[r.sample_id], "category_id": SHAPES.index(r.label),
     "segmentation": rle(r.mask), "score": r.score}
    for r in dt_o.itertuples()
])
oracle = COCOeval(coco, results, "segm")
oracle.evaluate(); oracle.accumulate(); oracle.summarize()

cm.select_cell(*worst_cell)
print("CHECK " + json.dumps({
    "confusion": sem_ev.confusion_matrix().to_numpy().astype(int).tolist(),
    "direct": direct.tolist(),
    "miou": float(sem_ev.miou),
    "selected": list(cm.selected.index[:5]),
    "in_cell": list(sem_ev.samples_in_cell(*worst_cell).index[:5]),
    "segm_stats": [float(x) for x in segm.coco_stats],
    "oracle_stats": [float(x) for x in oracle.stats],
    "found": found,
    "n_issues": len(issues),
    "mask_metrics": sorted(c for c in inst.objects.columns if c.startswith("mask_")),
    "grid_masks": bool(inst_grid.has_masks),
    "sem_grid_masks": bool(grid.has_masks),
    "ml_map": float(ml_ev.mean_average_precision),
}))""",
    ],
    "05_custom_metrics.ipynb": [
        """import json

s = ds.samples
tilts = s.loc[field_ids, "tilt"]
last = worst.name == by_tilt.index[-1]  # performance_by's bins are [lower, upper), the last closed
in_bin = (tilts >= worst["lower"]) & (tilts <= worst["upper"] if last else tilts < worst["upper"])
low_contrast = field_ids[s.loc[field_ids, "contrast"] < by_contrast["upper"].iloc[0]]
gap = calibration["overconfidence"] - (calibration["confidence"] - calibration["accuracy"])
print("CHECK " + json.dumps({
    "n_samples": len(s),
    "n_field": len(ev.per_sample),
    "tilt_nan": int(s["tilt"].isna().sum()),
    "tilt_range": [float(s["tilt"].min()), float(s["tilt"].max())],
    "first_call": first.attrs["images"],
    "second_call": second.attrs["images"],
    "val_accuracy": float(val_accuracy),
    "accuracy": float(ev.accuracy),
    "contrast_q10_field": float(s.loc[s["split"] == "field", "contrast"].quantile(0.1)),
    "contrast_min_train": float(s.loc[s["split"] == "train", "contrast"].min()),
    "contrast_low": by_contrast["accuracy_low"].tolist(),
    "contrast_high": by_contrast["accuracy_high"].tolist(),
    "faded_share_low_contrast": float((planted.loc[low_contrast, "ink"] < 1).mean()),
    "tilt_acc": by_tilt["accuracy"].tolist(),
    "tilt_low": by_tilt["accuracy_low"].tolist(),
    "tilt_high": by_tilt["accuracy_high"].tolist(),
    "worst_bin": int(by_tilt.index.get_loc(worst.name)),
    "worst_count": int(worst["count"]),
    "worst_acc": float(worst["accuracy"]),
    "importance": importance["metric"].head(3).tolist(),
    "mi": importance["mutual_information"].head(2).tolist(),
    "tilt_rank": int(importance.loc[importance["metric"] == "tilt", "rank"].iloc[0]),
    "slices": slices["slice"].tolist(),
    "lift": slices["lift"].tolist(),
    "overconfidence": calibration["overconfidence"].tolist(),
    "gap_identity": float(gap.abs().max()),
    "selected": sorted(map(int, hist.selection)),
    "linked": sorted(map(int, linked.selection)),
    "grid": sorted(map(int, grid.selection)),
    "expected": sorted(map(int, in_bin.index[in_bin])),
    "selected_acc": float(selected["correct"].mean()),
    "planted_share": [float(is_tilted.loc[selected.index].mean()), float(is_tilted.mean())],
    "auc": float(roc_auc_score(is_tilted, field["tilt"])),
    "rot_accuracy": float(ds.evaluate("cnn_rot").accuracy),
    "rot_acc": after["accuracy"].tolist(),
    "rot_counts": after["count"].tolist(),
}))""",
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_example_notebook_runs(path: Path):
    nb = demo.execute_notebook(path, timeout=300, extra_cells=CHECK_CELLS.get(path.name, ()))
    if path.name == "01_quickstart_digits.ipynb":
        # measured against labels of which 5 % are wrong on purpose
        accuracy = float(_stdout(nb, r"accuracy: ([0-9.]+)").group(1))
        assert accuracy > 0.88
        train_s = float(_stdout(nb, r"3 folds trained in ([0-9.]+)s").group(1))
        assert train_s > 0
        total_s = float(_stdout(nb, r"notebook ran in ([0-9.]+)s").group(1))
        assert total_s > 0  # reported; a wall-clock bound would fail on a busy machine
        check = json.loads(_stdout(nb, r"CHECK (.*)").group(1))
        assert check["accuracy"] == pytest.approx(accuracy, abs=5e-4)
        assert check["n_cell"] > 0
        assert check["selected"] == check["expected"]
        assert check["confidence"] == sorted(check["confidence"], reverse=True)
        assert check["prob_sums"] == pytest.approx([1.0, 1.0], abs=1e-9)
        # selecting the boolean mask of mistakes from code selected every mistake
        assert check["n_mistakes"] == check["n_wrong"] > 0
        # the bar: >= 80 % of the flipped labels among the top k, k = number flipped
        assert check["n_flipped"] == 90
        assert check["found_top_k"] >= 0.8 * check["n_flipped"], check
        # what is flagged is mostly flipped labels, and the suggested label is mostly right
        assert check["flagged_flipped"] >= 0.8 * check["n_flagged"] > 0, check
        assert check["suggested_right"] >= 0.8, check
        assert check["embedding_shape"] == [1797, 64]
        assert check["has_xy"]
        assert {"scatter", "confusion_matrix", "image_grid"} <= set(check["explorer_views"])
        assert check["explorer_selected"] == check["issue_ids"]
        # exported, "relabelled" from the answer key, read back: fewer wrong labels, history kept
        assert check["n_exported"] == check["n_flagged"]
        assert check["n_changed"] == check["flagged_flipped"]
        assert check["wrong_left"] == check["n_flipped"] - check["n_changed"]
        assert check["history"] >= check["n_changed"]

    if path.name == "02_object_detection.ipynb":
        total_s = float(_stdout(nb, r"notebook ran in ([0-9.]+)s").group(1))
        assert total_s > 0  # reported; a wall-clock bound would fail on a busy machine
        check = json.loads(_stdout(nb, r"CHECK (.*)").group(1))
        assert check["AP50"] > 0.85 and check["AP"] > 0.3, check
        # the three planted annotation errors are among the flagged label issues
        assert check["missing"] and check["wrong_class"] and check["shifted"], check
        assert check["n_issues"] < 20  # and the list stays short enough to review
        assert check["background"] == [True, True]
        # a stricter IoU threshold matches fewer detections
        assert check["tp_at"][0] > check["tp_at"][1] > 0
        assert {"classification", "localization", "background"} <= set(check["breakdown"])
        assert check["has_metrics"] == [True, True]
        assert check["n_bins"] == 3
        assert check["grid_run"] == "det"
        # per-class breakdown: 10 classes x 8 error types; the class APs average to AP50
        assert check["by_class_rows"] == 80
        assert check["by_class_mean_ap"] == pytest.approx(check["AP50"], abs=1e-9)
        # a score range over boxes: exactly those boxes in the linked crops, their images linked
        assert check["low_ids"] == check["low_expected"] == check["crops_selected"]
        assert 0 < len(check["low_ids"])
        assert check["low_samples"] == check["low_expected_samples"]

    if path.name == "03_data_quality.ipynb":
        check = json.loads(_stdout(nb, r"CHECK (.*)").group(1))
        assert 40 <= check["n_files"] <= 80
        # every planted kind is there and every planted file carries its flag
        assert all(n >= 2 for n in check["planted"].values()), check["planted"]
        assert check["missed"] == {flag: [] for flag in check["planted"]}
        # copies and resized copies fall in the group of the photo they come from
        assert check["not_in_original_group"] == []
        # the corrupt file: an entry in samples.issues and in the error table, no metric values
        assert list(check["issues"]) == ["corrupt.jpg"]
        assert check["errors"] == ["corrupt.jpg"]
        assert check["custom_nan"] == ["corrupt.jpg"]
        # the brush in the histogram selected the darkest images in the linked grid
        assert check["linked"] == check["grid"] == check["dark_range"]
        assert len(check["dark_range"]) >= 6
        # the custom metric: the light variants clip their highlights most
        assert "_light" in check["custom_argmax"] and check["custom_max"] > 0

    if path.name == "04_active_learning.ipynb":
        total_s = float(_stdout(nb, r"notebook ran in ([0-9.]+)s").group(1))
        assert total_s > 0  # reported; a wall-clock bound would fail on a busy machine
        check = json.loads(_stdout(nb, r"CHECK (.*)").group(1))
        strategies = ["hybrid", "margin", "random"]
        acc = check["accuracy"]
        assert list(acc) == strategies and all(len(a) == 5 for a in acc.values())
        # the pool has no label in the Dataset: every run is evaluated on the 600 test images
        assert set(check["n_eval"].values()) == {600}
        for s in strategies:
            runs = ["round_0", *(f"{s}_round_{r}" for r in range(1, 5))]
            assert [check["test_acc"][n] for n in runs] == pytest.approx(acc[s], abs=1e-12)
        # one shared round 0; each round labels exactly the budget, from the strategy's own
        # unlabelled pool: never an image labelled before, never a test image
        assert acc["hybrid"][0] == acc["margin"][0] == acc["random"][0]
        assert check["picks_per_round"] == {s: [check["budget"]] * 4 for s in strategies}
        zero = {s: 0 for s in strategies}
        assert check["picked_again"] == zero, check["picked_again"]
        assert check["picked_from_test"] == zero and check["duplicate_labels"] == zero
        assert check["n_labelled"] == {s: 200 for s in strategies}
        assert check["results_labels"] == [40, 80, 120, 160, 200]
        assert check["labels_match"]
        # the previewed batch is the hybrid's round 1 (selection is deterministic), in pick order
        assert check["preview_is_round_1"] and check["preview_in_pick_order"]
        # the text: the seed set has no 2 (recall 0); the picks are where round 0 errs most
        assert check["seed_has_2"] == 0 and check["round_0_recall_2"] == 0
        assert check["first_batch_2s"] > 0
        assert check["wrong_picks_vs_rest"][0] > check["wrong_picks_vs_rest"][1] + 0.1
        # the text: more labels help every strategy; hybrid beats random at the same budget on
        # average over the rounds and at the final round, and reaches random's final accuracy
        # with fewer labels; margin stays close to hybrid
        assert all(a[-1] > a[0] + 0.2 for a in acc.values())
        h_r = [h - r for h, r in zip(acc["hybrid"][1:], acc["random"][1:], strict=True)]
        h_m = [h - m for h, m in zip(acc["hybrid"][1:], acc["margin"][1:], strict=True)]
        assert sum(h_r) / 4 > 0.02 and h_r[-1] > 0, acc
        assert abs(sum(h_m) / 4) < 0.03 and min(h_m) < 0 < max(h_m), acc
        assert acc["hybrid"][-1] > 0.93
        assert check["needed"] < 200
        # the comparisons cover exactly the test images; new labels fix more than they break
        for key in ("since_seed", "final"):
            assert sum(check[key].values()) == 600
            assert check[key]["fixed"] > check[key]["broken"], check[key]
        assert check["final_runs"] == ["random_round_4", "hybrid_round_4"]
        assert 0 < check["n_fixed_shown"] <= 16
        # embeddings of every run (64-d hidden layer), projected, drawn in the scatter
        assert len(check["embeddings"]) == 13 and check["emb_dim"] == 64
        assert check["projected"] and check["scatter_points"] == 1797
        assert check["scatter_categories"] == [
            "seed set",
            "round 1",
            "round 2",
            "round 3",
            "round 4",
            "not picked",
            "test",
        ]

    if path.name == "06_segmentation.ipynb":
        total_s = float(_stdout(nb, r"notebook ran in ([0-9.]+)s").group(1))
        assert total_s > 0  # reported; a wall-clock bound would fail on a busy machine
        check = json.loads(_stdout(nb, r"CHECK (.*)").group(1))
        # semantic: the pixel confusion is numpy's count of the same pixels; the model is good
        assert check["confusion"] == check["direct"]
        assert check["miou"] > 0.8
        # a clicked pixel-confusion cell selects its images, most pixels first
        assert check["selected"] == check["in_cell"] and check["selected"]
        # instance: mask AP equal to pycocotools' COCOeval(iouType="segm")
        assert check["segm_stats"] == pytest.approx(check["oracle_stats"], abs=1e-12)
        assert check["segm_stats"][0] > 0.6
        # the three planted annotation errors are among the top ten mask label issues
        assert all(check["found"].values()), check["found"]
        assert check["n_issues"] < 20
        assert {"mask_area", "mask_fill", "mask_parts"} <= set(check["mask_metrics"])
        assert check["grid_masks"] and check["sem_grid_masks"]
        assert check["ml_map"] > 0.9

    if path.name == "05_custom_metrics.ipynb":
        total_s = float(_stdout(nb, r"notebook ran in ([0-9.]+)s").group(1))
        assert total_s > 0  # reported; a wall-clock bound would fail on a busy machine
        check = json.loads(_stdout(nb, r"CHECK (.*)").group(1))
        assert check["n_samples"] == 1797 and check["n_field"] == 720
        # the custom image metric: a value for every image; the second call is all cache
        assert check["tilt_nan"] == 0
        assert 0 <= check["tilt_range"][0] < check["tilt_range"][1] <= 90
        assert check["first_call"]["images"] == 1797
        assert check["second_call"] == {"images": 1797, "from_cache": 1797, "computed": 0}
        # the field batch loses accuracy against the clean validation split
        assert check["accuracy"] < check["val_accuracy"] - 0.1, check
        # faded ink: visible in contrast (below every training scan), invisible in accuracy
        assert check["contrast_q10_field"] < check["contrast_min_train"]
        assert check["faded_share_low_contrast"] > 0.8
        assert max(check["contrast_low"]) <= min(check["contrast_high"])  # all intervals overlap
        # tilt: the most tilted bin is the worst, far below the overall and the upright bins
        acc, low, high = check["tilt_acc"], check["tilt_low"], check["tilt_high"]
        assert check["worst_bin"] == len(acc) - 1 == 4
        assert check["worst_acc"] == min(acc) < check["accuracy"] - 0.2
        assert high[-1] < min(low[:3]), (low, high)
        # metric_importance ranks tilt first, well ahead of the best built-in;
        # every top slice has tilt in it
        assert check["tilt_rank"] == 1 and check["importance"][0] == "tilt"
        assert check["mi"][0] > 1.5 * check["mi"][1], check["mi"]
        assert len(check["slices"]) == 5, check["slices"]
        assert all("tilt" in sl for sl in check["slices"]), check["slices"]
        assert min(check["lift"]) > 1.5
        # the prediction metric: calibrated on upright digits, overconfident on tilted ones
        over = check["overconfidence"]
        assert check["gap_identity"] < 1e-9
        assert abs(over[0]) < 0.1 and over[-1] > 0.25 and over[-1] == max(over), over
        # the histogram's selection from code is the worst bin, in the linked grid too
        assert check["selected"] == check["linked"] == check["grid"] == check["expected"]
        assert len(check["expected"]) == check["worst_count"]
        assert check["selected_acc"] == pytest.approx(check["worst_acc"])
        # what the metric found is what was planted
        assert check["planted_share"][0] > 0.8 > 0.5 > check["planted_share"][1]
        assert check["auc"] > 0.85
        # rotation augmentation recovers most of the top bin's loss; it stays the weakest bin
        rot = check["rot_acc"]
        assert check["rot_counts"] == [144] * 5
        assert check["rot_accuracy"] > check["accuracy"] + 0.1
        assert rot[-1] - acc[-1] > 0.5 * (rot[0] - acc[-1]) and rot[-1] == min(rot), (acc, rot)


@pytest.mark.slow
def test_headless_demo_names_the_failing_notebook_and_cell(tmp_path: Path):
    def write(name: str, sources: list[str]) -> None:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nb.cells = [nbformat.v4.new_markdown_cell("# title")]
        nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
        nbformat.write(nb, tmp_path / name)

    write("a_good.ipynb", ["x = 1", "print(x + 1)"])
    write("b_bad.ipynb", ["x = 1", "raise ValueError('broken on purpose')", "y = 2"])
    before = (tmp_path / "b_bad.ipynb").read_text()
    proc = subprocess.run(
        [sys.executable, str(DEMO), "--headless", "--notebooks", str(tmp_path), "--timeout", "60"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert re.search(r"^ok\s+a_good\.ipynb\s+[0-9.]+s$", out, re.M), out
    assert re.search(r"^FAIL\s+b_bad\.ipynb", out, re.M), out
    assert "b_bad.ipynb: cell 3 failed (`raise ValueError('broken on purpose')`)" in out, out
    assert "ValueError: broken on purpose" in out, out
    assert "1 of 2 notebook(s) failed" in out, out
    # the committed notebook was executed from a copy, never rewritten
    assert (tmp_path / "b_bad.ipynb").read_text() == before
