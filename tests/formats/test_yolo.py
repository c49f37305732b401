"""YOLO / Ultralytics: reading data.yaml datasets (folders, txt lists, dict/list names,
polygons, background images), bad input as data problems naming file and line, prediction
folders, and write_yolo -> read_yolo round trips in a valid Ultralytics layout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

import nbdiag
from nbdiag.io.formats import to_dataset
from nbdiag.io.formats.yolo import from_yolo, read_yolo, read_yolo_predictions, write_yolo

NAMES = ["person", "car", "dog"]
#: image (relative to the dataset root) -> (width, height)
SIZES = {
    "images/train/a.jpg": (64, 48),
    "images/train/b.png": (32, 32),
    "images/train/bg.png": (40, 20),  # a background image: no label file
    "images/val/c.png": (50, 40),
}
#: pixel boxes (class id, x, y, w, h) per image
BOXES = {
    "images/train/a.jpg": [(0, 4.0, 6.0, 20.0, 30.0), (1, 30.0, 10.0, 34.0, 38.0)],
    "images/train/b.png": [(2, 0.0, 0.0, 32.0, 32.0)],
    "images/val/c.png": [(1, 10.0, 5.0, 25.0, 15.0)],
}
#: pixel polygons (class id, [(x, y), ...]) per image
POLYGONS = {"images/train/b.png": [(0, [(2.0, 3.0), (20.0, 3.0), (11.0, 25.0)])]}


def box_line(cid, x, y, w, h, size, extra=""):
    """A YOLO label line for a pixel box (the oracle: computed here, not by nbdiag)."""
    iw, ih = size
    return (
        f"{cid} {(x + w / 2) / iw:.10f} {(y + h / 2) / ih:.10f} {w / iw:.10f} {h / ih:.10f}{extra}"
    )


def polygon_line(cid, points, size):
    iw, ih = size
    return f"{cid} " + " ".join(f"{px / iw:.10f} {py / ih:.10f}" for px, py in points)


def label_of(image: str) -> str:
    """Ultralytics' img2label_paths rule, written out independently."""
    a, b = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return b.join(image.rsplit(a, 1)).rsplit(".", 1)[0] + ".txt"


def expected_boxes():
    """(sample id, class name, x, y, w, h) of every box the fixture's labels describe."""
    rows = [(img, NAMES[c], x, y, w, h) for img, bs in BOXES.items() for c, x, y, w, h in bs]
    for img, polys in POLYGONS.items():
        for c, pts in polys:
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            rows.append((img, NAMES[c], min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)))
    return sorted(rows)


def got_boxes(ds) -> list:
    gt = ds.gt_objects
    return sorted(
        zip(gt["sample_id"], gt["label"].astype(str), gt["x"], gt["y"], gt["w"], gt["h"],
            strict=True)
    )  # fmt: skip


def assert_boxes_close(got, want, tol=1e-6):
    assert [g[:2] for g in got] == [w[:2] for w in want]
    np.testing.assert_allclose([g[2:] for g in got], [w[2:] for w in want], atol=tol, rtol=0)


@pytest.fixture
def yolo_root(tmp_path, make_image) -> Path:
    root = tmp_path / "ds"
    for k, (rel, size) in enumerate(SIZES.items()):
        make_image(root / rel, size, seed=k)
    for rel in set(BOXES) | set(POLYGONS):
        lines = [box_line(c, x, y, w, h, SIZES[rel]) for c, x, y, w, h in BOXES.get(rel, [])]
        lines += [polygon_line(c, pts, SIZES[rel]) for c, pts in POLYGONS.get(rel, [])]
        label = Path(label_of(str(root / rel)))
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("\n".join(lines) + "\n")
    (root / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/val\nnames:\n  0: person\n  1: car\n  2: dog\n"
    )
    return root


def label_file(root: Path, rel: str) -> Path:
    return Path(label_of(str(root / rel)))


# ---------------------------------------------------------------------- reading
def test_reads_an_ultralytics_dataset_with_dict_names(yolo_root):
    ds = from_yolo(yolo_root / "data.yaml")
    assert ds.class_names == NAMES
    assert list(ds.samples.index) == sorted(SIZES)  # ids: paths relative to the root
    assert ds.samples["split"].tolist() == ["train", "train", "train", "val"]
    for rel, (w, h) in SIZES.items():
        assert (ds.samples.at[rel, "width"], ds.samples.at[rel, "height"]) == (w, h)
        assert ds.samples.at[rel, "path"] == str(yolo_root / rel)
    assert (ds.samples["issues"] == "").all()
    assert_boxes_close(got_boxes(ds), expected_boxes())
    assert "images/train/bg.png" not in set(ds.gt_objects["sample_id"])  # background image
    assert list(ds.gt_objects.index) == list(range(len(ds.gt_objects)))
    seg = ds.gt_objects["segmentation"]
    polys = seg[seg.notna()].tolist()
    [(_, pts)] = POLYGONS["images/train/b.png"]
    np.testing.assert_allclose(polys, [[v for p in pts for v in p]], atol=1e-6)
    assert ds.name == "ds"


def test_list_names_txt_lists_and_a_folder_argument(yolo_root):
    (yolo_root / "data.yaml").unlink()
    (yolo_root / "lists").mkdir()
    (yolo_root / "lists" / "train.txt").write_text(
        "\ufeff../images/train/a.jpg\r\n\r\n../images/train/b.png\r\n"
    )  # BOM, CRLF, relative to the list's folder
    (yolo_root / "lists" / "more.txt").write_text(f"{yolo_root / 'images/train/bg.png'}\n")
    (yolo_root / "data.yml").write_text(
        "train: [lists/train.txt, lists/more.txt]\nval: images/val\nnc: 3\n"
        "names: [person, car, dog]\n"
    )
    ds = from_yolo(yolo_root)  # the folder: finds data.yml
    assert list(ds.samples.index) == [
        "images/train/a.jpg",
        "images/train/b.png",
        "images/train/bg.png",
        "images/val/c.png",
    ]
    assert_boxes_close(got_boxes(ds), expected_boxes())


def test_path_key_is_relative_to_the_yaml_and_splits_can_be_chosen(yolo_root, tmp_path):
    conf = tmp_path / "configs" / "my.yaml"
    conf.parent.mkdir()
    conf.write_text(
        "path: ../ds\ntrain: images/train\nval: images/val\nnames: [person, car, dog]\n"
    )
    ds = from_yolo(conf, split="val")
    assert list(ds.samples.index) == ["images/val/c.png"]
    assert ds.samples["split"].tolist() == ["val"]
    assert_boxes_close(
        got_boxes(ds), [b for b in expected_boxes() if b[0].startswith("images/val")]
    )
    both = read_yolo(conf, split=["val", "train"]).images()
    assert both["split"].tolist() == ["val", "train", "train", "train"]
    with pytest.raises(ValueError, match=r"my\.yaml.*no split 'test'"):
        read_yolo(conf, split="test")


def test_folder_without_yaml_uses_classes_txt_or_names(yolo_root):
    (yolo_root / "data.yaml").unlink()
    with pytest.raises(ValueError, match="classes.txt"):
        read_yolo(yolo_root)
    ds = from_yolo(yolo_root, names={0: "person", 1: "car", 2: "dog"})
    assert ds.samples["split"].tolist() == ["train", "train", "train", "val"]
    assert_boxes_close(got_boxes(ds), expected_boxes())
    (yolo_root / "classes.txt").write_text("person\ncar\ndog\n\n")
    assert_boxes_close(got_boxes(from_yolo(yolo_root)), expected_boxes())


def test_a_data_yaml_written_by_the_test_matches_ultralytics_label_rule(yolo_root):
    parsed = read_yolo(yolo_root)
    images = parsed.images()
    for rel, what in zip(images["file_name"], images["what"], strict=True):
        assert str(yolo_root / what) == label_of(str(yolo_root / rel))


# ---------------------------------------------------------------------- bad input
def test_bad_lines_become_problems_naming_file_and_line(yolo_root):
    a = label_file(yolo_root, "images/train/a.jpg")
    good = a.read_text().splitlines()
    a.write_text(
        "\n".join(
            [
                good[0],  # line 1: fine
                "0 0.5 0.5 0.2",  # 2: wrong column count
                "1 0.5 abc 0.2 0.2",  # 3: not a number
                "7 0.5 0.5 0.2 0.2",  # 4: class id outside names
                "0 0.5 0.5 1.8 0.2",  # 5: outside [0, 1]
                "0 0.5 0.5 -0.1 0.2",  # 6: negative size
                "0 nan 0.5 0.1 0.1",  # 7: not finite
                "",  # 8: empty: ignored
                "0 0.5 0.5 1.0004 0.5",  # 9: tiny overshoot: clipped and kept
                "1.5 0.5 0.5 0.1 0.1",  # 10: class id not whole
                good[1],  # 11: fine
                "0 0.5 0.5 0.1 0.1 0.9",  # 12: a prediction (score): not ground truth
            ]
        )
    )
    with pytest.warns(UserWarning, match="annotation problem"):
        ds = from_yolo(yolo_root)
    row = ds.samples.loc["images/train/a.jpg"]
    assert set(row["issues"].split(",")) == {"malformed_annotation", "unknown_class", "invalid_box"}
    text = row["annotation_problems"]
    for n in (2, 3, 4, 5, 6, 7, 10):
        assert f"labels/train/a.txt line {n}:" in text
    for n in (1, 8, 9, 11, 12):
        assert f"line {n}:" not in text
    assert "class id 7 is not in names (0-2)" in text
    assert "'abc' is not a number" in text
    boxes = ds.gt_objects[ds.gt_objects["sample_id"] == "images/train/a.jpg"]
    assert len(boxes) == 3
    clipped = boxes[boxes["w"] > 60].iloc[0]
    assert (clipped["x"], clipped["w"]) == (0.0, 64.0)
    others = [b for b in expected_boxes() if b[0] != "images/train/a.jpg"]
    assert_boxes_close([b for b in got_boxes(ds) if b[0] != "images/train/a.jpg"], others)
    parsed = read_yolo(yolo_root)  # the prediction line is a box with a score
    assert parsed.boxes()["score"].notna().sum() == 1


def test_missing_and_corrupt_images_are_issues_and_their_boxes_problems(yolo_root):
    (yolo_root / "images/train/b.png").write_bytes(b"not an image" * 20)
    (yolo_root / "extra.txt").write_text("images/val/c.png\nimages/val/gone.png\nnotes.doc\n")
    label_file(yolo_root, "images/val/gone.png").write_text("0 0.5 0.5 0.2 0.2\n")
    (yolo_root / "data.yaml").write_text(
        "train: images/train\nval: extra.txt\ntest: images/test\nnames: [person, car, dog]\n"
    )
    with pytest.warns(UserWarning, match="annotation problem"):
        ds = from_yolo(yolo_root)
    s = ds.samples
    assert s.at["images/train/b.png", "issues"] == "corrupt_image,invalid_box"
    assert s.at["images/val/gone.png", "issues"] == "missing_file,invalid_box"
    assert (
        "labels/val/gone.txt line 1: the image's size is unknown (missing_file)"
        in (s.at["images/val/gone.png", "annotation_problems"])
    )
    assert "labels/train/b.txt line 2" in s.at["images/train/b.png", "annotation_problems"]
    assert np.isnan(s.at["images/val/gone.png", "width"])
    assert s.at["images/val/c.png", "issues"] == ""
    want = [b for b in expected_boxes() if b[0] != "images/train/b.png"]
    assert_boxes_close(got_boxes(ds), want)
    loose = [m for i, _, m in read_yolo(yolo_root).problems if i is None]
    assert any("extra.txt line 3: not an image file" in m for m in loose)
    assert any("images/test" in m and "does not exist" in m for m in loose)


def test_orphan_label_files_are_reported(yolo_root):
    label_file(yolo_root, "images/train/zz.png").write_text("0 0.5 0.5 0.2 0.2\n")
    problems = read_yolo(yolo_root).problems
    assert (None, "missing_file", "labels/train/zz.txt: label file without an image") in problems


def test_decode_catches_truncated_images(yolo_root):
    path = yolo_root / "images/train/a.jpg"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    header = read_yolo(yolo_root).images().set_index("id")
    decoded = read_yolo(yolo_root, check_images="decode").images().set_index("id")
    assert header.at["images/train/a.jpg", "issues"] == ""
    assert decoded.at["images/train/a.jpg", "issues"] == "truncated_image"
    for mode in (False, "exists", "header"):  # sizes are needed: headers are read anyway
        images = read_yolo(yolo_root, check_images=mode).images()
        assert images["width"].notna().all()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("train: [unclosed\n", "not valid YAML"),
        ("- a\n- b\n", "must hold a mapping"),
        ("train: images/train\n", "no class names"),
        ("train: images/train\nnames: [a, b]\nnc: 3\n", "'nc' is 3"),
        ("train: images/train\nnames: 5\n", "names must be a list"),
        ("train: images/train\nnames: {x: a}\n", "class id 'x'"),
        ("train: images/train\nnames: [a, a]\n", "duplicate class names"),
        ("names: [a]\n", "has no split key"),
        ("train: 5\nnames: [a]\n", "split 'train' must be a path"),
        ("path: 3\ntrain: images/train\nnames: [a]\n", "'path' must be a folder"),
        ("train: nowhere\nnames: [a]\n", "no images found"),
        ("train: images/train\nnc: 10000000000\n", "'nc' must be a whole number"),
        ("train: images/train\nnames: [a]\nkpt_shape: [17]\n", "kpt_shape"),
    ],
)
def test_unusable_yaml_raises_naming_the_file(yolo_root, text, match):
    (yolo_root / "data.yaml").write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        read_yolo(yolo_root / "data.yaml")
    assert "data.yaml" in str(info.value)


def test_missing_source():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_yolo("/no/such/dataset")


def test_pose_keypoints_are_kept_in_pixels(yolo_root):
    (yolo_root / "data.yaml").write_text(
        "train: images/train\nnames: [person, car, dog]\nkpt_shape: [2, 3]\n"
    )
    label_file(yolo_root, "images/train/bg.png").write_text(
        "0 0.5 0.5 0.5 0.5 0.25 0.5 2 0.75 0.25 1\n"
    )
    ds = from_yolo(yolo_root)
    row = ds.gt_objects[ds.gt_objects["sample_id"] == "images/train/bg.png"].iloc[0]
    assert (row["x"], row["y"], row["w"], row["h"]) == (10.0, 5.0, 20.0, 10.0)
    assert row["keypoints"] == [10.0, 10.0, 2.0, 30.0, 5.0, 1.0]


# ---------------------------------------------------------------------- predictions
def test_prediction_folder_becomes_a_run(yolo_root, tmp_path):
    ds = from_yolo(yolo_root)
    preds = tmp_path / "runs" / "predict" / "labels"
    preds.mkdir(parents=True)
    (preds / "a.txt").write_text(
        box_line(1, 30.0, 10.0, 34.0, 38.0, SIZES["images/train/a.jpg"], " 0.91") + "\n"
        + box_line(0, 4.0, 6.0, 20.0, 30.0, SIZES["images/train/a.jpg"], " 0.5") + "\n"
    )  # fmt: skip
    (preds / "c.txt").write_text(
        polygon_line(2, [(10, 5), (35, 5), (35, 20)], SIZES["images/val/c.png"]) + " 0.7\n"
    )
    (preds / "bg.txt").write_text("")
    frame = read_yolo_predictions(ds, tmp_path / "runs")
    assert list(frame.columns) == ["sample_id", "label", "x", "y", "w", "h", "score"]
    got = sorted(frame.itertuples(index=False, name=None))
    want = sorted(
        [
            ("images/train/a.jpg", "car", 30.0, 10.0, 34.0, 38.0, 0.91),
            ("images/train/a.jpg", "person", 4.0, 6.0, 20.0, 30.0, 0.5),
            ("images/val/c.png", "dog", 10.0, 5.0, 25.0, 15.0, 0.7),
        ]
    )
    assert [g[:2] for g in got] == [w[:2] for w in want]
    np.testing.assert_allclose([g[2:] for g in got], [w[2:] for w in want], atol=1e-6)
    ds.add_run("yolo11n", frame)
    assert len(ds.run_boxes("yolo11n")) == 3


def test_prediction_folder_errors_name_the_file(yolo_root, tmp_path):
    ds = from_yolo(yolo_root)
    preds = tmp_path / "p"
    preds.mkdir()
    (preds / "a.txt").write_text("0 0.5 0.5 0.1 0.1 0.3\n1 0.5 0.5 0.1 0.1\n")
    with pytest.raises(ValueError, match=r"a\.txt line 2: a box without a confidence"):
        read_yolo_predictions(ds, preds)
    (preds / "a.txt").write_text("9 0.5 0.5 0.1 0.1 0.3\n")
    with pytest.raises(ValueError, match=r"a\.txt line 1: class id 9"):
        read_yolo_predictions(ds, preds)
    (preds / "a.txt").write_text("x 0.5 0.5 0.1 0.1 0.3\n")
    with pytest.raises(ValueError, match=r"a\.txt line 1: 'x' is not a number"):
        read_yolo_predictions(ds, preds)
    (preds / "a.txt").write_text("0 0.5 0.5 0.1 0.1 0.3\n")
    for k in range(7):
        (preds / f"nobody{k}.txt").write_text("")
    with pytest.raises(ValueError, match=r"matching no sample.*nobody0\.txt.*and 2 more"):
        read_yolo_predictions(ds, preds)
    for k in range(7):
        (preds / f"nobody{k}.txt").unlink()
    assert len(read_yolo_predictions(ds, preds, names=["x", "y"])) == 1
    twin = yolo_root / "images" / "val" / "a.png"
    Image.new("RGB", (8, 8)).save(twin)
    ds2 = from_yolo(yolo_root)
    with pytest.raises(ValueError, match=r"several samples.*a\.txt"):
        read_yolo_predictions(ds2, preds)


# ---------------------------------------------------------------------- writing
def _files(ds):
    return {i: (None if pd.isna(p) else os.path.abspath(p)) for i, p in ds.samples["path"].items()}


def test_write_then_read_gives_the_same_boxes_classes_and_ids(yolo_root, tmp_path):
    ds = from_yolo(yolo_root)
    ids = list(ds.samples.index)
    out = write_yolo(ds, ids, _files(ds), None, 0.0, True, tmp_path / "export")
    assert out == tmp_path / "export"
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == NAMES and data["nc"] == 3 and "path" not in data
    assert data["train"] == "images/train" and data["val"] == "images/val"
    images = sorted(str(p.relative_to(out)) for p in (out / "images").rglob("*.*"))
    assert images == sorted(SIZES)
    for rel in images:
        assert (out / rel).is_symlink() and os.readlink(out / rel) == str(yolo_root / rel)
        assert Path(label_of(str(out / rel))).is_file()  # every image has its label file
    parsed = read_yolo(out)
    assert parsed.images()["nbdiag_id"].tolist() == ids
    back = to_dataset(parsed, name="back", check_images=False)
    assert_boxes_close(got_boxes(back), got_boxes(ds), tol=1e-6 * 64)
    assert back.class_names == NAMES
    assert back.samples["split"].tolist() == ds.samples["split"].tolist()


def _made_dataset(tmp_path, make_image):
    """Integer and string ids, two files named the same in one split, an in-memory image, no
    split for a sample, a GIF (not an Ultralytics image type), random boxes; image sizes
    only known from the files (the dataset leaves them empty)."""
    rng = np.random.default_rng(3)
    f1 = make_image(tmp_path / "src" / "x" / "img.png", (97, 53), seed=1)
    f2 = make_image(tmp_path / "src" / "y" / "img.png", (31, 77), seed=2)
    f3 = tmp_path / "src" / "anim.gif"
    Image.new("RGB", (20, 30), "red").save(f3)
    samples = pd.DataFrame(
        {
            "path": [str(f1), str(f2), str(f3), None],
            "split": ["val", "val", None, "val"],
        },
        index=pd.Index([7, "seven", 8, "in memory"], dtype=object),
    )
    size = {7: (97, 53), "seven": (31, 77), 8: (20, 30), "in memory": (16, 12)}
    rows = []
    for sid, (w, h) in size.items():
        for _ in range(3):
            x0, x1 = sorted(rng.uniform(0, w, 2))
            y0, y1 = sorted(rng.uniform(0, h, 2))
            rows.append((sid, str(rng.choice(["b", "a", "c"])), x0, y0, x1 - x0, y1 - y0))
    objects = pd.DataFrame(rows, columns=["sample_id", "label", "x", "y", "w", "h"])
    objects.index = [f"o{k}" for k in range(len(objects))]
    arrays = {"in memory": rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)}
    ds = nbdiag.Dataset(samples, objects, class_names=["c", "b", "a"], images=arrays, name="made")
    return ds, size


def test_round_trip_of_a_made_dataset(tmp_path, make_image):
    ds, size = _made_dataset(tmp_path, make_image)
    assert ds.samples["width"].isna().sum() == 3  # write_yolo reads the sizes from the files
    ids = list(ds.samples.index)
    out = write_yolo(ds, ids, _files(ds), None, 0.0, True, tmp_path / "out")
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["nbdiag_ids"] == {
        "images/val/img.png": 7,
        "images/val/img_2.png": "seven",
        "images/train/anim.png": 8,
        "images/val/in_memory.png": "in memory",
    }
    assert data["names"] == ["c", "b", "a"] and data["nbdiag"]["splits"] == ["train", "val"]
    assert not (out / "images/train/anim.png").is_symlink()  # GIF converted to PNG
    assert Image.open(out / "images/val/in_memory.png").size == (16, 12)
    parsed = read_yolo(out)
    images = parsed.images()
    by_id = dict(zip(images["nbdiag_id"], images.index, strict=True))
    boxes = parsed.boxes()
    key = lambda r: (str(r[0]), r[1:])  # noqa: E731 - ids of mixed types
    got = sorted(
        (
            (images.at[by_id[i], "nbdiag_id"], lab, x, y, w, h)
            for i in ids
            for lab, x, y, w, h in boxes[boxes["image"] == by_id[i]][
                ["label", "x", "y", "w", "h"]
            ].itertuples(index=False, name=None)
        ),
        key=key,
    )
    gt = ds.gt_objects
    want = sorted(
        zip(gt["sample_id"], gt["label"].astype(str), gt["x"], gt["y"], gt["w"], gt["h"],
            strict=True),
        key=key,
    )  # fmt: skip
    assert [g[:2] for g in got] == [w[:2] for w in want]
    for g, w in zip(got, want, strict=True):
        iw, ih = size[w[0]]
        assert np.allclose(g[2:], w[2:], atol=1e-6 * max(iw, ih), rtol=0)
    assert images["split"].tolist() == ["train", "val", "val", "val"]  # None -> train


def test_prelabels_go_to_a_predictions_folder(tmp_path, make_image):
    ds, _ = _made_dataset(tmp_path, make_image)
    ds.add_run(
        "model v2",
        pd.DataFrame(
            {
                "sample_id": [7, 7, "seven"],
                "label": ["a", "b", "c"],
                "x": [1.0, 2.0, 3.0],
                "y": [1.0, 2.0, 3.0],
                "w": [10.0, 20.0, 5.0],
                "h": [10.0, 20.0, 5.0],
                "score": [0.9, 0.1, 0.5],
            }
        ),
    )
    ids = list(ds.samples.index)
    out = write_yolo(ds, ids, _files(ds), ds.runs["model v2"], 0.3, False, tmp_path / "pre")
    assert (out / "labels/val/img.txt").read_text() == ""  # include_labels=False
    assert (out / "labels/train/anim.txt").read_text() == ""
    lines = (out / "predictions/model_v2/val/img.txt").read_text().splitlines()
    iw, ih = 97, 53
    assert lines == [f"2 {6 / iw:.6f} {6 / ih:.6f} {10 / iw:.6f} {10 / ih:.6f} 0.900000"]
    assert (out / "predictions/model_v2/val/img_2.txt").read_text().startswith("0 ")
    assert (out / "predictions/model_v2/val/in_memory.txt").read_text() == ""
    assert read_yolo(out).boxes().empty  # labels/ only: pre-labels are not read back
    assert yaml.safe_load((out / "data.yaml").read_text())["nbdiag"]["prelabels"] == "model v2"


def test_prelabels_read_back_as_a_run(yolo_root, tmp_path):
    ds = from_yolo(yolo_root)
    gt = ds.gt_objects
    run = gt[["sample_id", "label", "x", "y", "w", "h"]].assign(
        score=np.linspace(0.1, 0.9, len(gt))
    )
    ds.add_run("m", run)
    out = write_yolo(
        ds, list(ds.samples.index), _files(ds), ds.runs["m"], 0.4, True, tmp_path / "o"
    )
    frame = read_yolo_predictions(ds, out / "predictions" / "m")  # every split
    want = run[run["score"] >= 0.4].astype({"label": str})
    assert len(want) == 3
    key = ["sample_id", "label", "score"]
    got = frame.sort_values(key).reset_index(drop=True)
    want = want.sort_values(key).reset_index(drop=True)
    assert (
        got[["sample_id", "label"]].values.tolist() == want[["sample_id", "label"]].values.tolist()
    )
    np.testing.assert_allclose(got[["x", "y", "w", "h"]], want[["x", "y", "w", "h"]], atol=64e-6)
    np.testing.assert_allclose(got["score"], want["score"], atol=1e-6)


def test_write_refuses_what_it_cannot_write(yolo_root, tmp_path):
    ds = from_yolo(yolo_root)
    ids = list(ds.samples.index)
    files = _files(ds)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty and is not a previous nbdiag YOLO export"):
        write_yolo(ds, ids, files, None, 0.0, True, busy)
    assert (busy / "mine.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="is a file"):
        write_yolo(ds, ids, files, None, 0.0, True, busy / "mine.txt")
    cls = nbdiag.Dataset(pd.DataFrame({"label": ["a", "b"]}), class_names=["a", "b"])
    with pytest.raises(ValueError, match="folder per class.*format='csv'"):
        write_yolo(cls, [0, 1], {0: None, 1: None}, None, 0.0, True, tmp_path / "cls")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert write_yolo(ds, ids[:1], files, None, 0.0, True, empty) == empty


def test_a_previous_export_is_replaced_as_a_whole(yolo_root, tmp_path):
    ds = from_yolo(yolo_root)
    ids = list(ds.samples.index)
    out = write_yolo(ds, ids, _files(ds), None, 0.0, True, tmp_path / "e")
    assert (out / "images/val/c.png").exists()
    write_yolo(ds, ids[:2], _files(ds), None, 0.0, True, out)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.*")) == [
        "data.yaml",
        "images/train/a.jpg",
        "images/train/b.png",
        "labels/train/a.txt",
        "labels/train/b.txt",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no debris
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["val"] == "images/train"  # Ultralytics needs a val key; nbdiag reads train only
    assert len(read_yolo(out).images()) == 2
