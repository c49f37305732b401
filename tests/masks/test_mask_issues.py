"""Mask label issues (``find_label_issues(run, iou_type="segm")``) on planted errors.

Two generators of instance-segmentation data with a good but imperfect model: ``_world_a``
(discs and rectangles, annotated boxes kept when a mask is corrupted; the thresholds were chosen
looking at it) and ``_world_b`` (rotated ellipses and random polygons through pycocotools, boxes
recomputed from the corrupted masks as COCO does, a noisier model with confident background
false positives, and a planted kind ``_world_a`` lacks: masks shifted off their object; written
after the method and not tuned on). Errors planted: masks shrunk, dilated, shifted, objects
dropped, classes swapped. Precision and recall of the flags against the planted set are
computed, printed (``pytest -s``) and bounded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

import nbdiag
from nbdiag.core import masks as M

pytest.importorskip("pycocotools")

CLASSES = ["cat", "dog", "bird"]


def _tight_box(m: np.ndarray) -> tuple[float, float, float, float]:
    ys, xs = np.nonzero(m)
    return (
        float(xs.min()),
        float(ys.min()),
        float(xs.max() - xs.min() + 1),
        float(ys.max() - ys.min() + 1),
    )


def _grow(m: np.ndarray, k: int) -> np.ndarray:
    """Dilate (k > 0) or erode (k < 0) by |k| pixels."""
    if k > 0:
        return ndimage.binary_dilation(m, iterations=k)
    if k < 0:
        return ndimage.binary_erosion(m, iterations=-k)
    return m


def _build(samples, gt_rows, pred_rows, planted):
    ds = nbdiag.Dataset(
        pd.DataFrame(samples), pd.DataFrame(gt_rows).set_index("id"), class_names=CLASSES
    )
    ds.add_run("model", pd.DataFrame(pred_rows))
    return ds, planted


def _world_a(seed: int = 0, n_images: int = 60):
    """Discs and rectangles in separate cells; the model's masks are the true ones grown or
    eroded by up to 1 px; a quarter of the objects get a planted error."""
    rng = np.random.default_rng(seed)
    H, W = 96, 128
    yy, xx = np.mgrid[:H, :W]
    samples, gt, preds, planted = [], [], [], set()
    kinds = ["shrink", "dilate", "drop", "swap"]
    for i in range(n_images):
        sid = f"a{i}"
        samples.append({"id": sid, "width": W, "height": H})
        cells = rng.permutation(6)[: rng.integers(1, 4)]
        for c in cells:
            cy, cx = 24 + 48 * (c // 3), 21 + 43 * (c % 3)
            r = int(rng.integers(8, 18))
            if rng.random() < 0.5:
                true = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
            else:
                true = (abs(yy - cy) <= r * 0.8) & (abs(xx - cx) <= r)
            label = CLASSES[rng.integers(3)]
            oid = f"{sid}-{c}"
            pid = f"p-{oid}"
            pm = _grow(true, int(rng.integers(-1, 2)))
            if rng.random() > 0.04:  # the model misses a few objects
                preds.append(
                    dict(
                        object_id=pid,
                        sample_id=sid,
                        label=label,
                        score=float(rng.uniform(0.6, 0.99)),
                        mask=pm,
                        **dict(zip("xywh", _tight_box(pm), strict=True)),
                    )
                )
            kind = kinds[rng.integers(4)] if rng.random() < 0.25 else None
            if kind and not any(p["object_id"] == pid for p in preds):
                kind = None  # an error the model cannot see is not planted
            gm, glabel = true, label
            if kind == "shrink":
                gm = _grow(true, -(r // 2 + 1))
            elif kind == "dilate":
                gm = _grow(true, r // 2 + 2)
            elif kind == "swap":
                glabel = CLASSES[(CLASSES.index(label) + 1 + rng.integers(2)) % 3]
            if kind == "drop":
                planted.add(("missing_mask", pid))
                continue
            if kind:
                planted.add(("wrong_class" if kind == "swap" else "poor_mask", oid))
            box = _tight_box(true)  # the annotated box stays the object's
            gt.append(
                dict(
                    id=oid,
                    sample_id=sid,
                    label=glabel,
                    mask=gm,
                    **dict(zip("xywh", box, strict=True)),
                )
            )
        # a low-score false positive now and then
        if rng.random() < 0.3:
            fp = (yy - rng.integers(10, 86)) ** 2 + (xx - rng.integers(10, 118)) ** 2 <= 36
            preds.append(
                dict(
                    object_id=f"fp-{sid}",
                    sample_id=sid,
                    label=CLASSES[0],
                    score=float(rng.uniform(0.05, 0.4)),
                    mask=fp,
                    **dict(zip("xywh", _tight_box(fp), strict=True)),
                )
            )
    return _build(samples, gt, preds, planted)


def _world_b(seed: int = 1, n_images: int = 80):
    """Rotated ellipses and random star polygons, boxes recomputed from the corrupted masks,
    a noisier model (boundary jitter up to 2 px, shifts up to 2 px, lower scores, 8 % missed,
    confident false positives), and masks shifted off their object among the planted errors."""
    rng = np.random.default_rng(seed)
    H, W = 120, 160
    yy, xx = np.mgrid[:H, :W]
    samples, gt, preds, planted = [], [], [], set()
    kinds = ["shrink", "dilate", "drop", "swap", "shift"]
    for i in range(n_images):
        sid = f"b{i}"
        samples.append({"id": sid, "width": W, "height": H})
        cells = rng.permutation(12)[: rng.integers(1, 6)]
        for c in cells:
            cy, cx = 20 + 40 * (c // 4), 20 + 40 * (c % 4)
            a, b = rng.uniform(7, 17), rng.uniform(5, 15)
            if rng.random() < 0.5:
                t = rng.uniform(0, np.pi)
                u = (xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)
                v = -(xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)
                true = (u / a) ** 2 + (v / b) ** 2 <= 1
            else:
                ang = np.sort(rng.uniform(0, 2 * np.pi, 9))
                rad = rng.uniform(0.5, 1.0, 9) * a
                poly = np.c_[cx + rad * np.cos(ang), cy + rad * np.sin(ang)].ravel().tolist()
                true = M.decode(M.to_rle([poly], H, W), H, W)
            if true.sum() < 30:
                continue
            label = CLASSES[rng.integers(3)]
            oid, pid = f"{sid}-{c}", f"p-{sid}-{c}"
            pm = np.roll(_grow(true, int(rng.integers(-2, 3))), rng.integers(-2, 3, 2), (0, 1))
            seen = rng.random() > 0.08 and pm.any()
            if seen:
                preds.append(
                    dict(
                        object_id=pid,
                        sample_id=sid,
                        label=label,
                        score=float(rng.beta(5, 2)),
                        mask=pm,
                        **dict(zip("xywh", _tight_box(pm), strict=True)),
                    )
                )
            kind = kinds[rng.integers(5)] if rng.random() < 0.2 and seen else None
            if kind and preds[-1]["score"] < 0.5:
                kind = None  # the model is not confident about it: not a findable error
            gm, glabel = true, label
            size = int(min(a, b))
            if kind == "shrink":
                gm = _grow(true, -max(3, size // 2))
                if gm.sum() < 5:
                    gm, kind = true, None
            elif kind == "dilate":
                gm = _grow(true, size // 2 + 3)
            elif kind == "shift":
                gm = np.roll(true, (int(0.8 * b), int(0.8 * a)), (0, 1))
            elif kind == "swap":
                glabel = CLASSES[(CLASSES.index(label) + 1 + rng.integers(2)) % 3]
            if kind == "drop":
                planted.add(("missing_mask", pid))
                continue
            if kind:
                planted.add(("wrong_class" if kind == "swap" else "poor_mask", oid))
            gt.append(
                dict(
                    id=oid,
                    sample_id=sid,
                    label=glabel,
                    mask=gm,
                    **dict(zip("xywh", _tight_box(gm), strict=True)),
                )
            )
        for _ in range(rng.poisson(0.4)):  # false positives, some of them confident
            fp = (yy - rng.integers(8, 112)) ** 2 + (xx - rng.integers(8, 152)) ** 2 <= 49
            preds.append(
                dict(
                    object_id=f"fp-{sid}-{len(preds)}",
                    sample_id=sid,
                    label=CLASSES[rng.integers(3)],
                    score=float(rng.uniform(0.2, 0.8)),
                    mask=fp,
                    **dict(zip("xywh", _tight_box(fp), strict=True)),
                )
            )
    return _build(samples, gt, preds, planted)


def _scores(frame: pd.DataFrame, planted: set) -> dict[str, float]:
    flagged = set(zip(frame["issue"].astype(str), frame["object_id"], strict=True))
    hit = flagged & planted
    top = frame.head(len(planted))
    top_hit = set(zip(top["issue"].astype(str), top["object_id"], strict=True)) & planted
    return {
        "planted": len(planted),
        "flagged": len(flagged),
        "precision": len(hit) / max(len(flagged), 1),
        "recall": len(hit) / max(len(planted), 1),
        "precision_at_planted": len(top_hit) / max(len(planted), 1),
    }


# Floors: _world_a was used to pick the thresholds (measured: precision 1.0, recall 1.0).
# _world_b was not; its first run measured precision 0.47, recall 0.79, precision@planted 0.56
# (now 0.48 / 0.79 / 0.59: a prediction that is a poor mask's evidence is no longer also a
# missing mask). 15 of its 29 false flags are the confident false positives it plants in the
# model (from the masks alone indistinguishable from unannotated objects), 12 are small objects
# whose noisy predicted mask stays under mask IoU 0.5. Its floors sit just under those figures.
@pytest.mark.parametrize(
    ("world", "floor"),
    [
        (_world_a, {"precision": 0.9, "recall": 0.9, "at_planted": 0.9, "per_kind": 0.8}),
        (_world_b, {"precision": 0.4, "recall": 0.75, "at_planted": 0.5, "per_kind": 0.6}),
    ],
)
def test_planted_mask_errors_are_found_and_ranked_first(world, floor):
    ds, planted = world()
    frame = ds.find_label_issues("model", iou_type="segm")
    s = _scores(frame, planted)
    print(f"\n{world.__name__}: {s}")
    assert s["precision"] >= floor["precision"], s
    assert s["recall"] >= floor["recall"], s
    assert s["precision_at_planted"] >= floor["at_planted"], s
    # each planted kind is found
    for kind in ("missing_mask", "wrong_class", "poor_mask"):
        want = {p for p in planted if p[0] == kind}
        got = want & set(zip(frame["issue"].astype(str), frame["object_id"], strict=True))
        assert want and len(got) / len(want) >= floor["per_kind"], (kind, len(got), len(want))
    # the columns written on the tables
    flagged_gt = frame.loc[frame["object_id"].isin(ds.gt_objects.index), "object_id"]
    assert (ds.objects.loc[flagged_gt, "label_issue"] != "").all()
    counts = frame["sample_id"].value_counts().reindex(ds.samples.index, fill_value=0)
    assert (ds.samples["label_issue_count"] == counts).all()
    assert frame["confidence"].is_monotonic_decreasing


def test_mask_iou_in_flags_is_pycocotools_iou():
    ds, _ = _world_a(seed=4, n_images=20)
    frame = ds.find_label_issues("model", iou_type="segm", write=False)
    poor = frame[frame["issue"] == "poor_mask"]
    assert len(poor)
    import pycocotools.mask as cm

    for _, row in poor.iterrows():
        g, p = ds.objects.loc[row["object_id"]], ds.objects.loc[row["pred_id"]]
        h, w = ds.samples.loc[row["sample_id"], ["height", "width"]].astype(int)
        dt = {"size": [h, w], "counts": p["mask"].encode()}
        gt = {"size": [h, w], "counts": g["mask"].encode()}
        want = cm.iou([dt], [gt], [0])[0, 0]
        assert row["iou"] == pytest.approx(want)
        assert row["pred_id"] in ds.run_boxes("model").index


def test_a_far_too_small_mask_is_poor_not_missing():
    yy, xx = np.mgrid[:60, :80]
    big = (yy - 30) ** 2 + (xx - 40) ** 2 <= 15**2
    tiny = (yy - 30) ** 2 + (xx - 40) ** 2 <= 2**2
    samples = pd.DataFrame({"id": ["a"], "width": [80], "height": [60]})
    box = dict(x=25.0, y=15.0, w=31.0, h=31.0)
    ds = nbdiag.Dataset(samples, pd.DataFrame([dict(sample_id="a", label="cat", mask=tiny, **box)]))
    ds.add_run("m", pd.DataFrame([dict(sample_id="a", label="cat", score=0.8, mask=big, **box)]))
    frame = ds.find_label_issues("m", iou_type="segm")
    assert list(frame["issue"].astype(str)) == ["poor_mask"]
    row = frame.iloc[0]
    assert row["iou"] == pytest.approx(tiny.sum() / big.sum())
    assert row["box_iou"] == 1.0 and row["containment"] == 1.0
    assert row["confidence"] == pytest.approx(0.8 * (1.0 - row["iou"]))


def test_duplicate_masks_are_flagged():
    ds, _ = _world_a(seed=2, n_images=10)
    gt = ds.gt_objects
    first = gt.index[0]
    dup = gt.loc[[first]].copy()
    dup.index = ["dup"]
    objects = pd.concat(
        [ds.objects.drop(columns=[c for c in ds.objects if c == "label_issue"]), dup]
    )
    ds2 = nbdiag.Dataset(
        ds.samples[["width", "height"]],
        objects[objects["source"] == "gt"].drop(columns=["source", "score"]),
        class_names=CLASSES,
    )
    ds2.add_run(
        "model",
        ds.run_boxes("model").drop(columns=["source"]).rename_axis("object_id").reset_index(),
    )
    frame = ds2.find_label_issues("model", iou_type="segm")
    dups = frame[frame["issue"] == "duplicate_mask"]
    assert list(dups["object_id"]) == ["dup"] and dups["iou"].iat[0] == 1.0


def test_segm_without_masks_is_a_clear_error():
    samples = pd.DataFrame({"id": ["a"], "width": [50], "height": [40]})
    gt = pd.DataFrame(
        {"sample_id": ["a"], "label": ["cat"], "x": 1.0, "y": 1.0, "w": 9.0, "h": 9.0}
    )
    ds = nbdiag.Dataset(samples, gt)
    ds.add_run("model", gt.assign(score=0.9))
    with pytest.raises(ValueError, match=r"iou_type='segm'.*no masks.*object 0"):
        ds.find_label_issues("model", iou_type="segm")
    with pytest.raises(ValueError, match="iou_type must be 'bbox' or 'segm'"):
        ds.find_label_issues("model", iou_type="mask")
    # the box version still works on it
    assert ds.find_label_issues("model").empty


def test_segm_with_a_run_lacking_masks_names_the_objects():
    ds, _ = _world_a(seed=3, n_images=5)
    boxes = ds.run_boxes("model").drop(columns=["source", "mask"])
    ds.add_run("boxes_only", boxes.reset_index(drop=True))
    with pytest.raises(ValueError, match=r"run 'boxes_only' have no masks"):
        ds.find_label_issues("boxes_only", iou_type="segm")


def test_segm_on_a_classification_dataset_is_refused():
    ds = nbdiag.Dataset(pd.DataFrame({"id": ["a", "b"], "label": ["cat", "dog"]}))
    with pytest.raises(ValueError, match="iou_type='segm'.*task is 'classification'"):
        ds.find_label_issues(iou_type="segm")
