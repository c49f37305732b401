"""Label maps in the data model: PNG folders read lazily, arrays kept in memory, semantic runs
from maps / scores / PNG folders, errors naming the sample, and the project store round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import nbdiag

CLASSES = ["background", "person", "bike"]


def _write_png(path: Path, arr: np.ndarray, mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    img = Image.frombytes(mode, (arr.shape[1], arr.shape[0]), arr.tobytes())
    if mode == "P":  # a palette image, as VOC stores its masks: the pixel values are indices
        img.putpalette(list(np.random.default_rng(0).integers(0, 255, 768).astype(np.uint8)))
    img.save(path)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    images, labels = tmp_path / "images", tmp_path / "labels"
    maps = {}
    for i, rel in enumerate(["a.jpg", "b.png", "city/c.jpg"]):
        h, w = 10 + i, 7 + 2 * i
        (images / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(images / rel)
        m = rng.integers(0, 3, (h, w)).astype(np.uint8)
        m[0, :3] = 255
        maps[rel] = m
        _write_png(labels / (rel.rsplit(".", 1)[0] + ".png"), m, mode="P" if i == 1 else "L")
    return images, labels, maps


def test_png_folders_are_matched_by_name_and_read_lazily(folders) -> None:
    images, labels, maps = folders
    ds = nbdiag.Dataset.from_label_maps(images, labels, CLASSES)
    assert ds.task == "semantic"
    with Image.open(labels / "b.png") as img:
        assert img.mode == "P"  # the palette case is exercised
    assert sorted(ds.samples.index) == sorted(maps)
    assert ds._label_maps.arrays == {}  # nothing held in memory: read from the files
    assert ds.samples.loc["city/c.jpg", "label_map"].endswith("city/c.png")
    for sid, m in maps.items():
        got = ds.label_map(sid)
        assert got.shape == m.shape
        np.testing.assert_array_equal(got, m)
    # predictions from a folder of PNGs, evaluated against numpy on the same pixels
    preds = tmp = labels.parent / "preds"
    want = {}
    for sid, m in maps.items():
        p = np.where(m == 255, 0, (m + 1) % 3).astype(np.uint8)
        p[:, 0] = m[:, 0].clip(0, 2)
        want[sid] = p
        _write_png(tmp / (sid.rsplit(".", 1)[0] + ".png"), p)
    run = ds.add_run("unet", preds)
    assert all(isinstance(v, str) for v in run.maps.values())
    np.testing.assert_array_equal(ds.label_map("b.png", "unet"), want["b.png"])
    ev = ds.evaluate("unet", progress=False)
    ref = nbdiag.evaluate_semantic(maps, want, CLASSES, progress=False)
    pd.testing.assert_frame_equal(ev.confusion_matrix(), ref.confusion_matrix())
    correct = sum(
        ((m == p) & (m != 255)).sum() for m, p in zip(maps.values(), want.values(), strict=True)
    )
    labelled = sum((m != 255).sum() for m in maps.values())
    assert ev.pixel_accuracy == pytest.approx(correct / labelled)


def test_save_and_open_round_trip_files_and_arrays(folders, tmp_path: Path) -> None:
    images, labels, maps = folders
    ds = nbdiag.Dataset.from_label_maps(images, labels, CLASSES, ignore_index=255)
    rng = np.random.default_rng(1)
    ds.add_run("arr", {sid: rng.integers(0, 3, m.shape) for sid, m in maps.items()})
    ds.save(tmp_path / "project")
    back = nbdiag.open(tmp_path / "project")
    assert back.task == "semantic" and back._label_maps.ignore_index == 255
    assert set(back.runs) == {"arr"} and back.runs["arr"].kind == "semantic"
    for sid in maps:
        np.testing.assert_array_equal(back.label_map(sid), ds.label_map(sid))
        np.testing.assert_array_equal(back.label_map(sid, "arr"), ds.label_map(sid, "arr"))
    pd.testing.assert_frame_equal(
        back.evaluate("arr").confusion_matrix(), ds.evaluate("arr").confusion_matrix()
    )
    assert back.run_history["kind"].tolist() == ["semantic"]
    assert back.run_history["miou"].iloc[0] == pytest.approx(ds.evaluate("arr").miou)

    # in-memory ground truth and a file-backed run survive too
    gt = np.stack([np.eye(5, dtype=np.uint8), np.full((5, 5), 2, np.uint8)])
    mem = nbdiag.Dataset.from_label_maps(np.zeros((2, 5, 5), np.uint8), gt, CLASSES, ignore_index=7)
    _write_png(tmp_path / "p" / "0.png", np.ones((5, 5)))
    mem.add_run("files", tmp_path / "p")
    mem.save(tmp_path / "mem")
    back = nbdiag.open(tmp_path / "mem")
    assert back._label_maps.ignore_index == 7
    np.testing.assert_array_equal(back.label_map(1), gt[1])
    np.testing.assert_array_equal(back.label_map(0, "files"), np.ones((5, 5)))
    back.remove_run("files")
    assert back.runs == {}


def test_size_mismatch_is_an_error_naming_the_sample(folders) -> None:
    images, labels, maps = folders
    ds = nbdiag.Dataset.from_label_maps(images, labels, CLASSES)
    preds = {sid: np.zeros(m.shape, np.uint8) for sid, m in maps.items()}
    preds["b.png"] = np.zeros((3, 3), np.uint8)
    with pytest.raises(ValueError, match=r"sample 'b.png' \(run 'bad'\).*3x3.*ground-truth"):
        ds.add_run("bad", preds)
    assert "bad" not in ds.runs
    # a ground-truth map of another size than its image
    with pytest.raises(ValueError, match="sample 1: the label map is 4x4"):
        nbdiag.Dataset.from_label_maps(
            np.zeros((2, 5, 5), np.uint8), [np.zeros((5, 5)), np.zeros((4, 4))], CLASSES
        )


def test_out_of_range_class_is_an_error_naming_the_sample(tmp_path: Path) -> None:
    gt = np.zeros((3, 4, 4), np.uint8)
    gt[2, 0, 0] = 5
    with pytest.raises(ValueError, match=r"sample 2: class indices 5 are outside 0..2"):
        nbdiag.Dataset.from_label_maps(np.zeros((3, 4, 4), np.uint8), gt, CLASSES)
    gt[2, 0, 0] = 255  # the ignore index is fine
    ds = nbdiag.Dataset.from_label_maps(np.zeros((3, 4, 4), np.uint8), gt, CLASSES)
    pred = np.zeros((3, 4, 4), np.int64)
    pred[1, 1, 1] = -1
    with pytest.raises(ValueError, match=r"sample 1 \(run 'm'\): class indices -1"):
        ds.add_run("m", pred)
    # a file read later is checked when read, naming the sample
    _write_png(tmp_path / "p" / "0.png", np.full((4, 4), 9))
    ds.add_run("files", tmp_path / "p")
    with pytest.raises(ValueError, match=r"sample 0 \(run 'files'\): class indices 9"):
        ds.evaluate("files")
    with pytest.raises(ValueError, match="have 4 channels but the dataset has 3 classes"):
        ds.add_run("logits", np.zeros((3, 4, 4, 4), np.float32))


def test_bad_inputs_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ignore_index=1 is the index of class 1"):
        nbdiag.Dataset.from_label_maps(
            np.zeros((1, 2, 2), np.uint8), np.zeros((1, 2, 2)), CLASSES, ignore_index=1
        )
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="rgb.png' is a RGB image"):
        nbdiag.Dataset.from_label_maps(
            np.zeros((1, 4, 4), np.uint8), [tmp_path / "rgb.png"], CLASSES
        ).label_map(0)
    ds = nbdiag.Dataset.from_label_maps(np.zeros((1, 2, 2), np.uint8), np.zeros((1, 2, 2)), CLASSES)
    with pytest.raises(TypeError, match="integer class indices"):
        ds.add_run("m", [np.full((2, 2), 0.5)])
    with pytest.raises(KeyError, match="unknown samples"):
        ds.add_run("m", {"nope": np.zeros((2, 2))})
