"""MultiLabelEvaluation against scikit-learn on the indicator matrices."""

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

import nbdiag

from .conftest import CLASSES, make_arrays


def _thresholds(threshold):
    if isinstance(threshold, dict):
        return np.array([threshold.get(c, 0.5) for c in CLASSES])
    return np.broadcast_to(np.asarray(threshold, dtype=float), (len(CLASSES),))


CASES = [
    (0, 0.5),
    (1, 0.35),
    (2, [0.3, 0.4, 0.5, 0.6, 0.7]),
    (3, {"dog": 0.8, "sky": 0.25}),
]


@pytest.mark.parametrize("seed, threshold", CASES)
def test_numbers_equal_scikit_learn(seed, threshold):
    y, s = make_arrays(n=250, seed=seed, noise=0.25)
    y[:, 4] = 0  # a class without positives: AP undefined, left out of mAP
    ev = nbdiag.evaluate_multilabel(y, s, CLASSES, threshold=threshold)
    p = (s >= _thresholds(threshold)).astype(int)  # the predictions, computed independently

    has = y.sum(axis=0) > 0
    ap = [skm.average_precision_score(y[:, k], s[:, k]) for k in np.flatnonzero(has)]
    np.testing.assert_allclose(ev.per_class["average_precision"].to_numpy()[has], ap)
    assert ev.per_class["average_precision"].isna().tolist() == list(~has)
    assert ev.mean_average_precision == pytest.approx(
        skm.average_precision_score(y[:, has], s[:, has], average="macro")
    )
    assert ev.micro_average_precision == pytest.approx(
        skm.average_precision_score(y, s, average="micro")
    )
    for average in ("micro", "macro", "samples"):
        kw = {"average": average, "zero_division": 0}
        assert ev.f1(average) == pytest.approx(skm.f1_score(y, p, **kw))
        assert ev.precision(average) == pytest.approx(skm.precision_score(y, p, **kw))
        assert ev.recall(average) == pytest.approx(skm.recall_score(y, p, **kw))
    assert ev.hamming_loss == pytest.approx(skm.hamming_loss(y, p))
    assert ev.subset_accuracy == pytest.approx(skm.accuracy_score(y, p))

    pc = ev.per_class
    np.testing.assert_array_equal(pc["support"], y.sum(axis=0))
    np.testing.assert_array_equal(pc["predicted"], p.sum(axis=0))
    np.testing.assert_allclose(pc["f1"], skm.f1_score(y, p, average=None, zero_division=0))
    mcm = skm.multilabel_confusion_matrix(y, p)
    for k, c in enumerate(CLASSES):
        np.testing.assert_array_equal(ev.confusion(c).to_numpy(), mcm[k])
        assert list(ev.confusion(c).index) == [f"not {c}", c]

    ps = ev.per_sample
    assert ps["jaccard"].mean() == pytest.approx(
        skm.jaccard_score(y, p, average="samples", zero_division=1)
    )
    assert ps["hamming"].mean() == pytest.approx(skm.hamming_loss(y, p))
    assert ps["exact"].mean() == pytest.approx(skm.accuracy_score(y, p))
    sc = np.clip(s, 1e-15, 1 - 1e-15)  # scores of exactly 0 or 1 are clipped, as log loss does
    per_class = [skm.log_loss(y[i], sc[i], labels=[0, 1]) for i in range(len(y))]
    np.testing.assert_allclose(ps["loss"], per_class)


def test_per_sample_sets_name_missing_and_extra_classes(ds, arrays):
    y, s = arrays
    ev = ds.evaluate("m", threshold=0.5)
    names = np.asarray(CLASSES)
    p = s >= 0.5
    for i in (0, 17, 123):
        row = ev.per_sample.iloc[i]
        assert row["labels"] == tuple(names[y[i] == 1])
        assert row["predicted"] == tuple(names[p[i]])
        assert row["missing"] == tuple(names[(y[i] == 1) & ~p[i]])
        assert row["extra"] == tuple(names[(y[i] == 0) & p[i]])
    assert ev.per_sample.index.equals(ds.samples.index)
    fn = ev.samples_with("cat", "fn")
    assert set(fn.index) == set(ds.samples.index[(y[:, 0] == 1) & ~p[:, 0]])
    assert fn["score"].is_monotonic_increasing


def test_dataset_evaluation_equals_the_array_one_and_skips_unlabelled(arrays):
    y, s = arrays
    labels = [[CLASSES[k] for k in np.flatnonzero(r)] for r in y]
    labels[5] = None  # unlabelled: not evaluated
    d = nbdiag.Dataset(pd.DataFrame({"labels": labels}), class_names=CLASSES)
    d.add_run("m", s)
    ev = d.evaluate("m", threshold=0.4)
    keep = np.arange(len(y)) != 5
    ref = nbdiag.evaluate_multilabel(y[keep], s[keep], CLASSES, threshold=0.4)
    assert 5 not in ev.per_sample.index and len(ev.per_sample) == len(y) - 1
    for key, value in ref.summary().items():
        if key != "run":
            assert ev.summary()[key] == pytest.approx(value)
    assert isinstance(ev, nbdiag.MultiLabelEvaluation) and ev.dataset is d


def test_for_class_is_a_binary_classification_evaluation(ds, arrays):
    y, s = arrays
    ev = ds.evaluate("m", threshold={"dog": 0.7})
    b = ev.for_class("dog")
    assert isinstance(b, nbdiag.ClassificationEvaluation)
    assert b.class_names == ["not dog", "dog"]
    p = s[:, 1] >= 0.7
    assert b.accuracy == pytest.approx(skm.accuracy_score(y[:, 1], p))
    np.testing.assert_array_equal(b.confusion_matrix().to_numpy(), ev.confusion("dog").to_numpy())
    np.testing.assert_allclose(b.probabilities["dog"], s[:, 1])
    assert b.per_class.loc["dog", "f1"] == pytest.approx(skm.f1_score(y[:, 1], p))
    roc = b.roc_curve("dog")
    fpr, tpr, _ = skm.roc_curve(y[:, 1], s[:, 1])
    np.testing.assert_allclose(roc["fpr"], fpr) and np.testing.assert_allclose(roc["tpr"], tpr)
    prc = ev.pr_curve("dog")
    prec, rec, _ = skm.precision_recall_curve(y[:, 1], s[:, 1])
    np.testing.assert_allclose(prc["precision"], prec)


def test_label_sets_as_names_and_errors():
    ev = nbdiag.evaluate_multilabel([["b"], [], ["a", "b"]], [[0.2, 0.9], [0.6, 0.1], [0.7, 0.8]])
    assert ev.class_names == ["a", "b"]
    assert ev.per_sample["extra"].tolist() == [(), ("a",), ()]
    assert ev.subset_accuracy == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        nbdiag.evaluate_multilabel([[1, 0]], [[0.2, 0.3]], threshold=-0.1)
    with pytest.raises(ValueError, match="length mismatch"):
        nbdiag.evaluate_multilabel([["a"], ["b"]], [[0.2, 0.3]])


def test_evaluate_refuses_detection_arguments(ds):
    with pytest.raises(TypeError, match="multi-label run: it takes threshold= only"):
        ds.evaluate("m", iou_threshold=0.5)
    ds.evaluate("m", progress=False)  # accepted for every kind of run
    with pytest.raises(ValueError, match="unknown class 'zebra'"):
        ds.evaluate("m").confusion("zebra")


def test_docstring_example_runs():
    import doctest

    from nbdiag.evaluation import multilabel

    result = doctest.testmod(multilabel, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
