"""CVAT for images 1.1 XML: task, job and project exports read into pixel boxes (oracles written
by hand) with their assignees, every bad element a problem naming it, and write -> read round
trips with no edits."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.io.formats.cvat import from_cvat, read_cvat, write_cvat

TASK_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>42</id>
      <name>street task</name>
      <size>4</size>
      <mode>annotation</mode>
      <overlap>0</overlap>
      <subset>Train</subset>
      <labels>
        <label><name>person</name><color>#ff0000</color><type>any</type><attributes>
          <attribute><name>age</name><mutable>False</mutable><input_type>text</input_type>
            <default_value></default_value><values></values></attribute>
        </attributes></label>
        <label><name>car</name><attributes/></label>
        <label><name>cat</name></label>
        <label><name>dog</name></label>
        <label><name>nose</name><parent>cat</parent></label>
      </labels>
      <segments>
        <segment><id>1</id><start>0</start><stop>1</stop><url>http://cvat/api/jobs/1</url></segment>
        <segment><id>2</id><start>2</start><stop>3</stop><url>http://cvat/api/jobs/2</url>
          <assignee><username>bob</username><email>bob@example.org</email></assignee></segment>
      </segments>
      <owner><username>admin</username><email>admin@example.org</email></owner>
      <assignee><username>alice</username><email>alice@example.org</email></assignee>
    </task>
    <dumped>2024-01-01 10:00:00.000000+00:00</dumped>
  </meta>
  <image id="0" name="frames/a.png" width="100" height="80">
    <box label="person" source="manual" occluded="1" xtl="10.00" ytl="20.00" xbr="30.50"
         ybr="60.00" z_order="0"><attribute name="age">adult</attribute></box>
    <box label="car" source="auto" occluded="0" xtl="0" ytl="0" xbr="50" ybr="40" z_order="1">
      <attribute name="score">0.75</attribute></box>
    <box label="car" source="semi-auto" occluded="0" xtl="5" ytl="5" xbr="15" ybr="15">
      <attribute name="score">0.5</attribute></box>
  </image>
  <image id="1" name="frames/b.png" width="100" height="80">
    <polygon label="cat" source="manual" occluded="0" points="10.0,10.0;50.0,20.0;30.0,60.0"/>
    <box label="dog" source="manual" occluded="0" xtl="40" ytl="30" xbr="80" ybr="50"
         rotation="90.00"/>
  </image>
  <image id="2" name="frames/c.png" width="100" height="80">
    <tag label="cat" source="manual"></tag>
    <ellipse label="dog" source="manual" occluded="0" cx="50" cy="40" rx="20" ry="10"/>
    <mask label="car" source="manual" occluded="0" rle="1, 2" left="3" top="4" width="5"
          height="6"/>
  </image>
  <image id="3" name="frames/d.png" width="100" height="80">
  </image>
</annotations>
"""

TASK_BOXES = [  # label, x, y, w, h, score (NaN: a label), annotator, image
    ("person", 10.0, 20.0, 20.5, 40.0, np.nan, "alice", 0),
    ("car", 0.0, 0.0, 50.0, 40.0, 0.75, None, 0),
    ("car", 5.0, 5.0, 10.0, 10.0, np.nan, "alice", 0),
    ("cat", 10.0, 10.0, 40.0, 50.0, np.nan, "alice", 1),
    ("dog", 50.0, 20.0, 20.0, 40.0, np.nan, "alice", 1),  # 40x20 at (40, 30) turned 90 degrees
    ("dog", 30.0, 30.0, 40.0, 20.0, np.nan, "bob", 2),
    ("car", 3.0, 4.0, 5.0, 6.0, np.nan, "bob", 2),
]


def _vals(series):
    return [None if pd.isna(x) else x for x in series]


def _write(tmp_path, text, name="annotations.xml"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_task_export_reads_boxes_shapes_tags_and_assignees(tmp_path):
    parsed = read_cvat(_write(tmp_path, TASK_XML))
    assert parsed.class_names == ["person", "car", "cat", "dog"]  # meta order, no skeleton point
    b = parsed.boxes()
    got = list(zip(b["label"], b["x"], b["y"], b["w"], b["h"], strict=True))
    assert np.allclose([g[1:] for g in got], [t[1:5] for t in TASK_BOXES])
    assert [g[0] for g in got] == [t[0] for t in TASK_BOXES]
    assert np.array_equal(b["score"].to_numpy(), [t[5] for t in TASK_BOXES], equal_nan=True)
    assert _vals(b["annotator"]) == [t[6] for t in TASK_BOXES]
    assert b["image"].tolist() == [t[7] for t in TASK_BOXES]
    assert b["occluded"].tolist() == [True] + [False] * 6
    assert b["cvat_source"].tolist() == ["manual", "auto", "semi-auto"] + ["manual"] * 4
    assert _vals(b["attr:age"]) == ["adult"] + [None] * 6
    assert _vals(b["attr:score"]) == [None, None, "0.5", None, None, None, None]
    assert b.loc[3, "segmentation"] == [[10.0, 10.0, 50.0, 20.0, 30.0, 60.0]]
    assert b.loc[4, "rotation"] == 90.0
    assert b["what"].tolist()[:2] == [
        "annotations.xml image 'frames/a.png' box 0",
        "annotations.xml image 'frames/a.png' box 1",
    ]
    images = parsed.images()
    assert images["id"].tolist() == ["frames/a.png", "frames/b.png", "frames/c.png", "frames/d.png"]
    assert images["path"].tolist()[0] == str(tmp_path / "frames" / "a.png")
    assert _vals(images["label"]) == [None, None, "cat", None]
    assert images["annotator"].tolist() == ["alice", "alice", "bob", "bob"]
    assert images["split"].tolist() == ["Train"] * 4
    assert images["cvat_id"].tolist() == [0, 1, 2, 3]
    assert (images["width"] == 100).all() and (images["height"] == 80).all()
    assert parsed.problems == []


def test_from_cvat_on_an_unzipped_export_finds_images_and_names_the_dataset(tmp_path, make_image):
    export = tmp_path / "export"
    _write(export, TASK_XML)
    for n in "abcd":
        make_image(export / "images" / "frames" / f"{n}.png", (100, 80))
    ds = from_cvat(export)
    assert ds.name == "street task"
    assert list(ds.samples.index) == [
        "frames/a.png",
        "frames/b.png",
        "frames/c.png",
        "frames/d.png",
    ]
    assert ds.samples.loc["frames/a.png", "path"] == str(export / "images" / "frames" / "a.png")
    assert (ds.samples["issues"] == "").all()
    assert len(ds.objects) == 6  # the pre-label is left out
    assert ds.samples["annotator"].tolist() == ["alice", "alice", "bob", "bob"]
    assert ds.objects["annotator"].tolist() == ["alice", "alice", "alice", "alice", "bob", "bob"]
    assert ds.samples.loc["frames/c.png", "label"] == "cat"


JOB_XML = """<annotations><version>1.1</version><meta><job><id>9</id><size>2</size>
<labels><label><name>car</name></label></labels>
<segments><segment><id>3</id><start>5</start><stop>6</stop><url>u</url></segment></segments>
<owner><username>admin</username></owner>
<assignee><username></username><email>carol@example.org</email></assignee></job></meta>
<image id="5" name="x.png" width="10" height="10"><box label="car" xtl="1" ytl="1" xbr="2" ybr="2"
 source="manual" occluded="0"/></image>
</annotations>"""

PROJECT_XML = """<annotations><version>1.1</version><meta><project><id>1</id><name>proj</name>
<labels><label><name>car</name></label></labels>
<tasks>
 <task><id>5</id><name>t5</name><subset>Train</subset><assignee><username>dave</username></assignee></task>
 <task><id>6</id><name>t6</name><assignee></assignee></task>
</tasks>
<assignee><username>boss</username></assignee></project></meta>
<image id="0" name="p.png" subset="Train" task_id="5" width="10" height="10"/>
<image id="0" name="q.png" subset="default" task_id="6" width="10" height="10"/>
<image id="1" name="p.png" subset="Validation" task_id="6" width="10" height="10"/>
</annotations>"""


def test_job_and_project_exports_take_the_job_s_and_each_task_s_assignee(tmp_path):
    job = read_cvat(_write(tmp_path, JOB_XML, "job.xml"))
    assert job.images()["annotator"].tolist() == ["carol@example.org"]
    assert job.boxes()["annotator"].tolist() == ["carol@example.org"]
    project = read_cvat(_write(tmp_path, PROJECT_XML, "project.xml"))
    images = project.images()
    assert images["id"].tolist() == ["p.png", "q.png", "p.png#2"]
    assert _vals(images["annotator"]) == ["dave", None, None]
    assert _vals(images["split"]) == ["Train", None, "Validation"]
    assert images["cvat_task_id"].tolist() == [5, 6, 6]
    assert from_cvat(tmp_path / "project.xml", check_images=False).name == "proj"


BAD_XML = """<annotations><version>1.1</version><meta><task><labels>
<label><name>car</name></label><label><name>cat</name></label><label><name>dog</name></label>
</labels></task></meta>
<image id="0" name="bad.png" width="abc" height="50">
  <box xtl="1" ytl="1" xbr="2" ybr="2"/>
  <box label="car" xtl="one" ytl="1" xbr="2" ybr="2"/>
  <box label="car" xtl="1" ytl="1" xbr="2"/>
  <box label="car" source="auto" xtl="1" ytl="1" xbr="2" ybr="2"><attribute name="score">high</attribute></box>
  <box label="car" xtl="1" ytl="1" xbr="5" ybr="5"/>
  <polygon label="car" points="1,2;3"/>
  <polyline label="car" points="1,2;3,4"/>
  <box label="car" xtl="9" ytl="1" xbr="2" ybr="5"/>
  <tag label="cat"/><tag label="dog"/>
</image>
<image id="1" name="two.png"><tag label="zebra"/></image>
<image id="2" width="10" height="10"/>
<track id="0" label="car"><box frame="0" xtl="1" ytl="1" xbr="2" ybr="2" outside="0"/></track>
</annotations>"""

BAD_EXPECTED = [
    (0, "malformed_annotation", "bad.xml image 'bad.png': width 'abc' is not a size"),
    (0, "malformed_annotation", "bad.xml image 'bad.png' box 0: no label"),
    (0, "malformed_annotation", "bad.xml image 'bad.png' box 1: xtl 'one' is not a number"),
    (0, "malformed_annotation", "bad.xml image 'bad.png' box 2: ybr None is not a number"),
    (0, "malformed_annotation", "bad.xml image 'bad.png' box 3: pre-label score 'high' is not a "
                                "number"),
    (0, "malformed_annotation", "bad.xml image 'bad.png' polygon 0: points '1,2;3' are not "
                                "x,y;x,y;…"),
    (0, "malformed_annotation", "bad.xml image 'bad.png' polyline 0: polyline not supported"),
    (0, "malformed_annotation", "bad.xml image 'bad.png': several tags ['cat', 'dog']"),
    (2, "malformed_annotation", "bad.xml image at position 2: no name"),
    (None, "malformed_annotation", "bad.xml track '0': CVAT for video tracks are not read"),
    (1, "unknown_class", "bad.xml image 'two.png': class 'zebra' (tag)"),
]  # fmt: skip


def test_every_bad_element_is_a_problem_naming_file_image_and_element(tmp_path):
    parsed = read_cvat(_write(tmp_path, BAD_XML, "bad.xml"))
    assert sorted(parsed.problems, key=str) == sorted(BAD_EXPECTED, key=str)
    b = parsed.boxes()
    assert b[["x", "y", "w", "h"]].to_numpy().tolist() == [[1, 1, 4, 4], [9, 1, -7, 4]]
    with pytest.warns(UserWarning, match="annotation problem"):
        ds = from_cvat(tmp_path / "bad.xml", check_images=False)
    assert ds.samples.loc["bad.png", "issues"] == "malformed_annotation,invalid_box"
    assert "box 5: box x=9" in ds.samples.loc["bad.png", "annotation_problems"]
    assert ds.samples.loc["two.png", "issues"] == "unknown_class"
    assert len(ds.objects) == 1


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("this is not xml", "not a well-formed XML file"),
        ("", "not a well-formed XML file"),
        ("<annotations><image id='0' name='a'>", "not a well-formed XML file"),
        ("<annotation><filename>a.png</filename></annotation>", "root element is <annotation>"),
        ("<annotations><track id='0' label='car'/></annotations>", "CVAT for video export"),
    ],
)
def test_unusable_files_raise_naming_the_file(tmp_path, text, match):
    path = _write(tmp_path, text, "broken.xml")
    with pytest.raises(ValueError, match=match) as err:
        read_cvat(path)
    assert "broken.xml" in str(err.value)


# ---------------------------------------------------------------------- writing, round trips
@pytest.fixture
def det_ds(tmp_path, make_image):
    files = [make_image(tmp_path / "imgs" / n, (64, 48), seed=i)
             for i, n in enumerate(["a 1.png", "sub/b&2.png", "c.png"])]  # fmt: skip
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
    out = write_cvat(det_ds, ids, _files(det_ds), det_ds._get_run("det"), 0.1, True,
                     tmp_path / "out" / "annotations.xml")  # fmt: skip
    parsed = read_cvat(out, image_root=tmp_path / "imgs")
    assert parsed.class_names == ["car", "person"] and parsed.problems == []
    images = parsed.images()
    assert images["nbdiag_id"].tolist() == [str(i) for i in ids]
    assert images["file_name"].tolist() == ["a 1.png", "sub/b&2.png", "c.png"]
    assert images["path"].tolist() == det_ds.samples["path"].tolist()
    assert images["width"].tolist() == [64.0] * 3 and images["height"].tolist() == [48.0] * 3
    boxes = parsed.boxes()
    labels, preds = boxes[boxes["score"].isna()], boxes[boxes["score"].notna()]
    gt = det_ds.gt_objects
    assert labels["hint"].tolist() == [str(i) for i in gt.index]
    assert labels["label"].tolist() == gt["label"].astype(str).tolist()
    assert np.abs(labels[["x", "y", "w", "h"]].to_numpy() - gt[["x", "y", "w", "h"]].to_numpy()
                  ).max() <= 0.01  # fmt: skip
    run = det_ds.run_boxes("det")
    kept = run[run["score"] >= 0.1]
    assert preds["hint"].tolist() == [str(i) for i in kept.index]
    assert preds["score"].tolist() == kept["score"].tolist()
    assert preds["cvat_source"].tolist() == ["auto", "auto"]
    assert np.abs(preds[["x", "y", "w", "h"]].to_numpy() - kept[["x", "y", "w", "h"]].to_numpy()
                  ).max() <= 0.01  # fmt: skip
    assert images.loc[preds["image"], "nbdiag_id"].tolist() == [str(s) for s in kept["sample_id"]]
    spec = json.loads((tmp_path / "out" / "annotations_labels.json").read_text())
    assert [s["name"] for s in spec] == ["car", "person"]
    assert [a["name"] for a in spec[0]["attributes"]] == ["nbdiag_id", "score"]


def test_a_file_cvat_exported_back_after_edits(det_ds, tmp_path):
    """CVAT drops the image's nbdiag_id and marks a moved pre-label semi-auto; the box keeps
    its declared attributes."""
    ids = list(det_ds.samples.index)
    out = write_cvat(det_ds, ids, _files(det_ds), det_ds._get_run("det"), 0.1, True,
                     tmp_path / "t.xml")  # fmt: skip
    tree = ET.parse(out)
    for image in tree.getroot().iter("image"):
        del image.attrib["nbdiag_id"]
    moved = tree.getroot().find("image/box[@source='auto']")
    moved.set("source", "semi-auto")
    moved.set("xtl", "2.0")
    tree.write(out)
    parsed = read_cvat(out)
    assert parsed.images()["nbdiag_id"].isna().all()
    b = parsed.boxes()
    assert b["score"].notna().sum() == 1  # only the untouched pre-label
    edited = b[b["cvat_source"] == "semi-auto"].iloc[0]
    assert np.isnan(edited["score"]) and edited["attr:score"] == "0.9"
    assert edited["x"] == 2.0 and edited["hint"] == str(det_ds.run_boxes("det").index[0])


def test_declared_attributes_come_back_empty_and_uploads_may_be_marked_file(det_ds, tmp_path):
    """CVAT exports every attribute a label declares (empty when unset); newer versions mark
    uploaded shapes ``source="file"``. Empty scores are labels, not malformed pre-labels."""
    out = write_cvat(det_ds, list(det_ds.samples.index), _files(det_ds),
                     det_ds._get_run("det"), 0.1, True, tmp_path / "t.xml")  # fmt: skip
    tree = ET.parse(out)
    for box in tree.getroot().iter("box"):
        box.set("source", "file")
        for name in {"score", "nbdiag_id"} - {a.get("name") for a in box.findall("attribute")}:
            ET.SubElement(box, "attribute", {"name": name}).text = ""
    drawn = ET.SubElement(
        tree.getroot().find("image"),
        "box",
        {"label": "car", "source": "manual", "xtl": "1", "ytl": "2", "xbr": "3", "ybr": "5"},
    )
    for name in ("score", "nbdiag_id"):
        ET.SubElement(drawn, "attribute", {"name": name})  # fmt: skip
    tree.write(out)
    parsed = read_cvat(out)
    assert parsed.problems == []
    b = parsed.boxes()
    run = det_ds.run_boxes("det")
    kept = [str(i) for i in run.index[run["score"] >= 0.1]]
    assert _vals(b["hint"]) == ["11", "12", kept[0], None, "13", kept[1]]
    assert np.array_equal(b["score"].to_numpy(), [np.nan, np.nan, 0.9, np.nan, np.nan, 0.8],
                          equal_nan=True)  # fmt: skip
    assert b.loc[3, ["x", "y", "w", "h"]].tolist() == [1.0, 2.0, 2.0, 3.0]


def test_classification_round_trip(tmp_path, make_image):
    files = [make_image(tmp_path / f"{i}.png", (8, 6), seed=i) for i in range(4)]
    samples = pd.DataFrame({"path": [str(f) for f in files],
                            "label": ["cat", "dog", None, "cat"]})  # fmt: skip
    ds = nbdiag.Dataset.from_dataframe(samples, class_names=["cat", "dog"])
    ds.add_run("clf", np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.45, 0.55]]))
    ds.add_run("names", ["dog", "dog", "cat", "cat"])  # no confidence
    ids = list(ds.samples.index)
    out = write_cvat(ds, ids, _files(ds), ds._get_run("clf"), 0.58, True, tmp_path / "c.xml")
    images = read_cvat(out).images()
    assert images["nbdiag_id"].tolist() == [str(i) for i in ids]
    assert _vals(images["label"]) == ["cat", "dog", None, "cat"]
    assert _vals(images["prediction"]) == ["cat", "dog", "cat", None]
    assert np.allclose(images["confidence"][:3], [0.9, 0.7, 0.6])
    out = write_cvat(ds, ids, _files(ds), ds._get_run("names"), 0.0, False, tmp_path / "n.xml")
    parsed = read_cvat(out)
    assert _vals(parsed.images()["label"]) == [None] * 4
    assert parsed.images()["prediction"].tolist() == ["dog", "dog", "cat", "cat"]
    assert parsed.images()["confidence"].isna().all() and parsed.problems == []


def test_writer_refuses_samples_without_an_image_file(det_ds, tmp_path):
    with pytest.raises(ValueError, match="CVAT needs an image file per sample.*'b'"):
        write_cvat(det_ds, ["a", "b"], {**_files(det_ds), "b": None}, None, 0, True,
                   tmp_path / "x.xml")  # fmt: skip
