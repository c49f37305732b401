"""The Dataset: tables, labels, runs, tags, image access and display."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import nbdiag
from nbdiag.dataset import Dataset
from nbdiag.images import ImageLoadError
from nbdiag.runs import ClassificationRun, DetectionRun


@pytest.fixture
def cls_ds() -> Dataset:
    labels = ["cat", "dog", "bird", "cat"]
    return Dataset(
        pd.DataFrame({"label": labels}, index=["s1", "s2", "s3", "s4"]),
        class_names=["bird", "cat", "dog"],
        name="pets",
    )


@pytest.fixture
def det_ds() -> Dataset:
    samples = pd.DataFrame({"width": [100, 80], "height": [50, 40]}, index=[1, 2])
    objects = pd.DataFrame(
        {
            "sample_id": [1, 1, 2],
            "label": ["car", "person", "car"],
            "x": [0, 10, 5],
            "y": [0, 5, 5],
            "w": [20, 10, 30],
            "h": [10, 20, 30],
        },
        index=[101, 102, 103],
    )
    return Dataset(samples, objects)


# ---------------------------------------------------------------- tables and labels
def test_tables_have_the_documented_columns(cls_ds):
    assert list(cls_ds.samples.columns[:6]) == [
        "path",
        "width",
        "height",
        "label",
        "split",
        "issues",
    ]
    assert cls_ds.samples.index.name == "id"
    assert isinstance(cls_ds.samples["label"].dtype, pd.CategoricalDtype)
    assert list(cls_ds.samples["label"].cat.categories) == ["bird", "cat", "dog"]
    assert cls_ds.task == "classification"
    assert len(cls_ds) == 4


def test_class_names_inferred_in_natural_order():
    ds = Dataset(pd.DataFrame({"label": [10, 2, 1]}))
    assert ds.class_names == ["1", "2", "10"]


def test_integer_labels_map_to_class_names():
    ds = Dataset(pd.DataFrame({"label": [1, 0, None]}), class_names=["cat", "dog"])
    assert ds.samples["label"].tolist()[:2] == ["dog", "cat"]
    assert pd.isna(ds.samples["label"].iloc[2])


def test_integer_labels_with_missing_values_are_not_floats():
    ds = Dataset(pd.DataFrame({"label": [0, 1, np.nan]}))
    assert ds.class_names == ["0", "1"]


def test_id_column_becomes_the_index():
    ds = Dataset(pd.DataFrame({"id": ["x", "y"], "label": ["a", "b"]}))
    assert list(ds.samples.index) == ["x", "y"]


def test_paths_are_arrow_strings_missing_is_nan_and_extra_columns_kept():
    ds = Dataset(pd.DataFrame({"path": ["a.png", None], "weather": ["rain", "sun"]}))
    assert ds.samples["path"].iloc[0] == "a.png" and pd.isna(ds.samples["path"].iloc[1])
    assert ds.samples["path"].dtype == pd.StringDtype("pyarrow", na_value=np.nan)
    assert ds.samples["split"].dtype == pd.StringDtype("pyarrow", na_value=np.nan)
    ds.samples.loc[1, "split"] = "val"  # users set it as any text column
    assert ds.samples["weather"].tolist() == ["rain", "sun"]
    with pytest.raises(ValueError, match="sample 1 has neither an image file"):
        ds.image(1)


def test_samples_must_be_a_dataframe():
    with pytest.raises(TypeError, match="samples must be a pandas DataFrame, got list"):
        Dataset([1, 2])  # type: ignore[arg-type]


def test_detection_tables(det_ds):
    assert det_ds.task == "detection"
    assert det_ds.class_names == ["car", "person"]
    assert det_ds.objects.index.name == "object_id"
    assert (det_ds.objects["source"] == "gt").all()
    assert det_ds.objects["iscrowd"].dtype == bool
    assert len(det_ds.gt_objects) == 3


# ---------------------------------------------------------------- runs
def test_add_run_probabilities(cls_ds):
    probs = np.array([[0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.3, 0.2], [0.3, 0.3, 0.4]])
    run = cls_ds.add_run("m", probs)
    assert isinstance(run, ClassificationRun) and cls_ds.runs["m"] is run
    assert run.predictions["prediction"].tolist() == ["cat", "dog", "bird", "dog"]
    np.testing.assert_allclose(run.predictions["confidence"], [0.8, 0.6, 0.5, 0.4])
    assert list(run.probabilities.columns) == ["bird", "cat", "dog"]
    assert list(run.probabilities.index) == ["s1", "s2", "s3", "s4"]


def test_add_run_labels_names_and_indices(cls_ds):
    by_name = cls_ds.add_run("names", ["cat", "cat", "dog", "bird"])
    by_index = cls_ds.add_run("idx", np.array([1, 1, 2, 0]))
    assert by_name.predictions["prediction"].tolist() == by_index.predictions["prediction"].tolist()
    assert by_name.probabilities is None
    assert by_name.predictions["confidence"].isna().all()


def test_add_run_dataframe_of_class_columns(cls_ds):
    frame = pd.DataFrame(
        {"dog": [0.7, 0.1], "cat": [0.2, 0.1], "bird": [0.1, 0.8]}, index=["s2", "s3"]
    )
    run = cls_ds.add_run("m", frame)
    assert list(run.probabilities.columns) == ["bird", "cat", "dog"]  # reordered to classes
    assert run.predictions["prediction"].tolist() == ["dog", "bird"]
    assert list(run.predictions.index) == ["s2", "s3"]  # a subset of samples is fine


def test_add_run_dataframe_of_predictions(cls_ds):
    frame = pd.DataFrame({"prediction": ["dog", 0], "confidence": [0.9, 0.6]}, index=["s1", "s4"])
    frame["prediction"] = ["dog", "bird"]
    run = cls_ds.add_run("m", frame)
    assert run.predictions.loc["s1", "prediction"] == "dog"
    assert run.predictions.loc["s4", "confidence"] == 0.6


def test_add_run_dataframe_without_usable_columns(cls_ds):
    with pytest.raises(ValueError, match="needs a 'prediction' column or one probability column"):
        cls_ds.add_run("m", pd.DataFrame({"foo": [1]}, index=["s1"]))


def test_run_names_are_checked(cls_ds):
    cls_ds.add_run("m", ["cat"] * 4)
    with pytest.raises(ValueError, match="a run named 'm' exists already"):
        cls_ds.add_run("m", ["dog"] * 4)
    cls_ds.add_run("m", ["dog"] * 4, replace=True)
    assert cls_ds.runs["m"].predictions["prediction"].eq("dog").all()
    with pytest.raises(ValueError, match="run name must be a non-empty string other than 'gt'"):
        cls_ds.add_run("gt", ["dog"] * 4)
    with pytest.raises(KeyError, match="unknown run 'zzz'"):
        cls_ds.remove_run("zzz")
    cls_ds.remove_run("m")
    assert cls_ds.runs == {}


def test_add_detection_run(det_ds):
    boxes = pd.DataFrame(
        {
            "sample_id": [1, 2, 2],
            "label": ["car", "car", 1],
            "x": [1, 5, 0],
            "y": [1, 5, 0],
            "w": [19, 29, 10],
            "h": [9, 29, 10],
            "score": [0.9, 0.8, 0.3],
        }
    )
    boxes["label"] = ["car", "car", "person"]
    run = det_ds.add_run("yolo", boxes)
    assert isinstance(run, DetectionRun) and len(run) == 3
    pred = det_ds.run_boxes("yolo")
    # a block of integer ids of its own, above the ground truth's ids
    assert list(pred.index) == [1_000_000, 1_000_001, 1_000_002]
    assert det_ds.objects.index.dtype == np.int64  # 8 bytes a box, not a Python string
    assert (pred["source"] == "yolo").all()
    assert len(det_ds.gt_objects) == 3 and len(det_ds.objects) == 6
    det_ds.remove_run("yolo")
    assert len(det_ds.objects) == 3


def test_run_box_ids_blocks_and_replacement(det_ds):
    def boxes(n):
        return pd.DataFrame(
            {"sample_id": 1, "label": "car", "x": 0, "y": 0, "w": 5, "h": 5, "score": 0.5},
            index=range(n),
        )

    det_ds.add_run("a", boxes(2))
    det_ds.add_run("b", boxes(3))
    assert det_ds.run_boxes("a").index.tolist() == [1_000_000, 1_000_001]
    assert det_ds.run_boxes("b").index.tolist() == [2_000_000, 2_000_001, 2_000_002]
    det_ds.tag([1_000_001], "check", level="object")
    det_ds.add_run("a", boxes(4), replace=True)  # the same run again: its block, its tags
    assert det_ds.run_boxes("a").index.tolist() == list(range(1_000_000, 1_000_004))
    assert det_ds.tagged("check", level="object").index.tolist() == [1_000_001]
    det_ds.remove_run("b")
    det_ds.add_run("c", boxes(1))  # a new run after the largest id in use
    assert det_ds.run_boxes("c").index.tolist() == [2_000_000]


def test_run_box_ids_clear_of_user_ids():
    from nbdiag.core._tables import run_box_ids

    # text and numeric ids mixed (e.g. a store written before integer run ids)
    others = pd.Index([5, "det:0", "1999999", 2_500_000.0], dtype=object)
    assert run_box_ids(2, others).tolist() == [3_000_000, 3_000_001]
    assert run_box_ids(0, pd.Index([], dtype=object)).tolist() == []
    # a run of more than a block takes a block of the next power of ten
    big = run_box_ids(1_500_000, pd.Index([7]))
    assert big[0] == 10_000_000 and big[-1] == 11_499_999
    # a replacement keeps its start only where it stays clear of the others
    prev = pd.Index([1_000_000, 1_000_001])
    assert run_box_ids(3, pd.Index([1, 2]), prev)[0] == 1_000_000
    assert run_box_ids(3, pd.Index([1, 1_000_002]), prev)[0] == 2_000_000


def test_detection_run_needs_scores_and_labels(det_ds):
    boxes = pd.DataFrame(
        {"sample_id": [1], "label": ["car"], "x": [0], "y": [0], "w": [1], "h": [1]}
    )
    with pytest.raises(ValueError, match="need a 'score' column"):
        det_ds.add_run("d", boxes)
    with pytest.raises(ValueError, match="need a 'label' column"):
        det_ds.add_run("d", boxes.drop(columns="label").assign(score=0.5))


def test_detection_runs_from_objects_table():
    objects = pd.DataFrame(
        {
            "sample_id": ["a", "a"],
            "label": ["car", "car"],
            "x": [0, 1],
            "y": [0, 1],
            "w": [2, 2],
            "h": [2, 2],
            "source": ["gt", "model"],
            "score": [np.nan, 0.4],
        }
    )
    ds = Dataset(pd.DataFrame(index=["a"]), objects)
    assert list(ds.runs) == ["model"] and len(ds.runs["model"]) == 1


# ---------------------------------------------------------------- tags
def test_tag_ids_masks_and_frames(cls_ds):
    assert cls_ds.tag("s1", "check") == 1
    assert cls_ds.tag(["s1", "s2"], "check") == 1  # s1 already tagged
    assert cls_ds.tag(cls_ds.samples["label"] == "cat", "cats") == 2
    assert cls_ds.tag(np.array([False, False, True, False]), "birds") == 1
    assert cls_ds.tag(cls_ds.samples.loc[["s3", "s4"]], "frame") == 2
    assert list(cls_ds.tagged("check").index) == ["s1", "s2"]
    assert list(cls_ds.tagged("cats").index) == ["s1", "s4"]
    assert list(cls_ds.tagged("birds").index) == ["s3"]
    tags = cls_ds.tags
    assert set(tags.columns) == {"id", "tag", "level", "created"}
    assert (tags["level"] == "sample").all()
    assert cls_ds.untag(["s1"], "check") == 1
    assert list(cls_ds.tagged("check").index) == ["s2"]
    assert cls_ds.summary()["tags"] == 4


def test_tag_objects(det_ds):
    # object ids 101.. do not collide with sample ids 1, 2 -> detected as objects
    assert det_ds.tag([101, 103], "cars") == 2
    assert list(det_ds.tagged("cars", level="object").index) == [101, 103]
    # a frame of objects is tagged at object level even though ids could be sample ids
    assert det_ds.tag(det_ds.gt_objects.loc[[102]], "person") == 1
    assert det_ds.tags.set_index("tag").loc["person", "level"] == "object"
    mask = det_ds.objects["label"] == "person"
    assert det_ds.tag(mask, "p2") == 1
    assert det_ds.tags.set_index("tag").loc["p2", "level"] == "object"


def test_tag_errors(cls_ds):
    with pytest.raises(ValueError, match="unknown sample ids.*'nope'"):
        cls_ds.tag(["s1", "nope"], "x", level="sample")
    with pytest.raises(ValueError, match="tag must be a non-empty string"):
        cls_ds.tag("s1", "")
    with pytest.raises(ValueError, match="the boolean mask has 2 items but samples has 4"):
        cls_ds.tag(np.array([True, False]), "x")
    with pytest.raises(ValueError, match="level must be 'sample' or 'object'"):
        cls_ds.tag("s1", "x", level="image")


# ---------------------------------------------------------------- images
def test_images_from_files_and_thumbnails(make_image, tmp_path):
    paths = [make_image(tmp_path / "a.png", (200, 100)), make_image(tmp_path / "b.png", (10, 20))]
    ds = Dataset(pd.DataFrame({"path": [str(p) for p in paths]}, index=["a", "b"]))
    assert ds.image("a").size == (200, 100)
    thumb = ds.thumbnail("a", size=64)
    with Image.open(io.BytesIO(thumb)) as t:
        assert t.size == (64, 32)
    assert ds.thumbnail("a", size=64) is thumb  # served from the cache
    assert ds._thumbs.hits == 1
    with Image.open(io.BytesIO(ds.thumbnail("b", size=40, fmt="PNG"))) as t:
        assert (t.format, t.size) == ("PNG", (20, 40))
    with pytest.raises(KeyError, match="unknown sample id 'zz'"):
        ds.image("zz")


def test_in_memory_images_fill_sizes():
    arr = np.zeros((6, 9, 3), np.uint8)
    ds = Dataset(pd.DataFrame(index=["m"]), images={"m": arr})
    assert ds.samples.loc["m", ["width", "height"]].tolist() == [9.0, 6.0]
    assert ds.image("m").size == (9, 6)
    with pytest.raises(ValueError, match="in-memory image 'm' must be uint8, got float64"):
        Dataset(pd.DataFrame(index=["m"]), images={"m": arr.astype(float)})
    with pytest.raises(ValueError, match=r"unknown sample \(in images\) ids.*'x'"):
        Dataset(pd.DataFrame(index=["m"]), images={"x": arr})


def test_image_load_error_names_the_file(bad_images):
    ds = Dataset(pd.DataFrame({"path": [str(bad_images["corrupt"])]}, index=["c"]))
    with pytest.raises(nbdiag.ImageLoadError, match="corrupt.png"):
        ds.image("c")
    with pytest.raises(ImageLoadError):
        ds.thumbnail("c")


# ---------------------------------------------------------------- display
def test_repr_and_html(cls_ds):
    cls_ds.add_run("resnet", ["cat"] * 4)
    html = cls_ds._repr_html_()
    assert "pets" in html and "4 (4 labelled)" in html
    assert "cat (2)" in html and "bird (1)" in html
    assert "<code>resnet</code>: classification, 4 samples" in html
    assert repr(cls_ds) == "Dataset('pets': 4 samples, 0 objects, 3 classes, runs=['resnet'])"


def test_html_escapes_and_shows_issues_and_boxes(det_ds):
    det_ds.name = "<b>x</b>"
    det_ds.samples.loc[1, "issues"] = "missing_file"
    html = det_ds._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "image issues</th><td>1" in html
    assert "objects (ground truth)</th><td>3" in html and "car (2)" in html
    assert "none yet" in html


def test_failed_replacement_keeps_the_old_run(cls_ds, det_ds):
    cls_ds.add_run("m", ["cat"] * 4)
    with pytest.raises(ValueError, match="unknown class"):
        cls_ds.add_run("m", ["zebra"] * 4, replace=True)
    assert cls_ds.runs["m"].predictions["prediction"].eq("cat").all()

    boxes = pd.DataFrame(
        {"sample_id": [1], "label": ["car"], "x": [0], "y": [0], "w": [5], "h": [5], "score": [0.5]}
    )
    det_ds.add_run("d", boxes)
    det_ds.add_run("d", pd.concat([boxes, boxes]), replace=True)  # its own ids again: fine
    assert len(det_ds.run_boxes("d")) == 2
    with pytest.raises(
        ValueError, match="run 'd': NaN or infinite score for predicted boxes 1000000"
    ):
        det_ds.add_run("d", boxes.assign(score=np.nan), replace=True)
    assert len(det_ds.run_boxes("d")) == 2 and len(det_ds.objects) == 5
    det_ds.add_run("d", ["car", "person"], replace=True)  # detection -> classification
    assert len(det_ds.objects) == 3 and det_ds.runs["d"].kind == "classification"


def test_detection_run_object_ids(det_ds):
    boxes = pd.DataFrame(
        {
            "object_id": ["p1", "p1"],
            "sample_id": [1, 2],
            "label": ["car", "car"],
            "x": [0, 0],
            "y": [0, 0],
            "w": [5, 5],
            "h": [5, 5],
            "score": [0.5, 0.6],
        }
    )
    with pytest.raises(ValueError, match=r"duplicate object \(in run 'd'\) ids: 'p1'"):
        det_ds.add_run("d", boxes)
    with pytest.raises(ValueError, match="object ids already used: 101"):
        det_ds.add_run("d", boxes.assign(object_id=[101, 999]))
    det_ds.add_run("d", boxes.assign(object_id=["p1", "p2"]))
    assert list(det_ds.run_boxes("d").index) == ["p1", "p2"]


def test_predictions_of_the_wrong_type(cls_ds):
    with pytest.raises(TypeError, match="predictions must be an array"):
        cls_ds.add_run("m", 3)
    with pytest.raises(ValueError, match="must be 1-D or 2-D"):
        cls_ds.add_run("m", np.zeros((4, 3, 1)))


@pytest.mark.parametrize(
    "module",
    ["nbdiag.dataset", "nbdiag.io.arrays", "nbdiag.io.dataframe", "nbdiag.io.torch"],
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_a_dataset_pickles_and_deep_copies_for_worker_processes(tmp_path):
    import copy
    import pickle

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 8, 8), dtype=np.uint8)
    ds = nbdiag.Dataset.from_arrays(
        images, [0, 1, 0, 1, 0, 1], probs=rng.dirichlet([1, 1], 6), class_names=["a", "b"]
    )
    ds.tag([1, 2], "keep")
    ds.thumbnail(0)  # fills the thumbnail cache (it holds a lock)
    for twin in (pickle.loads(pickle.dumps(ds)), copy.deepcopy(ds)):
        assert twin.samples.equals(ds.samples) and list(twin.runs) == list(ds.runs)
        assert list(twin.tagged("keep").index) == [1, 2]
        assert np.array_equal(np.asarray(twin.image(3)), np.asarray(ds.image(3)))
        assert twin.thumbnail(0) == ds.thumbnail(0)  # re-made in the copy
    ds.save(tmp_path / "p")
    detached = pickle.loads(pickle.dumps(ds))  # a copy never writes to the original's store
    assert getattr(detached, "_store", None) is None


def test_float32_probabilities_stay_float32_and_evaluate_without_warnings(recwarn):
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(0)
    p = rng.random((200, 3)).astype(np.float32)
    p /= p.sum(1, keepdims=True)
    labels = rng.integers(0, 3, 200)
    ds = Dataset(pd.DataFrame({"label": labels}), class_names=["a", "b", "c"])
    run = ds.add_run("m", p)
    assert (run.probabilities.dtypes == np.float32).all()  # half the memory of float64
    p64 = p.astype(np.float64)
    expected = log_loss(labels, p64 / p64.sum(1, keepdims=True), labels=[0, 1, 2])
    assert ds.evaluate("m").log_loss == pytest.approx(expected, rel=1e-12)
    assert not [w for w in recwarn if "sum to one" in str(w.message)]
