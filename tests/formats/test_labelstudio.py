"""Label Studio JSON: exports read into pixel boxes (oracles written by hand), every bad input a
problem naming its task and result, and write -> read round trips with no edits."""

from __future__ import annotations

import json
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.io.formats.labelstudio import from_labelstudio, read_labelstudio, write_labelstudio


# ---------------------------------------------------------------------- helpers
def _rect(rid, label, x, y, w, h, *, size=(200, 100), score=None, rotation=0, **extra):
    res = {
        "id": rid,
        "type": "rectanglelabels",
        "from_name": "label",
        "to_name": "image",
        "original_width": size[0],
        "original_height": size[1],
        "image_rotation": 0,
        "value": {"x": x, "y": y, "width": w, "height": h, "rotation": rotation,
                  "rectanglelabels": [label]},
    }  # fmt: skip
    if score is not None:
        res["score"] = score
    res.update(extra)
    return res


def _write(tmp_path: Path, tasks, name="export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(tasks))
    return path


def _vals(series):
    """A column's values with NaN as None."""
    return [None if pd.isna(x) else x for x in series]


def _boxes(parsed):
    b = parsed.boxes()
    return b[["label", "x", "y", "w", "h"]].to_numpy(object).tolist()


# ---------------------------------------------------------------------- reading exports
def _annotated_task():
    """Task 7 (a 200x100 image) annotated three times: ``A`` by user 10 (oldest), ``B`` by a
    user object with an email (middle, the ground truth), ``C`` cancelled (newest)."""
    return {
        "id": 7,
        "data": {"image": "https://example.com/a.jpg", "site": "north"},
        "annotations": [
            {"id": 1, "completed_by": 10, "was_cancelled": False, "ground_truth": False,
             "created_at": "2024-01-01T10:00:00.000000Z",
             "updated_at": "2024-01-01T10:00:00.000000Z",
             "result": [_rect("a1", "car", 10, 20, 30, 40)]},
            {"id": 2, "completed_by": {"id": 3, "email": "ann@example.org"},
             "was_cancelled": False, "ground_truth": True,
             "created_at": "2024-01-02T10:00:00Z", "updated_at": "2024-01-03T10:00:00Z",
             "result": [_rect("b1", "person", 50, 0, 25, 50), _rect("b2", "car", 0, 50, 100, 50)]},
            {"id": 3, "completed_by": 11, "was_cancelled": True, "ground_truth": False,
             "created_at": "2024-01-04T10:00:00Z", "updated_at": "2024-01-04T10:00:00Z",
             "result": [_rect("c1", "car", 1, 1, 1, 1)]},
        ],
    }  # fmt: skip


def test_the_last_non_cancelled_annotation_is_read_in_pixels_with_its_annotator(tmp_path):
    parsed = read_labelstudio(_write(tmp_path, [_annotated_task()]))
    # 200x100 image: x, w scale by 2, y, h by 1
    assert _boxes(parsed) == [["person", 100.0, 0.0, 50.0, 50.0], ["car", 0.0, 50.0, 200.0, 50.0]]
    img = parsed.images().iloc[0]
    assert img["id"] == 7 and img["what"] == "task 7"
    assert img["file_name"] == "https://example.com/a.jpg" and img["path"] is None
    assert (img["width"], img["height"]) == (200.0, 100.0)
    assert img["annotator"] == "ann@example.org" and img["site"] == "north"
    b = parsed.boxes()
    assert b["annotator"].tolist() == ["ann@example.org"] * 2
    assert b["score"].isna().all()
    assert b["ls_id"].tolist() == ["b1", "b2"] and b["hint"].tolist() == ["b1", "b2"]
    assert b["what"].tolist() == ["task 7 result 'b1'", "task 7 result 'b2'"]
    assert parsed.class_names == ["car", "person"] and parsed.problems == []


@pytest.mark.parametrize(
    ("mode", "expected", "who"),
    [
        ("first", [["car", 20.0, 20.0, 60.0, 40.0]], "user 10"),
        ("ground_truth", [["person", 100.0, 0.0, 50.0, 50.0], ["car", 0.0, 50.0, 200.0, 50.0]],
         "ann@example.org"),
    ],
)  # fmt: skip
def test_annotation_picks_first_or_ground_truth(tmp_path, mode, expected, who):
    parsed = read_labelstudio(_write(tmp_path, [_annotated_task()]), annotation=mode)
    assert _boxes(parsed) == expected
    assert parsed.images()["annotator"].tolist() == [who]


def test_without_timestamps_the_list_order_decides_and_cancelled_only_means_no_labels(tmp_path):
    tasks = [
        {"id": 1, "data": {"image": "a.png"}, "annotations": [
            {"result": [_rect("x", "car", 0, 0, 10, 10)]},
            {"result": [_rect("y", "car", 50, 50, 10, 10)]}]},
        {"id": 2, "data": {"image": "b.png"},
         "annotations": [{"was_cancelled": True, "result": [_rect("z", "car", 0, 0, 5, 5)]}]},
    ]  # fmt: skip
    parsed = read_labelstudio(_write(tmp_path, tasks))
    assert _boxes(parsed) == [["car", 100.0, 50.0, 20.0, 10.0]]
    assert parsed.boxes()["image"].tolist() == [0]
    with pytest.raises(ValueError, match="annotation must be one of"):
        read_labelstudio(tasks, annotation="latest")


def test_predictions_are_boxes_with_a_score_and_their_model_version(tmp_path):
    task = {
        "id": 3,
        "data": {"image": "img.png"},
        "predictions": [
            {"model_version": "v1", "score": 0.5,
             "result": [_rect("p1", "car", 0, 0, 50, 50, score=0.9), _rect("p2", "car", 50, 50, 10, 10)]},
            {"model_version": "v2", "result": [_rect("p3", "person", 0, 0, 10, 10)]},
        ],
    }  # fmt: skip
    parsed = read_labelstudio(_write(tmp_path, [task]))
    b = parsed.boxes()
    assert b["score"].tolist() == [0.9, 0.5, 1.0]  # result's, prediction's, none given
    assert b["model_version"].tolist() == ["v1", "v1", "v2"]
    assert b["annotator"].isna().all()
    assert b["what"].tolist()[0] == "task 3 prediction 0 result 'p1'"
    assert _boxes(parsed)[0] == ["car", 0.0, 0.0, 100.0, 50.0]


def test_choices_polygons_and_rotated_rectangles(tmp_path):
    tasks = [
        {"id": 1, "data": {"image": "cat.png"}, "annotations": [{"result": [
            {"id": "c", "type": "choices", "from_name": "label", "to_name": "image",
             "value": {"choices": ["cat"]}}]}],
         "predictions": [{"model_version": "m", "score": 0.75, "result": [
             {"id": "p", "type": "choices", "value": {"choices": ["dog"]}}]}]},
        {"id": 2, "data": {"image": "shapes.png"}, "annotations": [{"result": [
            {"id": "poly", "type": "polygonlabels", "original_width": 200, "original_height": 100,
             "value": {"points": [[10, 10], [50, 20], [30, 60]], "polygonlabels": ["cat"]}},
            # 20x10 px at (10, 10), turned 90 degrees clockwise about its top-left corner
            _rect("rot", "dog", 10, 10, 20, 10, size=(100, 100), rotation=90)]}]},
    ]  # fmt: skip
    parsed = read_labelstudio(_write(tmp_path, tasks))
    images = parsed.images()
    assert _vals(images["label"]) == ["cat", None]
    assert images.loc[0, "prediction"] == "dog" and images.loc[0, "confidence"] == 0.75
    b = parsed.boxes()
    assert np.allclose(b[["x", "y", "w", "h"]].to_numpy(float), [[20, 10, 80, 50], [0, 10, 10, 20]])
    assert b.loc[0, "segmentation"] == [[20.0, 10.0, 100.0, 20.0, 60.0, 60.0]]
    assert b.loc[1, "rotation"] == 90.0 and np.isnan(b.loc[0, "rotation"])
    assert parsed.class_names == ["cat", "dog"]


def test_local_file_and_upload_urls_resolve_under_image_root(tmp_path, make_image):
    make_image(tmp_path / "root" / "sub dir" / "a b.png", (40, 30))
    make_image(tmp_path / "media" / "upload" / "4" / "1a2b3c4d-c.png", (20, 10))
    tasks = [
        {"id": 1, "data": {"img": "/data/local-files/?d=sub%20dir/a%20b.png"}},
        {"id": 2, "data": {"image": "http://localhost:8080/data/upload/4/1a2b3c4d-c.png"}},
        {"id": 3, "data": {"image": "s3://bucket/x.jpg"}},
    ]
    parsed = read_labelstudio(_write(tmp_path, tasks), image_root=tmp_path / "root")
    paths = _vals(parsed.images()["path"])
    assert paths[0] == str(tmp_path / "root" / "sub dir" / "a b.png") and paths[2] is None
    assert parsed.images()["file_name"].tolist()[0] == "/data/local-files/?d=sub%20dir/a%20b.png"
    media = read_labelstudio(_write(tmp_path, tasks), image_root=tmp_path / "media")
    assert media.images()["path"].tolist()[1] == str(tmp_path / "media/upload/4/1a2b3c4d-c.png")
    assert _vals(read_labelstudio(tasks).images()["path"]) == [None, None, None]
    ds = from_labelstudio(_write(tmp_path, tasks[:1]), image_root=tmp_path / "root")
    assert ds.samples.loc[1, ["width", "height"]].tolist() == [40.0, 30.0]  # from the file
    assert ds.name == "export"


def test_a_task_without_sizes_reads_them_from_its_local_image(tmp_path, make_image):
    make_image(tmp_path / "imgs" / "a.png", (50, 20))
    res = _rect("r", "car", 10, 10, 20, 50)
    del res["original_width"], res["original_height"]
    task = {"id": 1, "data": {"image": "imgs/a.png"}, "annotations": [{"result": [res]}]}
    parsed = read_labelstudio(_write(tmp_path, [task]))
    assert _boxes(parsed) == [["car", 5.0, 2.0, 10.0, 10.0]] and parsed.problems == []


# ---------------------------------------------------------------------- problems
BAD = [  # (result or task edit, problem kind, text in the message)
    ({"type": "keypointlabels"}, "malformed_annotation", "unsupported result type 'keypointlabels'"),
    ({"value": {"x": 1, "y": 1, "height": 5, "rectanglelabels": ["car"]}}, "malformed_annotation",
     "value has no 'width'"),
    ({"value": {"x": "abc", "y": 1, "width": 5, "height": 5, "rectanglelabels": ["car"]}},
     "malformed_annotation", "value.x = 'abc' is not a number"),
    ({"value": {"x": 95, "y": 0, "width": 10, "height": 5, "rectanglelabels": ["car"]}},
     "invalid_box", "leaves the image"),
    ({"value": {"x": 0, "y": 0, "width": -3, "height": 5, "rectanglelabels": ["car"]}},
     "invalid_box", "negative size"),
    ({"value": {"x": 0, "y": 0, "width": 3, "height": 5, "rectanglelabels": ["car", "bus"]}},
     "malformed_annotation", "2 classes"),
    ({"value": {"x": 0, "y": 0, "width": 3, "height": 5}}, "malformed_annotation", "no class"),
    ({"image_rotation": 90}, "malformed_annotation", "image rotated by 90"),
    ({"value": None}, "malformed_annotation", "no 'value' object"),
    ({"value": {"points": [[1, 2], [3]], "polygonlabels": ["car"]}, "type": "polygonlabels"},
     "malformed_annotation", "is not [x, y] numbers"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "kind", "text"), BAD)
def test_each_bad_result_is_a_problem_naming_task_and_result(tmp_path, edit, kind, text):
    good = _rect("ok", "car", 0, 0, 10, 10)
    bad = {**_rect("bad1", "car", 0, 0, 10, 10), **edit}
    task = {"id": 12, "data": {"image": "remote.png"}, "annotations": [{"result": [good, bad]}]}
    parsed = read_labelstudio(_write(tmp_path, [task]))
    assert len(parsed.problems) == 1
    image, got_kind, message = parsed.problems[0]
    assert (image, got_kind) == (0, kind)
    assert message.startswith("export.json task 12 result 'bad1': ") and text in message
    assert _boxes(parsed) == [["car", 0.0, 0.0, 20.0, 10.0]]  # the good one stays


def test_a_result_without_sizes_and_no_local_image_is_a_problem(tmp_path):
    res = _rect("r", "car", 10, 10, 20, 50)
    del res["original_width"]
    task = {"id": 2, "data": {"image": "https://x/a.png"}, "annotations": [{"result": [res]}]}
    parsed = read_labelstudio(_write(tmp_path, [task]))
    assert parsed.problems == [(0, "malformed_annotation", "export.json task 2 result 'r': no "
                                "original_width/original_height, and no readable local image, "
                                "to turn percent into pixels")]  # fmt: skip
    assert len(parsed.boxes()) == 0


def test_task_level_problems_and_the_dataset_records_them(tmp_path):
    tasks = [
        {"id": 1, "data": {"note": "no image here"}},
        "not a task",
        {"id": 3, "data": {"image": "c.png"}, "annotations": "oops"},
        {"id": 4, "data": {"image": "d.png"}, "annotations": [{"result": [
            {"id": "a", "type": "choices", "value": {"choices": ["cat"]}},
            {"id": "b", "type": "choices", "value": {"choices": ["dog"]}}]}]},
        {"id": 5, "data": {"image": "e.png"}, "annotations": [{"result": [
            {"id": "a", "type": "choices", "value": {"choices": ["zebra"]}}]}]},
        {"id": 5, "data": {"image": "f.png"}},
    ]  # fmt: skip
    parsed = read_labelstudio(_write(tmp_path, tasks), class_names=["cat", "dog"])
    found = {(i, k): m for i, k, m in parsed.problems}
    assert found[(0, "malformed_annotation")] == "export.json task 1: no image reference in 'data'"
    assert found[(None, "malformed_annotation")] == (
        "export.json task at position 1: a str, not an object"
    )
    assert "task 3: 'annotations' is a str, not a list" in found[(1, "malformed_annotation")]
    assert "task 4: several choices ['cat', 'dog']" in found[(2, "malformed_annotation")]
    assert "task 5: class 'zebra' (choices)" in found[(3, "unknown_class")]
    images = parsed.images()
    assert images["id"].tolist() == [1, 3, 4, 5, "5#2"]
    assert images["label"].isna().all()
    with pytest.warns(UserWarning, match="annotation problem"):
        ds = from_labelstudio(
            _write(tmp_path, tasks), class_names=["cat", "dog"], check_images=False
        )
    assert ds.samples.loc[5, "issues"] == "unknown_class"
    assert "zebra" in ds.samples.loc[5, "annotation_problems"]
    assert ds.samples.loc[1, "issues"] == "malformed_annotation"


@pytest.mark.parametrize(
    ("content", "match"),
    [("{not json", "is not valid JSON"), ('{"images": [], "categories": []}', "list of tasks")],
)
def test_a_file_that_is_not_a_task_list_raises_naming_it(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as err:
        read_labelstudio(path)
    assert "bad.json" in str(err.value)


# ---------------------------------------------------------------------- writing, round trips
@pytest.fixture
def det_ds(tmp_path, make_image):
    files = [make_image(tmp_path / "imgs" / n, (64, 48), seed=i)
             for i, n in enumerate(["a 1.png", "sub/b+2.png", "c.png"])]  # fmt: skip
    samples = pd.DataFrame({"path": [str(f) for f in files]}, index=["a", "b", 7])
    objects = pd.DataFrame(
        {"sample_id": ["a", "a", "b"], "label": ["car", "person", "car"],
         "x": [0.5, 30.25, 5.0], "y": [0.0, 5.125, 5.5], "w": [20.3, 10.0, 20.0],
         "h": [10.7, 20.0, 20.0]},
        index=[11, 12, 13],
    )  # fmt: skip
    ds = nbdiag.Dataset.from_dataframe(samples, objects, name="street")
    ds.add_run("det", pd.DataFrame(
        {"sample_id": ["a", 7, 7], "label": ["car", "person", "car"], "x": [1.0, 10.0, 3.3],
         "y": [1.0, 10.0, 2.2], "w": [20.0, 12.0, 5.5], "h": [10.0, 12.0, 6.6],
         "score": [0.9, 0.8, 0.05]}))  # fmt: skip
    return ds


def _files(ds):
    return {i: p for i, p in ds.samples["path"].items()}


def test_detection_round_trip_gives_back_boxes_ids_and_prelabel_scores(det_ds, tmp_path):
    ids = list(det_ds.samples.index)
    out = write_labelstudio(det_ds, ids, _files(det_ds), det_ds._get_run("det"), 0.1, True,
                            tmp_path / "out" / "tasks.json")  # fmt: skip
    parsed = read_labelstudio(out, image_root=tmp_path / "imgs")
    images = parsed.images()
    assert images["nbdiag_id"].tolist() == ids
    assert images["path"].tolist() == det_ds.samples["path"].tolist()
    boxes = parsed.boxes()
    labels, preds = boxes[boxes["score"].isna()], boxes[boxes["score"].notna()]
    gt = det_ds.gt_objects
    assert labels["hint"].tolist() == list(gt.index)
    assert labels["ls_id"].tolist() == ["11", "12", "13"]
    assert np.abs(labels[["x", "y", "w", "h"]].to_numpy() - gt[["x", "y", "w", "h"]].to_numpy()
                  ).max() <= 0.01  # fmt: skip
    assert labels["label"].tolist() == gt["label"].astype(str).tolist()
    run = det_ds.run_boxes("det")
    kept = run[run["score"] >= 0.1]
    assert preds["hint"].tolist() == list(kept.index)
    assert preds["score"].tolist() == kept["score"].tolist()
    assert preds["model_version"].tolist() == ["det", "det"]
    assert np.abs(preds[["x", "y", "w", "h"]].to_numpy() - kept[["x", "y", "w", "h"]].to_numpy()
                  ).max() <= 0.01  # fmt: skip
    assert np.array_equal(np.asarray(images.loc[preds["image"], "nbdiag_id"], dtype=object),
                          np.asarray(kept["sample_id"], dtype=object))  # fmt: skip
    tasks = json.loads(out.read_text())
    assert tasks[2]["annotations"] == [{"result": [], "was_cancelled": False,
                                        "ground_truth": False}]  # fmt: skip
    assert tasks[0]["data"]["image"] == "/data/local-files/?d=a%201.png"
    assert tasks[1]["data"]["image"] == "/data/local-files/?d=sub/b%2B2.png"
    config = ET.parse(tmp_path / "out" / "tasks_config.xml").getroot()
    assert config.find("Image").attrib == {"name": "image", "value": "$image"}
    control = config.find("RectangleLabels")
    assert (control.get("name"), control.get("toName")) == ("label", "image")
    assert [lab.get("value") for lab in control] == ["car", "person"]
    assert all(r["from_name"] == "label" and r["to_name"] == "image"
               for t in tasks for a in t.get("annotations", []) for r in a["result"])  # fmt: skip


def test_prelabels_only_and_a_dataset_read_back(det_ds, tmp_path):
    out = write_labelstudio(det_ds, ["a", 7], _files(det_ds), det_ds._get_run("det"), 0.0,
                            False, tmp_path / "pre.json")  # fmt: skip
    tasks = json.loads(out.read_text())
    assert all("annotations" not in t for t in tasks)
    assert [len(t["predictions"][0]["result"]) for t in tasks] == [1, 2]
    assert tasks[1]["predictions"][0]["score"] == pytest.approx((0.8 + 0.05) / 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = from_labelstudio(out, image_root=tmp_path / "imgs")
    assert list(ds.samples.index) == ["a", 7] and len(ds.objects) == 0


def test_classification_round_trip(tmp_path, make_image):
    files = [make_image(tmp_path / f"{i}.png", (8, 8), seed=i) for i in range(4)]
    samples = pd.DataFrame({"path": [str(f) for f in files],
                            "label": ["cat", "dog", None, "cat"]})  # fmt: skip
    ds = nbdiag.Dataset.from_dataframe(samples, class_names=["cat", "dog"])
    ds.add_run("clf", np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.45, 0.55]]))
    ids = list(ds.samples.index)
    out = write_labelstudio(ds, ids, _files(ds), ds._get_run("clf"), 0.5, True, tmp_path / "c.json")
    parsed = read_labelstudio(out)
    images = parsed.images()
    assert images["nbdiag_id"].tolist() == ids
    assert _vals(images["label"]) == ["cat", "dog", None, "cat"]
    assert images["prediction"].tolist() == ["cat", "dog", "cat", "dog"]
    assert np.allclose(images["confidence"], [0.9, 0.7, 0.6, 0.55])
    assert len(parsed.boxes()) == 0 and parsed.problems == []
    choices = ET.parse(tmp_path / "c_config.xml").getroot().find("Choices")
    assert [c.get("value") for c in choices] == ["cat", "dog"] and choices.get("name") == "label"
    high = write_labelstudio(
        ds, ids, _files(ds), ds._get_run("clf"), 0.65, True, tmp_path / "h.json"
    )
    assert _vals(read_labelstudio(high).images()["prediction"]) == ["cat", "dog", None, None]


def test_writer_refuses_samples_without_a_file_or_a_size(det_ds, tmp_path):
    files = _files(det_ds)
    with pytest.raises(ValueError, match="samples without one: 'b'"):
        write_labelstudio(det_ds, ["a", "b"], {**files, "b": None}, None, 0, True,
                          tmp_path / "x.json")  # fmt: skip
    Path(files["a"]).unlink()
    det_ds.samples.loc["a", "width"] = np.nan
    with pytest.raises(ValueError, match="image size is unknown.*'a'"):
        write_labelstudio(det_ds, ["a"], files, None, 0, True, tmp_path / "x.json")
