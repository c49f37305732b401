"""from_coco: COCO instances JSON, image files, and result files as detection runs."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from pycocotools.coco import COCO

from nbdiag.dataset import Dataset
from nbdiag.images import ImageLoadError
from nbdiag.io import coco_results_to_frame, from_coco


@pytest.fixture
def coco(make_image, tmp_path):
    """A small COCO set on disk: 3 images in images/, annotations in annotations/gt.json."""
    make_image(tmp_path / "images" / "a.jpg", (64, 48))
    make_image(tmp_path / "images" / "b.png", (32, 32))
    make_image(tmp_path / "images" / "c.png", (40, 20))
    data = {
        "info": {"description": "test"},
        "images": [
            {"id": 10, "file_name": "a.jpg", "width": 64, "height": 48, "license": 1},
            {"id": 11, "file_name": "b.png", "width": 32, "height": 32, "license": 2},
            {"id": 12, "file_name": "c.png", "width": 40, "height": 20, "license": 1},
        ],
        "categories": [  # deliberately not in id order
            {"id": 3, "name": "car", "supercategory": "vehicle"},
            {"id": 1, "name": "person", "supercategory": "person"},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 10,
                "category_id": 1,
                "bbox": [1, 2, 10, 20],
                "area": 150.5,
                "iscrowd": 0,
            },
            {
                "id": 2,
                "image_id": 10,
                "category_id": 3,
                "bbox": [30, 10, 30, 30],
                "area": 900.0,
                "iscrowd": 1,
            },
            {
                "id": 5,
                "image_id": 11,
                "category_id": 3,
                "bbox": [0, 0, 32, 32],
                "area": 1000.0,
                "iscrowd": 0,
            },
        ],
    }
    (tmp_path / "annotations").mkdir()
    path = tmp_path / "annotations" / "gt.json"
    path.write_text(json.dumps(data))
    return {"data": data, "path": path, "images": tmp_path / "images", "root": tmp_path}


@pytest.fixture
def results():
    return [
        {"image_id": 10, "category_id": 1, "bbox": [1, 2, 11, 19], "score": 0.9},
        {"image_id": 10, "category_id": 3, "bbox": [30, 10, 28, 30], "score": 0.4},
        {"image_id": 12, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.1},
    ]


def test_from_coco_file(coco):
    ds = Dataset.from_coco(coco["path"], images=coco["images"])
    assert ds.name == "gt"
    assert ds.class_names == ["person", "car"]  # category-id order
    assert ds.coco_categories == {1: "person", 3: "car"}
    assert list(ds.samples.index) == [10, 11, 12]
    assert ds.samples.loc[11, "path"] == str(coco["images"] / "b.png")
    assert ds.samples.loc[11, "file_name"] == "b.png"
    assert ds.samples["width"].tolist() == [64.0, 32.0, 40.0]
    assert ds.samples["license"].tolist() == [1, 2, 1]
    assert (ds.samples["issues"] == "").all()
    obj = ds.objects
    assert list(obj.index) == [1, 2, 5]
    assert obj["sample_id"].tolist() == [10, 10, 11]
    assert obj["label"].tolist() == ["person", "car", "car"]
    assert obj.loc[2, ["x", "y", "w", "h"]].tolist() == [30.0, 10.0, 30.0, 30.0]
    assert obj["iscrowd"].tolist() == [False, True, False]
    assert obj["area"].tolist() == [150.5, 900.0, 1000.0]  # the JSON's area, not w * h
    assert ds.task == "detection" and ds.runs == {}
    assert ds.image(12).size == (40, 20)


def test_from_coco_agrees_with_pycocotools(coco):
    ds = from_coco(coco["path"], images=coco["images"])
    ref = COCO(str(coco["path"]))
    assert sorted(ref.getImgIds()) == sorted(ds.samples.index)
    for ann in ref.loadAnns(ref.getAnnIds()):
        row = ds.objects.loc[ann["id"]]
        assert row["area"] == ann["area"]
        assert [row["x"], row["y"], row["w"], row["h"]] == ann["bbox"]
        assert row["label"] == ref.loadCats(ann["category_id"])[0]["name"]


def test_from_coco_dict_defaults_to_working_directory(coco, monkeypatch):
    monkeypatch.chdir(coco["images"])
    ds = from_coco(coco["data"])
    assert ds.name == "coco"
    assert (ds.samples["issues"] == "").all()
    assert ds.samples.loc[10, "path"] == str(coco["images"] / "a.jpg")


def test_images_folder_defaults_to_the_json_folder(coco):
    path = coco["images"] / "gt.json"
    path.write_text(json.dumps(coco["data"]))
    ds = from_coco(path)
    assert (ds.samples["issues"] == "").all()


def test_predictions_file_list_and_dict(coco, results, tmp_path):
    res_path = tmp_path / "yolo_results.json"
    res_path.write_text(json.dumps(results))
    ds = from_coco(coco["path"], coco["images"], predictions=res_path)
    assert list(ds.runs) == ["yolo_results"]
    boxes = ds.run_boxes("yolo_results")
    assert boxes["label"].tolist() == ["person", "car", "person"]
    assert boxes["score"].tolist() == [0.9, 0.4, 0.1]
    assert boxes["area"].tolist() == [11 * 19, 28 * 30, 25]
    assert boxes["sample_id"].tolist() == [10, 10, 12]

    ds = from_coco(coco["path"], coco["images"], predictions=results)
    assert list(ds.runs) == ["predictions"] and len(ds.runs["predictions"]) == 3

    ds = from_coco(coco["path"], coco["images"], predictions={"v1": res_path, "v2": results[:1]})
    assert {n: len(r) for n, r in ds.runs.items()} == {"v1": 3, "v2": 1}
    assert len(ds.gt_objects) == 3 and len(ds.objects) == 7


def test_add_run_with_coco_results(coco, results):
    ds = from_coco(coco["path"], coco["images"])
    run = ds.add_run("later", results)
    assert run.kind == "detection" and len(ds.run_boxes("later")) == 3
    frame = coco_results_to_frame(results, ds)
    assert list(frame.columns) == ["sample_id", "label", "x", "y", "w", "h", "score", "area"]


def test_missing_and_corrupt_files_are_recorded(coco, recwarn):
    (coco["images"] / "b.png").unlink()
    (coco["images"] / "c.png").write_bytes(b"garbage")
    ds = from_coco(coco["path"], coco["images"])
    assert not [w for w in recwarn if "COCO images" in str(w.message)]  # only when all are gone
    assert ds.samples["issues"].to_dict() == {10: "", 11: "missing_file", 12: "corrupt_image"}
    assert ds.samples.loc[11, "width"] == 32.0  # sizes still come from the JSON
    with pytest.raises(ImageLoadError, match="b.png"):
        ds.image(11)


def test_all_files_missing_warns(coco, tmp_path):
    with pytest.warns(UserWarning, match="none of the 3 COCO images were found"):
        ds = from_coco(coco["path"], images=tmp_path / "elsewhere")
    assert (ds.samples["issues"] == "missing_file").all()


def test_check_images_modes(coco):
    raw = coco["images"] / "a.jpg"
    data = raw.read_bytes()
    raw.write_bytes(data[: len(data) // 2])
    assert from_coco(coco["path"], coco["images"]).samples.loc[10, "issues"] == ""
    decoded = from_coco(coco["path"], coco["images"], check_images="decode")
    assert decoded.samples.loc[10, "issues"] == "truncated_image"
    (coco["images"] / "b.png").unlink()
    exists = from_coco(coco["path"], coco["images"], check_images="exists").samples["issues"]
    assert exists.tolist() == ["", "missing_file", ""]
    off = from_coco(coco["path"], coco["images"], check_images=False).samples["issues"]
    assert (off == "").all()


def test_size_mismatch_and_missing_sizes(coco):
    data = copy.deepcopy(coco["data"])
    data["images"][0]["width"] = 100  # the file is 64 wide
    del data["images"][2]["width"], data["images"][2]["height"]
    ds = from_coco(data, coco["images"])
    assert ds.samples.loc[10, "issues"] == "size_mismatch"
    assert ds.samples.loc[10, "width"] == 100.0
    assert ds.samples.loc[12, ["width", "height"]].tolist() == [40.0, 20.0]  # from the file


def test_annotations_without_ids_get_numbered(coco):
    data = copy.deepcopy(coco["data"])
    for ann in data["annotations"]:
        del ann["id"]
    assert list(from_coco(data, coco["images"]).objects.index) == [1, 2, 3]
    data["annotations"][1]["id"] = 7
    with pytest.raises(ValueError, match="annotation at position 0 has no 'id'"):
        from_coco(data, coco["images"])


def test_no_annotations(coco):
    data = copy.deepcopy(coco["data"])
    del data["annotations"]
    ds = from_coco(data, coco["images"])
    assert len(ds.objects) == 0 and ds.class_names == ["person", "car"]


# ---------------------------------------------------------------- validation errors
def _broken(coco, change):
    data = copy.deepcopy(coco["data"])
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["annotations"][1].update(category_id=99),
            r"unknown category ids: COCO annotation 2 -> category id 99",
        ),
        (
            lambda d: d["annotations"][2].update(image_id=404),
            r"unknown image ids: COCO annotation 5 -> image id 404",
        ),
        (lambda d: d["images"].append(dict(d["images"][0])), r"duplicate COCO image ids: 10"),
        (
            lambda d: d["annotations"].append(dict(d["annotations"][0])),
            r"duplicate COCO annotation ids: 1",
        ),
        (
            lambda d: d["categories"].append({"id": 3, "name": "truck"}),
            r"duplicate COCO category ids: 3",
        ),
        (
            lambda d: d["categories"].append({"id": 4, "name": "car"}),
            r"COCO categories with the same name: \['car'\]",
        ),
        (
            lambda d: d["annotations"][2].update(bbox=[10, 0, 32, 32]),
            r"annotations outside their image: 5; e.g. annotation 5 of sample 11 spans x 10..42",
        ),
        (
            lambda d: d["annotations"][0].update(bbox=[1, 2, -10, 20]),
            r"negative width or height for COCO annotations 1",
        ),
        (
            lambda d: d["annotations"][1].update(bbox=[1, 2, 3]),
            r"COCO annotation 2 has a malformed bbox \[1, 2, 3\]",
        ),
        (lambda d: d["annotations"][1].pop("bbox"), r"COCO annotation 2 has no \['bbox'\]"),
        (
            lambda d: d["images"][1].pop("id"),
            r"COCO image 1 needs an 'id'",
        ),
        (lambda d: d.pop("categories"), r"COCO annotations need an 'categories' list"),
    ],
)
def test_gt_validation_errors(coco, change, message):
    with pytest.raises(ValueError, match=message):
        from_coco(_broken(coco, change), coco["images"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r[1].update(score=math.nan),
            r"non-numeric score: 1 \(e.g. result 1 for image_id 10 has score nan\)",
        ),
        (lambda r: r[2].update(score=None), r"score: 2 \(e.g. result 2 for image_id 12"),
        (
            lambda r: r[0].update(image_id=77),
            r"unknown image ids: COCO result 0 -> image id 77",
        ),
        (
            lambda r: r[2].update(category_id=2),
            r"unknown category ids: COCO result 2 -> category id 2",
        ),
        (
            lambda r: r[1].update(bbox=[0, 0, 5, -1]),
            r"negative width or height for COCO results 1",
        ),
        (lambda r: r[0].pop("score"), r"COCO result 0 has no \['score'\]"),
        (
            lambda r: r[0].update(bbox=[60, 0, 50, 5]),
            r"run 'v1': predicted boxes outside their image: 1000000;",
        ),
    ],
)
def test_result_validation_errors(coco, results, change, message):
    change(results)
    with pytest.raises(ValueError, match=message):
        from_coco(coco["path"], coco["images"], predictions={"v1": results})


def test_result_file_errors_name_the_file(coco, results, tmp_path):
    results[0]["image_id"] = 77
    path = tmp_path / "bad_results.json"
    path.write_text(json.dumps(results))
    with pytest.raises(ValueError, match=r"image id 77 \(in '.*bad_results.json'\)"):
        from_coco(coco["path"], coco["images"], predictions=path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="bad_results.json' is not valid JSON"):
        from_coco(coco["path"], coco["images"], predictions=path)
    with pytest.raises(FileNotFoundError, match="nothing.json"):
        from_coco(coco["path"], coco["images"], predictions=tmp_path / "nothing.json")


def test_predictions_argument_errors(coco, results):
    with pytest.raises(ValueError, match="look like one COCO result"):
        from_coco(coco["path"], coco["images"], predictions=results[0])
    with pytest.raises(
        ValueError, match=r"predictions\['v1'\] must be a COCO results path or list"
    ):
        from_coco(coco["path"], coco["images"], predictions={"v1": 3})
    with pytest.raises(TypeError, match="predictions must be"):
        from_coco(coco["path"], coco["images"], predictions=3)


def test_coco_results_need_a_coco_dataset(results):
    import pandas as pd

    ds = Dataset(pd.DataFrame(index=[10, 12]), class_names=["person", "car"])
    with pytest.raises(ValueError, match="not loaded from COCO.*ds.coco_categories"):
        ds.add_run("r", results)
    ds.coco_categories = {1: "person", 3: "car"}
    assert len(ds.add_run("r", results[:1] + results[2:])) == 2
    assert np.isnan(ds.samples["width"]).all()


def test_add_run_from_a_results_file(coco, results, tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results))
    ds = from_coco(coco["path"], coco["images"])
    assert len(ds.add_run("file", path)) == 3
    assert len(ds.add_run("file", str(path), replace=True)) == 3


def test_images_without_file_names(coco, recwarn):
    data = copy.deepcopy(coco["data"])
    for im in data["images"]:
        del im["file_name"]
    ds = from_coco(data, coco["images"])
    assert ds.samples["path"].isna().all() and (ds.samples["issues"] == "").all()
    assert not [w for w in recwarn if "COCO images" in str(w.message)]
    assert len(ds.gt_objects) == 3
