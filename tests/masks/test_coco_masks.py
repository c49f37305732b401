"""COCO masks in and out: ``from_coco`` reads ``segmentation`` as pycocotools does, results with
masks become a run's ``mask`` column, bad masks are data issues, and the COCO export writes
masks that read back equal."""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from segm_cases import make_segm_case

import nbdiag
from nbdiag.io import _coco_masks

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools on numpy 2


def _oracle_counts(gt: dict) -> dict[int, str]:
    """pycocotools' ``annToRLE`` of every annotation, as counts strings."""
    coco = COCO()
    coco.dataset = copy.deepcopy(gt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coco.createIndex()
    out = {}
    for a in gt["annotations"]:
        rle = coco.annToRLE(coco.anns[a["id"]])
        c = rle["counts"]
        out[a["id"]] = c.decode() if isinstance(c, bytes) else c
    return out


@pytest.mark.parametrize("seed", range(4))
def test_from_coco_reads_every_segmentation_form_as_pycocotools(seed: int) -> None:
    gt, _ = make_segm_case(seed)
    forms = {type(a["segmentation"]).__name__ + str(a["iscrowd"]) for a in gt["annotations"]}
    assert {"list0", "dict0", "dict1"} <= forms  # polygons, compressed RLE, crowd RLE
    ds = nbdiag.Dataset.from_coco(gt, check_images=False)
    want = _oracle_counts(gt)
    got = ds.objects["mask"]
    assert {k: got[k] for k in want} == want
    # areas: as given
    areas = {a["id"]: a["area"] for a in gt["annotations"]}
    assert ds.objects["area"].to_dict() == areas


def test_missing_area_is_the_mask_area_and_masks_false_reads_none() -> None:
    gt, _ = make_segm_case(1)
    for a in gt["annotations"]:
        del a["area"]
    ds = nbdiag.Dataset.from_coco(gt, check_images=False)
    want = _oracle_counts(gt)
    sizes = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    for a in gt["annotations"]:
        h, w = sizes[a["image_id"]]
        area = mask_utils.area({"size": [h, w], "counts": want[a["id"]].encode()})
        assert ds.objects.at[a["id"], "area"] == float(area)
    plain = nbdiag.Dataset.from_coco(gt, check_images=False, masks=False)
    assert "mask" not in plain.objects.columns


def test_skipped_with_one_warning_without_pycocotools(monkeypatch: pytest.MonkeyPatch) -> None:
    gt, _ = make_segm_case(0)
    monkeypatch.setattr(_coco_masks, "optional", lambda name: None)  # as if not installed
    with pytest.warns(UserWarning, match=r"nbdiag\[masks\]") as record:
        ds = nbdiag.Dataset.from_coco(gt, check_images=False)
    assert len([w for w in record if "segmentation" in str(w.message)]) == 1
    assert "mask" not in ds.objects.columns


def test_bad_segmentation_is_a_data_issue_not_a_crash() -> None:
    gt, _ = make_segm_case(2)
    anns = gt["annotations"]
    anns[0]["segmentation"] = [[1.0, 2.0, 3.0, 4.0]]  # two points: degenerate
    im = next(i for i in gt["images"] if i["id"] != anns[0]["image_id"])
    other = next(a for a in anns if a["image_id"] == im["id"] and not a["iscrowd"])
    other["segmentation"] = {"size": [im["height"] + 1, im["width"]], "counts": "0"}
    with pytest.warns(UserWarning, match="cannot be read"):
        ds = nbdiag.Dataset.from_coco(gt, check_images=False)
    bad = [anns[0]["id"], other["id"]]
    assert ds.objects.loc[bad, "mask"].isna().all()
    assert len(ds.objects) == len(anns)  # the boxes are kept
    assert ds.objects.drop(index=bad)["mask"].notna().all()
    for oid, sid in ((anns[0]["id"], anns[0]["image_id"]), (other["id"], im["id"])):
        assert "invalid_mask" in ds.samples.at[sid, "issues"].split(",")
        assert f"COCO annotation {oid}" in ds.samples.at[sid, "annotation_problems"]
    clean = set(ds.samples.index) - {anns[0]["image_id"], im["id"]}
    assert (ds.samples.loc[list(clean), "issues"] == "").all()
    # a mask evaluation names the objects left without a mask
    ds.add_run("copy", ds.gt_objects.drop(columns=["mask"]).assign(score=0.5))
    with pytest.raises(ValueError, match=str(anns[0]["id"])):
        ds.evaluate("copy", iou_type="segm", progress=False)


def test_results_with_masks_become_the_run_mask_column() -> None:
    gt, dt = make_segm_case(3)
    ds = nbdiag.Dataset.from_coco(gt, check_images=False)
    ds.add_run("m", dt)
    boxes = ds.run_boxes("m")
    assert boxes["mask"].tolist() == [d["segmentation"]["counts"] for d in dt]
    rles = [
        {"size": d["segmentation"]["size"], "counts": d["segmentation"]["counts"].encode()}
        for d in dt
    ]
    np.testing.assert_array_equal(boxes[["x", "y", "w", "h"]].to_numpy(), mask_utils.toBbox(rles))
    areas = np.concatenate([mask_utils.area(rles[i : i + 200]) for i in range(0, len(rles), 200)])
    np.testing.assert_array_equal(boxes["area"].to_numpy(), areas)
    # a result with its own bbox keeps it
    dt2 = copy.deepcopy(dt)
    dt2[0]["bbox"] = [1.0, 2.0, 3.0, 4.0]
    ds.add_run("b", dt2)
    assert ds.run_boxes("b").iloc[0][["x", "y", "w", "h"]].tolist() == [1.0, 2.0, 3.0, 4.0]
    bad = copy.deepcopy(dt)
    bad[4]["segmentation"]["size"] = [1, 1]
    with pytest.raises(ValueError, match="COCO result 4"):
        ds.add_run("bad", bad)


def test_coco_export_writes_masks_that_read_back_equal(tmp_path) -> None:
    gt, dt = make_segm_case(5)
    ds = nbdiag.Dataset.from_coco(gt, check_images=False)
    ds.add_run("m", dt)
    path = ds.export(format="coco", path=tmp_path / "out.json", predictions="m")
    data = json.loads(path.read_text())
    gt_anns = [a for a in data["annotations"] if "score" not in a]
    assert all(a["segmentation"]["counts"] for a in gt_anns)
    back = nbdiag.Dataset.from_coco({**data, "annotations": gt_anns}, check_images=False)
    by_nbdiag = {a["id"]: a["nbdiag_id"] for a in gt_anns}
    for new_id, old_id in by_nbdiag.items():
        assert back.objects.at[new_id, "mask"] == ds.objects.at[old_id, "mask"]
        assert back.objects.at[new_id, "area"] == ds.objects.at[old_id, "area"]
    pred_anns = [a for a in data["annotations"] if "score" in a]
    assert [a["segmentation"]["counts"] for a in pred_anns] == ds.run_boxes("m")["mask"].tolist()
    # and pycocotools decodes what was written into the same masks
    coco = COCO()
    coco.dataset = {**data, "annotations": gt_anns}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coco.createIndex()
    for a in gt_anns[:20]:
        h, w = coco.imgs[a["image_id"]]["height"], coco.imgs[a["image_id"]]["width"]
        mine = nbdiag.core.masks.decode(ds.objects.at[a["nbdiag_id"], "mask"], h, w)
        assert np.array_equal(coco.annToMask(a).astype(bool), mine)
