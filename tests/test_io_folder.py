"""from_folder: class folders, flat folders, split folders."""

from __future__ import annotations

import numpy as np
import pytest

from nbdiag.dataset import Dataset
from nbdiag.images import ImageLoadError
from nbdiag.io import from_folder


def test_class_layout(make_image, tmp_path):
    root = tmp_path / "pets"
    make_image(root / "dog" / "1.png", (10, 12))
    make_image(root / "cat" / "2.jpg", (20, 8))
    make_image(root / "cat" / "nested" / "3.PNG", (5, 5))
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / ".hidden.png").write_bytes(b"")
    (root / ".ipynb_checkpoints").mkdir()
    make_image(root / ".ipynb_checkpoints" / "x.png")
    (root / "zebra").mkdir()  # an empty class folder is still a class (torchvision order)
    ds = Dataset.from_folder(root)
    assert ds.name == "pets"
    assert ds.class_names == ["cat", "dog", "zebra"]
    assert list(ds.samples.index) == ["cat/2.jpg", "cat/nested/3.PNG", "dog/1.png"]
    assert ds.samples["label"].tolist() == ["cat", "cat", "dog"]
    assert ds.samples["width"].tolist() == [20.0, 5.0, 10.0]
    assert ds.samples.loc["dog/1.png", "path"] == str(root / "dog" / "1.png")
    assert ds.samples["split"].isna().all()
    assert ds.image("dog/1.png").size == (10, 12)


def test_class_layout_not_recursive(make_image, tmp_path):
    make_image(tmp_path / "cat" / "1.png")
    make_image(tmp_path / "cat" / "deeper" / "2.png")
    ds = from_folder(tmp_path, recursive=False)
    assert list(ds.samples.index) == ["cat/1.png"]


def test_flat_layout_is_unlabelled(make_image, tmp_path):
    for i in range(3):
        make_image(tmp_path / f"img{i}.png", (4 + i, 4))
    ds = from_folder(tmp_path, split="val", name="flat")
    assert ds.task == "unlabelled" and ds.class_names == []
    assert list(ds.samples.index) == ["img0.png", "img1.png", "img2.png"]
    assert (ds.samples["split"] == "val").all()


def test_labels_false_reads_subfolders_unlabelled(make_image, tmp_path):
    make_image(tmp_path / "2024-01" / "a.png")
    make_image(tmp_path / "2024-02" / "b.png")
    ds = from_folder(tmp_path, labels=False)
    assert list(ds.samples.index) == ["2024-01/a.png", "2024-02/b.png"]
    assert ds.samples["label"].isna().all()


def test_split_layout_is_detected(make_image, tmp_path):
    make_image(tmp_path / "train" / "cat" / "1.png")
    make_image(tmp_path / "train" / "dog" / "2.png")
    make_image(tmp_path / "val" / "dog" / "3.png")
    make_image(tmp_path / "test" / "bird" / "4.png")
    ds = from_folder(tmp_path)
    assert ds.class_names == ["bird", "cat", "dog"]
    assert ds.samples["split"].to_dict() == {
        "test/bird/4.png": "test",
        "train/cat/1.png": "train",
        "train/dog/2.png": "train",
        "val/dog/3.png": "val",
    }
    assert ds.samples.loc["val/dog/3.png", "label"] == "dog"


def test_split_layout_forced_and_refused(make_image, tmp_path):
    make_image(tmp_path / "fold1" / "a.png")
    make_image(tmp_path / "fold2" / "b.png")
    as_classes = from_folder(tmp_path)
    assert as_classes.class_names == ["fold1", "fold2"]
    as_splits = from_folder(tmp_path, splits=True)
    assert as_splits.task == "unlabelled"
    assert as_splits.samples["split"].tolist() == ["fold1", "fold2"]
    make_image(tmp_path / "other" / "train" / "c.png")
    with pytest.raises(ValueError, match="split='val' cannot be combined"):
        from_folder(tmp_path, splits=True, split="val")


def test_split_names_alone_do_not_make_classes(make_image, tmp_path):
    make_image(tmp_path / "train" / "a.png")
    make_image(tmp_path / "val" / "b.png")
    ds = from_folder(tmp_path)
    assert ds.task == "unlabelled"
    assert ds.samples["split"].tolist() == ["train", "val"]
    plain = from_folder(tmp_path, splits=False)
    assert plain.class_names == ["train", "val"]
    assert plain.samples["split"].isna().all()


def test_corrupt_images_are_recorded(make_image, tmp_path):
    make_image(tmp_path / "cat" / "good.png", (6, 6))
    (tmp_path / "cat" / "bad.png").write_bytes(b"\x89PNG garbage")
    ds = from_folder(tmp_path)
    assert ds.samples["issues"].to_dict() == {"cat/bad.png": "corrupt_image", "cat/good.png": ""}
    assert np.isnan(ds.samples.loc["cat/bad.png", "width"])
    with pytest.raises(ImageLoadError, match="bad.png"):
        ds.image("cat/bad.png")


def test_custom_extensions(make_image, tmp_path):
    make_image(tmp_path / "a.png")
    make_image(tmp_path / "b.bmp")
    assert list(from_folder(tmp_path, extensions=["bmp"]).samples.index) == ["b.bmp"]


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "empty" / "cat").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"no images found in folder .*empty"):
        from_folder(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="nowhere.*does not exist"):
        from_folder(tmp_path / "nowhere")
    with pytest.raises(NotADirectoryError, match="readme.txt"):
        from_folder(tmp_path / "empty" / "readme.txt")
