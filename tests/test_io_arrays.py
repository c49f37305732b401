"""from_arrays: in-memory image stacks such as scikit-learn's digits."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import nbdiag
from nbdiag.io import from_arrays


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_digits(digits):
    ds = nbdiag.Dataset.from_arrays(digits.images, digits.target)
    assert len(ds) == 1797 and ds.name == "arrays"
    assert ds.class_names == [str(i) for i in range(10)]
    assert ds.samples["label"].iloc[:3].tolist() == ["0", "1", "2"]
    assert (ds.samples[["width", "height"]] == 8.0).all().all()
    assert ds.samples["path"].isna().all()
    img = ds.image(0)
    assert (img.mode, img.size) == ("L", (8, 8))
    # 0..16 scaled to 0..255 over the whole stack
    expected = np.rint(digits.images[0] * 255 / 16).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(img), expected)
    with Image.open(io.BytesIO(ds.thumbnail(5, size=32))) as t:
        assert t.size == (32, 32)


def test_digits_with_model_probabilities(digits):
    x = digits.images.reshape(len(digits.images), -1)
    model = LogisticRegression(max_iter=200).fit(x[:1000], digits.target[:1000])
    probs = model.predict_proba(x)
    ds = from_arrays(digits.images, digits.target, probs=probs, run_name="logreg", split="all")
    run = ds.runs["logreg"]
    assert run.probabilities.shape == (1797, 10)
    np.testing.assert_array_equal(
        run.predictions["prediction"].astype(int).to_numpy(), model.predict(x)
    )
    assert (ds.samples["split"] == "all").all()


def test_string_labels_and_class_order():
    images = np.zeros((3, 4, 5, 3), np.uint8)
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    ds = from_arrays(images, ["dog", "cat", "dog"], probs=probs)
    assert ds.class_names == ["cat", "dog"]  # sorted, like scikit-learn's classes_
    assert ds.runs["model"].predictions["prediction"].tolist() == ["cat", "dog", "cat"]
    with pytest.raises(ValueError, match="probs have 3 columns but the labels name 2 classes"):
        from_arrays(images, ["dog", "cat", "dog"], probs=np.full((3, 3), 1 / 3))
    named = from_arrays(images, [1, 0, 1], class_names=["cat", "dog"], ids=["a", "b", "c"])
    assert named.samples["label"].to_dict() == {"a": "dog", "b": "cat", "c": "dog"}


def test_channels_first_float_stack_and_ragged_list():
    chw = np.zeros((2, 3, 4, 6), np.float32)
    chw[0, 0] = 1.0  # red in [0, 1]
    ds = from_arrays(chw)
    assert ds.task == "unlabelled"
    assert ds.samples.loc[0, ["width", "height"]].tolist() == [6.0, 4.0]
    assert ds.image(0).getpixel((0, 0)) == (255, 0, 0)
    ragged = from_arrays([np.full((2, 3), 10), np.full((5, 4), 20)], split=["a", "b"])
    assert ragged.samples["width"].tolist() == [3.0, 4.0]
    assert np.asarray(ragged.image(0)).max() == 128  # 10 of 20, scaled together
    assert ragged.samples["split"].tolist() == ["a", "b"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": [0, 1]}, "labels has 2 items but images has 3"),
        ({"probs": np.full((4, 2), 0.5)}, "probs has 4 items but images has 3"),
        ({"ids": ["a"]}, "ids has 1 items but images has 3"),
        ({"split": ["train"]}, "split has 1 items but images has 3"),
        ({"labels": [0, 1, 5], "class_names": ["a", "b"]}, r"unknown class index.*: 2 \(5\)"),
        ({"labels": ["a", "b", "z"], "class_names": ["a", "b"]}, r"unknown class.*2 \('z'\)"),
        ({"ids": ["a", "b", "a"]}, "duplicate sample ids: 'a'"),
        ({"labels": [[0], [1], [2]]}, r"labels must be 1-D"),
        ({"probs": np.ones(3)}, r"probs must be 2-D"),
    ],
)
def test_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        from_arrays(np.zeros((3, 4, 4), np.uint8), **kwargs)


def test_bad_image_shapes():
    with pytest.raises(ValueError, match=r"got shape \(3, 4, 4, 2\)"):
        from_arrays(np.zeros((3, 4, 4, 2)))
    with pytest.raises(ValueError, match=r"image 1 has shape \(4,\)"):
        from_arrays([np.zeros((2, 2)), np.zeros(4)])
    with pytest.raises(ValueError, match="NaN or infinite pixels at positions \\[1\\]"):
        from_arrays(np.array([np.zeros((2, 2)), np.full((2, 2), np.nan)]))


def test_probs_without_labels():
    ds = from_arrays(np.zeros((2, 3, 3), np.uint8), probs=[[0.2, 0.8], [1.0, 0.0]])
    assert ds.class_names == ["0", "1"]
    assert ds.runs["model"].predictions["prediction"].tolist() == ["1", "0"]
    assert isinstance(ds.samples, pd.DataFrame)
