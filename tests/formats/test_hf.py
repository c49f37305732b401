"""from_hf / read_hf: Hugging Face datasets (classification and COCO-style detection), images
read in place (local files as paths, embedded bytes decoded on demand), splits, problems."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nbdiag.core.images import load_image
from nbdiag.dataset import Dataset
from nbdiag.images import ImageLoadError
from nbdiag.io.formats._hf_images import HFImages
from nbdiag.io.formats.hf import from_hf, read_hf

CLASSES = ["cat", "dog", "bird"]


def noise(w: int, h: int, seed: int, mode: str = "RGB") -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w) if mode == "L" else (h, w, 3), dtype=np.uint8)


def encoded(arr: np.ndarray, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img)


def labels(ds) -> list:
    return [None if isinstance(x, float) else x for x in ds.samples["label"].astype(object)]


def files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*") if p.is_file()}


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ---------------------------------------------------------------- classification
@pytest.fixture
def cls_hf(tmp_path):
    """3 images: two embedded PNGs (RGB, grayscale) and one PNG file; ClassLabel labels."""
    arrays = [noise(12, 8, 0), noise(10, 6, 1, "L"), noise(16, 9, 2)]
    path = tmp_path / "imgs" / "c.png"
    path.parent.mkdir()
    Image.fromarray(arrays[2]).save(path)
    feats = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=CLASSES)}
    )
    hf = datasets.Dataset.from_dict(
        {
            "image": [
                {"bytes": encoded(arrays[0]), "path": None},
                {"bytes": encoded(arrays[1]), "path": "orig/b.png"},
                str(path),
            ],
            "label": [2, 0, -1],
        },
        features=feats,
    )
    return hf, arrays, path


def test_classification_reads_images_in_place(cls_hf, tmp_path, monkeypatch):
    hf, arrays, path = cls_hf
    monkeypatch.chdir(tmp_path)
    before = files_under(tmp_path)
    ds = from_hf(hf, name="pets")
    assert files_under(tmp_path) == before  # no image written anywhere
    assert isinstance(ds, Dataset) and ds.name == "pets"
    assert list(ds.samples.index) == [0, 1, 2]
    assert ds.class_names == CLASSES
    assert ds.task == "classification"
    assert labels(ds) == ["bird", "cat", None]
    assert [None if pd.isna(p) else p for p in ds.samples["path"]] == [None, None, str(path)]
    assert list(ds.samples["width"]) == [12, 10, 16]
    assert list(ds.samples["height"]) == [8, 6, 9]
    assert (ds.samples["issues"] == "").all()
    for i, arr in enumerate(arrays):
        np.testing.assert_array_equal(pixels(ds.image(i)), arr)
    assert ds.image(1).mode == "L"


def test_embedded_images_are_served_lazily(cls_hf):
    hf, arrays, _ = cls_hf
    ds = from_hf(hf)
    images = ds._images
    assert isinstance(images, HFImages)
    assert len(images) == 2 and list(images) == [0, 1]
    assert 0 in images and 2 not in images and [1] not in images
    assert "2 embedded images" in repr(images)
    assert images.encoded(0) == encoded(arrays[0])
    with pytest.raises(KeyError):
        ds.image(99)


def test_read_hf_gives_the_parsed_tables(cls_hf):
    hf, _, path = cls_hf
    parsed = read_hf(hf)
    images = parsed.images()
    assert list(images["file_name"]) == [None, "orig/b.png", str(path)]
    assert list(images["path"]) == [None, None, str(path)]
    assert list(images["what"]) == ["row 0", "row 1", "row 2"]
    assert list(images["label"]) == ["bird", "cat", None]
    assert len(parsed.boxes()) == 0


def test_string_and_integer_label_columns(tmp_path):
    hf = datasets.Dataset.from_dict(
        {"fine": ["owl", "ant", None, "owl"], "coarse": [1, 0, 1, 7], "x": [1.5, 2.5, 3.5, 4.5]}
    )
    ds = from_hf(hf, image=None, label="fine")
    assert ds.class_names == ["ant", "owl"]
    assert list(ds.samples["x"]) == [1.5, 2.5, 3.5, 4.5]  # other scalar columns kept
    assert list(ds.samples["coarse"]) == [1, 0, 1, 7]
    with pytest.warns(UserWarning, match="row 3: label 7 is not a class index"):
        ds = from_hf(hf, image=None, label="coarse", class_names=["bug", "bird"])
    assert ds.class_names == ["bug", "bird"]
    assert labels(ds) == ["bird", "bug", "bird", None]
    assert ds.samples.loc[3, "issues"] == "unknown_class"
    ds = from_hf(hf, image=None, label="coarse")  # no names: the integers as text
    assert ds.class_names == ["0", "1", "7"]


# ---------------------------------------------------------------- detection
# Two images, "a" 100 x 50 and "b" 40 x 40, three boxes worked out by hand in each convention.
BOXES_XYWH = [[10, 5, 20, 10], [50, 25, 50, 25], [0, 0, 40, 20]]
BOXES = {
    "coco": BOXES_XYWH,
    "xyxy": [[10, 5, 30, 15], [50, 25, 100, 50], [0, 0, 40, 20]],
    "cxcywh": [[20, 10, 20, 10], [75, 37.5, 50, 25], [20, 10, 40, 20]],
    "yolo": [[0.2, 0.2, 0.2, 0.2], [0.75, 0.75, 0.5, 0.5], [0.5, 0.25, 1.0, 0.5]],
}


def detection_hf(fmt: str, layout: str, image_values) -> datasets.Dataset:
    boxes = BOXES[fmt]
    per_row = [([boxes[0], boxes[1]], [1, 0], [11, 12]), ([boxes[2]], [2], [13])]
    if layout == "dict":
        objects_feature = {
            "bbox": datasets.List(datasets.List(datasets.Value("float32"), length=4)),
            "category": datasets.List(datasets.ClassLabel(names=CLASSES)),
            "id": datasets.List(datasets.Value("int64")),
            "area": datasets.List(datasets.Value("float32")),
            "iscrowd": datasets.List(datasets.Value("bool")),
        }
        objects = [
            {
                "bbox": b,
                "category": c,
                "id": i,
                "area": [7.0] * len(c),
                "iscrowd": [k == 12 for k in i],
            }
            for b, c, i in per_row
        ]
    else:
        objects_feature = datasets.List(
            {
                "bbox": datasets.List(datasets.Value("float64"), length=4),
                "category": datasets.ClassLabel(names=CLASSES),
                "id": datasets.Value("int64"),
                "area": datasets.Value("float64"),
                "iscrowd": datasets.Value("int64"),
            }
        )
        objects = [
            [
                {"bbox": bb, "category": cc, "id": ii, "area": 7.0, "iscrowd": int(ii == 12)}
                for bb, cc, ii in zip(b, c, i, strict=True)
            ]
            for b, c, i in per_row
        ]
    feats = datasets.Features(
        {"image": datasets.Image(), "image_id": datasets.Value("int64"), "objects": objects_feature}
    )
    return datasets.Dataset.from_dict(
        {"image": image_values, "image_id": [101, 102], "objects": objects}, features=feats
    )


@pytest.mark.parametrize("layout", ["dict", "list"])
@pytest.mark.parametrize("fmt", list(BOXES))
def test_detection_in_every_bbox_format(fmt, layout):
    arrays = [noise(100, 50, 3), noise(40, 40, 4)]
    hf = detection_hf(fmt, layout, [{"bytes": encoded(a), "path": None} for a in arrays])
    ds = from_hf(hf, bbox_format=fmt)
    assert ds.task == "detection" and ds.class_names == CLASSES
    assert list(ds.samples.index) == [101, 102]  # the image_id column
    gt = ds.gt_objects
    assert list(gt.index) == [11, 12, 13]  # the objects' ids
    assert list(gt["sample_id"]) == [101, 101, 102]
    assert list(gt["label"].astype(str)) == ["dog", "cat", "bird"]
    np.testing.assert_allclose(gt[["x", "y", "w", "h"]].to_numpy(float), BOXES_XYWH, atol=1e-4)
    assert list(gt["area"]) == [7.0, 7.0, 7.0]
    assert list(gt["iscrowd"]) == [False, True, False]
    np.testing.assert_array_equal(pixels(ds.image(102)), arrays[1])


def test_detection_with_image_files_and_sizes_columns(tmp_path):
    for name, (w, h) in {"a.png": (100, 50), "b.jpg": (40, 40)}.items():
        Image.fromarray(noise(w, h, 5)).save(tmp_path / name)
    hf = detection_hf("yolo", "dict", [str(tmp_path / "a.png"), str(tmp_path / "b.jpg")])
    # normalised boxes need sizes: read from the files' headers even with check_images=False
    ds = from_hf(hf, bbox_format="yolo", check_images=False)
    assert list(ds.samples["path"]) == [str(tmp_path / "a.png"), str(tmp_path / "b.jpg")]
    assert list(ds.samples["width"]) == [100, 40]
    np.testing.assert_allclose(ds.gt_objects[["x", "y", "w", "h"]].to_numpy(float), BOXES_XYWH)
    hf = hf.add_column("width", [100, 41]).add_column("height", [50, 40])
    ds = from_hf(hf)
    assert list(ds.samples["issues"]) == ["", "size_mismatch"]
    assert list(ds.samples["width"]) == [100, 41]  # boxes are drawn in the given sizes


def test_sequence_feature_and_other_field_names():
    feats = datasets.Features(
        {
            "objects": datasets.Sequence(
                {
                    "bboxes": datasets.Sequence(datasets.Value("float32"), length=4),
                    "label": datasets.ClassLabel(names=CLASSES),
                }
            ),
            "width": datasets.Value("int32"),
            "height": datasets.Value("int32"),
        }
    )
    hf = datasets.Dataset.from_dict(
        {"objects": [{"bboxes": [[1, 2, 3, 4]], "label": [2]}], "width": [10], "height": [10]},
        features=feats,
    )
    ds = from_hf(hf, image=None)
    assert list(ds.gt_objects["label"].astype(str)) == ["bird"]
    assert ds.gt_objects[["x", "y", "w", "h"]].to_numpy().tolist() == [[1, 2, 3, 4]]


# ---------------------------------------------------------------- on disk, splits, order
def test_save_to_disk_and_load_from_disk(cls_hf, tmp_path, monkeypatch):
    hf, arrays, _ = cls_hf
    folder = tmp_path / "saved"
    quiet(hf.save_to_disk, str(folder))  # embeds the file-backed image as bytes
    loaded = datasets.load_from_disk(str(folder))
    assert loaded.cache_files  # Arrow-file backed (memory-mapped)
    monkeypatch.chdir(tmp_path)
    before = files_under(tmp_path)
    for source in (loaded, str(folder)):
        ds = from_hf(source)
        assert files_under(tmp_path) == before
        assert ds.samples["path"].isna().all()
        for i, arr in enumerate(arrays):
            np.testing.assert_array_equal(pixels(ds.image(i)), arr)
    assert ds.name == "saved"
    # save_to_disk keeps the file names of embedded images (and embeds the files)
    assert list(read_hf(str(folder)).images()["file_name"]) == [None, "b.png", "c.png"]


def test_dataset_dict_splits(cls_hf):
    hf, arrays, _ = cls_hf
    dd = datasets.DatasetDict(train=hf.select([0, 1]), test=hf.select([2]))
    ds = from_hf(dd)
    assert list(ds.samples.index) == ["train/0", "train/1", "test/0"]
    assert list(ds.samples["split"]) == ["train", "train", "test"]
    np.testing.assert_array_equal(pixels(ds.image("train/1")), arrays[1])
    np.testing.assert_array_equal(pixels(ds.image("test/0")), arrays[2])
    ds = from_hf(dd, split="test")
    assert list(ds.samples.index) == [0] and list(ds.samples["split"]) == ["test"]
    ds = from_hf(dd, split=["test", "train"])
    assert list(ds.samples.index) == ["test/0", "train/0", "train/1"]
    with pytest.raises(
        ValueError, match=r"unknown split\(s\) \['val'\]; the dataset has \['train', 'test'\]"
    ):
        from_hf(dd, split="val")
    ds = from_hf(hf, split="train")  # one Dataset: the name to record
    assert set(ds.samples["split"]) == {"train"}
    with pytest.raises(ValueError, match="one split"):
        from_hf(hf, split=["a", "b"])
    with_ids = hf.add_column("id", ["x", "y", "z"])
    dd = datasets.DatasetDict(train=with_ids.select([0, 1]), test=with_ids.select([2]))
    assert list(from_hf(dd).samples.index) == ["x", "y", "z"]


def test_selected_and_shuffled_rows_keep_their_order(cls_hf):
    hf, arrays, _ = cls_hf
    ds = from_hf(hf.add_column("image_id", [10, 11, 12]).select([2, 0]))
    assert list(ds.samples.index) == [12, 10]
    np.testing.assert_array_equal(pixels(ds.image(10)), arrays[0])
    np.testing.assert_array_equal(pixels(ds.image(12)), arrays[2])


def test_duplicate_ids_fall_back_to_positions(cls_hf):
    hf, _, _ = cls_hf
    ds = from_hf(hf.add_column("image_id", [1, 1, 2]))
    assert list(ds.samples.index) == [0, 1, 2]
    assert list(ds.samples["image_id"]) == [1, 1, 2]  # kept as a column


def test_duplicate_object_ids_are_renumbered():
    feats = datasets.Features(
        {
            "objects": {
                "bbox": datasets.List(datasets.List(datasets.Value("float32"))),
                "category": datasets.List(datasets.ClassLabel(names=CLASSES)),
                "id": datasets.List(datasets.Value("int64")),
            }
        }
    )
    objects = [{"bbox": [[0, 0, 1, 1], [0, 0, 2, 2]], "category": [0, 1], "id": [5, 5]}]
    ds = from_hf(datasets.Dataset.from_dict({"objects": objects}, features=feats), image=None)
    assert list(ds.gt_objects.index) == [0, 1]


def test_exif_orientation_of_embedded_jpeg(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: stored 32 x 24, shown 24 x 32
    data = encoded(noise(32, 24, 6), "JPEG", exif=exif)
    (tmp_path / "r.jpg").write_bytes(data)
    hf = datasets.Dataset.from_dict(
        {"image": [{"bytes": data, "path": None}]},
        features=datasets.Features({"image": datasets.Image()}),
    )
    ds = from_hf(hf)
    assert (ds.samples.loc[0, "width"], ds.samples.loc[0, "height"]) == (24, 32)
    np.testing.assert_array_equal(pixels(ds.image(0)), pixels(load_image(tmp_path / "r.jpg")))


def test_transparent_png_is_shown_over_white():
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[0, 0] = [255, 0, 0, 255]
    hf = datasets.Dataset.from_dict(
        {"img": [{"bytes": encoded(rgba), "path": None}]},
        features=datasets.Features({"img": datasets.Image()}),
    )
    ds = from_hf(hf)  # the one Image column, found without image=
    arr = pixels(ds.image(0))
    assert arr.shape == (4, 5, 3)
    assert arr[0, 0].tolist() == [255, 0, 0] and arr[1, 1].tolist() == [255, 255, 255]


# ---------------------------------------------------------------- problems
def test_bad_rows_become_problems_naming_the_row(tmp_path):
    good = noise(20, 10, 7)
    feats = datasets.Features(
        {
            "image": datasets.Image(),
            "objects": {
                "bbox": datasets.List(datasets.List(datasets.Value("float32"))),
                "category": datasets.List(datasets.ClassLabel(names=CLASSES)),
            },
        }
    )
    hf = datasets.Dataset.from_dict(
        {
            "image": [
                {"bytes": encoded(good), "path": None},
                None,
                {"bytes": b"not an image at all", "path": "x.png"},
                {"bytes": None, "path": "https://example.com/a.png"},
                str(tmp_path / "gone.png"),
            ],
            "objects": [
                {
                    "bbox": [[1, 1, 5, 5], [1, 2, 3], [15, 5, 10, 2], [1, float("nan"), 2, 2]],
                    "category": [0, 1, 2, 0],
                },
                {"bbox": [[1, 1, 1, 1], [2, 2, 2, 2]], "category": [0]},
                {"bbox": [], "category": []},
                {"bbox": [], "category": []},
                {"bbox": [], "category": []},
            ],
        },
        features=feats,
    )
    with pytest.warns(UserWarning, match="annotation problem"):
        ds = from_hf(hf)
    s = ds.samples
    assert list(ds.gt_objects.index) == [0]  # only the first box survives
    assert s.loc[0, "issues"] == "malformed_annotation,invalid_box"
    assert (
        "row 0 object 1: bbox [1.0, 2.0, 3.0] has 3 values, expected 4"
        in s.loc[0, "annotation_problems"]
    )
    assert (
        "row 0 object 2: box x=15 y=5 w=10 h=2 does not fit the 20x10 image"
        in s.loc[0, "annotation_problems"]
    )
    assert "row 0 object 3: box x=1 y=nan" in s.loc[0, "annotation_problems"]
    assert s.loc[1, "issues"] == "missing_file,malformed_annotation"
    assert "row 1: no image" in s.loc[1, "annotation_problems"]
    assert "row 1: 2 boxes but 1 categories" in s.loc[1, "annotation_problems"]
    assert s.loc[2, "issues"] == "corrupt_image"
    with pytest.raises(ImageLoadError, match="row 2 of the Hugging Face dataset"):
        ds.image(2)
    assert s.loc[3, "issues"] == "missing_file"
    assert "not a local file" in s.loc[3, "annotation_problems"]
    assert s.loc[4, "issues"] == "missing_file" and s.loc[4, "path"] == str(tmp_path / "gone.png")
    assert quiet(from_hf, hf, check_images=False).samples.loc[4, "issues"] == ""


def test_unusable_columns_raise_naming_the_column():
    hf = datasets.Dataset.from_dict({"objects": [[1, 2]], "caption": ["a"]})
    with pytest.raises(ValueError, match=r"objects column 'objects' has type list<item: int64>"):
        from_hf(hf, image=None)
    with pytest.raises(
        ValueError, match=r"no image column 'image'; the columns are \['objects', 'caption'\]"
    ):
        from_hf(hf)
    with pytest.raises(ValueError, match=r"no label column 'nope'"):
        from_hf(hf, image=None, label="nope")
    hf = datasets.Dataset.from_dict({"objects": [{"boxes": [[1, 2, 3, 4]], "what": [1]}]})
    with pytest.raises(
        ValueError, match=r"'objects' has no category field .* fields are \['boxes', 'what'\]"
    ):
        from_hf(hf, image=None)
    hf = datasets.Dataset.from_dict({"label": [[1, 2]]})
    with pytest.raises(ValueError, match="label column 'label' holds"):
        from_hf(hf, image=None)
    with pytest.raises(TypeError, match="expected a datasets.Dataset"):
        from_hf([1, 2, 3])


def test_reserved_column_names_are_renamed():
    hf = datasets.Dataset.from_dict(
        {"path": ["p"], "split": ["s"], "grade": [1]},
        features=datasets.Features(
            {
                "path": datasets.Value("string"),
                "split": datasets.Value("string"),
                "grade": datasets.ClassLabel(names=["low", "high"]),
            }
        ),
    )
    ds = from_hf(hf, image=None)
    assert ds.samples.loc[0, "hf_path"] == "p" and ds.samples.loc[0, "hf_split"] == "s"
    assert ds.samples.loc[0, "grade"] == "high"  # a ClassLabel column as names


# ---------------------------------------------------------------- the optional dependency
def test_datasets_is_never_imported_by_nbdiag_itself():
    code = (
        "import sys, nbdiag, nbdiag.io.formats.hf, nbdiag.io.run_boxes\n"
        "assert 'datasets' not in sys.modules, 'nbdiag imported datasets'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_loading_a_folder_without_datasets_names_the_extra(tmp_path, monkeypatch):
    (tmp_path / "saved").mkdir()
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'nbdiag\[hf\]'"):
        from_hf(str(tmp_path / "saved"))


def test_decode_check_finds_truncated_embedded_images():
    data = encoded(noise(64, 48, 8))
    feats = datasets.Features({"image": datasets.Image()})
    hf = datasets.Dataset.from_dict(
        {"image": [{"bytes": data[: len(data) // 2], "path": None}]}, features=feats
    )
    assert from_hf(hf, progress=True).samples.loc[0, "issues"] == ""  # the header is fine
    assert from_hf(hf, check_images="decode").samples.loc[0, "issues"] == "truncated_image"


def test_twenty_thousand_rows_column_wise():
    n, png = 20_000, encoded(noise(8, 6, 9))
    feats = datasets.Features(
        {
            "image": datasets.Image(),
            "objects": {
                "bbox": datasets.List(datasets.List(datasets.Value("float32"), length=4)),
                "category": datasets.List(datasets.ClassLabel(names=CLASSES)),
            },
        }
    )
    objects = [
        {"bbox": [[0, 0, 1 + r % 5, 1], [1, 1, 2, 2]], "category": [r % 3, (r + 1) % 3]}
        for r in range(n)
    ]
    hf = datasets.Dataset.from_dict(
        {"image": [{"bytes": png, "path": None}] * n, "objects": objects}, features=feats
    )
    ds = from_hf(hf, progress=False)
    assert len(ds) == n and len(ds.gt_objects) == 2 * n
    assert (ds.samples["width"] == 8).all() and (ds.samples["height"] == 6).all()
    last = ds.gt_objects.iloc[-2]
    assert (last["sample_id"], last["w"], str(last["label"])) == (
        n - 1,
        1 + (n - 1) % 5,
        CLASSES[(n - 1) % 3],
    )
    np.testing.assert_array_equal(pixels(ds.image(n - 1)), noise(8, 6, 9))
