"""A multi-label dataset and its runs survive ``ds.save(path)`` / ``nbdiag.open(path)``."""

import warnings

import numpy as np
import pandas as pd
import pytest

import nbdiag

from .conftest import CLASSES


def test_save_and_open_round_trip(tmp_path, arrays):
    y, s = arrays
    labels = [[CLASSES[k] for k in np.flatnonzero(r)] for r in y]
    labels[4] = None  # unlabelled stays unlabelled; () stays an empty set
    assert any(x == [] for x in labels)  # some samples have none of the classes
    ids = [f"s{i}" for i in range(len(y))]
    ds = nbdiag.Dataset(pd.DataFrame({"labels": labels}, index=ids), class_names=CLASSES)
    ds.add_run("m", s)
    before = ds.evaluate("m", threshold=0.4).summary()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pickle fallback for the tuples
        ds.save(tmp_path / "proj")
    back = nbdiag.open(tmp_path / "proj")
    assert back.task == "multilabel" and back.class_names == CLASSES
    assert back.samples["labels"].tolist() == ds.samples["labels"].tolist()
    assert back.samples.at["s4", "labels"] is None
    run = back.runs["m"]
    assert isinstance(run, nbdiag.MultiLabelRun) and run.created == ds.runs["m"].created
    pd.testing.assert_frame_equal(run.scores, ds.runs["m"].scores)
    assert back.evaluate("m", threshold=0.4).summary() == pytest.approx(before)
    hist = back.run_history
    assert hist["kind"].tolist() == ["multilabel"]
    assert hist["mAP"].iloc[0] == pytest.approx(ds.evaluate("m").mean_average_precision)


def test_a_bound_dataset_saves_a_new_multilabel_run(tmp_path, ds, arrays):
    _, s = arrays
    ds.save(tmp_path / "p")
    ds.add_run("m2", 1 - s)  # bound: saved as it is added
    back = nbdiag.open(tmp_path / "p")
    assert set(back.runs) == {"m", "m2"}
    np.testing.assert_allclose(back.runs["m2"].scores.to_numpy(), 1 - s)
