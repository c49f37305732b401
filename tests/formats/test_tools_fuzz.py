"""Property-based: thousands of malformed Label Studio task lists and CVAT XML documents. Each
either reads (every problem of a documented kind, naming the file; boxes finite; the dataset
builds) or raises the documented ValueError naming the file -- never anything else."""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nbdiag.io.formats import to_dataset
from nbdiag.io.formats._parsed import PROBLEM_KINDS
from nbdiag.io.formats.cvat import read_cvat
from nbdiag.io.formats.labelstudio import read_labelstudio

FUZZ = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)  # fmt: skip
RAW = settings(FUZZ, max_examples=300)
BUILD = settings(FUZZ, max_examples=200)


def _check(read, path: Path, build: bool) -> None:
    """The contract every input must meet; ``build``: the dataset builds from it too (slower:
    about 50 ms an input, so fewer inputs are built)."""
    try:
        parsed = read(path)
    except ValueError as exc:
        assert path.name in str(exc), str(exc)
        event("ValueError naming the file")
        return
    for _, kind, message in parsed.problems:
        assert kind in PROBLEM_KINDS
        assert message.startswith(path.name), message
    images, boxes = parsed.images(), parsed.boxes()
    event("read, with boxes" if len(boxes) else "read, no boxes")
    event("with problems" if parsed.problems else "without problems")
    assert ((boxes["image"] >= 0) & (boxes["image"] < len(images))).all()
    assert boxes["label"].map(lambda x: isinstance(x, str) and x != "").all()
    assert all(boxes[c].dtype == np.float64 for c in ("x", "y", "w", "h", "score"))
    labels = images["label"].dropna()
    assert labels.isin(parsed.class_names).all()
    if not build:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = to_dataset(parsed, name="fuzz", check_images=False)
    assert len(ds.samples) == len(images)


def _run(read, name: str, content: str | bytes, build: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        _check(read, path, build)


# ---------------------------------------------------------------------- Label Studio
junk = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=5,
)  # fmt: skip


def often(good, bad=junk):
    """``good`` about four times in five, else ``bad``."""
    return st.integers(0, 9).flatmap(lambda k: bad if k >= 8 else good)


num = st.floats(-20, 120) | st.integers(-5, 105) | junk
names = st.lists(st.sampled_from(["car", "cat", "dog", ""]), max_size=3) | junk
value = st.fixed_dictionaries(
    {},
    optional={
        "x": num, "y": num, "width": num, "height": num,
        "rotation": st.just(0) | st.floats(-720, 720) | junk,
        "rectanglelabels": names, "polygonlabels": names, "choices": names, "labels": names,
        "points": st.lists(st.lists(num, max_size=3), max_size=5) | junk,
    },
)  # fmt: skip
random_result = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=5) | st.integers() | junk,
        "type": st.sampled_from(["rectanglelabels", "rectangle", "polygonlabels", "polygon",
                                 "choices", "relation", "keypointlabels"]) | junk,
        "value": value | junk,
        "original_width": st.integers(-5, 5000) | junk,
        "original_height": st.integers(-5, 5000) | junk,
        "image_rotation": st.sampled_from([0, 90, 360]) | junk,
        "score": st.floats(0, 1) | junk,
        "meta": st.fixed_dictionaries({}, optional={"nbdiag_id": junk}) | junk,
    },
)  # fmt: skip


def _mutate(draw, target: dict, inner: str) -> None:
    """Delete a key of ``target`` (or of its ``inner`` dict), or make its value junk; 0-2 times."""
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        d = target[inner] if isinstance(target.get(inner), dict) and draw(st.booleans()) else target
        if not d:
            return
        key = draw(st.sampled_from(sorted(d)))
        if draw(st.booleans()):
            del d[key]
        else:
            d[key] = draw(junk)


@st.composite
def near_valid_result(draw):
    """A valid rectangle, polygon or choices result, then mutated."""
    kind = draw(st.sampled_from(["rectanglelabels", "polygonlabels", "choices"]))
    label = [draw(st.sampled_from(["car", "cat", "dog"]))]
    pct = st.floats(0, 50)
    if kind == "rectanglelabels":
        val = {
            "x": draw(pct),
            "y": draw(pct),
            "width": draw(pct),
            "height": draw(pct),
            "rotation": draw(st.sampled_from([0, 0, 30.5, 90, -400])),
            kind: label,
        }
    elif kind == "polygonlabels":
        val = {
            "points": draw(st.lists(st.lists(pct, min_size=2, max_size=2), min_size=1, max_size=5)),
            kind: label,
        }
    else:
        val = {"choices": label}
    res = {
        "id": draw(st.text(max_size=4)),
        "type": kind,
        "from_name": "label",
        "to_name": "image",
        "value": val,
        "score": draw(st.floats(0, 1)),
    }
    if draw(st.integers(0, 4)):  # mostly with the image's size
        res.update(
            original_width=draw(st.integers(1, 4000)),
            original_height=draw(st.integers(1, 4000)),
            image_rotation=0,
        )
    _mutate(draw, res, "value")
    return res  # fmt: skip


result = often(near_valid_result(), random_result | junk)
stamp = st.datetimes().map(lambda d: d.isoformat() + "Z") | st.text(max_size=10) | junk
who = (
    st.integers()
    | st.fixed_dictionaries({}, optional={"email": st.text(max_size=6) | junk, "id": junk})
    | junk
)
# each part: mostly its usual shape (required keys present), sometimes anything
usual_annotation = st.fixed_dictionaries(
    {"result": st.lists(result, max_size=4)},
    optional={
        "was_cancelled": st.booleans(),
        "ground_truth": st.booleans(),
        "created_at": stamp,
        "updated_at": stamp,
        "completed_by": who,
    },
)
annotation = often(usual_annotation, junk | st.fixed_dictionaries(
    {},
    optional={"result": st.lists(result, max_size=4) | junk, "was_cancelled": junk,
              "ground_truth": junk, "created_at": junk, "updated_at": junk, "completed_by": who},
))  # fmt: skip
prediction = often(st.fixed_dictionaries(
    {"result": st.lists(result, max_size=4)},
    optional={"score": st.floats(0, 1) | junk, "model_version": st.text(max_size=4) | junk},
))  # fmt: skip
image_ref = st.sampled_from([
    "/data/local-files/?d=a.png", "/data/local-files/?d=", "/data/upload/3/x.png",
    "http://[bad/x.png", "https://h/x.jpg", "imgs/a.png", "/abs/a.png", "s3://b/k.jpg",
    "data:image/png;base64,AAA", "C:/x.png",
]) | st.text(max_size=10) | junk  # fmt: skip
extras = {"img": image_ref, "nbdiag_id": junk, "extra": junk, "_id": junk, "label": junk,
          "data_x": junk}  # fmt: skip
data = often(st.fixed_dictionaries({"image": image_ref}, optional=extras),
             st.fixed_dictionaries({}, optional=extras) | junk)  # fmt: skip
usual_task = st.fixed_dictionaries(
    {"data": data, "annotations": st.lists(annotation, max_size=3)},
    optional={
        "id": st.integers(-3, 3) | st.text(max_size=3) | junk,
        "predictions": st.lists(prediction, max_size=2),
    },
)
task = often(usual_task, junk | st.fixed_dictionaries(
    {},
    optional={"id": junk, "data": data, "annotations": junk, "predictions": junk},
))  # fmt: skip
task_list = often(st.lists(task, max_size=6))


def _read_ls(path: Path):
    return read_labelstudio(path, image_root=path.parent, annotation="last")


@FUZZ
@given(tasks=task_list, mode=st.sampled_from(["last", "first", "ground_truth"]))
def test_malformed_label_studio_task_lists(tasks, mode):
    def read(path):
        return read_labelstudio(path, image_root=path.parent, annotation=mode)

    _run(read, "fuzz.json", json.dumps(tasks))


@BUILD
@given(tasks=task_list)
def test_malformed_label_studio_task_lists_build_a_dataset(tasks):
    _run(_read_ls, "fuzz.json", json.dumps(tasks), build=True)


VALID_LS = json.dumps([
    {"id": 1, "data": {"image": "/data/local-files/?d=a.png", "nbdiag_id": "a"},
     "annotations": [{"completed_by": 1, "result": [
         {"id": "r", "type": "rectanglelabels", "original_width": 10, "original_height": 10,
          "value": {"x": 1, "y": 2, "width": 30, "height": 40, "rectanglelabels": ["car"]}}]}],
     "predictions": [{"score": 0.5, "result": [
         {"id": "p", "type": "choices", "value": {"choices": ["cat"]}}]}]},
])  # fmt: skip


@RAW
@given(cut=st.integers(0, len(VALID_LS)), junk_text=st.text(max_size=12), raw=st.binary(max_size=8))
def test_corrupted_label_studio_files(cut, junk_text, raw):
    text = VALID_LS[:cut] + junk_text + VALID_LS[cut + len(junk_text) :]
    _run(_read_ls, "fuzz.json", text)
    _run(_read_ls, "fuzz.json", text.encode("utf-8")[:cut] + raw)


# ---------------------------------------------------------------------- CVAT
xml_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)
xml_num = (st.floats(allow_nan=True, allow_infinity=True).map(str)
           | st.integers(-(10**6), 10**6).map(str)
           | st.sampled_from(["", "nan", "inf", "1e400", "abc", " 3 ", "-0"]) | xml_text)  # fmt: skip
points = st.lists(st.tuples(xml_num, xml_num).map(",".join), max_size=4).map(";".join) | xml_text
SHAPES = ["box", "polygon", "ellipse", "mask", "tag", "polyline", "points", "cuboid", "skeleton",
          "junk"]  # fmt: skip
NUMERIC = ["occluded", "xtl", "ytl", "xbr", "ybr", "rotation", "cx", "cy", "rx", "ry", "left",
           "top", "width", "height", "z_order"]  # fmt: skip


@st.composite
def random_shape(draw):
    attrs = draw(st.dictionaries(st.sampled_from(NUMERIC), xml_num, max_size=5))
    if draw(st.booleans()):
        attrs["label"] = draw(st.sampled_from(["car", "cat", "dog", ""]) | xml_text)
    if draw(st.booleans()):
        attrs["source"] = draw(st.sampled_from(["manual", "auto", "semi-auto", "file"]) | xml_text)
    if draw(st.booleans()):
        attrs["points"] = draw(points)
    return ET.Element(draw(st.sampled_from(SHAPES)), attrs)


@st.composite
def near_valid_shape(draw):
    """A valid box, polygon, ellipse, mask or tag, then 0-2 attributes deleted or garbled."""
    tag = draw(st.sampled_from(["box", "box", "polygon", "ellipse", "mask", "tag"]))
    coord = st.floats(0, 500).map(repr)
    keys = {
        "box": ["xtl", "ytl", "xbr", "ybr"],
        "ellipse": ["cx", "cy", "rx", "ry"],
        "mask": ["left", "top", "width", "height"],
        "polygon": [],
        "tag": [],
    }[tag]
    attrs = {k: draw(coord) for k in keys}
    if tag == "polygon":
        attrs["points"] = ";".join(f"{draw(coord)},{draw(coord)}" for _ in range(3))
    if tag in ("box", "ellipse") and draw(st.booleans()):
        attrs["rotation"] = draw(st.sampled_from(["0.00", "45.5", "90", "-370"]))
    attrs.update(
        label=draw(st.sampled_from(["car", "cat", "dog"])),
        occluded="0",
        source=draw(st.sampled_from(["manual", "auto", "semi-auto", "file"])),
    )
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(sorted(attrs)))
        if draw(st.booleans()):
            del attrs[key]
        else:
            attrs[key] = draw(xml_num)
    return ET.Element(tag, attrs)  # fmt: skip


@st.composite
def shape(draw):
    el = draw(near_valid_shape() | near_valid_shape() | random_shape())
    for name, text in draw(st.lists(st.tuples(st.sampled_from(["score", "nbdiag_id", "age"])
                                              | xml_text, xml_num), max_size=3)):  # fmt: skip
        ET.SubElement(el, "attribute", {"name": name}).text = text
    return el


def _person(draw, parent):
    who = ET.SubElement(parent, "assignee")
    for key in draw(st.lists(st.sampled_from(["username", "email"]), max_size=2)):
        ET.SubElement(who, key).text = draw(xml_text)


@st.composite
def cvat_document(draw):
    root = ET.Element(draw(st.sampled_from(["annotations"] * 15 + ["annotation"])))
    if draw(st.booleans()):
        ET.SubElement(root, "version").text = draw(st.sampled_from(["1.1", "2.0"]) | xml_text)
    if draw(st.booleans()):
        meta = ET.SubElement(root, "meta")
        kind = draw(st.sampled_from(["task", "job", "project"]))
        owner = ET.SubElement(meta, kind)
        ET.SubElement(owner, "name").text = draw(xml_text)
        labels = ET.SubElement(owner, "labels")
        for name in draw(st.lists(st.sampled_from(["car", "cat", ""]) | xml_text, max_size=4)):
            label = ET.SubElement(labels, "label")
            ET.SubElement(label, "name").text = name
            if draw(st.booleans()):
                ET.SubElement(label, "parent").text = draw(xml_text)
        scopes = [owner]
        if kind == "project":
            tasks = ET.SubElement(owner, "tasks")
            scopes = [ET.SubElement(tasks, "task") for _ in range(draw(st.integers(0, 2)))]
        for scope in scopes:
            ET.SubElement(scope, "id").text = draw(xml_num)
            ET.SubElement(scope, "subset").text = draw(st.sampled_from(["default", "Train"]))
            segments = ET.SubElement(scope, "segments")
            for _ in range(draw(st.integers(0, 2))):
                seg = ET.SubElement(segments, "segment")
                ET.SubElement(seg, "start").text = draw(xml_num)
                ET.SubElement(seg, "stop").text = draw(xml_num)
                if draw(st.booleans()):
                    _person(draw, seg)
            if draw(st.booleans()):
                _person(draw, scope)
    for _ in range(draw(st.integers(0, 3))):
        keys = ["id", "name", "width", "height", "subset", "task_id", "nbdiag_id"]
        attrs = draw(st.dictionaries(st.sampled_from(keys), xml_num, max_size=5))
        if draw(st.booleans()):
            attrs["name"] = draw(st.sampled_from(["a.png", "a.png#2", "d/b.jpg"]) | xml_text)
        image = ET.SubElement(
            root, draw(st.sampled_from(["image"] * 8 + ["track", "other"])), attrs
        )
        for child in draw(st.lists(shape(), max_size=4)):
            image.append(child)
    return ET.tostring(root, encoding="unicode")


@FUZZ
@given(doc=cvat_document())
def test_malformed_cvat_documents(doc):
    _run(read_cvat, "fuzz.xml", doc)


@BUILD
@given(doc=cvat_document())
def test_malformed_cvat_documents_build_a_dataset(doc):
    _run(read_cvat, "fuzz.xml", doc, build=True)


VALID_CVAT = """<annotations><version>1.1</version><meta><task><labels><label><name>car</name>
</label></labels><assignee><username>a</username></assignee></task></meta>
<image id="0" name="a.png" width="10" height="10"><box label="car" source="auto" xtl="1"
ytl="1" xbr="5" ybr="5"><attribute name="score">0.5</attribute></box><tag label="car"/>
<polygon label="car" points="1,1;2,2;3,1"/></image></annotations>"""


@RAW
@given(
    cut=st.integers(0, len(VALID_CVAT)), junk_text=st.text(max_size=12), raw=st.binary(max_size=8)
)
def test_corrupted_cvat_files(cut, junk_text, raw):
    text = VALID_CVAT[:cut] + junk_text + VALID_CVAT[cut + len(junk_text) :]
    _run(read_cvat, "fuzz.xml", text)
    _run(read_cvat, "fuzz.xml", text.encode("utf-8")[:cut] + raw)


def test_the_valid_seeds_read_cleanly():
    for read, name, text in (
        (_read_ls, "fuzz.json", VALID_LS),
        (read_cvat, "fuzz.xml", VALID_CVAT),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_text(text)
            parsed = read(path)
            assert parsed.problems == [] and len(parsed.boxes()) >= 1, os.fspath(path)
