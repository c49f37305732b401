"""Validation at the boundary: every error names the offending id, row or argument."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbdiag import validation as v
from nbdiag.dataset import Dataset


def _det_dataset() -> Dataset:
    samples = pd.DataFrame({"width": [100, 80], "height": [50, 40]}, index=["img1", "img2"])
    objects = pd.DataFrame(
        {"sample_id": ["img1"], "label": ["car"], "x": [0], "y": [0], "w": [10], "h": [10]},
        index=["o1"],
    )
    return Dataset(samples, objects, class_names=["car", "person"])


def test_duplicate_sample_ids():
    with pytest.raises(ValueError, match=r"duplicate sample ids: 'b'"):
        Dataset(pd.DataFrame({"label": ["x", "y", "z"]}, index=["a", "b", "b"]))


def test_missing_sample_ids():
    with pytest.raises(ValueError, match="sample ids must not be missing"):
        Dataset(pd.DataFrame({"label": ["x", "y"]}, index=["a", None]))


def test_duplicate_object_ids():
    objects = pd.DataFrame(
        {"sample_id": [1, 1], "x": [0, 0], "y": [0, 0], "w": [1, 1], "h": [1, 1]}, index=[7, 7]
    )
    with pytest.raises(ValueError, match="duplicate object ids: 7"):
        Dataset(pd.DataFrame(index=[1]), objects)


def test_listing_is_capped():
    with pytest.raises(ValueError, match=r"\(and 2 more\)"):
        v.check_unique_ids([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7])


def test_unknown_class_name():
    with pytest.raises(ValueError, match=r"unknown class in samples.label: 'b' \('zebra'\)"):
        Dataset(pd.DataFrame({"label": ["cat", "zebra"]}, index=["a", "b"]), class_names=["cat"])


def test_unknown_class_index():
    with pytest.raises(ValueError, match=r"unknown class index in samples.label: 'b' \(7\)"):
        Dataset(pd.DataFrame({"label": [0, 7]}, index=["a", "b"]), class_names=["cat", "dog"])


def test_duplicate_class_names():
    with pytest.raises(ValueError, match=r"duplicate class names: \['cat'\]"):
        Dataset(pd.DataFrame(index=[0]), class_names=["cat", "dog", "cat"])


def test_object_of_unknown_sample():
    objects = pd.DataFrame(
        {"sample_id": ["nope"], "x": [0], "y": [0], "w": [1], "h": [1]}, index=["o9"]
    )
    with pytest.raises(ValueError, match=r"unknown sample \(in objects.sample_id\) ids.*'nope'"):
        Dataset(pd.DataFrame(index=["a"]), objects)


def test_objects_missing_columns():
    with pytest.raises(ValueError, match=r"missing columns: \['h', 'w'\]"):
        Dataset(pd.DataFrame(index=[0]), pd.DataFrame({"sample_id": [0], "x": [0], "y": [0]}))


def test_box_outside_the_image():
    samples = pd.DataFrame({"width": [100], "height": [50]}, index=["img1"])
    objects = pd.DataFrame(
        {"sample_id": ["img1"], "x": [95], "y": [0], "w": [20], "h": [10]}, index=["box7"]
    )
    with pytest.raises(
        ValueError, match=r"boxes outside their image: 'box7'.*x 95..115.*100x50 image"
    ):
        Dataset(samples, objects)


def test_box_with_negative_size():
    objects = pd.DataFrame(
        {"sample_id": ["a"], "x": [1], "y": [1], "w": [-3], "h": [2]}, index=["neg1"]
    )
    with pytest.raises(ValueError, match=r"negative width or height for boxes 'neg1'"):
        Dataset(pd.DataFrame(index=["a"]), objects)


def test_box_with_nan_coordinate():
    boxes = pd.DataFrame({"x": [np.nan], "y": [0.0], "w": [1.0], "h": [1.0]}, index=["n1"])
    with pytest.raises(ValueError, match=r"non-finite coordinates for boxes 'n1'"):
        v.check_boxes(boxes)


def test_predicted_box_with_nan_score():
    ds = _det_dataset()
    boxes = pd.DataFrame(
        {
            "sample_id": ["img1", "img2"],
            "label": ["car", "car"],
            "x": [0, 0],
            "y": [0, 0],
            "w": [5, 5],
            "h": [5, 5],
            "score": [0.5, np.nan],
            "object_id": ["p1", "p2"],
        }
    )
    with pytest.raises(ValueError, match=r"NaN or infinite score for predicted boxes 'p2'"):
        ds.add_run("det", boxes)
    assert "det" not in ds.runs and len(ds.objects) == 1


def test_probabilities_not_summing_to_one():
    ds = Dataset(pd.DataFrame({"label": ["a", "b"]}, index=["s1", "s2"]))
    probs = np.array([[0.7, 0.3], [2.0, 3.0]]) / [[1.0], [10.0]]
    with pytest.raises(ValueError, match=r"sum to 1.*'s2' sums to 0.5000.*not logits"):
        ds.add_run("m", probs)


def test_probabilities_nan_and_range():
    ids = pd.Index(["s1", "s2"])
    with pytest.raises(ValueError, match=r"NaN or infinite probabilities for samples 's2'"):
        v.check_probabilities(np.array([[1.0, 0.0], [np.nan, 1.0]]), ids)
    with pytest.raises(ValueError, match=r"outside \[0, 1\] for samples 's1'"):
        v.check_probabilities(np.array([[1.5, -0.5], [0.5, 0.5]]), ids)


def test_probabilities_with_wrong_number_of_classes():
    ds = Dataset(pd.DataFrame({"label": ["a", "b"]}))
    with pytest.raises(ValueError, match="probabilities have 3 columns but the dataset has 2"):
        ds.add_run("m", np.full((2, 3), 1 / 3))


def test_predictions_of_mismatched_length():
    ds = Dataset(pd.DataFrame({"label": ["a", "b", "a"]}))
    with pytest.raises(ValueError, match="predictions of run 'm' has 2 items but samples has 3"):
        ds.add_run("m", ["a", "b"])


def test_predictions_for_unknown_sample():
    ds = Dataset(pd.DataFrame({"label": ["a", "b"]}, index=["s1", "s2"]))
    frame = pd.DataFrame({"prediction": ["a", "b"]}, index=["s1", "ghost"])
    with pytest.raises(ValueError, match=r"unknown sample \(in predictions\) ids.*'ghost'"):
        ds.add_run("m", frame)


def test_predictions_with_unknown_class():
    ds = Dataset(pd.DataFrame({"label": ["a", "b"]}, index=["s1", "s2"]))
    with pytest.raises(ValueError, match=r"unknown class in run 'm': 's2' \('zebra'\)"):
        ds.add_run("m", ["a", "zebra"])
    with pytest.raises(ValueError, match=r"unknown class index in run 'm': 's1' \(5\)"):
        ds.add_run("m", [5, 0])


def test_predicted_boxes_of_unknown_sample():
    ds = _det_dataset()
    boxes = pd.DataFrame(
        {"sample_id": ["ghost"], "label": ["car"], "x": [0], "y": [0], "w": [1], "h": [1]}
    )
    boxes["score"] = 0.9
    with pytest.raises(ValueError, match=r"unknown sample.*'ghost'"):
        ds.add_run("det", boxes)


def test_check_same_length_names_both():
    with pytest.raises(ValueError, match="labels has 2 items but images has 3"):
        v.check_same_length("labels", [1, 2], "images", [1, 2, 3])


def test_scores_message_pluralises():
    with pytest.raises(ValueError, match="score for predictions 3"):
        v.check_scores(pd.Series([0.1, np.inf], index=[2, 3]))
