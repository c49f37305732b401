"""Export for relabelling and re-import: export -> edit -> import changes exactly the edited
labels, keeps the old ones in history (in memory, or in the store across sessions), and
rejects bad files with errors naming the offending item."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import nbdiag
from nbdiag.io import export, import_labels
from nbdiag.store import open as open_store


# ---------------------------------------------------------------------- fixtures
@pytest.fixture
def cls_ds() -> nbdiag.Dataset:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 6, 6), dtype=np.uint8)
    labels = ["cat", "dog", "bird", "cat", "dog", "bird", "cat", "dog"]
    ds = nbdiag.Dataset.from_arrays(
        images, labels, probs=rng.dirichlet([1, 1, 1], 8), class_names=["bird", "cat", "dog"]
    )
    return ds


def _write(path: Path, size=(64, 48), seed=0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def det_ds(tmp_path) -> nbdiag.Dataset:
    files = [_write(tmp_path / "imgs" / f"img{i}.png", seed=i) for i in range(3)]
    samples = pd.DataFrame({"path": [str(f) for f in files]}, index=["a", "b", "c"])
    objects = pd.DataFrame(
        {
            "sample_id": ["a", "a", "b", "b"],
            "label": ["car", "person", "car", "car"],
            "x": [0.0, 30, 5, 40],
            "y": [0.0, 5, 5, 10],
            "w": [20.0, 10, 20, 15],
            "h": [10.0, 20, 20, 15],
        },
        index=[11, 12, 13, 14],
    )
    ds = nbdiag.Dataset.from_dataframe(samples, objects, name="street")
    ds.add_run(
        "det",
        pd.DataFrame(
            {
                "sample_id": ["a", "c"],
                "label": ["car", "person"],
                "x": [1.0, 10],
                "y": [1.0, 10],
                "w": [20.0, 12],
                "h": [10.0, 12],
                "score": [0.9, 0.8],
            }
        ),
    )
    return ds


# ---------------------------------------------------------------------- classification
def test_csv_round_trip_changes_exactly_the_edited_labels(cls_ds, tmp_path):
    cls_ds.tag([1, 2, 5], "label_error")
    path = cls_ds.export(cls_ds.tagged("label_error"), format="csv", path=tmp_path / "fix.csv",
                         predictions="model")  # fmt: skip
    table = pd.read_csv(path)
    assert table["id"].tolist() == [1, 2, 5]
    assert table["label"].tolist() == ["dog", "bird", "bird"]
    assert table["tags"].tolist() == ["label_error"] * 3
    assert {"prediction", "confidence", "path"} <= set(table.columns)
    assert all(Path(p).is_file() for p in table["path"])  # in-memory images written as PNG
    # an annotator corrects two of the three
    table.loc[table["id"] == 1, "label"] = "cat"
    table.loc[table["id"] == 5, "label"] = "dog"
    table.to_csv(path, index=False)
    before = cls_ds.samples["label"].copy()
    changes = cls_ds.import_labels(path)
    assert changes[["id", "change", "old_label", "new_label"]].values.tolist() == [
        [1, "relabelled", "dog", "cat"],
        [5, "relabelled", "bird", "dog"],
    ]
    assert changes.attrs == {"samples": 3, "unchanged": 1, "batch": 1}
    after = cls_ds.samples["label"]
    assert after[1] == "cat" and after[5] == "dog"
    assert (after.drop([1, 5]) == before.drop([1, 5])).all()
    assert isinstance(after.dtype, pd.CategoricalDtype)
    history = cls_ds.label_history
    assert history[["batch", "id", "old_label", "new_label"]].values.tolist() == [
        [1, 1, "dog", "cat"],
        [1, 5, "bird", "dog"],
    ]
    assert history["source"].iloc[0] == str(path.resolve())
    # importing the same file again changes nothing
    again = cls_ds.import_labels(path)
    assert len(again) == 0 and again.attrs["batch"] is None
    assert len(cls_ds.label_history) == 2


def test_parquet_round_trip_and_string_ids(tmp_path):
    ds = nbdiag.Dataset(
        pd.DataFrame({"label": ["a", "b", "a"]}, index=["001", "002", "010"]), class_names="ab"
    )
    path = ds.export(format="parquet", path=tmp_path / "x.parquet")
    table = pd.read_parquet(path)
    assert table["id"].tolist() == ["001", "002", "010"]
    table.loc[1, "label"] = "a"
    table.to_parquet(path, index=False)
    changes = import_labels(ds, path)
    assert changes["id"].tolist() == ["002"]
    assert ds.samples.loc["002", "label"] == "a"


def test_csv_ids_that_look_like_numbers_map_back_to_string_ids(tmp_path):
    ds = nbdiag.Dataset(pd.DataFrame({"label": ["a", "b"]}, index=["007", "8"]), class_names="ab")
    path = tmp_path / "fix.csv"
    path.write_text("id,label\n007,b\n8,a\n")
    changes = ds.import_labels(path)
    assert changes["id"].tolist() == ["007", "8"]


def test_dry_run_changes_nothing(cls_ds, tmp_path):
    path = tmp_path / "fix.csv"
    path.write_text("id,label\n0,dog\n")
    changes = cls_ds.import_labels(path, dry_run=True)
    assert changes["new_label"].tolist() == ["dog"]
    assert cls_ds.samples.loc[0, "label"] == "cat" and len(cls_ds.label_history) == 0


def test_empty_labels_need_allow_unlabelled(cls_ds, tmp_path):
    path = tmp_path / "fix.csv"
    path.write_text("id,label\n0,\n1,dog\n")
    with pytest.raises(ValueError, match=r"empty label .* samples 0; pass allow_unlabelled"):
        cls_ds.import_labels(path)
    changes = cls_ds.import_labels(path, allow_unlabelled=True)
    assert changes[["id", "change"]].values.tolist() == [[0, "unlabelled"]]
    assert pd.isna(cls_ds.samples.loc[0, "label"])
    path.write_text("id,label\n0,cat\n")
    assert cls_ds.import_labels(path)["change"].tolist() == ["labelled"]


def test_import_errors_name_the_offending_item(cls_ds, tmp_path):
    path = tmp_path / "fix.csv"
    path.write_text("id,label\n0,cat\n99,dog\n")
    with pytest.raises(ValueError, match=r"unknown sample ids .* row 3: '99'"):
        cls_ds.import_labels(path)
    path.write_text("id,label\n0,cat\n1,zebra\n")
    with pytest.raises(ValueError, match=r"unknown class 'zebra' in row 3 \(sample 1\)"):
        cls_ds.import_labels(path)
    path.write_text("id,label\n0,cat\n0,dog\n")
    with pytest.raises(ValueError, match="duplicate sample ids.*0"):
        cls_ds.import_labels(path)
    path.write_text("name,class\nx,y\n")
    with pytest.raises(ValueError, match="needs an 'id'.*'label' column"):
        cls_ds.import_labels(path)
    with pytest.raises(ValueError, match="cannot tell the format"):
        cls_ds.import_labels(tmp_path / "fix.txt")
    with pytest.raises(FileNotFoundError, match="no such file"):
        cls_ds.import_labels(tmp_path / "missing.csv")
    assert len(cls_ds.label_history) == 0  # nothing half-applied
    assert cls_ds.samples.loc[0, "label"] == "cat"


def test_export_errors(cls_ds, tmp_path):
    with pytest.raises(ValueError, match="COCO export needs boxes.*format='csv'"):
        cls_ds.export(format="coco", path=tmp_path / "x.json")
    with pytest.raises(ValueError, match="format must be one of"):
        cls_ds.export(format="xml", path=tmp_path / "x.xml")
    with pytest.raises(ValueError, match=r"samples without an image file: 0, 1"):
        cls_ds.export([0, 1], format="csv", path=tmp_path / "x.csv", images="reference")
    with pytest.raises(ValueError, match=r"unknown sample ids .*: 42"):
        cls_ds.export([0, 42], format="csv", path=tmp_path / "x.csv")
    with pytest.raises(KeyError, match="unknown run 'nope'"):
        cls_ds.export(format="csv", path=tmp_path / "x.csv", predictions="nope")


def test_import_in_a_store_keeps_history_across_sessions(cls_ds, tmp_path):
    cls_ds.save(tmp_path / "proj")
    path = tmp_path / "fix.csv"
    path.write_text("id,label\n2,cat\n")
    cls_ds.import_labels(path)
    again = open_store(tmp_path / "proj")
    assert again.samples.loc[2, "label"] == "cat"
    history = again.label_history
    assert history[["id", "old_label", "new_label", "change"]].values.tolist() == [
        [2, "bird", "cat", "relabelled"]
    ]
    path.write_text("id,label\n2,dog\n")
    again.import_labels(path)
    assert open_store(tmp_path / "proj").label_history["batch"].tolist() == [1, 2]


# ---------------------------------------------------------------------- detection
def test_coco_round_trip_changes_exactly_the_edited_boxes(det_ds, tmp_path):
    det_ds.tag([13], "wrong_box", level="object")
    path = det_ds.export(format="coco", path=tmp_path / "out" / "fix.json")
    data = json.loads(path.read_text())
    assert [img["file_name"] for img in data["images"]] == ["img0.png", "img1.png", "img2.png"]
    assert data["info"]["nbdiag"]["image_root"] == str(tmp_path / "imgs")
    assert [a["nbdiag_id"] for a in data["annotations"]] == [11, 12, 13, 14]
    assert data["annotations"][2]["nbdiag_tags"] == ["wrong_box"]
    # unchanged file: no change
    assert len(det_ds.import_labels(path)) == 0
    anns = data["annotations"]
    cats = {c["name"]: c["id"] for c in data["categories"]}
    anns[0]["bbox"] = [0.2, 0.1, 20.3, 10]  # within tolerance: unchanged
    anns[2]["category_id"] = cats["person"]  # 13 relabelled
    anns[3]["bbox"] = [42, 10, 15, 15]  # 14 moved
    del anns[1]  # 12 removed
    anns.append({"id": 500, "image_id": data["images"][2]["id"], "category_id": cats["car"],
                 "bbox": [30, 30, 10, 10], "area": 100, "iscrowd": 0})  # fmt: skip
    path.write_text(json.dumps(data))
    changes = det_ds.import_labels(path)
    got = {(r.id, r.change) for r in changes.itertuples()}
    assert got == {(13, "relabelled"), (14, "moved"), (12, "removed"), (500, "added")}
    gt = det_ds.gt_objects
    assert sorted(gt.index) == [11, 13, 14, 500]
    assert gt.loc[13, "label"] == "person" and gt.loc[14, "x"] == 42
    assert gt.loc[11, "x"] == 0  # within tolerance: not touched
    assert gt.loc[500, "sample_id"] == "c"
    assert det_ds.tagged("wrong_box", level="object").index.tolist() == [13]  # tag kept
    assert list(det_ds.runs) == ["det"] and len(det_ds.run_boxes("det")) == 2
    history = det_ds.label_history
    assert history.set_index("id").loc[12, "old_box"] == (30.0, 5.0, 10.0, 20.0)
    assert history.set_index("id").loc[500, "new_label"] == "car"


def test_coco_without_nbdiag_fields_matches_by_file_name_and_iou(det_ds, tmp_path):
    path = det_ds.export(format="coco", path=tmp_path / "fix.json")
    data = json.loads(path.read_text())
    # a labelling tool renumbered everything and dropped our fields
    for k, img in enumerate(data["images"]):
        img["id"] = 100 + k
        del img["nbdiag_id"]
    for k, a in enumerate(data["annotations"]):
        a["image_id"] += 99
        a["id"] = 1000 + k
        del a["nbdiag_id"]
    data["annotations"][0]["bbox"] = [1, 1, 20, 10]  # moved a little: matched by IoU
    del data["info"]
    (tmp_path / "imgs" / "fix.json").write_text(json.dumps(data))  # file names relative to it
    changes = det_ds.import_labels(tmp_path / "imgs" / "fix.json")
    assert changes[["id", "change"]].values.tolist() == [[11, "moved"]]


def test_exported_coco_loads_with_from_coco(det_ds, tmp_path):
    path = det_ds.export(format="coco", path=tmp_path / "x.json")
    back = nbdiag.Dataset.from_coco(path, images=tmp_path / "imgs")
    assert len(back) == 3 and len(back.gt_objects) == 4
    np.testing.assert_allclose(
        back.gt_objects[["x", "y", "w", "h"]].to_numpy(),
        det_ds.gt_objects[["x", "y", "w", "h"]].to_numpy(),
    )
    assert back.samples["issues"].eq("").all()


def test_prelabels_are_ignored_unless_accepted(det_ds, tmp_path):
    path = det_ds.export(["c"], format="coco", path=tmp_path / "pre.json", predictions="det",
                         include_labels=False)  # fmt: skip
    data = json.loads(path.read_text())
    assert [a["nbdiag_prelabel"] for a in data["annotations"]] == ["det"]
    assert data["annotations"][0]["score"] == 0.8
    assert len(det_ds.import_labels(path)) == 0  # image c has no box and gets none
    changes = det_ds.import_labels(path, prelabels="accept")
    assert changes[["change", "new_label"]].values.tolist() == [["added", "person"]]
    assert det_ds.gt_objects.query("sample_id == 'c'")["label"].tolist() == ["person"]


def test_csv_boxes_round_trip_with_box_less_samples(det_ds, tmp_path):
    path = det_ds.export(format="csv", path=tmp_path / "b.csv", predictions="det")
    table = pd.read_csv(path)
    assert table["sample_id"].tolist() == ["a", "a", "a", "b", "b", "c"]
    assert table["source"].tolist() == ["gt", "gt", "det", "gt", "gt", "det"]
    assert len(det_ds.import_labels(path)) == 0
    # sample b: both boxes deleted, one row kept with no box ("this image has none")
    keep = table[table["sample_id"] != "b"]
    empty_b = pd.DataFrame({"sample_id": ["b"], "source": ["gt"]})
    pd.concat([keep, empty_b]).to_csv(path, index=False)
    changes = det_ds.import_labels(path)
    assert sorted(changes["id"]) == [13, 14] and set(changes["change"]) == {"removed"}
    assert det_ds.gt_objects.query("sample_id == 'b'").empty


def test_box_import_errors(det_ds, tmp_path):
    path = det_ds.export(format="coco", path=tmp_path / "x.json")
    data = json.loads(path.read_text())
    data["categories"].append({"id": 9, "name": "zebra"})
    data["annotations"][0]["category_id"] = 9
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"unknown class 'zebra' in COCO annotation 11"):
        det_ds.import_labels(path)
    data["annotations"][0]["category_id"] = 1
    data["images"].append({"id": 77, "file_name": "elsewhere/none.png"})
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"match no sample .* image 77 \('elsewhere/none.png'\)"):
        det_ds.import_labels(path)
    data["images"].pop()
    data["annotations"][1]["bbox"] = [0, 0, -3, 4]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="negative width or height"):
        det_ds.import_labels(path)
    data["annotations"][1]["bbox"] = [50, 40, 30, 30]  # leaves the 64x48 image
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="outside their image"):
        det_ds.import_labels(path)
    assert len(det_ds.label_history) == 0


def test_module_level_export_function(det_ds, tmp_path):
    path = export(det_ds, ["b"], format="parquet", path=tmp_path / "b.parquet")
    assert pd.read_parquet(path)["object_id"].tolist() == [13, 14]


def test_image_sizes_are_whole_pixels_in_every_table_format(cls_ds, det_ds, tmp_path):
    lines = cls_ds.export(format="csv", path=tmp_path / "s.csv").read_text().splitlines()
    assert lines[1].split(",")[2:4] == ["6", "6"]  # not "6.0"
    boxes = pd.read_parquet(det_ds.export(format="parquet", path=tmp_path / "b.parquet"))
    assert str(boxes["width"].dtype) == "Int64" and boxes["width"].notna().all()


def test_in_memory_images_are_written_with_their_ids_in_the_file_name(tmp_path):
    images = np.zeros((2, 4, 4), dtype=np.uint8)
    ds = nbdiag.Dataset.from_arrays(images, [0, 1], ids=["cat/1", "b"], class_names=["0", "1"])
    table = pd.read_csv(ds.export(format="csv", path=tmp_path / "x.csv"))
    assert [Path(p).name for p in table["path"]] == ["000000_cat_1.png", "000001_b.png"]
    assert all(Path(p).is_file() for p in table["path"])


def test_labels_from_memory_a_series_or_a_frame_with_history(cls_ds):
    changes = cls_ds.import_labels(pd.Series({0: "dog", 1: "dog"}))  # 1 is a dog already
    assert changes["id"].tolist() == [0] and changes.attrs["samples"] == 2
    assert cls_ds.samples.loc[0, "label"] == "dog"
    history = cls_ds.label_history
    assert history["source"].iloc[-1] == "<Series>" and history["old_label"].iloc[-1] == "cat"
    # a DataFrame: ids in a column, or in the index (a widget's `selected`, say)
    cls_ds.import_labels(pd.DataFrame({"id": [2], "label": ["cat"]}))
    frame = cls_ds.samples.loc[[3, 4], ["label"]].assign(label=["bird", "bird"])
    cls_ds.import_labels(frame)
    assert cls_ds.samples["label"].tolist()[:5] == ["dog", "dog", "cat", "bird", "bird"]
    with pytest.raises(ValueError, match="unknown class 'horse'"):
        cls_ds.import_labels(pd.Series({5: "horse"}))
    assert cls_ds.import_labels(pd.Series({6: "dog"}), dry_run=True).attrs["batch"] is None


def test_boxes_from_memory_change_the_named_boxes_and_keep_the_others(det_ds):
    # one box of image a, as a view's `selected_objects` gives it (ids in the index)
    one = det_ds.objects.loc[[11]].assign(label="person")
    changes = det_ds.import_labels(one)
    assert changes["id"].tolist() == [11] and changes["change"].tolist() == ["relabelled"]
    gt = det_ds.gt_objects
    assert sorted(gt[gt["sample_id"] == "a"].index) == [11, 12]  # 12 kept as it was
    assert gt.loc[11, "label"] == "person" and gt.loc[12, "label"] == "person"
    # a row without an object id is a new box; the image's boxes stay
    new = pd.DataFrame(
        {"sample_id": ["b"], "label": ["person"], "x": [1.0], "y": [1.0], "w": [4.0], "h": [4.0]}
    )
    changes = det_ds.import_labels(new)
    assert changes["change"].tolist() == ["added"]
    assert (det_ds.gt_objects["sample_id"] == "b").sum() == 3


def test_an_integer_index_is_not_taken_for_object_ids(det_ds):
    # new boxes whose frame index happens to hold existing object ids (11, 12)
    new = pd.DataFrame(
        {"sample_id": ["a", "a"], "label": ["car", "car"], "x": 1.0, "y": 1.0, "w": 3.0, "h": 3.0},
        index=[11, 12],
    )
    changes = det_ds.import_labels(new)
    assert changes["change"].tolist() == ["added", "added"]
    assert {11, 12} <= set(det_ds.gt_objects.index)
