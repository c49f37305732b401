"""The multi-label data model: the ``labels`` column, its constructors, and multi-label runs."""

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.core.multilabel import indicator

from .conftest import CLASSES


def test_labels_column_from_names_keeps_class_order_and_tells_empty_from_unlabelled():
    s = pd.DataFrame({"labels": [["dog", "cat"], [], None, ("car",), {"cat"}]}, index=list("abcde"))
    ds = nbdiag.Dataset(s)
    assert ds.task == "multilabel"
    assert ds.class_names == ["car", "cat", "dog"]  # inferred, sorted
    assert ds.samples["labels"].tolist() == [("cat", "dog"), (), None, ("car",), ("cat",)]
    assert ds.summary()["labelled"] == 4
    assert ds.samples["label"].isna().all()


def test_labels_as_class_indices_and_numpy_arrays():
    s = pd.DataFrame({"labels": [[0, 2], np.array([1]), [], [2, 1, 0]]})
    ds = nbdiag.Dataset(s, class_names=["a", "b", "c"])
    assert ds.samples["labels"].tolist() == [("a", "c"), ("b",), (), ("a", "b", "c")]
    # classes named like integers: integers that are all class names are names
    ds = nbdiag.Dataset(pd.DataFrame({"labels": [[1, 3], [2]]}), class_names=["1", "2", "3"])
    assert ds.samples["labels"].tolist() == [("1", "3"), ("2",)]


@pytest.mark.parametrize(
    "cell, message",
    [
        (["cat", "zebra"], r"unknown class in samples.labels: sample 'bad' \('zebra'\)"),
        ([0, 9], r"unknown class index in samples.labels: sample 'bad' \(9\)"),
        (["cat", "cat"], r"sample 'bad' lists class 'cat' twice"),
        (np.array([1, 0, 1, 0, 0]), r"sample 'bad' lists class 'dog' twice.*indicator"),
        ("cat,dog", r"samples.labels of sample 'bad' is 'cat,dog'"),
        (["cat", None], r"missing class \(None/NaN\) inside samples.labels of samples 'bad'"),
    ],
)
def test_bad_labels_are_refused_naming_the_sample(cell, message):
    s = pd.DataFrame({"labels": [["dog"], cell]}, index=["ok", "bad"])
    with pytest.raises(ValueError, match=message):
        nbdiag.Dataset(s, class_names=CLASSES)


def test_label_and_labels_together_are_refused():
    s = pd.DataFrame({"label": ["cat", "dog"], "labels": [["cat"], ["dog"]]})
    with pytest.raises(ValueError, match="both a 'label' column"):
        nbdiag.Dataset(s)


def test_from_arrays_takes_lists_or_an_indicator_matrix(arrays):
    y, s = arrays
    images = np.zeros((len(y), 6, 6), dtype=np.uint8)
    lists = [list(np.flatnonzero(row)) for row in y]
    a = nbdiag.Dataset.from_arrays(images, lists, probs=s, class_names=CLASSES, multilabel=True)
    b = nbdiag.Dataset.from_arrays(images, y, probs=s, class_names=CLASSES, multilabel=True)
    frame = pd.DataFrame(y, columns=CLASSES)
    c = nbdiag.Dataset.from_arrays(images, frame, probs=s, multilabel=True)
    for d in (a, b, c):
        assert d.task == "multilabel" and d.class_names == CLASSES
        assert (indicator(d.samples["labels"], CLASSES) == y).all()
        assert isinstance(d.runs["model"], nbdiag.MultiLabelRun)
        np.testing.assert_array_equal(d.runs["model"].scores.to_numpy(), s)
    # without class names: indices name the classes "0" .. "C-1"
    d = nbdiag.Dataset.from_arrays(images, y, multilabel=True)
    assert d.class_names == ["0", "1", "2", "3", "4"]
    # without multilabel=True: single labels, and lists or a (one-hot?) matrix are refused
    assert nbdiag.Dataset.from_arrays(images[:3], [0, 1, 0]).task == "classification"
    for labels in (y, lists):
        with pytest.raises(ValueError, match="labels must be 1-D.*pass multilabel=True"):
            nbdiag.Dataset.from_arrays(images, labels)


def test_from_arrays_refuses_a_non_binary_indicator_naming_the_sample():
    y = np.array([[1, 0], [0.7, 1], [0, np.nan]])
    with pytest.raises(ValueError, match=r"samples 'b', 'c' hold other values"):
        nbdiag.Dataset.from_arrays(
            np.zeros((3, 4, 4), np.uint8), y, ids=["a", "b", "c"], multilabel=True
        )


def test_add_run_takes_sigmoid_scores_as_array_or_frame(ds, arrays):
    _, s = arrays
    assert not np.allclose(s.sum(axis=1), 1)  # rows need not sum to 1
    run = ds.runs["m"]
    assert run.kind == "multilabel" and len(run) == len(ds)
    # a DataFrame by sample id, columns in any order, for a subset of the samples
    sub = pd.DataFrame(s[:50], index=ds.samples.index[:50], columns=CLASSES)[CLASSES[::-1]]
    r2 = ds.add_run("subset", sub)
    assert list(r2.scores.columns) == CLASSES and len(r2) == 50
    np.testing.assert_array_equal(r2.scores.to_numpy(), s[:50])


def test_add_run_refuses_bad_scores_naming_the_sample(ds, arrays):
    _, s = arrays
    bad = s.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite probabilities for samples 's003'"):
        ds.add_run("nan", bad)
    bad = s.copy()
    bad[7, 0] = 2.5
    with pytest.raises(ValueError, match=r"outside \[0, 1\] for samples 's007'.*logits"):
        ds.add_run("logits", bad)
    with pytest.raises(ValueError, match="has 5 classes"):
        ds.add_run("narrow", s[:, :3])
    with pytest.raises(ValueError, match="per-class probabilities"):
        ds.add_run("flat", s[:, 0])
    with pytest.raises(ValueError, match=r"missing \['sky'\]"):
        ds.add_run("frame", pd.DataFrame(s[:, :4], index=ds.samples.index, columns=CLASSES[:4]))
    with pytest.raises(ValueError, match=r"unknown sample \(in predictions\) ids.*'nope'"):
        ds.add_run("ids", pd.DataFrame([s[0]], index=["nope"], columns=CLASSES))
    assert set(ds.runs) == {"m"}


@pytest.mark.parametrize("threshold", [0.5, 0.3, [0.2, 0.4, 0.5, 0.6, 0.8], {"cat": 0.9}])
def test_predicted_labels_at_thresholds(ds, arrays, threshold):
    _, s = arrays
    if isinstance(threshold, dict):
        t = np.array([0.9, 0.5, 0.5, 0.5, 0.5])
    else:
        t = np.broadcast_to(np.asarray(threshold, dtype=float), (5,))
    expected = [tuple(np.asarray(CLASSES)[row >= t]) for row in s]
    assert ds.runs["m"].predicted_labels(threshold).tolist() == expected


def test_thresholds_are_checked(ds):
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        ds.runs["m"].predicted_labels(1.5)
    with pytest.raises(ValueError, match="unknown classes \\['zebra'\\]"):
        ds.runs["m"].predicted_labels({"zebra": 0.2})
    with pytest.raises(ValueError, match="2 thresholds given for 5 classes"):
        ds.runs["m"].predicted_labels([0.1, 0.2])
