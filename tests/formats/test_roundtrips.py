"""Every writer through the public API: ds.export(format=...) then ds.import_labels(...) with
no edits changes nothing; an edit comes back as exactly that change, with its history; runs in
the other forms (YOLO files, torchvision outputs, box conventions) reach ds.add_run."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import nbdiag

FORMATS = ["coco", "csv", "yolo", "voc", "labelstudio", "cvat"]


@pytest.fixture
def det_ds(tmp_path):
    rng = np.random.default_rng(1)
    paths = []
    for i in range(4):
        p = tmp_path / "imgs" / f"img{i}.png"
        p.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    samples = pd.DataFrame({"path": paths}, index=[1, 2, 3, 4])
    objects = pd.DataFrame(
        {
            "sample_id": [1, 1, 2, 3],
            "label": ["car", "person", "car", "car"],
            "x": [0.0, 30, 5, 40],
            "y": [0.0, 5, 5, 10],
            "w": [20.0, 10, 20, 15],
            "h": [10.0, 20, 20, 15],
        },
        index=pd.Index([11, 12, 13, 14], name="object_id"),
    )
    ds = nbdiag.Dataset.from_dataframe(samples, objects, name="street")
    ds.add_run(
        "det",
        pd.DataFrame(
            {"sample_id": [1, 4], "label": ["car", "person"], "x": [1.0, 2], "y": [1.0, 2],
             "w": [18.0, 10], "h": [9.0, 10], "score": [0.9, 0.8]}
        ),
    )  # fmt: skip
    return ds


@pytest.mark.parametrize("fmt", FORMATS)
def test_unedited_round_trip_changes_nothing(det_ds, tmp_path, fmt):
    out = det_ds.export(format=fmt, path=tmp_path / f"out_{fmt}", predictions="det")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        changes = det_ds.import_labels(out, format=fmt)
    assert len(changes) == 0, changes
    assert changes.attrs["samples"] == len(det_ds)
    assert len(det_ds.label_history) == 0


def test_yolo_folder_edit_comes_back_as_that_change(det_ds, tmp_path):
    out = det_ds.export(format="yolo", path=tmp_path / "y")
    label_files = sorted(out.glob("labels/*/*.txt"))
    first = next(f for f in label_files if len(f.read_text().split("\n")) >= 2)
    lines = first.read_text().splitlines()
    lines[0] = "1" + lines[0][1:]  # class 0 (car) -> 1 (person)
    first.write_text("\n".join(lines) + "\n")
    changes = det_ds.import_labels(out)  # the format from the folder
    assert list(changes["change"]) == ["relabelled"]
    assert changes.iloc[0]["old_label"] == "car" and changes.iloc[0]["new_label"] == "person"
    assert len(det_ds.label_history) == 1


def test_labelstudio_export_coming_back_with_a_fix(det_ds, tmp_path):
    tasks = det_ds.export(format="labelstudio", path=tmp_path / "ls.json")
    data = json.loads(tasks.read_text())
    # what Label Studio exports after an annotator fixed a class: tasks with annotations
    for t, task in enumerate(data):
        task["id"] = 100 + t
        for ann in task.get("annotations", []):
            ann["completed_by"] = {"id": 7, "email": "ann@example.org"}
            for res in ann["result"]:
                if res["value"].get("rectanglelabels") == ["person"]:
                    res["value"]["rectanglelabels"] = ["car"]
    export_file = tmp_path / "project-1-at-2026.json"
    export_file.write_text(json.dumps(data))
    changes = det_ds.import_labels(export_file)
    assert list(changes["change"]) == ["relabelled"] and changes.iloc[0]["id"] == 12
    ls = nbdiag.Dataset.from_labelstudio(export_file)
    assert set(ls.gt_objects["annotator"]) == {"ann@example.org"}


def test_readers_are_reachable_from_the_public_api(det_ds, tmp_path):
    for fmt, reader in [
        ("yolo", nbdiag.Dataset.from_yolo),
        ("voc", nbdiag.Dataset.from_voc),
        ("cvat", nbdiag.Dataset.from_cvat),
        ("labelstudio", nbdiag.Dataset.from_labelstudio),
    ]:
        out = det_ds.export(format=fmt, path=tmp_path / f"r_{fmt}")
        ds = reader(out)
        assert isinstance(ds, nbdiag.Dataset)
        got = ds.gt_objects.sort_values(["x", "y"])[["label", "x", "y", "w", "h"]]
        want = det_ds.gt_objects.sort_values(["x", "y"])[["label", "x", "y", "w", "h"]]
        np.testing.assert_allclose(got[["x", "y", "w", "h"]], want[["x", "y", "w", "h"]], atol=0.01)
        assert list(got["label"].astype(str)) == list(want["label"].astype(str)), fmt


def test_runs_in_other_forms(det_ds, tmp_path):
    xyxy = pd.DataFrame(
        {"sample_id": [1], "label": ["car"], "x1": [0.0], "y1": [0.0], "x2": [20.0],
         "y2": [10.0], "score": [0.9]}
    )  # fmt: skip
    det_ds.add_run("xyxy", xyxy, box_format="xyxy")
    box = det_ds.run_boxes("xyxy").iloc[0]
    assert (box["x"], box["y"], box["w"], box["h"]) == (0, 0, 20, 10)
    outputs = [
        {"boxes": np.array([[0.0, 0, 20, 10]]), "labels": np.array([0]), "scores": np.array([0.7])}
    ] + [{"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int), "scores": np.zeros(0)}] * 3
    det_ds.add_run("tv", outputs)
    assert len(det_ds.run_boxes("tv")) == 1
    folder = tmp_path / "pred"
    folder.mkdir()
    (folder / "img0.txt").write_text("0 0.15625 0.104167 0.3125 0.208333 0.66\n")
    det_ds.add_run("yolo", folder, format="yolo")
    b = det_ds.run_boxes("yolo").iloc[0]
    assert b["sample_id"] == 1 and b["score"] == pytest.approx(0.66)
    assert (b["x"], b["w"]) == pytest.approx((0.0, 20.0), abs=1e-3)
    ev = det_ds.evaluate("tv")
    assert ev.coco_stats[0] >= 0
    with pytest.raises(ValueError, match="format must be"):
        det_ds.add_run("bad", folder, format="mmdet")
