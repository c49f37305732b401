"""Pascal VOC: reading a VOC folder written here (real JPEGs, oracle boxes by hand), bad inputs
recorded as data issues naming the file, the writer's round trip, and the VOC protocol's
"difficult" objects in the evaluation."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import nbdiag
from nbdiag.io.formats import voc
from nbdiag.io.formats._voc_write import corner_texts
from nbdiag.io.formats.voc import VOC_CLASSES, from_voc, read_voc, write_voc


# ---------------------------------------------------------------------- writing a VOC tree
def _jpeg(path: Path, size: tuple[int, int], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def _obj(name, box, *, difficult=None, truncated=None, occluded=None, pose=None) -> str:
    parts = [f"<name>{name}</name>"]
    if pose is not None:
        parts.append(f"<pose>{pose}</pose>")
    for tag, value in (("truncated", truncated), ("occluded", occluded), ("difficult", difficult)):
        if value is not None:
            parts.append(f"<{tag}>{value}</{tag}>")
    if box is not None:
        corners = "".join(
            f"<{k}>{v}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True)
        )
        parts.append(f"<bndbox>{corners}</bndbox>")
    return "<object>" + "".join(parts) + "</object>"


def _xml(filename, size, objects, *, extra="") -> str:
    head = f"<filename>{filename}</filename>" if filename is not None else ""
    if size is not None:
        w, h = size
        head += f"<size><width>{w}</width><height>{h}</height><depth>3</depth></size>"
    return f"<annotation><folder>VOC</folder>{head}{extra}{''.join(objects)}</annotation>"


def _tree(root: Path, xmls: dict[str, str], splits: dict[str, list[str]] | None) -> Path:
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    for stem, text in xmls.items():
        (root / "Annotations" / f"{stem}.xml").write_text(text, encoding="utf-8")
    if splits is not None:
        main = root / "ImageSets" / "Main"
        main.mkdir(parents=True, exist_ok=True)
        for name, ids in splits.items():
            (main / f"{name}.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    return root


def _load(root: Path, **kwargs) -> nbdiag.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return from_voc(root, **kwargs)


@pytest.fixture
def voc_tree(tmp_path: Path) -> Path:
    """Four images in two splits (plus trainval and a class file), difficult / truncated /
    occluded objects, poses, float corners."""
    root = tmp_path / "VOC"
    sizes = {"000001": (48, 32), "000002": (64, 40), "000003": (40, 40), "2008_000004": (32, 24)}
    for k, (stem, size) in enumerate(sizes.items()):
        _jpeg(root / "JPEGImages" / f"{stem}.jpg", size, seed=k)
    xmls = {
        "000001": _xml(
            "000001.jpg",
            (48, 32),
            [
                _obj("dog", (1, 1, 48, 32), difficult=0, truncated=1, pose="Left"),
                _obj("cat", (10.5, 3, 20, 12.25), difficult=1, occluded=1),
            ],
        ),
        "000002": _xml("000002.jpg", (64, 40), [_obj("person", (12.3, 4.7, 30.1, 39.9))]),
        "000003": _xml("000003.jpg", (40, 40), []),
        "2008_000004": _xml(
            "2008_000004.jpg",
            (32, 24),
            [_obj("cat", (2, 2, 31, 23), truncated=0, pose="Frontal"), _obj("dog", (5, 6, 9, 10))],
        ),
    }
    return _tree(
        root,
        xmls,
        {
            "train": ["000001", "000002"],
            "val": ["000003", "2008_000004"],
            "trainval": ["000001", "000002", "000003", "2008_000004"],
            "cat_train": ["000001  1", "000002 -1"],  # VOC's class files: ignored
        },
    )


# oracle: x = xmin - 1, y = ymin - 1, w = xmax - xmin + 1, h = ymax - ymin + 1 (by hand)
ORACLE = [
    ("000001", "dog", 0.0, 0.0, 48.0, 32.0, False, True, False, "Left"),
    ("000001", "cat", 9.5, 2.0, 10.5, 10.25, True, False, True, None),
    ("000002", "person", 11.3, 3.7, 18.8, 36.2, False, False, False, None),
    ("2008_000004", "cat", 1.0, 1.0, 30.0, 22.0, False, False, False, "Frontal"),
    ("2008_000004", "dog", 4.0, 5.0, 5.0, 5.0, False, False, False, None),
]
COLS = ["sample_id", "label", "x", "y", "w", "h", "difficult", "truncated", "occluded", "pose"]


def test_reads_a_voc_tree(voc_tree: Path) -> None:
    ds = _load(voc_tree)
    assert list(ds.samples.index) == ["000001", "000002", "000003", "2008_000004"]
    assert ds.samples["split"].tolist() == ["train", "train", "val", "val"]
    assert ds.samples["width"].tolist() == [48, 64, 40, 32]
    assert ds.samples["height"].tolist() == [32, 40, 40, 24]
    assert (ds.samples["issues"] == "").all()
    assert ds.samples["path"].tolist() == [
        str(voc_tree / "JPEGImages" / f"{i}.jpg") for i in ds.samples.index
    ]
    assert ds.class_names == list(VOC_CLASSES)
    assert ds.name == "VOC"
    got = ds.gt_objects
    assert list(got.index) == [0, 1, 2, 3, 4]
    table = got[COLS].astype({"label": str}).to_numpy(dtype=object).tolist()
    expected = [list(r) for r in ORACLE]
    for row, exp in zip(table, expected, strict=True):
        assert row[:2] == exp[:2]
        assert row[2:6] == exp[2:6]  # decimal arithmetic: exactly the literal
        assert [bool(b) for b in row[6:9]] == exp[6:9]
        assert (None if pd.isna(row[9]) else row[9]) == exp[9]
    for flag in ("difficult", "truncated", "occluded"):
        assert got[flag].dtype == bool


def test_split_selection(voc_tree: Path) -> None:
    val = _load(voc_tree, split="val")
    assert list(val.samples.index) == ["000003", "2008_000004"]
    both = _load(voc_tree, split=["trainval", "val"])  # first listed wins
    assert set(both.samples["split"]) == {"trainval"}
    with pytest.raises(ValueError, match=r"ImageSets/Main/test\.txt"):
        read_voc(voc_tree, "test")
    # without ImageSets: every XML, no split
    for f in (voc_tree / "ImageSets" / "Main").iterdir():
        f.unlink()
    (voc_tree / "ImageSets" / "Main").rmdir()
    (voc_tree / "ImageSets").rmdir()
    every = _load(voc_tree)
    assert sorted(every.samples.index) == ["000001", "000002", "000003", "2008_000004"]
    assert every.samples["split"].isna().all()


def test_class_names(tmp_path: Path) -> None:
    root = tmp_path / "custom"
    _jpeg(root / "JPEGImages" / "a.jpg", (20, 20))
    _tree(root, {"a": _xml("a.jpg", (20, 20), [_obj("zebra", (1, 1, 5, 5)), _obj("ant", (2, 2, 6, 6))])}, None)  # fmt: skip
    assert _load(root).class_names == ["ant", "zebra"]
    with pytest.warns(UserWarning, match="unknown_class|class 'zebra'"):
        ds = from_voc(root, class_names=["ant"])
    assert ds.class_names == ["ant"]
    assert ds.gt_objects["label"].tolist() == ["ant"]
    assert ds.samples.at["a", "issues"] == "unknown_class"
    assert "Annotations/a.xml object 1" in ds.samples.at["a", "annotation_problems"]


# ---------------------------------------------------------------------- bad inputs
def test_bad_inputs_are_data_issues(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    for stem in ("ok", "nosize", "unparsable", "nobox", "outside", "nojpeg", "nonnum", "notann"):
        if stem != "nojpeg":
            _jpeg(root / "JPEGImages" / f"{stem}.jpg", (30, 20))
    xmls = {
        "ok": _xml("ok.jpg", (30, 20), [_obj("cat", (1, 1, 10, 10))]),
        "nosize": _xml("nosize.jpg", None, [_obj("cat", (1, 1, 30, 20))]),
        "unparsable": "<annotation><object><name>cat</name></annotation",
        "nobox": _xml(
            "nobox.jpg",
            (30, 20),
            [_obj("dog", (1, 1, 5, 5)), _obj("cat", None), _obj("", (1, 1, 2, 2))],
        ),  # fmt: skip
        "outside": _xml(
            "outside.jpg", (30, 20), [_obj("cat", (1, 1, 40, 10)), _obj("dog", (1, 1, 3, 3))]
        ),  # fmt: skip
        "nojpeg": _xml("nojpeg.jpg", (30, 20), [_obj("cat", (1, 1, 10, 10))]),
        "nonnum": _xml(
            "nonnum.jpg", (30, 20), [_obj("cat", (1, "abc", 10, 10)), _obj("dog", (1, 1, 2, 2))]
        ),  # fmt: skip
        "notann": "<root><object/></root>",
    }
    _tree(root, xmls, {"all": [*xmls, "noxml"]})
    with pytest.warns(UserWarning, match="annotation problem"):
        ds = from_voc(root)
    s = ds.samples
    assert list(s.index) == [*xmls, "noxml"]  # every image loads
    assert s.at["ok", "issues"] == ""
    assert s.at["nosize", "issues"] == ""  # sizes from the JPEG
    assert (s.at["nosize", "width"], s.at["nosize", "height"]) == (30, 20)
    assert s.at["unparsable", "issues"] == "malformed_annotation"
    assert (
        "Annotations/unparsable.xml: not readable XML" in s.at["unparsable", "annotation_problems"]
    )
    assert s.at["nobox", "issues"] == "malformed_annotation"
    assert (
        "Annotations/nobox.xml object 2 ('cat'): no <bndbox>"
        in s.at["nobox", "annotation_problems"]
    )
    assert "Annotations/nobox.xml object 3: no <name>" in s.at["nobox", "annotation_problems"]
    assert s.at["outside", "issues"] == "invalid_box"
    assert "Annotations/outside.xml object 1" in s.at["outside", "annotation_problems"]
    assert s.at["nojpeg", "issues"] == "missing_file"
    assert s.at["nonnum", "issues"] == "malformed_annotation"
    assert "Annotations/nonnum.xml object 1 ('cat'): bndbox/ymin is 'abc'" in s.at["nonnum", "annotation_problems"]  # fmt: skip
    assert "not <annotation>" in s.at["notann", "annotation_problems"]
    assert set(s.at["noxml", "issues"].split(",")) == {"malformed_annotation", "missing_file"}
    assert "Annotations/noxml.xml: no such file" in s.at["noxml", "annotation_problems"]
    # the rest loads: the good boxes of every image
    per_image = ds.gt_objects.groupby("sample_id", observed=True).size().to_dict()
    assert per_image == {"ok": 1, "nosize": 1, "nobox": 1, "outside": 1, "nojpeg": 1, "nonnum": 1}


def test_missing_size_and_missing_image(tmp_path: Path) -> None:
    root = _tree(tmp_path / "v", {"a": _xml("a.jpg", (0, 0), [_obj("cat", (1, 1, 4, 4))])}, None)
    with pytest.warns(UserWarning):
        ds = from_voc(root)
    assert ds.samples.at["a", "issues"] == "missing_file"
    assert np.isnan(ds.samples.at["a", "width"])
    assert len(ds.gt_objects) == 1  # kept: nothing to check it against


def test_image_file_fallback(tmp_path: Path) -> None:
    root = tmp_path / "v"
    _jpeg(root / "JPEGImages" / "a.jpg", (10, 10))
    _jpeg(root / "JPEGImages" / "b.jpg", (12, 10))
    _jpeg(root / "JPEGImages" / "sub" / "c.jpg", (14, 10))
    _tree(
        root,
        {
            "a": _xml(None, (10, 10), []),  # no filename: <id>.jpg
            "b": _xml("b.png", (12, 10), []),  # names a missing file, <id>.jpg exists
            "c": _xml("sub/c.jpg", (14, 10), []),  # a relative path under JPEGImages
        },
        None,
    )
    ds = _load(root)
    assert ds.samples["path"].tolist() == [
        str(root / "JPEGImages" / n) for n in ("a.jpg", "b.jpg", "sub/c.jpg")
    ]
    assert (ds.samples["issues"] == "").all()
    p = read_voc(root).images()
    assert p["file_name"].tolist() == ["a.jpg", "b.png", "sub/c.jpg"]


def test_not_a_voc_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_voc(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a Pascal VOC folder"):
        read_voc(tmp_path / "empty")
    with pytest.raises(ValueError, match="image checking"):
        read_voc(tmp_path / "empty", check_images="sometimes")


def test_many_xmls(tmp_path: Path) -> None:
    """Thousands of XMLs load (ElementTree per file, one frame per table at the end)."""
    root = tmp_path / "many"
    (root / "Annotations").mkdir(parents=True)
    n = 3000
    for i in range(n):
        objs = "".join(_obj("cat", (1 + k, 1, 10 + k, 10)) for k in range(i % 3))
        (root / "Annotations" / f"{i:06d}.xml").write_text(_xml(f"{i:06d}.jpg", (50, 50), [objs]))
    ds = _load(root, check_images=False)
    assert len(ds.samples) == n and len(ds.gt_objects) == sum(i % 3 for i in range(n))


# ---------------------------------------------------------------------- writing
@pytest.fixture
def det_ds(tmp_path: Path) -> nbdiag.Dataset:
    files = [_jpeg(tmp_path / "imgs" / f"img{i}.jpg", (64, 48), seed=i) for i in range(3)]
    samples = pd.DataFrame(
        {"path": [str(f) for f in files], "split": ["train", "val", None]},
        index=pd.Index(["a", "b/c d", 7], dtype=object, name="id"),
    )
    rng = np.random.default_rng(1)
    n = 7
    objects = pd.DataFrame(
        {
            "sample_id": ["a", "a", "a", "b/c d", "b/c d", 7, 7],
            "label": ["zebra", "ant", "zebra", "ant", "ant", "zebra", "ant"],
            "x": np.r_[0.0, rng.uniform(0, 30, n - 1)],
            "y": np.r_[0.0, rng.uniform(0, 20, n - 1)],
            "w": np.r_[64.0, rng.uniform(1, 30, n - 1).round(2)],
            "h": np.r_[48.0, rng.uniform(1, 25, n - 1)],
            "difficult": [False, True, False, False, True, False, False],
            "truncated": [True, False, False, False, False, True, False],
            "pose": ["Left", None, "Rear", None, None, None, "Frontal"],
        },
        index=pd.Index([100, 101, 102, "x", "y", 103, 104], dtype=object, name="object_id"),
    )
    ds = nbdiag.Dataset(samples, objects, class_names=["zebra", "ant", "bee"], name="zoo")
    ds.add_run(
        "det",
        pd.DataFrame(
            {
                "sample_id": ["a", 7],
                "label": ["ant", "zebra"],
                "x": [1.25, 3.0],
                "y": [2.0, 4.1],
                "w": [10.0, 20.3],
                "h": [5.5, 6.0],
                "score": [0.875, 0.1],
            },
            index=pd.Index(["p1", "p2"], name="object_id"),
        ),
    )
    return ds


def _write(ds, out: Path, run=None, min_score=0.0, include_labels=True, ids=None) -> Path:
    ids = list(ds.samples.index) if ids is None else ids
    files = {i: ds.samples.at[i, "path"] for i in ids}
    return write_voc(ds, ids, files, run, min_score, include_labels, out)


def test_round_trip_is_exact(det_ds: nbdiag.Dataset, tmp_path: Path) -> None:
    out = _write(det_ds, tmp_path / "export", run=det_ds.runs["det"], min_score=0.5)
    back = _load(out)
    assert list(back.samples.index) == list(det_ds.samples.index)  # true ids, types kept
    assert back.class_names == ["zebra", "ant", "bee"]  # order (and the unused class) kept
    assert back.samples["split"].tolist()[:2] == ["train", "val"]
    assert pd.isna(back.samples["split"].iloc[2])  # no split: written to trainval.txt
    assert (back.samples["issues"] == "").all()
    a, b = det_ds.gt_objects, back.gt_objects
    assert list(b.index) == list(a.index)
    for col in ("x", "y", "w", "h"):
        np.testing.assert_array_equal(b[col].to_numpy(), a[col].to_numpy())
    assert b["label"].astype(str).tolist() == a["label"].astype(str).tolist()
    assert b["sample_id"].tolist() == a["sample_id"].tolist()
    assert b["difficult"].tolist() == a["difficult"].tolist()
    assert b["truncated"].tolist() == a["truncated"].tolist()
    assert not b["occluded"].any()
    assert b["pose"].tolist() == ["Left", "Unspecified", "Rear", "Unspecified", "Unspecified", "Unspecified", "Frontal"]  # fmt: skip
    # pre-labels come back as boxes with a score (and their object id); below min_score: none
    boxes = read_voc(out).boxes()
    pre = boxes[boxes["score"].notna()]
    run_boxes = det_ds.run_boxes("det")
    kept = run_boxes[run_boxes["score"] >= 0.5]
    assert pre["object_id"].tolist() == list(kept.index) and pre["score"].tolist() == [0.875]
    assert pre[["x", "y", "w", "h"]].to_numpy().tolist() == [[1.25, 2.0, 10.0, 5.5]]
    # the images: symlinks to the originals, named after the id
    names = sorted(os.listdir(out / "JPEGImages"))
    assert names == ["7.jpg", "a.jpg", "b_c_d.jpg"]
    link = out / "JPEGImages" / "a.jpg"
    assert link.resolve() == Path(det_ds.samples.at["a", "path"]).resolve()
    assert sorted(os.listdir(out / "ImageSets" / "Main")) == ["train.txt", "trainval.txt", "val.txt"]  # fmt: skip
    assert (out / "ImageSets" / "Main" / "val.txt").read_text() == "b_c_d\n"
    # a valid VOC XML for other tools: corners 1-based, the sample id kept
    xml = ET.parse(out / "Annotations" / "a.xml").getroot()
    first = xml.find("object/bndbox")
    assert [first.findtext(k) for k in ("xmin", "ymin", "xmax", "ymax")] == ["1", "1", "64", "48"]
    assert xml.findtext("size/width") == "64" and xml.find("nbdiag_id").text == "a"
    assert ET.parse(out / "Annotations" / "7.xml").getroot().find("nbdiag_id").get("type") == "int"


@settings(max_examples=300, deadline=None)
@given(
    x=st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=True),
    w=st.floats(0, 1e6, allow_nan=False, allow_subnormal=True),
)
def test_corners_invert_exactly(x: float, w: float) -> None:
    """Any float box edge survives writing and reading bit for bit."""
    xmin, xmax = corner_texts(x, w)
    obj = ET.fromstring(_obj("cat", (xmin, xmin, xmax, xmax)))
    rec = voc._Record({})
    box = voc._parse_object(obj, "what", rec)
    assert not rec.problems and box is not None
    assert (box["x"], box["y"], box["w"], box["h"]) == (x, x, w, w)


def test_in_memory_images_and_prelabels_only(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = {i: rng.integers(0, 256, (20, 30, 3), dtype=np.uint8) for i in (1, 2)}
    samples = pd.DataFrame(index=pd.Index([1, 2], name="id"))
    objects = pd.DataFrame(
        {"sample_id": [1], "label": ["cat"], "x": [1.0], "y": [2.0], "w": [3.0], "h": [4.0]}
    )
    ds = nbdiag.Dataset(samples, objects, class_names=["cat"], images=images)
    ds.add_run("m", pd.DataFrame({"sample_id": [2], "label": ["cat"], "x": [0.5], "y": [0.0], "w": [5.0], "h": [5.0], "score": [0.6]}))  # fmt: skip
    out = write_voc(ds, [1, 2], {1: None, 2: None}, ds.runs["m"], 0.0, False, tmp_path / "o")
    assert sorted(os.listdir(out / "JPEGImages")) == ["1.png", "2.png"]
    with Image.open(out / "JPEGImages" / "1.png") as im:
        assert im.size == (30, 20)
        assert np.array_equal(np.asarray(im), images[1])
    parsed = read_voc(out)
    assert parsed.images()["id"].tolist() == [1, 2]
    boxes = parsed.boxes()
    assert boxes["score"].tolist() == [0.6]  # include_labels=False: pre-labels only
    back = _load(out)
    assert len(back.gt_objects) == 0 and back.samples["width"].tolist() == [30, 30]


def test_write_refusals(det_ds: nbdiag.Dataset, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and is not a previous nbdiag VOC export"):
        _write(det_ds, busy)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        _write(det_ds, tmp_path / "file")
    # a previous export is replaced as a whole
    out = _write(det_ds, tmp_path / "again")
    (out / "Annotations" / "stale.xml").write_text("<annotation/>")
    _write(det_ds, out, ids=["a"])
    assert sorted(os.listdir(out / "Annotations")) == ["a.xml"]
    assert json.loads((out / "nbdiag.json").read_text())["export"] == "voc"
    # classification datasets: csv
    rng = np.random.default_rng(0)
    cls = nbdiag.Dataset.from_arrays(
        rng.integers(0, 256, (2, 6, 6), dtype=np.uint8), ["a", "b"], class_names=["a", "b"]
    )
    with pytest.raises(ValueError, match="format='csv'"):
        write_voc(cls, [0, 1], {0: None, 1: None}, None, 0.0, True, tmp_path / "cls")
    # no image at all
    bare = nbdiag.Dataset(
        pd.DataFrame(index=pd.Index(["s"], name="id")),
        pd.DataFrame(
            {"sample_id": ["s"], "label": ["a"], "x": [0.0], "y": [0.0], "w": [1.0], "h": [1.0]}
        ),  # fmt: skip
    )
    with pytest.raises(ValueError, match="without an image"):
        write_voc(bare, ["s"], {"s": None}, None, 0.0, True, tmp_path / "bare")
    assert not (tmp_path / "bare").exists()


# ---------------------------------------------------------------------- difficult objects
def test_evaluate_ignoring_difficult(tmp_path: Path) -> None:
    """Regular A, B and difficult C; detections on C (.95), A (.9), background (.8), B (.7)."""
    root = tmp_path / "eval"
    _jpeg(root / "JPEGImages" / "im.jpg", (100, 40))
    objs = [
        _obj("cat", (1, 1, 10, 10)),
        _obj("cat", (31, 1, 40, 10)),
        _obj("cat", (61, 1, 70, 10), difficult=1),
    ]
    _tree(root, {"im": _xml("im.jpg", (100, 40), objs)}, {"test": ["im"]})
    ds = _load(root)
    ds.add_run(
        "m",
        pd.DataFrame(
            {
                "sample_id": ["im"] * 4,
                "label": ["cat"] * 4,
                "x": [60.0, 0.0, 80.0, 30.0],
                "y": [0.0, 0.0, 25.0, 0.0],
                "w": [10.0] * 4,
                "h": [10.0] * 4,
                "score": [0.95, 0.9, 0.8, 0.7],
            }
        ),
    )
    ev = ds.evaluate("m", ignore="difficult", progress=False)
    assert ev.predictions["match"].tolist() == ["ignored", "tp", "fp", "tp"]
    assert ev.ground_truth["match"].tolist() == ["tp", "tp", "ignored"]
    assert ev.per_class.loc["cat", "n_gt"] == 2
    # TP FP TP over 2: precision 1 up to recall 0.5 (51 points), 2/3 above (50 points)
    assert ev.coco_stats[1] == pytest.approx((51 + 50 * 2 / 3) / 101, abs=1e-12)
    plain = ds.evaluate("m", progress=False)
    assert plain.predictions["match"].tolist() == ["tp", "tp", "fp", "tp"]
    # TP TP FP TP over 3: 1 up to recall 2/3 (67 points), 3/4 above (34 points)
    assert plain.coco_stats[1] == pytest.approx((67 + 34 * 0.75) / 101, abs=1e-12)


def test_split_names_round_trip(det_ds: nbdiag.Dataset, tmp_path: Path) -> None:
    """A split with an underscore is written without one (VOC's class files have one) and
    read back under its own name; the reader's default takes the splits nbdiag.json lists."""
    det_ds.samples.loc[:, "split"] = ["my_split", "my_split", "test"]
    out = _write(det_ds, tmp_path / "s")
    assert sorted(os.listdir(out / "ImageSets" / "Main")) == ["my-split.txt", "test.txt"]
    (out / "ImageSets" / "Main" / "ant_test.txt").write_text("7 1\n")  # a VOC class file
    back = _load(out)
    assert back.samples["split"].tolist() == ["my_split", "my_split", "test"]
    assert list(_load(out, split="test").samples.index) == [7]
